# frozen_string_literal: true

require_relative 'test_helper'

# Connection's API against both brokers in every version (and, with STOMP_IMPL=gem, the stomp gem).
class TestConnection < Minitest::Test
  include StompTestHelpers

  each_broker_version('publish_receive_text_and_binary') do |broker, version|
    conn = connect(broker, version)
    assert conn.open?
    refute conn.closed?
    assert_equal version, conn.protocol
    dest = unique('pubrecv')
    subscribe_confirmed(conn, dest)
    assert_nil conn.publish(dest, 'héllo wörld'), 'publish returns nil, as the gem'
    binary = "a\0b\xFF\xFEc\0".b
    conn.publish(dest, binary)
    text = receive_within(conn, 'the text message')
    assert_equal 'MESSAGE', text.command
    assert_equal dest, text.headers['destination']
    assert_equal 'héllo wörld'.b, text.body.b
    assert_equal 'text/plain; charset=UTF-8', text.headers['content-type'], 'the gem sets this content-type'
    bin = receive_within(conn, 'the binary message')
    assert_equal binary, bin.body.b
    assert_equal Encoding::BINARY, bin.body.encoding, 'a non-ASCII body with content-length is binary'
    assert_equal '7', bin.headers['content-length']
  end

  # Frames past the gem's fast paths: a body larger than the per-thread buffer (256 KiB), more
  # headers than go through Hash[] at once (80), and, under 1.1+, an empty header value.
  each_broker_version('large_body_and_many_headers') do |broker, version|
    conn = connect(broker, version)
    dest = unique('large')
    subscribe_confirmed(conn, dest)
    body = (0...256 * 1024).map { |i| (i % 251).chr }.join.b
    custom = (1..80).to_h { |i| ["x-h#{i}", "v#{i}"] }
    custom['x-empty'] = '' unless version == '1.0'
    conn.publish(dest, body, custom)
    msg = receive_within(conn, 'the 256 KiB message with 80 headers')
    assert_equal body, msg.body.b
    assert_equal Encoding::BINARY, msg.body.encoding
    custom.each { |k, v| assert_equal v, msg.headers[k], "header #{k}" }
    assert_equal dest, msg.headers['destination']
    conn.publish(dest, 'small again')
    assert_equal 'small again', receive_within(conn, 'a small message after the large one').body
  end

  each_broker_version('poll_is_nil_when_nothing_waits') do |broker, version|
    conn = connect(broker, version)
    dest = unique('poll')
    subscribe_confirmed(conn, dest)
    assert_nil conn.poll
    conn.publish(dest, 'polled')
    msg = nil
    deadline = Time.now + WAIT
    until (msg = conn.poll) || Time.now > deadline
      sleep 0.01 # poll never waits: this loop is what a polling application does
    end
    refute_nil msg, "poll never returned the message within #{WAIT}s"
    assert_equal 'polled', msg.body
  end

  each_broker_version('connection_frame_and_heartbeat_intervals') do |broker, version|
    conn = connect(broker, version, connect_headers: version == '1.0' ? {} : { 'heart-beat' => '1000,1000' })
    frame = conn.connection_frame
    assert_equal 'CONNECTED', frame.command
    if version == '1.0'
      assert_equal 0, conn.hbsend_interval
      assert_equal 0, conn.hbrecv_interval
    else
      assert_equal version, frame.headers['version']
      sx, sy = frame.headers['heart-beat'].split(',').map(&:to_i)
      assert_equal [1000, sy].max.to_f, conn.hbsend_interval, 'max(ours, the broker\'s), ms'
      assert_equal [1000, sx].max.to_f, conn.hbrecv_interval
    end
  end

  # The counts grow as heart-beats go each way. Nothing announces a heart-beat sent, so the test
  # reads the counters until both moved, within a bound.
  each_broker_version('heartbeat_counts', versions: %w[1.1 1.2]) do |broker, version|
    conn = connect(broker, version, connect_headers: { 'heart-beat' => '200,200' })
    quiet = connect(broker, version)
    deadline = Time.now + WAIT
    sleep 0.05 until (conn.hbsend_count.positive? && conn.hbrecv_count.positive?) || Time.now > deadline
    assert conn.hbsend_count.positive?, "no heart-beat sent within #{WAIT}s (hbsend_count #{conn.hbsend_count})"
    assert conn.hbrecv_count.positive?, "no heart-beat received within #{WAIT}s (hbrecv_count #{conn.hbrecv_count})"
    assert_equal [0, 0], [quiet.hbsend_count, quiet.hbrecv_count], 'a connection without heart-beats counts none'
  end

  each_broker_version('ack_client_individual_takes') do |broker, version|
    conn = connect(broker, version)
    dest = unique('ack')
    subscribe_confirmed(conn, dest, { ack: 'client-individual', id: 'acks' }, 'acks')
    conn.publish(dest, 'ack me')
    msg = receive_within(conn, 'the message to ack')
    id = version == '1.2' ? msg.headers['ack'] : msg.headers['message-id']
    headers = version == '1.1' ? { subscription: msg.headers['subscription'] } : {}
    conn.ack(id, headers)
    conn.disconnect(receipt: 'bye')
    # Acked: a new subscriber sees only what comes next, not a redelivery.
    conn2 = connect(broker, version)
    subscribe_confirmed(conn2, dest, { ack: 'client-individual', id: 'acks2' }, 'acks2')
    conn2.publish(dest, 'next')
    assert_equal 'next', receive_within(conn2, 'the marker message').body
  end

  each_broker_version('ack_needs_subscription_under_1_1', versions: ['1.1']) do |broker, version|
    conn = connect(broker, version)
    assert_raises(IMPL::Error::SubscriptionRequiredError) { conn.ack('some-id') }
    assert_raises(IMPL::Error::MessageIDRequiredError) { conn.ack('') }
  end

  each_broker_version('nack', versions: %w[1.0 1.1 1.2]) do |broker, version|
    conn = connect(broker, version)
    if version == '1.0'
      assert_raises(IMPL::Error::UnsupportedProtocolError) { conn.nack('x') }
      next
    end
    dest = unique('nack')
    subscribe_confirmed(conn, dest, { ack: 'client-individual', id: 'nacks' }, 'nacks')
    conn.publish(dest, 'nack me')
    msg = receive_within(conn, 'the message to nack')
    id = version == '1.2' ? msg.headers['ack'] : msg.headers['message-id']
    headers = version == '1.1' ? { subscription: msg.headers['subscription'] } : {}
    conn.nack(id, headers)
    next unless broker == 'rabbitmq' # ActiveMQ sends a NACKed message the DLQ way (BROKERS.md)

    again = receive_within(conn, 'the NACKed message, requeued')
    assert_equal 'nack me', again.body
    assert_equal 'true', again.headers['redelivered']
  end

  each_broker_version('transactions') do |broker, version|
    conn = connect(broker, version)
    dest = unique('tx')
    subscribe_confirmed(conn, dest)
    conn.begin('t1')
    conn.publish(dest, 'aborted', transaction: 't1')
    conn.abort('t1')
    conn.begin('t2')
    conn.publish(dest, 'committed', transaction: 't2')
    conn.publish(dest, 'plain')
    conn.commit('t2')
    assert_equal 'plain', receive_within(conn, 'the message outside the transactions').body,
                 'the aborted one never came, the committed one came at commit'
    assert_equal 'committed', receive_within(conn, 'the committed message').body
  end

  each_broker_version('unsubscribe_stops_delivery') do |broker, version|
    conn = connect(broker, version)
    dest = unique('unsub')
    other = unique('unsub-other')
    subscribe_confirmed(conn, dest, { id: 'u1' }, 'u1')
    subscribe_confirmed(conn, other, { id: 'u2' }, 'u2')
    conn.unsubscribe(dest, { id: 'u1', receipt: 'unsub-r' }, 'u1')
    assert_equal 'unsub-r', receive_within(conn, 'the RECEIPT of UNSUBSCRIBE').headers['receipt-id']
    conn.publish(dest, 'not for me')
    conn.publish(other, 'for me')
    assert_equal 'for me', receive_within(conn, 'the message of the remaining subscription').body
  end

  each_broker_version('escaped_headers_round_trip', versions: %w[1.1 1.2]) do |broker, version|
    conn = connect(broker, version)
    dest = unique('esc')
    subscribe_confirmed(conn, dest)
    value = "a:b\nc\\d"
    conn.publish(dest, 'x', 'x-escaped' => value)
    assert_equal value, receive_within(conn, 'the message with escaped headers').headers['x-escaped']
  end

  each_broker_version('disconnect_receipt_and_state') do |broker, version|
    conn = connect(broker, version)
    assert conn.disconnect(receipt: 'dr-1'), 'disconnect returns true (closed), as the gem'
    assert_equal 'RECEIPT', conn.disconnect_receipt.command
    assert_equal 'dr-1', conn.disconnect_receipt.headers['receipt-id']
    assert conn.closed?
    refute conn.open?
    assert_raises(IMPL::Error::NoCurrentConnection) { conn.publish('/queue/x', 'y') }
  end

  each_broker_version('subscription_id_required_1_1_plus', versions: %w[1.1 1.2]) do |broker, version|
    conn = connect(broker, version)
    assert_raises(IMPL::Error::SubscriptionRequiredError) { conn.subscribe(unique('noid')) }
  end

  each_broker_version('logger_callbacks') do |broker, version|
    calls = Thread::Queue.new
    logger = Object.new
    %i[on_connecting on_connected on_disconnect on_publish on_subscribe on_receive].each do |m|
      logger.define_singleton_method(m) { |params, *rest| calls.push([m, params, rest]) }
    end
    conn = connect(broker, version, logger: logger)
    wait_for(calls, 'on_connected') { |c| c.first == :on_connected && c[1].is_a?(Hash) }
    dest = unique('log')
    conn.subscribe(dest, { id: 'l1' }, 'l1')
    conn.publish(dest, 'logged', 'x-k' => 'v')
    wait_for(calls, 'on_publish with the body and headers') { |c| c.first == :on_publish && c[2].first == 'logged' }
    receive_within(conn, 'the logged message')
    wait_for(calls, 'on_receive') { |c| c.first == :on_receive && c[2].first.body == 'logged' }
    conn.disconnect
    wait_for(calls, 'on_disconnect') { |c| c.first == :on_disconnect }
  end

  def test_positional_form
    conn = IMPL::Connection.new('guest', 'guest', '127.0.0.1', BROKERS['activemq'], false)
    (@to_close ||= []) << conn
    assert conn.open?
    assert_equal '1.0', conn.protocol
  end

  def test_empty_header_key_refused
    conn = connect('rabbitmq', '1.2')
    assert_raises(IMPL::Error::ProtocolErrorEmptyHeaderKey) { conn.publish('/queue/x', 'y', '' => 'z') }
  end

  def test_accept_version_without_host_refused
    err = assert_raises(IMPL::Error::ProtocolErrorConnect) do
      IMPL::Connection.new(params('rabbitmq', '1.0', connect_headers: { 'accept-version' => '1.1' }))
    end
    assert_kind_of IMPL::Error::ProtocolError11p, err
  end
end

# ERROR frames and what the gem's API does with them; ssl: without TLS in the library.
class TestErrors < Minitest::Test
  include StompTestHelpers

  def test_error_frame_reaches_receive
    conn = connect('rabbitmq', '1.2')
    conn.commit('no-such-transaction')
    frame = receive_within(conn, 'the ERROR for an unknown transaction')
    assert_equal 'ERROR', frame.command
    assert_match(/transaction/i, frame.headers['message'].to_s)
  end

  def test_client_raises_broker_error_in_its_thread
    client = IMPL::Client.new(params('rabbitmq', '1.2'))
    err = assert_raises(IMPL::Error::BrokerException) do
      client.commit('no-such-transaction')
      sleep WAIT # the listener thread raises into this thread when the ERROR comes; bounded
    end
    assert_match(/transaction/i, err.message.to_s)
  ensure
    client&.close rescue nil # rubocop:disable Style/RescueModifier
  end

  def test_ssl_without_tls_in_the_library
    skip 'the gem has TLS' if GEM_MODE
    skip 'this libstomp has TLS (test_tls.rb tests it)' if StompFFI::Native::TLS
    p = params('rabbitmq', '1.2')
    p[:hosts].first[:ssl] = StompFFI::SSLParams.new(ts_files: '/nonexistent/ca.pem')
    err = assert_raises(StompFFI::Error::SSLUnsupported) { StompFFI::Connection.new(p) }
    assert_match(/no TLS/, err.message)
  end

  def test_ssl_params_need_cert_and_key_together
    assert_raises(IMPL::Error::SSLClientParamsError) { IMPL::SSLParams.new(cert_file: '/c.pem') }
    assert_equal '/ca.pem', StompFFI::SSLParams.new(ts_files: '/ca.pem,/other.pem').ca_file unless GEM_MODE
  end
end

# Connecting where it cannot work: the gem's exceptions, or ours where the gem has none.
class TestConnectFailures < Minitest::Test
  include StompTestHelpers

  def dead_port
    server = TCPServer.new('127.0.0.1', 0)
    server.addr[1]
  ensure
    server&.close # nothing listens there now: connections are refused
  end

  def dead_params(extra = {})
    p = params('rabbitmq', '1.2', extra)
    p[:hosts].first[:port] = dead_port
    p
  end

  def test_unreliable_connect_to_a_dead_port
    expected = GEM_MODE ? Errno::ECONNREFUSED : IMPL::Error::ConnectFailed
    err = assert_raises(expected) { IMPL::Connection.new(dead_params) }
    assert_match(/refused/i, err.message)
  end

  def test_reliable_connect_gives_up_after_max_reconnect_attempts
    assert_raises(IMPL::Error::MaxReconnectAttempts) do
      Timeout.timeout(WAIT) do
        IMPL::Connection.new(dead_params(reliable: true, max_reconnect_attempts: 2, initial_reconnect_delay: 0.01))
      end
    end
  end

  def test_bad_login
    p = params('rabbitmq', '1.2')
    p[:hosts].first[:passcode] = 'wrong'
    if GEM_MODE
      # The gem goes on with the ERROR frame as its connection_frame.
      conn = IMPL::Connection.new(p)
      assert_equal 'ERROR', conn.connection_frame.command
    else
      err = assert_raises(IMPL::Error::ConnectRefused) { IMPL::Connection.new(p) }
      assert_match(/refused|login|access/i, err.message)
    end
  end
end
