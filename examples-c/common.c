/* common.c - see common.h. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void example_fail(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fputs("FAILED: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void example_check(stomp_result rc, const char *what) {
    if (rc != STOMP_OK) {
        example_fail("%s: %s (%s)", what, stomp_strerror(rc), stomp_last_error());
    }
}

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v ? v : fallback;
}

void example_init(example_env *env) {
    setvbuf(stdout, NULL, _IOLBF, 0);

    env->server = env_or("STOMP_SERVER", "127.0.0.1");
    env->user = env_or("STOMP_USER", "guest");
    env->password = env_or("STOMP_PASSWORD", "guest");
    env->vhost = env_or("STOMP_VHOST", "/");
    if (env->vhost[0] == '\0') {
        env->vhost = NULL;
    }

    const char *port = env_or("STOMP_PORT", "61613");
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 1 || p > 65535) {
        example_fail("STOMP_PORT=%s is not a port number", port);
    }
    env->port = (uint16_t)p;

    const char *version = env_or("STOMP_VERSION", "1.2");
    if (strcmp(version, "1.0") == 0) {
        env->version = STOMP_VERSION_1_0;
    } else if (strcmp(version, "1.1") == 0) {
        env->version = STOMP_VERSION_1_1;
    } else if (strcmp(version, "1.2") == 0) {
        env->version = STOMP_VERSION_1_2;
    } else {
        example_fail("STOMP_VERSION=%s: use 1.0, 1.1 or 1.2", version);
    }
}

stomp_options *example_options(const example_env *env) {
    stomp_options *opts = stomp_options_new();
    if (opts == NULL) {
        example_fail("stomp_options_new: %s", stomp_last_error());
    }
    CHECK(stomp_options_add_host(opts, env->server, env->port));
    CHECK(stomp_options_set_vhost(opts, env->vhost));
    CHECK(stomp_options_set_version(opts, env->version));
    return opts;
}

stomp_connection *example_connection_from(stomp_options *opts) {
    stomp_connection *conn = stomp_connection_new(opts); /* copies the options */
    stomp_options_free(opts);
    if (conn == NULL) {
        example_fail("stomp_connection_new: %s", stomp_last_error());
    }
    return conn;
}

stomp_connection *example_connection(const example_env *env) {
    return example_connection_from(example_options(env));
}

void example_connect(stomp_connection *conn, const example_env *env) {
    stomp_result rc = stomp_connect(conn, env->user, env->password, NULL, 0, true);
    if (rc != STOMP_OK) {
        example_fail("cannot connect to %s:%u: %s (%s)", env->server, (unsigned)env->port,
                     stomp_strerror(rc), stomp_last_error());
    }
}

void example_require_broker(stomp_connection *conn, const char *broker, const char *why) {
    stomp_frame *connected;
    CHECK(stomp_connected_frame(conn, &connected));
    const char *server = stomp_frame_header(connected, "server");
    bool ok = server != NULL && strstr(server, broker) != NULL;
    if (!ok) {
        example_fail("this example needs %s (%s); the broker here is %s", broker, why,
                     server ? server : "unnamed");
    }
    stomp_frame_free(connected);
}

void example_unique(char *buf, size_t len, const char *kind, const char *name) {
    static int serial;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int n = snprintf(buf, len, "%s/examples-c.%s.%ld.%lld%03ld.%d", kind, name, (long)getpid(),
                     (long long)now.tv_sec, now.tv_nsec / 1000000, ++serial);
    if (n < 0 || (size_t)n >= len) {
        example_fail("destination name for %s does not fit in %zu bytes", name, len);
    }
}

void example_force_disconnect(stomp_connection *conn) {
    char destination[256];
    example_unique(destination, sizeof destination, "/exchange", "no-such-exchange");
    CHECK(stomp_send(conn, destination, "x", 1, NULL, NULL, 0));
}

uint16_t example_refusing_port(const char *ip) {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    memset(&addr, 0, sizeof addr);
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        addr_len = sizeof *a6;
        if (inet_pton(AF_INET6, ip, &a6->sin6_addr) != 1) {
            example_fail("%s is not an IPv6 address", ip);
        }
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        addr_len = sizeof *a4;
        if (inet_pton(AF_INET, ip, &a4->sin_addr) != 1) {
            example_fail("%s is not an IPv4 address", ip);
        }
    }
    int fd = socket(addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, addr_len) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
        /* No such address family here: any port fails to connect, which is all we need. */
        if (fd >= 0) {
            close(fd);
        }
        return 9;
    }
    /* Deliberately never closed nor listened on: connecting to it is refused until we exit. */
    return ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                            : ((struct sockaddr_in *)&addr)->sin_port);
}

const char *example_body(const stomp_frame *frame, char *buf, size_t len) {
    size_t body_len = 0;
    const uint8_t *body = stomp_frame_body(frame, &body_len);
    if (len == 0) {
        return buf;
    }
    if (body_len >= len) {
        body_len = len - 1;
    }
    if (body_len > 0) {
        memcpy(buf, body, body_len);
    }
    buf[body_len] = '\0';
    return buf;
}

void example_counter_init(example_counter *c) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* immune to wall-clock jumps */
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->changed, &attr);
    pthread_condattr_destroy(&attr);
    c->value = 0;
}

void example_counter_destroy(example_counter *c) {
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
}

int example_counter_add(example_counter *c, int n) {
    pthread_mutex_lock(&c->lock);
    c->value += n;
    int v = c->value;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    return v;
}

int example_counter_get(example_counter *c) {
    pthread_mutex_lock(&c->lock);
    int v = c->value;
    pthread_mutex_unlock(&c->lock);
    return v;
}

bool example_counter_wait(example_counter *c, int target, uint32_t timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    while (c->value < target && rc == 0) {
        rc = pthread_cond_timedwait(&c->changed, &c->lock, &deadline);
    }
    bool reached = c->value >= target;
    pthread_mutex_unlock(&c->lock);
    return reached;
}

void example_sleep_ms(uint32_t ms) {
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}
