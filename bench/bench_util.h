/*
 * bench_util.h - what the benchmark fixtures and raw-socket clients share: loopback sockets, full
 * writes, clocks (wall and CPU), the result line, and a cheap incremental STOMP frame scanner.
 *
 * Not part of the test suite: scripts/bench.sh builds and runs these to print figures.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include <stdint.h>

/* Prints "bench: <msg>: <strerror(errno)>" and exits 2. */
void die_errno(const char *msg);
/* Prints "bench: <msg>" and exits 2. */
void die(const char *msg);

/* Parses a decimal count argument (exits on garbage). */
uint64_t parse_count(const char *arg, const char *what);

/* A listening socket on 127.0.0.1:port (port 0: the kernel picks one). Prints
 * "listening 127.0.0.1:<port>" on standard output (flushed), which is how bench.sh knows it is up. */
int listen_loopback(uint16_t port);
/* A TCP connection to 127.0.0.1:port with TCP_NODELAY, blocking. */
int connect_loopback(uint16_t port);

/* Writes all of buf or exits. */
void write_all(int fd, const void *buf, size_t len);

/* Seconds from a monotonic clock, and the CPU seconds (user + system) of the whole process. */
double now_s(void);
double cpu_s(void);

/* The one machine-readable line: "client mode msgs seconds msg_per_s cpu_seconds". */
void print_result(const char *client, const char *mode, uint64_t msgs, double seconds, double cpu);

/* A scanner of incoming frames that keeps only the header block of the frame being read (bodies
 * are skipped by content-length, or up to the NUL), so a 1 MiB body costs no copy. It calls
 * on_frame once per complete frame with the command and the first receipt/id/destination headers
 * (empty strings when absent); EOLs between frames (heart-beats, RabbitMQ's EOL after the NUL) are
 * skipped. */
#define SCAN_HDR_MAX 65536
#define SCAN_VAL_MAX 256

typedef struct {
    char command[32];
    char receipt[SCAN_VAL_MAX];
    char id[SCAN_VAL_MAX];
    char destination[SCAN_VAL_MAX];
} scan_frame;

typedef struct {
    char hdr[SCAN_HDR_MAX]; /* the header block so far */
    size_t hdr_len;
    int in_body;            /* 0: reading headers; 1: skipping body bytes; 2: scanning for NUL */
    uint64_t body_left;     /* in_body == 1: body bytes + the NUL still to skip */
    scan_frame frame;       /* the frame whose body is being skipped */
    uint64_t frames;        /* complete frames so far */
} frame_scanner;

typedef void (*on_frame_fn)(void *ctx, const scan_frame *frame);

void scanner_init(frame_scanner *s);
/* Feeds len bytes; calls on_frame for each frame completed. */
void scanner_feed(frame_scanner *s, const char *data, size_t len, on_frame_fn on_frame, void *ctx);

/* What both fixtures answer: CONNECTED to CONNECT/STOMP, RECEIPT to any frame with a receipt. */
void fixture_answer(int fd, const scan_frame *f);

/* A field of /proc/self/status in KiB (VmRSS, VmHWM, ...), or -1. */
long proc_status_kib(const char *name);

/* The CONNECT a raw client sends: 1.2, host "/", guest/guest (what RabbitMQ wants), then waits for
 * CONNECTED (exits on ERROR or EOF). Bytes read past the CONNECTED frame are discarded: the callers
 * send nothing the server would answer before this returns. */
void raw_handshake(int fd);

#endif
