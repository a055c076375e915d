//! The application-driven loop (`EventLoop`, `stomp_loop_*` in C), against RabbitMQ: one thread
//! polls the loop's descriptor with `poll(2)`, honours its deadline and calls `process`; every
//! callback comes on that thread. `FaultProxy` (tests/common) drops the link to test reconnect.

mod common;

use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use common::fault_proxy::FaultProxy;
use common::*;
use stomp::*;

/// One turn of the application's loop: `poll(2)` on the loop's descriptor for at most its
/// deadline (and `cap`), then `process` without waiting.
fn turn(ev: &EventLoop, cap: Duration) {
    let wait = ev.timeout().map_or(cap, |t| t.min(cap));
    let mut pfd = libc::pollfd {
        fd: ev.fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(n >= 0, "poll failed: {}", std::io::Error::last_os_error());
    ev.process(Duration::ZERO).expect("process");
}

/// Drives the loop until `done` holds, or panics after `limit` naming `what`.
fn drive_until(ev: &EventLoop, limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < end,
            "timed out driving the loop until {what}"
        );
        turn(ev, Duration::from_millis(100));
    }
}

/// Records the thread each callback ran on, as well as what `Recorder` records.
struct OnThread {
    rec: Arc<Recorder>,
    threads: std::sync::Mutex<Vec<ThreadId>>,
}

impl OnThread {
    fn note(&self) {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
    }
}

impl Listener for OnThread {
    fn on_connected(&self, f: &Frame) {
        self.note();
        self.rec.on_connected(f);
    }
    fn on_disconnected(&self) {
        self.note();
        self.rec.on_disconnected();
    }
    fn on_message(&self, f: &Frame) {
        self.note();
        self.rec.on_message(f);
    }
    fn on_receipt(&self, f: &Frame) {
        self.note();
        self.rec.on_receipt(f);
    }
    fn on_heartbeat(&self) {
        self.note();
        self.rec.on_heartbeat();
    }
    fn on_heartbeat_timeout(&self) {
        self.note();
        self.rec.on_heartbeat_timeout();
    }
    fn wants_send(&self) -> bool {
        false
    }
}

fn recorder() -> Arc<OnThread> {
    Arc::new(OnThread {
        rec: Recorder::new(),
        threads: Default::default(),
    })
}

fn count(l: &OnThread, event: &str) -> usize {
    let s = l.rec.state.lock().unwrap();
    s.events.iter().filter(|e| *e == event).count()
}

fn bodies(l: &OnThread) -> Vec<String> {
    l.rec
        .messages()
        .iter()
        .map(|m| String::from_utf8_lossy(m.body()).into_owned())
        .collect()
}

/// Two connections on one application loop, 1 s heart-beats both ways, 5 s of traffic; half-way
/// the proxy drops the consumer's link: it reconnects, re-subscribes, and messages flow again.
#[test]
fn heartbeats_messages_and_a_reconnect_on_the_applications_thread() {
    let ev = EventLoop::new().unwrap();
    let proxy = FaultProxy::start(Broker::RabbitMq.port());
    let mut o = Options::new().host("127.0.0.1", proxy.port());
    o.vhost = Some("/".into());
    o.heartbeats = (1000, 1000);
    o.auto_reconnect = true;
    o.reconnect = fast_retry();
    let consumer = ev.connection(o).unwrap();
    let producer = ev
        .connection(Broker::RabbitMq.options(Version::V1_2))
        .unwrap();
    let (lc, lp) = (recorder(), recorder());
    consumer.set_listener("rec", lc.clone());
    producer.set_listener("rec", lp.clone());

    // On the loop's own thread, waiting calls would wait for themselves.
    let e = consumer
        .connect(login(), passcode(), &[], true)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::WouldDeadlock, "{}", e.message);
    consumer.connect(login(), passcode(), &[], false).unwrap();
    producer.connect(login(), passcode(), &[], false).unwrap();
    drive_until(&ev, Duration::from_secs(10), "both are connected", || {
        consumer.is_connected() && producer.is_connected()
    });

    let queue = format!("/queue/stomp-ext-loop-{}", std::process::id());
    consumer
        .subscribe(&queue, None, AckMode::Auto, &[("receipt", "sub")])
        .unwrap();
    drive_until(
        &ev,
        Duration::from_secs(5),
        "the subscription's receipt",
        || {
            lc.rec
                .state
                .lock()
                .unwrap()
                .receipts
                .contains(&"sub".to_owned())
        },
    );
    // A receipt still to come cannot be waited for here; one that came answers at once.
    consumer
        .wait_receipt("sub", Duration::from_secs(1))
        .unwrap();
    producer
        .send(&queue, b"m-first", None, &[("receipt", "first")])
        .unwrap();
    let e = producer
        .wait_receipt("first", Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::WouldDeadlock, "{}", e.message);

    // 5 s: a message every 250 ms; the link dropped at 2.5 s.
    let start = Instant::now();
    let (mut sent, mut dropped) = (0, false);
    while start.elapsed() < Duration::from_secs(5) {
        if start.elapsed() >= Duration::from_millis(250 * sent) {
            producer
                .send(&queue, format!("m{sent}").as_bytes(), None, &[])
                .unwrap();
            sent += 1;
        }
        if !dropped && start.elapsed() >= Duration::from_millis(2500) {
            proxy.drop_links();
            dropped = true;
        }
        turn(&ev, Duration::from_millis(50));
    }
    let last = format!("m{}", sent - 1);
    drive_until(
        &ev,
        Duration::from_secs(10),
        "the last message arrives",
        || bodies(&lc).contains(&last),
    );

    assert_eq!(
        count(&lc, "disconnected"),
        1,
        "{:?}",
        lc.rec.state.lock().unwrap().events
    );
    assert_eq!(count(&lc, "connected"), 2, "one connect, one reconnect");
    let stats = consumer.stats();
    assert_eq!(stats.reconnects, 1, "{stats:?}");
    // 1 s both ways was agreed; the consumer sends nothing else, so its beats (about one a second)
    // come from the loop's timers alone, and the broker's traffic kept its receive check quiet.
    assert_eq!(
        consumer.heartbeats(),
        (Duration::from_secs(1), Duration::from_secs(1))
    );
    assert!(stats.heartbeats_sent >= 3, "{stats:?}");
    assert_eq!(stats.heartbeat_timeouts, 0, "{stats:?}");
    let got = bodies(&lc);
    let after: Vec<_> = (sent / 2 + 2..sent).map(|i| format!("m{i}")).collect();
    for m in &after {
        assert!(
            got.contains(m),
            "{m} (sent after the reconnect) is missing from {got:?}"
        );
    }
    // Every callback ran here, inside `process`.
    let me = std::thread::current().id();
    for l in [&lc, &lp] {
        let t = l.threads.lock().unwrap();
        assert!(!t.is_empty());
        assert!(
            t.iter().all(|t| *t == me),
            "a callback ran on another thread"
        );
    }

    // A graceful end without waiting: DISCONNECT goes out on the next turns, the link closes on
    // its receipt, and the listeners hear it here.
    for (c, l) in [(&consumer, &lc), (&producer, &lp)] {
        c.disconnect(None, Duration::ZERO).unwrap();
        drive_until(&ev, Duration::from_secs(5), "the link is closed", || {
            !c.is_connected() && count(l, "disconnected") >= 1
        });
    }
    assert_eq!(count(&lc, "disconnected"), 2);
}

/// Calls from another thread wait as usual while the loop's thread drives.
#[test]
fn another_thread_may_wait_while_the_loops_thread_drives() {
    let ev = EventLoop::new().unwrap();
    let mut o = Broker::RabbitMq.options(Version::V1_2);
    o.receive_queue = 16;
    let c = Arc::new(ev.connection(o).unwrap());
    let c2 = c.clone();
    let queue = format!("/queue/stomp-ext-loop-wait-{}", std::process::id());
    let q2 = queue.clone();
    let other = std::thread::spawn(move || -> Result<Frame> {
        c2.connect(login(), passcode(), &[], true)?;
        c2.subscribe(&q2, None, AckMode::Auto, &[])?;
        c2.send(&q2, b"hello", None, &[("receipt", "r")])?;
        c2.wait_receipt("r", Duration::from_secs(5))?;
        c2.receive(Duration::from_secs(5))
    });
    drive_until(
        &ev,
        Duration::from_secs(15),
        "the other thread is done",
        || other.is_finished(),
    );
    let m = other.join().unwrap().unwrap();
    assert_eq!(m.body(), b"hello");
    // Here, on the loop's thread, an empty queue cannot be waited on; 0 still answers.
    assert_eq!(
        c.receive(Duration::from_millis(10)).unwrap_err().kind,
        ErrorKind::WouldDeadlock
    );
    assert_eq!(
        c.receive(Duration::ZERO).unwrap_err().kind,
        ErrorKind::Timeout
    );
}

/// A callback that calls `process` of its own loop is refused (it would run itself).
#[test]
fn process_from_a_callback_of_the_same_loop_is_refused() {
    struct Nested {
        ev: std::sync::OnceLock<Arc<EventLoop>>,
        got: std::sync::Mutex<Option<Result<usize>>>,
    }
    impl Listener for Nested {
        fn on_connected(&self, _f: &Frame) {
            let r = self.ev.get().unwrap().process(Duration::ZERO);
            *self.got.lock().unwrap() = Some(r);
        }
    }
    let ev = Arc::new(EventLoop::new().unwrap());
    let l = Arc::new(Nested {
        ev: Default::default(),
        got: Default::default(),
    });
    let _ = l.ev.set(ev.clone());
    let c = ev
        .connection(Broker::RabbitMq.options(Version::V1_2))
        .unwrap();
    c.set_listener("nested", l.clone());
    c.connect(login(), passcode(), &[], false).unwrap();
    drive_until(&ev, Duration::from_secs(10), "on_connected ran", || {
        l.got.lock().unwrap().is_some()
    });
    let e = l.got.lock().unwrap().take().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::WouldDeadlock, "{}", e.message);
    // The loop goes on: a graceful end, driven here.
    c.disconnect(None, Duration::ZERO).unwrap();
    drive_until(&ev, Duration::from_secs(5), "the link is closed", || {
        !c.is_connected()
    });
}

/// The receive heart-beat is checked by the loop's deadline alone: a link stalled by the proxy
/// (sockets open, nothing forwarded) is declared dead on time, as in the threaded mode.
#[test]
fn a_stalled_link_times_out_on_the_loops_deadline() {
    let ev = EventLoop::new().unwrap();
    let proxy = FaultProxy::start(Broker::RabbitMq.port());
    let mut o = Options::new().host("127.0.0.1", proxy.port());
    o.vhost = Some("/".into());
    o.heartbeats = (0, 1000);
    let c = ev.connection(o).unwrap();
    let l = recorder();
    c.set_listener("rec", l.clone());
    c.connect(login(), passcode(), &[], false).unwrap();
    drive_until(&ev, Duration::from_secs(10), "two heart-beats", || {
        l.rec.state.lock().unwrap().beats >= 2
    });
    proxy.stall();
    let stalled = Instant::now();
    drive_until(&ev, Duration::from_secs(10), "a heart-beat timeout", || {
        count(&l, "heartbeat_timeout") == 1
    });
    let took = stalled.elapsed();
    // Receive interval 1000 ms x scale 1.5 = 1500 ms after the last byte, at most; 20% margin.
    assert!(
        took <= Duration::from_millis(1800),
        "detected {took:?} after the stall"
    );
    drive_until(&ev, Duration::from_secs(5), "disconnected", || {
        count(&l, "disconnected") == 1
    });
    assert_eq!(c.last_error().unwrap().kind, ErrorKind::Timeout);
}
