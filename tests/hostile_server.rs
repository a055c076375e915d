//! Every hostile-server case of issue 9, each with and without a receive queue: what a broker gone
//! wrong (or a man in the middle) can send, played by `common::hostile::HostileServer` on 127.0.0.1
//! (a real broker will not do any of it on demand). Each case must end in its own error kind, told
//! to the listener by `on_disconnected_reason` (and `on_disconnected` when the link had come up)
//! and kept by `last_disconnect`, within a time derived from the options below, with no allocation
//! anywhere near the sizes the server announces, and the process going on to the next case.
//!
//! Memory is watched by a counting global allocator: the largest single allocation and the peak of
//! live bytes over the case, process-wide (the I/O and dispatch threads included). The tests of this
//! file run one at a time (`SERIAL`), so that no other test's allocations are counted.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::Recorder;
use common::hostile::{HostileServer, Script, play};
use stomp::*;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

impl Counting {
    fn grew(size: usize, by: usize) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
        let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed to the system allocator as it is; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Counting::grew(layout.size(), layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Counting::grew(layout.size(), layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                Counting::grew(new_size, new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts counting afresh; returns the live bytes now (the baseline of the peak).
fn reset_counters() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    live
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The options every case runs with: short time limits, so the file runs in seconds.
const FRAME_TIMEOUT: Duration = Duration::from_millis(300);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Receive heart-beat offered (ms); on only where the server's CONNECTED agrees.
const HEARTBEAT_MS: u32 = 200;
/// The silence allowed with heart-beats on: the interval x the default scale of 1.5.
const SILENCE: Duration = Duration::from_millis(HEARTBEAT_MS as u64 * 3 / 2);
/// Scheduling on a loaded machine (2 cores shared by several builds): added to every upper bound.
const SLACK: Duration = Duration::from_millis(1500);
/// No single allocation may come near what the server announces (a 99999999999-byte body, a
/// million headers): the decoder's buffer holds a line of at most max_line (64 KiB) and one read.
const LARGEST_ALLOCATION: usize = 512 << 10;
/// Nor may the live bytes grow by more than this over a case.
const PEAK_GROWTH: usize = 4 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum When {
    /// The script plays instead of CONNECTED.
    Connecting,
    /// The script plays after CONNECTED (with this heart-beat header).
    Connected(&'static str),
}

struct Case {
    name: &'static str,
    when: When,
    script: Script,
    kind: ErrorKind,
    /// Words the reason's message must hold.
    says: &'static str,
    /// When the end may come, from the script's start: (earliest, latest).
    within: (Duration, Duration),
}

fn bytes(b: &[u8]) -> Script {
    Script::Bytes(b.to_vec())
}

/// An end that needs no timer: as soon as the bytes are read.
fn at_once() -> (Duration, Duration) {
    (Duration::ZERO, SLACK)
}

/// An end by a timer of `t`: not before it (less a little: the clock starts before the write), and
/// not long after.
fn after(t: Duration) -> (Duration, Duration) {
    (t.mul_f64(0.8), t + SLACK)
}

fn cases() -> Vec<Case> {
    let open = When::Connected("0,0");
    let mut million = b"MESSAGE\ndestination:/q\nmessage-id:1\n".to_vec();
    for i in 0..1_000_000 {
        million.extend_from_slice(format!("h{}:v\n", i).as_bytes());
    }
    million.extend_from_slice(b"\n\0");
    let never_ending = [
        b"MESSAGE\ndestination:/q\nx-long:".as_slice(),
        &[b'a'; 1 << 20],
    ]
    .concat();
    let body = "0123456789".repeat(100);
    vec![
        Case {
            name: "garbage bytes",
            when: open,
            script: bytes(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not STOMP at all\n\n\0"),
            kind: ErrorKind::Protocol,
            says: "unknown STOMP command",
            within: at_once(),
        },
        Case {
            name: "a header line that never ends",
            when: open,
            script: Script::Bytes(never_ending),
            kind: ErrorKind::TooLarge,
            says: "max_line (65536 bytes)",
            within: at_once(),
        },
        Case {
            name: "content-length longer than the body",
            when: open,
            script: bytes(
                b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:20\n\nshort\0\
                  MESSAGE\ndestination:/q\nmessage-id:2\n\nnext\0",
            ),
            kind: ErrorKind::Protocol,
            says: "not followed by NUL where content-length says",
            within: at_once(),
        },
        Case {
            name: "content-length longer than the body, then silence",
            when: open,
            script: bytes(b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:2000\n\nshort\0"),
            kind: ErrorKind::Timeout,
            says: "body came too slowly",
            within: after(FRAME_TIMEOUT),
        },
        Case {
            name: "content-length shorter than the body",
            when: open,
            script: bytes(b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:2\n\nlonger\0"),
            kind: ErrorKind::Protocol,
            says: "not followed by NUL where content-length says",
            within: at_once(),
        },
        Case {
            name: "a missing NUL",
            when: open,
            script: bytes(
                b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:3\n\nabc\
                  MESSAGE\ndestination:/q\nmessage-id:2\n\nnext\0",
            ),
            kind: ErrorKind::Protocol,
            says: "not followed by NUL",
            within: at_once(),
        },
        Case {
            name: "a missing NUL without content-length, then silence",
            when: open,
            script: bytes(b"MESSAGE\ndestination:/q\nmessage-id:1\n\nabc"),
            kind: ErrorKind::Timeout,
            says: "body came too slowly",
            within: after(FRAME_TIMEOUT),
        },
        Case {
            name: "an invalid escape in 1.2 (\\t)",
            when: open,
            script: bytes(b"MESSAGE\ndestination:/q\nmessage-id:1\nkey:a\\tb\n\n\0"),
            kind: ErrorKind::Protocol,
            says: "undefined escape sequence \\t",
            within: at_once(),
        },
        Case {
            name: "an invalid escape in 1.2 (a trailing backslash)",
            when: open,
            script: bytes(b"MESSAGE\ndestination:/q\nmessage-id:1\nkey:ab\\\n\n\0"),
            kind: ErrorKind::Protocol,
            says: "a lone \\",
            within: at_once(),
        },
        Case {
            name: "a huge content-length",
            when: open,
            script: bytes(b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:99999999999\n\n"),
            kind: ErrorKind::TooLarge,
            says: "content-length 99999999999 is over max_body (67108864 bytes)",
            within: at_once(),
        },
        Case {
            name: "a frame trickled one byte per second",
            when: open,
            script: Script::Trickle {
                first: b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:1000\n\n".to_vec(),
                rest: body.clone().into_bytes(),
                every: Duration::from_secs(1),
            },
            kind: ErrorKind::Timeout,
            says: "under the minimum rate of 1024 bytes/s over 300 ms",
            within: after(FRAME_TIMEOUT),
        },
        Case {
            name: "a frame trickled one byte per second from its first byte",
            when: open,
            script: Script::Trickle {
                first: b"M".to_vec(),
                rest: b"ESSAGE\ndestination:/q\n\n\0".to_vec(),
                every: Duration::from_secs(1),
            },
            kind: ErrorKind::Timeout,
            says: "head did not arrive whole within the frame timeout of 300 ms",
            within: after(FRAME_TIMEOUT),
        },
        Case {
            name: "a frame that stalls half-way",
            when: open,
            script: Script::Bytes(
                [
                    b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:1000\n\n".as_slice(),
                    &body.as_bytes()[..500],
                ]
                .concat(),
            ),
            kind: ErrorKind::Timeout,
            says: "body came too slowly",
            within: after(FRAME_TIMEOUT),
        },
        Case {
            name: "a million headers",
            when: open,
            script: Script::Bytes(million),
            kind: ErrorKind::TooLarge,
            says: "max_headers (1000)",
            within: at_once(),
        },
        Case {
            name: "an unexpected command",
            when: open,
            script: bytes(b"SUBSCRIBE\ndestination:/q\nid:1\n\n\0"),
            kind: ErrorKind::Protocol,
            says: "the broker sent SUBSCRIBE, which only clients send",
            within: at_once(),
        },
        Case {
            name: "an unexpected command instead of CONNECTED",
            when: When::Connecting,
            script: bytes(b"MESSAGE\ndestination:/q\nmessage-id:1\n\nearly\0"),
            kind: ErrorKind::ConnectFailed,
            says: "expected CONNECTED, the broker sent MESSAGE",
            within: at_once(),
        },
        Case {
            name: "a CONNECTED that never comes",
            when: When::Connecting,
            script: bytes(b""),
            kind: ErrorKind::ConnectFailed,
            says: "did not answer CONNECT in time",
            // The connect timeout runs from the dial, a little before the server's accept.
            within: (CONNECT_TIMEOUT / 2, CONNECT_TIMEOUT + SLACK),
        },
        Case {
            name: "an ERROR instead of CONNECTED, then silence",
            when: When::Connecting,
            script: bytes(b"ERROR\nmessage:go away\n\n\0"),
            kind: ErrorKind::Refused,
            says: "refused the connection: go away",
            within: at_once(),
        },
        Case {
            name: "an ERROR on an open link, then silence (heart-beats on)",
            when: When::Connected("200,0"),
            script: bytes(b"ERROR\nmessage:something broke\n\n\0"),
            kind: ErrorKind::Timeout,
            says: "heart-beat timeout",
            within: after(SILENCE),
        },
    ]
}

/// Waits until `pred` holds of what the recorder heard, up to `timeout`; false if it did not.
fn heard(rec: &Recorder, timeout: Duration, pred: impl Fn(&common::Recorded) -> bool) -> bool {
    let g = rec.state.lock().unwrap();
    let (_g, t) = rec.cv.wait_timeout_while(g, timeout, |s| !pred(s)).unwrap();
    !t.timed_out()
}

/// Plays one case; `Err` says what went wrong (the caller adds the case's name).
fn run(case: &Case, queue: usize) -> std::result::Result<(), String> {
    let server = HostileServer::new();
    let rec = Recorder::new();
    let mut o = server.options();
    o.frame_timeout = FRAME_TIMEOUT;
    o.connect_timeout = CONNECT_TIMEOUT;
    o.heartbeats = (0, HEARTBEAT_MS);
    o.receive_queue = queue;
    let c = Arc::new(Connection::new(o).map_err(|e| e.message)?);
    c.set_listener("rec", rec.clone());
    let script = case.script.clone(); // before counting: the server's copy is not the client's
    let (baseline, start) = match case.when {
        When::Connected(heart_beat) => {
            let s = server.connect(&c, heart_beat);
            let base = reset_counters();
            let start = Instant::now();
            play(s, script);
            (base, start)
        }
        When::Connecting => {
            c.connect(None, None, &[], false).map_err(|e| e.message)?;
            let (s, connect) = server.accept();
            if !connect.starts_with("CONNECT\n") {
                return Err(format!("the client opened with {connect:?}"));
            }
            let base = reset_counters();
            let start = Instant::now();
            play(s, script);
            (base, start)
        }
    };
    let (earliest, latest) = case.within;
    // Twice the bound and more: a late end is told apart from none.
    if !heard(&rec, latest * 2 + Duration::from_secs(5), |s| {
        !s.reasons.is_empty()
    }) {
        return Err("on_disconnected_reason never came".into());
    }
    let took = start.elapsed();
    if !heard(&rec, Duration::from_secs(5), |s| {
        s.events.iter().any(|e| e == "loop_completed")
    }) {
        return Err("on_receiver_loop_completed never came".into());
    }
    let (largest, growth) = (
        LARGEST.load(Ordering::Relaxed),
        PEAK.load(Ordering::Relaxed).saturating_sub(baseline),
    );
    let (reasons, events) = {
        let s = rec.state.lock().unwrap();
        (s.reasons.clone(), s.events.clone())
    };
    let e = match reasons.as_slice() {
        [Disconnection::Failed(e)] => e.clone(),
        other => return Err(format!("reasons heard: {other:?}")),
    };
    if e.kind != case.kind || !e.message.contains(case.says) {
        return Err(format!(
            "ended with {:?} \"{}\"; expected {:?} saying \"{}\"",
            e.kind, e.message, case.kind, case.says
        ));
    }
    if c.last_disconnect() != Some(Disconnection::Failed(e.clone())) {
        return Err(format!(
            "last_disconnect is {:?}, the listener heard {:?}",
            c.last_disconnect(),
            e
        ));
    }
    // Every case's link came up (the fixture accepts), so on_disconnected is heard in each, after
    // the reason and before the end: during the handshake too, once the connect gives up.
    let at = |name: &str| events.iter().position(|x| x == name);
    match (at("reason"), at("disconnected"), at("loop_completed")) {
        (Some(r), Some(d), Some(l)) if r < d && d < l => {}
        _ => return Err(format!("events in the wrong order: {events:?}")),
    }
    if took < earliest || took > latest {
        return Err(format!(
            "ended after {took:?}, outside {earliest:?}..{latest:?}"
        ));
    }
    if largest > LARGEST_ALLOCATION {
        return Err(format!(
            "an allocation of {largest} bytes (at most {LARGEST_ALLOCATION} allowed)"
        ));
    }
    if growth > PEAK_GROWTH {
        return Err(format!(
            "live memory grew by {growth} bytes (at most {PEAK_GROWTH} allowed)"
        ));
    }
    if c.is_connected() {
        return Err("still connected".into());
    }
    if queue > 0 {
        // The queue ends with Closed (what came before the bad bytes may be taken first), at once.
        let drained = Instant::now();
        loop {
            match c.receive(Duration::from_secs(5)) {
                Ok(_) => continue,
                Err(e) if e.kind == ErrorKind::Closed => break,
                Err(e) => return Err(format!("receive ended with {:?}: {}", e.kind, e.message)),
            }
        }
        if drained.elapsed() > Duration::from_secs(1) {
            return Err(format!("receive took {:?} to end", drained.elapsed()));
        }
    }
    println!(
        "{} (queue {}): {:?} after {:?}, largest allocation {} B, live growth {} B: {}",
        case.name, queue, e.kind, took, largest, growth, e.message
    );
    Ok(())
}

#[test]
fn every_hostile_case_ends_in_its_error_heard_bounded_in_time_and_memory() {
    let _serial = serial();
    let started = Instant::now();
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        for queue in [0, 4] {
            if let Err(why) = run(case, queue) {
                failures.push(format!("{} (receive queue {}): {}", case.name, queue, why));
            }
        }
    }
    println!("{} runs in {:?}", cases.len() * 2, started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n{}",
        failures.len(),
        cases.len() * 2,
        failures.join("\n")
    );
}

#[test]
fn a_panicking_listener_does_not_keep_the_others_from_hearing_the_end() {
    let _serial = serial();
    struct Panicky;
    impl Listener for Panicky {
        fn on_message(&self, _f: &Frame) {
            panic!("a listener's bug (on_message)");
        }
        fn on_disconnected_reason(&self, _r: &Disconnection) {
            panic!("a listener's bug (on_disconnected_reason)");
        }
    }
    let server = HostileServer::new();
    let rec = Recorder::new();
    let c = Arc::new(Connection::new(server.options()).unwrap());
    // Registered first, so it runs before the recorder for every event.
    c.set_listener("panicky", Arc::new(Panicky));
    c.set_listener("rec", rec.clone());
    let s = server.connect(&c, "0,0");
    play(
        s,
        bytes(b"MESSAGE\ndestination:/q\nmessage-id:1\n\nok\0HELLO\n\n\0"),
    );
    rec.wait_for(Duration::from_secs(10), "the end", |r| {
        r.events.iter().any(|e| e == "loop_completed")
    });
    let st = rec.state.lock().unwrap();
    assert_eq!(
        st.messages.len(),
        1,
        "the message still reached the recorder"
    );
    let ends: Vec<&str> = st
        .events
        .iter()
        .map(String::as_str)
        .filter(|e| ["reason", "disconnected", "loop_completed"].contains(e))
        .collect();
    assert_eq!(ends, ["reason", "disconnected", "loop_completed"]);
    assert!(
        matches!(&st.reasons[..], [Disconnection::Failed(e)] if e.kind == ErrorKind::Protocol),
        "{:?}",
        st.reasons
    );
}

#[test]
fn a_flood_behind_a_blocked_listener_is_held_to_max_pending_bytes() {
    use std::io::Write;
    use std::sync::Condvar;
    use std::sync::atomic::AtomicBool;

    const BOUND: usize = 1 << 20;
    const BODY: usize = 64 << 10;
    const N: usize = 1000; // 64 MiB in all, far more than the socket buffers hold
    let _serial = serial();

    /// Blocks in its first on_message until opened; counts the messages, in order.
    #[derive(Default)]
    struct Gate {
        state: Mutex<(bool, bool, usize)>, // (inside the first call, open, messages heard in order)
        cv: Condvar,
    }
    impl Listener for Gate {
        fn on_message(&self, f: &Frame) {
            let mut st = self.state.lock().unwrap();
            st.0 = true;
            self.cv.notify_all();
            while !st.1 {
                st = self.cv.wait(st).unwrap();
            }
            if f.header("message-id") == Some(st.2.to_string().as_str()) {
                st.2 += 1;
            }
            self.cv.notify_all();
        }
    }
    let mut flood = Vec::with_capacity(N * (BODY + 64));
    for i in 0..N {
        write!(flood, "MESSAGE\nmessage-id:{i}\ncontent-length:{BODY}\n\n").unwrap();
        flood.resize(flood.len() + BODY, b'x');
        flood.push(0);
    }
    let server = HostileServer::new();
    let mut o = server.options();
    o.max_pending_messages = 100_000; // the count does not bind: the bytes must
    o.max_pending_bytes = BOUND;
    let c = Arc::new(Connection::new(o).unwrap());
    let gate = Arc::new(Gate::default());
    c.set_listener("gate", gate.clone());
    let mut s = server.connect(&c, "0,0");
    let baseline = reset_counters();
    let written = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (w, d) = (written.clone(), done.clone());
    let writer = std::thread::spawn(move || {
        for chunk in flood.chunks(64 << 10) {
            if s.write_all(chunk).is_err() {
                break;
            }
            w.fetch_add(chunk.len(), Ordering::SeqCst);
        }
        d.store(true, Ordering::SeqCst);
        common::hostile::wait_for_close(&mut s);
    });
    {
        let st = gate.state.lock().unwrap();
        let (_st, t) = gate
            .cv
            .wait_timeout_while(st, Duration::from_secs(10), |s| !s.0)
            .unwrap();
        assert!(!t.timed_out(), "the first message never came");
    }
    // The writer goes on until the client stops reading and the socket buffers are full; no event
    // tells that, so its progress is watched until it stands still (or it is done: no bound).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = (usize::MAX, Instant::now());
    while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
        let now = written.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_millis(300) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20)); // a poll of the writer's progress
    }
    let growth = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    let sent = written.load(Ordering::SeqCst);
    {
        let mut st = gate.state.lock().unwrap();
        st.1 = true;
        gate.cv.notify_all();
    }
    // The bound, one frame over it, the 64 KiB look-ahead and the decoder's buffer for one frame.
    let most = BOUND + 2 * (BODY + 4096) + (64 << 10) + (BODY + (64 << 10));
    assert!(
        growth <= most,
        "{growth} bytes were held while the listener was blocked ({sent} written by the server), \
         more than {most}"
    );
    let st = gate.state.lock().unwrap();
    let (st, t) = gate
        .cv
        .wait_timeout_while(st, Duration::from_secs(30), |s| s.2 < N)
        .unwrap();
    assert!(
        !t.timed_out(),
        "only {} of {N} messages came in order",
        st.2
    );
    drop(st);
    println!(
        "flood: {sent} bytes written while the listener was blocked; live memory grew by {growth} \
         bytes (max_pending_bytes {BOUND})"
    );
    drop(c);
    writer.join().unwrap();
}
