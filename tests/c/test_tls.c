/*
 * test_tls: the TLS part of the C API against the brokers' TLS listeners (scripts/broker.sh:
 * RabbitMQ 127.0.0.1:61614, ActiveMQ :61624, ActiveMQ with a client certificate required :61625)
 * and the certificates of scripts/certs.sh (STOMP_TLS_CERT_DIR, default
 * /var/lib/libstomp-test/certs).
 *  - file errors when the options are set: missing file, malformed PEM, half a client identity;
 *  - a round trip over TLS to each broker, with the negotiated version and cipher suite;
 *  - a failover list mixing a dead plain host and a TLS host (stomp_options_add_host_tls);
 *  - an unknown CA, a wrong host name: their codes, within the connect timeout;
 *  - mutual TLS with stomp_options_set_tls's client certificate;
 *  - the verification callback sees the certificate and the host, and can refuse.
 */
#include "test_util.h"

#include <sys/socket.h>
#include <netinet/in.h>

static char dir[512];

static const char *path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

static uint16_t dead_port(void) {
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    uint16_t port;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) != 0) {
        t_fail(__FILE__, __LINE__, "cannot find a free port");
    }
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Options for one TLS host (its own files), RabbitMQ's vhost if asked. */
static stomp_options *tls_opts(uint16_t port, const char *ca, const char *cert, const char *key, bool rabbit) {
    stomp_options *o = stomp_options_new();
    CHECK(o != NULL);
    CHECK_OK(stomp_options_add_host_tls(o, "127.0.0.1", port, ca, cert, key));
    CHECK_OK(stomp_options_set_connect_timeout(o, 4000));
    CHECK_OK(stomp_options_set_reconnect(o, 0.1, 0.5, 0.1, 1.0, 1));
    CHECK_OK(stomp_options_set_receive_queue(o, 16));
    if (rabbit) CHECK_OK(stomp_options_set_vhost(o, "/"));
    return o;
}

/* Connects with `o` (freed here), expecting `want`, within the 4 s connect timeout. */
static stomp_connection *connect_expect(stomp_options *o, stomp_result want) {
    stomp_connection *c = stomp_connection_new(o);
    int64_t start = t_now_ms();
    stomp_result rc;
    stomp_options_free(o);
    CHECK(c != NULL);
    rc = stomp_connect(c, "guest", "guest", NULL, 0, true);
    if (rc != want) {
        t_fail(__FILE__, __LINE__, "connect returned %d (%s), expected %d (%s)", (int)rc, stomp_strerror(rc),
               (int)want, stomp_strerror(want));
    }
    t_ok("connect gave the expected result");
    CHECK(t_now_ms() - start < 4000);
    return c;
}

static void round_trip(stomp_connection *c, const char *tag) {
    char q[128];
    const char *version = NULL, *suite = NULL;
    stomp_frame *m;
    CHECK_OK(stomp_connection_tls_session(c, &version, &suite));
    CHECK(version != NULL && (strcmp(version, "TLSv1.3") == 0 || strcmp(version, "TLSv1.2") == 0));
    CHECK(suite != NULL && strncmp(suite, "TLS", 3) == 0);
    printf("  tls %s %s\n", version, suite);
    t_unique_queue(q, sizeof q, tag);
    CHECK_OK(stomp_subscribe(c, q, NULL, STOMP_ACK_AUTO, NULL, 0));
    CHECK_OK(t_send_confirmed(c, q, "over TLS", NULL, 0));
    m = T_RECEIVE(c);
    CHECK(t_body_is_str(m, "over TLS"));
    stomp_frame_free(m);
}

typedef struct {
    atomic_int calls;
    atomic_size_t der_len;
    char host[64];
    int answer;
} verify_state;

static int verify(void *ud, const uint8_t *der, size_t der_len, const char *host) {
    verify_state *s = ud;
    atomic_fetch_add(&s->calls, 1);
    /* a DER certificate starts with a SEQUENCE */
    atomic_store(&s->der_len, der != NULL && der_len > 0 && der[0] == 0x30 ? der_len : 0);
    snprintf(s->host, sizeof s->host, "%s", host);
    return s->answer;
}

int main(void) {
    char ca[600], other_ca[600], cert[600], key[600], missing[600];
    const char *d = getenv("STOMP_TLS_CERT_DIR");
    uint16_t rabbit = t_env_port("STOMP_RABBITMQ_TLS_PORT", 61614);
    uint16_t amq = t_env_port("STOMP_ACTIVEMQ_TLS_PORT", 61624);
    uint16_t amq_mtls = t_env_port("STOMP_ACTIVEMQ_MTLS_PORT", 61625);
    stomp_options *o;
    stomp_connection *c;
    verify_state vs;

    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(dir, sizeof dir, "%s", d != NULL && *d != '\0' ? d : "/var/lib/libstomp-test/certs");
    path(ca, sizeof ca, "ca.pem");
    path(other_ca, sizeof other_ca, "other-ca.pem");
    path(cert, sizeof cert, "client.pem");
    path(key, sizeof key, "client.key");
    path(missing, sizeof missing, "no-such-file.pem");

    t_section("files are checked when set");
    o = stomp_options_new();
    CHECK_RC(stomp_options_set_tls(o, missing, NULL, NULL), STOMP_ERR_TLS_FILE);
    CHECK_CONTAINS(stomp_last_error(), "no-such-file.pem");
    CHECK_RC(stomp_options_set_tls(o, key, NULL, NULL), STOMP_ERR_TLS_FILE); /* a key is no CA */
    CHECK_RC(stomp_options_set_tls(o, ca, cert, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_options_add_host_tls(o, "127.0.0.1", rabbit, ca, missing, key), STOMP_ERR_TLS_FILE);
    CHECK_RC(stomp_options_set_tls(NULL, ca, NULL, NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_RC(stomp_connection_tls_session(NULL, NULL, NULL), STOMP_ERR_INVALID_ARGUMENT);
    stomp_options_free(o);

    t_section("round trips over TLS");
    c = connect_expect(tls_opts(rabbit, ca, NULL, NULL, true), STOMP_OK);
    round_trip(c, "tls-rabbit");
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);
    c = connect_expect(tls_opts(amq, ca, NULL, NULL, false), STOMP_OK);
    round_trip(c, "tls-amq");
    CHECK_OK(stomp_disconnect(c, NULL, T_WAIT_MS));
    stomp_connection_free(c);

    t_section("a dead plain host, then a TLS one");
    o = stomp_options_new();
    CHECK_OK(stomp_options_add_host(o, "127.0.0.1", dead_port()));
    CHECK_OK(stomp_options_add_host_tls(o, "127.0.0.1", rabbit, ca, NULL, NULL));
    CHECK_OK(stomp_options_set_vhost(o, "/"));
    CHECK_OK(stomp_options_set_receive_queue(o, 16));
    c = connect_expect(o, STOMP_OK);
    round_trip(c, "tls-failover");
    stomp_connection_free(c);

    t_section("a plain host is not TLS");
    c = t_connect(&(broker){BROKER_RABBITMQ, "rabbitmq", t_env_port("STOMP_RABBITMQ_PORT", 61613)},
                  STOMP_VERSION_1_2, 0, NULL);
    CHECK_RC(stomp_connection_tls_session(c, NULL, NULL), STOMP_ERR_NOT_FOUND);
    stomp_connection_free(c);

    t_section("verification failures");
    c = connect_expect(tls_opts(rabbit, other_ca, NULL, NULL, true), STOMP_ERR_TLS_UNTRUSTED);
    CHECK_CONTAINS(stomp_last_error(), "trusted CA");
    stomp_connection_free(c);
    o = tls_opts(rabbit, ca, NULL, NULL, true);
    CHECK_OK(stomp_options_set_tls_server_name(o, "wrong.example.invalid"));
    c = connect_expect(o, STOMP_ERR_TLS_HOSTNAME);
    CHECK_CONTAINS(stomp_last_error(), "wrong.example.invalid");
    stomp_connection_free(c);

    t_section("mutual TLS: stomp_options_set_tls for every host");
    o = tls_opts(amq_mtls, ca, NULL, NULL, false);
    c = connect_expect(o, STOMP_ERR_TLS_CLIENT_CERT_REFUSED);
    stomp_connection_free(c);
    o = stomp_options_new();
    CHECK_OK(stomp_options_set_tls(o, ca, cert, key));
    CHECK_OK(stomp_options_add_host(o, "127.0.0.1", amq_mtls));
    CHECK_OK(stomp_options_set_receive_queue(o, 16));
    c = connect_expect(o, STOMP_OK);
    round_trip(c, "mtls");
    stomp_connection_free(c);

    t_section("the verification callback");
    memset(&vs, 0, sizeof vs);
    vs.answer = 1;
    o = tls_opts(rabbit, ca, NULL, NULL, true);
    CHECK_OK(stomp_options_set_tls_verify_callback(o, verify, &vs));
    c = connect_expect(o, STOMP_OK);
    CHECK(atomic_load(&vs.calls) == 1);
    CHECK(atomic_load(&vs.der_len) > 200);
    CHECK_STR(vs.host, "127.0.0.1");
    stomp_connection_free(c);
    vs.answer = 0;
    o = tls_opts(rabbit, ca, NULL, NULL, true);
    CHECK_OK(stomp_options_set_tls_verify_callback(o, verify, &vs));
    c = connect_expect(o, STOMP_ERR_TLS_UNTRUSTED);
    CHECK_CONTAINS(stomp_last_error(), "callback");
    stomp_connection_free(c);

    return t_done("test_tls");
}
