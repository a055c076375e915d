/*
 * test_api_args: invalid arguments get the documented code (never a crash), stomp_strerror is never
 * NULL, stomp_last_error is per thread, the options setters validate, and calls on a connection that
 * never connected fail cleanly. No broker is needed: the only connection made here is never
 * connected. (NULL for each pointer argument of every function: test_misuse_null.c.)
 *
 * Built twice: against libstomp.so (test_api_args) and libstomp.a (test_api_args_static).
 */
#include "test_util.h"

#include <limits.h>
#include <math.h>

static void *other_thread(void *arg) {
    const char **out = arg;
    /* A fresh thread has no error yet, whatever other threads did. */
    out[0] = strcmp(stomp_last_error(), "") == 0 ? "empty" : "not empty";
    /* A failure here sets this thread's message only. */
    stomp_options_add_host(NULL, "x", 1);
    out[1] = strstr(stomp_last_error(), "opts") != NULL ? "names opts" : stomp_last_error();
    return NULL;
}

static void test_version_and_strerror(void) {
    int code;
    t_section("stomp_lib_version, stomp_strerror");
    CHECK_STR(stomp_lib_version(), STOMP_LIB_VERSION);
    {
        char want[32];
        snprintf(want, sizeof want, "%d.%d.%d", STOMP_LIB_VERSION_MAJOR, STOMP_LIB_VERSION_MINOR,
                 STOMP_LIB_VERSION_PATCH);
        CHECK_STR(stomp_lib_version(), want);
    }
    CHECK_STR(stomp_strerror(STOMP_OK), "success");
    /* Every defined code has its own non-empty text. */
    for (code = STOMP_ERR_INVALID_ARGUMENT; code <= STOMP_ERR_INTERNAL; code++) {
        const char *s = stomp_strerror((stomp_result)code);
        int other;
        if (s == NULL || *s == '\0') t_fail(__FILE__, __LINE__, "stomp_strerror(%d) is NULL or empty", code);
        for (other = STOMP_OK; other < code; other++) {
            if (strcmp(s, stomp_strerror((stomp_result)other)) == 0) {
                t_fail(__FILE__, __LINE__, "codes %d and %d share the text \"%s\"", code, other, s);
            }
        }
    }
    t_ok("stomp_strerror(1..20): distinct, non-empty texts");
    CHECK_STR(stomp_strerror(STOMP_ERR_TIMEOUT), "timed out");
    /* Unknown codes: never NULL, never the text of a real code. */
    {
        const int unknown[] = {-1, 21, 100, 9999, INT_MAX, INT_MIN};
        size_t i;
        for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
            const char *s = stomp_strerror((stomp_result)unknown[i]);
            if (s == NULL || *s == '\0') t_fail(__FILE__, __LINE__, "stomp_strerror(%d) is NULL or empty", unknown[i]);
            if (strcmp(s, stomp_strerror(STOMP_OK)) == 0 || strcmp(s, stomp_strerror(STOMP_ERR_INTERNAL)) == 0) {
                t_fail(__FILE__, __LINE__, "stomp_strerror(%d) = \"%s\" names a real code", unknown[i], s);
            }
        }
        t_ok("stomp_strerror(-1, 21, 100, 9999, INT_MAX, INT_MIN): not NULL, not a real code's text");
    }
}

static void test_last_error(void) {
    pthread_t th;
    const char *out[2] = {NULL, NULL};
    char mine[256];
    t_section("stomp_last_error is per thread");
    CHECK(stomp_last_error() != NULL);
    CHECK_RC(stomp_options_set_version(NULL, STOMP_VERSION_1_2), STOMP_ERR_INVALID_ARGUMENT);
    CHECK(strlen(stomp_last_error()) > 0);
    snprintf(mine, sizeof mine, "%s", stomp_last_error());
    CHECK(pthread_create(&th, NULL, other_thread, out) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_STR(out[0], "empty");
    CHECK_STR(out[1], "names opts");
    CHECK_STR(stomp_last_error(), mine);
    /* A successful call leaves the last failure's detail alone (valid until the next failure). */
    {
        stomp_options *o = stomp_options_new();
        CHECK_OK(stomp_options_set_version(o, STOMP_VERSION_1_1));
        CHECK_STR(stomp_last_error(), mine);
        stomp_options_free(o);
    }
}

static void test_options(void) {
    stomp_options *o;
    t_section("options: validation of every setter");

    o = stomp_options_new();
    CHECK(o != NULL);

    /* hosts */
    CHECK_RC(stomp_options_add_host(o, NULL, 61613), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_add_host(o, "", 61613), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_add_host(o, "   ", 61613), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_add_host(o, "127.0.0.1", 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(stomp_last_error(), "port");
    CHECK_RC(stomp_options_add_host(o, "\xff\xfe", 61613), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(stomp_last_error(), "UTF-8");
    CHECK_RC(stomp_options_add_host_login(o, "127.0.0.1", 61613, NULL, "p"), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_add_host_login(o, "127.0.0.1", 61613, "u", NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_add_host_login(o, NULL, 61613, "u", "p"), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_add_host_login(o, "127.0.0.1", 0, "u", "p"), STOMP_ERR_INVALID_ARGUMENT);

    /* version */
    CHECK_RC(stomp_options_set_version(o, (stomp_version)0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_version(o, (stomp_version)9), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_version(o, (stomp_version)13), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_version(o, (stomp_version)-1), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_OK(stomp_options_set_version(o, STOMP_VERSION_1_0));
    CHECK_OK(stomp_options_set_version(o, STOMP_VERSION_1_1));
    CHECK_OK(stomp_options_set_version(o, STOMP_VERSION_1_2));

    /* vhost: NULL removes it; non-UTF-8 is refused */
    CHECK_OK(stomp_options_set_vhost(o, "/"));
    CHECK_OK(stomp_options_set_vhost(o, NULL));
    CHECK_RC(stomp_options_set_vhost(o, "\xc3\x28"), STOMP_ERR_INVALID_ARGUMENT);

    /* reconnect policy */
    CHECK_OK(stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, 60.0, 3));
    CHECK_OK(stomp_options_set_reconnect(o, 0.0, 0.0, 0.0, 0.0, -1));
    CHECK_RC(stomp_options_set_reconnect(o, -0.1, 0.5, 0.1, 60.0, 3), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_reconnect(o, 0.1, -0.5, 0.1, 60.0, 3), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_reconnect(o, 0.1, 0.5, -0.1, 60.0, 3), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, -60.0, 3), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_reconnect(o, NAN, 0.5, 0.1, 60.0, 3), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, INFINITY, 3), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, 60.0, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, 60.0, -2), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, 60.0, INT_MIN), STOMP_ERR_INVALID_ARGUMENT);

    /* heart-beat scale: at least 1, finite */
    CHECK_OK(stomp_options_set_heartbeat_receive_scale(o, 1.0));
    CHECK_OK(stomp_options_set_heartbeat_receive_scale(o, 2.5));
    CHECK_RC(stomp_options_set_heartbeat_receive_scale(o, 0.99), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_heartbeat_receive_scale(o, 0.0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_heartbeat_receive_scale(o, -3.0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_heartbeat_receive_scale(o, NAN), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_heartbeat_receive_scale(o, INFINITY), STOMP_ERR_INVALID_ARGUMENT);

    /* connect timeout: 0 refused */
    CHECK_RC(stomp_options_set_connect_timeout(o, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_OK(stomp_options_set_connect_timeout(o, 1));
    CHECK_OK(stomp_options_set_connect_timeout(o, UINT32_MAX));

    /* bind: IP literals only (brackets allowed) */
    CHECK_RC(stomp_options_set_bind(o, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_bind(o, "localhost", 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_bind(o, "127.0.0.256", 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_set_bind(o, "", 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_OK(stomp_options_set_bind(o, "127.0.0.1", 0));
    CHECK_OK(stomp_options_set_bind(o, "::1", 0));
    CHECK_OK(stomp_options_set_bind(o, "[::1]", 0));

    /* setters that take any value */
    CHECK_OK(stomp_options_set_heartbeats(o, 0, 0));
    CHECK_OK(stomp_options_set_heartbeats(o, 1000, 2000));
    CHECK_OK(stomp_options_set_receive_queue(o, 0));
    CHECK_OK(stomp_options_set_receive_queue(o, 100));
    CHECK_OK(stomp_options_set_frame_timeouts(o, 300, 0));
    CHECK_OK(stomp_options_set_frame_timeouts(o, 0, 512));
    CHECK_OK(stomp_options_set_auto_content_length(o, false));
    CHECK_OK(stomp_options_set_stomp_command(o, true));
    CHECK_OK(stomp_options_set_auto_reconnect(o, false));
    CHECK_OK(stomp_options_set_randomize_hosts(o, false));
    CHECK_OK(stomp_options_set_tcp_nodelay(o, true));
    CHECK_OK(stomp_options_set_keepalive(o, true, 0, 0, 0));
    CHECK_OK(stomp_options_set_frame_limits(o, 0, 0, 0));
    CHECK_OK(stomp_options_set_frame_limits(o, 1 << 20, 100, 4096));
    CHECK_OK(stomp_options_set_queue_limits(o, 0, 0, 0));
    CHECK_OK(stomp_options_set_queue_limits(o, 1 << 20, 1000, 10));

    /* A connection needs a host. */
    {
        stomp_connection *c = stomp_connection_new(o);
        CHECK(c == NULL);
        CHECK_CONTAINS(stomp_last_error(), "host");
    }
    CHECK_OK(stomp_options_add_host(o, "127.0.0.1", 1));
    CHECK_OK(stomp_options_add_host(o, "[::1]", 2));
    CHECK_OK(stomp_options_add_host_login(o, "localhost", 3, "user", "pass"));
    {
        stomp_connection *c = stomp_connection_new(o);
        CHECK(c != NULL);
        stomp_options_free(o); /* the connection holds a copy */
        CHECK(!stomp_is_connected(c));
        stomp_connection_free(c);
        t_ok("a connection outlives the options it was made from");
    }
    CHECK(stomp_connection_new(NULL) == NULL);
    CHECK_CONTAINS(stomp_last_error(), "opts");
}

static void noop_message(void *ud, const stomp_frame *f) {
    (void)ud;
    (void)f;
}

/* Invalid arguments and "not connected" on a real connection that never connects. */
static void test_unconnected(void) {
    stomp_options *o = stomp_options_new();
    stomp_connection *c, *cq;
    stomp_listener l;
    stomp_header good = {"x-a", "b"};
    stomp_header null_name = {NULL, "b"};
    stomp_header null_value = {"x-a", NULL};
    stomp_header empty_name = {"", "b"};
    stomp_header bad_utf8 = {"x-a", "\xff"};
    stomp_frame *fr = NULL;
    stomp_version v = (stomp_version)0;
    char out[64];
    int64_t t0;

    t_section("invalid arguments on a connection that is not connected");
    /* port 9 on loopback: never dialled, as nothing here calls stomp_connect with valid arguments */
    CHECK_OK(stomp_options_add_host(o, "127.0.0.1", 9));
    c = stomp_connection_new(o);
    CHECK(c != NULL);
    CHECK_OK(stomp_options_set_receive_queue(o, 4));
    cq = stomp_connection_new(o);
    CHECK(cq != NULL);
    stomp_options_free(o);

    stomp_listener_init(&l);
    l.on_message = noop_message;
    /* listeners */
    CHECK_RC(stomp_set_listener(c, NULL, &l), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_set_listener(c, "a", NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_set_listener(c, "\xff", &l), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_remove_listener(c, "a"), STOMP_ERR_NOT_FOUND);
    CHECK_RC(stomp_remove_listener(c, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_OK(stomp_set_listener(c, "a", &l));
    CHECK_OK(stomp_set_listener(c, "a", &l)); /* replaces */
    CHECK_OK(stomp_set_listener(c, "", &l));
    CHECK_OK(stomp_remove_listener(c, "a"));
    CHECK_RC(stomp_remove_listener(c, "a"), STOMP_ERR_NOT_FOUND);
    CHECK_CONTAINS(stomp_last_error(), "a");
    CHECK_OK(stomp_remove_listener(c, ""));
    CHECK_RC(stomp_set_printing_listener(c, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_OK(stomp_set_printing_listener(c, "printer"));
    CHECK_OK(stomp_remove_listener(c, "printer"));

    /* connect: arguments are checked before anything starts */
    CHECK_RC(stomp_connect(c, "\xff", "p", NULL, 0, true), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_connect(c, "u", "\xfe", NULL, 0, true), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_connect(c, "u", "p", NULL, 2, true), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(stomp_last_error(), "headers");
    CHECK_RC(stomp_connect(c, "u", "p", &null_name, 1, true), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_connect(c, "u", "p", &null_value, 1, true), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_connect(c, "u", "p", &empty_name, 1, true), STOMP_ERR_INVALID_HEADER);
    CHECK(!stomp_is_connected(c));

    /* send: argument checks first, then "not connected" */
    CHECK_RC(stomp_send(c, NULL, "x", 1, NULL, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send(c, "", "x", 1, NULL, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send(c, "/queue/x", NULL, 5, NULL, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(stomp_last_error(), "body");
    CHECK_RC(stomp_send(c, "/queue/x", "x", 1, "\xff", NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send(c, "/queue/x", "x", 1, NULL, NULL, 1), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send(c, "/queue/x", "x", 1, NULL, &null_name, 1), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send(c, "/queue/x", "x", 1, NULL, &null_value, 1), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send(c, "/queue/x", "x", 1, NULL, &bad_utf8, 1), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send(c, "/queue/x", "x", 1, NULL, &empty_name, 1), STOMP_ERR_INVALID_HEADER);
    CHECK_RC(stomp_send(c, "/queue/x", NULL, 0, NULL, NULL, 0), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_send(c, "/queue/x", "x", 1, "text/plain", &good, 1), STOMP_ERR_NOT_CONNECTED);

    /* send_frame */
    CHECK_RC(stomp_send_frame(c, NULL, NULL, 0, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send_frame(c, "BOGUS", NULL, 0, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send_frame(c, "", NULL, 0, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send_frame(c, "SEND", NULL, 1, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send_frame(c, "SEND", &good, 1, NULL, 3), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_send_frame(c, "BEGIN", &good, 1, NULL, 0), STOMP_ERR_NOT_CONNECTED);

    /* subscribe / unsubscribe */
    CHECK_RC(stomp_subscribe(c, NULL, "1", STOMP_ACK_AUTO, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_subscribe(c, "", "1", STOMP_ACK_AUTO, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_subscribe(c, "/queue/x", "1", (stomp_ack_mode)3, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_subscribe(c, "/queue/x", "1", (stomp_ack_mode)-1, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_subscribe(c, "/queue/x", "1", STOMP_ACK_AUTO, NULL, 1), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_subscribe(c, "/queue/x", "1", STOMP_ACK_CLIENT, NULL, 0), STOMP_ERR_NOT_CONNECTED);
    /* The id buffer is checked before anything is sent, so even here. */
    strcpy(out, "untouched");
    CHECK_RC(stomp_subscribe_out(c, "/queue/x", "abc", STOMP_ACK_AUTO, NULL, 0, out, 3),
             STOMP_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(stomp_subscribe_out(c, "/queue/x", NULL, STOMP_ACK_AUTO, NULL, 0, out, 36),
             STOMP_ERR_BUFFER_TOO_SMALL);
    CHECK_STR(out, "untouched");
    CHECK_RC(stomp_subscribe_out(c, "/queue/x", NULL, STOMP_ACK_AUTO, NULL, 0, out, 37), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_unsubscribe(c, NULL, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_unsubscribe(c, "1", NULL, 3), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_unsubscribe(c, "1", NULL, 0), STOMP_ERR_NOT_CONNECTED);

    /* ack / nack */
    CHECK_RC(stomp_ack(c, NULL, "s", NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_ack(c, "", "s", NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_ack(c, "m", "\xff", NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_ack(c, "m", "s", "\xff"), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_nack(c, NULL, "s", NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_ack(c, "m", "s", NULL), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_nack(c, "m", "s", "tx"), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_ack_frame(c, NULL, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(stomp_last_error(), "frame");
    CHECK_RC(stomp_nack_frame(c, NULL, "tx"), STOMP_ERR_INVALID_ARGUMENT);

    /* transactions */
    strcpy(out, "untouched");
    CHECK_RC(stomp_begin(c, NULL, out, 36), STOMP_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(stomp_begin(c, "tx-1", out, 4), STOMP_ERR_BUFFER_TOO_SMALL);
    CHECK_STR(out, "untouched");
    CHECK_RC(stomp_begin(c, "", NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_begin(c, "\xff", NULL, 0), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_begin(c, "tx-1", out, 5), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_begin(c, NULL, NULL, 0), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_commit(c, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_abort(c, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_commit(c, "tx-1"), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_abort(c, "tx-1"), STOMP_ERR_NOT_CONNECTED);

    /* disconnect */
    CHECK_RC(stomp_disconnect(c, "\xff", 100), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_disconnect(c, NULL, 100), STOMP_ERR_NOT_CONNECTED);
    CHECK_RC(stomp_disconnect(c, "r", 0), STOMP_ERR_NOT_CONNECTED);

    /* receive: queue off, NULL out-pointer, time-out with nothing connected */
    CHECK_RC(stomp_receive(c, 0, &fr), STOMP_ERR_QUEUE_OFF);
    CHECK_RC(stomp_receive(c, 10, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_receive(cq, 10, NULL), STOMP_ERR_INVALID_ARGUMENT);
    t0 = t_now_ms();
    CHECK_RC(stomp_receive(cq, 150, &fr), STOMP_ERR_TIMEOUT);
    CHECK(t_now_ms() - t0 >= 140);
    CHECK(t_now_ms() - t0 < 5000);
    CHECK(fr == NULL);

    /* receipts */
    CHECK_RC(stomp_wait_receipt(c, NULL, 10), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_wait_receipt(c, "never-asked", 10), STOMP_ERR_NOT_FOUND);
    CHECK_CONTAINS(stomp_last_error(), "never-asked");

    /* state */
    CHECK(!stomp_is_connected(c));
    CHECK_RC(stomp_connection_version(c, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_connection_version(c, &v), STOMP_ERR_NOT_CONNECTED);
    CHECK(v == (stomp_version)0);
    CHECK_RC(stomp_connected_frame(c, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_connected_frame(c, &fr), STOMP_ERR_NOT_CONNECTED);
    CHECK(fr == NULL);

    stomp_connection_free(c);
    stomp_connection_free(cq);
    t_ok("stomp_connection_free on never-connected connections");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_version_and_strerror();
    test_last_error();
    test_options();
    test_unconnected();
    return t_done("test_api_args");
}
