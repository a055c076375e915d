//! Buffers of dropped frames, kept for received frames to be built in.
//!
//! A received frame that needs a buffer of its own is built on one thread and dropped on another:
//! a MESSAGE copied out of its chunk (`Frame::detached`) on the thread that took it from the
//! receive queue and dropped by the application's `stomp_frame_free`, or a frame the decoder
//! builds (escaped headers, RECEIPT, ERROR) on the I/O thread and dropped after the callbacks.
//! glibc's malloc sends such a free to the allocating thread's arena, under the arena's lock,
//! which the allocating thread takes for nearly every allocation (its own cache of freed chunks
//! stays empty): when the decoder still copied every frame, the two threads collided every few
//! messages, a futex wait on one side and a wake on the other, about a sixth of the I/O thread's
//! time in perf while receiving at full speed.
//!
//! So a dropped frame's buffer goes to a short list of the dropping thread's own, which is handed
//! to one shared list every `BATCH` buffers; a thread building a received frame takes up to
//! `BATCH` of them from the shared list into a stash of its own when its stash runs dry. Only
//! those take (an application thread that builds a frame to send allocates it, and keeps no
//! stash). A steady stream costs one lock of the shared list per `BATCH` frames on each side, and
//! no allocation. A kept buffer is used only if it is not much larger than the frame (`take`), so
//! that what the queues' byte bounds count (a frame's size) stays close to what it holds. The
//! shared list's lock is a leaf: nothing else is taken under it.
//!
//! Memory stays bounded: only buffers from `MIN_CAP` to `MAX_CAP` bytes are kept (a large body's
//! buffer is freed as before); the shared list holds at most `MAX_SHARED_BYTES` of them; each
//! thread's list of dropped buffers holds fewer than `BATCH`, and a taking thread's stash at most
//! `BATCH` (both freed when the thread ends). In practice what is kept is the size of the last
//! burst of small frames.

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Buffers a thread gathers before handing them on, and takes at most from the shared list.
const BATCH: usize = 64;
/// Bytes of buffers (their capacity) kept in the shared list at most; the rest are freed. Enough
/// for the swing of a full receive queue of small messages between its low-water mark and its
/// top (thousands of frames), which a smaller list turned back into allocations.
const MAX_SHARED_BYTES: usize = 2 << 20;
/// Smallest and largest capacity kept: small frames are the ones whose allocations dominate.
const MIN_CAP: usize = 128;
const MAX_CAP: usize = 4 << 10;

/// The list every thread hands its dropped buffers to, and threads building received frames take from.
struct SharedList {
    list: Mutex<Kept>,
    /// The list's length, read without its lock to skip it when empty (take) or full (give).
    len: AtomicUsize,
}

static SHARED: SharedList = SharedList::new();

/// The shared list's buffers and the bytes they hold.
struct Kept {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
}

/// A thread's own lists.
#[derive(Default)]
struct Local {
    /// Buffers this thread dropped, on their way to the shared list.
    given: Vec<Vec<u8>>,
    /// Buffers taken from the shared list for this thread's frames.
    stash: Vec<Vec<u8>>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::default();
}

impl SharedList {
    const fn new() -> SharedList {
        SharedList {
            list: Mutex::new(Kept {
                bufs: Vec::new(),
                bytes: 0,
            }),
            len: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Local {
    fn take(&mut self, shared: &SharedList, cap: usize) -> Vec<u8> {
        if self.stash.is_empty() && shared.len.load(Ordering::Relaxed) > 0 {
            let mut s = shared.lock();
            let from = s.bufs.len().saturating_sub(BATCH);
            let mut bytes = 0;
            for buf in s.bufs.drain(from..) {
                bytes += buf.capacity();
                self.stash.push(buf);
            }
            s.bytes -= bytes;
            shared.len.store(s.bufs.len(), Ordering::Relaxed);
        }
        // A kept buffer far larger than asked for is freed, not used: a frame's size (what the
        // queues' byte bounds count) must stay close to the memory it holds.
        while let Some(mut buf) = self.stash.pop() {
            if buf.capacity() <= 2 * cap + MIN_CAP {
                buf.reserve(cap);
                return buf;
            }
        }
        Vec::with_capacity(cap)
    }

    fn give(&mut self, shared: &SharedList, mut buf: Vec<u8>) {
        if !(MIN_CAP..=MAX_CAP).contains(&buf.capacity()) {
            return;
        }
        buf.clear();
        self.given.push(buf);
        if self.given.len() < BATCH {
            return;
        }
        if shared.len.load(Ordering::Relaxed) * MIN_CAP < MAX_SHARED_BYTES {
            let mut s = shared.lock();
            while let Some(buf) = self.given.pop() {
                if s.bytes + buf.capacity() > MAX_SHARED_BYTES {
                    break;
                }
                s.bytes += buf.capacity();
                s.bufs.push(buf);
            }
            shared.len.store(s.bufs.len(), Ordering::Relaxed);
        }
        // Whatever did not fit is freed here, on the thread that dropped it.
        self.given.clear();
    }
}

/// An empty buffer with room for `cap` bytes: a kept one when there is one, else a new allocation.
pub(crate) fn take(cap: usize) -> Vec<u8> {
    LOCAL
        .try_with(|l| l.borrow_mut().take(&SHARED, cap))
        .unwrap_or_else(|_| Vec::with_capacity(cap))
}

/// Keeps a dropped frame's buffer (emptied) if its size is worth keeping and there is room. On a
/// thread that is ending (its lists already gone) the buffer is simply freed.
pub(crate) fn give(buf: Vec<u8>) {
    let _ = LOCAL.try_with(|l| l.borrow_mut().give(&SHARED, buf));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> SharedList {
        SharedList::new()
    }

    /// Buffers dropped by one thread come back, without a new allocation, to another that takes
    /// (the decoder's case): two `Local`s stand for the two threads.
    #[test]
    fn buffers_dropped_on_one_thread_are_reused_on_another() {
        let shared = list();
        let (mut dropper, mut decoder) = (Local::default(), Local::default());
        let bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1000)).collect();
        let addrs: Vec<usize> = bufs.iter().map(|b| b.as_ptr() as usize).collect();
        for (i, b) in bufs.into_iter().enumerate() {
            // Held by the dropping thread until a whole batch is gathered.
            assert_eq!(shared.len.load(Ordering::Relaxed), 0, "handed on at {}", i);
            dropper.give(&shared, b);
        }
        assert_eq!(shared.len.load(Ordering::Relaxed), BATCH);
        // Held while taking, so that a new allocation cannot land at a kept one's address.
        let taken: Vec<Vec<u8>> = (0..=BATCH).map(|_| decoder.take(&shared, 600)).collect();
        for b in &taken[..BATCH] {
            assert!(addrs.contains(&(b.as_ptr() as usize)), "a new allocation");
            assert!(b.is_empty() && b.capacity() >= 1000);
        }
        // The list ran dry: a new one.
        assert!(!addrs.contains(&(taken[BATCH].as_ptr() as usize)));
        assert!(taken[BATCH].capacity() >= 600);
        assert_eq!(shared.lock().bytes, 0);
    }

    #[test]
    fn sizes_outside_the_kept_range_are_freed_and_memory_stays_bounded() {
        let shared = list();
        let mut l = Local::default();
        let most = MAX_SHARED_BYTES / MIN_CAP;
        for _ in 0..2 * most {
            l.give(&shared, Vec::with_capacity(MAX_CAP * 2));
            l.give(&shared, Vec::with_capacity(8));
            l.give(&shared, Vec::with_capacity(MIN_CAP));
        }
        assert_eq!(shared.len.load(Ordering::Relaxed), most);
        assert!(l.given.len() < BATCH);
        let all = shared.lock();
        assert_eq!((all.bufs.len(), all.bytes), (most, MAX_SHARED_BYTES));
        assert!(
            all.bufs
                .iter()
                .all(|b| b.capacity() == MIN_CAP && b.is_empty())
        );
    }

    /// Review: a frame's `size` (its length) is what the receive queue and the listeners' queue
    /// count against their byte bounds; a kept buffer far larger than asked for makes a small
    /// frame hold up to `MAX_CAP` bytes while it counts for a few dozen.
    #[test]
    fn a_small_frame_is_not_given_a_much_larger_kept_buffer() {
        let shared = list();
        let mut l = Local::default();
        for _ in 0..BATCH {
            l.give(&shared, Vec::with_capacity(MAX_CAP));
        }
        let b = l.take(&shared, 150);
        assert!(
            b.capacity() <= 2 * 150 + MIN_CAP,
            "a 150-byte frame holds {} bytes",
            b.capacity()
        );
    }

    #[test]
    fn a_kept_buffer_too_small_grows_to_the_asked_size() {
        let shared = list();
        let mut l = Local::default();
        for _ in 0..BATCH {
            l.give(&shared, Vec::with_capacity(MIN_CAP));
        }
        let b = l.take(&shared, MAX_CAP * 4);
        assert!(b.is_empty() && b.capacity() >= MAX_CAP * 4);
        assert_eq!(shared.len.load(Ordering::Relaxed), 0);
        assert_eq!(l.stash.len(), BATCH - 1);
    }
}
