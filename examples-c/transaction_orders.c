/*
 * transaction_orders.c - the API summary's transaction example: three messages to three queues,
 * committed together when the business logic agrees, aborted otherwise (or on any error).
 *
 *   tx_id = str(uuid.uuid4())
 *   conn.begin(tx_id)
 *   try:
 *       conn.send(body='Order created', destination='/queue/orders', transaction=tx_id)
 *       conn.send(body='Inventory updated', destination='/queue/inventory', transaction=tx_id)
 *       conn.send(body='Email notification', destination='/queue/notifications', transaction=tx_id)
 *       if all_operations_successful(): conn.commit(tx_id)
 *       else: conn.abort(tx_id)
 *   except Exception as e:
 *       conn.abort(tx_id)
 *
 * Usage: transaction_orders [--fail]   (--fail makes all_operations_successful() say no)
 *
 * Then it checks what the queues got: after the outcome an "end" marker goes to each queue; each
 * queue delivers in order, so once the three markers are in, any committed message is in too.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool simulate_failure;

static bool all_operations_successful(void) {
    return !simulate_failure; /* the business validation would go here */
}

static stomp_result send_text(stomp_connection *conn, const char *queue, const char *text,
                              const char *tx_id) {
    stomp_header tx[] = {{"transaction", tx_id}};
    return stomp_send(conn, queue, text, strlen(text), "text/plain", tx, tx_id ? 1 : 0);
}

int main(int argc, char **argv) {
    example_env env;
    example_init(&env);
    simulate_failure = argc > 1 && strcmp(argv[1], "--fail") == 0;

    char orders[256], inventory[256], notifications[256];
    example_unique(orders, sizeof orders, "/queue", "orders");
    example_unique(inventory, sizeof inventory, "/queue", "inventory");
    example_unique(notifications, sizeof notifications, "/queue", "notifications");

    stomp_options *opts = example_options(&env);
    CHECK(stomp_options_set_receive_queue(opts, 16));
    stomp_connection *conn = example_connection_from(opts);
    example_connect(conn, &env);

    /* Our own transaction id, as the seed makes one with uuid4(). */
    char tx_id[64];
    snprintf(tx_id, sizeof tx_id, "order-tx-%ld-%lld", (long)getpid(), (long long)time(NULL));
    CHECK(stomp_begin(conn, tx_id, NULL, 0));

    /* C has no exceptions: every send's result decides, like the seed's try/except. */
    stomp_result rc = send_text(conn, orders, "Order created", tx_id);
    if (rc == STOMP_OK) {
        rc = send_text(conn, inventory, "Inventory updated", tx_id);
    }
    if (rc == STOMP_OK) {
        rc = send_text(conn, notifications, "Email notification", tx_id);
    }
    bool committed = false;
    if (rc != STOMP_OK) {
        printf("Transaction aborted due to error: %s (%s)\n", stomp_strerror(rc), stomp_last_error());
        CHECK(stomp_abort(conn, tx_id));
    } else if (all_operations_successful()) {
        CHECK(stomp_commit(conn, tx_id));
        committed = true;
        printf("Transaction committed successfully\n");
    } else {
        CHECK(stomp_abort(conn, tx_id));
        printf("Transaction aborted\n");
    }

    /* Check: subscribe to the three queues and read until the three markers are in. */
    const char *queues[] = {orders, inventory, notifications};
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "q%d", i);
        CHECK(stomp_subscribe(conn, queues[i], id, STOMP_ACK_AUTO, NULL, 0));
        CHECK(send_text(conn, queues[i], "end", NULL));
    }
    int markers = 0, delivered = 0;
    while (markers < 3) {
        stomp_frame *message;
        rc = stomp_receive(conn, 5000, &message);
        if (rc != STOMP_OK) {
            example_fail("waiting for the end markers: %s", stomp_strerror(rc));
        }
        char body[64];
        example_body(message, body, sizeof body);
        if (strcmp(body, "end") == 0) {
            markers++;
        } else {
            delivered++;
            printf("delivered: \"%s\"\n", body);
        }
        stomp_frame_free(message);
    }
    int expected = committed ? 3 : 0;
    printf("%d of 3 transactional messages delivered (expected %d)\n", delivered, expected);
    if (delivered != expected) {
        example_fail("the transaction was not all-or-nothing");
    }

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn);
    printf("transaction_orders: OK\n");
    return 0;
}
