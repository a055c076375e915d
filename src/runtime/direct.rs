//! Writing from the sending thread: a frame sent on an idle plain-TCP link is written at once by the
//! thread that sent it (one non-blocking write), instead of waking the I/O loop to write it. That
//! saves a request its slowest step, the loop's wake-up (a command, an eventfd write, a thread
//! scheduled on another core), and its CPU.
//!
//! The loop stays in charge of everything else: a burst of sends, bytes the socket did not take,
//! errors (left for the loop's own write to find), heart-beats, TLS. Bytes stay in order because
//! only one side holds bytes taken from the session at a time: a caller writes only when the loop
//! holds none (`loop_writing`), and the loop takes none while a caller writes (`busy`).

use std::io::{self, Write};
use std::sync::{Arc, MutexGuard, Weak};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use super::command::Cmd;
use super::conn::{Core, Shared};

/// A send this long after the last write to the socket (the loop's or a caller's) is written at
/// once; sooner, it goes through the loop, which writes a burst in a few large writes while the
/// sender goes on encoding (writes of its own would cost a burst its throughput). About the time
/// the loop takes to wake.
#[cfg(not(test))]
const GAP: Duration = Duration::from_micros(25);
/// None in the library's own tests, so that they write directly as often as they can.
#[cfg(test)]
const GAP: Duration = Duration::ZERO;

/// Larger pending output goes through the loop: a sending thread does not copy megabytes.
const MAX_BYTES: usize = 64 << 10;

/// The direct-write state of a connection, under its `core` lock.
#[derive(Default)]
pub struct DirectWrite {
    /// The current plain-TCP link's socket, while the loop's link holds it (`Stream::Plain`): dead
    /// between links, and for TLS.
    pub socket: Weak<TcpStream>,
    /// Counts links: what was taken for one link is never written to the next.
    pub link: u64,
    /// A caller is writing: the loop takes no bytes from the session meanwhile.
    pub busy: bool,
    /// The loop holds bytes taken from the session and not yet written: no caller writes meanwhile.
    pub loop_writing: bool,
    /// Bytes a caller took and the socket did not all accept: the loop writes them, from `pos`, before
    /// anything else. Empty otherwise (its allocation is reused).
    pub buf: Vec<u8>,
    pub pos: usize,
    /// When bytes were last written to the socket, by a caller or the loop.
    last: Option<Instant>,
    /// Direct writes, and those the socket did not take whole (for tests).
    #[cfg(test)]
    pub writes: u64,
    #[cfg(test)]
    pub handed_over: u64,
}

impl DirectWrite {
    /// A new link is starting: nothing of the last one carries over.
    pub fn new_link(&mut self) {
        self.link += 1;
        self.socket = Weak::new();
        self.buf.clear();
        self.pos = 0;
        self.loop_writing = false;
        self.last = None;
    }

    /// The loop wrote to the socket (at `now`): a burst is under way.
    pub fn loop_wrote(&mut self, now: Instant) {
        self.last = Some(now);
    }

    /// The loop's turn to take bytes: what a caller left over, if anything, into `wbuf` (empty),
    /// starting at the returned offset. None: take from the session as usual.
    pub fn take_leftover(&mut self, wbuf: &mut Vec<u8>) -> Option<usize> {
        if self.buf.is_empty() {
            return None;
        }
        std::mem::swap(&mut self.buf, wbuf);
        Some(std::mem::take(&mut self.pos))
    }
}

/// After a frame was queued by an API call: writes the pending bytes from this thread when the link
/// is idle, else (or for what the socket did not take) asks the loop to flush, once per batch.
pub(crate) fn flush<'a>(shared: &'a Shared, mut core: MutexGuard<'a, Core>) {
    let mut room = false;
    if let Some(socket) = idle_socket(&mut core) {
        let link = core.direct.link;
        let mut buf = std::mem::take(&mut core.direct.buf);
        core.session.copy_transmit(&mut buf);
        core.direct.busy = true;
        drop(core);
        let written = write_some(&socket, &buf);
        drop(socket);
        let whole = written == buf.len();
        if whole && buf.capacity() > 4 * MAX_BYTES {
            // Only copies of at most `MAX_BYTES` come here (`copy_transmit`), but a buffer that
            // grew anyway is not kept where sends are small (and is freed with no lock held).
            buf = Vec::new();
        }
        core = shared.lock_core();
        core.direct.busy = false;
        if core.direct.link == link {
            core.session.transmitted(written, Instant::now());
            #[cfg(test)]
            {
                core.direct.writes += 1;
                core.direct.handed_over += u64::from(!whole);
            }
            if !whole {
                core.direct.pos = written;
            } else {
                buf.clear();
            }
        } else {
            buf.clear(); // the link it was for is gone, with whatever it did not take
        }
        core.direct.buf = buf;
        room = core.out_waiters > 0 && core.session.pending_out() < shared.opts.max_out_bytes;
    }
    // Bytes left (the socket's refusal, or frames queued while this thread wrote) are the loop's.
    let rest = !core.direct.buf.is_empty() || core.session.has_transmit();
    let wake = rest && !std::mem::replace(&mut core.flush_queued, true);
    drop(core);
    if room {
        shared.cv.notify_all();
    }
    if wake {
        shared.rt.command(Cmd::Flush(shared.id));
    }
}

/// The socket to write to now, if the link is idle: nothing is being written or waits to be, the
/// loop has no event to pass on (an `on_send` copy, a close), the bytes are few, and nothing was
/// written just now.
fn idle_socket(core: &mut Core) -> Option<Arc<TcpStream>> {
    let d = &core.direct;
    if core.flush_queued
        || d.busy
        || d.loop_writing
        || !d.buf.is_empty()
        || core.session.peek_event().is_some()
        || !core.session.has_transmit()
        || core.session.pending_out() > MAX_BYTES
    {
        return None;
    }
    let now = Instant::now();
    if d.last
        .is_some_and(|t| now.saturating_duration_since(t) < GAP)
    {
        return None;
    }
    let socket = d.socket.upgrade()?;
    core.direct.last = Some(now);
    Some(socket)
}

/// Writes what the socket takes now, without blocking (the socket is non-blocking); a failure
/// writes nothing more and is left for the loop's own write to find and report.
fn write_some(socket: &TcpStream, buf: &[u8]) -> usize {
    let mut written = 0;
    while written < buf.len() {
        match (&*socket).write(&buf[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    written
}

#[cfg(test)]
mod tests {
    //! Against a fake server (a broker cannot be told to stop reading): frames written from the
    //! sending threads and by the loop arrive whole and in order, and the bytes a direct write could
    //! not write are written by the loop before anything after them.

    use std::io::{BufRead, BufReader, Write as _};
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    use crate::client::Connection;
    use crate::options::Options;

    const T: Duration = Duration::from_secs(20);

    /// One connection: answers CONNECT, then (once `go` says so) reads every frame, answers those
    /// with a `receipt`, and reports each SEND as (its `seq` header, its body length).
    fn server(go: mpsc::Receiver<()>, seen: mpsc::Sender<(String, usize)>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // A small receive buffer (inherited by the accepted socket) keeps the client's socket
        // filling up, so that direct writes are often partial.
        let small: libc::c_int = 4096;
        // SAFETY: a valid socket and a c_int option of the size given.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&listener),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&small as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            let mut frame = Vec::new();
            let mut connected = false;
            while reader.read_until(0, &mut frame).unwrap_or(0) > 0 {
                let text = String::from_utf8_lossy(&frame).into_owned();
                frame.clear();
                let text = text.trim_start_matches(['\n', '\r']);
                let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                        .map(str::to_owned)
                };
                if head.starts_with("CONNECT") {
                    out.write_all(b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0")
                        .unwrap();
                    if !connected {
                        connected = true;
                        // Stop reading until the test has filled the socket.
                        let _ = go.recv();
                    }
                    continue;
                }
                if head.starts_with("SEND") {
                    let body = body.trim_end_matches('\0');
                    let _ = seen.send((header("seq").unwrap_or_default(), body.len()));
                }
                if let Some(r) = header("receipt") {
                    let reply = format!("RECEIPT\nreceipt-id:{r}\n\n\0");
                    if out.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            }
        });
        port
    }

    fn connect(port: u16) -> Connection {
        let mut o = Options::new().host("127.0.0.1", port);
        o.send_timeout = T;
        let c = Connection::new(o).unwrap();
        c.connect(None, None, &[], true).unwrap();
        c
    }

    #[test]
    fn what_a_full_socket_did_not_take_is_written_by_the_loop_first() {
        let (go_tx, go) = mpsc::channel();
        let (seen_tx, seen) = mpsc::channel();
        let c = connect(server(go, seen_tx));
        // Large frames, one at a time, until a direct write finds the socket full (the server is
        // not reading): its rest goes to the loop, and later frames queue behind it.
        let body = vec![b'x'; 40 << 10];
        let mut sent = 0;
        while c.shared.lock_core().direct.handed_over == 0 {
            assert!(sent < 1000, "no direct write ever filled the socket");
            c.send("/queue/a", &body, None, &[("seq", &sent.to_string())])
                .unwrap();
            sent += 1;
        }
        for _ in 0..3 {
            c.send("/queue/a", &body, None, &[("seq", &sent.to_string())])
                .unwrap();
            sent += 1;
        }
        go_tx.send(()).unwrap();
        for n in 0..sent {
            let (seq, len) = seen.recv_timeout(T).unwrap();
            assert_eq!((seq, len), (n.to_string(), body.len()), "frame {n}");
        }
        c.send("/queue/a", b"end", None, &[("receipt", "r")])
            .unwrap();
        c.wait_receipt("r", T).unwrap();
    }

    #[test]
    fn frames_from_many_threads_arrive_whole_and_in_each_threads_order() {
        const THREADS: usize = 4;
        const EACH: usize = 3000;
        let (go_tx, go) = mpsc::channel();
        let (seen_tx, seen) = mpsc::channel();
        let c = Arc::new(connect(server(go, seen_tx)));
        go_tx.send(()).unwrap();
        let start = Arc::new(Barrier::new(THREADS));
        let senders: Vec<_> = (0..THREADS)
            .map(|t| {
                let (c, start) = (c.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for i in 0..EACH {
                        // Bodies of varied sizes, so that writes end mid-frame.
                        let body = vec![b'a' + (i % 26) as u8; (i * 97) % 9000];
                        c.send("/queue/a", &body, None, &[("seq", &format!("{t}-{i}"))])
                            .unwrap();
                        // Now and then let the link go idle, so that sends are written directly
                        // while other threads' sends queue (a bounded wait: others may keep it busy).
                        if i % 3 == 0 {
                            for _ in 0..1000 {
                                if c.shared.lock_core().session.pending_out() == 0 {
                                    break;
                                }
                                std::thread::yield_now();
                            }
                        }
                    }
                })
            })
            .collect();
        let mut next = [0usize; THREADS];
        for _ in 0..THREADS * EACH {
            let (seq, len) = seen.recv_timeout(T).unwrap();
            let (t, i) = seq.split_once('-').unwrap();
            let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s frames out of order");
            assert_eq!(len, (i * 97) % 9000, "frame {seq} not whole");
            next[t] += 1;
        }
        for s in senders {
            s.join().unwrap();
        }
        let d = &c.shared.lock_core().direct;
        assert!(d.writes > 0, "no frame was written directly");
    }
}
