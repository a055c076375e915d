/*
 * test_roundtrip BROKER VERSION: send / subscribe / receive through a real broker in one protocol
 * version, pulled with stomp_receive.
 *  - the negotiated version and the CONNECTED frame (server, version);
 *  - binary bodies holding NUL bytes (every byte value, a 256 KiB one, an empty one) arrive intact;
 *  - a text body with its content-type;
 *  - header values with ':', newline and backslash (and carriage return under 1.2) survive under
 *    1.1/1.2 (escaped on the wire); under 1.0 ':' and backslash survive, and a newline is refused
 *    with STOMP_ERR_INVALID_HEADER, the connection living on;
 *  - stomp_send_frame builds a SEND; CONNECT cannot be sent that way;
 *  - MESSAGE headers: destination, message-id, subscription (1.1+), all of them through header_at;
 *  - stomp_subscribe_out reports a generated id; after stomp_unsubscribe nothing more arrives.
 */
#include "test_util.h"

static broker b;
static stomp_version v;

static void check_connected(stomp_connection *c) {
    stomp_version got = (stomp_version)0;
    stomp_frame *cf = NULL;
    const char *ver;
    t_section("%s STOMP %s: connected", b.name, t_version_str(v));
    CHECK(stomp_is_connected(c));
    CHECK_OK(stomp_connection_version(c, &got));
    CHECK(got == v);
    CHECK_OK(stomp_connected_frame(c, &cf));
    CHECK(cf != NULL);
    CHECK_STR(stomp_frame_command(cf), "CONNECTED");
    CHECK_CONTAINS(stomp_frame_header(cf, "server"), b.kind == BROKER_RABBITMQ ? "RabbitMQ" : "ActiveMQ");
    ver = stomp_frame_header(cf, "version");
    /* 1.0 brokers need not send a version header; when they do, it is the negotiated one. */
    if (v != STOMP_VERSION_1_0 || ver != NULL) CHECK_STR(ver, t_version_str(v));
    stomp_frame_free(cf);
}

static void check_message_headers(const stomp_frame *m, const char *dest, const char *sub_id) {
    size_t i, n = stomp_frame_header_count(m);
    bool saw_dest = false;
    CHECK_STR(stomp_frame_command(m), "MESSAGE");
    CHECK_STR(stomp_frame_header(m, "destination"), dest);
    CHECK(stomp_frame_header(m, "message-id") != NULL);
    if (v != STOMP_VERSION_1_0) CHECK_STR(stomp_frame_header(m, "subscription"), sub_id);
    /* auto acknowledgement: nothing to ack, so no `ack` header even under 1.2 */
    CHECK(n >= 2);
    for (i = 0; i < n; i++) {
        const char *name = NULL, *value = NULL;
        if (stomp_frame_header_at(m, i, &name, &value) != STOMP_OK || name == NULL || value == NULL) {
            t_fail(__FILE__, __LINE__, "stomp_frame_header_at(%zu) of %zu failed", i, n);
        }
        if (strcmp(name, "destination") == 0 && strcmp(value, dest) == 0) saw_dest = true;
    }
    CHECK(saw_dest);
    CHECK_RC(stomp_frame_header_at(m, n, NULL, NULL), STOMP_ERR_NOT_FOUND);
}

int main(int argc, char **argv) {
    char q[128], sub_id[64], rid[64];
    stomp_connection *c;
    stomp_frame *m;
    uint8_t binary[256 + 3];
    uint8_t *big;
    const size_t big_len = 256 * 1024;
    size_t i;
    const char *odd_value; /* set below: 1.2 also escapes a carriage return */
    /* 1.0 has no escapes: colons and backslashes go as they are and must come back so (RabbitMQ
     * applies 1.1 escaping to 1.0 frames; the library does the same with it). */
    const char *sub_value = "colons:a:b back\\slash \\c";

    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_broker_arg(argc > 1 ? argv[1] : NULL);
    v = t_version_arg(argc > 2 ? argv[2] : NULL);
    odd_value = v == STOMP_VERSION_1_2 ? "a:b\nc\\d\re" : "a:b\nc\\d";
    t_unique_queue(q, sizeof q, "roundtrip");

    c = t_connect(&b, v, 64, NULL);
    check_connected(c);

    t_section("subscribe with a generated id");
    CHECK_OK(stomp_subscribe_out(c, q, NULL, STOMP_ACK_AUTO, NULL, 0, sub_id, sizeof sub_id));
    CHECK(strlen(sub_id) == 36);

    t_section("send: text, binary with NUL bytes, empty, 256 KiB, escaped headers");
    for (i = 0; i < 256; i++) binary[i] = (uint8_t)i;
    binary[256] = 0;
    binary[257] = 0;
    binary[258] = 1;
    big = malloc(big_len);
    CHECK(big != NULL);
    for (i = 0; i < big_len; i++) big[i] = (uint8_t)((i * 7919u) >> 3); /* NULs included */

    {
        stomp_header h[2] = {{"x-text", "yes"}, {"x-odd", NULL}};
        h[1].value = v == STOMP_VERSION_1_0 ? sub_value : odd_value;
        CHECK_OK(stomp_send(c, q, "plain text", 10, "text/plain", h, 2));
    }
    CHECK_OK(stomp_send(c, q, binary, sizeof binary, "application/octet-stream", NULL, 0));
    CHECK_OK(stomp_send(c, q, NULL, 0, NULL, NULL, 0));
    CHECK_OK(stomp_send(c, q, big, big_len, "application/octet-stream", NULL, 0));
    {
        /* stomp_send_frame: any frame, escaped and framed by the library. */
        stomp_header h[3] = {{"destination", NULL}, {"x-via", "send_frame"}, {"receipt", NULL}};
        t_unique_receipt(rid, sizeof rid, "frame");
        h[0].value = q;
        h[2].value = rid;
        CHECK_OK(stomp_send_frame(c, "SEND", h, 3, "frame\0body", 10));
        CHECK_OK(stomp_wait_receipt(c, rid, T_WAIT_MS));
        CHECK_RC(stomp_wait_receipt(c, rid, 10), STOMP_ERR_NOT_FOUND); /* a receipt is waited for once */
    }
    {
        stomp_result rc = stomp_send_frame(c, "CONNECT", NULL, 0, NULL, 0);
        printf("  stomp_send_frame(CONNECT) = %d (%s): %s\n", (int)rc, stomp_strerror(rc), stomp_last_error());
        CHECK(rc != STOMP_OK);
        CHECK(stomp_is_connected(c));
    }

    t_section("header escapes");
    if (v == STOMP_VERSION_1_0) {
        stomp_header nl = {"x-bad", "line1\nline2"};
        CHECK_RC(stomp_send(c, q, "x", 1, NULL, &nl, 1), STOMP_ERR_INVALID_HEADER);
        CHECK_CONTAINS(stomp_last_error(), "newline");
        CHECK(stomp_is_connected(c));
    }

    t_section("receive, in order");
    m = T_RECEIVE(c);
    check_message_headers(m, q, sub_id);
    CHECK(t_body_is_str(m, "plain text"));
    CHECK_STR(stomp_frame_header(m, "x-text"), "yes");
    CHECK(strncmp(stomp_frame_header(m, "content-type"), "text/plain", 10) == 0);
    CHECK_STR(stomp_frame_header(m, "x-odd"), v == STOMP_VERSION_1_0 ? sub_value : odd_value);
    stomp_frame_free(m);

    m = T_RECEIVE(c);
    check_message_headers(m, q, sub_id);
    CHECK(t_body_is(m, binary, sizeof binary));
    CHECK_STR(stomp_frame_header(m, "content-length"), "259");
    stomp_frame_free(m);

    m = T_RECEIVE(c);
    CHECK(t_body_is(m, "", 0));
    stomp_frame_free(m);

    m = T_RECEIVE(c);
    CHECK(t_body_is(m, big, big_len));
    stomp_frame_free(m);
    free(big);

    m = T_RECEIVE(c);
    CHECK(t_body_is(m, "frame\0body", 10));
    CHECK_STR(stomp_frame_header(m, "x-via"), "send_frame");
    stomp_frame_free(m);

    t_section("unsubscribe: nothing more arrives");
    CHECK_OK(stomp_unsubscribe(c, sub_id, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "after unsubscribe", NULL, 0));
    m = NULL;
    CHECK_RC(stomp_receive(c, 300, &m), STOMP_ERR_TIMEOUT);
    CHECK(m == NULL);

    t_section("a second subscription, named, gets what the first left");
    CHECK_OK(stomp_subscribe(c, q, "named-sub", STOMP_ACK_AUTO, NULL, 0));
    m = T_RECEIVE(c);
    CHECK(t_body_is_str(m, "after unsubscribe"));
    if (v != STOMP_VERSION_1_0) CHECK_STR(stomp_frame_header(m, "subscription"), "named-sub");
    stomp_frame_free(m);

    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);
    return t_done("test_roundtrip");
}
