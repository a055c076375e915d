//! libstomp: a STOMP 1.0/1.1/1.2 client with a C ABI.
//!
//! Layers, each talking only to its neighbour: `ffi` (the C surface) -> `client` (the safe Rust API)
//! -> `runtime` (the mio I/O loop and dispatch threads) -> `proto` (sans-IO frames and session).

pub mod client;
pub mod error;
pub mod ffi;
pub mod listener;
pub mod log;
pub mod options;
pub mod proto;
pub mod runtime;
pub mod stats;

pub use client::{AckMode, Connection};
pub use error::{Error, ErrorKind, Result};
pub use listener::{Disconnection, Listener, PrintingListener};
pub use options::{HostSpec, Keepalive, Options};
pub use proto::{Command, Frame, Version};
pub use runtime::app_loop::EventLoop;
pub use runtime::reconnect::ReconnectPolicy;
pub use runtime::tls::{TlsFiles, TlsOptions, TlsSessionInfo};
pub use stats::Stats;
