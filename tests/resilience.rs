//! Staying connected, against RabbitMQ: failover host lists, auto-reconnect with re-subscription,
//! heart-beat timeouts through a stalled link, slow handlers, and no loss through forced drops.
//! `FaultProxy` (tests/common) sits between client and broker where a fault must be injected.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::fault_proxy::FaultProxy;
use common::*;
use stomp::*;

const T: Duration = Duration::from_secs(10);

fn rabbit_via(port: u16) -> Options {
    let mut o = Options::new().host("127.0.0.1", port);
    o.vhost = Some("/".into());
    o
}

/// A proxy to RabbitMQ and a connection through it with auto-reconnect (fast retries) and a recorder.
fn reconnecting_via_proxy(
    tune: impl FnOnce(&mut Options),
) -> (FaultProxy, Connection, Arc<Recorder>) {
    let proxy = FaultProxy::start(Broker::RabbitMq.port());
    let rec = Recorder::new();
    let mut o = rabbit_via(proxy.port());
    o.auto_reconnect = true;
    o.reconnect = fast_retry();
    tune(&mut o);
    let c = Connection::new(o).unwrap();
    c.set_listener("rec", rec.clone());
    c.connect(login(), passcode(), &[], true).unwrap();
    (proxy, c, rec)
}

fn count(rec: &Recorder, event: &str) -> usize {
    rec.state
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|e| *e == event)
        .count()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn failover_skips_a_dead_port_to_the_live_broker() {
    let dead = free_port();
    let rec = Recorder::new();
    let mut o = Options::new()
        .host("127.0.0.1", dead)
        .host("127.0.0.1", Broker::RabbitMq.port());
    o.vhost = Some("/".into());
    let c = Connection::new(o).unwrap();
    c.set_listener("rec", rec.clone());
    c.connect(login(), passcode(), &[], true).unwrap();
    assert!(c.server().unwrap().contains("RabbitMQ"));
    let ev = rec.state.lock().unwrap().events.clone();
    assert_eq!(
        ev[..2],
        [
            format!("connecting 127.0.0.1:{dead}"),
            format!("connecting 127.0.0.1:{}", Broker::RabbitMq.port())
        ]
    );
    c.disconnect(None, T).unwrap();
}

#[test]
fn per_host_credentials_are_used_for_that_host() {
    let mut o = Options::new();
    o.hosts.push(HostSpec {
        host: "127.0.0.1".into(),
        port: Broker::RabbitMq.port(),
        login: login().map(Into::into),
        passcode: passcode().map(Into::into),
        tls: None,
    });
    o.vhost = Some("/".into());
    let c = Connection::new(o).unwrap();
    c.connect(Some("nobody"), Some("wrong"), &[], true).unwrap();
    c.disconnect(None, T).unwrap();
}

#[test]
fn randomized_host_lists_are_tried_in_varying_orders() {
    let dead: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut orders = std::collections::HashSet::new();
    for _ in 0..8 {
        let rec = Recorder::new();
        let mut o = Options::new();
        for p in &dead {
            o = o.host("127.0.0.1", *p);
        }
        o.randomize_hosts = true;
        o.reconnect = ReconnectPolicy {
            attempts_max: 1,
            ..ReconnectPolicy::default()
        };
        let c = Connection::new(o).unwrap();
        c.set_listener("rec", rec.clone());
        assert_eq!(
            c.connect(None, None, &[], true).unwrap_err().kind,
            ErrorKind::ConnectFailed
        );
        rec.wait_for(T, "the walk to end", |r| {
            r.events.iter().any(|e| e == "loop_completed")
        });
        let ev = rec.state.lock().unwrap().events.clone();
        assert!(
            !ev.iter().any(|e| e == "disconnected"),
            "no link came up, so none is heard to end: {ev:?}"
        );
        let tried: Vec<String> = ev
            .into_iter()
            .filter(|e| e.starts_with("connecting"))
            .collect();
        assert_eq!(tried.len(), 3, "every host once per pass");
        orders.insert(tried);
    }
    assert!(orders.len() > 1, "8 walks all in one order: {orders:?}");
}

#[test]
fn heartbeat_timeout_through_a_stalled_link_is_detected_in_time() {
    let proxy = FaultProxy::start(Broker::RabbitMq.port());
    let rec = Recorder::new();
    let mut o = rabbit_via(proxy.port());
    o.heartbeats = (0, 1000);
    let c = Connection::new(o).unwrap();
    c.set_listener("rec", rec.clone());
    c.connect(login(), passcode(), &[], true).unwrap();
    let (_, recv) = c.heartbeats();
    assert_eq!(
        recv,
        Duration::from_millis(1000),
        "RabbitMQ agreed to heart-beat every second"
    );
    // Let two heart-beats through (the deadline is then the plain 1.5 intervals), then stall the link.
    rec.wait_for(T, "two heart-beats", |r| r.beats >= 2);
    proxy.stall();
    let stalled = Instant::now();
    rec.wait_for(T, "a heart-beat timeout", |r| {
        r.events.iter().any(|e| e == "heartbeat_timeout")
    });
    let took = stalled.elapsed();
    // Receive interval 1000 ms x scale 1.5 = 1500 ms after the last byte, at most; 20% margin.
    assert!(
        took <= Duration::from_millis(1800),
        "detected {took:?} after the stall"
    );
    rec.wait_for(T, "disconnected", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    assert!(!c.is_connected());
    assert_eq!(c.last_error().unwrap().kind, ErrorKind::Timeout);
    println!(
        "heart-beat timeout detected {} ms after the stall (limit 1800 ms)",
        took.as_millis()
    );
}

#[test]
fn auto_reconnect_resubscribes_and_messages_flow_again() {
    let (proxy, c, rec) = reconnecting_via_proxy(|o| {
        o.heartbeats = (500, 500);
    });
    let q = unique_queue("resub");
    c.subscribe(
        &q,
        Some("keep-me"),
        AckMode::ClientIndividual,
        &[("x-note", "kept")],
    )
    .unwrap();
    let sender = Broker::RabbitMq.connect(Version::V1_2, |_| {});

    // 1. A dropped link.
    proxy.drop_links();
    rec.wait_for(T, "a reconnect", |r| {
        r.events.iter().filter(|e| *e == "connected").count() == 2
    });
    sender.send(&q, b"after drop", None, &[]).unwrap();
    rec.wait_for(T, "a message on the re-made subscription", |r| {
        r.messages.len() == 1
    });
    let m = &rec.messages()[0];
    assert_eq!(m.header("subscription"), Some("keep-me"));
    c.ack_message(m, None).unwrap();
    // Frames are handled in order: once this receipt is back, so is the ack (not lost in the stall).
    c.send(&unique_queue("flush"), b"", None, &[("receipt", "acked")])
        .unwrap();
    c.wait_receipt("acked", T).unwrap();

    // 2. A stalled link: the heart-beat notices, the library reconnects once the link forwards again.
    proxy.stall();
    rec.wait_for(T, "a heart-beat timeout", |r| {
        r.events.iter().any(|e| e == "heartbeat_timeout")
    });
    proxy.drop_links();
    proxy.restore();
    rec.wait_for(T, "a second reconnect", |r| {
        r.events.iter().filter(|e| *e == "connected").count() == 3
    });
    sender.send(&q, b"after stall", None, &[]).unwrap();
    rec.wait_for(T, "a message after the stall", |r| r.messages.len() == 2);
    assert_eq!(rec.messages()[1].body(), b"after stall");
    assert_eq!(count(&rec, "disconnected"), 2);
    assert_eq!(count(&rec, "loop_completed"), 0, "it never gave up");
    c.disconnect(None, T).unwrap();
    sender.disconnect(None, T).unwrap();
}

#[test]
fn sends_while_reconnecting_are_held_and_flushed() {
    let (proxy, c, rec) = reconnecting_via_proxy(|_| {});
    let q = unique_queue("held");
    c.subscribe(&q, None, AckMode::Auto, &[]).unwrap();
    proxy.refuse(true);
    proxy.drop_links();
    rec.wait_for(T, "the drop", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    assert_eq!(c.phase(), stomp::client::ConnectionPhase::Reconnecting);
    c.send(&q, b"held 1", None, &[("receipt", "h1")]).unwrap();
    c.send(&q, b"held 2", None, &[]).unwrap();
    let tx = c.begin(None).unwrap();
    c.send(&q, b"in tx", None, &[("transaction", &tx)]).unwrap();
    c.commit(&tx).unwrap();
    assert_eq!(
        c.ack("some-id", Some("s"), None).unwrap_err().kind,
        ErrorKind::Disconnected
    );
    // At least one more attempt fails while the frames are held: it must not count their receipts lost.
    let attempts = rec
        .state
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|e| e.starts_with("connecting"))
        .count();
    rec.wait_for(T, "a refused attempt", |r| {
        r.events
            .iter()
            .filter(|e| e.starts_with("connecting"))
            .count()
            >= attempts + 2
    });
    proxy.refuse(false);
    c.wait_receipt("h1", T).unwrap_or_else(|e| {
        panic!(
            "{e}: {:?} / {:?}",
            rec.state.lock().unwrap().events,
            c.last_error()
        )
    });
    rec.wait_for(T, "the held messages", |r| r.messages.len() == 3);
    let bodies: Vec<Vec<u8>> = rec
        .messages()
        .into_iter()
        .map(|m| m.body().to_vec())
        .collect();
    assert_eq!(
        bodies,
        [b"held 1".to_vec(), b"held 2".to_vec(), b"in tx".to_vec()]
    );
    c.disconnect(None, T).unwrap();
}

#[test]
fn a_transaction_open_at_a_drop_is_reported_aborted() {
    let (proxy, c, rec) = reconnecting_via_proxy(|_| {});
    let tx = c.begin(None).unwrap();
    proxy.drop_links();
    rec.wait_for(T, "a reconnect", |r| {
        r.events.iter().filter(|e| *e == "connected").count() == 2
    });
    let e = c.commit(&tx).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Disconnected, "{}", e.message);
    assert!(
        c.is_connected(),
        "the refused commit never reached the broker"
    );
    c.disconnect(None, T).unwrap();
}

#[test]
fn a_transaction_open_at_a_drop_is_refused_while_still_reconnecting() {
    let (proxy, c, rec) = reconnecting_via_proxy(|_| {});
    let q = unique_queue("tx-held");
    c.begin(Some("t1")).unwrap();
    c.begin(Some("t2")).unwrap();
    proxy.refuse(true);
    proxy.drop_links();
    rec.wait_for(T, "the drop", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    assert_eq!(c.phase(), stomp::client::ConnectionPhase::Reconnecting);
    // Not held to be dropped later: refused now.
    let e = c
        .send(&q, b"in t1", None, &[("transaction", "t1")])
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Disconnected, "{}", e.message);
    assert_eq!(c.commit("t1").unwrap_err().kind, ErrorKind::Disconnected);
    c.abort("t2").unwrap(); // the broker already aborted it: nothing to send
    proxy.refuse(false);
    rec.wait_for(T, "a reconnect", |r| {
        r.events.iter().filter(|e| *e == "connected").count() == 2
    });
    // The names are free again.
    c.begin(Some("t1")).unwrap();
    c.commit("t1").unwrap();
    c.disconnect(None, T).unwrap();
    // And after a disconnect and a new connect, any name may be used, open ones at the close included.
    c.connect(login(), passcode(), &[], true).unwrap();
    c.begin(Some("t3")).unwrap();
    c.disconnect(None, T).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    c.begin(Some("t3")).unwrap();
    c.abort("t3").unwrap();
    c.disconnect(None, T).unwrap();
}

#[test]
fn disconnect_stops_reconnecting() {
    let (proxy, c, rec) = reconnecting_via_proxy(|_| {});
    proxy.refuse(true);
    proxy.drop_links();
    rec.wait_for(T, "some failed attempts", |r| {
        r.events
            .iter()
            .filter(|e| e.starts_with("connecting"))
            .count()
            >= 3
    });
    c.disconnect(None, T).unwrap();
    assert_eq!(c.phase(), stomp::client::ConnectionPhase::Closed);
    rec.wait_for(T, "the end", |r| {
        r.events.iter().any(|e| e == "loop_completed")
    });
    // Attempts are announced (on_connecting) before they dial, in order with loop_completed: none
    // may follow it. (The proxy's accept count would race with the kernel's backlog.)
    let attempts = |r: &Recorder| {
        let st = r.state.lock().unwrap();
        st.events
            .iter()
            .filter(|e| e.starts_with("connecting"))
            .count()
    };
    let before = attempts(&rec);
    let accepted = proxy.accepted();
    std::thread::sleep(Duration::from_millis(500)); // proving an absence: no attempt in this window
    assert_eq!(attempts(&rec), before, "no attempt after disconnect");
    assert!(
        proxy.accepted() <= accepted + 1,
        "at most the one dial in flight was accepted late"
    );
    assert_eq!(c.phase(), stomp::client::ConnectionPhase::Closed);
}

#[test]
fn a_five_second_handler_with_one_second_heartbeats_costs_nothing() {
    let mut o = Broker::RabbitMq.options(Version::V1_2);
    o.heartbeats = (1000, 1000);
    five_second_handler_costs_no_heartbeat(o, "slow5", |c, _| assert!(c.is_connected()));
}

/// A publisher with receipts and a consumer with client-individual acks, both through a proxy that
/// drops every link 20 times: every message arrives at least once; duplicates are counted.
#[test]
fn no_message_lost_through_twenty_drops() {
    const N: usize = 400;
    const DROPS: usize = 20;
    let proxy = Arc::new(FaultProxy::start(Broker::RabbitMq.port()));
    let q = unique_queue("noloss");
    let opts = || {
        let mut o = rabbit_via(proxy.port());
        o.auto_reconnect = true;
        o.reconnect = fast_retry();
        o.heartbeats = (1000, 1000);
        o
    };

    struct Consumer {
        conn: Mutex<Option<Arc<Connection>>>,
        seen: Mutex<HashMap<String, usize>>,
        cv: std::sync::Condvar,
        acked: AtomicUsize,
    }
    impl Listener for Consumer {
        fn on_message(&self, f: &Frame) {
            let body = String::from_utf8_lossy(f.body()).into_owned();
            *self.seen.lock().unwrap().entry(body).or_default() += 1;
            self.cv.notify_all();
            if let Some(c) = self.conn.lock().unwrap().clone() {
                // Fails for messages of a dropped link; the broker redelivers those.
                if c.ack_message(f, None).is_ok() {
                    self.acked.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    let consumer = Arc::new(Consumer {
        conn: Mutex::new(None),
        seen: Mutex::new(HashMap::new()),
        cv: Default::default(),
        acked: AtomicUsize::new(0),
    });
    let cc = Arc::new(Connection::new(opts()).unwrap());
    *consumer.conn.lock().unwrap() = Some(cc.clone());
    cc.set_listener("consumer", consumer.clone());
    cc.connect(login(), passcode(), &[], true).unwrap();
    cc.subscribe(&q, Some("c"), AckMode::ClientIndividual, &[])
        .unwrap();

    // The chaos: drop every link each time the consumer has seen another N/DROPS messages.
    let chaos = {
        let (proxy, consumer) = (proxy.clone(), consumer.clone());
        std::thread::spawn(move || {
            for k in 1..=DROPS {
                let mut seen = consumer.seen.lock().unwrap();
                let deadline = Instant::now() + Duration::from_secs(30);
                while seen.len() < k * N / (DROPS + 1) && Instant::now() < deadline {
                    seen = consumer
                        .cv
                        .wait_timeout(seen, Duration::from_millis(100))
                        .unwrap()
                        .0;
                }
                drop(seen);
                proxy.drop_links();
            }
        })
    };

    let publisher = Connection::new(opts()).unwrap();
    publisher.connect(login(), passcode(), &[], true).unwrap();
    let mut resent = 0;
    for i in 0..N {
        let body = format!("msg-{i:04}");
        loop {
            let r = format!("p-{i}-{resent}");
            let sent = publisher.send(
                &q,
                body.as_bytes(),
                None,
                &[("receipt", &r), ("persistent", "true")],
            );
            match sent.and_then(|_| publisher.wait_receipt(&r, T)) {
                Ok(()) => break,
                Err(e)
                    if matches!(
                        e.kind,
                        ErrorKind::Disconnected | ErrorKind::NotConnected | ErrorKind::Timeout
                    ) =>
                {
                    resent += 1; // not confirmed: send again (at-least-once)
                    std::thread::sleep(Duration::from_millis(10)); // back off while the link comes back
                }
                Err(e) => panic!("send {i}: {e}"),
            }
        }
    }
    chaos.join().unwrap();
    {
        let mut seen = consumer.seen.lock().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.len() < N && Instant::now() < deadline {
            seen = consumer
                .cv
                .wait_timeout(seen, Duration::from_millis(200))
                .unwrap()
                .0;
        }
        let missing: Vec<usize> = (0..N)
            .filter(|i| !seen.contains_key(&format!("msg-{i:04}")))
            .collect();
        assert!(
            missing.is_empty(),
            "lost {} messages: {:?}",
            missing.len(),
            &missing[..missing.len().min(20)]
        );
        let duplicates: usize = seen.values().map(|n| n - 1).sum();
        println!(
            "no-loss: {N} messages through {DROPS} drops: all delivered; {duplicates} duplicate deliveries, {resent} publisher resends, {} acks",
            consumer.acked.load(Ordering::Relaxed)
        );
    }
    assert!(
        proxy.accepted() >= (2 + DROPS) as u64,
        "the links really were dropped and remade"
    );
    consumer.conn.lock().unwrap().take();
    publisher.disconnect(None, T).unwrap();
    cc.disconnect(None, T).unwrap();
}
