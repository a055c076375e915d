//! The mio driver: sockets, timers and threads. One I/O thread for every connection of the process,
//! and a pool of dispatch threads, grown while busy and shrunk when idle, that run listener callbacks;
//! or, for the connections of an `app_loop::EventLoop`, no thread: the application drives the loop.

pub mod app_loop;
pub mod command;
pub mod conn;
pub mod direct;
pub mod dispatch;
pub mod event_loop;
pub mod reconnect;
pub mod recv_queue;
pub mod stream;
pub mod tls;
pub mod transport;
