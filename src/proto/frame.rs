//! STOMP frames: a command, ordered headers (repeats kept, the first wins on lookup) and a body, all
//! in one buffer.

use std::fmt;

use super::chunk::ChunkRef;

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
        Some(match s {
            b"MESSAGE" => Command::Message,
            b"RECEIPT" => Command::Receipt,
            b"ERROR" => Command::Error,
            b"CONNECTED" => Command::Connected,
            b"CONNECT" => Command::Connect,
            b"STOMP" => Command::Stomp,
            b"SEND" => Command::Send,
            b"SUBSCRIBE" => Command::Subscribe,
            b"UNSUBSCRIBE" => Command::Unsubscribe,
            b"ACK" => Command::Ack,
            b"NACK" => Command::Nack,
            b"BEGIN" => Command::Begin,
            b"COMMIT" => Command::Commit,
            b"ABORT" => Command::Abort,
            b"DISCONNECT" => Command::Disconnect,
            _ => return None,
        })
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

/// Bytes of one header's entry in the index: name, value and value length as native `u32`s.
const SPAN: usize = 12;

/// One header's entry in the index (see `SPAN`).
#[inline]
fn span_bytes(name: usize, value: usize, value_len: usize) -> [u8; SPAN] {
    let mut span = [0u8; SPAN];
    for (k, v) in [name, value, value_len].into_iter().enumerate() {
        span[k * 4..k * 4 + 4].copy_from_slice(&(v as u32).to_ne_bytes());
    }
    span
}

/// One STOMP frame in one buffer, its own or a range of the chunk it was read into (see `chunk`).
///
/// Its own buffer (a frame built here, or received with escapes to undo): an index of offsets
/// (`SPAN` bytes a header), then every header, unescaped, as `name\0value\0`, then the body.
///
/// In a chunk (a received MESSAGE with nothing to unescape): the header lines where they were
/// read, each line's colon and line end overwritten with NULs (`name\0value\0`, then the LF of a
/// CRLF line end), then the blank line and the body; the headers are found by walking the NULs.
///
/// Either way header values are kept as the application sees them, each NUL-terminated in place,
/// so a C caller can be handed a pointer into the buffer. The struct itself is small, so moving a
/// frame through the queues between the socket and the application costs little.
pub struct Frame {
    pub command: Command,
    store: Store,
    headers: usize,
    /// Offset of the body's first byte; the body runs to the end of the frame's bytes.
    body_start: usize,
    /// Which link of its connection a received frame came on (1 for the first, 0 if not received), so
    /// that an ack for a message from a link that has since dropped is not sent on the next one.
    pub(crate) link: u64,
}

enum Store {
    Own(Vec<u8>),
    Chunk(ChunkRef),
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        self.command == other.command
            && self.body() == other.body()
            && self.headers().eq(other.headers())
    }
}

impl Eq for Frame {}

/// A copy has its own buffer: a frame kept by the application never holds a received chunk.
impl Clone for Frame {
    fn clone(&self) -> Frame {
        match &self.store {
            Store::Own(buf) => Frame {
                command: self.command,
                store: Store::Own(buf.clone()),
                headers: self.headers,
                body_start: self.body_start,
                link: self.link,
            },
            Store::Chunk(_) => self.copy_out(),
        }
    }
}

/// A dropped frame's buffer is kept for new frames (see `pool`): frames are mostly dropped on
/// another thread than the one that built them.
impl Drop for Frame {
    fn drop(&mut self) {
        if let Store::Own(buf) = &mut self.store {
            super::pool::give(std::mem::take(buf));
        }
    }
}

/// What stands in for a passcode wherever one would be shown or copied for the application.
pub const MASKED: &str = "********";

/// A header's value as it may be shown: a `passcode` header's is `MASKED`.
pub fn shown_value<'a>(name: &str, value: &'a str) -> &'a str {
    if name == "passcode" { MASKED } else { value }
}

impl fmt::Debug for Frame {
    /// The passcode of a CONNECT is masked: debug output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<_> = self
            .headers()
            .map(|(n, v)| (n, shown_value(n, v)))
            .collect();
        f.debug_struct("Frame")
            .field("command", &self.command)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(self.body()))
            .finish()
    }
}

/// Each header's (name offset, value offset, value length) in a frame's bytes, in order.
#[derive(Clone)]
struct Spans<'a> {
    frame: &'a Frame,
    i: usize,
    /// Where the next header starts, for a frame in a chunk.
    at: usize,
}

impl Iterator for Spans<'_> {
    type Item = (usize, usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize, usize)> {
        let f = self.frame;
        if self.i >= f.headers {
            return None;
        }
        self.i += 1;
        match &f.store {
            Store::Own(_) => Some(f.span(self.i - 1)),
            Store::Chunk(c) => Some(walk(c.bytes(), &mut self.at)),
        }
    }
}

/// Writes a NUL over each header line's colon and line end in `block` (a head's header lines,
/// `origin` where it starts in the coordinates of `lines`' (start, colon, end) offsets): what makes
/// each name and value a C string in place, in a frame's own buffer or in a chunk.
#[inline]
pub(crate) fn end_header_lines(block: &mut [u8], origin: u32, lines: &[(u32, u32, u32)]) {
    for &(_, colon, end) in lines {
        block[(colon - origin) as usize] = 0;
        block[(end - origin) as usize] = 0;
    }
}

/// The header at `at` in the bytes of a frame in a chunk, `name\0value\0` and the LF of a CRLF
/// line end (a name never starts with one): its (name offset, value offset, value length), and
/// `at` moved to the next.
#[inline]
fn walk(b: &[u8], at: &mut usize) -> (usize, usize, usize) {
    // Names and values are short: a word at a time, not a vector search and its set-up.
    let nul =
        |from: usize| from + super::swar::find_any(&b[from..], &[0]).expect("a NUL ends each");
    let name = *at;
    let value = nul(name) + 1;
    let end = nul(value);
    *at = end + 1 + usize::from(b.get(end + 1) == Some(&b'\n'));
    (name, value, end - value)
}

impl Frame {
    pub fn new(command: Command) -> Frame {
        Frame {
            command,
            store: Store::Own(Vec::new()),
            headers: 0,
            body_start: 0,
            link: 0,
        }
    }

    /// A frame from its parts, in one allocation.
    pub fn from_parts<'a>(
        command: Command,
        headers: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
        body: &[u8],
    ) -> Frame {
        let (mut n, mut size) = (0, 0);
        for (name, value) in headers.clone() {
            n += 1;
            size += name.len() + value.len() + 2;
        }
        let mut f = Frame::with_index(command, n, size + body.len());
        for (i, (name, value)) in headers.into_iter().enumerate() {
            let _ = f.put_header::<()>(
                i,
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
        f.extend_body(body);
        f
    }

    /// A frame with room in its index for `headers` headers (to be written by `put_header`, in
    /// order) and `bytes` more bytes for them and the body.
    pub(crate) fn with_index(command: Command, headers: usize, bytes: usize) -> Frame {
        let mut buf = Vec::with_capacity(headers * SPAN + bytes);
        buf.resize(headers * SPAN, 0);
        Frame {
            command,
            store: Store::Own(buf),
            headers,
            body_start: headers * SPAN,
            link: 0,
        }
    }

    /// A received frame left in the chunk it was read into: `bytes` is its header lines (NULs
    /// written over each colon and line end), the blank line and the body, the body starting at
    /// `body_start`.
    pub(crate) fn in_chunk(
        command: Command,
        bytes: ChunkRef,
        headers: usize,
        body_start: usize,
    ) -> Frame {
        Frame {
            command,
            store: Store::Chunk(bytes),
            headers,
            body_start,
            link: 0,
        }
    }

    /// The frame with a buffer of its own: itself, or a copy of a frame that is in a chunk (made
    /// where a received frame leaves the library's hands, on the thread taking it). A MESSAGE from
    /// `Decoder` or `Session` may be in the chunk it was read into, up to 80 KiB shared with the
    /// frames read with it: one to be kept for long should be detached (`clone` copies too).
    pub fn detached(self) -> Frame {
        match self.store {
            Store::Own(_) => self,
            Store::Chunk(_) => self.copy_out(),
        }
    }

    /// A copy in a buffer of its own, in a kept buffer (see `pool`): the index, then the bytes as
    /// they are. The bytes are copied first and the index found by walking the copy: the frame's
    /// bytes were written on another core, and one streaming copy takes their cache misses where
    /// a walk would take them one at a time.
    fn copy_out(&self) -> Frame {
        let bytes = self.bytes();
        let base = self.headers * SPAN;
        let mut buf = super::pool::take(base + bytes.len());
        buf.resize(base, 0);
        buf.extend_from_slice(bytes);
        // Two NULs a header, the colon's and the line end's, and no others before the body.
        let (mut i, mut name, mut value) = (0, 0, None);
        let (index, copied) = buf.split_at_mut(base);
        for nul in super::swar::zero_positions(&copied[..self.body_start]) {
            if i == self.headers {
                break;
            }
            let Some(v) = value.take() else {
                value = Some(nul + 1);
                continue;
            };
            index[i * SPAN..(i + 1) * SPAN].copy_from_slice(&span_bytes(
                base + name,
                base + v,
                nul - v,
            ));
            i += 1;
            name = nul + 1 + usize::from(copied.get(nul + 1) == Some(&b'\n'));
        }
        debug_assert_eq!(i, self.headers);
        Frame {
            command: self.command,
            store: Store::Own(buf),
            headers: self.headers,
            body_start: base + self.body_start,
            link: self.link,
        }
    }

    /// Whether the frame is a range of a received chunk (for tests).
    #[cfg(test)]
    pub(crate) fn in_a_chunk(&self) -> bool {
        matches!(self.store, Store::Chunk(_))
    }

    /// The frame's bytes: its whole buffer, or its range of a chunk.
    fn bytes(&self) -> &[u8] {
        match &self.store {
            Store::Own(buf) => buf,
            Store::Chunk(c) => c.bytes(),
        }
    }

    /// The frame's own buffer, to edit (a frame in a chunk is copied out first).
    fn vec(&mut self) -> &mut Vec<u8> {
        if let Store::Chunk(_) = self.store {
            let own = self.copy_out();
            self.replace_parts(own);
        }
        match &mut self.store {
            Store::Own(buf) => buf,
            Store::Chunk(_) => unreachable!("copied out above"),
        }
    }

    /// Writes header `i` (the next one) at the end of the buffer, its name and value written by
    /// `write_name` and `write_value` (a decoder unescaping into the buffer); the NULs after each are
    /// ours. Every header goes before the body.
    pub(crate) fn put_header<E>(
        &mut self,
        i: usize,
        write_name: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
        write_value: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        debug_assert!(i < self.headers && self.body_start == self.bytes().len());
        let buf = self.vec();
        let name = buf.len();
        write_name(buf)?;
        buf.push(0);
        let value = buf.len();
        write_value(buf)?;
        let value_len = buf.len() - value;
        buf.push(0);
        let end = buf.len();
        self.write_span(i, name, value, value_len);
        self.body_start = end;
        Ok(())
    }

    /// A frame whose header lines need no unescaping, from the raw block that holds them: the block
    /// is copied whole and each line's colon and line end are overwritten with NULs in place.
    /// `lines` are (start, colon, end) offsets in `block`, `end` at the CR or LF ending the line.
    /// `origin` is where `block` starts in the coordinates of `lines`.
    #[inline]
    pub(crate) fn from_header_block(
        command: Command,
        block: &[u8],
        origin: u32,
        lines: &[(u32, u32, u32)],
        body: &[u8],
    ) -> Frame {
        let base = lines.len() * SPAN;
        // In a kept buffer (see `pool`).
        let mut buf = super::pool::take(base + block.len() + body.len());
        // The index first, straight from the offsets (no zero-fill to write over).
        for &(start, colon, end) in lines {
            let [start, colon, end] = [start, colon, end].map(|x| (x - origin) as usize);
            buf.extend_from_slice(&span_bytes(base + start, base + colon + 1, end - colon - 1));
        }
        buf.extend_from_slice(block);
        end_header_lines(&mut buf[base..], origin, lines);
        buf.extend_from_slice(body);
        Frame {
            command,
            store: Store::Own(buf),
            headers: lines.len(),
            body_start: base + block.len(),
            link: 0,
        }
    }

    fn write_span(&mut self, i: usize, name: usize, value: usize, value_len: usize) {
        self.vec()[i * SPAN..(i + 1) * SPAN].copy_from_slice(&span_bytes(name, value, value_len));
    }

    /// Appends body bytes (after every header).
    pub(crate) fn extend_body(&mut self, bytes: &[u8]) {
        self.vec().extend_from_slice(bytes);
    }

    /// The whole buffer, for a decoder that reads a large body straight into the frame: the body
    /// runs to its end, so whatever is appended is body. Nothing before the body may be touched.
    pub(crate) fn body_buf(&mut self) -> &mut Vec<u8> {
        self.vec()
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
        let start = self.body_start;
        let buf = self.vec();
        buf.truncate(start);
        buf.extend_from_slice(body);
    }

    /// Appends a header (rebuilds the buffer: frames are built once and read often).
    pub fn add_header(&mut self, name: &str, value: &str) {
        let f = Frame::from_parts(
            self.command,
            self.headers().chain(std::iter::once((name, value))),
            self.body(),
        );
        self.replace_parts(f);
    }

    fn replace_parts(&mut self, mut f: Frame) {
        std::mem::swap(&mut self.store, &mut f.store);
        self.headers = f.headers;
        self.body_start = f.body_start;
    }

    /// Header `i`'s (name offset, value offset, value length), from the index of a frame with a
    /// buffer of its own.
    fn span(&self, i: usize) -> (usize, usize, usize) {
        let buf = self.bytes();
        let at = |k: usize| {
            let o = i * SPAN + k * 4;
            u32::from_ne_bytes(buf[o..o + 4].try_into().expect("4 bytes")) as usize
        };
        (at(0), at(1), at(2))
    }

    fn spans(&self) -> Spans<'_> {
        Spans {
            frame: self,
            i: 0,
            at: 0,
        }
    }

    fn str_at(&self, from: usize, len: usize) -> &str {
        // SAFETY: every header was written from a `&str` or validated as UTF-8 by the decoder
        // (unescaping maps ASCII to ASCII, so it keeps UTF-8 valid).
        unsafe { std::str::from_utf8_unchecked(&self.bytes()[from..from + len]) }
    }

    fn pair(&self, (n, v, l): (usize, usize, usize)) -> (&str, &str) {
        (self.str_at(n, v - n - 1), self.str_at(v, l))
    }

    /// The headers in the order they came, repeats included.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.spans().map(|s| self.pair(s))
    }

    pub fn header_count(&self) -> usize {
        self.headers
    }

    /// The `i`-th header.
    pub fn header_at(&self, i: usize) -> Option<(&str, &str)> {
        self.spans().nth(i).map(|s| self.pair(s))
    }

    /// The `i`-th header's name and value, each with the NUL that ends it in the buffer (what a C
    /// string needs; the value holds no NUL of its own when it came from the decoder).
    pub fn header_at_with_nul(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.spans().nth(i).map(|(n, v, l)| {
            let b = self.bytes();
            (&b[n..v], &b[v..v + l + 1])
        })
    }

    /// Index of the first header called `name`.
    pub fn header_position(&self, name: &str) -> Option<usize> {
        self.spans()
            .position(|(n, v, _)| &self.bytes()[n..v - 1] == name.as_bytes())
    }

    /// The first value of a header (STOMP 1.2: only the first occurrence of a repeated header counts).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().find(|(n, _)| *n == name).map(|(_, v)| v)
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
        self.replace_parts(f);
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
        &self.bytes()[self.body_start..]
    }

    /// Bytes the frame holds (its headers and body): what the byte bounds on received frames
    /// waiting for the application count.
    pub fn size(&self) -> usize {
        self.bytes().len()
    }

    /// The body as text, where it is UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(self.body()).ok()
    }

    /// A copy without the body.
    pub fn without_body(&self) -> Frame {
        let mut f = Frame::from_parts(self.command, self.headers(), b"");
        f.link = 0;
        f
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
        assert_eq!(
            f.header("k"),
            Some("v:1"),
            "the first of repeated headers wins"
        );
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
        assert_eq!(
            f.body(),
            b"abc",
            "a header added after the body goes before it"
        );
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
