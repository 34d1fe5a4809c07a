//! Diffusion pipelining, as cardano-node does it: when a block that extends our chain starts
//! its validation, its header becomes the *tentative header*, announced to downstream peers at
//! once, and its body is served from memory while it is validated. Without it every hop would
//! add a whole validation (tens of milliseconds with cardano-node's costs) before the next
//! peer even hears of the block; on the cloud cluster forged → announced is under a
//! millisecond while adopting the block takes ~70 ms.
//!
//! A tentative header that does not become our tip (the body was bad, or a better chain won)
//! is withdrawn, and chain-sync servers roll their peers back from it.

use wb_ledger::block::Header;
use wb_ledger::chain::Chain;
use wb_ledger::crypto::Hash32;

use crate::events::ChainDbEvent;
use crate::node::{Shared, lock};

/// A block whose header is announced while its body is validated.
pub(crate) struct Tentative {
    /// The header announced.
    pub(crate) header: Header,
    /// The block's bytes, served to peers that fetch it.
    pub(crate) bytes: Vec<u8>,
}

/// Whether `header` is the next block on `chain`.
fn extends(chain: &Chain, header: &Header) -> bool {
    match chain.tip() {
        Some(t) => {
            header.body.prev_hash == Some(t.hash()) && header.body.block_no == t.body.block_no + 1
        }
        None => header.body.prev_hash.is_none() && header.body.block_no == 0,
    }
}

/// The tentative block in `slot` if it still extends `chain` (a stale one is not offered).
pub(crate) fn current<'a>(slot: &'a Option<Tentative>, chain: &Chain) -> Option<&'a Tentative> {
    slot.as_ref().filter(|t| extends(chain, &t.header))
}

impl Shared {
    /// Announces `header` ahead of its body's validation, if pipelining is on and the block
    /// extends our chain (a block whose predecessor is still being validated waits its turn).
    pub(crate) fn set_tentative(&self, header: &Header, bytes: &[u8]) {
        if !self.pipelining {
            return;
        }
        {
            let db = lock(&self.db);
            if !extends(db.chain(), header) {
                return;
            }
            *lock(&self.tentative) = Some(Tentative {
                header: header.clone(),
                bytes: bytes.to_vec(),
            });
        }
        self.tracers
            .chain_db
            .trace(&ChainDbEvent::SetTentativeHeader {
                hash: header.hash(),
                block_no: header.body.block_no,
                slot: header.body.slot,
            });
        // Chain-sync servers waiting for news wake on the tip counter.
        self.tip.send_modify(|v| *v += 1);
    }

    /// Withdraws `hash`'s tentative header once its validation is over, if it is still there
    /// (it did not become our tip): servers then roll their peers back from it.
    pub(crate) fn end_tentative(&self, hash: &Hash32) {
        let mut slot = lock(&self.tentative);
        if slot.as_ref().is_some_and(|t| t.header.hash() == *hash) {
            *slot = None;
            drop(slot);
            self.tip.send_modify(|v| *v += 1);
        }
    }

    /// Drops the tentative header once our chain moved to `tip` and it no longer extends it.
    pub(crate) fn outdate_tentative(&self, tip: &Header) {
        let mut slot = lock(&self.tentative);
        if slot
            .as_ref()
            .is_some_and(|t| t.header.body.prev_hash != Some(tip.hash()))
        {
            *slot = None;
        }
    }
}
