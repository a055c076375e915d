/*
 * test_callback_blocking BROKER: blocking calls made from inside callbacks complete (no deadlock).
 *  - in on_connected (connect without wait): subscribe, send with a receipt, stomp_wait_receipt;
 *  - in on_message: stomp_receive (the receive queue holds the same message), stomp_send with a
 *    receipt + stomp_wait_receipt;
 *  - in the next on_message: stomp_disconnect with a receipt; on_disconnected follows.
 * The main thread waits on a condition variable with a deadline; if the deadline passes the test
 * fails at once (a deadlock would otherwise hang it; CTest's TIMEOUT is the last resort).
 */
#include "test_util.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    stomp_connection *conn;
    char queue[128];
    /* results, -1 until set */
    int rc_sub, rc_send_in_connected, rc_wait_in_connected;
    int rc_receive, rc_send, rc_wait, rc_disconnect;
    char received[64];
    int64_t disconnect_ms;
    bool disconnected;
    bool receipt_seen_in_connected;
} state;

static void set_rc(state *s, int *field, int value) {
    pthread_mutex_lock(&s->mu);
    *field = value;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_connected(void *ud, const stomp_frame *f) {
    state *s = ud;
    stomp_header h = {"receipt", "in-connected"};
    (void)f;
    set_rc(s, &s->rc_sub, stomp_subscribe(s->conn, s->queue, "blocking", STOMP_ACK_AUTO, NULL, 0));
    set_rc(s, &s->rc_send_in_connected, stomp_send(s->conn, s->queue, "first", 5, "text/plain", &h, 1));
    set_rc(s, &s->rc_wait_in_connected, stomp_wait_receipt(s->conn, "in-connected", T_WAIT_MS));
}

static void on_message(void *ud, const stomp_frame *f) {
    state *s = ud;
    if (t_body_is_str(f, "first")) {
        stomp_frame *got = NULL;
        stomp_header h = {"receipt", "in-message"};
        int rc = stomp_receive(s->conn, T_WAIT_MS, &got);
        if (rc == STOMP_OK) {
            pthread_mutex_lock(&s->mu);
            t_body_str(got, s->received, sizeof s->received);
            pthread_mutex_unlock(&s->mu);
            stomp_frame_free(got);
        }
        set_rc(s, &s->rc_receive, rc);
        set_rc(s, &s->rc_send, stomp_send(s->conn, s->queue, "second", 6, "text/plain", &h, 1));
        set_rc(s, &s->rc_wait, stomp_wait_receipt(s->conn, "in-message", T_WAIT_MS));
    } else if (t_body_is_str(f, "second")) {
        int64_t t0 = t_now_ms();
        int rc = stomp_disconnect(s->conn, "bye-in-message", T_WAIT_MS);
        pthread_mutex_lock(&s->mu);
        s->disconnect_ms = t_now_ms() - t0;
        pthread_mutex_unlock(&s->mu);
        set_rc(s, &s->rc_disconnect, rc);
    }
}

static void on_disconnected(void *ud) {
    state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->disconnected = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits for `done` with a deadline; on time-out reports and ends the process (no cleanup: a
 * deadlocked connection cannot be freed). */
static void wait_done(state *s, int64_t deadline_ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += deadline_ms / 1000;
    pthread_mutex_lock(&s->mu);
    while (!(s->disconnected && s->rc_disconnect != -1)) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0) {
            printf("  results so far: sub %d send %d wait %d | receive %d send %d wait %d | disconnect %d\n",
                   s->rc_sub, s->rc_send_in_connected, s->rc_wait_in_connected, s->rc_receive, s->rc_send,
                   s->rc_wait, s->rc_disconnect);
            t_fail(__FILE__, __LINE__, "deadlock? the callbacks did not finish within %lld s",
                   (long long)(deadline_ms / 1000));
        }
    }
    pthread_mutex_unlock(&s->mu);
}

int main(int argc, char **argv) {
    broker b;
    state s;
    stomp_listener l;
    pthread_condattr_t a;
    int64_t t0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_broker_arg(argc > 1 ? argv[1] : NULL);
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&s.cv, &a);
    s.rc_sub = s.rc_send_in_connected = s.rc_wait_in_connected = -1;
    s.rc_receive = s.rc_send = s.rc_wait = s.rc_disconnect = -1;
    t_unique_queue(s.queue, sizeof s.queue, "blocking");

    t_section("%s: blocking calls inside callbacks", b.name);
    stomp_listener_init(&l);
    l.user_data = &s;
    l.on_connected = on_connected;
    l.on_message = on_message;
    l.on_disconnected = on_disconnected;
    s.conn = t_new_connection(&b, STOMP_VERSION_1_2, 8, &l);
    t0 = t_now_ms();
    CHECK_OK(stomp_connect(s.conn, T_LOGIN, T_PASSCODE, NULL, 0, false));
    wait_done(&s, 30000);
    printf("  all callbacks done in %lld ms (disconnect inside on_message took %lld ms)\n",
           (long long)(t_now_ms() - t0), (long long)s.disconnect_ms);

    CHECK_RC((stomp_result)s.rc_sub, STOMP_OK);
    CHECK_RC((stomp_result)s.rc_send_in_connected, STOMP_OK);
    CHECK_RC((stomp_result)s.rc_wait_in_connected, STOMP_OK);
    CHECK_RC((stomp_result)s.rc_receive, STOMP_OK);
    CHECK_STR(s.received, "first");
    CHECK_RC((stomp_result)s.rc_send, STOMP_OK);
    CHECK_RC((stomp_result)s.rc_wait, STOMP_OK);
    CHECK_RC((stomp_result)s.rc_disconnect, STOMP_OK);
    CHECK(s.disconnect_ms < (int64_t)T_WAIT_MS); /* the receipt came; it did not time out */
    CHECK(!stomp_is_connected(s.conn));
    stomp_connection_free(s.conn);
    pthread_cond_destroy(&s.cv);
    pthread_condattr_destroy(&a);
    pthread_mutex_destroy(&s.mu);
    return t_done("test_callback_blocking");
}
