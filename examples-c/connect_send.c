/*
 * connect_send.c - the guide's first example, "Establishing a connection" and "Sending and
 * receiving messages":
 *
 *   c = stomp.Connection([('127.0.0.1', 62613)])
 *   c.connect('admin', 'password', wait=True)
 *   c.send('/queue/test', 'a test message')
 *
 * Everything is spelled out here; the other examples use the helpers of common.h for the same steps.
 * The message is read back (stomp.py's receive side, pull style: stomp_receive) to show it arrived.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    example_env env;
    example_init(&env);
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "connect_send");

    /* stomp.Connection([(host, port)]): options, then a connection made from them. */
    stomp_options *opts = stomp_options_new();
    CHECK(stomp_options_add_host(opts, env.server, env.port));
    CHECK(stomp_options_set_vhost(opts, env.vhost)); /* RabbitMQ: the host header is the vhost */
    CHECK(stomp_options_set_version(opts, env.version));
    CHECK(stomp_options_set_receive_queue(opts, 16)); /* so that stomp_receive can pull messages */
    stomp_connection *conn = stomp_connection_new(opts);
    stomp_options_free(opts); /* the connection keeps its own copy */
    if (conn == NULL) {
        example_fail("stomp_connection_new: %s", stomp_last_error());
    }

    /* c.connect(user, passcode, wait=True, headers={...}): extra CONNECT headers are allowed.
     * ActiveMQ takes client-id as the JMS client ID, one connection at a time: make it unique. */
    char client_id[64];
    snprintf(client_id, sizeof client_id, "examples-c-connect-send-%ld", (long)getpid());
    stomp_header connect_headers[] = {{"client-id", client_id}};
    stomp_result rc = stomp_connect(conn, env.user, env.password, connect_headers, 1, true);
    if (rc != STOMP_OK) {
        example_fail("connect to %s:%u: %s (%s)", env.server, (unsigned)env.port, stomp_strerror(rc),
                     stomp_last_error());
    }

    stomp_version version;
    CHECK(stomp_connection_version(conn, &version));
    stomp_frame *connected;
    CHECK(stomp_connected_frame(conn, &connected));
    const char *server = stomp_frame_header(connected, "server");
    printf("connected to %s:%u, server %s, STOMP %d.%d\n", env.server, (unsigned)env.port,
           server ? server : "(not named)", version / 10, version % 10);
    stomp_frame_free(connected);

    CHECK(stomp_subscribe(conn, queue, "1", STOMP_ACK_AUTO, NULL, 0));

    /* c.send(destination, body): a receipt makes the broker confirm it has the message. */
    const char *body = "a test message";
    stomp_header send_headers[] = {{"receipt", "send-1"}};
    CHECK(stomp_send(conn, queue, body, strlen(body), "text/plain", send_headers, 1));
    CHECK(stomp_wait_receipt(conn, "send-1", 5000));
    printf("sent \"%s\" to %s, broker confirmed\n", body, queue);

    stomp_frame *message;
    rc = stomp_receive(conn, 5000, &message);
    if (rc != STOMP_OK) {
        example_fail("no message came back: %s", stomp_strerror(rc));
    }
    char text[256];
    example_body(message, text, sizeof text);
    printf("received \"%s\" from %s\n", text, stomp_frame_header(message, "destination"));
    stomp_frame_free(message);
    if (strcmp(text, body) != 0) {
        example_fail("the body came back changed");
    }

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn);
    printf("connect_send: OK\n");
    return 0;
}
