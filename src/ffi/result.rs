//! `stomp_result`: one code per kind of failure, `STOMP_OK = 0`.

use std::ffi::c_char;

use super::boundary::{ffi_boundary, last_error_ptr};
use crate::error::ErrorKind;

/// The result of every fallible call. `STOMP_OK` is 0; every other value is a failure, whose detail
/// `stomp_last_error()` gives on the same thread. Each function's doc lists the codes it can
/// return, except STOMP_ERR_INTERNAL, which any of them can (a bug caught at the boundary); a
/// function returning a pointer, bool or size then returns its failure value (NULL, false, 0).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum stomp_result {
    STOMP_OK = 0,
    /// A NULL pointer, an out-of-range value, a string that is not UTF-8, an empty destination.
    STOMP_ERR_INVALID_ARGUMENT = 1,
    /// A header the negotiated version cannot carry (a newline under 1.0, a NUL, a wrong content-length).
    STOMP_ERR_INVALID_HEADER = 2,
    /// The call needs an established connection.
    STOMP_ERR_NOT_CONNECTED = 3,
    /// `stomp_connect` on a connection already connected or connecting.
    STOMP_ERR_ALREADY_CONNECTED = 4,
    /// A wait ran out of time.
    STOMP_ERR_TIMEOUT = 5,
    /// No host of the list could be connected to.
    STOMP_ERR_CONNECT_FAILED = 6,
    /// The broker refused the CONNECT (bad login, unknown vhost, ...).
    STOMP_ERR_REFUSED = 7,
    /// The broker broke the protocol (malformed frames).
    STOMP_ERR_PROTOCOL = 8,
    /// A socket error.
    STOMP_ERR_IO = 9,
    /// The broker sent an ERROR frame.
    STOMP_ERR_SERVER = 10,
    /// The negotiated version cannot do this (NACK under STOMP 1.0).
    STOMP_ERR_UNSUPPORTED = 11,
    /// A bounded queue is full.
    STOMP_ERR_QUEUE_FULL = 12,
    /// `stomp_receive` without a receive queue.
    STOMP_ERR_QUEUE_OFF = 13,
    /// The link dropped while waiting: a receipt that may never come. The frame may need resending.
    STOMP_ERR_DISCONNECTED = 14,
    /// The connection is closed and nothing is left to read.
    STOMP_ERR_CLOSED = 15,
    /// Over a size or count limit.
    STOMP_ERR_TOO_LARGE = 16,
    /// A blocking call that could never complete where it was made: on the thread that drives a
    /// stomp_loop, a call that waits for that loop (see stomp_connection_new_on_loop), or
    /// stomp_loop_process from inside one of the loop's own callbacks.
    STOMP_ERR_WOULD_DEADLOCK = 17,
    /// An output buffer is too small.
    STOMP_ERR_BUFFER_TOO_SMALL = 18,
    /// No such listener, header index or receipt.
    STOMP_ERR_NOT_FOUND = 19,
    /// A bug in the library (a caught panic).
    STOMP_ERR_INTERNAL = 20,
    /// A TLS file (CA, client certificate, key) is missing, unreadable or malformed, or the key does
    /// not fit the certificate, or the system trust store is empty. The detail names the file.
    STOMP_ERR_TLS_FILE = 21,
    /// The broker's certificate does not chain to a trusted CA, or the verification callback
    /// refused it.
    STOMP_ERR_TLS_UNTRUSTED = 22,
    /// The broker's certificate is not valid for the host name checked (see
    /// stomp_options_set_tls_server_name).
    STOMP_ERR_TLS_HOSTNAME = 23,
    /// The broker's certificate is expired or not valid yet.
    STOMP_ERR_TLS_EXPIRED = 24,
    /// The broker refused our client certificate, or wants one and was given none.
    STOMP_ERR_TLS_CLIENT_CERT_REFUSED = 25,
    /// TLS on one side only: a plain broker on a host set up for TLS (it hangs up on the TLS
    /// handshake, or never answers it within the connect timeout), or a TLS port dialled plain.
    STOMP_ERR_TLS_MISMATCH = 26,
    /// Another TLS failure (no common version or cipher suite, a corrupt record).
    STOMP_ERR_TLS_HANDSHAKE = 27,
}

impl stomp_result {
    pub fn from_kind(kind: ErrorKind) -> stomp_result {
        use stomp_result::*;
        match kind {
            ErrorKind::InvalidArgument => STOMP_ERR_INVALID_ARGUMENT,
            ErrorKind::InvalidHeader => STOMP_ERR_INVALID_HEADER,
            ErrorKind::NotConnected => STOMP_ERR_NOT_CONNECTED,
            ErrorKind::AlreadyConnected => STOMP_ERR_ALREADY_CONNECTED,
            ErrorKind::Timeout => STOMP_ERR_TIMEOUT,
            ErrorKind::ConnectFailed => STOMP_ERR_CONNECT_FAILED,
            ErrorKind::Refused => STOMP_ERR_REFUSED,
            ErrorKind::Protocol => STOMP_ERR_PROTOCOL,
            ErrorKind::Io => STOMP_ERR_IO,
            ErrorKind::ServerError => STOMP_ERR_SERVER,
            ErrorKind::Unsupported => STOMP_ERR_UNSUPPORTED,
            ErrorKind::QueueFull => STOMP_ERR_QUEUE_FULL,
            ErrorKind::QueueOff => STOMP_ERR_QUEUE_OFF,
            ErrorKind::Disconnected => STOMP_ERR_DISCONNECTED,
            ErrorKind::Closed => STOMP_ERR_CLOSED,
            ErrorKind::TooLarge => STOMP_ERR_TOO_LARGE,
            ErrorKind::WouldDeadlock => STOMP_ERR_WOULD_DEADLOCK,
            ErrorKind::BufferTooSmall => STOMP_ERR_BUFFER_TOO_SMALL,
            ErrorKind::NotFound => STOMP_ERR_NOT_FOUND,
            ErrorKind::Internal => STOMP_ERR_INTERNAL,
            ErrorKind::TlsFile => STOMP_ERR_TLS_FILE,
            ErrorKind::TlsUntrusted => STOMP_ERR_TLS_UNTRUSTED,
            ErrorKind::TlsHostname => STOMP_ERR_TLS_HOSTNAME,
            ErrorKind::TlsExpired => STOMP_ERR_TLS_EXPIRED,
            ErrorKind::TlsClientCertRefused => STOMP_ERR_TLS_CLIENT_CERT_REFUSED,
            ErrorKind::TlsMismatch => STOMP_ERR_TLS_MISMATCH,
            ErrorKind::TlsHandshake => STOMP_ERR_TLS_HANDSHAKE,
        }
    }
}

/// A `stomp_result` as C passes it: an integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct StompResultArg(pub i32);

fn describe(code: i32) -> &'static [u8] {
    match code {
        0 => b"success\0",
        1 => b"invalid argument\0",
        2 => b"invalid header\0",
        3 => b"not connected\0",
        4 => b"already connected\0",
        5 => b"timed out\0",
        6 => b"could not connect to any broker\0",
        7 => b"the broker refused the connection\0",
        8 => b"protocol error\0",
        9 => b"input/output error\0",
        10 => b"the broker sent an ERROR frame\0",
        11 => b"not supported by the negotiated STOMP version\0",
        12 => b"queue full\0",
        13 => b"the receive queue is off\0",
        14 => b"disconnected before completion\0",
        15 => b"connection closed\0",
        16 => b"over a size limit\0",
        17 => b"the call would deadlock\0",
        18 => b"buffer too small\0",
        19 => b"not found\0",
        20 => b"internal error\0",
        21 => b"TLS file missing, unreadable or malformed\0",
        22 => b"TLS: the broker's certificate is not trusted\0",
        23 => b"TLS: the broker's certificate is not valid for the host name\0",
        24 => b"TLS: the broker's certificate is expired or not yet valid\0",
        25 => b"TLS: the broker refused the client certificate\0",
        26 => b"TLS on one side only (plain port or TLS port)\0",
        27 => b"TLS handshake failed\0",
        _ => b"unknown result code\0",
    }
}

/// A fixed English description of `code`; never NULL, also for codes this library does not define.
/// The string is static: do not free it. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_strerror(code: StompResultArg) -> *const c_char {
    let text = ffi_boundary! { Ok(describe(code.0).as_ptr().cast()) };
    never_null(text)
}

/// The detail of the calling thread's last failure (never NULL; empty if none yet). Valid until the
/// next failing call on the same thread; copy it to keep it. Any thread, callbacks included (each
/// thread has its own).
#[unsafe(no_mangle)]
pub extern "C" fn stomp_last_error() -> *const c_char {
    never_null(ffi_boundary! { Ok(last_error_ptr()) })
}

/// `p`, or an empty static string where the boundary gave NULL: these two never return NULL.
fn never_null(p: *const c_char) -> *const c_char {
    if p.is_null() { c"".as_ptr() } else { p }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_code_and_text() {
        let kinds = [
            ErrorKind::InvalidArgument,
            ErrorKind::InvalidHeader,
            ErrorKind::NotConnected,
            ErrorKind::AlreadyConnected,
            ErrorKind::Timeout,
            ErrorKind::ConnectFailed,
            ErrorKind::Refused,
            ErrorKind::Protocol,
            ErrorKind::Io,
            ErrorKind::ServerError,
            ErrorKind::Unsupported,
            ErrorKind::QueueFull,
            ErrorKind::QueueOff,
            ErrorKind::Disconnected,
            ErrorKind::Closed,
            ErrorKind::TooLarge,
            ErrorKind::WouldDeadlock,
            ErrorKind::BufferTooSmall,
            ErrorKind::NotFound,
            ErrorKind::Internal,
            ErrorKind::TlsFile,
            ErrorKind::TlsUntrusted,
            ErrorKind::TlsHostname,
            ErrorKind::TlsExpired,
            ErrorKind::TlsClientCertRefused,
            ErrorKind::TlsMismatch,
            ErrorKind::TlsHandshake,
        ];
        let mut codes: Vec<i32> = kinds
            .iter()
            .map(|k| stomp_result::from_kind(*k) as i32)
            .collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        for c in codes {
            assert_ne!(describe(c), describe(-1), "code {c} has its own text");
        }
        assert_eq!(describe(12345), b"unknown result code\0");
    }
}
