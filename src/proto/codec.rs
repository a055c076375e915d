//! The incremental frame decoder and the encoder.
//!
//! The decoder takes bytes as they come (split anywhere), and yields frames and heart-beats (EOLs
//! between frames). It honours `content-length` (so bodies may hold NUL), accepts CRLF line ends,
//! and enforces limits on the command and header lines, the header count and the body size, so that a
//! broker sending garbage costs bounded memory and ends in a clear error.
//!
//! Bytes are read straight into the decoder's buffer (`read_buf`, then `filled`), a chunk that
//! frames may share (see `chunk`). A MESSAGE with nothing to unescape is left there: NULs are
//! written over its header lines' colons and line ends, and the frame points at its bytes (no copy
//! and no allocation on the I/O thread; a copy is made only where a frame leaves the library's
//! hands, `Frame::detached`). Other frames, and a MESSAGE whose headers hold escapes, are copied
//! once, unescaped, into a buffer of their own. A frame larger than a read chunk whose length is
//! known gets its own buffer as soon as its head is read, and the rest of its body is read straight
//! into that: no copy at all, and the body is never held twice.

use super::chunk::{Chunk, KEPT};
use super::escape::{self, escape_into, unescape_into};
use super::frame::{Command, Frame, Version, end_header_lines, shown_value};
use super::mem::{LARGE_BODY, advise_huge_pages};
use super::scan::{BACKSLASH, HIGH, Lines, NUL, masks_at};
use crate::error::{Error, ErrorKind, Result, err};

/// Bounds on what one received frame may take. Each is checked as the bytes arrive, before the
/// decoder buffers more than the limit of anything: an announced `content-length` over `max_body`
/// (or a head plus body over `max_frame`) is refused when its header is read, before any room is
/// made for the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes.
    pub max_body: usize,
    /// Most headers in one frame.
    pub max_headers: usize,
    /// Longest command or header line, in bytes.
    pub max_line: usize,
    /// Largest whole frame (command, headers, body and NUL), in bytes.
    pub max_frame: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 64 << 20,
            max_headers: 1000,
            max_line: 64 << 10,
            // The largest body and 1 MiB of head.
            max_frame: (64 << 20) + (1 << 20),
        }
    }
}

/// The error for a frame line over `max_line`.
fn line_too_long(limits: &Limits, seen: usize) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!(
            "a command or header line of {} bytes or more, over max_line ({} bytes)",
            seen, limits.max_line
        ),
    )
}

/// The error for a frame of `seen` bytes or more, over `max_frame`.
fn frame_too_large(limits: &Limits, seen: usize) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!(
            "a frame of {} bytes or more, over max_frame ({} bytes)",
            seen, limits.max_frame
        ),
    )
}

/// How far the frame being read has come (for the time limits on a frame, kept by the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Between frames.
    Idle,
    /// Part of a frame's command and headers is buffered: this many bytes.
    Head(usize),
    /// The head is read; this many bytes of the body (and its NUL) have arrived.
    Body(usize),
}

/// What the decoder found next in the stream. A MESSAGE frame may point into the decoder's read
/// chunk (see `Frame::detached`): keeping it keeps that chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Frame(Frame),
    /// One EOL between frames: a heart-beat from the peer.
    Heartbeat,
}

/// One header line of a frame still being read: (start, colon, end) as offsets from the frame's
/// first byte, `end` at the CR or LF that ends the line.
type RawHeader = (u32, u32, u32);

/// A frame whose command and headers are read and whose body is still arriving. Offsets are from the
/// frame's first byte (`Decoder::pos`), so they survive the buffer being compacted; its header lines
/// are in `Decoder::lines`.
#[derive(Debug, Clone, Copy)]
struct Head {
    command: Command,
    /// Offset of the first header line, and the bytes of all of them.
    first: usize,
    header_bytes: usize,
    /// Some header line holds a backslash (otherwise the block is copied as it is).
    backslash: bool,
    content_length: Option<usize>,
    body_start: usize,
}

/// What the lines of a head read so far said (a head may arrive in pieces).
#[derive(Debug, Default, Clone, Copy)]
struct PartialHead {
    command: Option<Command>,
    content_length: Option<usize>,
    /// `BACKSLASH`, `NUL` and `HIGH` as seen in the header lines so far.
    flags: u8,
    /// Offset of the first header line.
    first: usize,
}

/// The room offered to one read adapts to the traffic: it starts at `SMALL_READ` (an idle
/// connection hearing heart-beats keeps no more; ten thousand of them must stay cheap), doubles
/// each time a read fills it, up to `READ_CHUNK`, and halves when reads use little of it. The buffer
/// grows past that only for a frame larger than it, and shrinks back once that frame is gone.
const SMALL_READ: usize = 2 << 10;
const READ_CHUNK: usize = 64 << 10;

/// A frame larger than a read chunk whose body is still arriving (`content-length` known): its head
/// is built, and its buffer is as long as the whole frame, the rest of which reads fill directly.
#[derive(Debug)]
struct LargeBody {
    frame: Frame,
    /// Where the next read goes in the frame's buffer.
    at: usize,
    /// Bytes of its body and NUL still to come.
    left: usize,
    /// Bytes of the frame received so far, head included, and where its body starts in them.
    received: usize,
    body_start: usize,
}

#[derive(Debug)]
pub struct Decoder {
    /// The bytes received and not yet consumed are `pos..end`. Received MESSAGE frames point into
    /// it (see `chunk`): bytes before `pos` may be held by frames, and are moved or written over
    /// only when no frame holds the chunk any more.
    buf: Chunk,
    /// The last chunk left to its frames, taken back for reads once they are all dropped (a
    /// stream of messages then reads into two chunks in turn).
    spare: Option<Chunk>,
    end: usize,
    /// Offset in `buf` of the first byte not yet consumed.
    pos: usize,
    /// Offset from which to resume searching (for the end of the headers, or the NUL of a body),
    /// so that a frame fed byte by byte is still scanned once.
    scan: usize,
    head: Option<Head>,
    /// Set instead of `head` once a large frame's body is being read into its own buffer.
    large: Option<LargeBody>,
    partial: PartialHead,
    /// The header lines of the frame being read (kept, and reused, across frames).
    lines: Vec<RawHeader>,
    version: Version,
    limits: Limits,
    /// A frame just ended: one EOL right after it is its trailer (brokers such as RabbitMQ write one),
    /// not a heart-beat.
    after_frame: bool,
    /// The room the next read gets (see `SMALL_READ`), and what the last `read_buf` offered.
    read_size: usize,
    offered: usize,
    /// Tests turn the plain-head path off to check it against the careful walk.
    #[cfg(test)]
    careful_only: bool,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            buf: Chunk::new(0),
            spare: None,
            end: 0,
            pos: 0,
            scan: 0,
            head: None,
            large: None,
            partial: PartialHead::default(),
            lines: Vec::new(),
            version: Version::V1_0,
            limits,
            after_frame: false,
            read_size: SMALL_READ,
            offered: 0,
            #[cfg(test)]
            careful_only: false,
        }
    }

    /// The version whose escaping applies to frames from now on (set once CONNECTED is read).
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// Drops everything buffered (the connection was reset).
    pub fn reset(&mut self) {
        if !self.buf.reclaim() {
            self.buf = Chunk::new(SMALL_READ);
        }
        self.end = 0;
        self.pos = 0;
        self.scan = 0;
        self.head = None;
        self.large = None;
        self.partial = PartialHead::default();
        self.lines.clear();
        self.version = Version::V1_0;
        self.after_frame = false;
        self.shrink();
    }

    /// Bytes received and not yet decoded into a frame.
    pub fn buffered(&self) -> usize {
        self.end - self.pos + self.large.as_ref().map_or(0, |l| l.received)
    }

    /// How far the frame being read has come, after `next` returned `None`.
    pub fn progress(&self) -> Progress {
        if let Some(l) = &self.large {
            return Progress::Body(l.received - l.body_start);
        }
        match &self.head {
            Some(head) => Progress::Body((self.end - self.pos).saturating_sub(head.body_start)),
            // A lone CR waits for its LF: between frames still.
            None => match &self.buf.bytes()[self.pos..self.end] {
                [] | [b'\r'] => Progress::Idle,
                partial => Progress::Head(partial.len()),
            },
        }
    }

    /// Where the next read from the socket goes: `read_size` bytes or more. Report what was read
    /// with `filled`.
    pub fn read_buf(&mut self) -> &mut [u8] {
        if self.large.as_ref().is_some_and(|l| l.left > 0) {
            let l = self.large.as_mut().expect("checked");
            self.offered = l.left;
            return &mut l.frame.body_buf()[l.at..];
        }
        // Nothing buffered: the chunk starts over when no frame holds it. One that frames hold
        // (the last of a burst, queued) and that is larger than reads now need is left to them
        // by `shrink`, so that an idle connection goes back to a small buffer either way.
        if self.pos == self.end
            && (self.buf.reclaim() || (self.head.is_none() && self.buf.len() > 2 * self.read_size))
        {
            (self.pos, self.end, self.scan) = (0, 0, 0);
            if self.head.is_none() {
                self.shrink();
            }
        }
        // A chunk grown for a large frame, now held by frames and needed for few bytes, is left
        // to them rather than read on into: a small frame read there would hold all of it.
        let oversized = self.buf.len() > KEPT && self.end - self.pos < self.buf.len() / 4;
        if self.buf.len() - self.end < self.read_size || (oversized && !self.buf.unique()) {
            self.make_room();
        }
        self.offered = self.buf.len() - self.end;
        let (end, len) = (self.end, self.buf.len());
        self.buf.bytes_mut(end..len)
    }

    /// `n` bytes were read into `read_buf`.
    pub fn filled(&mut self, n: usize) {
        debug_assert!(n <= self.offered);
        if let Some(l) = self.large.as_mut().filter(|l| l.left > 0) {
            l.at += n;
            l.left -= n;
            l.received += n;
            return;
        }
        debug_assert!(self.end + n <= self.buf.len());
        self.end += n;
        if n == self.offered {
            self.read_size = (self.read_size * 2).min(READ_CHUNK);
        } else if n < self.read_size / 4 {
            self.read_size = (self.read_size / 2).max(SMALL_READ);
        }
    }

    /// Copies `bytes` in (for callers that read elsewhere, and tests).
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = self.read_buf();
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
            self.filled(n);
            bytes = &bytes[n..];
        }
    }

    /// Makes `read_size` bytes of room after the unconsumed bytes, which go to the front: of this
    /// chunk when no frame holds it and it is large enough, else of another (the spare once its
    /// frames are gone, or a new one), this one being left to its frames.
    fn make_room(&mut self) {
        let (pos, keep) = (self.pos, self.end - self.pos);
        let need = keep + self.read_size;
        let len = self.buf.len();
        if len >= need && len <= 4 * need && self.buf.reclaim() {
            self.buf.move_to_front(pos..self.end);
        } else {
            // A frame outgrowing the chunk (no content-length, or a long head) doubles it, so that
            // its bytes are copied a bounded number of times in all, not once a read.
            let size = if need > len { need.max(2 * len) } else { need };
            let spare = self
                .spare
                .take()
                .filter(|c| c.len() >= size && c.len() <= 2 * size);
            let mut next = match spare.map(|mut c| (c.reclaim(), c)) {
                Some((true, c)) => c,
                _ => Chunk::new(size),
            };
            next.bytes_mut(0..keep)
                .copy_from_slice(&self.buf.bytes()[pos..self.end]);
            let old = std::mem::replace(&mut self.buf, next);
            if !old.unique() && old.len() <= KEPT {
                self.spare = Some(old);
            }
        }
        self.end = keep;
        self.pos = 0;
        self.scan -= pos.min(self.scan);
    }

    /// A buffer grown for one large frame, or for a stream that has since calmed down, goes back
    /// to the size reads need now, once nothing is buffered (and the spare chunk with it).
    fn shrink(&mut self) {
        if self.end != 0 {
            return;
        }
        if self.read_size < READ_CHUNK {
            self.spare = None;
        }
        if self.buf.len() > 2 * self.read_size {
            self.buf = Chunk::new(self.read_size);
        }
    }

    /// The next frame or heart-beat, `None` when more bytes are needed. An error is fatal: the stream
    /// cannot be resynchronised, and the connection must close.
    // Not an Iterator: it yields a Result of an Option, and after an error there is nothing more.
    #[allow(clippy::should_implement_trait)]
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
        if let Some(l) = &self.large {
            return if l.left > 0 {
                Ok(None)
            } else {
                self.finish_large()
            };
        }
        if self.head.is_none() {
            // EOLs between frames are heart-beats.
            let data = &self.buf.bytes()[..self.end];
            match data.get(self.pos) {
                None => return Ok(None),
                Some(b'\n') => {
                    self.pos += 1;
                    self.scan = self.pos;
                    return Ok(Some(Decoded::Heartbeat));
                }
                Some(b'\r') => match data.get(self.pos + 1) {
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
            if !self.read_plain_head() && !self.read_head()? {
                return Ok(None);
            }
        }
        self.read_body()
    }

    /// The common case at full speed: a whole head in the buffer, LF line ends, no byte that needs
    /// a second look (backslash, NUL, non-ASCII), every limit kept. The head's lines are walked
    /// through the 64-byte masks with a few bit operations a line. Anything else says false and
    /// goes to `read_head`, which gives the same head for these and the errors for the others.
    fn read_plain_head(&mut self) -> bool {
        #[cfg(test)]
        if self.careful_only {
            return false;
        }
        if self.partial.command.is_some() {
            return false;
        }
        let (pos, limits) = (self.pos, self.limits);
        let data = &self.buf.bytes()[..self.end];
        let lines = &mut self.lines;
        let Some(head) = plain_head(data, pos, &limits, lines) else {
            lines.clear();
            return false;
        };
        self.scan = pos + head.body_start;
        self.head = Some(head);
        true
    }

    /// Reads the command and header lines, one pass over each line as it arrives, up to the blank
    /// line that ends them. Checks all that can be checked before the body: the limits, colons,
    /// NULs, UTF-8 and `content-length`. Sets `head` and says true once the blank line is read.
    /// (The head is stored, not returned: a returned `Result<Option<Head>>` cost a stall in the
    /// copy of it, measured as several percent of decoding.)
    fn read_head(&mut self) -> Result<bool> {
        let limits = self.limits;
        let base = self.pos;
        let mut line_start = self.scan.max(base);
        let mut lines = Lines::new(&self.buf.bytes()[..self.end]);
        loop {
            let rest = &self.buf.bytes()[line_start..self.end];
            let Some(scan) = lines.line(line_start) else {
                if rest.len() > limits.max_line {
                    return Err(line_too_long(&limits, rest.len()));
                }
                if self.end - base > limits.max_frame {
                    return Err(frame_too_large(&limits, self.end - base));
                }
                self.scan = line_start;
                return Ok(false);
            };
            let nl = scan.newline;
            if nl > limits.max_line {
                return Err(line_too_long(&limits, nl));
            }
            if line_start + nl + 1 - base > limits.max_frame {
                return Err(frame_too_large(&limits, line_start + nl + 1 - base));
            }
            let line = &rest[..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let next = line_start + nl + 1;
            match self.partial.command {
                None => {
                    let command = Command::parse(line).ok_or_else(|| {
                        Error::new(
                            ErrorKind::Protocol,
                            format!(
                                "unknown STOMP command {:?}",
                                String::from_utf8_lossy(&line[..line.len().min(40)])
                            ),
                        )
                    })?;
                    self.partial = PartialHead {
                        command: Some(command),
                        first: next - base,
                        ..PartialHead::default()
                    };
                    self.lines.clear();
                }
                Some(command) if line.is_empty() => {
                    let first = base + self.partial.first;
                    let block = &self.buf.bytes()[first..line_start];
                    let flags = self.partial.flags;
                    if flags & NUL != 0 {
                        return err(ErrorKind::Protocol, "a NUL octet inside the headers");
                    }
                    if flags & HIGH != 0
                        && let Err(e) = std::str::from_utf8(block)
                    {
                        return err(ErrorKind::Protocol, format!("header is not UTF-8: {}", e));
                    }
                    let p = std::mem::take(&mut self.partial);
                    // The whole frame's size is known once its head is: refused before any room
                    // is made for the body.
                    if let Some(n) = p.content_length
                        && next - base + n + 1 > limits.max_frame
                    {
                        return Err(frame_too_large(&limits, next - base + n + 1));
                    }
                    self.scan = next;
                    self.head = Some(Head {
                        command,
                        first: p.first,
                        header_bytes: line_start - first,
                        backslash: flags & BACKSLASH != 0,
                        content_length: p.content_length,
                        body_start: next - base,
                    });
                    return Ok(true);
                }
                Some(_) => {
                    self.partial.flags |= scan.flags;
                    header_line(
                        &mut self.partial,
                        &mut self.lines,
                        &limits,
                        line,
                        scan.colon,
                        line_start - base,
                    )?
                }
            }
            line_start = next;
        }
    }

    fn read_body(&mut self) -> Result<Option<Decoded>> {
        let head = self.head.as_ref().expect("read_body needs a head");
        let start = self.pos + head.body_start;
        let end = match head.content_length {
            Some(n) => {
                if self.end < start + n + 1 {
                    if start + n + 1 - self.pos > READ_CHUNK {
                        return self.start_large(n);
                    }
                    return Ok(None);
                }
                if self.buf.bytes()[start + n] != 0 {
                    return err(
                        ErrorKind::Protocol,
                        "frame body not followed by NUL where content-length says it ends",
                    );
                }
                start + n
            }
            None => {
                let from = self.scan.max(start);
                let nul = memchr::memchr(0, &self.buf.bytes()[from..self.end]).map(|i| from + i);
                // The limits hold however the body came: in pieces, or whole with its NUL.
                let seen = nul.unwrap_or(self.end) - start;
                if seen > self.limits.max_body {
                    return err(
                        ErrorKind::TooLarge,
                        format!(
                            "a body of {} bytes or more, over max_body ({} bytes)",
                            seen, self.limits.max_body
                        ),
                    );
                }
                let frame_seen = nul.map_or(self.end, |n| n + 1) - self.pos;
                if frame_seen > self.limits.max_frame {
                    return Err(frame_too_large(&self.limits, frame_seen));
                }
                match nul {
                    Some(end) => end,
                    None => {
                        self.scan = self.end;
                        return Ok(None);
                    }
                }
            }
        };
        let head = self.head.take().expect("checked above");
        // The common case inline, with no Result to copy the frame out of (a stall measured in perf).
        let frame = if !self.copies_block(&head) {
            self.build(&head, &self.buf.bytes()[start..end])?
        } else if head.command == Command::Message {
            self.chunk_frame(&head, start, end)
        } else {
            self.block_frame(&head, &self.buf.bytes()[start..end])
        };
        self.pos = end + 1;
        self.scan = self.pos;
        Ok(Some(Decoded::Frame(frame)))
    }

    /// A large frame's head is read and its body of `n` bytes has begun: the frame is built now,
    /// in a buffer as long as the whole of it, whose rest `read_buf` then offers.
    fn start_large(&mut self, n: usize) -> Result<Option<Decoded>> {
        let head = self.head.take().expect("read_body needs a head");
        let start = self.pos + head.body_start;
        let mut frame = self.build(&head, &self.buf.bytes()[start..self.end])?;
        let left = start + n + 1 - self.end;
        let buf = frame.body_buf();
        let at = buf.len();
        // Zeroed by the allocator, which gets fresh memory zeroed from the kernel and then writes
        // nothing: a zero-fill of our own would be one more pass over the body before the reads.
        let mut whole = vec![0; at + left];
        advise_huge_pages(whole[at..].as_ptr(), left);
        whole[..at].copy_from_slice(buf);
        *buf = whole;
        self.large = Some(LargeBody {
            frame,
            at,
            left,
            received: self.end - self.pos,
            body_start: head.body_start,
        });
        self.pos = self.end;
        self.scan = self.end;
        Ok(None)
    }

    /// The large frame's last byte has come: it must be the NUL.
    fn finish_large(&mut self) -> Result<Option<Decoded>> {
        let mut l = self.large.take().expect("a large frame");
        let buf = l.frame.body_buf();
        debug_assert_eq!(buf.len(), l.at);
        if buf.pop() != Some(0) {
            return err(
                ErrorKind::Protocol,
                "frame body not followed by NUL where content-length says it ends",
            );
        }
        Ok(Some(Decoded::Frame(l.frame)))
    }

    /// Whether the head has nothing to unescape, so that its block is copied whole
    /// (`block_frame`).
    #[inline]
    fn copies_block(&self, head: &Head) -> bool {
        !head.backslash || head.command.is_unescaped() || self.version == Version::V1_0
    }

    /// A MESSAGE with nothing to unescape, left where it was read (see `chunk`): NULs written over
    /// its header lines' colons and line ends, and the frame pointing at its header lines, blank
    /// line and body (up to `end`, its NUL; the body starts at `start`).
    #[inline]
    fn chunk_frame(&mut self, head: &Head, start: usize, end: usize) -> Frame {
        let first = self.pos + head.first;
        // Past `pos`: bytes no frame holds yet.
        let block = self.buf.bytes_mut(first..first + head.header_bytes);
        end_header_lines(block, head.first as u32, &self.lines);
        let bytes = self.buf.share(first, end - first);
        Frame::in_chunk(head.command, bytes, self.lines.len(), start - first)
    }

    /// The frame's own buffer when nothing needs unescaping: the head's block copied whole, NULs
    /// written over colons and EOLs, then the body.
    #[inline]
    fn block_frame(&self, head: &Head, body: &[u8]) -> Frame {
        let block =
            &self.buf.bytes()[self.pos + head.first..self.pos + head.first + head.header_bytes];
        Frame::from_header_block(head.command, block, head.first as u32, &self.lines, body)
    }

    /// The frame's own buffer: headers unescaped and NUL-terminated, then the body.
    fn build(&self, head: &Head, body: &[u8]) -> Result<Frame> {
        if self.copies_block(head) {
            return Ok(self.block_frame(head, body));
        }
        let base = &self.buf.bytes()[self.pos..];
        let escaped = !head.command.is_unescaped();
        let version = self.version;
        let mut f = Frame::with_index(
            head.command,
            self.lines.len(),
            head.header_bytes + body.len(),
        );
        for (i, &(s, c, e)) in self.lines.iter().enumerate() {
            let (s, c, e) = (s as usize, c as usize, e as usize);
            f.put_header(
                i,
                |out| unescape_into(&base[s..c], version, escaped, out),
                |out| unescape_into(&base[c + 1..e], version, escaped, out),
            )?;
        }
        f.extend_body(body);
        Ok(f)
    }
}

/// Indexes one header line (at `start` from the frame's first byte).
fn header_line(
    partial: &mut PartialHead,
    lines: &mut Vec<RawHeader>,
    limits: &Limits,
    line: &[u8],
    colon: Option<usize>,
    start: usize,
) -> Result<()> {
    if lines.len() >= limits.max_headers {
        return err(
            ErrorKind::TooLarge,
            format!(
                "a frame with more headers than max_headers ({})",
                limits.max_headers
            ),
        );
    }
    let Some(colon) = colon.filter(|&c| c < line.len()) else {
        return err(
            ErrorKind::Protocol,
            format!(
                "header line without a colon: {:?}",
                String::from_utf8_lossy(line)
            ),
        );
    };
    if partial.content_length.is_none() && &line[..colon] == b"content-length" {
        let value = &line[colon + 1..];
        let n = parse_length(value).ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "invalid content-length {:?}",
                    String::from_utf8_lossy(value)
                ),
            )
        })?;
        if n > limits.max_body {
            return err(
                ErrorKind::TooLarge,
                format!(
                    "content-length {} is over max_body ({} bytes)",
                    n, limits.max_body
                ),
            );
        }
        partial.content_length = Some(n);
    }
    lines.push((
        start as u32,
        (start + colon) as u32,
        (start + line.len()) as u32,
    ));
    Ok(())
}

/// The head of the frame at `pos` if it is plain (see `Decoder::read_plain_head`), its header
/// lines in `lines`; `None` for anything else.
#[inline]
fn plain_head(
    data: &[u8],
    pos: usize,
    limits: &Limits,
    lines: &mut Vec<RawHeader>,
) -> Option<Head> {
    let mut group = pos;
    let (mut newline, mut colon, mut odd) = masks_at(data, group)?;
    if newline == 0 {
        return None;
    }
    let command_end = pos + newline.trailing_zeros() as usize;
    if command_end - pos > limits.max_line {
        return None;
    }
    let command = Command::parse(&data[pos..command_end])?;
    lines.clear();
    let first = command_end + 1;
    let (mut start, mut at) = (first, first);
    let (mut line_colon, mut content_length) = (None, None);
    loop {
        if at >= group + 64 {
            group += 64;
            (newline, colon, odd) = masks_at(data, group)?;
        }
        let shift = at - group;
        let ends = newline >> shift;
        // This line's bytes among the rest of the group.
        let keep = if ends == 0 {
            u64::MAX
        } else {
            (ends & ends.wrapping_neg()) - 1
        };
        if (odd >> shift) & keep != 0 {
            return None;
        }
        if line_colon.is_none() {
            let c = (colon >> shift) & keep;
            if c != 0 {
                line_colon = Some(at + c.trailing_zeros() as usize);
            }
        }
        if ends == 0 {
            at = group + 64;
            continue;
        }
        let end = at + ends.trailing_zeros() as usize;
        if end == start {
            let body_start = end + 1 - pos;
            if body_start > limits.max_frame
                || content_length.is_some_and(|n| body_start + n + 1 > limits.max_frame)
            {
                return None;
            }
            return Some(Head {
                command,
                first: first - pos,
                header_bytes: start - first,
                backslash: false,
                content_length,
                body_start,
            });
        }
        let c = line_colon.take()?;
        if end - start > limits.max_line
            || lines.len() >= limits.max_headers
            || data[end - 1] == b'\r'
        {
            return None;
        }
        if content_length.is_none() && &data[start..c] == b"content-length" {
            let n = parse_length(&data[c + 1..end]).filter(|&n| n <= limits.max_body)?;
            content_length = Some(n);
        }
        lines.push(((start - pos) as u32, (c - pos) as u32, (end - pos) as u32));
        start = end + 1;
        at = start;
    }
}

/// A decimal length, surrounding blanks allowed; `None` if it is not one or overflows.
fn parse_length(v: &[u8]) -> Option<usize> {
    let v = v.trim_ascii();
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit()
            .then_some(())
            .and_then(|_| n.checked_mul(10)?.checked_add(usize::from(b - b'0')))
    })
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
    encode_parts(
        frame.command,
        frame.headers(),
        false,
        frame.body(),
        version,
        auto_content_length,
        out,
    )
}

/// `encode` from borrowed parts, with no frame built (the SEND hot path). `verbatim`: every name
/// and value is known to pass `escape::verbatim` (checked where they came in); false, the encoder
/// looks.
pub fn encode_parts<'a>(
    command: Command,
    headers: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    verbatim: bool,
    body: &[u8],
    version: Version,
    auto_content_length: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mark = out.len();
    let r = encode_inner(
        command,
        headers,
        verbatim,
        body,
        version,
        auto_content_length,
        out,
    );
    if r.is_err() {
        out.truncate(mark);
    }
    r
}

fn encode_inner<'a>(
    command: Command,
    headers: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    verbatim: bool,
    body: &[u8],
    version: Version,
    auto_content_length: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    if !body.is_empty() && !command.allows_body() {
        return err(
            ErrorKind::InvalidArgument,
            format!("a {} frame cannot carry a body", command),
        );
    }
    let needs_length =
        !body.is_empty() && (auto_content_length || memchr::memchr(0, body).is_some());
    // The usual frame: every header goes out as it is (nothing to escape or refuse, no
    // content-length of the caller's to check), so its size is known before a byte is written.
    let mut head = 0;
    let mut as_is = true;
    for (name, value) in headers.clone() {
        head += name.len() + value.len() + 2;
        as_is &= !name.is_empty()
            && name != "content-length"
            && (verbatim
                || escape::verbatim(name.as_bytes()) && escape::verbatim(value.as_bytes()));
    }
    if as_is {
        encode_verbatim(command, headers, head, needs_length, body, out);
        Ok(())
    } else {
        encode_careful(command, headers, head, needs_length, body, version, out)
    }
}

/// `encode_inner` for any headers: each checked, escaped for `version` (unless the command is never
/// escaped), `content-length` checked against the body. `head`: the header lines' size unescaped.
fn encode_careful<'a>(
    command: Command,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    head: usize,
    needs_length: bool,
    body: &[u8],
    version: Version,
    out: &mut Vec<u8>,
) -> Result<()> {
    let escaped = !command.is_unescaped();
    // One reservation for the frame (escapes may still grow it): no growth step per header.
    out.reserve(command.as_str().len() + head + CONTENT_LENGTH_LINE + body.len() + 3);
    out.extend_from_slice(command.as_str().as_bytes());
    out.push(b'\n');
    for (name, value) in headers {
        if name == "content-length" {
            if needs_length {
                continue; // ours replaces it
            }
            if value.trim().parse::<usize>().ok() != Some(body.len()) {
                return err(
                    ErrorKind::InvalidHeader,
                    format!(
                        "content-length {:?} does not match the body of {} bytes",
                        value,
                        body.len()
                    ),
                );
            }
            // Written as digits alone: "+3" or " 3" (or a CR, escaped to "\\r" under 1.2) would
            // reach the broker as a length no decoder reads.
            write_content_length(body.len(), out);
            continue;
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
        escape_into(name, name, version, escaped, out)?;
        out.push(b':');
        escape_into(value, shown_value(name, value), version, escaped, out)?;
        out.push(b'\n');
    }
    if needs_length {
        write_content_length(body.len(), out);
    }
    out.push(b'\n');
    if body.len() >= LARGE_BODY {
        // Room for the body and its NUL at once: growing for the body alone, then again for the
        // NUL, would double the buffer.
        out.reserve(body.len() + 1);
        let spare = out.spare_capacity_mut();
        advise_huge_pages(spare.as_ptr().cast(), spare.len());
    }
    out.extend_from_slice(body);
    out.push(0);
    Ok(())
}

/// `encode_inner` for headers that all go out as they are (none empty, none `content-length`, each
/// `escape::verbatim`), `head` bytes of header lines: one reservation, then each piece copied with
/// no growth check. The bytes are those `encode_careful` writes for the same headers.
fn encode_verbatim<'a>(
    command: Command,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    head: usize,
    needs_length: bool,
    body: &[u8],
    out: &mut Vec<u8>,
) {
    let mut digits = [0u8; 20];
    let digits = if needs_length {
        decimal(body.len(), &mut digits)
    } else {
        &[][..]
    };
    let length_line = if needs_length {
        CONTENT_LENGTH.len() + digits.len() + 1
    } else {
        0
    };
    let command = command.as_str().as_bytes();
    let size = command.len() + 1 + head + length_line + 1 + body.len() + 1;
    let mut w = Spare::new(out, size);
    w.put(command);
    w.put_byte(b'\n');
    for (name, value) in headers {
        w.put(name.as_bytes());
        w.put_byte(b':');
        w.put(value.as_bytes());
        w.put_byte(b'\n');
    }
    if needs_length {
        w.put(CONTENT_LENGTH);
        w.put(digits);
        w.put_byte(b'\n');
    }
    w.put_byte(b'\n');
    w.put(body);
    w.put_byte(0);
    w.finish();
}

/// Writes into spare capacity reserved up front; the bytes count as part of the vector once
/// `finish` finds every reserved byte written.
struct Spare<'v> {
    out: &'v mut Vec<u8>,
    /// The vector's buffer, taken once: writes through it need not reload the vector's fields.
    base: *mut u8,
    at: usize,
    end: usize,
}

impl<'v> Spare<'v> {
    fn new(out: &'v mut Vec<u8>, size: usize) -> Spare<'v> {
        out.reserve(size);
        let at = out.len();
        Spare {
            base: out.as_mut_ptr(),
            out,
            at,
            end: at + size,
        }
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        assert!(n <= self.end - self.at, "the reservation was too small");
        // SAFETY: `at + n <= end <= capacity` (reserved in `new`, checked above); the buffer
        // cannot move while `out` is borrowed here, and `bytes` cannot overlap its unused
        // capacity, which nothing else borrows.
        unsafe {
            let src = bytes.as_ptr();
            let dst = self.base.add(self.at);
            // Header names and values are short: two overlapping word moves copy 4 to 16 bytes
            // in place, where a call to memcpy would cost more than the copy.
            if (8..=16).contains(&n) {
                let (a, b) = (
                    src.cast::<u64>().read_unaligned(),
                    src.add(n - 8).cast::<u64>().read_unaligned(),
                );
                dst.cast::<u64>().write_unaligned(a);
                dst.add(n - 8).cast::<u64>().write_unaligned(b);
            } else if (4..8).contains(&n) {
                let (a, b) = (
                    src.cast::<u32>().read_unaligned(),
                    src.add(n - 4).cast::<u32>().read_unaligned(),
                );
                dst.cast::<u32>().write_unaligned(a);
                dst.add(n - 4).cast::<u32>().write_unaligned(b);
            } else if n > 16 {
                std::ptr::copy_nonoverlapping(src, dst, n);
            } else if n > 0 {
                // The first, middle and last bytes are all of them.
                *dst = *src;
                *dst.add(n / 2) = *src.add(n / 2);
                *dst.add(n - 1) = *src.add(n - 1);
            }
        }
        self.at += n;
    }

    #[inline]
    fn put_byte(&mut self, b: u8) {
        assert!(self.at < self.end, "the reservation was too small");
        // SAFETY: `at < end <= capacity`, as in `put`.
        unsafe { *self.base.add(self.at) = b };
        self.at += 1;
    }

    fn finish(self) {
        assert_eq!(self.at, self.end, "the reservation was not filled");
        // SAFETY: every byte up to `end` was written by `put`, and `end <= capacity`.
        unsafe { self.out.set_len(self.end) };
    }
}

const CONTENT_LENGTH: &[u8] = b"content-length:";

/// The longest `content-length` line: the name, a colon, 20 digits, a newline.
const CONTENT_LENGTH_LINE: usize = 36;

fn write_content_length(n: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(CONTENT_LENGTH);
    write_decimal(n, out);
    out.push(b'\n');
}

/// `n` in decimal, without the formatting machinery.
fn write_decimal(n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(n, &mut digits));
}

/// `n` in decimal, in the end of `digits`: two digits a step (a body length has a few).
fn decimal(mut n: usize, digits: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] =
        b"00010203040506070809101112131415161718192021222324252627282930313233343536373839\
          40414243444546474849505152535455565758596061626364656667686970717273747576777879\
          8081828384858687888990919293949596979899";
    let mut i = digits.len();
    while n >= 100 {
        let pair = n % 100 * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[n * 2..n * 2 + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    &digits[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn decode_all(bytes: &[u8], version: Version) -> Result<Vec<Decoded>> {
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
        assert_eq!(f.body(), b"a\0b\0c");
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
        assert_eq!(frame(&got[4]).body(), b"hello");
    }

    #[test]
    fn repeated_headers_kept_first_wins() {
        let got = decode_all(b"MESSAGE\nfoo:1\nfoo:2\n\n\0", Version::V1_2).unwrap();
        let f = frame(&got[0]);
        assert_eq!(f.header("foo"), Some("1"));
        assert_eq!(f.header_count(), 2);
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
    fn a_large_frame_read_in_pieces_is_checked_like_a_small_one() {
        let feed = |raw: &[u8]| -> Result<Vec<Decoded>> {
            let mut d = Decoder::new(Limits::default());
            d.set_version(Version::V1_2);
            let mut got = Vec::new();
            for piece in raw.chunks(10_000) {
                d.push(piece);
                while let Some(x) = d.next()? {
                    got.push(x);
                }
            }
            Ok(got)
        };
        let body = vec![b'y'; 200_000];
        let frame_with = |headers: &str, last: u8| {
            let mut raw = format!("MESSAGE\n{headers}content-length:200000\n\n").into_bytes();
            raw.extend_from_slice(&body);
            raw.push(last);
            raw
        };
        let got = feed(&frame_with("a:b\\\\c\n", 0)).unwrap();
        assert_eq!(frame(&got[0]).header("a"), Some("b\\c"));
        assert_eq!(frame(&got[0]).body(), &body[..]);
        for (raw, what) in [
            (frame_with("", b'z'), "NUL"),
            (frame_with("a:\\q\n", 0), "escape"),
        ] {
            let e = feed(&raw).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
            assert!(e.message.contains(what), "{}", e.message);
        }
    }

    #[test]
    fn limits_bound_memory() {
        let limits = Limits {
            max_body: 10,
            max_headers: 2,
            max_line: 20,
            max_frame: 40,
        };
        let run_with = |limits: Limits, raw: &[u8]| {
            let mut d = Decoder::new(limits);
            d.push(raw);
            loop {
                match d.next() {
                    Ok(Some(_)) => continue,
                    Ok(None) => return None,
                    Err(e) => {
                        assert_eq!(e.kind, ErrorKind::TooLarge, "{}", e.message);
                        return Some(e.message);
                    }
                }
            }
        };
        let run = |raw: &[u8]| run_with(limits, raw).map(|_| ErrorKind::TooLarge);
        let wide = Limits {
            max_line: 1000,
            ..limits
        };
        // Each message names the limit crossed and its value.
        let m = run_with(wide, b"MESSAGE\ncontent-length:99999999999\n\n").unwrap();
        assert!(
            m.contains("99999999999") && m.contains("max_body (10 bytes)"),
            "{m}"
        );
        let m = run_with(limits, b"MESSAGE\na:1\nb:2\nc:3\n").unwrap();
        assert!(m.contains("max_headers (2)"), "{m}");
        let m = run_with(limits, b"MESSAGE\nlong:aaaaaaaaaaaaaaaaaaaa").unwrap();
        assert!(m.contains("max_line (20 bytes)"), "{m}");
        // max_frame: a head and body each within their limits, too large together; announced by
        // content-length (refused with the head), or not (refused as it arrives).
        let m = run_with(limits, b"MESSAGE\na:0123456789\ncontent-length:10\n\n").unwrap();
        assert!(m.contains("max_frame (40 bytes)"), "{m}");
        let m = run_with(limits, b"MESSAGE\na:0123456789\nb:0123456789\n\n0123456789").unwrap();
        assert!(m.contains("max_frame (40 bytes)"), "{m}");
        let m = run_with(wide, &[b'x'; 41]).unwrap();
        assert!(m.contains("max_frame (40 bytes)"), "a head over it: {m}");
        assert_eq!(run(b"MESSAGE\ncontent-length:5\n\n01234\0"), None);
        assert_eq!(
            run(b"MESSAGE\ncontent-length:11\n\n"),
            Some(ErrorKind::TooLarge)
        );
        assert_eq!(run(b"MESSAGE\n\n0123456789A"), Some(ErrorKind::TooLarge));
        // The same body arriving whole, its NUL in the same read.
        assert_eq!(run(b"MESSAGE\n\n0123456789A\0"), Some(ErrorKind::TooLarge));
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
            assert_eq!(back.body(), f.body());
            assert_eq!(back.header("content-length"), Some("7"));
            if v != Version::V1_0 {
                assert_eq!(back.header("weird"), Some("a:b\nc\\d"));
            }
        }
    }

    /// The copying encoder writes, byte for byte, what the careful one writes for the same frame,
    /// in every version, with and without a content-length.
    #[test]
    fn verbatim_and_careful_encoders_agree() {
        let header_sets: [&[(&str, &str)]; 5] = [
            &[],
            &[("destination", "/queue/a")],
            &[
                ("destination", "/queue/bench"),
                ("content-type", "text/plain"),
            ],
            &[
                ("a", ""),
                ("bb", "x"),
                ("ccc", "yyy"),
                ("dddd", "zzzz"),
                ("e", "12345678"),
            ],
            &[
                (
                    "a-name-longer-than-sixteen",
                    "a value longer than sixteen bytes",
                ),
                ("x-bench-a", "alpha"),
                ("x-bench-b", "beta"),
                ("\u{e9}t\u{e9}", "\u{fc}ber"),
            ],
        ];
        let bodies: [&[u8]; 4] = [b"", b"x", b"a body\0with a NUL", &[b'b'; 300]];
        for headers in header_sets {
            for body in bodies {
                for command in [Command::Send, Command::Subscribe, Command::Connect] {
                    if !body.is_empty() && !command.allows_body() {
                        continue;
                    }
                    for version in [Version::V1_0, Version::V1_1, Version::V1_2] {
                        for needs_length in [false, true] {
                            let needs_length = needs_length && !body.is_empty()
                                || memchr::memchr(0, body).is_some();
                            let head = headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
                            let pairs = headers.iter().copied();
                            let (mut fast, mut careful) = (b"old".to_vec(), b"old".to_vec());
                            encode_verbatim(
                                command,
                                pairs.clone(),
                                head,
                                needs_length,
                                body,
                                &mut fast,
                            );
                            encode_careful(
                                command,
                                pairs,
                                head,
                                needs_length,
                                body,
                                version,
                                &mut careful,
                            )
                            .unwrap();
                            assert_eq!(fast, careful, "{command} {version} {headers:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn decimal_writes_every_length() {
        let mut digits = [0u8; 20];
        let samples = (0..100_000).chain([
            999_999,
            1_000_000,
            123_456_789,
            u32::MAX as usize,
            usize::MAX,
        ]);
        for n in samples {
            assert_eq!(decimal(n, &mut digits), n.to_string().as_bytes());
        }
    }

    #[test]
    fn a_large_body_is_encoded_into_one_growth_of_the_buffer() {
        let body = vec![b'z'; 3 << 20];
        let mut out = b"earlier".to_vec();
        let f = Frame::new(Command::Send).with("destination", "/q");
        encode_parts(
            f.command,
            f.headers(),
            false,
            &body,
            Version::V1_2,
            true,
            &mut out,
        )
        .unwrap();
        let head = b"earlierSEND\ndestination:/q\ncontent-length:3145728\n\n";
        assert_eq!(&out[..head.len()], head);
        assert_eq!(&out[head.len()..out.len() - 1], &body[..]);
        assert_eq!(out.last(), Some(&0));
        assert!(
            out.capacity() < out.len() + 1024,
            "not doubled for the NUL: {} for {}",
            out.capacity(),
            out.len()
        );
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
        // A right length with a sign or blanks around it goes as digits alone, which decode.
        for v in ["+3", " 3 ", "3\r", "\r3"] {
            out.clear();
            let f = Frame::new(Command::Send)
                .with("content-length", v)
                .with_body("abc");
            encode(&f, Version::V1_2, false, &mut out).unwrap();
            assert_eq!(out, b"SEND\ncontent-length:3\n\nabc\0", "{v:?}");
            assert_eq!(
                frame(&decode_all(&out, Version::V1_2).unwrap()[0]).body(),
                b"abc"
            );
        }
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
        let f = Frame::new(Command::Connect).with("passcode", "pc-codec\nb");
        let e = encode(&f, Version::V1_2, true, &mut out).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidHeader);
        // The message says what is wrong without the passcode in it.
        assert!(
            e.message.contains("********") && !e.message.contains("pc-codec"),
            "{}",
            e.message
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

    #[test]
    fn a_large_body_is_read_straight_into_its_frame_and_the_buffer_stays_small() {
        let mut d = Decoder::new(Limits::default());
        d.set_version(Version::V1_2);
        let big = vec![b'x'; 1 << 20];
        let mut raw = b"MESSAGE\ncontent-length:1048576\nk:a\\cb\n\n".to_vec();
        let head = raw.len();
        raw.extend_from_slice(&big);
        raw.extend_from_slice(b"\0\nRECEIPT\nreceipt-id:1\n\n\0");
        let mut fed = 0;
        let mut got = Vec::new();
        let mut largest = 0;
        while fed < raw.len() {
            let room = d.read_buf();
            assert!(!room.is_empty());
            let n = room.len().min(raw.len() - fed).min(40_000);
            room[..n].copy_from_slice(&raw[fed..fed + n]);
            d.filled(n);
            fed += n;
            largest = largest.max(d.buf.len());
            while let Some(x) = d.next().unwrap() {
                got.push(x);
            }
            if fed < raw.len() / 2 {
                assert_eq!(d.progress(), Progress::Body(fed - head));
                assert_eq!(d.buffered(), fed);
            }
        }
        assert_eq!(got.len(), 2);
        assert!(
            largest <= 2 * READ_CHUNK,
            "the decoder's own buffer never holds the body: {largest}"
        );
        let Decoded::Frame(mut f) = got.remove(0) else {
            panic!("a frame first")
        };
        assert_eq!(f.body(), &big[..]);
        assert_eq!(f.header("k"), Some("a:b"));
        let (len, cap) = (f.body_buf().len(), f.body_buf().capacity());
        assert!(cap <= len + 1, "sized once for the frame: {cap} for {len}");
        assert_eq!(frame(&got[0]).command, Command::Receipt);
        let mut beats = 0;
        for _ in 0..8 {
            let room = d.read_buf();
            room[0] = b'\n';
            d.filled(1);
            beats += usize::from(d.next().unwrap() == Some(Decoded::Heartbeat));
        }
        assert_eq!(beats, 7, "the first EOL is the last frame's trailer");
        assert_eq!(d.read_size, SMALL_READ, "small reads shrink it again");
        let _ = d.read_buf();
        assert!(
            d.buf.len() <= 2 * SMALL_READ,
            "and the buffer follows once empty: {}",
            d.buf.len()
        );
    }

    /// The plain-head path and the careful walk give the same frames, or the same error, for heads
    /// built from lines that trip each of the plain path's refusals (CR, escapes, NUL, non-ASCII,
    /// no colon, a bad or large content-length, every limit), whole or split in two.
    #[test]
    fn the_plain_head_path_agrees_with_the_careful_walk() {
        use proptest::prelude::*;
        let plain: Vec<&'static [u8]> = vec![
            b"a:b\n",
            b"destination:/queue/x\n",
            b"message-id:T_1@@session-abc@@000000000001\n",
            b"content-length:3\n",
            b"content-length: 5 \n",
            b"content-length:12\n",
            b"colons:a:b:c\n",
        ];
        let odd: Vec<&'static [u8]> = vec![
            b"content-length:x\n",
            b"content-length:99999999\n",
            b"k:v\r\n",
            b"x\\cy:z\n",
            b"nocolon\n",
            b":empty-name\n",
            b"h:\xc3\xa9\n",
            b"h:\xff\n",
            b"nul:a\0b\n",
            b"a-rather-long-header-name-past-forty-bytes-and-on:value-beyond\n",
        ];
        // Mostly plain lines, so that whole heads with one odd line among them are common.
        let line = prop_oneof![
            6 => prop::sample::select(plain),
            1 => prop::sample::select(odd),
        ];
        let command = prop::sample::select(vec![
            &b"MESSAGE\n"[..],
            b"RECEIPT\n",
            b"ERROR\r\n",
            b"CONNECTED\n",
            b"BOGUS\n",
        ]);
        let strategy = (
            command,
            prop::collection::vec(line, 0..10),
            prop::sample::select(vec![&b"\n"[..], b"\r\n"]),
            0usize..90,
            any::<bool>(),
            any::<usize>(),
        );
        let config = ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |((command, lines, blank, body_len, tight, split) in strategy)| {
            let mut bytes = command.to_vec();
            for l in &lines {
                bytes.extend_from_slice(l);
            }
            bytes.extend_from_slice(blank);
            bytes.extend((0..body_len).map(|i| b'a' + (i % 26) as u8));
            bytes.extend_from_slice(b"\0\nMESSAGE\na:b\n\nnext\0");
            let limits = if tight {
                Limits { max_body: 8, max_headers: 6, max_line: 50, max_frame: 120 }
            } else {
                Limits::default()
            };
            let run = |careful: bool, split: usize| {
                let mut d = Decoder::new(limits);
                d.set_version(Version::V1_2);
                d.careful_only = careful;
                let mut out = Vec::new();
                for piece in [&bytes[..split], &bytes[split..]] {
                    d.push(piece);
                    loop {
                        match d.next() {
                            Ok(Some(x)) => out.push(x),
                            Ok(None) => break,
                            Err(e) => return (out, Some((e.kind, e.message))),
                        }
                    }
                }
                (out, None)
            };
            let split = split % (bytes.len() + 1);
            prop_assert_eq!(run(false, split), run(true, split));
            prop_assert_eq!(run(false, bytes.len()), run(true, bytes.len()));
        });
    }

    /// Feeds `stream` the way the I/O loop does, in reads of every size up to `max_read` (as a
    /// socket gives them), and hands each frame decoded to `frame` with the size of the read that
    /// completed it.
    pub(super) fn read_in_steps(
        d: &mut Decoder,
        stream: &[u8],
        max_read: usize,
        mut frame: impl FnMut(Frame, usize),
    ) {
        let (mut at, mut step) = (0, 1usize);
        while at < stream.len() {
            step = (step * 7 + 13) % max_read + 1;
            let room = d.read_buf();
            let take = room.len().min(step).min(stream.len() - at);
            room[..take].copy_from_slice(&stream[at..at + take]);
            d.filled(take);
            at += take;
            while let Some(x) = d.next().unwrap() {
                if let Decoded::Frame(f) = x {
                    frame(f, take);
                }
            }
        }
    }

    /// Every way of reading a frame's headers and body gives the same as its copy with a buffer of
    /// its own.
    fn assert_reads_like_its_copy(f: &Frame) {
        let copy = f.clone();
        assert!(!copy.in_a_chunk(), "a clone has its own buffer");
        assert_eq!(&copy, f);
        assert_eq!(copy.header_count(), f.header_count());
        for i in 0..=f.header_count() {
            assert_eq!(copy.header_at(i), f.header_at(i));
            assert_eq!(copy.header_at_with_nul(i), f.header_at_with_nul(i));
        }
        for (name, _) in f.headers() {
            assert_eq!(copy.header(name), f.header(name));
            assert_eq!(copy.header_position(name), f.header_position(name));
        }
        assert_eq!(f.header("absent"), None);
        assert_eq!(copy.body(), f.body());
    }

    #[test]
    fn a_message_is_left_in_its_chunk_and_reads_like_its_copy() {
        let cases: [(&[u8], Version, bool); 7] = [
            (
                b"MESSAGE\ndestination:/q\nk:v:1\nk:2\n\nbody\0",
                Version::V1_2,
                true,
            ),
            (b"MESSAGE\r\na:1\r\nb:\r\n\r\nbo\0dy\0", Version::V1_0, true),
            (b"MESSAGE\r\na:1\r\nb:\r\n\r\n\0", Version::V1_2, true),
            (b"MESSAGE\n\nno headers\0", Version::V1_2, true),
            (
                b"MESSAGE\ncontent-length:3\n:empty name\n\na\0b\0",
                Version::V1_1,
                true,
            ),
            // Escapes: undone into a buffer of its own, except in 1.0, where there are none.
            (b"MESSAGE\nk:a\\cb\n\n\0", Version::V1_2, false),
            (b"MESSAGE\nk:a\\cb\n\n\0", Version::V1_0, true),
        ];
        for (bytes, version, in_chunk) in cases {
            let got = decode_all(bytes, version).unwrap();
            let f = frame(&got[0]);
            assert_eq!(
                f.in_a_chunk(),
                in_chunk,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            assert_reads_like_its_copy(f);
        }
        let got = decode_all(
            b"MESSAGE\ndestination:/q\nk:v:1\nk:2\n\nbody\0",
            Version::V1_2,
        );
        let f = frame(&got.as_ref().unwrap()[0]);
        assert_eq!(
            f.header("k"),
            Some("v:1"),
            "the first of repeated headers wins"
        );
        assert_eq!(f.header_at_with_nul(1), Some((&b"k\0"[..], &b"v:1\0"[..])));
        // Other frames are built in buffers of their own: the session keeps a CONNECTED.
        let got = decode_all(b"RECEIPT\nreceipt-id:1\n\n\0", Version::V1_2).unwrap();
        assert!(!frame(&got[0]).in_a_chunk());
    }

    /// The decoder reads on into a chunk while frames hold its earlier bytes, and moves or
    /// overwrites them only once those frames are gone: frames kept across many reads (some
    /// dropped along the way) still read as they were sent.
    #[test]
    fn frames_held_while_the_stream_goes_on_keep_their_bytes() {
        // Fewer under Miri, which checks every access to the shared chunks (and is slow).
        let count = if cfg!(miri) { 300 } else { 3000 };
        let sent: Vec<Frame> = (0..count)
            .map(|i| {
                let body = vec![b'a' + (i % 26) as u8; (i * 37) % 700];
                Frame::new(Command::Message)
                    .with("destination", "/queue/held")
                    .with("message-id", &format!("m-{}", i))
                    .with_body(body)
            })
            .collect();
        let mut stream = Vec::new();
        for (i, f) in sent.iter().enumerate() {
            // Some with content-length, some without (their bodies hold no NUL).
            encode(f, Version::V1_2, i % 2 == 0, &mut stream).unwrap();
        }
        let mut d = Decoder::new(Limits::default());
        d.set_version(Version::V1_2);
        let mut held: Vec<(usize, Frame)> = Vec::new();
        let mut n = 0;
        read_in_steps(&mut d, &stream, 9000, |f, read| {
            held.push((n, f));
            n += 1;
            // Now and then the application is done with all but the latest few.
            if read % 5 == 0 && held.len() > 8 {
                held.drain(..held.len() - 8);
            }
        });
        assert_eq!(n, sent.len());
        let mut in_chunks = 0;
        for (i, f) in &held {
            in_chunks += usize::from(f.in_a_chunk());
            assert_eq!(f.header("message-id"), sent[*i].header("message-id"));
            assert_eq!(f.body(), sent[*i].body(), "message {}", i);
        }
        assert!(in_chunks > 0);
    }

    /// With its frames dropped as they come (a callback, then the next), a stream is read into
    /// the same chunk over and over: no allocation per read.
    #[test]
    fn the_chunk_is_reused_once_its_frames_are_dropped() {
        let mut one = Vec::new();
        let f = Frame::new(Command::Message)
            .with("destination", "/q")
            .with_body([7u8; 200]);
        encode(&f, Version::V1_2, true, &mut one).unwrap();
        let mut d = Decoder::new(Limits::default());
        d.set_version(Version::V1_2);
        let mut first = None;
        for _ in 0..500 {
            d.push(&one);
            let got = d.next().unwrap();
            assert!(matches!(&got, Some(Decoded::Frame(f)) if f.in_a_chunk()));
            drop(got);
            let at = d.buf.bytes().as_ptr();
            assert_eq!(*first.get_or_insert(at), at, "read into the same chunk");
        }
    }
}

/// The decoder's chunks (see `chunk`): how they grow, what a held frame keeps, an idle decoder's
/// memory, frames dropped on another thread, and the walk of a chunk frame's headers against the
/// decoder's own lines.
#[cfg(test)]
mod chunk_tests {
    use super::tests::decode_all;
    use super::*;

    /// `Decoder::push`, with `each` told after every read.
    fn feed_full_reads(d: &mut Decoder, mut bytes: &[u8], mut each: impl FnMut(&Decoder)) {
        while !bytes.is_empty() {
            let room = d.read_buf();
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
            d.filled(n);
            bytes = &bytes[n..];
            each(d);
        }
    }

    /// A body without content-length grows the buffer as its reads come: the chunk doubles, so
    /// the frame's bytes are copied a bounded number of times in all (a chunk just large enough
    /// for each next read made one per 64 KiB read and copied everything so far, ~32 GiB for a
    /// 64 MiB body).
    #[test]
    fn a_body_without_content_length_does_not_copy_the_buffer_every_read() {
        let body_len = 8 << 20;
        let mut raw = b"MESSAGE\ndestination:/q\n\n".to_vec();
        raw.resize(raw.len() + body_len, b'x');
        raw.push(0);
        let mut d = Decoder::new(Limits::default());
        d.set_version(Version::V1_2);
        let (mut moves, mut last, mut copied) = (0usize, std::ptr::null(), 0usize);
        let started = std::time::Instant::now();
        feed_full_reads(&mut d, &raw, |d| {
            let at = d.buf.bytes().as_ptr();
            if at != last {
                moves += 1;
                copied += d.end;
                last = at;
            }
        });
        let took = started.elapsed();
        let got = d.next().unwrap();
        assert!(matches!(&got, Some(Decoded::Frame(f)) if f.body().len() == body_len));
        eprintln!(
            "{body_len} bytes: {moves} buffers, ~{} MiB copied, {took:?}",
            copied >> 20
        );
        // Doubling would take about log2(8 MiB / 2 KiB) = 12 buffers.
        assert!(
            moves < 40,
            "{moves} buffers made for one {body_len}-byte frame"
        );
    }

    /// A small MESSAGE read after a large one without content-length does not land in the chunk
    /// grown for the large one: queued, a frame of a few dozen bytes (what `receive_queue_bytes`
    /// counts) would hold megabytes.
    #[test]
    fn a_small_frame_after_a_large_one_does_not_hold_the_large_chunk() {
        // The large frame's last read is short (its tail, a few hundred bytes), as a socket gives.
        let mut raw = b"MESSAGE\ndestination:/q\n\n".to_vec();
        raw.resize(raw.len() + (4 << 20), b'x');
        raw.push(0);
        let mut d = Decoder::new(Limits::default());
        d.set_version(Version::V1_2);
        let (head, tail) = raw.split_at(raw.len() - 300);
        d.push(head);
        d.push(tail);
        let big = d.next().unwrap().unwrap();
        d.push(b"MESSAGE\ndestination:/q\n\nsmall\0");
        let small = match d.next().unwrap() {
            Some(Decoded::Frame(f)) => f,
            other => panic!("{other:?}"),
        };
        drop(big);
        let chunk = d.buf.bytes().as_ptr_range();
        let in_big_chunk = chunk.contains(&small.body().as_ptr());
        eprintln!(
            "small frame of {} bytes; in the {} byte chunk: {in_big_chunk}",
            small.size(),
            d.buf.len()
        );
        assert!(
            !(in_big_chunk && d.buf.len() > 1 << 20),
            "a {}-byte frame holds a {}-byte chunk",
            small.size(),
            d.buf.len()
        );
    }

    /// An idle connection whose last message is still queued (not yet received) goes back to a
    /// small buffer as its reads get small, as it does with nothing held: the 80 KiB chunk of its
    /// last burst and the spare are left to the frames.
    #[test]
    fn an_idle_decoder_holding_a_queued_message_shrinks() {
        let mut one = Vec::new();
        let f = Frame::new(Command::Message)
            .with("destination", "/q")
            .with_body([7u8; 100]);
        encode(&f, Version::V1_2, false, &mut one).unwrap();
        let mut burst = Vec::new();
        for _ in 0..3000 {
            burst.extend_from_slice(&one);
        }
        let mut d = Decoder::new(Limits::default());
        d.set_version(Version::V1_2);
        let mut last = None;
        // A burst read in full reads, then its last message alone (a short read).
        for bytes in [&burst[..], &one[..]] {
            d.push(bytes);
            while let Some(x) = d.next().unwrap() {
                last = Some(x); // the others are dropped at once (callbacks); the last stays queued
            }
        }
        assert!(last.is_some());
        for _ in 0..100 {
            d.push(b"\n");
            while d.next().unwrap().is_some() {}
        }
        let held = d.buf.len() + d.spare.as_ref().map_or(0, |s| s.len());
        eprintln!(
            "idle: read_size {}, chunk {} + spare {:?}",
            d.read_size,
            d.buf.len(),
            d.spare.as_ref().map(|s| s.len())
        );
        assert!(
            held <= 4 * SMALL_READ,
            "an idle decoder holds {held} bytes of chunks"
        );
    }

    /// Frames dropped on another thread while the decoder reads on (the spare, kept chunks and
    /// in-place reuse all taken): every frame reads as sent. Under Miri this checks the counts'
    /// orderings and the chunk reuse for data races.
    #[test]
    fn frames_dropped_on_another_thread_while_reading_on() {
        let count = if cfg!(miri) { 150 } else { 5000 };
        let mut stream = Vec::new();
        for i in 0..count {
            let f = Frame::new(Command::Message)
                .with("destination", "/q")
                .with("n", &i.to_string())
                .with_body(vec![b'a' + (i % 26) as u8; (i * 131) % 1500]);
            encode(&f, Version::V1_2, i % 3 == 0, &mut stream).unwrap();
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Frame>(4);
        let consumer = std::thread::spawn(move || {
            let mut held = Vec::new();
            let mut n = 0;
            for f in rx {
                let i: usize = f.header("n").unwrap().parse().unwrap();
                assert_eq!(i, n);
                assert_eq!(f.body(), vec![b'a' + (i % 26) as u8; (i * 131) % 1500]);
                held.push(f);
                if n % 7 == 0 {
                    for h in held.drain(..) {
                        let i: usize = h.header("n").unwrap().parse().unwrap();
                        assert_eq!(h.body().len(), (i * 131) % 1500);
                    }
                }
                n += 1;
            }
            n
        });
        let mut d = Decoder::new(Limits::default());
        d.set_version(Version::V1_2);
        super::tests::read_in_steps(&mut d, &stream, 20000, |f, _| tx.send(f).unwrap());
        drop(tx);
        assert_eq!(consumer.join().unwrap(), count);
    }

    /// Random heads (LF and CRLF line ends mixed, empty names and values, CRs and colons inside
    /// values and names, backslashes in 1.0): a MESSAGE left in its chunk reads, through the walk
    /// and through its copy (`copy_out`), the headers the decoder's lines say.
    #[test]
    fn chunk_frames_read_the_headers_their_lines_say() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let alphabet: &[u8] = b"ab:\r :\\";
        let alphabet: Vec<u8> = alphabet
            .iter()
            .map(|&b| if b == b'r' { b'\r' } else { b })
            .collect();
        let mut in_chunk = 0;
        for round in 0..20000 {
            let version = if round % 2 == 0 {
                Version::V1_0
            } else {
                Version::V1_2
            };
            let mut raw = b"MESSAGE\n".to_vec();
            let mut want: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..rnd(5) {
                let mut name: Vec<u8> = (0..rnd(4))
                    .map(|_| alphabet[rnd(alphabet.len() as u64) as usize])
                    .filter(|&b| b != b':')
                    .collect();
                if name.first() == Some(&b'\r') && rnd(2) == 0 {
                    name.remove(0);
                }
                let value: Vec<u8> = (0..rnd(6))
                    .map(|_| alphabet[rnd(alphabet.len() as u64) as usize])
                    .collect();
                let mut line = name.clone();
                line.push(b':');
                line.extend_from_slice(&value);
                if rnd(2) == 0 {
                    line.push(b'\r');
                }
                // The decoder's rule: the line up to LF, one CR before it stripped.
                let stripped = line.strip_suffix(b"\r").unwrap_or(&line).to_vec();
                if stripped.is_empty() {
                    continue;
                }
                let colon = stripped.iter().position(|&b| b == b':').unwrap();
                want.push((stripped[..colon].to_vec(), stripped[colon + 1..].to_vec()));
                raw.extend_from_slice(&line);
                raw.push(b'\n');
            }
            raw.extend_from_slice(if rnd(2) == 0 { b"\r\n" } else { b"\n" });
            raw.extend_from_slice(b"body\0");
            let got = match decode_all(&raw, version) {
                Ok(got) => got,
                // Undefined escapes in 1.2: not what this is about.
                Err(_) if version != Version::V1_0 => continue,
                Err(e) => panic!("{:?}: {e}", String::from_utf8_lossy(&raw)),
            };
            let Decoded::Frame(f) = &got[0] else { panic!() };
            if !f.in_a_chunk() {
                continue;
            }
            in_chunk += 1;
            let read: Vec<(Vec<u8>, Vec<u8>)> = f
                .headers()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect();
            assert_eq!(read, want, "{:?}", String::from_utf8_lossy(&raw));
            let copy = f.clone();
            let read: Vec<(Vec<u8>, Vec<u8>)> = copy
                .headers()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect();
            assert_eq!(read, want, "copy of {:?}", String::from_utf8_lossy(&raw));
            for i in 0..want.len() {
                let (n, v) = f.header_at_with_nul(i).unwrap();
                assert_eq!((n, v), copy.header_at_with_nul(i).unwrap());
                assert_eq!(n.last(), Some(&0));
                assert_eq!(v.last(), Some(&0));
            }
            assert_eq!(f.body(), b"body");
            assert_eq!(copy.body(), b"body");
        }
        assert!(in_chunk > 5000, "{in_chunk}");
    }
}
