# frozen_string_literal: true

module StompFFI
  # The stomp gem's exceptions, same names and messages, plus the few this gem adds where the
  # library reports a failure the gem never saw (each named for what happened).
  module Error
    # Declares `name` < `parent` whose message is `text` (when the raiser gives none).
    def self.define(name, text, parent = RuntimeError)
      klass = Class.new(parent) do
        define_method(:message) { (m = super()) == self.class.name ? text : m }
      end
      const_set(name, klass)
    end

    define :NoListenerGiven, 'No listener given'
    define :DestinationRequired, 'Destination required'
    define :InvalidFormat, 'Invalid message - invalid format'
    define :InvalidMessageLength, 'Invalid content length received'
    define :NoCurrentConnection, 'no current connection exists'
    define :MaxReconnectAttempts, 'Maximum number of reconnection attempts reached'
    define :DuplicateSubscription, 'duplicate subscriptions are disallowed'
    define :ProtocolErrorEmptyHeaderKey, 'Empty header key'
    define :ProtocolErrorEmptyHeaderValue, 'Empty header value, STOMP 1.0'
    define :ProtocolError11p, 'STOMP 1.1+ CONNECT error'
    define :ProtocolErrorConnect, 'protocol error on CONNECT', ProtocolError11p
    define :UnsupportedProtocolError, 'unsupported protocol level(s)', ProtocolError11p
    define :InvalidHeartBeatHeaderError, 'heart-beat header value is malformed', ProtocolError11p
    define :SubscriptionRequiredError, 'a valid subscription id header is required'
    define :MessageIDRequiredError, 'a valid message id is required for ACK/NACK'
    define :SSLClientParamsError, 'certificate and key files are both required'
    define :SSLNoKeyFileError, 'client key file does not exist'
    define :SSLNoCertFileError, 'client cert file does not exist'
    define :SSLNoTruststoreFileError, 'a client truststore file does not exist'
    define :NilMessageError, 'received message is nil, and connection not reliable'

    class StompException < RuntimeError; end

    # An ERROR frame from the broker, raised in the thread that made the Client (as the gem does).
    class BrokerException < StompException
      attr_reader :headers, :message, :receipt_id, :broker_backtrace

      def initialize(error_frame)
        super(error_frame.headers['message'])
        @message = error_frame.headers['message']
        @headers = error_frame.headers
        @receipt_id = error_frame.headers['receipt-id']
        @broker_backtrace = error_frame.body
      end
    end

    class ProducerFlowControlException < BrokerException; end
    class ProtocolException < BrokerException; end

    # -- what libstomp reports that the gem has no class for --

    # No host of the list could be reached (the gem raises the socket's own Errno here).
    define :ConnectFailed, 'no host could be connected to'
    # The broker answered CONNECT with ERROR (bad login, unknown vhost): the gem leaves an ERROR
    # frame in connection_frame and goes on; this gem says so at once.
    define :ConnectRefused, 'the broker refused the CONNECT'
    # `ssl:` was given but this libstomp has no TLS (stomp_options_set_tls is missing).
    define :SSLUnsupported, 'this libstomp has no TLS: ssl: cannot be honoured'
    # Any other failure of a library call, with libstomp's code and detail.
    class LibraryError < RuntimeError
      attr_reader :code

      def initialize(code, text)
        @code = code
        super(text)
      end
    end

    # A TLS failure (libstomp's STOMP_ERR_TLS_* codes, 21-27: a missing or malformed file, a broker
    # certificate that is not trusted, not for this host or expired, a client certificate refused,
    # TLS on one side only, a failed handshake), with the code and libstomp's detail.
    class TLSError < LibraryError
      CODES = (21..27).freeze
    end

    # A LibraryError for `code`: a TLSError for the TLS codes.
    def self.library_error(code, text)
      (TLSError::CODES.cover?(code) ? TLSError : LibraryError).new(code, text)
    end
  end
end
