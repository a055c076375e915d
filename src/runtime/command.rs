//! The way in to the I/O loop from other threads: a command queue and a `mio::Waker`.
//! The loop and the (empty) dispatch pool are made once, lazily, with the first connection; the pool's
//! threads start with the first event.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mio::Waker;
use once_cell::sync::OnceCell;

use super::conn::{Shared, lock};
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

pub struct Runtime {
    queue: Mutex<Vec<Cmd>>,
    waker: Waker,
    pub(crate) pool: Arc<Pool>,
    next_id: AtomicUsize,
    /// Dials started by the loop, all connections together: a connection waiting for a connect
    /// slot takes no step of its own while others go ahead, and this shows that they do.
    pub dials: AtomicU64,
}

static RUNTIME: OnceCell<Runtime> = OnceCell::new();

pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let poll = mio::Poll::new().expect("cannot create the I/O poller");
        let waker = Waker::new(poll.registry(), super::event_loop::WAKER)
            .expect("cannot create the I/O waker");
        // Grows while handlers are busy, shrinks when idle: see dispatch.rs for the limits and why.
        let pool = Pool::new(PoolLimits::DEFAULT);
        std::thread::Builder::new()
            .name("stomp-io".into())
            .spawn(move || super::event_loop::run(poll))
            .expect("cannot start the I/O thread");
        Runtime {
            queue: Mutex::new(Vec::new()),
            waker,
            pool,
            next_id: AtomicUsize::new(1),
            dials: AtomicU64::new(0),
        }
    })
}

impl Runtime {
    pub fn command(&self, cmd: Cmd) {
        let first = {
            let mut q = lock(&self.queue);
            q.push(cmd);
            q.len() == 1
        };
        // One wake per batch: the loop takes the whole queue at once.
        if first {
            let _ = self.waker.wake();
        }
    }

    pub fn take_commands(&self, into: &mut Vec<Cmd>) {
        std::mem::swap(&mut *lock(&self.queue), into);
    }

    pub fn new_id(&self) -> usize {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
