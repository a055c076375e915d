//! `stomp_listener`: C callbacks mirroring stomp.py's ConnectionListener, in a size-prefixed struct
//! so that later versions can add callbacks at its end without breaking programs built before them.

use std::ffi::{CString, c_char, c_void};
use std::mem::{MaybeUninit, align_of, offset_of, size_of};

use super::frame::stomp_frame;
use super::result::stomp_result;
use crate::error::{ErrorKind, Result, err};
use crate::listener::{Disconnection, Listener};
use crate::proto::Frame;

/// Callbacks for connection events, mirroring stomp.py's ConnectionListener; any callback may be NULL.
///
/// Initialise it with `STOMP_LISTENER_INIT` (`stomp_listener l = STOMP_LISTENER_INIT;`) or
/// `stomp_listener_init(&l)`: both zero every member and set `size` to `sizeof(stomp_listener)` as
/// your program was compiled, then set the callbacks you want. (`= {0}` leaves `size` 0, which
/// `stomp_set_listener` refuses.)
///
/// Versions: later minor versions add members only at the end. The library reads only the first
/// `size` bytes of your struct: a program built against an older header (smaller `size`) works with
/// a newer library, which treats the members it lacks as NULL; a program built against a newer
/// header (larger `size`) works with an older library, which ignores the members it does not know.
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
    /// `sizeof(stomp_listener)` as the program was compiled (set by `STOMP_LISTENER_INIT`).
    pub size: usize,
    /// Passed back as the first argument of every callback; the library never reads or frees it.
    pub user_data: *mut c_void,
    /// A TCP connection to `host:port` is about to be tried (once per host per attempt).
    pub on_connecting:
        Option<unsafe extern "C" fn(user_data: *mut c_void, host: *const c_char, port: u16)>,
    /// CONNECTED arrived; `frame` is it.
    pub on_connected:
        Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const stomp_frame)>,
    /// `stomp_disconnect` was called; DISCONNECT is about to be sent.
    pub on_disconnecting: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// The link to the broker is gone, asked for or not: an established one, or, once a connect
    /// gives up, one that came up but never got CONNECTED (refused, never answered, broken).
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
    /// A frame was handed to the socket (CONNECT included, with its passcode shown as "********").
    pub on_send: Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const stomp_frame)>,
    /// A heart-beat arrived from the broker.
    pub on_heartbeat: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// The connection ended and will not reconnect by itself.
    pub on_receiver_loop_completed: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// Why the connection went down (the first member added after the first layout: a program
    /// built before it has a smaller `size`, and this is NULL for it). Called just before
    /// `on_disconnected` (every listener's `on_disconnected_reason` before any `on_disconnected`);
    /// and, when a connect ends without any TCP link having come up (every host refused or
    /// unreachable: no `on_disconnected` then, as no link ended), just before
    /// `on_receiver_loop_completed`. `code` is STOMP_OK with "disconnected by the client" when the
    /// application asked for the end (stomp_disconnect, a DISCONNECT frame, stomp_connection_free),
    /// else the error's code: STOMP_ERR_CLOSED (the broker closed the link), STOMP_ERR_IO,
    /// STOMP_ERR_PROTOCOL, STOMP_ERR_TOO_LARGE (a frame over a limit, named in `message`),
    /// STOMP_ERR_TIMEOUT (heart-beat, frame time limit, CONNECTED not in time), STOMP_ERR_REFUSED,
    /// STOMP_ERR_CONNECT_FAILED, STOMP_ERR_INTERNAL. `message` is NUL-terminated UTF-8, borrowed for
    /// the call; the same reason is readable afterwards with `stomp_last_disconnect`.
    pub on_disconnected_reason: Option<
        unsafe extern "C" fn(user_data: *mut c_void, code: stomp_result, message: *const c_char),
    >,
}

/// The size of the first layout (libstomp 0.1: `size` through `on_receiver_loop_completed`), the
/// smallest any header has ever produced. A member added later must not move this end.
const FIRST_LAYOUT_SIZE: usize = offset_of!(stomp_listener, on_receiver_loop_completed)
    + size_of::<Option<unsafe extern "C" fn(*mut c_void)>>();

impl stomp_listener {
    /// The caller's listener, read through its `size`: the first `min(size, ours)` bytes are copied
    /// and members past them are NULL. Never reads beyond `size` bytes of the caller's struct.
    ///
    /// # Safety
    /// `p` is NULL or points to at least `size_t` readable bytes, and to `size` of them when that
    /// first member is not smaller than `FIRST_LAYOUT_SIZE` (the caller's contract in the header).
    pub(crate) unsafe fn read_sized(
        p: *const stomp_listener,
        what: &str,
    ) -> Result<stomp_listener> {
        // SAFETY: the caller's contract.
        unsafe { read_prefix(p, what, FIRST_LAYOUT_SIZE) }
    }
}

/// `read_sized` with the smallest accepted size as a parameter, so that tests can play an older
/// layout against this one.
///
/// # Safety
/// As `read_sized`, with `min` in place of `FIRST_LAYOUT_SIZE`.
unsafe fn read_prefix(p: *const stomp_listener, what: &str, min: usize) -> Result<stomp_listener> {
    if p.is_null() {
        return err(ErrorKind::InvalidArgument, format!("{} is NULL", what));
    }
    // SAFETY: every version of the struct starts with `size`; `p` is aligned (the caller's contract).
    let size = unsafe { p.cast::<usize>().read() };
    if size < min {
        return err(
            ErrorKind::InvalidArgument,
            format!(
                "{}->size is {}, less than the {} bytes of the smallest stomp_listener; initialise it \
                 with STOMP_LISTENER_INIT or stomp_listener_init()",
                what, size, min
            ),
        );
    }
    // Every header's sizeof is a multiple of the struct's alignment; any other value is garbage,
    // and copying up to it could take half a pointer.
    if size % align_of::<stomp_listener>() != 0 {
        return err(
            ErrorKind::InvalidArgument,
            format!(
                "{}->size is {}, not a size a stomp_listener can have (a multiple of {}); \
                 initialise it with STOMP_LISTENER_INIT or stomp_listener_init()",
                what,
                size,
                align_of::<stomp_listener>()
            ),
        );
    }
    let n = size.min(size_of::<stomp_listener>());
    let mut out = MaybeUninit::<stomp_listener>::zeroed();
    // SAFETY: `n` bytes are readable at `p` (the caller's `size`, checked above, or our own size,
    // which is smaller) and writable in `out`. All-zero is a valid stomp_listener (NULL pointers and
    // `None` callbacks), and the copied prefix holds whole members the caller set.
    let mut l = unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), out.as_mut_ptr().cast::<u8>(), n);
        out.assume_init()
    };
    l.size = n;
    Ok(l)
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
    fn on_disconnected_reason(&self, reason: &Disconnection) {
        if let Some(f) = self.0.on_disconnected_reason {
            let message = CString::new(reason.message().replace('\0', "\\0")).unwrap_or_default();
            // SAFETY: a C function pointer given to us for this purpose; `message` outlives the call.
            unsafe {
                f(
                    self.0.user_data,
                    disconnection_code(reason),
                    message.as_ptr(),
                )
            }
        }
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

/// A disconnect's reason as C gets it: STOMP_OK when the application asked for it.
pub(crate) fn disconnection_code(reason: &Disconnection) -> stomp_result {
    reason
        .error()
        .map_or(stomp_result::STOMP_OK, |e| stomp_result::from_kind(e.kind))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn plain(_: *mut c_void) {}
    unsafe extern "C" fn framed(_: *mut c_void, _: *const stomp_frame) {}
    unsafe extern "C" fn reason(_: *mut c_void, _: stomp_result, _: *const c_char) {}

    /// A listener with every member but `on_connecting` set, `size` as given.
    fn full(size: usize) -> stomp_listener {
        let (f, fr): (unsafe extern "C" fn(*mut c_void), FrameFn) = (plain, Some(framed));
        stomp_listener {
            size,
            user_data: 0x1234 as *mut c_void,
            on_connecting: None,
            on_connected: fr,
            on_disconnecting: Some(f),
            on_disconnected: Some(f),
            on_heartbeat_timeout: Some(f),
            on_before_message: fr,
            on_message: fr,
            on_receipt: fr,
            on_error: fr,
            on_send: fr,
            on_heartbeat: Some(f),
            on_receiver_loop_completed: Some(f),
            on_disconnected_reason: Some(reason),
        }
    }

    fn invalid(r: Result<stomp_listener>) -> String {
        match r {
            Ok(_) => panic!("accepted"),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::InvalidArgument);
                e.message
            }
        }
    }

    #[test]
    fn the_first_layout_is_frozen() {
        // size, user_data and 12 callbacks: what libstomp 0.1 programs pass, forever.
        assert_eq!(FIRST_LAYOUT_SIZE, 14 * size_of::<usize>());
        assert_eq!(offset_of!(stomp_listener, size), 0);
    }

    #[test]
    fn null_zero_small_and_odd_sizes_are_refused() {
        let m = invalid(unsafe { stomp_listener::read_sized(std::ptr::null(), "listener") });
        assert_eq!(m, "listener is NULL");
        let m = invalid(unsafe { stomp_listener::read_sized(&full(0), "listener") });
        assert!(
            m.contains("listener->size is 0,") && m.contains("STOMP_LISTENER_INIT"),
            "{}",
            m
        );
        let small = FIRST_LAYOUT_SIZE - size_of::<usize>();
        let m = invalid(unsafe { stomp_listener::read_sized(&full(small), "listener") });
        assert!(m.contains(&format!("size is {},", small)), "{}", m);
        let m = invalid(unsafe { stomp_listener::read_sized(&full(FIRST_LAYOUT_SIZE - 1), "l") });
        assert!(m.contains("less than"), "{}", m);
        // Past the minimum, yet not a multiple of the alignment: no header makes that.
        #[repr(C)]
        struct Bigger(stomp_listener, [usize; 2]);
        let b = Bigger(full(FIRST_LAYOUT_SIZE + 3), [1, 2]);
        let m = invalid(unsafe { stomp_listener::read_sized(&b.0, "listener") });
        assert!(m.contains("not a size"), "{}", m);
    }

    #[test]
    fn todays_size_is_copied_whole() {
        let l =
            unsafe { stomp_listener::read_sized(&full(size_of::<stomp_listener>()), "l") }.unwrap();
        assert_eq!(l.user_data as usize, 0x1234);
        assert!(l.on_connecting.is_none() && l.on_connected.is_some());
        assert!(l.on_receiver_loop_completed.is_some());
        assert!(l.on_disconnected_reason.is_some());
    }

    #[test]
    fn a_program_built_before_on_disconnected_reason_gets_it_null() {
        let l = unsafe { stomp_listener::read_sized(&full(FIRST_LAYOUT_SIZE), "l") }.unwrap();
        assert_eq!(l.size, FIRST_LAYOUT_SIZE);
        assert!(l.on_receiver_loop_completed.is_some());
        assert!(
            l.on_disconnected_reason.is_none(),
            "the member set past the caller's size is not taken"
        );
    }

    #[test]
    fn a_newer_programs_larger_struct_is_accepted_and_its_extra_members_ignored() {
        #[repr(C)]
        struct Newer(stomp_listener, [usize; 2]);
        let n = Newer(full(size_of::<Newer>()), [usize::MAX, usize::MAX]);
        let l = unsafe { stomp_listener::read_sized(&n.0, "l") }.unwrap();
        assert_eq!(l.size, size_of::<stomp_listener>());
        assert!(l.on_receiver_loop_completed.is_some());
    }

    #[test]
    fn an_older_programs_smaller_struct_leaves_the_members_it_lacks_null() {
        // Play a library one member newer than the caller: as if the first layout had ended at
        // `on_heartbeat`. The bytes past the caller's size are set, and must not be taken.
        let old = offset_of!(stomp_listener, on_receiver_loop_completed);
        let l = unsafe { read_prefix(&full(old), "l", old) }.unwrap();
        assert_eq!(l.size, old);
        assert!(l.on_heartbeat.is_some() && l.on_message.is_some());
        assert!(l.on_receiver_loop_completed.is_none());
    }
}
