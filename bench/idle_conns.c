/*
 * idle_conns.c - issue 8's "10,000 idle connections" figure: many libstomp connections to a real
 * RabbitMQ with 1 s heart-beats both ways, held idle.
 *
 *   idle_conns PORT [N [HOLD_S]]      (defaults: N from BENCH_IDLE_N or 10000, HOLD_S from
 *                                      BENCH_IDLE_HOLD or 120)
 *
 * Raises RLIMIT_NOFILE to the hard limit, opens N connections at once (stomp_connect without wait;
 * main waits for every on_connected, or a failure, with an overall deadline), holds them idle for
 * HOLD_S seconds, then disconnects and frees them all. Prints one line:
 *
 *   libstomp idle N connect_s threads_besides_main rss_kib_per_conn cpu_pct_of_one_core
 *       hb_timeouts disconnects_during_hold failed_connects max_threads_during_hold
 *
 * threads: /proc/self/task at the end of the hold, minus the caller's (main) thread. RSS: VmRSS
 * after all connected minus before the first connection, over the connections made (N if all). CPU: getrusage (whole process)
 * over the hold, over the hold's wall time. Heart-beat timeouts and disconnects are counted by
 * the listener during the hold (both should be 0).
 */
#include "bench_util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <stomp.h>

#define CONNECT_DEADLINE_S 60.0 /* twice the target: enough to tell, and bounds the run */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static uint64_t connected, failed; /* under mu */
static atomic_uint_fast64_t hb_timeouts, disconnects;

static void on_connected(void *ud, const stomp_frame *f) {
    (void)ud;
    (void)f;
    pthread_mutex_lock(&mu);
    connected++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_disconnected(void *ud) {
    (void)ud;
    atomic_fetch_add(&disconnects, 1);
}

static void on_heartbeat_timeout(void *ud) {
    (void)ud;
    atomic_fetch_add(&hb_timeouts, 1);
}

/* The connection ended for good: before CONNECTED, that is a failed connect. */
static void on_receiver_loop_completed(void *ud) {
    atomic_bool *was_connected = ud;
    if (atomic_load(was_connected)) return;
    pthread_mutex_lock(&mu);
    failed++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_connected_mark(void *ud, const stomp_frame *f) {
    atomic_store((atomic_bool *)ud, true);
    on_connected(ud, f);
}

/* A "Name:   value kB" line of /proc/self/status, in KiB. */

static int thread_count(void) {
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) die_errno("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#define DISCONNECT_THREADS 16

typedef struct {
    stomp_connection **conns;
    uint64_t from, to, failed;
} closer_t;

static void *closer(void *arg) {
    closer_t *c = arg;
    for (uint64_t i = c->from; i < c->to; i++) {
        if (stomp_is_connected(c->conns[i]) && stomp_disconnect(c->conns[i], NULL, 5000) != STOMP_OK)
            c->failed++;
        stomp_connection_free(c->conns[i]);
    }
    return NULL;
}

static uint64_t env_count(const char *name, uint64_t dflt) {
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? parse_count(v, name) : dflt;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [N [HOLD_S]]\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)parse_count(argv[1], "port");
    uint64_t n = argc > 2 ? parse_count(argv[2], "N") : env_count("BENCH_IDLE_N", 10000);
    uint64_t hold = argc > 3 ? parse_count(argv[3], "HOLD_S") : env_count("BENCH_IDLE_HOLD", 120);
    uint64_t hb_ms = env_count("BENCH_IDLE_HB_MS", 1000); /* heart-beats both ways; 0: none */
    if (n == 0) die("N must be at least 1");

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die_errno("getrlimit");
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die_errno("setrlimit");
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 64) {
        fprintf(stderr, "idle_conns: fd limit %llu is too low for %llu connections\n",
                (unsigned long long)rl.rlim_cur, (unsigned long long)n);
        return 2;
    }

    stomp_connection **conns = calloc(n, sizeof *conns);
    atomic_bool *marks = calloc(n, sizeof *marks);
    if (conns == NULL || marks == NULL) die("out of memory");
    stomp_options *o = stomp_options_new();
    if (o == NULL || stomp_options_add_host(o, "127.0.0.1", port) != STOMP_OK ||
        stomp_options_set_vhost(o, "/") != STOMP_OK ||
        stomp_options_set_heartbeats(o, (uint32_t)hb_ms, (uint32_t)hb_ms) != STOMP_OK ||
        stomp_options_set_connect_timeout(o, 60000) != STOMP_OK)
        die("options");

    long rss0 = proc_status_kib("VmRSS");
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        atomic_init(&marks[i], false);
        conns[i] = stomp_connection_new(o);
        if (conns[i] == NULL) die(stomp_last_error());
        stomp_listener l = STOMP_LISTENER_INIT;
        l.user_data = &marks[i];
        l.on_connected = on_connected_mark;
        l.on_disconnected = on_disconnected;
        l.on_heartbeat_timeout = on_heartbeat_timeout;
        l.on_receiver_loop_completed = on_receiver_loop_completed;
        if (stomp_set_listener(conns[i], "idle", &l) != STOMP_OK) die(stomp_last_error());
        stomp_result rc = stomp_connect(conns[i], "guest", "guest", NULL, 0, false);
        if (rc != STOMP_OK) {
            fprintf(stderr, "idle_conns: stomp_connect #%llu: %s (%s)\n", (unsigned long long)i,
                    stomp_strerror(rc), stomp_last_error());
            return 1;
        }
    }
    stomp_options_free(o);

    /* Wait for all CONNECTED (or failures), up to the deadline. */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)CONNECT_DEADLINE_S;
    pthread_mutex_lock(&mu);
    double next_report = now_s() + 10.0;
    while (connected + failed < n) {
        struct timespec step;
        clock_gettime(CLOCK_REALTIME, &step);
        step.tv_sec += 1;
        if (step.tv_sec > dl.tv_sec) step = dl;
        int rc = pthread_cond_timedwait(&cv, &mu, &step);
        if (now_s() >= next_report) {
            fprintf(stderr, "idle_conns: %.0f s: %llu connected, %llu failed\n", now_s() - t0,
                    (unsigned long long)connected, (unsigned long long)failed);
            next_report += 10.0;
        }
        if (rc == ETIMEDOUT && step.tv_sec == dl.tv_sec) break;
    }
    uint64_t ok = connected, bad = failed;
    pthread_mutex_unlock(&mu);
    double connect_s = now_s() - t0;
    long rss1 = proc_status_kib("VmRSS");
    fprintf(stderr, "idle_conns: %llu connected, %llu failed in %.2f s; RSS %ld -> %ld KiB\n",
            (unsigned long long)ok, (unsigned long long)bad, connect_s, rss0, rss1);
    if (ok < n) {
        fprintf(stderr, "idle_conns: only %llu of %llu connected (%llu failed)\n",
                (unsigned long long)ok, (unsigned long long)n, (unsigned long long)bad);
    }

    /* Idle. Sample the thread count every second; report the last one and the highest. */
    uint64_t hb0 = atomic_load(&hb_timeouts), dc0 = atomic_load(&disconnects);
    double h0 = now_s(), c0 = cpu_s();
    int threads = thread_count(), max_threads = threads;
    while (now_s() - h0 < (double)hold) {
        double left = (double)hold - (now_s() - h0);
        sleep_s(left < 1.0 ? left : 1.0);
        threads = thread_count();
        if (threads > max_threads) max_threads = threads;
    }
    double h1 = now_s(), c1 = cpu_s();
    uint64_t hb = atomic_load(&hb_timeouts) - hb0, dc = atomic_load(&disconnects) - dc0;
    double cpu_pct = (c1 - c0) / (h1 - h0) * 100.0;
    fprintf(stderr, "idle_conns: held %.1f s: %d threads (max %d), CPU %.2f %%, %llu heart-beat "
            "timeouts, %llu disconnects\n", h1 - h0, threads, max_threads, cpu_pct,
            (unsigned long long)hb, (unsigned long long)dc);

    /* Disconnect all: each stomp_disconnect waits for its RECEIPT, so a few threads share them. */
    double d0 = now_s();
    pthread_t th[DISCONNECT_THREADS];
    closer_t cl[DISCONNECT_THREADS];
    for (int t = 0; t < DISCONNECT_THREADS; t++) {
        cl[t] = (closer_t){conns, n * (uint64_t)t / DISCONNECT_THREADS,
                           n * (uint64_t)(t + 1) / DISCONNECT_THREADS, 0};
        if (pthread_create(&th[t], NULL, closer, &cl[t]) != 0) die("pthread_create");
    }
    uint64_t timeouts = 0;
    for (int t = 0; t < DISCONNECT_THREADS; t++) {
        pthread_join(th[t], NULL);
        timeouts += cl[t].failed;
    }
    fprintf(stderr, "idle_conns: disconnected and freed all in %.2f s (%llu failed)\n",
            now_s() - d0, (unsigned long long)timeouts);
    free(conns);
    free(marks);

    printf("libstomp idle %llu %.3f %d %.2f %.3f %llu %llu %llu %d\n", (unsigned long long)n,
           connect_s, threads - 1, (double)(rss1 - rss0) / (double)(ok > 0 ? ok : 1), cpu_pct,
           (unsigned long long)hb, (unsigned long long)dc, (unsigned long long)(n - ok),
           max_threads - 1);
    fflush(stdout);
    return 0; /* a shortfall is in the line (failed_connects), not an error */
}
