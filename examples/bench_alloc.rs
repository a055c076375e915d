//! bench_alloc - heap allocations per message in steady state, for issue 8's benchmark (not a test;
//! scripts/bench.sh runs it against the C fixtures in bench/).
//!
//!   bench_alloc publish          PORT [WARMUP [COUNT [BODY_BYTES]]]   against fixture_swallow
//!   bench_alloc receive-callback PORT [WARMUP [COUNT]]                against fixture_blast
//!   bench_alloc receive-pull     PORT [WARMUP [COUNT]]                against fixture_blast
//!
//! A counting `#[global_allocator]` sees every allocation of the process, the library's I/O and
//! dispatch threads included. The library is driven only through its exported C functions, declared
//! here from include/stomp.h as a C program would see them (so this keeps working whatever module
//! they live in); the crate is linked for those symbols. Only the window after WARMUP messages
//! (default 10000) is counted, COUNT messages (default 100000) long. Prints
//! "libstomp alloc-MODE msgs allocs reallocs allocs_per_msg" where allocs_per_msg counts both.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use stomp as _; // links the library whose exported functions are declared below

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, layout, new_size) }
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn snapshot() -> (u64, u64) {
    (
        ALLOCS.load(Ordering::SeqCst),
        REALLOCS.load(Ordering::SeqCst),
    )
}

// ---- The C API, as include/stomp.h declares it. ----------------------------------------------

#[repr(C)]
struct StompOptions {
    _private: [u8; 0],
}
#[repr(C)]
struct StompConnection {
    _private: [u8; 0],
}
#[repr(C)]
struct StompFrame {
    _private: [u8; 0],
}
#[repr(C)]
struct StompHeader {
    name: *const c_char,
    value: *const c_char,
}

type FrameCb = Option<unsafe extern "C" fn(*mut c_void, *const StompFrame)>;
type VoidCb = Option<unsafe extern "C" fn(*mut c_void)>;

#[repr(C)]
struct StompListener {
    /// `sizeof` the struct, as STOMP_LISTENER_INIT sets it.
    size: usize,
    user_data: *mut c_void,
    on_connecting: Option<unsafe extern "C" fn(*mut c_void, *const c_char, u16)>,
    on_connected: FrameCb,
    on_disconnecting: VoidCb,
    on_disconnected: VoidCb,
    on_heartbeat_timeout: VoidCb,
    on_before_message: FrameCb,
    on_message: FrameCb,
    on_receipt: FrameCb,
    on_error: FrameCb,
    on_send: FrameCb,
    on_heartbeat: VoidCb,
    on_receiver_loop_completed: VoidCb,
}

const STOMP_OK: i32 = 0;
const STOMP_ACK_AUTO: u32 = 0;

unsafe extern "C" {
    fn stomp_options_new() -> *mut StompOptions;
    fn stomp_options_free(opts: *mut StompOptions);
    fn stomp_options_add_host(opts: *mut StompOptions, host: *const c_char, port: u16) -> i32;
    fn stomp_options_add_host_tls(
        opts: *mut StompOptions,
        host: *const c_char,
        port: u16,
        ca_file: *const c_char,
        cert_file: *const c_char,
        key_file: *const c_char,
    ) -> i32;
    fn stomp_options_set_vhost(opts: *mut StompOptions, vhost: *const c_char) -> i32;
    fn stomp_options_set_receive_queue(opts: *mut StompOptions, capacity: usize) -> i32;
    fn stomp_connection_new(opts: *const StompOptions) -> *mut StompConnection;
    fn stomp_connection_free(conn: *mut StompConnection);
    fn stomp_set_listener(
        conn: *mut StompConnection,
        name: *const c_char,
        listener: *const StompListener,
    ) -> i32;
    fn stomp_connect(
        conn: *mut StompConnection,
        login: *const c_char,
        passcode: *const c_char,
        headers: *const StompHeader,
        header_count: usize,
        wait: bool,
    ) -> i32;
    fn stomp_send(
        conn: *mut StompConnection,
        destination: *const c_char,
        body: *const c_void,
        body_len: usize,
        content_type: *const c_char,
        headers: *const StompHeader,
        header_count: usize,
    ) -> i32;
    fn stomp_subscribe(
        conn: *mut StompConnection,
        destination: *const c_char,
        id: *const c_char,
        ack: u32,
        headers: *const StompHeader,
        header_count: usize,
    ) -> i32;
    fn stomp_wait_receipt(
        conn: *mut StompConnection,
        receipt: *const c_char,
        timeout_ms: u32,
    ) -> i32;
    fn stomp_disconnect(conn: *mut StompConnection, receipt: *const c_char, timeout_ms: u32)
    -> i32;
    fn stomp_receive(
        conn: *mut StompConnection,
        timeout_ms: u32,
        frame_out: *mut *mut StompFrame,
    ) -> i32;
    fn stomp_frame_free(frame: *mut StompFrame);
    fn stomp_strerror(code: i32) -> *const c_char;
    fn stomp_last_error() -> *const c_char;
}

fn check(rc: i32, what: &str) {
    if rc != STOMP_OK {
        // SAFETY: both return static or thread-local NUL-terminated strings, never NULL.
        let (e, d) = unsafe {
            (
                CStr::from_ptr(stomp_strerror(rc)),
                CStr::from_ptr(stomp_last_error()),
            )
        };
        eprintln!(
            "bench_alloc: {what}: {} ({})",
            e.to_string_lossy(),
            d.to_string_lossy()
        );
        std::process::exit(1);
    }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

// ---- Receive-callback state: the callback takes the snapshots at the window's edges. -----------

struct Window {
    warmup: u64,
    end: u64,
    seen: AtomicU64,
    start: Mutex<(u64, u64)>,
    done: Mutex<Option<(u64, u64)>>,
    cv: Condvar,
}

unsafe extern "C" fn on_message(user_data: *mut c_void, _frame: *const StompFrame) {
    // SAFETY: user_data is the &Window given to stomp_set_listener, alive until after disconnect.
    let w = unsafe { &*(user_data as *const Window) };
    let n = w.seen.fetch_add(1, Ordering::Relaxed) + 1;
    if n == w.warmup {
        *w.start.lock().unwrap() = snapshot();
    } else if n == w.end {
        let s = snapshot();
        *w.done.lock().unwrap() = Some(s);
        w.cv.notify_all();
    }
}

fn open(port: u16, receive_queue: usize, listener: Option<&StompListener>) -> *mut StompConnection {
    // SAFETY: every pointer is a live CString or struct; the calls are made as C would make them.
    unsafe {
        let o = stomp_options_new();
        assert!(!o.is_null());
        // STOMP_BENCH_TLS_CA: the port is a TLS terminator whose certificate this CA signed.
        match std::env::var("STOMP_BENCH_TLS_CA") {
            Ok(ca) if !ca.is_empty() => check(
                stomp_options_add_host_tls(
                    o,
                    c("127.0.0.1").as_ptr(),
                    port,
                    c(&ca).as_ptr(),
                    std::ptr::null(),
                    std::ptr::null(),
                ),
                "stomp_options_add_host_tls",
            ),
            _ => check(
                stomp_options_add_host(o, c("127.0.0.1").as_ptr(), port),
                "stomp_options_add_host",
            ),
        }
        check(
            stomp_options_set_vhost(o, c("/").as_ptr()),
            "stomp_options_set_vhost",
        );
        if receive_queue > 0 {
            check(
                stomp_options_set_receive_queue(o, receive_queue),
                "stomp_options_set_receive_queue",
            );
        }
        let conn = stomp_connection_new(o);
        stomp_options_free(o);
        assert!(!conn.is_null(), "stomp_connection_new");
        if let Some(l) = listener {
            check(
                stomp_set_listener(conn, c("bench").as_ptr(), l),
                "stomp_set_listener",
            );
        }
        let (login, pass) = (c("guest"), c("guest"));
        check(
            stomp_connect(conn, login.as_ptr(), pass.as_ptr(), ptr::null(), 0, true),
            "stomp_connect",
        );
        conn
    }
}

fn close(conn: *mut StompConnection) {
    // SAFETY: a live handle from open().
    unsafe {
        let rc = stomp_disconnect(conn, c("bench-end").as_ptr(), 30000);
        if rc != STOMP_OK {
            eprintln!("bench_alloc: stomp_disconnect returned {rc}");
        }
        stomp_connection_free(conn);
    }
}

fn report(mode: &str, count: u64, a: (u64, u64), b: (u64, u64)) {
    let (allocs, reallocs) = (b.0 - a.0, b.1 - a.1);
    println!(
        "libstomp alloc-{mode} {count} {allocs} {reallocs} {:.3}",
        (allocs + reallocs) as f64 / count as f64
    );
}

fn publish(port: u16, warmup: u64, count: u64, body_bytes: usize) {
    let conn = open(port, 0, None);
    let body = vec![b'x'; body_bytes];
    let (dest, ctype) = (c("/queue/bench"), c("text/plain"));
    let (ha, va, hb, vb) = (c("x-bench-a"), c("alpha"), c("x-bench-b"), c("beta"));
    let headers = [
        StompHeader {
            name: ha.as_ptr(),
            value: va.as_ptr(),
        },
        StompHeader {
            name: hb.as_ptr(),
            value: vb.as_ptr(),
        },
    ];
    let (rname, r1, r2) = (c("receipt"), c("warm"), c("end"));
    let send = |extra: Option<&CString>| {
        // SAFETY: live CStrings and buffers; header_count matches the array used.
        unsafe {
            let rc = match extra {
                None => stomp_send(
                    conn,
                    dest.as_ptr(),
                    body.as_ptr().cast(),
                    body.len(),
                    ctype.as_ptr(),
                    headers.as_ptr(),
                    2,
                ),
                Some(r) => {
                    let h = [
                        StompHeader {
                            name: ha.as_ptr(),
                            value: va.as_ptr(),
                        },
                        StompHeader {
                            name: hb.as_ptr(),
                            value: vb.as_ptr(),
                        },
                        StompHeader {
                            name: rname.as_ptr(),
                            value: r.as_ptr(),
                        },
                    ];
                    stomp_send(
                        conn,
                        dest.as_ptr(),
                        body.as_ptr().cast(),
                        body.len(),
                        ctype.as_ptr(),
                        h.as_ptr(),
                        3,
                    )
                }
            };
            check(rc, "stomp_send");
        }
    };
    // The window opens and closes on a receipt, so the I/O thread's work for it is inside.
    for _ in 1..warmup {
        send(None);
    }
    send(Some(&r1));
    // SAFETY: live handle and CString.
    check(
        unsafe { stomp_wait_receipt(conn, r1.as_ptr(), 30000) },
        "stomp_wait_receipt",
    );
    let a = snapshot();
    for _ in 1..count {
        send(None);
    }
    send(Some(&r2));
    check(
        unsafe { stomp_wait_receipt(conn, r2.as_ptr(), 30000) },
        "stomp_wait_receipt",
    );
    let b = snapshot();
    report("publish", count, a, b);
    close(conn);
}

fn receive_callback(port: u16, warmup: u64, count: u64) {
    let w = Box::new(Window {
        warmup,
        end: warmup + count,
        seen: AtomicU64::new(0),
        start: Mutex::new((0, 0)),
        done: Mutex::new(None),
        cv: Condvar::new(),
    });
    let listener = StompListener {
        size: std::mem::size_of::<StompListener>(),
        user_data: &*w as *const Window as *mut c_void,
        on_connecting: None,
        on_connected: None,
        on_disconnecting: None,
        on_disconnected: None,
        on_heartbeat_timeout: None,
        on_before_message: None,
        on_message: Some(on_message),
        on_receipt: None,
        on_error: None,
        on_send: None,
        on_heartbeat: None,
        on_receiver_loop_completed: None,
    };
    let conn = open(port, 0, Some(&listener));
    let (dest, id) = (c("/queue/bench"), c("0"));
    // SAFETY: live handle and CStrings.
    check(
        unsafe {
            stomp_subscribe(
                conn,
                dest.as_ptr(),
                id.as_ptr(),
                STOMP_ACK_AUTO,
                ptr::null(),
                0,
            )
        },
        "stomp_subscribe",
    );
    let mut done = w.done.lock().unwrap();
    while done.is_none() {
        done = w.cv.wait(done).unwrap();
    }
    let b = done.unwrap();
    drop(done);
    let a = *w.start.lock().unwrap();
    report("receive-callback", count, a, b);
    close(conn); // no callback runs after this, so w may go
}

fn receive_pull(port: u16, warmup: u64, count: u64) {
    let conn = open(port, 8192, None);
    let (dest, id) = (c("/queue/bench"), c("0"));
    // SAFETY: live handle and CStrings; each frame received is freed once.
    unsafe {
        check(
            stomp_subscribe(
                conn,
                dest.as_ptr(),
                id.as_ptr(),
                STOMP_ACK_AUTO,
                ptr::null(),
                0,
            ),
            "stomp_subscribe",
        );
        let mut a = (0, 0);
        for i in 0..warmup + count {
            if i == warmup {
                a = snapshot();
            }
            let mut f: *mut StompFrame = ptr::null_mut();
            check(stomp_receive(conn, 30000, &mut f), "stomp_receive");
            stomp_frame_free(f);
        }
        let b = snapshot();
        report("receive-pull", count, a, b);
    }
    close(conn);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!(
            "usage: bench_alloc publish|receive-callback|receive-pull PORT [WARMUP [COUNT [BODY_BYTES]]]"
        );
        std::process::exit(2);
    }
    let port: u16 = args[2].parse().expect("PORT");
    let warmup: u64 = args
        .get(3)
        .map_or(10_000, |s| s.parse().expect("WARMUP"))
        .max(1);
    let count: u64 = args
        .get(4)
        .map_or(100_000, |s| s.parse().expect("COUNT"))
        .max(1);
    let body: usize = args.get(5).map_or(100, |s| s.parse().expect("BODY_BYTES"));
    match args[1].as_str() {
        "publish" => publish(port, warmup, count, body),
        "receive-callback" => receive_callback(port, warmup, count),
        "receive-pull" => receive_pull(port, warmup, count),
        m => {
            eprintln!("bench_alloc: unknown mode {m}");
            std::process::exit(2);
        }
    }
}
