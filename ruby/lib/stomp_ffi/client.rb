# frozen_string_literal: true

module StompFFI
  # Stomp::Client over libstomp: a Connection and a listener thread of the client that receives
  # frames and runs the blocks given to subscribe (MESSAGE) and to publish/ack (RECEIPT).
  #
  # A block that raises does not end the listener thread (the gem's would die silently): the
  # error is printed to standard error and passed to the logger's on_miscerr, and the next
  # deliveries go on. An ERROR frame from the broker is raised in the thread that made the
  # client, as the gem does (BrokerException, ProducerFlowControlException, ProtocolException).
  class Client
    attr_reader :parameters

    def self.open(*args)
      new(*args)
    end

    # Client.new(hash) or Client.new(login, passcode, host, port, reliable); a hash is reliable
    # unless it says `reliable: false`, as in the gem.
    def initialize(login = '', passcode = '', host = 'localhost', port = 61_613, reliable = false)
      @parameters = if login.is_a?(Hash)
                      login.merge(reliable: login[:reliable] != false)
                    else
                      { reliable: reliable, hosts: [{ login: login, passcode: passcode, host: host, port: port.to_i }] }
                    end
      @main_thread = Thread.current
      @listeners = {}
      @receipt_listeners = {}
      @lock = Mutex.new
      @connection = Connection.new(@parameters)
      start_listener
    end

    def subscribe(destination, headers = {}, &block)
      raise Error::NoListenerGiven unless block
      raise Error::DestinationRequired unless destination

      headers = symbolized(headers)
      headers[:id] = subscription_id(destination, headers)
      @lock.synchronize do
        raise Error::DuplicateSubscription if @listeners[headers[:id]]

        @listeners[headers[:id]] = block
      end
      @connection.subscribe(destination, headers)
    end

    def unsubscribe(destination, headers = {})
      raise Error::DestinationRequired unless destination

      headers = symbolized(headers)
      headers[:id] = subscription_id(destination, headers)
      @connection.unsubscribe(destination, headers)
      @lock.synchronize { @listeners.delete(headers[:id]) }
      nil
    end

    def publish(destination, message, headers = {}, &block)
      raise Error::DestinationRequired unless destination

      headers = symbolized(headers)
      headers[:receipt] = register_receipt_listener(block) if block
      @connection.publish(destination, message, headers)
    end

    def ack(message, headers = {}, &block)
      headers = symbolized(headers)
      headers[:receipt] = register_receipt_listener(block) if block
      id, headers = ack_context(message, headers)
      @connection.ack(id, headers)
    end
    alias acknowledge ack

    def nack(message, headers = {})
      id, headers = ack_context(message, symbolized(headers))
      @connection.nack(id, headers)
    end

    def begin(name, headers = {})
      @connection.begin(name, headers)
    end

    def commit(name, headers = {})
      @connection.commit(name, headers)
    end

    def abort(name, headers = {})
      @connection.abort(name, headers)
    end

    # Stops the listener thread (after the block it runs, if any) and disconnects.
    def close(headers = {})
      @closing = true
      result = @connection.disconnect(headers)
      @listener_thread.join unless Thread.current == @listener_thread
      result
    end

    # Waits for the listener thread (which ends when the client is closed or the link is gone).
    def join(limit = nil)
      @listener_thread.join(limit)
    end

    def running
      @listener_thread&.alive? ? true : false
    end

    def open?
      @connection.open?
    end

    def closed?
      @connection.closed?
    end

    def connection_frame
      @connection.connection_frame
    end

    def disconnect_receipt
      @connection.disconnect_receipt
    end

    def protocol
      @connection.protocol
    end

    def hbsend_interval
      @connection.hbsend_interval
    end

    def hbsend_count
      @connection.hbsend_count
    end

    def hbrecv_count
      @connection.hbrecv_count
    end

    def hbrecv_interval
      @connection.hbrecv_interval
    end

    def poll
      @connection.poll
    end

    def set_logger(logger)
      @parameters[:logger] = logger
      @connection.set_logger(logger)
    end

    def uuid
      @connection.uuid
    end

    private

    def symbolized(headers)
      headers.each_with_object({}) { |(k, v), out| out[k.to_sym] = v }
    end

    def subscription_id(destination, headers)
      headers[:id] || Digest::SHA1.hexdigest(destination)
    end

    def ack_context(message, headers)
      case protocol
      when SPL_12 then [message.headers['ack'], headers]
      when SPL_11 then [message.headers['message-id'], headers.merge(subscription: message.headers['subscription'])]
      else [message.headers['message-id'], headers]
      end
    end

    def register_receipt_listener(block)
      id = uuid
      @lock.synchronize { @receipt_listeners[id] = block }
      id
    end

    def start_listener
      @listener_thread = Thread.new do
        Thread.current.report_on_exception = false
        loop do
          message = begin
            @connection.receive
          rescue Error::NoCurrentConnection, Error::MaxReconnectAttempts
            nil
          end
          break if message.nil?

          dispatch(message)
        end
      end
    end

    def dispatch(message)
      case message.command
      when CMD_MESSAGE
        block = @lock.synchronize { @listeners[message.headers['subscription']] }
        run_block(block, message)
      when CMD_RECEIPT
        block = @lock.synchronize { @receipt_listeners.delete(message.headers['receipt-id']) }
        run_block(block, message)
      when CMD_ERROR
        @main_thread.raise(broker_exception(message)) if @main_thread.alive?
      end
    end

    def run_block(block, message)
      block&.call(message)
    rescue StandardError => e
      text = "stomp_ffi: a listener block raised #{e.class}: #{e.message} (#{e.backtrace&.first})"
      warn text
      @connection.slog(:on_miscerr, text)
    end

    def broker_exception(error)
      case error.body
      when /ResourceAllocationException/i then Error::ProducerFlowControlException.new(error)
      when /ProtocolException/i then Error::ProtocolException.new(error)
      else Error::BrokerException.new(error)
      end
    end
  end
end
