//! Shared by the integration tests: the local brokers started by `scripts/broker.sh`, a listener
//! that records what it hears, a fault-injecting proxy and a hostile server.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod hostile;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use stomp::{Connection, Disconnection, Frame, Listener, Options, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    RabbitMq,
    ActiveMq,
}

impl Broker {
    pub fn port(self) -> u16 {
        let (var, default) = match self {
            Broker::RabbitMq => ("STOMP_RABBITMQ_PORT", 61613),
            Broker::ActiveMq => ("STOMP_ACTIVEMQ_PORT", 61623),
        };
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// Options that work with this broker in `version` (RabbitMQ wants vhost `/` as `host`).
    pub fn options(self, version: Version) -> Options {
        let mut o = Options::new().host("127.0.0.1", self.port());
        o.version = version;
        if self == Broker::RabbitMq {
            o.vhost = Some("/".into());
        }
        o
    }

    pub fn connect(self, version: Version, tweak: impl FnOnce(&mut Options)) -> Connection {
        let mut o = self.options(version);
        tweak(&mut o);
        let c = Connection::new(o).expect("options are valid");
        c.connect(login(), passcode(), &[], true)
            .unwrap_or_else(|e| panic!("connect to {:?} {}: {}", self, version, e));
        c
    }
}

/// The suite's login and passcode (tests/secret.env): a RabbitMQ user of scripts/broker.sh with a
/// distinctive passcode, which scripts/test.sh checks never appears in the suite's output.
pub fn credentials() -> (&'static str, &'static str) {
    let env = include_str!("../secret.env");
    let get = |key: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("tests/secret.env has no {key}"))
    };
    (get("STOMP_TEST_LOGIN="), get("STOMP_TEST_PASSCODE="))
}

/// `credentials()`'s login and passcode, as `connect` takes them.
pub fn login() -> Option<&'static str> {
    Some(credentials().0)
}

pub fn passcode() -> Option<&'static str> {
    Some(credentials().1)
}

pub const BROKERS: [Broker; 2] = [Broker::RabbitMq, Broker::ActiveMq];
pub const VERSIONS: [Version; 3] = [Version::V1_0, Version::V1_1, Version::V1_2];

/// A destination no other test uses.
pub fn unique_queue(tag: &str) -> String {
    format!(
        "/queue/libstomp-test-{}-{}",
        tag,
        uuid::Uuid::new_v4().simple()
    )
}

/// A listener that records frames and lets a test wait for a count.
#[derive(Default)]
pub struct Recorder {
    pub state: Mutex<Recorded>,
    pub cv: Condvar,
}

#[derive(Default)]
pub struct Recorded {
    pub messages: Vec<Frame>,
    pub receipts: Vec<String>,
    pub errors: Vec<Frame>,
    pub events: Vec<String>,
    /// Heart-beats heard from the broker.
    pub beats: usize,
    /// What `on_disconnected_reason` said, in order.
    pub reasons: Vec<Disconnection>,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    /// Waits until `pred` holds, or panics after `timeout` with what was seen.
    pub fn wait_for(&self, timeout: Duration, what: &str, pred: impl Fn(&Recorded) -> bool) {
        let g = self.state.lock().unwrap();
        let (g, t) = self
            .cv
            .wait_timeout_while(g, timeout, |s| !pred(s))
            .unwrap();
        if t.timed_out() {
            panic!(
                "timed out waiting for {}: {} messages, receipts {:?}, events {:?}",
                what,
                g.messages.len(),
                g.receipts,
                g.events
            );
        }
    }

    pub fn messages(&self) -> Vec<Frame> {
        self.state.lock().unwrap().messages.clone()
    }

    fn note(&self, f: impl FnOnce(&mut Recorded)) {
        f(&mut self.state.lock().unwrap());
        self.cv.notify_all();
    }
}

impl Listener for Recorder {
    fn on_connecting(&self, host: &str, port: u16) {
        self.note(|s| s.events.push(format!("connecting {}:{}", host, port)));
    }
    fn on_connected(&self, _f: &Frame) {
        self.note(|s| s.events.push("connected".into()));
    }
    fn on_disconnecting(&self) {
        self.note(|s| s.events.push("disconnecting".into()));
    }
    fn on_disconnected(&self) {
        self.note(|s| s.events.push("disconnected".into()));
    }
    fn on_disconnected_reason(&self, reason: &Disconnection) {
        self.note(|s| {
            s.events.push("reason".into());
            s.reasons.push(reason.clone());
        });
    }
    fn on_heartbeat_timeout(&self) {
        self.note(|s| s.events.push("heartbeat_timeout".into()));
    }
    fn on_message(&self, f: &Frame) {
        self.note(|s| s.messages.push(f.clone()));
    }
    fn on_receipt(&self, f: &Frame) {
        self.note(|s| {
            s.receipts
                .push(f.header("receipt-id").unwrap_or("").to_owned())
        });
    }
    fn on_error(&self, f: &Frame) {
        self.note(|s| s.errors.push(f.clone()));
    }
    fn on_receiver_loop_completed(&self) {
        self.note(|s| s.events.push("loop_completed".into()));
    }
    fn wants_send(&self) -> bool {
        false
    }
    fn on_heartbeat(&self) {
        self.note(|s| s.beats += 1);
    }
}

/// A listener whose `on_message` takes five seconds (the slow handler of the heart-beat tests),
/// then records; heart-beats, their timeouts and disconnects are recorded as they come.
pub struct SlowHandler(pub Arc<Recorder>);

impl Listener for SlowHandler {
    fn on_message(&self, f: &Frame) {
        std::thread::sleep(Duration::from_secs(5)); // the slow handler under test
        self.0.on_message(f);
    }
    fn on_heartbeat_timeout(&self) {
        self.0.on_heartbeat_timeout();
    }
    fn on_disconnected(&self) {
        self.0.on_disconnected();
    }
    fn on_heartbeat(&self) {
        self.0.on_heartbeat();
    }
}

/// Reconnect at once and forever (20 ms, then at most 200 ms between tries): the tests that drop
/// links want the reconnect, not the back-off.
pub fn fast_retry() -> stomp::ReconnectPolicy {
    stomp::ReconnectPolicy {
        sleep_initial: 0.02,
        sleep_increase: 0.5,
        sleep_jitter: 0.1,
        sleep_max: 0.2,
        attempts_max: -1,
    }
}

/// The slow-handler heart-beat check, for any way of reaching RabbitMQ (`o` asks for 1 s
/// heart-beats): two messages whose handler takes 5 s each, then `after` (the caller's own checks),
/// then no timeout or drop was heard and the link still answers a receipt.
pub fn five_second_handler_costs_no_heartbeat(
    o: Options,
    tag: &str,
    after: impl FnOnce(&Connection, &Recorder),
) {
    let t = Duration::from_secs(10);
    let rec = Recorder::new();
    let c = Connection::new(o).unwrap();
    c.set_listener("slow", Arc::new(SlowHandler(rec.clone())));
    c.connect(login(), passcode(), &[], true).unwrap();
    assert_eq!(
        c.heartbeats(),
        (Duration::from_millis(1000), Duration::from_millis(1000))
    );
    let q = unique_queue(tag);
    c.subscribe(&q, None, stomp::AckMode::Auto, &[]).unwrap();
    c.send(&q, b"take your time", None, &[]).unwrap();
    c.send(&q, b"and again", None, &[]).unwrap();
    rec.wait_for(Duration::from_secs(15), "both slow messages", |r| {
        r.messages.len() == 2
    });
    after(&c, &rec);
    let ev = rec.state.lock().unwrap().events.clone();
    assert!(ev.is_empty(), "no timeout, no drop: {ev:?}");
    c.send(&q, b"still here", None, &[("receipt", "alive")])
        .unwrap();
    c.wait_receipt("alive", t).unwrap();
    c.disconnect(None, t).unwrap();
}
