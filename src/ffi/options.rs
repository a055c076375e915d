//! `stomp_options`: what a connection is made with. Not thread-safe: build it on one thread, then
//! pass it to `stomp_connection_new`, which copies it.

use std::ffi::c_char;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::boundary::{
    Handle, ffi_boundary, free, into_raw, opt_str_arg, str_arg, with_handle_mut,
};
use super::result::stomp_result;
use crate::error::{ErrorKind, Result, err};
use crate::options::{HostSpec, Options};
use crate::proto::Version;
use crate::runtime::reconnect::ReconnectPolicy;
use crate::runtime::tls::TlsFiles;

/// Connection options (opaque). Made by `stomp_options_new`, freed by `stomp_options_free`.
pub struct stomp_options {
    pub(crate) opts: Options,
}

/// A STOMP protocol version.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum stomp_version {
    STOMP_VERSION_1_0 = 10,
    STOMP_VERSION_1_1 = 11,
    STOMP_VERSION_1_2 = 12,
}

/// A `stomp_version` as C passes it: an integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct StompVersionArg(pub u32);

impl StompVersionArg {
    pub fn get(self) -> Result<Version> {
        match self.0 {
            10 => Ok(Version::V1_0),
            11 => Ok(Version::V1_1),
            12 => Ok(Version::V1_2),
            v => err(
                ErrorKind::InvalidArgument,
                format!("{} is not a stomp_version (10, 11 or 12)", v),
            ),
        }
    }
}

pub fn version_code(v: Version) -> u32 {
    match v {
        Version::V1_0 => 10,
        Version::V1_1 => 11,
        Version::V1_2 => 12,
    }
}

impl Handle for stomp_options {
    type Inner = Options;
    const ARG: &'static str = "opts";
    fn wrap(opts: Options) -> Self {
        stomp_options { opts }
    }
    fn inner(&self) -> &Options {
        &self.opts
    }
    fn inner_mut(&mut self) -> &mut Options {
        &mut self.opts
    }
}

/// A setter's body: changes the options with `f` (inside the boundary).
///
/// # Safety
/// As the setters': `opts` is NULL or a live stomp_options used by no other thread.
pub(super) unsafe fn update(
    opts: *mut stomp_options,
    f: impl FnOnce(&mut Options) -> Result<()>,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { with_handle_mut(opts, f) }
}

/// A setter's body that cannot fail.
///
/// # Safety
/// As `update`.
unsafe fn set(opts: *mut stomp_options, f: impl FnOnce(&mut Options)) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            f(o);
            Ok(())
        })
    }
}

/// New options with the defaults: STOMP 1.2, no heart-beats, no receive queue, automatic
/// content-length, 10 s connect timeout, stomp.py's reconnect policy, auto-reconnect off.
/// Owned by the caller: free with `stomp_options_free`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn stomp_options_new() -> *mut stomp_options {
    ffi_boundary! { Ok(into_raw(Options::default())) }
}

/// Frees options; NULL is a no-op. Connections made from them are unaffected (they hold a copy).
/// Any thread, once no other thread uses the options.
///
/// # Safety
/// `opts` is NULL or from `stomp_options_new`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_free(opts: *mut stomp_options) {
    // SAFETY: the caller's contract.
    unsafe { free(opts) }
}

/// Appends a broker to the failover list, tried in order. `host` is a name or an IPv4/IPv6 literal
/// (brackets optional); copied. Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts` or a
/// NULL or empty `host`, port 0, or a `host` that is not UTF-8. Any thread, not concurrently with
/// other calls on the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call; `host` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_add_host(
    opts: *mut stomp_options,
    host: *const c_char,
    port: u16,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            add_host(o, str_arg(host, "host")?, port, None, None)
        })
    }
}

/// Appends a broker with its own credentials, which replace those given to `stomp_connect` when
/// this host is the one connected to. All strings are copied. Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `opts` or a NULL or empty `host`, port 0, or a string that
/// is not UTF-8. Any thread, not concurrently with other calls on the same options; connections
/// made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call; each string is NULL
/// or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_add_host_login(
    opts: *mut stomp_options,
    host: *const c_char,
    port: u16,
    login: *const c_char,
    passcode: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            let host = str_arg(host, "host")?;
            let login = (str_arg(login, "login")?, str_arg(passcode, "passcode")?);
            add_host(o, host, port, Some(login), None)
        })
    }
}

pub(super) fn add_host(
    o: &mut Options,
    host: &str,
    port: u16,
    login: Option<(&str, &str)>,
    tls: Option<TlsFiles>,
) -> Result<()> {
    if host.trim().is_empty() {
        return err(ErrorKind::InvalidArgument, "host is empty");
    }
    if port == 0 {
        return err(ErrorKind::InvalidArgument, "port 0 cannot be connected to");
    }
    o.hosts.push(HostSpec {
        host: host.to_owned(),
        port,
        login: login.map(|(l, _)| l.to_owned()),
        passcode: login.map(|(_, p)| p.to_owned()),
        tls,
    });
    Ok(())
}

/// The highest protocol version to ask for (lower ones are offered too). Default 1.2. Returns
/// STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts` or a value that is not a stomp_version.
/// Any thread, not concurrently with other calls on the same options; connections made before it
/// keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_version(
    opts: *mut stomp_options,
    version: StompVersionArg,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { update(opts, |o| version.get().map(|v| o.version = v)) }
}

/// The `host` header (RabbitMQ's vhost, e.g. "/"). Without it the header is sent under 1.2 only, with
/// the name of the host connected to. NULL removes it. Copied. Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `opts` or a `vhost` that is not UTF-8. Any thread, not
/// concurrently with other calls on the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call; `vhost` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_vhost(
    opts: *mut stomp_options,
    vhost: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            opt_str_arg(vhost, "vhost").map(|v| o.vhost = v.map(str::to_owned))
        })
    }
}

/// Heart-beats offered, in milliseconds: how often we can send, and how often we want to hear from the
/// broker; 0 is none. The negotiated intervals follow the STOMP 1.1 rules. Default 0, 0. Returns
/// STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, not concurrently with other
/// calls on the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_heartbeats(
    opts: *mut stomp_options,
    send_ms: u32,
    receive_ms: u32,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { set(opts, |o| o.heartbeats = (send_ms, receive_ms)) }
}

/// How many messages `stomp_receive` can have waiting; 0 (the default) turns the queue off. When it is
/// full the library stops reading the socket, so the broker holds the rest. Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, not concurrently with other calls on
/// the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_receive_queue(
    opts: *mut stomp_options,
    capacity: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { set(opts, |o| o.receive_queue = capacity) }
}

/// stomp.py's `auto_content_length` (default on). Off lets ActiveMQ make TextMessages of text bodies;
/// a body holding NUL still gets a content-length, as it could not be framed otherwise. Returns
/// STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, not concurrently with other
/// calls on the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_auto_content_length(
    opts: *mut stomp_options,
    enabled: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { set(opts, |o| o.auto_content_length = enabled) }
}

/// Open with the `STOMP` command instead of `CONNECT` (1.1 and later). Default off. Returns
/// STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, not concurrently with other
/// calls on the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_stomp_command(
    opts: *mut stomp_options,
    enabled: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { set(opts, |o| o.use_stomp_command = enabled) }
}

/// stomp.py's reconnect parameters, same meaning and defaults: 0.1 s, 0.5, 0.1, 60 s, 3. The sleep
/// after the k-th failed pass through the host list is min(sleep_max, sleep_initial *
/// (1 + sleep_increase)^(k-1)) * (1 + random * sleep_jitter); `attempts_max` passes are made, -1 is
/// forever. The Ruby gem's (MCollective's) pool settings map as: initial_reconnect_delay ->
/// sleep_initial; back_off_multiplier m -> sleep_increase m-1 (0 without exponential back-off);
/// max_reconnect_delay -> sleep_max; jitter 0; max_reconnect_attempts 0 -> -1. Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `opts` or a parameter out of range. Any thread, not
/// concurrently with other calls on the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_reconnect(
    opts: *mut stomp_options,
    sleep_initial: f64,
    sleep_increase: f64,
    sleep_jitter: f64,
    sleep_max: f64,
    attempts_max: std::ffi::c_int,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            let p = ReconnectPolicy {
                sleep_initial,
                sleep_increase,
                sleep_jitter,
                sleep_max,
                attempts_max,
            };
            p.validate()
                .or_else(|e| err(ErrorKind::InvalidArgument, e))?;
            o.reconnect = p;
            Ok(())
        })
    }
}

/// Incoming silence tolerated, as a multiple of the negotiated receive interval. Default 1.5; at least 1.
/// Until the first byte after CONNECTED, one interval more is allowed (ActiveMQ sends its first
/// heart-beat two intervals after CONNECTED). Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a
/// NULL `opts` or a scale below 1. Any thread, not concurrently with other calls on the same
/// options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_heartbeat_receive_scale(
    opts: *mut stomp_options,
    scale: f64,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            if !(scale.is_finite() && scale >= 1.0) {
                return err(
                    ErrorKind::InvalidArgument,
                    "the heart-beat receive scale must be a number of at least 1.0",
                );
            }
            o.heartbeat_receive_scale = scale;
            Ok(())
        })
    }
}

/// The longest wait for one host, TCP connect and CONNECTED together. Default 10000 ms; 0 is refused.
/// Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts` or a timeout of 0. Any thread,
/// not concurrently with other calls on the same options; connections made before it keep their
/// copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_connect_timeout(
    opts: *mut stomp_options,
    timeout_ms: u32,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            if timeout_ms == 0 {
                return err(
                    ErrorKind::InvalidArgument,
                    "a connect timeout of 0 ms would never connect",
                );
            }
            o.connect_timeout = Duration::from_millis(timeout_ms as u64);
            Ok(())
        })
    }
}

/// Reconnect by the reconnect policy after an established link drops. Default off. Returns
/// STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, not concurrently with other
/// calls on the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_auto_reconnect(
    opts: *mut stomp_options,
    enabled: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { set(opts, |o| o.auto_reconnect = enabled) }
}

/// Try the hosts in a random order on each pass. Default off. Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, not concurrently with other calls on
/// the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_randomize_hosts(
    opts: *mut stomp_options,
    enabled: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { set(opts, |o| o.randomize_hosts = enabled) }
}

/// TCP_NODELAY. Default on. Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any
/// thread, not concurrently with other calls on the same options; connections made before it keep
/// their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_tcp_nodelay(
    opts: *mut stomp_options,
    enabled: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe { set(opts, |o| o.tcp_nodelay = enabled) }
}

/// TCP keepalive: on/off, idle and interval in seconds and probe count (0 keeps the kernel's value).
/// Default off. Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, not
/// concurrently with other calls on the same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_keepalive(
    opts: *mut stomp_options,
    enabled: bool,
    idle_s: u32,
    interval_s: u32,
    count: u32,
) -> stomp_result {
    let secs = |s: u32| (s > 0).then(|| Duration::from_secs(s as u64));
    // SAFETY: the caller's contract.
    unsafe {
        set(opts, |o| {
            o.keepalive = crate::options::Keepalive {
                enabled,
                idle: secs(idle_s),
                interval: secs(interval_s),
                count: (count > 0).then_some(count),
            }
        })
    }
}

/// The local address (an IP literal) and port (0: any) to connect from, stomp.py's `bind_host_port`.
/// Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts` or a `host` that is NULL or not
/// an IP literal. Any thread, not concurrently with other calls on the same options; connections
/// made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call; `host` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_bind(
    opts: *mut stomp_options,
    host: *const c_char,
    port: u16,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            let host = str_arg(host, "host")?;
            let bare = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let ip: IpAddr = bare.parse().or_else(|_| {
                err(
                    ErrorKind::InvalidArgument,
                    format!("{:?} is not an IP address", host),
                )
            })?;
            o.bind = Some(SocketAddr::new(ip, port));
            Ok(())
        })
    }
}

/// `value`, unless it is 0 ("keep the current value").
fn nonzero_or<T: Default + PartialEq>(value: T, current: T) -> T {
    if value == T::default() {
        current
    } else {
        value
    }
}

/// Limits on received frames: the largest body in bytes, the most headers, the longest header line in
/// bytes (0 keeps the current value). Defaults 64 MiB, 1000, 64 KiB. A frame over a limit closes the
/// connection with STOMP_ERR_TOO_LARGE: the listeners hear on_disconnected_reason (the detail names
/// the limit, its value and the figures; also stomp_last_disconnect), then on_disconnected; not
/// on_error, which is for ERROR frames from the broker. An announced content-length over max_body
/// is refused with the frame's head, before any memory is set aside for the body. The whole
/// frame's size: stomp_options_set_max_frame. Any thread, not concurrently with other calls on the
/// same options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_frame_limits(
    opts: *mut stomp_options,
    max_body: usize,
    max_headers: usize,
    max_line: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        set(opts, |o| {
            let l = &mut o.limits;
            l.max_body = nonzero_or(max_body, l.max_body);
            l.max_headers = nonzero_or(max_headers, l.max_headers);
            l.max_line = nonzero_or(max_line, l.max_line);
        })
    }
}

/// Bounds on what waits inside the library: bytes queued for the socket (a send past it waits up to
/// `send_timeout_ms`, then fails with STOMP_ERR_QUEUE_FULL; while auto-reconnect is under way, frames
/// held for the new link fail at once past it), and events waiting for the listeners (messages,
/// receipts, errors, heart-beats: past it the library stops reading the socket; copies for on_send:
/// past it a send waits as above). 0 keeps the current value. Defaults 8 MiB, 30000 ms, 8192.
/// While reading is stopped a RECEIPT cannot be read either: a stomp_wait_receipt or a
/// stomp_disconnect made while the listeners are that far behind returns STOMP_ERR_TIMEOUT (the
/// disconnect still closes the link). Any thread, not concurrently with other calls on the same
/// options; connections made before it keep their copy.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_queue_limits(
    opts: *mut stomp_options,
    max_out_bytes: usize,
    send_timeout_ms: u32,
    max_pending_messages: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        set(opts, |o| {
            o.max_out_bytes = nonzero_or(max_out_bytes, o.max_out_bytes);
            if send_timeout_ms > 0 {
                o.send_timeout = Duration::from_millis(send_timeout_ms as u64);
            }
            o.max_pending_messages = nonzero_or(max_pending_messages, o.max_pending_messages);
        })
    }
}

/// Time limits on one received frame, which hold with heart-beats off: its command and headers must
/// arrive whole within `header_timeout_ms` of its first byte, and its body must bring at least
/// `min_body_bytes_per_s` x `header_timeout_ms` / 1000 bytes within each such window (from the end
/// of the headers, or the last window met) unless it completes first, so a body that arrives whole
/// sooner is never affected. Crossing either closes the link with STOMP_ERR_TIMEOUT (the detail in
/// stomp_last_error names the limit and the figures) and on_disconnected. 0 keeps the current
/// value. Defaults 10000 ms and 1024 bytes/s. Any thread, before stomp_connection_new.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_frame_timeouts(
    opts: *mut stomp_options,
    header_timeout_ms: u32,
    min_body_bytes_per_s: u32,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        set(opts, |o| {
            if header_timeout_ms > 0 {
                o.frame_timeout = Duration::from_millis(header_timeout_ms as u64);
            }
            o.frame_min_rate = nonzero_or(min_body_bytes_per_s, o.frame_min_rate);
        })
    }
}

/// The largest whole frame accepted from the broker, in bytes: command, headers, body and NUL
/// together (0 keeps the current value). Default 65 MiB (the largest body, 64 MiB, and 1 MiB of
/// head). A frame over it closes the link with STOMP_ERR_TOO_LARGE, the detail naming max_frame
/// and the figures (on_disconnected_reason, then on_disconnected, not on_error; also
/// stomp_last_disconnect); when its content-length announces it, it is refused with
/// its head, before any memory is set aside for its body. Pairs with stomp_options_set_frame_limits,
/// which bounds the body, the header count and each line. Any thread, before stomp_connection_new.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_max_frame(
    opts: *mut stomp_options,
    max_frame: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        set(opts, |o| {
            o.limits.max_frame = nonzero_or(max_frame, o.limits.max_frame)
        })
    }
}

/// Byte bounds on received frames waiting for the application (0 keeps the current value), beside
/// the count bounds of stomp_options_set_queue_limits and stomp_options_set_receive_queue: the bytes
/// (headers and body) of the events waiting for the listeners, and of the messages in the receive
/// queue (when it is on). Past either the library stops reading the socket, as for the counts, and
/// reads on once the queue is down to half; a frame is handed on while some room is left, so a
/// queue holds at most one frame more than its bound. Nothing is dropped and no error is raised:
/// the broker is slowed down (heart-beats still flow; the silence of a paused link is not counted
/// against the broker). Defaults 64 MiB and 64 MiB. Any thread, before stomp_connection_new.
/// Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_incoming_byte_limits(
    opts: *mut stomp_options,
    max_pending_bytes: usize,
    receive_queue_bytes: usize,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        set(opts, |o| {
            o.max_pending_bytes = nonzero_or(max_pending_bytes, o.max_pending_bytes);
            o.receive_queue_bytes = nonzero_or(receive_queue_bytes, o.receive_queue_bytes);
        })
    }
}
