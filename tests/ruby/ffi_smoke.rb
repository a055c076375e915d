#!/usr/bin/ruby
# frozen_string_literal: true
#
# ffi_smoke.rb - loads libstomp through Ruby's ffi gem, as an MCollective-style connector would,
# and drives one round trip through RabbitMQ (127.0.0.1:61613, guest/guest, vhost "/", STOMP 1.2):
# options, connection, a listener whose on_message is an FFI::Function, connect, subscribe (with a
# receipt), send, receive through the callback, ack from inside the callback, disconnect, free.
# Every step is asserted; exit 0 when all pass, 1 otherwise.
#
#   ruby tests/ruby/ffi_smoke.rb [--port P]      (LIBSTOMP=path overrides the library)
#
# Threads: callbacks arrive on libstomp's dispatch threads, which Ruby does not own; ffi hands them
# to a Ruby thread, which needs the GVL. So every call that can wait inside the library (connect
# with wait, wait_receipt, send, ack, receive, disconnect, connection_free, which waits for a running
# callback) is attached with `blocking: true` (the GVL is released while it runs) so that a callback
# can always run meanwhile, and the main thread waits for the message on a ConditionVariable.

require 'ffi'
require 'timeout'

module LibStomp
  extend FFI::Library
  ffi_lib ENV['LIBSTOMP'] || File.expand_path('../../target/release/libstomp.so', __dir__)

  OK = 0
  ERR_INVALID_ARGUMENT = 1
  VERSION_1_2 = 12
  ACK_CLIENT_INDIVIDUAL = 2
  ERR_TIMEOUT = 5

  class Header < FFI::Struct
    layout :name, :pointer, :value, :pointer
  end

  # stomp_listener: size (set to Listener.size, as STOMP_LISTENER_INIT does in C), user_data, then
  # 12 function pointers in the order of stomp.h.
  class Listener < FFI::Struct
    layout :size, :size_t, :user_data, :pointer,
           :on_connecting, :pointer, :on_connected, :pointer, :on_disconnecting, :pointer,
           :on_disconnected, :pointer, :on_heartbeat_timeout, :pointer, :on_before_message, :pointer,
           :on_message, :pointer, :on_receipt, :pointer, :on_error, :pointer, :on_send, :pointer,
           :on_heartbeat, :pointer, :on_receiver_loop_completed, :pointer
  end

  attach_function :stomp_lib_version, [], :string
  attach_function :stomp_strerror, [:int], :string
  attach_function :stomp_last_error, [], :string
  attach_function :stomp_options_new, [], :pointer
  attach_function :stomp_options_free, [:pointer], :void
  attach_function :stomp_options_add_host, %i[pointer string uint16], :int
  attach_function :stomp_options_set_version, %i[pointer int], :int
  attach_function :stomp_options_set_vhost, %i[pointer string], :int
  attach_function :stomp_options_set_connect_timeout, %i[pointer uint32], :int
  attach_function :stomp_connection_new, [:pointer], :pointer
  attach_function :stomp_connection_free, [:pointer], :void, blocking: true
  attach_function :stomp_set_listener, %i[pointer string pointer], :int
  attach_function :stomp_connect, %i[pointer string string pointer size_t bool], :int, blocking: true
  attach_function :stomp_is_connected, [:pointer], :bool
  attach_function :stomp_subscribe, %i[pointer string string int pointer size_t], :int, blocking: true
  attach_function :stomp_wait_receipt, %i[pointer string uint32], :int, blocking: true
  attach_function :stomp_send, %i[pointer string pointer size_t string pointer size_t], :int, blocking: true
  attach_function :stomp_ack_frame, %i[pointer pointer string], :int, blocking: true
  attach_function :stomp_disconnect, %i[pointer string uint32], :int, blocking: true
  attach_function :stomp_options_set_receive_queue, %i[pointer size_t], :int
  attach_function :stomp_receive, %i[pointer uint32 pointer], :int, blocking: true
  attach_function :stomp_frame_free, [:pointer], :void
  attach_function :stomp_frame_command, [:pointer], :string
  attach_function :stomp_frame_header, %i[pointer string], :pointer
  attach_function :stomp_frame_body, %i[pointer pointer], :pointer
end

$stdout.sync = true
port = 61_613
port = Integer(ARGV[1]) if ARGV[0] == '--port' && ARGV[1]
$steps = 0
$failed = 0

def check(what, ok, detail = nil)
  $steps += 1
  if ok
    puts "ok   #{what}"
  else
    $failed += 1
    puts "FAIL #{what}#{detail ? ": #{detail}" : ''}"
  end
  ok
end

def check_rc(what, rc)
  check(what, rc == LibStomp::OK,
        "#{LibStomp.stomp_strerror(rc)} (#{rc}): #{LibStomp.stomp_last_error}")
end

def finish
  puts "ffi smoke: #{$steps - $failed} of #{$steps} steps passed"
  exit($failed.zero? ? 0 : 1)
end

# Headers array for a call: returns [pointer, count, keep-alive list].
def headers(pairs)
  return [nil, 0, []] if pairs.empty?

  mem = FFI::MemoryPointer.new(LibStomp::Header, pairs.size)
  keep = []
  pairs.each_with_index do |(n, v), i|
    h = LibStomp::Header.new(mem + i * LibStomp::Header.size)
    keep << (np = FFI::MemoryPointer.from_string(n)) << (vp = FFI::MemoryPointer.from_string(v))
    h[:name] = np
    h[:value] = vp
  end
  [mem, pairs.size, keep << mem]
end

def utf8(ptr)
  ptr.null? ? nil : ptr.read_string.force_encoding('UTF-8')
end

version = LibStomp.stomp_lib_version
check("libstomp loaded through ffi, version #{version}", version =~ /\A\d+\.\d+\.\d+/)

dest = "/queue/libstomp-ffi-smoke-#{Process.pid}-#{rand(1 << 30)}"
body = "hello from ruby-ffi \u2713\0after a NUL".b
hdr_value = "a:b\nc\\d"

opts = LibStomp.stomp_options_new
check('stomp_options_new', !opts.null?) or finish
check_rc('stomp_options_add_host 127.0.0.1', LibStomp.stomp_options_add_host(opts, '127.0.0.1', port))
check_rc('stomp_options_set_version 1.2', LibStomp.stomp_options_set_version(opts, LibStomp::VERSION_1_2))
check_rc('stomp_options_set_vhost /', LibStomp.stomp_options_set_vhost(opts, '/'))
check_rc('stomp_options_set_connect_timeout', LibStomp.stomp_options_set_connect_timeout(opts, 5000))
conn = LibStomp.stomp_connection_new(opts)
LibStomp.stomp_options_free(opts)
check('stomp_connection_new', !conn.null?, LibStomp.stomp_last_error) or finish

# The listener: state shared with the callbacks, guarded by a mutex.
lock = Mutex.new
cond = ConditionVariable.new
got = [] # [command, header value, body, ack rc, user_data ok, thread]
errors = []
marker = FFI::MemoryPointer.new(:int)
marker.write_int(4242)

on_message = FFI::Function.new(:void, %i[pointer pointer]) do |ud, frame|
  blen = FFI::MemoryPointer.new(:size_t)
  bptr = LibStomp.stomp_frame_body(frame, blen)
  n = blen.read(:size_t)
  rec = {
    command: LibStomp.stomp_frame_command(frame),
    header: utf8(LibStomp.stomp_frame_header(frame, 'x-ffi')),
    ack_header: utf8(LibStomp.stomp_frame_header(frame, 'ack')),
    body: n.zero? ? ''.b : bptr.read_bytes(n),
    user_data_ok: ud.address == marker.address && ud.read_int == 4242,
    # Ack from inside the callback, with the borrowed frame: the library allows any call here.
    ack_rc: LibStomp.stomp_ack_frame($conn_for_callbacks, frame, nil)
  }
  lock.synchronize do
    got << rec
    cond.broadcast
  end
rescue StandardError => e
  lock.synchronize do
    errors << "on_message raised #{e.class}: #{e.message}"
    cond.broadcast
  end
end
on_error = FFI::Function.new(:void, %i[pointer pointer]) do |_ud, frame|
  msg = utf8(LibStomp.stomp_frame_header(frame, 'message'))
  lock.synchronize do
    errors << "ERROR frame: #{msg}"
    cond.broadcast
  end
end
$conn_for_callbacks = conn

listener = LibStomp::Listener.new # zeroed
listener[:size] = LibStomp::Listener.size
listener[:user_data] = marker
listener[:on_message] = on_message
listener[:on_error] = on_error
check_rc('stomp_set_listener with an FFI::Function on_message', LibStomp.stomp_set_listener(conn, 'mco', listener))
check('stomp_set_listener refuses a listener whose size is 0',
      LibStomp.stomp_set_listener(conn, 'unsized', LibStomp::Listener.new) == LibStomp::ERR_INVALID_ARGUMENT)

check_rc('stomp_connect guest@127.0.0.1 (wait)', LibStomp.stomp_connect(conn, 'guest', 'guest', nil, 0, true)) or begin
  LibStomp.stomp_connection_free(conn)
  finish
end
check('stomp_is_connected', LibStomp.stomp_is_connected(conn))

receipt = "ffi-sub-#{Process.pid}"
hp, hn, keep = headers([['receipt', receipt], ['x-expires', '60000']])
check_rc("stomp_subscribe #{dest} (client-individual)",
         LibStomp.stomp_subscribe(conn, dest, 'ffi-1', LibStomp::ACK_CLIENT_INDIVIDUAL, hp, hn))
check_rc('stomp_wait_receipt for the SUBSCRIBE', LibStomp.stomp_wait_receipt(conn, receipt, 10_000))
keep.clear

bp = FFI::MemoryPointer.new(:uint8, body.bytesize)
bp.put_bytes(0, body)
hp, hn, keep = headers([['x-ffi', hdr_value], ['x-expires', '60000']])
check_rc("stomp_send #{body.bytesize} bytes (a NUL inside) and a header with ':', newline, backslash",
         LibStomp.stomp_send(conn, dest, bp, body.bytesize, 'application/octet-stream', hp, hn))

rec = nil
deadline = Time.now + 10
lock.synchronize do
  while got.empty? && errors.empty? && Time.now < deadline
    cond.wait(lock, deadline - Time.now)
  end
  rec = got.first
end
check('on_message called with the message', !rec.nil?, errors.empty? ? 'timeout after 10 s' : errors.join('; '))
if rec
  check('callback user_data is the pointer given', rec[:user_data_ok])
  check('stomp_frame_command == MESSAGE', rec[:command] == 'MESSAGE', rec[:command].inspect)
  check("body equal byte for byte (#{rec[:body].bytesize} bytes)", rec[:body] == body, rec[:body].inspect)
  check('header x-ffi unescaped equal', rec[:header] == hdr_value, rec[:header].inspect)
  check('MESSAGE carries an ack header (1.2)', !rec[:ack_header].nil?)
  check('stomp_ack_frame from inside the callback', rec[:ack_rc] == LibStomp::OK,
        "#{LibStomp.stomp_strerror(rec[:ack_rc])} (#{rec[:ack_rc]})")
end
check('no ERROR frame and no exception in callbacks', errors.empty?, errors.join('; '))

check_rc('stomp_disconnect (receipt)', LibStomp.stomp_disconnect(conn, nil, 5000))
check('not connected after disconnect', !LibStomp.stomp_is_connected(conn))
LibStomp.stomp_connection_free(conn)
$conn_for_callbacks = nil
n_after_free = lock.synchronize { got.size }
sleep 0.2
check('stomp_connection_free returned; no callback after it', lock.synchronize { got.size } == n_after_free && n_after_free == 1,
      "#{got.size} messages")

# The ack took: RabbitMQ redelivers an unacked message to the next subscriber; nothing must come.
opts = LibStomp.stomp_options_new
LibStomp.stomp_options_add_host(opts, '127.0.0.1', port)
LibStomp.stomp_options_set_version(opts, LibStomp::VERSION_1_2)
LibStomp.stomp_options_set_vhost(opts, '/')
LibStomp.stomp_options_set_receive_queue(opts, 16)
conn2 = LibStomp.stomp_connection_new(opts)
LibStomp.stomp_options_free(opts)
if check('a second connection (receive queue on)', !conn2.null?, LibStomp.stomp_last_error) &&
   check_rc('second stomp_connect', LibStomp.stomp_connect(conn2, 'guest', 'guest', nil, 0, true))
  receipt = "ffi-sub2-#{Process.pid}"
  hp, hn, keep = headers([['receipt', receipt], ['x-expires', '60000']])
  LibStomp.stomp_subscribe(conn2, dest, 'ffi-2', LibStomp::ACK_CLIENT_INDIVIDUAL, hp, hn)
  check_rc('second subscription confirmed', LibStomp.stomp_wait_receipt(conn2, receipt, 10_000))
  fp = FFI::MemoryPointer.new(:pointer)
  rc = LibStomp.stomp_receive(conn2, 700, fp)
  LibStomp.stomp_frame_free(fp.read_pointer) if rc == LibStomp::OK
  check('the ack took: no redelivery to a new subscriber within 700 ms (stomp_receive timed out)',
        rc == LibStomp::ERR_TIMEOUT, "stomp_receive gave #{LibStomp.stomp_strerror(rc)}")
  LibStomp.stomp_disconnect(conn2, nil, 5000)
end
LibStomp.stomp_connection_free(conn2)
finish
