# frozen_string_literal: true

require_relative 'test_helper'
require_relative 'fault_proxy_fixture'

# Reliability: a reliable connection reconnects when its link is dropped (through the fault proxy
# fixture) and its subscription comes back; heart-beats go on while a Client block is busy.
class TestReliability < Minitest::Test
  include StompTestHelpers

  # A logger that records link events on a queue.
  def recording_logger(events)
    logger = Object.new
    %i[on_connecting on_connected on_connectfail on_hbread_fail on_miscerr].each do |m|
      logger.define_singleton_method(m) { |_params, *rest| events.push([m, rest]) }
    end
    logger
  end

  def setup
    @proxy = FaultProxyFixture.new(BROKERS['rabbitmq'])
  end

  def teardown
    super
    @proxy&.close
  end

  VERSIONS.each do |version|
    define_method("test_reliable_reconnects_and_resubscribes_#{version.tr('.', '_')}") do
      events = Thread::Queue.new
      p = params('rabbitmq', version, reliable: true, initial_reconnect_delay: 0.05, logger: recording_logger(events))
      p[:hosts].first[:port] = @proxy.port
      conn = IMPL::Connection.new(p)
      (@to_close ||= []) << conn
      dest = unique('reliable')
      subscribe_confirmed(conn, dest)
      conn.publish(dest, 'before')
      assert_equal 'before', receive_within(conn, 'the message before the drop').body
      wait_for(events, 'the first on_connected') { |e| e.first == :on_connected }

      @proxy.drop_links
      gem_differs('it reconnects only when the application next reads or writes, where libstomp ' \
                  'reconnects as soon as the link drops') do
        wait_for(events, 'on_connected after the link was dropped', GEM_MODE ? 3 : WAIT) { |e| e.first == :on_connected }
      end
      assert_operator @proxy.accepted, :>=, 2, 'the proxy saw a second connection'
      assert conn.open?
      # Sent on the new link: it reaches us only through the restored subscription. Both libstomp
      # and the gem re-send the SUBSCRIBE as it was, receipt header included: its second RECEIPT
      # may come first.
      conn.publish(dest, 'after')
      frames = []
      until frames.last&.command == 'MESSAGE' || frames.size > 3
        frames << receive_within(conn, 'the message sent after the reconnect (subscription restored)')
      end
      assert_equal 'after', frames.last.body, "frames: #{frames.map { |f| [f.command, f.headers] }}"
      assert frames[0...-1].all? { |f| f.command == 'RECEIPT' }, "only the re-sent SUBSCRIBE's RECEIPT before it"
    end
  end

  def test_slow_block_costs_no_heartbeat
    events = Thread::Queue.new
    client = IMPL::Client.new(params('rabbitmq', '1.2', connect_headers: { 'heart-beat' => '1000,1000' },
                                                          reliable: true, logger: recording_logger(events)))
    dest = unique('slowblock')
    got = Thread::Queue.new
    client.subscribe(dest, id: 'slow') do |msg|
      sleep 5 if msg.body == 'slow' # the handler is busy: heart-beats must go on without it
      got.push(msg.body)
    end
    begin
      client.publish(dest, 'slow')
      client.publish(dest, 'next')
      assert_equal 'slow', wait_for(got, 'the slow message', 15) { true }
      assert_equal 'next', wait_for(got, 'the message after the slow block') { true }
      seen = []
      seen << events.pop until events.empty?
      connects = seen.count { |e| e.first == :on_connected }
      assert_equal 1, connects, "reconnected during the slow block: #{seen.inspect}"
      gem_differs('now and then its heart-beat reader finds the read lock taken by the listener and ' \
                  'logs on_hbread_fail (lock_fail), though the link stays up') do
        assert_empty seen.select { |e| %i[on_hbread_fail on_miscerr].include?(e.first) }, 'no heart-beat lost'
      end
      assert_equal 1000.0, client.hbsend_interval
    ensure
      client.close # also when an assertion failed: a reliable client left open keeps its threads
    end
  end

  def test_connect_failure_logged_then_next_host
    events = Thread::Queue.new
    dead = TCPServer.new('127.0.0.1', 0)
    dead_port = dead.addr[1]
    dead.close # nothing listens there now: connections are refused
    p = params('rabbitmq', '1.2', reliable: true, initial_reconnect_delay: 0.05, logger: recording_logger(events))
    p[:hosts].unshift(p[:hosts].first.merge(port: dead_port))
    conn = IMPL::Connection.new(p)
    (@to_close ||= []) << conn
    wait_for(events, 'on_connectfail for the dead first host') { |e| e.first == :on_connectfail }
    wait_for(events, 'on_connected to the second host') { |e| e.first == :on_connected }
    assert_equal BROKERS['rabbitmq'], conn.port
  end

  def test_heartbeats_logged_and_silence_detected
    events = Thread::Queue.new
    logger = recording_logger(events)
    logger.define_singleton_method(:on_hbfire) { |_params, *rest| events.push([:on_hbfire, rest]) }
    p = params('rabbitmq', '1.2', reliable: true, initial_reconnect_delay: 0.05, logger: logger,
                                  connect_headers: { 'heart-beat' => '1000,1000' })
    p[:hosts].first[:port] = @proxy.port
    conn = IMPL::Connection.new(p)
    (@to_close ||= []) << conn
    wait_for(events, 'on_hbfire while heart-beats flow') { |e| e.first == :on_hbfire }
    @proxy.stall_links
    wait_for(events, 'on_hbread_fail once the broker falls silent') { |e| e.first == :on_hbread_fail }
    gem_differs('with max_hbread_fails 0 (its default) it never reconnects on heart-beat silence') do
      wait_for(events, 'on_connected again after the silent link was given up', GEM_MODE ? 3 : WAIT) do |e|
        e.first == :on_connected
      end
      assert_operator @proxy.accepted, :>=, 2
    end
  end
end

