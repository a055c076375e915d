/*
 * test_transactions BROKER VERSION: BEGIN / COMMIT / ABORT.
 *  - stomp_begin with a generated id (36 characters written to id_out) and with a named one;
 *  - a message sent in a transaction is held until COMMIT: a receipt-confirmed marker sent outside
 *    it after it arrives first; after COMMIT the message arrives;
 *  - an aborted send is never delivered: the receipt-confirmed marker sent after the ABORT is the
 *    next message, and nothing follows it;
 *  - an ACK inside an aborted transaction does not count: the message comes back (RabbitMQ; ActiveMQ
 *    too), and an ACK in a committed one does;
 *  - the id buffer too small: STOMP_ERR_BUFFER_TOO_SMALL.
 */
#include "test_util.h"

static broker b;
static stomp_version v;

static void expect_next(stomp_connection *c, const char *body) {
    stomp_frame *m = T_RECEIVE(c);
    char got[64];
    if (!t_body_is_str(m, body)) {
        t_fail(__FILE__, __LINE__, "expected the message \"%s\", got \"%s\"", body, t_body_str(m, got, sizeof got));
    }
    printf("  ok  next message is \"%s\"\n", body);
    stomp_frame_free(m);
}

static void expect_nothing(stomp_connection *c, uint32_t ms) {
    stomp_frame *m = NULL;
    char got[64];
    stomp_result rc = stomp_receive(c, ms, &m);
    if (rc != STOMP_ERR_TIMEOUT) {
        t_fail(__FILE__, __LINE__, "expected no message, got %s%s", stomp_strerror(rc),
               m ? t_body_str(m, got, sizeof got) : "");
    }
    printf("  ok  no further message within %u ms\n", (unsigned)ms);
}

static void test_commit_and_abort(void) {
    char q[128], tx[64], named[64], out[64];
    stomp_connection *c;
    stomp_header in_tx[1] = {{"transaction", NULL}};

    t_section("%s STOMP %s: commit", b.name, t_version_str(v));
    t_unique_queue(q, sizeof q, "tx");
    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "s", STOMP_ACK_AUTO, NULL, 0));

    CHECK_RC(stomp_begin(c, NULL, tx, 36), STOMP_ERR_BUFFER_TOO_SMALL);
    CHECK_OK(stomp_begin(c, NULL, tx, sizeof tx));
    CHECK(strlen(tx) == 36);
    in_tx[0].value = tx;
    CHECK_OK(stomp_send(c, q, "committed", 9, "text/plain", in_tx, 1));
    CHECK_OK(t_send_confirmed(c, q, "marker-1", NULL, 0));
    expect_next(c, "marker-1"); /* the transacted message is held */
    CHECK_OK(stomp_commit(c, tx));
    expect_next(c, "committed");

    t_section("%s STOMP %s: abort", b.name, t_version_str(v));
    snprintf(named, sizeof named, "tx-named-%ld", (long)getpid());
    CHECK_RC(stomp_begin(c, named, out, strlen(named)), STOMP_ERR_BUFFER_TOO_SMALL);
    CHECK_OK(stomp_begin(c, named, out, strlen(named) + 1));
    CHECK_STR(out, named);
    in_tx[0].value = named;
    CHECK_OK(stomp_send(c, q, "aborted-1", 9, "text/plain", in_tx, 1));
    CHECK_OK(stomp_send(c, q, "aborted-2", 9, "text/plain", in_tx, 1));
    CHECK_OK(stomp_abort(c, named));
    CHECK_OK(t_send_confirmed(c, q, "marker-2", NULL, 0));
    expect_next(c, "marker-2");
    expect_nothing(c, 300);

    t_section("%s STOMP %s: begin without id_out", b.name, t_version_str(v));
    CHECK_OK(stomp_begin(c, "tx-no-out", NULL, 0));
    in_tx[0].value = "tx-no-out";
    CHECK_OK(stomp_send(c, q, "committed-2", 11, "text/plain", in_tx, 1));
    CHECK_OK(stomp_commit(c, "tx-no-out"));
    CHECK_OK(t_send_confirmed(c, q, "marker-3", NULL, 0));
    expect_next(c, "committed-2");
    expect_next(c, "marker-3");

    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);
}

static void test_ack_in_transaction(void) {
    char q[128];
    stomp_connection *c;
    stomp_frame *m;

    t_section("%s STOMP %s: an ACK in an aborted transaction does not count", b.name, t_version_str(v));
    t_unique_queue(q, sizeof q, "tx-ack");
    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "s", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "acked-in-tx", NULL, 0));
    m = T_RECEIVE(c);
    CHECK(t_body_is_str(m, "acked-in-tx"));
    CHECK_OK(stomp_begin(c, "tx-ack-1", NULL, 0));
    CHECK_OK(stomp_ack_frame(c, m, "tx-ack-1"));
    CHECK_OK(stomp_abort(c, "tx-ack-1"));
    stomp_frame_free(m);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);

    t_section("%s STOMP %s: it comes back; acked in a committed transaction it does not", b.name, t_version_str(v));
    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "s2", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    m = T_RECEIVE(c);
    CHECK(t_body_is_str(m, "acked-in-tx"));
    CHECK_OK(stomp_begin(c, "tx-ack-2", NULL, 0));
    CHECK_OK(stomp_ack_frame(c, m, "tx-ack-2"));
    CHECK_OK(stomp_commit(c, "tx-ack-2"));
    stomp_frame_free(m);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);

    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "s3", STOMP_ACK_AUTO, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "marker", NULL, 0));
    expect_next(c, "marker");
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_broker_arg(argc > 1 ? argv[1] : NULL);
    v = t_version_arg(argc > 2 ? argv[2] : NULL);
    test_commit_and_abort();
    test_ack_in_transaction();
    return t_done("test_transactions");
}
