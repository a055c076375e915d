/*
 * reconnect_manual.c - the guide's "Dealing with disconnects": the listener's on_disconnected
 * reconnects and re-subscribes.
 *
 *   def connect_and_subscribe(conn):
 *       conn.connect('guest', 'guest', wait=True)
 *       conn.subscribe(destination='/queue/test', id=1, ack='auto')
 *   class MyListener(stomp.ConnectionListener):
 *       def on_error(self, frame):   print('received an error "%s"' % frame.body)
 *       def on_message(self, frame): ... 10 slow steps ... print('processed message')
 *       def on_disconnected(self):   print('disconnected'); connect_and_subscribe(self.conn)
 *   conn = stomp.Connection([('localhost', 62613)], heartbeats=(4000, 4000))
 *
 * Usage: reconnect_manual [--in-callback]
 *
 * By default on_disconnected only signals, and the main thread reconnects and re-subscribes: the
 * usual shape for a C program, where the thread that owns the connection also decides when to stop.
 * With --in-callback, on_disconnected reconnects itself, as the seed does; this library allows
 * blocking calls inside callbacks, so that does not deadlock either. Either way one reconnect is
 * made (a failure is reported), and never after our own stomp_disconnect.
 *
 * Two things differ from the seed's story. Its slow on_message makes stomp.py miss heart-beats and
 * drop the link; here heart-beats run on the library's I/O thread, so the same slow handler (2 s
 * with 0.5 s heart-beats) costs nothing, and the example checks that no heart-beat timeout happened.
 * So to have a disconnect to deal with, the example forces a real one: RabbitMQ closes a connection
 * that sends to an exchange that does not exist (example_force_disconnect). Needs RabbitMQ.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    stomp_connection *conn;
    const example_env *env;
    const char *queue;
    bool reconnect_in_callback;
    /* Set by main before its own stomp_disconnect, read by on_disconnected: under the lock. */
    pthread_mutex_t lock;
    bool shutting_down;
    example_counter messages;
    example_counter disconnects;
    example_counter reconnects; /* raised once connect_and_subscribe has succeeded again */
    example_counter heartbeat_timeouts;
    example_counter errors;
} app;

static stomp_result connect_and_subscribe(app *a) {
    stomp_result rc = stomp_connect(a->conn, a->env->user, a->env->password, NULL, 0, true);
    if (rc == STOMP_OK) {
        rc = stomp_subscribe(a->conn, a->queue, "1", STOMP_ACK_AUTO, NULL, 0);
    }
    return rc;
}

static void on_error(void *user_data, const stomp_frame *frame) {
    app *a = user_data;
    char body[256];
    const char *message = stomp_frame_header(frame, "message");
    printf("received an error \"%s\" (%s)\n", message ? message : "", example_body(frame, body, sizeof body));
    example_counter_add(&a->errors, 1);
}

static void on_message(void *user_data, const stomp_frame *frame) {
    app *a = user_data;
    char body[256];
    printf("received a message \"%s\"\n", example_body(frame, body, sizeof body));
    for (int x = 0; x < 10; x++) {
        printf("%d\n", x);
        example_sleep_ms(200); /* the seed's time.sleep(1): slow work, not synchronisation */
    }
    printf("processed message\n");
    example_counter_add(&a->messages, 1);
}

static void on_heartbeat_timeout(void *user_data) {
    app *a = user_data;
    printf("heart-beat timeout\n");
    example_counter_add(&a->heartbeat_timeouts, 1);
}

static void on_disconnected(void *user_data) {
    app *a = user_data;
    pthread_mutex_lock(&a->lock);
    bool shutting_down = a->shutting_down;
    pthread_mutex_unlock(&a->lock);
    if (shutting_down) {
        return; /* our own stomp_disconnect: do not come back */
    }
    printf("disconnected\n");
    if (a->reconnect_in_callback) {
        stomp_result rc = connect_and_subscribe(a);
        if (rc != STOMP_OK) {
            /* A real program would retry later; here main sees no reconnect and reports it. */
            printf("reconnect failed: %s (%s)\n", stomp_strerror(rc), stomp_last_error());
        } else {
            printf("reconnected and re-subscribed (from on_disconnected)\n");
            example_counter_add(&a->reconnects, 1);
        }
    }
    example_counter_add(&a->disconnects, 1); /* wakes main */
}

/* The seed's 'client': another connection that sends one message. */
static void client_send(const example_env *env, const char *queue, const char *text) {
    stomp_connection *client = example_connection(env);
    example_connect(client, env);
    stomp_header receipt[] = {{"receipt", "client-sent"}};
    CHECK(stomp_send(client, queue, text, strlen(text), NULL, receipt, 1));
    CHECK(stomp_wait_receipt(client, "client-sent", 5000));
    CHECK(stomp_disconnect(client, NULL, 5000));
    stomp_connection_free(client);
}

int main(int argc, char **argv) {
    example_env env;
    example_init(&env);
    char queue[256];
    example_unique(queue, sizeof queue, "/queue", "reconnect_manual");

    app a;
    memset(&a, 0, sizeof a);
    a.env = &env;
    a.queue = queue;
    a.reconnect_in_callback = argc > 1 && strcmp(argv[1], "--in-callback") == 0;
    pthread_mutex_init(&a.lock, NULL);
    example_counter_init(&a.messages);
    example_counter_init(&a.disconnects);
    example_counter_init(&a.reconnects);
    example_counter_init(&a.heartbeat_timeouts);
    example_counter_init(&a.errors);

    stomp_options *opts = example_options(&env);
    CHECK(stomp_options_set_heartbeats(opts, 500, 500)); /* the seed's heartbeats=(4000, 4000), faster */
    a.conn = example_connection_from(opts);
    stomp_listener listener = STOMP_LISTENER_INIT;
    listener.user_data = &a;
    listener.on_error = on_error;
    listener.on_message = on_message;
    listener.on_heartbeat_timeout = on_heartbeat_timeout;
    listener.on_disconnected = on_disconnected;
    CHECK(stomp_set_listener(a.conn, "", &listener));
    CHECK(connect_and_subscribe(&a));
    example_require_broker(a.conn, "RabbitMQ", "the example makes it drop the connection");
    printf("connected and subscribed to %s\n", queue);

    /* 1. A message whose handling outlasts several heart-beat periods. */
    client_send(&env, queue, "test message");
    if (!example_counter_wait(&a.messages, 1, 10000)) {
        example_fail("the first message was not processed");
    }
    if (example_counter_get(&a.heartbeat_timeouts) != 0 || example_counter_get(&a.disconnects) != 0) {
        example_fail("the slow handler cost the connection");
    }
    printf("slow handler, no heart-beat timeout: OK\n");

    /* 2. A real disconnect, dealt with. */
    example_force_disconnect(a.conn);
    if (!example_counter_wait(&a.disconnects, 1, 10000)) {
        example_fail("the broker did not drop the connection");
    }
    if (!a.reconnect_in_callback) {
        printf("main: on_disconnected signalled, reconnecting\n");
        CHECK(connect_and_subscribe(&a));
        printf("reconnected and re-subscribed (from main)\n");
        example_counter_add(&a.reconnects, 1);
    }
    if (!example_counter_wait(&a.reconnects, 1, 10000)) {
        example_fail("did not reconnect");
    }

    /* 3. The re-made subscription works. */
    client_send(&env, queue, "test message after the reconnect");
    if (!example_counter_wait(&a.messages, 2, 10000)) {
        example_fail("the message after the reconnect was not processed");
    }

    pthread_mutex_lock(&a.lock);
    a.shutting_down = true;
    pthread_mutex_unlock(&a.lock);
    CHECK(stomp_disconnect(a.conn, NULL, 5000));
    stomp_connection_free(a.conn); /* no callback runs after this */

    printf("errors %d, disconnects %d, reconnects %d, heart-beat timeouts %d\n",
           example_counter_get(&a.errors), example_counter_get(&a.disconnects),
           example_counter_get(&a.reconnects), example_counter_get(&a.heartbeat_timeouts));
    if (example_counter_get(&a.disconnects) != 1 || example_counter_get(&a.reconnects) != 1) {
        example_fail("expected exactly one disconnect and one reconnect");
    }
    printf("received 2 of 2 messages across the reconnect: OK\n");
    example_counter_destroy(&a.messages);
    example_counter_destroy(&a.disconnects);
    example_counter_destroy(&a.reconnects);
    example_counter_destroy(&a.heartbeat_timeouts);
    example_counter_destroy(&a.errors);
    pthread_mutex_destroy(&a.lock);
    return 0;
}
