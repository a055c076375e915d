/*
 * transactions.c - the guide's "Transactions": messages sent in a transaction are held by the broker
 * until COMMIT delivers them, or ABORT discards them.
 *
 *   conn.subscribe('/queue/test', id=5)
 *   txid = conn.begin()
 *   conn.send('/queue/test', 'test1', transaction=txid)   # ... test2, test3
 *   conn.commit(txid)
 *   txid = conn.begin()
 *   conn.send('/queue/test', 'test4', transaction=txid)   # ... test5
 *   conn.abort(txid)
 *
 * How we know without waiting: the queue has one consumer and delivers in order. A message sent
 * outside the transaction before COMMIT arrives before test1..3 (they were held); a message sent
 * after ABORT arrives, and test4/test5 would have come before it had they been delivered.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

#define MAX_MESSAGES 16

typedef struct {
    example_counter count;
    char bodies[MAX_MESSAGES][64]; /* written by on_message, read by main under count.lock */
} inbox;

static void on_message(void *user_data, const stomp_frame *frame) {
    inbox *in = user_data;
    char body[64];
    example_body(frame, body, sizeof body);
    const char *tx = stomp_frame_header(frame, "transaction");
    printf("on_message %s%s%s\n", body, tx ? " transaction=" : "", tx ? tx : "");
    pthread_mutex_lock(&in->count.lock);
    if (in->count.value < MAX_MESSAGES) {
        memcpy(in->bodies[in->count.value], body, sizeof body);
    }
    pthread_mutex_unlock(&in->count.lock);
    example_counter_add(&in->count, 1);
}

static void send_text(stomp_connection *conn, const char *queue, const char *text, const char *txid) {
    stomp_header tx[] = {{"transaction", txid}};
    CHECK(stomp_send(conn, queue, text, strlen(text), NULL, tx, txid ? 1 : 0));
}

/* Expects the messages received so far to be exactly `expected` (NULL-terminated), in order. */
static void expect_bodies(inbox *in, const char *const *expected) {
    int n = 0;
    while (expected[n] != NULL) {
        n++;
    }
    if (!example_counter_wait(&in->count, n, 5000)) {
        example_fail("only %d of %d messages arrived", example_counter_get(&in->count), n);
    }
    pthread_mutex_lock(&in->count.lock);
    int got = in->count.value;
    for (int i = 0; i < n && i < got; i++) {
        if (strcmp(in->bodies[i], expected[i]) != 0) {
            pthread_mutex_unlock(&in->count.lock);
            example_fail("message %d is \"%s\", expected \"%s\"", i + 1, in->bodies[i], expected[i]);
        }
    }
    pthread_mutex_unlock(&in->count.lock);
    if (got != n) {
        example_fail("%d messages arrived, expected %d", got, n);
    }
}

int main(void) {
    example_env env;
    example_init(&env);
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "transactions");

    inbox in;
    memset(&in, 0, sizeof in);
    example_counter_init(&in.count);

    stomp_connection *conn = example_connection(&env);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &in;
    listener.on_message = on_message;
    CHECK(stomp_set_listener(conn, "", &listener));
    example_connect(conn, &env);
    CHECK(stomp_subscribe(conn, queue, "5", STOMP_ACK_AUTO, NULL, 0));

    /* Commit: txid = conn.begin() generates the id (or pass your own instead of NULL). */
    char txid[64];
    CHECK(stomp_begin(conn, NULL, txid, sizeof txid));
    printf("began transaction %s\n", txid);
    send_text(conn, queue, "test1", txid);
    send_text(conn, queue, "test2", txid);
    send_text(conn, queue, "test3", txid);
    send_text(conn, queue, "outside the transaction", NULL);
    CHECK(stomp_commit(conn, txid));
    static const char *const after_commit[] = {"outside the transaction", "test1", "test2", "test3", NULL};
    expect_bodies(&in, after_commit);
    printf("committed: test1, test2, test3 delivered after the commit: OK\n");

    /* Abort: the broker discards test4 and test5. */
    CHECK(stomp_begin(conn, NULL, txid, sizeof txid));
    printf("began transaction %s\n", txid);
    send_text(conn, queue, "test4", txid);
    send_text(conn, queue, "test5", txid);
    CHECK(stomp_abort(conn, txid));
    send_text(conn, queue, "after the abort", NULL);
    static const char *const after_abort[] = {"outside the transaction", "test1", "test2", "test3",
                                              "after the abort", NULL};
    expect_bodies(&in, after_abort);
    printf("aborted message not delivered: OK\n");

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn);
    example_counter_destroy(&in.count);
    printf("transactions: OK\n");
    return 0;
}
