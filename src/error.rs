//! The one error type of the crate. Every failure has a kind (which becomes a `stomp_result` code at
//! the C boundary) and a message meant for a person.

use std::fmt;

/// What went wrong, coarsely: one kind per way a caller may want to react.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A NULL pointer, an out-of-range enum value, a string that is not UTF-8, an empty destination.
    InvalidArgument,
    /// A header name or value that cannot be sent in the negotiated version (newline under 1.0, NUL).
    InvalidHeader,
    /// The call needs an established connection and there is none.
    NotConnected,
    /// `connect` on a connection that is already connected or connecting.
    AlreadyConnected,
    /// A wait ran out of time.
    Timeout,
    /// No host of the list accepted a TCP connection.
    ConnectFailed,
    /// The broker refused the CONNECT (ERROR frame instead of CONNECTED).
    Refused,
    /// The broker sent something that is not STOMP, or broke the protocol.
    Protocol,
    /// A socket error.
    Io,
    /// The broker sent an ERROR frame.
    ServerError,
    /// The negotiated protocol version cannot do this (NACK under 1.0).
    Unsupported,
    /// A bounded queue is full (outgoing bytes, pending sends).
    QueueFull,
    /// `receive` without a receive queue.
    QueueOff,
    /// The link dropped while the call waited (a receipt that may never come).
    Disconnected,
    /// The connection is closed and there is nothing more to read.
    Closed,
    /// A frame, header or count over a configured limit.
    TooLarge,
    /// A blocking call made where it could never complete (it would deadlock).
    WouldDeadlock,
    /// An output buffer given by the caller is too small.
    BufferTooSmall,
    /// Nothing of that name or index.
    NotFound,
    /// A bug inside the library (a caught panic).
    Internal,
    /// A TLS file (CA, client certificate, key) is missing, unreadable or malformed, or the key does
    /// not fit the certificate; or the system trust store is empty.
    TlsFile,
    /// The broker's certificate does not chain to a trusted CA (or the verification callback
    /// refused it).
    TlsUntrusted,
    /// The broker's certificate is not valid for the host name checked.
    TlsHostname,
    /// The broker's certificate is expired (or not valid yet).
    TlsExpired,
    /// The broker refused our client certificate, or wants one and got none.
    TlsClientCertRefused,
    /// TLS on one side only: a plain broker on a TLS host of the list (it hangs up on the TLS
    /// handshake, or never answers it within the connect timeout), or a TLS port dialled plain.
    TlsMismatch,
    /// Any other TLS failure (no common protocol version or cipher suite, a bad record).
    TlsHandshake,
}

impl ErrorKind {
    /// One of the TLS kinds: a failed connect keeps it (rather than the generic `ConnectFailed`).
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            ErrorKind::TlsFile
                | ErrorKind::TlsUntrusted
                | ErrorKind::TlsHostname
                | ErrorKind::TlsExpired
                | ErrorKind::TlsClientCertRefused
                | ErrorKind::TlsMismatch
                | ErrorKind::TlsHandshake
        )
    }
}

/// An error with its kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand used across the crate: `err(ErrorKind::X, "...")`.
pub fn err<T>(kind: ErrorKind, message: impl Into<String>) -> Result<T> {
    Err(Error::new(kind, message))
}
