#!/usr/bin/env ruby
# frozen_string_literal: true

# bench.rb - publish and receive throughput of StompFFI against the stomp gem, in the same run:
# a script that prints figures, not a test.
#
#   ruby ruby/bench/bench.rb [N_FFI] [N_GEM]        (from the repository root; STOMP_LIB as usual)
#
# Modes, 100-byte bodies, STOMP 1.2, the same code for both implementations:
#   fixture publish   N publish() calls to bench/fixture_swallow (a server that swallows frames),
#                     then disconnect with a receipt (which both wait for): the client's own speed
#   fixture receive   subscribe, then receive() N MESSAGEs from bench/fixture_blast (a server that
#                     writes them as fast as the socket takes them)
#   rabbitmq pubsub   N messages published to a queue of RabbitMQ (127.0.0.1:61613) and received
#                     on a second connection
# The C fixtures are built with gcc into target/ruby/bench and listen on 127.0.0.1 (a port the
# kernel picks). Prints "impl mode msgs seconds msg/s cpu-us/msg" lines (CPU: the whole process,
# libstomp's threads included), then the ratios of throughput and of CPU per message. On a busy
# machine the CPU figures are the steadier ones.
$LOAD_PATH.unshift(File.expand_path('../lib', __dir__))
require 'stomp_ffi'
require 'stomp'
require 'fileutils'

ROOT = File.expand_path('../..', __dir__)
OUT = File.join(ROOT, 'target', 'ruby', 'bench')
BODY = 'x' * 100
N_FFI = Integer(ARGV[0] || 200_000)
N_GEM = Integer(ARGV[1] || 20_000)
RABBIT_PORT = Integer(ENV.fetch('STOMP_RABBITMQ_PORT', '61613'))

def build_fixtures
  FileUtils.mkdir_p(OUT)
  %w[fixture_swallow fixture_blast].each do |prog|
    ok = system('gcc', '-O2', '-std=c11', '-Wall', '-Wextra', '-Wpedantic', '-Werror', '-o', File.join(OUT, prog),
                File.join(ROOT, 'bench', "#{prog}.c"), File.join(ROOT, 'bench', 'bench_util.c'))
    abort "bench: building #{prog} failed" unless ok
  end
end

# Runs the fixture (one client), yields its port, then reaps it.
def with_fixture(prog, *args)
  r, w = IO.pipe
  pid = spawn(File.join(OUT, prog), '0', *args.map(&:to_s), out: w, err: File::NULL)
  w.close
  line = r.gets until line.nil? ? false : line.start_with?('listening')
  abort "bench: #{prog} did not start" unless line
  yield Integer(line[/:(\d+)/, 1])
ensure
  r&.close
  if pid
    Process.kill('TERM', pid) rescue nil # rubocop:disable Style/RescueModifier
    Process.wait(pid)
  end
end

def params(port)
  { hosts: [{ login: 'guest', passcode: 'guest', host: '127.0.0.1', port: port }], reliable: false,
    connect_headers: { 'accept-version' => '1.2', 'host' => '/' } }
end

# [wall seconds, CPU seconds] of the block.
def timed
  t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  c0 = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
  yield
  [Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0, Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - c0]
end

HEADERS = { 'content-type' => 'text/plain', 'x-bench-a' => 'alpha', 'x-bench-b' => 'beta' }.freeze

def fixture_publish(impl, n)
  with_fixture('fixture_swallow') do |port|
    conn = impl::Connection.new(params(port))
    timed do
      n.times { conn.publish('/queue/bench', BODY, HEADERS) }
      conn.disconnect(receipt: 'bench-end')
    end
  end
end

def fixture_receive(impl, n)
  with_fixture('fixture_blast', n, BODY.bytesize) do |port|
    conn = impl::Connection.new(params(port))
    t = timed do
      conn.subscribe('/queue/bench', { id: '0', ack: 'auto' }, '0')
      i = 0
      while i < n
        m = conn.receive
        abort "bench: #{impl} connection ended after #{i}" if m.nil?
        i += 1 if m.command == 'MESSAGE' && m.body.bytesize == BODY.bytesize
      end
    end
    conn.disconnect(receipt: 'bench-end')
    t
  end
end

def rabbitmq_pubsub(impl, n)
  sub = impl::Connection.new(params(RABBIT_PORT))
  pub = impl::Connection.new(params(RABBIT_PORT))
  dest = "/queue/stomp-ffi-bench-#{impl.name}-#{Process.pid}"
  sub.subscribe(dest, { id: 'b', receipt: 'subscribed' }, 'b')
  sub.receive # the RECEIPT
  t = timed do
    n.times { pub.publish(dest, BODY, HEADERS) }
    n.times { sub.receive }
  end
  pub.disconnect
  sub.disconnect
  t
end

build_fixtures
results = {}
$stdout.sync = true
[['fixture publish', :fixture_publish], ['fixture receive', :fixture_receive],
 ['rabbitmq pubsub', :rabbitmq_pubsub]].each do |label, meth|
  [[StompFFI, N_FFI], [Stomp, N_GEM]].each do |impl, n|
    n = [n / 10, 1000].max if meth == :rabbitmq_pubsub
    begin
      secs, cpu = send(meth, impl, n)
    rescue StandardError => e
      puts "#{impl.name} #{label}: not measured (#{e.class}: #{e.message.lines.first.strip})"
      next
    end
    results[[label, impl]] = [n / secs, cpu * 1e6 / n]
    printf("%-9s %-16s %8d msgs %8.3f s %10.0f msg/s %8.1f cpu-us/msg\n", impl.name, label, n, secs, *results[[label, impl]])
  end
end
puts
results.keys.map(&:first).uniq.each do |label|
  ours = results[[label, StompFFI]]
  gem = results[[label, Stomp]]
  next unless ours && gem

  printf("%-16s StompFFI / stomp gem: throughput %.1fx, CPU per message %.1fx less\n", label, ours[0] / gem[0], gem[1] / ours[1])
end
