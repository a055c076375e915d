//! The connection state machine, sans IO: no sockets, no clock, no threads.
//!
//! Inputs are `start`, `send`, `handle_bytes(now)`, `handle_timeout(now)` and `transport_closed`;
//! outputs are `take_transmit`/`transmitted` (bytes for the socket), `poll_event` (what the
//! application hears) and `poll_timeout` (when `handle_timeout` must next be called). Time is passed in,
//! so heart-beats and timeouts are tested with simulated time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::codec::{Decoded, Decoder, Limits, Progress, encode_parts};
use super::frame::{Command, Frame, MASKED, Version, shown_value};
use crate::error::{Error, ErrorKind, Result, err};

/// Bytes decoded past a spent message budget (see `Session::ahead`): about one read.
pub const LOOKAHEAD: usize = 64 << 10;

/// What the session is told once, when it is made.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub limits: Limits,
    pub auto_content_length: bool,
    /// Incoming silence tolerated, as a multiple of the negotiated receive interval.
    pub heartbeat_receive_scale: f64,
    /// Most bytes queued for the socket before `send` answers `QueueFull`.
    pub max_out_bytes: usize,
    /// Completed receipts remembered for `receipt_status` after they arrive.
    pub receipt_memory: usize,
    /// A frame's head must arrive whole within this of its first byte; and it is the window over
    /// which a body's rate is judged. Zero: no time limits on frames.
    pub frame_timeout: Duration,
    /// Bytes per second a body must keep up, judged over each `frame_timeout` window; 0: no limit.
    pub frame_min_rate: u32,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig {
            limits: Limits::default(),
            auto_content_length: true,
            heartbeat_receive_scale: 1.5,
            max_out_bytes: 8 << 20,
            receipt_memory: 4096,
            frame_timeout: Duration::from_secs(10),
            frame_min_rate: 1024,
        }
    }
}

/// What a CONNECT says.
#[derive(Clone, Default)]
pub struct ConnectParams {
    /// The highest version asked for; lower ones are offered too.
    pub version: Option<Version>,
    pub login: Option<String>,
    pub passcode: Option<String>,
    /// The `host` header when set (RabbitMQ: the vhost).
    pub vhost: Option<String>,
    /// The name of the host the transport reached: the `host` header under 1.2 when no vhost is set.
    pub host_name: String,
    /// (send, receive) heart-beat intervals offered, in milliseconds.
    pub heartbeats: (u32, u32),
    pub headers: Vec<(String, String)>,
    /// Open with `STOMP` instead of `CONNECT` (1.1 and later).
    pub use_stomp_command: bool,
    /// Give up waiting for CONNECTED after this long.
    pub connected_timeout: Option<Duration>,
}

/// The passcode is masked: debug output ends up in logs.
impl std::fmt::Debug for ConnectParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectParams")
            .field("version", &self.version)
            .field("login", &self.login)
            .field("passcode", &self.passcode.as_ref().map(|_| MASKED))
            .field("vhost", &self.vhost)
            .field("host_name", &self.host_name)
            .field("heartbeats", &self.heartbeats)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, v)| (n, shown_value(n, v)))
                    .collect::<Vec<_>>(),
            )
            .field("use_stomp_command", &self.use_stomp_command)
            .field("connected_timeout", &self.connected_timeout)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No transport.
    Idle,
    /// CONNECT sent, CONNECTED awaited.
    Connecting,
    Connected,
    /// DISCONNECT sent, its receipt awaited.
    Disconnecting,
    /// The transport must close (or has).
    Closed,
}

/// What a receipt has come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptStatus {
    Pending,
    Received,
    /// The link dropped before it came: the frame may or may not have been processed.
    Lost,
    /// The broker answered with an ERROR frame carrying this `receipt-id` (the frame failed; the
    /// error's text is `receipt_error`).
    Refused,
    /// Never asked for (or forgotten long ago).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Connected(Frame),
    Message(Frame),
    Receipt(Frame),
    Error(Frame),
    /// A frame went to the transport buffer (only when `emit_sent` is on).
    Sent(Frame),
    Heartbeat,
    HeartbeatTimeout,
    /// The transport must close; `None` for a clean end (DISCONNECT receipt).
    Closed(Option<Error>),
}

/// An active subscription, remembered to re-subscribe after a reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub frame: Frame,
}

impl Subscription {
    pub fn ack_mode(&self) -> &str {
        self.frame.header("ack").unwrap_or("auto")
    }
}

/// The time limits' view of the frame being read.
#[derive(Debug, Clone, Copy)]
struct FrameClock {
    /// When its first byte was seen.
    started: Instant,
    /// Once the head is read: when the current rate window began, and the body bytes then.
    window: Option<(Instant, usize)>,
}

pub struct Session {
    config: SessionConfig,
    /// The frame being read, for its time limits; `None` between frames.
    frame_clock: Option<FrameClock>,
    state: State,
    decoder: Decoder,
    version: Version,
    /// Whose escaping rules the broker applies to what it reads: the negotiated version, except that
    /// under 1.0 RabbitMQ and ActiveMQ Classic both decode 1.1 escapes (seen: `\c` arrives as `:`,
    /// and a raw backslash is eaten or, on RabbitMQ, fatal), so the library escapes for them as 1.1 does.
    escaping: Version,
    /// Whose escaping the broker applies to what it writes: under 1.0 RabbitMQ escapes as 1.1 does
    /// (a `:` arrives as `\c`); ActiveMQ writes 1.0 headers raw.
    unescaping: Version,
    requested: Version,
    connected: Option<Frame>,
    out: Vec<u8>,
    /// Bytes taken by the driver and not yet reported written.
    in_flight: usize,
    events: VecDeque<Event>,
    /// Negotiated intervals; zero when off.
    send_interval: Duration,
    recv_interval: Duration,
    last_write: Instant,
    /// No byte has come since CONNECTED yet: the first heart-beat gets one more interval, as
    /// ActiveMQ sends its first only two intervals after CONNECTED (seen here: at 2.0 s for 1 s).
    awaiting_first_beat: bool,
    last_read: Instant,
    read_paused: bool,
    /// The (send, receive) intervals offered in CONNECT.
    offered: (u32, u32),
    connected_deadline: Option<Instant>,
    receipts: HashMap<String, ReceiptStatus>,
    /// Finished receipts in the order they finished, to forget the oldest.
    receipts_done: VecDeque<String>,
    /// The text of the ERROR frames that answered a receipt (`ReceiptStatus::Refused`).
    receipt_errors: HashMap<String, String>,
    disconnect_receipt: Option<String>,
    subscriptions: Vec<(String, Subscription)>,
    transactions: HashSet<String>,
    /// Transactions that were open when a link dropped: the broker aborted them.
    dropped_transactions: VecDeque<String>,
    /// How many more MESSAGE frames may be handed on before the application makes room; frames past
    /// that wait in `ahead`, so the application's queues stay bounded.
    message_budget: usize,
    /// How many more bytes of MESSAGE frames (`Frame::size`) may be handed on: a message goes while
    /// some of it is left, so the application's queues exceed their byte bound by one frame at most.
    byte_budget: usize,
    /// Frames decoded past the message budget, in order, not yet handled: the bytes behind a full
    /// queue are still decoded (up to `LOOKAHEAD` bytes) so that what ends the link (malformed bytes,
    /// an oversized frame, the broker closing) is seen while the application's queues are full,
    /// rather than only once they are drained, which an application consuming through its listener
    /// alone never does.
    ahead: VecDeque<Decoded>,
    /// Bytes of the stream that `ahead` took up.
    ahead_bytes: usize,
    /// Emit `Event::Sent` for each frame queued (costs a clone; on only when someone listens).
    pub emit_sent: bool,
    /// `Event::Sent` events not yet polled (each holds a copy of a frame).
    sent_events: usize,
    /// Emit `Event::Heartbeat` for each heart-beat read.
    pub emit_heartbeat: bool,
    /// What this connection has done, counted as it happens (see `crate::stats`).
    pub stats: crate::stats::Stats,
    /// This connection's log: frames at trace, heart-beats at debug, links at info and warn.
    pub log: crate::log::SessionLog,
}

impl Session {
    pub fn new(config: SessionConfig, now: Instant) -> Session {
        Session {
            frame_clock: None,
            decoder: Decoder::new(config.limits),
            config,
            state: State::Idle,
            version: Version::V1_0,
            escaping: Version::V1_0,
            unescaping: Version::V1_0,
            requested: Version::V1_2,
            connected: None,
            out: Vec::new(),
            in_flight: 0,
            events: VecDeque::new(),
            send_interval: Duration::ZERO,
            recv_interval: Duration::ZERO,
            last_write: now,
            last_read: now,
            awaiting_first_beat: false,
            read_paused: false,
            offered: (0, 0),
            connected_deadline: None,
            receipts: HashMap::new(),
            receipts_done: VecDeque::new(),
            receipt_errors: HashMap::new(),
            disconnect_receipt: None,
            subscriptions: Vec::new(),
            transactions: HashSet::new(),
            dropped_transactions: VecDeque::new(),
            message_budget: usize::MAX,
            byte_budget: usize::MAX,
            ahead: VecDeque::new(),
            ahead_bytes: 0,
            emit_sent: false,
            sent_events: 0,
            emit_heartbeat: false,
            stats: Default::default(),
            log: Default::default(),
        }
    }

    /// How many more MESSAGEs may be handed on; zero while frames wait in `ahead`.
    pub fn message_budget(&self) -> usize {
        if self.ahead.is_empty() && self.byte_budget > 0 {
            self.message_budget
        } else {
            0
        }
    }

    /// Whether the driver should read more: yes while the budget lasts, and past it until `LOOKAHEAD`
    /// bytes wait behind it (so memory stays bounded while errors behind a full queue are still seen).
    pub fn wants_read(&self) -> bool {
        self.message_budget() > 0 || self.ahead_bytes + self.decoder.buffered() < LOOKAHEAD
    }

    /// Sets how many more MESSAGE frames may be handed on (see `message_budget`).
    pub fn set_message_budget(&mut self, n: usize) {
        self.message_budget = n;
    }

    /// Sets how many more bytes of MESSAGE frames may be handed on (see `byte_budget`).
    pub fn set_byte_budget(&mut self, bytes: usize) {
        self.byte_budget = bytes;
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The negotiated version (the requested one until CONNECTED says otherwise).
    /// The version whose escaping the broker applies (see `escaping`); what `encode` takes.
    pub fn escaping(&self) -> Version {
        self.escaping
    }

    pub fn version(&self) -> Version {
        if self.connected.is_some() {
            self.version
        } else {
            self.requested
        }
    }

    /// The CONNECTED frame of the current (or last) connection.
    pub fn connected_frame(&self) -> Option<&Frame> {
        self.connected.as_ref()
    }

    /// Negotiated (send, receive) heart-beat intervals; zero when off.
    pub fn heartbeat_intervals(&self) -> (Duration, Duration) {
        (self.send_interval, self.recv_interval)
    }

    pub fn subscriptions(&self) -> impl Iterator<Item = (&str, &Subscription)> {
        self.subscriptions.iter().map(|(id, s)| (id.as_str(), s))
    }

    pub fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, s)| s)
    }

    pub fn open_transactions(&self) -> impl Iterator<Item = &str> {
        self.transactions.iter().map(String::as_str)
    }

    /// Starts a connection on a fresh transport: queues CONNECT (or STOMP). With `resubscribe`, every
    /// remembered subscription is sent again once CONNECTED arrives.
    pub fn start(&mut self, params: &ConnectParams, now: Instant) -> Result<()> {
        let requested = params.version.unwrap_or(Version::V1_2);
        let mut f = Frame::new(if params.use_stomp_command && requested > Version::V1_0 {
            Command::Stomp
        } else {
            Command::Connect
        });
        if requested > Version::V1_0 {
            f.add_header("accept-version", requested.accept_versions());
        }
        // Where the host header goes, as stomp.py does it: always under 1.2 (it is required there),
        // otherwise only when a vhost is given (RabbitMQ refuses names that are not vhosts).
        match (&params.vhost, requested) {
            (Some(v), _) => f.add_header("host", v),
            (None, Version::V1_2) => f.add_header("host", &params.host_name),
            _ => {}
        }
        if let Some(l) = &params.login {
            f.add_header("login", l);
        }
        if let Some(p) = &params.passcode {
            f.add_header("passcode", p);
        }
        if requested > Version::V1_0 && params.heartbeats != (0, 0) {
            f.add_header(
                "heart-beat",
                &format!("{},{}", params.heartbeats.0, params.heartbeats.1),
            );
        }
        for (n, v) in &params.headers {
            f.set_header(n, v);
        }
        self.decoder.reset();
        self.ahead.clear();
        self.ahead_bytes = 0;
        self.frame_clock = None;
        self.out.clear();
        self.in_flight = 0;
        self.requested = requested;
        self.connected = None;
        self.version = Version::V1_0;
        self.escaping = Version::V1_0;
        self.unescaping = Version::V1_0;
        self.send_interval = Duration::ZERO;
        self.recv_interval = Duration::ZERO;
        self.read_paused = false;
        self.disconnect_receipt = None;
        self.last_write = now;
        self.last_read = now;
        self.connected_deadline = params.connected_timeout.map(|t| now + t);
        self.offered = params.heartbeats;
        self.state = State::Connecting;
        self.log.set_secret(params.passcode.as_deref());
        self.queue_frame(f)
    }

    /// Queues an application frame. Tracks receipts, subscriptions and transactions as they go out.
    pub fn send(&mut self, frame: Frame) -> Result<()> {
        self.send_parts(frame.command, frame.headers(), false, frame.body())
    }

    /// `send` from borrowed parts: encoded straight into the output buffer, no frame built (a SEND
    /// allocates nothing here unless it asks for a receipt). `verbatim` as `encode_parts` says.
    pub fn send_parts<'a, H>(
        &mut self,
        command: Command,
        headers: H,
        verbatim: bool,
        body: &[u8],
    ) -> Result<()>
    where
        H: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        match self.state {
            State::Connected => {}
            State::Disconnecting => {
                return err(ErrorKind::NotConnected, "the connection is disconnecting");
            }
            _ => return err(ErrorKind::NotConnected, "not connected"),
        }
        if command == Command::Nack && self.version == Version::V1_0 {
            return err(ErrorKind::Unsupported, "NACK does not exist in STOMP 1.0");
        }
        if matches!(command, Command::Connect | Command::Stomp) || !is_client_command(command) {
            return err(
                ErrorKind::InvalidArgument,
                format!(
                    "{} is not a frame a client sends on an open connection",
                    command
                ),
            );
        }
        // The headers the session acts on, first of each name (one pass over the list).
        let (mut transaction, mut receipt) = (None, None);
        for (name, value) in headers.clone() {
            match name {
                "transaction" => transaction = transaction.or(Some(value)),
                "receipt" => receipt = receipt.or(Some(value)),
                _ => {}
            }
        }
        if self.screen_transaction_parts(command, transaction)? {
            return Ok(());
        }
        let pending = self.pending_out();
        if pending >= self.config.max_out_bytes {
            return err(
                ErrorKind::QueueFull,
                format!("{} bytes already wait for the socket", pending),
            );
        }
        self.queue_parts(command, headers.clone(), verbatim, body)?;
        // What the session must remember of the frame (nothing but a receipt for a plain SEND).
        if let Some(r) = receipt {
            self.receipts.insert(r.to_owned(), ReceiptStatus::Pending);
        }
        if command != Command::Send {
            self.track(Frame::from_parts(command, headers, &[]));
        }
        Ok(())
    }

    /// A frame of a transaction the broker aborted when the link dropped: its ABORT needs no sending
    /// (`Ok(true)`: skip it), anything else is refused with `Disconnected` (a COMMIT also ends it).
    /// `Ok(false)`: the frame is not concerned. Checked on send and when a frame is held for a
    /// reconnect, so that a commit made while reconnecting is refused at once, not dropped later.
    pub fn screen_transaction(&mut self, frame: &Frame) -> Result<bool> {
        self.screen_transaction_parts(frame.command, frame.header("transaction"))
    }

    fn screen_transaction_parts(&mut self, command: Command, tx: Option<&str>) -> Result<bool> {
        let Some(tx) = tx else {
            return Ok(false);
        };
        if !self.dropped_transactions.iter().any(|t| t == tx) {
            return Ok(false);
        }
        if command == Command::Abort {
            // Already aborted by the broker; nothing to send.
            self.dropped_transactions.retain(|t| t != tx);
            return Ok(true);
        }
        if command == Command::Commit {
            self.dropped_transactions.retain(|t| t != tx);
        }
        err(
            ErrorKind::Disconnected,
            format!(
                "transaction {} was aborted when the link dropped; begin a new one and send again",
                tx
            ),
        )
    }

    /// A new connection by the application: transactions of earlier ones are forgotten.
    pub fn clear_dropped_transactions(&mut self) {
        self.dropped_transactions.clear();
    }

    /// Bytes waiting to be written to the socket.
    pub fn pending_out(&self) -> usize {
        self.out.len() + self.in_flight
    }

    fn track(&mut self, f: Frame) {
        match f.command {
            Command::Subscribe => {
                if let Some(id) = f
                    .header("id")
                    .or(f.header("destination"))
                    .map(str::to_owned)
                {
                    self.subscriptions.retain(|(i, _)| *i != id);
                    self.subscriptions.push((id, Subscription { frame: f }));
                }
            }
            Command::Unsubscribe => {
                if let Some(id) = f.header("id").or(f.header("destination")) {
                    self.subscriptions.retain(|(i, _)| i != id);
                }
            }
            Command::Begin => {
                if let Some(t) = f.header("transaction") {
                    self.transactions.insert(t.to_owned());
                }
            }
            Command::Commit | Command::Abort => {
                if let Some(t) = f.header("transaction") {
                    self.transactions.remove(t);
                }
            }
            Command::Disconnect => {
                self.disconnect_receipt = f.header("receipt").map(str::to_owned);
                self.state = if self.disconnect_receipt.is_some() {
                    State::Disconnecting
                } else {
                    State::Closed
                };
                if self.state == State::Closed {
                    self.events.push_back(Event::Closed(None));
                }
            }
            _ => {}
        }
    }

    fn queue_frame(&mut self, frame: Frame) -> Result<()> {
        self.queue_parts(frame.command, frame.headers(), false, frame.body())
    }

    fn queue_parts<'a>(
        &mut self,
        command: Command,
        headers: impl Iterator<Item = (&'a str, &'a str)> + Clone,
        verbatim: bool,
        body: &[u8],
    ) -> Result<()> {
        if self.escaping != self.version {
            // Still 1.0 for the application: what 1.0 cannot carry is refused on every broker.
            super::escape::refuse_line_breaks(headers.clone(), self.version)?;
        }
        encode_parts(
            command,
            headers.clone(),
            verbatim,
            body,
            self.escaping,
            self.config.auto_content_length,
            &mut self.out,
        )?;
        self.stats.frame_sent(command);
        self.log
            .frame(crate::log::Dir::Out, command, headers.clone(), body);
        if self.emit_sent {
            // The copy for on_send waits in queues and reaches application code: its passcode is
            // masked, so the secret lives no longer than the CONNECT's own bytes.
            let shown = headers.into_iter().map(|(n, v)| (n, shown_value(n, v)));
            self.sent_events += 1;
            self.events
                .push_back(Event::Sent(Frame::from_parts(command, shown, body)));
        }
        Ok(())
    }

    /// Whether bytes wait to be taken by `take_transmit`.
    pub fn has_transmit(&self) -> bool {
        !self.out.is_empty()
    }

    /// Moves every byte waiting for the socket into `into`, which must be empty (its allocation
    /// becomes the next output buffer, so the two alternate and neither is copied). The bytes count
    /// as pending until `transmitted` says they were written: the driver writes them with no lock
    /// held while the application goes on queueing frames.
    pub fn take_transmit(&mut self, into: &mut Vec<u8>) -> usize {
        debug_assert!(into.is_empty());
        std::mem::swap(&mut self.out, into);
        self.in_flight += into.len();
        into.len()
    }

    /// `take_transmit` by a copy: the output buffer stays where it is. For a few bytes taken by a
    /// sending thread, whose own buffer stays small, so that a buffer a burst grew is neither handed
    /// to a thread that frees it nor grown again from a small one (page faults, copies).
    pub fn copy_transmit(&mut self, into: &mut Vec<u8>) -> usize {
        debug_assert!(into.is_empty());
        into.extend_from_slice(&self.out);
        self.out.clear();
        self.in_flight += into.len();
        into.len()
    }

    /// `n` bytes taken by `take_transmit` reached the socket.
    pub fn transmitted(&mut self, n: usize, now: Instant) {
        debug_assert!(n <= self.in_flight);
        self.in_flight -= n.min(self.in_flight);
        self.stats.bytes_sent += n as u64;
        if n > 0 {
            self.last_write = now;
        }
    }

    /// Stop (or resume) counting incoming silence: the driver stops reading when the application's
    /// queues are full, and silence it chose cannot be blamed on the broker.
    pub fn set_read_paused(&mut self, paused: bool, now: Instant) {
        if self.read_paused && !paused {
            self.last_read = now;
            // Nor can a frame that stopped arriving while we did not read.
            if let Some(c) = self.frame_clock.as_mut() {
                c.started = now;
                if let Some(w) = c.window.as_mut() {
                    w.0 = now;
                }
            }
        }
        self.read_paused = paused;
    }

    /// Where the transport's next read goes (no copy between the socket and the decoder); report
    /// what was read with `handle_read`.
    pub fn read_buf(&mut self) -> &mut [u8] {
        self.decoder.read_buf()
    }

    /// `n` bytes were read into `read_buf`.
    pub fn handle_read(&mut self, n: usize, now: Instant) {
        self.received(n, now, |d| d.filled(n));
    }

    /// Bytes from the transport (empty: just decode what is buffered, after the budget grew).
    pub fn handle_bytes(&mut self, bytes: &[u8], now: Instant) {
        self.received(bytes.len(), now, |d| d.push(bytes));
    }

    /// `n` bytes arrived (`put` hands them to the decoder): decode what they complete, and send a
    /// heart-beat that is nearly due while the link is awake.
    fn received(&mut self, n: usize, now: Instant, put: impl FnOnce(&mut Decoder)) {
        self.stats.bytes_received += n as u64;
        if matches!(self.state, State::Idle | State::Closed) {
            return;
        }
        if n > 0 {
            put(&mut self.decoder);
            self.heard(now);
        }
        self.decode(now);
        if n > 0 {
            self.beat_early(now);
        }
    }

    fn heard(&mut self, now: Instant) {
        self.last_read = now;
        if self.state == State::Connected {
            self.awaiting_first_beat = false;
        }
    }

    fn decode(&mut self, now: Instant) {
        self.release_ahead(false, now);
        loop {
            if self.state == State::Closed || !self.wants_read_ahead() {
                return;
            }
            let before = self.decoder.buffered();
            match self.decoder.next() {
                Ok(Some(d)) => {
                    self.frame_clock = None;
                    if self.message_budget() == 0 {
                        self.ahead_bytes += before - self.decoder.buffered();
                        self.ahead.push_back(d);
                    } else {
                        self.handle_decoded(d, now);
                    }
                }
                Ok(None) => return self.track_frame(now),
                Err(e) => {
                    // What was decoded before the error still reaches the application, past its
                    // budget (at most `LOOKAHEAD` bytes of it): the link is ending anyway.
                    self.release_ahead(true, now);
                    let what = if e.kind == ErrorKind::TooLarge {
                        "a frame over a limit"
                    } else {
                        "a malformed frame"
                    };
                    self.close(Some(Error::new(
                        e.kind,
                        format!("the broker sent {}: {}", what, e.message),
                    )));
                    return;
                }
            }
        }
    }

    /// Notes how far the frame being read has come: when it began, and whether its body met the
    /// rate of the current window (which then starts again).
    fn track_frame(&mut self, now: Instant) {
        let progress = self.decoder.progress();
        let quota = self.body_quota();
        let clock = match (progress, self.frame_clock.as_mut()) {
            (Progress::Idle, _) => {
                self.frame_clock = None;
                return;
            }
            (_, Some(c)) => c,
            (_, None) => self.frame_clock.insert(FrameClock {
                started: now,
                window: None,
            }),
        };
        if let Progress::Body(received) = progress {
            let (_, at) = *clock.window.get_or_insert((now, 0));
            if received.saturating_sub(at) >= quota.max(1) {
                clock.window = Some((now, received));
            }
        }
    }

    /// Body bytes each `frame_timeout` window must bring.
    fn body_quota(&self) -> usize {
        (self.config.frame_min_rate as f64 * self.config.frame_timeout.as_secs_f64()).ceil()
            as usize
    }

    /// When the frame being read breaks a time limit, unless more of it comes first.
    fn frame_deadline(&self) -> Option<Instant> {
        let c = self.frame_clock.as_ref()?;
        if self.read_paused || self.config.frame_timeout.is_zero() {
            return None;
        }
        match c.window {
            None => Some(c.started + self.config.frame_timeout),
            Some(_) if self.config.frame_min_rate == 0 => None,
            Some((since, _)) => Some(since + self.config.frame_timeout),
        }
    }

    /// The error for a frame past its deadline (see `frame_deadline`).
    fn frame_too_slow(&self, now: Instant) -> Error {
        let ms = self.config.frame_timeout.as_millis();
        match (
            self.frame_clock.and_then(|c| c.window),
            self.decoder.progress(),
        ) {
            (Some((since, at)), Progress::Body(received)) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "a frame's body came too slowly: {} bytes in {} ms ({} so far), under the minimum \
                     rate of {} bytes/s over {} ms (frame_min_rate, frame_timeout)",
                    received.saturating_sub(at),
                    (now - since).as_millis(),
                    received,
                    self.config.frame_min_rate,
                    ms
                ),
            ),
            (_, progress) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "a frame's head did not arrive whole within the frame timeout of {} ms of its \
                     first byte ({} bytes of it after {} ms)",
                    ms,
                    match progress {
                        Progress::Head(n) => n,
                        _ => 0,
                    },
                    self.frame_clock
                        .map_or(0, |c| (now - c.started).as_millis())
                ),
            ),
        }
    }

    /// Decoding on past a spent budget stops at `LOOKAHEAD` bytes.
    fn wants_read_ahead(&self) -> bool {
        self.message_budget() > 0 || self.ahead_bytes < LOOKAHEAD
    }

    /// Hands on the frames decoded ahead, while the budget allows (`all`: regardless, the link ends).
    fn release_ahead(&mut self, all: bool, now: Instant) {
        while self.state != State::Closed {
            let is_message = matches!(self.ahead.front(), Some(Decoded::Frame(f)) if f.command == Command::Message);
            if is_message && (self.message_budget == 0 || self.byte_budget == 0) && !all {
                return;
            }
            let Some(d) = self.ahead.pop_front() else {
                self.ahead_bytes = 0;
                return;
            };
            self.handle_decoded(d, now);
        }
    }

    fn handle_decoded(&mut self, d: Decoded, now: Instant) {
        match d {
            Decoded::Heartbeat => {
                self.stats.heartbeats_received += 1;
                self.log.beat_in(now);
                if self.emit_heartbeat {
                    self.events.push_back(Event::Heartbeat);
                }
            }
            Decoded::Frame(f) => self.handle_frame(f, now),
        }
    }

    fn handle_frame(&mut self, f: Frame, now: Instant) {
        self.stats.frame_received(f.command);
        self.log
            .frame(crate::log::Dir::In, f.command, f.headers(), f.body());
        match (self.state, f.command) {
            (State::Connecting, Command::Connected) => {
                let version = match f.header("version") {
                    None => Version::V1_0,
                    Some(v) => match Version::parse(v) {
                        Some(v) if v <= self.requested => v,
                        _ => {
                            self.close(Some(Error::new(
                                ErrorKind::Protocol,
                                format!("the broker chose version {:?}, which was not offered", v),
                            )));
                            return;
                        }
                    },
                };
                self.version = version;
                let server = f.header("server").unwrap_or("");
                let (rabbit, activemq) = (
                    server.starts_with("RabbitMQ/"),
                    server.starts_with("ActiveMQ/"),
                );
                let v10 = version == Version::V1_0;
                self.escaping = if v10 && (rabbit || activemq) {
                    Version::V1_1
                } else {
                    version
                };
                self.unescaping = if v10 && rabbit {
                    Version::V1_1
                } else {
                    version
                };
                self.decoder.set_version(self.unescaping);
                if version > Version::V1_0 {
                    let (sx, sy) = parse_heartbeat(f.header("heart-beat"));
                    let (cx, cy) = self.offered;
                    self.send_interval = negotiate(cx, sy);
                    self.recv_interval = negotiate(cy, sx);
                }
                self.awaiting_first_beat = true;
                self.last_read = now;
                self.last_write = now;
                self.connected_deadline = None;
                self.state = State::Connected;
                self.connected = Some(f.clone());
                self.stats.connections += 1;
                self.log.link_opened();
                self.log.say(
                    crate::log::Level::Info,
                    format_args!(
                        "connected: STOMP {}, server {:?}, heart-beats: send every {} ms, expect every {} ms",
                        version.as_str(),
                        server,
                        self.send_interval.as_millis(),
                        self.recv_interval.as_millis()
                    ),
                );
                self.events.push_back(Event::Connected(f));
            }
            (State::Connecting, Command::Error) => {
                let msg = error_text(&f);
                self.events.push_back(Event::Error(f));
                self.close(Some(Error::new(
                    ErrorKind::Refused,
                    format!("the broker refused the connection: {}", msg),
                )));
            }
            (State::Connecting, other) => {
                self.close(Some(Error::new(
                    ErrorKind::Protocol,
                    format!("expected CONNECTED, the broker sent {}", other),
                )));
            }
            (_, Command::Message) => {
                self.message_budget = self.message_budget.saturating_sub(1);
                self.byte_budget = self.byte_budget.saturating_sub(f.size());
                self.events.push_back(Event::Message(f));
            }
            (_, Command::Receipt) => {
                let id = f.header("receipt-id").unwrap_or_default().to_owned();
                self.finish_receipt(&id, ReceiptStatus::Received);
                let ends = self.disconnect_receipt.as_deref() == Some(id.as_str());
                self.events.push_back(Event::Receipt(f));
                if ends {
                    self.close(None);
                }
            }
            (_, Command::Error) => {
                // An ERROR caused by a frame that asked for a receipt carries its `receipt-id`
                // (STOMP 1.2, ERROR): that receipt will never come, so it ends here, refused.
                if let Some(id) = f.header("receipt-id")
                    && self.receipts.get(id) == Some(&ReceiptStatus::Pending)
                {
                    let id = id.to_owned();
                    self.receipt_errors.insert(id.clone(), error_text(&f));
                    self.finish_receipt(&id, ReceiptStatus::Refused);
                }
                self.log.error_frame(&f);
                self.events.push_back(Event::Error(f))
            }
            (_, other) => {
                self.close(Some(Error::new(
                    ErrorKind::Protocol,
                    format!("the broker sent {}, which only clients send", other),
                )));
            }
        }
    }

    fn finish_receipt(&mut self, id: &str, status: ReceiptStatus) {
        if let Some(s) = self.receipts.get_mut(id)
            && *s == ReceiptStatus::Pending
        {
            *s = status;
            self.receipts_done.push_back(id.to_owned());
            while self.receipts_done.len() > self.config.receipt_memory {
                if let Some(old) = self.receipts_done.pop_front() {
                    self.receipts.remove(&old);
                    self.receipt_errors.remove(&old);
                }
            }
        }
    }

    /// Registers a receipt for a frame held back while the link is down (it counts as pending).
    pub fn expect_receipt(&mut self, id: &str) {
        self.receipts.insert(id.to_owned(), ReceiptStatus::Pending);
    }

    /// A frame that asked for receipt `id` will never be sent (it was held while the link was down and
    /// the connection ended, or the broker had already aborted its transaction): its receipt is lost.
    pub fn receipt_lost(&mut self, id: &str) {
        self.expect_receipt(id);
        self.finish_receipt(id, ReceiptStatus::Lost);
    }

    /// The link will not come back: receipts still pending are lost.
    pub fn lose_pending_receipts(&mut self) {
        let pending: Vec<String> = self
            .receipts
            .iter()
            .filter(|(_, s)| **s == ReceiptStatus::Pending)
            .map(|(k, _)| k.clone())
            .collect();
        for id in pending {
            self.finish_receipt(&id, ReceiptStatus::Lost);
        }
    }

    /// Transactions the broker aborted because the link dropped (until committed or aborted by the
    /// application, which is then told).
    pub fn dropped_transactions(&self) -> impl Iterator<Item = &str> {
        self.dropped_transactions.iter().map(String::as_str)
    }

    pub fn receipt_status(&self, id: &str) -> ReceiptStatus {
        self.receipts
            .get(id)
            .copied()
            .unwrap_or(ReceiptStatus::Unknown)
    }

    /// The text of the ERROR frame that refused receipt `id` (`ReceiptStatus::Refused`).
    pub fn receipt_error(&self, id: &str) -> Option<&str> {
        self.receipt_errors.get(id).map(String::as_str)
    }

    /// Forget a receipt someone has waited for.
    pub fn forget_receipt(&mut self, id: &str) {
        if self
            .receipts
            .get(id)
            .is_some_and(|s| *s != ReceiptStatus::Pending)
        {
            self.receipts.remove(id);
            self.receipt_errors.remove(id);
            self.receipts_done.retain(|r| r != id);
        }
    }

    /// Time has passed: heart-beats to send, silence to judge, a CONNECTED that never came.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(
            self.state,
            State::Connecting | State::Connected | State::Disconnecting
        ) && self.frame_deadline().is_some_and(|d| now >= d)
        {
            let e = self.frame_too_slow(now);
            return self.close(Some(e));
        }
        match self.state {
            State::Connecting => {
                if self.connected_deadline.is_some_and(|d| now >= d) {
                    self.close(Some(Error::new(
                        ErrorKind::Timeout,
                        "the broker did not answer CONNECT in time",
                    )));
                }
            }
            State::Connected | State::Disconnecting => {
                if let Some(d) = self.recv_deadline()
                    && now >= d
                {
                    self.events.push_back(Event::HeartbeatTimeout);
                    self.stats.heartbeat_timeouts += 1;
                    let ms = (now - self.last_read).as_millis();
                    self.close(Some(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "heart-beat timeout: nothing heard from the broker for {} ms",
                            ms
                        ),
                    )));
                    return;
                }
                self.beat_if_due(now, Duration::ZERO);
            }
            State::Idle | State::Closed => {}
        }
    }

    /// Bytes were just read: a heart-beat due within a quarter of the send interval goes now rather
    /// than at its deadline. The driver is awake for this link anyway, so the beat costs no timer
    /// wake-up of its own and carries the TCP acknowledgement of what was read (no bare ACK); with
    /// thousands of idle links this halves the turns per link. A broker beating at half our
    /// interval (RabbitMQ) locks our beats to every second one of its own; the quarter stays clear
    /// of the one between, so no more beats are sent than the interval asks.
    fn beat_early(&mut self, now: Instant) {
        if matches!(self.state, State::Connected | State::Disconnecting) {
            self.beat_if_due(now, self.send_interval / 4);
        }
    }

    /// Queues a heart-beat if one is due within `early` of `now` and nothing else is on its way out.
    fn beat_if_due(&mut self, now: Instant, early: Duration) {
        if let Some(d) = self.send_deadline()
            && now + early >= d
            && self.pending_out() == 0
        {
            self.out.push(b'\n');
            self.stats.heartbeats_sent += 1;
            self.log.say(
                crate::log::Level::Debug,
                format_args!(
                    "heart-beat sent, {} ms after the last write (interval {} ms)",
                    (now - self.last_write).as_millis(),
                    self.send_interval.as_millis()
                ),
            );
        }
    }

    /// The broker's silence is due to be judged now: the driver reads the socket first, so that
    /// bytes already waiting in the kernel (whose readiness it has not processed yet, with many
    /// connections ready at once) count as heard.
    pub fn silence_overdue(&self, now: Instant) -> bool {
        self.recv_deadline().is_some_and(|d| now >= d)
    }

    fn recv_deadline(&self) -> Option<Instant> {
        if self.recv_interval.is_zero() || self.read_paused {
            return None;
        }
        let grace = if self.awaiting_first_beat {
            self.recv_interval
        } else {
            Duration::ZERO
        };
        Some(
            self.last_read
                + self
                    .recv_interval
                    .mul_f64(self.config.heartbeat_receive_scale)
                + grace,
        )
    }

    fn send_deadline(&self) -> Option<Instant> {
        if self.send_interval.is_zero() || self.pending_out() > 0 {
            return None;
        }
        Some(self.last_write + self.send_interval)
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let earliest = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match self.state {
            State::Connecting => earliest(self.connected_deadline, self.frame_deadline()),
            State::Connected | State::Disconnecting => earliest(
                earliest(self.recv_deadline(), self.send_deadline()),
                self.frame_deadline(),
            ),
            _ => None,
        }
    }

    /// The event `poll_event` would return next.
    pub fn peek_event(&self) -> Option<&Event> {
        self.events.front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        let ev = self.events.pop_front();
        if matches!(ev, Some(Event::Sent(_))) {
            self.sent_events -= 1;
        }
        ev
    }

    /// Copies of sent frames waiting to be polled for `on_send`.
    pub fn sent_events(&self) -> usize {
        self.sent_events
    }

    /// The transport ended (EOF or error) without the session asking.
    pub fn transport_closed(&mut self, reason: Error) {
        if matches!(self.state, State::Idle | State::Closed) {
            return;
        }
        // Frames read before the end still reach the application, in order, before it hears the end.
        let now = self.last_read;
        self.release_ahead(true, now);
        if self.state == State::Closed {
            return;
        }
        // A DISCONNECT whose receipt raced with the broker's close still ended cleanly.
        let clean = self.state == State::Disconnecting && reason.kind == ErrorKind::Closed;
        self.close(if clean { None } else { Some(reason) });
    }

    /// Ends the connection: pending receipts are lost, open transactions with it.
    pub fn close(&mut self, reason: Option<Error>) {
        if matches!(self.state, State::Idle | State::Closed) {
            return;
        }
        if matches!(self.state, State::Connected | State::Disconnecting) {
            self.stats.disconnects += 1;
        }
        self.state = State::Closed;
        self.lose_pending_receipts();
        for tx in self.transactions.drain() {
            self.dropped_transactions.push_back(tx);
        }
        while self.dropped_transactions.len() > 1000 {
            self.dropped_transactions.pop_front();
        }
        self.events.push_back(Event::Closed(reason));
    }

    /// Forget the subscriptions (the application disconnected for good).
    pub fn clear_subscriptions(&mut self) {
        self.subscriptions.clear();
    }

    /// After CONNECTED on a reconnect: send every remembered subscription again, same id and headers.
    pub fn resubscribe(&mut self) -> Result<usize> {
        let frames: Vec<Frame> = self
            .subscriptions
            .iter()
            .map(|(_, s)| s.frame.clone())
            .collect();
        let n = frames.len();
        for f in frames {
            self.queue_frame(f)?;
        }
        Ok(n)
    }
}

fn is_client_command(c: Command) -> bool {
    !matches!(
        c,
        Command::Connected | Command::Message | Command::Receipt | Command::Error
    )
}

/// The `message` header and the body of an ERROR frame, for a person.
pub fn error_text(f: &Frame) -> String {
    let msg = f.header("message").unwrap_or("").trim();
    let body = String::from_utf8_lossy(f.body());
    let body = body.trim();
    match (msg.is_empty(), body.is_empty()) {
        (true, true) => "ERROR frame without a message".to_owned(),
        (false, true) => msg.to_owned(),
        (true, false) => body.to_owned(),
        (false, false) => format!("{}: {}", msg, body),
    }
}

/// `heart-beat: x,y`; absent or invalid means `0,0`.
pub fn parse_heartbeat(v: Option<&str>) -> (u32, u32) {
    let Some(v) = v else { return (0, 0) };
    let mut it = v.split(',').map(|p| p.trim().parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// One direction of heart-beating: off if either side says 0, else the larger of the two.
fn negotiate(ours: u32, theirs: u32) -> Duration {
    if ours == 0 || theirs == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(ours.max(theirs) as u64)
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
