//! The decoder alone, in memory: nanoseconds per RabbitMQ-like MESSAGE (the frames of
//! bench/fixture_blast.c), no socket and no threads. A figure for work on the decoder, not a test.
//!
//!   cargo run --release --example bench_decode [BODY_BYTES] [FRAMES]

use std::time::Instant;
use stomp::proto::{Decoded, Decoder, Limits, Version};

fn main() {
    let mut args = std::env::args().skip(1);
    let body: usize = args.next().map_or(100, |a| a.parse().expect("BODY_BYTES"));
    let n: usize = args
        .next()
        .map_or(2_000_000, |a| a.parse().expect("FRAMES"));
    // One buffer of 64 KiB-ish worth of frames, fed again and again as a socket would.
    let mut batch = Vec::new();
    let mut per = 0;
    while batch.len() < 60 << 10 {
        let head = format!(
            "MESSAGE\nsubscription:0\ndestination:/queue/bench\n\
             message-id:T_0@@session-fixture@@{per:012x}\nredelivered:false\n\
             ack:T_0@@session-fixture@@{per:012x}\ncontent-type:text/plain\n\
             content-length:{body}\n\n"
        );
        batch.extend_from_slice(head.as_bytes());
        batch.extend((0..body).map(|i| b'a' + (i % 26) as u8));
        batch.push(0);
        per += 1;
    }
    let mut d = Decoder::new(Limits::default());
    d.set_version(Version::V1_2);
    let (mut frames, mut bytes) = (0usize, 0usize);
    let start = Instant::now();
    while frames < n {
        d.push(&batch);
        while let Some(x) = d.next().expect("valid frames") {
            if let Decoded::Frame(f) = x {
                bytes += f.body().len();
                frames += 1;
            }
        }
    }
    let s = start.elapsed().as_secs_f64();
    assert_eq!(bytes, frames * body);
    println!(
        "decode {frames} frames of {} B: {:.1} ns/frame, {:.2} M frames/s",
        batch.len() / per,
        s * 1e9 / frames as f64,
        frames as f64 / s / 1e6
    );
}
