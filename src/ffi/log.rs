//! The log for C: `stomp_set_log_callback`, `stomp_log_flush`, and the levels.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::boundary::ffi_boundary;
use super::result::stomp_result;
use crate::error::{ErrorKind, Result, err};
use crate::log::{self, Level};

/// How much a log message matters; each level includes the ones before it.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum stomp_log_level {
    /// Nothing (as a callback's level: the callback hears nothing).
    STOMP_LOG_OFF = 0,
    /// The library itself failed (an internal error).
    STOMP_LOG_ERROR = 1,
    /// A link lost, a heart-beat timeout, an ERROR frame, a connect that gave up.
    STOMP_LOG_WARN = 2,
    /// Links established and ended.
    STOMP_LOG_INFO = 3,
    /// Host-list walks, reconnect decisions, heart-beat timings.
    STOMP_LOG_DEBUG = 4,
    /// Every frame in and out: command, headers (passcode shown as `********`), the first 200
    /// bytes of the body.
    STOMP_LOG_TRACE = 5,
}

impl From<Level> for stomp_log_level {
    fn from(l: Level) -> stomp_log_level {
        match l {
            Level::Error => stomp_log_level::STOMP_LOG_ERROR,
            Level::Warn => stomp_log_level::STOMP_LOG_WARN,
            Level::Info => stomp_log_level::STOMP_LOG_INFO,
            Level::Debug => stomp_log_level::STOMP_LOG_DEBUG,
            Level::Trace => stomp_log_level::STOMP_LOG_TRACE,
        }
    }
}

/// A `stomp_log_level` as C passes it: an integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct StompLogLevelArg(pub u32);

impl StompLogLevelArg {
    /// The level as the log keeps it (0 for off).
    fn get(self) -> Result<u8> {
        match self.0 {
            v @ 0..=5 => Ok(v as u8),
            v => err(
                ErrorKind::InvalidArgument,
                format!("{} is not a stomp_log_level (0 to 5)", v),
            ),
        }
    }
}

/// Receives the library's log messages; see `stomp_set_log_callback`. `message` is one line, NUL-
/// terminated UTF-8 without a trailing newline, borrowed for the duration of the call.
pub type stomp_log_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, level: stomp_log_level, message: *const c_char),
>;

/// The application's callback and its pointer, called only on the log thread.
struct CLog {
    cb: unsafe extern "C" fn(*mut c_void, stomp_log_level, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the header says which thread calls the callback; user_data is the caller's to make safe.
unsafe impl Send for CLog {}
unsafe impl Sync for CLog {}

impl CLog {
    fn call(&self, level: Level, text: &str) {
        let msg = CString::new(text.replace('\0', "\\0")).unwrap_or_default();
        // SAFETY: a C function pointer given to us for this purpose; `msg` outlives the call.
        unsafe { (self.cb)(self.user_data, level.into(), msg.as_ptr()) }
    }
}

/// Sends the library's log messages at `level` and above to `cb`, for the whole process (every
/// connection). `cb` NULL goes back to the default: messages at the level of the `STOMP_LOG`
/// environment variable (`error`, `warn`, `info`, `debug`, `trace`; read once, at the first
/// message; unset: nothing) are written to stderr as `libstomp LEVEL: message`. With a callback set,
/// `STOMP_LOG` is not used; `STOMP_LOG_OFF` as `level` silences the log altogether.
///
/// Threads: `cb` is called on one library thread, "stomp-log", never on the I/O thread nor with any
/// library lock held: one message at a time, in the order they were logged. It may call any library
/// function. Messages wait for it in a queue of 8192: a callback that falls that far behind loses
/// messages, and the next one it gets says how many (the library never waits for the log). Messages
/// still queued when the process exits are lost: call `stomp_log_flush` before exiting to have them.
///
/// When this returns, the previous callback is not running and will not be called again (unless this
/// is called from inside that callback), so its `user_data` may be freed. Returns STOMP_OK, or
/// STOMP_ERR_INVALID_ARGUMENT for a `level` outside the enum.
///
/// Cost: with no callback and no `STOMP_LOG`, or a message above the level, the library checks one
/// integer and builds nothing. Any thread.
///
/// # Safety
/// `cb` is NULL or a function safe to call from another thread with `user_data` until this function
/// is called again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_set_log_callback(
    cb: stomp_log_cb,
    user_data: *mut c_void,
    level: StompLogLevelArg,
) -> stomp_result {
    ffi_boundary! {
        let level = level.get()?;
        log::install(cb.map(|cb| {
            let c = CLog { cb, user_data };
            let f: log::LogFn = Arc::new(move |l: Level, text: &str| c.call(l, text));
            (f, level)
        }));
        Ok(())
    }
}

/// Waits until every message logged before this call has been delivered (to the callback or to
/// stderr), up to `timeout_ms` milliseconds. Returns STOMP_OK, or STOMP_ERR_TIMEOUT if some were
/// still queued when the time ran out (or if called from inside the log callback, which cannot wait
/// for itself). For programs that exit right after logging, and for tests. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_log_flush(timeout_ms: u32) -> stomp_result {
    ffi_boundary! {
        if log::flush(Duration::from_millis(timeout_ms.into())) {
            Ok(())
        } else {
            err(
                ErrorKind::Timeout,
                format!("log messages were still queued after {} ms", timeout_ms),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_outside_the_enum_are_refused() {
        assert_eq!(StompLogLevelArg(5).get().unwrap(), 5);
        assert_eq!(StompLogLevelArg(0).get().unwrap(), 0);
        let e = StompLogLevelArg(6).get().unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains("not a stomp_log_level"), "{}", e.message);
    }

    #[test]
    fn the_c_levels_match_the_rust_ones() {
        for l in [
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
            Level::Trace,
        ] {
            assert_eq!(stomp_log_level::from(l) as u8, l as u8);
        }
    }
}
