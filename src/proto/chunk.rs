//! The decoder's read buffer as a shared chunk: received MESSAGE frames point into it instead of
//! being copied out.
//!
//! perf showed the copy of each frame into a buffer of its own as about a quarter of the I/O
//! thread's time while receiving at full speed, most of it cache misses on buffers last touched by
//! the thread that ran the callbacks. Now the socket's bytes are read into a `Chunk`, the decoder
//! writes the NULs that end each header name and value in place, and a frame holds a `ChunkRef`
//! (the chunk and its range in it). The consumer's thread reads the frame where the kernel put it,
//! and a frame that leaves the library's hands (`stomp_receive`, a clone) is copied there, on that
//! thread (`Frame::detached`), so that a frame an application keeps never holds a whole chunk.
//!
//! Reference counts: the decoder holds a large reserve of references (`RESERVE`) from the moment it
//! makes a chunk, and hands one of them to each frame with no atomic operation; a frame's drop
//! gives its one back (an atomic decrement on the consumer's thread), and the decoder gives back
//! what is left of its reserve when it lets the chunk go. So the I/O thread touches the count only
//! when it makes, reuses or leaves a chunk: the two threads do not trade the count's cache line for
//! every frame. The chunk's memory is freed by whoever gives back the last reference.
//!
//! Memory: a frame holds its whole chunk. Frames queued for the application are a connection's
//! consecutive messages, so they hold consecutive chunks; a chunk is left to its frames once less
//! than a read's room (up to 64 KiB) is left in it, so a queue may hold up to about five times the
//! bytes its byte bound counts (`Frame::size`) in the worst case, and about the same when reads are
//! full. The decoder leaves a chunk grown for one large frame rather than read small ones into it,
//! and goes back to a small chunk when its reads get small, whether or not frames hold the last.
//!
//! Writing into a chunk frames point into: the decoder writes only the bytes past those already
//! handed out (reads go after the last byte received; the NULs into the head of the frame being
//! built), and moves or overwrites earlier bytes only when no frame holds the chunk (`reclaim`;
//! the chunk checks every write against the bytes handed out since). Frames only ever read their
//! range.

use std::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// References the decoder takes at once; refilled (one atomic add) if a chunk ever hands out that
/// many frames.
const RESERVE: usize = 1 << (usize::BITS - 4);

/// What precedes a chunk's bytes in its allocation.
#[repr(C)]
struct Header {
    refs: AtomicUsize,
    cap: usize,
}

/// The size of the chunks a stream of messages reads into (a read's room, 64 KiB, plus the start of
/// a frame carried over), which are kept for reuse when their last frame is dropped: a stream
/// leaves a chunk to its frames every read, and a new one each time cost an allocation, a 64 KiB
/// zero-fill and page faults on the I/O thread, and a free on the consumer's (in glibc, under the
/// I/O thread's arena lock). A request for more than half of this is given this much.
pub(crate) const KEPT: usize = 80 << 10;

/// Kept chunks at most (`KEPT` bytes each), for the whole process; the rest are freed.
const MAX_KEPT: usize = 32;

/// Chunks whose last reference was dropped, for `Chunk::new` to take. A leaf lock, held only to
/// push or pop.
static FREE: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

/// A free chunk in `FREE` (no reference holds it).
struct Kept(NonNull<Header>);

// SAFETY: nothing refers to a kept chunk; whoever pops it owns it.
unsafe impl Send for Kept {}

fn free_list() -> std::sync::MutexGuard<'static, Vec<Kept>> {
    FREE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A chunk's allocation: the header, then `cap` bytes.
fn layout(cap: usize) -> Layout {
    Layout::from_size_align(size_of::<Header>() + cap, align_of::<Header>())
        .expect("a chunk's size fits a layout")
}

fn data(h: NonNull<Header>) -> *mut u8 {
    // SAFETY: the bytes start right after the header, within the same allocation.
    unsafe { h.as_ptr().add(1).cast::<u8>() }
}

/// A new chunk of `cap` bytes, zeroed, with `RESERVE` references (the caller's).
fn allocate(cap: usize) -> NonNull<Header> {
    let layout = layout(cap);
    // SAFETY: the layout is never zero-sized (it holds the header).
    let p = unsafe { alloc_zeroed(layout) }.cast::<Header>();
    let Some(head) = NonNull::new(p) else {
        handle_alloc_error(layout)
    };
    // SAFETY: freshly allocated, aligned for the header.
    unsafe {
        head.as_ptr().write(Header {
            refs: AtomicUsize::new(RESERVE),
            cap,
        })
    };
    head
}

/// Gives back `n` references; frees the chunk when they were the last.
///
/// # Safety
/// The caller holds `n` references to `h`, and does not use it after.
unsafe fn release(h: NonNull<Header>, n: usize) {
    // SAFETY: the caller's references keep the header alive until this decrement.
    let refs = unsafe { &h.as_ref().refs };
    if refs.fetch_sub(n, Ordering::Release) == n {
        // Every other holder's use of the bytes happens before the memory is freed or reused (a
        // load rather than a fence, as std's Arc does, so that ThreadSanitizer sees it).
        refs.load(Ordering::Acquire);
        // SAFETY: that was the last reference.
        let cap = unsafe { h.as_ref().cap };
        if cap == KEPT {
            let mut free = free_list();
            if free.len() < MAX_KEPT {
                free.push(Kept(h));
                return;
            }
        }
        // SAFETY: the layout is the one it was allocated with.
        unsafe { dealloc(h.as_ptr().cast::<u8>(), layout(cap)) };
    }
}

/// The decoder's hold on a chunk: its bytes to read into and to hand out ranges of.
#[derive(Debug)]
pub(crate) struct Chunk {
    head: NonNull<Header>,
    /// References held here and not yet handed to frames.
    reserve: usize,
    /// Bytes before this may be held by frames: writes go at or past it (checked) until `reclaim`
    /// finds no frame left.
    handed: usize,
}

// SAFETY: a Chunk is the one writer of its bytes (see the module's rules); the count is atomic.
unsafe impl Send for Chunk {}
// SAFETY: shared access only reads.
unsafe impl Sync for Chunk {}

impl Chunk {
    /// A chunk of at least `cap` bytes: a kept one, or a new one zeroed.
    pub(crate) fn new(cap: usize) -> Chunk {
        let kept_size = cap > KEPT / 2 && cap <= KEPT;
        let head = match kept_size.then(|| free_list().pop()).flatten() {
            Some(Kept(head)) => {
                // SAFETY: a kept chunk is ours alone; its count is back to zero.
                unsafe { head.as_ref() }
                    .refs
                    .store(RESERVE, Ordering::Relaxed);
                head
            }
            None => allocate(if kept_size { KEPT } else { cap }),
        };
        Chunk {
            head,
            reserve: RESERVE,
            handed: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        // SAFETY: our references keep the header alive.
        unsafe { self.head.as_ref().cap }
    }

    /// No frame holds the chunk.
    pub(crate) fn unique(&self) -> bool {
        // SAFETY: as in `len`. Acquire: the frames' reads of their bytes are over.
        unsafe { self.head.as_ref() }.refs.load(Ordering::Acquire) == self.reserve
    }

    /// When no frame holds the chunk, makes all of it writable again and says true.
    pub(crate) fn reclaim(&mut self) -> bool {
        let free = self.unique();
        if free {
            self.handed = 0;
        }
        free
    }

    /// The whole chunk, to read.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `len` initialised (zeroed, then written) bytes; frames only read, and this
        // chunk's writes need `&mut self`.
        unsafe { std::slice::from_raw_parts(data(self.head), self.len()) }
    }

    /// `range` to write: bytes no frame holds (past those handed out since the last `reclaim`).
    pub(crate) fn bytes_mut(&mut self, range: std::ops::Range<usize>) -> &mut [u8] {
        assert!(range.start <= range.end && range.end <= self.len());
        assert!(
            range.start >= self.handed,
            "a write over bytes frames may hold"
        );
        // SAFETY: within the allocation; no frame reads these bytes (the caller's rule, see the
        // module), and `&mut self` excludes this chunk's other views.
        unsafe { std::slice::from_raw_parts_mut(data(self.head).add(range.start), range.len()) }
    }

    /// Moves `from` to the start of the chunk (after a `reclaim` that said true).
    pub(crate) fn move_to_front(&mut self, from: std::ops::Range<usize>) {
        assert!(self.handed == 0, "a move over bytes frames may hold");
        assert!(from.start <= from.end && from.end <= self.len());
        // SAFETY: both ranges are within the allocation; `copy` allows overlap.
        unsafe {
            let p = data(self.head);
            std::ptr::copy(p.add(from.start), p, from.len());
        }
    }

    /// A reference to `start..start + len` for a frame; the bytes must not be written again until
    /// the chunk is reclaimed.
    pub(crate) fn share(&mut self, start: usize, len: usize) -> ChunkRef {
        assert!(start <= self.len() && len <= self.len() - start);
        if self.reserve == 1 {
            // SAFETY: our references keep the header alive.
            unsafe { self.head.as_ref() }
                .refs
                .fetch_add(RESERVE, Ordering::Relaxed);
            self.reserve += RESERVE;
        }
        self.reserve -= 1;
        self.handed = self.handed.max(start + len);
        ChunkRef {
            head: self.head,
            start,
            len,
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: we hold `reserve` references and drop them here.
        unsafe { release(self.head, self.reserve) }
    }
}

/// A frame's bytes in a chunk: one reference, and the range.
pub(crate) struct ChunkRef {
    head: NonNull<Header>,
    // Full-width: with max_frame set past 4 GiB a chunk can be that large.
    start: usize,
    len: usize,
}

// SAFETY: a ChunkRef only reads bytes nobody writes while it lives; the count is atomic.
unsafe impl Send for ChunkRef {}
// SAFETY: as above.
unsafe impl Sync for ChunkRef {}

impl ChunkRef {
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the range was checked when it was shared, and our reference keeps it unwritten
        // and allocated.
        unsafe { std::slice::from_raw_parts(data(self.head).add(self.start), self.len) }
    }
}

impl Drop for ChunkRef {
    fn drop(&mut self) {
        // SAFETY: we hold one reference and drop it here.
        unsafe { release(self.head, 1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_their_bytes_after_the_decoder_lets_the_chunk_go() {
        let mut c = Chunk::new(64);
        c.bytes_mut(0..5).copy_from_slice(b"hello");
        assert!(c.unique());
        let r = c.share(1, 3);
        assert!(!c.unique(), "a frame holds it");
        c.bytes_mut(5..8).copy_from_slice(b"abc");
        drop(c);
        assert_eq!(r.bytes(), b"ell");
        let other = std::thread::spawn(move || r.bytes().to_vec());
        assert_eq!(other.join().unwrap(), b"ell");
    }

    #[test]
    #[should_panic(expected = "a write over bytes frames may hold")]
    fn a_write_over_bytes_handed_out_is_refused() {
        let mut c = Chunk::new(64);
        let _held = c.share(8, 8);
        assert!(!c.reclaim());
        c.bytes_mut(10..12).fill(0);
    }

    #[test]
    fn unique_again_once_every_frame_is_dropped() {
        let mut c = Chunk::new(16);
        let refs: Vec<_> = (0..10).map(|i| c.share(i, 1)).collect();
        assert!(!c.unique());
        let t = std::thread::spawn(move || drop(refs));
        t.join().unwrap();
        assert!(c.reclaim());
        c.bytes_mut(0..16).fill(7);
        c.move_to_front(8..16);
        assert_eq!(c.bytes(), [7; 16]);
    }

    #[test]
    fn the_reserve_is_refilled() {
        let mut c = Chunk::new(8);
        c.reserve = 2;
        // SAFETY (test): make the count agree with the shrunk reserve.
        unsafe { c.head.as_ref() }.refs.store(2, Ordering::Relaxed);
        let a = c.share(0, 1);
        let b = c.share(0, 1);
        assert!(c.reserve > 1);
        drop((a, b));
        assert!(c.unique());
    }
}
