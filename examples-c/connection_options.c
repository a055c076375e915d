/*
 * connection_options.c - the guide's connection parameters ("Establishing a connection"), each set
 * through its stomp_options_* equivalent, and connect's with_connect_command:
 *
 *   class stomp.connect.StompConnection12(host_and_ports=None, prefer_localhost=True,
 *       try_loopback_connect=True, reconnect_sleep_initial=0.1, reconnect_sleep_increase=0.5,
 *       reconnect_sleep_jitter=0.1, reconnect_sleep_max=60.0, reconnect_attempts_max=3,
 *       timeout=None, heartbeats=(0, 0), keepalive=None, vhost=None, auto_decode=True,
 *       encoding='utf-8', auto_content_length=True, heart_beat_receive_scale=1.5,
 *       bind_host_port=None)
 *   Protocol12.connect(username=None, passcode=None, wait=False, headers=None,
 *       with_connect_command=False, **keyword_headers)
 *
 * No equivalent, by design: prefer_localhost and try_loopback_connect (hosts are tried exactly as
 * listed), auto_decode and encoding (C bodies are bytes: decode them as you need).
 *
 * It connects with heart-beats every 500 ms and checks that the broker's heart-beats arrive
 * (on_heartbeat), and that the frame that opened the connection was STOMP, not CONNECT.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char opening_command[16]; /* written by on_send before main reads it (after connect) */
    example_counter connected;
    example_counter heartbeats;
} observer;

static void on_send(void *user_data, const stomp_frame *frame) {
    observer *o = user_data;
    const char *command = stomp_frame_command(frame);
    if (strcmp(command, "STOMP") == 0 || strcmp(command, "CONNECT") == 0) {
        snprintf(o->opening_command, sizeof o->opening_command, "%s", command);
    }
}

static void on_connected(void *user_data, const stomp_frame *frame) {
    observer *o = user_data;
    (void)frame;
    example_counter_add(&o->connected, 1);
}

static void on_heartbeat(void *user_data) {
    observer *o = user_data;
    example_counter_add(&o->heartbeats, 1);
}

int main(void) {
    example_env env;
    example_init(&env);

    stomp_options *opts = stomp_options_new();
    /* host_and_ports=[(server, port)] */
    CHECK(stomp_options_add_host(opts, env.server, env.port));
    /* reconnect_sleep_initial, _increase, _jitter, _max, reconnect_attempts_max (the defaults) */
    CHECK(stomp_options_set_reconnect(opts, 0.1, 0.5, 0.1, 60.0, 3));
    /* timeout=5: here it bounds TCP connect and CONNECTED together, per host */
    CHECK(stomp_options_set_connect_timeout(opts, 5000));
    /* heartbeats=(500, 500), heart_beat_receive_scale=1.5 (the default; the library allows one
     * interval more for the first heart-beat, which ActiveMQ sends two intervals after CONNECTED) */
    CHECK(stomp_options_set_heartbeats(opts, 500, 500));
    CHECK(stomp_options_set_heartbeat_receive_scale(opts, 1.5));
    /* keepalive=('linux', 60, 10, 3): TCP keepalive, idle 60 s, probes every 10 s, 3 of them */
    CHECK(stomp_options_set_keepalive(opts, true, 60, 10, 3));
    /* vhost='/' */
    CHECK(stomp_options_set_vhost(opts, env.vhost));
    /* auto_content_length=True (the default; off lets ActiveMQ make TextMessages) */
    CHECK(stomp_options_set_auto_content_length(opts, true));
    /* bind_host_port=('127.0.0.1', 0): the local address to connect from, any port. The broker
     * must be reachable from it, so this is only set for a loopback broker. */
    if (strcmp(env.server, "127.0.0.1") == 0) {
        CHECK(stomp_options_set_bind(opts, "127.0.0.1", 0));
    }
    /* Open with STOMP rather than CONNECT (stomp.py sends STOMP unless with_connect_command=True;
     * this library sends CONNECT unless told otherwise). */
    CHECK(stomp_options_set_stomp_command(opts, true));
    CHECK(stomp_options_set_version(opts, STOMP_VERSION_1_2)); /* StompConnection12 */
    stomp_connection *conn = example_connection_from(opts);

    observer o;
    memset(&o, 0, sizeof o);
    example_counter_init(&o.connected);
    example_counter_init(&o.heartbeats);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &o;
    listener.on_send = on_send;
    listener.on_connected = on_connected;
    listener.on_heartbeat = on_heartbeat;
    CHECK(stomp_set_listener(conn, "observer", &listener));

    /* connect(username, passcode, wait=True, headers={...}). ActiveMQ takes client-id as the JMS
     * client ID and allows one connection per id at a time: make it unique. */
    char client_id[64];
    snprintf(client_id, sizeof client_id, "examples-c-connection-options-%ld", (long)getpid());
    stomp_header headers[] = {{"client-id", client_id}};
    CHECK(stomp_connect(conn, env.user, env.password, headers, 1, true));
    if (!example_counter_wait(&o.connected, 1, 5000)) { /* on_send of the opening frame ran before */
        example_fail("on_connected did not run");
    }

    stomp_frame *connected;
    CHECK(stomp_connected_frame(conn, &connected));
    const char *heart_beat = stomp_frame_header(connected, "heart-beat");
    printf("opened with %s, negotiated heart-beat %s\n", o.opening_command,
           heart_beat ? heart_beat : "(none)");
    stomp_frame_free(connected);
    if (strcmp(o.opening_command, "STOMP") != 0) {
        example_fail("expected the STOMP command");
    }

    /* The broker's heart-beats come by themselves; two of them show the negotiation worked. */
    if (!example_counter_wait(&o.heartbeats, 2, 10000)) {
        example_fail("no heart-beats from the broker (the broker may have refused them)");
    }
    printf("heart-beats from the broker arrive: %d so far\n", example_counter_get(&o.heartbeats));

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn);
    example_counter_destroy(&o.connected);
    example_counter_destroy(&o.heartbeats);
    printf("connection_options: OK\n");
    return 0;
}
