//! The listener: what an application hears, mirroring stomp.py's `ConnectionListener`.
//!
//! Every method runs on a dispatch thread, never on the I/O thread, one at a time and in order for
//! each connection (not always on the same thread), with no library lock held: a listener may call
//! back into the connection. Different connections' listeners run at the same time on different
//! threads: the dispatch threads start with the first event, one more starts whenever a connection
//! has an event and none is free (up to 1024, a safety cap: past it a ready connection waits for a
//! running callback to return), and one idle for 10 s ends, down to one. So a slow or blocked
//! listener delays only its own connection's later events, never another connection's.

use crate::proto::{Frame, shown_value};

#[allow(unused_variables)]
pub trait Listener: Send + Sync {
    /// A TCP connection to `host:port` is about to be tried.
    fn on_connecting(&self, host: &str, port: u16) {}
    /// CONNECTED arrived.
    fn on_connected(&self, frame: &Frame) {}
    /// `disconnect` was called; DISCONNECT is about to go.
    fn on_disconnecting(&self) {}
    /// The link is gone (asked for or not).
    fn on_disconnected(&self) {}
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
        .map(|(n, v)| {
            format!("{:?}: {:?}", n, shown_value(n, v))
        })
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
