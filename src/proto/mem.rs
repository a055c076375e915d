//! Memory for large bodies.

/// A body from this size on is written into memory advised by `advise_huge_pages`.
pub(crate) const LARGE_BODY: usize = 1 << 20;

/// Asks the kernel to back the spare capacity of `buf`, about to be filled with a large body, with
/// transparent huge pages. Fresh memory costs a page fault for each page first touched: for a
/// 64 MiB body that is 16,384 faults, which take longer than copying the body, and a 2 MiB page
/// takes one. A hint only: nothing changes where transparent huge pages are off, or on other systems.
pub(crate) fn advise_huge_pages(buf: &mut Vec<u8>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let spare = buf.spare_capacity_mut();
        let start = spare.as_mut_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + spare.len()) / HUGE * HUGE;
        if end > first {
            // SAFETY: the range lies inside this vector's allocation, and the advice changes how
            // it is backed, not what it holds. A refusal (an old kernel) is no matter.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}
