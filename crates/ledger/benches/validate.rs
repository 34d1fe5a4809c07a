//! Transaction validation throughput: `decode_tx` + `UtxoSet::validate` on signed Conway
//! transfers, next to raw ed25519-dalek verification of the same (tx id, signature) pairs, in
//! one run on one core.
//!
//! Run: `cargo bench -p wb-ledger --bench validate` (`-- --quick` for a short run).
//!
//! Every transaction spends its own genesis output (1 input, 2 outputs, 1 witness), so all are
//! valid against the same UTxO set and nothing is applied between samples. The signature
//! check is what a transaction cannot avoid, so the ratio shows what the rest of the ledger
//! (CBOR decoding, hashing, lookups, balance and witness rules) costs on top of it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{Tx, TxIn, TxOut, decode_tx};
use wb_ledger::utxo::UtxoSet;
use wb_ledger::wallet::Wallet;

const ADA: u64 = 1_000_000;
const SLOT: u64 = 5_000;

struct Setup {
    utxo: UtxoSet,
    txs: Vec<Vec<u8>>,
    decoded: Vec<Tx>,
    /// (vkey, signature, tx id) of every transaction's one witness.
    sigs: Vec<([u8; 32], [u8; 64], [u8; 32])>,
}

fn setup(n: usize, wallets: usize, filler: usize, params: &ProtocolParams) -> Setup {
    let wallets: Vec<Wallet> = (0..wallets)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Wallet::from_seed(seed, 0)
        })
        .collect();
    let mut utxo = UtxoSet::new();
    // Unrelated outputs so lookups hit a realistically large map.
    for i in 0..filler {
        let tx_in = TxIn {
            tx_id: hash_of(b"filler", i),
            index: (i % 3) as u64,
        };
        utxo.insert(
            tx_in,
            TxOut::new(wallets[i % wallets.len()].address(), 5 * ADA),
        );
    }
    let mut txs = Vec::with_capacity(n);
    for i in 0..n {
        let from = &wallets[i % wallets.len()];
        let to = &wallets[(i * 7 + 1) % wallets.len()];
        let tx_in = TxIn {
            tx_id: hash_of(b"genesis", i),
            index: 0,
        };
        let amount = 1_000 * ADA + i as u64;
        utxo.insert(tx_in, TxOut::new(from.address(), amount));
        let pay = [(to.address(), 10 * ADA)];
        let (tx, _) = from
            .build_payment(&[(tx_in, amount)], &pay, Some(SLOT + 1_000), params)
            .expect("funded");
        txs.push(tx);
    }
    let decoded: Vec<Tx> = txs.iter().map(|b| decode_tx(b).expect("decodes")).collect();
    let sigs = decoded
        .iter()
        .map(|tx| {
            let w = tx.vkey_witnesses[0];
            (w.vkey, w.signature, tx.id)
        })
        .collect();
    Setup {
        utxo,
        txs,
        decoded,
        sigs,
    }
}

/// Distinct, well-spread 32-byte ids.
fn hash_of(domain: &[u8], i: usize) -> [u8; 32] {
    let mut state = blake2b_simd::State::new();
    state.update(domain).update(&(i as u64).to_le_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(&state.finalize().as_bytes()[..32]);
    out
}

/// Runs `f` over all items once and returns items per second.
fn rate(items: usize, f: impl FnOnce() -> usize) -> f64 {
    let start = Instant::now();
    let ok = f();
    let elapsed = start.elapsed().max(Duration::from_nanos(1));
    assert_eq!(ok, items, "every item must pass");
    items as f64 / elapsed.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, wallets, filler, samples) = if quick {
        (2_000, 200, 10_000, 3)
    } else {
        (20_000, 2_000, 100_000, 7)
    };
    let params = ProtocolParams::default();
    let s = setup(n, wallets, filler, &params);
    let size = s.txs[0].len();

    let mut decode_validate = Vec::new();
    let mut decode_only = Vec::new();
    let mut validate_only = Vec::new();
    let mut raw_strict = Vec::new();
    let mut raw_verify = Vec::new();
    let mut raw_verify_parsed = Vec::new();
    let parsed_keys: Vec<VerifyingKey> = s
        .sigs
        .iter()
        .map(|(k, _, _)| VerifyingKey::from_bytes(k).expect("valid key"))
        .collect();

    // Interleaved so frequency drift affects every measurement alike.
    for _ in 0..samples {
        decode_validate.push(rate(n, || {
            let mut ok = 0;
            for bytes in &s.txs {
                let valid = decode_tx(black_box(bytes))
                    .and_then(|tx| s.utxo.validate(&tx, SLOT, &params))
                    .is_ok();
                ok += usize::from(valid);
            }
            ok
        }));
        raw_strict.push(rate(n, || {
            let mut ok = 0;
            for (vkey, sig, msg) in black_box(&s.sigs) {
                let valid = VerifyingKey::from_bytes(vkey)
                    .is_ok_and(|k| k.verify_strict(msg, &Signature::from_bytes(sig)).is_ok());
                ok += usize::from(valid);
            }
            ok
        }));
        raw_verify.push(rate(n, || {
            use ed25519_dalek::Verifier;
            let mut ok = 0;
            for (vkey, sig, msg) in black_box(&s.sigs) {
                let valid = VerifyingKey::from_bytes(vkey)
                    .is_ok_and(|k| k.verify(msg, &Signature::from_bytes(sig)).is_ok());
                ok += usize::from(valid);
            }
            ok
        }));
        raw_verify_parsed.push(rate(n, || {
            use ed25519_dalek::Verifier;
            let mut ok = 0;
            for (key, (_, sig, msg)) in parsed_keys.iter().zip(black_box(&s.sigs)) {
                ok += usize::from(key.verify(msg, &Signature::from_bytes(sig)).is_ok());
            }
            ok
        }));
        decode_only.push(rate(n, || {
            s.txs
                .iter()
                .filter(|b| decode_tx(black_box(b)).is_ok())
                .count()
        }));
        validate_only.push(rate(n, || {
            let valid = |tx: &Tx| s.utxo.validate(black_box(tx), SLOT, &params).is_ok();
            s.decoded.iter().filter(|tx| valid(tx)).count()
        }));
    }

    let full = median(decode_validate);
    let strict = median(raw_strict);
    let verify = median(raw_verify);
    println!(
        "ledger validate bench: {n} txs (1 input, 2 outputs, 1 vkey witness, {size} bytes), \
         UTxO set of {} outputs, median of {samples} samples, 1 core{}",
        s.utxo.len(),
        if quick { ", --quick" } else { "" }
    );
    println!(
        "  decode_tx only                         {:>10.0} txs/s",
        median(decode_only)
    );
    println!(
        "  validate only (pre-decoded)            {:>10.0} txs/s",
        median(validate_only)
    );
    println!("  decode_tx + validate                   {full:>10.0} txs/s");
    println!("  raw ed25519: key parse + verify_strict {strict:>10.0} sigs/s");
    println!("  raw ed25519: key parse + verify        {verify:>10.0} sigs/s");
    println!(
        "  raw ed25519: verify (keys pre-parsed)  {:>10.0} sigs/s",
        median(raw_verify_parsed)
    );
    println!(
        "  ratio decode+validate / raw verify_strict: {:.3}  (target >= 0.7)",
        full / strict
    );
    println!(
        "  ratio decode+validate / raw verify:        {:.3}  (target >= 0.7)",
        full / verify
    );
}
