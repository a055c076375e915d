//! Callbacks of one connection never wait for another's (stomp.h: "A slow callback delays only later
//! callbacks of its own connection"), tested against RabbitMQ (scripts/broker.sh start rabbitmq).
//!
//! 32 connections each get one message whose `on_message` blocks (up to 5 s); while all 32 are
//! blocked at once, a 33rd connection makes 20 round trips through the broker, each of which must
//! take no more than 50 ms. A fixed pool of 8 dispatch threads failed this by 5 s. Then, quiet, the
//! pool shrinks back to one dispatch thread beside the I/O thread.

mod common;

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::*;
use stomp::*;

const BLOCKED: usize = 32;
const BLOCK_FOR: Duration = Duration::from_secs(5);
const ROUND_TRIPS: usize = 20;
const WORST_ALLOWED: Duration = Duration::from_millis(50);
const T: Duration = Duration::from_secs(10);

/// The blocked handlers' shared state: how many are inside `on_message` now, the most at once,
/// which threads they ran on, and the latch that lets them go.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    cv: Condvar,
}

#[derive(Default)]
struct GateState {
    inside: usize,
    most_inside: usize,
    left_early: usize,
    threads: HashSet<String>,
    open: bool,
}

impl Gate {
    /// Locks, shrugging off poisoning so that a failed assertion on the test thread does not make
    /// every blocked handler panic too.
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Blocker(Arc<Gate>);

impl Listener for Blocker {
    fn on_message(&self, _f: &Frame) {
        let gate = &self.0;
        let mut s = gate.lock();
        s.inside += 1;
        s.most_inside = s.most_inside.max(s.inside);
        let name = std::thread::current().name().unwrap_or("?").to_owned();
        s.threads.insert(name);
        gate.cv.notify_all();
        // The slow handler under test: blocked until the test opens the gate, 5 s at most.
        let (mut s, t) = gate
            .cv
            .wait_timeout_while(s, BLOCK_FOR, |s| !s.open)
            .unwrap_or_else(|p| p.into_inner());
        if t.timed_out() {
            s.left_early += 1;
        }
        s.inside -= 1;
        gate.cv.notify_all();
    }
    fn wants_send(&self) -> bool {
        false
    }
    fn wants_heartbeat(&self) -> bool {
        false
    }
}

/// The probe's listener: hands each message's arrival time and thread to the test.
struct Probe(Mutex<mpsc::Sender<(Instant, String, Vec<u8>)>>);

impl Listener for Probe {
    fn on_message(&self, f: &Frame) {
        let now = Instant::now();
        let name = std::thread::current().name().unwrap_or("?").to_owned();
        let _ = self.0.lock().unwrap().send((now, name, f.body().to_vec()));
    }
    fn wants_send(&self) -> bool {
        false
    }
    fn wants_heartbeat(&self) -> bool {
        false
    }
}

fn connect_with(listener: Arc<dyn Listener>) -> (Connection, String) {
    let c = Connection::new(Broker::RabbitMq.options(Version::V1_2)).unwrap();
    c.set_listener("l", listener);
    c.connect(login(), passcode(), &[], true)
        .unwrap_or_else(|e| panic!("connect to RabbitMQ: {e}"));
    let q = unique_queue("slow-callbacks");
    c.subscribe(&q, None, AckMode::Auto, &[("receipt", "subscribed")])
        .unwrap();
    c.wait_receipt("subscribed", T).unwrap();
    (c, q)
}

/// The library's threads in this process: (I/O, dispatch), by name (`comm` keeps 15 bytes).
fn library_threads() -> (usize, usize) {
    let mut io = 0;
    let mut dispatch = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with("stomp-io") {
            io += 1;
        } else if comm.starts_with("stomp-dispatch") {
            dispatch += 1;
        }
    }
    (io, dispatch)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[test]
fn blocked_handlers_of_32_connections_do_not_delay_a_33rd() {
    let gate = Arc::new(Gate::default());
    let blocked: Vec<(Connection, String)> = (0..BLOCKED)
        .map(|_| connect_with(Arc::new(Blocker(gate.clone()))))
        .collect();
    let (tx, rx) = mpsc::channel();
    let (probe, probe_q) = connect_with(Arc::new(Probe(Mutex::new(tx))));

    for (c, q) in &blocked {
        c.send(q, b"block", None, &[]).unwrap();
    }
    let all_in = Instant::now();
    {
        let s = gate.lock();
        let (s, t) = gate
            .cv
            .wait_timeout_while(s, T, |s| s.inside < BLOCKED)
            .unwrap();
        assert!(
            !t.timed_out(),
            "only {} of {BLOCKED} handlers got inside on_message at once",
            s.inside
        );
    }
    let all_in = all_in.elapsed();
    let busy_threads = library_threads();

    let mut delays = Vec::with_capacity(ROUND_TRIPS);
    let mut probe_threads = HashSet::new();
    for i in 0..ROUND_TRIPS {
        let body = format!("probe-{i}");
        let sent = Instant::now();
        probe.send(&probe_q, body.as_bytes(), None, &[]).unwrap();
        let (heard, thread, got) = rx
            .recv_timeout(T)
            .unwrap_or_else(|_| panic!("round trip {i}: no message within {T:?}"));
        assert_eq!(got, body.as_bytes());
        delays.push(heard - sent);
        probe_threads.insert(thread);
    }

    // Every blocked handler was still blocked for the whole probe, so it measured what it claims.
    let (inside, most_inside, left_early, blocked_threads) = {
        let mut s = gate.lock();
        let seen = (s.inside, s.most_inside, s.left_early, s.threads.clone());
        s.open = true;
        gate.cv.notify_all();
        seen
    };
    let mut sorted = delays.clone();
    sorted.sort();
    let (p50, max) = (percentile(&sorted, 50), *sorted.last().unwrap());
    println!(
        "{BLOCKED} handlers blocked at once (all in after {all_in:?}, on {} threads; \
         {} dispatch threads in all); {ROUND_TRIPS} round trips on a 33rd connection: \
         p50 {p50:?}, max {max:?} (probe callbacks on {probe_threads:?})",
        blocked_threads.len(),
        busy_threads.1
    );
    assert_eq!(
        inside, BLOCKED,
        "all blocked handlers were inside during the probe"
    );
    assert_eq!(most_inside, BLOCKED);
    assert_eq!(left_early, 0, "no handler gave up waiting during the probe");
    assert_eq!(
        blocked_threads.len(),
        BLOCKED,
        "each blocked handler had its own thread"
    );
    assert!(
        probe_threads.is_disjoint(&blocked_threads),
        "the probe's callbacks ran on threads no blocked handler held"
    );
    assert!(
        max <= WORST_ALLOWED,
        "worst round trip {max:?} > {WORST_ALLOWED:?} (p50 {p50:?}); all: {delays:?}"
    );

    {
        let s = gate.lock();
        let _ = gate.cv.wait_timeout_while(s, T, |s| s.inside > 0).unwrap();
    }

    // Quiet again, with 33 connections open: the pool shrinks to one dispatch thread after its idle
    // timeout (10 s). Nothing in the public API signals that, so the test looks at the process's
    // threads until they match or a deadline passes.
    let quiet = Instant::now();
    let mut threads = library_threads();
    while threads != (1, 1) && quiet.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
        threads = library_threads();
    }
    println!(
        "quiet with {} connections open: {} I/O + {} dispatch thread(s) after {:?}",
        BLOCKED + 1,
        threads.0,
        threads.1,
        quiet.elapsed()
    );
    assert_eq!(threads, (1, 1), "(I/O, dispatch) threads once quiet");

    for (c, _) in &blocked {
        c.disconnect(None, T).unwrap();
    }
    probe.disconnect(None, T).unwrap();
}
