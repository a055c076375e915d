# frozen_string_literal: true

module StompFFI
  # TLS parameters of a host (`hosts: [{..., ssl: SSLParams.new(...)}]`), as Stomp::SSLParams:
  # `ts_files` (the CA certificates to trust; nil: the system's), and for a client certificate
  # `cert_file` with `key_file`. The other Stomp::SSLParams settings (cert_text, ciphers, ...) are
  # accepted and ignored. `ssl: true` means SSLParams.new.
  class SSLParams
    attr_accessor :ts_files, :cert_file, :key_file, :cert_text, :key_text, :key_password,
                  :ciphers, :verify_result, :peer_cert, :ctx

    def initialize(opts = {})
      @ts_files = opts[:ts_files]
      @cert_file = opts[:cert_file]
      @key_file = opts[:key_file]
      @cert_text = opts[:cert_text]
      @key_text = opts[:key_text]
      @key_password = opts[:key_password]
      @ciphers = opts[:ciphers]
      raise Error::SSLClientParamsError if @cert_file.nil? != @key_file.nil?

      check_files if opts[:fsck]
    end

    # libstomp takes one CA file: the first of the comma-separated ts_files.
    def ca_file
      @ts_files&.split(',')&.first
    end

    private

    def check_files
      raise Error::SSLNoCertFileError if @cert_file && !File.exist?(@cert_file)
      raise Error::SSLNoKeyFileError if @key_file && !File.exist?(@key_file)
      @ts_files&.split(',')&.each { |f| raise Error::SSLNoTruststoreFileError unless File.exist?(f) }
    end
  end
end
