/*
 * subscribe_ack_modes.c - the API summary's MessageProcessor: one subscription per ack mode, and one
 * with a selector header.
 *
 *   class MessageProcessor(stomp.ConnectionListener):
 *       def on_message(self, frame):
 *           print(f"Received from {frame.headers.get('destination', 'unknown')}: {frame.body}")
 *   conn.subscribe('/queue/orders', id='orders-sub', ack='auto')
 *   conn.subscribe('/topic/notifications', id='notify-sub', ack='client')
 *   conn.subscribe(destination='/queue/priority', id='priority-sub', ack='client-individual',
 *                  headers={'selector': "priority > 5"})
 *   ...
 *   conn.unsubscribe(id='orders-sub')   # and the others
 *
 * Selectors are a JMS feature: run this against ActiveMQ (STOMP_PORT=61623). ActiveMQ turns the
 * STOMP `priority` header into the JMS priority, which a selector calls JMSPriority: the seed's
 * "priority > 5" matches nothing there, "JMSPriority > 5" is what it means. A selector on an
 * ordinary header is shown too: colour = 'red'.
 *
 * Instead of the seed's time.sleep(30), main waits until each subscription has what it should get.
 * Queues deliver in order, so once the last matching message is in, a non-matching one sent before
 * it would have shown up.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

enum { ORDERS, NOTIFY, PRIORITY, COLOUR, SUBSCRIPTIONS };
static const char *const ids[SUBSCRIPTIONS] = {"orders-sub", "notify-sub", "priority-sub", "colour-sub"};

typedef struct {
    stomp_connection *conn;
    example_counter received[SUBSCRIPTIONS];
    example_counter unexpected; /* a message the selector should have kept away */
} processor;

static void on_message(void *user_data, const stomp_frame *frame) {
    processor *p = user_data;
    const char *destination = stomp_frame_header(frame, "destination");
    const char *subscription = stomp_frame_header(frame, "subscription");
    char body[256];
    printf("Received from %s: %s\n", destination ? destination : "unknown",
           example_body(frame, body, sizeof body));

    int sub = 0;
    while (sub < SUBSCRIPTIONS && (subscription == NULL || strcmp(subscription, ids[sub]) != 0)) {
        sub++;
    }
    if (sub == SUBSCRIPTIONS) {
        printf("  ... on an unknown subscription\n");
        example_counter_add(&p->unexpected, 1);
        return;
    }
    /* 'client' and 'client-individual' subscriptions need an ACK; 'auto' ones must not get one.
     * (client acks everything up to this message, client-individual just this one.) */
    if (sub != ORDERS) {
        stomp_result rc = stomp_ack_frame(p->conn, frame, NULL);
        if (rc != STOMP_OK) {
            printf("  ack failed: %s (%s)\n", stomp_strerror(rc), stomp_last_error());
        }
    }
    if (strstr(body, "low") != NULL || strstr(body, "blue") != NULL) {
        example_counter_add(&p->unexpected, 1);
    }
    example_counter_add(&p->received[sub], 1);
}

static void send_with(stomp_connection *conn, const char *destination, const char *body,
                      const char *name, const char *value) {
    stomp_header header[] = {{name, value}};
    CHECK(stomp_send(conn, destination, body, strlen(body), NULL, header, name ? 1 : 0));
}

int main(void) {
    example_env env;
    example_init(&env);
    char destinations[SUBSCRIPTIONS][256];
    example_unique(destinations[ORDERS], sizeof destinations[ORDERS], "/queue", "orders");
    example_unique(destinations[NOTIFY], sizeof destinations[NOTIFY], "/topic", "notifications");
    example_unique(destinations[PRIORITY], sizeof destinations[PRIORITY], "/queue", "priority");
    example_unique(destinations[COLOUR], sizeof destinations[COLOUR], "/queue", "colours");

    processor p;
    memset(&p, 0, sizeof p);
    for (int i = 0; i < SUBSCRIPTIONS; i++) {
        example_counter_init(&p.received[i]);
    }
    example_counter_init(&p.unexpected);

    p.conn = example_connection(&env);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &p;
    listener.on_message = on_message;
    CHECK(stomp_set_listener(p.conn, "processor", &listener));
    example_connect(p.conn, &env);

    stomp_frame *connected;
    CHECK(stomp_connected_frame(p.conn, &connected));
    const char *server = stomp_frame_header(connected, "server");
    bool rabbitmq = server != NULL && strstr(server, "RabbitMQ") != NULL;
    stomp_frame_free(connected);
    if (rabbitmq) {
        example_fail("RabbitMQ ignores selectors: run this example against ActiveMQ (STOMP_PORT=61623)");
    }

    /* Subscribe to queue with auto-acknowledgment */
    CHECK(stomp_subscribe(p.conn, destinations[ORDERS], ids[ORDERS], STOMP_ACK_AUTO, NULL, 0));
    /* Subscribe to topic with manual acknowledgment */
    CHECK(stomp_subscribe(p.conn, destinations[NOTIFY], ids[NOTIFY], STOMP_ACK_CLIENT, NULL, 0));
    /* Subscribe with custom headers: selectors */
    stomp_header priority_selector[] = {{"selector", "JMSPriority > 5"}};
    CHECK(stomp_subscribe(p.conn, destinations[PRIORITY], ids[PRIORITY], STOMP_ACK_CLIENT_INDIVIDUAL,
                          priority_selector, 1));
    stomp_header colour_selector[] = {{"selector", "colour = 'red'"}, {"receipt", "subscribed"}};
    CHECK(stomp_subscribe(p.conn, destinations[COLOUR], ids[COLOUR], STOMP_ACK_AUTO, colour_selector, 2));
    CHECK(stomp_wait_receipt(p.conn, "subscribed", 5000)); /* the topic delivers only from now on */

    send_with(p.conn, destinations[ORDERS], "order 1", NULL, NULL);
    send_with(p.conn, destinations[ORDERS], "order 2", NULL, NULL);
    send_with(p.conn, destinations[NOTIFY], "notification 1", NULL, NULL);
    send_with(p.conn, destinations[NOTIFY], "notification 2", NULL, NULL);
    send_with(p.conn, destinations[PRIORITY], "low priority (1)", "priority", "1");
    send_with(p.conn, destinations[PRIORITY], "high priority (9)", "priority", "9");
    send_with(p.conn, destinations[PRIORITY], "low priority (3)", "priority", "3");
    send_with(p.conn, destinations[PRIORITY], "high priority (8)", "priority", "8");
    send_with(p.conn, destinations[COLOUR], "a blue one", "colour", "blue");
    send_with(p.conn, destinations[COLOUR], "a red one", "colour", "red");
    send_with(p.conn, destinations[COLOUR], "another blue one", "colour", "blue");
    send_with(p.conn, destinations[COLOUR], "another red one", "colour", "red");

    for (int i = 0; i < SUBSCRIPTIONS; i++) {
        if (!example_counter_wait(&p.received[i], 2, 10000)) {
            example_fail("%s got %d of 2 messages", ids[i], example_counter_get(&p.received[i]));
        }
    }

    for (int i = 0; i < SUBSCRIPTIONS; i++) {
        stomp_header receipt[] = {{"receipt", "unsubscribed"}};
        bool last = i == SUBSCRIPTIONS - 1;
        CHECK(stomp_unsubscribe(p.conn, ids[i], receipt, last ? 1 : 0));
    }
    CHECK(stomp_wait_receipt(p.conn, "unsubscribed", 5000));
    CHECK(stomp_disconnect(p.conn, NULL, 5000));
    stomp_connection_free(p.conn); /* no callback runs after this */

    for (int i = 0; i < SUBSCRIPTIONS; i++) {
        printf("%s: %d message(s)\n", ids[i], example_counter_get(&p.received[i]));
    }
    int unexpected = example_counter_get(&p.unexpected);
    int total = 0;
    for (int i = 0; i < SUBSCRIPTIONS; i++) {
        total += example_counter_get(&p.received[i]);
        example_counter_destroy(&p.received[i]);
    }
    example_counter_destroy(&p.unexpected);
    if (unexpected != 0 || total != 2 * SUBSCRIPTIONS) {
        example_fail("%d message(s) the selectors should have kept away", unexpected);
    }
    printf("selectors: only matching messages arrived: OK\n");
    return 0;
}
