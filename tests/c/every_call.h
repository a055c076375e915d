/*
 * every_call.h - every function that takes a stomp_connection, called with valid arguments, as a
 * table with the documented answer while connected and once the link is closed. The misuse tests
 * run the whole table where misuse could hurt: inside a callback of the same connection
 * (test_misuse_callbacks.c), after another connection was freed and after stomp_disconnect
 * (test_misuse_after.c). stomp_connect, stomp_disconnect and stomp_connection_free change the
 * state and so are called by the tests themselves, around the table.
 *
 * What the table needs (ec_ctx): the connection, a destination it is subscribed to with
 * client-individual acks (STOMP 1.2), and a MESSAGE received on the current link (borrowed).
 */
#ifndef STOMP_TEST_EVERY_CALL_H
#define STOMP_TEST_EVERY_CALL_H

#include "test_util.h"

typedef struct {
    stomp_connection *conn;
    const char *queue;       /* where the calls send (a queue of this test) */
    const stomp_frame *msg;  /* a MESSAGE of the current (or last) link */
    bool closed;             /* which answer is expected */
    char receipt[96];        /* set by the send row, waited for by the wait_receipt row */
    char sub_id[64];         /* set by subscribe_out, used by unsubscribe */
} ec_ctx;

typedef struct {
    const char *name;
    stomp_result (*call)(ec_ctx *x);
    stomp_result when_connected;
    stomp_result when_closed;
} ec_row;

static inline void ec_noop_message(void *ud, const stomp_frame *f) {
    (void)ud;
    (void)f;
}

static inline stomp_result ec_set_listener(ec_ctx *x) {
    stomp_listener l = STOMP_LISTENER_INIT;
    l.on_message = ec_noop_message;
    return stomp_set_listener(x->conn, "every-call-extra", &l);
}
static inline stomp_result ec_remove_listener(ec_ctx *x) { return stomp_remove_listener(x->conn, "every-call-extra"); }
static inline stomp_result ec_printing_listener(ec_ctx *x) {
    stomp_result rc = stomp_set_printing_listener(x->conn, "every-call-printer");
    return rc != STOMP_OK ? rc : stomp_remove_listener(x->conn, "every-call-printer");
}
static inline stomp_result ec_connect_again(ec_ctx *x) {
    return stomp_connect(x->conn, T_LOGIN, T_PASSCODE, NULL, 0, false);
}
static inline stomp_result ec_send(ec_ctx *x) {
    stomp_header h = {"receipt", x->receipt};
    t_unique_receipt(x->receipt, sizeof x->receipt, "every-call");
    return stomp_send(x->conn, x->queue, "every-call", 10, "text/plain", &h, 1);
}
static inline stomp_result ec_wait_receipt(ec_ctx *x) { return stomp_wait_receipt(x->conn, x->receipt, T_WAIT_MS); }
static inline stomp_result ec_send_frame(ec_ctx *x) {
    stomp_header h = {"destination", x->queue};
    return stomp_send_frame(x->conn, "SEND", &h, 1, "frame", 5);
}
static inline stomp_result ec_subscribe(ec_ctx *x) {
    return stomp_subscribe(x->conn, "/queue/every-call-unused", "every-call-sub", STOMP_ACK_AUTO, NULL, 0);
}
static inline stomp_result ec_unsubscribe(ec_ctx *x) { return stomp_unsubscribe(x->conn, "every-call-sub", NULL, 0); }
static inline stomp_result ec_subscribe_out(ec_ctx *x) {
    strcpy(x->sub_id, "never-subscribed");
    return stomp_subscribe_out(x->conn, "/queue/every-call-unused", NULL, STOMP_ACK_CLIENT, NULL, 0, x->sub_id,
                               sizeof x->sub_id);
}
static inline stomp_result ec_unsubscribe_out(ec_ctx *x) { return stomp_unsubscribe(x->conn, x->sub_id, NULL, 0); }
/* A transaction that is aborted: the NACKs and the ACK in it are never applied. */
static inline stomp_result ec_begin(ec_ctx *x) {
    return stomp_begin(x->conn, "every-call-aborted", NULL, 0);
}
static inline stomp_result ec_nack_frame(ec_ctx *x) { return stomp_nack_frame(x->conn, x->msg, "every-call-aborted"); }
static inline stomp_result ec_nack(ec_ctx *x) {
    return stomp_nack(x->conn, stomp_frame_header(x->msg, "ack"), stomp_frame_header(x->msg, "subscription"),
                      "every-call-aborted");
}
static inline stomp_result ec_ack(ec_ctx *x) {
    return stomp_ack(x->conn, stomp_frame_header(x->msg, "ack"), stomp_frame_header(x->msg, "subscription"),
                     "every-call-aborted");
}
static inline stomp_result ec_abort(ec_ctx *x) { return stomp_abort(x->conn, "every-call-aborted"); }
/* A transaction that is committed: the message is acked once, here. Closed, each of the three
 * calls is made and each must say "not connected". */
static inline stomp_result ec_begin_out(ec_ctx *x) {
    char id[64] = "every-call-committed";
    stomp_result rc = stomp_begin(x->conn, NULL, id, sizeof id);
    if (rc == STOMP_OK || x->closed) {
        stomp_result rc2 = stomp_ack_frame(x->conn, x->msg, id);
        if (rc2 != rc) return rc2;
        rc2 = stomp_commit(x->conn, id);
        if (rc2 != rc) return rc2;
    }
    return rc;
}
/* Connected: one message (the receive queue holds what the listeners get). Closed: what is left,
 * then the end. */
static inline stomp_result ec_receive(ec_ctx *x) {
    stomp_frame *f = NULL;
    stomp_result rc;
    int i;
    for (i = 0; i < 1000; i++) {
        rc = stomp_receive(x->conn, x->closed ? 0 : T_WAIT_MS, &f);
        if (rc != STOMP_OK) return rc;
        if (f == NULL || strcmp(stomp_frame_command(f), "MESSAGE") != 0) {
            stomp_frame_free(f);
            return STOMP_ERR_INTERNAL; /* not what stomp_receive promises */
        }
        stomp_frame_free(f);
        f = NULL;
        if (!x->closed) return STOMP_OK;
    }
    return STOMP_ERR_QUEUE_FULL; /* more than 1000 left: not what this test sent */
}
static inline stomp_result ec_is_connected(ec_ctx *x) {
    return stomp_is_connected(x->conn) ? STOMP_OK : STOMP_ERR_NOT_CONNECTED;
}
static inline stomp_result ec_version(ec_ctx *x) {
    stomp_version v = (stomp_version)0;
    stomp_result rc = stomp_connection_version(x->conn, &v);
    return rc == STOMP_OK && v != STOMP_VERSION_1_2 ? STOMP_ERR_INTERNAL : rc;
}
static inline stomp_result ec_connected_frame(ec_ctx *x) {
    stomp_frame *f = NULL;
    stomp_result rc = stomp_connected_frame(x->conn, &f);
    if (rc == STOMP_OK && (f == NULL || strcmp(stomp_frame_command(f), "CONNECTED") != 0)) rc = STOMP_ERR_INTERNAL;
    stomp_frame_free(f);
    return rc;
}

static const ec_row ec_rows[] = {
    {"stomp_set_listener", ec_set_listener, STOMP_OK, STOMP_OK},
    {"stomp_remove_listener", ec_remove_listener, STOMP_OK, STOMP_OK},
    {"stomp_set_printing_listener + remove", ec_printing_listener, STOMP_OK, STOMP_OK},
    {"stomp_connect (not run once closed)", ec_connect_again, STOMP_ERR_ALREADY_CONNECTED, STOMP_OK},
    {"stomp_send", ec_send, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_wait_receipt", ec_wait_receipt, STOMP_OK, STOMP_ERR_NOT_FOUND},
    {"stomp_send_frame", ec_send_frame, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_subscribe", ec_subscribe, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_unsubscribe", ec_unsubscribe, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_subscribe_out", ec_subscribe_out, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_unsubscribe (its id)", ec_unsubscribe_out, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_begin", ec_begin, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_nack_frame", ec_nack_frame, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_nack", ec_nack, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_ack", ec_ack, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_abort", ec_abort, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_begin + stomp_ack_frame + stomp_commit", ec_begin_out, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_receive", ec_receive, STOMP_OK, STOMP_ERR_CLOSED},
    {"stomp_is_connected", ec_is_connected, STOMP_OK, STOMP_ERR_NOT_CONNECTED},
    {"stomp_connection_version", ec_version, STOMP_OK, STOMP_OK},
    {"stomp_connected_frame", ec_connected_frame, STOMP_OK, STOMP_OK},
};
#define EC_ROWS (sizeof ec_rows / sizeof ec_rows[0])

/* What one run of the table gave, for checking on the main thread (a callback must not _exit
 * half-way through the library's dispatch). */
typedef struct {
    stomp_result got[EC_ROWS];
    char error[EC_ROWS][160]; /* stomp_last_error() after a failing row */
    int64_t longest_ms;       /* the slowest row */
    size_t done;              /* rows run */
} ec_result;

/* Runs every row in order (the connect row only while connected: closed, it would connect). */
static inline void ec_run(ec_ctx *x, ec_result *r) {
    size_t i;
    memset(r, 0, sizeof *r);
    for (i = 0; i < EC_ROWS; i++) {
        int64_t t0 = t_now_ms(), dt;
        if (x->closed && ec_rows[i].call == ec_connect_again) {
            r->got[i] = ec_rows[i].when_closed;
        } else {
            r->got[i] = ec_rows[i].call(x);
        }
        if (r->got[i] != STOMP_OK) snprintf(r->error[i], sizeof r->error[i], "%s", stomp_last_error());
        dt = t_now_ms() - t0;
        if (dt > r->longest_ms) r->longest_ms = dt;
        r->done++;
    }
}

/* Checks a run against the table (on the main thread), one "ok" line per row. */
static inline void ec_check(const ec_result *r, bool closed, const char *where) {
    size_t i;
    char what[256];
    if (r->done != EC_ROWS) t_fail(__FILE__, __LINE__, "%s: only %zu of %zu calls ran", where, r->done, EC_ROWS);
    for (i = 0; i < EC_ROWS; i++) {
        stomp_result want = closed ? ec_rows[i].when_closed : ec_rows[i].when_connected;
        if (r->got[i] != want) {
            t_fail(__FILE__, __LINE__, "%s: %s gave %d (%s), expected %d (%s); last error \"%s\"", where,
                   ec_rows[i].name, (int)r->got[i], stomp_strerror(r->got[i]), (int)want, stomp_strerror(want),
                   r->error[i]);
        }
        snprintf(what, sizeof what, "%s: %s gave %s%s%s%s", where, ec_rows[i].name, stomp_strerror(want),
                 want != STOMP_OK ? " (\"" : "", want != STOMP_OK ? r->error[i] : "", want != STOMP_OK ? "\")" : "");
        t_ok(what);
    }
    if (r->longest_ms >= T_WAIT_MS) {
        t_fail(__FILE__, __LINE__, "%s: a call took %lld ms", where, (long long)r->longest_ms);
    }
    snprintf(what, sizeof what, "%s: the slowest call took %lld ms", where, (long long)r->longest_ms);
    t_ok(what);
}

#endif /* STOMP_TEST_EVERY_CALL_H */
