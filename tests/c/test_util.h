/*
 * test_util.h - what the C tests of libstomp share: checks that stop the test with file:line and
 * stomp_last_error(), the local brokers, unique destinations, a monotonic clock, and a recorder of
 * listener events that a test waits on with a condition variable (never a sleep).
 *
 * Every function is static: each test is one .c file including this header.
 */
#ifndef STOMP_TEST_UTIL_H
#define STOMP_TEST_UTIL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stomp.h>

/* ----------------------------------------------------------------------------------------------
 * Checks. A failed check prints where, what, and the calling thread's stomp_last_error(), then ends
 * the process at once with status 1 (_exit: no destructor may hang on a connection in a bad state).
 * A passed check prints one "ok" line, so that the output shows what was checked. */

static int t_checks;

static inline void t_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s:%d: FAILED: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n    stomp_last_error(): \"%s\"\n", stomp_last_error());
    fflush(stderr);
    _exit(1);
}

static inline void t_ok(const char *what) {
    t_checks++;
    printf("  ok  %s\n", what);
}

/* CHECK(condition) */
#define CHECK(cond)                                             \
    do {                                                        \
        if (cond) {                                             \
            t_ok(#cond);                                        \
        } else {                                                \
            t_fail(__FILE__, __LINE__, "%s", #cond);            \
        }                                                       \
    } while (0)

static inline void t_check_rc(stomp_result got, stomp_result want, const char *call, const char *want_text,
                              const char *file, int line) {
    char what[512];
    if (got != want) {
        t_fail(file, line, "%s returned %d (%s), expected %s (%d)", call, (int)got, stomp_strerror(got), want_text,
               (int)want);
    }
    snprintf(what, sizeof what, "%s == %s", call, want_text);
    t_ok(what);
}

/* CHECK_RC(call, expected stomp_result): the call returns exactly that code. Each macro stringifies
 * its own argument (not through another macro, which would expand T_PASSCODE into the output). */
#define CHECK_RC(call, want) t_check_rc((call), (want), #call, #want, __FILE__, __LINE__)

#define CHECK_OK(call) t_check_rc((call), STOMP_OK, #call, "STOMP_OK", __FILE__, __LINE__)

/* CHECK_STR(actual, expected): both non-NULL and equal. */
#define CHECK_STR(actual, expected)                                                              \
    do {                                                                                         \
        const char *t_a_ = (actual);                                                             \
        const char *t_e_ = (expected);                                                           \
        if (t_a_ != NULL && t_e_ != NULL && strcmp(t_a_, t_e_) == 0) {                           \
            t_ok(#actual " == " #expected);                                                      \
        } else {                                                                                 \
            t_fail(__FILE__, __LINE__, "%s is %s%s%s, expected \"%s\"", #actual, t_a_ ? "\"" : "", \
                   t_a_ ? t_a_ : "NULL", t_a_ ? "\"" : "", t_e_ ? t_e_ : "(NULL)");              \
        }                                                                                        \
    } while (0)

/* CHECK_CONTAINS(haystack, needle): haystack non-NULL and contains needle. */
#define CHECK_CONTAINS(hay, needle)                                                              \
    do {                                                                                         \
        const char *t_h_ = (hay);                                                                \
        const char *t_n_ = (needle);                                                             \
        if (t_h_ != NULL && strstr(t_h_, t_n_) != NULL) {                                        \
            t_ok(#hay " contains " #needle);                                                     \
        } else {                                                                                 \
            t_fail(__FILE__, __LINE__, "%s (%s) does not contain \"%s\"", #hay,                  \
                   t_h_ ? t_h_ : "NULL", t_n_);                                                  \
        }                                                                                        \
    } while (0)

static inline void t_section(const char *fmt, ...) {
    va_list ap;
    printf("\n== ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static inline int t_done(const char *name) {
    printf("\n%s: all %d checks passed\n", name, t_checks);
    fflush(stdout);
    return 0;
}

/* ----------------------------------------------------------------------------------------------
 * Time */

static inline int64_t t_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long the tests wait for what a working library does in milliseconds. */
#define T_WAIT_MS 10000u

/* A mutex and a condition variable that waits by CLOCK_MONOTONIC (what t_deadline gives). */
static inline void t_sync_init(pthread_mutex_t *mu, pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_mutex_init(mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

/* The CLOCK_MONOTONIC time `ms` from now, for pthread_cond_timedwait on a t_sync_init cv. */
static inline struct timespec t_deadline(uint32_t ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

/* Waits (up to ms) until pred(arg) holds, evaluated with `mu` held; `cv` (from t_sync_init) is
 * signalled when what it reads changes. Returns whether it holds. */
typedef bool (*t_pred)(const void *arg);
static inline bool t_wait(pthread_mutex_t *mu, pthread_cond_t *cv, t_pred pred, const void *arg, uint32_t ms) {
    struct timespec until = t_deadline(ms);
    bool ok;
    pthread_mutex_lock(mu);
    while (!(ok = pred(arg)) && pthread_cond_timedwait(cv, mu, &until) == 0) {
    }
    if (!ok) ok = pred(arg);
    pthread_mutex_unlock(mu);
    return ok;
}

static inline bool t_pred_flag(const void *flag) { return *(const bool *)flag; }

/* ----------------------------------------------------------------------------------------------
 * Brokers (started by scripts/broker.sh; ports overridable like the Rust tests'). */

typedef enum { BROKER_RABBITMQ, BROKER_ACTIVEMQ } broker_kind;

typedef struct {
    broker_kind kind;
    const char *name;
    uint16_t port;
} broker;

static inline uint16_t t_env_port(const char *var, uint16_t fallback) {
    const char *v = getenv(var);
    if (v != NULL && *v != '\0') {
        long p = strtol(v, NULL, 10);
        if (p > 0 && p < 65536) return (uint16_t)p;
    }
    return fallback;
}

static inline broker t_rabbitmq(void) {
    broker b = {BROKER_RABBITMQ, "rabbitmq", t_env_port("STOMP_RABBITMQ_PORT", 61613)};
    return b;
}

static inline broker t_activemq(void) {
    broker b = {BROKER_ACTIVEMQ, "activemq", t_env_port("STOMP_ACTIVEMQ_PORT", 61623)};
    return b;
}

/* "rabbitmq" or "activemq" */
static inline broker t_broker_arg(const char *arg) {
    if (arg != NULL && strcmp(arg, "activemq") == 0) return t_activemq();
    if (arg != NULL && strcmp(arg, "rabbitmq") == 0) return t_rabbitmq();
    fprintf(stderr, "usage: test rabbitmq|activemq [10|11|12]\n");
    _exit(2);
}

/* "10", "11" or "12" (default 12) */
static inline stomp_version t_version_arg(const char *arg) {
    if (arg == NULL || strcmp(arg, "12") == 0) return STOMP_VERSION_1_2;
    if (strcmp(arg, "11") == 0) return STOMP_VERSION_1_1;
    if (strcmp(arg, "10") == 0) return STOMP_VERSION_1_0;
    fprintf(stderr, "bad version %s (10, 11 or 12)\n", arg);
    _exit(2);
}

static inline const char *t_version_str(stomp_version v) {
    switch (v) {
    case STOMP_VERSION_1_0: return "1.0";
    case STOMP_VERSION_1_1: return "1.1";
    case STOMP_VERSION_1_2: return "1.2";
    }
    return "?";
}

/* Options that work with `b` in `v`: RabbitMQ takes the host header as the vhost, so "/" it is. */
static inline stomp_options *t_options(const broker *b, stomp_version v, size_t receive_queue) {
    stomp_options *o = stomp_options_new();
    if (o == NULL) t_fail(__FILE__, __LINE__, "stomp_options_new returned NULL");
    if (stomp_options_add_host(o, "127.0.0.1", b->port) != STOMP_OK ||
        stomp_options_set_version(o, v) != STOMP_OK ||
        stomp_options_set_receive_queue(o, receive_queue) != STOMP_OK ||
        stomp_options_set_connect_timeout(o, 5000) != STOMP_OK ||
        stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, 1.0, 1) != STOMP_OK) {
        t_fail(__FILE__, __LINE__, "building the options failed");
    }
    if (b->kind == BROKER_RABBITMQ && stomp_options_set_vhost(o, "/") != STOMP_OK) {
        t_fail(__FILE__, __LINE__, "stomp_options_set_vhost failed");
    }
    return o;
}

/* A new connection to `b` in `v` (not yet connected), with `listener` (may be NULL) as "t". */
static inline stomp_connection *t_new_connection(const broker *b, stomp_version v, size_t receive_queue,
                                          const stomp_listener *listener) {
    stomp_options *o = t_options(b, v, receive_queue);
    stomp_connection *c = stomp_connection_new(o);
    stomp_options_free(o);
    if (c == NULL) t_fail(__FILE__, __LINE__, "stomp_connection_new returned NULL");
    if (listener != NULL && stomp_set_listener(c, "t", listener) != STOMP_OK) {
        t_fail(__FILE__, __LINE__, "stomp_set_listener failed");
    }
    return c;
}

/* The suite's credentials (tests/secret.env, made compile definitions by tests/c/CMakeLists.txt):
 * a RabbitMQ user of scripts/broker.sh with a distinctive passcode, which scripts/test.sh checks
 * never appears in the suite's output. ActiveMQ takes any credentials. */
#if !defined(T_LOGIN) || !defined(T_PASSCODE)
#error "T_LOGIN and T_PASSCODE come from tests/secret.env through tests/c/CMakeLists.txt"
#endif

/* Connects (waiting for CONNECTED) as T_LOGIN, or fails the test. */
static inline stomp_connection *t_connect(const broker *b, stomp_version v, size_t receive_queue,
                                   const stomp_listener *listener) {
    stomp_connection *c = t_new_connection(b, v, receive_queue, listener);
    stomp_result rc = stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true);
    if (rc != STOMP_OK) {
        t_fail(__FILE__, __LINE__, "connect to %s (STOMP %s, port %u): %s", b->name, t_version_str(v),
               (unsigned)b->port, stomp_strerror(rc));
    }
    return c;
}

/* A destination no other test or run uses: /queue/ctest-<pid>-<tag>-<n>. */
static inline void t_unique_queue(char *buf, size_t len, const char *tag) {
    static atomic_int n;
    snprintf(buf, len, "/queue/ctest-%ld-%s-%d", (long)getpid(), tag, atomic_fetch_add(&n, 1) + 1);
}

/* A unique receipt id. */
static inline void t_unique_receipt(char *buf, size_t len, const char *tag) {
    static atomic_int n;
    snprintf(buf, len, "rcpt-%ld-%s-%d", (long)getpid(), tag, atomic_fetch_add(&n, 1) + 1);
}

/* Sends `body` (text) with a receipt and waits for the receipt. */
static inline stomp_result t_send_confirmed(stomp_connection *c, const char *dest, const char *body,
                                     const stomp_header *extra, size_t n_extra) {
    char rid[96];
    stomp_header h[8];
    size_t i, n = 0;
    t_unique_receipt(rid, sizeof rid, "send");
    for (i = 0; i < n_extra && n < 7; i++) h[n++] = extra[i];
    h[n].name = "receipt";
    h[n].value = rid;
    n++;
    stomp_result rc = stomp_send(c, dest, body, strlen(body), "text/plain", h, n);
    if (rc != STOMP_OK) return rc;
    return stomp_wait_receipt(c, rid, T_WAIT_MS);
}

/* Whether the frame's body is exactly `len` bytes equal to `want`. */
static inline bool t_body_is(const stomp_frame *f, const void *want, size_t len) {
    size_t got_len = 12345;
    const uint8_t *got = stomp_frame_body(f, &got_len);
    if (got_len != len) return false;
    if (len == 0) return true;
    return got != NULL && memcmp(got, want, len) == 0;
}

static inline bool t_body_is_str(const stomp_frame *f, const char *want) {
    return t_body_is(f, want, strlen(want));
}

/* The body as a NUL-terminated copy (for messages), in `buf`. */
static inline const char *t_body_str(const stomp_frame *f, char *buf, size_t len) {
    size_t n = 0;
    const uint8_t *b = stomp_frame_body(f, &n);
    if (n >= len) n = len - 1;
    if (n > 0 && b != NULL) memcpy(buf, b, n);
    buf[n] = '\0';
    return buf;
}

/* Receives the next message (failing the test after T_WAIT_MS). The caller frees it. */
static inline stomp_frame *t_receive(stomp_connection *c, const char *file, int line) {
    stomp_frame *f = NULL;
    stomp_result rc = stomp_receive(c, T_WAIT_MS, &f);
    if (rc != STOMP_OK || f == NULL) {
        t_fail(file, line, "stomp_receive: %s (%d)", stomp_strerror(rc), (int)rc);
    }
    return f;
}
#define T_RECEIVE(c) t_receive((c), __FILE__, __LINE__)

/* ----------------------------------------------------------------------------------------------
 * A recorder of listener events: a log of event names (in the order the callbacks ran), cloned
 * frames, and a condition variable to wait for a state. */

#define REC_MAX_EVENTS 512
#define REC_MAX_FRAMES 256

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char events[REC_MAX_EVENTS][128];
    int n_events;
    stomp_frame *messages[REC_MAX_FRAMES]; /* clones of on_message frames */
    int n_messages;
    stomp_frame *errors[REC_MAX_FRAMES]; /* clones of on_error frames */
    int n_errors;
    int n_receipts;
    int n_connected, n_disconnected, n_loop_completed;
    atomic_int in_callback;   /* callbacks of this connection running now */
    atomic_int overlap;       /* times two ran at once */
    atomic_int on_main;       /* callbacks that ran on the main thread */
    pthread_t main_thread;
    bool record_sends;
} recorder;

static inline void rec_init(recorder *r) {
    memset(r, 0, sizeof *r);
    t_sync_init(&r->mu, &r->cv);
    atomic_init(&r->in_callback, 0);
    atomic_init(&r->overlap, 0);
    atomic_init(&r->on_main, 0);
    r->main_thread = pthread_self();
}

static inline void rec_destroy(recorder *r) {
    int i;
    for (i = 0; i < r->n_messages; i++) stomp_frame_free(r->messages[i]);
    for (i = 0; i < r->n_errors; i++) stomp_frame_free(r->errors[i]);
    r->n_messages = r->n_errors = 0;
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

static inline void rec_enter(recorder *r) {
    if (atomic_fetch_add(&r->in_callback, 1) != 0) atomic_fetch_add(&r->overlap, 1);
    if (pthread_equal(pthread_self(), r->main_thread)) atomic_fetch_add(&r->on_main, 1);
}

static inline void rec_leave(recorder *r) { atomic_fetch_sub(&r->in_callback, 1); }

/* Appends an event (under the lock) and wakes waiters. */
static inline void rec_event_locked(recorder *r, const char *fmt, ...) {
    va_list ap;
    if (r->n_events >= REC_MAX_EVENTS) return;
    va_start(ap, fmt);
    vsnprintf(r->events[r->n_events], sizeof r->events[0], fmt, ap);
    va_end(ap);
    r->n_events++;
}

static inline void rec_on_connecting(void *ud, const char *host, uint16_t port) {
    recorder *r = ud;
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "connecting %s:%u", host, (unsigned)port);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_connected(void *ud, const stomp_frame *f) {
    recorder *r = ud;
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "connected %s", stomp_frame_command(f) ? stomp_frame_command(f) : "(null)");
    r->n_connected++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_disconnecting(void *ud) {
    recorder *r = ud;
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "disconnecting");
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_disconnected(void *ud) {
    recorder *r = ud;
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "disconnected");
    r->n_disconnected++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_before_message(void *ud, const stomp_frame *f) {
    recorder *r = ud;
    char body[64];
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "before_message %s", t_body_str(f, body, sizeof body));
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_message(void *ud, const stomp_frame *f) {
    recorder *r = ud;
    char body[64];
    stomp_frame *copy = stomp_frame_clone(f);
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "message %s", t_body_str(f, body, sizeof body));
    if (r->n_messages < REC_MAX_FRAMES) {
        r->messages[r->n_messages++] = copy;
    } else {
        stomp_frame_free(copy);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_receipt(void *ud, const stomp_frame *f) {
    recorder *r = ud;
    const char *id = stomp_frame_header(f, "receipt-id");
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "receipt %s", id ? id : "(none)");
    r->n_receipts++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_error(void *ud, const stomp_frame *f) {
    recorder *r = ud;
    const char *m = stomp_frame_header(f, "message");
    stomp_frame *copy = stomp_frame_clone(f);
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "error %s", m ? m : "(no message)");
    if (r->n_errors < REC_MAX_FRAMES) {
        r->errors[r->n_errors++] = copy;
    } else {
        stomp_frame_free(copy);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_send(void *ud, const stomp_frame *f) {
    recorder *r = ud;
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    if (r->record_sends) {
        rec_event_locked(r, "send %s", stomp_frame_command(f) ? stomp_frame_command(f) : "(null)");
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static inline void rec_on_loop_completed(void *ud) {
    recorder *r = ud;
    rec_enter(r);
    pthread_mutex_lock(&r->mu);
    rec_event_locked(r, "loop_completed");
    r->n_loop_completed++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

/* A listener feeding `r` with every callback. */
static inline stomp_listener rec_listener(recorder *r) {
    stomp_listener l = STOMP_LISTENER_INIT;
    l.user_data = r;
    l.on_connecting = rec_on_connecting;
    l.on_connected = rec_on_connected;
    l.on_disconnecting = rec_on_disconnecting;
    l.on_disconnected = rec_on_disconnected;
    l.on_before_message = rec_on_before_message;
    l.on_message = rec_on_message;
    l.on_receipt = rec_on_receipt;
    l.on_error = rec_on_error;
    l.on_send = rec_on_send;
    l.on_receiver_loop_completed = rec_on_loop_completed;
    return l;
}

/* Waits (up to timeout_ms) until pred(r, arg) holds, with r->mu held while it is evaluated.
 * Returns whether it holds. */
typedef bool (*rec_pred)(const recorder *r, const void *arg);

static inline bool rec_wait(recorder *r, rec_pred pred, const void *arg, uint32_t timeout_ms) {
    struct timespec until = t_deadline(timeout_ms);
    bool ok;
    pthread_mutex_lock(&r->mu);
    while (!(ok = pred(r, arg))) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) != 0) {
            ok = pred(r, arg);
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

/* The index of the first event starting with `prefix` at or after `from`, or -1 (lock held or not
 * needed). */
static inline int rec_find_locked(const recorder *r, const char *prefix, int from) {
    int i;
    for (i = from < 0 ? 0 : from; i < r->n_events; i++) {
        if (strncmp(r->events[i], prefix, strlen(prefix)) == 0) return i;
    }
    return -1;
}

static inline int rec_find(recorder *r, const char *prefix, int from) {
    int i;
    pthread_mutex_lock(&r->mu);
    i = rec_find_locked(r, prefix, from);
    pthread_mutex_unlock(&r->mu);
    return i;
}

static inline bool rec_pred_event(const recorder *r, const void *prefix) { return rec_find_locked(r, prefix, 0) >= 0; }

static inline bool rec_pred_messages(const recorder *r, const void *n) { return r->n_messages >= *(const int *)n; }

/* Waits for an event starting with `prefix`. */
static inline bool rec_wait_event(recorder *r, const char *prefix, uint32_t timeout_ms) {
    return rec_wait(r, rec_pred_event, prefix, timeout_ms);
}

/* Waits until at least n messages were recorded. */
static inline bool rec_wait_messages(recorder *r, int n, uint32_t timeout_ms) {
    return rec_wait(r, rec_pred_messages, &n, timeout_ms);
}

static inline int rec_count(recorder *r, int *field) {
    int n;
    pthread_mutex_lock(&r->mu);
    n = *field;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static inline void rec_dump(recorder *r) {
    int i;
    pthread_mutex_lock(&r->mu);
    printf("  events (%d):\n", r->n_events);
    for (i = 0; i < r->n_events; i++) printf("    %2d %s\n", i, r->events[i]);
    pthread_mutex_unlock(&r->mu);
    fflush(stdout);
}

#endif /* STOMP_TEST_UTIL_H */
