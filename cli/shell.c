/*
 * shell.c - the interactive prompt (stomp.py's CLI commands): one connection, commands read line by
 * line from a terminal (with line editing when built with libedit) or a pipe, messages printed as
 * they arrive. Each failed command says why and the shell goes on; the exit status tells whether
 * any failed (1), or whether the broker sent an ERROR (5).
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_WORDS 4
#define MAX_SUBSCRIPTIONS 64

typedef struct {
    const cli_settings *cfg;
    cli_session session;
    char transaction[64]; /* the open transaction, "" if none */
    struct {
        char destination[256];
        char id[64];
    } subs[MAX_SUBSCRIPTIONS];
    unsigned next_sub;
    bool quit;
} shell;

/* A command's words: the first `n` words, and the rest of the line after them. */
typedef struct {
    const char *w[MAX_WORDS];
    int n;
    const char *rest; /* "" if nothing follows */
} words;

typedef bool (*command_fn)(shell *sh, const words *a);

typedef struct {
    const char *name;
    int min_words, max_words; /* after the name; rest-of-line arguments count as one word */
    bool takes_rest;          /* the last argument is the rest of the line */
    command_fn run;
    const char *usage;
    const char *help;
} command;

static bool report(const char *what, stomp_result rc) {
    if (rc == STOMP_OK) return true;
    cli_report(what, rc);
    return false;
}

/* The transaction header for a send, if one is open. */
static size_t tx_header(shell *sh, stomp_header *h) {
    if (sh->transaction[0] == '\0') return 0;
    h->name = "transaction";
    h->value = sh->transaction;
    return 1;
}

static bool send_body(shell *sh, const char *destination, const void *body, size_t len, const char *correlation) {
    stomp_header hs[2];
    size_t n = tx_header(sh, hs);
    if (correlation != NULL) {
        hs[n].name = "correlation-id";
        hs[n].value = correlation;
        n++;
    }
    return report("send", stomp_send(sh->session.conn, destination, body, len, NULL, hs, n));
}

static bool cmd_send(shell *sh, const words *a) {
    return send_body(sh, a->w[0], a->rest, strlen(a->rest), NULL);
}

static bool cmd_sendreply(shell *sh, const words *a) {
    return send_body(sh, a->w[0], a->rest, strlen(a->rest), a->w[1]);
}

static bool cmd_sendfile(shell *sh, const words *a) {
    FILE *f = fopen(a->rest, "rb");
    size_t len;
    char *body;
    bool ok;
    if (f == NULL) {
        cli_printf(stderr, "stomp: sendfile: cannot open \"%s\"\n", a->rest);
        return false;
    }
    body = cli_read_all(f, &len);
    fclose(f);
    if (body == NULL) {
        cli_printf(stderr, "stomp: sendfile: cannot read \"%s\"\n", a->rest);
        return false;
    }
    ok = send_body(sh, a->w[0], body, len, NULL);
    if (ok) cli_printf(stdout, "sent %zu bytes from %s\n", len, a->rest);
    free(body);
    return ok;
}

static bool cmd_subscribe(shell *sh, const words *a) {
    stomp_ack_mode ack = STOMP_ACK_AUTO;
    unsigned i;
    if (a->n > 1 && !cli_parse_ack(a->w[1], &ack)) {
        cli_printf(stderr, "stomp: subscribe: the ack mode is auto, client or client-individual\n");
        return false;
    }
    if (strlen(a->w[0]) >= sizeof sh->subs[0].destination) {
        cli_printf(stderr, "stomp: subscribe: destination too long\n");
        return false;
    }
    for (i = 0; i < MAX_SUBSCRIPTIONS && sh->subs[i].id[0] != '\0'; i++) {
        if (strcmp(sh->subs[i].destination, a->w[0]) == 0) {
            cli_printf(stderr, "stomp: subscribe: already subscribed to %s (id %s)\n", a->w[0], sh->subs[i].id);
            return false;
        }
    }
    if (i == MAX_SUBSCRIPTIONS) {
        cli_printf(stderr, "stomp: subscribe: at most %d subscriptions\n", MAX_SUBSCRIPTIONS);
        return false;
    }
    snprintf(sh->subs[i].id, sizeof sh->subs[i].id, "cli-%u", ++sh->next_sub);
    if (!report("subscribe", stomp_subscribe(sh->session.conn, a->w[0], sh->subs[i].id, ack, NULL, 0))) {
        sh->subs[i].id[0] = '\0';
        return false;
    }
    strcpy(sh->subs[i].destination, a->w[0]);
    cli_printf(stdout, "subscribed to %s (id %s)\n", a->w[0], sh->subs[i].id);
    return true;
}

static bool cmd_unsubscribe(shell *sh, const words *a) {
    unsigned i, last;
    for (i = 0; i < MAX_SUBSCRIPTIONS && sh->subs[i].id[0] != '\0'; i++) {
        if (strcmp(sh->subs[i].destination, a->w[0]) != 0) continue;
        if (!report("unsubscribe", stomp_unsubscribe(sh->session.conn, sh->subs[i].id, NULL, 0))) return false;
        cli_printf(stdout, "unsubscribed from %s\n", a->w[0]);
        /* Keep the table dense: the last entry takes this one's place. */
        for (last = i; last + 1 < MAX_SUBSCRIPTIONS && sh->subs[last + 1].id[0] != '\0'; last++) {}
        sh->subs[i] = sh->subs[last];
        sh->subs[last].id[0] = '\0';
        return true;
    }
    cli_printf(stderr, "stomp: unsubscribe: not subscribed to %s\n", a->w[0]);
    return false;
}

static bool ack_like(shell *sh, const words *a, bool nack) {
    const char *sub = a->n > 1 ? a->w[1] : NULL;
    const char *tx = sh->transaction[0] != '\0' ? sh->transaction : NULL;
    return nack ? report("nack", stomp_nack(sh->session.conn, a->w[0], sub, tx))
                : report("ack", stomp_ack(sh->session.conn, a->w[0], sub, tx));
}

static bool cmd_ack(shell *sh, const words *a) { return ack_like(sh, a, false); }
static bool cmd_nack(shell *sh, const words *a) { return ack_like(sh, a, true); }

static bool cmd_begin(shell *sh, const words *a) {
    (void)a;
    if (sh->transaction[0] != '\0') {
        cli_printf(stderr, "stomp: begin: transaction %s is open: commit or abort it first\n", sh->transaction);
        return false;
    }
    if (!report("begin", stomp_begin(sh->session.conn, NULL, sh->transaction, sizeof sh->transaction))) {
        sh->transaction[0] = '\0';
        return false;
    }
    cli_printf(stdout, "transaction %s begun: send, ack and nack belong to it until commit or abort\n",
               sh->transaction);
    return true;
}

static bool end_transaction(shell *sh, bool commit) {
    const char *what = commit ? "commit" : "abort";
    stomp_result rc;
    if (sh->transaction[0] == '\0') {
        cli_printf(stderr, "stomp: %s: no transaction is open (begin one first)\n", what);
        return false;
    }
    rc = commit ? stomp_commit(sh->session.conn, sh->transaction) : stomp_abort(sh->session.conn, sh->transaction);
    if (!report(what, rc)) return false;
    cli_printf(stdout, "transaction %s %s\n", sh->transaction, commit ? "committed" : "aborted");
    sh->transaction[0] = '\0';
    return true;
}

static bool cmd_commit(shell *sh, const words *a) {
    (void)a;
    return end_transaction(sh, true);
}

static bool cmd_abort(shell *sh, const words *a) {
    (void)a;
    return end_transaction(sh, false);
}

static bool cmd_stats(shell *sh, const words *a) {
    stomp_stats st = {.size = sizeof st};
    char text[1024];
    stomp_result rc = stomp_stats_get(sh->session.conn, &st);
    (void)a;
    if (rc == STOMP_OK) rc = stomp_stats_format(&st, text, sizeof text);
    if (rc != STOMP_OK) {
        cli_report("stats", rc);
        return false;
    }
    cli_printf(stdout, "%s\n", text);
    return true;
}

static bool cmd_wait(shell *sh, const words *a) {
    unsigned long n, seconds = 10;
    if (!cli_parse_ulong(a->w[0], 0, 1000000000UL, &n) ||
        (a->n > 1 && !cli_parse_ulong(a->w[1], 1, 86400, &seconds))) {
        cli_printf(stderr, "stomp: wait: usage: wait COUNT [SECONDS]\n");
        return false;
    }
    if (!cli_session_wait_messages(&sh->session, n, (uint32_t)seconds * 1000)) {
        cli_printf(stderr, "stomp: wait: %llu of %lu messages within %lu s\n",
                   (unsigned long long)cli_session_counts(&sh->session).messages_received, n, seconds);
        return false;
    }
    return true;
}

static bool cmd_quit(shell *sh, const words *a) {
    (void)a;
    sh->quit = true;
    return true;
}

static bool cmd_help(shell *sh, const words *a);

static const command commands[] = {
    {"subscribe", 1, 2, false, cmd_subscribe, "subscribe DESTINATION [auto|client|client-individual]",
     "subscribe to DESTINATION; its messages are printed as they arrive"},
    {"unsubscribe", 1, 1, false, cmd_unsubscribe, "unsubscribe DESTINATION", "end the subscription to DESTINATION"},
    {"send", 1, 2, true, cmd_send, "send DESTINATION MESSAGE", "send the rest of the line as a message"},
    {"sendfile", 2, 2, true, cmd_sendfile, "sendfile DESTINATION FILE", "send the contents of FILE"},
    {"sendreply", 2, 3, true, cmd_sendreply, "sendreply DESTINATION CORRELATION-ID MESSAGE",
     "send a message with a correlation-id header"},
    {"ack", 1, 2, false, cmd_ack, "ack ID [SUBSCRIPTION]",
     "acknowledge a message: ID is its ack header under 1.2, its message-id under 1.0/1.1 (1.1 also "
     "wants the SUBSCRIPTION id)"},
    {"nack", 1, 2, false, cmd_nack, "nack ID [SUBSCRIPTION]", "refuse a message (1.1 and later), as ack"},
    {"begin", 0, 0, false, cmd_begin, "begin", "begin a transaction"},
    {"commit", 0, 0, false, cmd_commit, "commit", "commit the open transaction"},
    {"abort", 0, 0, false, cmd_abort, "abort", "abort the open transaction"},
    {"stats", 0, 0, false, cmd_stats, "stats", "what this session has counted"},
    {"wait", 1, 2, false, cmd_wait, "wait COUNT [SECONDS]",
     "wait until COUNT messages have arrived in this session (default up to 10 s): for scripts"},
    {"help", 0, 1, false, cmd_help, "help [COMMAND]", "this list, or one command's"},
    {"quit", 0, 0, false, cmd_quit, "quit", "disconnect and leave (also: exit, end of input)"},
    {"exit", 0, 0, false, cmd_quit, "exit", "as quit"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static bool cmd_help(shell *sh, const words *a) {
    size_t i;
    (void)sh;
    for (i = 0; i < N_COMMANDS; i++) {
        if (a->n == 1 && strcmp(a->w[0], commands[i].name) != 0) continue;
        cli_printf(stdout, "  %-45s %s\n", commands[i].usage, commands[i].help);
        if (a->n == 1) return true;
    }
    if (a->n == 1) {
        cli_printf(stderr, "stomp: help: no command \"%s\"\n", a->w[0]);
        return false;
    }
    return true;
}

/* Splits `line` (modified) into at most `max` words; with `rest`, what follows them is the last
 * argument, whole. */
static void split(char *line, int max, bool rest, words *out) {
    char *p = line;
    out->n = 0;
    out->rest = "";
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (*p == '\0') return;
        if (rest && out->n == max - 1 && max > 0) {
            char *end = p + strlen(p);
            while (end > p && isspace((unsigned char)end[-1])) *--end = '\0';
            out->rest = p;
            out->w[out->n++] = p;
            return;
        }
        if (out->n == MAX_WORDS) return;
        out->w[out->n++] = p;
        while (*p != '\0' && !isspace((unsigned char)*p)) p++;
        if (*p != '\0') *p++ = '\0';
    }
}

/* Runs one line; false if the command failed. */
static bool run_line(shell *sh, char *line) {
    const char *name;
    words a;
    size_t i;
    while (isspace((unsigned char)*line)) line++;
    if (*line == '\0' || *line == '#') return true;
    name = line;
    while (*line != '\0' && !isspace((unsigned char)*line)) line++;
    if (*line != '\0') *line++ = '\0';
    for (i = 0; i < N_COMMANDS; i++) {
        const command *c = &commands[i];
        if (strcmp(name, c->name) != 0) continue;
        split(line, c->max_words, c->takes_rest, &a);
        if (a.n < c->min_words || a.n > c->max_words) {
            cli_printf(stderr, "stomp: usage: %s\n", c->usage);
            return false;
        }
        return c->run(sh, &a);
    }
    cli_printf(stderr, "stomp: unknown command \"%s\" (help lists them)\n", name);
    return false;
}

static void shell_usage(FILE *out) {
    fprintf(out,
            "usage: stomp [OPTIONS] [shell] [--format body|frame|json]\n"
            "\n"
            "An interactive prompt on one connection; reads commands from a pipe too (no prompt then).\n"
            "Messages of subscriptions are printed as they arrive, in --format (default frame).\n"
            "Commands:\n");
    {
        size_t i;
        for (i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-45s %s\n", commands[i].usage, commands[i].help);
    }
    fprintf(out, "\nExit status: 0 every command worked, 1 one failed, 3 could not connect,\n"
                 "5 the broker sent an ERROR frame.\n");
}

int cli_shell_main(const cli_settings *cfg, int argc, char **argv) {
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static shell sh;
    cli_format format = CLI_FORMAT_FRAME;
    bool any_failed = false;
    char prompt[300], *line;
    int c, code, end;

    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!cli_parse_format(optarg, &format)) {
                fprintf(stderr, "stomp: --format wants body, frame or json, not \"%s\"\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h': shell_usage(stdout); return CLI_EXIT_OK;
        default: shell_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        shell_usage(stderr);
        return CLI_EXIT_USAGE;
    }

    sh.cfg = cfg;
    code = cli_session_open(&sh.session, cfg, 0, stdout, format);
    if (code != CLI_EXIT_OK) return code;
    if (isatty(STDIN_FILENO)) {
        cli_printf(stdout, "connected to %s:%u (libstomp %s); help lists the commands\n", cfg->host,
                   (unsigned)cfg->port, stomp_version_string());
    }
    snprintf(prompt, sizeof prompt, "%s:%u> ", cfg->host, (unsigned)cfg->port);
    while (!sh.quit && (line = cli_read_line(prompt)) != NULL) {
        if (!run_line(&sh, line)) any_failed = true;
        free(line);
    }
    cli_read_line_end();
    end = cli_session_close(&sh.session, cfg);
    return end != CLI_EXIT_OK ? end : any_failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
