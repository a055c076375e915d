/*
 * fixture_idle.c - a benchmark fixture, not a broker: a server that holds many idle STOMP
 * connections with heart-beats at the least cost it can, so that the client's own cost of holding
 * them (bench/idle_conns.c) can be told from a broker's. On the 2-core benchmark machine RabbitMQ
 * takes most of both cores to hold 10,000 connections with 1 s heart-beats, so through it the
 * client's figures say more about the broker than about the client.
 *
 *   fixture_idle PORT [HB_MS]
 *
 * Listens on 127.0.0.1:PORT (0: any free port; the "listening" line says which), one thread, epoll.
 * Each connection's CONNECT/STOMP (read up to its NUL) is answered with CONNECTED, version 1.2 and
 * heart-beat HB_MS,HB_MS (default 1000); from then on the fixture writes one EOL to every connection
 * each HB_MS (one pass over all of them, as a broker's timer would) and reads and discards what the
 * client sends (its heart-beats), except that a read holding a `receipt` header (the client's
 * DISCONNECT, which comes whole in one read) is answered with its RECEIPT, so that the client's
 * disconnect does not wait out its timeout. A connection that closes is closed. Runs until killed;
 * an alarm ends it after 900 s in any case.
 */
#define _GNU_SOURCE /* accept4 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS (1 << 17)

/* Per fd: 0 not ours, 1 waiting for the CONNECT's NUL, 2 connected. */
static unsigned char state[MAX_FDS];

static void raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* Answers a `receipt` header in what was read (NUL-terminated by the caller) with its RECEIPT. */
static int answer_receipt(int fd, const char *read) {
    const char *r = strstr(read, "\nreceipt:");
    if (r == NULL) return 0;
    r += strlen("\nreceipt:");
    size_t n = strcspn(r, "\r\n");
    char frame[256];
    int len = snprintf(frame, sizeof frame, "RECEIPT\nreceipt-id:%.*s\n\n", (int)(n < 200 ? n : 200), r);
    return write(fd, frame, (size_t)len + 1) == len + 1 ? 0 : -1; /* with the NUL */
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    state[fd] = 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [HB_MS]\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)parse_count(argv[1], "port");
    uint64_t hb_ms = argc > 2 ? parse_count(argv[2], "HB_MS") : 1000;
    if (hb_ms == 0) die("HB_MS must be positive");
    signal(SIGPIPE, SIG_IGN);
    alarm(900);
    raise_nofile();
    int lfd = listen_loopback(port);
    if (fcntl(lfd, F_SETFL, O_NONBLOCK) < 0) die_errno("fcntl");
    int ep = epoll_create1(0);
    if (ep < 0) die_errno("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die_errno("epoll_ctl");

    char connected[96];
    int connected_len = snprintf(connected, sizeof connected,
                                 "CONNECTED\nversion:1.2\nheart-beat:%llu,%llu\n\n",
                                 (unsigned long long)hb_ms, (unsigned long long)hb_ms);
    connected_len += 1; /* the frame's NUL, which snprintf wrote */
    static char buf[1 << 16];
    static struct epoll_event events[1024];
    int max_fd = 0;
    double next_beat = now_s() + (double)hb_ms / 1000.0;
    for (;;) {
        int wait_ms = (int)((next_beat - now_s()) * 1000.0);
        int n = epoll_wait(ep, events, 1024, wait_ms < 0 ? 0 : wait_ms);
        if (n < 0 && errno != EINTR) die_errno("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) break; /* EAGAIN, or EMFILE until some close */
                    if (c >= MAX_FDS) {
                        close(c);
                        continue;
                    }
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0) die_errno("epoll_ctl");
                    state[c] = 1;
                    if (c > max_fd) max_fd = c;
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf - 1);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                drop(ep, fd);
                continue;
            }
            if (r > 0 && state[fd] == 1 && memchr(buf, 0, (size_t)r) != NULL) {
                /* The CONNECT is whole (a client sends nothing else before CONNECTED). */
                if (write(fd, connected, (size_t)connected_len) != connected_len) {
                    drop(ep, fd);
                    continue;
                }
                state[fd] = 2;
            } else if (r > 0 && state[fd] == 2) {
                /* A frame's NUL ends the text early for strstr, which is fine: the DISCONNECT's
                 * headers come before its NUL. */
                buf[r] = 0;
                if (answer_receipt(fd, buf) < 0) drop(ep, fd);
            }
        }
        if (now_s() >= next_beat) {
            for (int fd = 0; fd <= max_fd; fd++) {
                if (state[fd] == 2 && write(fd, "\n", 1) < 0 && errno != EAGAIN) drop(ep, fd);
            }
            next_beat += (double)hb_ms / 1000.0;
        }
    }
}
