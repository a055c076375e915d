/*
 * ack_nack.c - the guide's "Acks and Nacks":
 *
 *   conn.subscribe('/queue/test', id=4, ack='client')
 *   on_message {... 'message-id': 'mybroker-14aa2', 'subscription': '4'} test message 1
 *   conn.ack('mybroker-14aa2', 4)
 *   on_message {... 'message-id': 'mybroker-14ab2', 'subscription': '4'} test message 2
 *   conn.nack('mybroker-14ab2', 4)
 *
 * RabbitMQ puts a nacked message back on the queue, so "test message 2" comes again, marked
 * redelivered, and is acked the second time. (ActiveMQ sends nacked messages towards its dead-letter
 * queue instead: run this one against RabbitMQ.) NACK needs STOMP 1.1 or later.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

/* What ACK/NACK must name: the MESSAGE's `ack` header under 1.2, its `message-id` before.
 * (stomp_ack_frame and stomp_nack_frame make this choice for you.) */
static const char *ack_id(const stomp_frame *message, stomp_version version) {
    return version == STOMP_VERSION_1_2 ? stomp_frame_header(message, "ack")
                                        : stomp_frame_header(message, "message-id");
}

static stomp_frame *receive(stomp_connection *conn, char *body, size_t body_len) {
    stomp_frame *message;
    stomp_result rc = stomp_receive(conn, 5000, &message);
    if (rc != STOMP_OK) {
        example_fail("no message: %s (%s)", stomp_strerror(rc), stomp_last_error());
    }
    const char *redelivered = stomp_frame_header(message, "redelivered");
    printf("on_message {'message-id': '%s', 'subscription': '%s', 'redelivered': '%s'} %s\n",
           stomp_frame_header(message, "message-id"), stomp_frame_header(message, "subscription"),
           redelivered ? redelivered : "(none)", example_body(message, body, body_len));
    return message;
}

int main(void) {
    example_env env;
    example_init(&env);
    if (env.version == STOMP_VERSION_1_0) {
        example_fail("NACK needs STOMP 1.1 or later: run with STOMP_VERSION=1.1 or 1.2");
    }
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "ack_nack");

    stomp_options *opts = example_options(&env);
    CHECK(stomp_options_set_receive_queue(opts, 16));
    stomp_connection *conn = example_connection_from(opts);
    example_connect(conn, &env);
    example_require_broker(conn, "RabbitMQ", "it redelivers a NACKed message");
    stomp_version version;
    CHECK(stomp_connection_version(conn, &version));

    CHECK(stomp_subscribe(conn, queue, "4", STOMP_ACK_CLIENT, NULL, 0));
    for (int i = 1; i <= 2; i++) {
        char body[32];
        snprintf(body, sizeof body, "test message %d", i);
        CHECK(stomp_send(conn, queue, body, strlen(body), NULL, NULL, 0));
    }

    char body[256];
    stomp_frame *first = receive(conn, body, sizeof body);
    if (strcmp(body, "test message 1") != 0) {
        example_fail("expected test message 1 first");
    }
    /* conn.ack(message_id, subscription): explicit ids, as in the guide. */
    CHECK(stomp_ack(conn, ack_id(first, version), stomp_frame_header(first, "subscription"), NULL));
    printf("acked test message 1\n");
    stomp_frame_free(first);

    stomp_frame *second = receive(conn, body, sizeof body);
    if (strcmp(body, "test message 2") != 0) {
        example_fail("expected test message 2 second");
    }
    CHECK(stomp_nack(conn, ack_id(second, version), stomp_frame_header(second, "subscription"), NULL));
    printf("nacked test message 2\n");
    stomp_frame_free(second);

    /* The broker gives the nacked message back; test message 1 was acked, so it does not return. */
    stomp_frame *again = receive(conn, body, sizeof body);
    const char *redelivered = stomp_frame_header(again, "redelivered");
    if (strcmp(body, "test message 2") != 0 || redelivered == NULL || strcmp(redelivered, "true") != 0) {
        example_fail("expected test message 2 again, marked redelivered");
    }
    CHECK(stomp_ack_frame(conn, again, NULL)); /* the shorthand: ids taken from the frame */
    printf("acked test message 2 on redelivery\n");
    stomp_frame_free(again);

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn);
    printf("nacked message redelivered: OK\n");
    return 0;
}
