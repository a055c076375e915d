/*
 * test_disconnect_reason BROKER: why a connection went down, from C.
 *  - stomp_last_disconnect is STOMP_ERR_NOT_FOUND before the connection has ever gone down;
 *  - a stomp_disconnect reports STOMP_OK "disconnected by the client", to on_disconnected_reason
 *    (before on_disconnected) and to stomp_last_disconnect; a buffer too small is
 *    STOMP_ERR_BUFFER_TOO_SMALL with nothing written, a NULL code_out STOMP_ERR_INVALID_ARGUMENT;
 *  - a frame from the broker over max_frame (stomp_options_set_max_frame) ends the link with
 *    STOMP_ERR_TOO_LARGE, the message naming max_frame and its value, reason before on_disconnected;
 *  - a refused CONNECT made without waiting (RabbitMQ, wrong passcode) reports STOMP_ERR_REFUSED,
 *    then on_disconnected (its TCP link came up and ended), then on_receiver_loop_completed;
 *  - a program built before on_disconnected_reason (its stomp_listener ends before that member)
 *    is never called through it, and still hears on_disconnected.
 */
#include <stddef.h>

#include "test_util.h"

static broker b;

/* on_disconnected_reason for a recorder: "reason <code> <message>". */
static void rec_on_reason(void *ud, stomp_result code, const char *message) {
    recorder *r = ud;
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "reason %d %s", (int)code, message ? message : "(null)");
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static stomp_listener reason_listener(recorder *r) {
    stomp_listener l = rec_listener(r);
    l.on_disconnected_reason = rec_on_reason;
    return l;
}

/* Fails unless event `first` comes before event `then` (both present). */
static void check_before(recorder *r, const char *first, const char *then) {
    int i = rec_find(r, first, 0), j = rec_find(r, then, 0);
    if (i < 0 || j < 0 || i >= j) {
        rec_dump(r);
        t_fail(__FILE__, __LINE__, "\"%s\" (%d) is not before \"%s\" (%d)", first, i, then, j);
    }
    t_ok(first);
}

static void test_requested(void) {
    recorder rec;
    stomp_listener l;
    stomp_connection *c;
    stomp_result code = STOMP_ERR_INTERNAL;
    char msg[128], tiny[8];

    t_section("%s: an asked-for disconnect reports STOMP_OK", b.name);
    rec_init(&rec);
    l = reason_listener(&rec);
    c = t_connect(&b, STOMP_VERSION_1_2, 0, &l);
    CHECK_RC(stomp_last_disconnect(c, &code, msg, sizeof msg), STOMP_ERR_NOT_FOUND);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    CHECK(rec_wait_event(&rec, "loop_completed", T_WAIT_MS));
    check_before(&rec, "reason 0 disconnected by the client", "disconnected");

    CHECK_OK(stomp_last_disconnect(c, &code, msg, sizeof msg));
    CHECK(code == STOMP_OK);
    CHECK_STR(msg, "disconnected by the client");
    /* The message is optional; a buffer too small writes nothing. */
    code = STOMP_ERR_INTERNAL;
    CHECK_OK(stomp_last_disconnect(c, &code, NULL, 0));
    CHECK(code == STOMP_OK);
    code = STOMP_ERR_INTERNAL;
    memset(tiny, 'x', sizeof tiny);
    CHECK_RC(stomp_last_disconnect(c, &code, tiny, sizeof tiny), STOMP_ERR_BUFFER_TOO_SMALL);
    CHECK(code == STOMP_ERR_INTERNAL && tiny[0] == 'x');
    CHECK_CONTAINS(stomp_last_error(), "27 bytes are needed");
    CHECK_RC(stomp_last_disconnect(c, NULL, msg, sizeof msg), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_last_disconnect(NULL, &code, msg, sizeof msg), STOMP_ERR_INVALID_ARGUMENT);
    stomp_connection_free(c);
    rec_destroy(&rec);
}

static void test_too_large(void) {
    recorder rec;
    stomp_listener l;
    stomp_options *o;
    stomp_connection *c;
    stomp_result code = STOMP_OK;
    char q[128], msg[512], body[2000];

    t_section("%s: a frame over max_frame ends the link with STOMP_ERR_TOO_LARGE", b.name);
    rec_init(&rec);
    l = reason_listener(&rec);
    o = t_options(&b, STOMP_VERSION_1_2, 0);
    CHECK_RC(stomp_options_set_max_frame(NULL, 512), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_OK(stomp_options_set_max_frame(o, 512));
    CHECK_OK(stomp_options_set_incoming_byte_limits(o, 1 << 20, 0));
    c = stomp_connection_new(o);
    stomp_options_free(o);
    CHECK(c != NULL);
    CHECK_OK(stomp_set_listener(c, "t", &l));
    CHECK_OK(stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true));
    t_unique_queue(q, sizeof q, "too-large");
    CHECK_OK(stomp_subscribe(c, q, NULL, STOMP_ACK_AUTO, NULL, 0));
    memset(body, 'z', sizeof body);
    CHECK_OK(stomp_send(c, q, body, sizeof body, "application/octet-stream", NULL, 0));
    /* The message comes back larger than max_frame: the library closes the link. */
    CHECK(rec_wait_event(&rec, "loop_completed", T_WAIT_MS));
    check_before(&rec, "reason 16 ", "disconnected");
    CHECK(rec_count(&rec, &rec.n_messages) == 0);
    CHECK(!stomp_is_connected(c));
    CHECK_OK(stomp_last_disconnect(c, &code, msg, sizeof msg));
    CHECK(code == STOMP_ERR_TOO_LARGE);
    CHECK_CONTAINS(msg, "over max_frame (512 bytes)");
    stomp_connection_free(c);
    rec_destroy(&rec);
}

static void test_refused(void) {
    recorder rec;
    stomp_listener l;
    stomp_connection *c;
    stomp_result code = STOMP_OK;
    char msg[512];

    t_section("%s: a refused CONNECT, made without waiting, reports STOMP_ERR_REFUSED", b.name);
    rec_init(&rec);
    l = reason_listener(&rec);
    c = t_new_connection(&b, STOMP_VERSION_1_2, 0, &l);
    CHECK_OK(stomp_connect(c, T_LOGIN, T_PASSCODE "-wrong", NULL, 0, false));
    CHECK(rec_wait_event(&rec, "loop_completed", T_WAIT_MS));
    check_before(&rec, "reason 7 ", "disconnected");
    check_before(&rec, "disconnected", "loop_completed");
    CHECK_OK(stomp_last_disconnect(c, &code, msg, sizeof msg));
    CHECK(code == STOMP_ERR_REFUSED);
    CHECK_CONTAINS(msg, "refused");
    stomp_connection_free(c);
    rec_destroy(&rec);
}

static void test_older_program(void) {
    recorder rec;
    stomp_listener l;
    stomp_connection *c;

    t_section("%s: a listener built before on_disconnected_reason is not called through it", b.name);
    rec_init(&rec);
    l = reason_listener(&rec);
    /* What a program compiled against the first layout passes: the member lies past its size. */
    l.size = offsetof(stomp_listener, on_disconnected_reason);
    c = t_connect(&b, STOMP_VERSION_1_2, 0, &l);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    CHECK(rec_wait_event(&rec, "loop_completed", T_WAIT_MS));
    CHECK(rec_find(&rec, "disconnected", 0) >= 0);
    CHECK(rec_find(&rec, "reason", 0) < 0);
    stomp_connection_free(c);
    rec_destroy(&rec);
}

int main(int argc, char **argv) {
    b = t_broker_arg(argc > 1 ? argv[1] : "rabbitmq");
    test_requested();
    test_too_large();
    /* ActiveMQ's stock configuration takes any passcode. */
    if (b.kind == BROKER_RABBITMQ) test_refused();
    test_older_program();
    return t_done("test_disconnect_reason");
}
