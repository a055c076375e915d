//! What one connection shares between the API threads, the I/O loop and the dispatch threads.
//!
//! Lock order, where two are held: `core` first, then `recv`'s (its outbox, then its inbox) or
//! `dispatch` (then the dispatch pool's ready list); `recv`'s and `dispatch` are never taken before
//! `core`, nor `listeners` with another. The frame-buffer pool's lock (`proto::pool`) and the
//! kept read chunks' (`proto::chunk`) are leaves, taken under any of these when a frame is built
//! or dropped, and nothing is taken under them.
//! No lock here is ever held while user code runs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::recv_queue::RecvQueue;
use crate::error::Error;
use crate::listener::{Disconnection, Listener};
use crate::options::Options;
use crate::proto::{ConnectParams, Frame, Session};

/// Where a connection is, as the application sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Never connected.
    Idle = 0,
    /// `connect` was called; walking the host list.
    Connecting = 1,
    /// CONNECTED received; the link is up.
    Open = 2,
    /// The link dropped and auto-reconnect is walking the host list again.
    Reconnecting = 3,
    /// Ended (by the application, the broker, or failing to connect).
    Closed = 4,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Idle,
            1 => Phase::Connecting,
            2 => Phase::Open,
            3 => Phase::Reconnecting,
            _ => Phase::Closed,
        }
    }
}

pub struct Core {
    pub session: Session,
    /// The host list's addresses (or why a name did not resolve), one entry per host, looked up by
    /// `connect` on the application's thread: the I/O thread never waits for DNS.
    pub resolved: Vec<std::result::Result<Vec<std::net::SocketAddr>, String>>,
    pub params: ConnectParams,
    /// Why the last connect attempt or link ended.
    pub error: Option<Error>,
    /// Why the connection last went down (a link ending, or a connect that ended without one), asked
    /// for or not; kept across later connects, until the next one goes down.
    pub last_disconnect: Option<Disconnection>,
    /// The application asked to disconnect: no reconnecting.
    pub user_closed: bool,
    /// A `Flush` command is already on its way to the loop.
    pub flush_queued: bool,
    /// Threads waiting for room in the outgoing buffer.
    pub out_waiters: usize,
    /// Counts established links, so a waiter can tell that the link it knew has gone.
    pub links: u64,
    /// The host and port of the current link.
    pub peer: Option<(String, u16)>,
    /// Frames sent while auto-reconnect was under way, sent once the link is back.
    pub held: VecDeque<Frame>,
    pub held_bytes: usize,
    /// Counts `connect` calls: a `Close` queued for one connect must not end a later one.
    pub generation: u64,
    /// Counts the steps of host-list walks (a dial, a back-off sleep, giving up), so that a
    /// `connect` waiting for the walk can tell a slow walk from a wedged I/O loop.
    pub walk_steps: u64,
    /// The TLS version and cipher suite of the current link (`None`: plain, or not up yet).
    pub tls_session: Option<crate::runtime::tls::TlsSessionInfo>,
    /// Writing from the sending thread on an idle link (see `direct.rs`).
    pub direct: crate::runtime::direct::DirectWrite,
}

/// An event for the listeners, in the order it happened.
pub enum Dispatch {
    Connecting(String, u16),
    Connected(Frame),
    Disconnecting,
    /// A link that was up ended: `on_disconnected_reason`, then `on_disconnected`.
    Disconnected(Disconnection),
    HeartbeatTimeout,
    Message(Frame),
    Receipt(Frame),
    Error(Frame),
    Send(Frame),
    Heartbeat,
    /// The connection ended for good; with the reason when no `Disconnected` told it (the link never
    /// came up).
    LoopCompleted(Option<Disconnection>),
}

#[derive(Default)]
pub struct DispatchQueue {
    pub events: VecDeque<Dispatch>,
    /// On the ready list of the dispatch pool, or being run.
    pub scheduled: bool,
    /// The thread running this connection's callbacks now.
    pub running_on: Option<ThreadId>,
    /// Events caused by reading (MESSAGE, RECEIPT, ERROR, heart-beats) waiting for the listeners:
    /// at `max_pending_messages` the I/O thread stops reading this connection.
    pub read_events: usize,
    /// Bytes of the frames of those events (`Frame::size`): at `max_pending_bytes` reading stops too.
    pub read_bytes: usize,
    /// `on_send` events waiting: at `max_pending_messages` a send waits (up to the send timeout).
    pub sends: usize,
    /// Threads waiting on `dispatch_idle`: the dispatcher signals it only when there are some.
    pub idle_waiters: usize,
    /// An empty queue whose allocation the dispatcher reuses to take a batch of events.
    pub spare: VecDeque<Dispatch>,
}

impl Dispatch {
    /// Caused by reading from the broker, so bounded by pausing the reading.
    pub fn is_read_event(&self) -> bool {
        matches!(
            self,
            Dispatch::Message(_) | Dispatch::Receipt(_) | Dispatch::Error(_) | Dispatch::Heartbeat
        )
    }

    /// Bytes a read event holds, for `max_pending_bytes`.
    pub fn read_bytes(&self) -> usize {
        match self {
            Dispatch::Message(f) | Dispatch::Receipt(f) | Dispatch::Error(f) => f.size(),
            _ => 0,
        }
    }
}

pub type ListenerList = Arc<Vec<(String, Arc<dyn Listener>)>>;

pub struct Shared {
    pub id: usize,
    /// The runtime whose loop drives this connection: commands and callbacks go there.
    pub rt: Arc<crate::runtime::command::Runtime>,
    pub opts: Options,
    /// The TLS setup of each host of `opts.hosts` (`None`: plain TCP), built once by `new`.
    pub tls: Vec<Option<crate::runtime::tls::TlsTarget>>,
    pub core: Mutex<Core>,
    /// Signalled when the phase changes, a receipt arrives, or the outgoing buffer drains.
    pub cv: Condvar,
    pub phase: AtomicU8,
    pub listeners: Mutex<ListenerList>,
    pub listener_count: AtomicUsize,
    /// Bumped each time the listener list changes, so the dispatcher re-reads it only then.
    pub listener_generation: AtomicUsize,
    pub dispatch: Mutex<DispatchQueue>,
    /// Signalled when the dispatcher finishes a run (for `free` to wait on).
    pub dispatch_idle: Condvar,
    /// The pull queue read by `receive`.
    pub recv: RecvQueue,
    /// The loop stopped reading because the application's queues are full.
    pub paused: AtomicBool,
    /// The handle was freed: no more callbacks.
    pub released: AtomicBool,
    /// Makes the I/O loop panic the next time it drives this connection (tests of the guard).
    #[cfg(test)]
    pub inject_panic: AtomicBool,
}

/// Locks, shrugging off poisoning: no code that can panic runs under these locks except our own,
/// and a panicking listener is caught before it reaches them.
/// Waits on `cv` until `done` holds or `deadline` passes; returns the guard and whether `done` held.
pub fn wait_until<'a, T>(
    mut guard: MutexGuard<'a, T>,
    cv: &Condvar,
    deadline: Instant,
    mut done: impl FnMut(&T) -> bool,
) -> (MutexGuard<'a, T>, bool) {
    loop {
        if done(&guard) {
            return (guard, true);
        }
        let now = Instant::now();
        if now >= deadline {
            return (guard, false);
        }
        guard = cv
            .wait_timeout(guard, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// Waits on `cv` until `done` holds, for as long as `progress` keeps changing: gives up (returns
/// false) once it has stood still for `stall`. For waits whose whole length is unbounded (a walk
/// retrying forever) but whose every step is bounded: a wait that outlives a step has found a
/// wedge, not slowness.
pub fn wait_progressing<'a, T, P: PartialEq>(
    mut guard: MutexGuard<'a, T>,
    cv: &Condvar,
    stall: Duration,
    mut done: impl FnMut(&T) -> bool,
    mut progress: impl FnMut(&T) -> P,
) -> (MutexGuard<'a, T>, bool) {
    let mut last = progress(&guard);
    loop {
        let (g, ok) = wait_until(guard, cv, Instant::now() + stall, &mut done);
        guard = g;
        if ok {
            return (guard, true);
        }
        let now = progress(&guard);
        if now == last {
            return (guard, false);
        }
        last = now;
    }
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Waits on `dispatch_idle` until `done` holds or `deadline` (if any) passes, counted in
    /// `idle_waiters`: the dispatcher signals only when someone waits.
    pub fn wait_dispatch_idle<'a>(
        &self,
        mut d: MutexGuard<'a, DispatchQueue>,
        deadline: Option<Instant>,
        mut done: impl FnMut(&DispatchQueue) -> bool,
    ) -> MutexGuard<'a, DispatchQueue> {
        d.idle_waiters += 1;
        while !done(&d) {
            d = match deadline {
                None => self
                    .dispatch_idle
                    .wait(d)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(t) => {
                    let now = Instant::now();
                    if now >= t {
                        break;
                    }
                    self.dispatch_idle
                        .wait_timeout(d, t - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        d.idle_waiters -= 1;
        d
    }

    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    pub fn set_phase(&self, p: Phase) {
        self.phase.store(p as u8, Ordering::Release);
    }

    pub fn lock_core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }

    /// How many more messages, and bytes of them, the application's queues can take now: the
    /// receive queue's room (when it is on) and the listeners' room (when there are listeners).
    /// Zero in either stops reading.
    pub fn message_budget(&self) -> (usize, usize) {
        let (mut budget, mut bytes) = (usize::MAX, usize::MAX);
        let o = &self.opts;
        if o.receive_queue > 0 {
            budget = o.receive_queue.saturating_sub(self.recv.queued());
            bytes = o
                .receive_queue_bytes
                .max(1)
                .saturating_sub(self.recv.bytes());
        }
        if self.listener_count.load(Ordering::Acquire) > 0 {
            let d = lock(&self.dispatch);
            budget = budget.min(o.max_pending_messages.max(1).saturating_sub(d.read_events));
            bytes = bytes.min(o.max_pending_bytes.max(1).saturating_sub(d.read_bytes));
        }
        (budget, bytes)
    }

    /// Whether the application's queues have room for a message now (see `message_budget`).
    pub fn has_room(&self) -> bool {
        let (messages, bytes) = self.message_budget();
        messages > 0 && bytes > 0
    }

    pub fn listeners(&self) -> ListenerList {
        lock(&self.listeners).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state some thread may or may not move on: a count and whether the work is done.
    fn board() -> Arc<(Mutex<(u64, bool)>, Condvar)> {
        Arc::new((Mutex::new((0, false)), Condvar::new()))
    }

    #[test]
    fn a_wedged_wait_gives_up_after_the_stall_and_a_progressing_one_does_not() {
        let stall = Duration::from_millis(100);
        // Wedged: nothing ever moves (no other thread).
        let b = board();
        let start = Instant::now();
        let (_g, ok) = wait_progressing(lock(&b.0), &b.1, stall, |s| s.1, |s| s.0);
        assert!(!ok);
        let took = start.elapsed();
        assert!(took >= stall && took < stall * 10, "{took:?}");

        // Progressing: steps come every 40 ms for 10 steps (4x the stall in all), then done.
        let b = board();
        let b2 = b.clone();
        let worker = std::thread::spawn(move || {
            for i in 1..=10 {
                std::thread::sleep(Duration::from_millis(40));
                let mut g = lock(&b2.0);
                g.0 = i;
                g.1 = i == 10;
                b2.1.notify_all();
            }
        });
        let (g, ok) = wait_progressing(lock(&b.0), &b.1, stall, |s| s.1, |s| s.0);
        assert!(ok, "gave up at step {}", g.0);
        drop(g);
        worker.join().unwrap();
    }
}
