//! The dispatch pool: threads that run listener callbacks, off the I/O thread.
//!
//! Each connection's events run one at a time and in order (a connection is on the ready list at
//! most once); different connections run in parallel, so one slow handler holds up only its own
//! connection's callbacks, and never I/O or heart-beats.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};

use super::command::{Cmd, runtime};
use super::conn::{Dispatch, Shared, lock};

/// Events run for one connection before it goes to the back of the line.
const BATCH: usize = 64;

pub struct Pool {
    ready: Mutex<VecDeque<Arc<Shared>>>,
    cv: Condvar,
}

impl Pool {
    pub fn start(threads: usize) -> Arc<Pool> {
        let pool = Arc::new(Pool {
            ready: Mutex::new(VecDeque::new()),
            cv: Condvar::new(),
        });
        for i in 0..threads {
            let p = pool.clone();
            std::thread::Builder::new()
                .name(format!("stomp-dispatch-{}", i))
                .spawn(move || p.work())
                .expect("cannot start a dispatch thread");
        }
        pool
    }

    /// Queues an event for `shared`'s listeners.
    pub fn push(&self, shared: &Arc<Shared>, ev: Dispatch) {
        let schedule = {
            let mut d = lock(&shared.dispatch);
            if ev.is_read_event() {
                d.read_events += 1;
            } else if matches!(ev, Dispatch::Send(_)) {
                d.sends += 1;
            }
            d.events.push_back(ev);
            !std::mem::replace(&mut d.scheduled, true)
        };
        if schedule {
            lock(&self.ready).push_back(shared.clone());
            self.cv.notify_one();
        }
    }

    fn work(&self) {
        loop {
            let shared = {
                let mut r = lock(&self.ready);
                loop {
                    if let Some(s) = r.pop_front() {
                        break s;
                    }
                    r = self.cv.wait(r).unwrap_or_else(|p| p.into_inner());
                }
            };
            self.run(&shared);
        }
    }

    fn run(&self, shared: &Arc<Shared>) {
        for _ in 0..BATCH {
            let ev = {
                let mut d = lock(&shared.dispatch);
                match d.events.pop_front() {
                    Some(ev) => {
                        d.running_on = Some(std::thread::current().id());
                        ev
                    }
                    None => {
                        d.scheduled = false;
                        d.running_on = None;
                        drop(d);
                        shared.dispatch_idle.notify_all();
                        return;
                    }
                }
            };
            let read_event = ev.is_read_event();
            let send_event = matches!(ev, Dispatch::Send(_));
            if !shared.released.load(Ordering::Acquire) {
                deliver(shared, &ev);
            }
            drop(ev);
            if send_event {
                lock(&shared.dispatch).sends -= 1;
                shared.dispatch_idle.notify_all(); // a send may wait for room
            }
            if read_event {
                let resume = {
                    let mut d = lock(&shared.dispatch);
                    d.read_events -= 1;
                    d.read_events < shared.opts.max_pending_messages.max(1)
                };
                if resume && shared.paused.load(Ordering::SeqCst) {
                    runtime().command(Cmd::Resume(shared.id));
                }
            }
        }
        // More left: let other connections have a turn.
        {
            let mut d = lock(&shared.dispatch);
            d.running_on = None;
        }
        shared.dispatch_idle.notify_all();
        lock(&self.ready).push_back(shared.clone());
        self.cv.notify_one();
    }
}

/// Calls every listener for one event. A panicking Rust listener is caught and the others still run.
fn deliver(shared: &Shared, ev: &Dispatch) {
    let listeners = shared.listeners();
    let call = |f: &dyn Fn(&dyn crate::listener::Listener)| {
        for (_, l) in listeners.iter() {
            let _ = catch_unwind(AssertUnwindSafe(|| f(l.as_ref())));
        }
    };
    match ev {
        Dispatch::Connecting(h, p) => call(&|l| l.on_connecting(h, *p)),
        Dispatch::Connected(f) => call(&|l| l.on_connected(f)),
        Dispatch::Disconnecting => call(&|l| l.on_disconnecting()),
        Dispatch::Disconnected => call(&|l| l.on_disconnected()),
        Dispatch::HeartbeatTimeout => call(&|l| l.on_heartbeat_timeout()),
        Dispatch::Message(f) => {
            call(&|l| l.on_before_message(f));
            call(&|l| l.on_message(f));
        }
        Dispatch::Receipt(f) => call(&|l| l.on_receipt(f)),
        Dispatch::Error(f) => call(&|l| l.on_error(f)),
        Dispatch::Send(f) => call(&|l| l.on_send(f)),
        Dispatch::Heartbeat => call(&|l| l.on_heartbeat()),
        Dispatch::LoopCompleted => call(&|l| l.on_receiver_loop_completed()),
    }
}
