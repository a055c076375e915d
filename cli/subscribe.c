/*
 * subscribe.c - `stomp subscribe DEST`: prints messages as they arrive until --count, --wait or a
 * signal, acknowledging each in the client ack modes; an exit code that says how it went (cli.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static void subscribe_usage(FILE *out) {
    fprintf(out,
            "usage: stomp [OPTIONS] subscribe DESTINATION [SUBSCRIBE OPTIONS]\n"
            "\n"
            "Prints the messages of DESTINATION as they arrive, until --count of them have, --wait\n"
            "runs out, or SIGINT/SIGTERM; then unsubscribes and disconnects.\n"
            "\n"
            "  --count N             stop after N messages\n"
            "  --wait SECONDS        stop after SECONDS (with --count: a timeout, exit status 4)\n"
            "  --ack MODE            auto (default), client or client-individual: each message\n"
            "                        printed is acknowledged (with --count, client-individual\n"
            "                        leaves the messages past N with the broker)\n"
            "  --format FORMAT       body (default: the body and a newline), frame (command,\n"
            "                        headers, body), json (one object per line: command, headers,\n"
            "                        body, or body_base64 for a body that is not UTF-8)\n"
            "  --id ID               the subscription id (default: generated)\n"
            "  --header NAME:VALUE   add a header to SUBSCRIBE (a selector, ...; repeatable)\n"
            "  -h, --help            this text\n"
            "\n"
            "Exit status: 0 done, 2 bad usage, 3 could not connect, 4 fewer than --count messages\n"
            "within --wait, 5 the broker sent an ERROR, 1 any other failure (the link lost).\n");
}

/* Time left until `deadline_ms` on `now_ms`'s clock, at most `slice`. */
static uint32_t slice_until(int64_t deadline_ms, int64_t now_ms, uint32_t slice) {
    if (deadline_ms < 0) return slice;
    if (now_ms >= deadline_ms) return 0;
    return deadline_ms - now_ms < slice ? (uint32_t)(deadline_ms - now_ms) : slice;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_subscribe_main(const cli_settings *cfg, int argc, char **argv) {
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'c'},
        {"wait", required_argument, NULL, 'w'},
        {"ack", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},
        {"id", required_argument, NULL, 'i'},
        {"header", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static cli_headers headers;
    unsigned long count = 0, wait_s = 0;
    bool have_count = false, have_wait = false;
    stomp_ack_mode ack = STOMP_ACK_AUTO;
    cli_format format = CLI_FORMAT_BODY;
    const char *id = NULL, *destination;
    char id_buf[256];
    struct sigaction sa;
    cli_session s;
    stomp_result rc = STOMP_OK;
    unsigned long received = 0;
    int64_t deadline = -1;
    int c, code, end;

    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (!cli_parse_ulong(optarg, 1, 1000000000UL, &count)) {
                fprintf(stderr, "stomp: --count wants a number from 1, not \"%s\"\n", optarg);
                return CLI_EXIT_USAGE;
            }
            have_count = true;
            break;
        case 'w':
            if (!cli_parse_ulong(optarg, 1, 86400UL * 365, &wait_s)) {
                fprintf(stderr, "stomp: --wait wants seconds from 1, not \"%s\"\n", optarg);
                return CLI_EXIT_USAGE;
            }
            have_wait = true;
            break;
        case 'a':
            if (!cli_parse_ack(optarg, &ack)) {
                fprintf(stderr, "stomp: --ack wants auto, client or client-individual, not \"%s\"\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'f':
            if (!cli_parse_format(optarg, &format)) {
                fprintf(stderr, "stomp: --format wants body, frame or json, not \"%s\"\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'i': id = optarg; break;
        case 'e': if (!cli_add_header(&headers, optarg)) return CLI_EXIT_USAGE; break;
        case 'h': subscribe_usage(stdout); return CLI_EXIT_OK;
        default: subscribe_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        subscribe_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    destination = argv[optind];

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* The receive queue holds what arrived and is not printed yet; when it is full the library
     * stops reading and TCP holds the broker back. */
    code = cli_session_open(&s, cfg, 64, NULL, format);
    if (code != CLI_EXIT_OK) return code;
    rc = stomp_subscribe_out(s.conn, destination, id, ack, headers.list, headers.count, id_buf, sizeof id_buf);
    if (rc != STOMP_OK) {
        code = cli_exit_code(&s, rc);
        cli_report("subscribe", rc);
    }
    if (have_wait) deadline = now_ms() + (int64_t)wait_s * 1000;
    while (code == CLI_EXIT_OK && !interrupted && (!have_count || received < count)) {
        stomp_frame *m = NULL;
        /* Slices of 200 ms: a signal is seen within one (the library's wait is not interrupted). */
        uint32_t slice = slice_until(deadline, now_ms(), 200);
        if (slice == 0) {
            if (have_count) {
                fprintf(stderr, "stomp: %lu of %lu messages within %lu s\n", received, count, wait_s);
                code = CLI_EXIT_TIMEOUT;
            }
            break;
        }
        rc = stomp_receive(s.conn, slice, &m);
        if (rc == STOMP_ERR_TIMEOUT) continue;
        if (rc != STOMP_OK) {
            code = cli_exit_code(&s, rc);
            if (code != CLI_EXIT_BROKER_ERROR) cli_report("receive", rc);
            break;
        }
        cli_print_frame(stdout, m, format);
        received++;
        if (ack != STOMP_ACK_AUTO) rc = stomp_ack_frame(s.conn, m, NULL);
        stomp_frame_free(m);
        if (rc != STOMP_OK) {
            code = cli_exit_code(&s, rc);
            cli_report("ack", rc);
        }
    }
    if (rc == STOMP_OK && code == CLI_EXIT_OK && stomp_is_connected(s.conn)) {
        rc = stomp_unsubscribe(s.conn, id_buf, NULL, 0);
        if (rc != STOMP_OK) cli_report("unsubscribe", rc);
    }
    end = cli_session_close(&s, cfg);
    return code != CLI_EXIT_OK ? code : end;
}
