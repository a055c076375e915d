//! What every fuzz input must satisfy, written once for both runners: the libFuzzer targets in
//! `fuzz/fuzz_targets/` and the stable fallback `tests/fuzz_stable.rs` include this file by path.
//!
//! An input is a few set-up bytes followed by the bytes a broker would send (see `check_decoder` and
//! `check_session` for the layout), so a real frame with a short prefix is a good seed. A failed
//! check panics; both runners report the input that did it.

#![allow(dead_code)] // each runner uses its own part

use std::time::{Duration, Instant};

use stomp::error::{Error, ErrorKind};
use stomp::proto::{
    Command, ConnectParams, Decoded, Decoder, Event, Frame, Limits, Progress, Session,
    SessionConfig, State, Version, encode,
};

pub const VERSIONS: [Version; 3] = [Version::V1_0, Version::V1_1, Version::V1_2];

/// The version selected by two bits of a set-up byte.
pub fn version_of(bits: u8) -> Version {
    VERSIONS[usize::from(bits & 3).min(2)]
}

/// Small limits chosen by six bits, so that the limits are crossed by short inputs; 63 gives the
/// defaults, so that frames larger than the small limits are decoded (and re-encoded) too.
pub fn limits_of(sel: u8) -> Limits {
    const BODY: [usize; 4] = [0, 7, 64, 1000];
    const HEADERS: [usize; 4] = [0, 1, 4, 32];
    const LINE: [usize; 4] = [12, 24, 64, 300];
    let sel = sel & 63;
    if sel == 63 {
        return Limits::default();
    }
    // Limits added later keep their defaults.
    #[allow(clippy::needless_update)]
    let limits = Limits {
        max_body: BODY[usize::from(sel & 3)],
        max_headers: HEADERS[usize::from((sel >> 2) & 3)],
        max_line: LINE[usize::from((sel >> 4) & 3)],
        ..Limits::default()
    };
    limits
}

/// The most bytes a decoder under `limits` may hold between calls: a head of the command line, every
/// header line and the blank line (each with its CRLF), then a body and its NUL.
pub fn buffered_bound(limits: &Limits) -> usize {
    (limits.max_headers + 2) * (limits.max_line + 2) + limits.max_body + 1
}

/// Piece sizes for feeding a stream, drawn from one seed byte (mostly small, sometimes large), so the
/// input chooses where the stream is cut.
pub struct Pieces(u32);

impl Pieces {
    pub fn new(seed: u8) -> Pieces {
        Pieces(u32::from(seed).wrapping_mul(2_654_435_761) | 1)
    }

    pub fn next_len(&mut self) -> usize {
        // xorshift32: cheap, and the same cuts for the same seed on every machine.
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        let r = self.0 as usize;
        match r % 8 {
            0 => 1 + (r >> 8) % 1024,
            1 => 1,
            _ => 1 + (r >> 8) % 16,
        }
    }
}

/// What decoding a stream gave: the items in order, and the error that ended it, if any.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub items: Vec<Decoded>,
    pub error: Option<ErrorKind>,
}

/// Feeds `stream` to a fresh decoder in the given pieces, checking on every call that the decoder
/// makes progress or asks for more, and that it never holds more than its limits allow.
pub fn decode_pieces<'a>(
    version: Version,
    limits: Limits,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let bound = buffered_bound(&limits);
    let mut d = Decoder::new(limits);
    d.set_version(version);
    let mut items = Vec::new();
    for piece in pieces {
        d.push(piece);
        loop {
            let before = d.buffered();
            match d.next() {
                Ok(Some(item)) => {
                    assert!(
                        d.buffered() < before,
                        "the decoder yielded {item:?} without consuming a byte"
                    );
                    items.push(item);
                }
                Ok(None) => {
                    // What the session's frame time limits are told agrees with what is held.
                    let held = d.buffered();
                    match d.progress() {
                        Progress::Idle => assert!(held <= 1, "idle with {held} bytes held"),
                        Progress::Head(n) => assert_eq!(n, held, "a head of {n} bytes"),
                        Progress::Body(n) => assert!(n < held, "a body of {n} of {held} bytes"),
                    }
                    break;
                }
                Err(e) => {
                    assert!(
                        matches!(e.kind, ErrorKind::Protocol | ErrorKind::TooLarge),
                        "a decoding error of an unexpected kind: {e:?}"
                    );
                    assert!(!e.message.is_empty(), "an error without a message");
                    return Outcome {
                        items,
                        error: Some(e.kind),
                    };
                }
            }
        }
        assert!(
            d.buffered() <= bound,
            "the decoder holds {} bytes, over the {} its limits {:?} allow",
            d.buffered(),
            bound,
            limits
        );
    }
    Outcome { items, error: None }
}

/// The decoder target. Input: one byte choosing the version (bits 0-1) and the limits (bits 2-7,
/// see `limits_of`), one seed for where the stream is cut, then the stream. Checks that cutting
/// changes nothing, and that every frame decoded re-encodes and decodes back equal.
pub fn check_decoder(data: &[u8]) {
    let [cfg, seed, stream @ ..] = data else {
        return;
    };
    let version = version_of(*cfg);
    let limits = limits_of(cfg >> 2);
    let whole = decode_pieces(version, limits, [stream]);
    let mut cuts = Pieces::new(*seed);
    let mut rest = stream;
    let pieces = std::iter::from_fn(|| {
        if rest.is_empty() {
            return None;
        }
        let (piece, tail) = rest.split_at(cuts.next_len().min(rest.len()));
        rest = tail;
        Some(piece)
    });
    let cut = decode_pieces(version, limits, pieces);
    assert_eq!(cut, whole, "cutting the stream changed what it decodes to");
    let mut model = PlainReading {
        rest: stream,
        version,
        after_frame: false,
    };
    for item in &whole.items {
        assert_eq!(
            model.next().as_ref(),
            Some(item),
            "the decoder and a plain reading of the stream disagree"
        );
        if let Decoded::Frame(f) = item {
            check_reencode(f, version);
        }
    }
}

/// STOMP read the plain way, a line at a time, as an oracle for what the decoder accepted: none of
/// its buffering, scanning or in-place unescaping, and no limits. `None` where the stream is not
/// a frame or heart-beat it can read.
struct PlainReading<'a> {
    rest: &'a [u8],
    version: Version,
    /// The first EOL after a frame is its trailer, not a heart-beat.
    after_frame: bool,
}

impl PlainReading<'_> {
    fn next(&mut self) -> Option<Decoded> {
        for eol in [&b"\n"[..], b"\r\n"] {
            if let Some(rest) = self.rest.strip_prefix(eol) {
                self.rest = rest;
                if !std::mem::take(&mut self.after_frame) {
                    return Some(Decoded::Heartbeat);
                }
                return self.next();
            }
        }
        let (command, mut rest) = line(self.rest)?;
        let command = Command::parse(command)?;
        let escaped = !command.is_unescaped() && self.version != Version::V1_0;
        let mut headers = Vec::new();
        let mut length = None;
        loop {
            let (l, r) = line(rest)?;
            rest = r;
            if l.is_empty() {
                break;
            }
            let colon = l.iter().position(|&b| b == b':')?;
            let (name, value) = (&l[..colon], &l[colon + 1..]);
            if length.is_none() && name == b"content-length" {
                length = Some(
                    std::str::from_utf8(value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()?,
                );
            }
            let text = |raw: &[u8]| String::from_utf8(self.unescape(raw, escaped)?).ok();
            headers.push((text(name)?, text(value)?));
        }
        let n = length.or_else(|| rest.iter().position(|&b| b == 0))?;
        let (body, after) = (rest.get(..n)?, rest.get(n + 1..)?);
        (rest[n] == 0).then_some(())?;
        self.rest = after;
        self.after_frame = true;
        Some(Decoded::Frame(Frame::from_parts(
            command,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            body,
        )))
    }

    fn unescape(&self, raw: &[u8], escaped: bool) -> Option<Vec<u8>> {
        if !escaped {
            return Some(raw.to_vec());
        }
        let mut out = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] != b'\\' {
                out.push(raw[i]);
                i += 1;
                continue;
            }
            out.push(match raw.get(i + 1)? {
                b'\\' => b'\\',
                b'n' => b'\n',
                b'c' => b':',
                b'r' if self.version == Version::V1_2 => b'\r',
                _ => return None,
            });
            i += 2;
        }
        Some(out)
    }
}

/// The line `bytes` starts with (without its LF, and one CR before it), and what follows it.
fn line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let l = &bytes[..nl];
    Some((l.strip_suffix(b"\r").unwrap_or(l), &bytes[nl + 1..]))
}

/// Whether `encode` can write `f` in `version` (an oracle independent of the encoder): the rules of
/// STOMP's value encoding, and the encoder's own about bodies and `content-length`.
pub fn encodable(f: &Frame, version: Version) -> bool {
    let raw = f.command.is_unescaped() || version == Version::V1_0;
    let body = f.body();
    let cannot: &[char] = match (raw, version) {
        (true, _) => &['\0', '\n', '\r'],
        (false, Version::V1_1) => &['\0', '\r'],
        (false, _) => &['\0'],
    };
    let text_ok = |s: &str| !s.contains(cannot);
    (body.is_empty() || f.command.allows_body())
        && f.headers().all(|(name, value)| {
            if name == "content-length" {
                // With a body the encoder writes its own and drops these; without, it writes
                // them as digits when they say 0.
                return !body.is_empty() || value.trim().parse::<usize>() == Ok(0);
            }
            !name.is_empty() && (!raw || !name.contains(':')) && text_ok(name) && text_ok(value)
        })
}

/// The headers other than `content-length` (which the encoder writes itself).
fn headers_but_length(f: &Frame) -> Vec<(&str, &str)> {
    f.headers()
        .filter(|(n, _)| *n != "content-length")
        .collect()
}

/// A decoded frame, encoded again in its version and decoded, is the same frame (its
/// `content-length` rewritten by the encoder); where the version cannot carry it, the encoder says so.
pub fn check_reencode(f: &Frame, version: Version) {
    let mut out = Vec::new();
    if let Err(e) = encode(f, version, true, &mut out) {
        assert!(
            !encodable(f, version),
            "the encoder refused a frame STOMP {version} can carry: {e:?}\n{f:?}"
        );
        assert!(
            matches!(
                e.kind,
                ErrorKind::InvalidHeader | ErrorKind::InvalidArgument
            ),
            "refused with an unexpected kind: {e:?}"
        );
        assert!(out.is_empty(), "a refused frame left bytes behind");
        return;
    }
    assert!(
        encodable(f, version),
        "the encoder wrote a frame STOMP {version} cannot carry:\n{f:?}\n{:?}",
        String::from_utf8_lossy(&out)
    );
    let back = decode_pieces(version, Limits::default(), [&out[..]]);
    assert_eq!(back.error, None, "re-encoded {f:?} as {out:?}");
    let [Decoded::Frame(g)] = &back.items[..] else {
        panic!("re-encoded {f:?} decoded to {:?}", back.items);
    };
    assert_eq!(g.command, f.command);
    assert_eq!(g.body(), f.body(), "the body changed");
    assert_eq!(
        headers_but_length(g),
        headers_but_length(f),
        "headers changed"
    );
    if !f.body().is_empty() {
        let n = f.body().len().to_string();
        assert_eq!(g.header("content-length"), Some(n.as_str()));
    }
}

/// The session target. Input: one byte of set-up (see `SessionSetup`), one byte `n`, then `n` bytes
/// of operations (see `Driver::step`), then the bytes the broker sends, which the operations feed in
/// pieces; what they leave is fed at the end, before the transport closes.
pub fn check_session(data: &[u8]) {
    let [cfg, n, rest @ ..] = data else {
        return;
    };
    let (tape, stream) = rest.split_at(usize::from(*n).min(rest.len()));
    let mut d = Driver::new(*cfg);
    let mut stream = stream;
    for &op in tape {
        d.step(op, &mut stream);
    }
    while !stream.is_empty() && d.session.state() != State::Closed {
        if !d.session.wants_read() {
            d.set_budget(usize::MAX);
        }
        d.feed(&mut stream, 512, false);
    }
    d.session
        .transport_closed(Error::new(ErrorKind::Closed, "the fuzz input ended"));
    d.events();
    assert_eq!(d.closed, 1, "the link's end was heard {} times", d.closed);
}

/// A client session driven as the runtime's event loop drives it, with simulated time, checking
/// what it hears and says.
pub struct Driver {
    pub session: Session,
    now: Instant,
    config: SessionConfig,
    /// Bytes taken for the socket and not yet written.
    wire: Vec<u8>,
    /// What the broker would make of our bytes: they must decode.
    broker: Decoder,
    budget: usize,
    messages_since_budget: usize,
    last_ack: Option<String>,
    connected: usize,
    closed: usize,
    emit: bool,
}

/// The set-up byte of the session target: bits 0-1 the version asked for; bit 2 the handshake is done
/// before the operations; bit 3 heart-beats offered; bit 4 frame time limits; bit 5 the broker says
/// it is RabbitMQ (which changes escaping under 1.0); bit 6 small limits; bit 7 sent and heart-beat
/// events on.
impl Driver {
    pub fn new(cfg: u8) -> Driver {
        let now = Instant::now();
        let version = version_of(cfg);
        let config = SessionConfig {
            // Small limits, or the defaults with a smaller body limit (still above a read chunk, so
            // large frames are read as such): a 64 MB buffer for each content-length a fuzzer
            // writes would cost most of its time.
            limits: if cfg & 64 != 0 {
                limits_of(0b10_10_10)
            } else {
                Limits {
                    max_body: 256 << 10,
                    ..Limits::default()
                }
            },
            frame_timeout: if cfg & 16 != 0 {
                Duration::from_secs(1)
            } else {
                Duration::ZERO
            },
            frame_min_rate: 16,
            max_out_bytes: 4096,
            receipt_memory: 8,
            ..SessionConfig::default()
        };
        let mut session = Session::new(config.clone(), now);
        let emit = cfg & 128 != 0;
        session.emit_sent = emit;
        session.emit_heartbeat = emit;
        let params = ConnectParams {
            version: Some(version),
            login: Some("guest".into()),
            passcode: Some("guest".into()),
            host_name: "127.0.0.1".into(),
            heartbeats: if cfg & 8 != 0 { (100, 100) } else { (0, 0) },
            connected_timeout: Some(Duration::from_secs(5)),
            ..ConnectParams::default()
        };
        session
            .start(&params, now)
            .expect("CONNECT is always encodable");
        let mut d = Driver {
            session,
            now,
            config,
            wire: Vec::new(),
            broker: Decoder::new(Limits::default()),
            budget: usize::MAX,
            messages_since_budget: 0,
            last_ack: None,
            connected: 0,
            closed: 0,
            emit,
        };
        d.write(usize::MAX);
        if cfg & 4 != 0 {
            let server = if cfg & 32 != 0 {
                "RabbitMQ/3.10"
            } else {
                "fuzz"
            };
            let reply = format!(
                "CONNECTED\nversion:{version}\nheart-beat:100,100\nserver:{server}\n\n\0\n"
            );
            d.session.handle_bytes(reply.as_bytes(), now);
            assert_eq!(d.session.state(), State::Connected);
            d.events();
        }
        d
    }

    /// One operation: the low three bits say which, the high five its argument.
    pub fn step(&mut self, op: u8, stream: &mut &[u8]) {
        let arg = usize::from(op >> 3);
        match op & 7 {
            0 => self.feed(stream, arg + 1, false),
            1 => self.feed(stream, (arg + 1) * 32, true),
            2 => self.advance(Duration::from_millis(arg as u64 * 40 + 1)),
            3 => self.advance(Duration::from_secs(arg as u64 + 1)),
            4 => self.write(if arg == 31 { usize::MAX } else { arg * 16 }),
            5 => self.set_budget(if arg >= 24 { usize::MAX } else { arg % 4 }),
            6 => self.send(arg),
            _ => {
                // What the loop does when it wakes: straight to the next deadline.
                if let Some(t) = self.session.poll_timeout() {
                    self.now = self.now.max(t);
                    self.timers();
                }
            }
        }
        self.after_step();
    }

    /// Feeds up to `n` bytes of `stream`, as the loop reads (only while the session wants to read);
    /// `into_buf`: through `read_buf`/`handle_read` rather than `handle_bytes`.
    pub fn feed(&mut self, stream: &mut &[u8], n: usize, into_buf: bool) {
        if !self.session.wants_read() {
            return;
        }
        let n = n.min(stream.len());
        let (chunk, rest) = stream.split_at(n);
        if into_buf {
            let room = self.session.read_buf();
            assert!(!room.is_empty(), "read_buf offered no room");
            let k = room.len().min(chunk.len());
            room[..k].copy_from_slice(&chunk[..k]);
            self.session.handle_read(k, self.now);
            *stream = &stream[k..];
        } else {
            self.session.handle_bytes(chunk, self.now);
            *stream = rest;
        }
        self.after_step();
    }

    /// The application's queues have room for `n` more messages: the loop sets the budget and
    /// decodes what waits.
    fn set_budget(&mut self, n: usize) {
        self.budget = n;
        self.messages_since_budget = 0;
        self.session.set_message_budget(n);
        self.session.handle_bytes(&[], self.now);
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.timers();
    }

    fn timers(&mut self) {
        if self.session.poll_timeout().is_some_and(|t| t <= self.now) {
            self.session.handle_timeout(self.now);
            let next = self.session.poll_timeout();
            assert!(
                self.session.state() == State::Closed || next.is_none_or(|t| t > self.now),
                "a deadline still due right after handle_timeout: the loop would spin ({:?})",
                next.map(|t| t.saturating_duration_since(self.now))
            );
        }
    }

    /// Writes up to `n` bytes of what the session wants sent, and checks that it is STOMP.
    fn write(&mut self, n: usize) {
        if self.wire.is_empty() {
            self.session.take_transmit(&mut self.wire);
        }
        let n = n.min(self.wire.len());
        self.broker.set_version(self.session.escaping());
        self.broker.push(&self.wire[..n]);
        self.wire.drain(..n);
        self.session.transmitted(n, self.now);
        loop {
            match self.broker.next() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => panic!("the session wrote bytes a broker cannot decode: {e:?}"),
            }
        }
    }

    /// A frame the application sends, chosen by `arg`; refused unless connected, or when it acks a
    /// message whose id the version cannot carry back (a CR in a 1.0 header, say).
    fn send(&mut self, arg: usize) {
        let ack = self.last_ack.clone().unwrap_or_else(|| "none".into());
        let r = match arg % 8 {
            0 => self.session.send(
                Frame::new(Command::Subscribe)
                    .with("id", "s1")
                    .with("destination", "/queue/fuzz")
                    .with("ack", "client-individual"),
            ),
            1 => self.session.send(
                Frame::new(Command::Send)
                    .with("destination", "/queue/fuzz")
                    .with("receipt", &format!("r{arg}"))
                    .with_body(b"bo\0dy"),
            ),
            2 => self.session.send(Frame::new(Command::Ack).with("id", &ack)),
            3 => self
                .session
                .send(Frame::new(Command::Nack).with("id", &ack)),
            4 => self
                .session
                .send(Frame::new(Command::Begin).with("transaction", "t1")),
            5 => self
                .session
                .send(Frame::new(Command::Commit).with("transaction", "t1")),
            6 => self
                .session
                .send(Frame::new(Command::Unsubscribe).with("id", "s1")),
            _ => self
                .session
                .send(Frame::new(Command::Disconnect).with("receipt", "bye")),
        };
        if let Err(e) = r {
            let acks = matches!(arg % 8, 2 | 3);
            assert!(
                matches!(
                    e.kind,
                    ErrorKind::NotConnected | ErrorKind::Unsupported | ErrorKind::QueueFull
                ) || (acks && e.kind == ErrorKind::InvalidHeader),
                "send refused with {e:?}"
            );
        }
    }

    fn after_step(&mut self) {
        self.events();
        let paused = !self.session.wants_read();
        self.session.set_read_paused(paused, self.now);
        assert!(
            self.session.pending_out() <= self.config.max_out_bytes + 1024,
            "{} bytes queued for the socket, over its bound",
            self.session.pending_out()
        );
    }

    /// Polls every event, checking their order and the message budget.
    pub fn events(&mut self) {
        let mut batch = Vec::new();
        while let Some(e) = self.session.poll_event() {
            batch.push(e);
        }
        let closes = batch.iter().any(|e| matches!(e, Event::Closed(_)));
        for e in &batch {
            assert_eq!(self.closed, 0, "{e:?} after the link was closed");
            match e {
                Event::Connected(_) => self.connected += 1,
                Event::Message(f) => {
                    self.messages_since_budget += 1;
                    assert!(
                        closes || self.messages_since_budget <= self.budget,
                        "{} messages handed on with a budget of {}",
                        self.messages_since_budget,
                        self.budget
                    );
                    self.last_ack = f
                        .header("ack")
                        .or(f.header("message-id"))
                        .map(str::to_owned);
                }
                Event::Sent(_) | Event::Heartbeat => {
                    assert!(self.emit, "{e:?} with those events off")
                }
                Event::Closed(reason) => {
                    if let Some(r) = reason {
                        assert!(!r.message.is_empty(), "a close without a reason: {r:?}");
                    }
                    self.closed += 1;
                }
                Event::Receipt(_) | Event::Error(_) | Event::HeartbeatTimeout => {}
            }
        }
        assert!(self.connected <= 1, "CONNECTED handled twice");
        if self.session.state() == State::Closed {
            assert_eq!(self.closed, 1, "closed without telling the application");
        }
    }
}
