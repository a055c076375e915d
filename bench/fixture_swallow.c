/*
 * fixture_swallow.c - a benchmark fixture, not a broker: a server that swallows what a publisher
 * sends, so the publisher's own speed is what is measured.
 *
 *   fixture_swallow PORT [CLIENTS]
 *
 * Listens on 127.0.0.1:PORT (0: any free port; the "listening" line says which), serves CLIENTS
 * clients (default 1) one after the other, then exits; an alarm ends it after 600 s in any case so
 * it never lingers. To CONNECT/STOMP it answers CONNECTED (1.2, no heart-beats); every other frame is
 * read and discarded, except that a frame with a `receipt` header gets its RECEIPT, so a client
 * knows that everything before it was swallowed. On stderr, at each client's end: frames swallowed.
 */
#include "bench_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
} client_ctx;

static void on_frame(void *ctx, const scan_frame *f) {
    client_ctx *c = ctx;
    fixture_answer(c->fd, f);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [CLIENTS]\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)parse_count(argv[1], "port");
    uint64_t clients = argc > 2 ? parse_count(argv[2], "clients") : 1;
    signal(SIGPIPE, SIG_IGN);
    alarm(600);
    int lfd = listen_loopback(port);
    static char buf[1 << 20];
    static frame_scanner scanner;
    for (uint64_t i = 0; i < clients; i++) {
        client_ctx c;
        c.fd = accept(lfd, NULL, NULL);
        if (c.fd < 0) die_errno("accept");
        scanner_init(&scanner);
        for (;;) {
            ssize_t n = read(c.fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break; /* EOF or reset: the client is gone */
            scanner_feed(&scanner, buf, (size_t)n, on_frame, &c);
        }
        fprintf(stderr, "fixture_swallow: %llu frames\n", (unsigned long long)scanner.frames);
        close(c.fd);
    }
    close(lfd);
    return 0;
}
