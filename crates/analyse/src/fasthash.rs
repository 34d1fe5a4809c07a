//! A small, fast, non-cryptographic 64-bit hash for in-process tables (the duplicate-line window,
//! the namespace tables): std's SipHash resists hash flooding, which logs we read ourselves do
//! not need, and costs several times more per byte.

use std::hash::{BuildHasherDefault, Hasher};

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xbf58_476d_1ce4_e5b9;

/// Multiplies into 128 bits and folds: every input bit reaches every output bit.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// The hash of `bytes`: four independent lanes of eight bytes (so the multiplications overlap),
/// then eight at a time.
#[inline]
pub fn hash64(bytes: &[u8]) -> u64 {
    let word = |c: &[u8]| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    let mut h = K0 ^ bytes.len() as u64;
    let mut tail = bytes;
    // Lanes only pay off past a few blocks (names and keys are short).
    if bytes.len() >= 64 {
        let mut blocks = bytes.chunks_exact(32);
        let mut lanes = [K0, K1, !K0, !K1];
        for b in &mut blocks {
            for (i, lane) in lanes.iter_mut().enumerate() {
                *lane = fold(*lane ^ word(&b[8 * i..]), K1);
            }
        }
        for lane in lanes {
            h = fold(h ^ lane, K0);
        }
        tail = blocks.remainder();
    }
    let mut chunks = tail.chunks_exact(8);
    for c in &mut chunks {
        h = fold(h ^ word(c), K1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = fold(h ^ u64::from_le_bytes(last), K1);
    }
    fold(h, K0)
}

/// [`hash64`] as a [`Hasher`], for `HashMap`s keyed by strings or integers.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = fold(self.0 ^ hash64(bytes), K1);
    }

    fn write_u8(&mut self, n: u8) {
        // `str`'s Hash ends with a 0xff byte: one mix, not a whole `hash64`.
        self.0 = fold(self.0 ^ u64::from(n), K0);
    }

    fn write_u64(&mut self, n: u64) {
        // Keys that are already hashes need one mix only.
        self.0 = fold(self.0 ^ n, K1);
    }
}

/// Builds [`FastHasher`]s.
pub type FastBuild = BuildHasherDefault<FastHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_identical_lines_differ() {
        let a = hash64(br#"{"at":"2026-01-01T00:00:00.1Z","ns":"X"}"#);
        let b = hash64(br#"{"at":"2026-01-01T00:00:00.2Z","ns":"X"}"#);
        assert_ne!(a, b);
        assert_ne!(hash64(b""), hash64(b"\0"));
        assert_ne!(hash64(b"abcdefgh"), hash64(b"abcdefgh\0"));
    }
}
