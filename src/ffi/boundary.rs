//! The boundary every exported function goes through: one panic guard (`ffi_boundary!`), what each
//! return type gives back (`CReturn`), typed handles (`Handle`), argument checks, and the
//! calling thread's last error.
//!
//! An export's body is `ffi_boundary! { ... }`, or `with_handle` / `with_handle_mut`, which borrow
//! the handle inside it. Either way an error or a panic becomes the return type's failure value with
//! `stomp_last_error()` set; nothing unwinds into C.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::result::stomp_result;
use crate::error::{Error, ErrorKind, Result, err};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Returned while the thread's locals are being torn down (a call from a TLS destructor).
const EMPTY: &CStr = c"";

/// Records `e` as the calling thread's last error. Never panics: during thread teardown, or if the
/// slot is somehow borrowed, the message is dropped.
pub fn set_last_error(e: &Error) {
    let msg = CString::new(e.message.replace('\0', "\\0")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|l| {
        if let Ok(mut slot) = l.try_borrow_mut() {
            *slot = msg;
        }
    });
}

/// The calling thread's last error message; valid until its next failing call. Never NULL: empty
/// when there is none, or when the thread's locals are already gone.
pub fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|l| l.try_borrow().map(|s| s.as_ptr()).ok())
        .ok()
        .flatten()
        .unwrap_or(EMPTY.as_ptr())
}

/// What an exported function returns: its body's success value as C gets it, and the value that
/// reports a failure (the error is already recorded as the last error). The return type decides.
pub trait CReturn {
    /// What the body gives on success.
    type Ok;
    fn success(v: Self::Ok) -> Self;
    fn failure(e: &Error) -> Self;
}

/// A result code: STOMP_OK, or the error's kind.
impl CReturn for stomp_result {
    type Ok = ();
    fn success(_: ()) -> Self {
        stomp_result::STOMP_OK
    }
    fn failure(e: &Error) -> Self {
        stomp_result::from_kind(e.kind)
    }
}

/// Returned as is; the failure value is the "nothing" of the type.
macro_rules! returned_as_is {
    ($($t:ty => $failure:expr),* $(,)?) => {$(
        impl<T> CReturn for $t {
            type Ok = Self;
            fn success(v: Self) -> Self {
                v
            }
            fn failure(_: &Error) -> Self {
                $failure
            }
        }
    )*};
}
returned_as_is!(*mut T => std::ptr::null_mut(), *const T => std::ptr::null());

impl CReturn for bool {
    type Ok = bool;
    fn success(v: bool) -> Self {
        v
    }
    fn failure(_: &Error) -> Self {
        false
    }
}

impl CReturn for usize {
    type Ok = usize;
    fn success(v: usize) -> Self {
        v
    }
    fn failure(_: &Error) -> Self {
        0
    }
}

impl CReturn for () {
    type Ok = ();
    fn success(_: ()) -> Self {}
    fn failure(_: &Error) -> Self {}
}

fn panic_error(payload: &(dyn Any + Send)) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    Error::new(
        ErrorKind::Internal,
        format!("internal error: the library panicked (please report it): {what}"),
    )
}

/// Runs an export's body: `Ok(v)` is returned as `R::success(v)`; an error, or a panic (as STOMP_ERR_INTERNAL),
/// is recorded as the last error and becomes `R`'s failure value. Use it through `ffi_boundary!`.
pub fn guard<R: CReturn>(body: impl FnOnce() -> Result<R::Ok>) -> R {
    let e = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => return R::success(v),
        Ok(Err(e)) => e,
        Err(payload) => {
            let e = panic_error(&*payload);
            // A payload whose destructor panics would unwind from here: keep it.
            std::mem::forget(payload);
            e
        }
    };
    set_last_error(&e);
    R::failure(&e)
}

/// The body of an exported function, evaluating to a `Result` of its return type: errors and panics
/// become the return type's `CReturn::failure` value, with the last error set.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        $crate::ffi::boundary::guard(|| { $($body)* })
    };
}
pub(crate) use ffi_boundary;

/// An opaque C handle around a Rust value: made by `into_raw`, borrowed by `with_handle(_mut)`,
/// freed by `free`.
pub trait Handle: Sized {
    type Inner;
    /// The argument's name in error messages ("conn", "opts", "frame").
    const ARG: &'static str;
    fn wrap(inner: Self::Inner) -> Self;
    fn inner(&self) -> &Self::Inner;
    fn inner_mut(&mut self) -> &mut Self::Inner;
}

/// A new handle the caller owns.
pub fn into_raw<H: Handle>(inner: H::Inner) -> *mut H {
    Box::into_raw(Box::new(H::wrap(inner)))
}

/// Frees a handle from `into_raw`, inside the boundary; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or from `into_raw` and not freed before.
pub unsafe fn free<H: Handle>(p: *mut H) {
    ffi_boundary! {
        if !p.is_null() {
            // SAFETY: the caller's contract.
            drop(unsafe { Box::from_raw(p) });
        }
        Ok(())
    }
}

/// The value behind a handle, or InvalidArgument naming the argument if NULL.
///
/// # Safety
/// `p` is NULL or a live handle for `'a`.
pub unsafe fn borrow<'a, H: Handle + 'a>(p: *const H) -> Result<&'a H::Inner> {
    // SAFETY: the caller's contract.
    unsafe { arg(p, H::ARG) }.map(H::inner)
}

/// Inside the boundary, borrows the handle (InvalidArgument if NULL) and runs `f` with it.
///
/// # Safety
/// `p` is NULL or a live handle, not mutated by another thread during the call.
pub unsafe fn with_handle<H: Handle, T: CReturn>(
    p: *const H,
    f: impl FnOnce(&H::Inner) -> Result<T::Ok>,
) -> T {
    // SAFETY: the caller's contract.
    ffi_boundary! { f(unsafe { borrow(p) }?) }
}

/// `with_handle` for a handle `f` changes.
///
/// # Safety
/// `p` is NULL or a live handle, used by no other thread during the call.
pub unsafe fn with_handle_mut<H: Handle, T: CReturn>(
    p: *mut H,
    f: impl FnOnce(&mut H::Inner) -> Result<T::Ok>,
) -> T {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        match unsafe { p.as_mut() } {
            Some(h) => f(h.inner_mut()),
            None => err(ErrorKind::InvalidArgument, format!("{} is NULL", H::ARG)),
        }
    }
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

/// An output pointer C gave us, to be written (with `.write(v)`) only on success, or
/// `InvalidArgument` naming it if NULL. Check it before doing anything that cannot be undone.
///
/// # Safety
/// `p` is NULL or valid for writes for `'a`.
pub unsafe fn out_arg<'a, T>(p: *mut T, what: &str) -> Result<&'a mut MaybeUninit<T>> {
    // SAFETY: the caller's contract; MaybeUninit makes no claim about what `p` holds now.
    match unsafe { p.cast::<MaybeUninit<T>>().as_mut() } {
        Some(r) => Ok(r),
        None => err(ErrorKind::InvalidArgument, format!("{} is NULL", what)),
    }
}

/// Writes `v` through an optional output pointer: NULL means the caller does not want it.
///
/// # Safety
/// `p` is NULL or valid for writes.
pub unsafe fn opt_out<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: non-NULL, and writable by the caller's contract.
        unsafe { p.write(v) };
    }
}

/// A required C string, as UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string live for `'a`.
pub unsafe fn str_arg<'a>(p: *const c_char, what: impl std::fmt::Display) -> Result<&'a str> {
    if p.is_null() {
        return err(ErrorKind::InvalidArgument, format!("{} is NULL", what));
    }
    // SAFETY: the caller's contract.
    crate::proto::utf8(unsafe { CStr::from_ptr(p) }.to_bytes())
        .or_else(|_| err(ErrorKind::InvalidArgument, format!("{} is not UTF-8", what)))
}

/// A header name or value from C, as UTF-8, and whether it goes into a frame as it is
/// (`proto::escape::verbatim`): one pass over the usual plain ASCII finds both.
///
/// # Safety
/// As `str_arg`.
#[inline(always)]
pub unsafe fn header_arg<'a>(
    p: *const c_char,
    what: impl std::fmt::Display,
) -> Result<(&'a str, bool)> {
    if p.is_null() {
        return err(ErrorKind::InvalidArgument, format!("{} is NULL", what));
    }
    // SAFETY: the caller's contract.
    crate::proto::escape::check_text(unsafe { CStr::from_ptr(p) }.to_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An export-like function whose body panics.
    fn panicking<T: CReturn>() -> T {
        ffi_boundary! { panic!("boom") }
    }

    fn last_error() -> String {
        // SAFETY: never NULL, NUL-terminated.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_returns_the_failure_value_and_sets_the_last_error() {
        set_last_error(&Error::new(ErrorKind::Io, "before"));
        assert_eq!(
            panicking::<stomp_result>(),
            stomp_result::STOMP_ERR_INTERNAL
        );
        let m = last_error();
        assert!(m.contains("panicked") && m.contains("boom"), "{m}");

        set_last_error(&Error::new(ErrorKind::Io, "before"));
        assert!(panicking::<*mut u8>().is_null());
        assert!(last_error().contains("boom"));
        assert!(panicking::<*const c_char>().is_null());
        assert!(!panicking::<bool>());
        assert_eq!(panicking::<usize>(), 0);
        set_last_error(&Error::new(ErrorKind::Io, "before"));
        panicking::<()>();
        assert!(last_error().contains("boom"));
    }

    /// Exported-style functions as C sees them: `extern "C"`, raw pointer arguments, the body in
    /// the boundary; not `no_mangle`, so they never reach the shipped symbol list. A panic that
    /// escaped one would abort this whole test process (unwinding out of `extern "C"` aborts),
    /// not fail one test: the process living on is the proof.
    unsafe extern "C" fn synthetic_export(arg: *const c_char) -> stomp_result {
        ffi_boundary! {
            // SAFETY: NULL or NUL-terminated (the test passes a literal).
            let s = unsafe { str_arg(arg, "arg") }?;
            match s {
                "index" => {
                    let v: Vec<u8> = Vec::new();
                    // Out of bounds: a bug's panic, with a formatted message.
                    let _never = v[s.len()];
                    Ok(())
                }
                "payload" => std::panic::panic_any(42u32), // not a string
                _ => Ok(()),
            }
        }
    }

    unsafe extern "C" fn synthetic_getter(arg: *const c_char) -> *const c_char {
        ffi_boundary! {
            if !arg.is_null() {
                panic!("getter bug");
            }
            Ok(c"fine".as_ptr())
        }
    }

    #[test]
    fn a_panic_in_an_extern_c_export_becomes_an_error_code_not_an_abort() {
        let export: unsafe extern "C" fn(*const c_char) -> stomp_result = synthetic_export;
        let getter: unsafe extern "C" fn(*const c_char) -> *const c_char = synthetic_getter;
        // SAFETY: NULL or literals, as the functions expect.
        unsafe {
            assert_eq!(export(c"ok".as_ptr()), stomp_result::STOMP_OK);
            assert_eq!(
                export(std::ptr::null()),
                stomp_result::STOMP_ERR_INVALID_ARGUMENT
            );
            assert_eq!(last_error(), "arg is NULL");
            assert_eq!(export(c"index".as_ptr()), stomp_result::STOMP_ERR_INTERNAL);
            let m = last_error();
            assert!(
                m.contains("panicked") && m.contains("index out of bounds"),
                "{m}"
            );
            assert_eq!(
                export(c"payload".as_ptr()),
                stomp_result::STOMP_ERR_INTERNAL
            );
            assert!(last_error().contains("no message"), "{}", last_error());
            assert!(getter(c"x".as_ptr()).is_null());
            assert!(last_error().contains("getter bug"));
            assert!(!getter(std::ptr::null()).is_null());
            // The boundary is reusable after a panic: the next call works normally.
            assert_eq!(export(c"ok".as_ptr()), stomp_result::STOMP_OK);
        }
    }

    #[test]
    fn an_error_returns_its_code_and_sets_the_last_error() {
        let r: stomp_result = ffi_boundary! { err(ErrorKind::NotFound, "no such thing") };
        assert_eq!(r, stomp_result::STOMP_ERR_NOT_FOUND);
        assert_eq!(last_error(), "no such thing");
        let ok: usize = ffi_boundary! { Ok(7) };
        assert_eq!(ok, 7);
    }

    #[test]
    fn the_last_error_survives_thread_teardown() {
        struct OnExit;
        impl Drop for OnExit {
            fn drop(&mut self) {
                set_last_error(&Error::new(ErrorKind::Io, "late"));
                // SAFETY: never NULL, NUL-terminated.
                let s = unsafe { CStr::from_ptr(last_error_ptr()) };
                assert!(s.to_bytes().is_empty(), "{s:?}");
            }
        }
        thread_local! { static GUARD: RefCell<Option<OnExit>> = const { RefCell::new(None) }; }
        std::thread::spawn(|| {
            // Locals are destroyed in the reverse order of first use: LAST_ERROR goes before GUARD.
            GUARD.with(|g| *g.borrow_mut() = Some(OnExit));
            set_last_error(&Error::new(ErrorKind::Io, "early"));
        })
        .join()
        .expect("no panic in TLS teardown");
    }

    /// Every export's body enters the boundary: through `ffi_boundary!` or a helper built on it.
    #[test]
    fn every_export_goes_through_the_boundary() {
        let sources = [
            ("connection.rs", include_str!("connection.rs")),
            ("frame.rs", include_str!("frame.rs")),
            ("options.rs", include_str!("options.rs")),
            ("result.rs", include_str!("result.rs")),
            ("listener.rs", include_str!("listener.rs")),
            ("version.rs", include_str!("version.rs")),
            ("stats.rs", include_str!("stats.rs")),
            ("log.rs", include_str!("log.rs")),
        ];
        let entries = [
            "ffi_boundary!",
            "with_handle(",
            "with_handle_mut(",
            "free(",
            // Helpers of one file, each a with_handle(_mut) call, and one export calling another.
            "update(",
            "set(",
            "ack_like(",
            "ack_frame_like(",
            "stomp_subscribe_out(",
        ];
        let mut exports = 0;
        for (file, src) in sources {
            for item in src.split("#[unsafe(no_mangle)]").skip(1) {
                let body = &item[..item.find("\n}\n").expect("a function ends")];
                let name = body.split("fn ").nth(1).and_then(|s| s.split('(').next());
                assert!(
                    entries.iter().any(|e| body.contains(e)),
                    "{file}: {name:?} does not go through the boundary"
                );
                exports += 1;
            }
        }
        assert!(exports >= 50, "only {exports} exports found");
    }
}
