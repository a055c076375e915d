//! `HostileServer`: a scripted stand-in for a broker on 127.0.0.1, for what a real broker will not do
//! on demand: malformed frames, stalls, silence, frames over the limits. It accepts a connection,
//! reads the CONNECT frame, and plays what the test asks (`Script`) on a thread of its own.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use stomp::{Connection, Options, ReconnectPolicy};

/// How long a hostile server keeps a link open after its script, waiting for the client to close it.
pub const HOLD_OPEN: Duration = Duration::from_secs(30);

pub struct HostileServer {
    listener: TcpListener,
    pub port: u16,
}

/// What the server writes once it has the link.
#[derive(Clone)]
pub enum Script {
    /// These bytes at once.
    Bytes(Vec<u8>),
    /// These bytes at once, then these one byte every `every`.
    Trickle {
        first: Vec<u8>,
        rest: Vec<u8>,
        every: Duration,
    },
}

impl HostileServer {
    pub fn new() -> HostileServer {
        HostileServer::from_listener(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// On a listener of the test's own (an IPv6 loopback one, say).
    pub fn from_listener(listener: TcpListener) -> HostileServer {
        let port = listener.local_addr().unwrap().port();
        HostileServer { listener, port }
    }

    /// Options for this server: one attempt, no reconnecting.
    pub fn options(&self) -> Options {
        let mut o = Options::new().host("127.0.0.1", self.port);
        o.reconnect = ReconnectPolicy {
            attempts_max: 1,
            ..ReconnectPolicy::default()
        };
        o
    }

    /// Accepts, reads up to the CONNECT frame's NUL, returns the socket and what was read.
    pub fn accept(&self) -> (TcpStream, String) {
        let (mut s, _) = self.listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 1];
        while s.read(&mut b).unwrap() == 1 {
            if b[0] == 0 {
                break;
            }
            got.push(b[0]);
        }
        (s, String::from_utf8_lossy(&got).into_owned())
    }

    /// Connects `c` in the background, answers CONNECTED (STOMP 1.2) with `heart_beat`, and returns
    /// the socket once `connect` has returned.
    pub fn connect(&self, c: &Arc<Connection>, heart_beat: &str) -> TcpStream {
        let (tx, rx) = mpsc::channel();
        let c2 = c.clone();
        std::thread::spawn(move || tx.send(c2.connect(None, None, &[], true)).unwrap());
        let (mut s, connect) = self.accept();
        assert!(connect.starts_with("CONNECT\n"), "{connect:?}");
        write!(s, "CONNECTED\nversion:1.2\nheart-beat:{}\n\n\0", heart_beat).unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        s
    }
}

impl Default for HostileServer {
    fn default() -> Self {
        HostileServer::new()
    }
}

/// Plays `script` on `s` from a thread of its own (a script may be larger than the socket buffers,
/// and the client stops reading once it has seen enough to refuse it), then keeps the link open
/// until the client closes it (or `HOLD_OPEN` passes): the client must end the link itself.
pub fn play(mut s: TcpStream, script: Script) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let written = match script {
            Script::Bytes(b) => s.write_all(&b),
            Script::Trickle { first, rest, every } => s.write_all(&first).and_then(|_| {
                for b in rest {
                    std::thread::sleep(every); // the pace is the case itself
                    s.write_all(&[b])?;
                }
                Ok(())
            }),
        };
        if written.is_ok() {
            wait_for_close(&mut s);
        }
    })
}

/// Reads (and drops) what the client sends until it closes the link, at most `HOLD_OPEN`.
pub fn wait_for_close(s: &mut TcpStream) {
    let _ = s.set_read_timeout(Some(HOLD_OPEN));
    let mut b = [0u8; 4096];
    while matches!(s.read(&mut b), Ok(n) if n > 0) {}
}
