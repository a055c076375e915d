//! `stomp_loop`: connections driven from the application's own event loop (epoll, poll, libuv, a
//! reactor) instead of the library's threads. The C surface of `runtime::app_loop::EventLoop`.

use std::ffi::c_int;
use std::time::Duration;

use super::boundary::{CReturn, Handle, borrow, ffi_boundary, free, into_raw};
use super::connection::stomp_connection;
use super::options::stomp_options;
use super::result::stomp_result;
use crate::error::Error;
use crate::runtime::app_loop::EventLoop;

/// An event loop the application drives (opaque): made by `stomp_loop_new`, freed by
/// `stomp_loop_free`. Its connections (`stomp_connection_new_on_loop`) start no thread: their I/O,
/// timers and callbacks all happen inside `stomp_loop_process`, on the thread that calls it.
pub struct stomp_loop {
    inner: EventLoop,
}

impl Handle for stomp_loop {
    type Inner = EventLoop;
    const ARG: &'static str = "lp";
    fn wrap(inner: EventLoop) -> Self {
        stomp_loop { inner }
    }
    fn inner(&self) -> &EventLoop {
        &self.inner
    }
    fn inner_mut(&mut self) -> &mut EventLoop {
        &mut self.inner
    }
}

/// An `int` answer whose failure value is -1 (the last error set).
struct CInt(c_int);

impl CReturn for CInt {
    type Ok = CInt;
    fn success(v: CInt) -> Self {
        v
    }
    fn failure(_: &Error) -> Self {
        CInt(-1)
    }
}

/// A new event loop with no connection, for the application to drive: watch `stomp_loop_fd` for
/// reading, wake after `stomp_loop_timeout_ms` at the latest, and call `stomp_loop_process`. The
/// calling thread is the loop's thread until another calls `stomp_loop_process`. NULL, with
/// `stomp_last_error()` set (STOMP_ERR_IO), if the system refuses an epoll descriptor. Free with
/// `stomp_loop_free`, after every connection made on it.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_loop_new() -> *mut stomp_loop {
    ffi_boundary! { Ok(into_raw(EventLoop::new()?)) }
}

/// Frees the loop; NULL is a no-op. Free its connections first (`stomp_connection_free`): a
/// connection left behind is no longer driven (`stomp_connect` on it fails with STOMP_ERR_CLOSED,
/// and a wait on it from another thread ends only by its timeout) until it is freed, and what was
/// queued for it (commands, callbacks not yet run) is dropped here.
///
/// # Safety
/// `lp` is NULL or from `stomp_loop_new`, not freed before; no call on it follows, and no other
/// thread is inside `stomp_loop_process` on it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_loop_free(lp: *mut stomp_loop) {
    // SAFETY: the caller's contract.
    unsafe { free(lp) }
}

/// A new, unconnected connection driven by `lp` instead of the library's threads; otherwise like
/// `stomp_connection_new` (`opts` is copied; free it with `stomp_connection_free`, before the loop).
/// Its listeners' callbacks run inside `stomp_loop_process`. On the loop's thread (the one that
/// made the loop or last called `stomp_loop_process`), calls that would wait for the loop fail at
/// once with STOMP_ERR_WOULD_DEADLOCK: `stomp_connect` with `wait`, `stomp_wait_receipt`,
/// `stomp_receive` with a timeout above 0 and nothing queued, `stomp_disconnect` with a timeout
/// above 0; use the non-waiting forms there (`stomp_disconnect` with timeout 0 sends DISCONNECT and
/// the link closes when its receipt comes), and a send that finds the outgoing buffer full fails
/// with STOMP_ERR_QUEUE_FULL instead of waiting. From other threads they wait as usual, while the
/// loop's thread goes on calling `stomp_loop_process`. NULL, with `stomp_last_error()` set, if an
/// argument is NULL or the options are unusable.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread changes during the call; `lp` is NULL or
/// a live stomp_loop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_connection_new_on_loop(
    opts: *const stomp_options,
    lp: *const stomp_loop,
) -> *mut stomp_connection {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        let o = unsafe { borrow(opts) }?.clone();
        // SAFETY: the caller's contract.
        let lp = unsafe { borrow(lp) }?;
        Ok(into_raw::<stomp_connection>(lp.connection(o)?))
    }
}

/// The descriptor to watch for reading (an epoll descriptor, so Linux only): it becomes readable
/// when a socket of the loop is ready or an API call queued work for it. The loop keeps it; do not
/// close, read or write it. -1, with `stomp_last_error()` set, if `lp` is NULL. Any thread.
///
/// # Safety
/// `lp` is NULL or a live stomp_loop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_loop_fd(lp: *const stomp_loop) -> c_int {
    let r: CInt = ffi_boundary! {
        // SAFETY: the caller's contract.
        Ok(CInt(unsafe { borrow(lp) }?.fd()))
    };
    r.0
}

/// Milliseconds until the loop's next deadline (a heart-beat to send or check, a connect timeout,
/// a reconnect back-off), rounded up: call `stomp_loop_process` by then even if the descriptor
/// stays quiet. 0 when work is already waiting; -1 when there is no deadline (wait for the
/// descriptor alone), which is also the answer, with `stomp_last_error()` set, for a NULL `lp`.
/// Ask again after each `stomp_loop_process`: deadlines move. Any thread.
///
/// # Safety
/// `lp` is NULL or a live stomp_loop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_loop_timeout_ms(lp: *const stomp_loop) -> c_int {
    let r: CInt = ffi_boundary! {
        // SAFETY: the caller's contract.
        let t = unsafe { borrow(lp) }?.timeout();
        Ok(CInt(t.map_or(-1, |t| {
            c_int::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(c_int::MAX)
        })))
    };
    r.0
}

/// Waits up to `timeout_ms` (0: not at all; negative: until there is something to do) for the
/// loop's sockets and deadlines, handles whatever is ready (reads, writes, heart-beats, connects
/// and reconnects, the calls other threads made), then runs the listener callbacks that queued, on
/// this thread, with no library lock held. It never waits past the loop's next deadline, so it may
/// return before `timeout_ms` with nothing done. Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a
/// NULL `lp`; STOMP_ERR_WOULD_DEADLOCK if the loop is already
/// being processed: from inside one of its own callbacks, or by another thread at the same time
/// (one thread at a time per loop); STOMP_ERR_IO if polling failed.
///
/// # Safety
/// `lp` is NULL or a live stomp_loop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_loop_process(
    lp: *const stomp_loop,
    timeout_ms: c_int,
) -> stomp_result {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        let lp = unsafe { borrow(lp) }?;
        lp.process(process_limit(timeout_ms)).map(drop)
    }
}

/// The longest `stomp_loop_process` waits for `timeout_ms`: a negative one stands for "until
/// something happens", which an hour bounds without any caller noticing.
fn process_limit(timeout_ms: c_int) -> Duration {
    u64::try_from(timeout_ms).map_or(Duration::from_secs(3600), Duration::from_millis)
}
