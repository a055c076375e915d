# frozen_string_literal: true

require_relative 'test_helper'

# Client's API: blocks on the listener thread, receipts, acknowledge, close and join.
class TestClient < Minitest::Test
  include StompTestHelpers

  def client(broker, version, extra = {})
    c = IMPL::Client.new(params(broker, version, extra))
    (@clients ||= []) << c
    c
  end

  def teardown
    (@clients || []).each { |c| c.close if c.open? rescue nil } # rubocop:disable Style/RescueModifier
    super
  end

  # Subscribes with a receipt and waits for it, so that later publishes reach the subscription.
  def subscribe_confirmed_client(client, dest, headers = {}, &block)
    confirmed = Thread::Queue.new
    receipt = "csub-#{rand(1 << 30)}"
    client.subscribe(dest, headers.merge(receipt: receipt), &block)
    # The RECEIPT of a SUBSCRIBE has no block of its own; a publish with a receipt block to a
    # scratch queue that follows it on the same connection confirms the subscription came first.
    client.publish(unique('scratch'), 'x') { |r| confirmed.push(r) }
    wait_for(confirmed, 'the receipt after SUBSCRIBE') { |r| r.command == 'RECEIPT' }
  end

  each_broker_version('subscribe_block_runs_on_listener_thread') do |broker, version|
    c = client(broker, version)
    got = Thread::Queue.new
    dest = unique('client')
    subscribe_confirmed_client(c, dest) { |msg| got.push([msg, Thread.current]) }
    c.publish(dest, "bin\0\xFF".b, 'x-h' => 'v')
    msg, thread = wait_for(got, 'the message in the subscribe block') { true }
    assert_equal "bin\0\xFF".b, msg.body.b
    assert_equal 'v', msg.headers['x-h']
    refute_equal Thread.current, thread, 'the block runs on the client\'s listener thread'
    assert_equal version, c.protocol
  end

  each_broker_version('publish_receipt_block') do |broker, version|
    c = client(broker, version)
    receipts = Thread::Queue.new
    c.publish(unique('receipt'), 'r') { |r| receipts.push(r) }
    r = wait_for(receipts, 'the RECEIPT in the publish block') { true }
    assert_equal 'RECEIPT', r.command
    refute_nil r.headers['receipt-id']
  end

  each_broker_version('acknowledge_client_mode') do |broker, version|
    c = client(broker, version)
    got = Thread::Queue.new
    dest = unique('cack')
    subscribe_confirmed_client(c, dest, ack: 'client-individual') do |msg|
      c.acknowledge(msg)
      got.push(msg)
    end
    c.publish(dest, 'ack me')
    assert_equal 'ack me', wait_for(got, 'the message to acknowledge') { true }.body
    c.close
    # Acked: a second client sees only the marker.
    c2 = client(broker, version)
    got2 = Thread::Queue.new
    subscribe_confirmed_client(c2, dest, ack: 'client-individual') { |msg| got2.push(msg) }
    c2.publish(dest, 'marker')
    assert_equal 'marker', wait_for(got2, 'the marker') { true }.body
  end

  each_broker_version('raising_block_does_not_stop_deliveries', brokers: ['rabbitmq']) do |broker, version|
    errors = Thread::Queue.new
    logger = Object.new
    logger.define_singleton_method(:on_miscerr) { |_params, text| errors.push(text) }
    c = client(broker, version, logger: logger)
    got = Thread::Queue.new
    dest = unique('raise')
    subscribe_confirmed_client(c, dest) do |msg|
      raise ArgumentError, 'boom from the block' if msg.body == 'first'

      got.push(msg)
    end
    c.publish(dest, 'first')
    c.publish(dest, 'second')
    if GEM_MODE
      # The gem's listener thread dies with the exception (join re-raises it): 'second' is never
      # delivered and the logger hears nothing.
      assert_raises(ArgumentError) { c.join(WAIT) }
      refute c.running, 'the stomp gem\'s listener thread ends when a block raises'
      assert got.empty?
    else
      assert_equal 'second', wait_for(got, 'the delivery after the raising block') { true }.body
      assert_match(/boom from the block/, wait_for(errors, 'the error passed to on_miscerr') { true })
    end
  end

  def test_close_ends_listener_and_join_returns
    c = client('rabbitmq', '1.2')
    assert c.open?
    c.close
    assert c.closed?
    refute_nil c.join(WAIT), "join returned nil: the listener thread still ran #{WAIT}s after close"
  end

  def test_subscribe_without_block_refused
    c = client('rabbitmq', '1.2')
    assert_raises(IMPL::Error::NoListenerGiven) { c.subscribe(unique('noblock')) }
  end

  def test_positional_form
    c = IMPL::Client.new('guest', 'guest', '127.0.0.1', BROKERS['activemq'], false)
    (@clients ||= []) << c
    assert_equal '1.0', c.protocol
  end
end
