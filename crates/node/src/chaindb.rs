//! The node's chain: headers in memory ([`wb_ledger::chain::Chain`]), blocks on disk
//! ([`crate::storage::ChainStore`]), kept in step. Opening replays the stored chain, checking every
//! header again, so a restarted node resumes from disk and a damaged tail is cut off.

use std::collections::VecDeque;
use std::path::Path;

use wb_ledger::block::{self, Block, Header};
use wb_ledger::chain::{Chain, ChainError};
use wb_ledger::crypto::Hash32;
use wb_ledger::genesis::{Genesis, StakeDistribution};
use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{self, TxError, TxIn, TxOut};
use wb_ledger::utxo::{TxUndo, UtxoSet};

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
    /// A transaction of the block is invalid.
    #[error("transaction {index} of block {block_no}: {error}")]
    Tx {
        /// The block.
        block_no: u64,
        /// Position of the transaction in the block.
        index: usize,
        /// The ledger rule that failed (boxed: it can be large).
        error: Box<TxError>,
    },
    /// The body is larger than the protocol allows.
    #[error("block body of {size} bytes exceeds maxBlockBodySize {max}")]
    BodyTooBig {
        /// The body size.
        size: u64,
        /// The limit.
        max: u64,
    },
}

/// Chain, storage and the ledger state at the tip, kept together.
pub struct ChainDb {
    store: ChainStore,
    chain: Chain,
    schedule: StakeDistribution,
    params: ProtocolParams,
    utxo: UtxoSet,
    /// Undo records of the newest blocks (at most k + 1), newest last.
    undo: VecDeque<(u64, Vec<TxUndo>)>,
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
        let mut utxo: UtxoSet = genesis
            .initial_outputs()
            .into_iter()
            .map(|(id, address, lovelace)| {
                (
                    TxIn {
                        tx_id: id,
                        index: 0,
                    },
                    TxOut::new(address, lovelace),
                )
            })
            .collect();
        let params = genesis.protocol_params.clone();
        let mut undo = VecDeque::new();
        let mut bad_after: Option<Option<u64>> = None;
        let mut next_no = 0u64;
        for item in store.iter_from(0) {
            let (info, bytes) = match item {
                Ok(x) => x,
                Err(e) => {
                    // Damage in a chunk that opening trusted: cut the chain before it.
                    report.notes.push(format!(
                        "stored block {next_no} cannot be read ({e}); the chain is cut before it"
                    ));
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
                    let undos = apply_body(&mut utxo, &b, &params)?;
                    Ok((b, undos))
                });
            match ok {
                Ok((b, undos)) => {
                    push_undo(
                        &mut undo,
                        b.header.body.block_no,
                        undos,
                        genesis.security_param,
                    );
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
                params,
                utxo,
                undo,
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

    /// The ledger state at the tip.
    pub fn utxo(&self) -> &UtxoSet {
        &self.utxo
    }

    /// The protocol parameters.
    pub fn params(&self) -> &ProtocolParams {
        &self.params
    }

    /// A stored block's bytes by hash.
    pub fn block_bytes(&self, hash: &Hash32) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.store.get_by_hash(hash)?.map(|(_, b)| b))
    }

    /// Checks a header against the stake distribution.
    pub fn verify_header(&self, h: &Header) -> Result<(), block::BlockError> {
        block::verify_header(h, &self.schedule)
    }

    /// Adds a block on top of the tip: header checks, every transaction valid in order, then
    /// storage and the ledger state.
    pub fn extend(&mut self, b: &Block, bytes: &[u8]) -> Result<(), ChainDbError> {
        self.verify_header(&b.header)?;
        self.chain.check_extends(&b.header)?;
        let undos = apply_body(&mut self.utxo, b, &self.params)?;
        let info = BlockInfo {
            slot: b.header.body.slot,
            block_no: b.header.body.block_no,
            hash: b.header.hash(),
            prev_hash: b.header.body.prev_hash,
        };
        if let Err(e) = self.store.append(&info, bytes) {
            for u in undos.into_iter().rev() {
                self.utxo.undo(u);
            }
            return Err(e.into());
        }
        push_undo(
            &mut self.undo,
            b.header.body.block_no,
            undos,
            self.chain.k(),
        );
        self.chain.push(b.header.clone())?;
        Ok(())
    }

    /// Rolls back to just after block `keep` (at most `k` blocks) and removes them from disk.
    pub fn rollback_to(&mut self, keep: Option<u64>) -> Result<Vec<Header>, ChainDbError> {
        let removed = self.chain.rollback_to(keep)?;
        self.store.truncate_after(keep)?;
        for h in removed.iter().rev() {
            if let Some((n, undos)) = self.undo.pop_back() {
                debug_assert_eq!(n, h.body.block_no);
                for u in undos.into_iter().rev() {
                    self.utxo.undo(u);
                }
            }
        }
        Ok(removed)
    }

    /// Flushes storage to disk.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.store.sync()
    }
}

/// Validates and applies a block's transactions in order; on a failure, undoes what was applied.
fn apply_body(
    utxo: &mut UtxoSet,
    b: &Block,
    params: &ProtocolParams,
) -> Result<Vec<TxUndo>, ChainDbError> {
    let block_no = b.header.body.block_no;
    let size = u64::from(b.header.body.body_size);
    if size > params.max_block_body_size {
        return Err(ChainDbError::BodyTooBig {
            size,
            max: params.max_block_body_size,
        });
    }
    let mut undos = Vec::with_capacity(b.txs.len());
    for (index, bytes) in b.txs.iter().enumerate() {
        let checked = tx::decode_tx(bytes)
            .and_then(|t| utxo.validate(&t, b.header.body.slot, params).map(|()| t));
        match checked {
            Ok(t) => undos.push(utxo.apply(&t)),
            Err(error) => {
                for u in undos.into_iter().rev() {
                    utxo.undo(u);
                }
                return Err(ChainDbError::Tx {
                    block_no,
                    index,
                    error: Box::new(error),
                });
            }
        }
    }
    Ok(undos)
}

/// Keeps undo records for the newest `k + 1` blocks: deeper ones can never be rolled back.
fn push_undo(undo: &mut VecDeque<(u64, Vec<TxUndo>)>, block_no: u64, undos: Vec<TxUndo>, k: u64) {
    undo.push_back((block_no, undos));
    while undo.len() as u64 > k + 1 {
        undo.pop_front();
    }
}
