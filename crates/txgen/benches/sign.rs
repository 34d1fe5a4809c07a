//! Workload transactions built and signed per second, next to raw ed25519-dalek signing of
//! the same transaction ids with the same keys, in one run: on one core, and once more through
//! the builder thread and its channel (two threads).
//!
//! Run: `cargo bench -p wb-txgen --bench sign` (`-- --quick` for a short run).
//!
//! The shape is the value profiles': 2 inputs, 2 outputs, minimum fee, `add_tx_size` 100.
//! Every transaction spends two funds of one wallet, so it carries one signature: ed25519 is
//! the part no builder can avoid, and the ratio shows what the rest (selection, fee and
//! padding arithmetic, CBOR, blake2b of body and metadata, allocation) costs on top of it.
//! The builder-thread line adds the bounded channel, as a submitter would consume it.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{TxIn, decode_tx};
use wb_ledger::wallet::Wallet;
use wb_txgen::build::{
    FeePolicy, Fund, Owner, Padding, SignedTx, Workload, WorkloadConfig, spawn_builder,
};

const ADA: u64 = 1_000_000;

fn seed(i: usize) -> [u8; 32] {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed
}

/// `2 × txs` funds of 5 ada, round-robin over the wallets, as a split leaves them.
fn funds(txs: usize, wallets: usize) -> Vec<Fund> {
    (0..2 * txs)
        .map(|i| {
            let mut tx_id = [0u8; 32];
            tx_id[..8].copy_from_slice(&((i / 30) as u64).to_le_bytes());
            Fund {
                tx_in: TxIn {
                    tx_id,
                    index: (i % 30) as u64,
                },
                lovelace: 5 * ADA,
                owner: Owner::Generator(i % wallets),
            }
        })
        .collect()
}

/// Runs `f`, which handles `items` items, and returns items per second.
fn rate(items: usize, f: impl FnOnce() -> usize) -> f64 {
    let start = Instant::now();
    let done = f();
    let elapsed = start.elapsed().max(Duration::from_nanos(1));
    assert_eq!(done, items, "every item must be handled");
    items as f64 / elapsed.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, samples) = if quick { (3_000, 3) } else { (30_000, 7) };
    let wallet_count = 16;
    let params = ProtocolParams::default();
    let wallets: Vec<Wallet> = (0..wallet_count)
        .map(|i| Wallet::from_seed(seed(i), 0))
        .collect();
    let keys: HashMap<[u8; 32], SigningKey> = (0..wallet_count)
        .map(|i| {
            let key = SigningKey::from_bytes(&seed(i));
            (key.verifying_key().to_bytes(), key)
        })
        .collect();
    let funds = funds(n, wallet_count);
    let padded = WorkloadConfig {
        inputs_per_tx: 2,
        outputs_per_tx: 2,
        fee: FeePolicy::Minimum,
        padding: Padding::Add(100),
        min_recycle_lag: 0,
    };
    let plain = WorkloadConfig {
        padding: Padding::None,
        ..padded
    };
    let workload = |cfg| {
        Workload::new(wallets.clone(), funds.clone(), cfg, params.clone()).expect("valid workload")
    };

    // The stream once, for the raw baseline: each id with the key that signed it.
    let reference: Vec<SignedTx> = {
        let mut w = workload(padded);
        (0..n).map(|_| w.next_tx().expect("funded")).collect()
    };
    let to_sign: Vec<(&SigningKey, [u8; 32], [u8; 64])> = reference
        .iter()
        .map(|tx| {
            let decoded = decode_tx(&tx.bytes).expect("decodes");
            assert_eq!(
                decoded.vkey_witnesses.len(),
                1,
                "single-signer transactions"
            );
            let w = decoded.vkey_witnesses[0];
            (&keys[&w.vkey], tx.id, w.signature)
        })
        .collect();
    // ed25519 is deterministic: the baseline makes the very signatures the builder made.
    for (key, id, signature) in &to_sign {
        assert_eq!(key.sign(id).to_bytes(), *signature);
    }
    let size = reference[0].size();

    let mut built = Vec::new();
    let mut built_plain = Vec::new();
    let mut threaded = Vec::new();
    let mut raw = Vec::new();
    // Interleaved so frequency drift affects every measurement alike; workloads are set up
    // outside the timed part.
    for _ in 0..samples {
        let mut w = workload(padded);
        built.push(rate(n, || {
            (0..n).filter(|_| black_box(w.next_tx()).is_ok()).count()
        }));
        let mut w = workload(plain);
        built_plain.push(rate(n, || {
            (0..n).filter(|_| black_box(w.next_tx()).is_ok()).count()
        }));
        let w = workload(padded);
        threaded.push(rate(n, || {
            let builder = spawn_builder(w, Some(n as u64), 1_024).expect("thread");
            let received = builder
                .receiver()
                .iter()
                .filter(|tx| black_box(tx).is_ok())
                .count();
            drop(builder.join().expect("builder"));
            received
        }));
        raw.push(rate(n, || {
            let mut signed = 0;
            for (key, id, _) in black_box(&to_sign) {
                black_box(key.sign(id));
                signed += 1;
            }
            signed
        }));
    }

    let built = median(built);
    let raw = median(raw);
    println!(
        "txgen sign bench: {n} txs (2 inputs, 2 outputs, 1 vkey witness, add_tx_size 100 = \
         {size} bytes, min fee), {wallet_count} wallets, median of {samples} samples, 1 core \
         (builder thread: 2){}",
        if quick { ", --quick" } else { "" }
    );
    println!("  build + sign (add_tx_size 100)         {built:>10.0} txs/s");
    println!(
        "  build + sign (no padding)              {:>10.0} txs/s",
        median(built_plain)
    );
    println!(
        "  builder thread -> channel -> consumer  {:>10.0} txs/s",
        median(threaded)
    );
    println!("  raw ed25519-dalek sign of the same ids {raw:>10.0} sigs/s");
    println!("  ratio build+sign / raw sign: {:.3}", built / raw);
}
