//! The library's log: what each level shows, that the passcode never shows, and `STOMP_LOG`.
//!
//! The log sink is process-wide, so these tests take turns (`SERIAL`), each with its own collector.

mod common;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{Broker, unique_queue};
use stomp::log::{self, Level};
use stomp::*;

const WAIT: Duration = Duration::from_secs(10);
/// A passcode no other text of a session could contain by chance. ActiveMQ accepts any.
const PASSCODE: &str = "Pw-logstats-7q3Zk9";

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Collects every message the log delivers, for assertions and for waiting on a message.
#[derive(Default)]
struct Collector {
    lines: Mutex<Vec<(Level, String)>>,
    cv: Condvar,
}

impl Collector {
    /// Installs a new collector as the process's log sink at `level`.
    fn install(level: Level) -> Arc<Collector> {
        let c = Arc::new(Collector::default());
        let c2 = c.clone();
        log::set_logger(Some((
            Arc::new(move |l: Level, text: &str| {
                c2.lines.lock().unwrap().push((l, text.to_owned()));
                c2.cv.notify_all();
            }),
            level,
        )));
        c
    }

    /// Every line delivered so far, after everything logged before this call has been delivered.
    fn flushed(&self) -> Vec<(Level, String)> {
        assert!(log::flush(WAIT), "the log did not drain within {WAIT:?}");
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line containing `needle` arrives.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut lines = self.lines.lock().unwrap();
        loop {
            if let Some((_, l)) = lines.iter().find(|(_, l)| l.contains(needle)) {
                return l.clone();
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "no log line with {needle:?} within {WAIT:?}"
            );
            lines = self.cv.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }
}

fn has(lines: &[(Level, String)], level: Level, needle: &str) -> bool {
    lines.iter().any(|(l, t)| *l == level && t.contains(needle))
}

fn assert_no_passcode(lines: &[(Level, String)]) {
    for (level, text) in lines {
        assert!(
            !text.contains(PASSCODE),
            "the passcode was logged at {level}: {text}"
        );
    }
}

/// A session at trace level: subscribe, send a short and a long message, receive them, disconnect.
fn traced_session(c: &Connection) {
    c.connect(Some("logstats-user"), Some(PASSCODE), &[], true)
        .unwrap();
    let q = unique_queue("logging");
    c.subscribe(&q, None, AckMode::Auto, &[("receipt", "sub")])
        .unwrap();
    c.wait_receipt("sub", WAIT).unwrap();
    c.send(&q, b"hello\nworld", None, &[]).unwrap();
    c.send(&q, &[b'x'; 1000], None, &[]).unwrap();
    for _ in 0..2 {
        c.receive(WAIT).expect("the message comes back");
    }
    c.disconnect(None, WAIT).unwrap();
}

#[test]
fn trace_shows_every_frame_with_the_passcode_masked_and_long_bodies_cut() {
    let _s = serial();
    let logs = Collector::install(Level::Trace);
    let c = Connection::new({
        let mut o = Broker::ActiveMq.options(Version::V1_2);
        o.receive_queue = 8;
        o
    })
    .unwrap();
    traced_session(&c);
    let lines = logs.flushed();
    log::set_logger(None);

    assert_no_passcode(&lines);
    let connect = lines
        .iter()
        .find(|(l, t)| *l == Level::Trace && t.contains(">>> CONNECT"))
        .expect("CONNECT traced");
    assert!(
        connect.1.contains("passcode:********") && connect.1.contains("login:logstats-user"),
        "{}",
        connect.1
    );
    assert!(has(&lines, Level::Trace, "<<< CONNECTED"));
    assert!(has(&lines, Level::Trace, ">>> SUBSCRIBE"));
    assert!(has(&lines, Level::Trace, "<<< RECEIPT"));
    assert!(has(&lines, Level::Trace, ">>> DISCONNECT"));
    // A body with a newline stays on one line; a long one is cut at 200 bytes.
    assert!(has(&lines, Level::Trace, "body 11 bytes: hello\\nworld"));
    let long = lines
        .iter()
        .find(|(_, t)| t.contains(">>> SEND") && t.contains("body 1000 bytes"))
        .expect("the long SEND traced");
    assert!(
        long.1
            .ends_with(&format!("{}... (800 more bytes)", "x".repeat(200))),
        "{}",
        long.1
    );
    assert!(!long.1.contains(&"x".repeat(201)));
    assert_eq!(
        lines
            .iter()
            .filter(|(_, t)| t.contains("<<< MESSAGE"))
            .count(),
        2
    );
    assert!(lines.iter().all(|(_, t)| !t.contains('\n')));
    // Lower levels are in the same stream.
    assert!(has(&lines, Level::Debug, "connecting to 127.0.0.1:"));
    assert!(has(&lines, Level::Info, "connected: STOMP 1.2"));
    assert!(has(&lines, Level::Info, "link closed: cleanly"));
}

#[test]
fn a_refused_login_logs_why_without_the_passcode() {
    let _s = serial();
    let logs = Collector::install(Level::Trace);
    // RabbitMQ refuses guest with a wrong passcode, with an ERROR frame.
    let c = Connection::new(Broker::RabbitMq.options(Version::V1_2)).unwrap();
    let e = c
        .connect(Some("guest"), Some(PASSCODE), &[], true)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{}", e.message);
    let lines = logs.flushed();
    log::set_logger(None);
    assert_no_passcode(&lines);
    assert!(has(&lines, Level::Trace, "<<< ERROR"));
    assert!(has(
        &lines,
        Level::Warn,
        "connect attempt failed: the broker refused"
    ));
}

#[test]
fn an_error_frame_is_a_warning_with_its_message() {
    let _s = serial();
    let logs = Collector::install(Level::Warn);
    // RabbitMQ answers a SEND to a destination it does not know with an ERROR frame.
    let c = Broker::RabbitMq.connect(Version::V1_2, |_| {});
    c.send("/nonsense/x", b"hi", None, &[]).unwrap();
    let line = logs.wait_for("the broker sent ERROR: ");
    let lines = logs.flushed();
    log::set_logger(None);
    assert!(has(&lines, Level::Warn, &line), "{lines:?}");
    assert!(line.len() > "the broker sent ERROR: ".len() + 8, "{line}");
    assert_eq!(c.stats().errors, 1);
    assert!(lines.iter().all(|(l, _)| *l <= Level::Warn), "{lines:?}");
}

#[test]
fn debug_shows_heart_beat_timings_and_info_hides_them() {
    let _s = serial();
    let logs = Collector::install(Level::Debug);
    let c = Broker::RabbitMq.connect(Version::V1_2, |o| o.heartbeats = (100, 100));
    // RabbitMQ raises intervals under a second to one second.
    let (send, recv) = c.heartbeats();
    let (send, recv) = (send.as_millis(), recv.as_millis());
    assert!(send > 0 && recv > 0, "heart-beats were not negotiated");
    let sent = logs.wait_for("heart-beat sent");
    assert!(sent.contains(&format!("(interval {send} ms)")), "{sent}");
    logs.wait_for("heart-beat received");
    c.disconnect(None, WAIT).unwrap();
    let lines = logs.flushed();
    let negotiated = format!("heart-beats: send every {send} ms, expect every {recv} ms");
    assert!(has(&lines, Level::Info, &negotiated), "{lines:?}");
    assert!(
        has(
            &lines,
            Level::Debug,
            "closed by the application: not reconnecting"
        ) || has(
            &lines,
            Level::Debug,
            "the link ended cleanly: not reconnecting"
        )
    );
    assert!(
        lines.iter().all(|(l, _)| *l <= Level::Debug),
        "a trace line at debug"
    );

    // At info, the same session shows the link but no heart-beat.
    let logs = Collector::install(Level::Info);
    let c = Broker::RabbitMq.connect(Version::V1_2, |o| o.heartbeats = (100, 100));
    logs.wait_for("connected: STOMP 1.2");
    c.disconnect(None, WAIT).unwrap();
    let lines = logs.flushed();
    log::set_logger(None);
    assert!(has(&lines, Level::Info, "link closed: cleanly"));
    assert!(lines.iter().all(|(l, _)| *l <= Level::Info), "{lines:?}");
}

#[test]
fn a_dropped_link_logs_the_reconnect_decision() {
    let _s = serial();
    let logs = Collector::install(Level::Debug);
    // A fake broker (a real one will not drop a link on cue): CONNECTED, then the socket closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (drop_tx, drop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut b = [0u8; 1];
        while s.read(&mut b).unwrap_or(0) == 1 && b[0] != 0 {}
        s.write_all(b"CONNECTED\nversion:1.2\n\n\0").unwrap();
        let _ = drop_rx.recv();
        // Dropped here; the listener goes too, so reconnecting finds nobody.
    });
    let mut o = Options::new().host("127.0.0.1", port);
    o.auto_reconnect = true;
    o.reconnect = ReconnectPolicy {
        sleep_initial: 0.01,
        attempts_max: 1,
        ..ReconnectPolicy::default()
    };
    let c = Connection::new(o).unwrap();
    c.connect(None, None, &[], true).unwrap();
    drop_tx.send(()).unwrap();
    logs.wait_for("the link dropped: reconnecting");
    logs.wait_for("could not connect after 1 pass");
    let lines = logs.flushed();
    log::set_logger(None);
    assert!(has(
        &lines,
        Level::Warn,
        "link closed: the broker closed the connection"
    ));
    assert!(has(&lines, Level::Warn, "could not connect after 1 pass"));
    drop(c);
}

/// Run only as a child process by the next test (hence ignored), with `STOMP_LOG` set and no
/// callback: the log goes to stderr.
#[test]
#[ignore = "the child process of stomp_log_trace_writes_every_frame_to_stderr_without_the_passcode"]
fn stomp_log_env_child() {
    let c = Connection::new({
        let mut o = Broker::ActiveMq.options(Version::V1_2);
        o.receive_queue = 8;
        o
    })
    .unwrap();
    traced_session(&c);
    assert!(log::flush(WAIT));
}

/// How the child test is run: alone, though ignored, its output not captured.
const CHILD_ARGS: [&str; 5] = [
    "stomp_log_env_child",
    "--exact",
    "--ignored",
    "--nocapture",
    "--test-threads=1",
];

#[test]
fn stomp_log_trace_writes_every_frame_to_stderr_without_the_passcode() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(CHILD_ARGS)
        .env("STOMP_LOG", "trace")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the child failed: {stderr}");
    assert!(
        !stderr.contains(PASSCODE),
        "the passcode reached stderr:\n{stderr}"
    );
    assert!(stderr.contains("libstomp trace: conn "), "{stderr}");
    assert!(
        stderr.contains(">>> CONNECT") && stderr.contains("passcode:********"),
        "{stderr}"
    );
    assert!(stderr.contains("<<< MESSAGE"), "{stderr}");
    assert!(stderr.contains("libstomp debug: conn "), "{stderr}");

    // A value that is not a level says so, once, and logs nothing else.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(CHILD_ARGS)
        .env("STOMP_LOG", "loud")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the child failed: {stderr}");
    assert_eq!(
        stderr.matches("STOMP_LOG=\"loud\" is not one of").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("libstomp trace"), "{stderr}");
}
