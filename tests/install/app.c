/*
 * tests/install/app.c: a program built outside the tree against an installed libstomp, through
 * find_package(stomp) (CMakeLists.txt here) or pkg-config (Makefile here). It prints the library's
 * version, checks it against the installed header, and makes a short session with RabbitMQ
 * (connect, subscribe, send with a receipt, receive it back, disconnect). Exit status 0 on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stomp.h>

static int fail(const char *what, stomp_result rc) {
    fprintf(stderr, "app: %s: %s (%d): %s\n", what, stomp_strerror(rc), (int)rc, stomp_last_error());
    return 1;
}

int main(void) {
    const char *port_env = getenv("STOMP_RABBITMQ_PORT");
    uint16_t port = port_env != NULL && *port_env != '\0' ? (uint16_t)atoi(port_env) : 61613;
    char queue[96];
    stomp_header receipt = {"receipt", "install-check-1"};
    stomp_options *opts;
    stomp_connection *conn;
    stomp_result rc;

    printf("libstomp %s (header %s)\n", stomp_lib_version(), STOMP_LIB_VERSION);
    if (strcmp(stomp_lib_version(), STOMP_LIB_VERSION) != 0) {
        fprintf(stderr, "app: the library and the header disagree on the version\n");
        return 1;
    }

    opts = stomp_options_new();
    if (opts == NULL || stomp_options_add_host(opts, "127.0.0.1", port) != STOMP_OK ||
        stomp_options_set_vhost(opts, "/") != STOMP_OK || stomp_options_set_receive_queue(opts, 4) != STOMP_OK) {
        return fail("options", STOMP_ERR_INTERNAL);
    }
    conn = stomp_connection_new(opts);
    stomp_options_free(opts);
    if (conn == NULL) return fail("stomp_connection_new", STOMP_ERR_INTERNAL);

    rc = stomp_connect(conn, "guest", "guest", NULL, 0, true);
    if (rc != STOMP_OK) return fail("connect", rc);
    snprintf(queue, sizeof queue, "/queue/ctest-%ld-install", (long)getpid());
    rc = stomp_subscribe(conn, queue, "install", STOMP_ACK_AUTO, NULL, 0);
    if (rc != STOMP_OK) return fail("subscribe", rc);
    rc = stomp_send(conn, queue, "installed", 9, "text/plain", &receipt, 1);
    if (rc != STOMP_OK) return fail("send", rc);
    rc = stomp_wait_receipt(conn, "install-check-1", 10000);
    if (rc != STOMP_OK) return fail("receipt", rc);
    {
        stomp_frame *m = NULL;
        size_t len = 0;
        const uint8_t *body;
        rc = stomp_receive(conn, 10000, &m);
        if (rc != STOMP_OK) return fail("receive", rc);
        body = stomp_frame_body(m, &len);
        if (len != 9 || memcmp(body, "installed", 9) != 0) {
            fprintf(stderr, "app: the message came back different\n");
            return 1;
        }
        stomp_frame_free(m);
    }
    rc = stomp_disconnect(conn, NULL, 10000);
    if (rc != STOMP_OK) return fail("disconnect", rc);
    stomp_connection_free(conn);
    printf("connect, subscribe, send (receipt confirmed), receive, disconnect: ok\n");
    return 0;
}
