# frozen_string_literal: true

module StompFFI
  # Stomp::Connection over libstomp: the same constructor forms, methods, arguments, defaults and
  # return values for what applications use (see the README for the list and the differences).
  #
  # Threads: every method may be called from any Ruby thread at the same time. Messages are
  # pulled from libstomp's receive queue with the GVL released while waiting; heart-beats,
  # reconnects and re-subscriptions are done by libstomp's own I/O thread, so a slow consumer never
  # costs a heart-beat.
  class Connection
    # How long one stomp_receive waits before receive looks at RECEIPT/ERROR frames again.
    RECEIVE_SLICE_MS = 50
    # How long disconnect waits for the broker's RECEIPT.
    DISCONNECT_TIMEOUT_MS = 10_000
    TEXT_PLAIN = 'text/plain; charset=UTF-8'

    attr_reader :connection_frame, :disconnect_receipt, :protocol, :session
    attr_accessor :autoflush

    def self.open(*args)
      new(*args)
    end

    def self.default_port(ssl)
      ssl ? 61_612 : 61_613
    end

    # Connection.new(hash) or Connection.new(login, passcode, host, port, reliable,
    # reconnect_delay, connect_headers); connects before it returns, as the gem does (retrying by
    # the back-off settings when reliable).
    def initialize(*args)
      @params = Params.from_args(args)
      @reliable = @params.reliable?
      @closed = true
      @protocol = SPL_10
      @subscriptions = {}
      @sub_lock = Mutex.new
      @autoflush = false
      first = @params.hosts.first
      @host = first[:host]
      @port = first[:port]
      @log = LogRouter.new(@params[:logger] || NullLogger.new, @params)
      events = @log.wants_events? ? Thread::Queue.new : nil
      opts = @params.native_options
      begin
        @handle = Handle.new(opts, events)
      ensure
        Native.stomp_options_free(opts)
      end
      ObjectSpace.define_finalizer(self, Handle.finalizer(@handle))
      @log.start(events) if events
      connect
    end

    # The host and port of the current link (or of the last one tried, while connecting).
    def host
      current_host.first
    end

    def port
      current_host.last
    end

    def open?
      !@closed
    end

    def closed?
      @closed
    end

    def set_logger(logger)
      @log.logger = logger
    end

    def publish(destination, message, headers = {})
      headers = checked(headers)
      raise Error::DestinationRequired unless destination

      body = message.to_s
      headers[:destination] = destination
      headers[:'content-length'] = body.bytesize.to_s unless headers.delete(:suppress_content_length)
      headers[:'content-type'] = TEXT_PLAIN unless headers[:'content-type'] || headers.delete(:suppress_content_type)
      @log.slog(:on_publish, message, headers)
      transmit('SEND', headers, body)
    end

    def subscribe(destination, headers = {}, sub_id = nil)
      headers = checked(headers)
      raise Error::DestinationRequired unless destination

      headers[:destination] = destination
      if @protocol >= SPL_11
        raise Error::SubscriptionRequiredError if headers[:id].nil? && sub_id.nil?

        headers[:id] = sub_id if headers[:id].nil?
      end
      @log.slog(:on_subscribe, headers)
      if @reliable
        key = sub_id || destination
        @sub_lock.synchronize do
          raise Error::DuplicateSubscription if @subscriptions[key]

          @subscriptions[key] = true
        end
      end
      transmit('SUBSCRIBE', headers)
    end

    def unsubscribe(destination, headers = {}, sub_id = nil)
      headers = checked(headers)
      raise Error::DestinationRequired unless destination

      headers[:destination] = destination
      if @protocol >= SPL_11
        raise Error::SubscriptionRequiredError if headers[:id].nil? && sub_id.nil?

        headers[:id] = sub_id unless headers[:id]
      end
      @log.slog(:on_unsubscribe, headers)
      transmit('UNSUBSCRIBE', headers)
      @sub_lock.synchronize { @subscriptions.delete(sub_id || destination) } if @reliable
      nil
    end

    # message_or_ack_id: the MESSAGE's `ack` header under 1.2, its `message-id` under 1.0/1.1
    # (where 1.1 also needs headers[:subscription]).
    def ack(message_or_ack_id, headers = {})
      headers = ack_headers(message_or_ack_id, headers)
      @log.slog(:on_ack, headers)
      transmit('ACK', headers)
    end

    def nack(message_or_ack_id, headers = {})
      raise Error::NoCurrentConnection if closed?
      raise Error::UnsupportedProtocolError if @protocol == SPL_10

      headers = ack_headers(message_or_ack_id, headers)
      @log.slog(:on_nack, headers)
      transmit('NACK', headers)
    end

    def begin(name, headers = {})
      transaction('BEGIN', :on_begin, name, headers)
    end

    def commit(name, headers = {})
      transaction('COMMIT', :on_commit, name, headers)
    end

    def abort(name, headers = {})
      transaction('ABORT', :on_abort, name, headers)
    end

    # Sends DISCONNECT and waits for its RECEIPT (libstomp always asks for one, so nothing sent
    # before is lost); `headers[:receipt]` names it and makes disconnect_receipt the RECEIPT.
    def disconnect(headers = {})
      headers = checked(headers)
      receipt = headers[:receipt]&.to_s
      @log.closing = true
      rc = @handle.use { |h| Native.stomp_disconnect(h, receipt, DISCONNECT_TIMEOUT_MS) }
      @disconnect_receipt = Message.new(CMD_RECEIPT, { 'receipt-id' => receipt }, '') if receipt && rc == Native::OK
      @closed = true
      @log.open = false
      @log.slog(:on_disconnect)
      @closed
    end

    # The next frame from the broker (a MESSAGE, or a RECEIPT or ERROR), waiting as long as it
    # takes. nil when the link ended and the connection is not reliable (as the gem).
    def receive
      raise Error::NoCurrentConnection if closed?

      msg = nil
      msg = next_frame(RECEIVE_SLICE_MS) while msg.nil? && !closed?
      @log.slog(:on_receive, msg)
      msg
    end

    # The next frame if one is waiting, nil otherwise (never waits).
    def poll
      raise Error::NoCurrentConnection if closed?

      next_frame(0)
    end

    # The negotiated heart-beat intervals in milliseconds, as floats (0 when none), as the gem.
    def hbsend_interval
      heartbeat_interval(0, 1)
    end

    def hbrecv_interval
      heartbeat_interval(1, 0)
    end

    # Heart-beats sent to and received from the broker, over every link of this connection (from
    # libstomp's counters; 0 with a library that has none), as the gem counts them.
    def hbsend_count
      counter(:heartbeats_sent)
    end

    def hbrecv_count
      counter(:heartbeats_received)
    end

    def valid_utf8?(s)
      s.encoding == Encoding::UTF_8 && s.valid_encoding?
    end

    def uuid
      SecureRandom.uuid
    end

    def sha1(data)
      Digest::SHA1.hexdigest(data)
    end

    # For the logger (the gem's log_params).
    def log_params
      @log.log_params
    end

    # For Client (the gem's Connection#slog).
    def slog(name, *parms)
      @log.slog(name, *parms)
    end

    private

    def connect
      login = @params.hosts.first[:login].to_s
      login = nil if login.empty?
      passcode = login && @params.hosts.first[:passcode].to_s
      array, count, = Native::Scratch.current.frame_memory(@params.extra_connect_headers.flatten, '')
      rc = @handle.use { |h| Native.stomp_connect(h, login, passcode, array, count, true) }
      raise_connect_failure(rc) unless rc == Native::OK

      # on_connected (which says which host) runs on libstomp's dispatch thread, maybe after this.
      @handle.wait_connected(1, 5)
      @closed = false
      @log.open = true
      read_connected_frame
    end

    def current_host
      @handle.connected_host || @handle.current_host || [@host, @port]
    end

    def raise_connect_failure(rc)
      detail = Native.describe(rc)
      @log.slog(:on_connectfail) unless @log.wants_events?
      @handle.free
      case rc
      when 7 then raise Error::ConnectRefused, detail
      when 6
        raise Error::MaxReconnectAttempts, detail if @reliable && @params[:max_reconnect_attempts].to_i.positive?

        raise Error::ConnectFailed, detail
      else raise Error.library_error(rc, "connect: #{detail}")
      end
    end

    def read_connected_frame
      vp = FFI::MemoryPointer.new(:int)
      fp = FFI::MemoryPointer.new(:pointer)
      @handle.use do |h|
        @protocol = Native::VERSIONS.key(vp.read_int) if Native.stomp_connection_version(h, vp) == Native::OK
        @handle.protocol = @protocol
        if Native.stomp_connected_frame(h, fp) == Native::OK
          frame = fp.read_pointer
          begin
            @connection_frame = Message.from_frame(frame, @protocol)
          ensure
            Native.stomp_frame_free(frame)
          end
        end
      end
      @session = @connection_frame&.headers&.[]('session')
    end

    # The gem's checks common to every frame, and its headers as a new Hash with Symbol keys.
    def checked(headers)
      raise Error::NoCurrentConnection if closed?
      raise Error::ProtocolErrorEmptyHeaderKey if headers.key?('') || headers.key?(:'')
      raise Error::ProtocolErrorEmptyHeaderValue if @protocol == SPL_10 && headers.value?('')

      headers.each_with_object({}) { |(k, v), out| out[k.to_sym] = v }
    end

    def ack_headers(id, headers)
      headers = checked(headers)
      raise Error::MessageIDRequiredError if id.nil? || id == ''

      case @protocol
      when SPL_12 then headers[:id] = id
      when SPL_11
        headers[:'message-id'] = id
        raise Error::SubscriptionRequiredError unless headers[:subscription]
      else headers[:'message-id'] = id
      end
      headers
    end

    def transaction(command, log_name, name, headers)
      headers = checked(headers)
      headers[:transaction] = name
      @log.slog(log_name, headers)
      transmit(command, headers)
    end

    # Sends a frame through stomp_send_frame (libstomp escapes headers for the version, tracks
    # subscriptions, transactions and receipts, and holds frames through a reconnect).
    def transmit(command, headers, body = '')
      flat = []
      headers.each do |k, v|
        name = k.is_a?(Symbol) ? k.name : k.to_s
        if v.is_a?(Array)
          v.each { |e| flat << name << e.to_s }
        else
          flat << name << v.to_s
        end
      end
      array, count, body_ptr = Native::Scratch.current.frame_memory(flat, body)
      rc = @handle.use { |h| Native.stomp_send_frame(h, command, array, count, body_ptr, body.bytesize) }
      raise_send_failure(command, rc) unless rc == Native::OK

      nil
    rescue Handle::Closed
      raise Error::NoCurrentConnection
    end

    def raise_send_failure(command, rc)
      detail = Native.describe(rc)
      raise Error::UnsupportedProtocolError, detail if rc == 11
      raise Error::NoCurrentConnection, detail if rc == 3 && !@reliable

      raise Error::LibraryError.new(rc, "#{command}: #{detail}")
    end

    # A RECEIPT/ERROR kept by the listener, else a MESSAGE from the receive queue within
    # `timeout_ms`; nil if none. Marks the connection closed when libstomp says it ended.
    def next_frame(timeout_ms)
      kept = @handle.frames.pop(true) unless @handle.frames.empty?
      return kept if kept

      fp = Native::Scratch.current.frame
      rc = @handle.use do |h|
        rc = Native.stomp_receive_ready(h, 0, fp)
        rc == Native::ERR_TIMEOUT && timeout_ms.positive? ? Native.stomp_receive(h, timeout_ms, fp) : rc
      end
      case rc
      when Native::OK
        frame = fp.read_pointer
        begin
          Message.from_frame(frame, @protocol)
        ensure
          Native.stomp_frame_free(frame)
        end
      when Native::ERR_TIMEOUT then nil
      when Native::ERR_CLOSED then link_ended
      else raise Error::LibraryError.new(rc, "receive: #{Native.describe(rc)}")
      end
    rescue Handle::Closed
      @closed = true
      nil
    end

    def link_ended
      kept = @handle.frames.pop(true) unless @handle.frames.empty?
      return kept if kept

      @closed = true
      @log.open = false
      raise Error::MaxReconnectAttempts if @reliable

      warn 'warning: broker sent EOF, and connection not reliable' unless defined?(Test) # as the gem
      nil
    end

    def counter(name)
      return 0 unless Native::STATS

      stats = Native::Stats.new
      stats[:size] = Native::Stats.size
      rc = @handle.use { |h| Native.stomp_stats_get(h, stats) }
      rc == Native::OK ? stats[name] : 0
    rescue Handle::Closed
      0
    end

    def heartbeat_interval(mine, theirs)
      return 0 if @protocol == SPL_10 || @connection_frame.nil?

      ours = @params.heartbeats[mine]
      server = @connection_frame.headers['heart-beat'].to_s.split(',').map(&:to_i)[theirs].to_i
      ours.zero? || server.zero? ? 0 : [ours, server].max.to_f
    end
  end
end
