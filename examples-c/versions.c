/*
 * versions.c - the API summary's per-version example: the same broker through STOMP 1.0, 1.1 and 1.2,
 * each printing the version the broker agreed to.
 *
 *   conn10 = stomp.Connection10(...)    # basic functionality; no NACK in 1.0
 *   conn10.send(body='STOMP 1.0 message', destination='/queue/test')
 *   conn11 = stomp.Connection11(..., heartbeats=(10000, 10000))   # heart-beats and NACK
 *   conn11.set_listener('processor', NackCapableProcessor(conn11))
 *   conn11.subscribe('/queue/test', id='test-sub', ack='client-individual')
 *   conn12 = stomp.Connection12(...)    # header escaping
 *   conn12.send(body='Message with special header', destination='/queue/test',
 *               headers={'custom-header': 'value with\nspecial\tcharacters',
 *                        'correlation-id': 'msg:with:colons'})
 *
 * The 1.1 processor consumes the message the 1.0 connection sent (and acks it: a client-individual
 * subscription that never acks keeps its messages unacknowledged). The 1.2 connection reads its own
 * message back to show the special characters survive the escaping.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

static stomp_connection *connect_as(const example_env *env, stomp_version version, uint32_t heartbeat_ms,
                                    size_t receive_queue) {
    stomp_options *opts = example_options(env);
    CHECK(stomp_options_set_version(opts, version));
    CHECK(stomp_options_set_heartbeats(opts, heartbeat_ms, heartbeat_ms));
    CHECK(stomp_options_set_receive_queue(opts, receive_queue));
    stomp_connection *conn = example_connection_from(opts);
    example_connect(conn, env);

    stomp_version negotiated;
    CHECK(stomp_connection_version(conn, &negotiated));
    stomp_frame *connected;
    CHECK(stomp_connected_frame(conn, &connected));
    const char *heart_beat = stomp_frame_header(connected, "heart-beat");
    printf("asked for STOMP %d.%d: negotiated %d.%d, heart-beat %s\n", version / 10, version % 10,
           negotiated / 10, negotiated % 10, heart_beat ? heart_beat : "(none)");
    stomp_frame_free(connected);
    if (negotiated != version) {
        example_fail("the broker chose another version");
    }
    return conn;
}

typedef struct {
    stomp_connection *connection;
    example_counter handled;
} nack_capable_processor;

static void on_message(void *user_data, const stomp_frame *frame) {
    nack_capable_processor *p = user_data;
    char body[256];
    printf("1.1 processor got \"%s\"\n", example_body(frame, body, sizeof body));
    bool processed = strlen(body) > 0; /* the processing would go here */
    /* 1.1 names the message-id and the subscription; stomp_ack_frame/stomp_nack_frame pick them. */
    stomp_result rc = processed ? stomp_ack_frame(p->connection, frame, NULL)
                                : stomp_nack_frame(p->connection, frame, NULL); /* 1.1+ only */
    if (rc != STOMP_OK) {
        printf("ack/nack failed: %s (%s)\n", stomp_strerror(rc), stomp_last_error());
        return;
    }
    example_counter_add(&p->handled, 1);
}

int main(void) {
    example_env env;
    example_init(&env);
    char test[256];
    example_unique(test, sizeof test, "/queue", "test");

    /* STOMP 1.0 - basic functionality */
    stomp_connection *conn10 = connect_as(&env, STOMP_VERSION_1_0, 0, 0);
    const char *body10 = "STOMP 1.0 message";
    stomp_header receipt[] = {{"receipt", "sent-1.0"}};
    CHECK(stomp_send(conn10, test, body10, strlen(body10), NULL, receipt, 1));
    CHECK(stomp_wait_receipt(conn10, "sent-1.0", 5000));
    /* No NACK support in 1.0: the library says so instead of sending a frame the broker would refuse. */
    stomp_result rc = stomp_nack(conn10, "some-message-id", NULL, NULL);
    printf("1.0 nack: %s\n", stomp_strerror(rc));
    if (rc != STOMP_ERR_UNSUPPORTED) {
        example_fail("NACK under 1.0 should be STOMP_ERR_UNSUPPORTED");
    }
    CHECK(stomp_disconnect(conn10, NULL, 5000));
    stomp_connection_free(conn10);

    /* STOMP 1.1 - heart-beats and NACK */
    stomp_connection *conn11 = connect_as(&env, STOMP_VERSION_1_1, 10000, 0);
    nack_capable_processor processor;
    processor.connection = conn11;
    example_counter_init(&processor.handled);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &processor;
    listener.on_message = on_message;
    CHECK(stomp_set_listener(conn11, "processor", &listener));
    CHECK(stomp_subscribe(conn11, test, "test-sub", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    if (!example_counter_wait(&processor.handled, 1, 5000)) { /* not the seed's time.sleep(10) */
        example_fail("the 1.1 processor did not get the 1.0 message");
    }
    CHECK(stomp_disconnect(conn11, NULL, 5000));
    stomp_connection_free(conn11);
    example_counter_destroy(&processor.handled);

    /* STOMP 1.2 - header escaping: newline, tab and colons in values. */
    stomp_connection *conn12 = connect_as(&env, STOMP_VERSION_1_2, 0, 4);
    CHECK(stomp_subscribe(conn12, test, "own", STOMP_ACK_AUTO, NULL, 0));
    const char *special = "value with\nspecial\tcharacters";
    const char *colons = "msg:with:colons";
    stomp_header headers[] = {{"custom-header", special}, {"correlation-id", colons}};
    const char *body12 = "Message with special header";
    CHECK(stomp_send(conn12, test, body12, strlen(body12), NULL, headers, 2));
    stomp_frame *message;
    CHECK(stomp_receive(conn12, 5000, &message));
    const char *custom = stomp_frame_header(message, "custom-header");
    const char *correlation = stomp_frame_header(message, "correlation-id");
    bool same = custom != NULL && strcmp(custom, special) == 0 && correlation != NULL &&
                strcmp(correlation, colons) == 0;
    stomp_frame_free(message);
    if (!same) {
        example_fail("the special headers did not survive");
    }
    printf("1.2 headers with newline, tab and colons came back intact\n");
    CHECK(stomp_disconnect(conn12, NULL, 5000));
    stomp_connection_free(conn12);

    printf("versions 1.0, 1.1, 1.2: OK\n");
    return 0;
}
