//! Sans-IO STOMP: frames, the codec, escaping and the connection state machine. Nothing here touches
//! a socket or a clock, nor starts or waits for a thread (a received MESSAGE stays in the chunk it
//! was read into, which its frames share with the decoder: `chunk`; frame buffers are kept per
//! thread and shared between threads for reuse: `pool`).

mod chunk;
pub mod codec;
pub mod escape;
pub mod frame;
mod mem;
mod pool;
mod scan;
pub mod session;
mod swar;

pub use codec::{Decoded, Decoder, Limits, Progress, encode, encode_parts};
pub use frame::{Command, Frame, MASKED, Version, shown_value};
pub use session::{ConnectParams, Event, ReceiptStatus, Session, SessionConfig, State};
/// UTF-8 checked a word at a time for ASCII (the boundary's check of every C string).
pub(crate) use swar::utf8;
