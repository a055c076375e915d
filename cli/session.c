/*
 * session.c - the client's one connection: options from the command line, a listener that counts
 * events and remembers the broker's ERROR, the graceful end, and the mapping of library results to
 * exit codes.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void deadline_after(struct timespec *ts, uint32_t ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- the listener: runs on the library's dispatch threads, one callback at a time ---- */

static void changed(cli_session *s) {
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_connected(void *ud, const stomp_frame *f) {
    cli_session *s = ud;
    (void)f;
    pthread_mutex_lock(&s->mu);
    s->connected_once = true;
    s->disconnected = false;
    changed(s);
}

static void on_disconnected(void *ud) {
    cli_session *s = ud;
    pthread_mutex_lock(&s->mu);
    s->disconnected = true;
    changed(s);
}

static void on_message(void *ud, const stomp_frame *f) {
    cli_session *s = ud;
    FILE *out;
    cli_format format;
    pthread_mutex_lock(&s->mu);
    out = s->print_to;
    format = s->format;
    pthread_mutex_unlock(&s->mu);
    /* Printed before it is counted: a script waiting for N messages has them on its output. */
    if (out != NULL) cli_print_frame(out, f, format);
    pthread_mutex_lock(&s->mu);
    s->counts.messages_received++;
    changed(s);
}

static void on_error(void *ud, const stomp_frame *f) {
    cli_session *s = ud;
    const char *message = stomp_frame_header(f, "message");
    size_t len;
    const uint8_t *body = stomp_frame_body(f, &len);
    cli_printf(stderr, "stomp: the broker sent ERROR: %s%s%.*s\n", message ? message : "(no message)",
               len > 0 ? "\n  " : "", (int)(len > 400 ? 400 : len), (const char *)body);
    pthread_mutex_lock(&s->mu);
    if (!s->error_seen) {
        snprintf(s->error_message, sizeof s->error_message, "%s", message ? message : "");
    }
    s->error_seen = true;
    changed(s);
}

static void on_receipt(void *ud, const stomp_frame *f) {
    cli_session *s = ud;
    const char *id = stomp_frame_header(f, "receipt-id");
    pthread_mutex_lock(&s->mu);
    if (id != NULL && strcmp(id, s->awaited_receipt) == 0) s->receipt_seen = true;
    changed(s);
}

/* ---- opening and closing ---- */

void cli_report(const char *what, stomp_result rc) {
    const char *detail = stomp_last_error(), *text = stomp_strerror(rc);
    if (strncmp(detail, text, strlen(text)) == 0) {
        cli_printf(stderr, "stomp: %s: %s\n", what, detail); /* the detail starts with the text */
    } else {
        cli_printf(stderr, "stomp: %s: %s%s%s\n", what, text, *detail ? ": " : "", detail);
    }
}

/* A connect that failed because its time ran out (the library names it in the detail). */
static bool connect_timed_out(stomp_result rc) {
    const char *d = stomp_last_error();
    return rc == STOMP_ERR_TIMEOUT ||
           (rc == STOMP_ERR_CONNECT_FAILED && (strstr(d, "timed out") != NULL || strstr(d, "in time") != NULL));
}

/* The broker could not be reached over TLS (its certificate refused, a TLS/plain mix-up, ...). */
static bool is_tls_failure(stomp_result rc) {
    return rc >= STOMP_ERR_TLS_UNTRUSTED && rc <= STOMP_ERR_TLS_HANDSHAKE;
}

static stomp_options *make_options(const cli_settings *cfg, size_t receive_queue) {
    stomp_options *o = stomp_options_new();
    stomp_result rc = STOMP_OK;
    if (o == NULL) return NULL;
    if (rc == STOMP_OK && cfg->ssl) {
        rc = stomp_options_set_tls(o, cfg->ssl_ca, cfg->ssl_cert, cfg->ssl_key);
        if (rc != STOMP_OK) {
            cli_report("--ssl", rc); /* names the file that could not be used */
            stomp_options_free(o);
            return NULL;
        }
    }
    if (rc == STOMP_OK) rc = stomp_options_add_host(o, cfg->host, cfg->port);
    if (rc == STOMP_OK) rc = stomp_options_set_version(o, cfg->version);
    if (rc == STOMP_OK && cfg->vhost != NULL) rc = stomp_options_set_vhost(o, cfg->vhost);
    if (rc == STOMP_OK) rc = stomp_options_set_heartbeats(o, cfg->heartbeat_send_ms, cfg->heartbeat_receive_ms);
    if (rc == STOMP_OK) rc = stomp_options_set_connect_timeout(o, cfg->timeout_ms);
    /* One pass through the host list: a command-line tool reports a failure rather than retrying. */
    if (rc == STOMP_OK) rc = stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, 60.0, 1);
    if (rc == STOMP_OK && receive_queue > 0) rc = stomp_options_set_receive_queue(o, receive_queue);
    if (rc != STOMP_OK) {
        cli_report("options", rc);
        stomp_options_free(o);
        return NULL;
    }
    return o;
}

/* The end of the session's mutex and condition variable: no callback runs any more. */
static void destroy_sync(cli_session *s) {
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

int cli_session_open(cli_session *s, const cli_settings *cfg, size_t receive_queue, FILE *print_to,
                     cli_format format) {
    stomp_options *o;
    stomp_listener l = STOMP_LISTENER_INIT;
    stomp_result rc;

    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->print_to = print_to;
    s->format = format;

    o = make_options(cfg, receive_queue);
    if (o != NULL) {
        s->conn = stomp_connection_new(o);
        stomp_options_free(o);
        if (s->conn == NULL) cli_report("connection", STOMP_ERR_INVALID_ARGUMENT);
    }
    if (s->conn == NULL) {
        destroy_sync(s);
        return CLI_EXIT_USAGE;
    }
    l.user_data = s;
    l.on_connected = on_connected;
    l.on_disconnected = on_disconnected;
    l.on_message = on_message;
    l.on_error = on_error;
    l.on_receipt = on_receipt;
    rc = stomp_set_listener(s->conn, "cli", &l);
    if (rc == STOMP_OK && cfg->verbose) rc = stomp_set_printing_listener(s->conn, "verbose");
    if (rc == STOMP_OK) rc = stomp_connect(s->conn, cfg->user, cfg->password, NULL, 0, true);
    if (rc != STOMP_OK) {
        int code = connect_timed_out(rc) ? CLI_EXIT_TIMEOUT
                   : rc == STOMP_ERR_CONNECT_FAILED || rc == STOMP_ERR_REFUSED || is_tls_failure(rc) ? CLI_EXIT_CONNECT
                                                                              : CLI_EXIT_FAILURE;
        cli_report("connect", rc);
        stomp_connection_free(s->conn);
        s->conn = NULL;
        destroy_sync(s);
        return code;
    }
    return CLI_EXIT_OK;
}

/* Waits (up to `ms`) for the link to end; true if it did. */
static bool wait_disconnected(cli_session *s, uint32_t ms) {
    struct timespec deadline;
    bool done;
    deadline_after(&deadline, ms);
    pthread_mutex_lock(&s->mu);
    while (!s->disconnected) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) break;
    }
    done = s->disconnected;
    pthread_mutex_unlock(&s->mu);
    return done;
}

int cli_session_close(cli_session *s, const cli_settings *cfg) {
    int code = CLI_EXIT_OK;
    if (s->conn != NULL) {
        if (stomp_is_connected(s->conn)) {
            stomp_result rc = stomp_disconnect(s->conn, NULL, cfg->timeout_ms);
            if (rc != STOMP_OK && rc != STOMP_ERR_NOT_CONNECTED) {
                code = cli_exit_code(s, rc);
                cli_report("disconnect", rc);
            }
        }
        /* Callbacks of a connection run in order: once on_disconnected has run, so has on_error
         * for an ERROR the broker sent before closing. */
        wait_disconnected(s, cfg->timeout_ms);
        stomp_connection_free(s->conn);
        s->conn = NULL;
    }
    pthread_mutex_lock(&s->mu);
    if (s->error_seen) code = CLI_EXIT_BROKER_ERROR;
    pthread_mutex_unlock(&s->mu);
    destroy_sync(s);
    return code;
}

int cli_exit_code(cli_session *s, stomp_result rc) {
    bool error_seen;
    if (rc == STOMP_OK) return CLI_EXIT_OK;
    /* A failure caused by the broker's ERROR (it closes the link after one) is reported as such:
     * wait briefly for the link's end, after which on_error has surely run. */
    if (rc == STOMP_ERR_DISCONNECTED || rc == STOMP_ERR_NOT_CONNECTED || rc == STOMP_ERR_CLOSED) {
        wait_disconnected(s, 2000);
    }
    pthread_mutex_lock(&s->mu);
    error_seen = s->error_seen;
    pthread_mutex_unlock(&s->mu);
    if (error_seen || rc == STOMP_ERR_SERVER) return CLI_EXIT_BROKER_ERROR;
    if (rc == STOMP_ERR_TIMEOUT) return CLI_EXIT_TIMEOUT;
    if (rc == STOMP_ERR_INVALID_ARGUMENT || rc == STOMP_ERR_INVALID_HEADER) return CLI_EXIT_USAGE;
    return CLI_EXIT_FAILURE;
}

void cli_session_expect_receipt(cli_session *s, const char *receipt) {
    pthread_mutex_lock(&s->mu);
    snprintf(s->awaited_receipt, sizeof s->awaited_receipt, "%s", receipt);
    s->receipt_seen = false;
    pthread_mutex_unlock(&s->mu);
}

stomp_result cli_session_wait_receipt(cli_session *s, uint32_t timeout_ms) {
    struct timespec deadline;
    stomp_result rc = STOMP_ERR_TIMEOUT;
    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->receipt_seen) rc = STOMP_OK;
        else if (s->error_seen) rc = STOMP_ERR_SERVER;
        else if (s->disconnected) rc = STOMP_ERR_DISCONNECTED;
        else if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) != ETIMEDOUT) continue;
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

bool cli_session_wait_messages(cli_session *s, uint64_t n, uint32_t timeout_ms) {
    struct timespec deadline;
    bool done;
    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->counts.messages_received < n && !s->disconnected) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) break;
    }
    done = s->counts.messages_received >= n;
    pthread_mutex_unlock(&s->mu);
    return done;
}

cli_counts cli_session_counts(cli_session *s) {
    cli_counts c;
    pthread_mutex_lock(&s->mu);
    c = s->counts;
    pthread_mutex_unlock(&s->mu);
    return c;
}
