//! libFuzzer target: the frame decoder fed arbitrary bytes in pieces the input chooses, in every
//! version, under small limits (see `checks::check_decoder` for the input's layout).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_decoder(data));
