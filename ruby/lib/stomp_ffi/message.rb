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

    # Headers past this many are put in the Hash one by one (Hash[*parts] would put them all on
    # the VM stack).
    SPLAT_MAX = 64

    # A Message from a libstomp frame (read, not kept). Encodings as the gem ends up with them (it
    # slices headers and body out of one string): the frame is binary when it carried a
    # content-length and its body is not ASCII, else UTF-8; the body and 1.0 headers take the
    # frame's encoding, 1.1+ headers are always UTF-8 (and a repeated one gives an Array).
    def self.from_frame(frame, protocol)
      command, parts, body = Native.frame_parts(frame)
      headers = parts.size <= SPLAT_MAX ? Hash[*parts] : {}
      # Fewer keys than headers: a repeated header (or too many for the splat).
      headers = collect_headers(parts, protocol != SPL_10) if headers.size * 2 != parts.size
      if body.ascii_only? || !headers.key?('content-length')
        body.force_encoding(Encoding::UTF_8)
      elsif protocol == SPL_10
        headers = headers.to_h { |k, v| [k.b, v.is_a?(Array) ? v.map(&:b) : v.b] }
      end
      new(command, headers, body)
    end

    # The Hash of [name, value, ...]: under 1.1+ a repeated header gives an Array of its values,
    # under 1.0 the first value wins.
    def self.collect_headers(parts, repeats)
      headers = {}
      parts.each_slice(2) do |name, value|
        old = headers[name]
        if old.nil?
          headers[name] = value
        elsif repeats
          headers[name] = old.is_a?(Array) ? old << value : [old, value]
        end
      end
      headers
    end
    private_class_method :collect_headers

    def to_s
      "<Stomp::Message headers=#{headers.inspect} body='#{body}' command='#{command}' >"
    end

    def empty?
      [command, headers, body].all? { |v| v.nil? || v.empty? }
    end
  end
end
