//! The mio driver: sockets, timers and threads. One I/O thread for every connection of the process,
//! and a small pool of dispatch threads that run listener callbacks.

pub mod command;
pub mod conn;
pub mod dispatch;
pub mod event_loop;
pub mod reconnect;
pub mod transport;
