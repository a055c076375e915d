/*
 * raw_rtt.c - the round-trip ceiling through a real broker: a plain socket client (TCP_NODELAY)
 * that does what stomp_bench rtt-* does, with no library.
 *
 *   raw_rtt PORT N [BODY_BYTES [WARMUP]]
 *
 * CONNECTs (1.2, host "/", guest/guest), subscribes to a queue of its own that RabbitMQ drops when
 * it leaves, then sends one message and reads until it comes back, WARMUP (default 1000) times
 * untimed and N times timed. Prints "raw rtt N seconds msg_per_s cpu_seconds p50_us p99_us".
 */
#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    uint64_t messages;
} ctx_t;

static void on_frame(void *ctx, const scan_frame *f) {
    if (strcmp(f->command, "MESSAGE") == 0) ((ctx_t *)ctx)->messages++;
    else if (strcmp(f->command, "ERROR") == 0) die("ERROR frame from the broker");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s PORT N [BODY_BYTES [WARMUP]]\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)parse_count(argv[1], "port");
    uint64_t n = parse_count(argv[2], "N");
    size_t body_bytes = argc > 3 ? (size_t)parse_count(argv[3], "BODY_BYTES") : 100;
    uint64_t warmup = argc > 4 ? parse_count(argv[4], "WARMUP") : 1000;
    if (n == 0) die("N must be at least 1");
    int fd = connect_loopback(port);
    raw_handshake(fd);

    char queue[128];
    snprintf(queue, sizeof queue, "/queue/libstomp-bench-rtt-raw-%ld", (long)getpid());
    char frame[512];
    int fl = snprintf(frame, sizeof frame,
                      "SUBSCRIBE\nid:0\ndestination:%s\nack:auto\ndurable:false\nauto-delete:true\n\n",
                      queue);
    write_all(fd, frame, (size_t)fl + 1);
    fl = snprintf(frame, sizeof frame,
                  "SEND\ndestination:%s\ncontent-type:text/plain\ncontent-length:%zu\n\n", queue,
                  body_bytes);
    size_t send_len = (size_t)fl + body_bytes + 1;
    char *send = malloc(send_len);
    if (send == NULL) die("out of memory");
    memcpy(send, frame, (size_t)fl);
    memset(send + fl, 'x', body_bytes);
    send[send_len - 1] = '\0';

    double *rtt = malloc(sizeof(double) * n);
    if (rtt == NULL) die("out of memory");
    static frame_scanner s;
    scanner_init(&s);
    ctx_t ctx = {0};
    static char buf[1 << 16];
    double t0 = 0, c0 = 0;
    for (uint64_t i = 0; i < warmup + n; i++) {
        if (i == warmup) {
            t0 = now_s();
            c0 = cpu_s();
        }
        double start = now_s();
        write_all(fd, send, send_len);
        while (ctx.messages <= i) {
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) die("connection closed");
            scanner_feed(&s, buf, (size_t)r, on_frame, &ctx);
        }
        if (i >= warmup) rtt[i - warmup] = now_s() - start;
    }
    double t1 = now_s(), c1 = cpu_s();
    qsort(rtt, n, sizeof(double), cmp_double);
    printf("raw rtt %llu %.6f %.0f %.6f %.1f %.1f\n", (unsigned long long)n, t1 - t0,
           (double)n / (t1 - t0), c1 - c0, rtt[n / 2] * 1e6, rtt[(n * 99) / 100] * 1e6);
    static const char disconnect[] = "DISCONNECT\n\n";
    write_all(fd, disconnect, sizeof disconnect);
    close(fd);
    free(rtt);
    free(send);
    return 0;
}
