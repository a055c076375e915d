# frozen_string_literal: true

require 'socket'

# A test fixture, not a broker: a TCP proxy on 127.0.0.1 (a port the kernel picks) in front of a
# real broker, which drops every link it carries when told to (#drop_links), or stops passing on
# what the broker sends on them (#stall_links: the client hears silence, heart-beats included),
# so that reconnects can be tested without stopping the broker other tests share.
class FaultProxyFixture
  attr_reader :port

  def initialize(target_port, target_host = '127.0.0.1')
    @target = [target_host, target_port]
    @server = TCPServer.new('127.0.0.1', 0)
    @port = @server.addr[1]
    @lock = Mutex.new
    @links = []
    @stalled = {}
    @accepted = 0
    @accept_thread = Thread.new { accept_loop }
    @accept_thread.report_on_exception = false
  end

  # How many client connections were accepted so far.
  def accepted
    @lock.synchronize { @accepted }
  end

  # Closes every link in both directions (the client sees the connection reset).
  def drop_links
    @lock.synchronize do
      @links.each { |pair| pair.each { |s| s.close rescue nil } } # rubocop:disable Style/RescueModifier
      @links.clear
    end
  end

  # From now on, bytes from the broker on the current links are read and thrown away.
  def stall_links
    @lock.synchronize { @links.each { |_client, upstream| @stalled[upstream] = true } }
  end

  def close
    @accept_thread.kill
    @server.close rescue nil # rubocop:disable Style/RescueModifier
    drop_links
  end

  private

  def accept_loop
    loop do
      client = @server.accept
      upstream = TCPSocket.new(*@target)
      @lock.synchronize do
        @accepted += 1
        @links << [client, upstream]
      end
      pump(client, upstream)
      pump(upstream, client)
    end
  end

  def pump(from, to)
    t = Thread.new do
      loop do
        data = from.readpartial(65_536)
        to.write(data) unless @lock.synchronize { @stalled[from] }
      end
    rescue IOError, SystemCallError
      from.close rescue nil # rubocop:disable Style/RescueModifier
      to.close rescue nil # rubocop:disable Style/RescueModifier
    end
    t.report_on_exception = false
  end
end
