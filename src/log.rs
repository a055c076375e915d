//! The library's log: levels, the `STOMP_LOG` variable, one process-wide sink, and the thread that
//! delivers to it.
//!
//! Whether a level is on is one relaxed atomic load (`enabled`), checked before any message is built,
//! so logging that is off costs no allocation or formatting. Messages go through a bounded queue to
//! one library thread ("stomp-log"), which calls the sink with no library lock held: the I/O thread,
//! which logs while it holds a connection's lock, never waits for the application's callback or
//! for stderr. A full queue drops messages and says how many once it has room again.

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};

/// How much a message matters; each level includes the ones above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// The library itself failed (an internal error).
    Error = 1,
    /// Something went wrong that the application may want to know: a link lost, a heart-beat
    /// timeout, an ERROR frame, a connect that gave up.
    Warn = 2,
    /// Links established and ended.
    Info = 3,
    /// Host-list walks, reconnect decisions, heart-beat timings.
    Debug = 4,
    /// Every frame in and out, passcode masked and long bodies cut.
    Trace = 5,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// `error`, `warn`, `info`, `debug` or `trace` (any case); `None` for anything else.
    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
            Level::Trace,
        ]
        .into_iter()
        .find(|l| s.trim().eq_ignore_ascii_case(l.as_str()))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The application's sink: called on the log thread with each message at or above its level.
pub type LogFn = Arc<dyn Fn(Level, &str) + Send + Sync>;

/// The most verbose level any sink takes now; 0 is off. `UNREAD` until `STOMP_LOG` has been read.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(UNREAD);
const UNREAD: u8 = u8::MAX;
const OFF: u8 = 0;
/// Messages waiting for the log thread; past this they are dropped (and counted).
const QUEUE: usize = 8192;
/// What is shown in place of a passcode.
const MASK: &str = "********";
/// Body bytes shown by a trace of a frame.
const BODY_SHOWN: usize = 200;

/// Whether a message at `level` would go anywhere. One relaxed load once `STOMP_LOG` has been read.
#[inline]
pub fn enabled(level: Level) -> bool {
    let max = MAX_LEVEL.load(Ordering::Relaxed);
    (level as u8) <= max && (max != UNREAD || read_env_then(level))
}

#[cold]
fn read_env_then(level: Level) -> bool {
    let env = env_level();
    let _ = MAX_LEVEL.compare_exchange(UNREAD, env, Ordering::Relaxed, Ordering::Relaxed);
    (level as u8) <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// The level `STOMP_LOG` asks for (read once); a value that is not a level says so on stderr.
fn env_level() -> u8 {
    static ENV: OnceLock<u8> = OnceLock::new();
    *ENV.get_or_init(|| match std::env::var("STOMP_LOG") {
        Err(_) => OFF,
        Ok(v) if v.is_empty() || v.eq_ignore_ascii_case("off") => OFF,
        Ok(v) => Level::parse(&v).map_or_else(
            || {
                eprintln!(
                    "libstomp: STOMP_LOG={:?} is not one of error, warn, info, debug, trace or off; \
                     logging stays off",
                    v
                );
                OFF
            },
            |l| l as u8,
        ),
    })
}

/// Logs `format!(...)` at a level, building the message only if the level is on.
macro_rules! log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, format!($($arg)*));
        }
    };
}
pub(crate) use log;

struct Record {
    level: Level,
    text: String,
}

/// Where messages go, as the log thread sees it.
struct Sink {
    /// The application's callback and the most verbose level it takes (0: none).
    callback: Option<(LogFn, u8)>,
    /// The log thread is inside the callback (so `set_logger` can wait it out).
    calling: bool,
    /// Records handled by the log thread (delivered or filtered out).
    done: u64,
}

struct Logger {
    tx: SyncSender<Record>,
    /// Records put in the queue.
    queued: AtomicU64,
    /// Records the full queue turned away since the log thread last said so.
    dropped: AtomicU64,
    sink: Mutex<Sink>,
    /// Signalled after each record and each callback.
    cv: Condvar,
    thread: OnceLock<std::thread::ThreadId>,
}

fn logger() -> &'static Logger {
    static LOGGER: OnceLock<&'static Logger> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE);
        let l: &'static Logger = Box::leak(Box::new(Logger {
            tx,
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            sink: Mutex::new(Sink {
                callback: None,
                calling: false,
                done: 0,
            }),
            cv: Condvar::new(),
            thread: OnceLock::new(),
        }));
        let spawned = std::thread::Builder::new()
            .name("stomp-log".into())
            .spawn(move || deliver(l, rx));
        match spawned {
            Ok(h) => {
                let _ = l.thread.set(h.thread().id());
            }
            // No thread, no log: the queue fills and everything counts as dropped.
            Err(e) => eprintln!("libstomp: cannot start the log thread: {}", e),
        }
        l
    })
}

fn lock(m: &Mutex<Sink>) -> std::sync::MutexGuard<'_, Sink> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Queues a message for the sink. Never blocks: a full queue drops it.
pub fn emit(level: Level, text: String) {
    let l = logger();
    match l.tx.try_send(Record { level, text }) {
        Ok(()) => {
            l.queued.fetch_add(1, Ordering::SeqCst);
        }
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            l.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The log thread: each record to the callback (if it takes the level) or to stderr (if
/// `STOMP_LOG` takes it), with no lock held during the call.
fn deliver(l: &'static Logger, rx: Receiver<Record>) {
    for rec in rx {
        let dropped = l.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let note = format!(
                "{} log messages were dropped: the log sink is slower than the library",
                dropped
            );
            deliver_one(l, Level::Warn, &note);
        }
        deliver_one(l, rec.level, &rec.text);
        lock(&l.sink).done += 1;
        l.cv.notify_all();
    }
}

fn deliver_one(l: &Logger, level: Level, text: &str) {
    let callback = {
        let mut s = lock(&l.sink);
        let f = match &s.callback {
            Some((f, max)) if level as u8 <= *max => Some(f.clone()),
            Some(_) => return,
            None => None,
        };
        s.calling = f.is_some();
        f
    };
    match callback {
        Some(f) => {
            // A panicking Rust sink must not end the log thread; C callbacks cannot unwind.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(level, text)));
            lock(&l.sink).calling = false;
            l.cv.notify_all();
        }
        None if (level as u8) <= env_level() => {
            eprintln!("libstomp {}: {}", level, text);
        }
        None => {}
    }
}

/// Sends every message at or above `level` to `f` instead of `STOMP_LOG`'s stderr; `None` goes back
/// to `STOMP_LOG`. When this returns, the previous callback is not running (unless this is called
/// from inside it) and will not be called again.
pub fn set_logger(sink: Option<(LogFn, Level)>) {
    install(sink.map(|(f, level)| (f, level as u8)));
}

/// `set_logger` with the level as a number, 0 for none (the C API's `STOMP_LOG_OFF`).
pub(crate) fn install(sink: Option<(LogFn, u8)>) {
    let env = env_level();
    let l = logger();
    let max = sink.as_ref().map_or(env, |(_, lv)| *lv);
    let mut s = lock(&l.sink);
    s.callback = sink;
    MAX_LEVEL.store(max, Ordering::Relaxed);
    let inside = l.thread.get() == Some(&std::thread::current().id());
    while s.calling && !inside {
        s = l.cv.wait(s).unwrap_or_else(|p| p.into_inner());
    }
}

/// Waits until every message logged before the call has been delivered, or `timeout` passes;
/// whether they were. For tests, and for programs that exit right after logging.
pub fn flush(timeout: Duration) -> bool {
    let l = logger();
    if l.thread.get() == Some(&std::thread::current().id()) {
        return false; // the log thread cannot wait for itself
    }
    let target = l.queued.load(Ordering::SeqCst);
    let deadline = Instant::now() + timeout;
    let mut s = lock(&l.sink);
    while s.done < target {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        s =
            l.cv.wait_timeout(s, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
    }
    true
}

/// One connection's view of the log: its id in every line, and its passcode, which no line shows.
#[derive(Debug, Default)]
pub struct SessionLog {
    conn: usize,
    secret: Option<String>,
    last_beat_in: Option<Instant>,
}

/// Which way a traced frame went.
#[derive(Debug, Clone, Copy)]
pub enum Dir {
    Out,
    In,
}

impl SessionLog {
    pub fn new(conn: usize) -> SessionLog {
        SessionLog {
            conn,
            ..SessionLog::default()
        }
    }

    /// The passcode of the link being opened: masked wherever it would appear.
    pub fn set_secret(&mut self, passcode: Option<&str>) {
        self.secret = passcode.filter(|p| !p.is_empty()).map(str::to_owned);
    }

    /// Logs a message about this connection (formatted only if the level is on).
    pub fn say(&self, level: Level, args: fmt::Arguments<'_>) {
        if enabled(level) {
            emit(level, self.masked(format!("conn {}: {}", self.conn, args)));
        }
    }

    fn masked(&self, text: String) -> String {
        match &self.secret {
            Some(s) if text.contains(s.as_str()) => text.replace(s.as_str(), MASK),
            _ => text,
        }
    }

    /// Traces a frame: its command, its headers (passcode masked) and the start of its body. On
    /// every frame's path: inlined down to the level check, the tracing itself out of line.
    #[inline]
    pub fn frame<'a>(
        &self,
        dir: Dir,
        command: impl fmt::Display,
        headers: impl Iterator<Item = (&'a str, &'a str)>,
        body: &[u8],
    ) {
        if enabled(Level::Trace) {
            self.trace_frame(dir, command, headers, body);
        }
    }

    #[cold]
    fn trace_frame<'a>(
        &self,
        dir: Dir,
        command: impl fmt::Display,
        headers: impl Iterator<Item = (&'a str, &'a str)>,
        body: &[u8],
    ) {
        let arrow = match dir {
            Dir::Out => ">>>",
            Dir::In => "<<<",
        };
        let mut text = format!("conn {}: {} {}", self.conn, arrow, command);
        for (i, (name, value)) in headers.enumerate() {
            text.push_str(if i == 0 { " " } else { ", " });
            push_escaped(&mut text, name);
            text.push(':');
            if name == "passcode" {
                text.push_str(MASK);
            } else {
                push_escaped(&mut text, value);
            }
        }
        if !body.is_empty() {
            use fmt::Write as _;
            let shown = &body[..body.len().min(BODY_SHOWN)];
            let _ = write!(text, " | body {} bytes: ", body.len());
            push_escaped(&mut text, &String::from_utf8_lossy(shown));
            if shown.len() < body.len() {
                let _ = write!(text, "... ({} more bytes)", body.len() - shown.len());
            }
        }
        emit(Level::Trace, self.masked(text));
    }

    /// A heart-beat arrived: at debug, how long after the previous one.
    pub fn beat_in(&mut self, now: Instant) {
        if let Some(prev) = self.last_beat_in.replace(now) {
            self.say(
                Level::Debug,
                format_args!(
                    "heart-beat received, {} ms after the previous one",
                    now.saturating_duration_since(prev).as_millis()
                ),
            );
        } else {
            self.say(Level::Debug, format_args!("heart-beat received"));
        }
    }

    /// An established link ended: info when asked for or clean, warn otherwise; then, at debug,
    /// whether the connection reconnects.
    pub fn link_closed(&self, reason: Option<&Error>, by_application: bool, reconnecting: bool) {
        let level = if reason.is_none() || by_application {
            Level::Info
        } else {
            Level::Warn
        };
        let why = reason.map_or("cleanly", |e| e.message.as_str());
        self.say(level, format_args!("link closed: {}", why));
        let decision = match (reconnecting, reason.is_some(), by_application) {
            (true, _, _) => "the link dropped: reconnecting",
            (false, false, _) => "the link ended cleanly: not reconnecting",
            (false, true, true) => "closed by the application: not reconnecting",
            (false, true, false) => "the link dropped: not reconnecting (auto-reconnect is off)",
        };
        self.say(Level::Debug, format_args!("{}", decision));
    }

    /// A link ended before CONNECTED: a refusal is a warning; anything else (the walk tries the
    /// next host) is for debug.
    pub fn attempt_failed(&self, reason: Option<&Error>) {
        let why = reason.map_or("closed during the handshake", |e| e.message.as_str());
        let level = match reason {
            Some(e) if e.kind == ErrorKind::Refused => Level::Warn,
            _ => Level::Debug,
        };
        self.say(level, format_args!("connect attempt failed: {}", why));
    }

    /// An ERROR frame on an open link (the link stays up): a warning with its message.
    pub fn error_frame(&self, f: &crate::proto::Frame) {
        if enabled(Level::Warn) {
            let text = crate::proto::session::error_text(f);
            self.say(Level::Warn, format_args!("the broker sent ERROR: {}", text));
        }
    }

    /// A link opened: the previous heart-beat is not a reference any more.
    pub fn link_opened(&mut self) {
        self.last_beat_in = None;
    }
}

/// Appends `s` with control characters escaped, so that a line of the log stays one line.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_in_any_case_and_order_by_verbosity() {
        assert_eq!(Level::parse("TRACE"), Some(Level::Trace));
        assert_eq!(Level::parse(" warn "), Some(Level::Warn));
        assert_eq!(Level::parse("verbose"), None);
        assert!(Level::Error < Level::Warn && Level::Debug < Level::Trace);
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        push_escaped(&mut s, "a\nb\r\0c");
        assert_eq!(s, "a\\nb\\r\\u{0}c");
    }

    #[test]
    fn the_secret_is_masked_anywhere_in_a_line() {
        let mut l = SessionLog::new(7);
        l.set_secret(Some("s3cr3t"));
        assert_eq!(
            l.masked("login s3cr3t and s3cr3t".into()),
            "login ******** and ********"
        );
        l.set_secret(Some(""));
        assert_eq!(l.masked("abc".into()), "abc");
    }
}
