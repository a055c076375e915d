/*
 * test_listener BROKER: the listener callbacks.
 *  - on_connecting, on_connected, on_before_message, on_message, on_receipt, on_disconnecting,
 *    on_disconnected, on_receiver_loop_completed fire, in that order, on a library thread, one at a
 *    time per connection;
 *  - on_send sees CONNECT first, then our frames;
 *  - stomp_disconnect returns only after on_disconnected has run;
 *  - two listeners both hear a message; after stomp_remove_listener only the other one does;
 *  - frames lent to callbacks can be kept with stomp_frame_clone.
 * For every version, with the receive queue off (messages go to the listeners only).
 */
#include "test_util.h"

static broker b;

/* Index of the first event with this prefix after `from`; fails the test if absent. */
static int must_find(recorder *r, const char *prefix, int from, int line) {
    int i = rec_find(r, prefix, from);
    if (i < 0) {
        rec_dump(r);
        t_fail(__FILE__, line, "no event \"%s\" after event %d", prefix, from);
    }
    return i;
}
#define MUST_FIND(r, p, from) must_find((r), (p), (from), __LINE__)

static void test_order(stomp_version v) {
    recorder rec, other;
    stomp_listener l, lo;
    stomp_connection *c;
    char q[128], rid[64], bye[64], ev[128];
    int i_connecting, i_connected, i_before, i_msg, i_rcpt, i_disc, i_gone, i_loop, i_send_connect, n;

    t_section("%s STOMP %s: callbacks in order", b.name, t_version_str(v));
    rec_init(&rec);
    rec_init(&other);
    rec.record_sends = true;
    l = rec_listener(&rec);
    lo = rec_listener(&other);
    t_unique_queue(q, sizeof q, "listener");
    c = t_new_connection(&b, v, 0, &l);
    CHECK_OK(stomp_set_listener(c, "other", &lo));
    CHECK_OK(stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true));
    CHECK_OK(stomp_subscribe(c, q, "sub-1", STOMP_ACK_AUTO, NULL, 0));
    CHECK_OK(stomp_send(c, q, "first", 5, "text/plain", NULL, 0));
    CHECK(rec_wait_messages(&rec, 1, T_WAIT_MS));
    CHECK(rec_wait_messages(&other, 1, T_WAIT_MS));

    /* A receipt asked for after the message arrived comes after it. */
    t_unique_receipt(rid, sizeof rid, "listener");
    {
        stomp_header h = {"receipt", rid};
        CHECK_OK(stomp_send(c, q, "second", 6, "text/plain", &h, 1));
    }
    snprintf(ev, sizeof ev, "receipt %s", rid);
    CHECK(rec_wait_event(&rec, ev, T_WAIT_MS));
    CHECK(rec_wait_messages(&rec, 2, T_WAIT_MS));
    CHECK(rec_wait_messages(&other, 2, T_WAIT_MS));

    /* Remove "other": the next message reaches "t" only. */
    CHECK_OK(stomp_remove_listener(c, "other"));
    CHECK_OK(t_send_confirmed(c, q, "third", NULL, 0));
    CHECK(rec_wait_messages(&rec, 3, T_WAIT_MS));

    t_unique_receipt(bye, sizeof bye, "bye");
    CHECK_OK(stomp_disconnect(c, bye, T_WAIT_MS));
    /* Returned only after on_disconnected ran: no waiting here. */
    CHECK(rec_find(&rec, "disconnected", 0) >= 0);
    CHECK(!stomp_is_connected(c));
    /* on_receiver_loop_completed follows (the connection will not reconnect by itself). */
    CHECK(rec_wait_event(&rec, "loop_completed", T_WAIT_MS));
    stomp_connection_free(c);
    rec_dump(&rec);

    i_connecting = MUST_FIND(&rec, "connecting 127.0.0.1", 0);
    i_send_connect = MUST_FIND(&rec, "send ", 0);
    CHECK(strcmp(rec.events[i_send_connect], "send CONNECT") == 0);
    i_connected = MUST_FIND(&rec, "connected CONNECTED", 0);
    i_before = MUST_FIND(&rec, "before_message first", 0);
    i_msg = MUST_FIND(&rec, "message first", 0);
    MUST_FIND(&rec, "send SUBSCRIBE", 0);
    MUST_FIND(&rec, "send SEND", 0);
    snprintf(ev, sizeof ev, "receipt %s", rid);
    i_rcpt = MUST_FIND(&rec, ev, 0);
    MUST_FIND(&rec, "message second", 0);
    i_disc = MUST_FIND(&rec, "disconnecting", 0);
    i_gone = MUST_FIND(&rec, "disconnected", 0);
    i_loop = MUST_FIND(&rec, "loop_completed", 0);
    CHECK(i_connecting < i_send_connect);
    CHECK(i_send_connect < i_connected);
    CHECK(i_connected < i_before);
    CHECK(i_before < i_msg);
    CHECK(i_msg < i_rcpt);
    CHECK(i_rcpt < i_disc);
    CHECK(i_disc < i_gone);
    CHECK(i_gone < i_loop);
    /* DISCONNECT goes after on_disconnecting, and its receipt is reported between them. */
    CHECK(MUST_FIND(&rec, "send DISCONNECT", i_disc) > i_disc);
    snprintf(ev, sizeof ev, "receipt %s", bye);
    n = MUST_FIND(&rec, ev, i_disc);
    CHECK(n < i_gone);
    /* Exactly one of each lifecycle event. */
    CHECK(rec_find(&rec, "connected", i_connected + 1) < 0);
    CHECK(rec_find(&rec, "disconnected", i_gone + 1) < 0);
    CHECK(rec.n_connected == 1 && rec.n_disconnected == 1 && rec.n_loop_completed == 1);

    t_section("%s STOMP %s: threads, frames kept, the removed listener", b.name, t_version_str(v));
    CHECK(atomic_load(&rec.overlap) == 0);
    CHECK(atomic_load(&rec.on_main) == 0);
    CHECK(rec.n_messages == 3);
    CHECK(t_body_is_str(rec.messages[0], "first"));
    CHECK(t_body_is_str(rec.messages[1], "second"));
    CHECK(t_body_is_str(rec.messages[2], "third"));
    CHECK_STR(stomp_frame_header(rec.messages[0], "destination"), q);
    CHECK(other.n_messages == 2);
    CHECK(rec_find(&other, "message third", 0) < 0);
    CHECK(rec_find(&other, "disconnected", 0) < 0);
    /* "other" also heard everything up to its removal, in order. */
    CHECK(rec_find(&other, "connected", 0) >= 0);
    CHECK(rec_find(&other, "message second", 0) > rec_find(&other, "message first", 0));
    rec_destroy(&rec);
    rec_destroy(&other);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_broker_arg(argc > 1 ? argv[1] : NULL);
    test_order(STOMP_VERSION_1_0);
    test_order(STOMP_VERSION_1_1);
    test_order(STOMP_VERSION_1_2);
    return t_done("test_listener");
}
