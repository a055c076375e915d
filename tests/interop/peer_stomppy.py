#!/usr/bin/python3
"""peer_stomppy.py - the stomp.py peer of the interoperability tests (Debian python3-stomp 8.0.0).

    peer_stomppy.py send|recv --port P --version 1.0|1.1|1.2 --dest D --count N
                    --kind text|binary|headers [--host 127.0.0.1] [--broker rabbitmq|activemq]
                    [--ready-file F] [--timeout S] [--quiet]

Same roles, message set and exit status as peer.c (see tests/interop/README.md): 0 all equal,
1 a mismatch, 2 usage, 3 a connection error or timeout. Run it with /usr/bin/python3.
"""
import argparse
import os
import queue
import sys
import threading
import time

import stomp

RABBIT_EXPIRES = "120000"
BIN_LENS = (2, 300, 4099, 70000, 3)
TEXT_UNIT = "Grüße aus Köln ✓ 日本語 🚀 €\r\n"


# ---------------------------------------------------------------------------------------------
# the message set (keep in step with README.md, peer.c and peer_ruby.rb)

def content_type_of(kind):
    return "application/octet-stream" if kind == "binary" else "text/plain; charset=utf-8"


def expected_headers(ver, kind, i):
    """The headers every receiver checks, in order (content-type is checked apart)."""
    h = [("x-interop-index", str(i)), ("x-interop-kind", kind)]
    if kind != "headers":
        return h
    h += [
        ("x-colon", "a:b::c:"),
        ("x-url", "http://127.0.0.1:61613/queue?x=1&y=2"),
        ("x-utf8", "Grüße ✓ 日本語 🚀"),
        ("x-space", "a = b; c d"),
        ("x-value", "value-%d:%d" % (i, i * i)),
    ]
    if ver >= 11:
        h += [
            ("x-newline", "line1\nline2\n\nline4"),
            ("x-backslash", "C:\\Users\\stomp\\dir\\"),
            ("x-mixed", "k:v\\\n:end"),
            ("x-escapes", "dir\\new\\config\\rest\\\\"),
        ]
    if ver >= 12:
        h.append(("x-cr", "a\rb\r\nc"))
    return h


def expected_body(kind, i):
    if kind == "binary":
        n = BIN_LENS[i % 5] + i // 5
        b = bytearray((j * 7 + i * 13) & 0xFF for j in range(n))
        b[0] = 0x00
        b[n - 1] = 0xFF
        return bytes(b)
    if kind == "text":
        reps = 1 + (i * 37) % 200
        return ("text message %d\n" % i + TEXT_UNIT * reps).encode("utf-8")
    return ("headers message %d" % i).encode("utf-8")


def print_skipped(ver, kind, quiet):
    if kind != "headers" or quiet:
        return
    if ver == 10:
        print("note: STOMP 1.0 set: x-newline skipped (1.0 cannot carry a newline in a header); "
              "x-backslash, x-mixed, x-escapes skipped (1.0 has no escaping: RabbitMQ closes the connection on a raw "
              "backslash, stomp.py and the Ruby gem unescape 1.0 headers anyway); x-cr skipped (1.2 only)")
    elif ver == 11:
        print("note: STOMP 1.1 set: x-cr skipped (1.1 has no \\r escape; 1.2 only)")


# ---------------------------------------------------------------------------------------------

def fnv1a(data):
    h = 2166136261
    for c in data:
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def esc(s):
    out = []
    for ch in s:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class Listener(stomp.ConnectionListener):
    def __init__(self):
        self.messages = queue.Queue()
        self.receipts = set()
        self.cond = threading.Condition()
        self.errors = []
        self.disconnected = False
        self.connected_version = None
        # stomp.py's connect(wait=True) returns once its transport is marked connected, which is
        # before the listeners hear on_connected: check_version waits for this.
        self.connected = threading.Event()

    def on_connected(self, frame):
        self.connected_version = frame.headers.get("version")
        self.connected.set()

    def on_message(self, frame):
        self.messages.put(frame)

    def on_receipt(self, frame):
        with self.cond:
            self.receipts.add(frame.headers.get("receipt-id"))
            self.cond.notify_all()

    def on_error(self, frame):
        print("peer_stomppy: ERROR frame: %r %r" % (frame.headers, frame.body), file=sys.stderr)
        with self.cond:
            self.errors.append(frame)
            self.cond.notify_all()

    def on_disconnected(self):
        with self.cond:
            self.disconnected = True
            self.cond.notify_all()

    def wait_receipt(self, rid, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while rid not in self.receipts and not self.errors and not self.disconnected:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return rid in self.receipts


def without_content_length(kind):
    """Text goes without content-length (NUL-terminated), the other kinds with it."""
    return kind == "text"


def open_conn(a):
    hp = [(a.host, a.port)]
    rabbit = a.broker == "rabbitmq"
    common = dict(reconnect_attempts_max=1, timeout=5.0, auto_decode=False,
                  auto_content_length=not (a.mode == "send" and without_content_length(a.kind)))
    if a.ver == 10:
        c = stomp.Connection10(hp, **common)
    elif a.ver == 11:
        # stomp.py sends `host` under 1.1 only with a vhost; RabbitMQ wants "/".
        c = stomp.Connection11(hp, vhost="/" if rabbit else None, **common)
    else:
        # Under 1.2 stomp.py always sends `host` (the address unless vhost is given).
        c = stomp.Connection12(hp, vhost="/" if rabbit else None, **common)
    lst = Listener()
    c.set_listener("peer", lst)
    try:
        c.connect("guest", "guest", wait=True)
    except Exception as e:  # ConnectFailedException and socket errors
        print("peer_stomppy: connect failed: %r" % (e,), file=sys.stderr)
        sys.exit(3)
    return c, lst


def check_version(lst, a):
    # The version the broker chose, from CONNECTED (a 1.0 broker may leave it out).
    want = "%d.%d" % (a.ver // 10, a.ver % 10)
    if not lst.connected.wait(a.timeout):
        print("peer_stomppy: connected, but on_connected never came", file=sys.stderr)
        sys.exit(3)
    v = lst.connected_version
    if v != want and not (a.ver == 10 and v is None):
        print("peer_stomppy: negotiated version %s, asked for %s" % (v, want), file=sys.stderr)
        sys.exit(3)


def do_send(a):
    c, lst = open_conn(a)
    check_version(lst, a)
    print_skipped(a.ver, a.kind, a.quiet)
    rabbit = a.broker == "rabbitmq"
    rid = "peer-sent-%d" % os.getpid()
    for i in range(a.count):
        body = expected_body(a.kind, i)
        exp = expected_headers(a.ver, a.kind, i)
        h = dict(exp)
        h["x-interop-sender"] = "stomp.py"
        if rabbit:
            h["x-expires"] = RABBIT_EXPIRES
        if i == a.count - 1:
            h["receipt"] = rid
        c.send(a.dest, body, content_type=content_type_of(a.kind), headers=h)
        if not a.quiet:
            print("sent #%d: body %d bytes fnv1a=%08x, %d headers, %s" % (
                i, len(body), fnv1a(body), len(exp),
                "no content-length" if without_content_length(a.kind) else "content-length"))
    if not lst.wait_receipt(rid, a.timeout):
        print("peer_stomppy: no RECEIPT for the last message", file=sys.stderr)
        sys.exit(3)
    c.disconnect()
    print("send: %d %s messages sent (STOMP %d.%d)" % (a.count, a.kind, a.ver // 10, a.ver % 10))
    return 0


def check_message(a, frame, i):
    bad = 0
    exp = expected_body(a.kind, i)
    got = frame.body
    if isinstance(got, str):  # should not happen with auto_decode=False
        got = got.encode("utf-8")
    if not a.quiet:
        print("recv #%d from %s:" % (i, frame.headers.get("x-interop-sender", "(no x-interop-sender)")))
    if got == exp:
        if not a.quiet:
            cl = frame.headers.get("content-length")
            print("  body: %d bytes fnv1a=%08x equal (MESSAGE %s)" % (
                len(got), fnv1a(got), "content-length:" + cl if cl is not None else "without content-length"))
    else:
        d = 0
        while d < len(exp) and d < len(got) and exp[d] == got[d]:
            d += 1
        print("  MISMATCH body: expected %d bytes fnv1a=%08x, got %d bytes fnv1a=%08x, first difference at byte %d"
              % (len(exp), fnv1a(exp), len(got), fnv1a(got), d))
        bad += 1
    for name, value in expected_headers(a.ver, a.kind, i) + [("content-type", content_type_of(a.kind))]:
        v = frame.headers.get(name)
        if v == value:
            if not a.quiet:
                print("  header %s: %s equal" % (name, esc(v)))
        else:
            print("  MISMATCH header %s: expected %s, got %s" % (name, esc(value), esc(v) if v is not None else "none"))
            bad += 1
    return bad


def do_recv(a):
    c, lst = open_conn(a)
    check_version(lst, a)
    print_skipped(a.ver, a.kind, a.quiet)
    rid = "peer-sub-%d" % os.getpid()
    h = {"receipt": rid}
    if a.broker == "rabbitmq":
        h["x-expires"] = RABBIT_EXPIRES
    c.subscribe(a.dest, id="1", ack="auto", headers=h)
    if not lst.wait_receipt(rid, 10):
        print("peer_stomppy: no RECEIPT for SUBSCRIBE", file=sys.stderr)
        sys.exit(3)
    if a.ready_file:
        tmp = a.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("ready\n")
        os.rename(tmp, a.ready_file)
    if not a.quiet:
        print("subscribed to %s (receipt %s), ready" % (a.dest, rid))
    deadline = time.monotonic() + a.timeout
    bad = 0
    for i in range(a.count):
        try:
            frame = lst.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            print("recv: got %d of %d messages before the timeout" % (i, a.count))
            sys.exit(3)
        idx = frame.headers.get("x-interop-index")
        if idx != str(i):
            print("  note: message #%d carries x-interop-index %s (out of order?)" % (i, idx))
        bad += check_message(a, frame, i)
    try:
        frame = lst.messages.get(timeout=0.3)
        print("  MISMATCH: an extra message arrived (x-interop-index %s)" % frame.headers.get("x-interop-index"))
        bad += 1
    except queue.Empty:
        if not a.quiet:
            print("no extra message within 300 ms")
    c.disconnect()
    print("recv: %d %s messages, STOMP %d.%d, %s" % (a.count, a.kind, a.ver // 10, a.ver % 10,
                                                     "MISMATCHES" if bad else "all bodies and headers equal"))
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["send", "recv"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1"])
    p.add_argument("--version", required=True, choices=["1.0", "1.1", "1.2"])
    p.add_argument("--dest", required=True)
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--kind", required=True, choices=["text", "binary", "headers"])
    p.add_argument("--broker", choices=["rabbitmq", "activemq"])
    p.add_argument("--ready-file")
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    a.ver = {"1.0": 10, "1.1": 11, "1.2": 12}[a.version]
    if a.broker is None:
        a.broker = "rabbitmq" if a.port == 61613 else "activemq"
    return do_send(a) if a.mode == "send" else do_recv(a)


if __name__ == "__main__":
    sys.exit(main())
