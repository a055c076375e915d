# peer_ruby.rb - the Ruby stomp gem (Debian ruby-stomp) on the same fixtures as libstomp.
#
#   ruby peer_ruby.rb publish PORT N [BODY_BYTES]   against fixture_swallow
#   ruby peer_ruby.rb receive PORT N                against fixture_blast
#   ruby peer_ruby.rb broker-pubsub PORT N [BODY_BYTES]   against RabbitMQ
#
# The gem speaks 1.0 unless connect_headers has both accept-version and host. publish: N publish()
# calls with a content type and two headers, then disconnect with a receipt, which the gem waits
# for. receive: receive() until N MESSAGEs. broker-pubsub: one connection subscribes to a queue of
# its own, another publishes N messages to it (via /amq/queue/, which does not redeclare it), then
# the first receives them (one thread: RabbitMQ holds them meanwhile); timed until the N-th. Prints "ruby-stomp MODE msgs seconds msg_per_s cpu".
require 'stomp'

def cpu
  Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
end

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def result(mode, n, t, c)
  printf("ruby-stomp %s %d %.6f %.0f %.6f\n", mode, n, t, n / t, c)
  $stdout.flush
end

mode, port, n = ARGV[0], ARGV[1].to_i, ARGV[2].to_i
size = (ARGV[3] || '100').to_i
conn = Stomp::Connection.new(
  hosts: [{ login: 'guest', passcode: 'guest', host: '127.0.0.1', port: port }],
  connect_headers: { 'accept-version' => '1.2', 'host' => '/' },
  reliable: false
)
case mode
when 'publish'
  body = 'x' * size
  headers = { 'content-type' => 'text/plain', 'x-bench-a' => 'alpha', 'x-bench-b' => 'beta' }
  t0, c0 = now, cpu
  n.times { conn.publish('/queue/bench', body, headers) }
  conn.disconnect(receipt: 'bench-end')
  result('publish', n, now - t0, cpu - c0)
when 'receive'
  t0, c0 = now, cpu
  conn.subscribe('/queue/bench', id: '0', ack: 'auto')
  i = 0
  while i < n
    m = conn.receive
    abort("ruby-stomp: connection ended after #{i} messages") if m.nil?
    i += 1 if m.command == 'MESSAGE'
  end
  result('receive', n, now - t0, cpu - c0)
  conn.disconnect(receipt: 'bench-end')
when 'broker-pubsub'
  pub = Stomp::Connection.new(
    hosts: [{ login: 'guest', passcode: 'guest', host: '127.0.0.1', port: port }],
    connect_headers: { 'accept-version' => '1.2', 'host' => '/' },
    reliable: false
  )
  name = "libstomp-bench-pubsub-rb-#{Process.pid}"
  body = 'x' * size
  conn.subscribe("/queue/#{name}", id: '0', ack: 'auto', durable: 'false', 'auto-delete' => 'true',
                                    receipt: 'bench-sub')
  loop do # the RECEIPT: the queue exists before the first publish
    f = conn.receive
    abort('ruby-stomp: connection ended before the RECEIPT') if f.nil?
    break if f.command == 'RECEIPT'
  end
  t0, c0 = now, cpu
  n.times { pub.publish("/amq/queue/#{name}", body, 'content-type' => 'text/plain') }
  i = 0
  while i < n
    m = conn.receive
    abort("ruby-stomp: connection ended after #{i} messages") if m.nil?
    i += 1 if m.command == 'MESSAGE'
  end
  result('broker-pubsub', n, now - t0, cpu - c0)
  pub.disconnect(receipt: 'bench-end-pub')
  conn.disconnect(receipt: 'bench-end')
else
  abort("unknown mode #{mode}")
end
