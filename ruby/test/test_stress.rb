# frozen_string_literal: true

require_relative 'test_helper'
require 'open3'
require 'rbconfig'

# Threads, the GC and the end of connections nobody disconnected.
class TestStress < Minitest::Test
  include StompTestHelpers

  def test_eight_threads_publish_on_one_connection
    pub = connect('rabbitmq', '1.2')
    sub = connect('rabbitmq', '1.2')
    dest = unique('threads')
    subscribe_confirmed(sub, dest)
    per_thread = 200
    threads = Array.new(8) do |t|
      Thread.new { per_thread.times { |i| pub.publish(dest, "#{t}:#{i}") } }
    end
    threads.each { |th| assert th.join(WAIT * 3), 'a publishing thread did not finish' }
    next_of = Hash.new(0)
    (8 * per_thread).times do
      t, i = receive_within(sub, "message #{next_of.values.sum + 1} of #{8 * per_thread}").body.split(':').map(&:to_i)
      assert_equal next_of[t], i, "thread #{t}'s messages out of order"
      next_of[t] += 1
    end
    assert_equal [per_thread] * 8, next_of.values_at(*0..7)
  end

  def test_gc_stress_short_run
    skip 'GC.stress checks the FFI binding (the pure-Ruby gem takes 45 s here for nothing)' if GEM_MODE
    conn = connect('rabbitmq', '1.2')
    dest = unique('gcstress')
    subscribe_confirmed(conn, dest)
    bodies = Array.new(4) { |i| "gc #{i} \0\xFF".b * (i + 1) }
    got = []
    Timeout.timeout(120) do
      GC.stress = true
      bodies.each_with_index { |b, i| conn.publish(dest, b, 'x-i' => i.to_s) }
      bodies.size.times { got << conn.receive }
    ensure
      GC.stress = false
    end
    assert_equal bodies, got.map { |m| m.body.b }
    assert_equal (0...4).map(&:to_s), got.map { |m| m.headers['x-i'] }
  end

  # A connection dropped without disconnect is freed by the reaper once the GC finds it.
  def test_dropped_connections_are_freed
    skip 'StompFFI internals' if GEM_MODE
    before = StompFFI::Handle::LIVE.size
    5.times { IMPL::Connection.new(params('rabbitmq', '1.2')).subscribe(unique('drop'), { id: 'd' }, 'd') }
    deadline = Time.now + WAIT
    while StompFFI::Handle::LIVE.size > before && Time.now < deadline
      GC.start
      sleep 0.05 # the GC and the reaper thread run when they run: nothing to wait on but the count
    end
    assert_operator StompFFI::Handle::LIVE.size, :<=, before, 'dropped connections still hold native handles'
  end

  # A process that exits with connections open (one with a logger thread, one in the middle of a
  # receive on another thread) ends cleanly and promptly.
  def test_exit_with_open_connections
    script = <<~RUBY
      require '#{GEM_MODE ? 'stomp' : 'stomp_ffi'}'
      impl = #{IMPL.name}
      params = #{params('rabbitmq', '1.2').inspect}
      a = impl::Connection.new(params)
      b = impl::Connection.new(params.merge(logger: Object.new.tap { |l| def l.on_connected(*); end }))
      b.subscribe('/queue/stomp-ffi-exit-#{Process.pid}', { id: 'e' }, 'e')
      Thread.new { b.receive }
      a.publish('/queue/stomp-ffi-exit-#{Process.pid}', 'bye')
      puts 'done'
    RUBY
    lib = File.expand_path('../lib', __dir__)
    out, status = Timeout.timeout(WAIT * 2) { Open3.capture2e(RbConfig.ruby, '-I', lib, '-e', script) }
    assert status.success?, "the process failed: #{out}"
    assert_match(/done/, out)
  rescue Timeout::Error
    flunk "a process exiting with open connections did not end within #{WAIT * 2}s"
  end
end
