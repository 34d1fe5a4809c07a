//! The leader lottery: Praos's stake-weighted slot election, made verifiable with a deterministic
//! signature instead of a VRF (no VRF crate is available here).
//!
//! For slot `s` in an epoch with nonce `η`, a pool signs `"wb-leader" ‖ η ‖ s` with its key. The
//! signature is the **leader proof**, carried in the block header; anyone with the pool's public
//! key checks it. The leader value is `y = blake2b-256("L" ‖ proof)` read as a fraction in [0, 1);
//! the pool leads the slot if `y < φ(σ) = 1 − (1 − f)^σ`, where `σ` is its relative stake and `f`
//! the active slot coefficient — Praos's threshold, so a pool with all the stake leads a fraction
//! `f` of slots and leadership is independent across pools (several leaders in a slot fork the
//! chain, as in Cardano). `blake2b-256("T" ‖ proof)` is the tie-breaker in chain selection, the
//! role of the VRF output (`tieBreakVRF`) in Praos.
//!
//! Unlike a VRF, an ed25519 signature is not unique if a pool signs twice with different nonces of
//! its own; ed25519 signing is deterministic (RFC 8032), and peers check the exact message, which
//! is enough for an emulation whose pools are honest.

use crate::crypto::{self, Hash32, PoolKey};

/// The proof a slot leader puts in its header.
pub type LeaderProof = [u8; 64];

/// The message a pool signs for a slot.
fn message(epoch_nonce: &Hash32, slot: u64) -> [u8; 9 + 32 + 8] {
    let mut m = [0u8; 49];
    m[..9].copy_from_slice(b"wb-leader");
    m[9..41].copy_from_slice(epoch_nonce);
    m[41..].copy_from_slice(&slot.to_be_bytes());
    m
}

/// The lottery threshold `1 − (1 − f)^σ` scaled to `u64` (a leader value below it wins).
pub fn threshold(active_slot_coeff: f64, relative_stake: f64) -> u64 {
    if relative_stake <= 0.0 || active_slot_coeff <= 0.0 {
        return 0;
    }
    // -expm1(σ·ln(1−f)) keeps precision for small stakes.
    let phi = -(relative_stake * (-active_slot_coeff).ln_1p()).exp_m1();
    if phi >= 1.0 {
        return u64::MAX;
    }
    (phi * 18_446_744_073_709_551_616.0) as u64
}

/// The leader value of a proof: the first 8 bytes of `blake2b-256("L" ‖ proof)`, big-endian.
pub fn leader_value(proof: &LeaderProof) -> u64 {
    let h = crypto::blake2b_256_parts(&[b"L", proof]);
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

/// The chain-selection tie-breaker of a proof.
pub fn tie_breaker(proof: &LeaderProof) -> Hash32 {
    crypto::blake2b_256_parts(&[b"T", proof])
}

/// The pool's proof for `slot`, and whether it wins the slot with this stake.
pub fn check_leader(
    key: &PoolKey,
    epoch_nonce: &Hash32,
    slot: u64,
    active_slot_coeff: f64,
    relative_stake: f64,
) -> (LeaderProof, bool) {
    let proof = key.sign(&message(epoch_nonce, slot));
    let wins = leader_value(&proof) < threshold(active_slot_coeff, relative_stake);
    (proof, wins)
}

/// Why a claimed leadership is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaderError {
    /// The proof is not the issuer's signature of this slot and nonce.
    #[error("leader proof is not the issuer's signature for slot {0}")]
    BadProof(u64),
    /// The proof is genuine but its value is above the issuer's threshold.
    #[error(
        "issuer did not win slot {slot}: leader value {value} is not below threshold {threshold}"
    )]
    NotLeader {
        /// The slot.
        slot: u64,
        /// The proof's leader value.
        value: u64,
        /// The issuer's threshold.
        threshold: u64,
    },
}

/// Checks a header's leadership claim: the proof is the issuer's signature for the slot, and its
/// value is below the threshold for the issuer's stake.
pub fn verify_leader(
    issuer_vkey: &[u8; 32],
    epoch_nonce: &Hash32,
    slot: u64,
    proof: &LeaderProof,
    active_slot_coeff: f64,
    relative_stake: f64,
) -> Result<(), LeaderError> {
    if !crypto::verify(issuer_vkey, &message(epoch_nonce, slot), proof) {
        return Err(LeaderError::BadProof(slot));
    }
    let value = leader_value(proof);
    let threshold = threshold(active_slot_coeff, relative_stake);
    if value >= threshold {
        return Err(LeaderError::NotLeader {
            slot,
            value,
            threshold,
        });
    }
    Ok(())
}

/// The nonce of `epoch`: blake2b-256 of the genesis nonce and the epoch number. (Praos evolves it
/// from VRF outputs; a fixed derivation keeps every node in agreement without them.)
pub fn epoch_nonce(genesis_nonce: &Hash32, epoch: u64) -> Hash32 {
    crypto::blake2b_256_parts(&[genesis_nonce, &epoch.to_be_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_matches_praos() {
        assert_eq!(threshold(0.05, 0.0), 0);
        let full = threshold(0.05, 1.0) as f64 / 2f64.powi(64);
        assert!((full - 0.05).abs() < 1e-12, "{full}");
        let half = threshold(0.05, 0.5) as f64 / 2f64.powi(64);
        assert!((half - (1.0 - 0.95f64.sqrt())).abs() < 1e-12);
        // Independent aggregation: splitting stake does not change the chance anyone leads.
        let p = |s: f64| threshold(0.1, s) as f64 / 2f64.powi(64);
        let none_split = (1.0 - p(0.3)) * (1.0 - p(0.7));
        assert!((none_split - (1.0 - p(1.0))).abs() < 1e-12);
    }

    #[test]
    fn leadership_rate_follows_stake() {
        let nonce = epoch_nonce(&[1; 32], 0);
        let (f, slots) = (0.2, 20_000u64);
        let mut won = [0u32; 2];
        let keys = [PoolKey::from_seed([1; 32]), PoolKey::from_seed([2; 32])];
        let stakes = [0.25, 0.75];
        for slot in 0..slots {
            for i in 0..2 {
                let (proof, wins) = check_leader(&keys[i], &nonce, slot, f, stakes[i]);
                if wins {
                    won[i] += 1;
                    verify_leader(
                        &keys[i].verification_key(),
                        &nonce,
                        slot,
                        &proof,
                        f,
                        stakes[i],
                    )
                    .unwrap();
                }
            }
        }
        for i in 0..2 {
            let expected = slots as f64 * (1.0 - (1.0 - f).powf(stakes[i]));
            let got = f64::from(won[i]);
            // Within 5 standard deviations of a binomial count.
            let sd = (expected * (1.0 - expected / slots as f64)).sqrt();
            assert!(
                (got - expected).abs() < 5.0 * sd,
                "pool {i}: {got} wins, {expected:.0} expected"
            );
        }
    }

    #[test]
    fn forged_claims_are_refused() {
        let nonce = epoch_nonce(&[1; 32], 3);
        let k = PoolKey::from_seed([9; 32]);
        let slot = (0..1000)
            .find(|&s| check_leader(&k, &nonce, s, 0.5, 1.0).1)
            .unwrap();
        let (proof, _) = check_leader(&k, &nonce, slot, 0.5, 1.0);
        let vk = k.verification_key();
        assert!(verify_leader(&vk, &nonce, slot, &proof, 0.5, 1.0).is_ok());
        assert_eq!(
            verify_leader(&vk, &nonce, slot + 1, &proof, 0.5, 1.0),
            Err(LeaderError::BadProof(slot + 1))
        );
        let other = PoolKey::from_seed([10; 32]).verification_key();
        assert!(matches!(
            verify_leader(&other, &nonce, slot, &proof, 0.5, 1.0),
            Err(LeaderError::BadProof(_))
        ));
        assert!(matches!(
            verify_leader(&vk, &nonce, slot, &proof, 0.5, 0.0),
            Err(LeaderError::NotLeader { .. })
        ));
    }
}
