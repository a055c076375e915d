//! `Connection::stats`: each counter equals the traffic the test made.
//!
//! Exact byte and heart-beat counts need to know every byte on the wire, which a real broker does not
//! tell: those tests run against `FakeBrokerFixture`, a scripted server on 127.0.0.1 that records
//! what it reads and writes. Message, receipt and connection counts are checked against RabbitMQ too.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use common::{Broker, unique_queue};
use stomp::*;

const WAIT: Duration = Duration::from_secs(10);

/// What the fake broker saw on one connection, once the client closed it.
#[derive(Debug, Default)]
struct Wire {
    read: u64,
    written: u64,
    /// EOLs read between frames: the client's heart-beats.
    beats_read: u64,
    commands: Vec<String>,
}

/// Notes from the fake broker while the connection runs.
#[derive(Debug, PartialEq)]
enum Note {
    FirstBeat,
    Done,
}

/// A scripted fake broker for one connection: answers CONNECT with CONNECTED (`heart-beat:0,100`,
/// so the client sends heart-beats every 100 ms and expects none), SUBSCRIBE with two MESSAGEs, an
/// ERROR and two heart-beats, and every frame with a `receipt` header with its RECEIPT.
struct FakeBrokerFixture {
    port: u16,
    notes: mpsc::Receiver<Note>,
    wire: mpsc::Receiver<Wire>,
}

impl FakeBrokerFixture {
    fn start() -> FakeBrokerFixture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (note_tx, notes) = mpsc::channel();
        let (wire_tx, wire) = mpsc::channel();
        std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let _ = wire_tx.send(serve(s, &note_tx));
        });
        FakeBrokerFixture { port, notes, wire }
    }
}

fn serve(mut s: TcpStream, notes: &mpsc::Sender<Note>) -> Wire {
    let mut wire = Wire::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    let write = |s: &mut TcpStream, wire: &mut Wire, bytes: &[u8]| {
        s.write_all(bytes).unwrap();
        wire.written += bytes.len() as u64;
    };
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        wire.read += n as u64;
        pending.extend_from_slice(&buf[..n]);
        // Heart-beats are EOLs before a frame's command; the client puts no EOL after its frames.
        loop {
            let lead = pending.iter().take_while(|&&b| b == b'\n').count();
            if lead > 0 {
                if wire.beats_read == 0 {
                    let _ = notes.send(Note::FirstBeat);
                }
                wire.beats_read += lead as u64;
                pending.drain(..lead);
            }
            let Some(end) = pending.iter().position(|&b| b == 0) else {
                break;
            };
            let frame = String::from_utf8_lossy(&pending[..end]).into_owned();
            pending.drain(..=end);
            let command = frame.lines().next().unwrap_or("").to_owned();
            let receipt = frame
                .lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix("receipt:"))
                .map(str::to_owned);
            match command.as_str() {
                // The EOL after the NUL is the kind RabbitMQ sends: not a heart-beat.
                "CONNECT" => write(
                    &mut s,
                    &mut wire,
                    b"CONNECTED\nversion:1.2\nheart-beat:0,100\n\n\0\n",
                ),
                "SUBSCRIBE" => {
                    write(
                        &mut s,
                        &mut wire,
                        b"MESSAGE\ndestination:/queue/s\nmessage-id:1\nsubscription:0\n\none\0",
                    );
                    write(
                        &mut s,
                        &mut wire,
                        b"MESSAGE\ndestination:/queue/s\nmessage-id:2\nsubscription:0\n\ntwo\0",
                    );
                    write(&mut s, &mut wire, b"ERROR\nmessage:just a test\n\n\0");
                    // One EOL closing the ERROR frame, then two heart-beats.
                    write(&mut s, &mut wire, b"\n\n\n");
                }
                _ => {}
            }
            if let Some(r) = receipt {
                write(
                    &mut s,
                    &mut wire,
                    format!("RECEIPT\nreceipt-id:{}\n\n\0", r).as_bytes(),
                );
            }
            wire.commands.push(command);
        }
    }
    let _ = notes.send(Note::Done);
    wire
}

#[test]
fn every_counter_matches_the_bytes_and_frames_of_a_scripted_session() {
    let fake = FakeBrokerFixture::start();
    let mut o = Options::new().host("127.0.0.1", fake.port);
    o.heartbeats = (100, 0);
    o.receive_queue = 16;
    let c = Connection::new(o).unwrap();
    assert_eq!(
        c.stats(),
        Stats::default(),
        "nothing counted before connecting"
    );

    c.connect(Some("stats-user"), Some("stats-pass"), &[], true)
        .unwrap();
    c.subscribe("/queue/s", Some("0"), AckMode::Auto, &[])
        .unwrap();
    for body in ["a", "bb"] {
        c.send("/queue/s", body.as_bytes(), None, &[]).unwrap();
    }
    c.send("/queue/s", b"ccc", None, &[("receipt", "r-send")])
        .unwrap();
    c.wait_receipt("r-send", WAIT).unwrap();
    for want in ["one", "two"] {
        let m = c.receive(WAIT).expect("a message from the fake broker");
        assert_eq!(m.body(), want.as_bytes());
    }
    // At least one heart-beat from the client before ending (the fake says when it sees one).
    assert_eq!(
        fake.notes.recv_timeout(WAIT),
        Ok(Note::FirstBeat),
        "no heart-beat from the client within {WAIT:?}"
    );
    c.disconnect(Some("r-bye"), WAIT).unwrap();
    assert_eq!(fake.notes.recv_timeout(WAIT), Ok(Note::Done));
    let wire = fake.wire.recv_timeout(WAIT).unwrap();
    assert_eq!(
        wire.commands,
        ["CONNECT", "SUBSCRIBE", "SEND", "SEND", "SEND", "DISCONNECT"]
    );

    let s = c.stats();
    let want = Stats {
        connections: 1,
        disconnects: 1,
        reconnects: 0,
        messages_sent: 3,
        messages_received: 2,
        frames_sent: 6,
        // CONNECTED, 2 MESSAGE, ERROR, 2 RECEIPT.
        frames_received: 6,
        receipts_received: 2,
        errors: 1,
        heartbeats_sent: wire.beats_read,
        heartbeats_received: 2,
        heartbeat_timeouts: 0,
        bytes_sent: wire.read,
        bytes_received: wire.written,
        frames_held: 0,
    };
    assert_eq!(s, want);
    assert!(s.heartbeats_sent >= 1);
}

/// A fake broker for heart-beat timeouts and reconnects: each connection gets CONNECTED
/// (`heart-beat:100,0`: the client expects a beat every 100 ms) and then silence, until the test
/// lets the next connection in.
#[test]
fn a_silent_broker_counts_a_timeout_a_reconnect_and_the_frames_held_meanwhile() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (sock_tx, sock_rx) = mpsc::channel::<(TcpStream, Vec<u8>)>();
    std::thread::spawn(move || {
        for i in 0..2 {
            if i == 1 && go_rx.recv().is_err() {
                return;
            }
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 1];
            while s.read(&mut b).unwrap_or(0) == 1 && b[0] != 0 {
                got.push(b[0]);
            }
            s.write_all(b"CONNECTED\nversion:1.2\nheart-beat:100,0\n\n\0")
                .unwrap();
            sock_tx.send((s, got)).unwrap();
        }
    });

    let mut o = Options::new().host("127.0.0.1", port);
    o.heartbeats = (0, 100);
    o.auto_reconnect = true;
    o.reconnect = ReconnectPolicy {
        sleep_initial: 0.01,
        ..ReconnectPolicy::default()
    };
    let c = Connection::new(o).unwrap();
    let (ev_tx, ev_rx) = mpsc::channel();
    c.set_listener(
        "events",
        std::sync::Arc::new(Events(std::sync::Mutex::new(ev_tx))),
    );
    c.connect(None, None, &[], true).unwrap();
    let (_first, _) = sock_rx.recv_timeout(WAIT).unwrap();
    assert_eq!(ev_rx.recv_timeout(WAIT), Ok("connected"));
    // Silence: the client gives up on this link after 150 ms and reconnects.
    assert_eq!(ev_rx.recv_timeout(WAIT), Ok("timeout"));
    assert_eq!(ev_rx.recv_timeout(WAIT), Ok("disconnected"));
    // The fake does not accept yet: these two are held.
    c.send("/queue/held", b"1", None, &[]).unwrap();
    c.send("/queue/held", b"2", None, &[]).unwrap();
    go_tx.send(()).unwrap();
    let (mut second, _) = sock_rx.recv_timeout(WAIT).unwrap();
    assert_eq!(ev_rx.recv_timeout(WAIT), Ok("connected"));
    // The held frames arrive on the new link.
    let mut got = Vec::new();
    let mut b = [0u8; 256];
    while got.iter().filter(|&&x| x == 0).count() < 2 {
        let n = second.read(&mut b).unwrap();
        assert!(n > 0, "the link closed before the held frames came");
        got.extend_from_slice(&b[..n]);
    }
    // Read before any disconnect (which this silent fake would not answer).
    let s = c.stats();
    assert_eq!(s.connections, 2);
    assert_eq!(s.reconnects, 1);
    assert_eq!(s.heartbeat_timeouts, 1);
    assert_eq!(s.frames_held, 2);
    assert_eq!(
        s.messages_sent, 2,
        "the held SENDs counted once, when really sent"
    );
    assert_eq!(s.disconnects, 1);
}

struct Events(std::sync::Mutex<mpsc::Sender<&'static str>>);

impl Listener for Events {
    fn on_connected(&self, _: &Frame) {
        let _ = self.0.lock().unwrap().send("connected");
    }
    fn on_disconnected(&self) {
        let _ = self.0.lock().unwrap().send("disconnected");
    }
    fn on_heartbeat_timeout(&self) {
        let _ = self.0.lock().unwrap().send("timeout");
    }
}

#[test]
fn rabbitmq_counts_match_the_messages_and_receipts_of_a_round_trip() {
    const N: u64 = 25;
    let c = Broker::RabbitMq.connect(Version::V1_2, |o| o.receive_queue = 64);
    let q = unique_queue("stats");
    c.subscribe(&q, None, AckMode::Auto, &[("receipt", "sub")])
        .unwrap();
    c.wait_receipt("sub", WAIT).unwrap();
    for i in 0..N {
        c.send(
            &q,
            format!("m{i}").as_bytes(),
            None,
            &[("receipt", &format!("s{i}"))],
        )
        .unwrap();
    }
    for i in 0..N {
        c.wait_receipt(&format!("s{i}"), WAIT).unwrap();
    }
    for _ in 0..N {
        c.receive(WAIT).expect("every message comes back");
    }
    c.disconnect(Some("bye"), WAIT).unwrap();
    let s = c.stats();
    assert_eq!(s.connections, 1);
    assert_eq!(s.disconnects, 1);
    assert_eq!(s.messages_sent, N);
    assert_eq!(s.messages_received, N);
    // SUBSCRIBE, N SENDs and DISCONNECT each asked for a receipt.
    assert_eq!(s.receipts_received, N + 2);
    // CONNECT, SUBSCRIBE, N SEND, DISCONNECT; CONNECTED, N MESSAGE, N + 2 RECEIPT.
    assert_eq!(s.frames_sent, N + 3);
    assert_eq!(s.frames_received, 2 * N + 3);
    assert_eq!((s.errors, s.heartbeat_timeouts, s.frames_held), (0, 0, 0));
    assert!(s.bytes_sent > 0 && s.bytes_received > 0);
}
