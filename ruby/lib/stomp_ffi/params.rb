# frozen_string_literal: true

module StompFFI
  # The stomp gem's connection parameters (the hash form, or the positional one) with the gem's
  # defaults, checked as the gem checks them, and their translation into libstomp options.
  class Params
    DEFAULTS = {
      connect_headers: {},
      reliable: true,
      initial_reconnect_delay: 0.01,
      max_reconnect_delay: 30.0,
      use_exponential_back_off: true,
      back_off_multiplier: 2,
      max_reconnect_attempts: 0,
      randomize: false,
      connect_timeout: 0,
      parse_timeout: 5,
      stompconn: false,
      tcp_nodelay: true,
      logger: nil
    }.freeze

    # Messages the receive queue holds before libstomp stops reading the socket.
    RECEIVE_QUEUE = 1024

    attr_reader :hash, :version, :vhost, :heartbeats, :extra_connect_headers

    # The parameters as Connection.new receives them (a Hash, or login, passcode, host, port,
    # reliable, reconnect_delay, connect_headers).
    def self.from_args(args)
      return new(args.first) if args.first.is_a?(Hash)

      login, passcode, host, port, reliable, reconnect_delay, connect_headers = args
      new(hosts: [{ login: login || '', passcode: passcode || '', host: host || 'localhost',
                    port: port || 61_613 }],
          reliable: reliable || false, initial_reconnect_delay: reconnect_delay || 5,
          use_exponential_back_off: false, connect_headers: connect_headers || {})
    end

    def initialize(given)
      @hash = DEFAULTS.merge(symbolize(given))
      hosts = @hash[:hosts] || @hash[:hosts.to_s]
      raise ArgumentError, 'missing :hosts parameter' unless hosts.is_a?(Array) && !hosts.empty?

      @hash[:hosts] = hosts.map { |h| symbolize(h) }
      @hash[:hosts].each do |h|
        h[:ssl] = SSLParams.new if h[:ssl] == true
        port = h[:port].to_i
        raise ArgumentError, "invalid :port value=#{port} from #{h.inspect}" if h[:port] && !port.between?(1, 65_535)
      end
      parse_connect_headers(symbolize(@hash[:connect_headers] || {}))
    end

    def [](key)
      @hash[key]
    end

    def hosts
      @hash[:hosts]
    end

    # The gem's rule: 1.1+ only with both accept-version and host; the highest version offered.
    def parse_connect_headers(ch)
      if ch[:'accept-version'].nil? != ch[:host].nil?
        raise Error::ProtocolErrorConnect
      end

      @version = SPL_10
      if ch[:'accept-version']
        offered = ch[:'accept-version'].to_s.split(',').map(&:strip) & SUPPORTED
        raise Error::UnsupportedProtocolError if offered.empty?

        @version = offered.max
        @vhost = ch[:host].to_s
      end
      @heartbeats = parse_heartbeat(ch[:'heart-beat'])
      @extra_connect_headers = ch.reject { |k, _| %i[accept-version host heart-beat login passcode].include?(k) }
                                 .map { |k, v| [k.to_s, v.to_s] }
    end

    # A new stomp_options pointer with everything set (the caller frees it).
    def native_options
      opts = Native.stomp_options_new
      begin
        add_hosts(opts)
        set(opts, :stomp_options_set_version, Native::VERSIONS.fetch(@version))
        set(opts, :stomp_options_set_vhost, @vhost) if @vhost
        set(opts, :stomp_options_set_heartbeats, *@heartbeats)
        set(opts, :stomp_options_set_receive_queue, RECEIVE_QUEUE)
        # The gem writes content-length itself (unless :suppress_content_length): so does Connection.
        set(opts, :stomp_options_set_auto_content_length, false)
        set(opts, :stomp_options_set_stomp_command, true) if @hash[:stompconn] && @version != SPL_10
        set(opts, :stomp_options_set_tcp_nodelay, @hash[:tcp_nodelay] ? true : false)
        set(opts, :stomp_options_set_auto_reconnect, reliable?)
        set(opts, :stomp_options_set_randomize_hosts, @hash[:randomize] ? true : false)
        set(opts, :stomp_options_set_reconnect, *reconnect_policy)
        timeout_s = @hash[:connect_timeout].to_f
        set(opts, :stomp_options_set_connect_timeout, (timeout_s * 1000).round) if timeout_s.positive?
        parse_s = @hash[:parse_timeout].to_f
        set(opts, :stomp_options_set_frame_timeouts, (parse_s * 1000).round, 0) if parse_s.positive?
        opts
      rescue StandardError
        Native.stomp_options_free(opts)
        raise
      end
    end

    def reliable?
      @hash[:reliable] ? true : false
    end

    # The gem's back-off in libstomp's terms (see stomp_options_set_reconnect in stomp.h). One pass
    # through the hosts unless reliable; max_reconnect_attempts n is n + 1 passes, 0 forever.
    def reconnect_policy
      increase = @hash[:use_exponential_back_off] ? @hash[:back_off_multiplier].to_f - 1 : 0.0
      max = @hash[:max_reconnect_attempts].to_i
      passes = if !reliable? then 1
               elsif max.zero? then -1
               else max + 1
               end
      [@hash[:initial_reconnect_delay].to_f, [increase, 0.0].max, 0.0,
       [@hash[:max_reconnect_delay].to_f, @hash[:initial_reconnect_delay].to_f].max, passes]
    end

    private

    def symbolize(h)
      h.each_with_object({}) { |(k, v), out| out[k.to_sym] = v }
    end

    def parse_heartbeat(value)
      return [0, 0] if value.nil?

      parts = value.to_s.split(',')
      unless parts.size == 2 && parts.all? { |p| p == p.to_i.to_s && p.to_i >= 0 }
        raise Error::InvalidHeartBeatHeaderError
      end

      parts.map(&:to_i)
    end

    def add_hosts(opts)
      hosts.each do |h|
        ssl = h[:ssl]
        port = (h[:port] || (ssl ? 61_612 : 61_613)).to_i
        if ssl
          raise Error::SSLUnsupported unless Native::TLS

          set(opts, :stomp_options_add_host_tls, h[:host].to_s, port, ssl.ca_file, ssl.cert_file, ssl.key_file)
        else
          login = h[:login].to_s.empty? ? nil : h[:login].to_s
          set(opts, :stomp_options_add_host_login, h[:host].to_s, port, login, login && h[:passcode].to_s)
        end
      end
    end

    def set(opts, function, *args)
      rc = Native.public_send(function, opts, *args)
      return if rc == Native::OK

      text = "#{function}(#{args.map(&:inspect).join(', ')}): #{Native.describe(rc)}"
      raise Error::TLSError.new(rc, text) if Error::TLSError::CODES.cover?(rc)

      raise ArgumentError, text
    end
  end
end
