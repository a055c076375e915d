//! The listener: what an application hears, mirroring stomp.py's `ConnectionListener`.
//!
//! Every method runs on a dispatch thread, never on the I/O thread, one at a time and in order for
//! each connection (not always on the same thread), with no library lock held: a listener may call
//! back into the connection. Different connections' listeners run at the same time on different
//! threads: the dispatch threads start with the first event, one more starts whenever a connection
//! has an event and none is free (up to 1024, a safety cap: past it a ready connection waits for a
//! running callback to return), and one idle for 10 s ends, down to one. So a slow or blocked
//! listener delays only its own connection's later events, never another connection's.

use crate::error::{Error, ErrorKind};
use crate::proto::{Frame, shown_value};

/// Why a connection went down: what `Connection::last_disconnect` returns and
/// `Listener::on_disconnected_reason` hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnection {
    /// The application asked: `disconnect` (its DISCONNECT answered or not), a DISCONNECT frame it
    /// sent, or the handle dropped. STOMP_OK in C, with the message "disconnected by the client".
    Requested,
    /// Anything else, with the error that ended it: the broker closed the link, a socket error, a
    /// frame over a limit or malformed, a time limit (heart-beat, frame, CONNECTED), a refused
    /// CONNECT, a host list that gave up, an internal error.
    Failed(Error),
}

impl Disconnection {
    /// The reason for a link (or connect walk) that ended with `error` (`None`: a clean end, the
    /// receipt of a DISCONNECT), `requested` when the application had asked for the end.
    pub(crate) fn of(requested: bool, error: Option<&Error>) -> Disconnection {
        match error {
            None => Disconnection::Requested,
            // The application's own close, or the broker closing the link while it was asked to.
            Some(e) if requested && e.kind == ErrorKind::Closed => Disconnection::Requested,
            Some(e) => Disconnection::Failed(e.clone()),
        }
    }

    /// The error, unless the application asked for the end.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Disconnection::Requested => None,
            Disconnection::Failed(e) => Some(e),
        }
    }

    /// A sentence for a person.
    pub fn message(&self) -> &str {
        match self {
            Disconnection::Requested => "disconnected by the client",
            Disconnection::Failed(e) => &e.message,
        }
    }
}

#[allow(unused_variables)]
pub trait Listener: Send + Sync {
    /// A TCP connection to `host:port` is about to be tried.
    fn on_connecting(&self, host: &str, port: u16) {}
    /// CONNECTED arrived.
    fn on_connected(&self, frame: &Frame) {}
    /// `disconnect` was called; DISCONNECT is about to go.
    fn on_disconnecting(&self) {}
    /// The link is gone (asked for or not): an established one, or, once a connect gives up, one
    /// that came up but never got CONNECTED (refused, never answered, broken).
    fn on_disconnected(&self) {}
    /// Why the connection went down: called just before `on_disconnected` (with every listener's
    /// `on_disconnected_reason` before any `on_disconnected`), and, when a connect ends without any
    /// TCP link having come up (every host refused or unreachable; then no `on_disconnected` is
    /// called, as no link ended), just before `on_receiver_loop_completed`. The same reason is
    /// then readable from `Connection::last_disconnect`.
    fn on_disconnected_reason(&self, reason: &Disconnection) {}
    /// Nothing was heard from the broker for longer than the heart-beat allows.
    fn on_heartbeat_timeout(&self) {}
    /// A MESSAGE, before `on_message`.
    fn on_before_message(&self, frame: &Frame) {}
    fn on_message(&self, frame: &Frame) {}
    fn on_receipt(&self, frame: &Frame) {}
    fn on_error(&self, frame: &Frame) {}
    /// A frame was handed to the transport (a copy: a CONNECT's passcode shows as "********").
    fn on_send(&self, frame: &Frame) {}
    /// A heart-beat arrived from the broker.
    fn on_heartbeat(&self) {}
    /// The connection has ended and will not reconnect by itself.
    fn on_receiver_loop_completed(&self) {}
    /// Whether `on_send` does anything (lets the library skip copying every sent frame).
    fn wants_send(&self) -> bool {
        true
    }
    /// Whether `on_heartbeat` does anything.
    fn wants_heartbeat(&self) -> bool {
        true
    }
}

/// stomp.py's `PrintingListener`: prints every event and frame, with the passcode masked.
pub struct PrintingListener<W: Fn(&str) + Send + Sync = fn(&str)> {
    print: W,
}

fn print_stdout(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line);
    let _ = out.flush();
}

impl PrintingListener {
    pub fn new() -> PrintingListener {
        PrintingListener {
            print: print_stdout,
        }
    }
}

impl Default for PrintingListener {
    fn default() -> Self {
        PrintingListener::new()
    }
}

impl<W: Fn(&str) + Send + Sync> PrintingListener<W> {
    /// Prints through `print` instead of standard output.
    pub fn with_printer(print: W) -> PrintingListener<W> {
        PrintingListener { print }
    }

    fn frame(&self, event: &str, f: &Frame) {
        (self.print)(&format!("{} {}", event, describe_frame(f)));
    }
}

/// `COMMAND {'name': 'value', ...} body`, passcode masked, the body as text when it is UTF-8.
pub fn describe_frame(f: &Frame) -> String {
    let headers: Vec<String> = f
        .headers()
        .map(|(n, v)| format!("{:?}: {:?}", n, shown_value(n, v)))
        .collect();
    let mut s = format!("{} {{{}}}", f.command, headers.join(", "));
    if !f.body().is_empty() {
        match std::str::from_utf8(f.body()) {
            Ok(t) => {
                s.push(' ');
                s.push_str(t);
            }
            Err(_) => s.push_str(&format!(" <{} bytes of binary>", f.body().len())),
        }
    }
    s
}

impl<W: Fn(&str) + Send + Sync> Listener for PrintingListener<W> {
    fn on_connecting(&self, host: &str, port: u16) {
        (self.print)(&format!("on_connecting {} {}", host, port));
    }
    fn on_connected(&self, frame: &Frame) {
        self.frame("on_connected", frame);
    }
    fn on_disconnecting(&self) {
        (self.print)("on_disconnecting");
    }
    fn on_disconnected(&self) {
        (self.print)("on_disconnected");
    }
    fn on_disconnected_reason(&self, reason: &Disconnection) {
        (self.print)(&format!("on_disconnected_reason {}", reason.message()));
    }
    fn on_heartbeat_timeout(&self) {
        (self.print)("on_heartbeat_timeout");
    }
    fn on_before_message(&self, frame: &Frame) {
        self.frame("on_before_message", frame);
    }
    fn on_message(&self, frame: &Frame) {
        self.frame("on_message", frame);
    }
    fn on_receipt(&self, frame: &Frame) {
        self.frame("on_receipt", frame);
    }
    fn on_error(&self, frame: &Frame) {
        self.frame("on_error", frame);
    }
    fn on_send(&self, frame: &Frame) {
        self.frame("on_send", frame);
    }
    fn on_heartbeat(&self) {
        (self.print)("on_heartbeat");
    }
    fn on_receiver_loop_completed(&self) {
        (self.print)("on_receiver_loop_completed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_is_requested_only_when_asked_for_and_clean_or_closed() {
        let closed = Error::new(ErrorKind::Closed, "the broker closed the connection");
        let limit = Error::new(ErrorKind::TooLarge, "over max_frame");
        assert_eq!(Disconnection::of(true, None), Disconnection::Requested);
        assert_eq!(Disconnection::of(false, None), Disconnection::Requested);
        assert_eq!(
            Disconnection::of(true, Some(&closed)),
            Disconnection::Requested
        );
        assert_eq!(
            Disconnection::of(false, Some(&closed)),
            Disconnection::Failed(closed.clone())
        );
        // A failure while disconnecting is still reported as one.
        let d = Disconnection::of(true, Some(&limit));
        assert_eq!(d.error(), Some(&limit));
        assert_eq!(d.message(), "over max_frame");
        assert_eq!(
            Disconnection::Requested.message(),
            "disconnected by the client"
        );
        assert_eq!(Disconnection::Requested.error(), None);
    }
}
