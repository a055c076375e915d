/*
 * disconnect_receipt.c - the guide's "Disconnect": a graceful shutdown. DISCONNECT carries a receipt
 * (generated when you give none) and the link is dropped only once the broker has answered it:
 *
 *   >>> conn.disconnect()
 *   on_send DISCONNECT {'receipt': '825a5cd6-9e3c-4a72-8051-72348a94f5ce'}
 *   on_receipt {'receipt-id': '825a5cd6-9e3c-4a72-8051-72348a94f5ce'}
 *   on_disconnected
 *
 * The library's PrintingListener shows that exchange; a second listener checks it: the RECEIPT
 * answers the DISCONNECT's receipt, and the events come in the order disconnecting, receipt,
 * disconnected.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    char disconnect_receipt[128]; /* callbacks of a connection run one at a time: no lock needed */
    char events[256];
    bool receipt_matched;
    example_counter disconnected;
} shutdown_check;

static void note(shutdown_check *check, const char *event) {
    if (check->events[0] != '\0') {
        strncat(check->events, ", ", sizeof check->events - strlen(check->events) - 1);
    }
    strncat(check->events, event, sizeof check->events - strlen(check->events) - 1);
}

static void on_disconnecting(void *user_data) {
    note(user_data, "disconnecting");
}

static void on_send(void *user_data, const stomp_frame *frame) {
    shutdown_check *check = user_data;
    const char *receipt = stomp_frame_header(frame, "receipt");
    if (strcmp(stomp_frame_command(frame), "DISCONNECT") == 0 && receipt != NULL) {
        snprintf(check->disconnect_receipt, sizeof check->disconnect_receipt, "%s", receipt);
        note(check, "DISCONNECT sent");
    }
}

static void on_receipt(void *user_data, const stomp_frame *frame) {
    shutdown_check *check = user_data;
    const char *id = stomp_frame_header(frame, "receipt-id");
    check->receipt_matched = id != NULL && strcmp(id, check->disconnect_receipt) == 0;
    note(check, "receipt");
}

static void on_disconnected(void *user_data) {
    shutdown_check *check = user_data;
    note(check, "disconnected");
    example_counter_add(&check->disconnected, 1);
}

int main(void) {
    example_env env;
    example_init(&env);

    shutdown_check check;
    memset(&check, 0, sizeof check);
    example_counter_init(&check.disconnected);

    stomp_connection *conn = example_connection(&env);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &check;
    listener.on_disconnecting = on_disconnecting;
    listener.on_send = on_send;
    listener.on_receipt = on_receipt;
    listener.on_disconnected = on_disconnected;
    CHECK(stomp_set_printing_listener(conn, "print"));
    CHECK(stomp_set_listener(conn, "check", &listener));
    example_connect(conn, &env);

    /* conn.disconnect(): NULL asks for a generated receipt; give a string to choose it. Returns once
     * the RECEIPT is in (STOMP_ERR_TIMEOUT if not within 5 s: the link is closed all the same). */
    CHECK(stomp_disconnect(conn, NULL, 5000));
    if (!example_counter_wait(&check.disconnected, 1, 5000)) {
        example_fail("on_disconnected did not run");
    }
    bool connected = stomp_is_connected(conn);
    stomp_connection_free(conn);

    printf("events: %s\n", check.events);
    if (connected || !check.receipt_matched ||
        strcmp(check.events, "disconnecting, DISCONNECT sent, receipt, disconnected") != 0) {
        example_fail("not the graceful sequence");
    }
    printf("receipt %s confirmed the DISCONNECT\n", check.disconnect_receipt);
    example_counter_destroy(&check.disconnected);
    printf("graceful disconnect: OK\n");
    return 0;
}
