/*
 * printing_listener.c - the guide's PrintingListener session ("Sending and receiving messages"),
 * with its two named listeners and the unsubscribe that follows:
 *
 *   c.set_listener('stats', StatsListener())
 *   c.set_listener('print', PrintingListener())
 *   c.connect('admin', 'password', wait=True)
 *   c.subscribe('/queue/test', 123)
 *   c.send('/queue/test', 'a test message')
 *   c.unsubscribe(123)
 *
 * The 'print' listener is the library's (stomp_set_printing_listener): every event and frame goes to
 * standard output, passcode masked. The 'stats' listener is ours: it counts, and lets main wait for
 * the message instead of sleeping.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    example_counter messages;
    example_counter receipts;
    int errors; /* only touched by callbacks, which run one at a time per connection */
} stats_listener;

static void stats_on_message(void *user_data, const stomp_frame *frame) {
    stats_listener *stats = user_data;
    (void)frame;
    example_counter_add(&stats->messages, 1);
}

static void stats_on_receipt(void *user_data, const stomp_frame *frame) {
    stats_listener *stats = user_data;
    (void)frame;
    example_counter_add(&stats->receipts, 1);
}

static void stats_on_error(void *user_data, const stomp_frame *frame) {
    stats_listener *stats = user_data;
    (void)frame;
    stats->errors++;
}

int main(void) {
    example_env env;
    example_init(&env);
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "printing_listener");

    stats_listener stats = {0};
    example_counter_init(&stats.messages);
    example_counter_init(&stats.receipts);

    stomp_connection *conn = example_connection(&env);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &stats;
    listener.on_message = stats_on_message;
    listener.on_receipt = stats_on_receipt;
    listener.on_error = stats_on_error;
    CHECK(stomp_set_listener(conn, "stats", &listener));
    CHECK(stomp_set_printing_listener(conn, "print"));

    example_connect(conn, &env);
    CHECK(stomp_subscribe(conn, queue, "123", STOMP_ACK_AUTO, NULL, 0));
    const char *body = "a test message";
    CHECK(stomp_send(conn, queue, body, strlen(body), NULL, NULL, 0));

    if (!example_counter_wait(&stats.messages, 1, 5000)) {
        example_fail("the message did not arrive");
    }

    /* The UNSUBSCRIBE carries a receipt so that we know the broker has done it. */
    stomp_header receipt[] = {{"receipt", "unsubscribed-123"}};
    CHECK(stomp_unsubscribe(conn, "123", receipt, 1));
    CHECK(stomp_wait_receipt(conn, "unsubscribed-123", 5000));
    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn); /* no callback runs after this */

    printf("stats: %d message(s), %d receipt(s), %d error(s)\n", example_counter_get(&stats.messages),
           example_counter_get(&stats.receipts), stats.errors);
    if (stats.errors != 0) {
        example_fail("the broker sent an ERROR");
    }
    example_counter_destroy(&stats.messages);
    example_counter_destroy(&stats.receipts);
    printf("printing_listener: OK\n");
    return 0;
}
