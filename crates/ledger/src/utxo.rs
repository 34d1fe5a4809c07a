//! The UTxO set: phase-1 validation of Conway transactions against it, applying them, and
//! undoing an application exactly (for rollbacks).
//!
//! Rules run cheapest first and the first failure is returned (a real node reports all of
//! them at once); signatures are verified last because they cost the most.

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::{Signature, VerifyingKey};

use crate::params::ProtocolParams;
use crate::tx::{
    BigOutput, Payment, ScriptUse, SmallOutput, Tx, TxError, TxIn, TxOut, Unsupported, ValueSum,
    blake2b_224, payment_part, value_size,
};

/// Unspent transaction outputs, with their total lovelace kept up to date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UtxoSet {
    outputs: HashMap<TxIn, TxOut>,
    lovelace: u128,
}

/// What [`UtxoSet::apply`] changed, for [`UtxoSet::undo`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "dropping the undo record makes the application irreversible"]
pub struct TxUndo {
    spent: Vec<(TxIn, TxOut)>,
    created: Vec<(TxIn, Option<TxOut>)>,
}

impl TxUndo {
    /// The outputs the transaction consumed.
    pub fn spent(&self) -> &[(TxIn, TxOut)] {
        &self.spent
    }
}

impl UtxoSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an output (genesis funds, tests); returns the output it replaced, if any.
    pub fn insert(&mut self, tx_in: TxIn, out: TxOut) -> Option<TxOut> {
        self.lovelace += u128::from(out.lovelace);
        let old = self.outputs.insert(tx_in, out);
        if let Some(old) = &old {
            self.lovelace -= u128::from(old.lovelace);
        }
        old
    }

    /// Removes an output; returns it if it was there.
    pub fn remove(&mut self, tx_in: &TxIn) -> Option<TxOut> {
        let old = self.outputs.remove(tx_in);
        if let Some(old) = &old {
            self.lovelace -= u128::from(old.lovelace);
        }
        old
    }

    /// The unspent output at `tx_in`.
    pub fn get(&self, tx_in: &TxIn) -> Option<&TxOut> {
        self.outputs.get(tx_in)
    }

    /// Whether `tx_in` is unspent.
    pub fn contains(&self, tx_in: &TxIn) -> bool {
        self.outputs.contains_key(tx_in)
    }

    /// Number of unspent outputs.
    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    /// Whether there are no unspent outputs.
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Sum of the lovelace of all unspent outputs.
    pub fn total_lovelace(&self) -> u128 {
        self.lovelace
    }

    /// All unspent outputs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&TxIn, &TxOut)> {
        self.outputs.iter()
    }

    /// Checks every phase-1 rule for `tx` at `slot`; the first failure is returned.
    ///
    /// In order: unsupported features and scripts, `ValidationTagMismatch`,
    /// `InputSetEmptyUTxO`, `MaxTxSizeUTxO`, `FeeTooSmallUTxO`, `OutsideValidityIntervalUTxO`,
    /// `OutputTooSmallUTxO`, `OutputTooBigUTxO`, the auxiliary data rules,
    /// `PPViewHashesDontMatch`, `BadInputsUTxO`, script-locked/Byron/reference-script inputs,
    /// `ValueNotConservedUTxO`, `MissingVKeyWitnessesUTXOW`, `InvalidWitnessesUTXOW`.
    /// The network rules need the genesis' network id: see [`Tx::check_network`].
    pub fn validate(&self, tx: &Tx, slot: u64, params: &ProtocolParams) -> Result<(), TxError> {
        check_features(tx)?;
        check_size_and_fee(tx, params)?;
        check_interval(tx, slot)?;
        check_outputs(tx, params)?;
        check_auxiliary_data(tx)?;
        check_inputs_exist(self, tx)?;
        let spent = self.spent_outputs(tx)?;
        check_balance(tx, &spent)?;
        check_witnesses(tx, &spent)
    }

    /// Re-checks a transaction that passed [`validate`](Self::validate) with the same
    /// parameters against a changed set or a later slot: only the rules that depend on them
    /// (`OutsideValidityIntervalUTxO`, `BadInputsUTxO`). Like the ledger's `reapplyTx`, it
    /// does not verify witnesses again; an input reference names one output forever, so the
    /// value and witness rules cannot change their verdict.
    pub fn revalidate(&self, tx: &Tx, slot: u64) -> Result<(), TxError> {
        check_interval(tx, slot)?;
        check_inputs_exist(self, tx)
    }

    /// Validates `tx` and applies it if valid.
    pub fn validate_and_apply(
        &mut self,
        tx: &Tx,
        slot: u64,
        params: &ProtocolParams,
    ) -> Result<TxUndo, TxError> {
        self.validate(tx, slot, params)?;
        Ok(self.apply(tx))
    }

    /// Consumes the transaction's inputs and adds its outputs. The caller validated `tx`;
    /// inputs that are missing anyway are skipped, so [`undo`](Self::undo) stays exact.
    pub fn apply(&mut self, tx: &Tx) -> TxUndo {
        let mut spent = Vec::with_capacity(tx.inputs.len());
        for tx_in in &tx.inputs {
            if let Some(out) = self.remove(tx_in) {
                spent.push((*tx_in, out));
            }
        }
        let mut created = Vec::with_capacity(tx.outputs.len());
        for (index, out) in tx.outputs.iter().enumerate() {
            let tx_in = TxIn {
                tx_id: tx.id,
                index: index as u64,
            };
            let replaced = self.insert(tx_in, out.clone());
            created.push((tx_in, replaced));
        }
        TxUndo { spent, created }
    }

    /// Reverts one [`apply`](Self::apply); undo several in reverse order of application.
    pub fn undo(&mut self, undo: TxUndo) {
        for (tx_in, replaced) in undo.created.into_iter().rev() {
            self.remove(&tx_in);
            if let Some(out) = replaced {
                self.insert(tx_in, out);
            }
        }
        for (tx_in, out) in undo.spent.into_iter().rev() {
            self.insert(tx_in, out);
        }
    }

    /// The outputs `tx` spends (all present: checked before), refusing the ones the emulated
    /// ledger cannot spend yet.
    fn spent_outputs(&self, tx: &Tx) -> Result<Vec<&TxOut>, TxError> {
        let mut spent = Vec::with_capacity(tx.inputs.len());
        for tx_in in &tx.inputs {
            let Some(out) = self.outputs.get(tx_in) else {
                return Err(TxError::BadInputsUTxO(vec![*tx_in]));
            };
            match payment_part(&out.address) {
                Payment::Key(_) => {}
                Payment::Script => {
                    return Err(TxError::ScriptsNotSupported(ScriptUse::ScriptLockedInput(
                        *tx_in,
                    )));
                }
                Payment::Byron => {
                    return Err(TxError::NotSupported(Unsupported::ByronInput(*tx_in)));
                }
                Payment::Invalid => {
                    return Err(TxError::NotSupported(Unsupported::UnspendableInput(*tx_in)));
                }
            }
            if out.script_ref.is_some() {
                // Conway charges for reference scripts of spent outputs too.
                return Err(TxError::ScriptsNotSupported(ScriptUse::ReferenceScript(
                    *tx_in,
                )));
            }
            spent.push(out);
        }
        for tx_in in &tx.reference_inputs {
            if self
                .outputs
                .get(tx_in)
                .is_some_and(|o| o.script_ref.is_some())
            {
                return Err(TxError::ScriptsNotSupported(ScriptUse::ReferenceScript(
                    *tx_in,
                )));
            }
        }
        Ok(spent)
    }
}

impl FromIterator<(TxIn, TxOut)> for UtxoSet {
    fn from_iter<I: IntoIterator<Item = (TxIn, TxOut)>>(iter: I) -> Self {
        let mut set = UtxoSet::new();
        for (tx_in, out) in iter {
            set.insert(tx_in, out);
        }
        set
    }
}

/// Features and scripts the emulated ledger refuses, and the phase-2 flag.
fn check_features(tx: &Tx) -> Result<(), TxError> {
    if let Some(what) = &tx.unsupported {
        return Err(TxError::NotSupported(what.clone()));
    }
    if let Some(why) = &tx.scripts {
        return Err(TxError::ScriptsNotSupported(why.clone()));
    }
    if !tx.is_valid {
        return Err(TxError::ValidationTagMismatch);
    }
    if tx.inputs.is_empty() {
        return Err(TxError::InputSetEmptyUTxO);
    }
    Ok(())
}

fn check_size_and_fee(tx: &Tx, params: &ProtocolParams) -> Result<(), TxError> {
    let size = tx.size as u64;
    if size > params.max_tx_size {
        return Err(TxError::MaxTxSizeUTxO {
            size,
            max: params.max_tx_size,
        });
    }
    let min_fee = params.min_fee(tx.size);
    if tx.fee < min_fee {
        return Err(TxError::FeeTooSmallUTxO {
            min_fee,
            fee: tx.fee,
        });
    }
    Ok(())
}

/// Valid in `[validity_start, ttl)`: the upper bound is exclusive, as in the ledger.
fn check_interval(tx: &Tx, slot: u64) -> Result<(), TxError> {
    let after_start = tx.validity_start.is_none_or(|start| start <= slot);
    let before_ttl = tx.ttl.is_none_or(|ttl| slot < ttl);
    if after_start && before_ttl {
        Ok(())
    } else {
        Err(TxError::OutsideValidityIntervalUTxO {
            slot,
            start: tx.validity_start,
            ttl: tx.ttl,
        })
    }
}

fn check_outputs(tx: &Tx, params: &ProtocolParams) -> Result<(), TxError> {
    let mut small = Vec::new();
    let mut big = Vec::new();
    for (index, (out, &size)) in tx.outputs.iter().zip(&tx.output_sizes).enumerate() {
        let min_lovelace = params.min_lovelace(size);
        if out.lovelace < min_lovelace {
            small.push(SmallOutput {
                index,
                lovelace: out.lovelace,
                min_lovelace,
            });
        }
        let value_size = value_size(out.lovelace, &out.assets) as u64;
        if value_size > params.max_value_size {
            big.push(BigOutput {
                index,
                value_size,
                max: params.max_value_size,
            });
        }
    }
    if !small.is_empty() {
        return Err(TxError::OutputTooSmallUTxO(small));
    }
    if !big.is_empty() {
        return Err(TxError::OutputTooBigUTxO(big));
    }
    Ok(())
}

fn check_auxiliary_data(tx: &Tx) -> Result<(), TxError> {
    match (tx.auxiliary_data_hash, &tx.auxiliary_data) {
        (None, None) => {}
        (None, Some(aux)) => return Err(TxError::MissingTxBodyMetadataHash(aux.hash)),
        (Some(body), None) => return Err(TxError::MissingTxMetadata(body)),
        (Some(body), Some(aux)) if body != aux.hash => {
            return Err(TxError::ConflictingMetadataHash {
                body,
                computed: aux.hash,
            });
        }
        (Some(_), Some(aux)) if !aux.metadata_valid => return Err(TxError::InvalidMetadata),
        (Some(_), Some(_)) => {}
    }
    // Without redeemers or datums (refused earlier) no script data hash is expected.
    if let Some(hash) = tx.script_data_hash {
        return Err(TxError::PPViewHashesDontMatch(hash));
    }
    Ok(())
}

/// Spent and referenced outputs must all be unspent; reports every missing one.
fn check_inputs_exist(utxo: &UtxoSet, tx: &Tx) -> Result<(), TxError> {
    if tx
        .inputs
        .iter()
        .chain(&tx.reference_inputs)
        .all(|i| utxo.contains(i))
    {
        return Ok(());
    }
    let missing = tx
        .inputs
        .iter()
        .chain(&tx.reference_inputs)
        .filter(|i| !utxo.contains(i));
    Err(TxError::BadInputsUTxO(missing.copied().collect()))
}

/// consumed (inputs + mint) = produced (outputs + fee + burn), lovelace and every asset.
/// Withdrawals, deposits, refunds and donations are zero: those features are refused earlier.
fn check_balance(tx: &Tx, spent: &[&TxOut]) -> Result<(), TxError> {
    let lovelace_in: u128 = spent.iter().map(|o| u128::from(o.lovelace)).sum();
    let lovelace_out: u128 = tx
        .outputs
        .iter()
        .map(|o| u128::from(o.lovelace))
        .sum::<u128>()
        + u128::from(tx.fee);
    let no_assets = tx.mint.is_empty()
        && spent.iter().all(|o| o.assets.is_empty())
        && tx.outputs.iter().all(|o| o.assets.is_empty());
    if no_assets && lovelace_in == lovelace_out {
        return Ok(());
    }

    let mut consumed = ValueSum {
        lovelace: lovelace_in,
        assets: BTreeMap::new(),
    };
    let mut produced = ValueSum {
        lovelace: lovelace_out,
        assets: BTreeMap::new(),
    };
    for (id, q) in spent.iter().flat_map(|o| &o.assets) {
        *consumed.assets.entry(id.clone()).or_default() += u128::from(*q);
    }
    for (id, q) in tx.outputs.iter().flat_map(|o| &o.assets) {
        *produced.assets.entry(id.clone()).or_default() += u128::from(*q);
    }
    for (id, q) in &tx.mint {
        let side = if *q > 0 { &mut consumed } else { &mut produced };
        *side.assets.entry(id.clone()).or_default() += u128::from(q.unsigned_abs());
    }
    if consumed == produced {
        Ok(())
    } else {
        Err(TxError::ValueNotConservedUTxO { consumed, produced })
    }
}

/// Every key hash that must sign (payment keys of spent outputs, required signers) has a
/// witness, and every witness's signature verifies over the transaction id.
fn check_witnesses(tx: &Tx, spent: &[&TxOut]) -> Result<(), TxError> {
    let mut witnessed: Vec<[u8; 28]> = tx
        .vkey_witnesses
        .iter()
        .map(|w| blake2b_224(&w.vkey))
        .collect();
    witnessed.sort_unstable();
    let mut missing: Vec<[u8; 28]> = spent
        .iter()
        .filter_map(|o| match payment_part(&o.address) {
            Payment::Key(hash) => Some(hash),
            _ => None,
        })
        .chain(tx.required_signers.iter().copied())
        .filter(|hash| witnessed.binary_search(hash).is_err())
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        missing.dedup();
        return Err(TxError::MissingVKeyWitnessesUTXOW(missing));
    }

    let invalid: Vec<[u8; 32]> = tx
        .vkey_witnesses
        .iter()
        .filter(|w| !signature_ok(&w.vkey, &w.signature, &tx.id))
        .map(|w| w.vkey)
        .collect();
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(TxError::InvalidWitnessesUTXOW(invalid))
    }
}

/// Strict ed25519 verification: like the libsodium check cardano-node uses, it rejects
/// small-order keys and `R` points and non-canonical `S`.
fn signature_ok(vkey: &[u8; 32], signature: &[u8; 64], message: &[u8; 32]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(vkey) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(signature))
        .is_ok()
}
