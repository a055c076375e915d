//! Connection options: everything fixed before a connection is made.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::proto::{Limits, MASKED, Version};
use crate::runtime::reconnect::ReconnectPolicy;
use crate::runtime::tls::{TlsFiles, TlsOptions};

/// One broker in the failover list.
#[derive(Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub host: String,
    pub port: u16,
    /// Credentials for this host only (they override those given to `connect`).
    pub login: Option<String>,
    pub passcode: Option<String>,
    /// TLS with these files for this host; `None`: `Options::tls.default` (plain if that is unset).
    pub tls: Option<TlsFiles>,
}

/// The passcode is masked: debug output (of `Options` too) ends up in logs.
impl fmt::Debug for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostSpec")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("login", &self.login)
            .field("passcode", &self.passcode.as_ref().map(|_| MASKED))
            .finish()
    }
}

/// TCP keepalive settings (off by default; the kernel's defaults where a field is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Keepalive {
    pub enabled: bool,
    pub idle: Option<Duration>,
    pub interval: Option<Duration>,
    pub count: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub hosts: Vec<HostSpec>,
    pub version: Version,
    pub vhost: Option<String>,
    /// (send, receive) heart-beat intervals offered, in milliseconds; 0 is off.
    pub heartbeats: (u32, u32),
    pub heartbeat_receive_scale: f64,
    /// Capacity of the pull queue read by `receive`; 0 turns it off.
    pub receive_queue: usize,
    pub auto_content_length: bool,
    /// Open with STOMP instead of CONNECT.
    pub use_stomp_command: bool,
    /// Longest wait for one host: TCP connect plus CONNECTED.
    pub connect_timeout: Duration,
    pub reconnect: ReconnectPolicy,
    pub auto_reconnect: bool,
    pub randomize_hosts: bool,
    pub tcp_nodelay: bool,
    pub keepalive: Keepalive,
    pub bind: Option<SocketAddr>,
    pub limits: Limits,
    /// Most bytes queued for the socket; a send past it waits up to `send_timeout`.
    pub max_out_bytes: usize,
    pub send_timeout: Duration,
    /// Most messages waiting for the listeners before the library stops reading the socket (default
    /// 8192; the byte bound, `max_pending_bytes`, is what limits memory). A stream of small messages
    /// fills a read's worth (about 200 of 100 bytes) at a time: a count of a few reads' worth would
    /// stop the socket whenever the dispatch thread waits a moment for a core.
    pub max_pending_messages: usize,
    /// Time limit on one received frame, heart-beats or not (default 10 s): its command and headers
    /// must arrive whole within this of its first byte, and it is the window over which the body's
    /// rate is judged. Crossing a limit closes the link with `ErrorKind::Timeout`. Zero: no limits.
    pub frame_timeout: Duration,
    /// Least rate a body must keep, in bytes per second (default 1024): within each `frame_timeout`
    /// window from the end of the headers (or the last window met), `frame_min_rate` x
    /// `frame_timeout` bytes of it must come, unless it completes first, so a body that arrives
    /// whole sooner is never affected. 0: no rate limit (the head's limit stays).
    pub frame_min_rate: u32,
    /// Most bytes of received frames (`Frame::size`: headers and body) waiting for the listeners
    /// before the library stops reading the socket, as `max_pending_messages` does for their count
    /// (default 64 MiB). A frame is handed on while some room is left, so at most one frame more.
    pub max_pending_bytes: usize,
    /// Most bytes of messages in the receive queue before the library stops reading the socket, as
    /// `receive_queue` does for their count (default 64 MiB; only when the queue is on).
    pub receive_queue_bytes: usize,
    /// TLS: the default files, the name to check, the verification callback.
    pub tls: TlsOptions,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            hosts: Vec::new(),
            version: Version::V1_2,
            vhost: None,
            heartbeats: (0, 0),
            heartbeat_receive_scale: 1.5,
            receive_queue: 0,
            auto_content_length: true,
            use_stomp_command: false,
            connect_timeout: Duration::from_secs(10),
            reconnect: ReconnectPolicy::default(),
            auto_reconnect: false,
            randomize_hosts: false,
            tcp_nodelay: true,
            keepalive: Keepalive::default(),
            bind: None,
            limits: Limits::default(),
            max_out_bytes: 8 << 20,
            send_timeout: Duration::from_secs(30),
            max_pending_messages: 8192,
            frame_timeout: Duration::from_secs(10),
            frame_min_rate: 1024,
            max_pending_bytes: 64 << 20,
            receive_queue_bytes: 64 << 20,
            tls: TlsOptions::default(),
        }
    }
}

impl Options {
    pub fn new() -> Options {
        Options::default()
    }

    pub fn host(mut self, host: &str, port: u16) -> Options {
        self.hosts.push(HostSpec {
            host: host.to_owned(),
            port,
            login: None,
            passcode: None,
            tls: None,
        });
        self
    }

    /// Appends a broker reached over TLS with `files` (see `TlsFiles::load`).
    pub fn host_tls(mut self, host: &str, port: u16, files: TlsFiles) -> Options {
        self.hosts.push(HostSpec {
            host: host.to_owned(),
            port,
            login: None,
            passcode: None,
            tls: Some(files),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Command, Frame};

    /// Debug output ends up in logs: no passcode in that of the options, a host, or a CONNECT.
    #[test]
    fn debug_output_masks_the_passcode() {
        let mut o = Options::new().host("127.0.0.1", 61613);
        o.hosts[0].login = Some("me".into());
        o.hosts[0].passcode = Some("pc-debug-secret".into());
        let connect = Frame::new(Command::Connect)
            .with("login", "me")
            .with("passcode", "pc-debug-secret");
        for shown in [
            format!("{o:?}"),
            format!("{:?}", o.hosts[0]),
            format!("{connect:?}"),
        ] {
            assert!(!shown.contains("pc-debug-secret"), "{shown}");
            assert!(
                shown.contains("********") && shown.contains("me"),
                "{shown}"
            );
        }
        assert!(format!("{:?}", Options::new().host("h", 1)).contains("passcode: None"));
    }
}
