//! Finding the lines of a frame's head: where each ends, its first colon, and whether it holds a
//! byte that needs a second look (a backslash, a NUL, a byte over 0x7f).
//!
//! The bytes are classified 64 at a time into bit masks (SSE2 on x86_64, which every x86_64 CPU
//! has; plain 64-bit words elsewhere), and the lines are then walked through the masks. A head of
//! RabbitMQ's is about 230 bytes in 8 lines: four groups, rather than a scan started again at every
//! line, with a branch per line rather than per byte. This was most of the cost of decoding a
//! MESSAGE.

/// Classes of the bytes that end up in `LineScan::flags`.
pub(crate) const BACKSLASH: u8 = 4;
pub(crate) const NUL: u8 = 8;
/// Not ASCII: the block needs a UTF-8 check.
pub(crate) const HIGH: u8 = 16;

/// What one line holds, offsets from its first byte: its LF, its first colon, and the classes seen
/// before the LF.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LineScan {
    pub newline: usize,
    pub colon: Option<usize>,
    pub flags: u8,
}

/// Masks of up to 64 bytes from `base`: bit `i` stands for byte `base + i`.
#[derive(Clone, Copy)]
struct Group {
    base: usize,
    len: usize,
    newline: u64,
    colon: u64,
    /// A backslash, a NUL or a byte over 0x7f (told apart only when one turns up).
    odd: u64,
}

/// Walks the lines of `bytes`, keeping the masks of the group it is in between lines.
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    group: Group,
}

impl<'a> Lines<'a> {
    pub fn new(bytes: &'a [u8]) -> Lines<'a> {
        Lines {
            bytes,
            group: Group {
                base: 0,
                len: 0,
                newline: 0,
                colon: 0,
                odd: 0,
            },
        }
    }

    /// The line that starts at `start`; `None` if its LF has not arrived yet.
    #[inline]
    pub fn line(&mut self, start: usize) -> Option<LineScan> {
        let (mut colon, mut flags) = (None, 0);
        let mut at = start;
        loop {
            let g = &mut self.group;
            if at < g.base || at >= g.base + g.len {
                if at >= self.bytes.len() {
                    return None;
                }
                *g = group(self.bytes, at);
            }
            let shift = at - g.base;
            let valid = g.len - shift;
            let newline = g.newline >> shift;
            // The bytes of this group that belong to the line.
            let keep = if newline != 0 {
                (newline & newline.wrapping_neg()) - 1
            } else if valid == 64 {
                u64::MAX
            } else {
                (1 << valid) - 1
            };
            if colon.is_none() {
                let c = (g.colon >> shift) & keep;
                if c != 0 {
                    colon = Some(at - start + c.trailing_zeros() as usize);
                }
            }
            let mut odd = (g.odd >> shift) & keep;
            while odd != 0 {
                flags |= class(self.bytes[at + odd.trailing_zeros() as usize]);
                odd &= odd - 1;
            }
            if newline != 0 {
                return Some(LineScan {
                    newline: at - start + newline.trailing_zeros() as usize,
                    colon,
                    flags,
                });
            }
            at = g.base + g.len;
        }
    }
}

fn class(b: u8) -> u8 {
    match b {
        b'\\' => BACKSLASH,
        0 => NUL,
        _ if b > 0x7f => HIGH,
        _ => 0,
    }
}

/// The masks of `bytes[base..]`, up to 64 bytes of it.
#[inline(never)]
fn group(bytes: &[u8], base: usize) -> Group {
    let rest = &bytes[base..];
    if rest.len() >= 64 {
        let (newline, colon, odd) = masks64(rest[..64].try_into().expect("64 bytes"));
        return Group {
            base,
            len: 64,
            newline,
            colon,
            odd,
        };
    }
    let mut g = Group {
        base,
        len: rest.len(),
        newline: 0,
        colon: 0,
        odd: 0,
    };
    for (i, &b) in rest.iter().enumerate() {
        g.newline |= u64::from(b == b'\n') << i;
        g.colon |= u64::from(b == b':') << i;
        g.odd |= u64::from(class(b) != 0) << i;
    }
    g
}

/// Newline, colon and odd masks of the 64 bytes at `at`, if there are 64 bytes there.
#[inline]
pub(crate) fn masks_at(bytes: &[u8], at: usize) -> Option<(u64, u64, u64)> {
    Some(masks64(bytes.get(at..at + 64)?.try_into().ok()?))
}

/// Newline, colon and odd masks of 64 bytes, sixteen at a time with SSE2.
#[cfg(target_arch = "x86_64")]
fn masks64(bytes: &[u8; 64]) -> (u64, u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let (mut newline, mut colon, mut odd) = (0u64, 0u64, 0u64);
    for (k, chunk) in bytes.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these instructions always exist; the
        // load reads the 16 bytes of `chunk` (unaligned loads have no alignment requirement).
        let (n, c, o) = unsafe {
            let v: __m128i = _mm_loadu_si128(chunk.as_ptr().cast());
            let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            let n = _mm_movemask_epi8(eq(b'\n')) as u16;
            let c = _mm_movemask_epi8(eq(b':')) as u16;
            // The top bit of each byte over 0x7f is set in `v` itself.
            let o = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(eq(b'\\'), eq(0)), v)) as u16;
            (n, c, o)
        };
        newline |= u64::from(n) << (16 * k);
        colon |= u64::from(c) << (16 * k);
        odd |= u64::from(o) << (16 * k);
    }
    (newline, colon, odd)
}

/// Newline, colon and odd masks of 64 bytes, eight at a time in a 64-bit word: the other targets'
/// `masks64`, compiled on x86_64 too so that the tests hold it to the SSE2 one.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn masks64_words(bytes: &[u8; 64]) -> (u64, u64, u64) {
    use super::swar::{HI, word};
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The top bit of each byte of `w` equal to `b`, exactly: unlike `swar::eq`, no borrow between
    // bytes flags the byte above a match, which a mask of every position needs.
    let eq = |w: u64, b: u8| {
        let x = w ^ (u64::from(b) * 0x0101_0101_0101_0101);
        !(((x & LO7) + LO7) | x) & HI
    };
    // Those eight top bits as the low eight bits.
    let gather = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8;
    let (mut newline, mut colon, mut odd) = (0u64, 0u64, 0u64);
    for (k, chunk) in bytes.chunks_exact(8).enumerate() {
        let w = word(chunk);
        newline |= u64::from(gather(eq(w, b'\n'))) << (8 * k);
        colon |= u64::from(gather(eq(w, b':'))) << (8 * k);
        odd |= u64::from(gather(eq(w, b'\\') | eq(w, 0) | (w & HI))) << (8 * k);
    }
    (newline, colon, odd)
}

#[cfg(not(target_arch = "x86_64"))]
use masks64_words as masks64;

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain answer, a byte at a time.
    fn reference(bytes: &[u8], start: usize) -> Option<LineScan> {
        let line = &bytes[start..];
        let newline = line.iter().position(|&b| b == b'\n')?;
        Some(LineScan {
            newline,
            colon: line[..newline].iter().position(|&b| b == b':'),
            flags: line[..newline].iter().fold(0, |f, &b| f | class(b)),
        })
    }

    #[test]
    fn every_line_at_every_offset_agrees_with_a_byte_at_a_time_scan() {
        // Lines of many lengths across group boundaries, with every odd byte somewhere.
        let mut bytes = Vec::new();
        for len in 0..150 {
            let start = bytes.len();
            bytes.extend((0..len).map(|i| b"ab:c\\d\0e\xc3f"[(i * 7 + len) % 10]));
            if len % 3 == 0 {
                bytes.truncate(start + len / 2); // some with fewer odd bytes
            }
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(b"no newline: at the end");
        let mut lines = Lines::new(&bytes);
        let mut start = 0;
        while let Some(want) = reference(&bytes, start) {
            assert_eq!(lines.line(start), Some(want), "line at {start}");
            start += reference(&bytes, start).unwrap().newline + 1;
        }
        assert_eq!(lines.line(start), None);
        // And from every offset, with a fresh walker and one that has moved on.
        for s in 0..bytes.len() {
            assert_eq!(Lines::new(&bytes).line(s), reference(&bytes, s), "at {s}");
            assert_eq!(lines.line(s), reference(&bytes, s), "reused, at {s}");
        }
    }

    #[test]
    fn the_word_masks_agree_with_the_byte_at_a_time_classes() {
        // Every byte value at every position, next to each special byte, for the portable masks
        // (and, on x86_64, the SSE2 ones they stand in for elsewhere).
        for at in 0..64 {
            for b in 0..=255u8 {
                for next in [b'x', b'\n', b':', b'\\', 0, 0x80] {
                    let mut bytes = [b'x'; 64];
                    bytes[at] = b;
                    bytes[(at + 1) % 64] = next;
                    let want = bytes
                        .iter()
                        .enumerate()
                        .fold((0, 0, 0), |(n, c, o), (i, &x)| {
                            (
                                n | u64::from(x == b'\n') << i,
                                c | u64::from(x == b':') << i,
                                o | u64::from(class(x) != 0) << i,
                            )
                        });
                    assert_eq!(
                        masks64_words(&bytes),
                        want,
                        "{b:#x} at {at}, then {next:#x}"
                    );
                    assert_eq!(masks64(&bytes), want, "{b:#x} at {at}, then {next:#x}");
                }
            }
        }
    }

    #[test]
    fn high_bytes_next_to_specials_are_each_seen() {
        for at in 0..64 {
            for b in [b'\\', 0, 0x80, 0xff, b':', b'\n'] {
                let mut bytes = vec![b'x'; 80];
                bytes[at] = b;
                bytes[70] = b'\n';
                assert_eq!(
                    Lines::new(&bytes).line(0),
                    reference(&bytes, 0),
                    "{b} at {at}"
                );
            }
        }
    }
}
