//! Connects are paced: many connections connecting at once keep at most a fixed number of connects
//! (TCP dial plus STOMP handshake) in flight, so a broker's accept queue is not flooded.
//!
//! A fake server (named so: no broker reports how many handshakes it holds) answers each CONNECT
//! 20 ms late and records how many it held unanswered at once.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use stomp::{Connection, Frame, Listener, Options};

const CONNECTIONS: usize = 300;
/// The library's cap (MAX_CONNECTING in runtime/event_loop.rs).
const CAP: usize = 128;

#[derive(Default)]
struct Handshakes {
    now: AtomicUsize,
    most: AtomicUsize,
}

fn fake_slow_handshake_server(h: Arc<Handshakes>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(CONNECTIONS) {
            let Ok(mut stream) = stream else { return };
            let h = h.clone();
            std::thread::spawn(move || {
                let n = h.now.fetch_add(1, Ordering::SeqCst) + 1;
                h.most.fetch_max(n, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut connect = Vec::new();
                let _ = reader.read_until(0, &mut connect);
                // The slowness being simulated: a broker busy with other handshakes.
                std::thread::sleep(Duration::from_millis(20));
                h.now.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.write_all(b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0");
                // Hold the link open until the client goes.
                let mut rest = Vec::new();
                let _ = reader.read_until(0xff, &mut rest);
            });
        }
    });
    port
}

struct Count(Arc<(Mutex<usize>, Condvar)>);

impl Listener for Count {
    fn on_connected(&self, _: &Frame) {
        let (m, cv) = &*self.0;
        *m.lock().unwrap() += 1;
        cv.notify_all();
    }
}

#[test]
fn many_connects_at_once_are_paced() {
    let h = Arc::new(Handshakes::default());
    let port = fake_slow_handshake_server(h.clone());
    let connected = Arc::new((Mutex::new(0usize), Condvar::new()));
    let started = Instant::now();
    let conns: Vec<Connection> = (0..CONNECTIONS)
        .map(|_| {
            let mut o = Options::new().host("127.0.0.1", port);
            o.connect_timeout = Duration::from_secs(30);
            let c = Connection::new(o).unwrap();
            c.set_listener("count", Arc::new(Count(connected.clone())));
            c.connect(None, None, &[], false).unwrap();
            c
        })
        .collect();
    let (m, cv) = &*connected;
    let (n, _) = cv
        .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(60), |n| {
            *n < CONNECTIONS
        })
        .unwrap();
    let most = h.most.load(Ordering::SeqCst);
    println!(
        "{} connections up in {:?}; at most {} handshakes in flight at once (cap {})",
        *n,
        started.elapsed(),
        most,
        CAP
    );
    assert_eq!(*n, CONNECTIONS, "every connection came up");
    assert!(
        most <= CAP,
        "{most} handshakes at once, over the cap of {CAP}"
    );
    assert!(
        most >= CAP / 2,
        "{most}: the cap is used, connects are not serialised"
    );
    drop(n);
    drop(conns);
}
