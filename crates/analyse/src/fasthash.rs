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

/// The hash of `bytes`: sixteen bytes per multiplication (two words folded together, as
/// wyhash does), in two independent lanes over 32-byte blocks so the multiplications overlap;
/// the last sixteen bytes read as one (overlapping) block. A fold loses its other word only
/// when one word equals a key, whose bytes are not all ASCII: text cannot do that.
#[inline]
pub fn hash64(bytes: &[u8]) -> u64 {
    let word = |i: usize| {
        let c = &bytes[i..i + 8];
        u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
    };
    let n = bytes.len();
    let mut h = K0 ^ n as u64;
    if n <= 16 {
        let mut last = [0u8; 16];
        last[..n].copy_from_slice(bytes);
        let (a, b) = last.split_at(8);
        let a = u64::from_le_bytes(a.try_into().expect("8 bytes"));
        let b = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        return fold(fold(a ^ K1, b ^ h), K0 ^ n as u64);
    }
    let mut i = 0;
    if n > 32 {
        let (mut s0, mut s1) = (h, !h);
        while i + 32 < n {
            s0 = fold(word(i) ^ K0, word(i + 8) ^ s0);
            s1 = fold(word(i + 16) ^ K1, word(i + 24) ^ s1);
            i += 32;
        }
        h = s0 ^ s1;
    }
    if i + 16 < n {
        h = fold(word(i) ^ K0, word(i + 8) ^ h);
    }
    fold(fold(word(n - 16) ^ K1, word(n - 8) ^ h), K0 ^ n as u64)
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

    fn write_usize(&mut self, n: usize) {
        // A slice's length prefix: one mix, not a whole `hash64`.
        self.0 = fold(self.0 ^ n as u64, K0);
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

    #[test]
    fn every_one_byte_change_of_every_length_differs() {
        let mut seen = std::collections::HashSet::new();
        let base: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
        for n in 0..base.len() {
            assert!(seen.insert(hash64(&base[..n])), "length {n}");
            for i in 0..n {
                let mut v = base[..n].to_vec();
                v[i] ^= 0x01;
                assert!(seen.insert(hash64(&v)), "length {n}, byte {i}");
            }
        }
    }
}
