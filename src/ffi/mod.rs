//! The C ABI: the only place with exported symbols. Every function checks its pointers, converts,
//! calls the Rust API inside a panic guard, and reports failures as `stomp_result` plus
//! `stomp_last_error()`.
#![allow(non_camel_case_types)]

pub mod boundary;
pub mod connection;
pub mod event_loop;
pub mod frame;
pub mod listener;
pub mod log;
pub mod options;
pub mod result;
pub mod stats;
pub mod tls;
pub mod version;
