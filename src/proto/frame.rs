//! STOMP frames: a command, ordered headers (repeats kept, the first wins on lookup) and a body, all
//! in one buffer.

use std::fmt;

use smallvec::SmallVec;

/// The protocol version of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V1_0,
    V1_1,
    V1_2,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }

    pub fn parse(s: &str) -> Option<Version> {
        match s.trim() {
            "1.0" => Some(Version::V1_0),
            "1.1" => Some(Version::V1_1),
            "1.2" => Some(Version::V1_2),
            _ => None,
        }
    }

    /// The `accept-version` value a client requesting `self` offers: this version and every lower one
    /// (the spec lets the server pick the highest it shares with us).
    pub fn accept_versions(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.0,1.1",
            Version::V1_2 => "1.0,1.1,1.2",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every command of STOMP 1.0-1.2, client and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Connect,
    Stomp,
    Connected,
    Send,
    Subscribe,
    Unsubscribe,
    Ack,
    Nack,
    Begin,
    Commit,
    Abort,
    Disconnect,
    Message,
    Receipt,
    Error,
}

impl Command {
    pub const ALL: [Command; 15] = [
        Command::Connect,
        Command::Stomp,
        Command::Connected,
        Command::Send,
        Command::Subscribe,
        Command::Unsubscribe,
        Command::Ack,
        Command::Nack,
        Command::Begin,
        Command::Commit,
        Command::Abort,
        Command::Disconnect,
        Command::Message,
        Command::Receipt,
        Command::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Connect => "CONNECT",
            Command::Stomp => "STOMP",
            Command::Connected => "CONNECTED",
            Command::Send => "SEND",
            Command::Subscribe => "SUBSCRIBE",
            Command::Unsubscribe => "UNSUBSCRIBE",
            Command::Ack => "ACK",
            Command::Nack => "NACK",
            Command::Begin => "BEGIN",
            Command::Commit => "COMMIT",
            Command::Abort => "ABORT",
            Command::Disconnect => "DISCONNECT",
            Command::Message => "MESSAGE",
            Command::Receipt => "RECEIPT",
            Command::Error => "ERROR",
        }
    }

    pub fn parse(s: &[u8]) -> Option<Command> {
        Command::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().as_bytes() == s)
    }

    /// Frames whose headers are never escaped (STOMP 1.2, "Value Encoding").
    pub fn is_unescaped(self) -> bool {
        matches!(self, Command::Connect | Command::Stomp | Command::Connected)
    }

    /// Frames that may carry a body.
    pub fn allows_body(self) -> bool {
        matches!(self, Command::Send | Command::Message | Command::Error)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one header lies in a frame's buffer: the name from `name` to `value - 1`, where a NUL
/// ends it; the value from `value`, `value_len` bytes long, followed by a NUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    name: u32,
    value: u32,
    value_len: u32,
}

/// Headers kept inline before the index spills to the heap: RabbitMQ's MESSAGE has 6-8, ActiveMQ's
/// about 11, so a received frame is usually one allocation (its buffer).
const INLINE_HEADERS: usize = 12;

/// One STOMP frame: a command and one buffer holding every header, unescaped, as `name\0value\0`,
/// then the body, with an index of offsets. Header values are kept as the application sees them;
/// each is NUL-terminated in place, so a C caller can be handed a pointer into the buffer.
#[derive(Clone)]
pub struct Frame {
    pub command: Command,
    buf: Vec<u8>,
    /// Offset of the body's first byte; the body runs to the end of `buf`.
    body_start: usize,
    index: SmallVec<[Span; INLINE_HEADERS]>,
    /// Which link of its connection a received frame came on (1 for the first, 0 if not received), so
    /// that an ack for a message from a link that has since dropped is not sent on the next one.
    pub(crate) link: u64,
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        self.command == other.command
            && self.body() == other.body()
            && self.headers().eq(other.headers())
    }
}

impl Eq for Frame {}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("command", &self.command)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("body", &String::from_utf8_lossy(self.body()))
            .finish()
    }
}

impl Frame {
    pub fn new(command: Command) -> Frame {
        Frame {
            command,
            buf: Vec::new(),
            body_start: 0,
            index: SmallVec::new(),
            link: 0,
        }
    }

    /// A frame from its parts, in one allocation.
    pub fn from_parts<'a>(
        command: Command,
        headers: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
        body: &[u8],
    ) -> Frame {
        let size: usize = headers
            .clone()
            .into_iter()
            .map(|(n, v)| n.len() + v.len() + 2)
            .sum();
        let mut f = Frame::with_capacity(command, size + body.len());
        for (n, v) in headers {
            f.add_header(n, v);
        }
        f.buf.extend_from_slice(body);
        f
    }

    /// An empty frame whose buffer holds `bytes` without growing.
    pub(crate) fn with_capacity(command: Command, bytes: usize) -> Frame {
        Frame {
            buf: Vec::with_capacity(bytes),
            ..Frame::new(command)
        }
    }

    /// Appends a header whose name and value are written by `write_name` and `write_value` (a decoder
    /// unescaping into the buffer); the NULs after each are ours. The body must still be empty.
    pub(crate) fn push_header_with<E>(
        &mut self,
        write_name: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
        write_value: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        debug_assert_eq!(self.body_start, self.buf.len(), "headers go before the body");
        let name = self.buf.len();
        write_name(&mut self.buf)?;
        self.buf.push(0);
        let value = self.buf.len();
        write_value(&mut self.buf)?;
        let value_len = self.buf.len() - value;
        self.buf.push(0);
        self.index.push(Span {
            name: name as u32,
            value: value as u32,
            value_len: value_len as u32,
        });
        self.body_start = self.buf.len();
        Ok(())
    }

    /// Appends body bytes (after every header).
    pub(crate) fn extend_body(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Builder form of `add_header`.
    pub fn with(mut self, name: &str, value: &str) -> Frame {
        self.add_header(name, value);
        self
    }

    pub fn with_body(mut self, body: impl AsRef<[u8]>) -> Frame {
        self.set_body(body.as_ref());
        self
    }

    pub fn set_body(&mut self, body: &[u8]) {
        self.buf.truncate(self.body_start);
        self.buf.extend_from_slice(body);
    }

    pub fn add_header(&mut self, name: &str, value: &str) {
        if self.body_start != self.buf.len() {
            // Rare (a header added after the body): rebuild in order.
            let body = self.buf.split_off(self.body_start);
            self.add_header(name, value);
            self.buf.extend_from_slice(&body);
            return;
        }
        let _ = self.push_header_with::<()>(
            |b| {
                b.extend_from_slice(name.as_bytes());
                Ok(())
            },
            |b| {
                b.extend_from_slice(value.as_bytes());
                Ok(())
            },
        );
    }

    fn str_at(&self, from: usize, len: usize) -> &str {
        // SAFETY: every header was written from a `&str` or validated as UTF-8 by the decoder
        // (unescaping maps ASCII to ASCII, so it keeps UTF-8 valid).
        unsafe { std::str::from_utf8_unchecked(&self.buf[from..from + len]) }
    }

    fn name_of(&self, s: &Span) -> &str {
        self.str_at(s.name as usize, (s.value - s.name - 1) as usize)
    }

    fn value_of(&self, s: &Span) -> &str {
        self.str_at(s.value as usize, s.value_len as usize)
    }

    /// The headers in the order they came, repeats included.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.index.iter().map(|s| (self.name_of(s), self.value_of(s)))
    }

    pub fn header_count(&self) -> usize {
        self.index.len()
    }

    /// The `i`-th header.
    pub fn header_at(&self, i: usize) -> Option<(&str, &str)> {
        self.index.get(i).map(|s| (self.name_of(s), self.value_of(s)))
    }

    /// The `i`-th header's name and value, each with the NUL that ends it in the buffer (what a C
    /// string needs; the value holds no NUL of its own when it came from the decoder).
    pub fn header_at_with_nul(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.index.get(i).map(|s| {
            let (n, v, l) = (s.name as usize, s.value as usize, s.value_len as usize);
            (&self.buf[n..v], &self.buf[v..v + l + 1])
        })
    }

    /// Index of the first header called `name`.
    pub fn header_position(&self, name: &str) -> Option<usize> {
        self.index.iter().position(|s| self.name_of(s) == name)
    }

    /// The first value of a header (STOMP 1.2: only the first occurrence of a repeated header counts).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.index
            .iter()
            .find(|s| self.name_of(s) == name)
            .map(|s| self.value_of(s))
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header_position(name).is_some()
    }

    /// Rebuilds the frame from edited headers (not on any hot path).
    fn rebuild(&mut self, edit: impl FnOnce(&mut Vec<(String, String)>)) {
        let mut hs: Vec<(String, String)> = self
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        edit(&mut hs);
        let f = Frame::from_parts(
            self.command,
            hs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            self.body(),
        );
        self.buf = f.buf;
        self.index = f.index;
        self.body_start = f.body_start;
    }

    /// Replace every occurrence of `name` with one header at the position of the first (or at the end).
    pub fn set_header(&mut self, name: &str, value: &str) {
        if !self.has_header(name) {
            return self.add_header(name, value);
        }
        self.rebuild(|hs| {
            let mut seen = false;
            hs.retain_mut(|(n, v)| {
                if n != name {
                    return true;
                }
                if seen {
                    return false;
                }
                seen = true;
                *v = value.to_owned();
                true
            });
        });
    }

    pub fn remove_header(&mut self, name: &str) {
        if self.has_header(name) {
            self.rebuild(|hs| hs.retain(|(n, _)| n != name));
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.buf[self.body_start..]
    }

    /// The body as text, where it is UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(self.body()).ok()
    }

    /// A copy without the body.
    pub fn without_body(&self) -> Frame {
        let mut buf = Vec::with_capacity(self.body_start);
        buf.extend_from_slice(&self.buf[..self.body_start]);
        Frame {
            command: self.command,
            buf,
            body_start: self.body_start,
            index: self.index.clone(),
            link: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_buffer_with_nul_terminated_headers() {
        let f = Frame::from_parts(
            Command::Message,
            [("destination", "/q"), ("k", "v:1"), ("k", "second")],
            b"bo\0dy",
        );
        assert_eq!(f.header("k"), Some("v:1"), "the first of repeated headers wins");
        assert_eq!(f.header_count(), 3);
        assert_eq!(f.body(), b"bo\0dy");
        let (n, v) = f.header_at_with_nul(1).unwrap();
        assert_eq!((n, v), (&b"k\0"[..], &b"v:1\0"[..]));
        assert_eq!(f.header_at(2), Some(("k", "second")));
        assert_eq!(f.header_at(3), None);
    }

    #[test]
    fn editing_keeps_order_and_body() {
        let mut f = Frame::new(Command::Send).with_body("abc").with("a", "1");
        f.add_header("b", "2");
        f.add_header("a", "3");
        assert_eq!(f.body(), b"abc", "a header added after the body goes before it");
        f.set_header("a", "x");
        let hs: Vec<_> = f.headers().collect();
        assert_eq!(hs, [("a", "x"), ("b", "2")]);
        f.remove_header("a");
        assert_eq!(f.headers().collect::<Vec<_>>(), [("b", "2")]);
        f.set_body(b"longer body");
        assert_eq!(f.body(), b"longer body");
        assert_eq!(f.header("b"), Some("2"));
        let meta = f.without_body();
        assert!(meta.body().is_empty());
        assert_eq!(meta.header("b"), Some("2"));
        assert_eq!(f.clone(), f);
        assert_ne!(meta, f);
    }
}
