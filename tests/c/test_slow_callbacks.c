/*
 * test_slow_callbacks BROKER: callbacks of one connection never wait for another's.
 * 32 connections each get one message whose on_message blocks (until the test opens a gate, 5 s at
 * most); once all 32 are inside on_message at once, a 33rd connection makes 20 round trips (send to
 * its own queue, hear it in on_message), and the worst must take no more than 50 ms.
 * STOMP_TEST_TIME_SCALE (set for the valgrind run, which serialises every thread) multiplies that
 * bound; it stays far below the 5 s the handlers block, so a stall behind them still fails.
 */
#include "test_util.h"

#define BLOCKED 32
#define ROUND_TRIPS 20
#define WORST_MS 50
#define BLOCK_MS 5000

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inside, most_inside, left_early;
    bool open;
    /* the probe */
    int heard;
    int64_t heard_ns;
} gate;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec in_ms(int64_t ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

static void blocked_on_message(void *ud, const stomp_frame *f) {
    gate *g = ud;
    struct timespec until = in_ms(BLOCK_MS);
    (void)f;
    pthread_mutex_lock(&g->mu);
    g->inside++;
    if (g->inside > g->most_inside) g->most_inside = g->inside;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &until) != 0) {
            g->left_early++;
            break;
        }
    }
    g->inside--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void probe_on_message(void *ud, const stomp_frame *f) {
    gate *g = ud;
    int64_t t = now_ns();
    (void)f;
    pthread_mutex_lock(&g->mu);
    g->heard++;
    g->heard_ns = t;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Connects with `l` and subscribes to a new queue (written to `queue`), confirmed by a receipt. */
static stomp_connection *subscribed(const broker *b, const stomp_listener *l, char *queue, size_t len) {
    stomp_header h = {"receipt", "subscribed"};
    stomp_connection *c = t_connect(b, STOMP_VERSION_1_2, 0, l);
    t_unique_queue(queue, len, "slow");
    if (stomp_subscribe(c, queue, NULL, STOMP_ACK_AUTO, &h, 1) != STOMP_OK ||
        stomp_wait_receipt(c, "subscribed", T_WAIT_MS) != STOMP_OK) {
        t_fail(__FILE__, __LINE__, "subscribing to %s failed", queue);
    }
    return c;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    static stomp_connection *conns[BLOCKED];
    static char queues[BLOCKED][128];
    char probe_q[128];
    int64_t delays[ROUND_TRIPS], sorted[ROUND_TRIPS];
    broker b;
    gate g;
    stomp_listener bl, pl;
    stomp_connection *probe;
    pthread_condattr_t a;
    struct timespec until;
    int i, inside, most_inside, left_early;

    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_broker_arg(argc > 1 ? argv[1] : NULL);
    memset(&g, 0, sizeof g);
    pthread_mutex_init(&g.mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&g.cv, &a);
    stomp_listener_init(&bl);
    bl.user_data = &g;
    bl.on_message = blocked_on_message;
    stomp_listener_init(&pl);
    pl.user_data = &g;
    pl.on_message = probe_on_message;

    t_section("%s: %d blocked handlers, round trips on one more connection", b.name, BLOCKED);
    for (i = 0; i < BLOCKED; i++) conns[i] = subscribed(&b, &bl, queues[i], sizeof queues[i]);
    probe = subscribed(&b, &pl, probe_q, sizeof probe_q);
    for (i = 0; i < BLOCKED; i++) CHECK_OK(stomp_send(conns[i], queues[i], "block", 5, NULL, NULL, 0));

    until = in_ms(T_WAIT_MS);
    pthread_mutex_lock(&g.mu);
    while (g.inside < BLOCKED && pthread_cond_timedwait(&g.cv, &g.mu, &until) == 0) {
    }
    inside = g.inside;
    pthread_mutex_unlock(&g.mu);
    CHECK(inside == BLOCKED);

    for (i = 0; i < ROUND_TRIPS; i++) {
        int64_t sent;
        int want = i + 1;
        sent = now_ns();
        if (stomp_send(probe, probe_q, "probe", 5, NULL, NULL, 0) != STOMP_OK) {
            t_fail(__FILE__, __LINE__, "probe send %d failed", i);
        }
        until = in_ms(T_WAIT_MS);
        pthread_mutex_lock(&g.mu);
        while (g.heard < want && pthread_cond_timedwait(&g.cv, &g.mu, &until) == 0) {
        }
        if (g.heard < want) t_fail(__FILE__, __LINE__, "round trip %d: no message within %u ms", i, T_WAIT_MS);
        delays[i] = g.heard_ns - sent;
        pthread_mutex_unlock(&g.mu);
    }

    pthread_mutex_lock(&g.mu);
    inside = g.inside;
    most_inside = g.most_inside;
    left_early = g.left_early;
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);

    memcpy(sorted, delays, sizeof delays);
    qsort(sorted, ROUND_TRIPS, sizeof sorted[0], cmp_i64);
    printf("  %d round trips while %d handlers were blocked: p50 %.3f ms, max %.3f ms\n", ROUND_TRIPS,
           inside, (double)sorted[ROUND_TRIPS / 2] / 1e6, (double)sorted[ROUND_TRIPS - 1] / 1e6);
    CHECK(inside == BLOCKED);      /* all still blocked at the end of the probe */
    CHECK(most_inside == BLOCKED);
    CHECK(left_early == 0);
    {
        const char *scale_env = getenv("STOMP_TEST_TIME_SCALE");
        int64_t scale = scale_env ? atoll(scale_env) : 1;
        if (scale < 1) scale = 1;
        CHECK(WORST_MS * scale < BLOCK_MS);
        CHECK(sorted[ROUND_TRIPS - 1] <= (int64_t)WORST_MS * scale * 1000000);
    }

    for (i = 0; i < BLOCKED; i++) {
        CHECK_OK(stomp_disconnect(conns[i], NULL, T_WAIT_MS));
        stomp_connection_free(conns[i]);
    }
    CHECK_OK(stomp_disconnect(probe, NULL, T_WAIT_MS));
    stomp_connection_free(probe);
    pthread_cond_destroy(&g.cv);
    pthread_condattr_destroy(&a);
    pthread_mutex_destroy(&g.mu);
    return t_done("test_slow_callbacks");
}
