//! The dispatch pool: threads that run listener callbacks, off the I/O thread.
//!
//! Each connection's events run one at a time and in order (a connection is on the ready list at
//! most once); different connections run in parallel, so one slow handler holds up only its own
//! connection's callbacks, and never I/O or heart-beats.
//!
//! The pool grows while its threads are busy and shrinks when they are idle, so that a blocked
//! handler never holds up another connection (as a fixed pool does from its N+1th blocked handler):
//! - no thread runs until the first event (threads start lazily);
//! - when a connection becomes ready and no thread is free to take it (an idle waiter, or a thread
//!   already woken or starting for an earlier entry), one more thread starts, up to `max_threads`;
//! - a thread idle for `idle_timeout` ends, down to `keep` threads.
//!
//! So the pool grows to about the number of connections whose callbacks are running or waiting at one
//! time, and a process whose handlers have been quiet for the idle timeout has the I/O thread plus
//! `keep` dispatch threads.
//!
//! The hand-off from the I/O thread goes through each connection's `Shared::dispatch` queue, and
//! is shaped so that a steady stream costs about one hold of that lock per read on the I/O side and
//! one per batch on the dispatcher's, each short, and a futex call only where a thread sleeps:
//! - `enqueue` lines a read's events up and counts them with no lock held, then under the lock adds
//!   the counts and swaps the lot in (the queue is usually empty) or appends it;
//! - `run` takes the whole queue by a swap (up to `batch_cap` events), runs it with no lock, and in
//!   the one hold that settles its accounting takes the next batch, for up to `TURN` events before
//!   the connection goes back to the pool's line;
//! - the pool is told (`schedule`) only when a connection goes from idle to ready, and it wakes a
//!   thread only when one sleeps with no wake-up on its way (`State::idle`).

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::command::Cmd;
use super::conn::{Dispatch, DispatchQueue, ListenerList, Shared, lock};

/// How many dispatch threads may live at once, and how long an idle one stays.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolLimits {
    /// A safety net, not a working limit: only blocked handlers hold threads, so reaching it means
    /// that many connections are stuck in callbacks at once, most likely a handler waiting for
    /// something that never comes. Past it no thread starts; a connection that becomes ready waits
    /// until a running callback returns (per-connection order and the other connections' progress
    /// are kept), where growing on would exhaust the process's threads (stack and kernel task each).
    pub max_threads: usize,
    /// An idle thread ends after this long without work (while more than `keep` threads live).
    pub idle_timeout: Duration,
    /// Threads kept however long they idle: one, so that a process with a trickle of events (a
    /// heart-beat or message every few seconds) reuses a thread instead of starting one per event,
    /// at the cost of one sleeping thread once the pool has started.
    pub keep: usize,
}

impl PoolLimits {
    pub(crate) const DEFAULT: PoolLimits = PoolLimits {
        max_threads: 1024,
        idle_timeout: Duration::from_secs(10),
        keep: 1,
    };
}

/// What the pool runs: a unit of work that was made ready (a connection with events waiting).
pub(crate) trait Job: Send + 'static {
    /// Runs one turn; true when work is left and the job goes to the back of the line.
    fn run_turn(&self) -> bool;
}

/// The pool's books, under one lock.
struct State<J> {
    /// Jobs waiting for a thread, each at most once.
    ready: VecDeque<J>,
    /// Threads alive (started, not yet ended).
    threads: usize,
    /// Threads waiting on `work_cv` that no wake-up has been sent for: a push wakes one of them
    /// only when this is non-zero, so no futex call is made when nobody waits.
    idle: usize,
    /// Wake-ups sent and not yet taken by a waiter (each is taken by exactly one).
    wakeups: usize,
    /// Threads spawned that have not yet looked at `ready`.
    starting: usize,
    /// Threads ever tried to start, failures included (numbers their names).
    started_total: usize,
    /// Spawns that failed (the job stayed on the list for a thread already running).
    spawn_failures: usize,
    /// Wake-ups sent to idle threads.
    notifies: usize,
}

pub(crate) struct Pool<J = Arc<Shared>> {
    state: Mutex<State<J>>,
    /// Idle threads wait here for a job.
    work_cv: Condvar,
    limits: PoolLimits,
    /// Makes spawning fail, to test the fall-back.
    #[cfg(test)]
    fail_spawns: std::sync::atomic::AtomicBool,
    /// Signalled when a thread starts or ends, for tests that wait for the pool to grow or shrink.
    #[cfg(test)]
    changed: Condvar,
}

/// A snapshot of the pool's books, for tests.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolStats {
    pub threads: usize,
    pub idle: usize,
    pub ready: usize,
    pub started_total: usize,
    pub spawn_failures: usize,
    pub notifies: usize,
}

impl<J: Job> Pool<J> {
    /// A pool with no thread yet: the first job starts one.
    pub(crate) fn new(limits: PoolLimits) -> Arc<Pool<J>> {
        Arc::new(Pool {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                threads: 0,
                idle: 0,
                wakeups: 0,
                starting: 0,
                started_total: 0,
                spawn_failures: 0,
                notifies: 0,
            }),
            work_cv: Condvar::new(),
            limits,
            #[cfg(test)]
            fail_spawns: std::sync::atomic::AtomicBool::new(false),
            #[cfg(test)]
            changed: Condvar::new(),
        })
    }

    fn lock_state(&self) -> MutexGuard<'_, State<J>> {
        lock(&self.state)
    }

    /// Puts a job on the ready list and makes sure a thread will come for every entry: one already
    /// on its way, else an idle one woken, else a new one. Called on the I/O thread: never panics.
    pub(crate) fn schedule(self: &Arc<Self>, job: J) {
        let (wake, spawn, first) = {
            let mut st = self.lock_state();
            st.ready.push_back(job);
            // Entries no thread is on its way for: one (this job), or more after failed spawns.
            let short = st.ready.len().saturating_sub(st.wakeups + st.starting);
            let wake = short.min(st.idle);
            let spawn = (short - wake).min(self.limits.max_threads.saturating_sub(st.threads));
            // At the cap, what is left short waits for the next thread to finish its turn.
            st.idle -= wake;
            st.wakeups += wake;
            st.notifies += wake;
            st.threads += spawn;
            st.starting += spawn;
            let first = st.started_total + 1;
            st.started_total += spawn;
            (wake, spawn, first)
        };
        for _ in 0..wake {
            self.work_cv.notify_one();
        }
        for n in first..first + spawn {
            self.spawn(n);
        }
    }

    fn spawn(self: &Arc<Self>, n: usize) {
        #[cfg(test)]
        let refused = self.fail_spawns.load(Ordering::SeqCst);
        #[cfg(not(test))]
        let refused = false;
        let pool = self.clone();
        let spawned = if refused {
            Err(std::io::Error::other("spawning refused by the test"))
        } else {
            std::thread::Builder::new()
                .name(format!("stomp-dispatch-{}", n))
                .spawn(move || pool.work())
        };
        if spawned.is_err() {
            // The job stays on the list: a running thread takes it when it finishes its turn, and
            // the next job scheduled tries to start a thread again. With no thread at all, it
            // waits for that next try.
            let mut st = self.lock_state();
            st.threads -= 1;
            st.starting -= 1;
            st.spawn_failures += 1;
        }
    }

    /// A dispatch thread: takes jobs until it has idled for the idle timeout (while more than
    /// `keep` threads live).
    fn work(self: Arc<Self>) {
        let _ended = EndGuard(&self);
        let mut st = self.lock_state();
        st.starting -= 1;
        #[cfg(test)]
        self.changed.notify_all();
        loop {
            if let Some(job) = st.ready.pop_front() {
                drop(st);
                let again = job.run_turn();
                st = self.lock_state();
                if again {
                    // To the back of the line; this thread serves whoever is first (itself when
                    // alone). Every other entry has its thread on the way, so none is woken.
                    st.ready.push_back(job);
                }
                continue;
            }
            match self.wait_for_work(st) {
                Some(g) => st = g,
                None => return,
            }
        }
    }

    /// Waits, counted as idle, for a wake-up; None when the thread should end (the count of
    /// threads already lowered).
    fn wait_for_work<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<J>>,
    ) -> Option<MutexGuard<'a, State<J>>> {
        st.idle += 1;
        let deadline = Instant::now() + self.limits.idle_timeout;
        loop {
            if st.wakeups > 0 {
                st.wakeups -= 1; // the waker took this thread off `idle`
                return Some(st);
            }
            let now = Instant::now();
            if now >= deadline {
                if st.threads > self.limits.keep {
                    st.idle -= 1;
                    st.threads -= 1;
                    return None;
                }
                st = self.work_cv.wait(st).unwrap_or_else(|p| p.into_inner());
            } else {
                st = self
                    .work_cv
                    .wait_timeout(st, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn stats(&self) -> PoolStats {
        let st = self.lock_state();
        PoolStats {
            threads: st.threads,
            idle: st.idle,
            ready: st.ready.len(),
            started_total: st.started_total,
            spawn_failures: st.spawn_failures,
            notifies: st.notifies,
        }
    }

    /// Waits until `done` holds of the stats, re-checking whenever a thread starts or ends.
    #[cfg(test)]
    pub(crate) fn wait_stats(
        &self,
        timeout: Duration,
        done: impl Fn(&PoolStats) -> bool,
    ) -> PoolStats {
        let deadline = Instant::now() + timeout;
        let st = self.lock_state();
        let snapshot = |st: &State<J>| PoolStats {
            threads: st.threads,
            idle: st.idle,
            ready: st.ready.len(),
            started_total: st.started_total,
            spawn_failures: st.spawn_failures,
            notifies: st.notifies,
        };
        let (st, _) =
            super::conn::wait_until(st, &self.changed, deadline, |st| done(&snapshot(st)));
        snapshot(&st)
    }
}

/// Keeps the books right if a thread ends by a panic of the library's own (listeners' panics are
/// caught before they get here), and tells tests that a thread ended.
struct EndGuard<'a, J: Job>(&'a Pool<J>);

impl<J: Job> Drop for EndGuard<'_, J> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock_state().threads -= 1;
        }
        #[cfg(test)]
        {
            let _st = self.0.lock_state();
            self.0.changed.notify_all();
        }
    }
}

impl Pool<Arc<Shared>> {
    /// Queues events for `shared`'s listeners, in order, under one short hold of its lock and with
    /// at most one wake-up (the I/O loop hands over all the messages of a read at once).
    pub fn push_all(self: &Arc<Self>, shared: &Arc<Shared>, evs: impl Iterator<Item = Dispatch>) {
        if enqueue(shared, evs) {
            self.schedule(shared.clone());
        }
    }
}

thread_local! {
    /// Where a thread lines up the events of one `enqueue` before taking the connection's lock: an
    /// empty queue between calls, whose allocation is reused (it is traded for the connection's
    /// emptied queue when the whole staged lot is swapped in).
    static STAGE: Cell<VecDeque<Dispatch>> = const { Cell::new(VecDeque::new()) };
}

/// Adds events to `shared`'s queue; true when the connection must now be put on a ready list (it
/// has events and was not on one).
///
/// The events are lined up and counted first, with no lock held; under the lock there is only the
/// counters' update and the append: a swap of the two queues when the connection's is empty (the
/// common case, the dispatcher having taken everything), else one `append`.
pub(crate) fn enqueue(shared: &Shared, evs: impl Iterator<Item = Dispatch>) -> bool {
    // Taken out for the call and put back after (on a thread that is ending, a new one serves).
    let mut stage = STAGE.try_with(Cell::take).unwrap_or_default();
    let listed = hand_over(shared, evs, &mut stage);
    let _ = STAGE.try_with(|s| s.set(stage));
    listed
}

/// `enqueue` through `stage`, which is empty on entry and on return.
fn hand_over(
    shared: &Shared,
    evs: impl Iterator<Item = Dispatch>,
    stage: &mut VecDeque<Dispatch>,
) -> bool {
    let (mut reads, mut read_bytes, mut sends) = (0, 0, 0);
    for ev in evs {
        if ev.is_read_event() {
            reads += 1;
            read_bytes += ev.read_bytes();
        } else if matches!(ev, Dispatch::Send(_)) {
            sends += 1;
        }
        stage.push_back(ev);
    }
    if stage.is_empty() {
        return false; // a non-empty queue is always scheduled already
    }
    let mut d = lock(&shared.dispatch);
    d.read_events += reads;
    d.read_bytes += read_bytes;
    d.sends += sends;
    if d.events.is_empty() {
        std::mem::swap(&mut d.events, stage);
    } else {
        d.events.append(stage);
    }
    let listed = !std::mem::replace(&mut d.scheduled, true);
    drop(d);
    // What the swap left here is the connection's old queue: not kept past a few batches' worth
    // (a large backlog's allocation would stay with this thread after the connection is gone).
    if stage.capacity() > 4 * BATCH {
        *stage = VecDeque::new();
    }
    listed
}

impl Job for Arc<Shared> {
    fn run_turn(&self) -> bool {
        run(self)
    }
}

/// Runs one turn of the connection's events; true when more are left (the connection stays
/// scheduled and goes to the back of the line).
///
/// The queue is taken whole, by a swap, under the lock (in slices of `batch_cap` when it holds
/// more). After running a slice, one more hold of the lock both settles its accounting (the pending
/// counts, a Resume at the low-water mark) and takes the next slice, so that a steady stream costs
/// one lock per slice here and one per read on the I/O thread. The turn ends when the queue is
/// empty, after `TURN` events (fairness), or when a thread waits for the callbacks to pause
/// (`idle_waiters`), which then sees `running_on` clear as it did between turns.
pub(crate) fn run(shared: &Arc<Shared>) -> bool {
    let cap = batch_cap(shared);
    let mut batch = {
        let mut d = lock(&shared.dispatch);
        if d.events.is_empty() {
            d.scheduled = false;
            d.running_on = None;
            let wake = d.idle_waiters > 0;
            drop(d);
            if wake {
                shared.dispatch_idle.notify_all();
            }
            return false;
        }
        d.running_on = Some(std::thread::current().id());
        let spare = std::mem::take(&mut d.spare);
        take_batch(&mut d, spare, cap)
    };
    let mut listeners: Option<(usize, ListenerList)> = None;
    let mut ran = 0;
    loop {
        ran += batch.len();
        let (reads, read_bytes, sends) = run_batch(shared, &mut batch, &mut listeners);
        let mut d = lock(&shared.dispatch);
        d.read_events -= reads;
        d.read_bytes -= read_bytes;
        d.sends -= sends;
        // Resume reading at the low-water mark, not at the first free slot, so that a full queue
        // is refilled in batches rather than one message per wake-up.
        let low_water = shared.opts.max_pending_messages.max(1) / 2;
        let low_bytes = shared.opts.max_pending_bytes.max(1) / 2;
        let resume = reads > 0 && d.read_events <= low_water && d.read_bytes <= low_bytes;
        let more = !d.events.is_empty();
        let wake = d.idle_waiters > 0;
        if more && ran < TURN && !wake {
            batch = take_batch(&mut d, batch, cap);
            drop(d);
            resume_if_paused(shared, resume);
            continue;
        }
        d.running_on = None;
        if !more {
            d.scheduled = false;
        }
        if d.spare.capacity() < batch.capacity() {
            d.spare = batch;
        }
        drop(d);
        if wake {
            // A send may wait for room, or a free/disconnect for the callbacks to end.
            shared.dispatch_idle.notify_all();
        }
        resume_if_paused(shared, resume);
        return more;
    }
}

/// Events a dispatcher runs for one connection in a turn before the connection goes to the back of
/// the pool's line. The bound matters only when the pool is at `max_threads` (below it, another
/// ready connection gets a thread of its own): then a busy connection holds a thread for at most
/// this many callbacks, plus one batch (`BATCH`) less one, before the others waiting are served.
const TURN: usize = 4096;

/// Events taken from the queue under one lock at most: a queue no longer than this is taken whole
/// by a swap, a longer one in slices (each copied out). At most half of `max_pending_messages`, so
/// that a queue filled to the limit drops to the low-water mark, and reading resumes, after one
/// slice rather than only once the whole queue has been run.
const BATCH: usize = 1024;

fn batch_cap(shared: &Shared) -> usize {
    BATCH.min(shared.opts.max_pending_messages / 2).max(1)
}

/// Takes the queue's first events into `batch` (empty; its allocation reused).
fn take_batch(
    d: &mut DispatchQueue,
    mut batch: VecDeque<Dispatch>,
    cap: usize,
) -> VecDeque<Dispatch> {
    if d.events.len() <= cap {
        std::mem::swap(&mut d.events, &mut batch);
    } else {
        batch.extend(d.events.drain(..cap));
    }
    batch
}

/// Calls the listeners for every event of `batch`, emptying it; returns what to take off the
/// pending counts (read events, their bytes, sends).
fn run_batch(
    shared: &Shared,
    batch: &mut VecDeque<Dispatch>,
    listeners: &mut Option<(usize, ListenerList)>,
) -> (usize, usize, usize) {
    let (mut reads, mut read_bytes, mut sends) = (0, 0, 0);
    while let Some(ev) = batch.pop_front() {
        if ev.is_read_event() {
            reads += 1;
            read_bytes += ev.read_bytes();
        } else if matches!(ev, Dispatch::Send(_)) {
            sends += 1;
        }
        if shared.released.load(Ordering::Acquire) {
            continue;
        }
        // The listener list as of this event: a listener removed before it is not called.
        let generation = shared.listener_generation.load(Ordering::Acquire);
        if listeners.as_ref().is_none_or(|(g, _)| *g != generation) {
            *listeners = Some((generation, shared.listeners()));
        }
        if let Some((_, l)) = listeners {
            deliver(l, &ev);
        }
    }
    (reads, read_bytes, sends)
}

fn resume_if_paused(shared: &Shared, resume: bool) {
    if resume && shared.paused.load(Ordering::SeqCst) {
        shared.rt.command(Cmd::Resume(shared.id));
    }
}

/// Calls every listener for one event. A panicking Rust listener is caught and the others still run.
fn deliver(listeners: &ListenerList, ev: &Dispatch) {
    let call = |f: &dyn Fn(&dyn crate::listener::Listener)| {
        for (_, l) in listeners.iter() {
            let _ = catch_unwind(AssertUnwindSafe(|| f(l.as_ref())));
        }
    };
    match ev {
        Dispatch::Connecting(h, p) => call(&|l| l.on_connecting(h, *p)),
        Dispatch::Connected(f) => call(&|l| l.on_connected(f)),
        Dispatch::Disconnecting => call(&|l| l.on_disconnecting()),
        Dispatch::Disconnected(reason) => {
            call(&|l| l.on_disconnected_reason(reason));
            call(&|l| l.on_disconnected());
        }
        Dispatch::HeartbeatTimeout => call(&|l| l.on_heartbeat_timeout()),
        Dispatch::Message(f) => {
            call(&|l| l.on_before_message(f));
            call(&|l| l.on_message(f));
        }
        Dispatch::Receipt(f) => call(&|l| l.on_receipt(f)),
        Dispatch::Error(f) => call(&|l| l.on_error(f)),
        Dispatch::Send(f) => call(&|l| l.on_send(f)),
        Dispatch::Heartbeat => call(&|l| l.on_heartbeat()),
        Dispatch::LoopCompleted(reason) => {
            if let Some(reason) = reason {
                call(&|l| l.on_disconnected_reason(reason));
            }
            call(&|l| l.on_receiver_loop_completed());
        }
    }
}

#[cfg(test)]
mod tests {
    //! The pool's thread management, with jobs that block on latches instead of connections.

    use super::*;
    use std::sync::atomic::AtomicBool;

    const T: Duration = Duration::from_secs(10);

    /// Latches shared by the test and its jobs: how many jobs are inside, which have finished.
    #[derive(Default)]
    struct Board {
        state: Mutex<BoardState>,
        cv: Condvar,
    }

    #[derive(Default)]
    struct BoardState {
        inside: usize,
        finished: Vec<usize>,
        /// Jobs whose number is here may finish.
        released: Vec<usize>,
        release_all: bool,
    }

    impl Board {
        fn wait(&self, what: &str, done: impl Fn(&BoardState) -> bool) {
            let st = lock(&self.state);
            let (st, ok) =
                super::super::conn::wait_until(st, &self.cv, Instant::now() + T, |s| done(s));
            assert!(
                ok,
                "timed out waiting for {what}: {} inside, finished {:?}",
                st.inside, st.finished
            );
        }
        fn update(&self, f: impl FnOnce(&mut BoardState)) {
            f(&mut lock(&self.state));
            self.cv.notify_all();
        }
    }

    /// A job that blocks until the board releases it; with `turns` > 1 it asks for more turns.
    struct Blocking {
        n: usize,
        board: Arc<Board>,
    }

    impl Job for Arc<Blocking> {
        fn run_turn(&self) -> bool {
            self.board.update(|s| s.inside += 1);
            let st = lock(&self.board.state);
            let (_st, ok) =
                super::super::conn::wait_until(st, &self.board.cv, Instant::now() + T, |s| {
                    s.release_all || s.released.contains(&self.n)
                });
            drop(_st);
            assert!(ok, "job {} never released", self.n);
            self.board.update(|s| {
                s.inside -= 1;
                s.finished.push(self.n);
            });
            false
        }
    }

    fn limits(max_threads: usize, idle_ms: u64) -> PoolLimits {
        PoolLimits {
            max_threads,
            idle_timeout: Duration::from_millis(idle_ms),
            keep: 1,
        }
    }

    fn job(n: usize, board: &Arc<Board>) -> Arc<Blocking> {
        Arc::new(Blocking {
            n,
            board: board.clone(),
        })
    }

    #[test]
    fn grows_to_n_under_n_blocked_jobs_and_shrinks_back_after_the_idle_timeout() {
        const N: usize = 12;
        const IDLE_MS: u64 = 200;
        let pool: Arc<Pool<Arc<Blocking>>> = Pool::new(limits(1024, IDLE_MS));
        assert_eq!(pool.stats().threads, 0, "no thread before the first job");
        let board = Arc::new(Board::default());
        for n in 0..N {
            pool.schedule(job(n, &board));
        }
        board.wait("all jobs inside at once", |s| s.inside == N);
        let s = pool.stats();
        assert_eq!((s.threads, s.started_total, s.ready), (N, N, 0), "{s:?}");
        assert_eq!(
            s.notifies, 0,
            "no thread was idle, so none was woken: {s:?}"
        );

        let released = Instant::now();
        board.update(|s| s.release_all = true);
        board.wait("all jobs finished", |s| s.finished.len() == N);
        let s = pool.wait_stats(T, |s| s.threads == 1);
        let shrunk = released.elapsed();
        assert_eq!((s.threads, s.idle), (1, 1), "one thread kept: {s:?}");
        assert!(
            shrunk >= Duration::from_millis(IDLE_MS),
            "threads ended only after idling {IDLE_MS} ms (took {shrunk:?})"
        );

        // The kept thread is woken for the next job (one notify); the rest start anew.
        board.update(|s| s.release_all = false);
        for n in N..2 * N {
            pool.schedule(job(n, &board));
        }
        board.wait("all jobs inside again", |s| s.inside == N);
        let s = pool.stats();
        assert_eq!(
            (s.threads, s.started_total, s.notifies),
            (N, 2 * N - 1, 1),
            "{s:?}"
        );
        board.update(|s| s.release_all = true);
        board.wait("second round finished", |s| s.finished.len() == 2 * N);
    }

    #[test]
    fn at_the_cap_a_ready_job_waits_for_a_running_one_to_finish() {
        let pool: Arc<Pool<Arc<Blocking>>> = Pool::new(limits(2, 60_000));
        let board = Arc::new(Board::default());
        for n in 0..3 {
            pool.schedule(job(n, &board));
        }
        board.wait("two jobs inside", |s| s.inside == 2);
        let s = pool.stats();
        assert_eq!((s.threads, s.ready), (2, 1), "{s:?}");
        board.update(|s| s.released.push(0));
        board.wait("the third job starts", |s| {
            s.inside == 2 && s.finished == [0]
        });
        assert_eq!(pool.stats().threads, 2);
        board.update(|s| s.release_all = true);
        board.wait("all finished", |s| s.finished.len() == 3);
    }

    #[test]
    fn a_failed_spawn_leaves_the_job_for_a_running_thread() {
        let pool: Arc<Pool<Arc<Blocking>>> = Pool::new(limits(1024, 60_000));
        let board = Arc::new(Board::default());
        pool.fail_spawns.store(true, Ordering::SeqCst);
        pool.schedule(job(0, &board));
        let s = pool.stats();
        assert_eq!((s.threads, s.ready, s.spawn_failures), (0, 1, 1), "{s:?}");

        // The next job tries again, for both entries.
        pool.fail_spawns.store(false, Ordering::SeqCst);
        pool.schedule(job(1, &board));
        board.wait("both inside", |s| s.inside == 2);
        let s = pool.stats();
        assert_eq!(
            (s.threads, s.started_total),
            (2, 3),
            "two entries, two threads (after one failed try): {s:?}"
        );

        // With both threads busy and spawning failing, a third job waits for one of them.
        pool.fail_spawns.store(true, Ordering::SeqCst);
        pool.schedule(job(2, &board));
        assert_eq!(pool.stats().spawn_failures, 2);
        board.update(|s| s.released.push(1));
        board.wait("job 2 runs on the freed thread", |s| {
            s.inside == 2 && s.finished == [1]
        });
        assert_eq!(pool.stats().threads, 2);
        board.update(|s| s.release_all = true);
        board.wait("all finished", |s| s.finished.len() == 3);
    }

    /// A job that needs many turns, checking that it never runs on two threads at once.
    struct Counting {
        turns_left: Mutex<usize>,
        running: AtomicBool,
        done: Arc<(Mutex<usize>, Condvar)>,
    }

    impl Job for Arc<Counting> {
        fn run_turn(&self) -> bool {
            assert!(
                !self.running.swap(true, Ordering::SeqCst),
                "a job ran on two threads at once"
            );
            let more = {
                let mut left = lock(&self.turns_left);
                *left -= 1;
                *left > 0
            };
            self.running.store(false, Ordering::SeqCst);
            if !more {
                let (n, cv) = &*self.done;
                *lock(n) += 1;
                cv.notify_all();
            }
            more
        }
    }

    #[test]
    fn jobs_needing_many_turns_share_the_threads_and_all_finish() {
        let pool: Arc<Pool<Arc<Counting>>> = Pool::new(limits(1024, 60_000));
        let done = Arc::new((Mutex::new(0), Condvar::new()));
        const JOBS: usize = 8;
        for _ in 0..JOBS {
            pool.schedule(Arc::new(Counting {
                turns_left: Mutex::new(500),
                running: AtomicBool::new(false),
                done: done.clone(),
            }));
        }
        let (n, cv) = &*done;
        let (n, ok) =
            super::super::conn::wait_until(lock(n), cv, Instant::now() + T, |n| *n == JOBS);
        assert!(ok, "only {} of {JOBS} jobs finished", *n);
        let s = pool.stats();
        assert!(s.threads <= JOBS, "never more threads than jobs: {s:?}");
        assert_eq!(s.ready, 0);
    }
}
