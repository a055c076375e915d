# frozen_string_literal: true

require 'ffi'

module StompFFI
  # The C API of libstomp (include/stomp.h) bound with the ffi gem, and the one place that finds
  # and loads the library. Nothing else in the gem calls FFI.
  #
  # Calls that can wait inside the library are attached with `blocking: true`, so that Ruby's GVL
  # is released while they wait: other Ruby threads run meanwhile, and a library callback that
  # needs the GVL can always get it (stomp_connection_free waits for running callbacks).
  module Native
    extend FFI::Library

    OK = 0
    ERR_TIMEOUT = 5
    ERR_CLOSED = 15
    ERR_BUFFER_TOO_SMALL = 18

    VERSIONS = { '1.0' => 10, '1.1' => 11, '1.2' => 12 }.freeze

    # The libraries tried, in order: $STOMP_LIB, pkg-config's libdir, then the loader's own search
    # (LD_LIBRARY_PATH, ld.so.cache, /usr/lib ...). Each entry: [where it came from, path or name].
    def self.candidates
      list = []
      if (env = ENV['STOMP_LIB']) && !env.empty?
        path = File.directory?(env) ? File.join(env, 'libstomp.so') : env
        list << ['STOMP_LIB', path]
      end
      libdir = pkg_config_libdir
      list << ['pkg-config --variable=libdir stomp', File.join(libdir, 'libstomp.so')] if libdir
      list << ['the system library path', 'libstomp.so.0']
      list << ['the system library path', 'libstomp.so']
      list
    end

    def self.pkg_config_libdir
      out = IO.popen(%w[pkg-config --variable=libdir stomp], err: File::NULL, &:read)
      dir = out.to_s.strip
      $?.success? && !dir.empty? ? dir : nil
    rescue SystemCallError
      nil # no pkg-config on this machine
    end

    # Loads the first candidate that works; a LoadError naming every one tried otherwise.
    def self.load_library
      tried = []
      candidates.each do |from, path|
        begin
          ffi_lib path
          return [from, path]
        rescue LoadError => e
          tried << "  #{path} (from #{from}): #{e.message.lines.first.to_s.strip}"
        end
      end
      raise LoadError, "stomp_ffi: libstomp could not be loaded. Tried, in order:\n#{tried.join("\n")}\n" \
                       'Set STOMP_LIB to the path of libstomp.so, or install libstomp where pkg-config finds it.'
    end

    LOADED_FROM = load_library

    attach_function :stomp_lib_version, [], :string

    # Refuses a library whose major version differs or whose minor version is older than the
    # gem needs (it could lack functions bound below).
    def self.check_version!
      v = stomp_lib_version.to_s
      major, minor = v.split('.').map(&:to_i)
      return v if major == LIBSTOMP_MAJOR && minor >= LIBSTOMP_MIN_MINOR

      raise LoadError, "stomp_ffi #{VERSION} needs libstomp #{LIBSTOMP_MAJOR}.#{LIBSTOMP_MIN_MINOR} or a later " \
                       "#{LIBSTOMP_MAJOR}.x; #{LOADED_FROM[1]} (from #{LOADED_FROM[0]}) is #{v.inspect}"
    end
    LIB_VERSION = check_version!

    # stomp_header: two NUL-terminated strings.
    class Header < FFI::Struct
      layout :name, :pointer, :value, :pointer
    end

    # stomp_listener (see stomp.h): size, user_data, then 12 callbacks in the header's order.
    class Listener < FFI::Struct
      layout :size, :size_t, :user_data, :pointer,
             :on_connecting, :pointer, :on_connected, :pointer, :on_disconnecting, :pointer,
             :on_disconnected, :pointer, :on_heartbeat_timeout, :pointer, :on_before_message, :pointer,
             :on_message, :pointer, :on_receipt, :pointer, :on_error, :pointer, :on_send, :pointer,
             :on_heartbeat, :pointer, :on_receiver_loop_completed, :pointer
    end

    # stomp_stats (see stomp.h): `size` set by the caller, then the counters in the header's order.
    class Stats < FFI::Struct
      layout :size, :size_t, :connections, :uint64, :disconnects, :uint64, :reconnects, :uint64,
             :messages_sent, :uint64, :messages_received, :uint64, :frames_sent, :uint64,
             :frames_received, :uint64, :receipts_received, :uint64, :errors, :uint64,
             :heartbeats_sent, :uint64, :heartbeats_received, :uint64, :heartbeat_timeouts, :uint64,
             :bytes_sent, :uint64, :bytes_received, :uint64, :frames_held, :uint64
    end

    attach_function :stomp_strerror, [:int], :string
    attach_function :stomp_last_error, [], :string

    attach_function :stomp_options_new, [], :pointer
    attach_function :stomp_options_free, [:pointer], :void
    attach_function :stomp_options_add_host_login, %i[pointer string uint16 string string], :int
    attach_function :stomp_options_set_version, %i[pointer int], :int
    attach_function :stomp_options_set_vhost, %i[pointer string], :int
    attach_function :stomp_options_set_heartbeats, %i[pointer uint32 uint32], :int
    attach_function :stomp_options_set_receive_queue, %i[pointer size_t], :int
    attach_function :stomp_options_set_auto_content_length, %i[pointer bool], :int
    attach_function :stomp_options_set_stomp_command, %i[pointer bool], :int
    attach_function :stomp_options_set_reconnect, %i[pointer double double double double int], :int
    attach_function :stomp_options_set_connect_timeout, %i[pointer uint32], :int
    attach_function :stomp_options_set_auto_reconnect, %i[pointer bool], :int
    attach_function :stomp_options_set_randomize_hosts, %i[pointer bool], :int
    attach_function :stomp_options_set_tcp_nodelay, %i[pointer bool], :int
    attach_function :stomp_options_set_frame_timeouts, %i[pointer uint32 uint32], :int

    # TLS arrived after 0.1.0: bound only when the library has it.
    TLS = begin
      attach_function :stomp_options_set_tls, %i[pointer string string string], :int
      attach_function :stomp_options_add_host_tls, %i[pointer string uint16 string string string], :int
      true
    rescue FFI::NotFoundError
      false
    end

    attach_function :stomp_connection_new, [:pointer], :pointer
    attach_function :stomp_connection_free, [:pointer], :void, blocking: true
    attach_function :stomp_set_listener, %i[pointer string pointer], :int
    attach_function :stomp_connect, %i[pointer string string pointer size_t bool], :int, blocking: true
    attach_function :stomp_send_frame, %i[pointer string pointer size_t pointer size_t], :int, blocking: true
    attach_function :stomp_disconnect, %i[pointer string uint32], :int, blocking: true
    attach_function :stomp_receive, %i[pointer uint32 pointer], :int, blocking: true
    # The same, keeping the GVL: only with timeout 0 (it never waits then), which saves releasing
    # and taking back the GVL when a message is already queued.
    attach_function :stomp_receive_ready, :stomp_receive, %i[pointer uint32 pointer], :int
    attach_function :stomp_is_connected, [:pointer], :bool
    attach_function :stomp_connection_version, %i[pointer pointer], :int
    attach_function :stomp_connected_frame, %i[pointer pointer], :int

    # Per-connection counters (added after 0.1.0's first build): bound only when the library has them.
    STATS = begin
      attach_function :stomp_stats_get, %i[pointer pointer], :int
      true
    rescue FFI::NotFoundError
      false
    end

    attach_function :stomp_frame_command, [:pointer], :string
    attach_function :stomp_frame_header, %i[pointer string], :pointer
    attach_function :stomp_frame_header_count, [:pointer], :size_t
    attach_function :stomp_frame_header_at, %i[pointer size_t pointer pointer], :int
    attach_function :stomp_frame_body, %i[pointer pointer], :pointer

    # Every header in one call (added after 0.1.0's first build): bound only when the library has it.
    PACKED_HEADERS = begin
      attach_function :stomp_frame_headers_packed, %i[pointer pointer size_t pointer], :int
      true
    rescue FFI::NotFoundError
      false
    end
    # The whole frame in one call (added after stomp_frame_headers_packed): bound only when the
    # library has it.
    PACKED_FRAME = begin
      attach_function :stomp_frame_packed, %i[pointer pointer size_t pointer pointer], :int
      true
    rescue FFI::NotFoundError
      false
    end
    attach_function :stomp_frame_clone, [:pointer], :pointer
    attach_function :stomp_frame_free, [:pointer], :void

    # The failure text of `rc` for an exception: "strerror: detail".
    def self.describe(rc)
      detail = stomp_last_error.to_s
      text = stomp_strerror(rc).to_s
      detail.empty? ? text : "#{text}: #{detail}"
    end

    ADDRESS_PACK = FFI::Pointer.size == 8 ? 'Q*' : 'L*'
    STRINGS_PACK = Hash.new { |h, n| h[n] = 'Z*' * n }

    # Memory of one thread for the calls it makes: out-parameters, and the C form of an outgoing
    # frame's headers and body, reused while they fit (and, for headers, while they are the same
    # as last time, which they usually are), so that a publish allocates no native memory. No
    # user code runs between filling it and the call that reads it.
    class Scratch
      attr_reader :frame, :name, :value, :len, :body_at

      # Packed blocks up to this size reuse this thread's buffer; a larger one gets a buffer of its
      # own for the call, so that one big message does not pin its size in every thread.
      KEEP_MAX = 64 * 1024

      def self.current
        Thread.current[:stomp_ffi_scratch] ||= new
      end

      def initialize
        @frame = FFI::MemoryPointer.new(:pointer)
        @name = FFI::MemoryPointer.new(:pointer)
        @value = FFI::MemoryPointer.new(:pointer)
        @len = FFI::MemoryPointer.new(:size_t)
        @body_at = FFI::MemoryPointer.new(:size_t)
        @flat = nil
        @headers = nil
        @body = FFI::MemoryPointer.new(:char, 4096, false)
        @headers_buffer = FFI::MemoryPointer.new(:char, 1024, false)
      end

      # Room for a frame's packed headers (or whole frame): at least `size` bytes, this thread's
      # buffer grown (doubled) as needed up to KEEP_MAX, a buffer for this call alone past it.
      def headers_buffer(size = 0)
        return @headers_buffer if size <= @headers_buffer.size
        return FFI::MemoryPointer.new(:char, size, false) if size > KEEP_MAX

        @headers_buffer = FFI::MemoryPointer.new(:char, [size * 2, KEEP_MAX].min, false)
      end

      # [stomp_header array (nil if none), count, body pointer (nil if empty)] for `flat`
      # ([name, value, name, value, ...], Strings) and `body`, valid until this thread's next call.
      def frame_memory(flat, body)
        pack_headers(flat) unless flat == @flat
        body_ptr = nil
        unless body.empty?
          @body = FFI::MemoryPointer.new(:char, body.bytesize * 2, false) if body.bytesize > @body.size
          @body.put_bytes(0, body)
          body_ptr = @body
        end
        [flat.empty? ? nil : @headers, flat.size / 2, body_ptr]
      end

      private

      # The stomp_header array, then the NUL-terminated strings it points to, in one block.
      def pack_headers(flat)
        strings = flat.pack(STRINGS_PACK[flat.size])
        if strings.count("\0") != flat.size
          raise ArgumentError, "a header holds a NUL byte: #{flat.find { |s| s.include?("\0") }.inspect}"
        end

        array_bytes = flat.size * FFI::Pointer.size
        mem = FFI::MemoryPointer.new(:char, array_bytes + strings.bytesize, false)
        address = mem.address + array_bytes
        addresses = flat.map do |str|
          a = address
          address += str.bytesize + 1
          a
        end
        mem.put_bytes(0, addresses.pack(ADDRESS_PACK) << strings)
        @headers = mem
        @flat = flat.map { |str| str.dup.freeze } # the caller may change its strings later
      end
    end

    # [command, headers, body] of a frame: the command and the headers as header_strings gives
    # them (UTF-8), the body binary. One call where the library can, else three.
    def self.frame_parts(frame)
      unless PACKED_FRAME
        return [stomp_frame_command(frame).force_encoding(Encoding::UTF_8), header_strings(frame), frame_body(frame)]
      end

      scratch = Scratch.current
      len = scratch.len
      body_at = scratch.body_at
      buf = scratch.headers_buffer
      rc = stomp_frame_packed(frame, buf, buf.size, len, body_at)
      buf = refill(scratch, rc, 'stomp_frame_packed') { |b| stomp_frame_packed(frame, b, b.size, len, body_at) } if rc != OK
      at = body_at.read(:size_t)
      parts = nul_terminated(buf.get_bytes(0, at))
      command = parts.shift
      [command, parts, buf.get_bytes(at, len.read(:size_t) - at)]
    end

    # After a packed call into this thread's buffer failed with `rc`: when the buffer was too
    # small, the block (the same call, given a buffer; it returns the result code) is run again
    # with one of the size written to scratch.len, and that buffer returned; any other failure
    # raises.
    def self.refill(scratch, rc, what)
      if rc == ERR_BUFFER_TOO_SMALL
        buf = scratch.headers_buffer(scratch.len.read(:size_t))
        rc = yield buf
        return buf if rc == OK
      end
      raise Error::LibraryError.new(rc, "#{what}: #{describe(rc)}")
    end

    # The NUL-terminated strings of `bytes`, as UTF-8 Strings (empty ones kept).
    def self.nul_terminated(bytes)
      parts = bytes.force_encoding(Encoding::UTF_8).split("\0", -1)
      parts.pop # the empty String after the last NUL
      parts
    end

    # A frame's headers as one Array [name, value, name, value, ...] of UTF-8 Strings, in the order
    # received, repeats included: with one call for the whole block where the library can (split
    # once, so the Strings are UTF-8 from the start), else one call a header.
    def self.header_strings(frame)
      return packed_header_strings(frame) if PACKED_HEADERS

      scratch = Scratch.current
      np = scratch.name
      vp = scratch.value
      Array.new(stomp_frame_header_count(frame) * 2) do |i|
        stomp_frame_header_at(frame, i / 2, np, vp) if i.even?
        (i.even? ? np : vp).read_pointer.read_string.force_encoding(Encoding::UTF_8)
      end
    end

    def self.packed_header_strings(frame)
      scratch = Scratch.current
      len = scratch.len
      buf = scratch.headers_buffer
      rc = stomp_frame_headers_packed(frame, buf, buf.size, len)
      buf = refill(scratch, rc, 'stomp_frame_headers_packed') { |b| stomp_frame_headers_packed(frame, b, b.size, len) } if rc != OK
      nul_terminated(buf.get_bytes(0, len.read(:size_t)))
    end

    # A frame's body, binary.
    def self.frame_body(frame)
      len = Scratch.current.len
      ptr = stomp_frame_body(frame, len)
      size = len.read(:size_t)
      size.zero? ? String.new(encoding: Encoding::BINARY) : ptr.read_bytes(size)
    end
  end
end
