//! The funds split: from one UTxO of the funds wallet to exactly `n` UTxOs of one value at the
//! generator wallets, as a tree of split transactions of fan-out at most `f`.
//!
//! Like `tx-generator`'s `unfoldSplitSequence`, the tree is as shallow as the fan-out allows:
//! the last phase has `⌈n/f⌉` transactions, the one before `⌈⌈n/f⌉/f⌉`, … up to a single root
//! transaction that spends the source with at most `f` outputs plus the change. Unlike it,
//! every split transaction pays exactly the minimum fee for its real size, so each
//! intermediate output holds exactly what its subtree needs (its outputs plus its fee) and
//! only the root has change. Values are computed bottom-up, then transactions are built and
//! signed top-down, since each needs its parent's id.
//!
//! Planning is pure: the phases are to be submitted in order, each after the previous one is
//! on chain (every transaction of phase `k + 1` spends an output of phase `k`).

use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::TxIn;
use wb_ledger::wallet::Wallet;

use crate::build::{Draft, Fund, Owner, SignedTx, output_len};

/// What the split must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitTarget {
    /// How many UTxOs (`tx_count × inputs_per_tx`).
    pub utxos: u64,
    /// Lovelace in each.
    pub value: u64,
    /// Most outputs of one split transaction, change not counted (`tx-generator` uses 30).
    pub fan_out: usize,
}

/// The signed split transactions, phase by phase, and what they leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPlan {
    phases: Vec<Vec<SignedTx>>,
    final_utxos: Vec<Fund>,
    change: Option<Fund>,
    fees: u64,
}

impl SplitPlan {
    /// The phases in submission order; phase 0 is the one root transaction.
    pub fn phases(&self) -> &[Vec<SignedTx>] {
        &self.phases
    }

    /// The phases, by value.
    pub fn into_phases(self) -> Vec<Vec<SignedTx>> {
        self.phases
    }

    /// The UTxOs the last phase creates: exactly the target's count and value, round-robin
    /// over the generator wallets (UTxO `i` at wallet `i mod wallets`).
    pub fn final_utxos(&self) -> &[Fund] {
        &self.final_utxos
    }

    /// What the root returns to the funds wallet (none when the rest was below the minimum
    /// ada and went to the fee).
    pub fn change(&self) -> Option<Fund> {
        self.change
    }

    /// The fees of all split transactions together.
    pub fn total_fees(&self) -> u64 {
        self.fees
    }

    /// Number of split transactions.
    pub fn tx_count(&self) -> usize {
        self.phases.iter().map(Vec::len).sum()
    }
}

/// Why a split cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No generator wallets to pay.
    #[error("the split has no generator wallets to pay")]
    NoWallets,
    /// A target of zero UTxOs.
    #[error("the split target is zero UTxOs")]
    NoUtxos,
    /// A fan-out below 2 never reaches the target.
    #[error("the split fan-out must be at least 2, not {0}")]
    FanOutTooSmall(usize),
    /// The target value is below the minimum ada of an output.
    #[error("the split value {value} lovelace is below the minimum {min} of an output")]
    ValueTooSmall {
        /// The target value.
        value: u64,
        /// The minimum ada for such an output.
        min: u64,
    },
    /// The source holds less than the outputs and fees need.
    #[error(
        "insufficient funds for the split: {needed} lovelace needed ({utxos} × {value} plus \
         {fees} in fees), the source holds {available}"
    )]
    InsufficientFunds {
        /// Outputs plus all fees.
        needed: u128,
        /// Lovelace in the source UTxO.
        available: u64,
        /// UTxOs targeted.
        utxos: u64,
        /// Value of each.
        value: u64,
        /// All fees (0 when the outputs alone exceed the source and the tree was not sized).
        fees: u128,
    },
    /// A split transaction would exceed `maxTxSize`.
    #[error(
        "a split transaction of fan-out {fan_out} would be {size} bytes, the maximum is {max} \
         (lower the fan-out)"
    )]
    TxTooLarge {
        /// Its size.
        size: usize,
        /// The protocol's `maxTxSize`.
        max: u64,
        /// The fan-out.
        fan_out: usize,
    },
}

/// Plans and signs the split of `source` (owned by `funds`) into `target.utxos` outputs of
/// `target.value` at the `dest` wallets. Intermediate outputs and the change go to `funds`.
pub fn plan_split(
    source: (TxIn, u64),
    funds: &Wallet,
    dest: &[Wallet],
    target: &SplitTarget,
    params: &ProtocolParams,
) -> Result<SplitPlan, PlanError> {
    let &SplitTarget {
        utxos: n,
        value,
        fan_out,
    } = target;
    if dest.is_empty() {
        return Err(PlanError::NoWallets);
    }
    if n == 0 {
        return Err(PlanError::NoUtxos);
    }
    if fan_out < 2 {
        return Err(PlanError::FanOutTooSmall(fan_out));
    }
    let funds_address = funds.address();
    let dest_addresses: Vec<Vec<u8>> = dest.iter().map(Wallet::address).collect();
    for address in &dest_addresses {
        let min = params.min_lovelace(output_len(address.len(), value));
        if value < min {
            return Err(PlanError::ValueTooSmall { value, min });
        }
    }

    // Sizing the tree takes memory in proportion to n / f: refuse the hopeless at once.
    let outputs = u128::from(n) * u128::from(value);
    if outputs > u128::from(source.1) {
        return Err(PlanError::InsufficientFunds {
            needed: outputs,
            available: source.1,
            utxos: n,
            value,
            fees: 0,
        });
    }

    // Outputs per level, top-down: counts[0] ≤ f are the root's; level k ≥ 1 has counts[k − 1]
    // transactions, transaction j paying outputs j·f.. of counts[k] and spending output j of
    // level k − 1 (at index j mod f of its parent).
    let f = fan_out as u64;
    let mut counts = vec![n];
    while let Some(&c) = counts.last().filter(|&&c| c > f) {
        counts.push(c.div_ceil(f));
    }
    counts.reverse();
    let last = counts.len() - 1;
    let address_of = |level: usize, g: u64| -> &[u8] {
        if level == last {
            &dest_addresses[(g % dest.len() as u64) as usize]
        } else {
            &funds_address
        }
    };
    let children = |k: usize, j: u64| j * f..((j + 1) * f).min(counts[k]);
    let too_large = |size: usize| PlanError::TxTooLarge {
        size,
        max: params.max_tx_size,
        fan_out,
    };

    // Bottom-up: what each output of level k must hold (`needs[k]`) and each transaction's
    // fee (`fees[k]`, k ≥ 1). Sums are u128: an impossible target must be reported as
    // insufficient funds, not overflow.
    let mut needs: Vec<Vec<u128>> = vec![Vec::new(); counts.len()];
    let mut fees: Vec<Vec<u64>> = vec![Vec::new(); counts.len()];
    let need = |needs: &[Vec<u128>], k: usize, g: u64| -> u128 {
        if k == last {
            u128::from(value)
        } else {
            needs[k][g as usize]
        }
    };
    for k in (1..=last).rev() {
        let txs = counts[k - 1];
        let mut level_fees = Vec::with_capacity(txs as usize);
        let mut parent_needs = Vec::with_capacity(txs as usize);
        for j in 0..txs {
            let draft = Draft {
                inputs: vec![dummy_input(j % f)],
                outputs: children(k, j)
                    .map(|g| (address_of(k, g), clamp(need(&needs, k, g))))
                    .collect(),
                fee: 0,
            };
            let (fee, size) = min_fee(draft, params);
            if size as u64 > params.max_tx_size {
                return Err(too_large(size));
            }
            let paid: u128 = children(k, j).map(|g| need(&needs, k, g)).sum();
            level_fees.push(fee);
            parent_needs.push(paid + u128::from(fee));
        }
        fees[k] = level_fees;
        needs[k - 1] = parent_needs;
    }

    // The root: its outputs, then the change if it is worth an output of its own.
    let (source_in, available) = source;
    let root_outputs: Vec<(&[u8], u64)> = (0..counts[0])
        .map(|g| (address_of(0, g), clamp(need(&needs, 0, g))))
        .collect();
    let paid: u128 = (0..counts[0]).map(|g| need(&needs, 0, g)).sum();
    let mut draft = Draft {
        inputs: vec![source_in],
        outputs: root_outputs,
        fee: 0,
    };
    let (root_fee, size) = min_fee(draft.clone(), params);
    if size as u64 > params.max_tx_size {
        return Err(too_large(size));
    }
    // The root's outputs carry the whole tree below them, fees included.
    let needed = paid + u128::from(root_fee);
    let insufficient = || PlanError::InsufficientFunds {
        needed,
        available,
        utxos: n,
        value,
        fees: needed - u128::from(n) * u128::from(value),
    };
    if u128::from(available) < needed {
        return Err(insufficient());
    }
    // Fits u64 now: it is at most `available`.
    let rest = (u128::from(available) - paid) as u64;
    let with_change = change_fee(&draft, &funds_address, rest, params);
    let has_change = with_change.is_some();
    draft.fee = match with_change {
        Some((fee, change)) => {
            draft.outputs.push((&funds_address, change));
            fee
        }
        // Too little for a change output: the rest is fee, as wallets do (it is at least
        // the no-change minimum, checked above).
        None => rest,
    };
    let size = draft.size(1, None);
    if size as u64 > params.max_tx_size {
        return Err(too_large(size));
    }
    if params.min_fee(size) > draft.fee {
        // Only if the rest is so large that paying it as fee lengthens the fee field, yet too
        // small for a change output: possible with extreme parameters only.
        return Err(insufficient());
    }

    // Top-down: sign, each level spending the outputs of the one above.
    let owner = |level: usize, g: u64| {
        if level == last {
            Owner::Generator((g % dest.len() as u64) as usize)
        } else {
            Owner::Funds
        }
    };
    let mut total_fees = draft.fee;
    let root = sign(&draft, funds, |i| {
        if (i as u64) < counts[0] {
            owner(0, i as u64)
        } else {
            Owner::Funds
        }
    });
    let change = if has_change {
        root.outputs.last().copied()
    } else {
        None
    };
    let mut above: Vec<Fund> = root.outputs[..counts[0] as usize].to_vec();
    let mut phases = vec![vec![root]];
    for k in 1..=last {
        let mut phase = Vec::with_capacity(counts[k - 1] as usize);
        let mut outputs = Vec::with_capacity(counts[k] as usize);
        for (j, parent) in above.iter().enumerate() {
            let j = j as u64;
            let draft = Draft {
                inputs: vec![parent.tx_in],
                outputs: children(k, j)
                    .map(|g| (address_of(k, g), clamp(need(&needs, k, g))))
                    .collect(),
                fee: fees[k][j as usize],
            };
            total_fees += draft.fee;
            let first = j * f;
            let tx = sign(&draft, funds, |i| owner(k, first + i as u64));
            outputs.extend_from_slice(&tx.outputs);
            phase.push(tx);
        }
        phases.push(phase);
        above = outputs;
    }
    Ok(SplitPlan {
        phases,
        final_utxos: above,
        change,
        fees: total_fees,
    })
}

/// The least fee of a one-witness transaction without metadata, and its size.
fn min_fee(mut draft: Draft<'_>, params: &ProtocolParams) -> (u64, usize) {
    // Only the fee's own encoded length depends on the fee, so this settles in ≤ 3 rounds.
    loop {
        let size = draft.size(1, None);
        let min = params.min_fee(size);
        if min <= draft.fee {
            return (draft.fee, size);
        }
        draft.fee = min;
    }
}

/// With `rest` lovelace left after the root's outputs: the fee and change if a change output
/// above the minimum ada fits, else `None`.
fn change_fee(
    draft: &Draft<'_>,
    address: &[u8],
    rest: u64,
    params: &ProtocolParams,
) -> Option<(u64, u64)> {
    let mut draft = draft.clone();
    draft.outputs.push((address, rest));
    let mut fee = 0;
    loop {
        let change = rest.checked_sub(fee)?;
        if let Some(out) = draft.outputs.last_mut() {
            *out = (address, change);
        }
        draft.fee = fee;
        let min = params.min_fee(draft.size(1, None));
        if min <= fee {
            let min_change = params.min_lovelace(output_len(address.len(), change));
            return (change >= min_change).then_some((fee, change));
        }
        fee = min;
    }
}

/// Signs a split transaction with the funds key; `owner(i)` says whose output `i` is.
fn sign(draft: &Draft<'_>, funds: &Wallet, owner: impl Fn(usize) -> Owner) -> SignedTx {
    let (bytes, id) = draft.sign(&[funds], None);
    let outputs = (draft.outputs.iter().enumerate())
        .map(|(i, &(_, lovelace))| Fund {
            tx_in: TxIn {
                tx_id: id,
                index: i as u64,
            },
            lovelace,
            owner: owner(i),
        })
        .collect();
    SignedTx {
        bytes,
        id,
        fee: draft.fee,
        outputs,
    }
}

/// An input of the right encoded size for sizing a transaction before its parent's id exists.
fn dummy_input(index: u64) -> TxIn {
    TxIn {
        tx_id: [0; 32],
        index,
    }
}

/// A value for sizing only: anything above `u32::MAX` encodes in 9 bytes, so clamping keeps
/// the size right for sums that cannot be funded anyway.
fn clamp(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}
