# frozen_string_literal: true

# TLS through `ssl:` / SSLParams against the brokers' TLS listeners (certificates made by
# scripts/certs.sh): RabbitMQ 127.0.0.1:61614, ActiveMQ 127.0.0.1:61624, and ActiveMQ
# 127.0.0.1:61625, which wants a client certificate. Run on the stomp gem too (STOMP_IMPL=gem):
# where it differs (it verifies nothing unless ts_files is set; it raises OpenSSL's exceptions),
# the test is skipped saying how.
require_relative 'test_helper'

CERTS = ENV.fetch('STOMP_TEST_CERTS', '/var/lib/libstomp-test/certs')
TLS_PORTS = {
  'rabbitmq' => Integer(ENV.fetch('STOMP_RABBITMQ_TLS_PORT', '61614')),
  'activemq' => Integer(ENV.fetch('STOMP_ACTIVEMQ_TLS_PORT', '61624'))
}.freeze
MTLS_PORT = Integer(ENV.fetch('STOMP_ACTIVEMQ_MTLS_PORT', '61625'))
# libstomp's codes (stomp.h stomp_result): a missing TLS file, a broker certificate that does not
# chain to the CA given, a client certificate refused (or missing).
TLS_UNTRUSTED = 22
TLS_FILE = 21
TLS_CLIENT_CERT_REFUSED = 25

class TestTLS < Minitest::Test
  include StompTestHelpers

  def setup
    skip "no test certificates in #{CERTS} (scripts/certs.sh makes them)" unless File.exist?(cert('ca.pem'))
    skip 'this libstomp has no TLS' if !GEM_MODE && !StompFFI::Native::TLS
  end

  def cert(name)
    File.join(CERTS, name)
  end

  def ssl(opts = {})
    IMPL::SSLParams.new({ ts_files: cert('ca.pem') }.merge(opts))
  end

  def tls_host(port, ssl_params)
    { login: 'guest', passcode: 'guest', host: '127.0.0.1', port: port, ssl: ssl_params }
  end

  def tls_connect(hosts, version = '1.2', extra = {})
    ch = version == '1.0' ? {} : { 'accept-version' => version, 'host' => '/' }
    conn = IMPL::Connection.new({ hosts: hosts, reliable: false, connect_headers: ch }.merge(extra))
    (@to_close ||= []) << conn
    conn
  end

  # A loopback port with nothing listening (bound, then closed).
  def dead_port
    server = TCPServer.new('127.0.0.1', 0)
    server.addr[1]
  ensure
    server&.close
  end

  # Publishes a binary body and receives it back on the same connection.
  def assert_round_trip(conn, name)
    dest = unique(name)
    subscribe_confirmed(conn, dest, { ack: 'auto' })
    body = "over TLS \0 \xFF".b
    conn.publish(dest, body)
    msg = receive_within(conn, "the MESSAGE sent over TLS to #{dest}")
    assert_equal 'MESSAGE', msg.command
    assert_equal body, msg.body.b
  end

  # The exception of a TLS connect that must fail (Connection.new raising, within WAIT).
  def connect_failure(hosts)
    Timeout.timeout(WAIT + 20) do
      assert_raises(StandardError) { tls_connect(hosts) }
    end
  rescue Timeout::Error
    flunk 'the failing TLS connect neither connected nor raised in time'
  end

  TLS_PORTS.each_key do |broker|
    %w[1.0 1.2].each do |version|
      define_method("test_publish_receive_over_tls_#{broker}_#{version.tr('.', '_')}") do
        conn = tls_connect([tls_host(TLS_PORTS[broker], ssl)], version)
        assert conn.open?
        assert_equal version, conn.protocol
        assert_round_trip(conn, "tls-#{broker}")
      end
    end
  end

  def test_mutual_tls_with_client_certificate
    client = ssl(cert_file: cert('client.pem'), key_file: cert('client.key'))
    begin
      conn = tls_connect([tls_host(MTLS_PORT, client)])
    rescue OpenSSL::PKey::PKeyError => e
      raise unless GEM_MODE

      skip "the stomp gem differs: it reads key_file with OpenSSL::PKey::RSA.new, so an EC key (as scripts/certs.sh makes) fails: #{e.message}"
    end
    assert conn.open?
    assert_round_trip(conn, 'mtls')
  end

  def test_mutual_tls_without_client_certificate_fails
    e = connect_failure([tls_host(MTLS_PORT, ssl)])
    gem_differs('it raises whatever OpenSSL or the socket raised, with no libstomp code') do
      assert_equal 'TLSError', e.class.name.split('::').last, "#{e.class}: #{e.message}"
      assert_equal TLS_CLIENT_CERT_REFUSED, e.code, e.message
    end
  end

  def test_wrong_ca_raises_a_tls_error_with_its_code
    e = connect_failure([tls_host(TLS_PORTS['rabbitmq'], ssl(ts_files: cert('other-ca.pem')))])
    gem_differs('it raises OpenSSL::SSL::SSLError, with no libstomp code') do
      assert_equal 'TLSError', e.class.name.split('::').last, "#{e.class}: #{e.message}"
      assert_equal TLS_UNTRUSTED, e.code, e.message
      assert_match(/certificate|trust/i, e.message)
    end
    assert_kind_of OpenSSL::SSL::SSLError, e, "#{e.class}: #{e.message}" if GEM_MODE
  end

  # Ours verifies by default (ssl: true: the system's CAs, which do not include the test CA); the
  # gem does not verify at all unless ts_files is set, so it connects.
  def test_ssl_true_verifies_against_the_system_cas
    gem_differs('without ts_files it does not verify the broker certificate, and connected') do
      e = connect_failure([tls_host(TLS_PORTS['activemq'], true)])
      assert_equal 'TLSError', e.class.name.split('::').last, "#{e.class}: #{e.message}"
      assert_equal TLS_UNTRUSTED, e.code, e.message
    end
  end

  def test_missing_truststore_file_is_refused_before_connecting
    missing = cert('no-such-ca.pem')
    e = assert_raises(StandardError) { tls_connect([tls_host(TLS_PORTS['rabbitmq'], ssl(ts_files: missing))]) }
    gem_differs("it raises #{e.class} from OpenSSL's file loading") do
      assert_equal 'TLSError', e.class.name.split('::').last, "#{e.class}: #{e.message}"
      assert_equal TLS_FILE, e.code, e.message
      assert_includes e.message, missing
    end
  end

  # A failover pool: a plain host that is down, then a TLS host; and a TLS host that is down,
  # then a plain one. Each connects to the live host and carries messages.
  def test_failover_from_a_dead_plain_host_to_a_tls_host
    plain = { login: 'guest', passcode: 'guest', host: '127.0.0.1', port: dead_port }
    conn = tls_connect([plain, tls_host(TLS_PORTS['rabbitmq'], ssl)], '1.2', failover_settings)
    assert_equal TLS_PORTS['rabbitmq'], conn.port
    assert_round_trip(conn, 'failover-to-tls')
  end

  def test_failover_from_a_dead_tls_host_to_a_plain_host
    plain = { login: 'guest', passcode: 'guest', host: '127.0.0.1', port: BROKERS['rabbitmq'] }
    conn = tls_connect([tls_host(dead_port, ssl), plain], '1.2', failover_settings)
    assert_equal BROKERS['rabbitmq'], conn.port
    assert_round_trip(conn, 'failover-to-plain')
  end

  def failover_settings
    { reliable: true, initial_reconnect_delay: 0.05, max_reconnect_delay: 0.2, max_reconnect_attempts: 5,
      randomize: false }
  end
end
