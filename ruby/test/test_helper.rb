# frozen_string_literal: true

# Shared by the tests: which implementation runs (STOMP_IMPL=gem runs the same tests on the real
# stomp gem, to show that they describe the gem's behaviour), the brokers on loopback, and bounded
# waits with clear failure messages.
require 'minitest/autorun'
require 'timeout'
require 'socket'

if ENV['STOMP_IMPL'] == 'gem'
  require 'stomp'
  IMPL = Stomp
  GEM_MODE = true
else
  require 'stomp_ffi'
  IMPL = StompFFI
  GEM_MODE = false
end

BROKERS = {
  'rabbitmq' => Integer(ENV.fetch('STOMP_RABBITMQ_PORT', '61613')),
  'activemq' => Integer(ENV.fetch('STOMP_ACTIVEMQ_PORT', '61623'))
}.freeze
VERSIONS = %w[1.0 1.1 1.2].freeze

module StompTestHelpers
  WAIT = 10 # seconds for anything expected from a broker

  def unique(name)
    "/queue/stomp-ffi-#{name}-#{Process.pid}-#{rand(1 << 30)}"
  end

  # The stomp gem's parameters for `broker` and `version` (1.0: no accept-version/host, which is
  # how the gem is told to speak 1.0).
  def params(broker, version, extra = {})
    ch = version == '1.0' ? {} : { 'accept-version' => version, 'host' => '/' }
    ch = ch.merge(extra.delete(:connect_headers) || {})
    { hosts: [{ login: 'guest', passcode: 'guest', host: '127.0.0.1', port: BROKERS.fetch(broker) }],
      reliable: false, connect_headers: ch }.merge(extra)
  end

  def connect(broker, version, extra = {})
    conn = IMPL::Connection.new(params(broker, version, extra))
    (@to_close ||= []) << conn
    conn
  end

  def teardown
    (@to_close || []).each { |c| c.disconnect if c.open? rescue nil } # rubocop:disable Style/RescueModifier
    super
  end

  # conn.receive within `secs`, or a failure naming `what`.
  def receive_within(conn, what, secs = WAIT)
    Timeout.timeout(secs) { conn.receive }
  rescue Timeout::Error
    flunk "no frame within #{secs}s: expected #{what}"
  end

  # Subscribes and waits for the broker to confirm (a RECEIPT), so that what is sent next is seen.
  def subscribe_confirmed(conn, dest, headers = {}, sub_id = 'sub-1')
    receipt = "sub-#{rand(1 << 30)}"
    conn.subscribe(dest, headers.merge(receipt: receipt), sub_id)
    frame = receive_within(conn, "the RECEIPT of SUBSCRIBE #{dest}")
    assert_equal 'RECEIPT', frame.command, "expected the SUBSCRIBE's RECEIPT, got #{frame.command} #{frame.headers}"
    assert_equal receipt, frame.headers['receipt-id']
  end

  # Pops from `queue` until the block is true for an item, within `secs`; the item.
  def wait_for(queue, what, secs = WAIT)
    deadline = Time.now + secs
    loop do
      left = deadline - Time.now
      flunk "not seen within #{secs}s: #{what}" if left <= 0
      item = Timeout.timeout(left) { queue.pop }
      return item if yield(item)
    end
  rescue Timeout::Error
    flunk "not seen within #{secs}s: #{what}"
  end

  # Runs the assertions in the block; in gem mode a failure becomes a skip that says how the stomp
  # gem differs (from its documentation, or from what an application needs), so the gem run
  # reports the difference instead of hiding the test.
  def gem_differs(how)
    yield
  rescue Minitest::Assertion => e
    raise unless GEM_MODE

    skip "the stomp gem differs: #{how} (#{e.message.lines.map(&:strip).join(" ")})"
  end

  # Defines one test per broker and version: `name` gets "_rabbitmq_1_2" etc.
  module ClassMethods
    def each_broker_version(name, brokers: BROKERS.keys, versions: VERSIONS, &body)
      brokers.each do |broker|
        versions.each do |version|
          define_method("test_#{name}_#{broker}_#{version.tr('.', '_')}") { instance_exec(broker, version, &body) }
        end
      end
    end
  end

  def self.included(base)
    base.extend(ClassMethods)
  end
end
