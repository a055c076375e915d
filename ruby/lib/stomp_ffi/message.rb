# frozen_string_literal: true

module StompFFI
  # A frame from the broker, as Stomp::Message has it: `command`, `headers` (a Hash; under 1.1+
  # a header repeated by the broker gives an Array of its values, under 1.0 the first value wins)
  # and `body` (binary-safe: NUL and any byte kept).
  class Message
    attr_accessor :command, :headers, :body, :original

    def initialize(command = '', headers = {}, body = '')
      @command = command
      @headers = headers
      @body = body
      @original = nil
    end

    # A Message from [command, [[name, value], ...], body] as Native.read_frame gives them.
    # Encodings as the gem ends up with them (it slices headers and body out of one string): the
    # frame is binary when it carried a content-length and its body is not ASCII, else UTF-8; the
    # body and 1.0 headers take the frame's encoding, 1.1+ headers are always UTF-8.
    def self.from_parts(command, pairs, body, protocol)
      utf8_headers = protocol != SPL_10
      binary = !body.ascii_only? && pairs.any? { |name, _| name == 'content-length' }
      frame_encoding = binary ? Encoding::BINARY : Encoding::UTF_8
      header_encoding = utf8_headers ? Encoding::UTF_8 : frame_encoding
      headers = {}
      pairs.each do |name, value|
        name.force_encoding(header_encoding)
        value.force_encoding(header_encoding)
        old = headers[name]
        if old.nil?
          headers[name] = value
        elsif utf8_headers
          headers[name] = old.is_a?(Array) ? old << value : [old, value]
        end
      end
      new(command.dup.force_encoding(Encoding::UTF_8), headers, body.force_encoding(frame_encoding))
    end

    def to_s
      "<Stomp::Message headers=#{headers.inspect} body='#{body}' command='#{command}' >"
    end

    def empty?
      [command, headers, body].all? { |v| v.nil? || v.empty? }
    end
  end
end
