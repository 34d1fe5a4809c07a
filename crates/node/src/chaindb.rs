//! The node's chain: headers in memory ([`wb_ledger::chain::Chain`]), blocks on disk
//! ([`crate::storage::ChainStore`]), kept in step. Opening replays the stored chain, checking every
//! header again, so a restarted node resumes from disk and a damaged tail is cut off.

use std::path::Path;

use wb_ledger::block::{self, Block, Header};
use wb_ledger::chain::{Chain, ChainError};
use wb_ledger::crypto::Hash32;
use wb_ledger::genesis::{Genesis, StakeDistribution};

use crate::storage::{BlockInfo, ChainStore, StoreError, StoreOptions};

/// Why a block was not added.
#[derive(Debug, thiserror::Error)]
pub enum ChainDbError {
    /// The block or header is invalid.
    #[error("invalid block: {0}")]
    Block(#[from] block::BlockError),
    /// It does not fit the chain.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Chain and storage together.
pub struct ChainDb {
    store: ChainStore,
    chain: Chain,
    schedule: StakeDistribution,
}

impl std::fmt::Debug for ChainDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainDb")
            .field("len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// What opening found.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Blocks resumed from disk.
    pub blocks: u64,
    /// What storage repaired and what replay cut off.
    pub notes: Vec<String>,
}

impl ChainDb {
    /// Opens the chain in `dir`, replaying and re-checking what is stored.
    pub fn open(dir: &Path, genesis: &Genesis) -> Result<(ChainDb, OpenReport), ChainDbError> {
        let (mut store, repair) = ChainStore::open(dir, StoreOptions::default())?;
        let mut report = OpenReport {
            blocks: 0,
            notes: repair.notes.clone(),
        };
        let schedule = genesis.schedule();
        let mut chain = Chain::new(genesis.security_param);
        let mut bad_after: Option<Option<u64>> = None;
        let mut next_no = 0u64;
        for item in store.iter_from(0) {
            let (info, bytes) = match item {
                Ok(x) => x,
                Err(e) => {
                    // Damage in a chunk that opening trusted: cut the chain before it.
                    report.notes.push(format!("stored block {next_no} cannot be read ({e}); the chain is cut before it"));
                    bad_after = Some(next_no.checked_sub(1));
                    break;
                }
            };
            next_no = info.block_no + 1;
            let ok = Block::decode(&bytes)
                .map_err(ChainDbError::from)
                .and_then(|b| {
                    block::verify_header(&b.header, &schedule)?;
                    chain.check_extends(&b.header)?;
                    Ok(b)
                });
            match ok {
                Ok(b) => {
                    // Replay never rolls back, so the limit does not apply here.
                    chain.push(b.header)?;
                    report.blocks += 1;
                }
                Err(e) => {
                    report.notes.push(format!(
                        "stored block {} does not check ({e}); the chain is cut before it",
                        info.block_no
                    ));
                    bad_after = Some(info.block_no.checked_sub(1));
                    break;
                }
            }
        }
        if let Some(keep) = bad_after {
            store.truncate_after(keep)?;
        }
        Ok((
            ChainDb {
                store,
                chain,
                schedule,
            },
            report,
        ))
    }

    /// The headers.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The stake distribution headers are checked against.
    pub fn schedule(&self) -> &StakeDistribution {
        &self.schedule
    }

    /// A stored block's bytes by hash.
    pub fn block_bytes(&self, hash: &Hash32) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.store.get_by_hash(hash)?.map(|(_, b)| b))
    }

    /// Checks a header against the stake distribution.
    pub fn verify_header(&self, h: &Header) -> Result<(), block::BlockError> {
        block::verify_header(h, &self.schedule)
    }

    /// Adds a block on top of the tip.
    pub fn extend(&mut self, b: &Block, bytes: &[u8]) -> Result<(), ChainDbError> {
        self.verify_header(&b.header)?;
        self.chain.check_extends(&b.header)?;
        let info = BlockInfo {
            slot: b.header.body.slot,
            block_no: b.header.body.block_no,
            hash: b.header.hash(),
            prev_hash: b.header.body.prev_hash,
        };
        self.store.append(&info, bytes)?;
        self.chain.push(b.header.clone())?;
        Ok(())
    }

    /// Rolls back to just after block `keep` (at most `k` blocks) and removes them from disk.
    pub fn rollback_to(&mut self, keep: Option<u64>) -> Result<Vec<Header>, ChainDbError> {
        let removed = self.chain.rollback_to(keep)?;
        self.store.truncate_after(keep)?;
        Ok(removed)
    }

    /// Flushes storage to disk.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.store.sync()
    }
}
