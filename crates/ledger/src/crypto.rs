//! Hashes and keys used by blocks and the lottery: blake2b-256/224 (as Cardano uses them) and
//! ed25519 pool keys derived from 32-byte seeds.

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

/// A 32-byte hash (blake2b-256): block hashes, body hashes, transaction ids, nonces.
pub type Hash32 = [u8; 32];

/// blake2b-256 of `data`.
pub fn blake2b_256(data: &[u8]) -> Hash32 {
    let h = blake2b_simd::Params::new().hash_length(32).hash(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(h.as_bytes());
    out
}

/// blake2b-256 of the concatenation of `parts`.
pub fn blake2b_256_parts(parts: &[&[u8]]) -> Hash32 {
    let mut st = blake2b_simd::Params::new().hash_length(32).to_state();
    for p in parts {
        st.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(st.finalize().as_bytes());
    out
}

/// blake2b-224 of `data` (key hashes).
pub fn blake2b_224(data: &[u8]) -> [u8; 28] {
    let h = blake2b_simd::Params::new().hash_length(28).hash(data);
    let mut out = [0u8; 28];
    out.copy_from_slice(h.as_bytes());
    out
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Parses lowercase or uppercase hex into exactly `N` bytes.
pub fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for i in 0..N {
        out[i] = nib(b[2 * i])? << 4 | nib(b[2 * i + 1])?;
    }
    Some(out)
}

/// A stake pool's block-issuing key.
#[derive(Clone)]
pub struct PoolKey {
    signing: SigningKey,
}

impl std::fmt::Debug for PoolKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PoolKey({})", hex(&self.verification_key()))
    }
}

impl PoolKey {
    /// The key with this secret seed.
    pub fn from_seed(seed: [u8; 32]) -> PoolKey {
        PoolKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The public (verification) key.
    pub fn verification_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The pool id: blake2b-224 of the verification key, as Cardano derives pool ids.
    pub fn pool_id(&self) -> [u8; 28] {
        blake2b_224(&self.verification_key())
    }

    /// A deterministic ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

/// Whether `sig` is `vkey`'s signature of `msg`.
pub fn verify(vkey: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(vkey) else {
        return false;
    };
    key.verify(msg, &ed25519_dalek::Signature::from_bytes(sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_known_vectors() {
        // blake2b-256("") from RFC 7693's parameterisation.
        assert_eq!(
            hex(&blake2b_256(b"")),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
        assert_eq!(blake2b_256_parts(&[b"ab", b"c"]), blake2b_256(b"abc"));
        assert_eq!(blake2b_224(b"").len(), 28);
        assert_eq!(from_hex::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(from_hex::<2>("0aF"), None);
        assert_eq!(from_hex::<1>("zz"), None);
    }

    #[test]
    fn signatures_verify_and_are_deterministic() {
        let k = PoolKey::from_seed([7; 32]);
        let s1 = k.sign(b"slot 1");
        assert_eq!(s1, k.sign(b"slot 1"));
        assert!(verify(&k.verification_key(), b"slot 1", &s1));
        assert!(!verify(&k.verification_key(), b"slot 2", &s1));
        assert!(!verify(
            &PoolKey::from_seed([8; 32]).verification_key(),
            b"slot 1",
            &s1
        ));
    }
}
