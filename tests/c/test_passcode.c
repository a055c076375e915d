/*
 * test_passcode: the passcode goes to the broker and nowhere else the application or a log could
 * see it (RabbitMQ, STOMP 1.2, the suite's user T_LOGIN/T_PASSCODE):
 *  - on_send of the CONNECT (stomp_connect credentials, then per-host ones from
 *    stomp_options_add_host_login) shows it as "********", every header of it printed here;
 *  - a refused CONNECT (a wrong passcode holding the right one): neither stomp_last_error() nor the
 *    broker's ERROR frame, both printed here, contains it;
 *  - a passcode the CONNECT cannot carry (a newline): refused with a message without it;
 *  - the printing listener (its output captured) masks it.
 * Everything this test sees is printed, so that scripts/test.sh's check of the suite's output for
 * the passcode covers it too; each is also checked here.
 */
#include "test_util.h"

#include <fcntl.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int connects; /* CONNECT frames seen by on_send */
    char passcode_shown[64];
    bool leaked; /* a frame or header carried the passcode */
} watcher;

/* Prints a frame, every header, as the application would log it; notes a leak. */
static void print_frame(watcher *w, const char *event, const stomp_frame *f) {
    size_t i, n = stomp_frame_header_count(f);
    printf("  %s %s", event, stomp_frame_command(f));
    for (i = 0; i < n; i++) {
        const char *name, *value;
        if (stomp_frame_header_at(f, i, &name, &value) != STOMP_OK) continue;
        printf(" %s:%s", name, value);
        if (strstr(value, T_PASSCODE) != NULL) w->leaked = true;
    }
    printf("\n");
}

static void on_send(void *ud, const stomp_frame *f) {
    watcher *w = ud;
    const char *cmd = stomp_frame_command(f);
    pthread_mutex_lock(&w->mu);
    print_frame(w, "on_send", f);
    if (strcmp(cmd, "CONNECT") == 0 || strcmp(cmd, "STOMP") == 0) {
        const char *p = stomp_frame_header(f, "passcode");
        snprintf(w->passcode_shown, sizeof w->passcode_shown, "%s", p ? p : "(none)");
        w->connects++;
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_error(void *ud, const stomp_frame *f) {
    watcher *w = ud;
    size_t len = 0;
    const uint8_t *body = stomp_frame_body(f, &len);
    pthread_mutex_lock(&w->mu);
    print_frame(w, "on_error", f);
    printf("  on_error body: %.*s\n", (int)len, (const char *)body);
    {
        size_t k, plen = strlen(T_PASSCODE);
        for (k = 0; k + plen <= len; k++) {
            if (memcmp(body + k, T_PASSCODE, plen) == 0) w->leaked = true;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

typedef struct {
    const watcher *w;
    int n;
} connects_goal;

static bool connects_reach(const void *arg) {
    const connects_goal *g = arg;
    return g->w->connects >= g->n;
}

/* Waits until on_send has seen n CONNECT frames in all. */
static bool wait_connects(watcher *w, int n) {
    connects_goal g = {w, n};
    return t_wait(&w->mu, &w->cv, connects_reach, &g, T_WAIT_MS);
}

static stomp_listener watcher_listener(watcher *w) {
    stomp_listener l = STOMP_LISTENER_INIT;
    memset(w, 0, sizeof *w);
    t_sync_init(&w->mu, &w->cv);
    l.user_data = w;
    l.on_send = on_send;
    l.on_error = on_error;
    return l;
}

/* stomp_last_error() printed, and checked not to hold the passcode. */
static void check_last_error(const char *after) {
    const char *e = stomp_last_error();
    printf("  stomp_last_error() after %s: %s\n", after, e);
    if (strstr(e, T_PASSCODE) != NULL) t_fail(__FILE__, __LINE__, "the last error after %s shows the passcode", after);
    t_ok("stomp_last_error() does not show the passcode");
}

static void test_on_send_and_refusal(const broker *b) {
    watcher w;
    stomp_listener l = watcher_listener(&w);
    stomp_connection *c = t_new_connection(b, STOMP_VERSION_1_2, 0, &l);

    t_section("on_send of CONNECT, the right passcode");
    CHECK_OK(stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true));
    CHECK(wait_connects(&w, 1));
    CHECK_STR(w.passcode_shown, "********");
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));

    t_section("a refused CONNECT: the wrong passcode holds the right one");
    CHECK_RC(stomp_connect(c, T_LOGIN, T_PASSCODE "-wrong", NULL, 0, true), STOMP_ERR_REFUSED);
    check_last_error("the refusal");
    CHECK(wait_connects(&w, 2));
    CHECK_STR(w.passcode_shown, "********");

    t_section("a passcode a CONNECT cannot carry (a newline in it)");
    {
        stomp_result rc = stomp_connect(c, T_LOGIN, T_PASSCODE "\nx", NULL, 0, true);
        printf("  stomp_connect gave %s\n", stomp_strerror(rc));
        CHECK(rc != STOMP_OK);
        check_last_error("a passcode with a newline");
    }
    pthread_mutex_lock(&w.mu);
    CHECK(!w.leaked);
    pthread_mutex_unlock(&w.mu);
    stomp_connection_free(c);
}

static void test_host_credentials(const broker *b) {
    watcher w;
    stomp_listener l = watcher_listener(&w);
    stomp_options *one = stomp_options_new();
    stomp_connection *c;

    t_section("per-host credentials (stomp_options_add_host_login) replace those of stomp_connect");
    CHECK_OK(stomp_options_add_host_login(one, "127.0.0.1", b->port, T_LOGIN, T_PASSCODE));
    CHECK_OK(stomp_options_set_vhost(one, "/"));
    c = stomp_connection_new(one);
    CHECK(c != NULL);
    stomp_options_free(one);
    CHECK_OK(stomp_set_listener(c, "w", &l));
    CHECK_OK(stomp_connect(c, "nobody", "not-it", NULL, 0, true));
    CHECK(wait_connects(&w, 1));
    CHECK_STR(w.passcode_shown, "********");
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    pthread_mutex_lock(&w.mu);
    CHECK(!w.leaked);
    pthread_mutex_unlock(&w.mu);
    stomp_connection_free(c);
}

static void test_printing_listener(const broker *b) {
    char path[] = "/tmp/stomp-passcode-XXXXXX";
    int fd, saved;
    stomp_connection *c;
    FILE *f;
    char line[1024];
    int lines = 0, connects = 0;

    t_section("the printing listener, standard output captured");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    CHECK(saved >= 0 && dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
    /* Until the restore, stdout is the file: no check prints here. */
    c = t_new_connection(b, STOMP_VERSION_1_2, 0, NULL);
    if (stomp_set_printing_listener(c, "printer") != STOMP_OK ||
        stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true) != STOMP_OK ||
        stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true) != STOMP_ERR_ALREADY_CONNECTED ||
        stomp_disconnect(c, NULL, T_WAIT_MS) != STOMP_OK ||
        stomp_connect(c, T_LOGIN, T_PASSCODE "-wrong", NULL, 0, true) != STOMP_ERR_REFUSED) {
        dup2(saved, STDOUT_FILENO);
        t_fail(__FILE__, __LINE__, "the session with the printing listener failed");
    }
    stomp_connection_free(c); /* no callback after this: the output is complete */
    fflush(stdout);
    CHECK(dup2(saved, STDOUT_FILENO) == STDOUT_FILENO);
    close(saved);

    f = fdopen(fd, "r");
    CHECK(f != NULL);
    rewind(f);
    printf("---- printed by the listener ----\n");
    while (fgets(line, sizeof line, f) != NULL) {
        fputs(line, stdout);
        lines++;
        if (strstr(line, "on_send CONNECT") != NULL) {
            connects++;
            CHECK_CONTAINS(line, "\"passcode\": \"********\"");
        }
        if (strstr(line, T_PASSCODE) != NULL) t_fail(__FILE__, __LINE__, "the printing listener printed the passcode");
    }
    printf("---- end ----\n");
    fclose(f);
    unlink(path);
    CHECK(connects == 2);
    CHECK(lines > 5);
}

int main(void) {
    broker b = t_rabbitmq();
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_on_send_and_refusal(&b);
    test_host_credentials(&b);
    test_printing_listener(&b);
    return t_done("test_passcode");
}
