//! The benchmark workload after a real split: every transaction validates in sequence against
//! the UTxO set, padding makes sizes exact (whole size or `add_tx_size` on top), recycled
//! outputs are valid inputs, and the builder thread delivers the same stream in order.

use std::collections::HashSet;

use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{Tx, TxIn, TxOut, decode_tx};
use wb_ledger::utxo::UtxoSet;
use wb_ledger::wallet::Wallet;
use wb_txgen::build::{
    BuildError, FeePolicy, Fund, MIN_ADDED_SIZE, Owner, Padding, SignedTx, Workload,
    WorkloadConfig, padding_metadata, spawn_builder,
};
use wb_txgen::plan::{SplitTarget, plan_split};

const ADA: u64 = 1_000_000;

fn funds_wallet() -> Wallet {
    Wallet::from_seed([1; 32], 0)
}

fn generators(n: u8) -> Vec<Wallet> {
    (0..n).map(|i| Wallet::from_seed([10 + i; 32], 0)).collect()
}

/// Splits a genesis UTxO into `utxos` of `value` at `wallets` generator wallets, applying the
/// split; returns the UTxO set after it and the generator funds.
fn split(
    utxos: u64,
    value: u64,
    wallets: &[Wallet],
    params: &ProtocolParams,
) -> (UtxoSet, Vec<Fund>) {
    let tx_in = TxIn {
        tx_id: [0xaa; 32],
        index: 0,
    };
    let lovelace = 10_000_000 * ADA;
    let mut utxo: UtxoSet = [(tx_in, TxOut::new(funds_wallet().address(), lovelace))]
        .into_iter()
        .collect();
    let target = SplitTarget {
        utxos,
        value,
        fan_out: 30,
    };
    let plan =
        plan_split((tx_in, lovelace), &funds_wallet(), wallets, &target, params).expect("plan");
    for tx in plan.phases().iter().flatten() {
        apply(&mut utxo, tx, params);
    }
    (utxo, plan.final_utxos().to_vec())
}

/// Decodes, checks the network and applies one transaction; panics naming the rule broken.
fn apply(utxo: &mut UtxoSet, tx: &SignedTx, params: &ProtocolParams) -> Tx {
    let decoded = decode_tx(&tx.bytes).expect("decodes");
    assert_eq!(decoded.id, tx.id);
    assert_eq!(decoded.fee, tx.fee);
    assert_eq!(decoded.size, tx.size());
    decoded.check_network(0).expect("testnet addresses");
    if let Err(e) = utxo.validate_and_apply(&decoded, 0, params) {
        panic!("tx {} invalid: {e}", hex(&tx.id));
    }
    decoded
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn config(padding: Padding, fee: FeePolicy) -> WorkloadConfig {
    WorkloadConfig {
        inputs_per_tx: 2,
        outputs_per_tx: 2,
        fee,
        padding,
        min_recycle_lag: 0,
    }
}

#[test]
fn workload_txs_validate_in_sequence_with_exact_total_size() {
    let params = ProtocolParams::default();
    let wallets = generators(3);
    let tx_count = 300;
    let (utxo, funds) = split(tx_count * 2, 5 * ADA, &wallets, &params);
    for target in [400, 381, 1_000] {
        for fee in [FeePolicy::Minimum, FeePolicy::Fixed(ADA)] {
            let cfg = config(Padding::Total(target), fee);
            let mut workload =
                Workload::new(wallets.clone(), funds.clone(), cfg, params.clone()).expect("new");
            let mut state = utxo.clone();
            for k in 0..tx_count {
                let tx = workload.next_tx().expect("funded");
                assert_eq!(tx.size(), target, "tx {k}");
                let decoded = apply(&mut state, &tx, &params);
                let aux = decoded.auxiliary_data.expect("padding metadata");
                assert!(aux.metadata_valid);
                assert_eq!(decoded.auxiliary_data_hash, Some(aux.hash));
                assert_eq!(decoded.vkey_witnesses.len(), 1, "single-signer inputs");
                match fee {
                    FeePolicy::Minimum => assert_eq!(tx.fee, params.min_fee(target)),
                    FeePolicy::Fixed(f) => assert_eq!(tx.fee, f),
                }
                let out_sum: u64 = tx.outputs.iter().map(|o| o.lovelace).sum();
                assert_eq!(out_sum + tx.fee, 10 * ADA, "2 split UTxOs in, all out");
            }
            // The split UTxOs were just enough: the pool now holds only workload outputs.
            assert_eq!(workload.built(), tx_count);
            assert_eq!(workload.pooled(), tx_count as usize * 2);
        }
    }
}

#[test]
fn add_tx_size_adds_exactly_that_many_bytes() {
    let params = ProtocolParams::default();
    let wallets = generators(2);
    let (utxo, funds) = split(200, 5 * ADA, &wallets, &params);
    for fee in [FeePolicy::Minimum, FeePolicy::Fixed(ADA)] {
        for add in [MIN_ADDED_SIZE, 38, 39, 60, 61, 100, 101, 1_000, 4_321] {
            let plain_cfg = config(Padding::None, fee);
            let padded_cfg = config(Padding::Add(add), fee);
            let mut plain =
                Workload::new(wallets.clone(), funds.clone(), plain_cfg, params.clone())
                    .expect("new");
            let mut padded =
                Workload::new(wallets.clone(), funds.clone(), padded_cfg, params.clone())
                    .expect("new");
            let mut state = utxo.clone();
            for k in 0..100 {
                let a = plain.next_tx().expect("plain");
                let b = padded.next_tx().expect("padded");
                assert_eq!(b.size(), a.size() + add, "add {add}, tx {k}");
                assert_eq!(decode_tx(&a.bytes).expect("decodes").auxiliary_data, None);
                if fee == FeePolicy::Minimum {
                    assert_eq!(a.fee, params.min_fee(a.size()));
                    assert_eq!(b.fee, params.min_fee(b.size()));
                }
                apply(&mut state, &b, &params);
            }
        }
    }
    // The value profiles' shape (2 in, 2 out, add_tx_size 100) at 5 ada per input: 274
    // bytes plus 100. The profiles' `default_value_tx_size_estimate` for the Haskell
    // generator is 381; the few bytes differ with encoding choices (output form, integer
    // widths), not with the padding rule.
    let mut w =
        Workload::new(wallets, funds, WorkloadConfig::default(), params.clone()).expect("new");
    assert_eq!(w.next_tx().expect("tx").size(), 374);
}

#[test]
fn padding_metadata_takes_every_size() {
    assert_eq!(padding_metadata(2), None);
    for len in 3..=16_384 {
        let m = padding_metadata(len).expect("padding");
        assert_eq!(m.len(), len);
        // {0: [bytes ≤ 64, …]}
        let mut d = minicbor::Decoder::new(&m);
        assert_eq!(d.map().expect("map"), Some(1));
        assert_eq!(d.u64().expect("label"), 0);
        let n = d.array().expect("array").expect("definite");
        for _ in 0..n {
            assert!(d.bytes().expect("bytes").len() <= 64);
        }
        assert_eq!(d.position(), len);
    }
}

#[test]
fn every_total_size_from_the_minimum_validates() {
    let params = ProtocolParams::default();
    let wallets = generators(1);
    let (utxo, funds) = split(2, 5 * ADA, &wallets, &params);
    let build = |target| {
        let cfg = config(Padding::Total(target), FeePolicy::Minimum);
        Workload::new(wallets.clone(), funds.clone(), cfg, params.clone())
            .expect("new")
            .next_tx()
    };
    let Err(BuildError::PaddingTooSmall { target: 100, min }) = build(100) else {
        panic!("100 bytes cannot hold 2 inputs, 2 outputs and a witness");
    };
    assert!(matches!(
        build(min - 1),
        Err(BuildError::PaddingTooSmall { .. })
    ));
    for target in min..min + 300 {
        let tx = build(target).expect("padded");
        assert_eq!(tx.size(), target);
        apply(&mut utxo.clone(), &tx, &params);
    }
    let max = params.max_tx_size as usize;
    let tx = build(max).expect("largest");
    assert_eq!(tx.size(), max);
    apply(&mut utxo.clone(), &tx, &params);
    assert_eq!(
        build(max + 1),
        Err(BuildError::TooLarge {
            size: max + 1,
            max: params.max_tx_size
        })
    );
}

#[test]
fn recycled_outputs_are_valid_inputs() {
    let params = ProtocolParams::default();
    for wallets in [generators(1), generators(3)] {
        // 12 UTxOs feed 6 transactions; the next 54 spend workload outputs.
        let (mut utxo, funds) = split(12, 20 * ADA, &wallets, &params);
        let split_ins: HashSet<TxIn> = funds.iter().map(|f| f.tx_in).collect();
        let cfg = config(Padding::Add(100), FeePolicy::Minimum);
        let mut workload = Workload::new(wallets.clone(), funds, cfg, params.clone()).expect("new");
        let mut recycled = 0;
        for _ in 0..60 {
            let tx = workload.next_tx().expect("funds last");
            let decoded = apply(&mut utxo, &tx, &params);
            recycled += decoded
                .inputs
                .iter()
                .filter(|i| !split_ins.contains(i))
                .count();
            assert_eq!(decoded.vkey_witnesses.len(), 1);
        }
        assert_eq!(recycled, 2 * 54);
        // Everything the generator wallets own is in the pool, and only that.
        let owned = utxo
            .iter()
            .filter(|(_, o)| o.address != funds_wallet().address());
        assert_eq!(workload.pooled(), owned.count());
    }
}

#[test]
fn recycling_too_soon_is_an_error_that_changes_nothing() {
    let params = ProtocolParams::default();
    let wallets = generators(1);
    let (_, funds) = split(10, 20 * ADA, &wallets, &params);
    // One wallet, 5 transactions per generation: tx 5 spends tx 0's outputs, 5 txs later.
    let lagged = |lag| WorkloadConfig {
        min_recycle_lag: lag,
        ..config(Padding::None, FeePolicy::Minimum)
    };
    let mut ok =
        Workload::new(wallets.clone(), funds.clone(), lagged(5), params.clone()).expect("new");
    for _ in 0..20 {
        ok.next_tx().expect("a lag of 5 is met");
    }
    let mut tight = Workload::new(wallets, funds, lagged(6), params.clone()).expect("new");
    for _ in 0..5 {
        tight.next_tx().expect("fresh funds");
    }
    let err = tight.next_tx().expect_err("too soon");
    assert_eq!(
        err,
        BuildError::RecycleTooSoon {
            next: 5,
            created_by: 0,
            min_lag: 6
        }
    );
    assert!(err.to_string().contains("too small"), "{err}");
    assert_eq!((tight.built(), tight.pooled()), (5, 10));
    assert_eq!(tight.next_tx(), Err(err));
}

#[test]
fn inputs_are_gathered_across_wallets_when_none_has_enough() {
    let params = ProtocolParams::default();
    let wallets = generators(3);
    let (mut utxo, funds) = split(3, 20 * ADA, &wallets, &params);
    let cfg = WorkloadConfig {
        inputs_per_tx: 3,
        outputs_per_tx: 1,
        ..config(Padding::Total(600), FeePolicy::Minimum)
    };
    let mut workload = Workload::new(wallets, funds, cfg, params.clone()).expect("new");
    let tx = workload.next_tx().expect("3 wallets, one fund each");
    let decoded = apply(&mut utxo, &tx, &params);
    assert_eq!(decoded.vkey_witnesses.len(), 3);
    assert_eq!(tx.size(), 600);
    assert_eq!(
        workload.next_tx(),
        Err(BuildError::OutOfFunds {
            built: 1,
            available: 1,
            needed: 3
        })
    );
}

#[test]
fn unworkable_configurations_are_refused() {
    let params = ProtocolParams::default();
    let wallets = generators(2);
    let (_, funds) = split(20, 2 * ADA, &wallets, &params);
    let new =
        |cfg: WorkloadConfig| Workload::new(wallets.clone(), funds.clone(), cfg, params.clone());
    let base = config(Padding::None, FeePolicy::Minimum);

    assert!(matches!(
        Workload::new(Vec::new(), funds.clone(), base, params.clone()),
        Err(BuildError::NoWallets)
    ));
    assert!(matches!(
        new(WorkloadConfig {
            outputs_per_tx: 0,
            ..base
        }),
        Err(BuildError::InvalidShape {
            inputs: 2,
            outputs: 0
        })
    ));
    let foreign = Fund {
        tx_in: funds[0].tx_in,
        lovelace: 1,
        owner: Owner::Funds,
    };
    assert_eq!(
        Workload::new(wallets.clone(), [foreign], base, params.clone()).map(|_| ()),
        Err(BuildError::ForeignFund(funds[0].tx_in))
    );
    assert_eq!(
        Workload::new(wallets.clone(), [funds[0], funds[0]], base, params.clone()).map(|_| ()),
        Err(BuildError::DuplicateFund(funds[0].tx_in))
    );
    let unknown = Fund {
        owner: Owner::Generator(2),
        ..foreign
    };
    assert!(matches!(
        Workload::new(wallets.clone(), [unknown], base, params.clone()),
        Err(BuildError::ForeignFund(_))
    ));

    let mut w = new(config(Padding::None, FeePolicy::Fixed(1_000))).expect("new");
    let err = w.next_tx().expect_err("fee too small");
    assert!(
        matches!(err, BuildError::FeeTooSmall { fee: 1_000, min_fee, size } if min_fee == params.min_fee(size))
    );

    // 2 ada in, 10 outputs out: each far below the minimum ada.
    let mut w = new(WorkloadConfig {
        outputs_per_tx: 10,
        ..base
    })
    .expect("new");
    assert!(matches!(
        w.next_tx(),
        Err(BuildError::OutputTooSmall { .. })
    ));

    let mut w = new(WorkloadConfig {
        inputs_per_tx: 1,
        ..config(Padding::None, FeePolicy::Fixed(3 * ADA))
    })
    .expect("new");
    assert_eq!(
        w.next_tx(),
        Err(BuildError::InputsBelowFee {
            available: 2 * u128::from(ADA),
            fee: 3 * ADA
        })
    );
    // Nothing was consumed by the failures.
    assert_eq!((w.built(), w.pooled()), (0, 20));
}

#[test]
fn min_fund_value_is_enough_for_a_generation() {
    let params = ProtocolParams::default();
    let wallets = generators(2);
    for cfg in [
        WorkloadConfig::default(),
        config(Padding::Total(2_000), FeePolicy::Minimum),
        WorkloadConfig {
            inputs_per_tx: 1,
            outputs_per_tx: 3,
            ..config(Padding::Add(500), FeePolicy::Fixed(ADA))
        },
    ] {
        let value = cfg.min_fund_value(&params);
        let n = 40 * cfg.inputs_per_tx as u64;
        let (mut utxo, funds) = split(n, value, &wallets, &params);
        let mut workload = Workload::new(wallets.clone(), funds, cfg, params.clone()).expect("new");
        for _ in 0..40 {
            let tx = workload.next_tx().expect("enough");
            apply(&mut utxo, &tx, &params);
        }
        // A little less fails (outputs below the minimum ada).
        let (_, funds) = split(n, value - value / 10, &wallets, &params);
        let mut poorer = Workload::new(wallets.clone(), funds, cfg, params.clone()).expect("new");
        assert!(
            matches!(poorer.next_tx(), Err(BuildError::OutputTooSmall { .. })),
            "{cfg:?}"
        );
    }
}

#[test]
fn builder_thread_delivers_the_same_stream_in_order() {
    let params = ProtocolParams::default();
    let wallets = generators(2);
    let (mut utxo, funds) = split(64, 5 * ADA, &wallets, &params);
    let cfg = config(Padding::Add(100), FeePolicy::Minimum);
    let mut inline =
        Workload::new(wallets.clone(), funds.clone(), cfg, params.clone()).expect("new");
    let expected: Vec<SignedTx> = (0..30).map(|_| inline.next_tx().expect("tx")).collect();

    let workload = Workload::new(wallets.clone(), funds.clone(), cfg, params.clone()).expect("new");
    let builder = spawn_builder(workload, Some(30), 4).expect("thread");
    let mut got = Vec::new();
    while let Some(tx) = builder.recv() {
        got.push(tx.expect("built"));
    }
    assert_eq!(got, expected, "deterministic: same ids, bytes and order");
    for tx in &got {
        apply(&mut utxo, tx, &params);
    }
    let back = builder.join().expect("no panic");
    assert_eq!(back.built(), 30);

    // Without a count it runs until the funds (and recycling) end, the error last.
    let cfg = WorkloadConfig {
        outputs_per_tx: 1,
        ..cfg
    };
    let workload = Workload::new(wallets.clone(), funds.clone(), cfg, params.clone()).expect("new");
    let builder = spawn_builder(workload, None, 0).expect("thread");
    let items: Vec<_> = builder.receiver().iter().collect();
    // 64 → 32 → 16 → … → 1 funds: 63 transactions, then out of funds.
    assert_eq!(items.len(), 64);
    assert!(items[..63].iter().all(Result::is_ok));
    assert!(matches!(
        items[63],
        Err(BuildError::OutOfFunds {
            built: 63,
            available: 1,
            ..
        })
    ));
    drop(builder);

    // Dropping the receiving side stops an endless builder.
    let workload = Workload::new(
        wallets,
        funds,
        config(Padding::None, FeePolicy::Minimum),
        params,
    )
    .expect("new");
    let builder = spawn_builder(workload, None, 2).expect("thread");
    assert!(builder.recv().is_some_and(|r| r.is_ok()));
    let back = builder.join().expect("no panic");
    assert!(
        back.built() <= 1 + 2 + 1,
        "stopped at its next send: {}",
        back.built()
    );
}

#[test]
fn every_shape_and_padding_validates() {
    let params = ProtocolParams::default();
    let wallets = generators(2);
    let (utxo, funds) = split(120, 30 * ADA, &wallets, &params);
    for inputs in 1..=4 {
        for outputs in 1..=4 {
            for padding in [
                Padding::None,
                Padding::Add(MIN_ADDED_SIZE),
                Padding::Add(777),
                Padding::Total(1_500),
            ] {
                for fee in [FeePolicy::Minimum, FeePolicy::Fixed(ADA)] {
                    let cfg = WorkloadConfig {
                        inputs_per_tx: inputs,
                        outputs_per_tx: outputs,
                        fee,
                        padding,
                        min_recycle_lag: 0,
                    };
                    let mut workload =
                        Workload::new(wallets.clone(), funds.clone(), cfg, params.clone())
                            .expect("new");
                    let mut state = utxo.clone();
                    // Past the split UTxOs into recycled ones for every shape (a pool that
                    // shrinks, fewer outputs than inputs, runs out on the way).
                    let mut built = 0;
                    for _ in 0..(120 / inputs + 10) {
                        let tx = match workload.next_tx() {
                            Ok(tx) => tx,
                            Err(BuildError::OutOfFunds { .. }) if outputs < inputs => break,
                            Err(e) => panic!("{cfg:?}: {e}"),
                        };
                        let decoded = apply(&mut state, &tx, &params);
                        assert_eq!(decoded.outputs.len(), outputs);
                        if let Padding::Total(total) = padding {
                            assert_eq!(tx.size(), total);
                        }
                        if fee == FeePolicy::Minimum {
                            assert_eq!(tx.fee, params.min_fee(tx.size()), "{cfg:?}");
                        }
                        built += 1;
                    }
                    assert!(built > 120 / inputs, "{cfg:?}: recycled outputs spent too");
                }
            }
        }
    }
}
