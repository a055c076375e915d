//! The session driven by hand with simulated time: no sockets, no sleeps.

use super::*;

fn t0() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn params(version: Version, heartbeats: (u32, u32)) -> ConnectParams {
    ConnectParams {
        version: Some(version),
        login: Some("guest".into()),
        passcode: Some("p:w\\d".into()),
        vhost: None,
        host_name: "127.0.0.1".into(),
        heartbeats,
        ..ConnectParams::default()
    }
}

/// Everything the session wants written, as text.
fn drain_out(s: &mut Session, now: Instant) -> String {
    let mut all = Vec::new();
    let n = s.take_transmit(&mut all);
    s.transmitted(n, now);
    assert!(!s.has_transmit());
    String::from_utf8_lossy(&all).into_owned()
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// A session connected with `version` and the broker's `heart-beat` answer.
fn connected(version: Version, ours: (u32, u32), theirs: &str, now: Instant) -> Session {
    connected_to("fake", version, ours, theirs, now)
}

/// The same, with the broker's `server` header.
fn connected_to(
    server: &str,
    version: Version,
    ours: (u32, u32),
    theirs: &str,
    now: Instant,
) -> Session {
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&params(version, ours), now).unwrap();
    drain_out(&mut s, now);
    let reply = format!(
        "CONNECTED\nversion:{}\nheart-beat:{}\nserver:{}\n\n\0",
        version, theirs, server
    );
    s.handle_bytes(reply.as_bytes(), now);
    assert_eq!(s.state(), State::Connected);
    events(&mut s);
    s
}

#[test]
fn connect_frame_per_version() {
    let now = t0();
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&params(Version::V1_2, (1000, 2000)), now).unwrap();
    let out = drain_out(&mut s, now);
    assert_eq!(
        out,
        "CONNECT\naccept-version:1.0,1.1,1.2\nhost:127.0.0.1\nlogin:guest\npasscode:p:w\\d\nheart-beat:1000,2000\n\n\0",
        "1.2 always sends host; CONNECT values are never escaped"
    );
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&params(Version::V1_1, (0, 0)), now).unwrap();
    let out = drain_out(&mut s, now);
    assert!(
        !out.contains("host:"),
        "1.1 sends host only with a vhost: {out:?}"
    );
    assert!(!out.contains("heart-beat"), "0,0 is not sent");
    let mut p = params(Version::V1_0, (1000, 1000));
    p.vhost = Some("/".into());
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&p, now).unwrap();
    let out = drain_out(&mut s, now);
    assert!(out.starts_with("CONNECT\nhost:/\nlogin:guest\n"), "{out:?}");
    assert!(
        !out.contains("accept-version") && !out.contains("heart-beat"),
        "1.0 has neither: {out:?}"
    );
    let mut p = params(Version::V1_2, (0, 0));
    p.use_stomp_command = true;
    p.headers = vec![
        ("host".into(), "override".into()),
        ("client-id".into(), "me".into()),
    ];
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&p, now).unwrap();
    let out = drain_out(&mut s, now);
    assert!(
        out.starts_with("STOMP\n")
            && out.contains("host:override\n")
            && out.contains("client-id:me\n"),
        "{out:?}"
    );
}

#[test]
fn version_negotiation() {
    let now = t0();
    let s = connected(Version::V1_2, (0, 0), "0,0", now);
    assert_eq!(s.version(), Version::V1_2);
    let s = connected(Version::V1_1, (0, 0), "0,0", now);
    assert_eq!(s.version(), Version::V1_1);
    // No version header: 1.0.
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&params(Version::V1_2, (0, 0)), now).unwrap();
    s.handle_bytes(b"CONNECTED\n\n\0", now);
    assert_eq!(s.version(), Version::V1_0);
    // A version we did not offer is a protocol error.
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&params(Version::V1_1, (0, 0)), now).unwrap();
    s.handle_bytes(b"CONNECTED\nversion:1.2\n\n\0", now);
    assert_eq!(s.state(), State::Closed);
    assert!(
        matches!(events(&mut s).last(), Some(Event::Closed(Some(e))) if e.kind == ErrorKind::Protocol)
    );
}

#[test]
fn heartbeat_negotiation_follows_the_spec() {
    let now = t0();
    // Client offers (cx, cy) = (1000, 2000); server answers (sx, sy) = (3000, 500).
    // Client sends every max(cx, sy) = 1000; expects every max(cy, sx) = 3000.
    let s = connected(Version::V1_2, (1000, 2000), "3000,500", now);
    assert_eq!(s.heartbeat_intervals(), (ms(1000), ms(3000)));
    // Zero on either side turns a direction off.
    let s = connected(Version::V1_2, (0, 2000), "3000,500", now);
    assert_eq!(s.heartbeat_intervals(), (Duration::ZERO, ms(3000)));
    let s = connected(Version::V1_2, (1000, 2000), "0,0", now);
    assert_eq!(s.heartbeat_intervals(), (Duration::ZERO, Duration::ZERO));
    // Under 1.0 there are no heart-beats at all.
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&params(Version::V1_0, (1000, 1000)), now).unwrap();
    s.handle_bytes(b"CONNECTED\nheart-beat:1000,1000\n\n\0", now);
    assert_eq!(s.heartbeat_intervals(), (Duration::ZERO, Duration::ZERO));
}

#[test]
fn heartbeats_are_sent_only_when_idle() {
    let now = t0();
    let mut s = connected(Version::V1_2, (1000, 0), "0,1000", now);
    assert_eq!(s.poll_timeout(), Some(now + ms(1000)));
    s.handle_timeout(now + ms(999));
    assert_eq!(drain_out(&mut s, now + ms(999)), "");
    s.handle_timeout(now + ms(1000));
    assert_eq!(drain_out(&mut s, now + ms(1000)), "\n");
    // A frame written at 1500 pushes the next heart-beat to 2500.
    s.send(Frame::new(Command::Send).with("destination", "/q"))
        .unwrap();
    drain_out(&mut s, now + ms(1500));
    assert_eq!(s.poll_timeout(), Some(now + ms(2500)));
    s.handle_timeout(now + ms(2000));
    assert_eq!(drain_out(&mut s, now + ms(2000)), "");
    s.handle_timeout(now + ms(2500));
    assert_eq!(drain_out(&mut s, now + ms(2500)), "\n");
}

/// A read within a quarter interval of the send deadline sends the heart-beat then; earlier it
/// does not (RabbitMQ beats at half our interval: the beat between must not trigger one).
#[test]
fn a_read_near_the_send_deadline_sends_the_heartbeat_early() {
    let now = t0();
    let mut s = connected(Version::V1_2, (1000, 1000), "500,500", now);
    assert_eq!(s.poll_timeout(), Some(now + ms(1000)));
    s.handle_bytes(b"\n", now + ms(500));
    assert_eq!(
        drain_out(&mut s, now + ms(500)),
        "",
        "half the interval is too early"
    );
    s.handle_bytes(b"\n", now + ms(749));
    assert_eq!(drain_out(&mut s, now + ms(749)), "");
    s.handle_bytes(b"\n", now + ms(750));
    assert_eq!(drain_out(&mut s, now + ms(750)), "\n");
    assert_eq!(s.poll_timeout(), Some(now + ms(1750)));
    // A timer turn keeps the exact deadline.
    s.handle_timeout(now + ms(1700));
    assert_eq!(drain_out(&mut s, now + ms(1700)), "");
    // Nothing while a frame is on its way out: it is the beat.
    s.send(Frame::new(Command::Send).with("destination", "/q"))
        .unwrap();
    s.handle_bytes(b"\n", now + ms(1740));
    let out = drain_out(&mut s, now + ms(1740));
    assert!(out.starts_with("SEND") && out.ends_with('\0'), "{out:?}");
}

#[test]
fn silence_past_interval_times_scale_is_a_timeout() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 1000), "1000,0", now);
    // Until the first byte after CONNECTED, one interval more (ActiveMQ sends its first heart-beat
    // two intervals after CONNECTED): 1000 x 1.5 + 1000.
    assert_eq!(s.poll_timeout(), Some(now + ms(2500)));
    // Then scale 1.5: the deadline is 1500 ms after the last byte.
    s.handle_bytes(b"\n", now + ms(900));
    assert_eq!(s.poll_timeout(), Some(now + ms(2400)));
    s.handle_timeout(now + ms(2399));
    assert_eq!(s.state(), State::Connected);
    // The driver reads before the timeout is judged (silence_overdue): a byte waiting then counts.
    assert!(!s.silence_overdue(now + ms(2399)));
    assert!(s.silence_overdue(now + ms(2400)));
    s.handle_bytes(b"\n", now + ms(2400));
    assert!(!s.silence_overdue(now + ms(2400)));
    s.handle_timeout(now + ms(3900));
    assert_eq!(s.state(), State::Closed);
    let ev = events(&mut s);
    assert!(matches!(ev[0], Event::HeartbeatTimeout), "{ev:?}");
    assert!(
        matches!(&ev[1], Event::Closed(Some(e)) if e.kind == ErrorKind::Timeout),
        "{ev:?}"
    );
}

#[test]
fn a_broker_silent_from_the_start_is_timed_out_after_the_first_beats_grace() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 1000), "1000,0", now);
    s.handle_timeout(now + ms(2499));
    assert_eq!(
        s.state(),
        State::Connected,
        "ActiveMQ's first beat at 2000 ms is in time"
    );
    s.handle_timeout(now + ms(2500));
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn paused_reading_does_not_count_as_silence() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 1000), "1000,0", now);
    s.set_read_paused(true, now + ms(100));
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(now + ms(10_000));
    assert_eq!(s.state(), State::Connected);
    s.set_read_paused(false, now + ms(10_000));
    // Nothing read since CONNECTED yet, so the first heart-beat's extra interval still applies.
    assert_eq!(s.poll_timeout(), Some(now + ms(12_500)));
    s.handle_bytes(b"\n", now + ms(10_100));
    assert_eq!(s.poll_timeout(), Some(now + ms(11_600)));
}

#[test]
fn connected_must_come_in_time() {
    let now = t0();
    let mut s = Session::new(SessionConfig::default(), now);
    let mut p = params(Version::V1_2, (0, 0));
    p.connected_timeout = Some(ms(2000));
    s.start(&p, now).unwrap();
    assert_eq!(s.poll_timeout(), Some(now + ms(2000)));
    s.handle_timeout(now + ms(1999));
    assert_eq!(s.state(), State::Connecting);
    s.handle_timeout(now + ms(2000));
    assert!(
        matches!(events(&mut s).last(), Some(Event::Closed(Some(e))) if e.kind == ErrorKind::Timeout)
    );
}

#[test]
fn error_instead_of_connected_is_a_refusal_with_the_brokers_words() {
    let now = t0();
    let mut s = Session::new(SessionConfig::default(), now);
    s.start(&params(Version::V1_2, (0, 0)), now).unwrap();
    s.handle_bytes(b"ERROR\nmessage:Access refused\n\nbad login\0", now);
    let ev = events(&mut s);
    assert!(matches!(&ev[0], Event::Error(f) if f.header("message") == Some("Access refused")));
    match &ev[1] {
        Event::Closed(Some(e)) => {
            assert_eq!(e.kind, ErrorKind::Refused);
            assert!(
                e.message.contains("Access refused: bad login"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn receipts_arrive_or_are_lost_with_the_link() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.send(
        Frame::new(Command::Send)
            .with("destination", "/q")
            .with("receipt", "r1"),
    )
    .unwrap();
    s.send(
        Frame::new(Command::Send)
            .with("destination", "/q")
            .with("receipt", "r2"),
    )
    .unwrap();
    assert_eq!(s.receipt_status("r1"), ReceiptStatus::Pending);
    assert_eq!(s.receipt_status("nope"), ReceiptStatus::Unknown);
    s.handle_bytes(b"RECEIPT\nreceipt-id:r1\n\n\0", now);
    assert_eq!(s.receipt_status("r1"), ReceiptStatus::Received);
    s.transport_closed(Error::new(ErrorKind::Closed, "eof"));
    assert_eq!(
        s.receipt_status("r2"),
        ReceiptStatus::Lost,
        "a receipt pending at the drop is reported lost"
    );
    assert_eq!(s.receipt_status("r1"), ReceiptStatus::Received);
    s.forget_receipt("r1");
    assert_eq!(s.receipt_status("r1"), ReceiptStatus::Unknown);
}

#[test]
fn an_error_carrying_a_receipt_id_refuses_that_receipt() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    for r in ["r1", "r2"] {
        s.send(
            Frame::new(Command::Commit)
                .with("transaction", "nope")
                .with("receipt", r),
        )
        .unwrap();
    }
    s.handle_bytes(b"ERROR\nreceipt-id:r1\nmessage:Bad transaction\n\n\0", now);
    assert_eq!(s.receipt_status("r1"), ReceiptStatus::Refused);
    assert_eq!(s.receipt_error("r1"), Some("Bad transaction"));
    assert_eq!(
        s.receipt_status("r2"),
        ReceiptStatus::Pending,
        "an ERROR refuses only the receipt it names"
    );
    // An ERROR naming a receipt nobody waits for changes nothing; one without receipt-id neither.
    s.handle_bytes(b"ERROR\nreceipt-id:zz\n\n\0ERROR\nmessage:x\n\n\0", now);
    assert_eq!(s.receipt_status("zz"), ReceiptStatus::Unknown);
    assert_eq!(s.receipt_status("r2"), ReceiptStatus::Pending);
    s.forget_receipt("r1");
    assert_eq!(s.receipt_status("r1"), ReceiptStatus::Unknown);
    assert_eq!(s.receipt_error("r1"), None);
    assert_eq!(
        s.state(),
        State::Connected,
        "an ERROR alone does not end the session"
    );
}

#[test]
fn receipt_memory_is_bounded() {
    let now = t0();
    let config = SessionConfig {
        receipt_memory: 3,
        ..SessionConfig::default()
    };
    let mut s = Session::new(config, now);
    s.start(&params(Version::V1_2, (0, 0)), now).unwrap();
    s.handle_bytes(b"CONNECTED\nversion:1.2\n\n\0", now);
    for i in 0..10 {
        let id = format!("r{i}");
        s.send(
            Frame::new(Command::Begin)
                .with("transaction", "t")
                .with("receipt", &id),
        )
        .unwrap();
        s.handle_bytes(format!("RECEIPT\nreceipt-id:{id}\n\n\0").as_bytes(), now);
    }
    assert_eq!(s.receipt_status("r9"), ReceiptStatus::Received);
    assert_eq!(
        s.receipt_status("r6"),
        ReceiptStatus::Unknown,
        "the oldest are forgotten"
    );
    assert_eq!(s.receipts.len(), 3);
}

#[test]
fn disconnect_ends_cleanly_on_its_receipt() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.send(Frame::new(Command::Disconnect).with("receipt", "bye"))
        .unwrap();
    assert_eq!(s.state(), State::Disconnecting);
    assert_eq!(
        s.send(Frame::new(Command::Send).with("destination", "/q"))
            .unwrap_err()
            .kind,
        ErrorKind::NotConnected
    );
    s.handle_bytes(b"RECEIPT\nreceipt-id:bye\n\n\0", now);
    assert_eq!(s.state(), State::Closed);
    let ev = events(&mut s);
    assert!(matches!(ev.last(), Some(Event::Closed(None))), "{ev:?}");
}

#[test]
fn broker_closing_right_after_the_disconnect_receipt_is_clean() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.send(Frame::new(Command::Disconnect).with("receipt", "bye"))
        .unwrap();
    s.transport_closed(Error::new(ErrorKind::Closed, "eof"));
    assert!(matches!(events(&mut s).last(), Some(Event::Closed(None))));
}

#[test]
fn subscriptions_and_transactions_are_tracked_and_resent() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.send(
        Frame::new(Command::Subscribe)
            .with("destination", "/queue/a")
            .with("id", "1")
            .with("ack", "client"),
    )
    .unwrap();
    s.send(
        Frame::new(Command::Subscribe)
            .with("destination", "/queue/b")
            .with("id", "2")
            .with("selector", "x > 1"),
    )
    .unwrap();
    s.send(Frame::new(Command::Unsubscribe).with("id", "1"))
        .unwrap();
    s.send(Frame::new(Command::Begin).with("transaction", "tx"))
        .unwrap();
    drain_out(&mut s, now);
    assert_eq!(
        s.subscriptions()
            .map(|(id, _)| id.to_owned())
            .collect::<Vec<_>>(),
        ["2"]
    );
    assert_eq!(s.open_transactions().collect::<Vec<_>>(), ["tx"]);
    s.transport_closed(Error::new(ErrorKind::Io, "reset"));
    assert_eq!(
        s.open_transactions().count(),
        0,
        "transactions die with the link"
    );
    assert_eq!(
        s.dropped_transactions().collect::<Vec<_>>(),
        ["tx"],
        "and are reported as aborted"
    );
    // Reconnect: the subscription goes again with its id and headers.
    s.start(&params(Version::V1_2, (0, 0)), now).unwrap();
    drain_out(&mut s, now);
    s.handle_bytes(b"CONNECTED\nversion:1.2\n\n\0", now);
    assert_eq!(s.resubscribe().unwrap(), 1);
    let out = drain_out(&mut s, now);
    assert_eq!(
        out,
        "SUBSCRIBE\ndestination:/queue/b\nid:2\nselector:x > 1\n\n\0"
    );
}

#[test]
fn what_a_client_may_not_send() {
    let now = t0();
    let mut s = Session::new(SessionConfig::default(), now);
    assert_eq!(
        s.send(Frame::new(Command::Send)).unwrap_err().kind,
        ErrorKind::NotConnected
    );
    let mut s = connected(Version::V1_0, (0, 0), "0,0", now);
    s.version = Version::V1_0;
    assert_eq!(
        s.send(Frame::new(Command::Nack).with("message-id", "1"))
            .unwrap_err()
            .kind,
        ErrorKind::Unsupported
    );
    assert_eq!(
        s.send(Frame::new(Command::Message)).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        s.send(Frame::new(Command::Connect)).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    // 1.0 cannot carry a newline in a header: refused, and nothing is queued.
    let before = s.pending_out();
    let e = s
        .send(
            Frame::new(Command::Send)
                .with("destination", "/q")
                .with("h", "a\nb"),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidHeader);
    assert_eq!(s.pending_out(), before);
}

#[test]
fn headers_are_escaped_for_the_negotiated_version() {
    let now = t0();
    let mut s = connected(Version::V1_1, (0, 0), "0,0", now);
    s.send(
        Frame::new(Command::Send)
            .with("destination", "/q")
            .with("k", "a:b\nc\\d"),
    )
    .unwrap();
    assert_eq!(
        drain_out(&mut s, now),
        "SEND\ndestination:/q\nk:a\\cb\\nc\\\\d\n\n\0"
    );
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.send(
        Frame::new(Command::Send)
            .with("destination", "/q")
            .with("k", "a\rb"),
    )
    .unwrap();
    assert_eq!(
        drain_out(&mut s, now),
        "SEND\ndestination:/q\nk:a\\rb\n\n\0"
    );
    // And received headers are unescaped by the same version.
    s.handle_bytes(b"MESSAGE\ndestination:/q\nk:x\\cy\\nz\n\n\0", now);
    match events(&mut s).pop() {
        Some(Event::Message(f)) => assert_eq!(f.header("k"), Some("x:y\nz")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn outgoing_bytes_are_bounded() {
    let now = t0();
    let config = SessionConfig {
        max_out_bytes: 100,
        ..SessionConfig::default()
    };
    let mut s = Session::new(config, now);
    s.start(&params(Version::V1_2, (0, 0)), now).unwrap();
    drain_out(&mut s, now);
    s.handle_bytes(b"CONNECTED\nversion:1.2\n\n\0", now);
    let big = Frame::new(Command::Send)
        .with("destination", "/q")
        .with_body(vec![b'x'; 150]);
    s.send(big.clone()).unwrap();
    assert_eq!(s.send(big).unwrap_err().kind, ErrorKind::QueueFull);
    drain_out(&mut s, now);
    assert_eq!(s.pending_out(), 0);
}

#[test]
fn malformed_bytes_from_the_broker_close_with_a_clear_error() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.handle_bytes(b"GARBAGE\n\n\0", now);
    assert_eq!(s.state(), State::Closed);
    match events(&mut s).pop() {
        Some(Event::Closed(Some(e))) => {
            assert_eq!(e.kind, ErrorKind::Protocol);
            assert!(
                e.message.contains("malformed frame") && e.message.contains("GARBAGE"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sent_and_heartbeat_events_only_when_asked() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.send(Frame::new(Command::Send).with("destination", "/q"))
        .unwrap();
    s.handle_bytes(b"\n\n", now);
    assert!(events(&mut s).is_empty());
    s.emit_sent = true;
    s.emit_heartbeat = true;
    s.send(Frame::new(Command::Send).with("destination", "/q"))
        .unwrap();
    s.handle_bytes(b"\n", now);
    let ev = events(&mut s);
    assert!(matches!(&ev[0], Event::Sent(f) if f.command == Command::Send));
    assert!(matches!(ev[1], Event::Heartbeat));
}

/// The passcode goes to the wire and nowhere else: not into the on_send copy of the CONNECT, not
/// into debug output of the parameters.
#[test]
fn the_passcode_is_on_the_wire_only() {
    let now = t0();
    let mut s = Session::new(SessionConfig::default(), now);
    s.emit_sent = true;
    let mut p = params(Version::V1_2, (0, 0));
    p.passcode = Some("pc-unit-secret".into());
    p.headers = vec![("passcode".into(), "pc-unit-extra".into())];
    s.start(&p, now).unwrap();
    let wire = drain_out(&mut s, now);
    assert!(wire.contains("passcode:pc-unit-extra\n"), "{wire:?}");
    let copy = match events(&mut s).first() {
        Some(Event::Sent(f)) => f.clone(),
        other => panic!("expected the CONNECT's copy, got {other:?}"),
    };
    assert_eq!(copy.command, Command::Connect);
    assert_eq!(copy.header("passcode"), Some("********"));
    assert_eq!(copy.header("login"), Some("guest"));
    for shown in [format!("{copy:?}"), format!("{p:?}")] {
        assert!(!shown.contains("pc-unit"), "{shown}");
        assert!(shown.contains("********"), "{shown}");
    }
}

#[test]
fn message_budget_holds_frames_back_in_the_buffer() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.set_message_budget(2);
    let mut bytes = Vec::new();
    for i in 0..5 {
        bytes.extend_from_slice(
            format!("MESSAGE\ndestination:/q\nmessage-id:{i}\n\n{i}\0").as_bytes(),
        );
    }
    bytes.extend_from_slice(b"RECEIPT\nreceipt-id:r\n\n\0");
    s.handle_bytes(&bytes, now);
    let ids = |ev: Vec<Event>| -> Vec<String> {
        ev.into_iter()
            .map(|e| match e {
                Event::Message(f) => f.header("message-id").unwrap().to_owned(),
                Event::Receipt(_) => "receipt".into(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(ids(events(&mut s)), ["0", "1"]);
    s.handle_bytes(&[], now);
    assert!(events(&mut s).is_empty(), "no budget, nothing decoded");
    s.set_message_budget(10);
    s.handle_bytes(&[], now);
    assert_eq!(ids(events(&mut s)), ["2", "3", "4", "receipt"]);
}

#[test]
fn byte_budget_holds_frames_back_once_spent_overshooting_by_one_frame_at_most() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    let body = [b'x'; 100];
    let mut bytes = Vec::new();
    for i in 0..5 {
        bytes.extend_from_slice(
            format!("MESSAGE\nmessage-id:{i}\ncontent-length:100\n\n").as_bytes(),
        );
        bytes.extend_from_slice(&body);
        bytes.push(0);
    }
    // Room for one byte: the first message goes (the one frame of overshoot) and spends it.
    s.set_byte_budget(1);
    s.handle_bytes(&bytes, now);
    let got = events(&mut s);
    assert_eq!(got.len(), 1, "{got:?}");
    let size = match &got[0] {
        Event::Message(f) => f.size(),
        other => panic!("{other:?}"),
    };
    assert!(size > 100, "the body counts: {size}");
    // Room for a little more than one: the next goes, and the one after it waits.
    s.set_byte_budget(size + 1);
    s.handle_bytes(&[], now);
    assert_eq!(events(&mut s).len(), 2);
    assert_eq!(s.message_budget(), 0, "a spent byte budget stops messages");
    assert!(
        s.wants_read(),
        "reading goes on for the look-ahead, so a link ending behind a full queue is seen"
    );
    s.set_byte_budget(usize::MAX);
    s.handle_bytes(&[], now);
    assert_eq!(events(&mut s).len(), 2);
}

#[test]
fn a_transaction_open_at_the_drop_cannot_be_committed_after_reconnecting() {
    let now = t0();
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.send(Frame::new(Command::Begin).with("transaction", "t1"))
        .unwrap();
    s.send(Frame::new(Command::Begin).with("transaction", "t2"))
        .unwrap();
    s.transport_closed(Error::new(ErrorKind::Io, "reset"));
    s.start(&params(Version::V1_2, (0, 0)), now).unwrap();
    s.handle_bytes(b"CONNECTED\nversion:1.2\n\n\0", now);
    drain_out(&mut s, now);
    let e = s
        .send(
            Frame::new(Command::Send)
                .with("destination", "/q")
                .with("transaction", "t1"),
        )
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Disconnected,
        "a send into an aborted transaction is refused"
    );
    let e = s
        .send(Frame::new(Command::Commit).with("transaction", "t1"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Disconnected);
    assert!(e.message.contains("aborted"), "{}", e.message);
    // Aborting one the broker already aborted is fine and sends nothing.
    s.send(Frame::new(Command::Abort).with("transaction", "t2"))
        .unwrap();
    assert_eq!(drain_out(&mut s, now), "");
    assert_eq!(s.dropped_transactions().count(), 0);
}

#[test]
fn under_10_escaping_follows_what_rabbitmq_and_activemq_do() {
    let now = t0();
    let value = "a:b\\c";
    let send = |s: &mut Session| {
        s.send(
            Frame::new(Command::Send)
                .with("destination", "/q")
                .with("k", value),
        )
        .unwrap();
        drain_out(s, now)
    };
    let receive = |s: &mut Session| {
        s.handle_bytes(b"MESSAGE\ndestination:/q\nk:x\\cy\n\n\0", now);
        match events(s).pop() {
            Some(Event::Message(f)) => f.header("k").unwrap().to_owned(),
            other => panic!("{other:?}"),
        }
    };
    // The spec: no escapes under 1.0, either way.
    let mut s = connected_to("fake", Version::V1_0, (0, 0), "0,0", now);
    assert_eq!(send(&mut s), "SEND\ndestination:/q\nk:a:b\\c\n\n\0");
    assert_eq!(receive(&mut s), "x\\cy");
    // RabbitMQ decodes and encodes 1.1 escapes under 1.0 too.
    let mut s = connected_to("RabbitMQ/3.10.8", Version::V1_0, (0, 0), "0,0", now);
    assert_eq!(send(&mut s), "SEND\ndestination:/q\nk:a\\cb\\\\c\n\n\0");
    assert_eq!(receive(&mut s), "x:y");
    // ActiveMQ Classic decodes them but writes 1.0 headers raw.
    let mut s = connected_to("ActiveMQ/5.17.2", Version::V1_0, (0, 0), "0,0", now);
    assert_eq!(send(&mut s), "SEND\ndestination:/q\nk:a\\cb\\\\c\n\n\0");
    assert_eq!(receive(&mut s), "x\\cy");
    // A newline is still refused under 1.0, whoever the broker is.
    let e = s
        .send(
            Frame::new(Command::Send)
                .with("destination", "/q")
                .with("k", "a\nb"),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidHeader);
    // 1.1 and later follow the spec with every broker.
    let mut s = connected_to("ActiveMQ/5.17.2", Version::V1_1, (0, 0), "0,0", now);
    assert_eq!(receive(&mut s), "x:y");
}

#[test]
fn what_ends_the_link_is_seen_behind_a_spent_budget() {
    let now = t0();
    let msg = |i: u32| format!("MESSAGE\ndestination:/q\nmessage-id:{i}\n\n{i}\0").into_bytes();
    // Malformed bytes behind the budget: the held messages come first, then the end.
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.set_message_budget(1);
    s.handle_bytes(&[msg(0), msg(1), b"GARBAGE\n\n\0".to_vec()].concat(), now);
    let ev = events(&mut s);
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert!(matches!(&ev[1], Event::Message(f) if f.body() == b"1"));
    assert!(
        matches!(&ev[2], Event::Closed(Some(e)) if e.kind == ErrorKind::Protocol),
        "{ev:?}"
    );

    // The broker closing behind it: the same.
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.set_message_budget(1);
    s.handle_bytes(&[msg(0), msg(1)].concat(), now);
    assert_eq!(events(&mut s).len(), 1);
    assert_eq!(s.message_budget(), 0);
    assert!(s.wants_read(), "a look-ahead is read past the budget");
    s.transport_closed(Error::new(ErrorKind::Closed, "eof"));
    let ev = events(&mut s);
    assert!(matches!(&ev[0], Event::Message(f) if f.body() == b"1"));
    assert!(matches!(&ev[1], Event::Closed(Some(_))), "{ev:?}");

    // The look-ahead is bounded: past it the driver stops reading.
    let mut s = connected(Version::V1_2, (0, 0), "0,0", now);
    s.set_message_budget(0);
    let big = format!(
        "MESSAGE\ndestination:/q\n\n{}\0",
        "x".repeat(super::LOOKAHEAD)
    );
    s.handle_bytes(big.as_bytes(), now);
    assert!(events(&mut s).is_empty());
    assert!(!s.wants_read());
}

/// A session with frame limits of 10 s and 1024 bytes/s (the defaults), heart-beats off.
fn with_frame_limits(now: Instant) -> Session {
    let s = connected(Version::V1_2, (0, 0), "0,0", now);
    assert_eq!(s.config.frame_timeout, Duration::from_secs(10));
    assert_eq!(s.config.frame_min_rate, 1024);
    s
}

fn closed_with(s: &mut Session) -> Error {
    match events(s).pop() {
        Some(Event::Closed(Some(e))) => e,
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn a_head_trickled_a_byte_a_second_times_out() {
    let now = t0();
    let mut s = with_frame_limits(now);
    assert_eq!(s.poll_timeout(), None, "nothing to wait for between frames");
    let head = b"MESSAGE\ndestination:/q\n\n";
    let mut t = now;
    for (i, b) in head.iter().take(12).enumerate() {
        t = now + ms(1000 * i as u64);
        s.handle_bytes(&[*b], t);
        s.handle_timeout(t);
        if i < 10 {
            assert_eq!(s.poll_timeout(), Some(now + ms(10_000)), "byte {i}");
            assert_eq!(s.state(), State::Connected, "byte {i}");
        }
    }
    assert_eq!(s.state(), State::Closed, "closed by {t:?}");
    let e = closed_with(&mut s);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(
        e.message.contains("head") && e.message.contains("10000 ms"),
        "{}",
        e.message
    );
}

#[test]
fn a_body_that_stops_times_out() {
    let now = t0();
    let mut s = with_frame_limits(now);
    s.handle_bytes(
        b"MESSAGE\ndestination:/q\ncontent-length:100\n\n0123456789",
        now,
    );
    assert_eq!(s.poll_timeout(), Some(now + ms(10_000)));
    s.handle_timeout(now + ms(9_999));
    assert_eq!(s.state(), State::Connected);
    s.handle_timeout(now + ms(10_000));
    let e = closed_with(&mut s);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(
        e.message.contains("10 bytes in 10000 ms") && e.message.contains("1024 bytes/s"),
        "{}",
        e.message
    );
}

#[test]
fn a_large_body_arriving_steadily_above_the_rate_is_fine() {
    let now = t0();
    let mut s = with_frame_limits(now);
    let len = 1 << 20;
    s.handle_bytes(
        format!("MESSAGE\ndestination:/q\ncontent-length:{len}\n\n").as_bytes(),
        now,
    );
    // 2 KiB a second, twice the minimum, for 512 s (over 50 windows).
    let chunk = vec![b'x'; 2048];
    let mut t = now;
    for _ in 0..len / chunk.len() {
        t += ms(1000);
        s.handle_timeout(t);
        s.handle_bytes(&chunk, t);
        assert_eq!(s.state(), State::Connected);
        assert!(s.poll_timeout().is_some_and(|d| d > t));
    }
    s.handle_bytes(b"\0", t);
    assert!(matches!(&events(&mut s)[..], [Event::Message(f)] if f.body().len() == len));
    assert_eq!(s.poll_timeout(), None);

    // A body arriving whole at once is never timed, however slow the rate setting.
    s.handle_bytes(b"MESSAGE\ndestination:/q\n\nbody\0", t);
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(t + ms(3_600_000));
    assert_eq!(s.state(), State::Connected);
}

#[test]
fn a_frame_held_while_reading_is_paused_is_not_timed() {
    let now = t0();
    let mut s = with_frame_limits(now);
    s.handle_bytes(b"MESSAGE\ndestination:/q\ncontent-length:100\n\n01", now);
    s.set_read_paused(true, now + ms(1000));
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(now + ms(60_000));
    assert_eq!(s.state(), State::Connected);
    s.set_read_paused(false, now + ms(60_000));
    assert_eq!(s.poll_timeout(), Some(now + ms(70_000)));
}
