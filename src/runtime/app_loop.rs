//! An I/O loop the application drives from its own event loop (epoll, poll, libuv, a reactor):
//! no thread of the library's. The application watches `fd` (readable when a socket, or a command
//! from an API call, is ready), wakes up by `timeout` for the timers (heart-beats, connect
//! timeouts, back-off sleeps), and calls `process`, which runs one iteration of the same loop as
//! the threaded runtime's and then the callbacks that iteration queued, on the caller's thread.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Poll, Waker};

use super::command::{Ready, Runtime, Sched};
use super::conn::lock;
use super::dispatch;
use super::event_loop::{Loop, WAKER};
use crate::client::Connection;
use crate::error::{ErrorKind, Result, err};
use crate::options::Options;

/// An I/O loop for connections the application drives (see the module's documentation). Make its
/// connections with `connection`; free them before the loop. `Send` and `Sync`, but `process` runs
/// on one thread at a time.
pub struct EventLoop {
    rt: Arc<Runtime>,
    lp: Mutex<Loop>,
    fd: RawFd,
    /// A thread is inside `process` (a callback calling it again is refused).
    busy: AtomicBool,
    /// When the loop's next timer is due, as of the end of the last `process` (read by `timeout`
    /// without waiting for a `process` under way on another thread).
    deadline: Mutex<Option<Instant>>,
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        self.rt.close();
    }
}

impl AsRawFd for EventLoop {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

/// Marks the loop as free again when `process` ends, panicking or not.
struct Busy<'a>(&'a AtomicBool);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl EventLoop {
    /// A loop with no connection; the calling thread is its driver until another calls `process`.
    pub fn new() -> Result<EventLoop> {
        let io = |e: std::io::Error| {
            crate::error::Error::new(ErrorKind::Io, format!("cannot make the loop's poller: {e}"))
        };
        let poll = Poll::new().map_err(io)?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(io)?;
        let rt = Arc::new(Runtime::new(
            waker,
            Sched::Inline(Mutex::new(Ready::default())),
        ));
        *lock(&rt.driver) = Some(std::thread::current().id());
        let fd = poll.as_raw_fd();
        Ok(EventLoop {
            lp: Mutex::new(Loop::new(poll, rt.clone())),
            rt,
            fd,
            busy: AtomicBool::new(false),
            deadline: Mutex::new(None),
        })
    }

    /// A connection driven by this loop.
    pub fn connection(&self, opts: Options) -> Result<Connection> {
        Connection::new_in(opts, Some(self.rt.clone()))
    }

    /// The descriptor to watch for reading (the loop's epoll descriptor).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// How long the application may wait before calling `process` even if `fd` stays quiet: zero
    /// when callbacks or commands already wait; `None` when no timer is set.
    pub fn timeout(&self) -> Option<Duration> {
        if self.has_ready() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        lock(&self.deadline).map(|d| d.saturating_duration_since(now))
    }

    fn has_ready(&self) -> bool {
        match &self.rt.sched {
            Sched::Inline(ready) => !lock(ready).list.is_empty(),
            Sched::Pool(_) => false,
        }
    }

    /// Waits up to `timeout` for something to do, does it, then runs the callbacks it queued (no
    /// lock of the library's held). Returns the callbacks' connections served. Refused from inside
    /// a callback of this loop (`WouldDeadlock`).
    pub fn process(&self, timeout: Duration) -> Result<usize> {
        if self.busy.swap(true, Ordering::Acquire) {
            return err(
                ErrorKind::WouldDeadlock,
                "this loop is already being processed (by one of its own callbacks, or by another \
                 thread): one thread at a time, and never from its callbacks",
            );
        }
        let _busy = Busy(&self.busy);
        *lock(&self.rt.driver) = Some(std::thread::current().id());
        let limit = if self.has_ready() {
            Duration::ZERO
        } else {
            timeout
        };
        let polled = {
            let mut lp = lock(&self.lp);
            let polled = lp.turn(Some(limit));
            let now = Instant::now();
            *lock(&self.deadline) = lp.next_timeout(now).map(|t| now + t);
            polled
        };
        let served = self.run_callbacks();
        if !polled {
            return err(ErrorKind::Io, "polling the loop's descriptor failed");
        }
        Ok(served)
    }

    /// Runs the queued callbacks of every connection, in turn, on this thread.
    fn run_callbacks(&self) -> usize {
        let Sched::Inline(ready) = &self.rt.sched else {
            return 0;
        };
        let mut served = 0;
        loop {
            let Some(shared) = lock(ready).list.pop_front() else {
                return served;
            };
            served += 1;
            if dispatch::run(&shared) {
                // Still listed (`scheduled` stays set): to the back of the line.
                let mut r = lock(ready);
                if !r.closed {
                    r.list.push_back(shared);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::EventLoop;
    use crate::error::ErrorKind;
    use crate::listener::Listener;
    use crate::options::Options;
    use crate::runtime::conn::Dispatch;

    struct Quiet;
    impl Listener for Quiet {}

    /// A loop freed before its connection drops what was queued for it (a command and a callback
    /// each hold the connection, which holds the loop's runtime: kept, they would leak both), and
    /// the connection then fails plainly instead of waiting for a loop that is gone.
    #[test]
    fn freeing_the_loop_first_leaks_nothing_and_later_calls_fail() {
        let ev = EventLoop::new().unwrap();
        // A port nobody listens on: the connect is only queued here, never driven.
        let mut o = Options::new().host("127.0.0.1", 9);
        o.auto_reconnect = false;
        let c = ev.connection(o).unwrap();
        c.set_listener("quiet", Arc::new(Quiet));
        c.connect(None, None, &[], false).unwrap();
        c.shared.rt.push(&c.shared, Dispatch::Disconnecting);
        assert!(
            Arc::strong_count(&c.shared) >= 3,
            "queued: the command and the ready list"
        );
        drop(ev);
        assert_eq!(
            Arc::strong_count(&c.shared),
            1,
            "what was queued is dropped"
        );
        assert_eq!(
            Arc::strong_count(&c.shared.rt),
            1,
            "only the connection holds the runtime"
        );
        let e = c.connect(None, None, &[], false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Closed, "{}", e.message);
    }

    /// `timeout` reports the next deadline once a turn has set one, without a lock `process` holds.
    #[test]
    fn timeout_is_none_until_a_timer_is_set() {
        let ev = EventLoop::new().unwrap();
        assert_eq!(ev.timeout(), None);
        let mut o = Options::new().host("127.0.0.1", 9);
        o.connect_timeout = Duration::from_secs(7);
        let c = ev.connection(o).unwrap();
        c.connect(None, None, &[], false).unwrap();
        ev.process(Duration::ZERO).unwrap();
        // Dialling (or, refused at once, backing off): some timer is due within the connect timeout.
        let t = ev.timeout().expect("a deadline");
        assert!(t <= Duration::from_secs(8), "{t:?}");
    }
}
