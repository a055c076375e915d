/*
 * raw_publish.c - the publish ceiling: what a plain socket client does with no library at all.
 *
 *   raw_publish PORT N [BODY_BYTES]
 *
 * Connects to 127.0.0.1:PORT, CONNECTs, then writes N SEND frames (destination + content-length,
 * a BODY_BYTES body, default 100) in batches of about 1 MiB, then a DISCONNECT with a receipt, and
 * waits for the RECEIPT, so the time covers the server having read everything. Prints
 * "raw publish N seconds msg_per_s cpu_seconds".
 */
#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int receipt;
} ctx_t;

static void on_frame(void *ctx, const scan_frame *f) {
    if (strcmp(f->command, "RECEIPT") == 0) ((ctx_t *)ctx)->receipt = 1;
    else if (strcmp(f->command, "ERROR") == 0) die("ERROR frame from the server");
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s PORT N [BODY_BYTES]\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)parse_count(argv[1], "port");
    uint64_t n = parse_count(argv[2], "N");
    size_t body_bytes = argc > 3 ? (size_t)parse_count(argv[3], "BODY_BYTES") : 100;
    int fd = connect_loopback(port);
    raw_handshake(fd);

    char head[128];
    int hl = snprintf(head, sizeof head, "SEND\ndestination:/queue/bench\ncontent-length:%zu\n\n",
                      body_bytes);
    size_t frame_len = (size_t)hl + body_bytes + 1;
    size_t per_batch = (1u << 20) / frame_len;
    if (per_batch == 0) per_batch = 1;
    if (per_batch > n) per_batch = n;
    char *batch = malloc(per_batch * frame_len);
    if (batch == NULL) die("out of memory");
    for (size_t i = 0; i < per_batch; i++) {
        char *f = batch + i * frame_len;
        memcpy(f, head, (size_t)hl);
        memset(f + hl, 'x', body_bytes);
        f[(size_t)hl + body_bytes] = '\0';
    }

    double t0 = now_s(), c0 = cpu_s();
    for (uint64_t sent = 0; sent < n;) {
        uint64_t k = n - sent < per_batch ? n - sent : per_batch;
        write_all(fd, batch, (size_t)k * frame_len);
        sent += k;
    }
    static const char disconnect[] = "DISCONNECT\nreceipt:bench-end\n\n";
    write_all(fd, disconnect, sizeof disconnect);
    static frame_scanner s;
    scanner_init(&s);
    ctx_t ctx = {0};
    char buf[4096];
    while (!ctx.receipt) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("connection closed before the RECEIPT");
        scanner_feed(&s, buf, (size_t)r, on_frame, &ctx);
    }
    double t1 = now_s(), c1 = cpu_s();
    print_result("raw", "publish", n, t1 - t0, c1 - c0);
    free(batch);
    close(fd);
    return 0;
}
