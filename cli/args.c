/*
 * args.c - parsing the values of command-line options and shell arguments, and reading a body.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool cli_add_header(cli_headers *h, const char *arg) {
    size_t n = strlen(arg);
    char *buf, *colon;
    if (h->count == CLI_MAX_HEADERS) {
        fprintf(stderr, "stomp: at most %d --header options\n", CLI_MAX_HEADERS);
        return false;
    }
    if (n + 1 > CLI_HEADER_BUF) {
        fprintf(stderr, "stomp: a --header of %zu bytes: at most %d\n", n, CLI_HEADER_BUF - 1);
        return false;
    }
    buf = h->bufs[h->count];
    memcpy(buf, arg, n + 1);
    colon = strchr(buf, ':');
    if (colon == NULL || colon == buf) {
        fprintf(stderr, "stomp: --header wants NAME:VALUE (a name, a colon, a value), not \"%s\"\n", arg);
        return false;
    }
    *colon = '\0';
    h->list[h->count].name = buf;
    h->list[h->count].value = colon + 1;
    h->count++;
    return true;
}

bool cli_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
    char *end;
    unsigned long v;
    if (s == NULL || *s < '0' || *s > '9') return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

bool cli_parse_version(const char *s, stomp_version *out) {
    if (strcmp(s, "1.0") == 0) *out = STOMP_VERSION_1_0;
    else if (strcmp(s, "1.1") == 0) *out = STOMP_VERSION_1_1;
    else if (strcmp(s, "1.2") == 0) *out = STOMP_VERSION_1_2;
    else return false;
    return true;
}

bool cli_parse_ack(const char *s, stomp_ack_mode *out) {
    if (strcmp(s, "auto") == 0) *out = STOMP_ACK_AUTO;
    else if (strcmp(s, "client") == 0) *out = STOMP_ACK_CLIENT;
    else if (strcmp(s, "client-individual") == 0) *out = STOMP_ACK_CLIENT_INDIVIDUAL;
    else return false;
    return true;
}

bool cli_parse_heartbeats(const char *s, uint32_t *send_ms, uint32_t *receive_ms) {
    char buf[64];
    char *comma;
    unsigned long a, b;
    if (strlen(s) >= sizeof buf) return false;
    strcpy(buf, s);
    comma = strchr(buf, ',');
    if (comma != NULL) *comma = '\0';
    if (!cli_parse_ulong(buf, 0, UINT32_MAX, &a)) return false;
    if (comma == NULL) b = a;
    else if (!cli_parse_ulong(comma + 1, 0, UINT32_MAX, &b)) return false;
    *send_ms = (uint32_t)a;
    *receive_ms = (uint32_t)b;
    return true;
}

char *cli_read_all(FILE *f, size_t *len_out) {
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap), *bigger;
    if (buf == NULL) return NULL;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len_out = len;
    return buf;
}
