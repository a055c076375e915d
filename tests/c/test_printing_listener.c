/*
 * test_printing_listener: stomp_set_printing_listener prints every event and frame to standard
 * output, stomp.py style, with the passcode masked. Standard output is sent to a temporary file
 * for the session (RabbitMQ, STOMP 1.2), then read back and checked:
 * on_connecting, on_send CONNECT (passcode "********", never the real one), on_connected CONNECTED,
 * on_send SUBSCRIBE/SEND, on_before_message + on_message with the text body, a binary body shown as
 * "<N bytes of binary>", on_receipt, on_disconnecting, on_disconnected, on_receiver_loop_completed.
 * A printer removed again prints nothing.
 */
#include "test_util.h"

#include <fcntl.h>

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    long n;
    char *buf;
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    buf[n] = '\0';
    fclose(f);
    return buf;
}

int main(void) {
    broker b = t_rabbitmq();
    recorder rec;
    stomp_listener l;
    stomp_connection *c;
    char path[] = "/tmp/stomp-printing-XXXXXX";
    char q[128], rid[64], line[256];
    const char passcode[] = T_PASSCODE; /* must not appear in the output */
    const uint8_t binary[5] = {0xff, 0x00, 0xfe, 0x00, 0x01};
    int fd, saved;
    char *out;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rec_init(&rec);
    l = rec_listener(&rec);
    t_unique_queue(q, sizeof q, "printing");
    t_unique_receipt(rid, sizeof rid, "printing");

    t_section("a session with the printing listener, standard output to %s", path);
    fd = mkstemp(path);
    CHECK(fd >= 0);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    CHECK(saved >= 0);
    CHECK(dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);

    /* From here until the restore, stdout is the file: report nothing on it. */
    /* The printer first, the recorder second: listeners hear each event in the order they were
     * added, so when the recorder has heard an event the printer has printed it. */
    c = t_new_connection(&b, STOMP_VERSION_1_2, 0, NULL);
    if (stomp_set_printing_listener(c, "printer") != STOMP_OK) t_fail(__FILE__, __LINE__, "set_printing_listener");
    if (stomp_set_listener(c, "t", &l) != STOMP_OK) t_fail(__FILE__, __LINE__, "set_listener");
    if (stomp_connect(c, T_LOGIN, passcode, NULL, 0, true) != STOMP_OK) t_fail(__FILE__, __LINE__, "connect");
    if (stomp_subscribe(c, q, "print-sub", STOMP_ACK_AUTO, NULL, 0) != STOMP_OK) t_fail(__FILE__, __LINE__, "subscribe");
    if (stomp_send(c, q, "hello printer", 13, "text/plain", NULL, 0) != STOMP_OK) t_fail(__FILE__, __LINE__, "send");
    if (stomp_send(c, q, binary, sizeof binary, NULL, NULL, 0) != STOMP_OK) t_fail(__FILE__, __LINE__, "send");
    {
        stomp_header h = {"receipt", rid};
        if (stomp_send(c, q, "third", 5, NULL, &h, 1) != STOMP_OK) t_fail(__FILE__, __LINE__, "send");
    }
    if (!rec_wait_messages(&rec, 3, T_WAIT_MS)) t_fail(__FILE__, __LINE__, "messages did not arrive");
    snprintf(line, sizeof line, "receipt %s", rid);
    if (!rec_wait_event(&rec, line, T_WAIT_MS)) t_fail(__FILE__, __LINE__, "receipt did not arrive");
    if (stomp_disconnect(c, NULL, T_WAIT_MS) != STOMP_OK) t_fail(__FILE__, __LINE__, "disconnect");
    /* on_receiver_loop_completed is the last event; the printer printed it before "t" heard it. */
    if (!rec_wait_event(&rec, "loop_completed", T_WAIT_MS)) t_fail(__FILE__, __LINE__, "no loop_completed");
    stomp_connection_free(c);
    /* A printer removed before connecting prints nothing (another handle, so that the output of
     * the first is complete and this one's would stand out). */
    c = t_new_connection(&b, STOMP_VERSION_1_2, 0, NULL);
    if (stomp_set_printing_listener(c, "printer") != STOMP_OK) t_fail(__FILE__, __LINE__, "set_printing_listener 2");
    if (stomp_set_listener(c, "t", &l) != STOMP_OK) t_fail(__FILE__, __LINE__, "set_listener 2");
    if (stomp_remove_listener(c, "printer") != STOMP_OK) t_fail(__FILE__, __LINE__, "remove_listener");
    if (stomp_connect(c, T_LOGIN, passcode, NULL, 0, true) != STOMP_OK) t_fail(__FILE__, __LINE__, "connect 2");
    if (stomp_subscribe(c, q, "print-sub-2", STOMP_ACK_AUTO, NULL, 0) != STOMP_OK) t_fail(__FILE__, __LINE__, "subscribe 2");
    if (stomp_send(c, q, "unprinted", 9, NULL, NULL, 0) != STOMP_OK) t_fail(__FILE__, __LINE__, "send 2");
    if (!rec_wait_messages(&rec, 4, T_WAIT_MS)) t_fail(__FILE__, __LINE__, "message 4 did not arrive");
    if (stomp_disconnect(c, NULL, T_WAIT_MS) != STOMP_OK) t_fail(__FILE__, __LINE__, "disconnect 2");
    stomp_connection_free(c);

    fflush(stdout);
    CHECK(dup2(saved, STDOUT_FILENO) == STDOUT_FILENO);
    close(saved);
    close(fd);

    out = read_all(path);
    unlink(path);
    CHECK(out != NULL);
    printf("---- printed by the listener ----\n%s---- end ----\n", out);

    t_section("what was printed");
    snprintf(line, sizeof line, "on_connecting 127.0.0.1 %u\n", (unsigned)b.port);
    CHECK_CONTAINS(out, line);
    CHECK_CONTAINS(out, "on_send CONNECT {");
    CHECK_CONTAINS(out, "\"accept-version\": \"1.0,1.1,1.2\"");
    CHECK_CONTAINS(out, "\"login\": \"" T_LOGIN "\"");
    CHECK_CONTAINS(out, "\"passcode\": \"********\"");
    CHECK(strstr(out, passcode) == NULL);
    CHECK_CONTAINS(out, "on_connected CONNECTED {");
    CHECK_CONTAINS(out, "\"version\": \"1.2\"");
    CHECK_CONTAINS(out, "on_send SUBSCRIBE {");
    CHECK_CONTAINS(out, "\"id\": \"print-sub\"");
    CHECK_CONTAINS(out, "on_send SEND {");
    CHECK_CONTAINS(out, "on_before_message MESSAGE {");
    CHECK_CONTAINS(out, "on_message MESSAGE {");
    CHECK_CONTAINS(out, "} hello printer\n");
    CHECK_CONTAINS(out, "<5 bytes of binary>");
    snprintf(line, sizeof line, "on_receipt RECEIPT {\"receipt-id\": \"%s\"}", rid);
    CHECK_CONTAINS(out, line);
    CHECK_CONTAINS(out, "on_disconnecting\n");
    CHECK_CONTAINS(out, "on_send DISCONNECT {");
    CHECK_CONTAINS(out, "on_disconnected\n");
    CHECK_CONTAINS(out, "on_receiver_loop_completed\n");
    CHECK(strstr(out, "on_connecting") < strstr(out, "on_connected"));
    CHECK(strstr(out, "on_connected") < strstr(out, "on_message"));
    CHECK(strstr(out, "on_disconnecting") < strstr(out, "on_disconnected"));
    CHECK(strstr(out, "unprinted") == NULL);
    free(out);
    rec_destroy(&rec);
    return t_done("test_printing_listener");
}
