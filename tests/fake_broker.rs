//! What a real broker will not do on demand: malformed frames, silence, stalls and dropped links,
//! played by `common::hostile::HostileServer` (a scripted TCP server on 127.0.0.1). The full list
//! of hostile cases, each with and without a receive queue, is in `hostile_server.rs`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Recorder;
use common::hostile::{HostileServer as FakeBroker, Script, play};
use stomp::*;

fn connection(o: Options, rec: &std::sync::Arc<Recorder>) -> std::sync::Arc<Connection> {
    let c = std::sync::Arc::new(Connection::new(o).unwrap());
    c.set_listener("rec", rec.clone());
    c
}

#[test]
fn garbage_from_the_broker_closes_with_a_protocol_error() {
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let mut o = fake.options();
    o.receive_queue = 4;
    let c = connection(o, &rec);
    let mut s = fake.connect(&c, "0,0");
    s.write_all(b"MESSAGE\ndestination:/q\nmessage-id:1\n\nok\0HELLO WORLD\n\n\0")
        .unwrap();
    rec.wait_for(Duration::from_secs(10), "disconnected", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    // The good frame before the garbage is delivered; then the connection is closed with the reason.
    assert_eq!(c.receive(Duration::from_secs(1)).unwrap().body(), b"ok");
    assert_eq!(
        c.receive(Duration::from_secs(1)).unwrap_err().kind,
        ErrorKind::Closed
    );
    let e = c.last_error().unwrap();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("HELLO WORLD"), "{}", e.message);
    assert_eq!(
        c.send("/q", b"x", None, &[]).unwrap_err().kind,
        ErrorKind::NotConnected
    );
}

#[test]
fn an_oversized_frame_is_refused_without_buffering_it() {
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let mut o = fake.options();
    o.limits.max_body = 1024;
    let c = connection(o, &rec);
    let mut s = fake.connect(&c, "0,0");
    s.write_all(b"MESSAGE\ndestination:/q\ncontent-length:1000000\n\n")
        .unwrap();
    rec.wait_for(Duration::from_secs(10), "disconnected", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    assert_eq!(c.last_error().unwrap().kind, ErrorKind::TooLarge);
}

#[test]
fn a_broker_that_never_answers_connect_times_out() {
    // A listener that completes TCP (the kernel does) but never speaks.
    let fake = FakeBroker::new();
    let mut o = fake.options();
    o.connect_timeout = Duration::from_millis(300);
    o.reconnect = ReconnectPolicy {
        sleep_initial: 0.05,
        sleep_increase: 0.0,
        sleep_jitter: 0.0,
        sleep_max: 0.05,
        attempts_max: 2,
    };
    let c = Connection::new(o).unwrap();
    let start = Instant::now();
    let e = c.connect(None, None, &[], true).unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind, ErrorKind::ConnectFailed);
    assert!(
        e.message.contains("did not answer CONNECT in time"),
        "{}",
        e.message
    );
    // Two passes of 300 ms and one 50 ms sleep between them.
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(fake);
}

#[test]
fn a_stalled_broker_is_detected_by_the_heartbeat() {
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let mut o = fake.options();
    o.heartbeats = (0, 200);
    let c = connection(o, &rec);
    // The broker promises a heart-beat every 200 ms, sends one (which ends the first beat's grace),
    // then nothing more (the socket stays open).
    let mut s = fake.connect(&c, "200,0");
    s.write_all(b"\n").unwrap();
    let start = Instant::now();
    rec.wait_for(Duration::from_secs(5), "a heart-beat timeout", |r| {
        r.events.iter().any(|e| e == "heartbeat_timeout")
    });
    let took = start.elapsed();
    // Receive interval x scale (1.5) = 300 ms; allow 20% over.
    assert!(
        took >= Duration::from_millis(280) && took <= Duration::from_millis(360 + 50),
        "detected after {took:?}"
    );
    rec.wait_for(Duration::from_secs(5), "disconnected", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    assert_eq!(c.last_error().unwrap().kind, ErrorKind::Timeout);
    drop(s);
}

#[test]
fn heartbeats_flow_while_a_handler_is_slow() {
    let fake = FakeBroker::new();
    struct Slow(std::sync::Arc<Recorder>);
    impl Listener for Slow {
        fn on_message(&self, f: &Frame) {
            std::thread::sleep(Duration::from_millis(1500)); // a handler far slower than the heart-beat
            self.0.on_message(f);
        }
        fn on_heartbeat_timeout(&self) {
            self.0.on_heartbeat_timeout();
        }
    }
    let rec = Recorder::new();
    let mut o = fake.options();
    o.heartbeats = (100, 0);
    let c = std::sync::Arc::new(Connection::new(o).unwrap());
    c.set_listener("slow", std::sync::Arc::new(Slow(rec.clone())));
    let mut s = fake.connect(&c, "0,100");
    s.write_all(b"MESSAGE\ndestination:/q\nmessage-id:1\n\nslow\0")
        .unwrap();
    // While the handler sleeps, count the heart-beats the client sends.
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let mut beats = 0;
    let mut b = [0u8; 64];
    while start.elapsed() < Duration::from_millis(1000) {
        if let Ok(n) = s.read(&mut b) {
            beats += b[..n].iter().filter(|&&x| x == b'\n').count();
        }
    }
    assert!(
        beats >= 7,
        "only {beats} heart-beats in 1 s at 100 ms while the handler slept"
    );
    rec.wait_for(Duration::from_secs(5), "the slow message", |r| {
        r.messages.len() == 1
    });
    assert!(c.is_connected());
}

#[test]
fn a_dropped_link_loses_pending_receipts_visibly() {
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let c = connection(fake.options(), &rec);
    let mut s = fake.connect(&c, "0,0");
    c.send("/q", b"x", None, &[("receipt", "r1")]).unwrap();
    // Read the SEND, then drop the link without a RECEIPT.
    let mut b = [0u8; 256];
    let _ = s.read(&mut b).unwrap();
    drop(s);
    let e = c.wait_receipt("r1", Duration::from_secs(5)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Disconnected, "{}", e.message);
    rec.wait_for(Duration::from_secs(5), "disconnected", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    assert_eq!(c.last_error().unwrap().kind, ErrorKind::Closed);
}

#[test]
fn an_error_frame_reaches_on_error() {
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let c = connection(fake.options(), &rec);
    let mut s = fake.connect(&c, "0,0");
    s.write_all(b"ERROR\nmessage:bad things\\c happened\n\ndetails\0")
        .unwrap();
    rec.wait_for(Duration::from_secs(5), "an error", |r| r.errors.len() == 1);
    let f = rec.state.lock().unwrap().errors[0].clone();
    assert_eq!(f.header("message"), Some("bad things: happened"));
    assert_eq!(f.body(), b"details");
}

#[test]
fn ipv6_literals_with_and_without_brackets() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        println!("no IPv6 loopback on this machine: skipped");
        return;
    };
    let fake = FakeBroker::from_listener(listener);
    for host in ["::1", "[::1]"] {
        let mut o = Options::new().host(host, fake.port);
        o.reconnect = ReconnectPolicy {
            attempts_max: 1,
            ..ReconnectPolicy::default()
        };
        let c = std::sync::Arc::new(Connection::new(o).unwrap());
        let s = fake.connect(&c, "0,0");
        assert!(s.peer_addr().unwrap().is_ipv6(), "{host}");
        assert!(c.is_connected());
    }
}

#[test]
fn connects_from_a_bound_local_address_and_port() {
    let fake = FakeBroker::new();
    let local = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut o = fake.options();
    o.bind = Some(local);
    let c = std::sync::Arc::new(Connection::new(o).unwrap());
    let s = fake.connect(&c, "0,0");
    assert_eq!(
        s.peer_addr().unwrap(),
        local,
        "the broker sees the bound address and port"
    );
}

#[test]
fn the_connect_frame_carries_what_was_asked() {
    let fake = FakeBroker::new();
    let mut o = fake.options();
    o.version = Version::V1_1;
    o.heartbeats = (2000, 3000);
    o.vhost = Some("my-vhost".into());
    let c = std::sync::Arc::new(Connection::new(o).unwrap());
    let (tx, rx) = mpsc::channel();
    let c2 = c.clone();
    std::thread::spawn(move || {
        tx.send(c2.connect(Some("me"), Some("p:a\\ss"), &[("client-id", "x")], true))
            .unwrap()
    });
    let (mut s, connect) = fake.accept();
    assert_eq!(
        connect,
        "CONNECT\naccept-version:1.0,1.1\nhost:my-vhost\nlogin:me\npasscode:p:a\\ss\nheart-beat:2000,3000\nclient-id:x\n\n"
    );
    write!(s, "CONNECTED\nversion:1.1\nheart-beat:0,0\n\n\0").unwrap();
    rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(c.version(), Some(Version::V1_1));
}

#[test]
fn disconnect_during_the_handshake_ends_the_walk() {
    // The broker takes the CONNECT and stays silent; the application gives up on it mid-handshake.
    let fake = FakeBroker::new();
    let mut o = fake.options();
    o.reconnect.attempts_max = -1; // would walk on forever if the close did not end the walk
    let c = Connection::new(o).unwrap();
    c.connect(None, None, &[], false).unwrap();
    let (_socket, connect) = fake.accept();
    assert!(connect.starts_with("CONNECT\n"));
    let start = Instant::now();
    c.disconnect(None, Duration::from_secs(2)).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(c.phase(), stomp::client::ConnectionPhase::Closed);
    assert_eq!(
        c.send("/queue/x", b"late", None, &[]).unwrap_err().kind,
        ErrorKind::NotConnected
    );
}

/// A fake server's bytes after CONNECTED that make the library close the link (a real broker sends
/// neither): with a listener and a receive queue both on, the listener must hear on_disconnected,
/// and `receive` must end with Closed (not wait out its timeout), whatever the queue holds.
fn protocol_error_with_listener_and_queue(queue: usize, script: &[u8], kind: ErrorKind) {
    link_end_with_listener_and_queue(queue, script, false, kind)
}

fn link_end_with_listener_and_queue(queue: usize, script: &[u8], close: bool, kind: ErrorKind) {
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let mut o = fake.options();
    o.receive_queue = queue;
    let c = connection(o, &rec);
    let mut s = fake.connect(&c, "0,0");
    if close {
        s.write_all(script).unwrap();
        drop(s);
    } else {
        play(s, Script::Bytes(script.to_vec()));
    }
    rec.wait_for(Duration::from_secs(10), "disconnected", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    let start = Instant::now();
    loop {
        match c.receive(Duration::from_secs(10)) {
            Ok(_) => continue, // messages before the bad bytes are still delivered
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::Closed, "{}", e.message);
                break;
            }
        }
    }
    assert!(start.elapsed() < Duration::from_secs(5), "receive hung");
    assert_eq!(c.last_error().unwrap().kind, kind);
    assert!(!c.is_connected());
}

#[test]
fn garbage_after_connected_reaches_on_disconnected_with_a_receive_queue() {
    protocol_error_with_listener_and_queue(4, b"HELLO WORLD\n\n\0", ErrorKind::Protocol);
}

#[test]
fn a_million_headers_reach_on_disconnected_with_a_receive_queue() {
    let mut script = b"MESSAGE\ndestination:/q\n".to_vec();
    for i in 0..1_000_000 {
        script.extend_from_slice(format!("h{}:v\n", i).as_bytes());
    }
    script.extend_from_slice(b"\n\0");
    protocol_error_with_listener_and_queue(4, &script, ErrorKind::TooLarge);
}

#[test]
fn garbage_behind_a_full_receive_queue_reaches_on_disconnected() {
    // The queue holds one message and the application does not take it: the bad bytes behind it
    // must still end the link, and the listener must hear it.
    let script = b"MESSAGE\ndestination:/q\nmessage-id:1\n\nok\0MESSAGE\ndestination:/q\nmessage-id:2\n\nok\0HELLO\n\n\0";
    protocol_error_with_listener_and_queue(1, script, ErrorKind::Protocol);
}

#[test]
fn a_broker_closing_behind_a_full_receive_queue_reaches_on_disconnected() {
    let script = b"MESSAGE\ndestination:/q\nmessage-id:1\n\nok\0MESSAGE\ndestination:/q\nmessage-id:2\n\nok\0";
    link_end_with_listener_and_queue(1, script, true, ErrorKind::Closed);
}

#[test]
fn a_body_that_stops_arriving_ends_the_link_within_the_frame_timeout() {
    // Heart-beats off, so only the frame's own time limit can catch the stall.
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let mut o = fake.options();
    o.frame_timeout = Duration::from_millis(300);
    let c = connection(o, &rec);
    let mut s = fake.connect(&c, "0,0");
    s.write_all(b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:100\n\n0123456789")
        .unwrap();
    let start = Instant::now();
    rec.wait_for(Duration::from_secs(5), "disconnected", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1000),
        "ended after {took:?}"
    );
    let e = c.last_error().unwrap();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    assert!(
        e.message.contains("body came too slowly") && e.message.contains("300 ms"),
        "{}",
        e.message
    );
    assert!(rec.messages().is_empty());
    drop(s);
}

#[test]
fn a_link_dropped_mid_write_reconnects_and_writes_from_the_start() {
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let mut o = fake.options();
    o.auto_reconnect = true;
    o.reconnect = ReconnectPolicy {
        sleep_initial: 0.05,
        attempts_max: 3,
        ..ReconnectPolicy::default()
    };
    o.max_out_bytes = 64 << 20;
    let c = connection(o, &rec);
    let s = fake.connect(&c, "0,0");
    // The fake reads nothing more: 32 MiB fill the socket's buffers, leaving a write part-done.
    let body = vec![b'x'; 1 << 20];
    for _ in 0..32 {
        c.send("/queue/big", &body, None, &[]).unwrap();
    }
    // Closing with unread bytes resets the link under the half-written buffer.
    drop(s);
    rec.wait_for(Duration::from_secs(10), "disconnected", |r| {
        r.events.iter().any(|e| e == "disconnected")
    });
    let (mut s, connect) = fake.accept();
    assert!(
        connect.starts_with("CONNECT\n"),
        "the new link begins with CONNECT: {connect:?}"
    );
    s.write_all(b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0")
        .unwrap();
    rec.wait_for(Duration::from_secs(10), "connected again", |r| {
        r.events.iter().filter(|e| *e == "connected").count() == 2
    });
    c.send_frame(
        Frame::new(Command::Send)
            .with("destination", "/queue/small")
            .with("receipt", "r1"),
    )
    .unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("receipt:r1") {
        let n = s.read(&mut b).unwrap();
        assert!(n > 0, "the link closed before the SEND came");
        got.extend_from_slice(&b[..n]);
    }
    assert!(
        String::from_utf8_lossy(&got).starts_with("SEND\n"),
        "the first bytes of the new link are a whole frame"
    );
    s.write_all(b"RECEIPT\nreceipt-id:r1\n\n\0").unwrap();
    c.wait_receipt("r1", Duration::from_secs(10)).unwrap();
}

#[test]
fn large_bodies_sent_back_to_back_arrive_whole_and_in_order() {
    let fake = FakeBroker::new();
    let rec = Recorder::new();
    let mut o = fake.options();
    // Each body is over the limit, so each waits for the one before to be written (and is copied
    // into the buffer that one was written from).
    o.max_out_bytes = 1 << 20;
    let c = connection(o, &rec);
    let mut s = fake.connect(&c, "0,0");
    let size = 3 << 20;
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut b = vec![0u8; 1 << 16];
        while !String::from_utf8_lossy(&got[got.len().saturating_sub(64)..]).contains("receipt:end")
        {
            let n = s.read(&mut b).unwrap();
            assert!(n > 0, "the link closed before the last frame");
            got.extend_from_slice(&b[..n]);
        }
        got
    });
    for fill in [b'a', b'b', b'c'] {
        c.send("/queue/big", &vec![fill; size], None, &[]).unwrap();
    }
    c.send("/queue/small", b"tail", None, &[("receipt", "end")])
        .unwrap();
    let got = reader.join().unwrap();
    let mut rest = &got[..];
    for fill in [b'a', b'b', b'c'] {
        let head = format!("SEND\ndestination:/queue/big\ncontent-length:{size}\n\n");
        assert!(
            rest.starts_with(head.as_bytes()),
            "a SEND of {size} bytes next"
        );
        rest = &rest[head.len()..];
        assert!(
            rest[..size].iter().all(|&x| x == fill),
            "body {}",
            fill as char
        );
        assert_eq!(rest[size], 0);
        rest = &rest[size + 1..];
    }
    assert!(rest.starts_with(b"SEND\ndestination:/queue/small\n"));
}
