/*
 * test_misuse_callbacks: callbacks that call the library back on their own connection (RabbitMQ,
 * STOMP 1.2). Nothing may hang, crash or answer other than documented.
 *  1. In on_message: every connection function (every_call.h) with the answers of a connected
 *     link; then stomp_disconnect (blocking, from its own callback); the table again with the
 *     answers of a closed link; stomp_connect with wait (blocking); stomp_remove_listener of the
 *     running listener. After that callback, the removed listener hears nothing more while another
 *     listener of the same connection goes on hearing events.
 *  2. stomp_connection_free from inside the connection's own on_message, and from inside its own
 *     on_disconnected (RabbitMQ closes the link after the ERROR for a duplicate subscription id):
 *     the call returns, the callback finishes, and no callback of that connection runs after it
 *     (ASan and valgrind see any use of freed memory).
 * Each callback records its results; the main thread waits for them with a deadline and checks.
 */
#include "every_call.h"

static broker b;

/* ---- 1. every call from on_message ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    stomp_connection *conn;
    char queue[128];
    int messages;            /* on_message calls of the listener "main" */
    bool removed;            /* "main" removed itself */
    int calls_after_removal; /* callbacks of "main" that began after that */
    bool done;
    ec_result connected, closed;
    stomp_result rc_disconnect, rc_connect, rc_subscribe, rc_remove;
} reentry;

static void main_on_any(reentry *s) {
    pthread_mutex_lock(&s->mu);
    if (s->removed) s->calls_after_removal++;
    pthread_mutex_unlock(&s->mu);
}

static void main_on_message(void *ud, const stomp_frame *f) {
    reentry *s = ud;
    ec_ctx x;
    bool first;
    main_on_any(s);
    pthread_mutex_lock(&s->mu);
    first = s->messages++ == 0;
    pthread_mutex_unlock(&s->mu);
    if (!first) return;

    memset(&x, 0, sizeof x);
    x.conn = s->conn;
    x.queue = s->queue;
    x.msg = f;
    ec_run(&x, &s->connected);
    s->rc_disconnect = stomp_disconnect(s->conn, NULL, T_WAIT_MS);
    x.closed = true;
    ec_run(&x, &s->closed);
    s->rc_connect = stomp_connect(s->conn, T_LOGIN, T_PASSCODE, NULL, 0, true);
    s->rc_subscribe = stomp_subscribe(s->conn, s->queue, "again", STOMP_ACK_AUTO, NULL, 0);
    s->rc_remove = stomp_remove_listener(s->conn, "main");
    pthread_mutex_lock(&s->mu);
    s->removed = true;
    s->done = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void main_on_frame(void *ud, const stomp_frame *f) {
    (void)f;
    main_on_any(ud);
}

static void main_on_plain(void *ud) { main_on_any(ud); }

typedef void (*frame_cb)(void *, const stomp_frame *);
typedef void (*plain_cb)(void *);

/* A listener with every callback set: `on_frame` and `on_plain` for all but on_message and
 * on_disconnected, which get their own. */
static stomp_listener listener_for(void *ud, frame_cb on_frame, plain_cb on_plain, frame_cb on_message,
                                   plain_cb on_disconnected) {
    stomp_listener l = STOMP_LISTENER_INIT;
    l.user_data = ud;
    l.on_connected = l.on_receipt = l.on_error = l.on_send = l.on_before_message = on_frame;
    l.on_disconnecting = l.on_heartbeat = l.on_heartbeat_timeout = l.on_receiver_loop_completed = on_plain;
    l.on_message = on_message;
    l.on_disconnected = on_disconnected;
    return l;
}

/* Waits (up to ms) for *flag, with `mu` guarding it and `cv` signalled when it changes. */
static bool wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *flag, uint32_t ms) {
    return t_wait(mu, cv, t_pred_flag, flag, ms);
}

static void test_every_call_from_a_callback(void) {
    reentry s;
    recorder rec;
    stomp_listener l, lr;
    char body[64];
    int n_before;

    t_section("every call from inside on_message, then disconnect, connect and remove itself there");
    memset(&s, 0, sizeof s);
    t_sync_init(&s.mu, &s.cv);
    rec_init(&rec);
    t_unique_queue(s.queue, sizeof s.queue, "reentry");
    l = listener_for(&s, main_on_frame, main_on_plain, main_on_message, main_on_plain);
    lr = rec_listener(&rec);

    s.conn = t_new_connection(&b, STOMP_VERSION_1_2, 64, NULL);
    CHECK_OK(stomp_set_listener(s.conn, "main", &l));
    CHECK_OK(stomp_set_listener(s.conn, "rec", &lr));
    CHECK_OK(stomp_connect(s.conn, T_LOGIN, T_PASSCODE, NULL, 0, true));
    CHECK_OK(stomp_subscribe(s.conn, s.queue, "s", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    CHECK_OK(t_send_confirmed(s.conn, s.queue, "first", NULL, 0));
    if (!wait_flag(&s.mu, &s.cv, &s.done, 4 * T_WAIT_MS)) {
        t_fail(__FILE__, __LINE__, "the callback did not finish its calls within %u ms (a hang?)", 4 * T_WAIT_MS);
    }
    t_ok("the callback made every call and returned");

    ec_check(&s.connected, false, "in on_message, connected");
    CHECK_RC(s.rc_disconnect, STOMP_OK);
    ec_check(&s.closed, true, "in on_message, after stomp_disconnect there");
    CHECK_RC(s.rc_connect, STOMP_OK);
    CHECK_RC(s.rc_subscribe, STOMP_OK);
    CHECK_RC(s.rc_remove, STOMP_OK);
    CHECK(stomp_is_connected(s.conn));

    /* The link made from the callback works; "rec" hears it, "main" does not. */
    n_before = rec_count(&rec, &rec.n_messages);
    CHECK_OK(t_send_confirmed(s.conn, s.queue, "after removal", NULL, 0));
    {
        char ev[160];
        snprintf(ev, sizeof ev, "message after removal");
        CHECK(rec_wait_event(&rec, ev, T_WAIT_MS));
    }
    CHECK(rec_count(&rec, &rec.n_messages) > n_before);
    pthread_mutex_lock(&s.mu);
    CHECK(s.messages == 1);
    CHECK(s.calls_after_removal == 0);
    pthread_mutex_unlock(&s.mu);
    CHECK(atomic_load(&rec.overlap) == 0);
    CHECK_STR(t_body_str(rec.messages[0], body, sizeof body), "first");

    CHECK_OK(stomp_disconnect(s.conn, NULL, T_WAIT_MS));
    CHECK(rec_wait_event(&rec, "disconnected", T_WAIT_MS));
    stomp_connection_free(s.conn);
    rec_destroy(&rec);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}

/* ---- 2. stomp_connection_free from inside the connection's own callback ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    stomp_connection *conn;
    bool freed;
    int callbacks_after_free;
    bool in_message; /* free in on_message (else in on_disconnected) */
} freer;

static void freer_note(freer *s) {
    pthread_mutex_lock(&s->mu);
    if (s->freed) s->callbacks_after_free++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void freer_free(freer *s) {
    stomp_connection_free(s->conn);
    pthread_mutex_lock(&s->mu);
    s->freed = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void freer_on_message(void *ud, const stomp_frame *f) {
    freer *s = ud;
    (void)f;
    freer_note(s);
    if (s->in_message && !s->freed) freer_free(s);
}

static void freer_on_frame(void *ud, const stomp_frame *f) {
    (void)f;
    freer_note(ud);
}

static void freer_on_disconnected(void *ud) {
    freer *s = ud;
    freer_note(s);
    if (!s->in_message && !s->freed) freer_free(s);
}

static void freer_on_plain(void *ud) { freer_note(ud); }

static void test_free_from_own_callback(bool in_message) {
    freer s;
    stomp_listener l;
    stomp_connection *other;
    char q[128];
    int i;

    t_section("stomp_connection_free from inside its own %s", in_message ? "on_message" : "on_disconnected");
    memset(&s, 0, sizeof s);
    t_sync_init(&s.mu, &s.cv);
    s.in_message = in_message;
    l = listener_for(&s, freer_on_frame, freer_on_plain, freer_on_message, freer_on_disconnected);
    t_unique_queue(q, sizeof q, "free-in-callback");
    s.conn = t_connect(&b, STOMP_VERSION_1_2, 0, &l);
    CHECK_OK(stomp_subscribe(s.conn, q, "s", STOMP_ACK_AUTO, NULL, 0));
    other = t_connect(&b, STOMP_VERSION_1_2, 0, NULL);
    if (in_message) {
        /* Several messages: the first frees; the rest must never reach a callback. */
        for (i = 0; i < 5; i++) CHECK_OK(t_send_confirmed(other, q, "free me", NULL, 0));
    } else {
        /* RabbitMQ answers a second SUBSCRIBE with the same id with ERROR and closes the link. */
        stomp_header h[2] = {{"id", "s"}, {"destination", q}};
        CHECK_OK(stomp_send_frame(s.conn, "SUBSCRIBE", h, 2, NULL, 0));
    }
    if (!wait_flag(&s.mu, &s.cv, &s.freed, T_WAIT_MS)) {
        t_fail(__FILE__, __LINE__, "stomp_connection_free did not return inside the callback");
    }
    t_ok("stomp_connection_free returned inside the callback");
    /* More traffic to the queue the freed connection subscribed to (it must reach no callback), and
     * a round trip on another connection so that the loop has surely moved on. */
    for (i = 0; i < 3; i++) CHECK_OK(t_send_confirmed(other, q, "after free", NULL, 0));
    CHECK_OK(stomp_disconnect(other, NULL, T_WAIT_MS));
    stomp_connection_free(other);
    {
        /* The one negative check, which no event can end: messages that were already queued for
         * the freed connection when it was freed get a moment to (wrongly) reach a callback. */
        bool never = false;
        CHECK(!wait_flag(&s.mu, &s.cv, &never, 200));
    }
    pthread_mutex_lock(&s.mu);
    CHECK(s.callbacks_after_free == 0);
    pthread_mutex_unlock(&s.mu);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_rabbitmq();
    test_every_call_from_a_callback();
    test_free_from_own_callback(true);
    test_free_from_own_callback(false);
    return t_done("test_misuse_callbacks");
}
