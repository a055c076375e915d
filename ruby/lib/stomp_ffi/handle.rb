# frozen_string_literal: true

module StompFFI
  # Owns one native stomp_connection: its pointer, the listener callbacks, and its end.
  #
  # Messages reach Ruby through the pull API (stomp_receive, GVL released while it waits). The
  # few events that cannot be pulled (RECEIPT and ERROR frames, link and heart-beat events) come
  # through libstomp's listener on its dispatch threads; each callback only copies what it needs
  # and pushes it onto a Thread::Queue, so no user code ever runs on a library thread and a
  # callback holds the GVL for microseconds.
  #
  # Every call on the pointer goes through #use, which counts the calls in flight, so that #free
  # never frees the connection under a running call: it marks the handle closed, waits for the
  # calls in flight to return (a receive returns within one slice), then calls
  # stomp_connection_free with the GVL released (it waits for a running callback, which needs the
  # GVL to finish). #free runs when a Connection fails to connect, at exit, and for a Connection
  # dropped without disconnect: its finalizer (which runs in a context where a Mutex may not be
  # taken) only hands the handle to the reaper thread, which frees it.
  class Handle
    # Handles not freed yet, freed at exit while Ruby's threads still run (a callback in flight
    # needs ffi's callback thread, which is gone once the interpreter tears down).
    LIVE = {}
    LIVE_LOCK = Mutex.new
    at_exit { LIVE_LOCK.synchronize { LIVE.keys }.each(&:free) }

    # Handles whose Connection was garbage-collected, freed by the reaper thread.
    REAP = Thread::Queue.new
    REAPER = Thread.new do
      Thread.current.report_on_exception = false
      while (handle = REAP.pop)
        handle.free
      end
    end

    # RECEIPT/ERROR frames kept for receive at most; past it the oldest is dropped, with a warning
    # (a program that asks for receipts on a Connection it never reads from).
    MAX_FRAMES = 10_000

    # Raised by #use once the handle is freed.
    class Closed < StandardError; end

    # [host, port] of the last TCP connection tried (libstomp's on_connecting), or nil; of the
    # last one that reached CONNECTED (on_connected), or nil.
    attr_reader :frames, :current_host, :connected_host
    # The negotiated version, for the Messages made from RECEIPT/ERROR frames.
    attr_accessor :protocol

    # `opts`: a stomp_options pointer (kept by the caller). `events`: a Queue for link events, or
    # nil. RECEIPT and ERROR frames go to #frames as Messages.
    def initialize(opts, events)
      @lock = Mutex.new
      @idle = ConditionVariable.new
      @users = 0
      @freed = false
      @link_lock = Mutex.new
      @link_cond = ConditionVariable.new
      @connects = 0
      @frames = Thread::Queue.new
      @protocol = SPL_10
      @events = events
      @ptr = Native.stomp_connection_new(opts)
      raise ArgumentError, "stomp_connection_new: #{Native.stomp_last_error}" if @ptr.null?

      install_listener
      LIVE_LOCK.synchronize { LIVE[self] = true }
    end

    # Yields the native pointer; Closed if the handle is freed.
    def use
      @lock.synchronize do
        raise Closed, 'the connection is closed' if @freed

        @users += 1
      end
      begin
        yield @ptr
      ensure
        @lock.synchronize do
          @users -= 1
          @idle.broadcast if @users.zero?
        end
      end
    end

    def freed?
      @freed
    end

    # Waits up to `seconds` until on_connected has run `count` times in all (callbacks run after
    # the call that caused them may have returned).
    def wait_connected(count, seconds)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
      @link_lock.synchronize do
        while @connects < count
          left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
          break if left <= 0

          @link_cond.wait(@link_lock, left)
        end
      end
    end

    # Frees the native connection once no call is in flight; idempotent.
    def free
      @lock.synchronize do
        return if @freed

        @freed = true
        @idle.wait(@lock) until @users.zero?
      end
      Native.stomp_connection_free(@ptr)
      @events&.push([:stop])
      LIVE_LOCK.synchronize { LIVE.delete(self) }
    end

    # A finalizer for the Connection that owns `handle` (it must not capture the Connection).
    def self.finalizer(handle)
      proc { REAP.push(handle) }
    end

    private

    def install_listener
      listener = Native::Listener.new
      listener[:size] = Native::Listener.size
      @callbacks = callbacks
      @callbacks.each { |name, fn| listener[name] = fn }
      rc = Native.stomp_set_listener(@ptr, 'stomp_ffi', listener)
      raise Error::LibraryError.new(rc, "stomp_set_listener: #{Native.describe(rc)}") unless rc == Native::OK
    end

    # The FFI::Functions, kept referenced by the handle for as long as the library may call them.
    def callbacks
      frames = @frames
      events = @events
      handle = self
      on_connecting = lambda do |_ud, host, port|
        @current_host = [host.dup, port]
        events&.push([:connecting, host.dup, port])
      end
      on_connected = lambda do |_ud, _frame|
        @link_lock.synchronize do
          @connected_host = @current_host
          @connects += 1
          @link_cond.broadcast
        end
        events&.push([:connected])
      end
      keep_frame = lambda do |_ud, frame|
        frames.push(Message.from_frame(frame, handle.protocol))
        if frames.size > MAX_FRAMES
          dropped = frames.pop(true)
          warn "stomp_ffi: #{MAX_FRAMES} RECEIPT/ERROR frames wait for receive; dropped the oldest #{dropped.command}"
        end
      rescue StandardError => e
        warn "stomp_ffi: a #{frame.null? ? 'NULL' : 'RECEIPT/ERROR'} frame could not be kept: #{e.class}: #{e.message}"
        events&.push([:callback_error, e])
      end
      fns = {
        on_connecting: FFI::Function.new(:void, %i[pointer string uint16], &on_connecting),
        on_connected: FFI::Function.new(:void, %i[pointer pointer], &on_connected),
        on_receipt: FFI::Function.new(:void, %i[pointer pointer], &keep_frame),
        on_error: FFI::Function.new(:void, %i[pointer pointer], &keep_frame)
      }
      return fns unless events

      fns.merge(
        on_disconnected: FFI::Function.new(:void, [:pointer]) { |_| events.push([:disconnected]) },
        on_heartbeat_timeout: FFI::Function.new(:void, [:pointer]) { |_| events.push([:heartbeat_timeout]) },
        on_heartbeat: FFI::Function.new(:void, [:pointer]) { |_| events.push([:heartbeat]) },
        on_receiver_loop_completed: FFI::Function.new(:void, [:pointer]) { |_| events.push([:ended]) }
      )
    end
  end
end
