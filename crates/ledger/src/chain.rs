//! Chain selection: the node's current chain of headers, how it extends, how a competing chain
//! is judged, and rollback limited to `k` blocks.
//!
//! The rule is Praos's: the longer chain wins; between chains of equal length the one whose tip
//! has the lower tie-breaker (derived from the leader proof, as Praos uses the VRF output) wins;
//! otherwise the current chain stays. A switch may roll back at most `k` blocks. Every node applies
//! the same rule to the same headers, so two leaders in one slot fork the chain and every node
//! resolves the fork the same way.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::block::{Header, Point};
use crate::crypto::Hash32;

/// Why a header cannot extend or replace the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The header does not follow the tip.
    #[error(
        "header {got} does not extend the tip (expected block {expected_no} after {expected_prev})"
    )]
    DoesNotExtend {
        /// The header's point.
        got: String,
        /// The block number it should have.
        expected_no: u64,
        /// The hash it should name as previous.
        expected_prev: String,
    },
    /// The header's slot is not after its predecessor's.
    #[error("slot {slot} is not after the previous block's slot {prev_slot}")]
    SlotNotIncreasing {
        /// The header's slot.
        slot: u64,
        /// The tip's slot.
        prev_slot: u64,
    },
    /// A switch would roll back more than `k` blocks.
    #[error("rollback of {depth} blocks exceeds the security parameter k = {k}")]
    TooDeep {
        /// Blocks to roll back.
        depth: u64,
        /// The limit.
        k: u64,
    },
}

/// What selection compares: length, then tie-breaker.
pub fn compare_tips(a: (u64, &Hash32), b: (u64, &Hash32)) -> Ordering {
    // Longer is better; at equal length a lower tie-breaker is better.
    a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1))
}

/// The current chain, as headers from the first block to the tip.
#[derive(Debug, Clone)]
pub struct Chain {
    k: u64,
    headers: Vec<Header>,
    index: HashMap<Hash32, u64>,
}

/// The outcome of judging a candidate chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Keep the current chain.
    Keep,
    /// Adopt the candidate: roll back `rollback` blocks, then apply the candidate's headers after
    /// the intersection. `rollback == 0` is a plain extension; more is a fork switch.
    Switch {
        /// Blocks to roll back.
        rollback: u64,
    },
}

impl Chain {
    /// An empty chain with security parameter `k`.
    pub fn new(k: u64) -> Chain {
        Chain {
            k,
            headers: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The security parameter.
    pub fn k(&self) -> u64 {
        self.k
    }

    /// Number of blocks.
    pub fn len(&self) -> u64 {
        self.headers.len() as u64
    }

    /// Whether the chain has no blocks.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// The tip header.
    pub fn tip(&self) -> Option<&Header> {
        self.headers.last()
    }

    /// The tip's point.
    pub fn tip_point(&self) -> Option<Point> {
        self.tip().map(Header::point)
    }

    /// The header of block `block_no`.
    pub fn get(&self, block_no: u64) -> Option<&Header> {
        self.headers.get(usize::try_from(block_no).ok()?)
    }

    /// The block number of the block with this hash, if it is on the chain.
    pub fn block_no_of(&self, hash: &Hash32) -> Option<u64> {
        self.index.get(hash).copied()
    }

    /// Whether `p` is on the chain.
    pub fn contains(&self, p: &Point) -> bool {
        self.block_no_of(&p.hash)
            .and_then(|n| self.get(n))
            .is_some_and(|h| h.body.slot == p.slot)
    }

    /// Headers after block `block_no` (all of them for `None`).
    pub fn after(&self, block_no: Option<u64>) -> &[Header] {
        let from = block_no
            .map_or(0, |n| n as usize + 1)
            .min(self.headers.len());
        &self.headers[from..]
    }

    /// Checks that `h` extends the tip.
    pub fn check_extends(&self, h: &Header) -> Result<(), ChainError> {
        let (expected_no, expected_prev) = match self.tip() {
            None => (0, None),
            Some(t) => (t.body.block_no + 1, Some(t.hash())),
        };
        if h.body.block_no != expected_no || h.body.prev_hash != expected_prev {
            return Err(ChainError::DoesNotExtend {
                got: h.point().to_string(),
                expected_no,
                expected_prev: expected_prev
                    .map_or_else(|| "genesis".into(), |p| crate::crypto::hex(&p)),
            });
        }
        if let Some(t) = self.tip() {
            if h.body.slot <= t.body.slot {
                return Err(ChainError::SlotNotIncreasing {
                    slot: h.body.slot,
                    prev_slot: t.body.slot,
                });
            }
        }
        Ok(())
    }

    /// Appends `h` to the tip.
    pub fn push(&mut self, h: Header) -> Result<(), ChainError> {
        self.check_extends(&h)?;
        self.index.insert(h.hash(), h.body.block_no);
        self.headers.push(h);
        Ok(())
    }

    /// Rolls back to just after block `keep` (`None`: to genesis); returns the removed headers,
    /// oldest first. Refuses to go deeper than `k`.
    pub fn rollback_to(&mut self, keep: Option<u64>) -> Result<Vec<Header>, ChainError> {
        let new_len = keep.map_or(0, |n| n + 1).min(self.len());
        let depth = self.len() - new_len;
        if depth > self.k {
            return Err(ChainError::TooDeep { depth, k: self.k });
        }
        let removed = self.headers.split_off(new_len as usize);
        for h in &removed {
            self.index.remove(&h.hash());
        }
        Ok(removed)
    }

    /// Points for a chain-sync `FindIntersect`: the tip, then exponentially further back, then
    /// the first block — so a peer finds the newest common point in a few steps.
    pub fn intersection_points(&self) -> Vec<Point> {
        let mut pts = Vec::new();
        let len = self.len();
        let mut back = 0u64;
        let mut step = 1u64;
        while back < len {
            if let Some(h) = self.get(len - 1 - back) {
                pts.push(h.point());
            }
            back += step;
            step *= 2;
        }
        if let Some(first) = self.get(0) {
            if pts.last() != Some(&first.point()) {
                pts.push(first.point());
            }
        }
        pts
    }

    /// The newest of `points` that is on this chain (points are tried in the order given).
    pub fn find_intersection(&self, points: &[Point]) -> Option<Point> {
        points.iter().find(|p| self.contains(p)).copied()
    }

    /// Judges a candidate chain that shares this chain up to block `intersection` (`None`: only
    /// genesis) and whose tip has `candidate_len` blocks and tie-breaker `candidate_tie`.
    pub fn select(
        &self,
        intersection: Option<u64>,
        candidate_len: u64,
        candidate_tie: &Hash32,
    ) -> Result<Selection, ChainError> {
        let ours = match self.tip() {
            None => {
                return Ok(if candidate_len > 0 {
                    Selection::Switch { rollback: 0 }
                } else {
                    Selection::Keep
                });
            }
            Some(t) => (self.len(), t.tie_breaker()),
        };
        if compare_tips((candidate_len, candidate_tie), (ours.0, &ours.1)) != Ordering::Greater {
            return Ok(Selection::Keep);
        }
        let keep = intersection.map_or(0, |n| n + 1);
        let rollback = self.len().saturating_sub(keep);
        if rollback > self.k {
            return Err(ChainError::TooDeep {
                depth: rollback,
                k: self.k,
            });
        }
        Ok(Selection::Switch { rollback })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Block;
    use crate::crypto::PoolKey;

    /// A chain of `n` blocks in slots `start, start+step, …` by `key` (leadership not checked here).
    fn grow(chain: &mut Chain, key: &PoolKey, slots: impl IntoIterator<Item = u64>) -> Vec<Header> {
        let mut out = Vec::new();
        for slot in slots {
            let b = Block::forge(
                key,
                slot,
                chain.tip(),
                key.sign(&slot.to_be_bytes()),
                vec![],
            );
            chain.push(b.header.clone()).unwrap();
            out.push(b.header);
        }
        out
    }

    #[test]
    fn extend_rollback_and_intersect() {
        let key = PoolKey::from_seed([1; 32]);
        let mut c = Chain::new(3);
        let hs = grow(&mut c, &key, [1, 2, 5, 9, 10]);
        assert_eq!(c.len(), 5);
        assert_eq!(c.tip_point(), Some(hs[4].point()));
        assert!(c.contains(&hs[2].point()));
        assert_eq!(
            c.intersection_points(),
            vec![hs[4].point(), hs[3].point(), hs[1].point(), hs[0].point()]
        );
        // A header that skips a block does not extend.
        let stranger = Block::forge(&key, 20, Some(&hs[2]), [0; 64], vec![]).header;
        assert!(matches!(
            c.push(stranger),
            Err(ChainError::DoesNotExtend { .. })
        ));
        assert_eq!(
            c.rollback_to(Some(0)),
            Err(ChainError::TooDeep { depth: 4, k: 3 })
        );
        let removed = c.rollback_to(Some(2)).unwrap();
        assert_eq!(removed, hs[3..].to_vec());
        assert!(!c.contains(&hs[3].point()));
        assert_eq!(
            c.find_intersection(&[hs[4].point(), hs[2].point()]),
            Some(hs[2].point())
        );
        assert_eq!(c.after(Some(0)).len(), 2);
        // Slots must increase.
        let same_slot = Block::forge(&key, 5, c.tip(), [0; 64], vec![]).header;
        assert!(matches!(
            c.push(same_slot),
            Err(ChainError::SlotNotIncreasing { .. })
        ));
    }

    #[test]
    fn longer_wins_then_lower_tie_breaker_and_never_deeper_than_k() {
        let key = PoolKey::from_seed([1; 32]);
        let mut c = Chain::new(2);
        grow(&mut c, &key, [1, 2, 3]);
        let tip_tie = c.tip().unwrap().tie_breaker();
        assert_eq!(
            c.select(Some(2), 3, &tip_tie).unwrap(),
            Selection::Keep,
            "same chain"
        );
        assert_eq!(
            c.select(Some(2), 4, &[0xff; 32]).unwrap(),
            Selection::Switch { rollback: 0 }
        );
        // Equal length fork from block 1: lower tie-breaker wins, higher loses.
        let lower = [0u8; 32];
        let higher = [0xffu8; 32];
        assert_eq!(
            c.select(Some(1), 3, &lower).unwrap(),
            Selection::Switch { rollback: 1 }
        );
        assert_eq!(c.select(Some(1), 3, &higher).unwrap(), Selection::Keep);
        // A longer fork from genesis needs a rollback of 3 > k.
        assert_eq!(
            c.select(None, 5, &higher),
            Err(ChainError::TooDeep { depth: 3, k: 2 })
        );
        assert_eq!(
            Chain::new(2).select(None, 1, &higher).unwrap(),
            Selection::Switch { rollback: 0 }
        );
    }

    #[test]
    fn every_node_resolves_a_fork_the_same_way() {
        // Two leaders in slot 4 on top of the same two blocks: whichever a node saw first,
        // all end on the same tip.
        let (a, b) = (PoolKey::from_seed([1; 32]), PoolKey::from_seed([2; 32]));
        let mut base = Chain::new(5);
        grow(&mut base, &a, [1, 2]);
        let ha = Block::forge(&a, 4, base.tip(), a.sign(b"4"), vec![]).header;
        let hb = Block::forge(&b, 4, base.tip(), b.sign(b"4"), vec![]).header;
        let mut tips = Vec::new();
        for (first, second) in [(&ha, &hb), (&hb, &ha)] {
            let mut c = base.clone();
            c.push(first.clone()).unwrap();
            if let Selection::Switch { rollback } =
                c.select(Some(1), 3, &second.tie_breaker()).unwrap()
            {
                c.rollback_to(Some(2 - rollback)).unwrap();
                c.push(second.clone()).unwrap();
            }
            tips.push(c.tip_point());
        }
        assert_eq!(tips[0], tips[1]);
    }
}
