//! The safe Rust API. The C layer is a thin skin over this.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result, err};
use crate::listener::Listener;
use crate::options::Options;
use crate::proto::{
    Command, ConnectParams, Frame, ReceiptStatus, Session, SessionConfig, State, Version,
};
use crate::runtime::command::{Cmd, Runtime, runtime};
use crate::runtime::conn::{
    Core, Dispatch, DispatchQueue, Phase, Shared, lock, wait_progressing, wait_until,
};

/// Added to the longest step of a host-list walk before a waiting `connect` calls the loop stuck:
/// timers fire a little late, and a loaded machine schedules the I/O thread late.
const CONNECT_STALL_MARGIN: Duration = Duration::from_secs(2);

pub use crate::runtime::conn::Phase as ConnectionPhase;

/// How a subscription acknowledges messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    Auto,
    Client,
    ClientIndividual,
}

impl AckMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckMode::Auto => "auto",
            AckMode::Client => "client",
            AckMode::ClientIndividual => "client-individual",
        }
    }
}

/// A SEND's header list: the destination, a content type and the usual handful of the
/// application's stay on the stack.
pub(crate) type SendHeaders<'a> = smallvec::SmallVec<[(&'a str, &'a str); 12]>;

/// The start of a SEND's header list, in the order `Connection::send_listed` wants: `destination`,
/// then `content-type` if there is one (the application's headers go after).
pub(crate) fn send_headers<'a>(
    destination: &'a str,
    content_type: Option<&'a str>,
) -> SendHeaders<'a> {
    let mut all = SendHeaders::new();
    all.push(("destination", destination));
    if let Some(ct) = content_type {
        all.push(("content-type", ct));
    }
    all
}

/// A STOMP connection. Cheap to share between threads (`&Connection` is all any call needs).
pub struct Connection {
    pub(crate) shared: Arc<Shared>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn headers_vec(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

impl Connection {
    pub fn new(opts: Options) -> Result<Connection> {
        Self::new_in(opts, None)
    }

    /// A connection driven by `rt` (an application-driven loop's), or by the threaded runtime.
    pub(crate) fn new_in(opts: Options, rt: Option<Arc<Runtime>>) -> Result<Connection> {
        if opts.hosts.is_empty() {
            return err(
                ErrorKind::InvalidArgument,
                "no host to connect to: add at least one",
            );
        }
        if let Err(e) = opts.reconnect.validate() {
            return err(ErrorKind::InvalidArgument, e);
        }
        if !(opts.heartbeat_receive_scale.is_finite() && opts.heartbeat_receive_scale >= 1.0) {
            return err(
                ErrorKind::InvalidArgument,
                "the heart-beat receive scale must be at least 1.0",
            );
        }
        let config = SessionConfig {
            limits: opts.limits,
            auto_content_length: opts.auto_content_length,
            heartbeat_receive_scale: opts.heartbeat_receive_scale,
            max_out_bytes: opts.max_out_bytes,
            frame_timeout: opts.frame_timeout,
            frame_min_rate: opts.frame_min_rate,
            ..SessionConfig::default()
        };
        let tls = crate::runtime::tls::targets(&opts.hosts, &opts.tls)?;
        let rt = rt.unwrap_or_else(|| runtime().clone());
        let shared = Arc::new(Shared {
            id: rt.new_id(),
            rt,
            tls,
            core: Mutex::new(Core {
                session: Session::new(config, Instant::now()),
                resolved: Vec::new(),
                params: ConnectParams::default(),
                error: None,
                last_disconnect: None,
                user_closed: false,
                flush_queued: false,
                out_waiters: 0,
                links: 0,
                peer: None,
                held: VecDeque::new(),
                held_bytes: 0,
                generation: 0,
                walk_steps: 0,
                tls_session: None,
                direct: Default::default(),
            }),
            opts,
            cv: Condvar::new(),
            phase: AtomicU8::new(Phase::Idle as u8),
            listeners: Mutex::new(Arc::new(Vec::new())),
            listener_count: AtomicUsize::new(0),
            listener_generation: AtomicUsize::new(0),
            dispatch: Mutex::new(DispatchQueue::default()),
            dispatch_idle: Condvar::new(),
            recv: Default::default(),
            paused: AtomicBool::new(false),
            released: AtomicBool::new(false),
            #[cfg(test)]
            inject_panic: AtomicBool::new(false),
        });
        shared.lock_core().session.log = crate::log::SessionLog::new(shared.id);
        Ok(Connection { shared })
    }

    pub fn options(&self) -> &Options {
        &self.shared.opts
    }

    /// Adds a listener under `name`, replacing one of the same name.
    pub fn set_listener(&self, name: &str, listener: Arc<dyn Listener>) {
        self.update_listeners(|v| {
            v.retain(|(n, _)| n != name);
            v.push((name.to_owned(), listener));
        });
    }

    /// Removes the listener called `name`; false if there was none.
    pub fn remove_listener(&self, name: &str) -> bool {
        let mut found = false;
        self.update_listeners(|v| {
            let before = v.len();
            v.retain(|(n, _)| n != name);
            found = v.len() != before;
        });
        found
    }

    fn update_listeners(&self, f: impl FnOnce(&mut Vec<(String, Arc<dyn Listener>)>)) {
        // The user's code (wants_send, wants_heartbeat, a replaced listener's Drop) runs unlocked.
        let (now, before) = {
            let mut l = lock(&self.shared.listeners);
            let mut v: Vec<_> = l.iter().cloned().collect();
            f(&mut v);
            let now = Arc::new(v);
            let before = std::mem::replace(&mut *l, now.clone());
            (now, before)
        };
        drop(before);
        let sent = now.iter().any(|(_, l)| l.wants_send());
        let hb = now.iter().any(|(_, l)| l.wants_heartbeat());
        let count = now.len();
        self.shared.listener_count.store(count, Ordering::Release);
        self.shared
            .listener_generation
            .fetch_add(1, Ordering::Release);
        let mut core = self.shared.lock_core();
        core.session.emit_sent = sent;
        core.session.emit_heartbeat = hb;
    }

    pub fn phase(&self) -> Phase {
        self.shared.phase()
    }

    pub fn is_connected(&self) -> bool {
        self.phase() == Phase::Open
    }

    /// Connects: walks the host list by the reconnect policy. With `wait`, returns once CONNECTED
    /// arrives (or with the error that ended the attempt).
    pub fn connect(
        &self,
        login: Option<&str>,
        passcode: Option<&str>,
        headers: &[(&str, &str)],
        wait: bool,
    ) -> Result<()> {
        if wait {
            self.refuse_on_driver("connect with wait")?;
        }
        if self.shared.rt.is_closed() {
            return err(
                ErrorKind::Closed,
                "the loop that drives this connection was freed",
            );
        }
        // Names are looked up here, on the caller's thread, so that the I/O thread shared by every
        // connection never waits for DNS (a reconnect reuses them): at most the connect timeout
        // each, the lookup on a helper thread; on an application-driven loop, which must start no
        // thread, the lookup is made by the caller's thread itself, as long as the resolver takes.
        let app_driven = self.shared.rt.is_app_driven();
        let resolved: Vec<_> = self
            .shared
            .opts
            .hosts
            .iter()
            .map(|h| {
                if app_driven {
                    crate::runtime::transport::resolve(&h.host, h.port).map_err(|e| e.to_string())
                } else {
                    crate::runtime::transport::resolve_within(
                        &h.host,
                        h.port,
                        self.shared.opts.connect_timeout,
                    )
                }
            })
            .collect();
        {
            let mut core = self.shared.lock_core();
            match self.shared.phase() {
                Phase::Connecting | Phase::Reconnecting => {
                    return err(ErrorKind::AlreadyConnected, "already connecting");
                }
                Phase::Open => return err(ErrorKind::AlreadyConnected, "already connected"),
                Phase::Idle | Phase::Closed => {}
            }
            let o = &self.shared.opts;
            core.params = ConnectParams {
                version: Some(o.version),
                login: login.map(str::to_owned),
                passcode: passcode.map(str::to_owned),
                vhost: o.vhost.clone(),
                host_name: String::new(),
                heartbeats: o.heartbeats,
                headers: headers_vec(headers),
                use_stomp_command: o.use_stomp_command,
                connected_timeout: None,
            };
            core.user_closed = false;
            core.resolved = resolved;
            core.generation += 1;
            core.error = None;
            core.session.clear_subscriptions();
            core.session.clear_dropped_transactions();
            self.shared.set_phase(Phase::Connecting);
        }
        self.shared.recv.clear();
        self.shared.rt.command(Cmd::Open(self.shared.clone()));
        if !wait {
            return Ok(());
        }
        self.wait_connected()
    }

    /// Waits for the walk `connect` started to end. Its whole length is unbounded when the policy
    /// retries forever, but each of its steps is bounded: a dial and handshake by the connect
    /// timeout, a back-off sleep by the policy's longest. So the wait goes on while the I/O loop
    /// takes steps, and ends with `Timeout` when none comes for the longest step plus a margin:
    /// the loop is then wedged, and the caller gets its thread back.
    fn wait_connected(&self) -> Result<()> {
        let o = &self.shared.opts;
        let p = &o.reconnect;
        let longest_sleep =
            Duration::from_secs_f64((p.sleep_max * (1.0 + p.sleep_jitter)).clamp(0.0, 86_400.0));
        let stall = o.connect_timeout.max(longest_sleep) + CONNECT_STALL_MARGIN;
        let core = self.shared.lock_core();
        let (core, ended) = wait_progressing(
            core,
            &self.shared.cv,
            stall,
            |_| matches!(self.shared.phase(), Phase::Open | Phase::Closed),
            // Its own steps, or (waiting for a connect slot) those of the connections ahead of it.
            |c| (c.walk_steps, self.shared.rt.dials.load(Ordering::Relaxed)),
        );
        match self.shared.phase() {
            Phase::Open => Ok(()),
            Phase::Closed => Err(core
                .error
                .clone()
                .unwrap_or_else(|| Error::new(ErrorKind::ConnectFailed, "the connection ended"))),
            _ => {
                debug_assert!(!ended);
                err(
                    ErrorKind::Timeout,
                    format!(
                        "connecting made no progress for {} ms (longer than any step of the \
                         walk: connect timeout, back-off sleep): the I/O loop is stuck",
                        stall.as_millis()
                    ),
                )
            }
        }
    }

    /// The version, `server` and `session` of the current connection.
    pub fn version(&self) -> Option<Version> {
        let core = self.shared.lock_core();
        core.session
            .connected_frame()
            .map(|_| core.session.version())
    }

    pub fn connected_frame(&self) -> Option<Frame> {
        self.shared.lock_core().session.connected_frame().cloned()
    }

    pub fn server(&self) -> Option<String> {
        self.connected_frame()
            .and_then(|f| f.header("server").map(str::to_owned))
    }

    pub fn session_id(&self) -> Option<String> {
        self.connected_frame()
            .and_then(|f| f.header("session").map(str::to_owned))
    }

    /// The TLS version and cipher suite of the current link; `None` on plain TCP or with no link.
    pub fn tls_session(&self) -> Option<crate::runtime::tls::TlsSessionInfo> {
        let core = self.shared.lock_core();
        core.session.connected_frame().and(core.tls_session)
    }

    /// Negotiated (send, receive) heart-beat intervals.
    pub fn heartbeats(&self) -> (Duration, Duration) {
        self.shared.lock_core().session.heartbeat_intervals()
    }

    /// The reason the last connect or link ended.
    pub fn last_error(&self) -> Option<Error> {
        self.shared.lock_core().error.clone()
    }

    /// Why the connection last went down, asked for or not (`None` if it never has): a link ending
    /// (also one that auto-reconnect then replaces) or a connect that ended without a link. Set
    /// before the listeners hear `on_disconnected_reason`, and kept across later connects until the
    /// next time the connection goes down.
    pub fn last_disconnect(&self) -> Option<crate::listener::Disconnection> {
        self.shared.lock_core().last_disconnect.clone()
    }

    /// Queues any frame for sending (the seed's `send_frame`): escaped and framed by the library.
    pub fn send_frame(&self, frame: Frame) -> Result<()> {
        self.send_parts(frame.command, frame.headers(), false, frame.body())
    }

    /// `send_frame` from borrowed parts: encoded straight into the outgoing buffer; a frame is built
    /// only to be held while reconnecting. `verbatim` as `proto::encode_parts` says.
    fn send_parts<'a, H>(
        &self,
        command: Command,
        headers: H,
        verbatim: bool,
        body: &[u8],
    ) -> Result<()>
    where
        H: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        let shared = &self.shared;
        let mut core = self.lock_core_with_on_send_room()?;
        if shared.phase() == Phase::Reconnecting {
            return Self::hold(shared, &mut core, Frame::from_parts(command, headers, body));
        }
        if core.session.state() != State::Connected {
            return err(ErrorKind::NotConnected, "not connected");
        }
        let limit = shared.opts.max_out_bytes;
        // A body as large as the limit goes alone: no more than one such copy waits for the socket.
        let room = |pending: usize| {
            if body.len() >= limit {
                pending == 0
            } else {
                pending < limit
            }
        };
        if !room(core.session.pending_out()) && shared.rt.would_deadlock() {
            return err(
                ErrorKind::QueueFull,
                format!(
                    "{} bytes wait for the socket; on the loop's own thread a send cannot wait \
                     for room: call stomp_loop_process and send again",
                    core.session.pending_out()
                ),
            );
        }
        if !room(core.session.pending_out()) {
            let deadline = Instant::now() + shared.opts.send_timeout;
            core.out_waiters += 1;
            core = wait_until(core, &shared.cv, deadline, |c| {
                room(c.session.pending_out()) || c.session.state() != State::Connected
            })
            .0;
            core.out_waiters -= 1;
            if core.session.state() != State::Connected {
                return err(
                    ErrorKind::NotConnected,
                    "the connection closed while the send waited for room",
                );
            }
            if !room(core.session.pending_out()) {
                return err(
                    ErrorKind::QueueFull,
                    format!(
                        "{} bytes still wait for the socket after {:?}",
                        core.session.pending_out(),
                        shared.opts.send_timeout
                    ),
                );
            }
        }
        core.session.send_parts(command, headers, verbatim, body)?;
        crate::runtime::direct::flush(shared, core);
        Ok(())
    }

    /// Keeps a frame sent while auto-reconnect is under way, to send once the link is back.
    fn hold(shared: &Shared, core: &mut Core, frame: Frame) -> Result<()> {
        if matches!(frame.command, Command::Ack | Command::Nack) {
            return err(
                ErrorKind::Disconnected,
                "the link dropped: the broker will redeliver unacknowledged messages, so there is nothing to ack",
            );
        }
        if frame.command == Command::Disconnect {
            return err(ErrorKind::NotConnected, "not connected (reconnecting)");
        }
        // A transaction the drop aborted: refused now (an ABORT of it is already done).
        if core.session.screen_transaction(&frame)? {
            return Ok(());
        }
        // Refuse now what could not be sent later.
        let mut scratch = Vec::new();
        if core.session.escaping() != core.session.version() {
            crate::proto::escape::refuse_line_breaks(frame.headers(), core.session.version())?;
        }
        crate::proto::encode(
            &frame,
            core.session.escaping(),
            shared.opts.auto_content_length,
            &mut scratch,
        )?;
        if core.held_bytes + scratch.len() > shared.opts.max_out_bytes {
            return err(
                ErrorKind::QueueFull,
                format!(
                    "{} bytes already wait for the link to come back",
                    core.held_bytes
                ),
            );
        }
        // Its receipt is registered when it is really sent: a failed attempt in between must not
        // count it lost (`wait_receipt` looks at the held frames too).
        core.held_bytes += scratch.len();
        core.held.push_back(frame);
        core.session.stats.frames_held += 1;
        Ok(())
    }

    /// SEND. `content_type` becomes `content-type`; `headers` go as given.
    pub fn send(
        &self,
        destination: &str,
        body: &[u8],
        content_type: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<()> {
        let mut all = send_headers(destination, content_type);
        all.extend_from_slice(headers);
        self.send_listed(&all, false, body)
    }

    /// SEND with its header list made: `destination` first, then `content-type` if there is one,
    /// then the application's. A flat list, because the send path walks it several times, and a
    /// slice is cheaper to walk than a chain of iterators. `verbatim` as `proto::encode_parts`
    /// says.
    pub(crate) fn send_listed(
        &self,
        headers: &[(&str, &str)],
        verbatim: bool,
        body: &[u8],
    ) -> Result<()> {
        match headers.first() {
            Some(("destination", d)) if !d.is_empty() => {}
            _ => return err(ErrorKind::InvalidArgument, "the destination is empty"),
        }
        self.send_parts(Command::Send, headers.iter().copied(), verbatim, body)
    }

    /// SUBSCRIBE; returns the subscription id (generated when `id` is `None`).
    pub fn subscribe(
        &self,
        destination: &str,
        id: Option<&str>,
        ack: AckMode,
        headers: &[(&str, &str)],
    ) -> Result<String> {
        if destination.is_empty() {
            return err(ErrorKind::InvalidArgument, "the destination is empty");
        }
        let id = id.map(str::to_owned).unwrap_or_else(new_id);
        let mut f = Frame::new(Command::Subscribe)
            .with("destination", destination)
            .with("id", &id)
            .with("ack", ack.as_str());
        for (n, v) in headers {
            f.set_header(n, v);
        }
        self.send_frame(f)?;
        Ok(id)
    }

    pub fn unsubscribe(&self, id: &str, headers: &[(&str, &str)]) -> Result<()> {
        let mut f = Frame::new(Command::Unsubscribe).with("id", id);
        for (n, v) in headers {
            f.set_header(n, v);
        }
        self.send_frame(f)
    }

    fn ack_frame_for(
        &self,
        cmd: Command,
        id: &str,
        subscription: Option<&str>,
        transaction: Option<&str>,
    ) -> Result<()> {
        if id.is_empty() {
            return err(ErrorKind::InvalidArgument, "the message id is empty");
        }
        let version = self.shared.lock_core().session.version();
        let mut f = Frame::new(cmd);
        match version {
            Version::V1_2 => f.add_header("id", id),
            Version::V1_1 => {
                f.add_header("message-id", id);
                match subscription {
                    Some(s) => f.add_header("subscription", s),
                    None => {
                        return err(
                            ErrorKind::InvalidArgument,
                            "STOMP 1.1 needs the subscription to ack or nack",
                        );
                    }
                }
            }
            Version::V1_0 => {
                if cmd == Command::Nack {
                    return err(ErrorKind::Unsupported, "NACK does not exist in STOMP 1.0");
                }
                f.add_header("message-id", id);
            }
        }
        if let Some(t) = transaction {
            f.add_header("transaction", t);
        }
        self.send_frame(f)
    }

    /// ACK: `id` is the message's `ack` header under 1.2, its `message-id` under 1.0/1.1.
    pub fn ack(
        &self,
        id: &str,
        subscription: Option<&str>,
        transaction: Option<&str>,
    ) -> Result<()> {
        self.ack_frame_for(Command::Ack, id, subscription, transaction)
    }

    pub fn nack(
        &self,
        id: &str,
        subscription: Option<&str>,
        transaction: Option<&str>,
    ) -> Result<()> {
        self.ack_frame_for(Command::Nack, id, subscription, transaction)
    }

    /// The id to ack `msg` with in the negotiated version.
    pub fn ack_id_of<'a>(&self, msg: &'a Frame) -> Option<&'a str> {
        match self.shared.lock_core().session.version() {
            Version::V1_2 => msg.header("ack").or(msg.header("message-id")),
            _ => msg.header("message-id"),
        }
    }

    /// ACK a received MESSAGE, picking its id headers for the negotiated version. A message that came
    /// on a link that has since dropped is not acked (`Disconnected`): the broker redelivers it, and
    /// its old id would make the new link fail.
    pub fn ack_message(&self, msg: &Frame, transaction: Option<&str>) -> Result<()> {
        let id = self.ack_target(msg)?;
        self.ack(id, msg.header("subscription"), transaction)
    }

    pub fn nack_message(&self, msg: &Frame, transaction: Option<&str>) -> Result<()> {
        let id = self.ack_target(msg)?;
        self.nack(id, msg.header("subscription"), transaction)
    }

    fn ack_target<'a>(&self, msg: &'a Frame) -> Result<&'a str> {
        if msg.link != 0 && msg.link != self.shared.lock_core().links {
            return err(
                ErrorKind::Disconnected,
                "the message came on a link that has since dropped; the broker will redeliver it",
            );
        }
        self.ack_id_of(msg)
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "the frame has no id to ack"))
    }

    /// BEGIN; returns the transaction id (generated when `transaction` is `None`).
    pub fn begin(&self, transaction: Option<&str>) -> Result<String> {
        let tx = transaction.map(str::to_owned).unwrap_or_else(new_id);
        if tx.is_empty() {
            return err(ErrorKind::InvalidArgument, "the transaction id is empty");
        }
        self.send_frame(Frame::new(Command::Begin).with("transaction", &tx))?;
        Ok(tx)
    }

    pub fn commit(&self, transaction: &str) -> Result<()> {
        self.send_frame(Frame::new(Command::Commit).with("transaction", transaction))
    }

    pub fn abort(&self, transaction: &str) -> Result<()> {
        self.send_frame(Frame::new(Command::Abort).with("transaction", transaction))
    }

    /// Waits for RECEIPT `receipt_id`. `Disconnected` if the link dropped first (the frame may or may
    /// not have been processed); `ServerError` if the broker answered it with an ERROR frame (one
    /// carrying its `receipt-id`: the frame failed); `NotFound` if no frame asked for it.
    pub fn wait_receipt(&self, receipt_id: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut core = self.shared.lock_core();
        loop {
            match core.session.receipt_status(receipt_id) {
                ReceiptStatus::Received => {
                    core.session.forget_receipt(receipt_id);
                    return Ok(());
                }
                ReceiptStatus::Lost => {
                    core.session.forget_receipt(receipt_id);
                    return err(
                        ErrorKind::Disconnected,
                        format!("the link dropped before receipt {} came", receipt_id),
                    );
                }
                ReceiptStatus::Refused => {
                    let why = core
                        .session
                        .receipt_error(receipt_id)
                        .unwrap_or_default()
                        .to_owned();
                    core.session.forget_receipt(receipt_id);
                    return err(
                        ErrorKind::ServerError,
                        format!(
                            "the broker answered receipt {} with ERROR: {}",
                            receipt_id, why
                        ),
                    );
                }
                ReceiptStatus::Unknown
                    if core
                        .held
                        .iter()
                        .any(|f| f.header("receipt") == Some(receipt_id)) => {} // held: pending
                ReceiptStatus::Unknown => {
                    return err(
                        ErrorKind::NotFound,
                        format!("no frame asked for receipt {}", receipt_id),
                    );
                }
                ReceiptStatus::Pending => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return err(
                    ErrorKind::Timeout,
                    format!("receipt {} did not come within {:?}", receipt_id, timeout),
                );
            }
            self.refuse_on_driver("waiting for a receipt")?;
            core = self
                .shared
                .cv
                .wait_timeout(core, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Graceful close: DISCONNECT with a receipt, wait up to `timeout` for it, close. Stops reconnecting.
    pub fn disconnect(&self, receipt: Option<&str>, timeout: Duration) -> Result<()> {
        if !timeout.is_zero() {
            self.refuse_on_driver("disconnect with a timeout")?;
        }
        let waits = !self.shared.rt.would_deadlock();
        let receipt = receipt.map(str::to_owned).unwrap_or_else(new_id);
        let (open, generation) = {
            let mut core = self.shared.lock_core();
            core.user_closed = true;
            let generation = core.generation;
            match self.shared.phase() {
                Phase::Idle | Phase::Closed => {
                    return err(ErrorKind::NotConnected, "not connected");
                }
                Phase::Open => (true, generation),
                Phase::Connecting | Phase::Reconnecting => (false, generation),
            }
        };
        if !open {
            self.shared
                .rt
                .command(Cmd::Close(self.shared.id, generation));
            return if waits {
                self.wait_phase_closed(Duration::from_secs(5))
            } else {
                Ok(())
            };
        }
        if self.shared.listener_count.load(Ordering::Acquire) > 0 {
            self.shared.rt.push(&self.shared, Dispatch::Disconnecting);
        }
        let sent = self.send_frame(Frame::new(Command::Disconnect).with("receipt", &receipt));
        let result = match sent {
            Ok(()) if !waits => Ok(()),
            Ok(()) => self.wait_receipt(&receipt, timeout),
            Err(e) => Err(e),
        };
        // Whatever came of the receipt, the link goes now.
        if !waits {
            // On the loop's own thread: the DISCONNECT goes out on the next `process`, and the
            // session closes the link when its receipt comes; the listeners hear it there.
            return Ok(());
        }
        if self.shared.phase() != Phase::Closed {
            self.shared
                .rt
                .command(Cmd::Close(self.shared.id, generation));
        }
        self.wait_phase_closed(Duration::from_secs(5))?;
        self.wait_dispatched(timeout);
        match result {
            Ok(()) => Ok(()),
            // The broker may close right after the receipt; that is still a clean end.
            Err(e) if e.kind == ErrorKind::Disconnected => Ok(()),
            Err(e) if e.kind == ErrorKind::NotConnected => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A listener's `on_send` gets a copy of every frame sent: when `max_pending_messages` copies wait
    /// for it (in the session or the dispatch queue), the sender waits (up to the send timeout), so a
    /// fast producer cannot outgrow a slow `on_send`. From one of this connection's own callbacks,
    /// which would wait for itself, the send is refused with QueueFull instead. Returns the core
    /// lock, taken, with room.
    fn lock_core_with_on_send_room(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, crate::runtime::conn::Core>> {
        let shared = &self.shared;
        let limit = shared.opts.max_pending_messages.max(1);
        let mut deadline = None; // read the clock only if a wait comes
        loop {
            let core = shared.lock_core();
            if !core.session.emit_sent {
                return Ok(core);
            }
            let deadline =
                *deadline.get_or_insert_with(|| Instant::now() + shared.opts.send_timeout);
            let queued = core.session.sent_events();
            let d = lock(&shared.dispatch);
            let pending = queued + d.sends;
            if pending < limit {
                drop(d);
                return Ok(core);
            }
            let full = err(
                ErrorKind::QueueFull,
                format!(
                    "{} copies of sent frames wait for on_send callbacks",
                    pending
                ),
            );
            let now = Instant::now();
            if d.running_on == Some(std::thread::current().id())
                || now >= deadline
                || shared.rt.would_deadlock()
            {
                return full;
            }
            drop(core); // the I/O thread needs it to hand the copies on
            // One wake-up (a callback finished), then the room is counted again under `core`.
            let mut woken = false;
            drop(
                shared
                    .wait_dispatch_idle(d, Some(deadline), |_| std::mem::replace(&mut woken, true)),
            );
        }
    }

    /// `WouldDeadlock` for a wait made on the thread that drives this connection's application
    /// loop: nobody else would do the work waited for.
    fn refuse_on_driver(&self, what: &str) -> Result<()> {
        if self.shared.rt.would_deadlock() {
            return err(
                ErrorKind::WouldDeadlock,
                format!(
                    "{} on the thread that drives the connection's loop would wait for itself: \
                     use the non-waiting form and stomp_loop_process",
                    what
                ),
            );
        }
        Ok(())
    }

    /// Waits (up to `timeout`) until the listeners have heard every event so far, so that
    /// `on_disconnected` has run when `disconnect` returns. From inside one of this connection's own
    /// callbacks that would wait for itself, so it does not wait there.
    fn wait_dispatched(&self, timeout: Duration) {
        let shared = &self.shared;
        let me = std::thread::current().id();
        let deadline = Instant::now() + timeout;
        let d = lock(&shared.dispatch);
        drop(shared.wait_dispatch_idle(d, Some(deadline), |d| {
            !d.scheduled || d.running_on == Some(me)
        }));
    }

    fn wait_phase_closed(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let core = self.shared.lock_core();
        let (_core, closed) = wait_until(core, &self.shared.cv, deadline, |_| {
            self.shared.phase() == Phase::Closed
        });
        if closed {
            Ok(())
        } else {
            err(ErrorKind::Timeout, "the link did not close in time")
        }
    }

    /// The next MESSAGE from the receive queue (when it is on).
    pub fn receive(&self, timeout: Duration) -> Result<Frame> {
        let cap = self.shared.opts.receive_queue;
        if cap == 0 {
            return err(
                ErrorKind::QueueOff,
                "the receive queue is off: set its capacity in the options",
            );
        }
        let deadline = Instant::now() + timeout;
        let q = &self.shared.recv;
        loop {
            // Read before the pop: the loop queues a link's last messages before it marks the
            // connection Closed, so after a Closed seen here the pop finds every one of them.
            let closed = self.shared.phase() == Phase::Closed;
            if let Some((f, len, bytes)) = q.pop() {
                // Reading resumes at the low-water mark, so the queue refills in batches.
                let low =
                    len <= cap / 2 && bytes <= self.shared.opts.receive_queue_bytes.max(1) / 2;
                if low && self.shared.paused.load(Ordering::SeqCst) {
                    self.shared.rt.command(Cmd::Resume(self.shared.id));
                }
                // Copied out of the chunk it was read into, here on the receiving thread: a frame
                // the application keeps holds only its own bytes.
                return Ok(f.detached());
            }
            if closed {
                return err(
                    ErrorKind::Closed,
                    "the connection is closed and no message is left",
                );
            }
            if Instant::now() >= deadline {
                return err(
                    ErrorKind::Timeout,
                    format!("no message within {:?}", timeout),
                );
            }
            self.refuse_on_driver("receive with a timeout")?;
            q.wait(deadline, || self.shared.phase() == Phase::Closed);
        }
    }

    /// Messages waiting in the receive queue.
    pub fn queued(&self) -> usize {
        self.shared.recv.queued()
    }

    /// Active subscriptions: (id, destination, ack mode).
    pub fn subscriptions(&self) -> Vec<(String, String, String)> {
        let core = self.shared.lock_core();
        core.session
            .subscriptions()
            .map(|(id, s)| {
                (
                    id.to_owned(),
                    s.frame.header("destination").unwrap_or("").to_owned(),
                    s.ack_mode().to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for Connection {
    /// Closes the link without DISCONNECT, and makes sure no callback runs after this returns (unless
    /// dropped from inside one of its own callbacks, which then finishes normally). It waits for a
    /// callback running on another thread however long that takes: returning earlier would let that
    /// callback use `user_data` after `stomp_connection_free` said it was safe to free. The library's
    /// own state cannot hold it: the dispatcher clears `running_on` when the callback returns.
    fn drop(&mut self) {
        let shared = &self.shared;
        {
            let mut core = shared.lock_core();
            core.user_closed = true;
        }
        shared.released.store(true, Ordering::Release);
        *lock(&shared.listeners) = Arc::new(Vec::new());
        shared.listener_count.store(0, Ordering::Release);
        shared.listener_generation.fetch_add(1, Ordering::Release);
        self.shared.rt.command(Cmd::Release(shared.id));
        let me = std::thread::current().id();
        let d = lock(&shared.dispatch);
        drop(shared.wait_dispatch_idle(d, None, |d| {
            d.running_on.is_none() || d.running_on == Some(me)
        }));
    }
}

#[cfg(test)]
mod receive_race_tests {
    use super::*;
    use crate::proto::Command;

    /// The loop queues a link's last messages, then marks it Closed. A receiver whose `pop` found
    /// the queue empty just before the push, and which then reads the phase just after Closed, must
    /// not say "closed and no message is left" while a message is queued.
    #[test]
    fn receive_does_not_report_closed_while_a_message_is_queued() {
        let mut o = Options::new().host("127.0.0.1", 1);
        o.receive_queue = 16;
        let c = Connection::new(o).unwrap();
        let shared = c.shared.clone();
        let go = Arc::new(AtomicUsize::new(0));
        let pusher = {
            let (s, go) = (shared.clone(), go.clone());
            std::thread::spawn(move || {
                let mut round = 1;
                loop {
                    let g = go.load(Ordering::Acquire);
                    if g == usize::MAX {
                        return;
                    }
                    if g != round {
                        std::hint::spin_loop();
                        continue;
                    }
                    // A varying delay, so that the push lands at varying points of `receive`.
                    for _ in 0..(round * 7919) % 400 {
                        std::hint::spin_loop();
                    }
                    s.recv.push(std::iter::once(Frame::new(Command::Message)));
                    s.set_phase(Phase::Closed);
                    s.recv.wake_locked();
                    go.store(round + 1_000_000_000, Ordering::Release);
                    round += 1;
                }
            })
        };
        let mut bad = 0;
        for round in 1..=30_000usize {
            shared.set_phase(Phase::Open);
            go.store(round, Ordering::Release);
            let r = c.receive(Duration::from_secs(5));
            while go.load(Ordering::Acquire) != round + 1_000_000_000 {
                std::hint::spin_loop();
            }
            if let Err(e) = r {
                assert_eq!(e.kind, ErrorKind::Closed);
                if c.queued() > 0 {
                    bad += 1;
                }
            }
            while shared.recv.pop().is_some() {}
        }
        go.store(usize::MAX, Ordering::Release);
        pusher.join().unwrap();
        assert_eq!(
            bad, 0,
            "rounds where receive said Closed with a message queued"
        );
    }
}
