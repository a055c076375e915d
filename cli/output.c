/*
 * output.c - how the client prints frames (the body alone, the whole frame, or one JSON object per
 * line), under one lock so that messages arriving on the library's threads never interleave with
 * the shell's own output.
 */
#include <stdarg.h>
#include <string.h>

#include "cli.h"

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

bool cli_parse_format(const char *s, cli_format *out) {
    if (strcmp(s, "body") == 0) *out = CLI_FORMAT_BODY;
    else if (strcmp(s, "frame") == 0) *out = CLI_FORMAT_FRAME;
    else if (strcmp(s, "json") == 0) *out = CLI_FORMAT_JSON;
    else return false;
    return true;
}

void cli_printf(FILE *out, const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&out_mu);
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fflush(out);
    pthread_mutex_unlock(&out_mu);
}

/* The length of the well-formed UTF-8 sequence at p[0..n), or 0 if it is not one. */
static size_t utf8_char(const uint8_t *p, size_t n) {
    size_t len, i;
    uint32_t cp;
    if (p[0] < 0x80) return 1;
    if ((p[0] & 0xE0) == 0xC0) len = 2, cp = p[0] & 0x1F;
    else if ((p[0] & 0xF0) == 0xE0) len = 3, cp = p[0] & 0x0F;
    else if ((p[0] & 0xF8) == 0xF0) len = 4, cp = p[0] & 0x07;
    else return 0;
    if (len > n) return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static bool is_utf8(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_char(p + i, n - i);
        if (k == 0) return false;
        i += k;
    }
    return true;
}

/* A JSON string of the UTF-8 text p[0..n). */
static void json_string(FILE *out, const uint8_t *p, size_t n) {
    size_t i;
    fputc('"', out);
    for (i = 0; i < n; i++) {
        uint8_t c = p[i];
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20) fprintf(out, "\\u%04x", c);
            else fputc(c, out);
        }
    }
    fputc('"', out);
}

static void json_cstring(FILE *out, const char *s) { json_string(out, (const uint8_t *)s, strlen(s)); }

static void base64(FILE *out, const uint8_t *p, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    fputc('"', out);
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        fputc(abc[v >> 18], out), fputc(abc[(v >> 12) & 63], out), fputc(abc[(v >> 6) & 63], out),
            fputc(abc[v & 63], out);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        fputc(abc[v >> 18], out), fputc(abc[(v >> 12) & 63], out), fputs("==", out);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        fputc(abc[v >> 18], out), fputc(abc[(v >> 12) & 63], out), fputc(abc[(v >> 6) & 63], out), fputc('=', out);
    }
    fputc('"', out);
}

/* {"command": "MESSAGE", "headers": {...}, "body": "..."} on one line. Headers in the order
 * received; a repeated name is kept once, with its first value (the one STOMP says wins). A body
 * that is not UTF-8 is given as "body_base64" instead. */
static void print_json(FILE *out, const stomp_frame *f) {
    size_t n = stomp_frame_header_count(f), i, j, len;
    const uint8_t *body = stomp_frame_body(f, &len);
    bool first = true;
    fputs("{\"command\": ", out);
    json_cstring(out, stomp_frame_command(f));
    fputs(", \"headers\": {", out);
    for (i = 0; i < n; i++) {
        const char *name, *value, *earlier;
        bool repeated = false;
        if (stomp_frame_header_at(f, i, &name, &value) != STOMP_OK) continue;
        for (j = 0; j < i && !repeated; j++) {
            repeated = stomp_frame_header_at(f, j, &earlier, NULL) == STOMP_OK && strcmp(earlier, name) == 0;
        }
        if (repeated) continue;
        if (!first) fputs(", ", out);
        first = false;
        json_cstring(out, name);
        fputs(": ", out);
        json_cstring(out, value);
    }
    fputs("}, ", out);
    if (is_utf8(body, len)) {
        fputs("\"body\": ", out);
        json_string(out, body, len);
    } else {
        fputs("\"body_base64\": ", out);
        base64(out, body, len);
    }
    fputs("}\n", out);
}

void cli_print_frame(FILE *out, const stomp_frame *f, cli_format format) {
    size_t len, i, n;
    const uint8_t *body = stomp_frame_body(f, &len);
    pthread_mutex_lock(&out_mu);
    switch (format) {
    case CLI_FORMAT_BODY:
        fwrite(body, 1, len, out);
        fputc('\n', out);
        break;
    case CLI_FORMAT_FRAME:
        fprintf(out, "%s\n", stomp_frame_command(f));
        n = stomp_frame_header_count(f);
        for (i = 0; i < n; i++) {
            const char *name, *value;
            if (stomp_frame_header_at(f, i, &name, &value) == STOMP_OK) fprintf(out, "%s:%s\n", name, value);
        }
        fputc('\n', out);
        fwrite(body, 1, len, out);
        fputs("\n\n", out);
        break;
    case CLI_FORMAT_JSON:
        print_json(out, f);
        break;
    }
    fflush(out);
    pthread_mutex_unlock(&out_mu);
}
