/*
 * send.c - `stomp send DEST [BODY|-]`: one message, optionally confirmed by a receipt, and an exit
 * code that says how it went (cli.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void send_usage(FILE *out) {
    fprintf(out,
            "usage: stomp [OPTIONS] send DESTINATION [BODY | -] [SEND OPTIONS]\n"
            "\n"
            "Sends one message and exits. Without BODY, or with -, the body is read from standard\n"
            "input (binary safe).\n"
            "\n"
            "  --header NAME:VALUE   add a header (repeatable)\n"
            "  --content-type TYPE   the content-type header\n"
            "  --receipt             ask for a receipt and wait for it (up to --timeout)\n"
            "  -h, --help            this text\n"
            "\n"
            "Exit status: 0 sent (and confirmed with --receipt), 2 bad usage, 3 could not connect,\n"
            "4 timed out, 5 the broker sent an ERROR, 1 any other failure.\n");
}

int cli_send_main(const cli_settings *cfg, int argc, char **argv) {
    static const struct option longopts[] = {
        {"header", required_argument, NULL, 'e'},
        {"content-type", required_argument, NULL, 't'},
        {"receipt", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static cli_headers headers;
    const char *content_type = NULL, *destination, *body_arg = NULL;
    bool want_receipt = false;
    char *body = NULL, receipt[64];
    size_t body_len = 0;
    cli_session s;
    stomp_result rc;
    int c, code, end;

    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': if (!cli_add_header(&headers, optarg)) return CLI_EXIT_USAGE; break;
        case 't': content_type = optarg; break;
        case 'r': want_receipt = true; break;
        case 'h': send_usage(stdout); return CLI_EXIT_OK;
        default: send_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        send_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    destination = argv[optind];
    if (argc - optind == 2 && strcmp(argv[optind + 1], "-") != 0) body_arg = argv[optind + 1];

    if (body_arg != NULL) {
        body_len = strlen(body_arg);
    } else if ((body = cli_read_all(stdin, &body_len)) == NULL) {
        perror("stomp: reading the body from standard input");
        return CLI_EXIT_FAILURE;
    }

    code = cli_session_open(&s, cfg, 0, NULL, CLI_FORMAT_BODY);
    if (code == CLI_EXIT_OK) {
        if (want_receipt) {
            snprintf(receipt, sizeof receipt, "stomp-cli-%ld-send", (long)getpid());
            headers.list[headers.count].name = "receipt";
            headers.list[headers.count].value = receipt;
            cli_session_expect_receipt(&s, receipt);
        }
        rc = stomp_send(s.conn, destination, body_arg != NULL ? body_arg : body, body_len, content_type,
                        headers.list, headers.count + (want_receipt ? 1 : 0));
        if (rc == STOMP_OK && want_receipt) {
            rc = cli_session_wait_receipt(&s, cfg->timeout_ms);
            if (rc == STOMP_ERR_TIMEOUT) {
                fprintf(stderr, "stomp: send: no receipt within %u ms\n", (unsigned)cfg->timeout_ms);
            } else if (rc == STOMP_ERR_DISCONNECTED) {
                fprintf(stderr, "stomp: send: the link ended before the receipt came\n");
            }
            if (rc != STOMP_OK) code = cli_exit_code(&s, rc);
        } else if (rc != STOMP_OK) {
            code = cli_exit_code(&s, rc);
            cli_report("send", rc);
        }
    }
    if (s.conn != NULL) {
        end = cli_session_close(&s, cfg);
        if (code == CLI_EXIT_OK) code = end;
    }
    free(body);
    return code;
}

