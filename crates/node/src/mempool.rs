//! The node's mempool: validated transactions in arrival order, waiting for a block.
//!
//! Like cardano-node's mempool, each transaction is validated against the ledger at the tip
//! *plus* the transactions already in the mempool, so a chain of transactions spending each
//! other's outputs is accepted in order and a second spend of the same output is refused
//! (`BadInputsUTxO`). The effect of the mempool on the tip's UTxO set is kept as an overlay —
//! the tip's outputs the mempool spends and the outputs it creates — so adding a transaction
//! costs only its own validation, never a pass over the mempool.
//!
//! Every added transaction gets a ticket, a number larger than any before it; tx-submission
//! servers hand out ids in ticket order ([`Mempool::ids_after`]), which stays correct when
//! transactions leave the mempool between two requests.
//!
//! The ledger's network rules need the genesis' network id, which the mempool does not know:
//! callers run [`Tx::check_network`] before [`Mempool::add`].

use std::collections::{HashMap, HashSet};

use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{Tx, TxError, TxIn, TxOut, cbor_head_len};
use wb_ledger::utxo::UtxoSet;

use crate::events::{Hex, MempoolSize};

/// Why [`Mempool::add`] refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    /// The transaction is not valid on the tip plus the mempool (the ledger rule that failed).
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// The transaction does not fit in the remaining capacity. A real node makes the submitter
    /// wait for room instead; callers retry after the next block.
    #[error(
        "MempoolFull: a {tx_size}-byte transaction does not fit, {used} of {capacity} bytes used"
    )]
    MempoolFull {
        /// The transaction's size in bytes.
        tx_size: u64,
        /// Bytes of transactions in the mempool.
        used: u64,
        /// The mempool's capacity in bytes.
        capacity: u64,
    },
    /// A transaction with this id is in the mempool already.
    #[error("AlreadyInMempool: transaction {} is in the mempool already", Hex(.0))]
    AlreadyInMempool([u8; 32]),
}

/// A transaction's place in the mempool, for tx-submission's `ReplyTxIds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticketed {
    /// Its ticket: larger than the ticket of every transaction added before it.
    pub ticket: u64,
    /// The transaction id.
    pub id: [u8; 32],
    /// Its size in bytes. Tx-submission advertises the wrapped size,
    /// [`txproto::wire_size`](crate::txproto::wire_size), as a real node does.
    pub size: u32,
}

/// The validated transactions waiting for a block, in arrival order.
#[derive(Debug, Clone)]
pub struct Mempool {
    capacity_bytes: u64,
    /// Arrival order; tickets strictly increase along the vector (binary search relies on it).
    entries: Vec<Entry>,
    /// Ticket of each transaction in `entries`.
    tickets: HashMap<[u8; 32], u64>,
    size: MempoolSize,
    next_ticket: u64,
    overlay: Overlay,
    /// The parameters every entry was fully validated with; `None` when they were mixed.
    validated_with: Option<ProtocolParams>,
}

#[derive(Debug, Clone)]
struct Entry {
    ticket: u64,
    tx: Tx,
}

/// What the mempool's transactions do to the tip's UTxO set.
#[derive(Debug, Clone, Default)]
struct Overlay {
    /// Outputs of the tip's set that mempool transactions spend.
    spent: HashSet<TxIn>,
    /// Outputs mempool transactions create that no later mempool transaction spends.
    created: HashMap<TxIn, TxOut>,
}

impl Overlay {
    /// The output at `tx_in` in the tip's set as the mempool leaves it.
    fn get<'a>(&'a self, base: &'a UtxoSet, tx_in: &TxIn) -> Option<&'a TxOut> {
        if let Some(out) = self.created.get(tx_in) {
            return Some(out);
        }
        if self.spent.contains(tx_in) {
            return None;
        }
        base.get(tx_in)
    }

    /// The outputs `tx` names (spent and referenced), as far as they exist. A transaction's
    /// validity depends on no other output, so the ledger's rules give the same verdict on
    /// this small set as on the whole combined view, without copying the tip's set.
    fn view_for(&self, base: &UtxoSet, tx: &Tx) -> UtxoSet {
        tx.inputs
            .iter()
            .chain(&tx.reference_inputs)
            .filter_map(|i| self.get(base, i).map(|out| (*i, out.clone())))
            .collect()
    }

    /// Records a validated transaction's spending and outputs.
    fn apply(&mut self, tx: &Tx) {
        for tx_in in &tx.inputs {
            // An output of an earlier mempool transaction simply stops existing; only the
            // tip's outputs need remembering as spent.
            if self.created.remove(tx_in).is_none() {
                self.spent.insert(*tx_in);
            }
        }
        for (index, out) in tx.outputs.iter().enumerate() {
            let tx_in = TxIn {
                tx_id: tx.id,
                index: index as u64,
            };
            self.created.insert(tx_in, out.clone());
        }
    }
}

impl Mempool {
    /// An empty mempool holding at most `capacity_bytes` bytes of transactions.
    pub fn new(capacity_bytes: u64) -> Self {
        Self {
            capacity_bytes,
            entries: Vec::new(),
            tickets: HashMap::new(),
            size: MempoolSize::default(),
            next_ticket: 1,
            overlay: Overlay::default(),
            validated_with: None,
        }
    }

    /// Validates `tx` at `slot` against `utxo` (the ledger at the tip) plus the effects of the
    /// transactions already in the mempool, and adds it if it fits. Returns the mempool's size
    /// after.
    ///
    /// Checks, in order: the id is new, the capacity, then every phase-1 ledger rule (see
    /// [`UtxoSet::validate`]). After the tip changes, call
    /// [`sync_with_ledger`](Self::sync_with_ledger) before adding more.
    pub fn add(
        &mut self,
        tx: Tx,
        utxo: &UtxoSet,
        slot: u64,
        params: &ProtocolParams,
    ) -> Result<MempoolSize, AddError> {
        if self.tickets.contains_key(&tx.id) {
            return Err(AddError::AlreadyInMempool(tx.id));
        }
        let tx_size = tx.size as u64;
        if self.size.bytes.saturating_add(tx_size) > self.capacity_bytes {
            return Err(AddError::MempoolFull {
                tx_size,
                used: self.size.bytes,
                capacity: self.capacity_bytes,
            });
        }
        self.overlay
            .view_for(utxo, &tx)
            .validate(&tx, slot, params)?;

        if self.entries.is_empty() {
            self.validated_with = Some(params.clone());
        } else if self.validated_with.as_ref() != Some(params) {
            self.validated_with = None;
        }
        self.overlay.apply(&tx);
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.tickets.insert(tx.id, ticket);
        self.size.bytes += tx_size;
        self.size.num_txs += 1;
        self.entries.push(Entry { ticket, tx });
        Ok(self.size)
    }

    /// Bytes and number of transactions in the mempool.
    pub fn size(&self) -> MempoolSize {
        self.size
    }

    /// The capacity in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the mempool holds no transactions.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the transaction with this id is in the mempool.
    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.tickets.contains_key(id)
    }

    /// The transaction with this id, if it is in the mempool.
    pub fn get(&self, id: &[u8; 32]) -> Option<&Tx> {
        let ticket = *self.tickets.get(id)?;
        let at = self
            .entries
            .binary_search_by_key(&ticket, |e| e.ticket)
            .ok()?;
        Some(&self.entries[at].tx)
    }

    /// The transactions in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &Tx> {
        self.entries.iter().map(|e| &e.tx)
    }

    /// The transactions for a new block: the longest prefix, in arrival order, whose block body
    /// (a CBOR list of the transactions) is at most `max_body_bytes`. A prefix and not a
    /// best fit, because a later transaction may spend an earlier one's outputs. Nothing is
    /// removed: [`sync_with_ledger`](Self::sync_with_ledger) does that once the block is adopted.
    pub fn take_for_block(&self, max_body_bytes: u64) -> Vec<&Tx> {
        let mut txs_bytes = 0u64;
        let mut taken = Vec::new();
        for e in &self.entries {
            let bytes = txs_bytes + e.tx.size as u64;
            let count = taken.len() as u64 + 1;
            if cbor_head_len(count) as u64 + bytes > max_body_bytes {
                break;
            }
            txs_bytes = bytes;
            taken.push(&e.tx);
        }
        taken
    }

    /// Up to `limit` transactions whose ticket is larger than `after` (0: from the start), in
    /// ticket order. A tx-submission server remembers the last ticket it handed out and asks
    /// for the ones after it.
    pub fn ids_after(&self, after: u64, limit: usize) -> Vec<Ticketed> {
        let start = self.entries.partition_point(|e| e.ticket <= after);
        self.entries[start..]
            .iter()
            .take(limit)
            .map(|e| Ticketed {
                ticket: e.ticket,
                id: e.tx.id,
                size: u32::try_from(e.tx.size).unwrap_or(u32::MAX),
            })
            .collect()
    }

    /// The ticket of the last transaction added (0: none ever).
    pub fn last_ticket(&self) -> u64 {
        self.next_ticket - 1
    }

    /// After the chain changed: re-checks every transaction, in order, against `utxo` (the
    /// new tip's ledger) plus the transactions kept before it, at `slot`, and drops the ones no
    /// longer valid. Transactions now in the chain are among them: their inputs are spent.
    /// Returns the removed ids in arrival order (for `Mempool.RemoveTxs`).
    ///
    /// With the parameters every transaction was validated with, only the rules that depend
    /// on the tip and the slot are re-run (the ledger's `reapplyTx`, no signature checks);
    /// with new parameters, all of them.
    pub fn sync_with_ledger(
        &mut self,
        utxo: &UtxoSet,
        slot: u64,
        params: &ProtocolParams,
    ) -> Vec<[u8; 32]> {
        let full = self.validated_with.as_ref() != Some(params);
        let mut overlay = Overlay::default();
        let mut removed = Vec::new();
        self.entries.retain(|e| {
            let view = overlay.view_for(utxo, &e.tx);
            let ok = if full {
                view.validate(&e.tx, slot, params)
            } else {
                view.revalidate(&e.tx, slot)
            };
            if ok.is_ok() {
                overlay.apply(&e.tx);
                true
            } else {
                removed.push(e.tx.id);
                false
            }
        });
        for id in &removed {
            self.tickets.remove(id);
        }
        self.overlay = overlay;
        self.validated_with = Some(params.clone());
        self.size = MempoolSize {
            bytes: self.entries.iter().map(|e| e.tx.size as u64).sum(),
            num_txs: self.entries.len() as u64,
        };
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wb_ledger::tx::decode_tx;
    use wb_ledger::wallet::Wallet;

    fn funded(wallet: &Wallet, n: u8, lovelace: u64) -> (UtxoSet, Vec<TxIn>) {
        let ins: Vec<TxIn> = (0..n)
            .map(|i| TxIn {
                tx_id: [i + 1; 32],
                index: 0,
            })
            .collect();
        let utxo = ins
            .iter()
            .map(|i| (*i, TxOut::new(wallet.address(), lovelace)))
            .collect();
        (utxo, ins)
    }

    fn pay(w: &Wallet, input: TxIn, lovelace: u64, amount: u64) -> Tx {
        let p = ProtocolParams::default();
        let to = vec![(w.address(), amount)];
        let (bytes, _) = w
            .build_payment(&[(input, lovelace)], &to, None, &p)
            .expect("funds");
        decode_tx(&bytes).expect("decodes")
    }

    #[test]
    fn list_heads_have_cbor_lengths() {
        for n in [0, 23, 24, 255, 256, 65_535, 65_536, 1 << 32] {
            let mut v = Vec::new();
            minicbor::Encoder::new(&mut v).array(n).expect("vec");
            assert_eq!(cbor_head_len(n), v.len(), "{n}");
        }
    }

    #[test]
    fn chained_and_double_spends() {
        let w = Wallet::from_seed([1; 32], 0);
        let p = ProtocolParams::default();
        let (utxo, ins) = funded(&w, 1, 100_000_000);
        let mut m = Mempool::new(1 << 20);
        let a = pay(&w, ins[0], 100_000_000, 10_000_000);
        let a_change = TxIn {
            tx_id: a.id,
            index: 1,
        };
        let change = a.outputs[1].lovelace;
        let b = pay(&w, a_change, change, 5_000_000);
        let twin = pay(&w, ins[0], 100_000_000, 20_000_000);

        m.add(a.clone(), &utxo, 0, &p).expect("a is valid");
        assert_eq!(
            m.add(a.clone(), &utxo, 0, &p),
            Err(AddError::AlreadyInMempool(a.id))
        );
        assert!(matches!(
            m.add(twin, &utxo, 0, &p),
            Err(AddError::Invalid(TxError::BadInputsUTxO(bad))) if bad == vec![ins[0]]
        ));
        let size = m.add(b.clone(), &utxo, 0, &p).expect("b spends a's change");
        assert_eq!(size.num_txs, 2);
        assert_eq!(size.bytes, (a.size + b.size) as u64);
        assert_eq!(m.get(&b.id).map(|t| t.id), Some(b.id));
        assert!(m.contains(&a.id));
        assert_eq!(m.ids_after(0, 10).len(), 2);
        assert_eq!(m.ids_after(1, 10)[0].id, b.id);
        assert_eq!(m.last_ticket(), 2);
    }
}
