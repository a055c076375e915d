/*
 * stomp_bench.c - libstomp's side of the benchmark, through its public C API only.
 *
 *   stomp_bench publish          PORT N [BODY_BYTES]   against fixture_swallow
 *   stomp_bench receive-callback PORT N                against fixture_blast
 *   stomp_bench receive-pull     PORT N                against fixture_blast
 *   stomp_bench rtt-callback     PORT N [BODY_BYTES [WARMUP]]   against RabbitMQ
 *   stomp_bench rtt-pull         PORT N [BODY_BYTES [WARMUP]]   against RabbitMQ
 *   stomp_bench broker-pubsub    PORT N [BODY_BYTES]            against RabbitMQ
 *   stomp_bench large-publish    PORT N BODY_BYTES     against fixture_swallow
 *   stomp_bench large-receive    PORT N BODY_BYTES     against fixture_blast (the same size)
 *
 * publish: N stomp_send calls of BODY_BYTES (default 100) with a content type and two headers, then
 * stomp_disconnect, which waits for the RECEIPT (so every frame has reached the server).
 * receive-callback: an on_message that counts; main waits on a semaphore posted at the N-th.
 * receive-pull: a receive queue; stomp_receive + stomp_frame_free until N.
 * rtt-*: one message at a time through a RabbitMQ queue this client subscribes to; WARMUP (default
 * 1000) round trips first, then N timed ones.
 * broker-pubsub: two connections to RabbitMQ; one subscribes (on_message counts) to a queue of its
 * own, the other publishes N messages to it; timed until the N-th has arrived (CPU of both).
 * large-*: publish and receive-callback for large bodies (frame limit raised to 1 GiB), adding
 * "peak_growth_kib copies" to the line: the peak resident memory (VmHWM) minus the resident memory
 * before anything (the body to send and the library), and that over the body size, i.e. how many
 * copies of a body the process held at its peak (the application's own body to send is one).
 *
 * Prints "libstomp MODE msgs seconds msg_per_s cpu_seconds" (CPU of the whole process, all threads,
 * over the timed window), and for rtt-* also "p50_us p99_us".
 */
#include "bench_util.h"

#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stomp.h>

#define RECEIVE_QUEUE 8192

static void check(stomp_result rc, const char *what) {
    if (rc != STOMP_OK) {
        fprintf(stderr, "stomp_bench: %s: %s (%s)\n", what, stomp_strerror(rc), stomp_last_error());
        exit(1);
    }
}
#define CHECK(call) check((call), #call)

typedef struct {
    atomic_uint_fast64_t count;
    uint64_t post_at; /* post the semaphore when count reaches this; 0: at every message */
    sem_t sem;
} counter_t;

static void on_message(void *user_data, const stomp_frame *frame) {
    counter_t *c = user_data;
    (void)frame;
    uint64_t n = atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed) + 1;
    if (c->post_at == 0 || n == c->post_at) sem_post(&c->sem);
}

static size_t max_body; /* frame body limit; 0: the library's default */

static stomp_connection *open_connection(uint16_t port, size_t receive_queue, counter_t *counter) {
    stomp_options *o = stomp_options_new();
    if (o == NULL) check(STOMP_ERR_INVALID_ARGUMENT, "stomp_options_new");
    if (max_body > 0) CHECK(stomp_options_set_frame_limits(o, max_body, 0, 0));
    /* STOMP_BENCH_TLS_CA: the port is a TLS terminator whose certificate this CA signed. */
    const char *tls_ca = getenv("STOMP_BENCH_TLS_CA");
    if (tls_ca != NULL && *tls_ca != '\0') {
        CHECK(stomp_options_add_host_tls(o, "127.0.0.1", port, tls_ca, NULL, NULL));
    } else {
        CHECK(stomp_options_add_host(o, "127.0.0.1", port));
    }
    CHECK(stomp_options_set_vhost(o, "/"));
    if (receive_queue > 0) CHECK(stomp_options_set_receive_queue(o, receive_queue));
    stomp_connection *conn = stomp_connection_new(o);
    stomp_options_free(o);
    if (conn == NULL) check(STOMP_ERR_INVALID_ARGUMENT, "stomp_connection_new");
    if (counter != NULL) {
        stomp_listener l;
        stomp_listener_init(&l);
        l.user_data = counter;
        l.on_message = on_message;
        CHECK(stomp_set_listener(conn, "bench", &l));
    }
    CHECK(stomp_connect(conn, "guest", "guest", NULL, 0, true));
    return conn;
}

static void close_connection(stomp_connection *conn) {
    stomp_result rc = stomp_disconnect(conn, "bench-end", 60000);
    if (rc != STOMP_OK) {
        fprintf(stderr, "stomp_bench: stomp_disconnect: %s (%s)\n", stomp_strerror(rc),
                stomp_last_error());
    }
    stomp_connection_free(conn);
}

static char *make_body(size_t len) {
    char *b = malloc(len + 1);
    if (b == NULL) die("out of memory");
    for (size_t i = 0; i < len; i++) b[i] = (char)('a' + i % 26);
    return b;
}

static void run_publish(uint16_t port, uint64_t n, size_t body_bytes) {
    char *body = make_body(body_bytes);
    stomp_connection *conn = open_connection(port, 0, NULL);
    const stomp_header headers[2] = {{"x-bench-a", "alpha"}, {"x-bench-b", "beta"}};
    double t0 = now_s(), c0 = cpu_s();
    for (uint64_t i = 0; i < n; i++) {
        stomp_result rc = stomp_send(conn, "/queue/bench", body, body_bytes, "text/plain", headers, 2);
        if (rc != STOMP_OK) check(rc, "stomp_send");
    }
    close_connection(conn); /* waits for the RECEIPT: the fixture has read every frame */
    double t1 = now_s(), c1 = cpu_s();
    print_result("libstomp", "publish", n, t1 - t0, c1 - c0);
    free(body);
}

static void run_receive(uint16_t port, uint64_t n, int pull) {
    static counter_t counter;
    atomic_init(&counter.count, 0);
    counter.post_at = n;
    sem_init(&counter.sem, 0, 0);
    stomp_connection *conn = open_connection(port, pull ? RECEIVE_QUEUE : 0, pull ? NULL : &counter);
    double t0 = now_s(), c0 = cpu_s();
    CHECK(stomp_subscribe(conn, "/queue/bench", "0", STOMP_ACK_AUTO, NULL, 0));
    if (pull) {
        for (uint64_t i = 0; i < n; i++) {
            stomp_frame *f = NULL;
            stomp_result rc = stomp_receive(conn, 30000, &f);
            if (rc != STOMP_OK) check(rc, "stomp_receive");
            stomp_frame_free(f);
        }
    } else {
        while (sem_wait(&counter.sem) != 0) {
        }
    }
    double t1 = now_s(), c1 = cpu_s();
    print_result("libstomp", pull ? "receive-pull" : "receive-callback", n, t1 - t0, c1 - c0);
    close_connection(conn);
    sem_destroy(&counter.sem);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run_rtt(uint16_t port, uint64_t n, size_t body_bytes, uint64_t warmup, int pull) {
    static counter_t counter;
    atomic_init(&counter.count, 0);
    counter.post_at = 0;
    sem_init(&counter.sem, 0, 0);
    char *body = make_body(body_bytes);
    stomp_connection *conn = open_connection(port, pull ? 16 : 0, pull ? NULL : &counter);
    /* A queue of our own that RabbitMQ drops when we leave: nothing left over between runs. */
    char queue[128];
    snprintf(queue, sizeof queue, "/queue/libstomp-bench-rtt-%ld", (long)getpid());
    const stomp_header sub_headers[2] = {{"durable", "false"}, {"auto-delete", "true"}};
    CHECK(stomp_subscribe(conn, queue, "0", STOMP_ACK_AUTO, sub_headers, 2));
    double *rtt = malloc(sizeof(double) * (n > 0 ? n : 1));
    if (rtt == NULL) die("out of memory");
    double t0 = 0, c0 = 0;
    for (uint64_t i = 0; i < warmup + n; i++) {
        if (i == warmup) {
            t0 = now_s();
            c0 = cpu_s();
        }
        double s = now_s();
        CHECK(stomp_send(conn, queue, body, body_bytes, "text/plain", NULL, 0));
        if (pull) {
            stomp_frame *f = NULL;
            CHECK(stomp_receive(conn, 10000, &f));
            stomp_frame_free(f);
        } else {
            while (sem_wait(&counter.sem) != 0) {
            }
        }
        if (i >= warmup) rtt[i - warmup] = now_s() - s;
    }
    double t1 = now_s(), c1 = cpu_s();
    qsort(rtt, n, sizeof(double), cmp_double);
    const char *mode = pull ? "rtt-pull" : "rtt-callback";
    printf("libstomp %s %llu %.6f %.0f %.6f %.1f %.1f\n", mode, (unsigned long long)n, t1 - t0,
           (double)n / (t1 - t0), c1 - c0, rtt[n / 2] * 1e6, rtt[(n * 99) / 100] * 1e6);
    fflush(stdout);
    close_connection(conn);
    free(rtt);
    free(body);
    sem_destroy(&counter.sem);
}

static void run_broker_pubsub(uint16_t port, uint64_t n, size_t body_bytes) {
    static counter_t counter;
    atomic_init(&counter.count, 0);
    counter.post_at = n;
    sem_init(&counter.sem, 0, 0);
    char *body = make_body(body_bytes);
    stomp_connection *sub = open_connection(port, 0, &counter);
    stomp_connection *pub = open_connection(port, 0, NULL);
    char queue[128];
    snprintf(queue, sizeof queue, "/queue/libstomp-bench-pubsub-%ld", (long)getpid());
    const stomp_header sub_headers[3] = {
        {"durable", "false"}, {"auto-delete", "true"}, {"receipt", "bench-sub"}};
    CHECK(stomp_subscribe(sub, queue, "0", STOMP_ACK_AUTO, sub_headers, 3));
    CHECK(stomp_wait_receipt(sub, "bench-sub", 10000)); /* the queue exists before the first SEND */
    /* SEND to /queue/ would declare the queue again, which RabbitMQ refuses for an auto-delete
     * (exclusive) one; /amq/queue/ publishes to the existing queue without declaring it. */
    char send_to[160];
    snprintf(send_to, sizeof send_to, "/amq/queue/%s", queue + strlen("/queue/"));
    double t0 = now_s(), c0 = cpu_s();
    for (uint64_t i = 0; i < n; i++) {
        stomp_result rc = stomp_send(pub, send_to, body, body_bytes, "text/plain", NULL, 0);
        if (rc != STOMP_OK) check(rc, "stomp_send");
    }
    while (sem_wait(&counter.sem) != 0) {
    }
    double t1 = now_s(), c1 = cpu_s();
    print_result("libstomp", "broker-pubsub", n, t1 - t0, c1 - c0);
    close_connection(pub);
    close_connection(sub);
    free(body);
    sem_destroy(&counter.sem);
}

/* A "Name:   value kB" line of /proc/self/status, in KiB. */

static void run_large(uint16_t port, uint64_t n, size_t body_bytes, int publish) {
    static counter_t counter;
    atomic_init(&counter.count, 0);
    counter.post_at = n;
    sem_init(&counter.sem, 0, 0);
    max_body = (size_t)1 << 30;
    long rss0 = proc_status_kib("VmRSS");
    char *body = publish ? make_body(body_bytes) : NULL; /* the application's copy counts */
    stomp_connection *conn = open_connection(port, 0, publish ? NULL : &counter);
    double t0 = now_s(), c0 = cpu_s();
    if (publish) {
        for (uint64_t i = 0; i < n; i++) {
            stomp_result rc = stomp_send(conn, "/queue/bench", body, body_bytes, "application/octet-stream", NULL, 0);
            if (rc != STOMP_OK) check(rc, "stomp_send");
        }
        close_connection(conn); /* waits for the RECEIPT: the fixture has read every frame */
    } else {
        CHECK(stomp_subscribe(conn, "/queue/bench", "0", STOMP_ACK_AUTO, NULL, 0));
        while (sem_wait(&counter.sem) != 0) {
        }
    }
    double t1 = now_s(), c1 = cpu_s();
    if (!publish) close_connection(conn);
    long peak = proc_status_kib("VmHWM") - rss0;
    /* body_bytes is the receive side's too: bench.sh passes it for the copies figure. */
    printf("libstomp %s %llu %.6f %.3f %.6f %ld %.2f\n", publish ? "large-publish" : "large-receive",
           (unsigned long long)n, t1 - t0, (double)n / (t1 - t0), c1 - c0, peak,
           (double)peak * 1024.0 / (double)body_bytes);
    fflush(stdout);
    free(body);
    sem_destroy(&counter.sem);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODE PORT N [BODY_BYTES [WARMUP]]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    uint16_t port = (uint16_t)parse_count(argv[2], "port");
    uint64_t n = parse_count(argv[3], "N");
    size_t body_bytes = argc > 4 ? (size_t)parse_count(argv[4], "BODY_BYTES") : 100;
    uint64_t warmup = argc > 5 ? parse_count(argv[5], "WARMUP") : 1000;
    if (n == 0) die("N must be at least 1");
    if (strcmp(mode, "publish") == 0) run_publish(port, n, body_bytes);
    else if (strcmp(mode, "receive-callback") == 0) run_receive(port, n, 0);
    else if (strcmp(mode, "receive-pull") == 0) run_receive(port, n, 1);
    else if (strcmp(mode, "rtt-callback") == 0) run_rtt(port, n, body_bytes, warmup, 0);
    else if (strcmp(mode, "rtt-pull") == 0) run_rtt(port, n, body_bytes, warmup, 1);
    else if (strcmp(mode, "broker-pubsub") == 0) run_broker_pubsub(port, n, body_bytes);
    else if (strcmp(mode, "large-publish") == 0) run_large(port, n, body_bytes, 1);
    else if (strcmp(mode, "large-receive") == 0) run_large(port, n, body_bytes, 0);
    else die("unknown mode");
    return 0;
}
