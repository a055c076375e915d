/*
 * mcollective_connector.c - MCollective's STOMP connector settings, mapped onto this library:
 * the environment overrides, the failover pool with per-host credentials, the pool's reconnect
 * back-off, randomize and timeout, message priority and base64 bodies.
 *
 *   connector = stomp
 *   plugin.stomp.base64 = false
 *   plugin.stomp.pool.size = 2
 *   plugin.stomp.pool.host1 = stomp1      plugin.stomp.pool.port1 = 6163
 *   plugin.stomp.pool.user1 = me          plugin.stomp.pool.password1 = secret
 *   plugin.stomp.pool.host2 = stomp2      ...
 *   plugin.stomp.pool.initial_reconnect_delay = 0.01
 *   plugin.stomp.pool.max_reconnect_delay = 30.0
 *   plugin.stomp.pool.use_exponential_back_off = true
 *   plugin.stomp.pool.back_off_multiplier = 2
 *   plugin.stomp.pool.max_reconnect_attempts = 0
 *   plugin.stomp.pool.randomize = false
 *   plugin.stomp.pool.timeout = -1
 *   plugin.stomp.priority = 4
 *
 * Usage: mcollective_connector [client.cfg]
 *
 * Without a file it uses the configuration above with two changes so it runs here: host1 is a
 * loopback port that refuses connections (so the pool fails over, as with a dead stomp1) and host2
 * is STOMP_SERVER:STOMP_PORT. As the seed says, STOMP_USER and STOMP_PASSWORD override the
 * configured credentials (STOMP_SERVER and STOMP_PORT override plugin.stomp.host and .port).
 * plugin.stomp.heartbeat_interval (seconds) is not in the seed's gem 1.1.6 settings; it is what later
 * MCollective connectors call their heart-beat, shown because the library has heart-beats.
 *
 * It then sends one message the way the connector would (priority header, base64 body) and reads it
 * back.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POOL 8

typedef struct {
    char host[128];
    int port;
    char user[64];
    char password[64];
} pool_host;

typedef struct {
    bool base64;
    char host[128];
    int port;
    char user[64];
    char password[64];
    int priority; /* -1: no priority header */
    int pool_size;
    pool_host pool[MAX_POOL];
    double initial_reconnect_delay;
    double max_reconnect_delay;
    bool use_exponential_back_off;
    double back_off_multiplier;
    int max_reconnect_attempts;
    bool randomize;
    double timeout;
    int heartbeat_interval;
} connector_config;

/* The gem 1.1.6 defaults, as the seed lists them; port 6163 when none is given. */
static void config_defaults(connector_config *c) {
    memset(c, 0, sizeof *c);
    c->port = 6163;
    c->priority = -1;
    c->initial_reconnect_delay = 0.01;
    c->max_reconnect_delay = 30.0;
    c->use_exponential_back_off = true;
    c->back_off_multiplier = 2;
    c->max_reconnect_attempts = 0;
    c->randomize = false;
    c->timeout = -1;
    for (int i = 0; i < MAX_POOL; i++) {
        c->pool[i].port = 6163;
    }
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    return s;
}

static bool is_true(const char *v) {
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0;
}

static void copy(char *dst, size_t len, const char *src) {
    snprintf(dst, len, "%s", src);
}

/* One "key = value" line of client.cfg. Unknown keys are ignored, as MCollective does. */
static void config_set(connector_config *c, const char *key, const char *value) {
    const char *p = "plugin.stomp.";
    if (strncmp(key, p, strlen(p)) != 0) {
        return;
    }
    key += strlen(p);
    int n = 0;
    char field[32];
    if (sscanf(key, "pool.%31[a-z]%d", field, &n) == 2) { /* pool.host1, pool.port2, ... */
        if (n < 1 || n > MAX_POOL) {
            example_fail("plugin.stomp.%s: pool hosts are numbered 1 to %d", key, MAX_POOL);
        }
        pool_host *h = &c->pool[n - 1];
        if (strcmp(field, "host") == 0) {
            copy(h->host, sizeof h->host, value);
        } else if (strcmp(field, "port") == 0) {
            h->port = atoi(value);
        } else if (strcmp(field, "user") == 0) {
            copy(h->user, sizeof h->user, value);
        } else if (strcmp(field, "password") == 0) {
            copy(h->password, sizeof h->password, value);
        }
    } else if (strcmp(key, "pool.size") == 0) {
        c->pool_size = atoi(value);
    } else if (strcmp(key, "pool.initial_reconnect_delay") == 0) {
        c->initial_reconnect_delay = atof(value);
    } else if (strcmp(key, "pool.max_reconnect_delay") == 0) {
        c->max_reconnect_delay = atof(value);
    } else if (strcmp(key, "pool.use_exponential_back_off") == 0) {
        c->use_exponential_back_off = is_true(value);
    } else if (strcmp(key, "pool.back_off_multiplier") == 0) {
        c->back_off_multiplier = atof(value);
    } else if (strcmp(key, "pool.max_reconnect_attempts") == 0) {
        c->max_reconnect_attempts = atoi(value);
    } else if (strcmp(key, "pool.randomize") == 0) {
        c->randomize = is_true(value);
    } else if (strcmp(key, "pool.timeout") == 0) {
        c->timeout = atof(value);
    } else if (strcmp(key, "base64") == 0) {
        c->base64 = is_true(value);
    } else if (strcmp(key, "host") == 0) {
        copy(c->host, sizeof c->host, value);
    } else if (strcmp(key, "port") == 0) {
        c->port = atoi(value);
    } else if (strcmp(key, "user") == 0) {
        copy(c->user, sizeof c->user, value);
    } else if (strcmp(key, "password") == 0) {
        copy(c->password, sizeof c->password, value);
    } else if (strcmp(key, "priority") == 0) {
        c->priority = atoi(value);
    } else if (strcmp(key, "heartbeat_interval") == 0) {
        c->heartbeat_interval = atoi(value);
    }
}

static void config_parse(connector_config *c, char *text) {
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        line = trim(line);
        char *eq = strchr(line, '=');
        if (line[0] == '#' || eq == NULL) {
            continue;
        }
        *eq = '\0';
        config_set(c, trim(line), trim(eq + 1));
    }
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        example_fail("cannot open %s", path);
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    size_t n;
    while (text != NULL && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *bigger = realloc(text, cap *= 2);
            if (bigger == NULL) {
                free(text);
                text = NULL;
            } else {
                text = bigger;
            }
        }
    }
    fclose(f);
    if (text == NULL) {
        example_fail("out of memory reading %s", path);
    }
    text[len] = '\0';
    return text;
}

/* STOMP_SERVER, STOMP_PORT, STOMP_USER, STOMP_PASSWORD win over the file, as in MCollective. */
static void config_apply_environment(connector_config *c, const example_env *env) {
    if (getenv("STOMP_SERVER") != NULL) {
        copy(c->host, sizeof c->host, env->server);
    }
    if (getenv("STOMP_PORT") != NULL) {
        c->port = env->port;
    }
    /* Credentials: the environment's (example_init defaults them to guest/guest). */
    copy(c->user, sizeof c->user, env->user);
    copy(c->password, sizeof c->password, env->password);
    for (int i = 0; i < c->pool_size && i < MAX_POOL; i++) {
        copy(c->pool[i].user, sizeof c->pool[i].user, env->user);
        copy(c->pool[i].password, sizeof c->pool[i].password, env->password);
    }
}

/* The mapping itself: MCollective settings -> stomp_options. */
static stomp_options *connector_options(const connector_config *c, const example_env *env) {
    stomp_options *opts = stomp_options_new();
    if (c->pool_size > 0) {
        for (int i = 0; i < c->pool_size && i < MAX_POOL; i++) {
            const pool_host *h = &c->pool[i];
            CHECK(stomp_options_add_host_login(opts, h->host, (uint16_t)h->port, h->user, h->password));
            printf("pool host%d = %s:%d -> stomp_options_add_host_login (tried in order)\n", i + 1,
                   h->host, h->port);
        }
    } else {
        CHECK(stomp_options_add_host_login(opts, c->host, (uint16_t)c->port, c->user, c->password));
        printf("host = %s:%d -> stomp_options_add_host_login\n", c->host, c->port);
    }

    double sleep_increase = c->use_exponential_back_off ? c->back_off_multiplier - 1.0 : 0.0;
    int attempts_max = c->max_reconnect_attempts == 0 ? -1 : c->max_reconnect_attempts;
    CHECK(stomp_options_set_reconnect(opts, c->initial_reconnect_delay, sleep_increase, 0.0,
                                      c->max_reconnect_delay, attempts_max));
    printf("initial_reconnect_delay %.2f, back-off x%.1f%s, max_reconnect_delay %.1f, "
           "max_reconnect_attempts %d -> stomp_options_set_reconnect(%.2f, %.1f, 0.0, %.1f, %d)\n",
           c->initial_reconnect_delay, c->back_off_multiplier,
           c->use_exponential_back_off ? "" : " (off)", c->max_reconnect_delay,
           c->max_reconnect_attempts, c->initial_reconnect_delay, sleep_increase,
           c->max_reconnect_delay, attempts_max);
    CHECK(stomp_options_set_randomize_hosts(opts, c->randomize));
    printf("randomize %s -> stomp_options_set_randomize_hosts\n", c->randomize ? "true" : "false");
    if (c->timeout > 0) {
        CHECK(stomp_options_set_connect_timeout(opts, (uint32_t)(c->timeout * 1000)));
    }
    printf("timeout %.0f -> %s\n", c->timeout,
           c->timeout > 0 ? "stomp_options_set_connect_timeout" : "the default connect timeout (10 s)");
    if (c->heartbeat_interval > 0) {
        uint32_t ms = (uint32_t)c->heartbeat_interval * 1000;
        CHECK(stomp_options_set_heartbeats(opts, ms, ms));
        printf("heartbeat_interval %d -> stomp_options_set_heartbeats(%u, %u) (STOMP 1.1+)\n",
               c->heartbeat_interval, ms, ms);
    }
    /* The gem's failover pool keeps reconnecting after a drop ("reliable"): so does this. */
    CHECK(stomp_options_set_auto_reconnect(opts, true));
    CHECK(stomp_options_set_vhost(opts, env->vhost));
    CHECK(stomp_options_set_version(opts, env->version));
    CHECK(stomp_options_set_receive_queue(opts, 4));
    return opts;
}

/* base64, for plugin.stomp.base64 = true. */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t base64_encode(const unsigned char *in, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static size_t base64_decode(const char *in, size_t len, unsigned char *out) {
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < len && in[i] != '='; i++) {
        const char *p = strchr(b64, in[i]);
        if (p == NULL || in[i] == '\0') {
            continue;
        }
        v = v << 6 | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits & 0xff);
        }
    }
    return o;
}

typedef struct {
    example_counter attempts;
    example_counter connected;
} pool_watch;

static void on_connecting(void *user_data, const char *host, uint16_t port) {
    pool_watch *w = user_data;
    printf("connecting to %s:%u\n", host, (unsigned)port);
    example_counter_add(&w->attempts, 1);
}

static void on_connected(void *user_data, const stomp_frame *frame) {
    pool_watch *w = user_data;
    (void)frame;
    example_counter_add(&w->connected, 1);
}

int main(int argc, char **argv) {
    example_env env;
    example_init(&env);

    char *text;
    if (argc > 1) {
        text = read_file(argv[1]);
    } else {
        char builtin[2048];
        snprintf(builtin, sizeof builtin,
                 "connector = stomp\n"
                 "plugin.stomp.base64 = true\n"
                 "plugin.stomp.pool.size = 2\n"
                 "plugin.stomp.pool.host1 = 127.0.0.1\n"
                 "plugin.stomp.pool.port1 = %u\n"
                 "plugin.stomp.pool.user1 = me\n"
                 "plugin.stomp.pool.password1 = secret\n"
                 "plugin.stomp.pool.host2 = %s\n"
                 "plugin.stomp.pool.port2 = %u\n"
                 "plugin.stomp.pool.user2 = me\n"
                 "plugin.stomp.pool.password2 = secret\n"
                 "plugin.stomp.pool.initial_reconnect_delay = 0.01\n"
                 "plugin.stomp.pool.max_reconnect_delay = 30.0\n"
                 "plugin.stomp.pool.use_exponential_back_off = true\n"
                 "plugin.stomp.pool.back_off_multiplier = 2\n"
                 "plugin.stomp.pool.max_reconnect_attempts = 0\n"
                 "plugin.stomp.pool.randomize = false\n"
                 "plugin.stomp.pool.timeout = -1\n"
                 "plugin.stomp.priority = 4\n"
                 "plugin.stomp.heartbeat_interval = 30\n",
                 (unsigned)example_refusing_port("127.0.0.1"), env.server, (unsigned)env.port);
        text = strdup(builtin);
        if (text == NULL) {
            example_fail("out of memory");
        }
    }
    connector_config config;
    config_defaults(&config);
    config_parse(&config, text);
    free(text);
    config_apply_environment(&config, &env);

    stomp_connection *conn = example_connection_from(connector_options(&config, &env));
    pool_watch watch;
    example_counter_init(&watch.attempts);
    example_counter_init(&watch.connected);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &watch;
    listener.on_connecting = on_connecting;
    listener.on_connected = on_connected;
    CHECK(stomp_set_listener(conn, "", &listener));
    /* The login comes from the pool entry connected to (stomp_options_add_host_login). With
     * max_reconnect_attempts 0 the pool is tried forever, so rather than block in stomp_connect
     * we start it without waiting and give up on our own deadline. */
    CHECK(stomp_connect(conn, NULL, NULL, NULL, 0, false));
    if (!example_counter_wait(&watch.connected, 1, 30000)) {
        example_fail("no host of the pool answered within 30 s (%d attempts)",
                     example_counter_get(&watch.attempts));
    }
    /* Callbacks run in order: after on_connected, every on_connecting before it has run. */
    stomp_frame *connected;
    CHECK(stomp_connected_frame(conn, &connected));
    const char *heart_beat = stomp_frame_header(connected, "heart-beat");
    printf("connected after %d attempt(s): server %s, heart-beat %s\n", example_counter_get(&watch.attempts),
           stomp_frame_header(connected, "server"), heart_beat ? heart_beat : "(none)");
    stomp_frame_free(connected);

    /* One message as the connector sends it: priority header, base64 body. */
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "mcollective");
    CHECK(stomp_subscribe(conn, queue, "mcollective", STOMP_ACK_AUTO, NULL, 0));
    const char *request = "mcollective request: ping";
    char encoded[128];
    const char *body = request;
    if (config.base64) {
        base64_encode((const unsigned char *)request, strlen(request), encoded);
        body = encoded;
    }
    char priority[16];
    snprintf(priority, sizeof priority, "%d", config.priority);
    stomp_header headers[] = {{"priority", priority}};
    CHECK(stomp_send(conn, queue, body, strlen(body), NULL, headers, config.priority >= 0 ? 1 : 0));

    stomp_frame *message;
    stomp_result rc = stomp_receive(conn, 5000, &message);
    if (rc != STOMP_OK) {
        example_fail("the message did not come back: %s", stomp_strerror(rc));
    }
    char received[256];
    example_body(message, received, sizeof received);
    const char *got_priority = stomp_frame_header(message, "priority");
    printf("received body \"%s\", priority %s\n", received, got_priority ? got_priority : "(none)");
    unsigned char decoded[256];
    size_t n = config.base64 ? base64_decode(received, strlen(received), decoded) : 0;
    if (config.base64) {
        decoded[n] = '\0';
        printf("base64-decoded: \"%s\"\n", (const char *)decoded);
    }
    bool same = strcmp(config.base64 ? (const char *)decoded : received, request) == 0;
    stomp_frame_free(message);
    if (!same) {
        example_fail("the message changed on the way");
    }

    CHECK(stomp_disconnect(conn, NULL, 5000));
    stomp_connection_free(conn); /* no callback runs after this */
    example_counter_destroy(&watch.attempts);
    example_counter_destroy(&watch.connected);
    printf("mcollective_connector: OK\n");
    return 0;
}
