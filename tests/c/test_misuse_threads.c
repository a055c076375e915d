/*
 * test_misuse_threads: one connection shared by 9 threads at once (RabbitMQ, STOMP 1.2).
 * 8 threads send MSGS messages each to a queue the connection is subscribed to ("stable"), while a
 * ninth subscribes to and unsubscribes from another queue as fast as it can, and the main thread
 * waits. Every send and every (un)subscribe must succeed, and every message sent to the stable
 * subscription must arrive exactly once, each sender's messages in the order sent.
 * Also built for ThreadSanitizer (build/c-tsan).
 */
#include "test_util.h"

#define SENDERS 8
#define MSGS 250

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char seen[SENDERS][MSGS]; /* times each message arrived */
    int next[SENDERS];                 /* the sequence number expected next from each sender */
    int total, duplicates, out_of_order, foreign;
    int churned; /* messages of the churning subscriptions (the warm-up), not counted above */
} tally;

typedef struct {
    stomp_connection *conn;
    const char *queue;
    int index;
    stomp_result failed; /* the first failure, or STOMP_OK */
    char error[160];
} sender;

typedef struct {
    stomp_connection *conn;
    const char *queue;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started; /* the first cycle is done (or failed): the senders may start */
    int cycles;
    stomp_result failed;
    char error[160];
} churner;

static tally t;

static void on_message(void *ud, const stomp_frame *f) {
    char body[32];
    int who = -1, seq = -1;
    const char *sub = stomp_frame_header(f, "subscription");
    (void)ud;
    t_body_str(f, body, sizeof body);
    pthread_mutex_lock(&t.mu);
    if (sub == NULL || strcmp(sub, "stable") != 0) {
        t.churned++;
    } else if (sscanf(body, "s%d-%d", &who, &seq) != 2 || who < 0 || who >= SENDERS || seq < 0 || seq >= MSGS) {
        t.foreign++;
    } else {
        if (t.seen[who][seq]++ > 0) t.duplicates++;
        if (seq != t.next[who]) t.out_of_order++;
        t.next[who] = seq + 1;
        t.total++;
    }
    pthread_cond_broadcast(&t.cv);
    pthread_mutex_unlock(&t.mu);
}

static void *send_all(void *arg) {
    sender *s = arg;
    char body[32];
    int i;
    for (i = 0; i < MSGS; i++) {
        int n = snprintf(body, sizeof body, "s%d-%d", s->index, i);
        stomp_result rc = stomp_send(s->conn, s->queue, body, (size_t)n, "text/plain", NULL, 0);
        if (rc != STOMP_OK) {
            s->failed = rc;
            snprintf(s->error, sizeof s->error, "message %d: %s", i, stomp_last_error());
            break;
        }
    }
    return NULL;
}

static void *churn(void *arg) {
    churner *c = arg;
    char id[32];
    while (!atomic_load(&c->stop)) {
        stomp_result rc;
        snprintf(id, sizeof id, "churn-%d", c->cycles);
        rc = stomp_subscribe(c->conn, c->queue, id, STOMP_ACK_AUTO, NULL, 0);
        if (rc == STOMP_OK) rc = stomp_unsubscribe(c->conn, id, NULL, 0);
        if (rc != STOMP_OK) {
            c->failed = rc;
            snprintf(c->error, sizeof c->error, "cycle %d: %s", c->cycles, stomp_last_error());
        } else {
            c->cycles++;
        }
        if (c->cycles <= 1) {
            pthread_mutex_lock(&c->mu);
            c->started = true;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
        }
        if (rc != STOMP_OK) break;
    }
    return NULL;
}

typedef struct {
    int done, others;
} tally_goal;

static bool tally_reached(const void *arg) {
    const tally_goal *g = arg;
    return t.total >= g->done && t.foreign >= g->others;
}

/* Waits (up to ms) until `done` messages of the test arrived and `others` others. */
static bool wait_tally(int done, int others, uint32_t ms) {
    tally_goal g = {done, others};
    return t_wait(&t.mu, &t.cv, tally_reached, &g, ms);
}

int main(void) {
    broker b = t_rabbitmq();
    stomp_listener l = STOMP_LISTENER_INIT;
    stomp_connection *c;
    sender senders[SENDERS];
    churner ch;
    pthread_t th[SENDERS], churn_th;
    char q[128], q_churn[128];
    int i, missing = 0;
    int64_t t0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    t_sync_init(&t.mu, &t.cv);
    t_unique_queue(q, sizeof q, "threads");
    t_unique_queue(q_churn, sizeof q_churn, "threads-churn");
    l.on_message = on_message;

    t_section("%d threads send %d messages each on one connection while another (un)subscribes", SENDERS, MSGS);
    c = t_connect(&b, STOMP_VERSION_1_2, 0, &l);
    CHECK_OK(stomp_subscribe(c, q, "stable", STOMP_ACK_AUTO, NULL, 0));
    /* The subscription is in place at the broker before the first message: a receipt says so. */
    CHECK_OK(t_send_confirmed(c, q_churn, "warm-up", NULL, 0));

    memset(&ch, 0, sizeof ch);
    ch.conn = c;
    ch.queue = q_churn;
    atomic_init(&ch.stop, false);
    t_sync_init(&ch.mu, &ch.cv);
    t0 = t_now_ms();
    CHECK(pthread_create(&churn_th, NULL, churn, &ch) == 0);
    /* The senders start once the churn is under way (2000 sends can be over in milliseconds). */
    CHECK(t_wait(&ch.mu, &ch.cv, t_pred_flag, &ch.started, T_WAIT_MS));
    for (i = 0; i < SENDERS; i++) {
        memset(&senders[i], 0, sizeof senders[i]);
        senders[i].conn = c;
        senders[i].queue = q;
        senders[i].index = i;
        CHECK(pthread_create(&th[i], NULL, send_all, &senders[i]) == 0);
    }
    for (i = 0; i < SENDERS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    atomic_store(&ch.stop, true);
    CHECK(pthread_join(churn_th, NULL) == 0);
    printf("  sent %d messages from %d threads in %lld ms; %d subscribe/unsubscribe cycles meanwhile\n",
           SENDERS * MSGS, SENDERS, (long long)(t_now_ms() - t0), ch.cycles);

    for (i = 0; i < SENDERS; i++) {
        if (senders[i].failed != STOMP_OK) {
            t_fail(__FILE__, __LINE__, "sender %d: %s (%s)", i, stomp_strerror(senders[i].failed), senders[i].error);
        }
    }
    t_ok("every stomp_send of every thread returned STOMP_OK");
    if (ch.failed != STOMP_OK) t_fail(__FILE__, __LINE__, "churn: %s (%s)", stomp_strerror(ch.failed), ch.error);
    CHECK(ch.cycles > 0);

    /* Every message arrives: wait (with a deadline) for the count. Then one more message on the
     * same queue, which arrives after anything still in flight (a duplicate would be). */
    CHECK(wait_tally(SENDERS * MSGS, 0, 3 * T_WAIT_MS));
    CHECK_OK(t_send_confirmed(c, q, "last", NULL, 0));
    CHECK(wait_tally(SENDERS * MSGS, 1, T_WAIT_MS));
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));

    pthread_mutex_lock(&t.mu);
    for (i = 0; i < SENDERS * MSGS; i++) missing += t.seen[i / MSGS][i % MSGS] == 0;
    printf("  arrived %d, missing %d, duplicates %d, out of order %d, other %d\n", t.total, missing, t.duplicates,
           t.out_of_order, t.foreign);
    CHECK(missing == 0);
    CHECK(t.duplicates == 0);
    CHECK(t.total == SENDERS * MSGS);
    CHECK(t.out_of_order == 0);
    CHECK(t.foreign == 1);
    pthread_mutex_unlock(&t.mu);

    stomp_connection_free(c);
    pthread_cond_destroy(&ch.cv);
    pthread_mutex_destroy(&ch.mu);
    pthread_cond_destroy(&t.cv);
    pthread_mutex_destroy(&t.mu);
    return t_done("test_misuse_threads");
}
