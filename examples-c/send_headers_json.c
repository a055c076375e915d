/*
 * send_headers_json.c - the API summary's sending example: a plain message, one with headers, and a
 * JSON body with its content type.
 *
 *   conn.send(body='Hello World', destination='/queue/test')
 *   conn.send(body='Priority message', destination='/queue/important',
 *             headers={'priority': '9', 'persistent': 'true', 'correlation-id': 'msg-001'})
 *   data = {'user': 'john', 'action': 'login', 'timestamp': 1234567890}
 *   conn.send(body=json.dumps(data), destination='/topic/events', content_type='application/json')
 *
 * The destinations get unique names, and the example subscribes to them first (a topic keeps nothing
 * for absent subscribers), then checks that the headers and the content type arrived.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

static bool header_is(const stomp_frame *frame, const char *name, const char *value) {
    const char *v = stomp_frame_header(frame, name);
    return v != NULL && strcmp(v, value) == 0;
}

static bool header_starts(const stomp_frame *frame, const char *name, const char *prefix) {
    const char *v = stomp_frame_header(frame, name);
    return v != NULL && strncmp(v, prefix, strlen(prefix)) == 0;
}

int main(void) {
    example_env env;
    example_init(&env);
    char test[256], important[256], events[256];
    example_unique(test, sizeof test, "/queue", "test");
    example_unique(important, sizeof important, "/queue", "important");
    example_unique(events, sizeof events, "/topic", "events");

    stomp_options *opts = example_options(&env);
    CHECK(stomp_options_set_receive_queue(opts, 16));
    stomp_connection *conn = example_connection_from(opts);
    example_connect(conn, &env);

    CHECK(stomp_subscribe(conn, test, "test", STOMP_ACK_AUTO, NULL, 0));
    CHECK(stomp_subscribe(conn, important, "important", STOMP_ACK_AUTO, NULL, 0));
    stomp_header subscribed[] = {{"receipt", "subscribed"}};
    CHECK(stomp_subscribe(conn, events, "events", STOMP_ACK_AUTO, subscribed, 1));
    CHECK(stomp_wait_receipt(conn, "subscribed", 5000)); /* the broker handles frames in order */

    /* Send simple message */
    const char *hello = "Hello World";
    CHECK(stomp_send(conn, test, hello, strlen(hello), NULL, NULL, 0));

    /* Send message with headers */
    const char *priority = "Priority message";
    stomp_header headers[] = {
        {"priority", "9"},
        {"persistent", "true"},
        {"correlation-id", "msg-001"},
    };
    CHECK(stomp_send(conn, important, priority, strlen(priority), NULL, headers, 3));

    /* Send JSON message: C has no json.dumps; this is its output for the seed's dict. */
    char json[128];
    snprintf(json, sizeof json, "{\"user\": \"%s\", \"action\": \"%s\", \"timestamp\": %ld}", "john",
             "login", 1234567890L);
    CHECK(stomp_send(conn, events, json, strlen(json), "application/json", NULL, 0));

    int ok = 0;
    for (int i = 0; i < 3; i++) {
        stomp_frame *message;
        stomp_result rc = stomp_receive(conn, 5000, &message);
        if (rc != STOMP_OK) {
            example_fail("message %d of 3 did not arrive: %s", i + 1, stomp_strerror(rc));
        }
        char body[256];
        example_body(message, body, sizeof body);
        const char *subscription = stomp_frame_header(message, "subscription");
        if (subscription == NULL) {
            subscription = "";
        }
        if (strcmp(subscription, "test") == 0 && strcmp(body, hello) == 0) {
            printf("plain: \"%s\"\n", body);
            ok++;
        } else if (strcmp(subscription, "important") == 0 && header_is(message, "priority", "9") &&
                   header_is(message, "persistent", "true") &&
                   header_is(message, "correlation-id", "msg-001")) {
            printf("with headers: \"%s\" priority=9 persistent=true correlation-id=msg-001\n", body);
            ok++;
        } else if (strcmp(subscription, "events") == 0 &&
                   header_starts(message, "content-type", "application/json") &&
                   strcmp(body, json) == 0) {
            printf("json: content-type=%s %s\n", stomp_frame_header(message, "content-type"), body);
            ok++;
        } else {
            printf("unexpected message on %s: %s\n", subscription, body);
            for (size_t h = 0; h < stomp_frame_header_count(message); h++) {
                const char *name, *value;
                stomp_frame_header_at(message, h, &name, &value);
                printf("  %s: %s\n", name, value);
            }
        }
        stomp_frame_free(message);
    }

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn);
    printf("received %d of 3 as sent\n", ok);
    if (ok != 3) {
        example_fail("some messages lost their headers or bodies");
    }
    printf("send_headers_json: OK\n");
    return 0;
}
