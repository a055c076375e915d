/*
 * test_misuse_null HEADER: NULL for every pointer argument of every function of the library, one at
 * a time, each with its documented answer:
 *   INVALID  STOMP_ERR_INVALID_ARGUMENT, and stomp_last_error() names the argument and says NULL;
 *   NULLRET  the function's "nothing" (NULL, false, 0), and stomp_last_error() names the argument;
 *   NOOP     `_free(NULL)`: nothing happens, stomp_last_error() is left alone;
 *   ALLOWED  the argument is documented as optional: the call gives the stated result.
 * Functions without a pointer argument are in the table too (NONE: they answer, never NULL), so the
 * table names every function. The test reads HEADER (include/stomp.h) and fails if a function
 * declared there has no row here, or a row names a function the header lacks: a new function
 * without a NULL test fails the suite. (stomp_listener_init is a static inline in the header, not a
 * library function; it is not declared with ';' and so not listed.)
 *
 * A connected RabbitMQ connection provides a real MESSAGE frame for the frame functions; calls that
 * need a connection but must not reach a broker use one that is never connected, and the connect
 * cases dial a loopback port that refuses (a bound socket that does not listen).
 */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef enum { INVALID, NULLRET, NOOP, ALLOWED, NONE } expect;

/* What a case's call gave: a stomp_result, or for other return types one of these. */
#define R_NULL (-1)  /* NULL, false or 0 */
#define R_VALUE (-2) /* a non-NULL pointer, true or nonzero */
#define R_VOID (-3)

typedef struct {
    stomp_options *opts;
    stomp_connection *idle;    /* never connected: calls stop at "not connected" */
    stomp_connection *refused; /* its only host refuses: connect ends with CONNECT_FAILED */
    stomp_connection *live;    /* connected to RabbitMQ, receive queue on */
    stomp_frame *msg, *msg2;   /* MESSAGEs received on `live` (one is acked, one nacked) */
    char queue[128];
    stomp_result code; /* written by stomp_last_disconnect */
    stomp_loop *loop;  /* an application-driven loop with no connection */
} fixture;

static fixture fx;

static int ptr_result(const void *p) { return p == NULL ? R_NULL : R_VALUE; }

static const stomp_header hdr = {"x-misuse", "1"};
static const stomp_header hdr_null_name = {NULL, "1"};
static const stomp_header hdr_null_value = {"x-misuse", NULL};
static stomp_listener a_listener;

/* The cases: X(id, function, argument, expect, wanted result, call). The call's value is a
 * stomp_result or R_NULL / R_VALUE / R_VOID. `id` names the generated function. */
#define NULL_CASES(X)                                                                                        \
    X(version, "stomp_lib_version", "(none)", NONE, R_VALUE, ptr_result(stomp_lib_version()))                \
    X(version_string, "stomp_version_string", "(none)", NONE, R_VALUE, ptr_result(stomp_version_string()))  \
    X(strerror, "stomp_strerror", "(none)", NONE, R_VALUE, ptr_result(stomp_strerror(STOMP_ERR_TIMEOUT)))    \
    X(last_error, "stomp_last_error", "(none)", NONE, R_VALUE, ptr_result(stomp_last_error()))               \
    X(options_new, "stomp_options_new", "(none)", NONE, R_VALUE, options_new_and_free())                     \
    X(options_free, "stomp_options_free", "opts", NOOP, R_VOID, (stomp_options_free(NULL), R_VOID))          \
    X(add_host_o, "stomp_options_add_host", "opts", INVALID, 0, stomp_options_add_host(NULL, "127.0.0.1", 1)) \
    X(add_host_h, "stomp_options_add_host", "host", INVALID, 0, stomp_options_add_host(fx.opts, NULL, 1))    \
    X(add_login_o, "stomp_options_add_host_login", "opts", INVALID, 0,                                       \
      stomp_options_add_host_login(NULL, "127.0.0.1", 1, "u", "p"))                                          \
    X(add_login_h, "stomp_options_add_host_login", "host", INVALID, 0,                                       \
      stomp_options_add_host_login(fx.opts, NULL, 1, "u", "p"))                                              \
    X(add_login_l, "stomp_options_add_host_login", "login", INVALID, 0,                                      \
      stomp_options_add_host_login(fx.opts, "127.0.0.1", 1, NULL, "p"))                                      \
    X(add_login_p, "stomp_options_add_host_login", "passcode", INVALID, 0,                                   \
      stomp_options_add_host_login(fx.opts, "127.0.0.1", 1, "u", NULL))                                      \
    X(set_version, "stomp_options_set_version", "opts", INVALID, 0,                                          \
      stomp_options_set_version(NULL, STOMP_VERSION_1_2))                                                    \
    X(set_vhost_o, "stomp_options_set_vhost", "opts", INVALID, 0, stomp_options_set_vhost(NULL, "/"))        \
    X(set_vhost_v, "stomp_options_set_vhost", "vhost", ALLOWED, STOMP_OK, stomp_options_set_vhost(fx.opts, NULL)) \
    X(set_hb, "stomp_options_set_heartbeats", "opts", INVALID, 0, stomp_options_set_heartbeats(NULL, 1, 1))  \
    X(set_rq, "stomp_options_set_receive_queue", "opts", INVALID, 0, stomp_options_set_receive_queue(NULL, 1)) \
    X(set_acl, "stomp_options_set_auto_content_length", "opts", INVALID, 0,                                  \
      stomp_options_set_auto_content_length(NULL, true))                                                     \
    X(set_sc, "stomp_options_set_stomp_command", "opts", INVALID, 0, stomp_options_set_stomp_command(NULL, true)) \
    X(set_rc, "stomp_options_set_reconnect", "opts", INVALID, 0,                                             \
      stomp_options_set_reconnect(NULL, 0.1, 0.5, 0.1, 60.0, 3))                                             \
    X(set_hbs, "stomp_options_set_heartbeat_receive_scale", "opts", INVALID, 0,                              \
      stomp_options_set_heartbeat_receive_scale(NULL, 1.5))                                                  \
    X(set_ct, "stomp_options_set_connect_timeout", "opts", INVALID, 0, stomp_options_set_connect_timeout(NULL, 1)) \
    X(set_ar, "stomp_options_set_auto_reconnect", "opts", INVALID, 0, stomp_options_set_auto_reconnect(NULL, true)) \
    X(set_rh, "stomp_options_set_randomize_hosts", "opts", INVALID, 0,                                       \
      stomp_options_set_randomize_hosts(NULL, true))                                                         \
    X(set_nd, "stomp_options_set_tcp_nodelay", "opts", INVALID, 0, stomp_options_set_tcp_nodelay(NULL, true)) \
    X(set_ka, "stomp_options_set_keepalive", "opts", INVALID, 0, stomp_options_set_keepalive(NULL, true, 1, 1, 1)) \
    X(set_bind_o, "stomp_options_set_bind", "opts", INVALID, 0, stomp_options_set_bind(NULL, "127.0.0.1", 0)) \
    X(set_bind_h, "stomp_options_set_bind", "host", INVALID, 0, stomp_options_set_bind(fx.opts, NULL, 0))    \
    X(set_fl, "stomp_options_set_frame_limits", "opts", INVALID, 0, stomp_options_set_frame_limits(NULL, 1, 1, 1)) \
    X(set_ql, "stomp_options_set_queue_limits", "opts", INVALID, 0, stomp_options_set_queue_limits(NULL, 1, 1, 1)) \
    X(set_ft, "stomp_options_set_frame_timeouts", "opts", INVALID, 0,                                        \
      stomp_options_set_frame_timeouts(NULL, 1, 1))                                                          \
    X(set_mf, "stomp_options_set_max_frame", "opts", INVALID, 0, stomp_options_set_max_frame(NULL, 1))       \
    X(set_ibl, "stomp_options_set_incoming_byte_limits", "opts", INVALID, 0,                                 \
      stomp_options_set_incoming_byte_limits(NULL, 1, 1))                                                    \
    X(tls_o, "stomp_options_set_tls", "opts", INVALID, 0, stomp_options_set_tls(NULL, NULL, NULL, NULL))      \
    X(tls_ca, "stomp_options_set_tls", "ca_file", ALLOWED, STOMP_OK, tls_with(0, NULL, NULL, NULL))           \
    X(tls_cert, "stomp_options_set_tls", "cert_file", ALLOWED, STOMP_ERR_INVALID_ARGUMENT,                   \
      tls_with(0, NULL, NULL, cert_path("client.key")))                                                      \
    X(tls_key, "stomp_options_set_tls", "key_file", ALLOWED, STOMP_ERR_INVALID_ARGUMENT,                     \
      tls_with(0, NULL, cert_path("client.pem"), NULL))                                                      \
    X(tlsh_o, "stomp_options_add_host_tls", "opts", INVALID, 0,                                              \
      stomp_options_add_host_tls(NULL, "127.0.0.1", 1, NULL, NULL, NULL))                                    \
    X(tlsh_h, "stomp_options_add_host_tls", "host", INVALID, 0,                                              \
      stomp_options_add_host_tls(fx.opts, NULL, 1, NULL, NULL, NULL))                                        \
    X(tlsh_ca, "stomp_options_add_host_tls", "ca_file", ALLOWED, STOMP_OK, tls_with(1, NULL, NULL, NULL))    \
    X(tlsh_cert, "stomp_options_add_host_tls", "cert_file", ALLOWED, STOMP_ERR_INVALID_ARGUMENT,             \
      tls_with(1, NULL, NULL, cert_path("client.key")))                                                      \
    X(tlsh_key, "stomp_options_add_host_tls", "key_file", ALLOWED, STOMP_ERR_INVALID_ARGUMENT,               \
      tls_with(1, NULL, cert_path("client.pem"), NULL))                                                      \
    X(sni_o, "stomp_options_set_tls_server_name", "opts", INVALID, 0,                                        \
      stomp_options_set_tls_server_name(NULL, "localhost"))                                                  \
    X(sni_n, "stomp_options_set_tls_server_name", "name", ALLOWED, STOMP_OK, tls_options_call(0))             \
    X(vcb_o, "stomp_options_set_tls_verify_callback", "opts", INVALID, 0,                                    \
      stomp_options_set_tls_verify_callback(NULL, refuse_all, NULL))                                         \
    X(vcb_cb, "stomp_options_set_tls_verify_callback", "cb", ALLOWED, STOMP_OK, tls_options_call(1))          \
    X(vcb_ud, "stomp_options_set_tls_verify_callback", "user_data", ALLOWED, STOMP_OK, tls_options_call(2))   \
    X(dang_o, "stomp_options_set_tls_dangerous_no_verify", "opts", INVALID, 0,                               \
      stomp_options_set_tls_dangerous_no_verify(NULL, false))                                                \
    X(log_cb, "stomp_set_log_callback", "cb", ALLOWED, STOMP_OK, stomp_set_log_callback(NULL, NULL, STOMP_LOG_OFF)) \
    X(log_ud, "stomp_set_log_callback", "user_data", ALLOWED, STOMP_OK, log_callback_without_user_data())   \
    X(log_flush, "stomp_log_flush", "(none)", NONE, STOMP_OK, stomp_log_flush(1000))                         \
    X(stats_c, "stomp_stats_get", "conn", INVALID, 0, stats_into(NULL))                                      \
    X(stats_o, "stomp_stats_get", "stats_out", INVALID, 0, stomp_stats_get(fx.live, NULL))                   \
    X(statsf_s, "stomp_stats_format", "stats", INVALID, 0, stats_format_into(0))                             \
    X(statsf_b, "stomp_stats_format", "buf", INVALID, 0, stats_format_into(1))                               \
    X(conn_new, "stomp_connection_new", "opts", NULLRET, R_NULL, ptr_result(stomp_connection_new(NULL)))     \
    X(loop_new, "stomp_loop_new", "(none)", NONE, R_VALUE, loop_new_and_free())                              \
    X(loop_free, "stomp_loop_free", "lp", NOOP, R_VOID, (stomp_loop_free(NULL), R_VOID))                      \
    X(on_loop_o, "stomp_connection_new_on_loop", "opts", NULLRET, R_NULL,                                     \
      ptr_result(stomp_connection_new_on_loop(NULL, fx.loop)))                                                \
    X(on_loop_l, "stomp_connection_new_on_loop", "lp", NULLRET, R_NULL,                                       \
      ptr_result(stomp_connection_new_on_loop(fx.opts, NULL)))                                                \
    X(loop_fd, "stomp_loop_fd", "lp", NULLRET, R_NULL, stomp_loop_fd(NULL) == -1 ? R_NULL : R_VALUE)           \
    X(loop_tmo, "stomp_loop_timeout_ms", "lp", NULLRET, R_NULL,                                               \
      stomp_loop_timeout_ms(NULL) == -1 ? R_NULL : R_VALUE)                                                   \
    X(loop_proc, "stomp_loop_process", "lp", INVALID, 0, stomp_loop_process(NULL, 0))                          \
    X(conn_free, "stomp_connection_free", "conn", NOOP, R_VOID, (stomp_connection_free(NULL), R_VOID))       \
    X(set_l_c, "stomp_set_listener", "conn", INVALID, 0, stomp_set_listener(NULL, "l", &a_listener))         \
    X(set_l_n, "stomp_set_listener", "name", INVALID, 0, stomp_set_listener(fx.idle, NULL, &a_listener))     \
    X(set_l_l, "stomp_set_listener", "listener", INVALID, 0, stomp_set_listener(fx.idle, "l", NULL))         \
    X(rm_l_c, "stomp_remove_listener", "conn", INVALID, 0, stomp_remove_listener(NULL, "l"))                 \
    X(rm_l_n, "stomp_remove_listener", "name", INVALID, 0, stomp_remove_listener(fx.idle, NULL))             \
    X(print_c, "stomp_set_printing_listener", "conn", INVALID, 0, stomp_set_printing_listener(NULL, "p"))    \
    X(print_n, "stomp_set_printing_listener", "name", INVALID, 0, stomp_set_printing_listener(fx.idle, NULL)) \
    X(connect_c, "stomp_connect", "conn", INVALID, 0, stomp_connect(NULL, "u", "p", NULL, 0, true))          \
    X(connect_l, "stomp_connect", "login", ALLOWED, STOMP_ERR_CONNECT_FAILED,                                \
      stomp_connect(fx.refused, NULL, "p", NULL, 0, true))                                                   \
    X(connect_p, "stomp_connect", "passcode", ALLOWED, STOMP_ERR_CONNECT_FAILED,                             \
      stomp_connect(fx.refused, "u", NULL, NULL, 0, true))                                                   \
    X(connect_h0, "stomp_connect", "headers", ALLOWED, STOMP_ERR_CONNECT_FAILED,                             \
      stomp_connect(fx.refused, "u", "p", NULL, 0, true))                                                    \
    X(connect_h1, "stomp_connect", "headers", INVALID, 0, stomp_connect(fx.refused, "u", "p", NULL, 1, true)) \
    X(connect_hn, "stomp_connect", "headers[0].name", INVALID, 0,                                            \
      stomp_connect(fx.refused, "u", "p", &hdr_null_name, 1, true))                                          \
    X(connect_hv, "stomp_connect", "headers[0].value", INVALID, 0,                                           \
      stomp_connect(fx.refused, "u", "p", &hdr_null_value, 1, true))                                         \
    X(send_c, "stomp_send", "conn", INVALID, 0, stomp_send(NULL, "/queue/x", "b", 1, NULL, NULL, 0))         \
    X(send_d, "stomp_send", "destination", INVALID, 0, stomp_send(fx.idle, NULL, "b", 1, NULL, NULL, 0))     \
    X(send_b1, "stomp_send", "body", INVALID, 0, stomp_send(fx.idle, "/queue/x", NULL, 1, NULL, NULL, 0))    \
    X(send_b0, "stomp_send", "body", ALLOWED, STOMP_ERR_NOT_CONNECTED,                                       \
      stomp_send(fx.idle, "/queue/x", NULL, 0, NULL, NULL, 0))                                               \
    X(send_ct, "stomp_send", "content_type", ALLOWED, STOMP_ERR_NOT_CONNECTED,                               \
      stomp_send(fx.idle, "/queue/x", "b", 1, NULL, &hdr, 1))                                                \
    X(send_h1, "stomp_send", "headers", INVALID, 0, stomp_send(fx.idle, "/queue/x", "b", 1, "t", NULL, 1))   \
    X(send_hn, "stomp_send", "headers[0].name", INVALID, 0,                                                  \
      stomp_send(fx.idle, "/queue/x", "b", 1, "t", &hdr_null_name, 1))                                       \
    X(send_hv, "stomp_send", "headers[0].value", INVALID, 0,                                                 \
      stomp_send(fx.idle, "/queue/x", "b", 1, "t", &hdr_null_value, 1))                                      \
    X(sendf_c, "stomp_send_frame", "conn", INVALID, 0, stomp_send_frame(NULL, "BEGIN", &hdr, 1, NULL, 0))    \
    X(sendf_cmd, "stomp_send_frame", "command", INVALID, 0, stomp_send_frame(fx.idle, NULL, &hdr, 1, NULL, 0)) \
    X(sendf_h0, "stomp_send_frame", "headers", ALLOWED, STOMP_ERR_NOT_CONNECTED,                             \
      stomp_send_frame(fx.idle, "BEGIN", NULL, 0, NULL, 0))                                                  \
    X(sendf_h1, "stomp_send_frame", "headers", INVALID, 0, stomp_send_frame(fx.idle, "BEGIN", NULL, 1, NULL, 0)) \
    X(sendf_hn, "stomp_send_frame", "headers[0].name", INVALID, 0,                                           \
      stomp_send_frame(fx.idle, "BEGIN", &hdr_null_name, 1, NULL, 0))                                        \
    X(sendf_hv, "stomp_send_frame", "headers[0].value", INVALID, 0,                                          \
      stomp_send_frame(fx.idle, "BEGIN", &hdr_null_value, 1, NULL, 0))                                       \
    X(sendf_b1, "stomp_send_frame", "body", INVALID, 0, stomp_send_frame(fx.idle, "SEND", &hdr, 1, NULL, 3)) \
    X(sub_c, "stomp_subscribe", "conn", INVALID, 0, stomp_subscribe(NULL, "/queue/x", "s", STOMP_ACK_AUTO, NULL, 0)) \
    X(sub_d, "stomp_subscribe", "destination", INVALID, 0,                                                   \
      stomp_subscribe(fx.idle, NULL, "s", STOMP_ACK_AUTO, NULL, 0))                                          \
    X(sub_id, "stomp_subscribe", "id", ALLOWED, STOMP_ERR_NOT_CONNECTED,                                     \
      stomp_subscribe(fx.idle, "/queue/x", NULL, STOMP_ACK_AUTO, NULL, 0))                                   \
    X(sub_h1, "stomp_subscribe", "headers", INVALID, 0,                                                      \
      stomp_subscribe(fx.idle, "/queue/x", "s", STOMP_ACK_AUTO, NULL, 1))                                    \
    X(sub_hn, "stomp_subscribe", "headers[0].name", INVALID, 0,                                              \
      stomp_subscribe(fx.idle, "/queue/x", "s", STOMP_ACK_AUTO, &hdr_null_name, 1))                          \
    X(subo_c, "stomp_subscribe_out", "conn", INVALID, 0,                                                     \
      stomp_subscribe_out(NULL, "/queue/x", NULL, STOMP_ACK_AUTO, NULL, 0, NULL, 0))                         \
    X(subo_d, "stomp_subscribe_out", "destination", INVALID, 0,                                              \
      stomp_subscribe_out(fx.idle, NULL, NULL, STOMP_ACK_AUTO, NULL, 0, NULL, 0))                            \
    X(subo_id, "stomp_subscribe_out", "id", ALLOWED, STOMP_ERR_NOT_CONNECTED,                                \
      stomp_subscribe_out(fx.idle, "/queue/x", NULL, STOMP_ACK_AUTO, NULL, 0, NULL, 0))                      \
    X(subo_h1, "stomp_subscribe_out", "headers", INVALID, 0,                                                 \
      stomp_subscribe_out(fx.idle, "/queue/x", NULL, STOMP_ACK_AUTO, NULL, 1, NULL, 0))                      \
    X(subo_hv, "stomp_subscribe_out", "headers[0].value", INVALID, 0,                                        \
      stomp_subscribe_out(fx.idle, "/queue/x", NULL, STOMP_ACK_AUTO, &hdr_null_value, 1, NULL, 0))           \
    X(subo_out, "stomp_subscribe_out", "id_out", ALLOWED, STOMP_ERR_NOT_CONNECTED,                           \
      stomp_subscribe_out(fx.idle, "/queue/x", "s", STOMP_ACK_AUTO, NULL, 0, NULL, 64))                      \
    X(unsub_c, "stomp_unsubscribe", "conn", INVALID, 0, stomp_unsubscribe(NULL, "s", NULL, 0))               \
    X(unsub_id, "stomp_unsubscribe", "id", INVALID, 0, stomp_unsubscribe(fx.idle, NULL, NULL, 0))            \
    X(unsub_h1, "stomp_unsubscribe", "headers", INVALID, 0, stomp_unsubscribe(fx.idle, "s", NULL, 1))        \
    X(unsub_hn, "stomp_unsubscribe", "headers[0].name", INVALID, 0,                                          \
      stomp_unsubscribe(fx.idle, "s", &hdr_null_name, 1))                                                    \
    X(ack_c, "stomp_ack", "conn", INVALID, 0, stomp_ack(NULL, "m", "s", "t"))                                \
    X(ack_id, "stomp_ack", "id", INVALID, 0, stomp_ack(fx.idle, NULL, "s", "t"))                             \
    X(ack_s, "stomp_ack", "subscription", ALLOWED, STOMP_ERR_NOT_CONNECTED, stomp_ack(fx.idle, "m", NULL, "t")) \
    X(ack_t, "stomp_ack", "transaction", ALLOWED, STOMP_ERR_NOT_CONNECTED, stomp_ack(fx.idle, "m", "s", NULL)) \
    X(nack_c, "stomp_nack", "conn", INVALID, 0, stomp_nack(NULL, "m", "s", "t"))                             \
    X(nack_id, "stomp_nack", "id", INVALID, 0, stomp_nack(fx.idle, NULL, "s", "t"))                          \
    X(nack_s, "stomp_nack", "subscription", ALLOWED, STOMP_ERR_NOT_CONNECTED, stomp_nack(fx.idle, "m", NULL, "t")) \
    X(nack_t, "stomp_nack", "transaction", ALLOWED, STOMP_ERR_NOT_CONNECTED, stomp_nack(fx.idle, "m", "s", NULL)) \
    X(ackf_c, "stomp_ack_frame", "conn", INVALID, 0, stomp_ack_frame(NULL, fx.msg, "t"))                     \
    X(ackf_f, "stomp_ack_frame", "frame", INVALID, 0, stomp_ack_frame(fx.idle, NULL, "t"))                   \
    X(ackf_t, "stomp_ack_frame", "transaction", ALLOWED, STOMP_OK, stomp_ack_frame(fx.live, fx.msg, NULL))   \
    X(nackf_c, "stomp_nack_frame", "conn", INVALID, 0, stomp_nack_frame(NULL, fx.msg, "t"))                  \
    X(nackf_f, "stomp_nack_frame", "frame", INVALID, 0, stomp_nack_frame(fx.idle, NULL, "t"))                \
    X(nackf_t, "stomp_nack_frame", "transaction", ALLOWED, STOMP_OK, stomp_nack_frame(fx.live, fx.msg2, NULL)) \
    X(begin_c, "stomp_begin", "conn", INVALID, 0, stomp_begin(NULL, "t", NULL, 0))                           \
    X(begin_t, "stomp_begin", "transaction", ALLOWED, STOMP_ERR_NOT_CONNECTED, stomp_begin(fx.idle, NULL, NULL, 0)) \
    X(begin_o, "stomp_begin", "id_out", ALLOWED, STOMP_ERR_NOT_CONNECTED, stomp_begin(fx.idle, "t", NULL, 64)) \
    X(commit_c, "stomp_commit", "conn", INVALID, 0, stomp_commit(NULL, "t"))                                 \
    X(commit_t, "stomp_commit", "transaction", INVALID, 0, stomp_commit(fx.idle, NULL))                      \
    X(abort_c, "stomp_abort", "conn", INVALID, 0, stomp_abort(NULL, "t"))                                    \
    X(abort_t, "stomp_abort", "transaction", INVALID, 0, stomp_abort(fx.idle, NULL))                         \
    X(disc_c, "stomp_disconnect", "conn", INVALID, 0, stomp_disconnect(NULL, "r", 10))                       \
    X(disc_r, "stomp_disconnect", "receipt", ALLOWED, STOMP_ERR_NOT_CONNECTED, stomp_disconnect(fx.idle, NULL, 10)) \
    X(recv_c, "stomp_receive", "conn", INVALID, 0, receive_into(NULL))                                       \
    X(recv_o, "stomp_receive", "frame_out", INVALID, 0, stomp_receive(fx.live, 0, NULL))                     \
    X(wait_c, "stomp_wait_receipt", "conn", INVALID, 0, stomp_wait_receipt(NULL, "r", 10))                   \
    X(wait_r, "stomp_wait_receipt", "receipt_id", INVALID, 0, stomp_wait_receipt(fx.live, NULL, 10))         \
    X(is_conn, "stomp_is_connected", "conn", NULLRET, R_NULL, stomp_is_connected(NULL) ? R_VALUE : R_NULL)   \
    X(ver_c, "stomp_connection_version", "conn", INVALID, 0, version_into(NULL))                             \
    X(ver_o, "stomp_connection_version", "version_out", INVALID, 0, stomp_connection_version(fx.live, NULL)) \
    X(ld_c, "stomp_last_disconnect", "conn", INVALID, 0, last_disconnect_into(NULL))                         \
    X(ld_code, "stomp_last_disconnect", "code_out", INVALID, 0, stomp_last_disconnect(fx.refused, NULL, NULL, 0)) \
    X(ld_msg, "stomp_last_disconnect", "message_out", ALLOWED, STOMP_OK,                                     \
      stomp_last_disconnect(fx.refused, &fx.code, NULL, 0))                                                  \
    X(cf_c, "stomp_connected_frame", "conn", INVALID, 0, connected_frame_into(NULL))                         \
    X(cf_o, "stomp_connected_frame", "frame_out", INVALID, 0, stomp_connected_frame(fx.live, NULL))          \
    X(f_cmd, "stomp_frame_command", "frame", NULLRET, R_NULL, ptr_result(stomp_frame_command(NULL)))         \
    X(f_hdr_f, "stomp_frame_header", "frame", NULLRET, R_NULL, ptr_result(stomp_frame_header(NULL, "a")))    \
    X(f_hdr_n, "stomp_frame_header", "name", NULLRET, R_NULL, ptr_result(stomp_frame_header(fx.msg, NULL)))  \
    X(f_count, "stomp_frame_header_count", "frame", NULLRET, R_NULL,                                         \
      stomp_frame_header_count(NULL) == 0 ? R_NULL : R_VALUE)                                                \
    X(f_at_f, "stomp_frame_header_at", "frame", INVALID, 0, header_at_into(NULL))                            \
    X(f_at_n, "stomp_frame_header_at", "name", ALLOWED, STOMP_OK, header_at_value_only())                    \
    X(f_at_v, "stomp_frame_header_at", "value", ALLOWED, STOMP_OK, header_at_name_only())                    \
    X(tls_s_c, "stomp_connection_tls_session", "conn", INVALID, 0, tls_session_of(NULL, 3))                  \
    X(tls_s_v, "stomp_connection_tls_session", "version_out", ALLOWED, STOMP_ERR_NOT_FOUND,                  \
      tls_session_of(fx.live, 2))                                                                            \
    X(tls_s_cs, "stomp_connection_tls_session", "cipher_suite_out", ALLOWED, STOMP_ERR_NOT_FOUND,            \
      tls_session_of(fx.live, 1))                                                                            \
    X(f_pk_f, "stomp_frame_headers_packed", "frame", INVALID, 0, packed_into(NULL, 64))                     \
    X(f_pk_b1, "stomp_frame_headers_packed", "buf", INVALID, 0, packed_into(fx.msg, 64))                     \
    X(f_pk_b0, "stomp_frame_headers_packed", "buf", ALLOWED, STOMP_ERR_BUFFER_TOO_SMALL, packed_into(fx.msg, 0)) \
    X(f_pk_n, "stomp_frame_headers_packed", "needed_out", INVALID, 0,                                        \
      stomp_frame_headers_packed(fx.msg, NULL, 0, NULL))                                                     \
    X(f_fp_f, "stomp_frame_packed", "frame", INVALID, 0, frame_packed_into(NULL, 64))                        \
    X(f_fp_b1, "stomp_frame_packed", "buf", INVALID, 0, frame_packed_into(fx.msg, 64))                       \
    X(f_fp_b0, "stomp_frame_packed", "buf", ALLOWED, STOMP_ERR_BUFFER_TOO_SMALL, frame_packed_into(fx.msg, 0)) \
    X(f_fp_n, "stomp_frame_packed", "needed_out", INVALID, 0, frame_packed_null_out(1))                      \
    X(f_fp_a, "stomp_frame_packed", "body_at_out", INVALID, 0, frame_packed_null_out(0))                     \
    X(f_body_f, "stomp_frame_body", "frame", NULLRET, R_NULL, body_of_null())                                \
    X(f_body_l, "stomp_frame_body", "len", ALLOWED, R_VALUE, ptr_result(stomp_frame_body(fx.msg, NULL)))     \
    X(f_clone, "stomp_frame_clone", "frame", NULLRET, R_NULL, ptr_result(stomp_frame_clone(NULL)))           \
    X(f_free, "stomp_frame_free", "frame", NOOP, R_VOID, (stomp_frame_free(NULL), R_VOID))

/* ---- calls that need more than one expression ---- */

/* The TLS option setters on options of their own (a call that succeeds changes them). */
static const char *cert_path(const char *file) {
    static char path[4][512];
    static int next;
    const char *d = getenv("STOMP_TLS_CERT_DIR");
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", d != NULL && *d != '\0' ? d : "/var/lib/libstomp-test/certs", file);
    return p;
}

static int tls_with(int per_host, const char *ca, const char *cert, const char *key) {
    stomp_options *o = stomp_options_new();
    int rc = per_host ? stomp_options_add_host_tls(o, "127.0.0.1", 1, ca, cert, key)
                      : stomp_options_set_tls(o, ca, cert, key);
    stomp_options_free(o);
    return rc;
}

static int refuse_all(void *user_data, const uint8_t *der, size_t der_len, const char *host) {
    (void)user_data, (void)der, (void)der_len, (void)host;
    return 0;
}

/* 0: server name NULL (back to each host's own); 1: callback NULL (removed); 2: user_data NULL. */
static int tls_options_call(int which) {
    stomp_options *o = stomp_options_new();
    int rc = which == 0   ? stomp_options_set_tls_server_name(o, NULL)
             : which == 1 ? stomp_options_set_tls_verify_callback(o, NULL, NULL)
                          : stomp_options_set_tls_verify_callback(o, refuse_all, NULL);
    stomp_options_free(o);
    return rc;
}

static void quiet_log(void *user_data, stomp_log_level level, const char *message) {
    (void)user_data, (void)level, (void)message;
}

/* A callback with NULL user_data is accepted; then back to none. */
static int log_callback_without_user_data(void) {
    int rc = stomp_set_log_callback(quiet_log, NULL, STOMP_LOG_ERROR);
    CHECK_OK(stomp_set_log_callback(NULL, NULL, STOMP_LOG_OFF));
    return rc;
}

/* The stats functions must leave the caller's struct and buffer as they were. */
static int stats_into(const stomp_connection *c) {
    stomp_stats st;
    int rc;
    memset(&st, 0x5a, sizeof st);
    st.size = sizeof st;
    rc = stomp_stats_get(c, &st);
    CHECK(st.size == sizeof st);
    return rc;
}

/* 0: stats NULL; 1: buf NULL. */
static int stats_format_into(int which) {
    stomp_stats st;
    char buf[16] = "same";
    int rc;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    rc = which == 0 ? stomp_stats_format(NULL, buf, sizeof buf) : stomp_stats_format(&st, NULL, 1024);
    CHECK_STR(buf, "same");
    return rc;
}

static int loop_new_and_free(void) {
    stomp_loop *l = stomp_loop_new();
    int r = ptr_result(l);
    stomp_loop_free(l);
    return r;
}

static int options_new_and_free(void) {
    stomp_options *o = stomp_options_new();
    int r = ptr_result(o);
    stomp_options_free(o);
    return r;
}

/* The output pointers of these must stay untouched: each checks its sentinel. */
static int receive_into(stomp_connection *c) {
    stomp_frame *f = (stomp_frame *)&fx; /* a sentinel, never dereferenced */
    int rc = stomp_receive(c, 0, &f);
    CHECK(f == (stomp_frame *)&fx);
    return rc;
}

static int version_into(stomp_connection *c) {
    stomp_version v = (stomp_version)77;
    int rc = stomp_connection_version(c, &v);
    CHECK(v == (stomp_version)77);
    return rc;
}

static int last_disconnect_into(stomp_connection *c) {
    stomp_result code = (stomp_result)77;
    char msg[8] = "same";
    int rc = stomp_last_disconnect(c, &code, msg, sizeof msg);
    CHECK(code == (stomp_result)77);
    CHECK_STR(msg, "same");
    return rc;
}

static int connected_frame_into(stomp_connection *c) {
    stomp_frame *f = (stomp_frame *)&fx;
    int rc = stomp_connected_frame(c, &f);
    CHECK(f == (stomp_frame *)&fx);
    return rc;
}

static int header_at_into(const stomp_frame *f) {
    const char *n = "untouched", *v = "untouched";
    int rc = stomp_frame_header_at(f, 0, &n, &v);
    CHECK_STR(n, "untouched");
    CHECK_STR(v, "untouched");
    return rc;
}

/* buf NULL with `len`: refused over 0; with 0, the size asked for (and written). */
/* `outs`: bit 0 passes version_out, bit 1 cipher_suite_out (NULL otherwise); neither is written on
 * failure (the link of fx.live is plain TCP: STOMP_ERR_NOT_FOUND). */
static int tls_session_of(const stomp_connection *c, int outs) {
    const char *v = "same", *cs = "same";
    int rc = stomp_connection_tls_session(c, (outs & 1) ? &v : NULL, (outs & 2) ? &cs : NULL);
    CHECK_STR(v, "same");
    CHECK_STR(cs, "same");
    return rc;
}

static int packed_into(const stomp_frame *f, size_t len) {
    size_t needed = 7777;
    int rc = stomp_frame_headers_packed(f, NULL, len, &needed);
    CHECK(len == 0 ? needed > 0 && needed != 7777 : needed == 7777);
    return rc;
}

static int frame_packed_into(const stomp_frame *f, size_t len) {
    size_t needed = 7777, body_at = 7777;
    int rc = stomp_frame_packed(f, NULL, len, &needed, &body_at);
    CHECK(len == 0 ? needed > body_at && body_at > 0 && needed != 7777 : needed == 7777 && body_at == 7777);
    return rc;
}

/* stomp_frame_packed with one of its two out-pointers NULL (which_null 1: needed_out). */
static int frame_packed_null_out(int which_null) {
    size_t other = 7777;
    int rc = which_null ? stomp_frame_packed(fx.msg, NULL, 0, NULL, &other)
                        : stomp_frame_packed(fx.msg, NULL, 0, &other, NULL);
    CHECK(other == 7777);
    return rc;
}

static int header_at_value_only(void) {
    const char *v = NULL;
    int rc = stomp_frame_header_at(fx.msg, 0, NULL, &v);
    CHECK(v != NULL);
    return rc;
}

static int header_at_name_only(void) {
    const char *n = NULL;
    int rc = stomp_frame_header_at(fx.msg, 0, &n, NULL);
    CHECK(n != NULL && *n != '\0');
    return rc;
}

static int body_of_null(void) {
    size_t len = 99;
    const uint8_t *b = stomp_frame_body(NULL, &len);
    CHECK(len == 0);
    return ptr_result(b);
}

/* ---- the table ---- */

typedef struct {
    const char *function;
    const char *argument;
    expect kind;
    int want;
    int (*call)(void);
} null_case;

#define DEFINE_CASE(id, fn, arg, kind, want, expr) \
    static int case_##id(void) { return (expr); }
NULL_CASES(DEFINE_CASE)

#define ROW(id, fn, arg, kind, want, expr) {fn, arg, kind, want, case_##id},
static const null_case cases[] = {NULL_CASES(ROW)};
#define N_CASES (sizeof cases / sizeof cases[0])

static const char *const kind_name[] = {"INVALID", "NULLRET", "NOOP", "ALLOWED", "NONE"};

/* A failed call's message that names no argument, so that a case that sets nothing shows. */
#define SENTINEL "sentinel-receipt-zz"
static void set_sentinel_error(void) {
    if (stomp_wait_receipt(fx.idle, SENTINEL, 0) != STOMP_ERR_NOT_FOUND) {
        t_fail(__FILE__, __LINE__, "setting the sentinel error failed");
    }
}

/* The last error says that the argument is NULL. */
static void check_names(const char *what, const char *argument, const char *e) {
    if (strstr(e, argument) == NULL || strstr(e, "NULL") == NULL) {
        t_fail(__FILE__, __LINE__, "%s: stomp_last_error() \"%s\" does not say %s is NULL", what, e, argument);
    }
}

static void run_case(const null_case *c) {
    char what[160];
    int got;
    const char *e;
    snprintf(what, sizeof what, "%s(%s = NULL): %s", c->function, c->argument, kind_name[c->kind]);
    set_sentinel_error();
    got = c->call();
    e = stomp_last_error();
    switch (c->kind) {
    case INVALID:
        if (got != STOMP_ERR_INVALID_ARGUMENT) {
            t_fail(__FILE__, __LINE__, "%s: returned %d (%s)", what, got, stomp_strerror((stomp_result)got));
        }
        check_names(what, c->argument, e);
        break;
    case NULLRET:
        if (got != R_NULL) t_fail(__FILE__, __LINE__, "%s: did not return nothing", what);
        check_names(what, c->argument, e);
        break;
    case NOOP:
        if (strstr(e, SENTINEL) == NULL) t_fail(__FILE__, __LINE__, "%s: set the last error to \"%s\"", what, e);
        break;
    case ALLOWED:
    case NONE:
        if (got != c->want) {
            t_fail(__FILE__, __LINE__, "%s: gave %d (%s), expected %d (%s); last error \"%s\"", what, got,
                   got >= 0 ? stomp_strerror((stomp_result)got) : "not a result code", c->want,
                   c->want >= 0 ? stomp_strerror((stomp_result)c->want) : "not a result code", e);
        }
        break;
    }
    t_ok(what);
}

/* ---- the header: every declared function has a row, every row's function is declared ---- */

#define MAX_DECLARED 128

static int declared_functions(const char *header, char names[][64]) {
    FILE *f = fopen(header, "r");
    char line[1024];
    int n = 0;
    if (f == NULL) t_fail(__FILE__, __LINE__, "cannot open %s", header);
    while (fgets(line, sizeof line, f) != NULL) {
        char *paren, *start, *semi;
        size_t len;
        /* A declaration: starts in column 0 with a type, ends with ");" (static inlines end with '{'). */
        if (line[0] == ' ' || line[0] == '\t' || line[0] == '/' || line[0] == '*' || line[0] == '#') continue;
        semi = strstr(line, ");");
        paren = strchr(line, '(');
        if (semi == NULL || paren == NULL || paren > semi) continue;
        start = paren;
        while (start > line && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                                (start[-1] >= '0' && start[-1] <= '9'))) {
            start--;
        }
        len = (size_t)(paren - start);
        if (len < 7 || strncmp(start, "stomp_", 6) != 0 || len >= 64) continue;
        if (n >= MAX_DECLARED) t_fail(__FILE__, __LINE__, "more than %d functions in %s", MAX_DECLARED, header);
        memcpy(names[n], start, len);
        names[n][len] = '\0';
        n++;
    }
    fclose(f);
    return n;
}

static void check_coverage(const char *header) {
    static char names[MAX_DECLARED][64];
    int n = declared_functions(header, names), i, missing = 0, stale = 0;
    size_t k;
    t_section("every function declared in %s has a row in the table", header);
    if (n < 50) t_fail(__FILE__, __LINE__, "only %d functions found in %s: is the parser broken?", n, header);
    for (i = 0; i < n; i++) {
        bool found = false;
        for (k = 0; k < N_CASES && !found; k++) found = strcmp(cases[k].function, names[i]) == 0;
        if (!found) {
            fprintf(stderr, "no NULL case for %s (declared in %s): add one to test_misuse_null.c\n", names[i], header);
            missing++;
        }
    }
    for (k = 0; k < N_CASES; k++) {
        bool found = false;
        for (i = 0; i < n && !found; i++) found = strcmp(cases[k].function, names[i]) == 0;
        if (!found) {
            fprintf(stderr, "the table names %s, which %s does not declare\n", cases[k].function, header);
            stale++;
        }
    }
    if (missing + stale > 0) t_fail(__FILE__, __LINE__, "%d functions without a row, %d rows without a function", missing, stale);
    printf("  ok  %d functions declared, each with at least one row (%zu rows)\n", n, N_CASES);
    t_checks++;
}

/* ---- the fixture ---- */

/* A loopback port that refuses connections: a bound TCP socket that never listens. */
static int refusing_port(uint16_t *port) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return s;
}

int main(int argc, char **argv) {
    broker b = t_rabbitmq();
    uint16_t port;
    int sock;
    size_t k;
    stomp_options *o;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: test_misuse_null path/to/stomp.h\n");
        return 2;
    }
    check_coverage(argv[1]);

    t_section("the fixture: options, an idle connection, a refused one, a live one with a message");
    stomp_listener_init(&a_listener);
    fx.opts = stomp_options_new();
    CHECK(fx.opts != NULL);
    fx.loop = stomp_loop_new();
    CHECK(fx.loop != NULL);
    sock = refusing_port(&port);
    o = t_options(&b, STOMP_VERSION_1_2, 0);
    CHECK_OK(stomp_options_set_reconnect(o, 0.0, 0.0, 0.0, 0.0, 1));
    fx.idle = stomp_connection_new(o);
    CHECK(fx.idle != NULL);
    stomp_options_free(o);
    o = stomp_options_new();
    CHECK_OK(stomp_options_add_host(o, "127.0.0.1", port));
    CHECK_OK(stomp_options_set_reconnect(o, 0.0, 0.0, 0.0, 0.0, 1));
    fx.refused = stomp_connection_new(o);
    CHECK(fx.refused != NULL);
    stomp_options_free(o);
    fx.live = t_connect(&b, STOMP_VERSION_1_2, 4, NULL);
    t_unique_queue(fx.queue, sizeof fx.queue, "null");
    CHECK_OK(stomp_subscribe(fx.live, fx.queue, "s", STOMP_ACK_CLIENT_INDIVIDUAL, NULL, 0));
    CHECK_OK(t_send_confirmed(fx.live, fx.queue, "one", NULL, 0));
    CHECK_OK(t_send_confirmed(fx.live, fx.queue, "two", NULL, 0));
    fx.msg = T_RECEIVE(fx.live);
    fx.msg2 = T_RECEIVE(fx.live);
    CHECK_STR(stomp_frame_command(fx.msg), "MESSAGE");
    CHECK(t_body_is_str(fx.msg2, "two"));

    t_section("NULL for each pointer argument, one at a time (%zu cases)", N_CASES);
    for (k = 0; k < N_CASES; k++) run_case(&cases[k]);

    t_section("nothing was consumed or broken by the NULL calls");
    CHECK(stomp_is_connected(fx.live));
    CHECK_OK(t_send_confirmed(fx.live, fx.queue, "three", NULL, 0));
    CHECK_OK(stomp_disconnect(fx.live, NULL, T_WAIT_MS));
    stomp_frame_free(fx.msg);
    stomp_frame_free(fx.msg2);
    stomp_connection_free(fx.live);
    stomp_connection_free(fx.refused);
    stomp_connection_free(fx.idle);
    stomp_options_free(fx.opts);
    stomp_loop_free(fx.loop);
    close(sock);
    return t_done("test_misuse_null");
}
