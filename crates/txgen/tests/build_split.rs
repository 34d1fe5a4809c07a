//! The funds split plan: every phase validates against the UTxO set in order, the result is
//! exactly the target, lovelace is conserved minus fees, fees are the minimum, and funds,
//! values and fan-outs that cannot work are refused with errors that say why.

use std::collections::HashMap;

use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{Tx, TxIn, TxOut, decode_tx};
use wb_ledger::utxo::UtxoSet;
use wb_ledger::wallet::Wallet;
use wb_txgen::build::{Owner, SignedTx};
use wb_txgen::plan::{PlanError, SplitPlan, SplitTarget, plan_split};

const ADA: u64 = 1_000_000;

fn funds() -> Wallet {
    Wallet::from_seed([1; 32], 0)
}

fn generators(n: u8) -> Vec<Wallet> {
    (0..n).map(|i| Wallet::from_seed([10 + i; 32], 0)).collect()
}

fn source(lovelace: u64) -> (TxIn, u64) {
    let tx_in = TxIn {
        tx_id: [0xaa; 32],
        index: 3,
    };
    (tx_in, lovelace)
}

fn genesis(lovelace: u64) -> UtxoSet {
    let (tx_in, _) = source(lovelace);
    [(tx_in, TxOut::new(funds().address(), lovelace))]
        .into_iter()
        .collect()
}

/// Decodes, checks the network and applies one transaction; panics naming the rule broken.
fn apply(utxo: &mut UtxoSet, tx: &SignedTx, params: &ProtocolParams) -> Tx {
    let decoded = decode_tx(&tx.bytes).expect("decodes");
    assert_eq!(decoded.id, tx.id);
    assert_eq!(decoded.fee, tx.fee);
    decoded.check_network(0).expect("testnet addresses");
    if let Err(e) = utxo.validate_and_apply(&decoded, 0, params) {
        panic!(
            "tx {} invalid: {e}",
            TxIn {
                tx_id: tx.id,
                index: 0
            }
        );
    }
    decoded
}

/// Applies all phases in order and checks the plan's bookkeeping against the ledger.
fn apply_plan(plan: &SplitPlan, available: u64, params: &ProtocolParams) -> UtxoSet {
    let mut utxo = genesis(available);
    let mut fees = 0;
    for phase in plan.phases() {
        for tx in phase {
            let decoded = apply(&mut utxo, tx, params);
            fees += decoded.fee;
            for (i, out) in tx.outputs.iter().enumerate() {
                assert_eq!(
                    out.tx_in,
                    TxIn {
                        tx_id: tx.id,
                        index: i as u64
                    }
                );
                assert_eq!(out.lovelace, decoded.outputs[i].lovelace);
            }
        }
    }
    assert_eq!(fees, plan.total_fees());
    assert_eq!(
        utxo.total_lovelace(),
        u128::from(available - plan.total_fees()),
        "lovelace is conserved minus fees"
    );
    utxo
}

/// The final set holds exactly the target at the generator wallets (round-robin) and
/// nothing else but the change.
fn check_final(
    utxo: &UtxoSet,
    plan: &SplitPlan,
    dest: &[Wallet],
    target: &SplitTarget,
) -> HashMap<Vec<u8>, u64> {
    let mut per_address: HashMap<Vec<u8>, u64> = HashMap::new();
    for (tx_in, out) in utxo.iter() {
        if Some(*tx_in) == plan.change().map(|c| c.tx_in) {
            assert_eq!(out.address, funds().address());
            continue;
        }
        assert_eq!(out.lovelace, target.value, "{tx_in}");
        *per_address.entry(out.address.clone()).or_default() += 1;
    }
    let expected_len = target.utxos as usize + usize::from(plan.change().is_some());
    assert_eq!(utxo.len(), expected_len);
    assert_eq!(plan.final_utxos().len() as u64, target.utxos);
    for (g, fund) in plan.final_utxos().iter().enumerate() {
        let w = g % dest.len();
        assert_eq!(fund.owner, Owner::Generator(w));
        assert_eq!(fund.lovelace, target.value);
        let out = utxo.get(&fund.tx_in).expect("final UTxO unspent");
        assert_eq!(out.address, dest[w].address());
    }
    for (w, wallet) in dest.iter().enumerate() {
        let expected = (0..target.utxos)
            .filter(|g| g % dest.len() as u64 == w as u64)
            .count() as u64;
        let got = per_address.get(&wallet.address()).copied().unwrap_or(0);
        assert_eq!(got, expected, "wallet {w}");
    }
    per_address
}

#[test]
fn splits_to_1000_utxos_with_fan_out_30() {
    let params = ProtocolParams::default();
    let dest = generators(3);
    let target = SplitTarget {
        utxos: 1_000,
        value: 5 * ADA,
        fan_out: 30,
    };
    let available = 100_000 * ADA;
    let plan = plan_split(source(available), &funds(), &dest, &target, &params).expect("plan");

    // 1000 ← 34 ← 2 ← root: the shallowest tree of fan-out 30.
    let sizes: Vec<usize> = plan.phases().iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 2, 34]);
    assert_eq!(plan.tx_count(), 37);

    let utxo = apply_plan(&plan, available, &params);
    check_final(&utxo, &plan, &dest, &target);

    for (k, phase) in plan.phases().iter().enumerate() {
        for tx in phase {
            // The exact minimum fee for the real size; at most f outputs plus the root's change.
            assert_eq!(tx.fee, params.min_fee(tx.size()), "phase {k}");
            assert!(tx.outputs.len() <= 30 + usize::from(k == 0));
            assert!(tx.size() as u64 <= params.max_tx_size);
        }
    }
    let change = plan.change().expect("change");
    assert_eq!(change.owner, Owner::Funds);
    assert_eq!(
        u128::from(change.lovelace) + u128::from(plan.total_fees()) + 1_000 * 5 * u128::from(ADA),
        u128::from(available)
    );
}

#[test]
fn every_tree_shape_is_exact() {
    let params = ProtocolParams::default();
    let dest = generators(4);
    let available = 1_000_000 * ADA;
    for (utxos, fan_out, phases) in [
        (1, 30, 1),
        (29, 30, 1),
        (30, 30, 1),
        (31, 30, 2),
        (900, 30, 2),
        (901, 30, 3),
        (17, 2, 5),
        (64, 2, 6),
        (2_500, 50, 2),
        (2_501, 50, 3),
    ] {
        let target = SplitTarget {
            utxos,
            value: 2 * ADA + utxos,
            fan_out,
        };
        let plan = plan_split(source(available), &funds(), &dest, &target, &params)
            .unwrap_or_else(|e| panic!("{utxos} by {fan_out}: {e}"));
        assert_eq!(plan.phases().len(), phases, "{utxos} by {fan_out}");
        let utxo = apply_plan(&plan, available, &params);
        check_final(&utxo, &plan, &dest, &target);
    }
}

#[test]
fn insufficient_funds_name_needed_and_available() {
    let params = ProtocolParams::default();
    let dest = generators(2);
    let target = SplitTarget {
        utxos: 100,
        value: 10 * ADA,
        fan_out: 30,
    };
    // More than the outputs, less than the outputs and the fees.
    let short = 1_000 * ADA + 100_000;
    let err = plan_split(source(short), &funds(), &dest, &target, &params)
        .expect_err("1000 ada and fees needed");
    let PlanError::InsufficientFunds {
        needed,
        available,
        fees,
        ..
    } = err
    else {
        panic!("wrong error {err}");
    };
    assert_eq!(available, short);
    assert!(
        fees > 5 * u128::from(params.min_fee_b),
        "5 transactions' fees: {fees}"
    );
    assert_eq!(needed, 1_000 * u128::from(ADA) + fees);
    let message = err.to_string();
    assert!(message.contains(&needed.to_string()), "{message}");
    assert!(message.contains(&short.to_string()), "{message}");

    // Exactly the amount needed: no change, every fee the minimum.
    let exact = u64::try_from(needed).expect("fits");
    let plan = plan_split(source(exact), &funds(), &dest, &target, &params).expect("exact funds");
    assert_eq!(plan.change(), None);
    assert_eq!(u128::from(plan.total_fees()), fees);
    let utxo = apply_plan(&plan, exact, &params);
    check_final(&utxo, &plan, &dest, &target);

    // One lovelace short.
    let err =
        plan_split(source(exact - 1), &funds(), &dest, &target, &params).expect_err("one short");
    assert!(matches!(err, PlanError::InsufficientFunds { needed: n, .. } if n == needed));

    // A little more, too little for a change output: it goes to the root's fee.
    let plan = plan_split(source(exact + 1_000), &funds(), &dest, &target, &params)
        .expect("dust goes to the fee");
    assert_eq!(plan.change(), None);
    let root = &plan.phases()[0][0];
    assert_eq!(root.fee, params.min_fee(root.size()) + 1_000);
    let utxo = apply_plan(&plan, exact + 1_000, &params);
    check_final(&utxo, &plan, &dest, &target);
}

#[test]
fn unworkable_targets_are_refused() {
    let params = ProtocolParams::default();
    let dest = generators(2);
    let plan = |target: SplitTarget, dest: &[Wallet]| {
        plan_split(source(1_000_000 * ADA), &funds(), dest, &target, &params)
    };
    let ok = SplitTarget {
        utxos: 10,
        value: 2 * ADA,
        fan_out: 30,
    };
    assert_eq!(plan(ok, &[]), Err(PlanError::NoWallets));
    assert_eq!(
        plan(SplitTarget { utxos: 0, ..ok }, &dest),
        Err(PlanError::NoUtxos)
    );
    assert_eq!(
        plan(SplitTarget { fan_out: 1, ..ok }, &dest),
        Err(PlanError::FanOutTooSmall(1))
    );
    let err = plan(
        SplitTarget {
            value: 100_000,
            ..ok
        },
        &dest,
    )
    .expect_err("dust");
    assert!(
        matches!(err, PlanError::ValueTooSmall { value: 100_000, min } if min == params.min_lovelace(29 + 5 + 5)),
        "{err}"
    );
    let err = plan(
        SplitTarget {
            utxos: 1_000,
            fan_out: 1_000,
            ..ok
        },
        &dest,
    )
    .expect_err("too large");
    assert!(
        matches!(err, PlanError::TxTooLarge { size, max: 16_384, fan_out: 1_000 } if size > 16_384),
        "{err}"
    );
    // Sums beyond u64 are insufficient funds, not an overflow.
    let err = plan(
        SplitTarget {
            utxos: 3,
            value: u64::MAX / 2,
            fan_out: 30,
        },
        &dest,
    )
    .expect_err("more than exists");
    assert!(
        matches!(err, PlanError::InsufficientFunds { needed, .. } if needed > u128::from(u64::MAX))
    );
    // Far more outputs than the funds can pay is refused before any tree is sized.
    let err = plan(
        SplitTarget {
            utxos: u64::MAX / 1_000,
            value: 2 * ADA,
            fan_out: 30,
        },
        &dest,
    )
    .expect_err("more than exists");
    assert!(
        matches!(err, PlanError::InsufficientFunds { fees: 0, .. }),
        "{err}"
    );
}
