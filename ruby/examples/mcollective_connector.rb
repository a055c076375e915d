#!/usr/bin/env ruby
# frozen_string_literal: true

# An MCollective-style STOMP connector on StompFFI, and a request/reply exchange through it.
#
#   ruby mcollective_connector.rb [--config client.cfg] [--set key=value ...] [--requests N]
#
# The connector is configured the MCollective way (client.cfg: plugin.stomp.host/port/user/
# password, overridden by STOMP_SERVER, STOMP_PORT, STOMP_USER, STOMP_PASSWORD; default port
# 6163; or a failover pool plugin.stomp.pool.size with pool.hostN/portN/userN/passwordN and the
# back-off settings and pool.timeout; plugin.stomp.base64 encodes bodies in base64 on the wire;
# plugin.stomp.priority adds a priority header to every message). `--set` overrides a config key.
#
# The exchange: a "server" connector subscribes to the agent's command topic and answers every
# request to the queue its reply-to header names; the client sends N requests and waits for the
# N replies. Prints one line per reply and "connector: N of N replies"; exit 0 when all came.
# This file is the example; swap StompFFI for Stomp and it runs on the stomp gem.

$LOAD_PATH.unshift(File.expand_path('../lib', __dir__)) if File.directory?(File.expand_path('../lib', __dir__))
require 'stomp_ffi'
require 'base64'
require 'optparse'
require 'timeout'

# client.cfg: "key = value" lines; '#' starts a comment.
class MCollectiveConfig
  def self.parse(path, overrides = {})
    settings = {}
    File.foreach(path) do |line|
      line = line.sub(/#.*/, '').strip
      next if line.empty?

      key, value = line.split('=', 2).map(&:strip)
      settings[key] = value if key && value
    end
    settings.merge(overrides)
  end
end

# The connector: MCollective's STOMP connection settings turned into the gem's parameters.
class StompConnector
  DEFAULT_PORT = 6163
  attr_reader :connection

  def initialize(config)
    @config = config
    @base64 = truthy(get('base64', 'false'))
    @priority = get('priority')
  end

  # The stomp gem's connection hash: a pool when plugin.stomp.pool.size is set, else one host.
  def connection_params
    pool_size = get('pool.size').to_i
    hosts = if pool_size.positive?
              (1..pool_size).map { |i| pool_host(i) }
            else
              [{ host: ENV['STOMP_SERVER'] || get('host'), port: Integer(ENV['STOMP_PORT'] || get('port', DEFAULT_PORT)),
                 login: ENV['STOMP_USER'] || get('user'), passcode: ENV['STOMP_PASSWORD'] || get('password') }]
            end
    params = { hosts: hosts, reliable: true }
    return params unless pool_size.positive?

    timeout = get('pool.timeout', '-1').to_f
    params.merge(initial_reconnect_delay: get('pool.initial_reconnect_delay', '0.01').to_f,
                 max_reconnect_delay: get('pool.max_reconnect_delay', '30.0').to_f,
                 use_exponential_back_off: truthy(get('pool.use_exponential_back_off', 'true')),
                 back_off_multiplier: get('pool.back_off_multiplier', '2').to_i,
                 max_reconnect_attempts: get('pool.max_reconnect_attempts', '0').to_i,
                 randomize: truthy(get('pool.randomize', 'false')),
                 connect_timeout: timeout.positive? ? timeout : 0)
  end

  def connect
    @connection = StompFFI::Connection.new(connection_params)
  end

  # Subscribes and waits for the broker's RECEIPT, so that nothing sent after is missed.
  def subscribe(destination, id)
    @connection.subscribe(destination, { id: id, receipt: "sub-#{id}" }, id)
    frame = @connection.receive
    raise "subscribe #{destination}: got #{frame&.command} instead of its RECEIPT" unless frame&.command == 'RECEIPT'
  end

  def publish(destination, body, headers = {})
    headers = headers.merge(priority: @priority) if @priority
    body = Base64.strict_encode64(body) if @base64
    @connection.publish(destination, body, headers)
  end

  # The next MESSAGE's [body, headers], decoded.
  def receive
    msg = @connection.receive
    body = @base64 ? Base64.strict_decode64(msg.body) : msg.body
    [body, msg.headers]
  end

  def disconnect
    @connection.disconnect
  end

  private

  def get(key, default = nil)
    @config.fetch("plugin.stomp.#{key}", default)
  end

  def truthy(value)
    %w[true yes 1].include?(value.to_s.downcase)
  end

  def pool_host(i)
    { host: get("pool.host#{i}"), port: Integer(get("pool.port#{i}", DEFAULT_PORT)),
      login: ENV['STOMP_USER'] || get("pool.user#{i}"), passcode: ENV['STOMP_PASSWORD'] || get("pool.password#{i}") }
  end
end

if $PROGRAM_NAME == __FILE__
  config_path = File.expand_path('client.cfg', __dir__)
  overrides = {}
  requests = 5
  OptionParser.new do |o|
    o.on('--config FILE') { |f| config_path = f }
    o.on('--set KEY=VALUE') { |kv| k, v = kv.split('=', 2); overrides[k] = v }
    o.on('--requests N', Integer) { |n| requests = n }
  end.parse!
  config = MCollectiveConfig.parse(config_path, overrides)
  $stdout.sync = true
  run = "#{Process.pid}-#{rand(1 << 30)}"
  agent_topic = "/topic/mcollective.rpcutil-#{run}.command"
  reply_queue = "/queue/mcollective.reply-#{run}"

  server = StompConnector.new(config)
  server.connect
  puts "connector: server connected to #{server.connection.host}:#{server.connection.port} " \
       "(STOMP #{server.connection.protocol}), base64 #{config['plugin.stomp.base64']}"
  server.subscribe(agent_topic, 'agent')
  server_thread = Thread.new do
    requests.times do
      body, headers = server.receive
      server.publish(headers['reply-to'], "reply to #{body} (priority #{headers['priority'].inspect})",
                     'request-id' => headers['request-id'])
    end
  end

  client = StompConnector.new(config)
  client.connect
  client.subscribe(reply_queue, 'replies')
  requests.times do |i|
    client.publish(agent_topic, "ping #{i} \u2713", 'reply-to' => reply_queue, 'request-id' => i.to_s)
  end
  replies = 0
  begin
    Timeout.timeout(20) do
      requests.times do
        body, headers = client.receive
        puts "reply #{headers['request-id']}: #{body.force_encoding('UTF-8')}"
        replies += 1
      end
    end
  rescue Timeout::Error
    puts 'connector: timed out waiting for replies'
  end
  server_thread.join(5)
  client.disconnect
  server.disconnect
  puts "connector: #{replies} of #{requests} replies"
  exit(replies == requests ? 0 : 1)
end
