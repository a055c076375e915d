# frozen_string_literal: true

require_relative 'test_helper'
require 'open3'
require 'rbconfig'
require 'base64'

# examples/mcollective_connector.rb: its configuration rules, what it puts on the wire, and the
# whole request/reply run against RabbitMQ with a pool whose first host is down.
class TestConnector < Minitest::Test
  include StompTestHelpers

  EXAMPLE = File.expand_path('../examples/mcollective_connector.rb', __dir__)
  CONFIG = File.expand_path('../examples/client.cfg', __dir__)

  def setup
    skip 'the connector example is written for StompFFI' if GEM_MODE
    require EXAMPLE
  end

  def with_env(vars)
    old = vars.keys.to_h { |k| [k, ENV[k]] }
    vars.each { |k, v| ENV[k] = v }
    yield
  ensure
    old.each { |k, v| ENV[k] = v }
  end

  def test_single_host_default_port_and_environment_overrides
    config = { 'plugin.stomp.host' => 'stomp.example', 'plugin.stomp.user' => 'me', 'plugin.stomp.password' => 's' }
    with_env('STOMP_SERVER' => nil, 'STOMP_PORT' => nil, 'STOMP_USER' => nil, 'STOMP_PASSWORD' => nil) do
      host = StompConnector.new(config).connection_params[:hosts].first
      assert_equal({ host: 'stomp.example', port: 6163, login: 'me', passcode: 's' }, host)
    end
    with_env('STOMP_SERVER' => '127.0.0.1', 'STOMP_PORT' => '61613', 'STOMP_USER' => 'guest', 'STOMP_PASSWORD' => 'pw') do
      host = StompConnector.new(config).connection_params[:hosts].first
      assert_equal({ host: '127.0.0.1', port: 61_613, login: 'guest', passcode: 'pw' }, host)
    end
  end

  def test_pool_settings_from_client_cfg
    params = with_env('STOMP_USER' => nil, 'STOMP_PASSWORD' => nil) do
      StompConnector.new(MCollectiveConfig.parse(CONFIG)).connection_params
    end
    assert_equal [['127.0.0.1', 6163, 'guest'], ['127.0.0.1', 61_613, 'guest']],
                 params[:hosts].map { |h| [h[:host], h[:port], h[:login]] }
    assert_equal 0.01, params[:initial_reconnect_delay]
    assert_equal 2, params[:back_off_multiplier]
    assert_equal 0, params[:max_reconnect_attempts]
    assert_equal 0, params[:connect_timeout], 'pool.timeout -1: no connect timeout'
    assert params[:reliable]
  end

  [true, false].each do |b64|
    define_method("test_wire_format_base64_#{b64}") do
      config = MCollectiveConfig.parse(CONFIG, 'plugin.stomp.base64' => b64.to_s)
      connector = StompConnector.new(config)
      with_env('STOMP_USER' => nil, 'STOMP_PASSWORD' => nil) { connector.connect }
      plain = connect('rabbitmq', '1.0')
      dest = unique('connector-wire')
      subscribe_confirmed(plain, dest)
      body = "request \0\xFF".b
      connector.publish(dest, body)
      msg = receive_within(plain, 'the connector\'s message')
      assert_equal b64 ? Base64.strict_encode64(body) : body, msg.body.b
      assert_equal '4', msg.headers['priority'], 'plugin.stomp.priority on every message'
      connector.disconnect
    end
  end

  [true, false].each do |b64|
    define_method("test_request_reply_run_base64_#{b64}") do
      out, status = Timeout.timeout(60) do
        Open3.capture2e({ 'STOMP_USER' => nil, 'STOMP_PASSWORD' => nil }, RbConfig.ruby, EXAMPLE,
                        '--set', "plugin.stomp.base64=#{b64}", '--requests', '5')
      end
      assert status.success?, out
      assert_match(/connected to 127\.0\.0\.1:61613/, out, 'failed over from the first pool host (port 6163, down)')
      assert_match(/connector: 5 of 5 replies/, out)
    end
  end
end
