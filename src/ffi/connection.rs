//! `stomp_connection`: the C surface of `client::Connection`. Every function here may be called from
//! any thread, including from inside a callback, except `stomp_connection_free`, which must be the
//! last call on a handle.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::boundary::{
    Handle, borrow, bytes_arg, ffi_boundary, free, header_arg, into_raw, opt_str_arg, out_arg,
    str_arg, with_handle,
};
use super::frame::stomp_frame;
use super::listener::{CListener, disconnection_code, stomp_listener};
use super::options::{StompVersionArg, stomp_options, version_code};
use super::result::stomp_result;
use crate::client::{AckMode, Connection};
use crate::error::{ErrorKind, Result, err};
use crate::listener::PrintingListener;
use crate::proto::{Command, Frame};

/// A connection to a broker (opaque). Made by `stomp_connection_new`, freed by `stomp_connection_free`.
pub struct stomp_connection {
    conn: Connection,
}

/// One header: name and value, NUL-terminated UTF-8, borrowed for the duration of the call.
#[repr(C)]
pub struct stomp_header {
    /// The header's name.
    pub name: *const c_char,
    /// The header's value.
    pub value: *const c_char,
}

/// How a subscription acknowledges messages.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum stomp_ack_mode {
    STOMP_ACK_AUTO = 0,
    STOMP_ACK_CLIENT = 1,
    STOMP_ACK_CLIENT_INDIVIDUAL = 2,
}

/// A `stomp_ack_mode` as C passes it: an integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct StompAckModeArg(pub u32);

impl StompAckModeArg {
    fn get(self) -> Result<AckMode> {
        match self.0 {
            0 => Ok(AckMode::Auto),
            1 => Ok(AckMode::Client),
            2 => Ok(AckMode::ClientIndividual),
            v => err(
                ErrorKind::InvalidArgument,
                format!("{} is not a stomp_ack_mode (0, 1 or 2)", v),
            ),
        }
    }
}

impl Handle for stomp_connection {
    type Inner = Connection;
    const ARG: &'static str = "conn";
    fn wrap(conn: Connection) -> Self {
        stomp_connection { conn }
    }
    fn inner(&self) -> &Connection {
        &self.conn
    }
    fn inner_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Header pairs borrowed from C; the usual handful stay on the stack.
type Headers<'a> = smallvec::SmallVec<[(&'a str, &'a str); 8]>;

/// Borrows a C header array as (name, value) pairs. Nothing is allocated unless a header is bad
/// (then the message names it) or there are more than 8.
///
/// # Safety
/// As `push_headers`.
unsafe fn parse_headers<'a>(h: *const stomp_header, n: usize) -> Result<Headers<'a>> {
    let mut out = Headers::new();
    // SAFETY: the caller's contract.
    unsafe { push_headers(&mut out, h, n) }?;
    Ok(out)
}

/// Appends a C header array to `out` as (name, value) pairs, checked as `parse_headers` says.
/// Returns whether every name and value is `proto::escape::verbatim` (seen in the same pass).
///
/// # Safety
/// `h` is NULL or points to `n` headers whose strings are NULL or NUL-terminated, live for `'a`.
unsafe fn push_headers<'a, A>(
    out: &mut smallvec::SmallVec<A>,
    h: *const stomp_header,
    n: usize,
) -> Result<bool>
where
    A: smallvec::Array<Item = (&'a str, &'a str)>,
{
    if n == 0 {
        return Ok(true);
    }
    if h.is_null() {
        return err(
            ErrorKind::InvalidArgument,
            format!("headers is NULL but header_count is {}", n),
        );
    }
    if n > 1_000_000 {
        return err(
            ErrorKind::InvalidArgument,
            format!("header_count {} is not believable", n),
        );
    }
    // SAFETY: `h` points to `n` headers (the caller's contract; checked non-NULL above).
    let hs = unsafe { std::slice::from_raw_parts(h, n) };
    out.reserve(n);
    let mut verbatim = true;
    for (i, h) in hs.iter().enumerate() {
        // SAFETY: NULL or NUL-terminated strings live for 'a (the caller's contract). The
        // arguments' names are formatted only on failure.
        let ((name, name_as_is), (value, value_as_is)) = unsafe {
            (
                header_arg(h.name, format_args!("headers[{}].name", i))?,
                header_arg(h.value, format_args!("headers[{}].value", i))?,
            )
        };
        if name.is_empty() {
            return err(
                ErrorKind::InvalidHeader,
                format!("headers[{}] has an empty name", i),
            );
        }
        verbatim &= name_as_is & value_as_is;
        out.push((name, value));
    }
    Ok(verbatim)
}

/// Writes `s` and a NUL to a caller's buffer, if one is given.
///
/// # Safety
/// `out` is NULL or points to `out_len` writable bytes.
pub(crate) unsafe fn write_out(s: &str, out: *mut c_char, out_len: usize) -> Result<()> {
    if out.is_null() {
        return Ok(());
    }
    if out_len < s.len() + 1 {
        return err(
            ErrorKind::BufferTooSmall,
            format!(
                "{} bytes are needed, the buffer has {}",
                s.len() + 1,
                out_len
            ),
        );
    }
    // SAFETY: `out` has `out_len` writable bytes (the caller's contract), checked to be enough.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), out.cast::<u8>(), s.len());
        *out.add(s.len()) = 0;
    }
    Ok(())
}

fn check_out(id_len: usize, out: *mut c_char, out_len: usize) -> Result<()> {
    if !out.is_null() && out_len < id_len + 1 {
        return err(
            ErrorKind::BufferTooSmall,
            format!(
                "the id needs {} bytes, the buffer has {}",
                id_len + 1,
                out_len
            ),
        );
    }
    Ok(())
}

/// Generated ids (UUIDs) are this long; with the NUL, a 37-byte buffer holds one.
const GENERATED_ID_LEN: usize = 36;

/// A new, unconnected connection. `opts` is copied (free it whenever you like). NULL, with
/// `stomp_last_error()` set, if the options are unusable (no host, say). Free with
/// `stomp_connection_free`. Any thread.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread changes during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_connection_new(opts: *const stomp_options) -> *mut stomp_connection {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        let o = unsafe { borrow(opts) }?.clone();
        Ok(into_raw(Connection::new(o)?))
    }
}

/// Closes the link at once (no DISCONNECT: call `stomp_disconnect` first for a graceful end), and
/// frees the handle; NULL is a no-op. When it returns no callback of this connection is running or
/// will run, so `user_data` may be freed, except when called from inside one of this connection's
/// callbacks, where that callback finishes normally and no other follows. Any thread, callbacks
/// included, once no other thread uses the handle: it must be the last call on it.
///
/// # Safety
/// `conn` is NULL or from `stomp_connection_new`, not freed before; no call on it follows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_connection_free(conn: *mut stomp_connection) {
    // SAFETY: the caller's contract.
    unsafe { free(conn) }
}

/// Adds (or replaces) the listener called `name` ("" is a fine name). The struct is copied (its first
/// `listener->size` bytes; members past them count as NULL, members the library does not know are
/// ignored), so it may be freed or reused when this returns; `user_data` stays yours. A `size` of 0
/// (a listener not made with STOMP_LISTENER_INIT or stomp_listener_init), smaller than the first
/// version's struct, or not a multiple of its alignment is STOMP_ERR_INVALID_ARGUMENT. Any thread,
/// callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `name` is NULL or NUL-terminated; `listener` is NULL
/// or points to a stomp_listener whose first `listener->size` bytes are readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_set_listener(
    conn: *mut stomp_connection,
    name: *const c_char,
    listener: *const stomp_listener,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let name = str_arg(name, "name")?;
            let l = stomp_listener::read_sized(listener, "listener")?;
            c.set_listener(name, Arc::new(CListener(l)));
            Ok(())
        })
    }
}

/// Removes the listener called `name`; STOMP_ERR_NOT_FOUND if there is none. It does not wait: a
/// callback of it already running finishes, and the event being delivered at the moment of the call
/// may still reach it; events after that do not. Free its `user_data` only once the connection is
/// disconnected or freed (stomp_connection_free waits for running callbacks). Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `conn` or `name`; STOMP_ERR_NOT_FOUND. Any thread,
/// callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_remove_listener(
    conn: *mut stomp_connection,
    name: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let name = str_arg(name, "name")?;
            if c.remove_listener(name) {
                Ok(())
            } else {
                err(
                    ErrorKind::NotFound,
                    format!("no listener called {:?}", name),
                )
            }
        })
    }
}

/// Installs stomp.py's PrintingListener under `name`: every event and frame printed to standard output
/// (`on_send STOMP {"accept-version": "1.2", ...}`), with the passcode masked. Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `conn` or `name`. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_set_printing_listener(
    conn: *mut stomp_connection,
    name: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let name = str_arg(name, "name")?;
            c.set_listener(name, Arc::new(PrintingListener::new()));
            Ok(())
        })
    }
}

/// Connects: tries the hosts in order (by the reconnect policy), sends CONNECT (or STOMP) with
/// `login`, `passcode` (either may be NULL) and the extra `headers`. With `wait`, returns STOMP_OK only
/// once CONNECTED has arrived, or the error that ended the attempt (STOMP_ERR_REFUSED with the broker's
/// message in `stomp_last_error()`, STOMP_ERR_CONNECT_FAILED naming each host's failure); it never
/// waits longer than the policy allows. Without `wait`, returns at once; `on_connected` tells.
///
/// Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `conn` or a string that is not UTF-8;
/// STOMP_ERR_INVALID_HEADER for a bad extra header; STOMP_ERR_ALREADY_CONNECTED when connected or
/// connecting; STOMP_ERR_CLOSED when the stomp_loop that drives it was freed. With `wait` also:
/// STOMP_ERR_REFUSED, STOMP_ERR_CONNECT_FAILED, a STOMP_ERR_TLS_* code instead when a TLS failure
/// ended the walk, STOMP_ERR_TIMEOUT if the attempt stalls, and STOMP_ERR_WOULD_DEADLOCK on the thread
/// that drives a stomp_loop. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; each string is NULL or NUL-terminated; `headers` is
/// NULL or points to `header_count` stomp_header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_connect(
    conn: *mut stomp_connection,
    login: *const c_char,
    passcode: *const c_char,
    headers: *const stomp_header,
    header_count: usize,
    wait: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let login = opt_str_arg(login, "login")?;
            let passcode = opt_str_arg(passcode, "passcode")?;
            let h = parse_headers(headers, header_count)?;
            c.connect(login, passcode, &h, wait)
        })
    }
}

/// Sends `body` (`body_len` bytes, NUL bytes allowed; `body` may be NULL when the length is 0) to
/// `destination`, with `content_type` (NULL: none) and extra headers (a `transaction`, a `receipt`,
/// ...). Queued for the I/O thread; returns when queued (on an idle plain-TCP link the calling
/// thread writes the frame itself, without blocking, and leaves what the socket does not take to the
/// I/O thread). Blocks (up to the send timeout) only while the outgoing buffer is full.
///
/// Returns STOMP_OK once queued (or held while auto-reconnecting); STOMP_ERR_INVALID_ARGUMENT for a
/// NULL `conn`, a NULL or empty required argument, a value out of range or a string that is not
/// UTF-8; STOMP_ERR_INVALID_HEADER for a header the negotiated version cannot carry; STOMP_ERR_NOT_CONNECTED when not connected;
/// STOMP_ERR_QUEUE_FULL when the outgoing buffer stays full for the send timeout (at once on the
/// thread that drives a stomp_loop); STOMP_ERR_DISCONNECTED when its transaction was aborted by a
/// dropped link. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; each string is NULL or NUL-terminated; `body` is NULL
/// or points to `body_len` readable bytes; `headers` is NULL or points to `header_count`
/// stomp_header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_send(
    conn: *mut stomp_connection,
    destination: *const c_char,
    body: *const c_void,
    body_len: usize,
    content_type: *const c_char,
    headers: *const stomp_header,
    header_count: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            // Each string is measured, checked for UTF-8 and for octets to escape in one pass,
            // so the encoder copies without looking again when, as usual, there are none.
            let (dest, mut verbatim) = header_arg(destination, "destination")?;
            let body = bytes_arg(body, body_len, "body")?;
            let ct = if content_type.is_null() {
                None
            } else {
                let (ct, as_is) = header_arg(content_type, "content_type")?;
                verbatim &= as_is;
                Some(ct)
            };
            // The frame's whole header list is built here, in place: nothing is moved or
            // copied on the way to the encoder.
            let mut all = crate::client::send_headers(dest, ct);
            verbatim &= push_headers(&mut all, headers, header_count)?;
            c.send_listed(&all, verbatim, body)
        })
    }
}

/// Sends any frame (stomp.py's `send_frame`): `command` ("SEND", "BEGIN", ...), headers and body are
/// escaped and framed for the negotiated version. CONNECT/STOMP cannot be sent this way (nor a
/// command a client does not send: STOMP_ERR_INVALID_ARGUMENT); NACK under 1.0 is
/// STOMP_ERR_UNSUPPORTED.
///
/// Returns STOMP_OK once queued (or held while auto-reconnecting); STOMP_ERR_INVALID_ARGUMENT for a
/// NULL `conn`, a NULL or empty required argument, a value out of range or a string that is not
/// UTF-8; STOMP_ERR_INVALID_HEADER for a header the negotiated version cannot carry; STOMP_ERR_NOT_CONNECTED when not connected;
/// STOMP_ERR_QUEUE_FULL when the outgoing buffer stays full for the send timeout (at once on the
/// thread that drives a stomp_loop); STOMP_ERR_DISCONNECTED when its transaction was aborted by a
/// dropped link. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `command` is NULL or NUL-terminated; `headers` is NULL
/// or points to `header_count` stomp_header; `body` is NULL or points to `body_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_send_frame(
    conn: *mut stomp_connection,
    command: *const c_char,
    headers: *const stomp_header,
    header_count: usize,
    body: *const c_void,
    body_len: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let cmd = str_arg(command, "command")?;
            let Some(command) = Command::parse(cmd.as_bytes()) else {
                return err(
                    ErrorKind::InvalidArgument,
                    format!("{:?} is not a STOMP command", cmd),
                );
            };
            let body = bytes_arg(body, body_len, "body")?;
            let h = parse_headers(headers, header_count)?;
            c.send_frame(Frame::from_parts(command, h.iter().copied(), body))
        })
    }
}

/// Subscribes to `destination` with `id` (NULL: a generated one; use `stomp_subscribe_out` to learn
/// it) and `ack` mode; extra headers (a `selector`, ...) are added, replacing defaults of the same name.
///
/// Returns STOMP_OK once queued (or held while auto-reconnecting); STOMP_ERR_INVALID_ARGUMENT for a
/// NULL `conn`, a NULL or empty required argument, a value out of range or a string that is not
/// UTF-8; STOMP_ERR_INVALID_HEADER for a header the negotiated version cannot carry; STOMP_ERR_NOT_CONNECTED when not connected;
/// STOMP_ERR_QUEUE_FULL when the outgoing buffer stays full for the send timeout (at once on the
/// thread that drives a stomp_loop); STOMP_ERR_DISCONNECTED when its transaction was aborted by a
/// dropped link. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; each string is NULL or NUL-terminated; `headers` is
/// NULL or points to `header_count` stomp_header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_subscribe(
    conn: *mut stomp_connection,
    destination: *const c_char,
    id: *const c_char,
    ack: StompAckModeArg,
    headers: *const stomp_header,
    header_count: usize,
) -> stomp_result {
    let no_out = std::ptr::null_mut();
    // SAFETY: the caller's contract, and no output buffer.
    unsafe { stomp_subscribe_out(conn, destination, id, ack, headers, header_count, no_out, 0) }
}

/// `stomp_subscribe`, writing the subscription id (with its NUL) to `id_out` (`id_out_len` bytes;
/// 37 hold a generated one). STOMP_ERR_BUFFER_TOO_SMALL, before anything is sent, if it does not fit;
/// otherwise the codes of `stomp_subscribe`. Any thread, callbacks included.
///
/// # Safety
/// As `stomp_subscribe`; and `id_out` is NULL or points to `id_out_len` writable bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn stomp_subscribe_out(
    conn: *mut stomp_connection,
    destination: *const c_char,
    id: *const c_char,
    ack: StompAckModeArg,
    headers: *const stomp_header,
    header_count: usize,
    id_out: *mut c_char,
    id_out_len: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let dest = str_arg(destination, "destination")?;
            let id = opt_str_arg(id, "id")?;
            let ack = ack.get()?;
            let h = parse_headers(headers, header_count)?;
            check_out(id.map_or(GENERATED_ID_LEN, str::len), id_out, id_out_len)?;
            write_out(&c.subscribe(dest, id, ack, &h)?, id_out, id_out_len)
        })
    }
}

/// Unsubscribes the subscription `id`.
///
/// Returns STOMP_OK once queued (or held while auto-reconnecting); STOMP_ERR_INVALID_ARGUMENT for a
/// NULL `conn`, a NULL or empty required argument, a value out of range or a string that is not
/// UTF-8; STOMP_ERR_INVALID_HEADER for a header the negotiated version cannot carry; STOMP_ERR_NOT_CONNECTED when not connected;
/// STOMP_ERR_QUEUE_FULL when the outgoing buffer stays full for the send timeout (at once on the
/// thread that drives a stomp_loop); STOMP_ERR_DISCONNECTED when its transaction was aborted by a
/// dropped link. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `id` is NULL or NUL-terminated; `headers` is NULL or
/// points to `header_count` stomp_header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_unsubscribe(
    conn: *mut stomp_connection,
    id: *const c_char,
    headers: *const stomp_header,
    header_count: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            c.unsubscribe(str_arg(id, "id")?, &parse_headers(headers, header_count)?)
        })
    }
}

/// ACK or NACK by id: the body of `stomp_ack` and `stomp_nack`.
///
/// # Safety
/// As theirs.
unsafe fn ack_like(
    conn: *mut stomp_connection,
    id: *const c_char,
    sub: *const c_char,
    tx: *const c_char,
    nack: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let id = str_arg(id, "id")?;
            let sub = opt_str_arg(sub, "subscription")?;
            let tx = opt_str_arg(tx, "transaction")?;
            if nack {
                c.nack(id, sub, tx)
            } else {
                c.ack(id, sub, tx)
            }
        })
    }
}

/// Acknowledges a message. `id` is what the MESSAGE carried: its `ack` header under 1.2, its
/// `message-id` under 1.0/1.1; `subscription` is needed under 1.1; `transaction` may be NULL.
/// `stomp_ack_frame` picks these for you.
///
/// Returns STOMP_OK once queued (or held while auto-reconnecting); STOMP_ERR_INVALID_ARGUMENT for a
/// NULL `conn`, a NULL or empty required argument, a value out of range or a string that is not
/// UTF-8; STOMP_ERR_INVALID_HEADER for a header the negotiated version cannot carry; STOMP_ERR_NOT_CONNECTED when not connected;
/// STOMP_ERR_QUEUE_FULL when the outgoing buffer stays full for the send timeout (at once on the
/// thread that drives a stomp_loop); STOMP_ERR_DISCONNECTED when its transaction was aborted by a
/// dropped link, and also while auto-reconnecting (the broker redelivers what was not acknowledged).
/// Any thread, callbacks included (acknowledging from `on_message` is the usual way).
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; each string is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_ack(
    conn: *mut stomp_connection,
    id: *const c_char,
    subscription: *const c_char,
    transaction: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { ack_like(conn, id, subscription, transaction, false) }
}

/// Negative acknowledgement (1.1 and later; STOMP_ERR_UNSUPPORTED under 1.0). Arguments, other codes
/// and threads as `stomp_ack`: any thread, callbacks included.
///
/// # Safety
/// As `stomp_ack`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_nack(
    conn: *mut stomp_connection,
    id: *const c_char,
    subscription: *const c_char,
    transaction: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { ack_like(conn, id, subscription, transaction, true) }
}

/// ACK or NACK of a frame: the body of `stomp_ack_frame` and `stomp_nack_frame`.
///
/// # Safety
/// As theirs.
unsafe fn ack_frame_like(
    conn: *mut stomp_connection,
    frame: *const stomp_frame,
    tx: *const c_char,
    nack: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let f = borrow(frame)?;
            let tx = opt_str_arg(tx, "transaction")?;
            if nack {
                c.nack_message(f, tx)
            } else {
                c.ack_message(f, tx)
            }
        })
    }
}

/// Acknowledges a received MESSAGE frame, taking its id and subscription as the negotiated version needs.
/// The frame is only read: it stays the caller's (or the callback's).
///
/// Returns the codes of `stomp_ack`; STOMP_ERR_INVALID_ARGUMENT also for a NULL `frame` or one
/// without the ids the version needs. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `frame` is NULL or a live stomp_frame; `transaction`
/// is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_ack_frame(
    conn: *mut stomp_connection,
    frame: *const stomp_frame,
    transaction: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { ack_frame_like(conn, frame, transaction, false) }
}

/// Negatively acknowledges a received MESSAGE frame (1.1 and later; STOMP_ERR_UNSUPPORTED under 1.0).
/// Other codes, threads and ownership as `stomp_ack_frame`: any thread, callbacks included.
///
/// # Safety
/// As `stomp_ack_frame`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_nack_frame(
    conn: *mut stomp_connection,
    frame: *const stomp_frame,
    transaction: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { ack_frame_like(conn, frame, transaction, true) }
}

/// Begins a transaction called `transaction` (NULL: a generated UUID). Its id, with a NUL, is written
/// to `id_out` (`id_out_len` bytes; 37 hold a generated one) unless `id_out` is NULL;
/// STOMP_ERR_BUFFER_TOO_SMALL, before anything is sent, if it does not fit. Otherwise the codes of
/// `stomp_send`. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `transaction` is NULL or NUL-terminated; `id_out` is
/// NULL or points to `id_out_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_begin(
    conn: *mut stomp_connection,
    transaction: *const c_char,
    id_out: *mut c_char,
    id_out_len: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let tx = opt_str_arg(transaction, "transaction")?;
            check_out(tx.map_or(GENERATED_ID_LEN, str::len), id_out, id_out_len)?;
            write_out(&c.begin(tx)?, id_out, id_out_len)
        })
    }
}

/// Commits a transaction.
///
/// Returns STOMP_OK once queued (or held while auto-reconnecting); STOMP_ERR_INVALID_ARGUMENT for a
/// NULL `conn`, a NULL or empty required argument, a value out of range or a string that is not
/// UTF-8; STOMP_ERR_INVALID_HEADER for a header the negotiated version cannot carry; STOMP_ERR_NOT_CONNECTED when not connected;
/// STOMP_ERR_QUEUE_FULL when the outgoing buffer stays full for the send timeout (at once on the
/// thread that drives a stomp_loop); STOMP_ERR_DISCONNECTED when its transaction was aborted by a
/// dropped link. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `transaction` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_commit(
    conn: *mut stomp_connection,
    transaction: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { with_handle(conn, |c| c.commit(str_arg(transaction, "transaction")?)) }
}

/// Aborts a transaction. Returns STOMP_OK once queued, or the failure codes of `stomp_commit`
/// (STOMP_ERR_INVALID_ARGUMENT, STOMP_ERR_NOT_CONNECTED, STOMP_ERR_QUEUE_FULL, ...). Any thread,
/// callbacks included.
///
/// # Safety
/// As `stomp_commit`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_abort(
    conn: *mut stomp_connection,
    transaction: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { with_handle(conn, |c| c.abort(str_arg(transaction, "transaction")?)) }
}

fn millis(ms: u32) -> Duration {
    Duration::from_millis(ms.into())
}

/// Graceful close: fires `on_disconnecting`, sends DISCONNECT with `receipt` (NULL: generated), waits up
/// to `timeout_ms` for the RECEIPT, closes the link, and `on_disconnected` follows. Stops any
/// reconnecting. STOMP_ERR_TIMEOUT if the receipt did not come (the link is closed all the same);
/// STOMP_ERR_NOT_CONNECTED if there was no connection; STOMP_ERR_INVALID_ARGUMENT for a NULL `conn`
/// or a `receipt` that is not UTF-8. Any thread, callbacks included; on the thread that drives a
/// stomp_loop a non-zero `timeout_ms` is STOMP_ERR_WOULD_DEADLOCK (0 closes without waiting).
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `receipt` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_disconnect(
    conn: *mut stomp_connection,
    receipt: *const c_char,
    timeout_ms: u32,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            c.disconnect(opt_str_arg(receipt, "receipt")?, millis(timeout_ms))
        })
    }
}

/// The next MESSAGE from the receive queue, waiting up to `timeout_ms`. On STOMP_OK `*frame_out` is a
/// frame the caller owns (free it with `stomp_frame_free`); it is not written otherwise.
/// STOMP_ERR_TIMEOUT when none came, STOMP_ERR_QUEUE_OFF when the queue is off, STOMP_ERR_CLOSED when
/// the connection is gone and the queue drained; STOMP_ERR_INVALID_ARGUMENT for a NULL `conn` or
/// `frame_out`. Any thread, callbacks included; on the thread that drives a stomp_loop, a wait
/// (an empty queue and a non-zero `timeout_ms`) is STOMP_ERR_WOULD_DEADLOCK.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `frame_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_receive(
    conn: *mut stomp_connection,
    timeout_ms: u32,
    frame_out: *mut *mut stomp_frame,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let frame_out = out_arg(frame_out, "frame_out")?;
            frame_out.write(into_raw(c.receive(millis(timeout_ms))?));
            Ok(())
        })
    }
}

/// Waits up to `timeout_ms` for the RECEIPT of a frame sent with a `receipt` header `receipt_id`.
/// STOMP_ERR_DISCONNECTED if the link dropped before it came (the frame may not have been processed:
/// resend it), STOMP_ERR_SERVER if the broker answered with an ERROR frame carrying that
/// `receipt-id` (the frame failed; the error's text is in `stomp_last_error()`, and `on_error` has
/// the frame), STOMP_ERR_NOT_FOUND if no frame asked for it, STOMP_ERR_TIMEOUT;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `conn` or `receipt_id`. Any thread, callbacks included; on
/// the thread that drives a stomp_loop a wait is STOMP_ERR_WOULD_DEADLOCK.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `receipt_id` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_wait_receipt(
    conn: *mut stomp_connection,
    receipt_id: *const c_char,
    timeout_ms: u32,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            c.wait_receipt(str_arg(receipt_id, "receipt_id")?, millis(timeout_ms))
        })
    }
}

/// Whether CONNECTED has arrived and the link is up (false for a NULL `conn`). Any thread,
/// callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_is_connected(conn: *const stomp_connection) -> bool {
    // SAFETY: the caller's contract.
    unsafe { with_handle(conn, |c| Ok(c.is_connected())) }
}

fn not_connected<T>() -> Result<T> {
    err(ErrorKind::NotConnected, "not connected yet")
}

/// The negotiated protocol version, written to `*version_out` once connected (STOMP_ERR_NOT_CONNECTED
/// before the first CONNECTED). Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `conn` or
/// `version_out`; STOMP_ERR_NOT_CONNECTED. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `version_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_connection_version(
    conn: *const stomp_connection,
    version_out: *mut StompVersionArg,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let version_out = out_arg(version_out, "version_out")?;
            let v = c.version().map_or_else(not_connected, Ok)?;
            version_out.write(StompVersionArg(version_code(v)));
            Ok(())
        })
    }
}

/// A copy of the CONNECTED frame of the current (or last) connection, for its `server`, `session`,
/// `version` and `heart-beat` headers. The caller owns it: free with `stomp_frame_free`.
/// Returns STOMP_OK with `*frame_out` set; STOMP_ERR_INVALID_ARGUMENT for a NULL `conn` or
/// `frame_out`; STOMP_ERR_NOT_CONNECTED before the first CONNECTED (`*frame_out` is not written).
/// Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `frame_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_connected_frame(
    conn: *const stomp_connection,
    frame_out: *mut *mut stomp_frame,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let frame_out = out_arg(frame_out, "frame_out")?;
            let f = c.connected_frame().map_or_else(not_connected, Ok)?;
            frame_out.write(into_raw(f));
            Ok(())
        })
    }
}

/// Why the connection last went down, for when no call failed (a link that ended on its own, a
/// connect made without waiting): `*code_out` is STOMP_OK when the application asked for the end
/// (stomp_disconnect, a DISCONNECT frame, the message "disconnected by the client"), else the code
/// of the error that ended it, as `on_disconnected_reason` reports it; the message, NUL-terminated,
/// goes to `message_out` (`message_len` bytes) unless that is NULL. Set when a link ends (also one
/// auto-reconnect then replaces) or a connect ends without a link, before the listeners hear it;
/// kept until the connection next goes down.
///
/// Returns STOMP_OK with both written; STOMP_ERR_INVALID_ARGUMENT if `conn` or `code_out` is NULL;
/// STOMP_ERR_NOT_FOUND if the connection has never gone down;
/// STOMP_ERR_BUFFER_TOO_SMALL if the message does not fit (stomp_last_error says how many bytes it
/// needs). Nothing is written unless it returns STOMP_OK. Any thread, callbacks included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `code_out` is NULL or writable; `message_out` is NULL
/// or points to `message_len` writable bytes (the string written is at most `message_len` bytes,
/// NUL included).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_last_disconnect(
    conn: *const stomp_connection,
    code_out: *mut stomp_result,
    message_out: *mut c_char,
    message_len: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let code_out = out_arg(code_out, "code_out")?;
            let reason = c.last_disconnect().map_or_else(
                || err(ErrorKind::NotFound, "the connection has not gone down yet"),
                Ok,
            )?;
            write_out(reason.message(), message_out, message_len)?;
            code_out.write(disconnection_code(&reason));
            Ok(())
        })
    }
}
