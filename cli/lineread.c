/*
 * lineread.c - the shell's input: libedit's readline() with history when built with it
 * (STOMP_CLI_HAVE_LIBEDIT, set by CMake when libedit-dev is found) and reading a terminal; plain
 * getline() otherwise, without a prompt unless the input is a terminal.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifdef STOMP_CLI_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

static char *plain_line(const char *prompt) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (isatty(STDIN_FILENO)) cli_printf(stdout, "%s", prompt);
    n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
    return line;
}

char *cli_read_line(const char *prompt) {
#ifdef STOMP_CLI_HAVE_LIBEDIT
    if (isatty(STDIN_FILENO)) {
        char *line = readline(prompt);
        if (line != NULL && *line != '\0') add_history(line);
        return line;
    }
#endif
    return plain_line(prompt);
}

void cli_read_line_end(void) {
#ifdef STOMP_CLI_HAVE_LIBEDIT
    if (isatty(STDIN_FILENO)) clear_history();
#endif
}
