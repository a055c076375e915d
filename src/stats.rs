//! Per-connection counters, like stomp.py's StatsListener but kept by the library itself.
//!
//! They live in the connection's `Session` as plain integers: every place that bumps one already
//! holds the connection's `core` lock (the I/O thread while it reads, writes and judges time; an API
//! thread while it queues a frame), so counting costs an add and no atomic or allocation.
//! `Connection::stats` copies them under that lock.

use std::fmt;

use crate::client::Connection;
use crate::proto::Command;

/// What one connection has done since it was made (over every `connect` and reconnect).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Links established (CONNECTED received), reconnects included.
    pub connections: u64,
    /// Established links that ended, asked for or not.
    pub disconnects: u64,
    /// Links established by auto-reconnect after a drop (also counted in `connections`).
    pub reconnects: u64,
    /// SEND frames queued for the socket.
    pub messages_sent: u64,
    /// MESSAGE frames received.
    pub messages_received: u64,
    /// Frames of any command queued for the socket (CONNECT, SUBSCRIBE, ACK, SEND, ...).
    pub frames_sent: u64,
    /// Frames of any command received (CONNECTED, MESSAGE, RECEIPT, ERROR).
    pub frames_received: u64,
    /// RECEIPT frames received.
    pub receipts_received: u64,
    /// ERROR frames received.
    pub errors: u64,
    /// Heart-beats (an EOL alone) queued for the socket.
    pub heartbeats_sent: u64,
    /// Heart-beats received (EOLs between frames; the one EOL a broker may put after each frame
    /// is not one).
    pub heartbeats_received: u64,
    /// Links closed because the broker fell silent past the receive heart-beat.
    pub heartbeat_timeouts: u64,
    /// Bytes written to the socket.
    pub bytes_sent: u64,
    /// Bytes read from the socket.
    pub bytes_received: u64,
    /// Frames sent while auto-reconnect was under way, held to go out once the link was back.
    pub frames_held: u64,
}

impl Stats {
    /// A frame went into the output buffer.
    pub(crate) fn frame_sent(&mut self, command: Command) {
        self.frames_sent += 1;
        if command == Command::Send {
            self.messages_sent += 1;
        }
    }

    /// A frame was decoded from the broker.
    pub(crate) fn frame_received(&mut self, command: Command) {
        self.frames_received += 1;
        match command {
            Command::Message => self.messages_received += 1,
            Command::Receipt => self.receipts_received += 1,
            Command::Error => self.errors += 1,
            _ => {}
        }
    }

    /// Every counter with its name, in the order of the struct (and of the C `stomp_stats`).
    pub fn fields(&self) -> [(&'static str, u64); 15] {
        [
            ("connections", self.connections),
            ("disconnects", self.disconnects),
            ("reconnects", self.reconnects),
            ("messages_sent", self.messages_sent),
            ("messages_received", self.messages_received),
            ("frames_sent", self.frames_sent),
            ("frames_received", self.frames_received),
            ("receipts_received", self.receipts_received),
            ("errors", self.errors),
            ("heartbeats_sent", self.heartbeats_sent),
            ("heartbeats_received", self.heartbeats_received),
            ("heartbeat_timeouts", self.heartbeat_timeouts),
            ("bytes_sent", self.bytes_sent),
            ("bytes_received", self.bytes_received),
            ("frames_held", self.frames_held),
        ]
    }
}

/// One `name: value` line per counter, in struct order, without a trailing newline.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.fields().iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {}", name, value)?;
        }
        Ok(())
    }
}

impl Connection {
    /// A copy of this connection's counters, taken at once (one lock, no allocation). Any thread,
    /// at any time, connected or not.
    pub fn stats(&self) -> Stats {
        self.shared.lock_core().session.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_sorted_into_their_counters() {
        let mut s = Stats::default();
        s.frame_sent(Command::Connect);
        s.frame_sent(Command::Send);
        s.frame_sent(Command::Subscribe);
        for c in [
            Command::Connected,
            Command::Message,
            Command::Message,
            Command::Receipt,
            Command::Error,
        ] {
            s.frame_received(c);
        }
        assert_eq!((s.frames_sent, s.messages_sent), (3, 1));
        assert_eq!((s.frames_received, s.messages_received), (5, 2));
        assert_eq!((s.receipts_received, s.errors), (1, 1));
    }

    #[test]
    fn the_text_has_one_line_per_counter_in_order() {
        let s = Stats {
            connections: 2,
            frames_held: u64::MAX,
            ..Stats::default()
        };
        let text = s.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 15);
        assert_eq!(lines[0], "connections: 2");
        assert_eq!(lines[1], "disconnects: 0");
        assert_eq!(lines[14], format!("frames_held: {}", u64::MAX));
        assert!(!text.ends_with('\n'));
    }
}
