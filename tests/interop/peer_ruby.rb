#!/usr/bin/ruby
# frozen_string_literal: true
#
# peer_ruby.rb - the Ruby stomp gem peer of the interoperability tests (Debian ruby-stomp 1.4.10).
#
#   peer_ruby.rb send|recv --port P --version 1.0|1.1|1.2 --dest D --count N
#                --kind text|binary|headers [--host 127.0.0.1] [--broker rabbitmq|activemq]
#                [--ready-file F] [--timeout S] [--quiet]
#
# Same roles, message set and exit status as peer.c (see tests/interop/README.md): 0 all equal,
# 1 a mismatch, 2 usage, 3 a connection error or timeout. Uses the gem's synchronous
# Stomp::Connection (no listener threads). The gem speaks 1.0 unless connect_headers carry both
# accept-version and host.

require 'stomp'
require 'timeout'

RABBIT_EXPIRES = '120000'
BIN_LENS = [2, 300, 4099, 70_000, 3].freeze
TEXT_UNIT = "Grüße aus Köln ✓ 日本語 🚀 €\r\n"

# ---------------------------------------------------------------------------------------------
# the message set (keep in step with README.md, peer.c and peer_stomppy.py)

def content_type_of(kind)
  kind == 'binary' ? 'application/octet-stream' : 'text/plain; charset=utf-8'
end

# The headers every receiver checks, in order (content-type is checked apart).
def expected_headers(ver, kind, i)
  h = [['x-interop-index', i.to_s], ['x-interop-kind', kind]]
  return h unless kind == 'headers'

  h += [
    ['x-colon', 'a:b::c:'],
    ['x-url', 'http://127.0.0.1:61613/queue?x=1&y=2'],
    ['x-utf8', 'Grüße ✓ 日本語 🚀'],
    ['x-space', 'a = b; c d'],
    ['x-value', "value-#{i}:#{i * i}"]
  ]
  if ver >= 11
    h += [
      ['x-newline', "line1\nline2\n\nline4"],
      ['x-backslash', 'C:\\Users\\stomp\\dir\\'],
      ['x-mixed', "k:v\\\n:end"],
      ['x-escapes', 'dir\\new\\config\\rest\\\\']
    ]
  end
  h << ['x-cr', "a\rb\r\nc"] if ver >= 12
  h
end

def expected_body(kind, i)
  case kind
  when 'binary'
    n = BIN_LENS[i % 5] + i / 5
    b = Array.new(n) { |j| (j * 7 + i * 13) & 0xFF }
    b[0] = 0x00
    b[n - 1] = 0xFF
    b.pack('C*')
  when 'text'
    reps = 1 + (i * 37) % 200
    ("text message #{i}\n" + TEXT_UNIT * reps).b
  else
    "headers message #{i}".b
  end
end

def print_skipped(ver, kind, quiet)
  return if kind != 'headers' || quiet

  if ver == 10
    puts 'note: STOMP 1.0 set: x-newline skipped (1.0 cannot carry a newline in a header); ' \
         'x-backslash, x-mixed, x-escapes skipped (1.0 has no escaping: RabbitMQ closes the connection on a raw ' \
         'backslash, stomp.py and the Ruby gem unescape 1.0 headers anyway); x-cr skipped (1.2 only)'
  elsif ver == 11
    puts 'note: STOMP 1.1 set: x-cr skipped (1.1 has no \\r escape; 1.2 only)'
  end
end

# ---------------------------------------------------------------------------------------------

def fnv1a(data)
  h = 2_166_136_261
  data.each_byte { |c| h = ((h ^ c) * 16_777_619) & 0xFFFFFFFF }
  h
end

def esc(s)
  out = +'"'
  s.dup.force_encoding('UTF-8').each_char do |ch|
    out << case ch
           when "\n" then '\\n'
           when "\r" then '\\r'
           when '\\' then '\\\\'
           when '"' then '\\"'
           else
             ch.valid_encoding? && ch.ord >= 0x20 && ch.ord != 0x7F ? ch : format('\\x%02x', ch.bytes[0])
           end
  end
  out << '"'
end

def die(msg, code = 3)
  warn "peer_ruby: #{msg}"
  exit code
end

Args = Struct.new(:mode, :port, :host, :ver, :dest, :count, :kind, :broker, :ready_file, :timeout, :quiet)

def usage
  warn 'usage: peer_ruby.rb send|recv --port P --version 1.0|1.1|1.2 --dest D --count N ' \
       '--kind text|binary|headers [--host H] [--broker rabbitmq|activemq] [--ready-file F] [--timeout S] [--quiet]'
  exit 2
end

def parse(argv)
  a = Args.new(argv[0], nil, '127.0.0.1', nil, nil, 5, nil, nil, nil, 20.0, false)
  usage unless %w[send recv].include?(a.mode)
  k = 1
  while k < argv.size
    o = argv[k]
    if o == '--quiet'
      a.quiet = true
      k += 1
      next
    end
    v = argv[k + 1] or usage
    case o
    when '--port' then a.port = Integer(v)
    when '--host' then a.host = v
    when '--version' then a.ver = { '1.0' => 10, '1.1' => 11, '1.2' => 12 }[v] || usage
    when '--dest' then a.dest = v
    when '--count' then a.count = Integer(v)
    when '--kind' then a.kind = v
    when '--broker' then a.broker = v
    when '--ready-file' then a.ready_file = v
    when '--timeout' then a.timeout = Float(v)
    else usage
    end
    k += 2
  end
  usage unless a.port && a.ver && a.dest && a.count.positive? && %w[text binary headers].include?(a.kind)
  usage unless ['127.0.0.1', '::1'].include?(a.host)
  a.broker ||= a.port == 61_613 ? 'rabbitmq' : 'activemq'
  usage unless %w[rabbitmq activemq].include?(a.broker)
  a
end

# Text goes without content-length (NUL-terminated), the other kinds with it.
def without_content_length(kind)
  kind == 'text'
end

def open_conn(a)
  ch = {}
  if a.ver >= 11
    # The gem speaks 1.1/1.2 only with both headers; RabbitMQ wants the vhost "/" as host.
    ch[:'accept-version'] = a.ver == 11 ? '1.1' : '1.2'
    ch[:host] = a.broker == 'rabbitmq' ? '/' : a.host
  end
  params = {
    hosts: [{ login: 'guest', passcode: 'guest', host: a.host, port: a.port, ssl: false }],
    reliable: false,
    connect_timeout: 5,
    connread_timeout: 5,
    connect_headers: ch,
    closed_check: true
  }
  c = Timeout.timeout(10) { Stomp::Connection.new(params) }
  die("connect: #{c.connection_frame.command} #{c.connection_frame.headers.inspect}") unless
    c.connection_frame && c.connection_frame.command == 'CONNECTED'
  want = format('%d.%d', a.ver / 10, a.ver % 10)
  die("negotiated version #{c.protocol}, asked for #{want}") unless c.protocol == want
  c
rescue StandardError, Timeout::Error => e
  die("connect failed: #{e.class}: #{e.message}")
end

# The next frame, or nil after `left` seconds.
def next_frame(c, left)
  return nil if left <= 0

  Timeout.timeout(left) { c.receive }
rescue Timeout::Error
  nil
end

def wait_receipt(c, rid, secs)
  f = next_frame(c, secs)
  die('no RECEIPT: timeout') unless f
  die("ERROR frame: #{f.headers.inspect} #{f.body.inspect}") if f.command == 'ERROR'
  die("expected RECEIPT #{rid}, got #{f.command} #{f.headers.inspect}") unless
    f.command == 'RECEIPT' && f.headers['receipt-id'] == rid
end

def do_send(a)
  c = open_conn(a)
  print_skipped(a.ver, a.kind, a.quiet)
  rid = "peer-sent-#{Process.pid}"
  a.count.times do |i|
    body = expected_body(a.kind, i)
    exp = expected_headers(a.ver, a.kind, i)
    h = {}
    exp.each { |n, v| h[n.to_sym] = v }
    h[:'content-type'] = content_type_of(a.kind)
    h[:'x-interop-sender'] = 'ruby-stomp'
    h[:'x-expires'] = RABBIT_EXPIRES if a.broker == 'rabbitmq'
    h[:receipt] = rid if i == a.count - 1
    h[:suppress_content_length] = true if without_content_length(a.kind)
    c.publish(a.dest, body, h)
    puts format('sent #%d: body %d bytes fnv1a=%08x, %d headers, %s', i, body.bytesize, fnv1a(body), exp.size,
                without_content_length(a.kind) ? 'no content-length' : 'content-length') unless a.quiet
  end
  wait_receipt(c, rid, a.timeout)
  c.disconnect(receipt: "peer-bye-#{Process.pid}")
  puts format('send: %d %s messages sent (STOMP %d.%d)', a.count, a.kind, a.ver / 10, a.ver % 10)
  0
end

# The header escaping of STOMP 1.1/1.2, done right (the wire form a correct sender produces).
SPEC_ESCAPES = { '\\' => '\\\\', "\n" => '\\n', ':' => '\\c', "\r" => '\\r' }.freeze
def spec_encode(v)
  v.gsub(/[\\\n:\r]/) { |ch| SPEC_ESCAPES[ch] }
end

# What this gem hands back for a header whose correct wire form is spec_encode(value): ruby-stomp
# 1.4.10 unescapes with sequential gsubs, so a literal backslash followed by n, r or c comes back
# as a newline, CR or colon. Comparing with that still checks the sender's wire form byte for byte.
def through_gem_decoder(value)
  Stomp::HeaderCodec.decode(spec_encode(value))
end

def check_message(a, f, i)
  bad = 0
  exp = expected_body(a.kind, i)
  got = f.body.b
  puts "recv ##{i} from #{f.headers['x-interop-sender'] || '(no x-interop-sender)'}:" unless a.quiet
  if got == exp
    cl = f.headers['content-length']
    puts format('  body: %d bytes fnv1a=%08x equal (MESSAGE %s)', got.bytesize, fnv1a(got),
                cl ? "content-length:#{cl}" : 'without content-length') unless a.quiet
  else
    d = 0
    d += 1 while d < exp.bytesize && d < got.bytesize && exp.getbyte(d) == got.getbyte(d)
    puts format('  MISMATCH body: expected %d bytes fnv1a=%08x, got %d bytes fnv1a=%08x, first difference at byte %d',
                exp.bytesize, fnv1a(exp), got.bytesize, fnv1a(got), d)
    bad += 1
  end
  (expected_headers(a.ver, a.kind, i) + [['content-type', content_type_of(a.kind)]]).each do |name, value|
    v = f.headers[name]
    v = v.first if v.is_a?(Array) # a repeated header: the first one wins
    if a.ver >= 11 && (lossy = through_gem_decoder(value)) != value
      puts "  note: #{name}: ruby-stomp's decoder turns the correct wire form #{esc(spec_encode(value))} " \
           "into #{esc(lossy)} (a gem limitation); compared with that" unless a.quiet
      value = lossy
    end
    if v && v.b == value.b
      puts "  header #{name}: #{esc(v)} equal" unless a.quiet
    else
      puts "  MISMATCH header #{name}: expected #{esc(value)}, got #{v ? esc(v) : 'none'}"
      bad += 1
    end
  end
  bad
end

def do_recv(a)
  c = open_conn(a)
  print_skipped(a.ver, a.kind, a.quiet)
  rid = "peer-sub-#{Process.pid}"
  h = { id: '1', ack: 'auto', receipt: rid }
  h[:'x-expires'] = RABBIT_EXPIRES if a.broker == 'rabbitmq'
  c.subscribe(a.dest, h)
  wait_receipt(c, rid, 10)
  if a.ready_file
    File.write("#{a.ready_file}.tmp", "ready\n")
    File.rename("#{a.ready_file}.tmp", a.ready_file)
  end
  puts "subscribed to #{a.dest} (receipt #{rid}), ready" unless a.quiet
  deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + a.timeout
  bad = 0
  a.count.times do |i|
    f = next_frame(c, deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC))
    unless f
      puts "recv: got #{i} of #{a.count} messages before the timeout"
      exit 3
    end
    die("ERROR frame: #{f.headers.inspect} #{f.body.inspect}") if f.command == 'ERROR'
    die("unexpected #{f.command} frame") unless f.command == 'MESSAGE'
    idx = f.headers['x-interop-index']
    puts "  note: message ##{i} carries x-interop-index #{idx.inspect} (out of order?)" unless idx == i.to_s
    bad += check_message(a, f, i)
  end
  extra = next_frame(c, 0.3)
  if extra
    puts "  MISMATCH: an extra #{extra.command} arrived (x-interop-index #{extra.headers['x-interop-index'].inspect})"
    bad += 1
  else
    puts 'no extra message within 300 ms' unless a.quiet
  end
  c.disconnect(receipt: "peer-bye-#{Process.pid}")
  puts format('recv: %d %s messages, STOMP %d.%d, %s', a.count, a.kind, a.ver / 10, a.ver % 10,
              bad.positive? ? 'MISMATCHES' : 'all bodies and headers equal')
  bad.positive? ? 1 : 0
end

$stdout.sync = true
a = parse(ARGV)
exit(a.mode == 'send' ? do_send(a) : do_recv(a))
