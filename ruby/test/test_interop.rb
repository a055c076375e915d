# frozen_string_literal: true

require_relative 'test_helper'
require 'stomp'

# StompFFI and the real stomp gem talk to each other through both brokers, both ways: text,
# binary bodies with NUL and 0xFF, and (1.1+) headers that need escaping.
class TestInterop < Minitest::Test
  include StompTestHelpers

  BODIES = { 'text' => 'plain text ✓', 'binary' => "\0\xFF\x00\xFEend\0".b }.freeze
  ESCAPED = "colon:newline\nbackslash\\".freeze

  def setup
    skip 'interop compares StompFFI with the gem: nothing to compare in gem mode' if GEM_MODE
  end

  def exchange(sender_impl, receiver_impl, broker, version)
    receiver = receiver_impl::Connection.new(params(broker, version))
    sender = sender_impl::Connection.new(params(broker, version))
    (@to_close ||= []) << receiver << sender
    dest = unique("interop-#{sender_impl.name}-#{receiver_impl.name}")
    subscribe_confirmed(receiver, dest)
    headers = version == '1.0' ? { 'x-plain' => 'v' } : { 'x-escaped' => ESCAPED }
    BODIES.each_value { |body| sender.publish(dest, body, headers) }
    BODIES.each do |kind, body|
      msg = receive_within(receiver, "the #{kind} message from #{sender_impl}")
      assert_equal body.b, msg.body.b, "#{kind} body #{sender_impl} -> #{receiver_impl}"
      headers.each { |k, v| assert_equal v, msg.headers[k], "header #{k} #{sender_impl} -> #{receiver_impl}" }
    end
  end

  each_broker_version('gem_to_ffi') { |broker, version| exchange(Stomp, StompFFI, broker, version) }
  each_broker_version('ffi_to_gem') { |broker, version| exchange(StompFFI, Stomp, broker, version) }
end
