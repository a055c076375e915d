/*
 * rabbitmq_queue_vs_topic.c - the RabbitMQ notes: several receivers on one /queue share its messages
 * (competing consumers: each message goes to exactly one of them, round-robin), while receivers of a
 * topic each get every message (fan-out).
 *
 *   # sto_receive.py, run twice: ONLY ONE program receives each message
 *   stomp.subscribe('/queue/jeuvideo')
 *   # the fix: a topic exchange, a binding key, and an id per client
 *   stomp.subscribe('', conf={'exchange': 'amq.topic', 'routing_key': 'x.#', 'id': unique_id})
 *   # sto_send.py
 *   stomp.put('...', destination='x.y', conf={'exchange': 'amq.topic'})
 *
 * Today's RabbitMQ STOMP spells that exchange and binding as a destination: "/topic/x.#" (which is
 * amq.topic with binding key x.#) or, the long way, "/exchange/amq.topic/x.#"; sending to
 * "/topic/x.y" publishes to amq.topic with routing key x.y. Consumer A uses the first spelling and
 * consumer B the second, to show they are the same. Needs RabbitMQ.
 *
 * Two consumer connections (the two sto_receive.py) and one sender (sto_send.py), 10 messages each way.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

#define MESSAGES 10

typedef struct {
    const char *name;
    example_counter *total; /* shared by both consumers: main waits on it */
    int got[MESSAGES];      /* how many times each message arrived here, under total->lock */
} consumer;

static void on_message(void *user_data, const stomp_frame *frame) {
    consumer *c = user_data;
    char body[64];
    example_body(frame, body, sizeof body);
    int n = -1;
    if (sscanf(body, "message %d", &n) != 1 || n < 0 || n >= MESSAGES) {
        printf("%s: unexpected body \"%s\"\n", c->name, body);
        return;
    }
    pthread_mutex_lock(&c->total->lock);
    c->got[n]++;
    pthread_mutex_unlock(&c->total->lock);
    example_counter_add(c->total, 1);
}

static stomp_connection *start_consumer(const example_env *env, consumer *c, const char *destination) {
    stomp_connection *conn = example_connection(env);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = c;
    listener.on_message = on_message;
    CHECK(stomp_set_listener(conn, "", &listener));
    example_connect(conn, env);
    /* An id per client, as the notes say; the receipt tells us the binding exists before we send. */
    stomp_header receipt[] = {{"receipt", "subscribed"}};
    CHECK(stomp_subscribe(conn, destination, c->name, STOMP_ACK_AUTO, receipt, 1));
    CHECK(stomp_wait_receipt(conn, "subscribed", 5000));
    printf("%s subscribed to %s\n", c->name, destination);
    return conn;
}

static void send_messages(stomp_connection *sender, const char *destination) {
    for (int i = 0; i < MESSAGES; i++) {
        char body[32];
        snprintf(body, sizeof body, "message %d", i);
        CHECK(stomp_send(sender, destination, body, strlen(body), NULL, NULL, 0));
    }
}

typedef struct {
    int a, b;               /* messages consumer A and consumer B got */
    bool each_once_overall; /* every message went to exactly one of them */
    bool each_once_each;    /* every message went to each of them once */
} round_result;

/* One round: consumer A on dest_a and consumer B on dest_b, then MESSAGES sent to send_to; waits for
 * expected_total deliveries in all. */
static round_result round_trip(const example_env *env, stomp_connection *sender, const char *dest_a,
                               const char *dest_b, const char *send_to, int expected_total) {
    example_counter total;
    example_counter_init(&total);
    consumer a = {"consumer-A", &total, {0}};
    consumer b = {"consumer-B", &total, {0}};
    stomp_connection *ca = start_consumer(env, &a, dest_a);
    stomp_connection *cb = start_consumer(env, &b, dest_b);

    send_messages(sender, send_to);
    if (!example_counter_wait(&total, expected_total, 10000)) {
        example_fail("%d of %d deliveries arrived", example_counter_get(&total), expected_total);
    }
    CHECK(stomp_disconnect(ca, NULL, 5000));
    CHECK(stomp_disconnect(cb, NULL, 5000));
    stomp_connection_free(ca); /* no callback runs after these: a and b are settled */
    stomp_connection_free(cb);
    if (example_counter_get(&total) != expected_total) {
        example_fail("more deliveries than expected: %d", example_counter_get(&total));
    }
    example_counter_destroy(&total);

    round_result r = {0, 0, true, true};
    for (int i = 0; i < MESSAGES; i++) {
        r.a += a.got[i];
        r.b += b.got[i];
        r.each_once_overall = r.each_once_overall && a.got[i] + b.got[i] == 1;
        r.each_once_each = r.each_once_each && a.got[i] == 1 && b.got[i] == 1;
    }
    printf("consumer-A got %d, consumer-B got %d, of %d sent\n", r.a, r.b, MESSAGES);
    return r;
}

int main(void) {
    example_env env;
    example_init(&env);
    stomp_connection *sender = example_connection(&env);
    example_connect(sender, &env);
    example_require_broker(sender, "RabbitMQ", "amq.topic and /exchange destinations are RabbitMQ's");

    /* Queue: competing consumers. */
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "jeuvideo");
    round_result r = round_trip(&env, sender, queue, queue, queue, MESSAGES);
    if (!r.each_once_overall || r.a == 0 || r.b == 0) {
        example_fail("a queue should share its messages, each delivered exactly once");
    }
    printf("queue: competing consumers, every message exactly once: OK\n");

    /* Topic: fan-out, through the amq.topic exchange with a wildcard binding. */
    char prefix[200], topic_a[256], topic_b[256], publish[256];
    example_unique(prefix, sizeof prefix, "", "x"); /* "/examples-c.x.<pid>...": a routing-key prefix */
    snprintf(topic_a, sizeof topic_a, "/topic%s.#", prefix);
    snprintf(topic_b, sizeof topic_b, "/exchange/amq.topic%s.#", prefix);
    snprintf(publish, sizeof publish, "/topic%s.y", prefix);
    r = round_trip(&env, sender, topic_a, topic_b, publish, 2 * MESSAGES);
    if (!r.each_once_each) {
        example_fail("every topic subscriber should get every message once");
    }
    printf("topic: fan-out, each consumer got every message: OK\n");

    CHECK(stomp_disconnect(sender, NULL, 5000));
    stomp_connection_free(sender);
    return 0;
}
