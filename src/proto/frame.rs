//! STOMP frames: a command, ordered headers (repeats kept, the first wins on lookup) and a body.

use std::fmt;

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

/// One STOMP frame. Header values are kept unescaped (as the application sees them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub command: Command,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// NUL-terminated copies of the headers, made the first time C asks for one (see `ffi::frame`).
    /// It is not part of the frame's value: clones start empty, comparisons ignore it.
    pub(crate) c_headers: CHeaderCache,
    /// Which link of its connection a received frame came on (1 for the first, 0 if not received), so
    /// that an ack for a message from a link that has since dropped is not sent on the next one.
    pub(crate) link: u64,
}

/// Lazily built C strings for a frame's headers.
#[derive(Default)]
pub(crate) struct CHeaderCache(
    pub(crate) std::sync::OnceLock<Vec<(std::ffi::CString, std::ffi::CString)>>,
);

impl Clone for CHeaderCache {
    fn clone(&self) -> Self {
        CHeaderCache::default()
    }
}

impl PartialEq for CHeaderCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CHeaderCache {}

impl fmt::Debug for CHeaderCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("..")
    }
}

impl Frame {
    pub fn new(command: Command) -> Frame {
        Frame::from_parts(command, Vec::new(), Vec::new())
    }

    pub fn from_parts(command: Command, headers: Vec<(String, String)>, body: Vec<u8>) -> Frame {
        Frame {
            command,
            headers,
            body,
            c_headers: CHeaderCache::default(),
            link: 0,
        }
    }

    /// Builder form of `add_header`.
    pub fn with(mut self, name: &str, value: &str) -> Frame {
        self.add_header(name, value);
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Frame {
        self.body = body.into();
        self
    }

    pub fn add_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// The first value of a header (STOMP 1.2: only the first occurrence of a repeated header counts).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// Replace every occurrence of `name` with one header at the position of the first (or at the end).
    pub fn set_header(&mut self, name: &str, value: &str) {
        match self.headers.iter().position(|(n, _)| n == name) {
            Some(i) => {
                self.headers[i].1 = value.to_owned();
                let mut seen = false;
                self.headers.retain(|(n, _)| {
                    if n != name {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.add_header(name, value),
        }
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }

    /// The body as text, where it is UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}
