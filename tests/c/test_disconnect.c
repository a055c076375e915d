/*
 * test_disconnect BROKER: the end of a connection.
 *  - stomp_disconnect with a receipt of ours: STOMP_OK, on_receipt hears that receipt id;
 *  - after it every call that needs the link fails with STOMP_ERR_NOT_CONNECTED (send, send_frame,
 *    subscribe, unsubscribe, ack, nack, begin, commit, abort, disconnect), stomp_is_connected is false;
 *  - messages already in the receive queue are still received, then STOMP_ERR_CLOSED;
 *  - the CONNECTED frame and version of the last connection stay readable;
 *  - the same handle connects again, and a generated-receipt disconnect works too;
 *  - 25 connect/disconnect cycles on one handle all succeed (a Close left over from one
 *    disconnect must not end the next connect);
 *  - a link the broker closes (RabbitMQ: ERROR for a SEND to an exchange that does not exist):
 *    on_error, then on_disconnected, inside which stomp_is_connected is already false, and after
 *    which stomp_connect works at once (30 rounds, the reconnect made the moment on_disconnected
 *    signals);
 *  - stomp_connection_free of a connected handle (no DISCONNECT) is clean.
 */
#include "test_util.h"

static broker b;

static void test_disconnect(stomp_version v) {
    recorder rec;
    stomp_listener l;
    stomp_connection *c;
    stomp_frame *m = NULL, *cf = NULL;
    stomp_version got = (stomp_version)0;
    char q[128], bye[64], ev[96], out[64];

    t_section("%s STOMP %s: disconnect with a receipt", b.name, t_version_str(v));
    rec_init(&rec);
    l = rec_listener(&rec);
    t_unique_queue(q, sizeof q, "disc");
    c = t_new_connection(&b, v, 8, &l);
    CHECK_OK(stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true));
    CHECK_OK(stomp_subscribe(c, q, "s", STOMP_ACK_AUTO, NULL, 0));
    CHECK_OK(stomp_send(c, q, "left in the queue", 17, "text/plain", NULL, 0));
    /* on_message runs after the message is in the receive queue */
    CHECK(rec_wait_messages(&rec, 1, T_WAIT_MS));

    t_unique_receipt(bye, sizeof bye, "bye");
    CHECK_OK(stomp_disconnect(c, bye, T_WAIT_MS));
    snprintf(ev, sizeof ev, "receipt %s", bye);
    CHECK(rec_find(&rec, ev, 0) >= 0);
    CHECK(rec_find(&rec, "disconnected", 0) >= 0);
    CHECK(!stomp_is_connected(c));

    t_section("%s STOMP %s: calls after disconnect", b.name, t_version_str(v));
    CHECK_RC(stomp_send(c, q, "late", 4, NULL, NULL, 0), STOMP_ERR_NOT_CONNECTED);
    {
        stomp_header h = {"destination", q};
        CHECK_RC(stomp_send_frame(c, "SEND", &h, 1, "late", 4), STOMP_ERR_NOT_CONNECTED);
    }
    CHECK_RC(stomp_subscribe(c, q, "s2", STOMP_ACK_AUTO, NULL, 0), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_unsubscribe(c, "s", NULL, 0), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_ack(c, "some-id", "s", NULL), STOMP_ERR_NOT_CONNECTED);
    if (v != STOMP_VERSION_1_0) {
        CHECK_RC(stomp_nack(c, "some-id", "s", NULL), STOMP_ERR_NOT_CONNECTED);
    }
    CHECK_RC(stomp_begin(c, NULL, out, sizeof out), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_commit(c, "tx"), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_abort(c, "tx"), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_disconnect(c, NULL, 1000), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_wait_receipt(c, bye, 10), STOMP_ERR_NOT_FOUND); /* already consumed by disconnect */
    CHECK(!stomp_is_connected(c));

    /* What was received before is still there; then the queue reports the end. */
    CHECK_OK(stomp_receive(c, T_WAIT_MS, &m));
    CHECK(t_body_is_str(m, "left in the queue"));
    stomp_frame_free(m);
    m = NULL;
    CHECK_RC(stomp_receive(c, 100, &m), STOMP_ERR_CLOSED);
    CHECK(m == NULL);

    /* The last connection's CONNECTED frame and version. */
    CHECK_OK(stomp_connected_frame(c, &cf));
    CHECK_STR(stomp_frame_command(cf), "CONNECTED");
    stomp_frame_free(cf);
    CHECK_OK(stomp_connection_version(c, &got));
    CHECK(got == v);

    t_section("%s STOMP %s: the same handle again, generated receipt", b.name, t_version_str(v));
    CHECK_OK(stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true));
    CHECK(stomp_is_connected(c));
    CHECK_OK(stomp_subscribe(c, q, "s3", STOMP_ACK_AUTO, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "again", NULL, 0));
    CHECK_OK(stomp_receive(c, T_WAIT_MS, &m));
    CHECK(t_body_is_str(m, "again"));
    stomp_frame_free(m);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    CHECK(!stomp_is_connected(c));
    CHECK(rec.n_connected == 2);
    CHECK(rec.n_disconnected == 2);
    stomp_connection_free(c);
    rec_destroy(&rec);
}

static void test_cycles(void) {
    stomp_connection *c;
    int i, failed = 0;
    t_section("%s: 25 connect/disconnect cycles on one handle", b.name);
    c = t_new_connection(&b, STOMP_VERSION_1_2, 0, NULL);
    for (i = 0; i < 25; i++) {
        stomp_result rc = stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true);
        if (rc != STOMP_OK) {
            printf("  cycle %d: stomp_connect returned %d (%s): %s\n", i, (int)rc, stomp_strerror(rc),
                   stomp_last_error());
            failed++;
            continue;
        }
        rc = stomp_disconnect(c, NULL, T_WAIT_MS);
        if (rc != STOMP_OK) {
            printf("  cycle %d: stomp_disconnect returned %d (%s): %s\n", i, (int)rc, stomp_strerror(rc),
                   stomp_last_error());
            failed++;
        }
    }
    printf("  %d of 25 cycles failed\n", failed);
    CHECK(failed == 0);
    stomp_connection_free(c);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    stomp_connection *conn;
    int errors, disconnected, connected_in_on_disconnected;
    char error_message[256];
} drop_state;

static void drop_on_error(void *ud, const stomp_frame *f) {
    drop_state *s = ud;
    const char *m = stomp_frame_header(f, "message");
    pthread_mutex_lock(&s->mu);
    s->errors++;
    snprintf(s->error_message, sizeof s->error_message, "%s", m ? m : "(none)");
    pthread_mutex_unlock(&s->mu);
}

static void drop_on_disconnected(void *ud) {
    drop_state *s = ud;
    bool connected = stomp_is_connected(s->conn);
    pthread_mutex_lock(&s->mu);
    if (connected) s->connected_in_on_disconnected++;
    s->disconnected++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static bool drop_wait(drop_state *s, int disconnects) {
    struct timespec until;
    bool ok = true;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += T_WAIT_MS / 1000;
    pthread_mutex_lock(&s->mu);
    while (s->disconnected < disconnects) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0) {
            ok = s->disconnected >= disconnects;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

#define ROUNDS 30

static void test_broker_closes(void) {
    drop_state s;
    stomp_listener l;
    pthread_condattr_t a;
    char dest[128];
    int i, reconnect_failed = 0;

    t_section("%s: the broker closes the link; reconnecting as soon as on_disconnected says so", b.name);
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&s.cv, &a);
    stomp_listener_init(&l);
    l.user_data = &s;
    l.on_error = drop_on_error;
    l.on_disconnected = drop_on_disconnected;
    s.conn = t_new_connection(&b, STOMP_VERSION_1_2, 0, &l);
    snprintf(dest, sizeof dest, "/exchange/ctest-no-such-exchange-%ld", (long)getpid());
    CHECK_OK(stomp_connect(s.conn, T_LOGIN, T_PASSCODE, NULL, 0, true));
    for (i = 0; i < ROUNDS; i++) {
        stomp_result rc;
        /* RabbitMQ answers ERROR "not_found" and closes the connection. */
        CHECK_OK(stomp_send(s.conn, dest, "x", 1, NULL, NULL, 0));
        if (!drop_wait(&s, i + 1)) t_fail(__FILE__, __LINE__, "round %d: on_disconnected did not come", i);
        /* The link is gone: no waiting, no retrying. */
        if (stomp_is_connected(s.conn)) printf("  round %d: stomp_is_connected is still true after on_disconnected\n", i);
        rc = stomp_connect(s.conn, T_LOGIN, T_PASSCODE, NULL, 0, true);
        if (rc != STOMP_OK) {
            printf("  round %d: stomp_connect right after on_disconnected returned %d (%s): %s\n", i, (int)rc,
                   stomp_strerror(rc), stomp_last_error());
            reconnect_failed++;
            break;
        }
    }
    printf("  %d rounds: ERROR frames %d (last: %s); stomp_is_connected true inside on_disconnected: %d;"
           " stomp_connect failed right after on_disconnected: %d\n",
           i, s.errors, s.error_message, s.connected_in_on_disconnected, reconnect_failed);
    CHECK_CONTAINS(s.error_message, "not_found");
    CHECK(s.connected_in_on_disconnected == 0);
    CHECK(reconnect_failed == 0);
    CHECK(s.errors == ROUNDS);
    CHECK_OK(stomp_disconnect(s.conn, NULL, T_WAIT_MS));
    stomp_connection_free(s.conn);
    pthread_cond_destroy(&s.cv);
    pthread_condattr_destroy(&a);
    pthread_mutex_destroy(&s.mu);
}

static void test_free_while_connected(void) {
    recorder rec;
    stomp_listener l;
    stomp_connection *c;
    char q[128];
    int i;

    t_section("%s: stomp_connection_free while connected, messages flowing", b.name);
    rec_init(&rec);
    l = rec_listener(&rec);
    t_unique_queue(q, sizeof q, "free");
    c = t_connect(&b, STOMP_VERSION_1_2, 4, &l);
    CHECK_OK(stomp_subscribe(c, q, "s", STOMP_ACK_AUTO, NULL, 0));
    for (i = 0; i < 20; i++) CHECK_OK(stomp_send(c, q, "x", 1, NULL, NULL, 0));
    CHECK(rec_wait_messages(&rec, 1, T_WAIT_MS));
    stomp_connection_free(c);
    /* No callback runs after free returns: the recorder can go now (ASan would see a late one). */
    t_ok("stomp_connection_free returned");
    {
        int before = rec.n_events;
        /* give a late callback every chance to show: a short wait that must time out */
        CHECK(!rec_wait_event(&rec, "never", 200));
        CHECK(rec.n_events == before);
    }
    rec_destroy(&rec);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_broker_arg(argc > 1 ? argv[1] : NULL);
    test_disconnect(STOMP_VERSION_1_0);
    test_disconnect(STOMP_VERSION_1_1);
    test_disconnect(STOMP_VERSION_1_2);
    test_cycles();
    if (b.kind == BROKER_RABBITMQ) test_broker_closes();
    test_free_while_connected();
    return t_done("test_disconnect");
}
