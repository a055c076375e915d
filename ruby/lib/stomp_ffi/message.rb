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

    # A Message from a libstomp frame (read, not kept). Encodings as the gem ends up with them (it
    # slices headers and body out of one string): the frame is binary when it carried a
    # content-length and its body is not ASCII, else UTF-8; the body and 1.0 headers take the
    # frame's encoding, 1.1+ headers are always UTF-8 (and a repeated one gives an Array).
    def self.from_frame(frame, protocol)
      body = Native.frame_body(frame)
      binary = !body.ascii_only? && !Native.stomp_frame_header(frame, 'content-length').null?
      frame_encoding = binary ? Encoding::BINARY : Encoding::UTF_8
      repeats = protocol != SPL_10
      header_encoding = repeats ? Encoding::UTF_8 : frame_encoding
      headers = {}
      Native.each_header(frame) do |name, value|
        name.force_encoding(header_encoding)
        value.force_encoding(header_encoding)
        old = headers[name]
        if old.nil?
          headers[name] = value
        elsif repeats
          headers[name] = old.is_a?(Array) ? old << value : [old, value]
        end
      end
      new(Native.stomp_frame_command(frame).force_encoding(Encoding::UTF_8), headers, body.force_encoding(frame_encoding))
    end

    def to_s
      "<Stomp::Message headers=#{headers.inspect} body='#{body}' command='#{command}' >"
    end

    def empty?
      [command, headers, body].all? { |v| v.nil? || v.empty? }
    end
  end
end
