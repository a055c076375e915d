//! soak - zero loss under faults, for issue 9 (a benchmark, not a test: scripts/soak.sh runs it).
//!
//!   soak [--single|--cluster] [--seconds N] [--publishers N] [--consumers N] [--chaos-every S]
//!        [--quick]
//!
//! Publishers send numbered messages, each with a receipt: a message counts as sent when its
//! receipt came, and one whose receipt was lost to a dropped link is sent again, so duplicates are
//! possible (and counted) but losses are not. Consumers subscribe with client-individual acks and
//! record every (publisher, sequence) they see. Meanwhile a chaos thread, every few seconds, drops
//! every link, stalls them, or takes a broker away, in turn, through fault proxies of the tests
//! (tests/common/fault_proxy.rs) in front of each broker:
//! - `--single`: the shared RabbitMQ on 127.0.0.1:61613 (STOMP_RABBITMQ_PORT); it is never
//!   restarted: its proxy refuses connections for a while instead;
//! - `--cluster`: nodes a and b of `scripts/broker.sh cluster` (127.0.0.1:61633 and :61634,
//!   STOMP_CLUSTER_PORT) in the failover list, a quorum queue (`x-queue-type:quorum` on SEND and
//!   SUBSCRIBE makes the STOMP plugin declare it so); the node the consumers are on is stopped
//!   (every other time with SIGKILL, a crash) and started again. Node c of the cluster is never
//!   stopped: it keeps the quorum queue's majority while a or b is down.
//!
//! At the end the publishers stop, the queue is drained and the tally printed: sent, delivered,
//! duplicated, lost, reconnects. Exit status 1 if a sent message was never delivered.
//!
//! `--quick` (with `--cluster`) is the suite's failover check: once messages flow, the node the
//! clients are on is stopped (and left down); every consumer must come back on the other node with
//! its subscription made again and receive there, every publisher must get receipts there, then the
//! drain must find nothing lost. Exit status 2 if the failover did not happen in time.

#[path = "../tests/common/fault_proxy.rs"]
mod fault_proxy;

use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use fault_proxy::FaultProxy;
use stomp::{AckMode, Connection, ErrorKind, Frame, Listener, Options, ReconnectPolicy};

/// How long one publisher waits for one receipt before sending the message again.
const RECEIPT_WAIT: Duration = Duration::from_secs(10);
/// A message not confirmed after this long stops its publisher: the soak reports it stuck.
const STUCK: Duration = Duration::from_secs(180);
/// The drain gives up when no new message came for this long.
const DRAIN_IDLE: Duration = Duration::from_secs(60);
/// The quick check's bound on the failover (the node's stop included).
const FAILOVER_LIMIT: Duration = Duration::from_secs(90);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Single,
    Cluster,
}

struct Config {
    mode: Mode,
    duration: Duration,
    publishers: usize,
    consumers: usize,
    chaos_every: Duration,
    quick: bool,
}

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        mode: Mode::Single,
        duration: Duration::from_secs(600),
        publishers: 4,
        consumers: 2,
        chaos_every: Duration::from_secs(5),
        quick: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> Result<u64, String> {
            let v = args.next().ok_or(format!("{what} needs a value"))?;
            v.parse()
                .map_err(|_| format!("{what}: not a whole number: {v}"))
        };
        match a.as_str() {
            "--single" => c.mode = Mode::Single,
            "--cluster" => c.mode = Mode::Cluster,
            "--quick" => c.quick = true,
            "--seconds" => c.duration = Duration::from_secs(num("--seconds")?),
            "--publishers" => c.publishers = num("--publishers")? as usize,
            "--consumers" => c.consumers = num("--consumers")? as usize,
            "--chaos-every" => c.chaos_every = Duration::from_secs(num("--chaos-every")?.max(1)),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if c.publishers == 0 || c.consumers == 0 {
        return Err("at least one publisher and one consumer".into());
    }
    if c.quick && c.mode != Mode::Cluster {
        return Err("--quick is the cluster failover check: use it with --cluster".into());
    }
    Ok(c)
}

fn env_port(var: &str, default: u16) -> u16 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A broker (a cluster node, or the single broker) behind its fault proxy.
struct Node {
    /// The cluster node's letter for `broker.sh cluster stop-node`; "" for the single broker.
    name: &'static str,
    proxy: FaultProxy,
}

fn broker_sh(args: &[&str]) -> Result<(), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/broker.sh");
    let status = Command::new(script)
        .args(args)
        .status()
        .map_err(|e| format!("run {script}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "scripts/broker.sh {} failed: {status}",
            args.join(" ")
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The tally: one lock and one condition variable that every event of the soak signals

#[derive(Default)]
struct Counts {
    /// deliveries[p][s]: how often message s of publisher p was delivered.
    deliveries: Vec<Vec<u32>>,
    delivered_total: u64,
    /// Deliveries whose `subscription` header was not the consumer's own id.
    foreign_subscription: u64,
    /// Bodies that are not "p:s".
    malformed: u64,
}

struct Tally {
    counts: Mutex<Counts>,
    cv: Condvar,
    /// confirmed[p]: messages 0..confirmed[p] of publisher p had their receipt.
    confirmed: Vec<AtomicU64>,
    resends: AtomicU64,
    /// The longest time from a message's first SEND to its receipt, in milliseconds.
    slowest_ms: AtomicU64,
    stuck: AtomicBool,
}

impl Tally {
    fn new(publishers: usize) -> Tally {
        Tally {
            counts: Mutex::new(Counts {
                deliveries: vec![Vec::new(); publishers],
                ..Counts::default()
            }),
            cv: Condvar::new(),
            confirmed: (0..publishers).map(|_| AtomicU64::new(0)).collect(),
            resends: AtomicU64::new(0),
            slowest_ms: AtomicU64::new(0),
            stuck: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes whoever waits in `wait_until`.
    fn signal(&self) {
        drop(self.lock());
        self.cv.notify_all();
    }

    fn record(&self, body: &[u8], own_subscription: bool) {
        let parsed = std::str::from_utf8(body).ok().and_then(|b| {
            let (p, s) = b.split_once(':')?;
            Some((p.parse::<usize>().ok()?, s.parse::<usize>().ok()?))
        });
        let mut c = self.lock();
        c.delivered_total += 1;
        if !own_subscription {
            c.foreign_subscription += 1;
        }
        match parsed {
            Some((p, s)) if p < c.deliveries.len() => {
                let per = &mut c.deliveries[p];
                if per.len() <= s {
                    per.resize(s + 1, 0);
                }
                per[s] += 1;
            }
            _ => c.malformed += 1,
        }
        drop(c);
        self.cv.notify_all();
    }

    fn delivered_total(&self) -> u64 {
        self.lock().delivered_total
    }

    /// Waits until `done` holds (checked at each event) or `limit` passes; true if it held.
    fn wait_until(&self, limit: Duration, mut done: impl FnMut(&Counts) -> bool) -> bool {
        let end = Instant::now() + limit;
        let mut c = self.lock();
        loop {
            if done(&c) {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            c = self
                .cv
                .wait_timeout(c, end - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Sent messages (receipt came) never delivered.
    fn missing(&self, c: &Counts) -> u64 {
        self.confirmed
            .iter()
            .enumerate()
            .map(|(p, n)| {
                let n = n.load(Ordering::SeqCst) as usize;
                let seen = &c.deliveries[p];
                (0..n)
                    .filter(|&s| seen.get(s).is_none_or(|&k| k == 0))
                    .count() as u64
            })
            .sum()
    }
}

// ---------------------------------------------------------------------------------------------
// Listeners: where each connection is, how often it came back; the consumers' acks

/// Follows one connection's links: the proxy port of the current one and how many there were.
#[derive(Default)]
struct Link {
    trying: AtomicU16,
    port: AtomicU16,
    connects: AtomicU64,
    /// Messages received on the current link.
    on_this_link: AtomicU64,
    errors: AtomicU64,
}

impl Link {
    fn reconnects(&self) -> u64 {
        self.connects.load(Ordering::SeqCst).saturating_sub(1)
    }
    fn connecting(&self, port: u16) {
        self.trying.store(port, Ordering::SeqCst);
    }
    fn connected(&self) {
        self.port
            .store(self.trying.load(Ordering::SeqCst), Ordering::SeqCst);
        self.on_this_link.store(0, Ordering::SeqCst);
        self.connects.fetch_add(1, Ordering::SeqCst);
    }
    fn error(&self, who: &str, f: &Frame) {
        if self.errors.fetch_add(1, Ordering::SeqCst) < 5 {
            eprintln!(
                "soak: {who}: ERROR from the broker: {}",
                f.header("message").unwrap_or("(no message header)")
            );
        }
    }
}

/// The listener of every connection of the soak; only consumers receive messages (and ack them).
struct Client {
    /// The subscription id for a consumer, "publisher N" for a publisher.
    id: String,
    link: Link,
    tally: Arc<Tally>,
    conn: OnceLock<Weak<Connection>>,
    acked: AtomicU64,
}

impl Client {
    fn new(id: String, tally: &Arc<Tally>) -> Arc<Client> {
        Arc::new(Client {
            id,
            link: Link::default(),
            tally: tally.clone(),
            conn: OnceLock::new(),
            acked: AtomicU64::new(0),
        })
    }
}

impl Listener for Client {
    fn on_connecting(&self, _host: &str, port: u16) {
        self.link.connecting(port);
    }
    fn on_connected(&self, _f: &Frame) {
        self.link.connected();
        self.tally.signal();
    }
    fn on_message(&self, f: &Frame) {
        self.link.on_this_link.fetch_add(1, Ordering::SeqCst);
        self.tally
            .record(f.body(), f.header("subscription") == Some(self.id.as_str()));
        // A message of a link that has since dropped is not acked (Disconnected): the broker
        // delivers it again, and the tally counts that as a duplicate.
        if let Some(c) = self.conn.get().and_then(Weak::upgrade)
            && c.ack_message(f, None).is_ok()
        {
            self.acked.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn on_error(&self, f: &Frame) {
        self.link.error(&self.id, f);
    }
    fn wants_send(&self) -> bool {
        false
    }
    fn wants_heartbeat(&self) -> bool {
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

/// `shuffle`: walk the failover list in a random order, so that the consumers end up on either
/// node and the outages hit both (the quick check wants them all on the first node instead).
fn options(nodes: &[Node], shuffle: bool) -> Options {
    let mut o = Options::new();
    o.randomize_hosts = shuffle;
    for n in nodes {
        o = o.host("127.0.0.1", n.proxy.port());
    }
    o.vhost = Some("/".into()); // RabbitMQ's STOMP `host` is the vhost
    o.auto_reconnect = true;
    o.heartbeats = (1000, 1000);
    o.connect_timeout = Duration::from_secs(5);
    o.reconnect = ReconnectPolicy {
        sleep_initial: 0.05,
        sleep_increase: 0.5,
        sleep_jitter: 0.2,
        sleep_max: 1.0,
        attempts_max: -1,
    };
    o
}

fn open(
    nodes: &[Node],
    shuffle: bool,
    listener: Arc<dyn Listener>,
) -> Result<Arc<Connection>, String> {
    let c = Connection::new(options(nodes, shuffle)).map_err(|e| e.to_string())?;
    c.set_listener("soak", listener);
    c.connect(Some("guest"), Some("guest"), &[], true)
        .map_err(|e| format!("connect: {e}"))?;
    Ok(Arc::new(c))
}

/// Headers that declare the queue: the same on SEND and SUBSCRIBE, or RabbitMQ refuses the second
/// declaration as inequivalent.
fn queue_headers(mode: Mode) -> Vec<(&'static str, &'static str)> {
    match mode {
        Mode::Cluster => vec![("x-queue-type", "quorum")],
        // The shared broker keeps nothing: the queue goes 10 minutes after its last use.
        Mode::Single => vec![("x-expires", "600000")],
    }
}

/// Publisher `p`: numbered messages until `stop`, each sent again until its receipt comes.
fn publish(conn: &Connection, p: usize, dest: &str, mode: Mode, tally: &Tally, stop: &AtomicBool) {
    let mut headers = queue_headers(mode);
    headers.push(("persistent", "true"));
    let mut attempt = 0u64;
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let body = format!("{p}:{seq}");
        let first = Instant::now();
        loop {
            attempt += 1;
            let receipt = format!("p{p}-{attempt}");
            let mut h = headers.clone();
            h.push(("receipt", &receipt));
            let r = conn
                .send(dest, body.as_bytes(), None, &h)
                .and_then(|_| conn.wait_receipt(&receipt, RECEIPT_WAIT));
            match r {
                Ok(()) => break,
                Err(e) => {
                    tally.resends.fetch_add(1, Ordering::Relaxed);
                    if !matches!(
                        e.kind,
                        ErrorKind::Disconnected
                            | ErrorKind::NotConnected
                            | ErrorKind::Timeout
                            | ErrorKind::QueueFull
                    ) {
                        eprintln!("soak: publisher {p}: message {seq}: {e}; sending it again");
                    }
                    if first.elapsed() > STUCK {
                        eprintln!(
                            "soak: publisher {p}: message {seq} unconfirmed after {STUCK:?}: giving up"
                        );
                        tally.stuck.store(true, Ordering::SeqCst);
                        tally.signal();
                        return;
                    }
                    // A short pause before the next try while the link comes back.
                    thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let took = first.elapsed().as_millis() as u64;
        tally.slowest_ms.fetch_max(took, Ordering::Relaxed);
        seq += 1;
        tally.confirmed[p].store(seq, Ordering::SeqCst);
        tally.signal();
    }
}

// ---------------------------------------------------------------------------------------------
// Chaos

/// A stop flag that a pacing wait can be cut short by.
#[derive(Default)]
struct Stop {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    fn set(&self) {
        *self.flag.lock().unwrap() = true;
        self.cv.notify_all();
    }
    /// Waits `d` unless stopped first; true if stopped.
    fn pause(&self, d: Duration) -> bool {
        let g = self.flag.lock().unwrap();
        *self.cv.wait_timeout_while(g, d, |s| !*s).unwrap().0
    }
}

#[derive(Default)]
struct ChaosCount {
    drops: u64,
    stalls: u64,
    outages: u64,
    /// Cluster outages that were a SIGKILL rather than an orderly stop.
    kills: u64,
}

/// The node (index into `nodes`) a connection is on, by its proxy port.
fn node_of(nodes: &[Node], link: &Link) -> Option<usize> {
    let port = link.port.load(Ordering::SeqCst);
    nodes.iter().position(|n| n.proxy.port() == port)
}

/// Takes the broker that consumer 0 is on away for `down`: a cluster node is stopped (or, with
/// `kill`, SIGKILLed) and started again; the single broker's proxy refuses connections.
fn outage(
    nodes: &[Node],
    consumer: &Link,
    down: Duration,
    kill: bool,
    stop: &Stop,
) -> Result<(), String> {
    let i = node_of(nodes, consumer).unwrap_or(0);
    let node = &nodes[i];
    if node.name.is_empty() {
        node.proxy.refuse(true);
        node.proxy.drop_links();
        stop.pause(down);
        node.proxy.refuse(false);
        return Ok(());
    }
    let how = if kill { "kill-node" } else { "stop-node" };
    println!("soak: chaos: {how} {} (the consumers' node)", node.name);
    broker_sh(&["cluster", how, node.name])?;
    stop.pause(down);
    broker_sh(&["cluster", "start-node", node.name])
}

fn chaos(
    nodes: &[Node],
    consumer: &Link,
    every: Duration,
    stop: &Stop,
) -> Result<ChaosCount, String> {
    let mut n = ChaosCount::default();
    for turn in 0u64.. {
        if stop.pause(every) {
            break;
        }
        match turn % 3 {
            0 => {
                nodes.iter().for_each(|x| x.proxy.drop_links());
                n.drops += 1;
            }
            1 => {
                // Longer than the 1.5 s heart-beat limit: the library notices, links die.
                nodes.iter().for_each(|x| x.proxy.stall());
                stop.pause(Duration::from_secs(3));
                nodes.iter().for_each(|x| {
                    x.proxy.drop_links();
                    x.proxy.restore();
                });
                n.stalls += 1;
            }
            _ => {
                // Every other outage of a cluster node is a crash.
                let kill = n.outages % 2 == 1 && !nodes[0].name.is_empty();
                outage(nodes, consumer, Duration::from_secs(5), kill, stop)?;
                n.outages += 1;
                n.kills += u64::from(kill);
            }
        }
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// The quick failover check

/// Stops the node the clients are on and waits until every consumer receives on another node and
/// every publisher has receipts from it. Err says what did not happen.
fn failover_check(
    nodes: &[Node],
    consumers: &[Arc<Client>],
    publishers: &[Arc<Client>],
    tally: &Tally,
) -> Result<(), String> {
    if !tally.wait_until(Duration::from_secs(60), |c| c.delivered_total >= 200) {
        return Err(format!(
            "messages do not flow: {} delivered in 60 s",
            tally.delivered_total()
        ));
    }
    let i = node_of(nodes, &consumers[0].link).ok_or("consumer 0 is on no known node")?;
    let old_port = nodes[i].proxy.port();
    let before_c: Vec<u64> = consumers
        .iter()
        .map(|c| c.link.connects.load(Ordering::SeqCst))
        .collect();
    let before_p: Vec<u64> = tally
        .confirmed
        .iter()
        .map(|n| n.load(Ordering::SeqCst))
        .collect();
    println!(
        "soak: stopping node {}, the one the consumers are on",
        nodes[i].name
    );
    let t0 = Instant::now();
    broker_sh(&["cluster", "stop-node", nodes[i].name])?;
    let moved = |l: &Link, before: u64| {
        l.connects.load(Ordering::SeqCst) > before && l.port.load(Ordering::SeqCst) != old_port
    };
    let done = tally.wait_until(FAILOVER_LIMIT, |_| {
        consumers
            .iter()
            .zip(&before_c)
            .all(|(c, &b)| moved(&c.link, b) && c.link.on_this_link.load(Ordering::SeqCst) > 0)
            && publishers
                .iter()
                .all(|p| p.link.port.load(Ordering::SeqCst) != old_port)
            && tally
                .confirmed
                .iter()
                .zip(&before_p)
                .all(|(n, &b)| n.load(Ordering::SeqCst) > b + 1)
    });
    let took = t0.elapsed();
    if !done {
        let state: Vec<String> = consumers
            .iter()
            .map(|c| {
                format!(
                    "consumer {}: port {}, {} links, {} messages on this one",
                    c.id,
                    c.link.port.load(Ordering::SeqCst),
                    c.link.connects.load(Ordering::SeqCst),
                    c.link.on_this_link.load(Ordering::SeqCst)
                )
            })
            .collect();
        return Err(format!(
            "no complete failover {took:?} after stopping node {}: {state:?}; confirmed {:?} (before {before_p:?})",
            nodes[i].name, tally.confirmed
        ));
    }
    println!(
        "soak: failover: every consumer re-subscribed and receiving on the other node, every publisher confirmed there, {:.1} s after the stop began",
        took.as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(64);
        }
    };
    match run(&cfg) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("soak: error: {e}");
            ExitCode::from(3)
        }
    }
}

fn run(cfg: &Config) -> Result<ExitCode, String> {
    let nodes: Vec<Node> = match cfg.mode {
        Mode::Single => vec![Node {
            name: "",
            proxy: FaultProxy::start(env_port("STOMP_RABBITMQ_PORT", 61613)),
        }],
        Mode::Cluster => {
            let base = env_port("STOMP_CLUSTER_PORT", 61633);
            vec![
                Node {
                    name: "a",
                    proxy: FaultProxy::start(base),
                },
                Node {
                    name: "b",
                    proxy: FaultProxy::start(base + 1),
                },
            ]
        }
    };
    let dest = format!("/queue/libstomp-soak-{}", uuid::Uuid::new_v4().simple());
    println!(
        "soak: {:?} mode{}, {} publishers, {} consumers, {}, queue {dest}",
        cfg.mode,
        if cfg.quick {
            " (quick failover check)"
        } else {
            ""
        },
        cfg.publishers,
        cfg.consumers,
        if cfg.quick {
            "until the failover is seen".to_owned()
        } else {
            format!(
                "{} s, chaos every {} s",
                cfg.duration.as_secs(),
                cfg.chaos_every.as_secs()
            )
        }
    );
    let tally = Arc::new(Tally::new(cfg.publishers));

    let mut consumers = Vec::new();
    let mut consumer_conns = Vec::new();
    for k in 0..cfg.consumers {
        let l = Client::new(format!("soak-{k}"), &tally);
        let c = open(&nodes, !cfg.quick, l.clone())?;
        let _ = l.conn.set(Arc::downgrade(&c));
        // One at a time, each confirmed: RabbitMQ 3.10 fails a consume that comes while another
        // connection's declaration of the quorum queue is still starting it ({error,noproc}).
        let receipt = format!("sub-{k}");
        let mut h = queue_headers(cfg.mode);
        h.extend([("prefetch-count", "200"), ("receipt", receipt.as_str())]);
        c.subscribe(&dest, Some(&l.id), AckMode::ClientIndividual, &h)
            .and_then(|_| c.wait_receipt(&receipt, Duration::from_secs(30)))
            .map_err(|e| format!("subscribe: {e}"))?;
        consumers.push(l);
        consumer_conns.push(c);
    }
    let mut publishers = Vec::new();
    let mut publisher_conns = Vec::new();
    for p in 0..cfg.publishers {
        let l = Client::new(format!("publisher {p}"), &tally);
        publisher_conns.push(open(&nodes, !cfg.quick, l.clone())?);
        publishers.push(l);
    }

    let t0 = Instant::now();
    let stop_publishing = Arc::new(AtomicBool::new(false));
    let stop_chaos = Stop::default();
    let mut quick_result = Ok(());
    let chaos_count = thread::scope(|s| -> Result<ChaosCount, String> {
        for (p, c) in publisher_conns.iter().enumerate() {
            let (tally, stop, dest) = (&tally, &stop_publishing, &dest);
            s.spawn(move || publish(c, p, dest, cfg.mode, tally, stop));
        }
        let chaos_thread = (!cfg.quick).then(|| {
            let (nodes, link, stop) = (&nodes, &consumers[0].link, &stop_chaos);
            s.spawn(move || chaos(nodes, link, cfg.chaos_every, stop))
        });
        if cfg.quick {
            quick_result = failover_check(&nodes, &consumers, &publishers, &tally);
            if quick_result.is_ok() {
                // A little steady traffic on the surviving nodes before the drain.
                tally.wait_until(Duration::from_secs(5), |_| {
                    tally.stuck.load(Ordering::SeqCst)
                });
            }
        } else {
            let report_every = Duration::from_secs(30);
            while t0.elapsed() < cfg.duration && !tally.stuck.load(Ordering::SeqCst) {
                let left = cfg.duration.saturating_sub(t0.elapsed());
                tally.wait_until(left.min(report_every), |_| {
                    tally.stuck.load(Ordering::SeqCst)
                });
                println!(
                    "soak: {:>4} s: sent {}, delivered {}, resends {}",
                    t0.elapsed().as_secs(),
                    tally
                        .confirmed
                        .iter()
                        .map(|n| n.load(Ordering::SeqCst))
                        .sum::<u64>(),
                    tally.delivered_total(),
                    tally.resends.load(Ordering::Relaxed)
                );
            }
        }
        stop_publishing.store(true, Ordering::SeqCst);
        stop_chaos.set();
        match chaos_thread {
            Some(t) => t
                .join()
                .map_err(|_| "the chaos thread panicked".to_owned())?,
            None => Ok(ChaosCount::default()),
        }
        // (the scope joins the publishers: each finishes the message it is on)
    })?;
    let publishing = t0.elapsed();
    for n in &nodes {
        n.proxy.refuse(false);
        n.proxy.restore();
    }

    // Drain: wait for every sent message, as long as messages keep coming. (`missing` walks every
    // message: it is counted once a second, or when enough deliveries came to cover it.)
    let drain0 = Instant::now();
    let (mut seen, mut last_progress) = (tally.delivered_total(), Instant::now());
    loop {
        let missing = tally.missing(&tally.lock());
        if missing == 0 || last_progress.elapsed() >= DRAIN_IDLE {
            break;
        }
        tally.wait_until(Duration::from_secs(1), |c| {
            c.delivered_total >= seen + missing
        });
        let now = tally.delivered_total();
        if now > seen {
            (seen, last_progress) = (now, Instant::now());
        }
    }
    let drain = drain0.elapsed();

    let c = tally.lock();
    let sent: u64 = tally
        .confirmed
        .iter()
        .map(|n| n.load(Ordering::SeqCst))
        .sum();
    let distinct: u64 = c
        .deliveries
        .iter()
        .map(|v| v.iter().filter(|&&k| k > 0).count() as u64)
        .sum();
    let duplicated: u64 = c
        .deliveries
        .iter()
        .flat_map(|v| v.iter())
        .map(|&k| u64::from(k.saturating_sub(1)))
        .sum();
    let lost = tally.missing(&c);
    let unsent_delivered = distinct + lost - sent; // delivered, but their receipt never came
    let reconnects_p: u64 = publishers.iter().map(|p| p.link.reconnects()).sum();
    let reconnects_c: u64 = consumers.iter().map(|c| c.link.reconnects()).sum();
    let errors: u64 = publishers
        .iter()
        .map(|p| p.link.errors.load(Ordering::SeqCst))
        .chain(
            consumers
                .iter()
                .map(|c| c.link.errors.load(Ordering::SeqCst)),
        )
        .sum();
    let (foreign, malformed) = (c.foreign_subscription, c.malformed);
    let total = c.delivered_total;
    drop(c);
    println!(
        "soak: {:?}: published for {:.0} s, drained in {:.1} s",
        cfg.mode,
        publishing.as_secs_f64(),
        drain.as_secs_f64()
    );
    println!(
        "soak: sent {sent} ({:.0}/s), delivered {distinct} ({total} deliveries), duplicated {duplicated}, lost {lost}, \
         reconnects {} (publishers {reconnects_p}, consumers {reconnects_c})",
        sent as f64 / publishing.as_secs_f64(),
        reconnects_p + reconnects_c
    );
    println!(
        "soak: resends {}, slowest receipt {:.1} s, acks {}, ERROR frames {errors}, delivered without a receipt {unsent_delivered}, \
         chaos: {} drops, {} stalls, {} {}{}, {} links accepted by the proxies",
        tally.resends.load(Ordering::Relaxed),
        tally.slowest_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        consumers
            .iter()
            .map(|c| c.acked.load(Ordering::Relaxed))
            .sum::<u64>(),
        chaos_count.drops,
        chaos_count.stalls,
        chaos_count.outages,
        if cfg.mode == Mode::Cluster {
            "node restarts"
        } else {
            "refusal windows"
        },
        if cfg.mode == Mode::Cluster {
            format!(" ({} after a SIGKILL)", chaos_count.kills)
        } else {
            String::new()
        },
        nodes.iter().map(|n| n.proxy.accepted()).sum::<u64>()
    );
    for c in consumer_conns.iter().chain(&publisher_conns) {
        let _ = c.disconnect(None, Duration::from_secs(5));
    }

    let mut bad = Vec::new();
    if lost > 0 {
        bad.push(format!("{lost} messages lost"));
    }
    if foreign + malformed > 0 {
        bad.push(format!(
            "{foreign} deliveries on a foreign subscription, {malformed} malformed"
        ));
    }
    if tally.stuck.load(Ordering::SeqCst) {
        bad.push("a publisher was stuck".into());
    }
    if let Err(e) = &quick_result {
        println!("soak: FAILED: {e}");
        return Ok(ExitCode::from(2));
    }
    if bad.is_empty() {
        println!("soak: OK: nothing lost");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("soak: FAILED: {}", bad.join("; "));
        Ok(ExitCode::from(1))
    }
}
