# frozen_string_literal: true

module StompFFI
  # Calls the application's logger as the stomp gem does: `logger.on_xxx(log_params, ...)` when
  # the logger responds to it. Calls made by API methods run inline on the caller's thread; link
  # events from libstomp (connecting, connected, connect failures, heart-beat read failures, lost
  # links) are taken from a queue by a thread of this router, so the logger never runs on one of
  # libstomp's threads. The router knows nothing of the Connection (a finalizer must be able to
  # reclaim a Connection whose router thread still runs).
  class LogRouter
    # Logger methods fed by link events, in the gem's names.
    EVENT_METHODS = %i[on_connecting on_connected on_connectfail on_hbread_fail on_hbfire on_miscerr].freeze

    attr_accessor :closing, :open

    def initialize(logger, params)
      @logger = logger
      @params = params
      first = params.hosts.first
      @host = first[:host]
      @port = first[:port]
      @login = first[:login]
      @attempts = 0
      @hbread_fails = 0
      @open = false
      @closing = false
      @failure = nil
    end

    attr_writer :logger

    # Whether link events need a queue and a thread.
    def wants_events?
      return false if @logger.instance_of?(NullLogger) # it only prints API errors

      EVENT_METHODS.any? { |m| @logger.respond_to?(m) }
    end

    # Calls logger.name(log_params, *args); true if the logger has it. An exception raised by the
    # logger is reported on standard error and does not reach the caller.
    def slog(name, *args)
      return false unless @logger.respond_to?(name)

      @logger.public_send(name, log_params, *args)
      true
    rescue StandardError => e
      warn "stomp_ffi: logger #{name} raised #{e.class}: #{e.message}"
      true
    end

    # The gem's log_params: the parameters and the current link's state.
    def log_params
      p = @params.hash.dup
      p[:cur_host] = @host
      p[:cur_port] = @port
      p[:cur_login] = @login
      p[:cur_passcode] = '******'
      p[:cur_ssl] = false
      p[:cur_recondelay] = @params[:initial_reconnect_delay]
      p[:cur_parseto] = @params[:parse_timeout]
      p[:cur_conattempts] = @attempts
      p[:cur_failure] = @failure
      p[:openstat] = @open
      p
    end

    # Starts the thread that routes the events pushed on `events` until [:stop].
    def start(events)
      @thread = Thread.new do
        Thread.current.report_on_exception = false
        while (event = events.pop)
          break if event.first == :stop

          route(*event)
        end
      end
    end

    private

    def route(kind, *args)
      case kind
      when :connecting
        connect_failed if @pending
        @host, @port = args
        @pending = true
        slog(:on_connecting)
      when :connected
        @pending = false
        @attempts = 0
        @open = true
        @failure = nil
        slog(:on_connected)
      when :disconnected
        connect_failed if @pending
        @open = false
        slog(:on_miscerr, "link to #{@host}:#{@port} lost") unless @closing
      when :heartbeat_timeout
        @hbread_fails += 1
        slog(:on_hbread_fail, { 'ticker_interval' => @params.heartbeats[1] / 1000.0, 'read_fail_count' => @hbread_fails,
                                'lock_fail' => false, 'lock_fail_count' => 0 })
      when :heartbeat
        slog(:on_hbfire, 'receive_heartbeat', { curt: Time.now.to_f })
      when :ended
        connect_failed if @pending
      when :callback_error
        slog(:on_miscerr, "stomp_ffi: #{args.first.class}: #{args.first.message}")
      end
    end

    def connect_failed
      @pending = false
      @attempts += 1
      @failure = "connect to #{@host}:#{@port} failed"
      slog(:on_connectfail)
    end
  end
end
