/*
 * fixture_blast.c - a benchmark fixture, not a broker: a server that writes MESSAGE frames to a
 * subscriber as fast as the socket takes them, so the receiver's own speed is what is measured.
 *
 *   fixture_blast PORT N BODY_BYTES [--eol] [--fixed-ids] [CLIENTS]
 *
 * Listens on 127.0.0.1:PORT (0: any free port; the "listening" line says which) and serves CLIENTS
 * clients (default 1) one after the other, then exits (an alarm ends it after 600 s in any case).
 * Per client: answers CONNECT/STOMP with CONNECTED (1.2, no heart-beats), waits for SUBSCRIBE (its
 * `id` and `destination` go into the messages), then writes N MESSAGE frames with RabbitMQ's
 * headers (subscription, destination, message-id, redelivered, ack equal to message-id,
 * content-type, content-length) and a body of BODY_BYTES bytes. With --eol each frame ends with an
 * EOL after its NUL, as RabbitMQ sends (php-stomp needs it). Message ids are distinct: a fixed-width
 * hex counter patched into a prebuilt buffer of many frames (--fixed-ids skips the patching). After
 * the last message it keeps reading, answering any `receipt` with a RECEIPT, until the client
 * closes.
 */
#include "bench_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ID_DIGITS 12
/* Frames are written in batches of about this many bytes. */
#define BATCH_BYTES (1u << 20)

typedef struct {
    int fd;
    int subscribed;
    char sub_id[SCAN_VAL_MAX];
    char destination[SCAN_VAL_MAX];
} client_ctx;

static void on_frame(void *ctx, const scan_frame *f) {
    client_ctx *c = ctx;
    if (strcmp(f->command, "SUBSCRIBE") == 0 && !c->subscribed) {
        c->subscribed = 1;
        strcpy(c->sub_id, f->id);
        strcpy(c->destination, f->destination[0] ? f->destination : "/queue/bench");
    }
    fixture_answer(c->fd, f);
}

/* Reads and handles frames until `stop` is set (stop == NULL: until EOF). Returns 0 at EOF. */
static int serve_frames(client_ctx *c, frame_scanner *s, const int *stop) {
    static char buf[65536];
    while (stop == NULL || !*stop) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        scanner_feed(s, buf, (size_t)n, on_frame, c);
    }
    return 1;
}

static const char hex[] = "0123456789abcdef";

static void put_id(char *at, uint64_t id) {
    for (int i = ID_DIGITS - 1; i >= 0; i--) {
        at[i] = hex[id & 15];
        id >>= 4;
    }
}

static void blast(const client_ctx *c, uint64_t n, size_t body_bytes, int eol, int fixed_ids) {
    char head[4 * SCAN_VAL_MAX + 512];
    /* "@" marks where the id goes (twice: message-id and ack). */
    int hl = snprintf(head, sizeof head,
                      "MESSAGE\nsubscription:%s\ndestination:%s\n"
                      "message-id:T_%s@@session-fixture@@%.*s\nredelivered:false\n"
                      "ack:T_%s@@session-fixture@@%.*s\n"
                      "content-type:text/plain\ncontent-length:%zu\n\n",
                      c->sub_id, c->destination, c->sub_id, ID_DIGITS, "@@@@@@@@@@@@@@@@", c->sub_id,
                      ID_DIGITS, "@@@@@@@@@@@@@@@@", body_bytes);
    char *id1 = strstr(head, "@@session-fixture@@") + 19;
    char *id2 = strstr(id1, "@@session-fixture@@") + 19;
    size_t off1 = (size_t)(id1 - head), off2 = (size_t)(id2 - head);
    size_t frame_len = (size_t)hl + body_bytes + 1 + (eol ? 1 : 0);
    size_t per_batch = BATCH_BYTES / frame_len;
    if (per_batch == 0) per_batch = 1;
    if (per_batch > n) per_batch = n;
    char *batch = malloc(per_batch * frame_len);
    if (batch == NULL) die("out of memory");
    for (size_t i = 0; i < per_batch; i++) {
        char *f = batch + i * frame_len;
        memcpy(f, head, (size_t)hl);
        for (size_t b = 0; b < body_bytes; b++) f[hl + b] = (char)('a' + b % 26);
        f[(size_t)hl + body_bytes] = '\0';
        if (eol) f[(size_t)hl + body_bytes + 1] = '\n';
        put_id(f + off1, i);
        put_id(f + off2, i);
    }
    uint64_t sent = 0;
    while (sent < n) {
        uint64_t k = n - sent < per_batch ? n - sent : per_batch;
        if (!fixed_ids && sent > 0) {
            for (uint64_t i = 0; i < k; i++) {
                char *f = batch + i * frame_len;
                put_id(f + off1, sent + i);
                memcpy(f + off2, f + off1, ID_DIGITS);
            }
        }
        write_all(c->fd, batch, (size_t)k * frame_len);
        sent += k;
    }
    free(batch);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT N BODY_BYTES [--eol] [--fixed-ids] [CLIENTS]\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)parse_count(argv[1], "port");
    uint64_t n = parse_count(argv[2], "N");
    size_t body_bytes = (size_t)parse_count(argv[3], "BODY_BYTES");
    int eol = 0, fixed_ids = 0;
    uint64_t clients = 1;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--eol") == 0) eol = 1;
        else if (strcmp(argv[i], "--fixed-ids") == 0) fixed_ids = 1;
        else clients = parse_count(argv[i], "CLIENTS");
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(600);
    int lfd = listen_loopback(port);
    static frame_scanner scanner;
    for (uint64_t i = 0; i < clients; i++) {
        client_ctx c;
        memset(&c, 0, sizeof c);
        c.fd = accept(lfd, NULL, NULL);
        if (c.fd < 0) die_errno("accept");
        scanner_init(&scanner);
        if (serve_frames(&c, &scanner, &c.subscribed)) {
            blast(&c, n, body_bytes, eol, fixed_ids);
            serve_frames(&c, &scanner, NULL);
        }
        close(c.fd);
    }
    close(lfd);
    return 0;
}
