//! The boundary every exported function goes through: a panic guard, null and UTF-8 checks, and the
//! calling thread's last error.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::result::stomp_result;
use crate::error::{Error, ErrorKind, Result, err};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub fn set_last_error(e: &Error) {
    let msg = CString::new(e.message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = msg);
}

/// The calling thread's last error message; valid until its next failing call.
pub fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}

fn panic_error() -> Error {
    Error::new(
        ErrorKind::Internal,
        "internal error: the library panicked (please report it)",
    )
}

/// Runs `f`; maps its error (or a panic) to a result code and records the message.
pub fn call(f: impl FnOnce() -> Result<()>) -> stomp_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => stomp_result::STOMP_OK,
        Ok(Err(e)) => {
            set_last_error(&e);
            stomp_result::from_kind(e.kind)
        }
        Err(_) => {
            set_last_error(&panic_error());
            stomp_result::STOMP_ERR_INTERNAL
        }
    }
}

/// Runs a constructor; NULL (with the last error set) on failure.
pub fn call_ptr<T>(f: impl FnOnce() -> Result<*mut T>) -> *mut T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            set_last_error(&e);
            std::ptr::null_mut()
        }
        Err(_) => {
            set_last_error(&panic_error());
            std::ptr::null_mut()
        }
    }
}

/// Runs an accessor that cannot report an error; `fallback` on panic.
pub fn call_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// A reference from a pointer C gave us, or `InvalidArgument` naming it.
///
/// # Safety
/// `p` is NULL or points to a live `T` for `'a`.
pub unsafe fn arg<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: the caller's contract.
    match unsafe { p.as_ref() } {
        Some(r) => Ok(r),
        None => err(ErrorKind::InvalidArgument, format!("{} is NULL", what)),
    }
}

/// A required C string, as UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string live for `'a`.
pub unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return err(ErrorKind::InvalidArgument, format!("{} is NULL", what));
    }
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .or_else(|_| err(ErrorKind::InvalidArgument, format!("{} is not UTF-8", what)))
}

/// An optional C string: NULL is `None`.
///
/// # Safety
/// As `str_arg`.
pub unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        unsafe { str_arg(p, what) }.map(Some)
    }
}

/// A byte buffer: NULL is fine only with length 0.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes live for `'a`.
pub unsafe fn bytes_arg<'a>(
    p: *const std::ffi::c_void,
    len: usize,
    what: &str,
) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return err(
            ErrorKind::InvalidArgument,
            format!("{} is NULL but its length is {}", what, len),
        );
    }
    if len > isize::MAX as usize {
        return err(
            ErrorKind::InvalidArgument,
            format!("{} has an impossible length", what),
        );
    }
    // SAFETY: the caller's contract; the length is checked above.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}
