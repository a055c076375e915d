//! Memory for large bodies.

/// A body from this size on is written into memory advised by `advise_huge_pages`.
pub(crate) const LARGE_BODY: usize = 1 << 20;

/// Asks the kernel to back the `len` bytes at `start`, memory about to be filled with a large body
/// and not yet touched, with transparent huge pages. Fresh memory costs a page fault for each page
/// first touched: for a 64 MiB body that is 16,384 faults, which take longer than copying the body,
/// and a 2 MiB page takes one. A hint only: nothing changes where transparent huge pages are off,
/// or on other systems.
pub(crate) fn advise_huge_pages(start: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let first = (start as usize).next_multiple_of(HUGE);
        let end = (start as usize + len) / HUGE * HUGE;
        if end > first {
            // SAFETY: the advice changes how the pages are backed, never what they hold, and the
            // range is inside the caller's allocation. A refusal (an old kernel) is no matter.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, len);
}
