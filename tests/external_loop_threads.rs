//! The application-driven loop starts no thread: a test binary of its own (its only test) that
//! counts the process's threads in /proc/self/task around a whole connect, send, receive and
//! disconnect of two loop connections against RabbitMQ.

mod common;

use std::time::{Duration, Instant};

use common::*;
use stomp::*;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn loop_connections_start_no_thread() {
    let before = threads();
    let ev = EventLoop::new().unwrap();
    let mut o = Broker::RabbitMq.options(Version::V1_2);
    o.receive_queue = 16;
    o.heartbeats = (1000, 1000);
    let (a, b) = (ev.connection(o.clone()).unwrap(), ev.connection(o).unwrap());
    let drive = |what: &str, done: &dyn Fn() -> bool| {
        let end = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(
                Instant::now() < end,
                "timed out driving the loop until {what}"
            );
            let wait = ev.timeout().map_or(Duration::from_millis(100), |t| {
                t.min(Duration::from_millis(100))
            });
            ev.process(wait).unwrap();
        }
    };
    a.connect(login(), passcode(), &[], false).unwrap();
    b.connect(login(), passcode(), &[], false).unwrap();
    drive("connected", &|| a.is_connected() && b.is_connected());
    let queue = format!("/queue/stomp-ext-loop-threads-{}", std::process::id());
    a.subscribe(&queue, None, AckMode::Auto, &[("receipt", "s")])
        .unwrap();
    drive("subscribed", &|| {
        a.subscriptions().len() == 1 && a.wait_receipt("s", Duration::ZERO).is_ok()
    });
    b.send(&queue, b"one", None, &[]).unwrap();
    drive("received", &|| a.queued() == 1);
    assert_eq!(a.receive(Duration::ZERO).unwrap().body(), b"one");
    let during = threads();
    a.disconnect(None, Duration::ZERO).unwrap();
    b.disconnect(None, Duration::ZERO).unwrap();
    drive("closed", &|| !a.is_connected() && !b.is_connected());
    drop((a, b, ev));
    assert_eq!(during, before, "threads while connected");
    assert_eq!(threads(), before, "threads after");
}
