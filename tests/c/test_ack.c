/*
 * test_ack BROKER VERSION: acknowledgements, proved by what the broker redelivers to the next
 * connection (a receipt-confirmed marker sent last tells when everything redelivered has arrived).
 *  - client-individual: m1 acked with stomp_ack_frame, m3 with stomp_ack (the id the version needs:
 *    `ack` under 1.2, `message-id` + `subscription` under 1.1, `message-id` under 1.0), m2 not acked:
 *    only m2 comes back;
 *  - client (cumulative): acking a2 acks a1 too; only a3 comes back;
 *  - an ack for a message of a link that has since dropped is refused with STOMP_ERR_DISCONNECTED;
 *  - NACK (1.1/1.2) with stomp_nack_frame and stomp_nack: RabbitMQ redelivers the message; ActiveMQ
 *    accepts it; under 1.0 both are STOMP_ERR_UNSUPPORTED;
 *  - under 1.1, stomp_ack without a subscription is STOMP_ERR_INVALID_ARGUMENT.
 */
#include "test_util.h"

static broker b;
static stomp_version v;

/* On a client-individual subscription: receives (and acks) until the body `marker` arrives; the
 * bodies before it go to got[], and their count is returned. */
static int receive_until_marker(stomp_connection *c, const char *marker, char got[][32], int max) {
    int n = 0;
    for (;;) {
        char body[32];
        stomp_frame *m = T_RECEIVE(c);
        stomp_result rc = stomp_ack_frame(c, m, NULL);
        t_body_str(m, body, sizeof body);
        if (rc != STOMP_OK) t_fail(__FILE__, __LINE__, "ack of %s: %s", body, stomp_strerror(rc));
        stomp_frame_free(m);
        if (strcmp(body, marker) == 0) return n;
        if (n < max) snprintf(got[n], 32, "%s", body);
        n++;
    }
}

/* The id that stomp_ack needs for this version, from a MESSAGE. */
static const char *ack_id_of(const stomp_frame *m) {
    return v == STOMP_VERSION_1_2 ? stomp_frame_header(m, "ack") : stomp_frame_header(m, "message-id");
}

static void test_client_individual(void) {
    char q[128], got[8][32];
    stomp_connection *c;
    stomp_frame *m1, *m2, *m3;
    int n;

    t_section("%s STOMP %s: client-individual", b.name, t_version_str(v));
    t_unique_queue(q, sizeof q, "ack-ci");
    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "ci", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    CHECK_OK(stomp_send(c, q, "m1", 2, "text/plain", NULL, 0));
    CHECK_OK(stomp_send(c, q, "m2", 2, "text/plain", NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "m3", NULL, 0));
    m1 = T_RECEIVE(c);
    m2 = T_RECEIVE(c);
    m3 = T_RECEIVE(c);
    CHECK(t_body_is_str(m1, "m1"));
    CHECK(t_body_is_str(m2, "m2"));
    CHECK(t_body_is_str(m3, "m3"));
    CHECK_OK(stomp_ack_frame(c, m1, NULL));
    if (v == STOMP_VERSION_1_1) {
        /* 1.1 needs the subscription */
        CHECK_RC(stomp_ack(c, ack_id_of(m3), NULL, NULL), STOMP_ERR_INVALID_ARGUMENT);
        CHECK_CONTAINS(stomp_last_error(), "subscription");
    }
    CHECK_OK(stomp_ack(c, ack_id_of(m3), v == STOMP_VERSION_1_1 ? "ci" : NULL, NULL));
    /* DISCONNECT's receipt comes after the broker has handled the ACKs before it. */
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));

    t_section("the same handle again: only m2 comes back; m2's old frame cannot be acked");
    CHECK_OK(stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true));
    CHECK_RC(stomp_ack_frame(c, m2, NULL), STOMP_ERR_DISCONNECTED);
    CHECK_CONTAINS(stomp_last_error(), "redeliver");
    CHECK_OK(stomp_subscribe(c, q, "ci2", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "marker", NULL, 0));
    n = receive_until_marker(c, "marker", got, 8);
    CHECK(n == 1);
    CHECK_STR(got[0], "m2");
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_frame_free(m1);
    stomp_frame_free(m2);
    stomp_frame_free(m3);
    stomp_connection_free(c);

    t_section("a third connection: nothing is left");
    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "ci3", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "marker2", NULL, 0));
    n = receive_until_marker(c, "marker2", got, 8);
    CHECK(n == 0);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);
}

static void test_client_cumulative(void) {
    char q[128], got[8][32];
    stomp_connection *c;
    stomp_frame *a1, *a2, *a3;
    int n;

    t_section("%s STOMP %s: client (cumulative)", b.name, t_version_str(v));
    t_unique_queue(q, sizeof q, "ack-client");
    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "cl", STOMP_ACK_CLIENT, NULL, 0));
    CHECK_OK(stomp_send(c, q, "a1", 2, "text/plain", NULL, 0));
    CHECK_OK(stomp_send(c, q, "a2", 2, "text/plain", NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "a3", NULL, 0));
    a1 = T_RECEIVE(c);
    a2 = T_RECEIVE(c);
    a3 = T_RECEIVE(c);
    CHECK(t_body_is_str(a1, "a1"));
    CHECK(t_body_is_str(a2, "a2"));
    CHECK(t_body_is_str(a3, "a3"));
    CHECK_OK(stomp_ack_frame(c, a2, NULL)); /* acks a1 and a2 */
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);

    t_section("a new connection: only a3 comes back");
    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "cl2", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "marker", NULL, 0));
    n = receive_until_marker(c, "marker", got, 8);
    CHECK(n == 1);
    CHECK_STR(got[0], "a3");
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);
    stomp_frame_free(a1);
    stomp_frame_free(a2);
    stomp_frame_free(a3);
}

static void test_nack(void) {
    char q[128];
    stomp_connection *c;
    stomp_frame *m, *again;

    t_section("%s STOMP %s: nack", b.name, t_version_str(v));
    t_unique_queue(q, sizeof q, "nack");
    c = t_connect(&b, v, 16, NULL);
    CHECK_OK(stomp_subscribe(c, q, "nk", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "n1", NULL, 0));
    m = T_RECEIVE(c);
    CHECK(t_body_is_str(m, "n1"));
    if (v == STOMP_VERSION_1_0) {
        CHECK_RC(stomp_nack_frame(c, m, NULL), STOMP_ERR_UNSUPPORTED);
        CHECK_RC(stomp_nack(c, stomp_frame_header(m, "message-id"), NULL, NULL), STOMP_ERR_UNSUPPORTED);
        CHECK(stomp_is_connected(c));
        CHECK_OK(stomp_ack_frame(c, m, NULL));
    } else if (b.kind == BROKER_RABBITMQ) {
        /* RabbitMQ requeues a NACKed message: it comes back, marked redelivered. */
        CHECK_OK(stomp_nack_frame(c, m, NULL));
        again = T_RECEIVE(c);
        CHECK(t_body_is_str(again, "n1"));
        CHECK_STR(stomp_frame_header(again, "redelivered"), "true");
        /* and the explicit form, with the ids this version needs */
        CHECK_OK(stomp_nack(c, ack_id_of(again), v == STOMP_VERSION_1_1 ? "nk" : NULL, NULL));
        stomp_frame_free(again);
        again = T_RECEIVE(c);
        CHECK(t_body_is_str(again, "n1"));
        CHECK_OK(stomp_ack_frame(c, again, NULL));
        stomp_frame_free(again);
    } else {
        /* ActiveMQ sends a NACKed message the redelivery/DLQ way, not straight back: check that the
         * NACK is accepted (no ERROR) and the subscription goes on: a later message arrives. */
        char got[4][32];
        CHECK_OK(stomp_nack_frame(c, m, NULL));
        CHECK_OK(t_send_confirmed(c, q, "after-nack", NULL, 0));
        (void)receive_until_marker(c, "after-nack", got, 4);
        t_ok("a message sent after the NACK arrives");
        CHECK(stomp_is_connected(c));
    }
    stomp_frame_free(m);
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_broker_arg(argc > 1 ? argv[1] : NULL);
    v = t_version_arg(argc > 2 ? argv[2] : NULL);
    test_client_individual();
    test_client_cumulative();
    test_nack();
    return t_done("test_ack");
}
