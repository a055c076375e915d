//! `stomp_stats`: a connection's counters for C, in a size-prefixed struct that later versions can
//! extend at its end, and their text (`stomp_stats_format`).

use std::ffi::c_char;
use std::mem::{align_of, offset_of, size_of};

use super::boundary::{ffi_boundary, with_handle};
use super::connection::{stomp_connection, write_out};
use super::result::stomp_result;
use crate::error::{ErrorKind, Result, err};
use crate::stats::Stats;

/// A connection's counters, like stomp.py's StatsListener, read with `stomp_stats_get` and printed
/// with `stomp_stats_format`. Every counter starts at 0 when the connection is made and only grows,
/// over every `stomp_connect` and reconnect of the handle.
///
/// Set `size` before the call: `stomp_stats s = { .size = sizeof s };` in C, `stomp_stats s{};
/// s.size = sizeof s;` in C++. Versions: later minor versions add counters only at the end; the
/// library writes only the first `size` bytes, so a program built against an older header (smaller
/// `size`) gets the counters it knows, and one built against a newer header (larger `size`) gets
/// 0 in the counters an older library does not know.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct stomp_stats {
    /// `sizeof(stomp_stats)` as the program was compiled; set by the caller, never written.
    pub size: usize,
    /// Links established (CONNECTED received), reconnects included.
    pub connections: u64,
    /// Established links that ended, asked for or not.
    pub disconnects: u64,
    /// Links established by auto-reconnect after a drop (also counted in `connections`).
    pub reconnects: u64,
    /// SEND frames queued for the socket.
    pub messages_sent: u64,
    /// MESSAGE frames received.
    pub messages_received: u64,
    /// Frames of any command queued for the socket (CONNECT, SUBSCRIBE, ACK, SEND, ...).
    pub frames_sent: u64,
    /// Frames of any command received (CONNECTED, MESSAGE, RECEIPT, ERROR).
    pub frames_received: u64,
    /// RECEIPT frames received.
    pub receipts_received: u64,
    /// ERROR frames received.
    pub errors: u64,
    /// Heart-beats queued for the socket.
    pub heartbeats_sent: u64,
    /// Heart-beats received (the one EOL a broker may put after each frame is not one).
    pub heartbeats_received: u64,
    /// Links closed because the broker fell silent past the receive heart-beat.
    pub heartbeat_timeouts: u64,
    /// Bytes written to the socket.
    pub bytes_sent: u64,
    /// Bytes read from the socket.
    pub bytes_received: u64,
    /// Frames sent while auto-reconnect was under way, held to go out once the link was back.
    pub frames_held: u64,
}

/// The size of the first layout (libstomp 0.1: `size` through `frames_held`), the smallest any
/// header has ever produced. A member added later must not move this end.
const FIRST_LAYOUT_SIZE: usize = offset_of!(stomp_stats, frames_held) + size_of::<u64>();

/// Both ways between `Stats` and `stomp_stats`, counter by counter: the list of counters is
/// written once, here (a counter added to both structs is added to it).
macro_rules! convert_counters {
    ($($field:ident),* $(,)?) => {
        impl From<Stats> for stomp_stats {
            fn from(s: Stats) -> stomp_stats {
                stomp_stats {
                    size: size_of::<stomp_stats>(),
                    $($field: s.$field,)*
                }
            }
        }

        impl From<stomp_stats> for Stats {
            fn from(s: stomp_stats) -> Stats {
                Stats {
                    $($field: s.$field,)*
                }
            }
        }
    };
}

convert_counters!(
    connections,
    disconnects,
    reconnects,
    messages_sent,
    messages_received,
    frames_sent,
    frames_received,
    receipts_received,
    errors,
    heartbeats_sent,
    heartbeats_received,
    heartbeat_timeouts,
    bytes_sent,
    bytes_received,
    frames_held,
);

/// The `size` member of the caller's struct, read alone: the struct may be smaller than ours (an
/// older header), so no reference to a whole stomp_stats is made.
///
/// # Safety
/// `p` is NULL or points to at least a readable, aligned `size_t`.
unsafe fn size_of_caller(p: *const stomp_stats, what: &str) -> Result<usize> {
    if p.is_null() {
        return err(ErrorKind::InvalidArgument, format!("{} is NULL", what));
    }
    // SAFETY: every version of the struct starts with `size` (the caller's contract).
    Ok(unsafe { p.cast::<usize>().read() })
}

/// The caller's `size`, checked: at least the first layout's and a multiple of the alignment.
fn checked_size(size: usize, what: &str, min: usize) -> Result<usize> {
    if size < min || !size.is_multiple_of(align_of::<stomp_stats>()) {
        return err(
            ErrorKind::InvalidArgument,
            format!(
                "{}->size is {}, not the size of a stomp_stats (at least {} and a multiple of {}); \
                 set it to sizeof(stomp_stats)",
                what,
                size,
                min,
                align_of::<stomp_stats>()
            ),
        );
    }
    Ok(size)
}

/// Writes `stats` into the caller's struct of `size` bytes: our members that fit, zeros past ours.
///
/// # Safety
/// `out` points to `size` writable bytes, aligned for stomp_stats.
unsafe fn write_sized(out: *mut stomp_stats, size: usize, stats: &stomp_stats) {
    let n = size.min(size_of::<stomp_stats>());
    // SAFETY: `out` has `size` writable bytes (the caller's contract); `n` and the zeroed tail stay
    // within them. `size` itself (the first member) is written back unchanged.
    unsafe {
        let dst = out.cast::<u8>();
        let src = (stats as *const stomp_stats).cast::<u8>();
        let keep = dst.cast::<usize>().read();
        std::ptr::copy_nonoverlapping(src, dst, n);
        if size > n {
            std::ptr::write_bytes(dst.add(n), 0, size - n);
        }
        dst.cast::<usize>().write(keep);
    }
}

/// Reads the caller's struct of `size` bytes: the members it has; those past its size are 0.
///
/// # Safety
/// `p` points to `size` readable bytes, aligned for stomp_stats.
unsafe fn read_sized(p: *const stomp_stats, size: usize) -> stomp_stats {
    let n = size.min(size_of::<stomp_stats>());
    let mut s = stomp_stats::default();
    // SAFETY: `n` bytes are readable at `p` and writable in `s`; any bytes are valid integers.
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&mut s as *mut stomp_stats).cast::<u8>(), n)
    };
    s
}

/// Copies the counters of `conn` into `*stats_out`, all taken at one instant. Set
/// `stats_out->size` to `sizeof(stomp_stats)` first: the library writes only that many bytes (see
/// stomp_stats). Cheap (one short lock, no allocation); any thread, at any time, connected or not.
///
/// Errors: STOMP_ERR_INVALID_ARGUMENT if `conn` or `stats_out` is NULL, or `stats_out->size` is not
/// the size of any stomp_stats (`*stats_out` is then left as it was).
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; `stats_out` is NULL or points to a writable
/// stomp_stats of at least `stats_out->size` bytes (as set by the caller).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_stats_get(
    conn: *const stomp_connection,
    stats_out: *mut stomp_stats,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            let size = checked_size(
                size_of_caller(stats_out, "stats_out")?,
                "stats_out",
                FIRST_LAYOUT_SIZE,
            )?;
            write_sized(stats_out, size, &c.stats().into());
            Ok(())
        })
    }
}

/// Writes `stats` as text to `buf` (`len` bytes), NUL-terminated: one `name: value` line per counter,
/// in the order of stomp_stats, lines separated by `\n` with none after the last. 1024 bytes always
/// suffice. Counters past `stats->size` (a struct from an older header) are shown as 0. Any thread.
///
/// Errors: STOMP_ERR_INVALID_ARGUMENT if `stats` or `buf` is NULL or `stats->size` is not the size of
/// any stomp_stats; STOMP_ERR_BUFFER_TOO_SMALL (nothing written; stomp_last_error() says how many
/// bytes are needed) if the text and its NUL do not fit in `len`.
///
/// # Safety
/// `stats` is NULL or points to a stomp_stats of at least `stats->size` bytes; `buf` is NULL or
/// points to `len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_stats_format(
    stats: *const stomp_stats,
    buf: *mut c_char,
    len: usize,
) -> stomp_result {
    ffi_boundary! {
        // SAFETY: the caller's contract.
        let size = checked_size(unsafe { size_of_caller(stats, "stats") }?, "stats", FIRST_LAYOUT_SIZE)?;
        if buf.is_null() {
            return err(ErrorKind::InvalidArgument, "buf is NULL");
        }
        // SAFETY: `size` bytes are readable at `stats` (the caller's contract, checked above).
        let text = Stats::from(unsafe { read_sized(stats, size) }).to_string();
        // SAFETY: `buf` has `len` writable bytes (the caller's contract).
        unsafe { write_out(&text, buf, len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> stomp_stats {
        let mut s = stomp_stats::from(Stats {
            connections: 1,
            bytes_sent: 42,
            frames_held: 9,
            ..Stats::default()
        });
        s.size = size_of::<stomp_stats>();
        s
    }

    #[test]
    fn the_first_layout_is_frozen() {
        // size and 15 counters: what libstomp 0.1 programs pass, forever.
        assert_eq!(FIRST_LAYOUT_SIZE, size_of::<usize>() + 15 * 8);
        assert_eq!(offset_of!(stomp_stats, connections), size_of::<usize>());
    }

    #[test]
    fn wrong_sizes_are_refused_with_the_sizeof_hint() {
        for bad in [0, 8, FIRST_LAYOUT_SIZE - 8, FIRST_LAYOUT_SIZE + 3] {
            let e = checked_size(bad, "stats_out", FIRST_LAYOUT_SIZE).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
            assert!(
                e.message.contains(&format!("size is {},", bad)),
                "{}",
                e.message
            );
            assert!(e.message.contains("sizeof(stomp_stats)"), "{}", e.message);
        }
    }

    #[test]
    fn a_newer_programs_larger_struct_gets_zeros_past_ours_and_keeps_its_size() {
        #[repr(C)]
        struct Newer(stomp_stats, [u64; 2]);
        let mut n = Newer(stomp_stats::default(), [7, 7]);
        n.0.size = size_of::<Newer>();
        unsafe { write_sized(&mut n.0, n.0.size, &sample()) };
        assert_eq!(n.0.size, size_of::<Newer>());
        assert_eq!(
            (n.0.connections, n.0.bytes_sent, n.0.frames_held),
            (1, 42, 9)
        );
        assert_eq!(n.1, [0, 0]);
    }

    #[test]
    fn an_older_programs_smaller_struct_is_written_only_up_to_its_size() {
        // Play a library one counter newer than the caller: the caller's struct ends before
        // `frames_held`, and the bytes after it are not the library's to write.
        let old = offset_of!(stomp_stats, frames_held);
        let mut s = stomp_stats {
            frames_held: 1234,
            ..Default::default()
        };
        unsafe { write_sized(&mut s, old, &sample()) };
        assert_eq!((s.connections, s.bytes_sent), (1, 42));
        assert_eq!(s.frames_held, 1234, "written past the caller's size");
        assert_eq!(s.size, 0, "size is the caller's and is never written");
        let read = unsafe { read_sized(&sample(), old) };
        assert_eq!((read.connections, read.frames_held), (1, 0));
    }

    #[test]
    fn the_largest_text_fits_in_1024_bytes() {
        let mut s = stomp_stats::from(Stats::default());
        for (i, c) in [
            &mut s.connections,
            &mut s.disconnects,
            &mut s.reconnects,
            &mut s.messages_sent,
            &mut s.messages_received,
            &mut s.frames_sent,
            &mut s.frames_received,
            &mut s.receipts_received,
            &mut s.errors,
            &mut s.heartbeats_sent,
            &mut s.heartbeats_received,
            &mut s.heartbeat_timeouts,
            &mut s.bytes_sent,
            &mut s.bytes_received,
            &mut s.frames_held,
        ]
        .into_iter()
        .enumerate()
        {
            *c = u64::MAX - i as u64;
        }
        let text = Stats::from(s).to_string();
        assert!(text.len() < 1024, "{}", text.len());
        // The round trip through the C struct keeps every counter (no member mixed up).
        assert_eq!(stomp_stats::from(Stats::from(s)), s);
    }
}
