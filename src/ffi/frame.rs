//! `stomp_frame`: a received (or built) frame. Frames handed to callbacks are borrowed for the
//! duration of the callback; `stomp_frame_clone` makes one the caller owns.

use std::ffi::c_char;

use super::boundary::{
    Handle, borrow, ffi_boundary, free, into_raw, opt_out, out_arg, str_arg, with_handle,
};
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
}

impl Handle for stomp_frame {
    type Inner = Frame;
    const ARG: &'static str = "frame";
    fn wrap(f: Frame) -> Self {
        stomp_frame(f)
    }
    fn inner(&self) -> &Frame {
        &self.0
    }
    fn inner_mut(&mut self) -> &mut Frame {
        &mut self.0
    }
}

/// The `i`-th header as C strings: pointers into the frame's own buffer, where each name and value
/// is NUL-terminated (nothing is copied).
fn c_header_at(f: &Frame, i: usize) -> Option<(*const c_char, *const c_char)> {
    f.header_at_with_nul(i)
        .map(|(n, v)| (n.as_ptr().cast::<c_char>(), v.as_ptr().cast::<c_char>()))
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

/// The frame's command ("MESSAGE", "RECEIPT", ...): a static string (do not free it), or NULL if
/// `frame` is NULL. Any thread, concurrently too, while the frame lives (one lent to a callback: until it returns).
///
/// # Safety
/// `frame` is NULL or a live stomp_frame.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_command(frame: *const stomp_frame) -> *const c_char {
    // SAFETY: the caller's contract.
    unsafe { with_handle(frame, |f| Ok(command_cstr(f.command).as_ptr().cast())) }
}

/// The value of the first header called `name` (STOMP: the first of repeated headers wins), or NULL
/// if absent (or if an argument is NULL). The string lives as long as the frame; do not free it.
/// Any thread, concurrently too, while the frame lives (one lent to a callback: until it returns).
///
/// # Safety
/// `frame` is NULL or a live stomp_frame; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_header(
    frame: *const stomp_frame,
    name: *const c_char,
) -> *const c_char {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        let (f, name) = unsafe { (borrow(frame)?, str_arg(name, "name")?) };
        Ok(f.header_position(name)
            .and_then(|i| c_header_at(f, i))
            .map_or(std::ptr::null(), |(_, v)| v))
    }
}

/// How many headers the frame has, repeats included (0 if `frame` is NULL). Any thread, concurrently too, while the frame lives (one lent to a callback: until it returns).
///
/// # Safety
/// `frame` is NULL or a live stomp_frame.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_header_count(frame: *const stomp_frame) -> usize {
    // SAFETY: the caller's contract.
    unsafe { with_handle(frame, |f| Ok(f.header_count())) }
}

/// The `index`-th header, in the order received. `name` and `value` (either may be NULL) receive
/// strings that live as long as the frame (do not free them); they are written only on success.
/// Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT if `frame` is NULL; STOMP_ERR_NOT_FOUND if `index`
/// is not below `stomp_frame_header_count`. Any thread, concurrently too, while the frame lives (one lent to a callback: until it returns).
///
/// # Safety
/// `frame` is NULL or a live stomp_frame; `name` and `value` are each NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_header_at(
    frame: *const stomp_frame,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> stomp_result {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        let f = unsafe { borrow(frame) }?;
        let Some((n, v)) = c_header_at(f, index) else {
            let count = f.header_count();
            return err(
                ErrorKind::NotFound,
                format!("header index {} is past the last of {}", index, count),
            );
        };
        // SAFETY: the caller's contract.
        unsafe {
            opt_out(name, n);
            opt_out(value, v);
        }
        Ok(())
    }
}

/// Every header in one call, for bindings where a call costs more than a copy (Ruby's ffi, say):
/// writes `name\0value\0` for each header, in the order received, repeats included, into `buf`
/// (`len` bytes), and the bytes that takes into `*needed_out`. Names and values of a received
/// frame hold no NUL (one inside a header is a protocol error), so splitting the block at its NULs
/// gives 2 x `stomp_frame_header_count` strings.
///
/// Returns STOMP_OK with the block written; STOMP_ERR_BUFFER_TOO_SMALL, with nothing written to
/// `buf`, if it does not fit (a call with `buf` NULL and `len` 0 asks for the size: it
/// returns that, and STOMP_OK only for a frame without headers);
/// STOMP_ERR_INVALID_ARGUMENT if `frame` or `needed_out` is NULL, or `buf` is NULL with `len` over 0.
/// Unlike other output parameters, `*needed_out` is written on STOMP_ERR_BUFFER_TOO_SMALL too.
/// `buf` stays the caller's. Any thread, concurrently too, while the frame lives (one lent to a callback: until it returns).
///
/// # Safety
/// `frame` is NULL or a live stomp_frame; `buf` is NULL or points to `len` writable bytes;
/// `needed_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_headers_packed(
    frame: *const stomp_frame,
    buf: *mut c_char,
    len: usize,
    needed_out: *mut usize,
) -> stomp_result {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        let (f, needed_out) = unsafe { (borrow(frame)?, out_arg(needed_out, "needed_out")?) };
        check_buf(buf, len)?;
        let needed = header_parts(f).map(<[u8]>::len).sum();
        needed_out.write(needed);
        // SAFETY: `buf` is NULL only with `len` 0, else has `len` writable bytes (the caller's contract).
        unsafe { write_parts(buf, len, needed, header_parts(f), "the headers") }
    }
}

/// STOMP_ERR_INVALID_ARGUMENT for a NULL `buf` with a nonzero `len`.
fn check_buf(buf: *mut c_char, len: usize) -> crate::error::Result<()> {
    if buf.is_null() && len > 0 {
        return err(
            ErrorKind::InvalidArgument,
            format!("buf is NULL but len is {}", len),
        );
    }
    Ok(())
}

/// Each header's name and value, in the order received, each with its NUL.
fn header_parts(f: &Frame) -> impl Iterator<Item = &[u8]> + '_ {
    (0..f.header_count())
        .filter_map(|i| f.header_at_with_nul(i))
        .flat_map(|(n, v)| [n, v])
}

/// Copies `parts` (which sum to `needed` bytes) one after the other into `buf`, or fails with
/// STOMP_ERR_BUFFER_TOO_SMALL (naming `what`) and writes nothing when `needed` exceeds `len`.
///
/// # Safety
/// `buf` points to `len` writable bytes (it may be NULL when `len` is 0).
unsafe fn write_parts<'a>(
    buf: *mut c_char,
    len: usize,
    needed: usize,
    parts: impl Iterator<Item = &'a [u8]>,
    what: &str,
) -> crate::error::Result<()> {
    if needed > len {
        return err(
            ErrorKind::BufferTooSmall,
            format!("{}: {} bytes needed, the buffer has {}", what, needed, len),
        );
    }
    let mut at = 0;
    for part in parts {
        // SAFETY: `buf` has `len` writable bytes (the caller's contract) and the parts sum to
        // `needed` <= `len`.
        unsafe {
            std::ptr::copy_nonoverlapping(part.as_ptr(), buf.cast::<u8>().add(at), part.len())
        };
        at += part.len();
    }
    Ok(())
}

/// The whole frame in one call, for bindings where a call costs more than a copy (Ruby's ffi, say):
/// writes the command and a NUL, then `name\0value\0` for each header in the order received,
/// repeats included (as `stomp_frame_headers_packed`), then the body's bytes as they are (NULs
/// included, no terminator), into `buf` (`len` bytes). `*needed_out` gets the total bytes and
/// `*body_at_out` the offset where the body starts (the bytes of the command and headers), so
/// the body is the last `*needed_out - *body_at_out` bytes. This replaces `stomp_frame_command`,
/// `stomp_frame_headers_packed` and `stomp_frame_body`.
///
/// Returns STOMP_OK with the block written; STOMP_ERR_BUFFER_TOO_SMALL, with nothing written to
/// `buf`, if it does not fit (a call with `buf` NULL and `len` 0 asks for the sizes);
/// STOMP_ERR_INVALID_ARGUMENT if `frame`, `needed_out` or `body_at_out` is NULL, or `buf` is NULL
/// with `len` over 0. `*needed_out` and `*body_at_out` are written on STOMP_OK and on
/// STOMP_ERR_BUFFER_TOO_SMALL. Any thread, while the frame lives.
///
/// # Safety
/// `frame` is NULL or a live stomp_frame; `buf` is NULL or points to `len` writable bytes;
/// `needed_out` and `body_at_out` are each NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_packed(
    frame: *const stomp_frame,
    buf: *mut c_char,
    len: usize,
    needed_out: *mut usize,
    body_at_out: *mut usize,
) -> stomp_result {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        let (f, needed_out, body_at_out) = unsafe {
            (borrow(frame)?, out_arg(needed_out, "needed_out")?, out_arg(body_at_out, "body_at_out")?)
        };
        check_buf(buf, len)?;
        let command = command_cstr(f.command);
        let body_at = command.len() + header_parts(f).map(<[u8]>::len).sum::<usize>();
        let needed = body_at + f.body().len();
        needed_out.write(needed);
        body_at_out.write(body_at);
        let parts = std::iter::once(command).chain(header_parts(f)).chain(std::iter::once(f.body()));
        // SAFETY: `buf` is NULL only with `len` 0, else has `len` writable bytes (the caller's contract).
        unsafe { write_parts(buf, len, needed, parts, "the frame") }
    }
}

/// The body and its length (which may include NUL bytes). The pointer lives as long as the frame; it
/// is not NUL-terminated; do not free it. `len` may be NULL. NULL (and length 0) for a NULL frame.
/// Any thread, concurrently too, while the frame lives (one lent to a callback: until it returns).
///
/// # Safety
/// `frame` is NULL or a live stomp_frame; `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_body(frame: *const stomp_frame, len: *mut usize) -> *const u8 {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        unsafe {
            opt_out(len, 0);
            let body = borrow(frame)?.body();
            opt_out(len, body.len());
            Ok(body.as_ptr())
        }
    }
}

/// A copy the caller owns (free with `stomp_frame_free`), to keep a frame lent to a callback; NULL
/// if `frame` is NULL. Any thread, concurrently too, while the frame lives (one lent to a callback: until it returns).
///
/// # Safety
/// `frame` is NULL or a live stomp_frame.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_clone(frame: *const stomp_frame) -> *mut stomp_frame {
    // SAFETY: the caller's contract.
    unsafe { with_handle(frame, |f| Ok(into_raw(f.clone()))) }
}

/// Frees a frame from `stomp_frame_clone`, `stomp_receive` or `stomp_connected_frame`; NULL is a
/// no-op. Never free a frame lent to a callback. Any thread, once no other thread uses the frame.
///
/// # Safety
/// `frame` is NULL or a frame this library gave the caller, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_frame_free(frame: *mut stomp_frame) {
    // SAFETY: the caller's contract.
    unsafe { free(frame) }
}
