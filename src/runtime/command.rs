//! The way in to an I/O loop from other threads: a command queue and a `mio::Waker`, and where the
//! loop's callbacks run (the dispatch pool, or inline for an application-driven loop).
//! The loop and the (empty) dispatch pool are made once, lazily, with the first connection; the pool's
//! threads start with the first event.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use mio::Waker;
use once_cell::sync::OnceCell;

use super::conn::{Dispatch, Shared, lock};
use super::dispatch::{Pool, PoolLimits};

pub enum Cmd {
    /// Start walking the host list for this connection.
    Open(Arc<Shared>),
    /// The outgoing buffer has bytes.
    Flush(usize),
    /// The application's queues have room again: read.
    Resume(usize),
    /// Drop the link now (no DISCONNECT) and stop reconnecting.
    Close(usize, u64),
    /// The handle was freed: forget the connection once its link is down.
    Release(usize),
}

impl Cmd {
    /// The connection the command is for.
    pub fn id(&self) -> usize {
        match self {
            Cmd::Open(shared) => shared.id,
            Cmd::Flush(id) | Cmd::Resume(id) | Cmd::Close(id, _) | Cmd::Release(id) => *id,
        }
    }
}

/// Where a runtime's callbacks run.
pub(crate) enum Sched {
    /// On the elastic dispatch pool (the threaded mode).
    Pool(Arc<Pool>),
    /// On the thread that drives the loop, inside `stomp_loop_process`: the connections with
    /// events waiting, each listed once (its `DispatchQueue::scheduled` says it is listed).
    Inline(Mutex<Ready>),
}

/// The connections of an application-driven loop with callbacks to run.
#[derive(Default)]
pub(crate) struct Ready {
    pub list: VecDeque<Arc<Shared>>,
    /// The loop is gone: nothing is listed any more (see `Runtime::close`).
    pub closed: bool,
}

/// Commands for the loop.
#[derive(Default)]
struct Queue {
    cmds: Vec<Cmd>,
    /// The loop is gone: commands are dropped, not queued (see `Runtime::close`).
    closed: bool,
}

/// One I/O loop's way in: the process-wide one (its own thread, the dispatch pool) or one an
/// application drives from its own event loop (`EventLoop`: no thread, callbacks inline).
pub struct Runtime {
    queue: Mutex<Queue>,
    waker: Waker,
    pub(crate) sched: Sched,
    /// Dials started by the loop, all connections together: a connection waiting for a connect
    /// slot takes no step of its own while others go ahead, and this shows that they do.
    pub dials: AtomicU64,
    /// The thread that drives an application-driven loop: the one that made it or last called
    /// `process` (`None` for the threaded runtime). A blocking call from it would wait for itself.
    pub(crate) driver: Mutex<Option<ThreadId>>,
}

/// Connection ids, unique in the process (logs name connections by them).
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

static RUNTIME: OnceCell<Arc<Runtime>> = OnceCell::new();

/// The threaded runtime, made (with its I/O thread) on first use.
pub fn runtime() -> &'static Arc<Runtime> {
    RUNTIME.get_or_init(|| {
        let poll = mio::Poll::new().expect("cannot create the I/O poller");
        let waker = Waker::new(poll.registry(), super::event_loop::WAKER)
            .expect("cannot create the I/O waker");
        // Grows while handlers are busy, shrinks when idle: see dispatch.rs for the limits and why.
        let pool = Pool::new(PoolLimits::DEFAULT);
        std::thread::Builder::new()
            .name("stomp-io".into())
            // `runtime()` there waits for this initialisation to end.
            .spawn(move || super::event_loop::run(poll, runtime().clone()))
            .expect("cannot start the I/O thread");
        Arc::new(Runtime::new(waker, Sched::Pool(pool)))
    })
}

impl Runtime {
    pub(crate) fn new(waker: Waker, sched: Sched) -> Runtime {
        Runtime {
            queue: Mutex::new(Queue::default()),
            waker,
            sched,
            dials: AtomicU64::new(0),
            driver: Mutex::new(None),
        }
    }

    pub fn command(&self, cmd: Cmd) {
        let first = {
            let mut q = lock(&self.queue);
            if q.closed {
                drop(q);
                drop(cmd);
                return;
            }
            q.cmds.push(cmd);
            q.cmds.len() == 1
        };
        // One wake per batch: the loop takes the whole queue at once.
        if first {
            let _ = self.waker.wake();
        }
    }

    pub fn take_commands(&self, into: &mut Vec<Cmd>) {
        std::mem::swap(&mut lock(&self.queue).cmds, into);
    }

    pub fn new_id(&self) -> usize {
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues an event for `shared`'s listeners.
    pub fn push(&self, shared: &Arc<Shared>, ev: Dispatch) {
        self.push_all(shared, std::iter::once(ev));
    }

    /// Queues events for `shared`'s listeners, in order, under one lock, and makes sure they will
    /// be run: by the pool, or by the next `process` of the application's loop.
    pub fn push_all(&self, shared: &Arc<Shared>, evs: impl Iterator<Item = Dispatch>) {
        match &self.sched {
            Sched::Pool(pool) => pool.push_all(shared, evs),
            Sched::Inline(ready) => {
                if super::dispatch::enqueue(shared, evs) {
                    let mut r = lock(ready);
                    if !r.closed {
                        r.list.push_back(shared.clone());
                    }
                }
            }
        }
    }

    /// `push_all` without the pool's wake-up, for the I/O loop while it holds the connection's lock:
    /// true when the caller must `schedule` the connection once it has let go of that lock (a
    /// dispatcher woken before could run straight into it, in a callback that sends).
    pub fn enqueue_all(&self, shared: &Arc<Shared>, evs: impl Iterator<Item = Dispatch>) -> bool {
        match &self.sched {
            Sched::Pool(_) => super::dispatch::enqueue(shared, evs),
            Sched::Inline(_) => {
                self.push_all(shared, evs);
                false
            }
        }
    }

    /// Puts a connection `enqueue_all` left unscheduled on the pool's ready list, waking a thread.
    pub fn schedule(&self, shared: &Arc<Shared>) {
        if let Sched::Pool(pool) = &self.sched {
            pool.schedule(shared.clone());
        }
    }

    /// The application's loop is gone: from now on commands and callbacks are dropped, and those
    /// waiting are dropped now. They may hold a connection, which holds this runtime: kept, they
    /// would keep both alive for ever.
    pub(crate) fn close(&self) {
        let cmds = {
            let mut q = lock(&self.queue);
            q.closed = true;
            std::mem::take(&mut q.cmds)
        };
        let listed = match &self.sched {
            Sched::Inline(ready) => {
                let mut r = lock(ready);
                r.closed = true;
                std::mem::take(&mut r.list)
            }
            Sched::Pool(_) => VecDeque::new(),
        };
        drop((cmds, listed));
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        lock(&self.queue).closed
    }

    /// An application-driven loop's runtime (no thread of the library's own).
    pub fn is_app_driven(&self) -> bool {
        matches!(self.sched, Sched::Inline(_))
    }

    /// True on the thread driving an application-driven loop: a call there that waits for the
    /// loop would wait for itself.
    pub fn would_deadlock(&self) -> bool {
        matches!(self.sched, Sched::Inline(_))
            && *lock(&self.driver) == Some(std::thread::current().id())
    }
}
