/*
 * receipts.c - the API summary's ReceiptHandler: send with a `receipt` header, and learn in on_receipt
 * that the broker has the message.
 *
 *   class ReceiptHandler(stomp.ConnectionListener):
 *       def on_receipt(self, frame):
 *           receipt_id = frame.headers.get('receipt-id')
 *           if receipt_id in self.pending_receipts:
 *               print(f"Receipt confirmed: {receipt_id}")
 *               self.pending_receipts[receipt_id] = True
 *       def wait_for_receipt(self, receipt_id, timeout=10): ... polls every 0.1 s ...
 *   conn.send(body='Important message', destination='/queue/critical', receipt=receipt_id)
 *   if receipt_handler.wait_for_receipt(receipt_id, timeout=30): print("Message delivery confirmed")
 *
 * The seed polls; here on_receipt signals a condition variable that wait_for_receipt sleeps on.
 * The library has the same wait built in, stomp_wait_receipt, shown last.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PENDING 8

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t confirmed_cv;
    char ids[MAX_PENDING][64];
    bool confirmed[MAX_PENDING];
    int count;
} receipt_handler;

static void receipt_handler_init(receipt_handler *h) {
    memset(h, 0, sizeof *h);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->confirmed_cv, &attr);
    pthread_condattr_destroy(&attr);
}

static void receipt_handler_destroy(receipt_handler *h) {
    pthread_cond_destroy(&h->confirmed_cv);
    pthread_mutex_destroy(&h->lock);
}

/* pending_receipts[receipt_id] = False */
static void expect_receipt(receipt_handler *h, const char *receipt_id) {
    pthread_mutex_lock(&h->lock);
    if (h->count == MAX_PENDING) {
        pthread_mutex_unlock(&h->lock);
        example_fail("too many pending receipts");
    }
    snprintf(h->ids[h->count], sizeof h->ids[h->count], "%s", receipt_id);
    h->confirmed[h->count] = false;
    h->count++;
    pthread_mutex_unlock(&h->lock);
}

static void on_receipt(void *user_data, const stomp_frame *frame) {
    receipt_handler *h = user_data;
    const char *receipt_id = stomp_frame_header(frame, "receipt-id");
    pthread_mutex_lock(&h->lock);
    for (int i = 0; receipt_id != NULL && i < h->count; i++) {
        if (strcmp(h->ids[i], receipt_id) == 0) {
            printf("Receipt confirmed: %s\n", receipt_id);
            h->confirmed[i] = true;
            pthread_cond_broadcast(&h->confirmed_cv);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

/* Waits for a specific receipt confirmation, up to timeout_s seconds. */
static bool wait_for_receipt(receipt_handler *h, const char *receipt_id, int timeout_s) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&h->lock);
    bool done = false;
    for (;;) {
        for (int i = 0; i < h->count; i++) {
            if (strcmp(h->ids[i], receipt_id) == 0 && h->confirmed[i]) {
                done = true;
            }
        }
        if (done || pthread_cond_timedwait(&h->confirmed_cv, &h->lock, &deadline) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return done;
}

int main(void) {
    example_env env;
    example_init(&env);
    char critical[256];
    example_unique(critical, sizeof critical, "/queue", "critical");

    receipt_handler handler;
    receipt_handler_init(&handler);
    stomp_connection *conn = example_connection(&env);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &handler;
    listener.on_receipt = on_receipt;
    CHECK(stomp_set_listener(conn, "receipt_handler", &listener));
    example_connect(conn, &env);

    /* Send message with receipt: the seed's str(uuid.uuid4()); any id unique to the connection does. */
    char receipt_id[64];
    snprintf(receipt_id, sizeof receipt_id, "critical-%ld-%lld", (long)getpid(), (long long)time(NULL));
    expect_receipt(&handler, receipt_id);
    const char *body = "Important message";
    stomp_header headers[] = {{"receipt", receipt_id}};
    CHECK(stomp_send(conn, critical, body, strlen(body), NULL, headers, 1));

    /* Wait for delivery confirmation */
    if (wait_for_receipt(&handler, receipt_id, 30)) {
        printf("Message delivery confirmed\n");
    } else {
        example_fail("Message delivery confirmation timeout");
    }

    /* The same, built in: the library matches RECEIPT frames to waiters itself. It also tells a
     * receipt that will never come because the link dropped (STOMP_ERR_DISCONNECTED: resend). */
    stomp_header second[] = {{"receipt", "second-message"}};
    CHECK(stomp_send(conn, critical, body, strlen(body), NULL, second, 1));
    CHECK(stomp_wait_receipt(conn, "second-message", 30000));
    printf("second message confirmed by stomp_wait_receipt\n");

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn); /* no callback runs after this */
    receipt_handler_destroy(&handler);
    printf("receipts: OK\n");
    return 0;
}
