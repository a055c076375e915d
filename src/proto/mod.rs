//! Sans-IO STOMP: frames, the codec, escaping and the connection state machine. Nothing here touches
//! a socket, a clock or a thread.

pub mod codec;
pub mod escape;
pub mod frame;
mod mem;
mod scan;
pub mod session;
mod swar;

pub use codec::{Decoded, Decoder, Limits, Progress, encode, encode_parts};
pub use frame::{Command, Frame, MASKED, Version, shown_value};
pub use session::{ConnectParams, Event, ReceiptStatus, Session, SessionConfig, State};
