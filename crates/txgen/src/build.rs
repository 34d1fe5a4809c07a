//! Building and signing the benchmark's transactions ahead of time.
//!
//! A [`Workload`] turns the UTxOs the funds split created ([`crate::plan`]) into value
//! transfers of a fixed shape, `inputs_per_tx` in and `outputs_per_tx` out, paying back to the
//! generator's own wallets so the stream can go on as long as funds last. [`spawn_builder`]
//! runs it on a thread of its own behind a bounded channel, so submission never waits on
//! hashing or ed25519.
//!
//! Like the Haskell `tx-generator`, the workload needs no chain feedback: the outputs of a
//! transaction are pooled as soon as it is *built*. They go to the back of a FIFO, so they are
//! spent only after every fund pooled before them, i.e. the pool must be big enough for the
//! transactions that created them to be on chain by then. The split's
//! `tx_count × inputs_per_tx` UTxOs mean a run of `tx_count` transactions never spends its own
//! outputs; longer runs recycle, and [`WorkloadConfig::min_recycle_lag`] turns the assumption
//! into an error instead of a silent stream of invalid transactions.
//!
//! The CBOR is written here (a handful of heads), in the shape `wb_ledger::wallet` uses:
//! body `{0: inputs, 1: outputs, 2: fee, 7: auxiliary data hash}` with inputs sorted in a
//! tag-258 set, witnesses in a tag-258 set, `is_valid = true`, and the padding metadata last.

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use wb_ledger::cbor_out::{ARRAY, BYTES, MAP, UINT, bytes, head, set};

use wb_ledger::crypto::blake2b_256;
use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{TxIn, VKeyWitness, cbor_head_len as head_len};
use wb_ledger::wallet::{Wallet, tx_id};

/// Who can spend an output the generator created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The funds wallet (the split's intermediate outputs and change).
    Funds,
    /// The generator wallet with this index.
    Generator(usize),
}

/// An unspent output the generator can spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fund {
    /// Where it is.
    pub tx_in: TxIn,
    /// Its lovelace.
    pub lovelace: u64,
    /// Whose key spends it.
    pub owner: Owner,
}

/// A transaction built and signed, ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// The whole transaction's CBOR (`[body, witnesses, true, auxiliary data]`).
    pub bytes: Vec<u8>,
    /// The transaction id (blake2b-256 of the body).
    pub id: [u8; 32],
    /// The fee it pays.
    pub fee: u64,
    /// Every output it creates, in order (`outputs[i].tx_in.index == i`).
    pub outputs: Vec<Fund>,
}

impl SignedTx {
    /// Size in bytes, what fees and the TxSubmission2 size field measure.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}

/// How a workload transaction's fee is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeePolicy {
    /// The least fee for the transaction's real size (`minFeeA × size + minFeeB`).
    #[default]
    Minimum,
    /// A fixed fee (the profile's `tx_fee`); building fails if it is below the minimum.
    Fixed(u64),
}

/// Metadata padding of workload transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    /// No auxiliary data.
    #[default]
    None,
    /// `tx-generator`'s `add_tx_size`: the transaction is exactly this many bytes larger than
    /// the same transaction without auxiliary data (at least [`MIN_ADDED_SIZE`]).
    Add(usize),
    /// The whole transaction is exactly this many bytes.
    Total(usize),
}

/// The least [`Padding::Add`]: the body's auxiliary-data-hash entry (35 bytes) plus the
/// smallest padding metadata `{0: []}` (3 bytes) in place of `null` (1 byte). The Haskell
/// generator's minimum is 39 because it writes the `[metadata, []]` form.
pub const MIN_ADDED_SIZE: usize = AUX_HASH_ENTRY + MIN_PADDING - 1;

/// Size of the body entry `7: bytes(32)`.
const AUX_HASH_ENTRY: usize = 1 + 2 + 32;
/// Size of the smallest padding metadata, `{0: []}`.
const MIN_PADDING: usize = 3;
/// The ledger's limit on a metadata byte string.
const MAX_METADATUM: usize = 64;
/// Size of one vkey witness `[bytes(32), bytes(64)]`.
const WITNESS_LEN: usize = 1 + 2 + 32 + 2 + 64;

/// The shape and pricing of workload transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Inputs per transaction (`inputs_per_tx`).
    pub inputs_per_tx: usize,
    /// Outputs per transaction (`outputs_per_tx`); they share `inputs − fee` equally, the
    /// remainder going to output 0 as in `tx-generator`.
    pub outputs_per_tx: usize,
    /// The fee.
    pub fee: FeePolicy,
    /// Metadata padding (`add_tx_size`).
    pub padding: Padding,
    /// Spending an output needs at least this many transactions built after the one that
    /// created it (so it is on chain by then: about `tps × confirmation time`); 0 = no check.
    pub min_recycle_lag: u64,
}

impl Default for WorkloadConfig {
    /// The value profiles' shape: 2 in, 2 out, minimum fee, `add_tx_size` 100.
    fn default() -> Self {
        Self {
            inputs_per_tx: 2,
            outputs_per_tx: 2,
            fee: FeePolicy::Minimum,
            padding: Padding::Add(100),
            min_recycle_lag: 0,
        }
    }
}

impl WorkloadConfig {
    /// A lovelace value per split UTxO that is enough for the first generation of workload
    /// transactions whatever their ids, indices and signers: worst-case (9-byte) integers,
    /// one witness per input, enterprise addresses, and outputs at the minimum ada.
    pub fn min_fund_value(&self, params: &ProtocolParams) -> u64 {
        let ins = self.inputs_per_tx.max(1) as u128;
        let outs = self.outputs_per_tx.max(1);
        let address = [0u8; ENTERPRISE_ADDRESS_LEN];
        let draft = Draft {
            inputs: vec![
                TxIn {
                    tx_id: [0; 32],
                    index: u64::MAX,
                };
                self.inputs_per_tx.max(1)
            ],
            outputs: vec![(&address[..], u64::MAX); outs],
            fee: u64::MAX,
        };
        let natural = draft.size(self.inputs_per_tx.max(1), None);
        let size = match self.padding {
            Padding::None => natural,
            Padding::Add(add) => natural + add,
            Padding::Total(total) => total,
        };
        let fee = match self.fee {
            FeePolicy::Minimum => params.min_fee(size),
            FeePolicy::Fixed(fee) => fee,
        };
        let min_out = params.min_lovelace(output_len(ENTERPRISE_ADDRESS_LEN, u64::MAX));
        let needed = u128::from(min_out) * outs as u128 + u128::from(fee);
        u64::try_from(needed.div_ceil(ins)).unwrap_or(u64::MAX)
    }
}

/// Length of a key-hash enterprise address, what [`Wallet::address`] returns.
const ENTERPRISE_ADDRESS_LEN: usize = 29;

/// Why a workload transaction could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The workload has no generator wallets.
    #[error("the workload has no generator wallets")]
    NoWallets,
    /// Zero inputs or outputs per transaction.
    #[error("a transaction needs at least one input and one output, not {inputs} and {outputs}")]
    InvalidShape {
        /// Inputs per transaction.
        inputs: usize,
        /// Outputs per transaction.
        outputs: usize,
    },
    /// A fund the workload cannot spend: owned by the funds wallet or an unknown index.
    #[error("fund {0} is not owned by one of the generator wallets")]
    ForeignFund(TxIn),
    /// The same fund given twice (a transaction spending it twice would be invalid).
    #[error("fund {0} is given twice")]
    DuplicateFund(TxIn),
    /// Fewer pooled funds than one transaction's inputs.
    #[error(
        "out of funds after {built} transactions: {available} UTxOs pooled, {needed} needed per \
         transaction (split more UTxOs)"
    )]
    OutOfFunds {
        /// Transactions built so far.
        built: u64,
        /// Pooled funds.
        available: usize,
        /// Inputs per transaction.
        needed: usize,
    },
    /// The next fund was created too recently to assume it is on chain.
    #[error(
        "transaction {next} would spend an output of transaction {created_by}, fewer than \
         {min_lag} transactions earlier: the UTxO pool is too small to recycle safely"
    )]
    RecycleTooSoon {
        /// Sequence number of the transaction being built.
        next: u64,
        /// Sequence number of the transaction that created the fund.
        created_by: u64,
        /// The configured minimum lag.
        min_lag: u64,
    },
    /// The inputs do not cover the fee.
    #[error("the inputs hold {available} lovelace, less than the {fee} lovelace fee")]
    InputsBelowFee {
        /// Lovelace in the inputs.
        available: u128,
        /// The fee.
        fee: u64,
    },
    /// An output would hold less than the minimum ada (funds worn down by fees, or too small).
    #[error("an output would hold {lovelace} lovelace, the minimum is {min} (split larger UTxOs)")]
    OutputTooSmall {
        /// The output's lovelace.
        lovelace: u64,
        /// The minimum ada for its size.
        min: u64,
    },
    /// A fixed fee below the minimum for the transaction's size.
    #[error("the fixed fee {fee} is below the minimum {min_fee} for a {size}-byte transaction")]
    FeeTooSmall {
        /// The configured fee.
        fee: u64,
        /// The minimum fee.
        min_fee: u64,
        /// The transaction's size.
        size: usize,
    },
    /// The transaction would exceed `maxTxSize`.
    #[error("the transaction would be {size} bytes, the maximum is {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The protocol's `maxTxSize`.
        max: u64,
    },
    /// The size target leaves no room for the padding metadata.
    #[error(
        "a {target}-byte transaction is too small for this shape: padding needs at least {min}"
    )]
    PaddingTooSmall {
        /// The requested size.
        target: usize,
        /// The least size padding can produce.
        min: usize,
    },
}

/// One pooled fund: where it is, its lovelace, and which transaction created it (`None` for
/// the split's outputs).
#[derive(Debug, Clone, Copy)]
struct Pooled {
    tx_in: TxIn,
    lovelace: u64,
    created_by: Option<u64>,
}

/// The benchmark's transaction stream over a pool of funds, one FIFO per generator wallet.
///
/// Each transaction takes its inputs from one wallet (the next in round-robin order that has
/// enough), so it carries one signature, and pays all its outputs to one wallet (round-robin
/// too), so recycled outputs again make single-signer transactions. Only when no wallet has
/// enough alone are inputs gathered across wallets (one witness per wallet).
pub struct Workload {
    wallets: Vec<Wallet>,
    addresses: Vec<Vec<u8>>,
    pools: Vec<VecDeque<Pooled>>,
    pooled: usize,
    config: WorkloadConfig,
    params: ProtocolParams,
    built: u64,
    next_source: usize,
    next_dest: usize,
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload")
            .field("wallets", &self.wallets.len())
            .field("pooled", &self.pooled)
            .field("built", &self.built)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Workload {
    /// A workload spending `funds` (all owned by `wallets`, e.g. the split's
    /// [`final_utxos`](crate::plan::SplitPlan::final_utxos)) in their order.
    pub fn new(
        wallets: Vec<Wallet>,
        funds: impl IntoIterator<Item = Fund>,
        config: WorkloadConfig,
        params: ProtocolParams,
    ) -> Result<Self, BuildError> {
        if wallets.is_empty() {
            return Err(BuildError::NoWallets);
        }
        if config.inputs_per_tx == 0 || config.outputs_per_tx == 0 {
            return Err(BuildError::InvalidShape {
                inputs: config.inputs_per_tx,
                outputs: config.outputs_per_tx,
            });
        }
        let mut pools = vec![VecDeque::new(); wallets.len()];
        let mut pooled = 0;
        let mut seen = HashSet::new();
        for fund in funds {
            if !seen.insert(fund.tx_in) {
                return Err(BuildError::DuplicateFund(fund.tx_in));
            }
            let pool = match fund.owner {
                Owner::Generator(w) => pools.get_mut(w),
                Owner::Funds => None,
            };
            let Some(pool) = pool else {
                return Err(BuildError::ForeignFund(fund.tx_in));
            };
            pool.push_back(Pooled {
                tx_in: fund.tx_in,
                lovelace: fund.lovelace,
                created_by: None,
            });
            pooled += 1;
        }
        Ok(Self {
            addresses: wallets.iter().map(Wallet::address).collect(),
            wallets,
            pools,
            pooled,
            config,
            params,
            built: 0,
            next_source: 0,
            next_dest: 0,
        })
    }

    /// Transactions built so far (the next one's sequence number).
    pub fn built(&self) -> u64 {
        self.built
    }

    /// Funds in the pool.
    pub fn pooled(&self) -> usize {
        self.pooled
    }

    /// The configuration.
    pub fn config(&self) -> &WorkloadConfig {
        &self.config
    }

    /// Builds and signs the next transaction and pools its outputs. On error nothing changes,
    /// so the pool can be inspected (or refilled by a new workload).
    pub fn next_tx(&mut self) -> Result<SignedTx, BuildError> {
        let need = self.config.inputs_per_tx;
        let take = self.select(need)?;
        let mut inputs = Vec::with_capacity(need);
        let mut available: u128 = 0;
        let mut signers = Vec::with_capacity(take.len());
        for &(w, count) in &take {
            for fund in self.pools[w].iter().take(count) {
                let too_soon = |by: u64| self.built - by < self.config.min_recycle_lag;
                if let Some(created_by) = fund.created_by.filter(|&by| too_soon(by)) {
                    return Err(BuildError::RecycleTooSoon {
                        next: self.built,
                        created_by,
                        min_lag: self.config.min_recycle_lag,
                    });
                }
                inputs.push(fund.tx_in);
                available += u128::from(fund.lovelace);
            }
            signers.push(&self.wallets[w]);
        }

        let dest = self.next_dest;
        let built = build_transfer(
            inputs,
            available,
            &signers,
            &self.addresses[dest],
            self.config.outputs_per_tx,
            &self.config,
            &self.params,
        )?;

        // Committed: consume the inputs, pool the outputs.
        for &(w, count) in &take {
            self.pools[w].drain(..count);
        }
        self.pooled -= need;
        let outputs: Vec<Fund> = (built.values.iter().enumerate())
            .map(|(i, &lovelace)| Fund {
                tx_in: TxIn {
                    tx_id: built.id,
                    index: i as u64,
                },
                lovelace,
                owner: Owner::Generator(dest),
            })
            .collect();
        for out in &outputs {
            self.pools[dest].push_back(Pooled {
                tx_in: out.tx_in,
                lovelace: out.lovelace,
                created_by: Some(self.built),
            });
        }
        self.pooled += outputs.len();
        self.next_source = (take[0].0 + 1) % self.wallets.len();
        self.next_dest = (dest + 1) % self.wallets.len();
        self.built += 1;
        Ok(SignedTx {
            bytes: built.bytes,
            id: built.id,
            fee: built.fee,
            outputs,
        })
    }

    /// Which wallets' pools (index, how many from the front) the next transaction spends.
    fn select(&self, need: usize) -> Result<Vec<(usize, usize)>, BuildError> {
        let n = self.wallets.len();
        let order = (0..n).map(|i| (self.next_source + i) % n);
        if let Some(w) = order.clone().find(|&w| self.pools[w].len() >= need) {
            return Ok(vec![(w, need)]);
        }
        if self.pooled < need {
            return Err(BuildError::OutOfFunds {
                built: self.built,
                available: self.pooled,
                needed: need,
            });
        }
        let mut take = Vec::new();
        let mut left = need;
        for w in order {
            let count = self.pools[w].len().min(left);
            if count > 0 {
                take.push((w, count));
                left -= count;
            }
            if left == 0 {
                break;
            }
        }
        Ok(take)
    }
}

/// A signed transfer and the output values it pays.
struct Built {
    bytes: Vec<u8>,
    id: [u8; 32],
    fee: u64,
    values: Vec<u64>,
}

/// `outputs` equal shares of `available − fee` (remainder to the first) to `address`, with
/// the configured fee and padding.
fn build_transfer(
    inputs: Vec<TxIn>,
    available: u128,
    signers: &[&Wallet],
    address: &[u8],
    outputs: usize,
    config: &WorkloadConfig,
    params: &ProtocolParams,
) -> Result<Built, BuildError> {
    let mut draft = Draft {
        inputs,
        outputs: Vec::with_capacity(outputs),
        fee: 0,
    };
    let padded = config.padding != Padding::None;
    let target = |draft: &Draft| match config.padding {
        Padding::None => draft.size(signers.len(), None),
        Padding::Add(add) => draft.size(signers.len(), None) + add,
        Padding::Total(total) => total,
    };

    let fee = match config.fee {
        FeePolicy::Fixed(fee) => {
            share(&mut draft, address, available, outputs, fee)?;
            let size = target(&draft);
            let min_fee = params.min_fee(size);
            if fee < min_fee {
                return Err(BuildError::FeeTooSmall { fee, min_fee, size });
            }
            fee
        }
        FeePolicy::Minimum => {
            // The fee changes the size only through the encoded lengths of itself and the
            // outputs, so raising it to the minimum for the last size settles in a few
            // rounds; it only grows, so it cannot oscillate (it may end a few lovelace above
            // the minimum if a shrinking output length made the last round overshoot).
            let mut fee = 0;
            loop {
                share(&mut draft, address, available, outputs, fee)?;
                let min = params.min_fee(target(&draft));
                if min <= fee {
                    break fee;
                }
                fee = min;
            }
        }
    };
    let size = target(&draft);
    if size as u64 > params.max_tx_size {
        return Err(BuildError::TooLarge {
            size,
            max: params.max_tx_size,
        });
    }
    for &(address, lovelace) in &draft.outputs {
        let min = params.min_lovelace(output_len(address.len(), lovelace));
        if lovelace < min {
            return Err(BuildError::OutputTooSmall { lovelace, min });
        }
    }
    let aux = if padded {
        let base = draft.size(signers.len(), Some(0));
        let metadata = size.checked_sub(base).and_then(padding_metadata).ok_or(
            BuildError::PaddingTooSmall {
                target: size,
                min: base + MIN_PADDING,
            },
        )?;
        Some(metadata)
    } else {
        None
    };
    let (bytes, id) = draft.sign(signers, aux.as_deref());
    debug_assert_eq!(bytes.len(), size);
    Ok(Built {
        bytes,
        id,
        fee,
        values: draft.outputs.iter().map(|&(_, v)| v).collect(),
    })
}

/// Sets the fee and `outputs` equal shares of `available − fee` to `address`, the remainder
/// going to the first.
fn share<'a>(
    draft: &mut Draft<'a>,
    address: &'a [u8],
    available: u128,
    outputs: usize,
    fee: u64,
) -> Result<(), BuildError> {
    let rest = available
        .checked_sub(u128::from(fee))
        .ok_or(BuildError::InputsBelowFee { available, fee })?;
    let per = rest / outputs as u128;
    let first = per + rest % outputs as u128;
    // Only inputs worth more than u64::MAX in total could overflow an output: clamp and let
    // the balance rule, not a panic, speak for such impossible funds.
    let clamp = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
    draft.outputs.clear();
    draft.outputs.push((address, clamp(first)));
    draft
        .outputs
        .extend(std::iter::repeat_n((address, clamp(per)), outputs - 1));
    draft.fee = fee;
    Ok(())
}

/// Auxiliary data of exactly `len` bytes (at least 3): Shelley-form metadata
/// `{0: [bytes, …]}` whose zero-filled byte strings are at most 64 bytes each, the ledger's
/// limit. `None` if `len < 3`.
///
/// An encoded byte string of `L ≤ 64` payload bytes takes `L + 1` bytes up to 23 and `L + 2`
/// from 24, so one chunk can take any size in 1..=24 or 26..=66 and `k ≥ 2` chunks any total
/// in `k..=66k`; the fewest chunks that fit are used.
pub fn padding_metadata(len: usize) -> Option<Vec<u8>> {
    // {0: array(k)} costs 2 + head(k) bytes before the chunks.
    let payload = |k: usize| len.checked_sub(2 + head_len(k as u64));
    // A lower bound on k (the payload is at most 66 per chunk), then the first that fits.
    let mut k = len.saturating_sub(2 + 9) / (MAX_METADATUM + 2);
    let total = loop {
        let p = payload(k)?;
        if fits(k, p) {
            break p;
        }
        k += 1;
    };
    let mut out = Vec::with_capacity(len);
    head(&mut out, MAP, 1);
    head(&mut out, UINT, 0);
    head(&mut out, ARRAY, k as u64);
    let mut left = total;
    for i in 0..k {
        let after = k - i - 1;
        // The largest chunk that leaves a total the remaining chunks can still take.
        let max = (MAX_METADATUM + 2).min(left - after);
        // `fits(k, total)` guarantees a choice at every step (tested for every length).
        let chunk = (1..=max)
            .rev()
            .find(|&c| fits(1, c) && fits(after, left - c))?;
        let payload = if chunk <= 24 { chunk - 1 } else { chunk - 2 };
        head(&mut out, BYTES, payload as u64);
        out.resize(out.len() + payload, 0);
        left -= chunk;
    }
    debug_assert_eq!(out.len(), len);
    Some(out)
}

/// Whether `k` byte strings of at most 64 bytes can take exactly `total` encoded bytes.
fn fits(k: usize, total: usize) -> bool {
    match k {
        0 => total == 0,
        // A 24-byte payload takes 26 bytes, a 23-byte one 24: 25 is out of reach.
        1 => (1..=MAX_METADATUM + 2).contains(&total) && total != 25,
        _ => (k..=k * (MAX_METADATUM + 2)).contains(&total),
    }
}

/// A transaction before signing: inputs, outputs (address, lovelace) and fee.
#[derive(Debug, Clone)]
pub(crate) struct Draft<'a> {
    pub(crate) inputs: Vec<TxIn>,
    pub(crate) outputs: Vec<(&'a [u8], u64)>,
    pub(crate) fee: u64,
}

impl Draft<'_> {
    /// The body's CBOR length, with the auxiliary data hash entry if `aux`.
    fn body_len(&self, aux: bool) -> usize {
        let inputs: usize = (self.inputs.iter())
            .map(|i| 1 + 2 + 32 + head_len(i.index))
            .sum();
        let outputs: usize = (self.outputs.iter())
            .map(|(a, v)| output_len(a.len(), *v))
            .sum();
        head_len(3 + u64::from(aux))
            + 1
            + SET_TAG_LEN
            + head_len(self.inputs.len() as u64)
            + inputs
            + 1
            + head_len(self.outputs.len() as u64)
            + outputs
            + 1
            + head_len(self.fee)
            + if aux { AUX_HASH_ENTRY } else { 0 }
    }

    /// The signed transaction's size with `signers` witnesses and auxiliary data of
    /// `aux` bytes (`None`: no auxiliary data, `null`).
    pub(crate) fn size(&self, signers: usize, aux: Option<usize>) -> usize {
        let witnesses = if signers == 0 {
            1
        } else {
            2 + SET_TAG_LEN + head_len(signers as u64) + signers * WITNESS_LEN
        };
        1 + self.body_len(aux.is_some()) + witnesses + 1 + aux.unwrap_or(1)
    }

    /// The body's CBOR, committing to `aux_hash` if given.
    fn body(&self, aux_hash: Option<&[u8; 32]>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body_len(aux_hash.is_some()));
        head(&mut out, MAP, 3 + u64::from(aux_hash.is_some()));
        head(&mut out, UINT, 0);
        let mut inputs = self.inputs.clone();
        // A set: the canonical order, as cardano-cli writes it.
        inputs.sort_unstable();
        set(&mut out, inputs.len());
        for i in &inputs {
            head(&mut out, ARRAY, 2);
            bytes(&mut out, &i.tx_id);
            head(&mut out, UINT, i.index);
        }
        head(&mut out, UINT, 1);
        head(&mut out, ARRAY, self.outputs.len() as u64);
        for &(address, lovelace) in &self.outputs {
            head(&mut out, MAP, 2);
            head(&mut out, UINT, 0);
            bytes(&mut out, address);
            head(&mut out, UINT, 1);
            head(&mut out, UINT, lovelace);
        }
        head(&mut out, UINT, 2);
        head(&mut out, UINT, self.fee);
        if let Some(hash) = aux_hash {
            head(&mut out, UINT, 7);
            bytes(&mut out, hash);
        }
        out
    }

    /// Signs with every signer and assembles `[body, witnesses, true, aux]`; returns the
    /// transaction and its id.
    pub(crate) fn sign(&self, signers: &[&Wallet], aux: Option<&[u8]>) -> (Vec<u8>, [u8; 32]) {
        let aux_hash = aux.map(blake2b_256);
        let body = self.body(aux_hash.as_ref());
        debug_assert_eq!(body.len(), self.body_len(aux.is_some()));
        let id = tx_id(&body);
        let witnesses: Vec<VKeyWitness> = signers.iter().map(|w| w.sign(&id)).collect();
        let mut out = Vec::with_capacity(self.size(signers.len(), aux.map(<[u8]>::len)));
        head(&mut out, ARRAY, 4);
        out.extend_from_slice(&body);
        if witnesses.is_empty() {
            head(&mut out, MAP, 0);
        } else {
            head(&mut out, MAP, 1);
            head(&mut out, UINT, 0);
            set(&mut out, witnesses.len());
            for w in &witnesses {
                head(&mut out, ARRAY, 2);
                bytes(&mut out, &w.vkey);
                bytes(&mut out, &w.signature);
            }
        }
        out.push(0xf5); // true: phase-2 valid
        match aux {
            Some(aux) => out.extend_from_slice(aux),
            None => out.push(0xf6), // null
        }
        (out, id)
    }
}

/// Size of an output `{0: address, 1: lovelace}`.
pub(crate) fn output_len(address_len: usize, lovelace: u64) -> usize {
    1 + 1 + head_len(address_len as u64) + address_len + 1 + head_len(lovelace)
}

/// A bounded stream of workload transactions built and signed on a thread of its own.
///
/// Items arrive in build order; an error is the last item. Dropping the builder (or
/// [`join`](Self::join)ing it) stops the thread at its next send.
pub struct Builder {
    rx: Receiver<Result<SignedTx, BuildError>>,
    thread: JoinHandle<Workload>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder").finish_non_exhaustive()
    }
}

impl Builder {
    /// The next transaction, waiting for it if needed; `None` once the stream is over.
    pub fn recv(&self) -> Option<Result<SignedTx, BuildError>> {
        self.rx.recv().ok()
    }

    /// The next transaction if one is ready ([`TryRecvError::Disconnected`] once over).
    pub fn try_recv(&self) -> Result<Result<SignedTx, BuildError>, TryRecvError> {
        self.rx.try_recv()
    }

    /// The channel itself (e.g. for `recv_timeout` or iteration).
    pub fn receiver(&self) -> &Receiver<Result<SignedTx, BuildError>> {
        &self.rx
    }

    /// Stops the thread (built but unreceived transactions are dropped) and returns the
    /// workload, whose pool then includes their outputs. `Err` if the thread panicked.
    pub fn join(self) -> std::thread::Result<Workload> {
        drop(self.rx);
        self.thread.join()
    }
}

/// Runs `workload` on a new thread, building up to `count` transactions (`None`: until the
/// funds run out) at most `buffer` ahead of the consumer.
pub fn spawn_builder(
    workload: Workload,
    count: Option<u64>,
    buffer: usize,
) -> std::io::Result<Builder> {
    let (tx, rx) = sync_channel(buffer);
    let thread = std::thread::Builder::new()
        .name("txgen-build".into())
        .spawn(move || run_builder(workload, count, &tx))?;
    Ok(Builder { rx, thread })
}

fn run_builder(
    mut workload: Workload,
    count: Option<u64>,
    tx: &SyncSender<Result<SignedTx, BuildError>>,
) -> Workload {
    let mut sent = 0;
    while count.is_none_or(|c| sent < c) {
        let item = workload.next_tx();
        let last = item.is_err();
        // A send error means the consumer is gone: nothing left to build for.
        if tx.send(item).is_err() || last {
            break;
        }
        sent += 1;
    }
    workload
}

/// `d9 0102`: tag 258 (a set).
const SET_TAG_LEN: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_shortest_form_and_sized_right() {
        for n in [0, 23, 24, 255, 256, 65_535, 65_536, 1 << 32, u64::MAX] {
            let mut out = Vec::new();
            head(&mut out, UINT, n);
            assert_eq!(out.len(), head_len(n), "{n}");
            let back: u64 = minicbor::decode(&out).expect("a uint");
            assert_eq!(back, n);
        }
    }

    #[test]
    fn padding_has_every_length_from_3() {
        assert_eq!(padding_metadata(2), None);
        assert_eq!(padding_metadata(3), Some(vec![0xa1, 0x00, 0x80]));
        for len in 3..=500 {
            let m = padding_metadata(len).expect("padding");
            assert_eq!(m.len(), len);
        }
    }
}
