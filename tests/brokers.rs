//! The Rust API against real brokers (started by scripts/broker.sh), in every protocol version.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use stomp::*;

const T: Duration = Duration::from_secs(10);

fn each(f: impl Fn(Broker, Version)) {
    for b in BROKERS {
        for v in VERSIONS {
            f(b, v);
        }
    }
}

#[test]
fn connect_negotiates_the_asked_version_and_reports_the_server() {
    each(|b, v| {
        let c = b.connect(v, |_| {});
        assert_eq!(c.version(), Some(v), "{b:?}");
        let server = c.server().unwrap_or_default();
        let want = if b == Broker::RabbitMq {
            "RabbitMQ"
        } else {
            "ActiveMQ"
        };
        assert!(server.contains(want), "{b:?} {v}: server {server:?}");
        assert!(c.session_id().is_some());
        c.disconnect(None, T).unwrap();
        assert!(!c.is_connected());
        let e = c.send("/queue/x", b"late", None, &[]).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::NotConnected,
            "calls after disconnect fail"
        );
    });
}

#[test]
fn text_binary_and_escaped_headers_round_trip() {
    each(|b, v| {
        let c = b.connect(v, |o| o.receive_queue = 16);
        let q = unique_queue("roundtrip");
        c.subscribe(&q, None, AckMode::Auto, &[]).unwrap();
        // 1.0 has no escapes, so colons and backslashes go as they are. (RabbitMQ applies 1.1 escaping
        // to 1.0 frames anyway; the library does the same with it, so the value survives there too.)
        let odd = if v == Version::V1_0 {
            "colons:a:b back\\slash \\c"
        } else {
            "a:b\nc\\d"
        };
        c.send(&q, b"plain text", Some("text/plain"), &[("x-odd", odd)])
            .unwrap();
        let binary: Vec<u8> = (0..=255u8).chain([0, 0, 1]).collect();
        c.send(&q, &binary, Some("application/octet-stream"), &[])
            .unwrap();
        let m1 = c
            .receive(T)
            .unwrap_or_else(|e| panic!("{b:?} {v}: {e} / {:?}", c.last_error()));
        assert_eq!(m1.body(), b"plain text", "{b:?} {v}");
        assert_eq!(m1.header("x-odd"), Some(odd), "{b:?} {v}");
        assert_eq!(
            m1.header("content-type")
                .map(|s| s.starts_with("text/plain")),
            Some(true)
        );
        let m2 = c.receive(T).unwrap();
        assert_eq!(m2.body(), binary, "{b:?} {v}: bodies with NUL survive");
        c.disconnect(None, T).unwrap();
    });
}

#[test]
fn a_newline_in_a_10_header_is_refused_before_sending() {
    for b in BROKERS {
        let c = b.connect(Version::V1_0, |_| {});
        let e = c
            .send("/queue/x", b"", None, &[("bad", "a\nb")])
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidHeader);
        assert!(c.is_connected(), "the connection survives a refused frame");
        c.disconnect(None, T).unwrap();
    }
}

#[test]
fn receipts_are_awaited() {
    each(|b, v| {
        let c = b.connect(v, |_| {});
        let q = unique_queue("receipt");
        c.send(&q, b"x", None, &[("receipt", "r-1")]).unwrap();
        c.wait_receipt("r-1", T).unwrap();
        assert_eq!(
            c.wait_receipt("never-asked", T).unwrap_err().kind,
            ErrorKind::NotFound
        );
        c.disconnect(Some("bye"), T).unwrap();
    });
}

#[test]
fn an_error_answering_a_receipt_ends_the_wait_at_once() {
    // ActiveMQ only: RabbitMQ 3.10 answers the same COMMIT with an ERROR that has no receipt-id
    // (seen on the wire), so nothing ties it to the receipt and the wait runs to its timeout there.
    for v in VERSIONS {
        let b = Broker::ActiveMq;
        let c = b.connect(v, |_| {});
        // A COMMIT of a transaction the broker never saw: an ERROR that carries the receipt-id, and
        // the link kept.
        c.send_frame(
            Frame::new(Command::Commit)
                .with("transaction", "libstomp-no-such-tx")
                .with("receipt", "r-bad"),
        )
        .unwrap();
        let start = Instant::now();
        let e = c.wait_receipt("r-bad", T).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ServerError, "{b:?} {v}: {e}");
        assert!(e.message.contains("r-bad"), "{b:?} {v}: {e}");
        assert!(
            start.elapsed() < T / 2,
            "{b:?} {v}: the wait took {:?}, as if the ERROR had not been seen",
            start.elapsed()
        );
        c.disconnect(Some("bye"), T).unwrap();
    }
}

#[test]
fn listeners_hear_events_in_order() {
    for b in BROKERS {
        let rec = Recorder::new();
        let c = Connection::new(b.options(Version::V1_2)).unwrap();
        c.set_listener("rec", rec.clone());
        c.connect(login(), passcode(), &[], true).unwrap();
        let q = unique_queue("order");
        c.subscribe(&q, Some("s"), AckMode::Auto, &[]).unwrap();
        for i in 0..20 {
            c.send(&q, format!("m{i}").as_bytes(), None, &[]).unwrap();
        }
        rec.wait_for(T, "20 messages", |s| s.messages.len() == 20);
        let bodies: Vec<String> = rec
            .messages()
            .iter()
            .map(|m| String::from_utf8_lossy(m.body()).into_owned())
            .collect();
        assert_eq!(bodies, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
        c.disconnect(None, T).unwrap();
        // disconnect returns after on_disconnected has run.
        let ev = rec.state.lock().unwrap().events.clone();
        assert_eq!(
            ev,
            [
                "connecting 127.0.0.1:".to_owned() + &b.port().to_string(),
                "connected".into(),
                "disconnecting".into(),
                "reason".into(),
                "disconnected".into(),
                "loop_completed".into()
            ]
        );
        // An asked-for end, told to the listener and kept on the connection.
        let reasons = rec.state.lock().unwrap().reasons.clone();
        assert_eq!(reasons, [Disconnection::Requested]);
        assert_eq!(c.last_disconnect(), Some(Disconnection::Requested));
    }
}

#[test]
fn callbacks_keep_their_order_when_disconnect_follows_connect_at_once() {
    // on_connected is queued before connect(wait) returns, so the on_disconnecting of a disconnect
    // made right after it can never overtake it; and the same handle connects again every time.
    for b in BROKERS {
        let rec = Recorder::new();
        let c = Connection::new(b.options(Version::V1_2)).unwrap();
        c.set_listener("rec", rec.clone());
        for round in 0..200 {
            c.connect(login(), passcode(), &[], true)
                .unwrap_or_else(|e| panic!("{b:?} round {round}: {e}"));
            c.disconnect(None, T).unwrap();
            let ev: Vec<String> = rec.state.lock().unwrap().events.drain(..).collect();
            let names: Vec<&str> = ev.iter().map(|e| e.split(' ').next().unwrap()).collect();
            assert_eq!(
                names,
                [
                    "connecting",
                    "connected",
                    "disconnecting",
                    "reason",
                    "disconnected",
                    "loop_completed"
                ],
                "{b:?} round {round}"
            );
        }
    }
}

#[test]
fn idle_connections_with_one_second_heartbeats_stay_up() {
    // ActiveMQ sends its first heart-beat two intervals after CONNECTED: the library allows for it.
    for b in BROKERS {
        let rec = Recorder::new();
        let mut o = b.options(Version::V1_2);
        o.heartbeats = (1000, 1000);
        let c = Connection::new(o).unwrap();
        c.set_listener("rec", rec.clone());
        c.connect(login(), passcode(), &[], true).unwrap();
        assert_eq!(
            c.heartbeats(),
            (Duration::from_millis(1000), Duration::from_millis(1000))
        );
        rec.wait_for(T, "three heart-beats", |r| r.beats >= 3);
        let ev = rec.state.lock().unwrap().events.clone();
        assert!(
            !ev.iter()
                .any(|e| e == "heartbeat_timeout" || e == "disconnected"),
            "{b:?}: {ev:?}"
        );
        assert!(c.is_connected());
        c.disconnect(None, T).unwrap();
    }
}

#[test]
fn client_individual_ack_and_client_ack() {
    each(|b, v| {
        let q = unique_queue("ack");
        let c = b.connect(v, |o| o.receive_queue = 16);
        c.subscribe(&q, Some("sub"), AckMode::ClientIndividual, &[])
            .unwrap();
        c.send(&q, b"one", None, &[]).unwrap();
        let m = c.receive(T).unwrap();
        c.ack_message(&m, None).unwrap();
        c.disconnect(None, T).unwrap();
        // Acked: a new consumer gets nothing; unacked (client mode, connection dropped): redelivered.
        let c = b.connect(v, |o| o.receive_queue = 16);
        c.subscribe(&q, Some("sub"), AckMode::Client, &[]).unwrap();
        c.send(&q, b"two", None, &[("receipt", "sent")]).unwrap();
        c.wait_receipt("sent", T).unwrap();
        let m = c.receive(T).unwrap();
        assert_eq!(
            m.body(),
            b"two",
            "{b:?} {v}: the acked message is gone, the next comes"
        );
        drop(c); // no ack, no DISCONNECT
        let c = b.connect(v, |o| o.receive_queue = 16);
        c.subscribe(&q, Some("sub"), AckMode::Client, &[]).unwrap();
        let m = c.receive(T).unwrap();
        assert_eq!(
            m.body(),
            b"two",
            "{b:?} {v}: the unacked message comes back"
        );
        c.ack_message(&m, None).unwrap();
        c.disconnect(None, T).unwrap();
    });
}

#[test]
fn nack_requeues_on_rabbitmq_and_is_refused_under_10() {
    for v in [Version::V1_1, Version::V1_2] {
        let c = Broker::RabbitMq.connect(v, |o| o.receive_queue = 16);
        let q = unique_queue("nack");
        c.subscribe(&q, Some("s"), AckMode::ClientIndividual, &[])
            .unwrap();
        c.send(&q, b"again", None, &[]).unwrap();
        let m = c.receive(T).unwrap();
        assert_eq!(m.header("redelivered"), Some("false"));
        c.nack_message(&m, None).unwrap();
        let m = c.receive(T).unwrap();
        assert_eq!(m.body(), b"again");
        assert_eq!(m.header("redelivered"), Some("true"), "{v}");
        c.ack_message(&m, None).unwrap();
        c.disconnect(None, T).unwrap();
    }
    for b in BROKERS {
        let c = b.connect(Version::V1_0, |_| {});
        assert_eq!(
            c.nack("1", None, None).unwrap_err().kind,
            ErrorKind::Unsupported
        );
        c.disconnect(None, T).unwrap();
    }
}

#[test]
fn transactions_commit_and_abort() {
    each(|b, v| {
        let c = b.connect(v, |o| o.receive_queue = 16);
        let q = unique_queue("tx");
        c.subscribe(&q, None, AckMode::Auto, &[]).unwrap();
        let tx = c.begin(None).unwrap();
        for i in 0..3 {
            c.send(
                &q,
                format!("c{i}").as_bytes(),
                None,
                &[("transaction", &tx)],
            )
            .unwrap();
        }
        assert_eq!(
            c.receive(Duration::from_millis(300)).unwrap_err().kind,
            ErrorKind::Timeout,
            "{b:?} {v}: held until commit"
        );
        c.commit(&tx).unwrap();
        for i in 0..3 {
            assert_eq!(c.receive(T).unwrap().body(), format!("c{i}").as_bytes());
        }
        let tx = c.begin(Some("mine")).unwrap();
        assert_eq!(tx, "mine");
        c.send(&q, b"aborted", None, &[("transaction", "mine")])
            .unwrap();
        c.abort("mine").unwrap();
        c.send(&q, b"sentinel", None, &[]).unwrap();
        assert_eq!(
            c.receive(T).unwrap().body(),
            b"sentinel",
            "{b:?} {v}: nothing of the aborted tx came first"
        );
        c.disconnect(None, T).unwrap();
    });
}

#[test]
fn refused_login_reports_the_brokers_message() {
    let c = Connection::new(Broker::RabbitMq.options(Version::V1_2)).unwrap();
    let e = c
        .connect(Some("guest"), Some("wrong"), &[], true)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(
        e.message.to_lowercase().contains("login") || e.message.contains("refused"),
        "{}",
        e.message
    );
    // A 1.2 CONNECT to RabbitMQ with a host that is not a vhost is refused too.
    let mut o = Broker::RabbitMq.options(Version::V1_2);
    o.vhost = None;
    let c = Connection::new(o).unwrap();
    assert_eq!(
        c.connect(login(), passcode(), &[], true).unwrap_err().kind,
        ErrorKind::Refused
    );
}

#[test]
fn a_closed_port_fails_fast_naming_the_host() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut o = Options::new().host("127.0.0.1", port);
    o.reconnect = ReconnectPolicy {
        sleep_initial: 0.01,
        sleep_increase: 0.0,
        sleep_jitter: 0.0,
        sleep_max: 0.01,
        attempts_max: 2,
    };
    let c = Connection::new(o).unwrap();
    let e = c.connect(None, None, &[], true).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ConnectFailed);
    assert!(
        e.message.contains(&format!("127.0.0.1:{port}")) && e.message.contains("2 passes"),
        "{}",
        e.message
    );
}

#[test]
fn stomp_command_and_extra_connect_headers() {
    for b in BROKERS {
        let c = b.connect(Version::V1_2, |o| o.use_stomp_command = true);
        assert_eq!(c.version(), Some(Version::V1_2));
        c.disconnect(None, T).unwrap();
    }
}

#[test]
fn a_full_receive_queue_stops_reading_instead_of_growing() {
    for b in BROKERS {
        let cap = 8;
        let consumer = b.connect(Version::V1_2, |o| o.receive_queue = cap);
        let producer = b.connect(Version::V1_2, |_| {});
        let q = unique_queue("backpressure");
        consumer.subscribe(&q, None, AckMode::Auto, &[]).unwrap();
        let n = 500;
        for i in 0..n {
            producer
                .send(&q, format!("{i:04}").as_bytes(), None, &[])
                .unwrap();
        }
        producer
            .send(&q, b"end", None, &[("receipt", "all")])
            .unwrap();
        producer.wait_receipt("all", T).unwrap();
        let mut max_seen = 0;
        for i in 0..n {
            max_seen = max_seen.max(consumer.queued());
            let m = consumer
                .receive(T)
                .unwrap_or_else(|e| panic!("{b:?} message {i}: {e}"));
            assert_eq!(
                m.body(),
                format!("{i:04}").as_bytes(),
                "{b:?}: in order, none lost"
            );
        }
        assert_eq!(consumer.receive(T).unwrap().body(), b"end");
        assert!(max_seen <= cap, "{b:?}: the queue held {max_seen} > {cap}");
        producer.disconnect(None, T).unwrap();
        consumer.disconnect(None, T).unwrap();
    }
}

#[test]
fn a_receive_queue_full_in_bytes_stops_reading_instead_of_growing() {
    // The count allows thousands; the byte bound (32 KiB) allows about eight 4 KiB messages.
    let bound: usize = 32 << 10;
    let body = vec![b'x'; 4 << 10];
    for b in BROKERS {
        let consumer = b.connect(Version::V1_2, |o| {
            o.receive_queue = 10_000;
            o.receive_queue_bytes = bound;
        });
        let producer = b.connect(Version::V1_2, |_| {});
        let q = unique_queue("byte-backpressure");
        consumer.subscribe(&q, None, AckMode::Auto, &[]).unwrap();
        let n = 200;
        for i in 0..n {
            producer
                .send(&q, &body, None, &[("n", &i.to_string())])
                .unwrap();
        }
        producer
            .send(&q, b"end", None, &[("receipt", "all")])
            .unwrap();
        producer.wait_receipt("all", T).unwrap();
        let (mut max_seen, mut frame) = (0, 0);
        for i in 0..n {
            max_seen = max_seen.max(consumer.queued());
            let m = consumer
                .receive(T)
                .unwrap_or_else(|e| panic!("{b:?} message {i}: {e}"));
            assert_eq!(
                m.header("n"),
                Some(i.to_string().as_str()),
                "{b:?}: in order"
            );
            frame = frame.max(m.size());
        }
        assert_eq!(consumer.receive(T).unwrap().body(), b"end");
        // Handed on while room is left: the bound and one frame more, at most.
        let most = bound.div_ceil(frame) + 1;
        assert!(
            max_seen <= most,
            "{b:?}: the queue held {max_seen} messages of {frame} bytes, more than {most}"
        );
        producer.disconnect(None, T).unwrap();
        consumer.disconnect(None, T).unwrap();
    }
}

#[test]
fn a_slow_on_send_holds_back_the_sender_instead_of_queueing_copies() {
    use std::sync::{Condvar, Mutex};
    // on_send waits at a gate: the copies it has not handled yet are bounded by
    // max_pending_messages, and a send past that waits, then gives QueueFull.
    struct Gated {
        open: Mutex<bool>,
        cv: Condvar,
        heard: AtomicUsize,
    }
    impl Listener for Gated {
        fn on_send(&self, _f: &Frame) {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.cv.wait(open).unwrap();
            }
            self.heard.fetch_add(1, Ordering::SeqCst);
        }
    }
    let gate = Arc::new(Gated {
        open: Mutex::new(false),
        cv: Condvar::new(),
        heard: AtomicUsize::new(0),
    });
    let c = Broker::RabbitMq.connect(Version::V1_2, |o| {
        o.max_pending_messages = 8;
        o.send_timeout = Duration::from_millis(300);
    });
    c.set_listener("gate", gate.clone());
    let q = unique_queue("on-send");
    // Opens the gate however the test ends, so that no callback is left blocked.
    struct Opener(Arc<Gated>);
    impl Drop for Opener {
        fn drop(&mut self) {
            *self.0.open.lock().unwrap() = true;
            self.0.cv.notify_all();
        }
    }
    let opener = Opener(gate.clone());
    let mut sent = 0;
    // The copies are counted as the I/O thread writes the frames, a little after each send returns.
    let full = loop {
        match c.send(&q, b"x", None, &[]) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 100_000, "the sender was never held back");
    };
    assert_eq!(full.kind, ErrorKind::QueueFull, "{}", full.message);
    // The bound (8 copies waiting), plus the one in the blocked callback.
    assert!((8..=9).contains(&sent), "{sent} sends before QueueFull");
    drop(opener);
    c.send(&q, b"after", None, &[("receipt", "after")]).unwrap();
    c.wait_receipt("after", T).unwrap();
    c.disconnect(None, T).unwrap();
    assert_eq!(
        gate.heard.load(Ordering::SeqCst),
        sent + 2,
        "every send was heard, + the last SEND and DISCONNECT"
    );
}

#[test]
fn a_slow_listener_holds_back_reading_but_loses_nothing() {
    let b = Broker::RabbitMq;
    let seen = Arc::new(AtomicUsize::new(0));
    struct Slow(Arc<AtomicUsize>, Arc<Recorder>);
    impl Listener for Slow {
        fn on_message(&self, f: &Frame) {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            if n < 3 {
                std::thread::sleep(Duration::from_millis(200)); // a deliberately slow handler
            }
            self.1.on_message(f);
        }
    }
    let rec = Recorder::new();
    let mut o = b.options(Version::V1_2);
    o.max_pending_messages = 4;
    let c = Connection::new(o).unwrap();
    c.set_listener("slow", Arc::new(Slow(seen.clone(), rec.clone())));
    c.connect(login(), passcode(), &[], true).unwrap();
    let q = unique_queue("slow");
    c.subscribe(&q, None, AckMode::Auto, &[]).unwrap();
    for i in 0..200 {
        c.send(&q, format!("{i}").as_bytes(), None, &[]).unwrap();
    }
    rec.wait_for(Duration::from_secs(20), "200 messages", |s| {
        s.messages.len() == 200
    });
    let bodies: Vec<String> = rec
        .messages()
        .iter()
        .map(|m| String::from_utf8_lossy(m.body()).into_owned())
        .collect();
    assert_eq!(bodies, (0..200).map(|i| i.to_string()).collect::<Vec<_>>());
    c.disconnect(None, T).unwrap();
}

#[test]
fn calling_back_from_a_callback_does_not_deadlock() {
    for b in BROKERS {
        struct Echo {
            conn: std::sync::Mutex<Option<Arc<Connection>>>,
            rec: Arc<Recorder>,
            reply_to: String,
        }
        impl Listener for Echo {
            fn on_message(&self, f: &Frame) {
                let c = self.conn.lock().unwrap().clone();
                if let (Some(c), Some(b"ping")) = (c, Some(f.body())) {
                    // Blocking calls from inside a callback: send with a receipt and wait for it.
                    let r = format!("echo-{}", uuid::Uuid::new_v4());
                    c.send(&self.reply_to, b"pong", None, &[("receipt", &r)])
                        .unwrap();
                    c.wait_receipt(&r, Duration::from_secs(5)).unwrap();
                }
                self.rec.on_message(f);
            }
        }
        let rec = Recorder::new();
        let q = unique_queue("echo");
        let c = Arc::new(Connection::new(b.options(Version::V1_2)).unwrap());
        let echo = Arc::new(Echo {
            conn: std::sync::Mutex::new(Some(c.clone())),
            rec: rec.clone(),
            reply_to: q.clone(),
        });
        c.set_listener("echo", echo.clone());
        c.connect(login(), passcode(), &[], true).unwrap();
        c.subscribe(&q, None, AckMode::Auto, &[]).unwrap();
        c.send(&q, b"ping", None, &[]).unwrap();
        rec.wait_for(T, "ping and pong", |s| s.messages.len() == 2);
        assert_eq!(rec.messages()[1].body(), b"pong");
        c.disconnect(None, T).unwrap();
        echo.conn.lock().unwrap().take();
    }
}

#[test]
fn subscriptions_are_remembered_until_unsubscribed() {
    let c = Broker::ActiveMq.connect(Version::V1_2, |_| {});
    c.subscribe(
        "/queue/a",
        Some("1"),
        AckMode::Client,
        &[("selector", "priority > 5")],
    )
    .unwrap();
    c.subscribe("/topic/b", Some("2"), AckMode::Auto, &[])
        .unwrap();
    c.unsubscribe("1", &[]).unwrap();
    assert_eq!(
        c.subscriptions(),
        [("2".to_owned(), "/topic/b".to_owned(), "auto".to_owned())]
    );
    c.disconnect(None, T).unwrap();
}
