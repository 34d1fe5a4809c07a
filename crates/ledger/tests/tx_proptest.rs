//! Random chains of valid transfers: lovelace plus fees is conserved, replays are refused, and
//! undoing in reverse order returns to the start.

use proptest::prelude::*;
use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{TxError, TxIn, TxOut, decode_tx};
use wb_ledger::utxo::UtxoSet;
use wb_ledger::wallet::Wallet;

const WALLETS: usize = 4;
const ADA: u64 = 1_000_000;

/// One step: `from` pays `to` a share (per mille) of its largest output's spendable part.
#[derive(Debug, Clone)]
struct Step {
    from: usize,
    to: usize,
    share: u64,
    inputs: usize,
}

fn step() -> impl Strategy<Value = Step> {
    (0..WALLETS, 0..WALLETS, 1..1000u64, 1..=3usize).prop_map(|(from, to, share, inputs)| Step {
        from,
        to,
        share,
        inputs,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn chains_conserve_value_and_undo_to_the_start(steps in prop::collection::vec(step(), 1..24)) {
        let params = ProtocolParams::default();
        let wallets: Vec<Wallet> =
            (0..WALLETS).map(|i| Wallet::from_seed([i as u8 + 1; 32], 0)).collect();
        let mut utxo = UtxoSet::new();
        for (i, w) in wallets.iter().enumerate() {
            for j in 0..2 {
                let tx_in = TxIn { tx_id: [0xee; 32], index: (2 * i + j) as u64 };
                utxo.insert(tx_in, TxOut::new(w.address(), 1_000 * ADA));
            }
        }
        let start = utxo.clone();
        let total = utxo.total_lovelace();
        let mut fees: u128 = 0;
        let mut undos = Vec::new();
        let mut applied = Vec::new();

        for (slot, s) in steps.iter().enumerate() {
            let from = &wallets[s.from];
            // The sender's outputs, largest first, in a deterministic order.
            let mut own: Vec<(TxIn, u64)> = utxo
                .iter()
                .filter(|(_, o)| o.address == from.address())
                .map(|(i, o)| (*i, o.lovelace))
                .collect();
            own.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            own.truncate(s.inputs);
            let available: u64 = own.iter().map(|(_, v)| v).sum();
            // Leave room for the fee and an above-minimum change output.
            let spendable = available.saturating_sub(3 * ADA);
            let amount = (spendable / 1000 * s.share).max(ADA);
            if own.is_empty() || amount + 3 * ADA > available {
                continue;
            }
            let to = [(wallets[s.to].address(), amount)];
            let (bytes, fee) =
                from.build_payment(&own, &to, Some(slot as u64 + 10), &params).expect("funds");
            let tx = decode_tx(&bytes).expect("decodes");
            prop_assert_eq!(utxo.validate(&tx, slot as u64, &params), Ok(()));
            let undo = utxo.apply(&tx);
            fees += u128::from(fee);
            prop_assert_eq!(utxo.total_lovelace() + fees, total);
            let recount: u128 = utxo.iter().map(|(_, o)| u128::from(o.lovelace)).sum();
            prop_assert_eq!(recount, utxo.total_lovelace());
            // The same transaction cannot be applied twice.
            let replay = utxo.validate(&tx, slot as u64, &params);
            prop_assert!(matches!(replay, Err(TxError::BadInputsUTxO(_))), "{:?}", replay);
            undos.push(undo);
            applied.push(tx);
        }

        // The first step always has funds, so every chain applies something.
        prop_assert!(!applied.is_empty());
        while let Some(undo) = undos.pop() {
            utxo.undo(undo);
        }
        prop_assert_eq!(&utxo, &start);
        prop_assert_eq!(utxo.total_lovelace(), total);
        // After the rollback, the first transaction is valid again.
        if let Some(first) = applied.first() {
            prop_assert_eq!(utxo.validate(first, 0, &params), Ok(()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(tx) = decode_tx(&bytes) {
            let _ = UtxoSet::new().validate(&tx, 0, &ProtocolParams::default());
        }
    }
}

/// Exhaustive: every single-bit corruption of a valid transaction fails to decode or validate.
#[test]
fn every_bit_flip_of_a_valid_transaction_is_refused() {
    let params = ProtocolParams::default();
    let alice = Wallet::from_seed([1; 32], 0);
    let bob = Wallet::from_seed([2; 32], 0);
    let tx_in = TxIn {
        tx_id: [0xee; 32],
        index: 0,
    };
    let mut utxo = UtxoSet::new();
    utxo.insert(tx_in, TxOut::new(alice.address(), 1_000 * ADA));
    let to = [(bob.address(), 10 * ADA)];
    let (bytes, _) = alice
        .build_payment(&[(tx_in, 1_000 * ADA)], &to, Some(100), &params)
        .expect("funds");
    let valid = decode_tx(&bytes).expect("decodes");
    assert_eq!(utxo.validate(&valid, 50, &params), Ok(()));
    let mut decoded = 0;
    for bit in 0..8 * bytes.len() {
        let mut corrupt = bytes.clone();
        corrupt[bit / 8] ^= 1 << (bit % 8);
        if let Ok(tx) = decode_tx(&corrupt) {
            decoded += 1;
            let verdict = utxo.validate(&tx, 50, &params);
            assert!(verdict.is_err(), "flipping bit {bit} still validates");
        }
    }
    // Most flips still decode (they hit hashes, keys and signatures) and fail validation.
    assert!(
        decoded > bytes.len() * 4,
        "{decoded} of {} flips decoded",
        8 * bytes.len()
    );
}
