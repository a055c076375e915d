/*
 * external_loop.c - two connections driven from the application's own event loop, with poll(2):
 * the library starts no thread. The loop's descriptor (stomp_loop_fd) is watched for reading, its
 * next deadline (stomp_loop_timeout_ms) bounds each wait, and stomp_loop_process does the I/O,
 * heart-beats and reconnects, then runs the callbacks here, on this thread. An epoll, libuv or
 * Ruby reactor does the same with the descriptor and the deadline.
 *
 * A producer sends a message every 250 ms for 5 s to a consumer, both with 1 s heart-beats; half
 * way, RabbitMQ drops the consumer's link (a SEND to an exchange that does not exist), which
 * auto-reconnect re-makes, re-subscribing, while the loop goes on. Needs RabbitMQ.
 */
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RUN_MS 5000
#define EVERY_MS 250

typedef struct {
    const char *name;
    pthread_t loop_thread;
    int connected, disconnected, receipts, messages, errors, elsewhere;
    char last[32];
} peer;

/* Every callback runs inside stomp_loop_process, so on the loop's thread: no lock is needed. */
static void here(peer *p) {
    if (!pthread_equal(pthread_self(), p->loop_thread)) p->elsewhere++;
}

static void on_connected(void *user_data, const stomp_frame *frame) {
    peer *p = user_data;
    (void)frame;
    here(p);
    p->connected++;
    printf("%s: on_connected #%d\n", p->name, p->connected);
}

static void on_disconnected(void *user_data) {
    peer *p = user_data;
    here(p);
    p->disconnected++;
    printf("%s: on_disconnected #%d\n", p->name, p->disconnected);
}

static void on_receipt(void *user_data, const stomp_frame *frame) {
    peer *p = user_data;
    (void)frame;
    here(p);
    p->receipts++;
}

static void on_message(void *user_data, const stomp_frame *frame) {
    peer *p = user_data;
    here(p);
    p->messages++;
    example_body(frame, p->last, sizeof p->last);
}

static void on_error(void *user_data, const stomp_frame *frame) {
    peer *p = user_data;
    here(p);
    p->errors++;
    printf("%s: on_error %s\n", p->name, stomp_frame_header(frame, "message"));
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One turn of the application's loop: wait for the descriptor, at most until the loop's next
 * deadline (and `cap_ms`), then let the library do what is ready. */
static void turn(stomp_loop *lp, int cap_ms) {
    struct pollfd pfd = {.fd = stomp_loop_fd(lp), .events = POLLIN};
    int wait = stomp_loop_timeout_ms(lp);
    if (wait < 0 || wait > cap_ms) wait = cap_ms;
    if (poll(&pfd, 1, wait) < 0 && errno != EINTR) example_fail("poll: %s", strerror(errno));
    CHECK(stomp_loop_process(lp, 0));
}

typedef bool (*condition)(const peer *a, const peer *b);

static void turn_until(stomp_loop *lp, const peer *a, const peer *b, condition done, const char *what) {
    long long end = now_ms() + 15000;
    while (!done(a, b)) {
        if (now_ms() > end) example_fail("timed out waiting until %s", what);
        turn(lp, 100);
    }
}

static bool both_connected(const peer *a, const peer *b) { return a->connected >= 1 && b->connected >= 1; }
static bool subscribed(const peer *a, const peer *b) { (void)b; return a->receipts >= 1; }

static char last_sent[32];
static bool last_arrived(const peer *a, const peer *b) { (void)b; return strcmp(a->last, last_sent) == 0; }
static bool both_down(const peer *a, const peer *b) { return a->disconnected >= 2 && b->disconnected >= 1; }

static stomp_connection *on_loop(stomp_loop *lp, const example_env *env, peer *p) {
    stomp_options *o = example_options(env);
    CHECK(stomp_options_set_heartbeats(o, 1000, 1000));
    CHECK(stomp_options_set_auto_reconnect(o, true));
    CHECK(stomp_options_set_reconnect(o, 0.05, 0.5, 0.1, 0.5, -1));
    stomp_connection *conn = stomp_connection_new_on_loop(o, lp);
    stomp_options_free(o);
    if (conn == NULL) example_fail("stomp_connection_new_on_loop: %s", stomp_last_error());
    p->loop_thread = pthread_self();
    stomp_listener l = STOMP_LISTENER_INIT;
    l.user_data = p;
    l.on_connected = on_connected;
    l.on_disconnected = on_disconnected;
    l.on_receipt = on_receipt;
    l.on_message = on_message;
    l.on_error = on_error;
    CHECK(stomp_set_listener(conn, "peer", &l));
    return conn;
}

int main(void) {
    example_env env;
    example_init(&env);
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "external-loop");

    stomp_loop *lp = stomp_loop_new();
    if (lp == NULL) example_fail("stomp_loop_new: %s", stomp_last_error());
    peer consumer = {.name = "consumer"}, producer = {.name = "producer"};
    stomp_connection *cons = on_loop(lp, &env, &consumer);
    stomp_connection *prod = on_loop(lp, &env, &producer);

    /* Nobody else drives the loop: a connect that waits here would wait for itself. */
    stomp_result rc = stomp_connect(cons, env.user, env.password, NULL, 0, true);
    if (rc != STOMP_ERR_WOULD_DEADLOCK) example_fail("a waiting connect on the loop's thread gave %d", (int)rc);
    printf("waiting connect on the loop's thread: %s: OK\n", stomp_strerror(rc));

    CHECK(stomp_connect(cons, env.user, env.password, NULL, 0, false));
    CHECK(stomp_connect(prod, env.user, env.password, NULL, 0, false));
    turn_until(lp, &consumer, &producer, both_connected, "both are connected");
    printf("two connections up on one loop, descriptor %d\n", stomp_loop_fd(lp));

    stomp_header receipt = {"receipt", "subscribed"};
    CHECK(stomp_subscribe(cons, queue, "work", STOMP_ACK_AUTO, &receipt, 1));
    turn_until(lp, &consumer, &producer, subscribed, "the subscription is confirmed");

    long long start = now_ms(), elapsed;
    int sent = 0;
    bool dropped = false;
    while ((elapsed = now_ms() - start) < RUN_MS) {
        if (elapsed >= (long long)sent * EVERY_MS) {
            snprintf(last_sent, sizeof last_sent, "m%d", sent);
            CHECK(stomp_send(prod, queue, last_sent, strlen(last_sent), NULL, NULL, 0));
            sent++;
        }
        if (!dropped && elapsed >= RUN_MS / 2) {
            example_force_disconnect(cons);
            dropped = true;
        }
        turn(lp, 50);
    }
    turn_until(lp, &consumer, &producer, last_arrived, "the last message arrives");

    stomp_stats cs = {.size = sizeof cs}, ps = {.size = sizeof ps};
    CHECK(stomp_stats_get(cons, &cs));
    CHECK(stomp_stats_get(prod, &ps));
    printf("sent %d, received %d, the last one \"%s\"\n", sent, consumer.messages, consumer.last);
    printf("consumer: connected %d times, disconnected %d time(s), %llu reconnect(s)\n", consumer.connected,
           consumer.disconnected, (unsigned long long)cs.reconnects);
    printf("heart-beats: consumer sent %llu, producer received %llu, timeouts %llu\n",
           (unsigned long long)cs.heartbeats_sent, (unsigned long long)ps.heartbeats_received,
           (unsigned long long)(cs.heartbeat_timeouts + ps.heartbeat_timeouts));
    if (consumer.connected != 2 || cs.reconnects != 1) example_fail("the consumer did not reconnect once");
    if (consumer.messages < sent / 2) example_fail("only %d of %d messages arrived", consumer.messages, sent);
    /* The consumer sends nothing but heart-beats, the producer hears nothing but heart-beats. */
    if (cs.heartbeats_sent < 3 || ps.heartbeats_received < 3) example_fail("heart-beats did not flow");
    if (cs.heartbeat_timeouts + ps.heartbeat_timeouts != 0) example_fail("a heart-beat timed out");
    if (consumer.elsewhere + producer.elsewhere != 0) example_fail("a callback ran on another thread");
    printf("every callback ran on the loop's thread: OK\n");

    /* A graceful end without waiting: DISCONNECT goes out on the next turns, the links close on
     * their receipts, and on_disconnected comes here. */
    CHECK(stomp_disconnect(cons, NULL, 0));
    CHECK(stomp_disconnect(prod, NULL, 0));
    turn_until(lp, &consumer, &producer, both_down, "both links are closed");
    stomp_connection_free(cons);
    stomp_connection_free(prod);
    stomp_loop_free(lp);
    printf("external_loop: OK\n");
    return 0;
}
