//! The library's version at run time; the header's `STOMP_VERSION_*` macros are the compile-time
//! side, written by build.rs from the same Cargo.toml version.

use std::ffi::c_char;

use super::boundary::ffi_boundary;

/// The version as a C string, from Cargo.toml (the header's macros come from the same place).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version at run time, "MAJOR.MINOR.PATCH" (e.g. "0.1.0"). Compare it with
/// `STOMP_VERSION_STRING`, the version of the header a program was compiled with: a program may
/// run with a newer `libstomp.so.0` than it was built against. Never NULL; a static string (do not
/// free it). Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_version_string() -> *const c_char {
    ffi_boundary! { Ok(VERSION.as_ptr().cast()) }
}

/// The library's version, as `stomp_version_string` (kept for programs written before it): a
/// static string, never NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_lib_version() -> *const c_char {
    ffi_boundary! { Ok(VERSION.as_ptr().cast()) }
}
