/*
 * reconnect_auto.c - "Dealing with disconnects" done by the library: with auto-reconnect on, a
 * dropped link is re-made by the reconnect policy (stomp.py's reconnect_sleep_* and
 * reconnect_attempts_max), with the same credentials, and every active subscription is re-made with
 * its id, ack mode and headers. The listener only watches: on_disconnected, then on_connecting and
 * on_connected again. No on_disconnected code is needed, and it must not reconnect by itself.
 *
 * The disconnect is forced for real, as in reconnect_manual.c: RabbitMQ closes a connection that
 * sends to an exchange that does not exist. Needs RabbitMQ.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    example_counter connected;
    example_counter disconnected;
    example_counter messages;
} watcher;

static void on_connecting(void *user_data, const char *host, uint16_t port) {
    (void)user_data;
    printf("on_connecting %s %u\n", host, (unsigned)port);
}

static void on_connected(void *user_data, const stomp_frame *frame) {
    watcher *w = user_data;
    int n = example_counter_add(&w->connected, 1);
    printf("on_connected #%d, session %s\n", n, stomp_frame_header(frame, "session"));
}

static void on_disconnected(void *user_data) {
    watcher *w = user_data;
    int n = example_counter_add(&w->disconnected, 1);
    printf("on_disconnected #%d\n", n); /* nothing to do: the library reconnects unless we disconnected */
}

static void on_error(void *user_data, const stomp_frame *frame) {
    (void)user_data;
    printf("on_error: %s\n", stomp_frame_header(frame, "message"));
}

static void on_message(void *user_data, const stomp_frame *frame) {
    watcher *w = user_data;
    char body[256];
    printf("received \"%s\" on subscription %s\n", example_body(frame, body, sizeof body),
           stomp_frame_header(frame, "subscription"));
    example_counter_add(&w->messages, 1);
}

static void send_confirmed(stomp_connection *conn, const char *queue, const char *text) {
    stomp_header receipt[] = {{"receipt", text}};
    CHECK(stomp_send(conn, queue, text, strlen(text), NULL, receipt, 1));
    CHECK(stomp_wait_receipt(conn, text, 5000));
}

int main(void) {
    example_env env;
    example_init(&env);
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "reconnect_auto");

    watcher w;
    example_counter_init(&w.connected);
    example_counter_init(&w.disconnected);
    example_counter_init(&w.messages);

    stomp_options *opts = example_options(&env);
    CHECK(stomp_options_set_heartbeats(opts, 1000, 1000));
    /* stomp.py's reconnect parameters: 0.1 s first sleep, +50% per failed pass, 10% jitter, at most
     * 5 s between passes, and -1: never give up. */
    CHECK(stomp_options_set_reconnect(opts, 0.1, 0.5, 0.1, 5.0, -1));
    CHECK(stomp_options_set_auto_reconnect(opts, true));
    stomp_connection *conn = example_connection_from(opts);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &w;
    listener.on_connecting = on_connecting;
    listener.on_connected = on_connected;
    listener.on_disconnected = on_disconnected;
    listener.on_error = on_error;
    listener.on_message = on_message;
    CHECK(stomp_set_listener(conn, "", &listener));

    example_connect(conn, &env);
    example_require_broker(conn, "RabbitMQ", "the example makes it drop the connection");
    CHECK(stomp_subscribe(conn, queue, "work", STOMP_ACK_AUTO, NULL, 0));
    send_confirmed(conn, queue, "before the drop");
    if (!example_counter_wait(&w.messages, 1, 5000)) {
        example_fail("the first message did not arrive");
    }

    example_force_disconnect(conn);
    /* The second on_connected means the link is back; the subscription is re-made right after the
     * CONNECTED, ahead of anything we send from now on. */
    if (!example_counter_wait(&w.connected, 2, 15000)) {
        example_fail("the library did not reconnect");
    }
    /* stomp_wait_receipt gives STOMP_ERR_DISCONNECTED for a receipt lost with a link: resend then.
     * Sent now, the frame goes on the new link. */
    send_confirmed(conn, queue, "after the drop");
    if (!example_counter_wait(&w.messages, 2, 5000)) {
        example_fail("the re-made subscription got nothing");
    }

    CHECK(stomp_disconnect(conn, NULL, 5000)); /* also stops any reconnecting */
    example_counter_wait(&w.disconnected, 2, 5000);
    stomp_connection_free(conn);
    printf("connected %d times, disconnected %d times\n", example_counter_get(&w.connected),
           example_counter_get(&w.disconnected));
    if (example_counter_get(&w.connected) != 2 || example_counter_get(&w.disconnected) != 2) {
        example_fail("expected one drop, one reconnect and the final disconnect");
    }
    printf("auto-reconnect re-subscribed, received 2 of 2: OK\n");
    example_counter_destroy(&w.connected);
    example_counter_destroy(&w.disconnected);
    example_counter_destroy(&w.messages);
    return 0;
}
