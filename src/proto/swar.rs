//! Byte tests eight at a time in a plain 64-bit register ("SIMD within a register"): header lines
//! and values are short, so this beats both a loop per byte and a vector search with its set-up.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that equals `c`. Exact for the lowest such byte; a byte above a
/// true match may be flagged too, which neither a first position nor an "any" test minds.
#[inline]
pub(crate) fn eq(w: u64, c: u8) -> u64 {
    let x = w ^ (LO * c as u64);
    x.wrapping_sub(LO) & !x & HI
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
                }
            }
        }
    }
}
