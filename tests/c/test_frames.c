/*
 * test_frames BROKER: frames the application owns.
 *  - stomp_frame_clone of a frame lent to on_message: usable after the callback, after the connection
 *    is freed, independent of further clones (freeing one leaves the other intact);
 *  - accessors: command, header lookup (absent / NULL name), header_count, header_at in order with
 *    NULL out-pointers allowed and NOT_FOUND past the end (outputs untouched), body with NUL bytes and
 *    a NULL length pointer;
 *  - stomp_frame_headers_packed and stomp_frame_packed: the same data in one block, sizes asked
 *    with a NULL buffer, nothing written when it does not fit;
 *  - stomp_connected_frame: a CONNECTED frame with an empty body, freed independently;
 *  - frames from stomp_receive and stomp_connected_frame freed in any order.
 */
#include "test_util.h"

int main(int argc, char **argv) {
    broker b;
    recorder rec;
    stomp_listener l;
    stomp_connection *c;
    stomp_frame *lent_clone, *clone2, *cf, *cf2, *pulled = NULL;
    char q[128];
    const char body[] = "a\0b\0c";
    const size_t body_len = sizeof body; /* 6, the last NUL included */
    size_t len, i, n;
    const char *name, *value;

    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_broker_arg(argc > 1 ? argv[1] : NULL);
    rec_init(&rec);
    l = rec_listener(&rec);
    t_unique_queue(q, sizeof q, "frames");

    t_section("%s: clones of a lent frame", b.name);
    c = t_connect(&b, STOMP_VERSION_1_2, 4, &l);
    CHECK_OK(stomp_subscribe(c, q, "f", STOMP_ACK_AUTO, NULL, 0));
    {
        stomp_header h[2] = {{"x-one", "1"}, {"x-two", "two"}};
        CHECK_OK(stomp_send(c, q, body, body_len, "application/octet-stream", h, 2));
    }
    CHECK(rec_wait_messages(&rec, 1, T_WAIT_MS));
    CHECK_OK(stomp_receive(c, T_WAIT_MS, &pulled));
    CHECK_OK(stomp_connected_frame(c, &cf));
    CHECK_OK(stomp_connected_frame(c, &cf2));
    CHECK(cf != cf2);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);
    t_ok("connection freed; the frames below outlive it");

    lent_clone = rec.messages[0]; /* cloned inside on_message */
    clone2 = stomp_frame_clone(lent_clone);
    CHECK(clone2 != NULL);
    CHECK(clone2 != lent_clone);
    CHECK_STR(stomp_frame_command(lent_clone), "MESSAGE");
    CHECK(t_body_is(lent_clone, body, body_len));
    CHECK(t_body_is(pulled, body, body_len));
    CHECK_STR(stomp_frame_header(lent_clone, "x-one"), "1");
    CHECK_STR(stomp_frame_header(lent_clone, "x-two"), "two");
    CHECK_STR(stomp_frame_header(lent_clone, "destination"), q);
    CHECK(stomp_frame_header(lent_clone, "x-absent") == NULL);
    CHECK(stomp_frame_header(lent_clone, NULL) == NULL);
    CHECK(stomp_frame_header(lent_clone, "") == NULL);
    CHECK(stomp_frame_body(lent_clone, NULL) != NULL);

    t_section("%s: header_at", b.name);
    n = stomp_frame_header_count(lent_clone);
    CHECK(n >= 4);
    CHECK(n == stomp_frame_header_count(clone2));
    for (i = 0; i < n; i++) {
        const char *n2 = NULL, *v2 = NULL;
        name = value = NULL;
        if (stomp_frame_header_at(lent_clone, i, &name, &value) != STOMP_OK || !name || !value)
            t_fail(__FILE__, __LINE__, "header_at(%zu)", i);
        if (stomp_frame_header_at(clone2, i, &n2, &v2) != STOMP_OK || strcmp(name, n2) != 0 || strcmp(value, v2) != 0)
            t_fail(__FILE__, __LINE__, "the clone's header %zu differs", i);
        /* the first header of a name is what stomp_frame_header returns */
        if (stomp_frame_header(lent_clone, name) == NULL) t_fail(__FILE__, __LINE__, "header %s not found", name);
        printf("    %s: %s\n", name, value);
    }
    t_ok("every header_at(i) of the clone equals the original's");
    name = "untouched";
    value = "untouched";
    CHECK_RC(stomp_frame_header_at(lent_clone, n, &name, &value), STOMP_ERR_NOT_FOUND);
    CHECK_RC(stomp_frame_header_at(lent_clone, (size_t)-1, &name, &value), STOMP_ERR_NOT_FOUND);
    CHECK_STR(name, "untouched");
    CHECK_STR(value, "untouched");
    CHECK_OK(stomp_frame_header_at(lent_clone, 0, NULL, &value));
    CHECK(value != NULL && strcmp(value, "untouched") != 0);
    CHECK_OK(stomp_frame_header_at(lent_clone, 0, &name, NULL));
    CHECK(name != NULL && strcmp(name, "untouched") != 0);

    t_section("%s: headers_packed gives every header in one block", b.name);
    {
        size_t need = 0, need2 = 0, at = 0;
        char small[4] = "xyz";
        char *block;
        CHECK_RC(stomp_frame_headers_packed(lent_clone, NULL, 0, &need), STOMP_ERR_BUFFER_TOO_SMALL);
        CHECK(need > 0);
        CHECK_RC(stomp_frame_headers_packed(lent_clone, small, sizeof small, &need2), STOMP_ERR_BUFFER_TOO_SMALL);
        CHECK(need2 == need);
        CHECK_STR(small, "xyz"); /* nothing written when it does not fit */
        CHECK_RC(stomp_frame_headers_packed(lent_clone, NULL, 8, &need2), STOMP_ERR_INVALID_ARGUMENT);
        CHECK_RC(stomp_frame_headers_packed(lent_clone, small, sizeof small, NULL), STOMP_ERR_INVALID_ARGUMENT);
        CHECK_RC(stomp_frame_headers_packed(NULL, small, sizeof small, &need2), STOMP_ERR_INVALID_ARGUMENT);
        block = malloc(need);
        CHECK(block != NULL);
        CHECK_OK(stomp_frame_headers_packed(lent_clone, block, need, &need2));
        CHECK(need2 == need);
        for (i = 0; i < n; i++) {
            if (stomp_frame_header_at(lent_clone, i, &name, &value) != STOMP_OK)
                t_fail(__FILE__, __LINE__, "header_at(%zu)", i);
            if (at >= need || strcmp(block + at, name) != 0)
                t_fail(__FILE__, __LINE__, "packed name %zu is not %s", i, name);
            at += strlen(name) + 1;
            if (at >= need || strcmp(block + at, value) != 0)
                t_fail(__FILE__, __LINE__, "packed value %zu is not %s", i, value);
            at += strlen(value) + 1;
        }
        CHECK(at == need);
        free(block);
        t_ok("the packed block is the headers of header_at, in order, and nothing more");
    }

    t_section("%s: frame_packed gives command, headers and body in one block", b.name);
    {
        size_t need = 0, at = 0, hneed = 0, need2 = 7, at2 = 7;
        char small[4] = "xyz";
        char *block;
        const char *cmd = stomp_frame_command(lent_clone);
        const unsigned char *bptr = stomp_frame_body(lent_clone, &len);
        CHECK_RC(stomp_frame_headers_packed(lent_clone, NULL, 0, &hneed), STOMP_ERR_BUFFER_TOO_SMALL);
        CHECK_RC(stomp_frame_packed(lent_clone, NULL, 0, &need, &at), STOMP_ERR_BUFFER_TOO_SMALL);
        CHECK(at == strlen(cmd) + 1 + hneed);
        CHECK(need == at + len);
        CHECK_RC(stomp_frame_packed(lent_clone, small, sizeof small, &need2, &at2), STOMP_ERR_BUFFER_TOO_SMALL);
        CHECK(need2 == need && at2 == at);
        CHECK_STR(small, "xyz"); /* nothing written when it does not fit */
        CHECK_RC(stomp_frame_packed(lent_clone, NULL, 8, &need2, &at2), STOMP_ERR_INVALID_ARGUMENT);
        CHECK_RC(stomp_frame_packed(lent_clone, small, sizeof small, NULL, &at2), STOMP_ERR_INVALID_ARGUMENT);
        CHECK_RC(stomp_frame_packed(lent_clone, small, sizeof small, &need2, NULL), STOMP_ERR_INVALID_ARGUMENT);
        CHECK_RC(stomp_frame_packed(NULL, small, sizeof small, &need2, &at2), STOMP_ERR_INVALID_ARGUMENT);
        block = malloc(need + 1);
        CHECK(block != NULL);
        block[need] = '#'; /* past the end: must stay */
        need2 = at2 = 0;
        CHECK_OK(stomp_frame_packed(lent_clone, block, need + 1, &need2, &at2));
        CHECK(need2 == need && at2 == at && block[need] == '#');
        CHECK_STR(block, cmd);
        {
            char *headers = malloc(hneed);
            CHECK(headers != NULL);
            CHECK_OK(stomp_frame_headers_packed(lent_clone, headers, hneed, &hneed));
            CHECK(memcmp(block + strlen(cmd) + 1, headers, hneed) == 0);
            free(headers);
        }
        CHECK(len == body_len && memcmp(block + at, bptr, len) == 0 && memcmp(block + at, body, body_len) == 0);
        free(block);
        t_ok("the packed frame is the command, the packed headers and the body (NULs kept), nothing more");
    }

    t_section("%s: freeing one copy leaves the others intact", b.name);
    rec_destroy(&rec); /* frees lent_clone */
    CHECK(t_body_is(clone2, body, body_len));
    CHECK_STR(stomp_frame_header(clone2, "x-two"), "two");
    stomp_frame_free(pulled);
    CHECK(t_body_is(clone2, body, body_len));
    stomp_frame_free(clone2);

    t_section("%s: the CONNECTED frame", b.name);
    CHECK_STR(stomp_frame_command(cf), "CONNECTED");
    len = 99;
    (void)stomp_frame_body(cf, &len);
    CHECK(len == 0);
    CHECK_STR(stomp_frame_header(cf, "version"), "1.2");
    CHECK(stomp_frame_header_count(cf) >= 2);
    stomp_frame_free(cf);
    CHECK_STR(stomp_frame_header(cf2, "version"), "1.2");
    {
        stomp_frame *cf3 = stomp_frame_clone(cf2);
        stomp_frame_free(cf2);
        CHECK_STR(stomp_frame_command(cf3), "CONNECTED");
        stomp_frame_free(cf3);
    }
    return t_done("test_frames");
}
