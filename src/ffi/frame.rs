//! `stomp_frame`: a received (or built) frame. Frames handed to callbacks are borrowed for the
//! duration of the callback; `stomp_frame_clone` makes one the caller owns.

use std::ffi::c_char;

use super::boundary::{arg, call, call_or, str_arg};
use super::result::stomp_result;
use crate::error::{ErrorKind, err};
use crate::proto::{Command, Frame};

/// A STOMP frame (opaque): command, ordered headers (repeats kept), body.
#[repr(transparent)]
pub struct stomp_frame(pub(crate) Frame);

impl stomp_frame {
    /// The C view of a frame the library lends out.
    pub(crate) fn from_ref(f: &Frame) -> *const stomp_frame {
        (f as *const Frame).cast::<stomp_frame>()
    }

    pub(crate) fn boxed(f: Frame) -> *mut stomp_frame {
        Box::into_raw(Box::new(stomp_frame(f)))
    }

    /// The `i`-th header as C strings: pointers into the frame's own buffer, where each name and
    /// value is NUL-terminated (nothing is copied).
    fn c_header_at(&self, i: usize) -> Option<(*const c_char, *const c_char)> {
        self.0
            .header_at_with_nul(i)
            .map(|(n, v)| (n.as_ptr().cast::<c_char>(), v.as_ptr().cast::<c_char>()))
    }
}

fn command_cstr(c: Command) -> &'static [u8] {
    match c {
        Command::Connect => b"CONNECT\0",
        Command::Stomp => b"STOMP\0",
        Command::Connected => b"CONNECTED\0",
        Command::Send => b"SEND\0",
        Command::Subscribe => b"SUBSCRIBE\0",
        Command::Unsubscribe => b"UNSUBSCRIBE\0",
        Command::Ack => b"ACK\0",
        Command::Nack => b"NACK\0",
        Command::Begin => b"BEGIN\0",
        Command::Commit => b"COMMIT\0",
        Command::Abort => b"ABORT\0",
        Command::Disconnect => b"DISCONNECT\0",
        Command::Message => b"MESSAGE\0",
        Command::Receipt => b"RECEIPT\0",
        Command::Error => b"ERROR\0",
    }
}

/// The frame's command ("MESSAGE", "RECEIPT", ...): a static string, or NULL if `frame` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_frame_command(frame: *const stomp_frame) -> *const c_char {
    call_or(std::ptr::null(), || {
        // SAFETY: NULL or a live frame.
        match unsafe { frame.as_ref() } {
            Some(f) => command_cstr(f.0.command).as_ptr().cast(),
            None => std::ptr::null(),
        }
    })
}

/// The value of the first header called `name` (STOMP: the first of repeated headers wins), or NULL
/// if absent (or if an argument is NULL). The string lives as long as the frame.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_frame_header(
    frame: *const stomp_frame,
    name: *const c_char,
) -> *const c_char {
    call_or(std::ptr::null(), || {
        // SAFETY: NULL or a live frame; NULL or a C string.
        let (Some(f), Ok(name)) = (unsafe { frame.as_ref() }, unsafe { str_arg(name, "name") })
        else {
            return std::ptr::null();
        };
        f.0.header_position(name)
            .and_then(|i| f.c_header_at(i))
            .map_or(std::ptr::null(), |(_, v)| v)
    })
}

/// How many headers the frame has, repeats included (0 if `frame` is NULL).
#[unsafe(no_mangle)]
pub extern "C" fn stomp_frame_header_count(frame: *const stomp_frame) -> usize {
    // SAFETY: NULL or a live frame.
    call_or(0, || {
        unsafe { frame.as_ref() }.map_or(0, |f| f.0.header_count())
    })
}

/// The `index`-th header, in the order received. `name` and `value` (either may be NULL) receive
/// strings that live as long as the frame; they are written only on success.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_frame_header_at(
    frame: *const stomp_frame,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> stomp_result {
    call(|| {
        // SAFETY: NULL or a live frame.
        let f = unsafe { arg(frame, "frame") }?;
        let Some((n, v)) = f.c_header_at(index) else {
            return err(
                ErrorKind::NotFound,
                format!(
                    "header index {} is past the last of {}",
                    index,
                    f.0.header_count()
                ),
            );
        };
        // SAFETY: out-pointers are NULL or writable (the caller's contract).
        unsafe {
            if !name.is_null() {
                *name = n;
            }
            if !value.is_null() {
                *value = v;
            }
        }
        Ok(())
    })
}

/// The body and its length (which may include NUL bytes). The pointer lives as long as the frame; it
/// is not NUL-terminated. `len` may be NULL. NULL (and length 0) for a NULL frame.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_frame_body(frame: *const stomp_frame, len: *mut usize) -> *const u8 {
    call_or(std::ptr::null(), || {
        // SAFETY: NULL or a live frame; `len` NULL or writable.
        let f = unsafe { frame.as_ref() };
        let (p, n) = f.map_or((std::ptr::null(), 0), |f| {
            (f.0.body().as_ptr(), f.0.body().len())
        });
        if !len.is_null() {
            unsafe { *len = n };
        }
        p
    })
}

/// A copy the caller owns (free with `stomp_frame_free`); NULL if `frame` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_frame_clone(frame: *const stomp_frame) -> *mut stomp_frame {
    super::boundary::call_ptr(|| {
        // SAFETY: NULL or a live frame.
        let f = unsafe { arg(frame, "frame") }?;
        Ok(stomp_frame::boxed(f.0.clone()))
    })
}

/// Frees a frame from `stomp_frame_clone`, `stomp_receive` or `stomp_connected_frame`; NULL is a
/// no-op. Never free a frame lent to a callback.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_frame_free(frame: *mut stomp_frame) {
    if !frame.is_null() {
        // SAFETY: a frame this library boxed and gave away (the caller's contract).
        drop(unsafe { Box::from_raw(frame) });
    }
}
