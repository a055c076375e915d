//! The fuzz targets' checks (`fuzz/checks.rs`) on stable Rust, without libFuzzer: replays the
//! committed corpus (`fuzz/corpus/<target>/`), then mutates it (bit flips, splices, runs that cross
//! the decoder's limits, STOMP tokens) for a bounded number of inputs.
//!
//! Deterministic by default. `STOMP_FUZZ_SEED=<n>` changes the seed; `STOMP_FUZZ_SECS=<s>` runs each
//! target for that long instead of a fixed count (`scripts/fuzz.sh` does, when there is no nightly
//! toolchain). A failing input is written to `target/fuzz-failures/` to be replayed or added to the
//! corpus.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Inputs each target gets in a plain test run (a few seconds each in release).
const ITERATIONS: usize = 100_000;
/// Longest input a mutation makes (the decoder's default limits are far above it; the small ones not).
const MAX_LEN: usize = 16 << 10;

/// splitmix64: a seeded generator good enough to pick mutations, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (which must not be 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The committed corpus of a target, in name order.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("a corpus file"))
        })
        .collect()
}

/// Runs `check` on `input`; if it panics, saves the input for replay and fails with where it is.
fn run(target: &str, check: fn(&[u8]), input: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(input))) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let path = dir.join(format!("{target}-{hash:016x}"));
        let _ = std::fs::write(&path, input);
        eprintln!(
            "{target}: the input above failed; saved as {} ({} bytes, starts {:?})",
            path.display(),
            input.len(),
            String::from_utf8_lossy(&input[..input.len().min(120)])
        );
        resume_unwind(panic);
    }
}

/// Byte strings that matter to STOMP, for insertion.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\r",
    b"\0",
    b":",
    b"\\",
    b"\\c",
    b"\\n",
    b"\\r",
    b"\\t",
    b"\n\n",
    b"\0\n",
    b"MESSAGE\n",
    b"CONNECTED\n",
    b"ERROR\n",
    b"RECEIPT\nreceipt-id:bye\n\n\0",
    b"RECEIPT\nreceipt-id:r1\n\n\0",
    b"MESSAGE\nsubscription:s1\nmessage-id:1\nack:1\n\nhi\0",
    b"content-length:",
    b"content-length:0\n",
    b"content-length:5\n",
    b"content-length:18446744073709551616\n",
    b"version:1.2\n",
    b"version:1.9\n",
    b"heart-beat:1,1\n",
    b"\xc3\xa9",
    b"\xff\xfe",
];

/// Runs that cross the small limits of `checks::limits_of` by one byte, or sit right on them.
const RUN_LENGTHS: &[usize] = &[
    6, 7, 8, 11, 12, 13, 23, 24, 25, 63, 64, 65, 299, 300, 301, 999, 1000, 1001, 4096,
];

/// One to four mutations of `input`, some borrowing from `others`.
fn mutate(rng: &mut Rng, input: &[u8], others: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(10) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = *rng.pick(b"\0\n\r:\\09 aZ\xff\x80");
            }
            2 => {
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            3 if !v.is_empty() => {
                let end = (at + 1 + rng.below(32)).min(v.len());
                v.drain(at.min(end)..end);
            }
            4 if !v.is_empty() => {
                let from = rng.below(v.len());
                let end = (from + 1 + rng.below(64)).min(v.len());
                let copy = v[from..end].to_vec();
                v.splice(at..at, copy);
            }
            5 => {
                let other = &rng.pick(others).1;
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let end = (from + 1 + rng.below(256)).min(other.len());
                    v.splice(at..at, other[from..end].iter().copied());
                }
            }
            6 => {
                let n = *rng.pick(RUN_LENGTHS);
                let byte = *rng.pick(b"a\0\n:\\x");
                v.splice(at..at, std::iter::repeat_n(byte, n));
            }
            7 => {
                let n = 1 + rng.below(40);
                let line = *rng.pick(&[&b"h:v\n"[..], b"content-length:1\n", b"\n", b"a:\\c\n"]);
                v.splice(at..at, line.repeat(n));
            }
            8 => {
                let token = *rng.pick(TOKENS);
                v.splice(at..at, token.iter().copied());
            }
            _ => {
                // The set-up bytes: another version, other limits, other cuts or operations.
                if v.len() >= 2 {
                    let i = rng.below(2);
                    v[i] = rng.next() as u8;
                }
            }
        }
    }
    v.truncate(MAX_LEN);
    v
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

fn replay(target: &str, check: fn(&[u8])) {
    let inputs = corpus(target);
    assert!(!inputs.is_empty(), "the {target} corpus is empty");
    for (_, input) in &inputs {
        run(target, check, input);
    }
    println!("{target}: {} corpus inputs replayed", inputs.len());
}

fn mutations(target: &str, check: fn(&[u8])) {
    let env_seed = env_u64("STOMP_FUZZ_SEED").unwrap_or(0);
    let seed = 0x5354_4f4d_5000 ^ env_seed;
    let deadline = env_u64("STOMP_FUZZ_SECS").map(|s| Instant::now() + Duration::from_secs(s));
    let count = if cfg!(debug_assertions) {
        ITERATIONS / 20 // unoptimised code is that much slower; the release run does the rest
    } else {
        ITERATIONS
    };
    let inputs = corpus(target);
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut execs = 0usize;
    loop {
        match deadline {
            Some(d) if Instant::now() >= d => break,
            None if execs >= count => break,
            _ => {}
        }
        let base = &rng.pick(&inputs).1.clone();
        let input = mutate(&mut rng, base, &inputs);
        run(target, check, &input);
        execs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{target}: stable fallback, STOMP_FUZZ_SEED={env_seed}: {execs} executions in {secs:.1} s \
         ({:.0} exec/s), corpus {} inputs, coverage: not measured without libFuzzer",
        execs as f64 / secs.max(1e-9),
        inputs.len()
    );
}

#[test]
fn decoder_corpus_replays_cleanly() {
    replay("decoder", checks::check_decoder);
}

#[test]
fn session_corpus_replays_cleanly() {
    replay("session", checks::check_session);
}

#[test]
fn decoder_survives_mutations() {
    mutations("decoder", checks::check_decoder);
}

#[test]
fn session_survives_mutations() {
    mutations("session", checks::check_session);
}
