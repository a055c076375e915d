//! The byte stream of an established link, plain TCP or TLS over it: the I/O loop reads, writes,
//! registers and flushes it without knowing which. The plain case is the TCP stream itself (no
//! copy, no extra call), shared only with a sending thread's direct write (`direct.rs`).

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Weak};

use mio::event::Source;
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::tls::{TlsSessionInfo, TlsTarget};
use crate::error::{Error, ErrorKind, Result};

pub enum Stream {
    /// Held by the loop; a sending thread holds it too, for the length of a direct write (it has
    /// a `Weak`), so the socket closes when the last of the two lets go.
    Plain(Arc<TcpStream>),
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream>),
}

impl Stream {
    pub fn plain(tcp: TcpStream) -> Stream {
        Stream::Plain(Arc::new(tcp))
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.tcp(),
        }
    }

    /// The plain socket, for direct writes from sending threads (see `direct.rs`); None under
    /// TLS, whose state only the loop touches.
    pub fn plain_weak(&self) -> Option<Weak<TcpStream>> {
        match self {
            Stream::Plain(s) => Some(Arc::downgrade(s)),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => None,
        }
    }

    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// Sends what TLS has queued (handshake records, encrypted frames the socket did not take);
    /// `WouldBlock` while the socket is full. Nothing to do on plain TCP.
    pub fn flush_records(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush_records(),
        }
    }

    /// Moves a TLS handshake on, with no lock held (see `TlsStream::advance_handshake`).
    pub fn advance_handshake(&mut self) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(t) = self {
            t.advance_handshake();
        }
    }

    /// Ends TLS cleanly (close_notify) before the socket is closed; nothing on plain TCP.
    pub fn close(&mut self) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(t) = self {
            t.close();
        }
    }

    /// A TLS link whose handshake got no byte from the broker: a plain STOMP broker waits like
    /// that, for a frame that never ends.
    pub fn tls_unanswered(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.unanswered(),
        }
    }

    /// The TLS version and cipher suite, once the TLS handshake is done.
    pub fn tls_session(&self) -> Option<TlsSessionInfo> {
        match self {
            Stream::Plain(_) => None,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.session_info(),
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&**s).read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&**s).write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}

/// By the socket's descriptor: a plain socket is shared (see `Stream::Plain`).
impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.tcp().as_raw_fd()).register(r, t, i)
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.tcp().as_raw_fd()).reregister(r, t, i)
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        SourceFd(&self.tcp().as_raw_fd()).deregister(r)
    }
}

/// A connected plain stream, made TLS when its host has a TLS target (`label` names the host in
/// messages). On failure the stream is dropped, which closes it.
pub fn secure(plain: Stream, tls: Option<&TlsTarget>, label: &str) -> Result<Stream> {
    let Some(target) = tls else {
        return Ok(plain);
    };
    #[cfg(feature = "tls")]
    {
        let Stream::Plain(tcp) = plain else {
            return Ok(plain);
        };
        // Not shared yet: only an open link hands out its socket.
        let tcp = Arc::into_inner(tcp).expect("a dialed socket is not shared");
        Ok(Stream::Tls(Box::new(super::tls::TlsStream::start(
            tcp, target, label,
        )?)))
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (plain, label);
        match *target {}
    }
}

/// The crate's error for a failed read or write (`doing` says which): a TLS failure keeps the kind
/// and message it was given.
pub fn io_failure(e: io::Error, doing: &str) -> Error {
    #[cfg(feature = "tls")]
    if let Some(f) = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<super::tls::TlsFailure>())
    {
        return f.0.clone();
    }
    Error::new(ErrorKind::Io, format!("{}: {}", doing, e))
}

/// Whether the first bytes a plain link received are a TLS record (a handshake or an alert): the
/// broker wants TLS on this port.
pub fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x15 | 0x16, 0x03, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_records_are_told_from_stomp_frames() {
        assert!(looks_like_tls(&[0x15, 0x03, 0x03, 0, 2]));
        assert!(looks_like_tls(&[0x16, 0x03, 0x01]));
        assert!(!looks_like_tls(b"CONNECTED\n"));
        assert!(!looks_like_tls(b"\n"));
        assert!(!looks_like_tls(&[]));
    }

    #[test]
    fn io_failures_keep_a_tls_kind() {
        let plain = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(io_failure(plain, "reading").kind, ErrorKind::Io);
        #[cfg(feature = "tls")]
        {
            let e = Error::new(ErrorKind::TlsExpired, "x");
            let wrapped = io::Error::other(super::super::tls::TlsFailure(e));
            assert_eq!(io_failure(wrapped, "reading").kind, ErrorKind::TlsExpired);
        }
    }
}
