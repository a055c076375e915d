//! The incremental frame decoder and the encoder.
//!
//! The decoder takes bytes as they come (split anywhere), and yields frames and heart-beats (EOLs
//! between frames). It honours `content-length` (so bodies may hold NUL), accepts CRLF line ends,
//! and enforces limits on the command and header lines, the header count and the body size, so that a
//! broker sending garbage costs bounded memory and ends in a clear error.

use super::escape::{escape_into, unescape};
use super::frame::{Command, Frame, Version};
use crate::error::{ErrorKind, Result, err};

/// Bounds on what one received frame may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes.
    pub max_body: usize,
    /// Most headers in one frame.
    pub max_headers: usize,
    /// Longest command or header line, in bytes.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 64 << 20,
            max_headers: 1000,
            max_line: 64 << 10,
        }
    }
}

/// What the decoder found next in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Frame(Frame),
    /// One EOL between frames: a heart-beat from the peer.
    Heartbeat,
}

/// A frame whose command and headers are read and whose body is still arriving.
#[derive(Debug)]
struct Head {
    command: Command,
    headers: Vec<(String, String)>,
    content_length: Option<usize>,
    /// Offset of the body's first byte in `buf`.
    body_start: usize,
}

#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Offset in `buf` of the first byte not yet consumed.
    pos: usize,
    /// Offset from which to resume searching (for the end of the headers, or the NUL of a body),
    /// so that a frame fed byte by byte is still scanned once.
    scan: usize,
    head: Option<Head>,
    version: Version,
    limits: Limits,
    /// A frame just ended: one EOL right after it is its trailer (brokers such as RabbitMQ write one),
    /// not a heart-beat.
    after_frame: bool,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            scan: 0,
            head: None,
            version: Version::V1_0,
            limits,
            after_frame: false,
        }
    }

    /// The version whose escaping applies to frames from now on (set once CONNECTED is read).
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// Drops everything buffered (the connection was reset).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.scan = 0;
        self.head = None;
        self.version = Version::V1_0;
        self.after_frame = false;
    }

    /// Bytes received and not yet decoded into a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.scan -= self.pos.min(self.scan);
            self.pos = 0;
        } else if self.pos > (64 << 10) && self.pos * 2 > self.buf.len() {
            self.compact();
        }
        self.buf.extend_from_slice(bytes);
    }

    fn compact(&mut self) {
        let shift = self.pos;
        self.buf.drain(..shift);
        self.pos = 0;
        self.scan -= shift;
        if let Some(h) = self.head.as_mut() {
            h.body_start -= shift;
        }
    }

    /// The next frame or heart-beat, `None` when more bytes are needed. An error is fatal: the stream
    /// cannot be resynchronised, and the connection must close.
    pub fn next(&mut self) -> Result<Option<Decoded>> {
        loop {
            match self.next_raw()? {
                Some(Decoded::Heartbeat) if std::mem::take(&mut self.after_frame) => continue,
                Some(Decoded::Heartbeat) => return Ok(Some(Decoded::Heartbeat)),
                Some(f) => {
                    self.after_frame = true;
                    return Ok(Some(f));
                }
                None => return Ok(None),
            }
        }
    }

    fn next_raw(&mut self) -> Result<Option<Decoded>> {
        if self.head.is_none() {
            // EOLs between frames are heart-beats.
            match self.buf.get(self.pos) {
                None => return Ok(None),
                Some(b'\n') => {
                    self.pos += 1;
                    self.scan = self.pos;
                    return Ok(Some(Decoded::Heartbeat));
                }
                Some(b'\r') => match self.buf.get(self.pos + 1) {
                    None => return Ok(None),
                    Some(b'\n') => {
                        self.pos += 2;
                        self.scan = self.pos;
                        return Ok(Some(Decoded::Heartbeat));
                    }
                    Some(_) => {
                        return err(
                            ErrorKind::Protocol,
                            "a carriage return not followed by a newline between frames",
                        );
                    }
                },
                Some(_) => {}
            }
            match self.read_head()? {
                Some(head) => self.head = Some(head),
                None => return Ok(None),
            }
        }
        self.read_body()
    }

    /// Finds the blank line ending the headers and parses command and headers.
    fn read_head(&mut self) -> Result<Option<Head>> {
        let limits = self.limits;
        let mut line_start = self.scan.max(self.pos);
        let mut lines = 0usize;
        // Count the lines already scanned, so the header-count limit covers all of them.
        if line_start > self.pos {
            lines = self.buf[self.pos..line_start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        }
        loop {
            let rest = &self.buf[line_start..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > limits.max_line {
                    return err(
                        ErrorKind::TooLarge,
                        format!("a frame line longer than {} bytes", limits.max_line),
                    );
                }
                self.scan = line_start;
                return Ok(None);
            };
            if nl > limits.max_line {
                return err(
                    ErrorKind::TooLarge,
                    format!("a frame line longer than {} bytes", limits.max_line),
                );
            }
            let line_len = if nl > 0 && rest[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            let next = line_start + nl + 1;
            if line_len == 0 && lines > 0 {
                let head = self.parse_head(self.pos, line_start)?;
                self.scan = next;
                return Ok(Some(Head {
                    body_start: next,
                    ..head
                }));
            }
            lines += 1;
            if lines > limits.max_headers + 1 {
                return err(
                    ErrorKind::TooLarge,
                    format!("a frame with more than {} headers", limits.max_headers),
                );
            }
            line_start = next;
        }
    }

    fn parse_head(&self, from: usize, to: usize) -> Result<Head> {
        let mut lines = self.buf[from..to]
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let cmd_line = lines.next().unwrap_or_default();
        let command = Command::parse(cmd_line).ok_or_else(|| {
            crate::error::Error::new(
                ErrorKind::Protocol,
                format!(
                    "unknown STOMP command {:?}",
                    String::from_utf8_lossy(&cmd_line[..cmd_line.len().min(40)])
                ),
            )
        })?;
        let escaped = !command.is_unescaped();
        let mut headers = Vec::new();
        let mut content_length = None;
        for line in lines.filter(|l| !l.is_empty()) {
            if line.contains(&0) {
                return err(ErrorKind::Protocol, "a NUL octet inside the headers");
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return err(
                    ErrorKind::Protocol,
                    format!(
                        "header line without a colon: {:?}",
                        String::from_utf8_lossy(line)
                    ),
                );
            };
            let name = unescape(&line[..colon], self.version, escaped)?;
            let value = unescape(&line[colon + 1..], self.version, escaped)?;
            if name == "content-length" && content_length.is_none() {
                let n: usize = value.trim().parse().map_err(|_| {
                    crate::error::Error::new(
                        ErrorKind::Protocol,
                        format!("invalid content-length {:?}", value),
                    )
                })?;
                if n > self.limits.max_body {
                    return err(
                        ErrorKind::TooLarge,
                        format!(
                            "a body of {} bytes, over the limit of {}",
                            n, self.limits.max_body
                        ),
                    );
                }
                content_length = Some(n);
            }
            headers.push((name, value));
        }
        Ok(Head {
            command,
            headers,
            content_length,
            body_start: 0,
        })
    }

    fn read_body(&mut self) -> Result<Option<Decoded>> {
        let head = self.head.as_ref().expect("read_body needs a head");
        let start = head.body_start;
        let end = match head.content_length {
            Some(n) => {
                if self.buf.len() < start + n + 1 {
                    return Ok(None);
                }
                if self.buf[start + n] != 0 {
                    return err(
                        ErrorKind::Protocol,
                        "frame body not followed by NUL where content-length says it ends",
                    );
                }
                start + n
            }
            None => {
                let from = self.scan.max(start);
                match self.buf[from..].iter().position(|&b| b == 0) {
                    Some(i) => from + i,
                    None => {
                        if self.buf.len() - start > self.limits.max_body {
                            return err(
                                ErrorKind::TooLarge,
                                format!("a body over the limit of {} bytes", self.limits.max_body),
                            );
                        }
                        self.scan = self.buf.len();
                        return Ok(None);
                    }
                }
            }
        };
        let head = self.head.take().expect("checked above");
        let body = self.buf[start..end].to_vec();
        self.pos = end + 1;
        self.scan = self.pos;
        Ok(Some(Decoded::Frame(Frame::from_parts(
            head.command,
            head.headers,
            body,
        ))))
    }
}

/// Appends `frame` to `out`, escaped for `version`. `content-length` is written whenever there is a
/// body and `auto_content_length` is on, and always when the body holds a NUL (it could not be framed
/// otherwise). On error `out` is left as it was.
pub fn encode(
    frame: &Frame,
    version: Version,
    auto_content_length: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mark = out.len();
    let r = encode_inner(frame, version, auto_content_length, out);
    if r.is_err() {
        out.truncate(mark);
    }
    r
}

fn encode_inner(
    frame: &Frame,
    version: Version,
    auto_content_length: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    if !frame.body.is_empty() && !frame.command.allows_body() {
        return err(
            ErrorKind::InvalidArgument,
            format!("a {} frame cannot carry a body", frame.command),
        );
    }
    let escaped = !frame.command.is_unescaped();
    let needs_length = !frame.body.is_empty() && (auto_content_length || frame.body.contains(&0));
    out.extend_from_slice(frame.command.as_str().as_bytes());
    out.push(b'\n');
    for (name, value) in &frame.headers {
        if name == "content-length" {
            if needs_length {
                continue; // ours replaces it
            }
            if value.trim().parse::<usize>().ok() != Some(frame.body.len()) {
                return err(
                    ErrorKind::InvalidHeader,
                    format!(
                        "content-length {:?} does not match the body of {} bytes",
                        value,
                        frame.body.len()
                    ),
                );
            }
        }
        if name.is_empty() {
            return err(ErrorKind::InvalidHeader, "a header with an empty name");
        }
        if (!escaped || version == Version::V1_0) && name.contains(':') {
            return err(
                ErrorKind::InvalidHeader,
                format!(
                    "header name {:?} holds a colon, which STOMP {} cannot carry",
                    name, version
                ),
            );
        }
        escape_into(name, version, escaped, out)?;
        out.push(b':');
        escape_into(value, version, escaped, out)?;
        out.push(b'\n');
    }
    if needs_length {
        out.extend_from_slice(b"content-length:");
        use std::io::Write as _;
        let _ = write!(out, "{}", frame.body.len());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(&frame.body);
    out.push(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], version: Version) -> Result<Vec<Decoded>> {
        let mut d = Decoder::new(Limits::default());
        d.set_version(version);
        d.push(bytes);
        let mut out = Vec::new();
        while let Some(x) = d.next()? {
            out.push(x);
        }
        Ok(out)
    }

    /// Feeds `bytes` split at every possible point (two pieces), and byte by byte.
    fn decode_split_everywhere(bytes: &[u8], version: Version) -> Vec<Decoded> {
        let whole = decode_all(bytes, version).unwrap();
        for cut in 0..=bytes.len() {
            let mut d = Decoder::new(Limits::default());
            d.set_version(version);
            let mut got = Vec::new();
            for piece in [&bytes[..cut], &bytes[cut..]] {
                d.push(piece);
                while let Some(x) = d.next().unwrap() {
                    got.push(x);
                }
            }
            assert_eq!(got, whole, "split at {cut}");
        }
        let mut d = Decoder::new(Limits::default());
        d.set_version(version);
        let mut got = Vec::new();
        for b in bytes {
            d.push(std::slice::from_ref(b));
            while let Some(x) = d.next().unwrap() {
                got.push(x);
            }
        }
        assert_eq!(got, whole, "byte by byte");
        assert_eq!(d.buffered(), 0);
        whole
    }

    fn frame(d: &Decoded) -> &Frame {
        match d {
            Decoded::Frame(f) => f,
            Decoded::Heartbeat => panic!("expected a frame"),
        }
    }

    #[test]
    fn message_with_nul_in_body_split_everywhere() {
        let raw = b"MESSAGE\ndestination:/queue/a\ncontent-length:5\nmessage-id:7\n\na\0b\0c\0";
        let got = decode_split_everywhere(raw, Version::V1_2);
        assert_eq!(got.len(), 1);
        let f = frame(&got[0]);
        assert_eq!(f.command, Command::Message);
        assert_eq!(f.body, b"a\0b\0c");
        assert_eq!(f.header("message-id"), Some("7"));
    }

    #[test]
    fn heartbeats_between_frames_and_crlf() {
        let raw = b"\n\r\nRECEIPT\r\nreceipt-id:r1\r\n\r\n\0\n\nMESSAGE\nx:1\n\nhello\0\r\n";
        let got = decode_split_everywhere(raw, Version::V1_2);
        let kinds: Vec<&str> = got
            .iter()
            .map(|d| match d {
                Decoded::Heartbeat => "hb",
                Decoded::Frame(f) => f.command.as_str(),
            })
            .collect();
        // The first EOL after a frame is its trailer; further ones are heart-beats.
        assert_eq!(kinds, ["hb", "hb", "RECEIPT", "hb", "MESSAGE"]);
        assert_eq!(frame(&got[2]).header("receipt-id"), Some("r1"));
        assert_eq!(frame(&got[4]).body, b"hello");
    }

    #[test]
    fn repeated_headers_kept_first_wins() {
        let got = decode_all(b"MESSAGE\nfoo:1\nfoo:2\n\n\0", Version::V1_2).unwrap();
        let f = frame(&got[0]);
        assert_eq!(f.header("foo"), Some("1"));
        assert_eq!(f.headers.len(), 2);
    }

    #[test]
    fn escapes_decoded_per_version_but_not_in_connected() {
        let raw = b"MESSAGE\nk\\cey:a\\nb\\\\c\\rd\n\n\0";
        let f = decode_all(raw, Version::V1_2).unwrap();
        assert_eq!(frame(&f[0]).header("k:ey"), Some("a\nb\\c\rd"));
        assert_eq!(
            decode_all(raw, Version::V1_1).unwrap_err().kind,
            ErrorKind::Protocol
        );
        let f = decode_all(raw, Version::V1_0).unwrap();
        assert_eq!(frame(&f[0]).header("k\\cey"), Some("a\\nb\\\\c\\rd"));
        let f = decode_all(b"CONNECTED\nserver:a\\cb\n\n\0", Version::V1_2).unwrap();
        assert_eq!(frame(&f[0]).header("server"), Some("a\\cb"));
    }

    #[test]
    fn value_may_hold_colons() {
        let f = decode_all(b"MESSAGE\nurl:http://x:1/\n\n\0", Version::V1_0).unwrap();
        assert_eq!(frame(&f[0]).header("url"), Some("http://x:1/"));
    }

    #[test]
    fn malformed_input_is_a_clear_error() {
        let cases: &[(&[u8], ErrorKind)] = &[
            (b"HELLO\n\n\0", ErrorKind::Protocol),
            (b"MESSAGE\nnocolon\n\n\0", ErrorKind::Protocol),
            (b"MESSAGE\ncontent-length:abc\n\n\0", ErrorKind::Protocol),
            (b"MESSAGE\ncontent-length:2\n\nabc\0", ErrorKind::Protocol),
            (b"\rX", ErrorKind::Protocol),
            (b"MESSAGE\nbad:\\q\n\n\0", ErrorKind::Protocol),
            (b"MESSAGE\nbad:\xff\n\n\0", ErrorKind::Protocol),
            (b"MESSAGE\nbad:a\0b\n\n\0", ErrorKind::Protocol),
        ];
        for (raw, kind) in cases {
            let e = decode_all(raw, Version::V1_2).unwrap_err();
            assert_eq!(
                e.kind,
                *kind,
                "{:?}: {}",
                String::from_utf8_lossy(raw),
                e.message
            );
        }
    }

    #[test]
    fn limits_bound_memory() {
        let limits = Limits {
            max_body: 10,
            max_headers: 2,
            max_line: 20,
        };
        let run = |raw: &[u8]| {
            let mut d = Decoder::new(limits);
            d.push(raw);
            loop {
                match d.next() {
                    Ok(Some(_)) => continue,
                    Ok(None) => return None,
                    Err(e) => return Some(e.kind),
                }
            }
        };
        assert_eq!(
            run(b"MESSAGE\ncontent-length:11\n\n"),
            Some(ErrorKind::TooLarge)
        );
        assert_eq!(run(b"MESSAGE\n\n0123456789A"), Some(ErrorKind::TooLarge));
        assert_eq!(
            run(b"MESSAGE\na:1\nb:2\nc:3\n\n\0"),
            Some(ErrorKind::TooLarge)
        );
        assert_eq!(
            run(b"MESSAGE\nlong:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Some(ErrorKind::TooLarge)
        );
        assert_eq!(run(b"MESSAGE\na:1\nb:2\n\n0123456789\0"), None);
    }

    #[test]
    fn encode_then_decode_in_every_version() {
        for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
            let mut f = Frame::new(Command::Send)
                .with("destination", "/queue/x")
                .with_body(&b"bin\0ary"[..]);
            if v != Version::V1_0 {
                f.add_header("weird", "a:b\nc\\d");
            }
            let mut out = Vec::new();
            encode(&f, v, true, &mut out).unwrap();
            let got = decode_split_everywhere(&out, v);
            let back = frame(&got[0]);
            assert_eq!(back.body, f.body);
            assert_eq!(back.header("content-length"), Some("7"));
            if v != Version::V1_0 {
                assert_eq!(back.header("weird"), Some("a:b\nc\\d"));
            }
        }
    }

    #[test]
    fn encoder_content_length_rules() {
        let mut out = Vec::new();
        let f = Frame::new(Command::Send)
            .with("destination", "/q")
            .with_body("text");
        encode(&f, Version::V1_2, false, &mut out).unwrap();
        assert!(!String::from_utf8_lossy(&out).contains("content-length"));
        out.clear();
        // A NUL in the body forces a content-length even when automatic lengths are off.
        let f = Frame::new(Command::Send)
            .with("destination", "/q")
            .with_body(&b"a\0"[..]);
        encode(&f, Version::V1_2, false, &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("content-length:2\n"));
        out.clear();
        // A user's wrong content-length is refused, a right one kept.
        let f = Frame::new(Command::Send)
            .with("destination", "/q")
            .with("content-length", "9")
            .with_body("abc");
        assert_eq!(
            encode(&f, Version::V1_2, false, &mut out).unwrap_err().kind,
            ErrorKind::InvalidHeader
        );
        assert!(
            out.is_empty(),
            "a failed encode leaves the buffer as it was"
        );
        let f = Frame::new(Command::Send)
            .with("destination", "/q")
            .with("content-length", "3")
            .with_body("abc");
        encode(&f, Version::V1_2, false, &mut out).unwrap();
        assert_eq!(out, b"SEND\ndestination:/q\ncontent-length:3\n\nabc\0");
    }

    #[test]
    fn encoder_refuses_what_the_version_cannot_carry() {
        let mut out = Vec::new();
        let f = Frame::new(Command::Send)
            .with("destination", "/q")
            .with("h", "a\nb");
        assert_eq!(
            encode(&f, Version::V1_0, true, &mut out).unwrap_err().kind,
            ErrorKind::InvalidHeader
        );
        let f = Frame::new(Command::Connect).with("passcode", "a\nb");
        assert_eq!(
            encode(&f, Version::V1_2, true, &mut out).unwrap_err().kind,
            ErrorKind::InvalidHeader
        );
        let f = Frame::new(Command::Subscribe).with_body("x");
        assert_eq!(
            encode(&f, Version::V1_2, true, &mut out).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        // CONNECT values are written raw: a colon or backslash in a passcode goes as it is.
        let f = Frame::new(Command::Connect).with("passcode", "p:w\\d");
        encode(&f, Version::V1_2, true, &mut out).unwrap();
        assert_eq!(out, b"CONNECT\npasscode:p:w\\d\n\n\0");
    }
}
