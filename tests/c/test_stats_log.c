/*
 * test_stats_log: the log callback and the stats of the C API (ActiveMQ, STOMP 1.2).
 *
 * A session at trace level with a distinctive passcode (ActiveMQ accepts any): every frame is
 * traced, the passcode never appears in any message, the callback is never called once
 * stomp_set_log_callback(NULL, ...) has returned. stomp_stats_get counts exactly the frames and
 * messages the test made; a smaller (older) and a larger (newer) stomp_stats are written only up to
 * their size; stomp_stats_format fills a buffer or says BUFFER_TOO_SMALL; bad arguments are refused.
 */
#include "test_util.h"

#define PASSCODE "Pw-ctest-logstats-4Hq8"
#define N_SEND 5
#define MAX_LINES 4096

/* What the log callback collected. */
typedef struct {
    pthread_mutex_t mu;
    size_t lines, with_passcode, traced_connect, masked, traced_send, traced_message;
    stomp_log_level max_level_seen;
    int calls_after_unset;
    bool unset;
} logbook;

static void on_log(void *ud, stomp_log_level level, const char *message) {
    logbook *b = ud;
    pthread_mutex_lock(&b->mu);
    if (b->unset) b->calls_after_unset++;
    b->lines++;
    if (level > b->max_level_seen) b->max_level_seen = level;
    if (strstr(message, PASSCODE) != NULL) b->with_passcode++;
    if (strstr(message, ">>> CONNECT ") != NULL) b->traced_connect++;
    if (strstr(message, "passcode:********") != NULL) b->masked++;
    if (strstr(message, ">>> SEND ") != NULL) b->traced_send++;
    if (strstr(message, "<<< MESSAGE ") != NULL) b->traced_message++;
    pthread_mutex_unlock(&b->mu);
}

int main(void) {
    broker b = t_activemq();
    logbook book;
    stomp_connection *c;
    stomp_stats s, *big;
    char q[128], rid[64], text[1024], tiny[16];
    size_t i, small_size;
    int n;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&book, 0, sizeof book);
    pthread_mutex_init(&book.mu, NULL);
    t_unique_queue(q, sizeof q, "statslog");

    t_section("arguments");
    CHECK_RC(stomp_set_log_callback(on_log, &book, (stomp_log_level)6), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_stats_get(NULL, &s), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_stats_format(NULL, text, sizeof text), STOMP_ERR_INVALID_ARGUMENT);

    t_section("a traced session: %d sends with receipts, %d messages back", N_SEND, N_SEND);
    CHECK_OK(stomp_set_log_callback(on_log, &book, STOMP_LOG_TRACE));
    c = t_new_connection(&b, STOMP_VERSION_1_2, 16, NULL);
    memset(&s, 0xAB, sizeof s);
    s.size = 0;
    CHECK_RC(stomp_stats_get(c, &s), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(stomp_last_error(), "sizeof(stomp_stats)");
    s.size = sizeof s;
    CHECK_OK(stomp_stats_get(c, &s));
    CHECK(s.size == sizeof s && s.connections == 0 && s.bytes_sent == 0 && s.frames_held == 0);

    CHECK_OK(stomp_connect(c, "ctest-user", PASSCODE, NULL, 0, true));
    CHECK_OK(stomp_subscribe(c, q, "s1", STOMP_ACK_AUTO, NULL, 0));
    for (i = 0; i < N_SEND; i++) CHECK_OK(t_send_confirmed(c, q, "stats body", NULL, 0));
    for (i = 0; i < N_SEND; i++) stomp_frame_free(T_RECEIVE(c));
    t_unique_receipt(rid, sizeof rid, "bye");
    CHECK_OK(stomp_disconnect(c, rid, T_WAIT_MS));

    t_section("stats: exactly the traffic of the session");
    CHECK_OK(stomp_stats_get(c, &s));
    CHECK(s.connections == 1 && s.disconnects == 1 && s.reconnects == 0);
    CHECK(s.messages_sent == N_SEND && s.messages_received == N_SEND);
    /* Receipts: N_SEND sends and the DISCONNECT. */
    CHECK(s.receipts_received == N_SEND + 1);
    /* CONNECT, SUBSCRIBE, N_SEND SEND, DISCONNECT; CONNECTED, N_SEND MESSAGE and RECEIPTs. */
    CHECK(s.frames_sent == N_SEND + 3);
    CHECK(s.frames_received == 2 * N_SEND + 2);
    CHECK(s.errors == 0 && s.heartbeat_timeouts == 0 && s.frames_held == 0);
    CHECK(s.bytes_sent > 0 && s.bytes_received > 0);

    t_section("a size smaller than any stomp_stats is refused; a newer program's larger struct");
    {
        /* As if built against a header whose struct ended before frames_held. */
        stomp_stats old;
        memset(&old, 0xAB, sizeof old);
        small_size = offsetof(stomp_stats, frames_held);
        old.size = small_size;
        /* Smaller than the first layout ever made: refused. */
        CHECK_RC(stomp_stats_get(c, &old), STOMP_ERR_INVALID_ARGUMENT);
    }
    big = malloc(sizeof *big + 16);
    CHECK(big != NULL);
    memset(big, 0xAB, sizeof *big + 16);
    big->size = sizeof *big + 16;
    CHECK_OK(stomp_stats_get(c, big));
    CHECK(big->size == sizeof *big + 16 && big->messages_sent == N_SEND);
    {
        const unsigned char *tail = (const unsigned char *)(big + 1);
        bool zero = true;
        for (i = 0; i < 16; i++) zero = zero && tail[i] == 0;
        CHECK(zero); /* members this library does not know read as 0 */
    }
    free(big);

    t_section("stomp_stats_format");
    CHECK_OK(stomp_stats_format(&s, text, sizeof text));
    n = 0;
    for (i = 0; text[i] != '\0'; i++) n += text[i] == '\n';
    CHECK(n == 14); /* 15 lines, no newline after the last */
    {
        const char *head = "connections: 1\ndisconnects: 1\nreconnects: 0\n";
        CHECK(strncmp(text, head, strlen(head)) == 0);
    }
    {
        char want[64];
        snprintf(want, sizeof want, "messages_sent: %d\n", N_SEND);
        CHECK_CONTAINS(text, want);
    }
    CHECK_CONTAINS(text, "frames_held: 0");
    CHECK_RC(stomp_stats_format(&s, tiny, sizeof tiny), STOMP_ERR_BUFFER_TOO_SMALL);
    CHECK_CONTAINS(stomp_last_error(), "bytes are needed");
    CHECK_RC(stomp_stats_format(&s, NULL, 0), STOMP_ERR_INVALID_ARGUMENT);

    t_section("the log: every frame traced, the passcode never");
    CHECK_OK(stomp_log_flush(T_WAIT_MS));
    pthread_mutex_lock(&book.mu);
    printf("  (%zu log lines)\n", book.lines);
    CHECK(book.lines > 0);
    CHECK(book.with_passcode == 0);
    CHECK(book.traced_connect == 1 && book.masked == 1);
    CHECK(book.traced_send == N_SEND && book.traced_message == N_SEND);
    CHECK(book.max_level_seen == STOMP_LOG_TRACE);
    pthread_mutex_unlock(&book.mu);

    t_section("unset: the callback is never called again");
    CHECK_OK(stomp_set_log_callback(NULL, NULL, STOMP_LOG_OFF));
    pthread_mutex_lock(&book.mu);
    book.unset = true;
    pthread_mutex_unlock(&book.mu);
    stomp_connection_free(c);
    c = t_connect(&b, STOMP_VERSION_1_2, 0, NULL);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    CHECK_OK(stomp_log_flush(T_WAIT_MS));
    CHECK(book.calls_after_unset == 0);
    stomp_connection_free(c);
    pthread_mutex_destroy(&book.mu);
    return t_done("test_stats_log");
}
