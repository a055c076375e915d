/*
 * failover.c - the guide's failover list and IPv6 address ("Establishing a connection"):
 *
 *   c = stomp.Connection([('192.168.1.100', 61613), ('192.168.1.101', 62613)])
 *   c = stomp.Connection(['fe80::a00:27ff:fe90:3f1a%en1', 62613])
 *
 * The hosts are tried in order until one accepts. To make that visible without other machines, the
 * list here starts with two loopback ports that refuse connections, one IPv6 ("::1") and one IPv4,
 * and ends with the real broker (STOMP_SERVER:STOMP_PORT). on_connecting shows each attempt.
 */
#include "common.h"

#include <stdio.h>

typedef struct {
    example_counter attempts;
    example_counter connected;
} failover_state;

static void on_connecting(void *user_data, const char *host, uint16_t port) {
    failover_state *state = user_data;
    int n = example_counter_add(&state->attempts, 1);
    printf("attempt %d: %s port %u\n", n, host, (unsigned)port);
}

static void on_connected(void *user_data, const stomp_frame *frame) {
    failover_state *state = user_data;
    const char *server = stomp_frame_header(frame, "server");
    printf("on_connected: server %s\n", server ? server : "(not named)");
    example_counter_add(&state->connected, 1);
}

int main(void) {
    example_env env;
    example_init(&env);
    failover_state state;
    example_counter_init(&state.attempts);
    example_counter_init(&state.connected);

    uint16_t dead_v6 = example_refusing_port("::1");
    uint16_t dead_v4 = example_refusing_port("127.0.0.1");

    stomp_options *opts = stomp_options_new();
    CHECK(stomp_options_add_host(opts, "::1", dead_v6)); /* "[::1]" works too */
    CHECK(stomp_options_add_host(opts, "127.0.0.1", dead_v4));
    CHECK(stomp_options_add_host(opts, env.server, env.port));
    CHECK(stomp_options_set_vhost(opts, env.vhost));
    CHECK(stomp_options_set_version(opts, env.version));
    /* stomp.py's defaults, spelled out: 0.1 s first sleep, +50% per pass, 10% jitter, 60 s cap,
     * 3 passes through the list. Here the first pass succeeds, so nothing sleeps. */
    CHECK(stomp_options_set_reconnect(opts, 0.1, 0.5, 0.1, 60.0, 3));
    CHECK(stomp_options_set_connect_timeout(opts, 3000)); /* per host */
    stomp_connection *conn = stomp_connection_new(opts);
    stomp_options_free(opts);
    if (conn == NULL) {
        example_fail("stomp_connection_new: %s", stomp_last_error());
    }

    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &state;
    listener.on_connecting = on_connecting;
    listener.on_connected = on_connected;
    CHECK(stomp_set_listener(conn, "failover", &listener));

    example_connect(conn, &env);
    /* Callbacks run on the library's threads, in order: once on_connected has run, every
     * on_connecting before it has too. */
    if (!example_counter_wait(&state.connected, 1, 5000)) {
        example_fail("on_connected did not run");
    }
    int attempts = example_counter_get(&state.attempts);
    printf("connected to %s:%u after trying %d hosts\n", env.server, (unsigned)env.port, attempts);
    if (attempts != 3) {
        example_fail("expected the two refusing hosts to be tried first, saw %d attempts", attempts);
    }

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn); /* no callback runs after this: state may go */
    example_counter_destroy(&state.attempts);
    example_counter_destroy(&state.connected);
    printf("failover: OK\n");
    return 0;
}
