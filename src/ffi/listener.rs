//! `stomp_listener`: C callbacks mirroring stomp.py's ConnectionListener.

use std::ffi::{CString, c_char, c_void};

use super::frame::stomp_frame;
use crate::listener::Listener;
use crate::proto::Frame;

/// Callbacks for connection events, mirroring stomp.py's ConnectionListener; any member may be NULL.
///
/// Threads: every callback runs on one of the library's dispatch threads, never on the I/O thread
/// (which does the sockets, timers and heart-beats of every connection). Callbacks of one connection
/// run one at a time and in order, though not always on the same thread; callbacks of different
/// connections run in parallel, each on its own thread. The dispatch threads start with the first
/// callback; one more starts whenever a connection has a callback to run and no dispatch thread is
/// free, and one idle for 10 s ends, down to one. So a slow or blocked callback delays only later
/// callbacks of its own connection, never another connection's, nor I/O or heart-beats; and once
/// callbacks have been quiet for 10 s the library has two threads (I/O and one dispatch), however
/// many connections are open. A safety cap: with 1024 dispatch threads busy (1024 callbacks blocked
/// at once) no more start, and other connections' callbacks wait until one of those returns. No
/// library lock is held while a callback runs: it may call any function of this library, blocking
/// ones included.
///
/// Lifetimes: `frame` and `host` are borrowed for the duration of the call; keep a frame with
/// `stomp_frame_clone`. `user_data` is passed back as given; the library never frees it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct stomp_listener {
    pub user_data: *mut c_void,
    /// A TCP connection to `host:port` is about to be tried (once per host per attempt).
    pub on_connecting:
        Option<unsafe extern "C" fn(user_data: *mut c_void, host: *const c_char, port: u16)>,
    /// CONNECTED arrived; `frame` is it.
    pub on_connected:
        Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const stomp_frame)>,
    /// `stomp_disconnect` was called; DISCONNECT is about to be sent.
    pub on_disconnecting: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// The link to the broker is gone, asked for or not.
    pub on_disconnected: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// Nothing heard from the broker within the receive heart-beat times the scale; the link is closed.
    pub on_heartbeat_timeout: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// A MESSAGE, before `on_message` (of every listener).
    pub on_before_message:
        Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const stomp_frame)>,
    /// A MESSAGE.
    pub on_message: Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const stomp_frame)>,
    /// A RECEIPT.
    pub on_receipt: Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const stomp_frame)>,
    /// An ERROR frame from the broker.
    pub on_error: Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const stomp_frame)>,
    /// A frame was handed to the socket (CONNECT included: mask its passcode if you print it).
    pub on_send: Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const stomp_frame)>,
    /// A heart-beat arrived from the broker.
    pub on_heartbeat: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// The connection ended and will not reconnect by itself.
    pub on_receiver_loop_completed: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

/// The Rust side of a C listener.
pub(crate) struct CListener(pub stomp_listener);

// SAFETY: the header tells C programs that callbacks run on library threads; user_data is theirs to
// make safe for that. The library only passes the pointer back.
unsafe impl Send for CListener {}
unsafe impl Sync for CListener {}

impl Listener for CListener {
    fn on_connecting(&self, host: &str, port: u16) {
        if let Some(f) = self.0.on_connecting {
            let h = CString::new(host).unwrap_or_default();
            // SAFETY: a C function pointer given to us for this purpose.
            unsafe { f(self.0.user_data, h.as_ptr(), port) }
        }
    }
    fn on_connected(&self, frame: &Frame) {
        self.frame(self.0.on_connected, frame)
    }
    fn on_disconnecting(&self) {
        self.plain(self.0.on_disconnecting)
    }
    fn on_disconnected(&self) {
        self.plain(self.0.on_disconnected)
    }
    fn on_heartbeat_timeout(&self) {
        self.plain(self.0.on_heartbeat_timeout)
    }
    fn on_before_message(&self, frame: &Frame) {
        self.frame(self.0.on_before_message, frame)
    }
    fn on_message(&self, frame: &Frame) {
        self.frame(self.0.on_message, frame)
    }
    fn on_receipt(&self, frame: &Frame) {
        self.frame(self.0.on_receipt, frame)
    }
    fn on_error(&self, frame: &Frame) {
        self.frame(self.0.on_error, frame)
    }
    fn on_send(&self, frame: &Frame) {
        self.frame(self.0.on_send, frame)
    }
    fn on_heartbeat(&self) {
        self.plain(self.0.on_heartbeat)
    }
    fn on_receiver_loop_completed(&self) {
        self.plain(self.0.on_receiver_loop_completed)
    }
    fn wants_send(&self) -> bool {
        self.0.on_send.is_some()
    }
    fn wants_heartbeat(&self) -> bool {
        self.0.on_heartbeat.is_some()
    }
}

type FrameFn = Option<unsafe extern "C" fn(*mut c_void, *const stomp_frame)>;

impl CListener {
    fn frame(&self, f: FrameFn, frame: &Frame) {
        if let Some(f) = f {
            // SAFETY: the frame outlives the call; the function pointer is the caller's.
            unsafe { f(self.0.user_data, stomp_frame::from_ref(frame)) }
        }
    }

    fn plain(&self, f: Option<unsafe extern "C" fn(*mut c_void)>) {
        if let Some(f) = f {
            // SAFETY: as above.
            unsafe { f(self.0.user_data) }
        }
    }
}
