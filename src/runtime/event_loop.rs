//! The I/O loop: one thread, one `mio::Poll`, every connection of the process (but those of an
//! application-driven loop, `app_loop::EventLoop`, whose `Loop` turns inside `process` instead).
//!
//! It owns the sockets, walks host lists, reads bytes into each connection's session, writes what the
//! session has queued, keeps timers (connect timeouts, back-off sleeps, heart-beats), and hands events
//! to the dispatch pool. It never runs application code, so heart-beats flow whatever a handler does.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::command::{Cmd, Runtime};
use super::conn::{Core, Dispatch, Phase, Shared};
use super::reconnect::{Jitter, Planner, Step};
use super::stream::{self, Stream};
use super::transport;
use crate::error::{Error, ErrorKind};
use crate::listener::Disconnection;
use crate::log::{Level, log};
use crate::proto::{Event, Frame, State};

pub const WAKER: Token = Token(usize::MAX);

/// Bytes read from one connection before others get a turn.
const READ_BUDGET: usize = 256 << 10;
/// Connects (TCP dial and STOMP handshake) in progress at once, process-wide; the others wait their
/// turn in `Loop::waiting`. Ten thousand connects at once overflow a broker's accept queue (seen
/// here: RabbitMQ's listener dropped SYNs by the hundred thousand), and every dropped SYN costs its
/// connection a TCP retry 1, 3, 7, 15 s later; waiting in line here is far shorter.
const MAX_CONNECTING: usize = 128;
/// How late a timer may fire, so that one wake-up serves every timer due within it: thousands of
/// idle connections each have heart-beat deadlines every second, and waking once per deadline cost
/// more than the heart-beats themselves. Small against any heart-beat interval or connect timeout.
const TIMER_SLACK: Duration = Duration::from_millis(5);
/// Bytes written to one connection before others get a turn.
const WRITE_BUDGET: usize = 1 << 20;
/// A write buffer grown past this goes back to `READ_BUDGET` once no write has used a quarter of it
/// for `SHRINK_AFTER`: a burst's memory is given back, while a steady stream that needs it keeps it
/// (growing it again, by reallocations and fresh pages, cost a fast publisher about a third of its
/// time when it went back after every large write).
const SHRINK_ABOVE: usize = 4 << 20;
const SHRINK_AFTER: Duration = Duration::from_secs(1);
/// A write buffer grown past this holds a large body: it is not kept (it goes to a sender waiting
/// with the next one, or is shrunk at once), so that at most two copies of a large body are in
/// memory, the application's and ours.
const KEEP_BELOW: usize = 16 << 20;

#[derive(Clone)]
struct Target {
    host: String,
    port: u16,
    addr: std::net::SocketAddr,
    spec: usize,
}

impl Target {
    /// `host:port`, with the address tried when the host is a name.
    fn label(&self) -> String {
        let plain = format!("{}:{}", self.host, self.port);
        if self.addr.to_string() == plain
            || self.addr.ip().to_string() == self.host.trim_matches(['[', ']'])
        {
            plain
        } else {
            format!("{} ({})", plain, self.addr)
        }
    }
}

enum Link {
    None,
    /// Between two passes through the host list.
    Sleeping {
        until: Instant,
    },
    /// TCP connect under way (the stream is plain until the connect is done).
    Dialing {
        stream: Stream,
        deadline: Instant,
        target: Target,
    },
    /// TCP up, CONNECT sent, CONNECTED awaited (the session keeps that deadline).
    Handshake {
        stream: Stream,
        target: Target,
    },
    Open {
        stream: Stream,
    },
    /// Waiting for one of the `MAX_CONNECTING` slots to dial `target`.
    Queued {
        target: Target,
    },
}

struct Walk {
    targets: Vec<Target>,
    plan: Planner,
    failures: Vec<String>,
    reconnecting: bool,
    /// The kind of the last failure when it was a TLS one: a walk that gives up reports it, since
    /// it says what to fix (a CA file, a host name) better than "could not connect".
    tls_kind: Option<ErrorKind>,
}

impl Walk {
    /// Remembers why a target failed; the oldest are dropped (a walk may go on forever).
    fn failed(&mut self, why: String) {
        if self.failures.len() >= 16 {
            self.failures.remove(0);
        }
        self.failures.push(why);
        self.tls_kind = None;
    }
}

struct Conn {
    shared: Arc<Shared>,
    link: Link,
    walk: Option<Walk>,
    /// The deadline a timer is set for.
    scheduled: Option<Instant>,
    /// The deadline last asked for. It may be later than `scheduled` (a heart-beat sent early
    /// moves it on): the timer then only moves, with no turn for the link (see `run_timers`).
    due: Option<Instant>,
    /// Bytes taken from the session and being written (from `wpos` on), with no lock held.
    wbuf: Vec<u8>,
    /// The messages of one turn on their way to the listeners (empty between turns; reused).
    inbox: Vec<Frame>,
    /// Holds one of the `MAX_CONNECTING` slots (from its dial until the link is up or the walk
    /// pauses or ends).
    slot: bool,
    wpos: usize,
    /// When a write last used more than a quarter of `wbuf`'s capacity (see `SHRINK_ABOVE`).
    wbuf_used: Instant,
    /// A first connect's link came up (its CONNECT was written) and never got CONNECTED, and the
    /// listeners have not heard `on_disconnected` since: if the walk gives up, they hear it then,
    /// so that every link that came up is heard to end. (A reconnect walk's links don't set it:
    /// the listeners heard the drop that started the walk.)
    owes_disconnected: bool,
}

impl Conn {
    /// Forgets the bytes taken for writing (the link is gone), offset included: a stale offset would
    /// be read against the next link's first bytes. A grown buffer goes back to its usual size.
    fn clear_write(&mut self) {
        self.wbuf.clear();
        self.wpos = 0;
        if self.wbuf.capacity() > SHRINK_ABOVE {
            self.wbuf.shrink_to(READ_BUDGET);
        }
    }

    /// Every byte taken for writing was written: `clear_write`, except that a grown buffer is kept
    /// while writes still use it (see `SHRINK_ABOVE`).
    fn written(&mut self, now: Instant) {
        if self.wbuf.len() > self.wbuf.capacity() / 4 {
            self.wbuf_used = now;
        }
        if now.saturating_duration_since(self.wbuf_used) < SHRINK_AFTER {
            self.wbuf.clear();
            self.wpos = 0;
        } else {
            self.clear_write();
        }
    }
}

/// One I/O loop: the threaded runtime's (run by `run` on its own thread) or an application's
/// (`EventLoop`, one `turn` per `stomp_loop_process`).
pub(crate) struct Loop {
    poll: Poll,
    /// Whose commands this loop takes.
    rt: Arc<Runtime>,
    conns: HashMap<usize, Conn>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    jitter: Jitter,
    /// Connections with bytes left unread after their budget.
    again: Vec<usize>,
    /// Connections holding a connect slot, and those waiting for one, in order.
    connecting: usize,
    waiting: VecDeque<usize>,
    events: Events,
    cmds: Vec<Cmd>,
}

/// The threaded runtime's I/O thread.
pub fn run(poll: Poll, rt: Arc<Runtime>) {
    let mut lp = Loop::new(poll, rt);
    loop {
        lp.turn(None);
    }
}

impl Loop {
    pub(crate) fn new(poll: Poll, rt: Arc<Runtime>) -> Loop {
        Loop {
            poll,
            rt,
            conns: HashMap::new(),
            timers: BinaryHeap::new(),
            jitter: Jitter::from_entropy(),
            again: Vec::new(),
            connecting: 0,
            waiting: VecDeque::new(),
            events: Events::with_capacity(1024),
            cmds: Vec::new(),
        }
    }

    /// How long the loop may sleep before a timer is due (zero when bytes are left to read; `None`:
    /// no timer at all).
    pub(crate) fn next_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.again.is_empty() {
            Some(Duration::ZERO)
        } else {
            self.timers
                .peek()
                .map(|Reverse((t, _))| t.saturating_duration_since(now) + TIMER_SLACK)
        }
    }

    /// One iteration: waits for I/O (up to the next timer, and no longer than `limit` when given),
    /// then handles what is ready, the commands, the unread bytes, the timers due and the
    /// connections waiting for a connect slot. False when the poll itself failed.
    pub(crate) fn turn(&mut self, limit: Option<Duration>) -> bool {
        let mut timeout = self.next_timeout(Instant::now());
        if let Some(l) = limit {
            timeout = Some(timeout.map_or(l, |t| t.min(l)));
        }
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted && limit.is_none() {
                // Nothing sensible to do but try again; do not spin.
                std::thread::sleep(Duration::from_millis(10));
            }
            return e.kind() == io::ErrorKind::Interrupted;
        }
        let now = Instant::now();
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        for ev in events.iter() {
            if ev.token() != WAKER {
                let id = ev.token().0;
                // A hang-up or error must be read up to its end-of-file: no later edge tells it.
                let mode = if ev.is_read_closed() || ev.is_error() {
                    ReadMode::Drain
                } else {
                    ReadMode::Edge
                };
                self.guarded(id, |lp| lp.on_io(id, mode, now));
            }
        }
        self.events = events;
        let mut cmds = std::mem::take(&mut self.cmds);
        self.rt.take_commands(&mut cmds);
        for cmd in cmds.drain(..) {
            let id = cmd.id();
            self.guarded(id, |lp| lp.on_command(cmd, now));
        }
        self.cmds = cmds;
        for id in std::mem::take(&mut self.again) {
            self.guarded(id, |lp| lp.drive(id, ReadMode::Drain, now));
        }
        self.run_timers(now);
        self.start_waiting(now);
        true
    }
}

/// What a caught panic said, for the error message.
fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}

impl Loop {
    /// Runs `f`, the handling of connection `id`; a panic in it ends that connection (its state
    /// can no longer be trusted) with an internal error, and the loop goes on serving the others.
    fn guarded(&mut self, id: usize, f: impl FnOnce(&mut Loop)) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(self))) {
            self.abandon(id, &*payload);
        }
        self.settle_slot(id);
    }

    /// Gives back the connect slot of a connection that is no longer dialing or in its handshake.
    fn settle_slot(&mut self, id: usize) {
        if let Some(c) = self.conns.get_mut(&id)
            && c.slot
            && !matches!(c.link, Link::Dialing { .. } | Link::Handshake { .. })
        {
            c.slot = false;
            self.connecting -= 1;
        }
    }

    /// Forgets connection `id`, giving back its connect slot.
    fn remove_conn(&mut self, id: usize) {
        if self.conns.remove(&id).is_some_and(|c| c.slot) {
            self.connecting -= 1;
        }
    }

    /// Dials for the connections waiting in line, while slots are free.
    fn start_waiting(&mut self, now: Instant) {
        while self.connecting < MAX_CONNECTING {
            let Some(id) = self.waiting.pop_front() else {
                return;
            };
            // Closed, or moved on, while it waited: nothing to do.
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            let Link::Queued { target } = std::mem::replace(&mut conn.link, Link::None) else {
                continue;
            };
            self.guarded(id, |lp| {
                if !lp.dial(id, target, now) {
                    lp.try_next(id, now);
                }
            });
        }
    }

    /// Ends connection `id` after a panic while handling it: the socket is dropped, calls waiting
    /// on it return `Internal`, and its listeners hear `on_disconnected` (if the link was up) and
    /// `on_receiver_loop_completed`. A second panic on the way drops the connection outright.
    fn abandon(&mut self, id: usize, payload: &(dyn Any + Send)) {
        let err = Error::new(
            ErrorKind::Internal,
            format!(
                "internal error while driving this connection, which was closed (please report it): {}",
                panic_text(payload)
            ),
        );
        log!(Level::Error, "conn {}: {}", id, err.message);
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let was_open = matches!(conn.link, Link::Open { .. });
        if let Link::Dialing { mut stream, .. }
        | Link::Handshake { mut stream, .. }
        | Link::Open { mut stream } = std::mem::replace(&mut conn.link, Link::None)
        {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        conn.walk = None;
        conn.scheduled = None;
        conn.due = None;
        let shared = conn.shared.clone();
        let ended = catch_unwind(AssertUnwindSafe(|| {
            {
                let mut core = shared.lock_core();
                core.session.close(Some(err.clone()));
                while core.session.poll_event().is_some() {}
            }
            self.finish_link(id, Some(err), was_open);
        }));
        if ended.is_err() {
            self.remove_conn(id);
            shared.set_phase(Phase::Closed);
            shared.cv.notify_all();
        }
    }

    fn on_command(&mut self, cmd: Cmd, now: Instant) {
        match cmd {
            Cmd::Open(shared) => {
                let id = shared.id;
                let conn = self.conns.entry(id).or_insert_with(|| Conn {
                    shared,
                    link: Link::None,
                    walk: None,
                    scheduled: None,
                    due: None,
                    wbuf: Vec::new(),
                    inbox: Vec::new(),
                    slot: false,
                    wpos: 0,
                    wbuf_used: now,
                    owes_disconnected: false,
                });
                if matches!(conn.link, Link::None) {
                    self.start_walk(id, false, now);
                }
            }
            Cmd::Flush(id) => self.drive(id, ReadMode::No, now),
            Cmd::Resume(id) => self.drive(id, ReadMode::Drain, now),
            Cmd::Close(id, generation) => {
                // A Close queued by the disconnect of an earlier connect (whose link has ended on its
                // own since) must not end the connect that followed it.
                let current = self.conns.get(&id).map(|c| c.shared.lock_core().generation);
                if current == Some(generation) {
                    self.force_close(id, now);
                }
            }
            Cmd::Release(id) => {
                self.force_close(id, now);
                self.remove_conn(id);
            }
        }
    }

    fn on_io(&mut self, id: usize, mode: ReadMode, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match &conn.link {
            Link::Dialing { stream, .. } => match transport::connect_done(stream.tcp()) {
                Ok(true) => self.established(id, now),
                Ok(false) => {}
                Err(e) => self.fail_target(id, e.to_string(), now),
            },
            Link::Handshake { .. } | Link::Open { .. } => self.drive(id, mode, now),
            _ => {}
        }
    }

    fn schedule(&mut self, id: usize, when: Option<Instant>, now: Instant) {
        let (Some(when), Some(conn)) = (when, self.conns.get_mut(&id)) else {
            return;
        };
        conn.due = Some(when);
        // A later deadline leaves the earlier timer in place (it moves when it comes up): no heap
        // entry per turn of a busy link.
        if conn.scheduled.is_none_or(|s| when < s || s <= now) {
            conn.scheduled = Some(when);
            self.timers.push(Reverse((when, id)));
        }
    }

    /// Fires the timers due; then moves on the first ones whose deadline has moved later (a
    /// heart-beat sent early), so that the loop does not wake for them nor turn their links.
    fn run_timers(&mut self, now: Instant) {
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            let conn = self.conns.get_mut(&id);
            let live = conn.as_ref().is_some_and(|c| c.scheduled == Some(t));
            if !live {
                self.timers.pop(); // superseded, or the connection is gone
                continue;
            }
            let conn = conn.expect("live");
            if let Some(due) = conn.due
                && due > t
            {
                self.timers.pop();
                conn.scheduled = Some(due);
                self.timers.push(Reverse((due, id)));
                continue;
            }
            if t > now {
                break;
            }
            self.timers.pop();
            self.guarded(id, |lp| lp.timer(id, t, now));
        }
    }

    /// Timer `t` of connection `id` fired.
    fn timer(&mut self, id: usize, t: Instant, now: Instant) {
        {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            if conn.scheduled != Some(t) {
                return; // superseded
            }
            conn.scheduled = None;
            conn.due = None;
            match &conn.link {
                Link::Dialing { deadline, .. } => {
                    if now >= *deadline {
                        let ms = conn.shared.opts.connect_timeout.as_millis();
                        self.fail_target(
                            id,
                            format!("no answer within the connect timeout of {} ms", ms),
                            now,
                        );
                    } else {
                        let d = *deadline;
                        self.schedule(id, Some(d), now);
                    }
                }
                Link::Sleeping { until } => {
                    if now >= *until {
                        self.next_pass(id, now);
                    } else {
                        let u = *until;
                        self.schedule(id, Some(u), now);
                    }
                }
                Link::Handshake { .. } | Link::Open { .. } => self.drive(id, ReadMode::No, now),
                Link::Queued { .. } | Link::None => {}
            }
        }
    }

    fn dispatch(conn: &Conn, ev: Dispatch) {
        if conn.shared.listener_count.load(Ordering::Acquire) > 0 {
            conn.shared.rt.push(&conn.shared, ev);
        }
    }

    /// `dispatch` under the connection's lock: queued now, in order; the dispatcher is woken by
    /// `wake` once the lock is let go.
    fn dispatch_later(conn: &Conn, turn: &mut Turn, ev: Dispatch) {
        if conn.shared.listener_count.load(Ordering::Acquire) > 0 {
            turn.wake_dispatch |= conn
                .shared
                .rt
                .enqueue_all(&conn.shared, std::iter::once(ev));
        }
    }

    /// Wakes whoever waits for what a turn queued (receivers, a dispatcher), with no lock held: a
    /// thread woken under the connection's lock, preempting the I/O thread on its core, could only
    /// wait for that lock (a receiver or a callback that sends), one more sleep and wake-up.
    fn wake(shared: &Arc<Shared>, turn: &mut Turn) {
        if std::mem::take(&mut turn.wake_receivers) {
            shared.recv.wake();
        }
        if std::mem::take(&mut turn.wake_dispatch) {
            shared.rt.schedule(shared);
        }
    }

    /// The host list's addresses (looked up by `connect`) as targets for a new pass, shuffled if asked.
    fn targets(&mut self, shared: &Shared, failures: &mut Vec<String>) -> Vec<Target> {
        let resolved = shared.lock_core().resolved.clone();
        let mut specs: Vec<usize> = (0..shared.opts.hosts.len()).collect();
        if shared.opts.randomize_hosts {
            self.jitter.shuffle(&mut specs);
        }
        let mut out = Vec::new();
        for i in specs {
            let h = &shared.opts.hosts[i];
            match resolved.get(i) {
                Some(Ok(addrs)) => out.extend(addrs.iter().map(|&addr| Target {
                    host: h.host.clone(),
                    port: h.port,
                    addr,
                    spec: i,
                })),
                Some(Err(e)) => {
                    failures.push(format!("{}:{}: cannot resolve: {}", h.host, h.port, e))
                }
                None => failures.push(format!("{}:{}: not looked up", h.host, h.port)),
            }
        }
        out
    }

    fn start_walk(&mut self, id: usize, reconnecting: bool, now: Instant) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let shared = conn.shared.clone();
        let mut failures = Vec::new();
        let targets = self.targets(&shared, &mut failures);
        let conn = self.conns.get_mut(&id).expect("present above");
        let plan = Planner::new(shared.opts.reconnect, targets.len());
        conn.walk = Some(Walk {
            targets,
            plan,
            failures,
            reconnecting,
            tls_kind: None,
        });
        self.try_next(id, now);
    }

    fn next_pass(&mut self, id: usize, now: Instant) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let shared = conn.shared.clone();
        let mut failures = Vec::new();
        let targets = self.targets(&shared, &mut failures);
        let conn = self.conns.get_mut(&id).expect("present above");
        conn.link = Link::None;
        if let Some(w) = conn.walk.as_mut() {
            w.plan.start_pass(targets.len());
            w.targets = targets;
            for f in failures {
                w.failed(f);
            }
        }
        self.try_next(id, now);
    }

    /// Dials the next target of the walk, or sleeps after a failed pass, or gives up.
    fn try_next(&mut self, id: usize, now: Instant) {
        loop {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            let Some(walk) = conn.walk.as_mut() else {
                return;
            };
            // A step of the walk: what a `connect` waiting on it watches to tell slow from stuck.
            conn.shared.lock_core().walk_steps += 1;
            let target = match walk.plan.next(self.jitter.next_f64()) {
                Step::Dial(i) => walk.targets[i].clone(),
                Step::Sleep(pause) => {
                    log!(
                        Level::Debug,
                        "conn {}: no host answered; next pass through the host list in {} ms",
                        id,
                        pause.as_millis()
                    );
                    let until = now + pause;
                    conn.link = Link::Sleeping { until };
                    self.schedule(id, Some(until), now);
                    return;
                }
                Step::GiveUp => return self.give_up(id),
            };
            if !conn.slot && self.connecting >= MAX_CONNECTING {
                conn.link = Link::Queued { target };
                self.waiting.push_back(id);
                return;
            }
            if self.dial(id, target, now) {
                return;
            }
        }
    }

    /// Starts a TCP connect to `target`, taking a connect slot; false (the failure noted in the
    /// walk) if it could not even start.
    fn dial(&mut self, id: usize, target: Target, now: Instant) -> bool {
        let Some(conn) = self.conns.get_mut(&id) else {
            return true;
        };
        let shared = conn.shared.clone();
        log!(
            Level::Debug,
            "conn {}: connecting to {}",
            id,
            target.label()
        );
        if shared.listener_count.load(Ordering::Acquire) > 0 {
            shared.rt.push(
                &shared,
                Dispatch::Connecting(target.host.clone(), target.port),
            );
        }
        let failed = match transport::dial(target.addr, shared.opts.bind).map(Stream::plain) {
            Ok(mut stream) => match self.poll.registry().register(
                &mut stream,
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                Ok(()) => {
                    // Progress of the whole loop, for a `connect` waiting in line (Link::Queued).
                    shared.rt.dials.fetch_add(1, Ordering::Relaxed);
                    let deadline = now + shared.opts.connect_timeout;
                    if !conn.slot {
                        conn.slot = true;
                        self.connecting += 1;
                    }
                    conn.link = Link::Dialing {
                        stream,
                        deadline,
                        target,
                    };
                    self.schedule(id, Some(deadline), now);
                    return true;
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        if let Some(w) = conn.walk.as_mut() {
            w.failed(format!("{}: {}", target.label(), failed));
        }
        false
    }

    /// The walk failed for good: report every host's failure.
    fn give_up(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let walk = conn.walk.take();
        conn.link = Link::None;
        let (passes, failures, tls_kind) = walk
            .map(|w| (w.plan.passes_failed(), w.failures, w.tls_kind))
            .unwrap_or_default();
        let detail = if failures.is_empty() {
            "no host to try".to_owned()
        } else {
            failures.join("; ")
        };
        let err = Error::new(
            tls_kind.unwrap_or(ErrorKind::ConnectFailed),
            format!(
                "could not connect after {} pass{} through the host list: {}",
                passes,
                if passes == 1 { "" } else { "es" },
                detail
            ),
        );
        log!(Level::Warn, "conn {}: {}", id, err.message);
        self.finish(id, Some(err));
    }

    /// The connection has ended for good: tell the listeners, then wake every waiter (in that order, so
    /// that `disconnect` can wait for the listeners to have heard it all).
    fn finish(&mut self, id: usize, error: Option<Error>) {
        self.finish_link(id, error, false)
    }

    /// `finish`, telling the listeners `on_disconnected` first when an established link ended. The
    /// phase is Closed before they hear it (so that a listener sees a closed connection and can
    /// connect again), and their events are queued under the same lock (so that no waiter sees
    /// Closed before they are queued).
    fn finish_link(&mut self, id: usize, error: Option<Error>, link_was_open: bool) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.walk = None;
        let shared = conn.shared.clone();
        {
            let mut core = shared.lock_core();
            if error.is_some() {
                core.error = error.clone();
            }
            // Nothing held back will be sent now: their receipts will never come.
            for f in std::mem::take(&mut core.held) {
                if let Some(r) = f.header("receipt") {
                    core.session.receipt_lost(r);
                }
            }
            core.held_bytes = 0;
            core.session.lose_pending_receipts();
            shared.set_phase(Phase::Closed);
            let reason = Disconnection::of(core.user_closed, error.as_ref());
            core.last_disconnect = Some(reason.clone());
            if std::mem::take(&mut conn.owes_disconnected) || link_was_open {
                Self::dispatch(conn, Dispatch::Disconnected(reason));
                Self::dispatch(conn, Dispatch::LoopCompleted(None));
            } else {
                Self::dispatch(conn, Dispatch::LoopCompleted(Some(reason)));
            }
        }
        shared.cv.notify_all();
        shared.recv.wake_locked();
        if let Some(c) = self.conns.get_mut(&id) {
            c.clear_write();
        }
    }

    fn fail_target(&mut self, id: usize, why: String, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let link = std::mem::replace(&mut conn.link, Link::None);
        let target = match link {
            Link::Dialing {
                mut stream, target, ..
            }
            | Link::Handshake { mut stream, target } => {
                let _ = self.poll.registry().deregister(&mut stream);
                Some(target)
            }
            Link::Open { mut stream } => {
                let _ = self.poll.registry().deregister(&mut stream);
                None
            }
            _ => None,
        };
        if let (Some(t), Some(w)) = (target, conn.walk.as_mut()) {
            log!(Level::Debug, "conn {}: {}: {}", id, t.label(), why);
            w.failed(format!("{}: {}", t.label(), why));
        }
        self.try_next(id, now);
    }

    /// TCP is up: configure the socket and send CONNECT.
    fn established(&mut self, id: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let Link::Dialing {
            stream,
            deadline,
            target,
        } = std::mem::replace(&mut conn.link, Link::None)
        else {
            return;
        };
        let shared = conn.shared.clone();
        if let Err(e) = transport::configure(stream.tcp(), &shared.opts) {
            conn.link = Link::Dialing {
                stream,
                deadline,
                target,
            };
            return self.fail_target(id, format!("cannot set socket options: {}", e), now);
        }
        let stream = match stream::secure(
            stream,
            shared.tls.get(target.spec).and_then(Option::as_ref),
            &target.label(),
        ) {
            Ok(s) => s,
            Err(e) => {
                if let Some(w) = conn.walk.as_mut() {
                    w.failed(format!("{}: {}", target.label(), e.message));
                }
                return self.try_next(id, now);
            }
        };
        let started = {
            let mut core = shared.lock_core();
            let mut params = core.params.clone();
            params.host_name = target.host.clone();
            let spec = &shared.opts.hosts[target.spec];
            if spec.login.is_some() {
                params.login = spec.login.clone();
                params.passcode = spec.passcode.clone();
            }
            params.connected_timeout = Some(
                deadline
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            );
            core.peer = Some((target.host.clone(), target.port));
            core.tls_session = None;
            core.direct.new_link();
            core.session.start(&params, now)
        };
        conn.link = Link::Handshake { stream, target };
        if conn.walk.as_ref().is_some_and(|w| !w.reconnecting) {
            conn.owes_disconnected = true;
        }
        match started {
            Ok(()) => self.drive(id, ReadMode::No, now),
            Err(e) => {
                // The CONNECT itself cannot be written (a newline in a passcode): no host will take it.
                if let Some(c) = self.conns.get_mut(&id)
                    && let Link::Handshake { mut stream, .. } =
                        std::mem::replace(&mut c.link, Link::None)
                {
                    let _ = self.poll.registry().deregister(&mut stream);
                }
                self.finish(id, Some(e));
            }
        }
    }

    /// Drop the link now and stop any walk (the application disconnected or freed the handle).
    fn force_close(&mut self, id: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        // No further attempt, whatever state the link is in (a handshake that ends now must not walk on).
        conn.walk = None;
        match conn.link {
            Link::Handshake { .. } | Link::Open { .. } => {
                conn.shared.lock_core().session.close(Some(Error::new(
                    ErrorKind::Closed,
                    "closed by the application",
                )));
                self.drive(id, ReadMode::No, now);
            }
            Link::Dialing { .. } | Link::Sleeping { .. } | Link::Queued { .. } => {
                if let Link::Dialing { mut stream, .. } =
                    std::mem::replace(&mut conn.link, Link::None)
                {
                    let _ = self.poll.registry().deregister(&mut stream);
                }
                conn.link = Link::None;
                self.finish(
                    id,
                    Some(Error::new(
                        ErrorKind::Closed,
                        "connecting was stopped by the application",
                    )),
                );
            }
            Link::None => {
                if conn.shared.phase() != Phase::Closed {
                    self.finish(
                        id,
                        Some(Error::new(ErrorKind::Closed, "closed by the application")),
                    );
                }
            }
        }
    }

    /// One turn for a connection with a link: read and decode, run timers, hand the session's output
    /// to the socket, pass on what happened, then deal with a link that ended. The `core` lock is
    /// held only around the session's own work: socket writes happen without it, so API callers
    /// queue frames while earlier ones are being written.
    fn drive(&mut self, id: usize, mode: ReadMode, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if !matches!(conn.link, Link::Handshake { .. } | Link::Open { .. }) {
            return;
        }
        let shared = conn.shared.clone();
        #[cfg(test)]
        if shared.inject_panic.swap(false, Ordering::SeqCst) {
            panic!("injected by a test");
        }
        let mut turn = Turn {
            handshake: matches!(conn.link, Link::Handshake { .. }),
            ..Turn::default()
        };
        // Certificate checks (and the application's callback) run here, before the lock is taken.
        if let (true, Link::Handshake { stream, .. }) = (mode != ReadMode::No, &mut conn.link) {
            stream.advance_handshake();
        }
        {
            let mut core = shared.lock_core();
            Self::read_step(conn, &shared, &mut core, mode, now, &mut turn);
            core.session.handle_timeout(now);
            // Not while a caller writes directly: what it took goes first (it flushes after). Only
            // a non-empty output is taken, so that a large buffer handed to the session in
            // `write_step` stays there.
            if conn.wbuf.is_empty() && !core.direct.busy {
                match core.direct.take_leftover(&mut conn.wbuf) {
                    Some(pos) => conn.wpos = pos,
                    None if core.session.has_transmit() => {
                        core.session.take_transmit(&mut conn.wbuf);
                    }
                    None => {}
                }
            }
            core.direct.loop_writing = !conn.wbuf.is_empty();
            // With bytes to write, `write_step` looks at the output again before it stops (and
            // says then whether senders must wake the loop); with none, this turn is done with it.
            core.flush_queued = !conn.wbuf.is_empty();
            Self::events_step(conn, &shared, &mut core, &mut turn);
        }
        Self::wake(&shared, &mut turn);
        if turn.closed.is_none() {
            self.write_step(id, now, &mut turn);
            Self::wake(&shared, &mut turn);
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if turn.notify {
            shared.cv.notify_all();
        }
        if turn.read_more {
            self.again.push(id);
        }
        // A consumer that made room just before `paused` was set saw it unset and sent no Resume: look
        // again now that it is set and the new messages are queued (consumers check `paused` after
        // taking a message, so one of the two sides sees the other).
        if turn.closed.is_none() && shared.paused.load(Ordering::SeqCst) && shared.has_room() {
            shared.paused.store(false, Ordering::SeqCst);
            self.again.push(id);
        }
        match turn.closed.take() {
            None => self.schedule(id, turn.deadline, now),
            Some(reason) => {
                conn.clear_write();
                self.link_ended(id, reason, turn, now)
            }
        }
    }

    /// Reads what the socket has (up to a budget, and only while the application's queues have
    /// room) straight into the session's decoder.
    fn read_step(
        conn: &mut Conn,
        shared: &Shared,
        core: &mut Core,
        mode: ReadMode,
        now: Instant,
        turn: &mut Turn,
    ) {
        let stream = match &mut conn.link {
            Link::Handshake { stream, .. } | Link::Open { stream } => stream,
            _ => return,
        };
        let was_paused = shared.paused.load(Ordering::SeqCst);
        let (messages, bytes) = shared.message_budget();
        core.session.set_message_budget(messages);
        core.session.set_byte_budget(bytes);
        // Frames held back while the application was full (and whatever is buffered behind them).
        core.session.handle_bytes(&[], now);
        // `paused`: messages wait for room (a consumer making room sends Resume). Reading goes on
        // past that for a bounded look-ahead, so that a link ending behind a full queue is seen.
        shared
            .paused
            .store(core.session.message_budget() == 0, Ordering::SeqCst);
        let reading = core.session.wants_read();
        core.session.set_read_paused(!reading, now);
        // Bytes already in the kernel count as heard before silence is judged (see silence_overdue).
        let overdue = core.session.silence_overdue(now);
        if (mode != ReadMode::No || was_paused || overdue) && reading {
            // Read until WouldBlock, except after a readiness edge on plain TCP: a read that does not
            // fill the buffer has emptied the socket, and bytes arriving later raise a new edge
            // (epoll is edge-triggered), so the read that would only say WouldBlock is saved.
            // Not under TLS (a record may hold more than the buffer), nor for reads made without an
            // edge (a resume, a paused link), whose hang-up may already have been signalled.
            let stop_short = mode == ReadMode::Edge && !was_paused && !stream.is_tls();
            let mut budget = READ_BUDGET;
            loop {
                let buf = core.session.read_buf();
                let asked = buf.len();
                let got = stream.read(buf);
                // A TLS record in answer to a plain CONNECT: the broker wants TLS on this port.
                if turn.handshake
                    && !stream.is_tls()
                    && matches!(got, Ok(n) if stream::looks_like_tls(&buf[..n]))
                {
                    core.session.transport_closed(Error::new(
                        ErrorKind::TlsMismatch,
                        "the broker answered in TLS: this port wants TLS \
                         (stomp_options_add_host_tls or stomp_options_set_tls)",
                    ));
                    break;
                }
                match got {
                    Ok(0) => {
                        core.session.transport_closed(Error::new(
                            ErrorKind::Closed,
                            "the broker closed the connection",
                        ));
                        break;
                    }
                    Ok(n) => {
                        core.session.handle_read(n, now);
                        if core.session.state() == State::Closed {
                            break;
                        }
                        if !core.session.wants_read() {
                            // Full, and the look-ahead too: leave the rest in the kernel; Resume reads on.
                            core.session.set_read_paused(true, now);
                            break;
                        }
                        budget = budget.saturating_sub(n);
                        if budget == 0 {
                            turn.read_more = true;
                            break;
                        }
                        if stop_short && n < asked {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        core.session
                            .transport_closed(stream::io_failure(e, "reading from the broker"));
                        break;
                    }
                }
            }
        }
        if core.session.message_budget() == 0 {
            // Frames may be held back in the decoder: only a Resume (or the check below) reads on.
            shared.paused.store(true, Ordering::SeqCst);
        }
    }

    /// Writes the bytes taken from the session, with no lock held; then, under the lock, reports
    /// them written and takes what was queued meanwhile, until the socket is full, the session has
    /// nothing more, or this connection's write budget is spent.
    fn write_step(&mut self, id: usize, now: Instant, turn: &mut Turn) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let shared = conn.shared.clone();
        // TLS records left over from an earlier turn (a full socket), or made by reading (handshake).
        if let Link::Handshake { stream, .. } | Link::Open { stream } = &mut conn.link
            && let Err(e) = stream.flush_records()
            && e.kind() != io::ErrorKind::WouldBlock
        {
            let mut core = shared.lock_core();
            core.flush_queued = false;
            core.session
                .transport_closed(stream::io_failure(e, "writing to the broker"));
            return Self::events_step(conn, &shared, &mut core, turn);
        }
        let mut budget = WRITE_BUDGET;
        while !conn.wbuf.is_empty() {
            let stream = match &mut conn.link {
                Link::Handshake { stream, .. } | Link::Open { stream } => stream,
                _ => return,
            };
            let mut failed = None;
            let mut full = false;
            let mut written = 0;
            while conn.wpos < conn.wbuf.len() {
                match stream.write(&conn.wbuf[conn.wpos..]) {
                    Ok(0) => {
                        failed = Some(Error::new(
                            ErrorKind::Io,
                            "the socket accepts no more bytes",
                        ));
                        break;
                    }
                    Ok(n) => {
                        conn.wpos += n;
                        written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        full = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        failed = Some(stream::io_failure(e, "writing to the broker"));
                        break;
                    }
                }
            }
            let done = conn.wpos == conn.wbuf.len();
            if done {
                conn.written(now);
            }
            // A buffer grown for a large body, taken out to be handed to a waiting sender or shrunk
            // with no lock held: a large body is never held in two grown buffers at once.
            let mut grown =
                (done && conn.wbuf.capacity() > KEEP_BELOW).then(|| std::mem::take(&mut conn.wbuf));
            let mut core = shared.lock_core();
            if core.out_waiters > 0
                && !core.session.has_transmit()
                && let Some(mut buf) = grown.take()
            {
                // A sender waits for room and nothing else is queued: the grown buffer becomes the
                // session's, so that a large body is copied into pages already mapped (faulting in
                // fresh ones costs as much as the copy), and still only one such buffer exists.
                core.session.take_transmit(&mut buf);
                conn.wbuf = buf;
            }
            core.session.transmitted(written, now);
            if written > 0 {
                core.direct.loop_wrote(now);
            }
            let failed = match failed {
                Some(e) => {
                    core.session.transport_closed(e);
                    true
                }
                None => false,
            };
            // (Only a non-empty output is taken: an empty swap would take back a buffer just
            // handed to a waiting sender. Nothing while a caller writes directly.)
            if !failed && done && !full && core.session.has_transmit() && !core.direct.busy {
                if budget > written {
                    budget -= written;
                    core.session.take_transmit(&mut conn.wbuf);
                } else {
                    turn.read_more = true; // budget spent: come back after the others
                }
            }
            core.direct.loop_writing = !conn.wbuf.is_empty();
            // While the loop will look at the output again (it just took more, the socket's
            // writable event brings it back, or its next turn does), a sender need not wake it:
            // one wake per batch, not one per write.
            core.flush_queued = !failed && (!conn.wbuf.is_empty() || turn.read_more);
            if core.out_waiters > 0 && core.session.pending_out() < shared.opts.max_out_bytes {
                turn.notify = true;
            }
            Self::events_step(conn, &shared, &mut core, turn);
            drop(core);
            if let Some(mut buf) = grown
                && conn.wbuf.capacity() == 0
            {
                buf.shrink_to(READ_BUDGET);
                conn.wbuf = buf;
            }
            if turn.closed.is_some() || full {
                return;
            }
        }
    }

    /// Passes on what the session produced: phase changes, then each event to the listeners and the
    /// receive queue, while the lock is held, so that whoever waits for the phase set here (connect,
    /// disconnect) acts after its callbacks are queued: on_connected always comes before the
    /// on_disconnecting of a disconnect made right after connect.
    fn events_step(conn: &mut Conn, shared: &Arc<Shared>, core: &mut Core, turn: &mut Turn) {
        let mut messages = std::mem::take(&mut conn.inbox);
        while let Some(ev) = core.session.poll_event() {
            match ev {
                Event::Connected(f) => {
                    core.links += 1;
                    core.error = None;
                    shared.set_phase(Phase::Open);
                    turn.resubscribe = conn.walk.as_ref().is_some_and(|w| w.reconnecting);
                    core.session.stats.reconnects += u64::from(turn.resubscribe);
                    turn.notify = true;
                    if let Link::Handshake { stream, .. } =
                        std::mem::replace(&mut conn.link, Link::None)
                    {
                        core.tls_session = stream.tls_session();
                        core.direct.socket = stream.plain_weak().unwrap_or_default();
                        conn.link = Link::Open { stream };
                    }
                    conn.walk = None;
                    conn.owes_disconnected = false;
                    // Without auto-reconnect no CONNECT follows this one until the application
                    // calls connect again, which gives the passcode anew: keep it no longer.
                    if !shared.opts.auto_reconnect {
                        core.params.passcode = None;
                    }
                    Self::dispatch_later(conn, turn, Dispatch::Connected(f));
                }
                Event::Message(mut f) => {
                    f.link = core.links;
                    messages.push(f);
                }
                Event::Receipt(f) => {
                    turn.notify = true;
                    Self::dispatch_later(conn, turn, Dispatch::Receipt(f));
                }
                Event::Error(f) => {
                    // It may have refused a receipt someone waits for.
                    turn.notify |= f.header("receipt-id").is_some();
                    Self::dispatch_later(conn, turn, Dispatch::Error(f));
                }
                Event::Sent(f) => Self::dispatch_later(conn, turn, Dispatch::Send(f)),
                Event::Heartbeat => Self::dispatch_later(conn, turn, Dispatch::Heartbeat),
                Event::HeartbeatTimeout => {
                    Self::dispatch_later(conn, turn, Dispatch::HeartbeatTimeout)
                }
                Event::Closed(reason) => {
                    turn.notify = true;
                    Self::closed_event(shared, core, turn, &reason);
                    turn.closed = Some(reason);
                }
            }
            // Messages go out in order with the other events: flush them before the next one.
            if !messages.is_empty() && !matches!(core.session.peek_event(), Some(Event::Message(_)))
            {
                Self::deliver_messages(conn, shared, &mut messages, turn);
            }
        }
        Self::deliver_messages(conn, shared, &mut messages, turn);
        conn.inbox = messages;
        if std::mem::take(&mut turn.resubscribe) {
            let _ = core.session.resubscribe();
            // Then what was sent while the link was down, in order.
            core.held_bytes = 0;
            while let Some(f) = core.held.pop_front() {
                // Checked when held; a failure now (a tx aborted by the drop) is the frame's own.
                let receipt = f.header("receipt").map(str::to_owned);
                if core.session.send(f).is_err()
                    && let Some(r) = receipt
                {
                    core.session.receipt_lost(&r);
                }
            }
            if core.session.has_transmit() {
                turn.read_more = true; // come back at once to write the SUBSCRIBE frames
            }
        }
        if core.out_waiters > 0 && core.session.pending_out() < shared.opts.max_out_bytes {
            turn.notify = true;
        }
        turn.deadline = core.session.poll_timeout();
    }

    /// How a Closed event ends things: a refused handshake, a link to reconnect, or the end.
    fn closed_event(shared: &Shared, core: &mut Core, turn: &mut Turn, reason: &Option<Error>) {
        if turn.handshake {
            core.session.log.attempt_failed(reason.as_ref());
            turn.refused = reason
                .as_ref()
                .filter(|r| r.kind == ErrorKind::Refused)
                .cloned();
            return;
        }
        if let Some(r) = reason {
            core.error = Some(r.clone());
        }
        turn.reconnect = shared.opts.auto_reconnect && !core.user_closed && reason.is_some();
        core.session
            .log
            .link_closed(reason.as_ref(), core.user_closed, turn.reconnect);
        if turn.reconnect {
            shared.set_phase(Phase::Reconnecting);
        } // else `finish` closes it, once the listeners have been told
    }

    /// A batch of messages to the receive queue (one lock, and a wake-up only if someone waits) and
    /// to the listeners. A frame goes to both only when both are on (then it is copied).
    fn deliver_messages(conn: &Conn, shared: &Shared, messages: &mut Vec<Frame>, turn: &mut Turn) {
        if messages.is_empty() {
            return;
        }
        let listeners = shared.listener_count.load(Ordering::Acquire) > 0;
        if shared.opts.receive_queue > 0 {
            let waiters = if listeners {
                shared.recv.push(messages.iter().cloned())
            } else {
                shared.recv.push(messages.drain(..))
            };
            turn.wake_receivers |= waiters;
        }
        if listeners {
            turn.wake_dispatch |= conn
                .shared
                .rt
                .enqueue_all(&conn.shared, messages.drain(..).map(Dispatch::Message));
        }
        messages.clear();
    }

    /// The link is down: deregister, then walk on, reconnect, or finish.
    fn link_ended(&mut self, id: usize, reason: Option<Error>, turn: Turn, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let mut tls_unanswered = false;
        if let Link::Handshake { mut stream, .. } | Link::Open { mut stream } =
            std::mem::replace(&mut conn.link, Link::None)
        {
            tls_unanswered = stream.tls_unanswered();
            stream.close();
            let _ = self.poll.registry().deregister(&mut stream);
        }
        // A link that never got CONNECTED is a failed attempt: the walk goes on, and if it gives up,
        // `finish` tells the listeners (`owes_disconnected`).
        if !turn.handshake && turn.reconnect {
            let reason = {
                let mut core = conn.shared.lock_core();
                let reason = Disconnection::of(core.user_closed, reason.as_ref());
                core.last_disconnect = Some(reason.clone());
                reason
            };
            Self::dispatch(conn, Dispatch::Disconnected(reason));
        }
        if turn.handshake {
            if let Some(r) = turn.refused {
                return self.finish(id, Some(r));
            }
            if conn.walk.is_none() {
                // The application closed it mid-handshake: the walk is over.
                return self.finish(id, reason);
            }
            // A TLS link the broker never answered (a plain STOMP broker waits so, for the end
            // of a frame) is most likely a plain port: the code says so, as when it hangs up.
            let kind = if tls_unanswered {
                Some(ErrorKind::TlsMismatch)
            } else {
                reason.as_ref().map(|r| r.kind).filter(|k| k.is_tls())
            };
            let mut why = reason
                .map(|r| r.message)
                .unwrap_or_else(|| "closed during the handshake".into());
            if tls_unanswered {
                why.push_str(" (no TLS answer at all: is this a plain STOMP port?)");
            }
            if let Some(w) = conn.walk.as_mut() {
                let t = w.plan.current().and_then(|i| w.targets.get(i));
                w.failed(match t {
                    Some(t) => format!("{}: {}", t.label(), why),
                    None => why,
                });
                w.tls_kind = kind;
            }
            return self.try_next(id, now);
        }
        if turn.reconnect {
            self.start_walk(id, true, now);
        } else {
            self.finish_link(id, reason, true);
        }
    }
}

/// How a turn of `drive` reads the socket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ReadMode {
    /// Not at all (a flush, a timer): only what the session holds back is decoded.
    No,
    /// Until WouldBlock.
    Drain,
    /// After a readiness edge without hang-up or error: until WouldBlock or a short read.
    Edge,
}

/// What one turn of `drive` found, for the steps after it.
#[derive(Default)]
struct Turn {
    /// The link was still in its handshake when the turn began.
    handshake: bool,
    /// Wake the threads waiting on the connection's condition variable.
    notify: bool,
    /// Come back to this connection before sleeping.
    read_more: bool,
    /// Receivers wait in `recv` for messages queued in this turn.
    wake_receivers: bool,
    /// Events were queued for a connection no dispatcher had: schedule it (see `wake`).
    wake_dispatch: bool,
    resubscribe: bool,
    reconnect: bool,
    refused: Option<Error>,
    /// The link ended, and why (`None` inside: a clean end).
    closed: Option<Option<Error>>,
    deadline: Option<Instant>,
}

#[cfg(test)]
mod tests {
    //! The panic guard, with a fake server (a broker cannot make our own code panic): it answers
    //! CONNECT with CONNECTED and any frame carrying a `receipt` with its RECEIPT.

    use std::io::{BufRead, BufReader, Write as _};
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::client::Connection;
    use crate::error::ErrorKind;
    use crate::listener::Listener;
    use crate::options::Options;
    use crate::proto::Frame;

    fn fake_server(connections: usize) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let mut stream = stream.unwrap();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut frame = Vec::new();
                    while reader.read_until(0, &mut frame).unwrap_or(0) > 0 {
                        let text = String::from_utf8_lossy(&frame).into_owned();
                        frame.clear();
                        let text = text.trim_start_matches(['\n', '\r']);
                        let reply = if text.starts_with("CONNECT") {
                            "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0".to_owned()
                        } else if let Some(r) =
                            text.lines().find_map(|l| l.strip_prefix("receipt:"))
                        {
                            format!("RECEIPT\nreceipt-id:{}\n\n\0", r)
                        } else {
                            continue;
                        };
                        if stream.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        port
    }

    struct Ended(std::sync::Mutex<mpsc::Sender<&'static str>>);

    impl Listener for Ended {
        fn on_disconnected(&self) {
            let _ = self.0.lock().unwrap().send("disconnected");
        }
        fn on_receiver_loop_completed(&self) {
            let _ = self.0.lock().unwrap().send("completed");
        }
    }

    /// The passcode given to connect is kept after CONNECTED only when a reconnect may need it.
    #[test]
    fn the_passcode_is_kept_only_for_auto_reconnect() {
        let port = fake_server(2);
        for auto in [false, true] {
            let mut o = Options::new().host("127.0.0.1", port);
            o.auto_reconnect = auto;
            let c = Connection::new(o).unwrap();
            c.connect(Some("me"), Some("pc-kept?"), &[], true).unwrap();
            let kept = c.shared.lock_core().params.passcode.clone();
            assert_eq!(kept.is_some(), auto, "auto_reconnect {auto}: {kept:?}");
            assert_eq!(c.shared.lock_core().params.login.as_deref(), Some("me"));
        }
    }

    #[test]
    fn a_panic_driving_one_connection_closes_it_and_the_others_go_on() {
        let port = fake_server(2);
        let opts = || Options::new().host("127.0.0.1", port);
        let (a, b) = (
            Connection::new(opts()).unwrap(),
            Connection::new(opts()).unwrap(),
        );
        let (tx, rx) = mpsc::channel();
        a.set_listener(
            "ended",
            std::sync::Arc::new(Ended(std::sync::Mutex::new(tx))),
        );
        a.connect(None, None, &[], true).unwrap();
        b.connect(None, None, &[], true).unwrap();

        a.shared
            .inject_panic
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // The send is queued; driving it panics on the I/O thread.
        let _ = a.send("/queue/a", b"x", None, &[]);
        let t = Duration::from_secs(5);
        assert_eq!(rx.recv_timeout(t), Ok("disconnected"));
        assert_eq!(rx.recv_timeout(t), Ok("completed"));
        let e = a.last_error().expect("a reason");
        assert_eq!(e.kind, ErrorKind::Internal, "{}", e.message);
        assert!(e.message.contains("injected by a test"), "{}", e.message);
        assert!(!a.is_connected());
        assert_eq!(
            a.send("/queue/a", b"y", None, &[]).unwrap_err().kind,
            ErrorKind::NotConnected,
            "nothing is queued into the dead link"
        );

        // The loop still serves the other connection.
        b.send_frame(
            Frame::new(crate::proto::Command::Send)
                .with("destination", "/queue/b")
                .with("receipt", "r1"),
        )
        .unwrap();
        b.wait_receipt("r1", t).unwrap();
    }
}
