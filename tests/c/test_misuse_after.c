/*
 * test_misuse_after: calls made after something ended (RabbitMQ, STOMP 1.2).
 *  1. Connection A after stomp_connection_free(B) of a connected B (no DISCONNECT), twice over
 *     (B freed while connected, then B' freed while messages flow to it): every connection
 *     function on A (every_call.h) gives the answer of a connected link.
 *  2. The same A after stomp_disconnect: every function gives the answer of a closed link
 *     (STOMP_ERR_NOT_CONNECTED, NOT_FOUND, CLOSED, or the last link's state), nothing crashes,
 *     and a new stomp_connect on the handle works again.
 */
#include "every_call.h"

static broker b;

/* Runs the table on `a` with the next message of its subscription (the receive queue holds two
 * per run: one for the table's stomp_ack_frame, one for its stomp_receive). */
static void run_table(stomp_connection *a, const char *q, bool closed, stomp_frame **last, const char *where) {
    ec_ctx x;
    ec_result r;
    memset(&x, 0, sizeof x);
    x.conn = a;
    x.queue = q;
    x.closed = closed;
    if (!closed) {
        CHECK_OK(t_send_confirmed(a, q, "for the table", NULL, 0));
        CHECK_OK(t_send_confirmed(a, q, "for stomp_receive", NULL, 0));
        stomp_frame_free(*last);
        *last = T_RECEIVE(a);
    }
    x.msg = *last;
    ec_run(&x, &r);
    ec_check(&r, closed, where);
}

int main(void) {
    stomp_connection *a, *bb;
    stomp_frame *last = NULL;
    char qa[128], qb[128];
    int i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    b = t_rabbitmq();
    t_unique_queue(qa, sizeof qa, "after-a");
    t_unique_queue(qb, sizeof qb, "after-b");
    a = t_connect(&b, STOMP_VERSION_1_2, 64, NULL);
    CHECK_OK(stomp_subscribe(a, qa, "s", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));

    t_section("A after stomp_connection_free(B) of a connected B");
    bb = t_connect(&b, STOMP_VERSION_1_2, 0, NULL);
    stomp_connection_free(bb);
    run_table(a, qa, false, &last, "A after free(B)");

    t_section("A after stomp_connection_free(B) while messages flow to B");
    bb = t_connect(&b, STOMP_VERSION_1_2, 16, NULL);
    CHECK_OK(stomp_subscribe(bb, qb, "s", STOMP_ACK_AUTO, NULL, 0));
    for (i = 0; i < 50; i++) CHECK_OK(stomp_send(a, qb, "to B", 4, NULL, NULL, 0));
    stomp_connection_free(bb);
    run_table(a, qa, false, &last, "A after free(B) with traffic");

    t_section("A after stomp_disconnect");
    CHECK_OK(stomp_disconnect(a, NULL, T_WAIT_MS));
    run_table(a, qa, true, &last, "A after disconnect");
    /* A second disconnect and the table once more: the same answers. */
    CHECK_RC(stomp_disconnect(a, NULL, T_WAIT_MS), STOMP_ERR_NOT_CONNECTED);
    run_table(a, qa, true, &last, "A after a second disconnect");

    t_section("the handle connects again after all that");
    CHECK_OK(stomp_connect(a, T_LOGIN, T_PASSCODE, NULL, 0, true));
    CHECK_OK(stomp_subscribe(a, qa, "s", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    run_table(a, qa, false, &last, "A connected again");
    CHECK_OK(stomp_disconnect(a, NULL, T_WAIT_MS));
    stomp_frame_free(last);
    stomp_connection_free(a);
    return t_done("test_misuse_after");
}
