/*
 * common.h - the little that every example shares: settings from the environment, error checks,
 * unique destination names, and a counter that callbacks signal and the main thread waits on.
 *
 * Environment (MCollective's names, see README.md):
 *   STOMP_SERVER    broker address        (default 127.0.0.1)
 *   STOMP_PORT      broker STOMP port     (default 61613, RabbitMQ; ActiveMQ here is 61623)
 *   STOMP_USER      login                 (default guest)
 *   STOMP_PASSWORD  passcode              (default guest)
 *   STOMP_VHOST     the `host` header     (default "/", which RabbitMQ needs; empty: none)
 *   STOMP_VERSION   1.0, 1.1 or 1.2       (default 1.2; examples about versions choose their own)
 */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

/* pthread_condattr_setclock, clock_gettime, nanosleep under -std=c11. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stomp.h>

typedef struct {
    const char *server;
    uint16_t port;
    const char *user;
    const char *password;
    const char *vhost; /* NULL: send no host header (STOMP_VHOST set to "") */
    stomp_version version;
} example_env;

/* Reads the environment into `env` (exits with a message on a bad value) and makes standard output
 * line-buffered, so that our lines and the library's PrintingListener lines come out in order. */
void example_init(example_env *env);

/* New options for `env`: its server and port, vhost and version. Free with stomp_options_free. */
stomp_options *example_options(const example_env *env);

/* A connection from example_options(env), not yet connected. */
stomp_connection *example_connection(const example_env *env);

/* A connection from `opts`, which it frees (the connection keeps a copy); exits on failure. */
stomp_connection *example_connection_from(stomp_options *opts);

/* Connects with env's login and waits for CONNECTED; exits with the reason on failure. */
void example_connect(stomp_connection *conn, const example_env *env);

/* Exits with a message unless the connected broker's `server` header names `broker` ("RabbitMQ"):
 * for examples that rely on what one broker does. `why` says what. */
void example_require_broker(stomp_connection *conn, const char *broker, const char *why);

/* Exits with status 1 after "FAILED: <what>: <error text> (<detail>)" unless rc is STOMP_OK. */
void example_check(stomp_result rc, const char *what);
#define CHECK(call) example_check((call), #call)

/* Prints "FAILED: <message>" to standard error and exits with status 1. */
void example_fail(const char *fmt, ...);

/* Makes RabbitMQ drop this connection, for real: a SEND to an exchange that does not exist is a
 * channel error, which RabbitMQ answers with an ERROR (message:not_found) and by closing the
 * connection. Deterministic, and only a SEND, so nothing repeats it after a reconnect. RabbitMQ only
 * (ActiveMQ has no such error). */
void example_force_disconnect(stomp_connection *conn);

/* Writes "<kind>/examples-c.<name>.<pid>.<time>" (kind "/queue", "/topic", ...) to buf: a
 * destination no other run uses, so runs never see each other's messages. */
void example_unique(char *buf, size_t len, const char *kind, const char *name);

/* A port on `ip` ("127.0.0.1" or "::1") that refuses connections: a socket bound to it and never
 * listening, kept open until exit so nothing else can take it. For failover examples. */
uint16_t example_refusing_port(const char *ip);

/* The body of a frame as a NUL-terminated copy in buf (cut to fit). Returns buf. */
const char *example_body(const stomp_frame *frame, char *buf, size_t len);

/* A count that callbacks raise and the main thread waits on: a mutex and a condition variable. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int value;
} example_counter;

void example_counter_init(example_counter *c);
void example_counter_destroy(example_counter *c);
/* Adds `n` and wakes the waiters; returns the new value. Safe from callbacks. */
int example_counter_add(example_counter *c, int n);
int example_counter_get(example_counter *c);
/* Waits until the value is at least `target`, up to `timeout_ms`; returns whether it got there. */
bool example_counter_wait(example_counter *c, int target, uint32_t timeout_ms);

/* Sleeps: to simulate slow work or to pause between retries, never to wait for an event. */
void example_sleep_ms(uint32_t ms);

#endif /* EXAMPLES_COMMON_H */
