//! An I/O loop the application drives from its own event loop (epoll, poll, libuv, a reactor):
//! no thread of the library's. The application watches `fd` (readable when a socket, or a command
//! from an API call, is ready), wakes up by `timeout` for the timers (heart-beats, connect
//! timeouts, back-off sleeps), and calls `process`, which runs one iteration of the same loop as
//! the threaded runtime's and then the callbacks that iteration queued, on the caller's thread.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Poll, Waker};

use super::command::{Runtime, Sched};
use super::conn::lock;
use super::dispatch;
use super::event_loop::{Loop, WAKER};
use crate::client::Connection;
use crate::error::{ErrorKind, Result, err};
use crate::options::Options;

pub struct EventLoop {
    rt: Arc<Runtime>,
    lp: Mutex<Loop>,
    fd: RawFd,
    /// A thread is inside `process` (a callback calling it again is refused).
    busy: AtomicBool,
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
            Sched::Inline(Mutex::new(VecDeque::new())),
        ));
        *lock(&rt.driver) = Some(std::thread::current().id());
        let fd = poll.as_raw_fd();
        Ok(EventLoop {
            lp: Mutex::new(Loop::new(poll, rt.clone())),
            rt,
            fd,
            busy: AtomicBool::new(false),
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
        lock(&self.lp).next_timeout(Instant::now())
    }

    fn has_ready(&self) -> bool {
        match &self.rt.sched {
            Sched::Inline(ready) => !lock(ready).is_empty(),
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
                "stomp_loop_process called from inside a callback of the same loop",
            );
        }
        *lock(&self.rt.driver) = Some(std::thread::current().id());
        let limit = if self.has_ready() {
            Duration::ZERO
        } else {
            timeout
        };
        let polled = lock(&self.lp).turn(Some(limit));
        let served = self.run_callbacks();
        self.busy.store(false, Ordering::Release);
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
            let Some(shared) = lock(ready).pop_front() else {
                return served;
            };
            served += 1;
            if dispatch::run(&shared) {
                // Still listed (`scheduled` stays set): to the back of the line.
                lock(ready).push_back(shared);
            }
        }
    }
}
