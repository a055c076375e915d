/*
 * raw_frame.c - the API summary's low-level frame operations: send_frame(Frame(cmd, headers, body))
 * sends any frame, and a received Frame has cmd, headers and body.
 *
 *   def send_frame(self, frame): ...
 *   class Frame:
 *       def __init__(self, cmd=None, headers=None, body=None): ...
 *
 * stomp_send_frame takes the command, headers and body and escapes and frames them for the
 * negotiated version. Here it sends a SEND inside a transaction made with raw BEGIN and COMMIT
 * frames; the message read back is taken apart with stomp_frame_command, stomp_frame_header_at and
 * stomp_frame_body.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    example_env env;
    example_init(&env);
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "raw_frame");

    stomp_options *opts = example_options(&env);
    CHECK(stomp_options_set_receive_queue(opts, 4));
    stomp_connection *conn = example_connection_from(opts);
    example_connect(conn, &env);
    CHECK(stomp_subscribe(conn, queue, "raw", STOMP_ACK_AUTO, NULL, 0));

    stomp_header begin[] = {{"transaction", "raw-tx"}};
    CHECK(stomp_send_frame(conn, "BEGIN", begin, 1, NULL, 0));

    const char *body = "sent with send_frame";
    stomp_header send[] = {
        {"destination", queue},
        {"transaction", "raw-tx"},
        {"x-example", "raw"},
    };
    CHECK(stomp_send_frame(conn, "SEND", send, 3, body, strlen(body)));

    stomp_header commit[] = {{"transaction", "raw-tx"}, {"receipt", "committed"}};
    CHECK(stomp_send_frame(conn, "COMMIT", commit, 2, NULL, 0));
    CHECK(stomp_wait_receipt(conn, "committed", 5000));

    stomp_frame *frame;
    CHECK(stomp_receive(conn, 5000, &frame));
    /* frame.cmd, frame.headers, frame.body */
    printf("cmd: %s\n", stomp_frame_command(frame));
    for (size_t i = 0; i < stomp_frame_header_count(frame); i++) {
        const char *name, *value;
        CHECK(stomp_frame_header_at(frame, i, &name, &value));
        printf("header: %s = %s\n", name, value);
    }
    size_t len;
    const uint8_t *received = stomp_frame_body(frame, &len);
    printf("body: %.*s (%zu bytes)\n", (int)len, (const char *)received, len);
    const char *x = stomp_frame_header(frame, "x-example");
    bool same = strcmp(stomp_frame_command(frame), "MESSAGE") == 0 && len == strlen(body) &&
                memcmp(received, body, len) == 0 && x != NULL && strcmp(x, "raw") == 0;
    stomp_frame_free(frame);
    if (!same) {
        example_fail("the raw frame did not come back as sent");
    }

    /* CONNECT and STOMP are the library's own: it refuses them here. */
    stomp_result rc = stomp_send_frame(conn, "CONNECT", NULL, 0, NULL, 0);
    printf("send_frame(CONNECT): %s\n", stomp_strerror(rc));
    if (rc == STOMP_OK) {
        example_fail("a raw CONNECT was accepted");
    }

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn);
    printf("raw_frame: OK\n");
    return 0;
}
