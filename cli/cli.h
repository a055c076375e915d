/*
 * cli.h - what the parts of the `stomp` command-line client share: the exit codes, the connection
 * settings from the command line, a connection with the events the client waits on, output of
 * frames, and small argument helpers. The client uses only the public C API (stomp.h).
 */
#ifndef STOMP_CLI_H
#define STOMP_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <stomp.h>

/* Exit codes: what a script can tell apart (also in stomp.1 and --help). */
enum {
    CLI_EXIT_OK = 0,           /* done */
    CLI_EXIT_FAILURE = 1,      /* any other failure: link lost, I/O, a bad argument to the library */
    CLI_EXIT_USAGE = 2,        /* bad command line */
    CLI_EXIT_CONNECT = 3,      /* could not connect: nothing listening, login refused */
    CLI_EXIT_TIMEOUT = 4,      /* a wait ran out: connect, receipt, --count within --timeout */
    CLI_EXIT_BROKER_ERROR = 5, /* the broker sent an ERROR frame */
};

/* The connection settings of the command line (stomp.py's CLI options). */
typedef struct {
    const char *host;
    uint16_t port;
    const char *user;
    const char *password;
    const char *vhost;
    stomp_version version;
    uint32_t heartbeat_send_ms, heartbeat_receive_ms;
    uint32_t timeout_ms; /* connect timeout, and the wait for receipts and DISCONNECT */
    bool verbose;        /* print every frame sent and received (stomp_set_printing_listener) */
    /* TLS (stomp_options_set_tls): the CA file (NULL: the system's CAs), the client's certificate
     * and key (both or neither). */
    bool ssl;
    const char *ssl_ca, *ssl_cert, *ssl_key;
} cli_settings;

/* How frames are printed. */
typedef enum { CLI_FORMAT_BODY, CLI_FORMAT_FRAME, CLI_FORMAT_JSON } cli_format;

/* What the client counts itself, for `wait` (the shell's `stats` asks the library, stomp_stats_get). */
typedef struct {
    uint64_t messages_received;
} cli_counts;

/* A connection with what its listener saw, under `mu`; `cv` is signalled on every change. */
typedef struct {
    stomp_connection *conn;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool connected_once;
    bool disconnected; /* the link ended (after being up) */
    bool error_seen;
    char error_message[512]; /* the first ERROR frame's `message` header */
    cli_counts counts;
    char awaited_receipt[64]; /* the receipt cli_session_wait_receipt waits for */
    bool receipt_seen;
    /* Interactive mode prints messages as they arrive, in this format; NULL `print_to` prints none. */
    FILE *print_to;
    cli_format format;
} cli_session;

/* --- session.c ------------------------------------------------------------------------------- */

/* Makes the connection and connects (waiting for CONNECTED); `receive_queue` > 0 turns on the
 * receive queue. On failure prints why to stderr and returns the exit code; CLI_EXIT_OK otherwise. */
int cli_session_open(cli_session *s, const cli_settings *cfg, size_t receive_queue, FILE *print_to,
                     cli_format format);
/* Disconnects gracefully (if still up), waits for the link's end, frees the connection. Returns
 * the exit code the session ends with: CLI_EXIT_BROKER_ERROR if the broker sent ERROR. */
int cli_session_close(cli_session *s, const cli_settings *cfg);
/* The exit code for a failed call's `rc` (after on_error had its chance: see session.c). */
int cli_exit_code(cli_session *s, stomp_result rc);
/* Prints "stomp: WHAT: <strerror>: <detail>" to stderr. */
void cli_report(const char *what, stomp_result rc);
/* Names the receipt to wait for; call before sending the frame that asks for it. */
void cli_session_expect_receipt(cli_session *s, const char *receipt);
/* Waits up to `timeout_ms` for that receipt: STOMP_OK, STOMP_ERR_SERVER when the broker sent an
 * ERROR first (it may not close the link, nor name the receipt), STOMP_ERR_DISCONNECTED when the
 * link ended, STOMP_ERR_TIMEOUT. */
stomp_result cli_session_wait_receipt(cli_session *s, uint32_t timeout_ms);
/* Waits until `messages_received` reaches `n`, the link ends, or `timeout_ms` passes. */
bool cli_session_wait_messages(cli_session *s, uint64_t n, uint32_t timeout_ms);
/* A copy of the counters. */
cli_counts cli_session_counts(cli_session *s);

/* --- output.c -------------------------------------------------------------------------------- */

/* Prints `f` to `out` in `format` (one line for body and json; a block for frame), under one lock
 * shared by every thread of the client, and flushes. */
void cli_print_frame(FILE *out, const stomp_frame *f, cli_format format);
/* printf to `out` under the same lock, flushed. */
void cli_printf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "body", "frame", "json" -> format; false if none of them. */
bool cli_parse_format(const char *s, cli_format *out);

/* --- args.c ---------------------------------------------------------------------------------- */

#define CLI_MAX_HEADERS 64
#define CLI_HEADER_BUF 4096

/* The --header NAME:VALUE options of a mode; `list` has room for one more the mode adds. */
typedef struct {
    stomp_header list[CLI_MAX_HEADERS + 1];
    char bufs[CLI_MAX_HEADERS][CLI_HEADER_BUF];
    size_t count;
} cli_headers;

/* Adds "NAME:VALUE" (split at the first ':') to `h`; says why on stderr and returns false if it
 * has no ':', an empty name, is too long, or `h` is full. */
bool cli_add_header(cli_headers *h, const char *arg);
/* A decimal number in [min, max]. */
bool cli_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* "1.0", "1.1", "1.2" */
bool cli_parse_version(const char *s, stomp_version *out);
/* "auto", "client", "client-individual" */
bool cli_parse_ack(const char *s, stomp_ack_mode *out);
/* "SEND,RECV" in milliseconds, or one number for both. */
bool cli_parse_heartbeats(const char *s, uint32_t *send_ms, uint32_t *receive_ms);
/* Reads all of `f` into a new buffer (free it); NULL on a read error or out of memory. */
char *cli_read_all(FILE *f, size_t *len_out);

/* --- the modes --------------------------------------------------------------------------------- */

int cli_send_main(const cli_settings *cfg, int argc, char **argv);      /* send.c */
int cli_subscribe_main(const cli_settings *cfg, int argc, char **argv); /* subscribe.c */
int cli_shell_main(const cli_settings *cfg, int argc, char **argv);     /* shell.c */

/* --- lineread.c ---------------------------------------------------------------------------------- */

/* The next line of the interactive input, without its newline (free it), or NULL at the end.
 * With libedit and a terminal: line editing and history; otherwise plain reads (no prompt when
 * the input is not a terminal, so that piped scripts give clean output). */
char *cli_read_line(const char *prompt);
void cli_read_line_end(void);

#endif /* STOMP_CLI_H */
