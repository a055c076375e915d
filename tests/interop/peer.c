/*
 * peer.c - a libstomp command-line peer for the interoperability tests.
 *
 *   peer send|recv --port P --version 1.0|1.1|1.2 --dest D --count N --kind text|binary|headers
 *                  [--host 127.0.0.1] [--broker rabbitmq|activemq] [--ready-file F]
 *                  [--timeout S] [--quiet]
 *
 * `send` sends the deterministic message set described in tests/interop/README.md (the same set as
 * peer_stomppy.py and peer_ruby.rb), waits for a RECEIPT of the last message and disconnects.
 * `recv` subscribes, waits for the subscription's RECEIPT, then creates --ready-file (so a sender
 * started afterwards cannot be missed), receives N messages and compares each body and header byte
 * for byte with the expected set, printing what it compared. Exit status: 0 all equal, 1 a
 * mismatch, 2 usage, 3 a connection error or timeout.
 *
 * --broker (default: rabbitmq on port 61613, activemq otherwise) selects the vhost "/" under
 * 1.1/1.2 and the `x-expires` queue argument on RabbitMQ (so the per-case queues go away).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stomp.h"

#define MAX_HDRS 24
#define RABBIT_EXPIRES "120000"

typedef struct {
    const char *name;
    char value[256];
} kv;

typedef struct {
    kv h[MAX_HDRS];
    size_t n;
} hset;

static int quiet;

/* ------------------------------------------------------------------------------------------ */
/* the message set (keep in step with README.md, peer_stomppy.py and peer_ruby.rb)           */

static const size_t BIN_LENS[5] = {2, 300, 4099, 70000, 3};
static const char TEXT_UNIT[] = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x9c\x93 "
                                "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x9a\x80 \xe2\x82\xac\r\n";

static void hadd(hset *s, const char *name, const char *fmt, ...)
{
    va_list ap;
    if (s->n >= MAX_HDRS) {
        fprintf(stderr, "peer: too many headers\n");
        exit(2);
    }
    s->h[s->n].name = name;
    va_start(ap, fmt);
    vsnprintf(s->h[s->n].value, sizeof s->h[s->n].value, fmt, ap);
    va_end(ap);
    s->n++;
}

static const char *content_type_of(const char *kind)
{
    return strcmp(kind, "binary") == 0 ? "application/octet-stream" : "text/plain; charset=utf-8";
}

/* The headers every receiver checks (content-type is checked apart). `ver` is 10, 11 or 12. */
static void expected_headers(hset *s, int ver, const char *kind, int i)
{
    s->n = 0;
    hadd(s, "x-interop-index", "%d", i);
    hadd(s, "x-interop-kind", "%s", kind);
    if (strcmp(kind, "headers") != 0)
        return;
    hadd(s, "x-colon", "%s", "a:b::c:");
    hadd(s, "x-url", "%s", "http://127.0.0.1:61613/queue?x=1&y=2");
    hadd(s, "x-utf8", "%s", "Gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x9a\x80");
    hadd(s, "x-space", "%s", "a = b; c d");
    hadd(s, "x-value", "value-%d:%d", i, i * i);
    if (ver >= 11) {
        hadd(s, "x-newline", "%s", "line1\nline2\n\nline4");
        hadd(s, "x-backslash", "%s", "C:\\Users\\stomp\\dir\\");
        hadd(s, "x-mixed", "%s", "k:v\\\n:end");
        hadd(s, "x-escapes", "%s", "dir\\new\\config\\rest\\\\");
    }
    if (ver >= 12)
        hadd(s, "x-cr", "%s", "a\rb\r\nc");
}

static void print_skipped(int ver, const char *kind)
{
    if (strcmp(kind, "headers") != 0 || quiet)
        return;
    if (ver == 10)
        printf("note: STOMP 1.0 set: x-newline skipped (1.0 cannot carry a newline in a header); "
               "x-backslash, x-mixed, x-escapes skipped (1.0 has no escaping: RabbitMQ closes the connection on a raw "
               "backslash, stomp.py and the Ruby gem unescape 1.0 headers anyway); x-cr skipped (1.2 only)\n");
    else if (ver == 11)
        printf("note: STOMP 1.1 set: x-cr skipped (1.1 has no \\r escape; 1.2 only)\n");
}

static unsigned char *expected_body(const char *kind, int i, size_t *len)
{
    unsigned char *b;
    if (strcmp(kind, "binary") == 0) {
        size_t n = BIN_LENS[i % 5] + (size_t)(i / 5), j;
        b = malloc(n);
        if (!b)
            abort();
        for (j = 0; j < n; j++)
            b[j] = (unsigned char)((j * 7 + (size_t)i * 13) & 0xFF);
        b[0] = 0x00;
        b[n - 1] = 0xFF;
        *len = n;
    } else if (strcmp(kind, "text") == 0) {
        int reps = 1 + (i * 37) % 200, k;
        size_t unit = strlen(TEXT_UNIT), pos;
        char head[64];
        int hl = snprintf(head, sizeof head, "text message %d\n", i);
        b = malloc((size_t)hl + unit * (size_t)reps);
        if (!b)
            abort();
        memcpy(b, head, (size_t)hl);
        pos = (size_t)hl;
        for (k = 0; k < reps; k++, pos += unit)
            memcpy(b + pos, TEXT_UNIT, unit);
        *len = pos;
    } else {
        char tmp[64];
        int hl = snprintf(tmp, sizeof tmp, "headers message %d", i);
        b = malloc((size_t)hl);
        if (!b)
            abort();
        memcpy(b, tmp, (size_t)hl);
        *len = (size_t)hl;
    }
    return b;
}

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                    */

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* Writes a printable rendering of s (C escapes for control bytes, UTF-8 kept) to f. */
static void put_esc(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (; *p; p++) {
        if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '"')
            fputs("\\\"", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fail_call(const char *what, stomp_result r)
{
    fprintf(stderr, "peer: %s: %s (%d): %s\n", what, stomp_strerror(r), (int)r, stomp_last_error());
}

static void write_ready(const char *path)
{
    char tmp[4096];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f || fputs("ready\n", f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror("peer: ready file");
        exit(3);
    }
}

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    const char *mode, *host, *dest, *kind, *broker, *ready;
    int port, ver, count, timeout_s;
} args;

static void usage(void)
{
    fprintf(stderr, "usage: peer send|recv --port P --version 1.0|1.1|1.2 --dest D --count N "
                    "--kind text|binary|headers [--host H] [--broker rabbitmq|activemq] "
                    "[--ready-file F] [--timeout S] [--quiet]\n");
    exit(2);
}

static void parse(int argc, char **argv, args *a)
{
    int k;
    memset(a, 0, sizeof *a);
    a->host = "127.0.0.1";
    a->count = 5;
    a->timeout_s = 20;
    if (argc < 2)
        usage();
    a->mode = argv[1];
    for (k = 2; k < argc; k++) {
        const char *o = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (strcmp(o, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (!v)
            usage();
        k++;
        if (strcmp(o, "--port") == 0)
            a->port = atoi(v);
        else if (strcmp(o, "--host") == 0)
            a->host = v;
        else if (strcmp(o, "--version") == 0)
            a->ver = strcmp(v, "1.0") == 0 ? 10 : strcmp(v, "1.1") == 0 ? 11 : strcmp(v, "1.2") == 0 ? 12 : -1;
        else if (strcmp(o, "--dest") == 0)
            a->dest = v;
        else if (strcmp(o, "--count") == 0)
            a->count = atoi(v);
        else if (strcmp(o, "--kind") == 0)
            a->kind = v;
        else if (strcmp(o, "--broker") == 0)
            a->broker = v;
        else if (strcmp(o, "--ready-file") == 0)
            a->ready = v;
        else if (strcmp(o, "--timeout") == 0)
            a->timeout_s = atoi(v);
        else
            usage();
    }
    if ((strcmp(a->mode, "send") != 0 && strcmp(a->mode, "recv") != 0) || a->port <= 0 || a->port > 65535 ||
        a->ver <= 0 || !a->dest || a->count <= 0 || !a->kind || a->timeout_s <= 0 ||
        (strcmp(a->kind, "text") != 0 && strcmp(a->kind, "binary") != 0 && strcmp(a->kind, "headers") != 0))
        usage();
    if (!a->broker)
        a->broker = a->port == 61613 ? "rabbitmq" : "activemq";
    if (strcmp(a->broker, "rabbitmq") != 0 && strcmp(a->broker, "activemq") != 0)
        usage();
    if (strcmp(a->host, "127.0.0.1") != 0 && strcmp(a->host, "::1") != 0) {
        fprintf(stderr, "peer: only 127.0.0.1 or ::1\n");
        exit(2);
    }
}

/* Text goes without content-length (NUL-terminated; ActiveMQ makes a TextMessage of it), the
 * other kinds with it. */
static int without_content_length(const char *kind)
{
    return strcmp(kind, "text") == 0;
}

static stomp_connection *open_conn(const args *a, int queue)
{
    stomp_options *o = stomp_options_new();
    stomp_connection *c;
    stomp_result r;
    int rabbit = strcmp(a->broker, "rabbitmq") == 0;
    if (!o || stomp_options_add_host(o, a->host, (uint16_t)a->port) != STOMP_OK ||
        stomp_options_set_version(o, (stomp_version)a->ver) != STOMP_OK ||
        stomp_options_set_connect_timeout(o, 5000) != STOMP_OK ||
        stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, 1.0, 1) != STOMP_OK ||
        (rabbit && a->ver >= 11 && stomp_options_set_vhost(o, "/") != STOMP_OK) ||
        (queue && stomp_options_set_receive_queue(o, 256) != STOMP_OK) ||
        (!queue && without_content_length(a->kind) && stomp_options_set_auto_content_length(o, false) != STOMP_OK)) {
        fail_call("options", STOMP_ERR_INVALID_ARGUMENT);
        exit(3);
    }
    c = stomp_connection_new(o);
    stomp_options_free(o);
    if (!c) {
        fail_call("stomp_connection_new", STOMP_ERR_INVALID_ARGUMENT);
        exit(3);
    }
    r = stomp_connect(c, "guest", "guest", NULL, 0, true);
    if (r != STOMP_OK) {
        fail_call("stomp_connect", r);
        stomp_connection_free(c);
        exit(3);
    }
    {
        stomp_version v = STOMP_VERSION_1_0;
        if (stomp_connection_version(c, &v) != STOMP_OK || (int)v != a->ver) {
            fprintf(stderr, "peer: negotiated version %d, asked for %d\n", (int)v, a->ver);
            stomp_connection_free(c);
            exit(3);
        }
    }
    return c;
}

static int do_send(const args *a)
{
    stomp_connection *c = open_conn(a, 0);
    int rabbit = strcmp(a->broker, "rabbitmq") == 0, i;
    const char *ctype = content_type_of(a->kind);
    stomp_result r;
    char receipt[64];

    print_skipped(a->ver, a->kind);
    if (a->ver == 10 && strcmp(a->kind, "headers") == 0) {
        /* What 1.0 cannot carry must be refused locally, before anything goes out. */
        stomp_header bad[1] = {{"x-newline", "line1\nline2"}};
        r = stomp_send(c, a->dest, "x", 1, ctype, bad, 1);
        if (r != STOMP_ERR_INVALID_HEADER) {
            fprintf(stderr, "peer: 1.0 send with a newline in a header gave %s, want STOMP_ERR_INVALID_HEADER\n",
                    stomp_strerror(r));
            stomp_connection_free(c);
            return 1;
        }
        if (!quiet)
            printf("note: 1.0 stomp_send with a newline in a header refused locally: %s (as expected)\n",
                   stomp_strerror(r));
    }
    snprintf(receipt, sizeof receipt, "peer-sent-%ld", (long)getpid());
    for (i = 0; i < a->count; i++) {
        hset s;
        stomp_header h[MAX_HDRS + 3];
        size_t n = 0, k, blen;
        unsigned char *body = expected_body(a->kind, i, &blen);
        expected_headers(&s, a->ver, a->kind, i);
        for (k = 0; k < s.n; k++, n++) {
            h[n].name = s.h[k].name;
            h[n].value = s.h[k].value;
        }
        h[n].name = "x-interop-sender";
        h[n++].value = "libstomp";
        if (rabbit) {
            h[n].name = "x-expires";
            h[n++].value = RABBIT_EXPIRES;
        }
        if (i == a->count - 1) {
            h[n].name = "receipt";
            h[n++].value = receipt;
        }
        r = stomp_send(c, a->dest, body, blen, ctype, h, n);
        if (r != STOMP_OK) {
            fail_call("stomp_send", r);
            free(body);
            stomp_connection_free(c);
            return 3;
        }
        if (!quiet)
            printf("sent #%d: body %zu bytes fnv1a=%08x, %zu headers, %s\n", i, blen, fnv1a(body, blen), s.n,
                   without_content_length(a->kind) ? "no content-length" : "content-length");
        free(body);
    }
    r = stomp_wait_receipt(c, receipt, (uint32_t)a->timeout_s * 1000);
    if (r != STOMP_OK) {
        fail_call("stomp_wait_receipt (last message)", r);
        stomp_connection_free(c);
        return 3;
    }
    r = stomp_disconnect(c, NULL, 5000);
    if (r != STOMP_OK)
        fail_call("stomp_disconnect", r);
    stomp_connection_free(c);
    printf("send: %d %s messages sent (STOMP %d.%d)\n", a->count, a->kind, a->ver / 10, a->ver % 10);
    return 0;
}

/* Compares one received frame with message #i; prints what it compared; returns mismatches. */
static int check_message(const args *a, const stomp_frame *f, int i)
{
    hset s;
    size_t elen, glen, k;
    unsigned char *exp = expected_body(a->kind, i, &elen);
    const uint8_t *got = stomp_frame_body(f, &glen);
    const char *sender = stomp_frame_header(f, "x-interop-sender");
    const char *cl = stomp_frame_header(f, "content-length");
    int bad = 0;

    if (!quiet)
        printf("recv #%d from %s:\n", i, sender ? sender : "(no x-interop-sender)");
    if (glen == elen && (elen == 0 || memcmp(exp, got, elen) == 0)) {
        if (!quiet)
            printf("  body: %zu bytes fnv1a=%08x equal (MESSAGE %s%s)\n", glen, fnv1a(got, glen),
                   cl ? "content-length:" : "without content-length", cl ? cl : "");
    } else {
        size_t d = 0;
        while (d < elen && d < glen && exp[d] == got[d])
            d++;
        printf("  MISMATCH body: expected %zu bytes fnv1a=%08x, got %zu bytes fnv1a=%08x, first difference at byte %zu\n",
               elen, fnv1a(exp, elen), glen, fnv1a(got, glen), d);
        bad++;
    }
    free(exp);

    expected_headers(&s, a->ver, a->kind, i);
    hadd(&s, "content-type", "%s", content_type_of(a->kind));
    for (k = 0; k < s.n; k++) {
        const char *v = stomp_frame_header(f, s.h[k].name);
        if (v && strcmp(v, s.h[k].value) == 0) {
            if (!quiet) {
                printf("  header %s: ", s.h[k].name);
                put_esc(stdout, v);
                printf(" equal\n");
            }
        } else {
            printf("  MISMATCH header %s: expected ", s.h[k].name);
            put_esc(stdout, s.h[k].value);
            if (v) {
                printf(", got ");
                put_esc(stdout, v);
                printf("\n");
            } else {
                printf(", got none\n");
            }
            bad++;
        }
    }
    return bad;
}

static int do_recv(const args *a)
{
    stomp_connection *c = open_conn(a, 1);
    int rabbit = strcmp(a->broker, "rabbitmq") == 0, i, bad = 0;
    stomp_result r;
    char receipt[64];
    stomp_header h[2];
    size_t n = 0;
    long long deadline;

    print_skipped(a->ver, a->kind);
    snprintf(receipt, sizeof receipt, "peer-sub-%ld", (long)getpid());
    h[n].name = "receipt";
    h[n++].value = receipt;
    if (rabbit) {
        h[n].name = "x-expires";
        h[n++].value = RABBIT_EXPIRES;
    }
    r = stomp_subscribe(c, a->dest, "1", a->ver == 10 ? STOMP_ACK_CLIENT : STOMP_ACK_CLIENT_INDIVIDUAL, h, n);
    if (r == STOMP_OK)
        r = stomp_wait_receipt(c, receipt, 10000);
    if (r != STOMP_OK) {
        fail_call("subscribe", r);
        stomp_connection_free(c);
        return 3;
    }
    if (a->ready)
        write_ready(a->ready);
    if (!quiet)
        printf("subscribed to %s (receipt %s), ready\n", a->dest, receipt);

    deadline = now_ms() + (long long)a->timeout_s * 1000;
    for (i = 0; i < a->count; i++) {
        stomp_frame *f = NULL;
        const char *idx;
        long long left = deadline - now_ms();
        r = stomp_receive(c, left > 0 ? (uint32_t)left : 0, &f);
        if (r != STOMP_OK) {
            fail_call("stomp_receive", r);
            printf("recv: got %d of %d messages before %s\n", i, a->count, stomp_strerror(r));
            stomp_connection_free(c);
            return 3;
        }
        idx = stomp_frame_header(f, "x-interop-index");
        if (!idx || atoi(idx) != i)
            printf("  note: message #%d carries x-interop-index %s (out of order?)\n", i, idx ? idx : "(none)");
        bad += check_message(a, f, i);
        r = stomp_ack_frame(c, f, NULL);
        if (r != STOMP_OK) {
            fail_call("stomp_ack_frame", r);
            bad++;
        }
        stomp_frame_free(f);
    }
    /* Nothing more should come (e.g. a frame that 1.0 could not carry). */
    {
        stomp_frame *f = NULL;
        r = stomp_receive(c, 300, &f);
        if (r == STOMP_OK) {
            const char *idx = stomp_frame_header(f, "x-interop-index");
            printf("  MISMATCH: an extra message arrived (x-interop-index %s)\n", idx ? idx : "(none)");
            stomp_frame_free(f);
            bad++;
        } else if (!quiet) {
            printf("no extra message within 300 ms\n");
        }
    }
    r = stomp_disconnect(c, NULL, 5000);
    if (r != STOMP_OK)
        fail_call("stomp_disconnect", r);
    stomp_connection_free(c);
    printf("recv: %d %s messages, STOMP %d.%d, %s\n", a->count, a->kind, a->ver / 10, a->ver % 10,
           bad ? "MISMATCHES" : "all bodies and headers equal");
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    args a;
    parse(argc, argv, &a);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return strcmp(a.mode, "send") == 0 ? do_send(&a) : do_recv(&a);
}
