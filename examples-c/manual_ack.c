/*
 * manual_ack.c - the API summary's ManualAckProcessor: a STOMP 1.1 connection (for NACK), a
 * client-individual subscription, and on_message acking what it processed and nacking what failed.
 *
 *   def on_message(self, frame):
 *       message_id = frame.headers.get('message-id')
 *       subscription_id = frame.headers.get('subscription')
 *       try:
 *           self.process_message(frame.body)
 *           self.connection.ack(message_id, subscription_id)
 *       except Exception as e:
 *           self.connection.nack(message_id, subscription_id)
 *   conn = stomp.Connection11([('localhost', 61613)])
 *   conn.subscribe('/queue/work', id='work-sub', ack='client-individual')
 *
 * RabbitMQ puts a nacked message back on the queue. The seed's error (any body with "error") would
 * fail again on every redelivery, forever; here it is a transient one, failing on the first delivery
 * only, which is the case NACK is for: the redelivered message is processed and acked. Needs a
 * broker that redelivers NACKed messages (RabbitMQ; ActiveMQ sends them towards its dead-letter queue).
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

#define JOBS 3

typedef struct {
    stomp_connection *connection;
    example_counter processed;
    example_counter nacked;
} manual_ack_processor;

/* Simulated processing: fails for a body with "error" the first time it is delivered. */
static bool process_message(const char *body, bool redelivered) {
    if (strstr(body, "error") != NULL && !redelivered) {
        printf("Processing failed: Simulated processing error (%s)\n", body);
        return false;
    }
    printf("Successfully processed: %s%s\n", body, redelivered ? " (redelivered)" : "");
    return true;
}

static void on_message(void *user_data, const stomp_frame *frame) {
    manual_ack_processor *p = user_data;
    /* Under STOMP 1.1, ACK and NACK name the message-id and the subscription. */
    const char *message_id = stomp_frame_header(frame, "message-id");
    const char *subscription_id = stomp_frame_header(frame, "subscription");
    const char *redelivered = stomp_frame_header(frame, "redelivered");
    char body[256];
    example_body(frame, body, sizeof body);

    if (process_message(body, redelivered != NULL && strcmp(redelivered, "true") == 0)) {
        stomp_result rc = stomp_ack(p->connection, message_id, subscription_id, NULL);
        if (rc == STOMP_OK) {
            printf("Acknowledged message %s\n", message_id);
            example_counter_add(&p->processed, 1);
        } else {
            printf("ack failed: %s (%s)\n", stomp_strerror(rc), stomp_last_error());
        }
    } else {
        stomp_result rc = stomp_nack(p->connection, message_id, subscription_id, NULL);
        if (rc == STOMP_OK) {
            printf("Nacked message %s\n", message_id);
            example_counter_add(&p->nacked, 1);
        } else {
            printf("nack failed: %s (%s)\n", stomp_strerror(rc), stomp_last_error());
        }
    }
}

int main(void) {
    example_env env;
    example_init(&env);
    env.version = STOMP_VERSION_1_1; /* stomp.Connection11: NACK needs 1.1 or later */
    char work[256];
    example_unique(work, sizeof work, "/queue", "work");

    manual_ack_processor processor = {0};
    example_counter_init(&processor.processed);
    example_counter_init(&processor.nacked);

    processor.connection = example_connection(&env);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &processor;
    listener.on_message = on_message;
    CHECK(stomp_set_listener(processor.connection, "processor", &listener));
    example_connect(processor.connection, &env);
    example_require_broker(processor.connection, "RabbitMQ", "it redelivers a NACKed message");

    CHECK(stomp_subscribe(processor.connection, work, "work-sub", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    const char *jobs[JOBS] = {"job 1", "job 2 with an error", "job 3"};
    for (int i = 0; i < JOBS; i++) {
        CHECK(stomp_send(processor.connection, work, jobs[i], strlen(jobs[i]), NULL, NULL, 0));
    }

    /* Instead of the seed's time.sleep(60): wait until every job is acked. */
    if (!example_counter_wait(&processor.processed, JOBS, 10000)) {
        example_fail("only %d of %d jobs processed", example_counter_get(&processor.processed), JOBS);
    }
    /* DISCONNECT's receipt comes after the broker has handled every ACK sent before it. */
    CHECK(stomp_disconnect(processor.connection, NULL, 5000));
    stomp_connection_free(processor.connection);

    int processed = example_counter_get(&processor.processed);
    int nacked = example_counter_get(&processor.nacked);
    printf("processed %d of %d jobs, %d nack(s)\n", processed, JOBS, nacked);
    example_counter_destroy(&processor.processed);
    example_counter_destroy(&processor.nacked);
    if (processed != JOBS || nacked != 1) {
        example_fail("expected %d jobs acked and one nack", JOBS);
    }
    printf("manual_ack: OK\n");
    return 0;
}
