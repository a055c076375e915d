/*
 * raw_receive.c - the receive ceiling: what a plain socket client does with no library at all.
 *
 *   raw_receive PORT N
 *
 * Connects to 127.0.0.1:PORT, CONNECTs, SUBSCRIBEs (id 0, /queue/bench, ack auto) and counts NULs
 * until N frames have come (the fixture's bodies hold no NUL), then sends DISCONNECT and closes.
 * The time runs from the SUBSCRIBE to the N-th NUL. Prints "raw receive N seconds msg_per_s cpu".
 */
#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT N\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)parse_count(argv[1], "port");
    uint64_t n = parse_count(argv[2], "N");
    int fd = connect_loopback(port);
    raw_handshake(fd);

    static const char subscribe[] = "SUBSCRIBE\nid:0\ndestination:/queue/bench\nack:auto\n\n";
    static char buf[1 << 20];
    double t0 = now_s(), c0 = cpu_s();
    write_all(fd, subscribe, sizeof subscribe);
    uint64_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("connection closed before N messages");
        const char *p = buf, *end = buf + r;
        while (p < end && (p = memchr(p, '\0', (size_t)(end - p))) != NULL) {
            got++;
            p++;
        }
    }
    double t1 = now_s(), c1 = cpu_s();
    print_result("raw", "receive", n, t1 - t0, c1 - c0);
    static const char disconnect[] = "DISCONNECT\n\n";
    write_all(fd, disconnect, sizeof disconnect);
    close(fd);
    return 0;
}
