//! Byte tests eight at a time in a plain 64-bit register ("SIMD within a register"): header lines
//! and values are short, so this beats both a loop per byte and a vector search with its set-up.

const LO: u64 = 0x0101_0101_0101_0101;
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that equals `c`. Exact for the lowest such byte; a byte above a
/// true match may be flagged too, which neither a first position nor an "any" test minds.
#[inline]
pub(crate) fn eq(w: u64, c: u8) -> u64 {
    let x = w ^ (LO * c as u64);
    x.wrapping_sub(LO) & !x & HI
}

/// The high bit of each byte of `w` below `n` (at most 128). Exact for "is any byte below `n`";
/// as with `eq`, a byte above a true match may be flagged too.
#[inline]
pub(crate) fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(LO * n as u64) & !w & HI
}

/// The high bit of each byte of `w` that is zero, and of no other (exact, unlike `eq`).
#[inline]
pub(crate) fn zeros(w: u64) -> u64 {
    !(((w & !HI).wrapping_add(!HI)) | w) & HI
}

/// Every position of a zero byte in `bytes`, in order, a word at a time.
pub(crate) fn zero_positions(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut chunks = bytes.chunks(8);
    let (mut next, mut base, mut mask) = (0usize, 0usize, 0u64);
    std::iter::from_fn(move || {
        while mask == 0 {
            let chunk = chunks.next()?;
            base = next;
            next += chunk.len();
            let w = match chunk.try_into() {
                Ok(whole) => u64::from_le_bytes(whole),
                Err(_) => {
                    // A short last word, padded with bytes that are not zero.
                    let mut w = [0xff; 8];
                    w[..chunk.len()].copy_from_slice(chunk);
                    u64::from_le_bytes(w)
                }
            };
            mask = zeros(w);
        }
        let at = base + first(mask);
        mask &= mask - 1;
        Some(at)
    })
}

/// The eight bytes at `chunk` as a word, the first byte lowest.
#[inline]
pub(crate) fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().expect("8 bytes"))
}

/// The byte index of the lowest flagged byte of a mask from `eq`.
#[inline]
pub(crate) fn first(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// Position of the first byte of `bytes` in `set` (up to five bytes, ORed masks stay exact for the
/// lowest match).
#[inline]
pub(crate) fn find_any(bytes: &[u8], set: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let w = word(chunk);
        let m = set.iter().fold(0, |m, &c| m | eq(w, c));
        if m != 0 {
            return Some(at + first(m));
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| set.contains(b))
        .map(|i| at + i)
}

/// The OR of `test` over words that together hold every byte of `bytes` (they may overlap, and a
/// short input repeats bytes): a "does any byte match" check with no loop per byte, which is what
/// the short strings of a frame's header need. Zero for an empty input.
#[inline(always)]
pub(crate) fn any(bytes: &[u8], test: impl Fn(u64) -> u64) -> u64 {
    let n = bytes.len();
    if n >= 8 {
        // The last eight bytes, then whole words from the start up to them.
        let mut m = test(word(&bytes[n - 8..]));
        let mut i = 0;
        while i + 8 < n {
            m |= test(word(&bytes[i..i + 8]));
            i += 8;
        }
        m
    } else if n >= 4 {
        let lo = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        let hi = u32::from_le_bytes(bytes[n - 4..].try_into().expect("4 bytes"));
        test(u64::from(lo) | u64::from(hi) << 32)
    } else if n > 0 {
        let w = u64::from(u32::from_le_bytes([
            bytes[0],
            bytes[n / 2],
            bytes[n - 1],
            bytes[0],
        ]));
        test(w | w << 32)
    } else {
        0
    }
}

/// `bytes` as UTF-8: all-ASCII input (the usual header) is checked a word at a time, and only
/// input with a high bit set goes through the full validation.
#[inline]
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if any(bytes, |w| w & HI) == 0 {
        // SAFETY: every byte is below 0x80: ASCII, which is UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_any_agrees_with_a_plain_search_at_every_offset() {
        let set = b"\\\n:\r\0";
        for len in 0..40 {
            for hit in 0..=len {
                for &c in set {
                    // Bytes just above each special one, so borrows between bytes are exercised.
                    let mut v: Vec<u8> = (0..len).map(|i| b"];\x0b\x0e\x01a"[i % 6]).collect();
                    if hit < len {
                        v[hit] = c;
                    }
                    let want = v.iter().position(|b| set.contains(b));
                    assert_eq!(find_any(&v, set), want, "{v:?}");
                    let one = v.iter().position(|&b| b == c);
                    assert_eq!(find_any(&v, &[c]), one, "{v:?} {c}");
                    let any_hit = any(&v, |w| set.iter().fold(0, |m, &c| m | eq(w, c))) != 0;
                    assert_eq!(any_hit, want.is_some(), "{v:?}");
                    let below_hit = any(&v, |w| below(w, c.max(1))) != 0;
                    assert_eq!(below_hit, v.iter().any(|&b| b < c.max(1)), "{v:?} {c}");
                }
            }
        }
    }

    #[test]
    fn zero_positions_are_exact() {
        // Zeros next to ones (where the inexact test borrows), at every offset and length.
        for len in 0..40 {
            for pattern in 0..8u32 {
                let v: Vec<u8> = (0..len)
                    .map(|i| match (i as u32 * 7 + pattern) % 5 {
                        0 => 0,
                        1 => 1,
                        2 => 0x80,
                        3 => 0xff,
                        _ => b'a',
                    })
                    .collect();
                let want: Vec<usize> = (0..len).filter(|&i| v[i] == 0).collect();
                assert_eq!(zero_positions(&v).collect::<Vec<_>>(), want, "{v:?}");
            }
        }
    }

    #[test]
    fn utf8_agrees_with_the_standard_check() {
        let samples: [&[u8]; 9] = [
            b"",
            b"a",
            b"ab",
            b"abc",
            b"plain ascii, longer than a word",
            "h\u{e9}".as_bytes(),
            "\u{e9}t\u{e9} \u{e0} la plage".as_bytes(),
            b"\xff",
            b"abcdefgh\xc3",
        ];
        for s in samples {
            for cut in 0..=s.len() {
                let v = &s[..cut];
                assert_eq!(utf8(v).ok(), std::str::from_utf8(v).ok(), "{v:?}");
            }
        }
        // A high byte at every position of every length.
        for len in 1..20 {
            for at in 0..len {
                let mut v = vec![b'a'; len];
                v[at] = 0x80;
                assert!(utf8(&v).is_err(), "{v:?}");
            }
        }
    }
}
