//! `FaultProxy`: a TCP relay of the tests' own between a client and a real broker, on 127.0.0.1,
//! that can drop every link, stall them (stop forwarding, keep the sockets open), and restore them.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub struct FaultProxy {
    port: u16,
    state: Arc<State>,
}

struct State {
    upstream: u16,
    stalled: Mutex<bool>,
    cv: Condvar,
    links: Mutex<Vec<(u64, TcpStream, TcpStream)>>,
    /// Bumped by `drop_links`: pumps of older generations stop.
    generation: AtomicU64,
    /// While set, new connections are closed at once (the broker looks down).
    refusing: AtomicBool,
    accepted: AtomicU64,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            upstream,
            stalled: Mutex::new(false),
            cv: Condvar::new(),
            links: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            refusing: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                st.accepted.fetch_add(1, Ordering::SeqCst);
                if st.refusing.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", st.upstream)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let generation = st.generation.load(Ordering::SeqCst);
                st.links.lock().unwrap().push((
                    generation,
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                ));
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let st = st.clone();
                    std::thread::spawn(move || pump(st, generation, from, to));
                }
            }
        });
        FaultProxy { port, state }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Closes every current link, both sides, at once.
    pub fn drop_links(&self) {
        self.state.generation.fetch_add(1, Ordering::SeqCst);
        for (_, a, b) in self.state.links.lock().unwrap().drain(..) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
        self.state.cv.notify_all();
    }

    /// Stops forwarding in both directions; sockets stay open.
    pub fn stall(&self) {
        *self.state.stalled.lock().unwrap() = true;
    }

    /// Forwards again.
    pub fn restore(&self) {
        *self.state.stalled.lock().unwrap() = false;
        self.state.cv.notify_all();
    }

    /// While on, new connections are closed at once.
    pub fn refuse(&self, on: bool) {
        self.state.refusing.store(on, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.refuse(true);
        self.drop_links();
    }
}

fn pump(st: Arc<State>, generation: u64, mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut stalled = st.stalled.lock().unwrap();
            while *stalled && st.generation.load(Ordering::SeqCst) == generation {
                stalled = st
                    .cv
                    .wait_timeout(stalled, Duration::from_millis(100))
                    .unwrap()
                    .0;
            }
        }
        if st.generation.load(Ordering::SeqCst) != generation || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
