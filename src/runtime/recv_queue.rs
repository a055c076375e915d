//! The pull queue that `receive` reads, in two halves so that the I/O thread and the receivers
//! rarely meet on a lock.
//!
//! The loop appends each turn's messages to the inbox, under the inbox's lock. A receiver pops
//! from the outbox, under the receivers' own lock, and only when the outbox is empty takes the
//! whole inbox at once (a swap). So a steady stream costs each side one lock of the other's per
//! batch of messages, not one per message: with a single lock taken per message, the two threads
//! collided every few messages, each collision a futex wait on one side and a wake on the other.
//!
//! Counts of frames and bytes over both halves are atomics: the loop judges its room from them
//! without a lock, and a receiver judges the low-water mark from them after a pop. Every access to
//! them is SeqCst, as `Shared::paused` is: the loop sets `paused` then reads the counts, a receiver lowers
//! them then reads `paused`, and only with all four in the one total order does one of the two
//! see the other (acquire/release alone lets both read the old values: no Resume is sent).
//!
//! Lock order: `outbox` before `inbox`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::conn::lock;
use crate::proto::frame::Frame;

#[derive(Default)]
pub struct RecvQueue {
    inbox: Mutex<Inbox>,
    /// Messages taken from the inbox, popped in order by receivers.
    outbox: Mutex<VecDeque<Frame>>,
    /// Receivers wait here (with the inbox's lock) for a push, or for the link to close.
    cv: Condvar,
    /// Frames in both halves.
    len: AtomicUsize,
    /// Their bytes (`Frame::size`), bounded by `receive_queue_bytes`.
    bytes: AtomicUsize,
}

#[derive(Default)]
struct Inbox {
    frames: VecDeque<Frame>,
    /// Receivers waiting on `cv`: the loop signals only when there are some.
    waiters: usize,
}

impl RecvQueue {
    /// Frames queued (both halves).
    pub fn queued(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// Bytes of the frames queued.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Appends a batch of messages (the I/O loop, once a turn); true when a receiver waits, to be
    /// woken by `wake` once the caller has let go of its own lock.
    pub fn push(&self, frames: impl Iterator<Item = Frame>) -> bool {
        let mut inbox = lock(&self.inbox);
        let before = inbox.frames.len();
        let mut bytes = 0;
        inbox.frames.extend(frames.inspect(|f| bytes += f.size()));
        // Counted under the inbox's lock, so that a receiver about to wait sees them (see `wait`).
        self.bytes.fetch_add(bytes, Ordering::SeqCst);
        self.len
            .fetch_add(inbox.frames.len() - before, Ordering::SeqCst);
        inbox.waiters > 0
    }

    /// Wakes every waiting receiver (after a push that said some wait).
    pub fn wake(&self) {
        self.cv.notify_all();
    }

    /// Wakes every waiting receiver, under the inbox's lock: one that has just found the queue
    /// empty and the link open cannot miss it (the link closed; see `wait`).
    pub fn wake_locked(&self) {
        let _inbox = lock(&self.inbox);
        self.cv.notify_all();
    }

    /// Drops every queued message (a new connect).
    pub fn clear(&self) {
        let mut outbox = lock(&self.outbox);
        let mut inbox = lock(&self.inbox);
        outbox.clear();
        inbox.frames.clear();
        self.len.store(0, Ordering::SeqCst);
        self.bytes.store(0, Ordering::SeqCst);
    }

    /// The oldest message, if any; with the counts left after it.
    pub fn pop(&self) -> Option<(Frame, usize, usize)> {
        let mut outbox = lock(&self.outbox);
        if outbox.is_empty() {
            let mut inbox = lock(&self.inbox);
            if inbox.frames.is_empty() {
                return None;
            }
            // The whole inbox by a swap; the emptied outbox's allocation goes back to the loop.
            std::mem::swap(&mut *outbox, &mut inbox.frames);
        }
        let f = outbox.pop_front()?;
        let bytes = self.bytes.fetch_sub(f.size(), Ordering::SeqCst) - f.size();
        let len = self.len.fetch_sub(1, Ordering::SeqCst) - 1;
        Some((f, len, bytes))
    }

    /// Waits until `deadline` for a push, unless a message is queued or `closed` says the link
    /// has ended. Either way the caller looks again (`pop`): a wake-up may be spurious, or another
    /// receiver may have been first.
    ///
    /// The counts and `closed` are read under the inbox's lock, which a push and `wake_locked`
    /// take: a push after the look is signalled to this waiter. The count covers the outbox too:
    /// another receiver may have moved what was pushed there, and must not be waited out.
    pub fn wait(&self, deadline: Instant, closed: impl Fn() -> bool) {
        let mut inbox = lock(&self.inbox);
        if self.len.load(Ordering::SeqCst) > 0 || closed() {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        inbox.waiters += 1;
        inbox = self
            .cv
            .wait_timeout(inbox, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        inbox.waiters -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::Command;
    use std::sync::Arc;
    use std::time::Duration;

    fn message(n: usize) -> Frame {
        let mut f = Frame::new(Command::Message);
        f.set_header("n", &n.to_string());
        f
    }

    fn number(f: &Frame) -> usize {
        f.header("n").unwrap().parse().unwrap()
    }

    #[test]
    fn messages_come_out_in_order_across_both_halves_and_are_counted() {
        let q = RecvQueue::default();
        assert!(!q.push((0..3).map(message)));
        let size = message(0).size();
        assert_eq!((q.queued(), q.bytes()), (3, 3 * size));
        // The first pop moves the inbox to the outbox; a push then lands behind it.
        let (f, len, bytes) = q.pop().unwrap();
        assert_eq!((number(&f), len, bytes), (0, 2, 2 * size));
        q.push((3..5).map(message));
        let order: Vec<usize> = std::iter::from_fn(|| q.pop())
            .map(|(f, _, _)| number(&f))
            .collect();
        assert_eq!(order, [1, 2, 3, 4]);
        assert_eq!((q.queued(), q.bytes()), (0, 0));
        q.push((5..7).map(message));
        q.clear();
        assert!(q.pop().is_none());
        assert_eq!((q.queued(), q.bytes()), (0, 0));
    }

    /// Many receivers and one pusher: every message is taken exactly once, each receiver sees its
    /// own in queue order, and no receiver sleeps through messages another one moved out of the
    /// inbox (that receiver would sit out the deadline and the count would come up short).
    #[test]
    fn many_receivers_take_every_message_once_in_order() {
        const N: usize = 50_000;
        let q = Arc::new(RecvQueue::default());
        let taken = Arc::new(AtomicUsize::new(0));
        let done = move |taken: &AtomicUsize| taken.load(Ordering::Acquire) == N;
        let deadline = Instant::now() + Duration::from_secs(30);
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let (q, taken) = (q.clone(), taken.clone());
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while Instant::now() < deadline {
                        match q.pop() {
                            Some((f, _, _)) => {
                                got.push(number(&f));
                                if taken.fetch_add(1, Ordering::AcqRel) + 1 == N {
                                    q.wake_locked();
                                }
                            }
                            None if done(&taken) => break,
                            None => q.wait(deadline, || done(&taken)),
                        }
                    }
                    got
                })
            })
            .collect();
        let mut next = 0;
        while next < N {
            let n = (next % 7 + 1).min(N - next);
            if q.push((next..next + n).map(message)) {
                q.wake();
            }
            next += n;
        }
        let mut all = Vec::new();
        for r in receivers {
            let got = r.join().unwrap();
            assert!(
                got.windows(2).all(|w| w[0] < w[1]),
                "a receiver saw messages out of order"
            );
            all.extend(got);
        }
        all.sort_unstable();
        assert_eq!(all, (0..N).collect::<Vec<_>>());
    }

    #[test]
    fn a_waiter_returns_at_once_when_something_is_queued_or_the_link_closed() {
        let q = RecvQueue::default();
        let far = Instant::now() + Duration::from_secs(30);
        q.push(std::iter::once(message(1)));
        let t = Instant::now();
        q.wait(far, || false);
        q.pop().unwrap();
        q.wait(far, || true);
        assert!(t.elapsed() < Duration::from_secs(10));
    }
}
