"""peer_stomppy.py - stomp.py (Debian python3-stomp, run with /usr/bin/python3) on the same fixtures
as libstomp.

  /usr/bin/python3 peer_stomppy.py publish PORT N [BODY_BYTES]   against fixture_swallow
  /usr/bin/python3 peer_stomppy.py receive PORT N                against fixture_blast
  /usr/bin/python3 peer_stomppy.py rtt PORT N [BODY_BYTES [WARMUP]]  against RabbitMQ
  /usr/bin/python3 peer_stomppy.py broker-pubsub PORT N [BODY_BYTES] against RabbitMQ

publish: N send() calls with a content type and two headers, then disconnect(receipt=...), which
waits for the RECEIPT. receive: an on_message listener that counts; the main thread waits on an
Event. broker-pubsub: one connection subscribes (listener counts) to a queue of its own, another
sends N messages to it (via /amq/queue/, which does not redeclare it); timed until the N-th arrives.
Prints "stomp.py MODE msgs seconds msg_per_s cpu_seconds" (+ "p50_us p99_us" for rtt).
"""
import os
import resource
import sys
import threading
import time

import stomp


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def result(mode, n, t, c, extra=""):
    print("stomp.py %s %d %.6f %.0f %.6f%s" % (mode, n, t, n / t, c, extra), flush=True)


class Counter(stomp.ConnectionListener):
    def __init__(self, post_at):
        self.count = 0
        self.post_at = post_at
        self.event = threading.Event()
        self.sem = threading.Semaphore(0)
        self.receipt = threading.Event()

    def on_receipt(self, frame):
        self.receipt.set()

    def on_message(self, frame):
        self.count += 1
        if self.post_at == 0:
            self.sem.release()
        elif self.count == self.post_at:
            self.event.set()


def main():
    mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    conn = stomp.Connection12([("127.0.0.1", port)], vhost="/", auto_decode=False)
    if mode == "publish":
        body = b"x" * size
        conn.connect("guest", "guest", wait=True)
        headers = {"x-bench-a": "alpha", "x-bench-b": "beta"}
        t0, c0 = time.monotonic(), cpu()
        for _ in range(n):
            conn.send("/queue/bench", body, content_type="text/plain", headers=headers)
        conn.disconnect(receipt="bench-end")
        result("publish", n, time.monotonic() - t0, cpu() - c0)
    elif mode == "receive":
        listener = Counter(n)
        conn.set_listener("bench", listener)
        conn.connect("guest", "guest", wait=True)
        t0, c0 = time.monotonic(), cpu()
        conn.subscribe("/queue/bench", id="0", ack="auto")
        if not listener.event.wait(120):
            sys.exit("stomp.py: timed out after %d messages" % listener.count)
        result("receive", n, time.monotonic() - t0, cpu() - c0)
        conn.disconnect(receipt="bench-end")
    elif mode == "rtt":
        body = b"x" * size
        listener = Counter(0)
        conn.set_listener("bench", listener)
        conn.connect("guest", "guest", wait=True)
        queue = "/queue/libstomp-bench-rtt-py-%d" % os.getpid()
        conn.subscribe(queue, id="0", ack="auto", headers={"durable": "false", "auto-delete": "true"})
        rtts = []
        t0 = c0 = 0.0
        for i in range(warmup + n):
            if i == warmup:
                t0, c0 = time.monotonic(), cpu()
            s = time.monotonic()
            conn.send(queue, body, content_type="text/plain")
            if not listener.sem.acquire(timeout=10):
                sys.exit("stomp.py: round trip timed out")
            if i >= warmup:
                rtts.append(time.monotonic() - s)
        t, c = time.monotonic() - t0, cpu() - c0
        rtts.sort()
        result("rtt", n, t, c, " %.1f %.1f" % (rtts[n // 2] * 1e6, rtts[n * 99 // 100] * 1e6))
        conn.disconnect(receipt="bench-end")
    elif mode == "broker-pubsub":
        body = b"x" * size
        listener = Counter(n)
        conn.set_listener("bench", listener)
        conn.connect("guest", "guest", wait=True)
        pub = stomp.Connection12([("127.0.0.1", port)], vhost="/", auto_decode=False)
        pub.connect("guest", "guest", wait=True)
        name = "libstomp-bench-pubsub-py-%d" % os.getpid()
        conn.subscribe("/queue/" + name, id="0", ack="auto",
                       headers={"durable": "false", "auto-delete": "true", "receipt": "bench-sub"})
        if not listener.receipt.wait(10):
            sys.exit("stomp.py: no RECEIPT for SUBSCRIBE")
        t0, c0 = time.monotonic(), cpu()
        for _ in range(n):
            pub.send("/amq/queue/" + name, body, content_type="text/plain")
        if not listener.event.wait(300):
            sys.exit("stomp.py: timed out after %d messages" % listener.count)
        result("broker-pubsub", n, time.monotonic() - t0, cpu() - c0)
        pub.disconnect(receipt="bench-end-pub")
        conn.disconnect(receipt="bench-end")
    else:
        sys.exit("unknown mode " + mode)


main()
