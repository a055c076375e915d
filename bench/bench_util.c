/* bench_util.c - see bench_util.h. */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void die_errno(const char *msg) {
    fprintf(stderr, "bench: %s: %s\n", msg, strerror(errno));
    exit(2);
}

void die(const char *msg) {
    fprintf(stderr, "bench: %s\n", msg);
    exit(2);
}

uint64_t parse_count(const char *arg, const char *what) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0') {
        fprintf(stderr, "bench: bad %s: %s\n", what, arg);
        exit(2);
    }
    return (uint64_t)v;
}

static struct sockaddr_in loopback(uint16_t port) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

int listen_loopback(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die_errno("socket");
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die_errno("SO_REUSEADDR");
    struct sockaddr_in sa = loopback(port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die_errno("bind");
    if (listen(fd, 16) != 0) die_errno("listen");
    socklen_t sl = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) die_errno("getsockname");
    printf("listening 127.0.0.1:%u\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

int connect_loopback(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die_errno("socket");
    struct sockaddr_in sa = loopback(port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die_errno("connect");
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die_errno("TCP_NODELAY");
    return fd;
}

void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            die_errno("write");
        }
        p += n;
        len -= (size_t)n;
    }
}

double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void print_result(const char *client, const char *mode, uint64_t msgs, double seconds, double cpu) {
    printf("%s %s %llu %.6f %.0f %.6f\n", client, mode, (unsigned long long)msgs, seconds,
           seconds > 0 ? (double)msgs / seconds : 0.0, cpu);
    fflush(stdout);
}

void scanner_init(frame_scanner *s) {
    memset(s, 0, sizeof *s);
}

/* Copies a header value (escapes are left as they are: the fixtures only echo ids back). */
static void copy_value(char *dst, const char *src, size_t len) {
    if (len >= SCAN_VAL_MAX) len = SCAN_VAL_MAX - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Parses the complete header block hdr[0..len) (which ends with its blank line) into s->frame and
 * sets up the body skip. */
static void parse_headers(frame_scanner *s, const char *hdr, size_t len) {
    scan_frame *f = &s->frame;
    f->receipt[0] = f->id[0] = f->destination[0] = '\0';
    const char *p = hdr, *end = hdr + len;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t cl = (size_t)(eol - p);
    if (cl > 0 && p[cl - 1] == '\r') cl--;
    copy_value(f->command, p, cl < sizeof f->command ? cl : sizeof f->command - 1);
    int have_length = 0;
    uint64_t length = 0;
    for (p = eol + 1; p < end;) {
        eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)(eol - p);
        if (ll > 0 && p[ll - 1] == '\r') ll--;
        if (ll == 0) break;
        const char *colon = memchr(p, ':', ll);
        if (colon != NULL) {
            size_t nl = (size_t)(colon - p);
            const char *v = colon + 1;
            size_t vl = ll - nl - 1;
            /* The first of repeated headers wins, as STOMP says. */
            if (nl == 14 && !have_length && memcmp(p, "content-length", 14) == 0) {
                have_length = 1;
                for (size_t i = 0; i < vl; i++) length = length * 10 + (uint64_t)(v[i] - '0');
            } else if (nl == 7 && f->receipt[0] == '\0' && memcmp(p, "receipt", 7) == 0) {
                copy_value(f->receipt, v, vl);
            } else if (nl == 2 && f->id[0] == '\0' && memcmp(p, "id", 2) == 0) {
                copy_value(f->id, v, vl);
            } else if (nl == 11 && f->destination[0] == '\0' && memcmp(p, "destination", 11) == 0) {
                copy_value(f->destination, v, vl);
            }
        }
        p = eol + 1;
    }
    if (have_length) {
        s->in_body = 1;
        s->body_left = length + 1;
    } else {
        s->in_body = 2;
    }
}

/* Where the header block in buf[0..len) ends (just past its blank line), or 0 if not yet complete. */
static size_t header_end(const char *buf, size_t len) {
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) return 0;
        size_t ll = (size_t)(eol - p);
        if (ll == 0 || (ll == 1 && p[0] == '\r')) {
            if (p != buf) return (size_t)(eol + 1 - buf);
        }
        p = eol + 1;
    }
    return 0;
}

void scanner_feed(frame_scanner *s, const char *data, size_t len, on_frame_fn on_frame, void *ctx) {
    const char *p = data, *end = data + len;
    while (p < end) {
        if (s->in_body == 1) {
            uint64_t avail = (uint64_t)(end - p);
            uint64_t take = avail < s->body_left ? avail : s->body_left;
            p += take;
            s->body_left -= take;
            if (s->body_left == 0) {
                s->in_body = 0;
                s->frames++;
                on_frame(ctx, &s->frame);
            }
            continue;
        }
        if (s->in_body == 2) {
            const char *nul = memchr(p, '\0', (size_t)(end - p));
            if (nul == NULL) return;
            p = nul + 1;
            s->in_body = 0;
            s->frames++;
            on_frame(ctx, &s->frame);
            continue;
        }
        if (s->hdr_len == 0) {
            /* EOLs between frames. */
            while (p < end && (*p == '\n' || *p == '\r')) p++;
            if (p == end) return;
            /* Fast path: the whole header block is in this read. */
            size_t he = header_end(p, (size_t)(end - p));
            if (he > 0) {
                parse_headers(s, p, he);
                p += he;
                continue;
            }
        }
        /* Slow path: accumulate the header block across reads. */
        size_t room = SCAN_HDR_MAX - s->hdr_len;
        size_t take = (size_t)(end - p) < room ? (size_t)(end - p) : room;
        size_t old = s->hdr_len;
        memcpy(s->hdr + old, p, take);
        s->hdr_len += take;
        size_t he = header_end(s->hdr, s->hdr_len);
        if (he == 0) {
            if (s->hdr_len == SCAN_HDR_MAX) die("header block too large");
            return;
        }
        p += he - old;
        s->hdr_len = 0;
        parse_headers(s, s->hdr, he);
    }
}

typedef struct {
    int connected;
} handshake_ctx;

static void on_handshake_frame(void *ctx, const scan_frame *f) {
    handshake_ctx *h = ctx;
    if (strcmp(f->command, "CONNECTED") == 0) {
        h->connected = 1;
    } else {
        fprintf(stderr, "bench: expected CONNECTED, got %s\n", f->command);
        exit(2);
    }
}

void raw_handshake(int fd) {
    static const char connect_frame[] =
        "CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n";
    write_all(fd, connect_frame, sizeof connect_frame); /* sizeof includes the NUL */
    static frame_scanner s;
    scanner_init(&s);
    handshake_ctx h = {0};
    char buf[4096];
    while (!h.connected) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("connection closed before CONNECTED");
        scanner_feed(&s, buf, (size_t)n, on_handshake_frame, &h);
    }
}

void fixture_answer(int fd, const scan_frame *f) {
    if (strcmp(f->command, "CONNECT") == 0 || strcmp(f->command, "STOMP") == 0) {
        static const char connected[] = "CONNECTED\nversion:1.2\nheart-beat:0,0\nserver:fixture\n\n";
        write_all(fd, connected, sizeof connected);
    }
    if (f->receipt[0] != '\0') {
        char buf[SCAN_VAL_MAX + 64];
        int n = snprintf(buf, sizeof buf, "RECEIPT\nreceipt-id:%s\n\n", f->receipt);
        write_all(fd, buf, (size_t)n + 1);
    }
}

long proc_status_kib(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) die_errno("/proc/self/status");
    char line[256];
    long v = -1;
    size_t len = strlen(name);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}
