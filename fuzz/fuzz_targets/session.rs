//! libFuzzer target: a client session after CONNECT, fed arbitrary broker bytes with simulated time,
//! budgets and writes, before and after the handshake (see `checks::check_session`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_session(data));
