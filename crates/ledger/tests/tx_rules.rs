//! Phase-1 rules on real Conway transactions: each rule passing and failing with its variant,
//! pallas agreeing on the encoding and the id, and apply/undo.

use minicbor::Encoder;
use pallas_traverse::{Era, MultiEraTx};
use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{
    AssetId, Assets, ScriptUse, SmallOutput, Tx, TxError, TxIn, TxOut, Unsupported, VKeyWitness,
    decode_tx,
};
use wb_ledger::utxo::UtxoSet;
use wb_ledger::wallet::{TxBody, Wallet, assemble_tx, min_fee, tx_id};

const ADA: u64 = 1_000_000;
/// A fee above the minimum of any transaction up to 16 KiB, so hand-built ones balance simply.
const FEE: u64 = ADA;
const SLOT: u64 = 1_000;

fn alice() -> Wallet {
    Wallet::from_seed([1; 32], 0)
}

fn bob() -> Wallet {
    Wallet::from_seed([2; 32], 0)
}

fn genesis_in(i: u64) -> TxIn {
    TxIn {
        tx_id: [0xaa; 32],
        index: i,
    }
}

/// Alice owns genesis outputs 0..3 of 100 ada each; Bob owns output 10.
fn setup() -> (UtxoSet, ProtocolParams) {
    let mut utxo = UtxoSet::new();
    for i in 0..3 {
        utxo.insert(genesis_in(i), TxOut::new(alice().address(), 100 * ADA));
    }
    utxo.insert(genesis_in(10), TxOut::new(bob().address(), 100 * ADA));
    (utxo, ProtocolParams::default())
}

fn decode(bytes: &[u8]) -> Tx {
    decode_tx(bytes).expect("a well-formed Conway transaction")
}

/// Alice pays Bob 10 ada from genesis input `i`, change back, exact min fee.
fn payment(i: u64, ttl: Option<u64>) -> Tx {
    let to = [(bob().address(), 10 * ADA)];
    let (bytes, _) = alice()
        .build_payment(
            &[(genesis_in(i), 100 * ADA)],
            &to,
            ttl,
            &ProtocolParams::default(),
        )
        .expect("enough funds");
    decode(&bytes)
}

/// Alice's genesis input 0 to Bob, with the generous fixed fee.
fn transfer_body() -> TxBody {
    TxBody {
        inputs: vec![genesis_in(0)],
        outputs: vec![(bob().address(), 100 * ADA - FEE)],
        fee: FEE,
        ..TxBody::default()
    }
}

/// Adds raw `(key, value)` entries to a body map whose header is a single byte (< 24 entries).
fn extend_body(body: &[u8], entries: &[(u8, Vec<u8>)]) -> Vec<u8> {
    assert!((0xa0..0xb7).contains(&body[0]), "small map header");
    let mut out = vec![body[0] + entries.len() as u8];
    out.extend_from_slice(&body[1..]);
    for (key, value) in entries {
        assert!(*key < 24);
        out.push(*key);
        out.extend_from_slice(value);
    }
    out
}

fn sign(body: &[u8], signers: &[&Wallet]) -> Vec<u8> {
    let id = tx_id(body);
    let wits: Vec<VKeyWitness> = signers.iter().map(|w| w.sign(&id)).collect();
    assemble_tx(body, &wits)
}

fn cbor(f: impl FnOnce(&mut Encoder<&mut Vec<u8>>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut Encoder::new(&mut out));
    out
}

#[test]
fn valid_payment_decodes_like_pallas_and_validates() {
    let (utxo, params) = setup();
    let tx = payment(0, Some(SLOT + 100));
    assert_eq!(tx.inputs, vec![genesis_in(0)]);
    assert_eq!(tx.outputs.len(), 2);
    assert_eq!(tx.fee, min_fee(tx.size, &params));
    assert_eq!(tx.size, tx.bytes.len());

    let pallas = MultiEraTx::decode_for_era(Era::Conway, &tx.bytes).expect("pallas decodes it");
    assert_eq!(*pallas.hash(), tx.id);
    assert_eq!(pallas.fee(), Some(tx.fee));
    assert_eq!(pallas.ttl(), tx.ttl);
    assert_eq!(pallas.outputs().len(), 2);
    assert_eq!(pallas.outputs()[1].value().coin(), tx.outputs[1].lovelace);
    let auto = MultiEraTx::decode(&tx.bytes).expect("era auto-detection");
    assert_eq!(*auto.hash(), tx.id);

    assert_eq!(utxo.validate(&tx, SLOT, &params), Ok(()));
}

#[test]
fn apply_then_undo_restores_the_exact_set() {
    let (mut utxo, params) = setup();
    let before = utxo.clone();
    let total = utxo.total_lovelace();
    let tx = payment(0, None);
    let undo = utxo.validate_and_apply(&tx, SLOT, &params).expect("valid");
    assert!(!utxo.contains(&genesis_in(0)));
    assert_eq!(utxo.len(), before.len() + 1);
    assert_eq!(
        utxo.get(&TxIn {
            tx_id: tx.id,
            index: 0
        })
        .map(|o| o.lovelace),
        Some(10 * ADA)
    );
    assert_eq!(utxo.total_lovelace() + u128::from(tx.fee), total);
    assert_eq!(undo.spent().len(), 1);
    utxo.undo(undo);
    assert_eq!(utxo, before);
    assert_eq!(utxo.total_lovelace(), total);
}

#[test]
fn missing_input_is_bad_input() {
    let (mut utxo, params) = setup();
    utxo.remove(&genesis_in(0));
    let tx = payment(0, None);
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::BadInputsUTxO(vec![genesis_in(0)]))
    );
}

#[test]
fn double_spend_across_two_transactions_is_bad_input() {
    let (mut utxo, params) = setup();
    let first = payment(0, None);
    // Same input, different output: a different transaction spending it again.
    let second = decode(&alice().build_transfer(
        &[genesis_in(0)],
        &[(alice().address(), 100 * ADA - FEE)],
        FEE,
        None,
    ));
    assert_ne!(first.id, second.id);
    assert_eq!(utxo.validate(&second, SLOT, &params), Ok(()));
    let _undo = utxo
        .validate_and_apply(&first, SLOT, &params)
        .expect("first is valid");
    assert_eq!(
        utxo.validate(&second, SLOT, &params),
        Err(TxError::BadInputsUTxO(vec![genesis_in(0)]))
    );
    assert_eq!(
        utxo.revalidate(&second, SLOT),
        Err(TxError::BadInputsUTxO(vec![genesis_in(0)]))
    );
    // Replaying the applied transaction itself fails the same way.
    assert!(matches!(
        utxo.validate(&first, SLOT, &params),
        Err(TxError::BadInputsUTxO(_))
    ));
}

#[test]
fn unbalanced_transaction_is_value_not_conserved() {
    let (utxo, params) = setup();
    let out = 100 * ADA - FEE + 1;
    let tx =
        decode(&alice().build_transfer(&[genesis_in(0)], &[(bob().address(), out)], FEE, None));
    let Err(TxError::ValueNotConservedUTxO { consumed, produced }) =
        utxo.validate(&tx, SLOT, &params)
    else {
        panic!("expected ValueNotConservedUTxO");
    };
    assert_eq!(consumed.lovelace, u128::from(100 * ADA));
    assert_eq!(produced.lovelace, u128::from(100 * ADA + 1));

    // Spending two inputs but paying out one is unbalanced the other way.
    let tx = decode(&alice().build_transfer(
        &[genesis_in(0), genesis_in(1)],
        &[(bob().address(), 100 * ADA - FEE)],
        FEE,
        None,
    ));
    let err = utxo.validate(&tx, SLOT, &params).expect_err("unbalanced");
    assert!(
        err.to_string()
            .starts_with("ValueNotConservedUTxO: consumed 200000000 lovelace")
    );
}

#[test]
fn fee_below_minimum_is_fee_too_small() {
    let (utxo, params) = setup();
    let fee = 150_000;
    let tx = decode(&alice().build_transfer(
        &[genesis_in(0)],
        &[(bob().address(), 100 * ADA - fee)],
        fee,
        None,
    ));
    let min_fee = min_fee(tx.size, &params);
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::FeeTooSmallUTxO { min_fee, fee })
    );
    // One lovelace short of the exact minimum fails too.
    let tx = payment(0, None);
    let short = decode(&alice().build_transfer(
        &[genesis_in(0)],
        &[
            (bob().address(), 10 * ADA),
            (alice().address(), tx.outputs[1].lovelace + 1),
        ],
        tx.fee - 1,
        None,
    ));
    assert!(matches!(
        utxo.validate(&short, SLOT, &params),
        Err(TxError::FeeTooSmallUTxO { .. })
    ));
}

#[test]
fn oversized_transaction_is_max_tx_size() {
    let (utxo, params) = setup();
    let outputs: Vec<(Vec<u8>, u64)> = (0..450).map(|_| (bob().address(), ADA)).collect();
    let tx = decode(&alice().build_transfer(&[genesis_in(0)], &outputs, FEE, None));
    assert!(tx.size > 16_384);
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::MaxTxSizeUTxO {
            size: tx.size as u64,
            max: 16_384
        })
    );
}

#[test]
fn expired_and_not_yet_valid_are_outside_validity_interval() {
    let (utxo, params) = setup();
    let tx = payment(0, Some(SLOT));
    // ttl is exclusive: valid up to ttl - 1.
    assert_eq!(utxo.validate(&tx, SLOT - 1, &params), Ok(()));
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::OutsideValidityIntervalUTxO {
            slot: SLOT,
            start: None,
            ttl: Some(SLOT)
        })
    );

    let body = TxBody {
        validity_start: Some(SLOT),
        ttl: Some(SLOT + 10),
        ..transfer_body()
    };
    let tx = decode(&body.sign(&[&alice()]));
    assert_eq!(tx.validity_start, Some(SLOT));
    assert_eq!(utxo.validate(&tx, SLOT, &params), Ok(()));
    assert_eq!(utxo.validate(&tx, SLOT + 9, &params), Ok(()));
    let err = utxo
        .validate(&tx, SLOT - 1, &params)
        .expect_err("not yet valid");
    assert_eq!(
        err,
        TxError::OutsideValidityIntervalUTxO {
            slot: SLOT - 1,
            start: Some(SLOT),
            ttl: Some(SLOT + 10)
        }
    );
    assert_eq!(
        err.to_string(),
        "OutsideValidityIntervalUTxO: slot 999 is outside the validity interval [1000, 1010)"
    );
    assert!(utxo.revalidate(&tx, SLOT + 10).is_err());
}

#[test]
fn input_signed_by_someone_else_is_missing_witness() {
    let (utxo, params) = setup();
    let tx = decode(&transfer_body().sign(&[&bob()]));
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::MissingVKeyWitnessesUTXOW(vec![alice().key_hash()]))
    );
    let tx = decode(&transfer_body().sign(&[]));
    assert!(tx.vkey_witnesses.is_empty());
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::MissingVKeyWitnessesUTXOW(vec![alice().key_hash()]))
    );
    // Extra witnesses are fine.
    let tx = decode(&transfer_body().sign(&[&bob(), &alice()]));
    assert_eq!(utxo.validate(&tx, SLOT, &params), Ok(()));
}

#[test]
fn required_signers_must_sign() {
    let (utxo, params) = setup();
    let body = TxBody {
        required_signers: vec![bob().key_hash()],
        ..transfer_body()
    };
    let tx = decode(&body.sign(&[&alice()]));
    assert_eq!(tx.required_signers, vec![bob().key_hash()]);
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::MissingVKeyWitnessesUTXOW(vec![bob().key_hash()]))
    );
    let tx = decode(&body.sign(&[&alice(), &bob()]));
    assert_eq!(utxo.validate(&tx, SLOT, &params), Ok(()));
}

#[test]
fn flipped_signature_byte_is_invalid_witness() {
    let (utxo, params) = setup();
    let body = transfer_body().encode();
    for byte in [0, 31, 32, 63] {
        let mut wit = alice().sign(&tx_id(&body));
        wit.signature[byte] ^= 0x01;
        let tx = decode(&assemble_tx(&body, &[wit]));
        assert_eq!(
            utxo.validate(&tx, SLOT, &params),
            Err(TxError::InvalidWitnessesUTXOW(vec![alice().vkey()])),
            "byte {byte}"
        );
    }
}

#[test]
fn signature_by_the_wrong_key_is_invalid_witness() {
    let (utxo, params) = setup();
    let body = transfer_body().encode();
    let id = tx_id(&body);
    // Alice's key, Bob's signature.
    let wit = VKeyWitness {
        vkey: alice().vkey(),
        signature: bob().sign(&id).signature,
    };
    let tx = decode(&assemble_tx(&body, &[wit]));
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::InvalidWitnessesUTXOW(vec![alice().vkey()]))
    );
    // Alice's signature over another transaction.
    let wit = alice().sign(&[0; 32]);
    let tx = decode(&assemble_tx(&body, &[wit]));
    assert!(matches!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::InvalidWitnessesUTXOW(_))
    ));
    // A key that is not a curve point.
    let mut wit = alice().sign(&id);
    wit.vkey = [0xff; 32];
    let tx = decode(&assemble_tx(&body, &[alice().sign(&id), wit]));
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::InvalidWitnessesUTXOW(vec![[0xff; 32]]))
    );
}

#[test]
fn script_locked_input_is_refused_with_a_reason() {
    let (mut utxo, params) = setup();
    let mut script_address = vec![0x70];
    script_address.extend([9; 28]);
    let script_in = TxIn {
        tx_id: [0xbb; 32],
        index: 0,
    };
    utxo.insert(script_in, TxOut::new(script_address, 100 * ADA));
    let body = TxBody {
        inputs: vec![script_in],
        ..transfer_body()
    };
    let tx = decode(&body.sign(&[&alice()]));
    let err = utxo
        .validate(&tx, SLOT, &params)
        .expect_err("scripts are not supported");
    assert_eq!(
        err,
        TxError::ScriptsNotSupported(ScriptUse::ScriptLockedInput(script_in))
    );
    let text = err.to_string();
    assert!(
        text.starts_with("ScriptsNotSupported: input bbbb"),
        "{text}"
    );
    assert!(text.contains("issue 9"), "{text}");
}

#[test]
fn byron_input_is_refused_as_unsupported() {
    let (mut utxo, params) = setup();
    let byron_in = TxIn {
        tx_id: [0xcc; 32],
        index: 1,
    };
    utxo.insert(
        byron_in,
        TxOut::new(vec![0x82, 0xd8, 0x18, 0x58, 0x21], 100 * ADA),
    );
    let body = TxBody {
        inputs: vec![byron_in],
        ..transfer_body()
    };
    let tx = decode(&body.sign(&[&alice()]));
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::NotSupported(Unsupported::ByronInput(byron_in)))
    );
}

#[test]
fn output_below_min_ada_is_output_too_small() {
    let (utxo, params) = setup();
    let tx = decode(&alice().build_transfer(
        &[genesis_in(0)],
        &[
            (bob().address(), ADA / 10),
            (alice().address(), 100 * ADA - FEE - ADA / 10),
        ],
        FEE,
        None,
    ));
    let min_lovelace = params.min_lovelace(tx.output_sizes[0]);
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::OutputTooSmallUTxO(vec![SmallOutput {
            index: 0,
            lovelace: ADA / 10,
            min_lovelace
        }]))
    );
}

#[test]
fn empty_input_set_is_refused() {
    let (utxo, params) = setup();
    let body = TxBody {
        inputs: vec![],
        ..transfer_body()
    };
    let tx = decode(&body.sign(&[&alice()]));
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::InputSetEmptyUTxO)
    );
}

#[test]
fn malformed_transactions_do_not_decode() {
    let good = transfer_body().sign(&[&alice()]);
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(decode_tx(&trailing), Err(TxError::Decode(_))));
    assert!(matches!(
        decode_tx(&good[..good.len() - 1]),
        Err(TxError::Decode(_))
    ));
    assert!(matches!(decode_tx(&[]), Err(TxError::Decode(_))));
    assert!(matches!(
        decode_tx(b"not cbor at all"),
        Err(TxError::Decode(_))
    ));

    let body = TxBody {
        inputs: vec![genesis_in(0), genesis_in(0)],
        ..transfer_body()
    };
    let err = decode_tx(&body.sign(&[&alice()])).expect_err("duplicate input");
    assert!(err.to_string().contains("repeats an input"), "{err}");

    let mut reward = vec![0xe0];
    reward.extend([1; 28]);
    let body = TxBody {
        outputs: vec![(reward, ADA)],
        ..transfer_body()
    };
    let err = decode_tx(&body.sign(&[&alice()])).expect_err("reward address output");
    assert!(err.to_string().contains("output 0"), "{err}");

    // A witness key of 31 bytes.
    let body = transfer_body().encode();
    let short_key = cbor(|e| {
        e.array(4).expect("vec");
        e.writer_mut().extend_from_slice(&body);
        e.map(1)
            .expect("vec")
            .u8(0)
            .expect("vec")
            .array(1)
            .expect("vec");
        e.array(2)
            .expect("vec")
            .bytes(&[1; 31])
            .expect("vec")
            .bytes(&[2; 64])
            .expect("vec");
        e.bool(true).expect("vec").null().expect("vec");
    });
    assert!(matches!(decode_tx(&short_key), Err(TxError::Decode(_))));
}

#[test]
fn reference_inputs_must_exist_and_are_not_spent() {
    let (mut utxo, params) = setup();
    let reference = cbor(|e| {
        e.tag(minicbor::data::Tag::new(258))
            .expect("vec")
            .array(1)
            .expect("vec");
        e.array(2)
            .expect("vec")
            .bytes(&[0xaa; 32])
            .expect("vec")
            .u64(10)
            .expect("vec");
    });
    let body = extend_body(&transfer_body().encode(), &[(18, reference)]);
    let tx = decode(&sign(&body, &[&alice()]));
    assert_eq!(tx.reference_inputs, vec![genesis_in(10)]);
    assert_eq!(utxo.validate(&tx, SLOT, &params), Ok(()));
    let undo = utxo.apply(&tx);
    assert!(utxo.contains(&genesis_in(10)));
    utxo.undo(undo);

    utxo.remove(&genesis_in(10));
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::BadInputsUTxO(vec![genesis_in(10)]))
    );
}

#[test]
fn native_assets_are_conserved() {
    let (mut utxo, params) = setup();
    let token = AssetId {
        policy: [7; 28],
        name: b"tok".to_vec(),
    };
    let rich_in = TxIn {
        tx_id: [0xdd; 32],
        index: 0,
    };
    let mut rich = TxOut::new(alice().address(), 100 * ADA);
    rich.assets = Assets::from([(token.clone(), 50)]);
    utxo.insert(rich_in, rich);

    let body_with = |tokens: &[u64]| {
        cbor(|e| {
            e.map(3).expect("vec");
            e.u8(0).expect("vec").array(1).expect("vec");
            e.array(2)
                .expect("vec")
                .bytes(&rich_in.tx_id)
                .expect("vec")
                .u64(0)
                .expect("vec");
            e.u8(1)
                .expect("vec")
                .array(tokens.len() as u64)
                .expect("vec");
            for (i, q) in tokens.iter().enumerate() {
                let coin = if i == 0 {
                    100 * ADA - FEE - 2 * ADA * (tokens.len() as u64 - 1)
                } else {
                    2 * ADA
                };
                e.map(2)
                    .expect("vec")
                    .u8(0)
                    .expect("vec")
                    .bytes(&bob().address())
                    .expect("vec");
                e.u8(1)
                    .expect("vec")
                    .array(2)
                    .expect("vec")
                    .u64(coin)
                    .expect("vec");
                e.map(1).expect("vec").bytes(&token.policy).expect("vec");
                e.map(1)
                    .expect("vec")
                    .bytes(&token.name)
                    .expect("vec")
                    .u64(*q)
                    .expect("vec");
            }
            e.u8(2).expect("vec").u64(FEE).expect("vec");
        })
    };
    let tx = decode(&sign(&body_with(&[20, 30]), &[&alice()]));
    assert_eq!(tx.outputs[1].assets.get(&token), Some(&30));
    assert_eq!(utxo.validate(&tx, SLOT, &params), Ok(()));

    let tx = decode(&sign(&body_with(&[20, 20]), &[&alice()]));
    let err = utxo
        .validate(&tx, SLOT, &params)
        .expect_err("10 tokens vanish");
    let TxError::ValueNotConservedUTxO { consumed, produced } = &err else {
        panic!("expected ValueNotConservedUTxO, got {err}");
    };
    assert_eq!(consumed.lovelace, produced.lovelace);
    assert_eq!((consumed.assets[&token], produced.assets[&token]), (50, 40));
    assert!(err.to_string().contains("assets differ: 070707"), "{err}");

    // A zero quantity does not decode.
    assert!(matches!(
        decode_tx(&sign(&body_with(&[50, 0]), &[&alice()])),
        Err(TxError::Decode(_))
    ));
}

#[test]
fn metadata_hash_and_content_are_checked() {
    let (utxo, params) = setup();
    let metadata = |text: &str| {
        cbor(|e| {
            e.map(1)
                .expect("vec")
                .u64(674)
                .expect("vec")
                .str(text)
                .expect("vec");
        })
    };
    let with_aux = |declared: Option<[u8; 32]>, aux: Option<&[u8]>| {
        let mut body = transfer_body().encode();
        if let Some(hash) = declared {
            let hash = cbor(|e| {
                e.bytes(&hash).expect("vec");
            });
            body = extend_body(&body, &[(7, hash)]);
        }
        let mut tx = sign(&body, &[&alice()]);
        if let Some(aux) = aux {
            tx.pop(); // null
            tx.extend_from_slice(aux);
        }
        decode(&tx)
    };
    let ok = metadata("benchmark payload");
    let hash = tx_id(&ok); // blake2b-256, the auxiliary data hash too

    assert_eq!(
        utxo.validate(&with_aux(Some(hash), Some(&ok)), SLOT, &params),
        Ok(())
    );
    assert_eq!(
        utxo.validate(&with_aux(None, Some(&ok)), SLOT, &params),
        Err(TxError::MissingTxBodyMetadataHash(hash))
    );
    assert_eq!(
        utxo.validate(&with_aux(Some(hash), None), SLOT, &params),
        Err(TxError::MissingTxMetadata(hash))
    );
    assert_eq!(
        utxo.validate(&with_aux(Some([0; 32]), Some(&ok)), SLOT, &params),
        Err(TxError::ConflictingMetadataHash {
            body: [0; 32],
            computed: hash
        })
    );
    let long = metadata(&"x".repeat(65));
    assert_eq!(
        utxo.validate(&with_aux(Some(tx_id(&long)), Some(&long)), SLOT, &params),
        Err(TxError::InvalidMetadata)
    );
    // Post-Alonzo auxiliary data (tag 259) with a script list refers to scripts.
    let tagged = cbor(|e| {
        e.tag(minicbor::data::Tag::new(259))
            .expect("vec")
            .map(2)
            .expect("vec");
        e.u8(0).expect("vec").map(0).expect("vec");
        e.u8(4)
            .expect("vec")
            .array(1)
            .expect("vec")
            .bytes(&[1, 2, 3])
            .expect("vec");
    });
    assert_eq!(
        utxo.validate(
            &with_aux(Some(tx_id(&tagged)), Some(&tagged)),
            SLOT,
            &params
        ),
        Err(TxError::ScriptsNotSupported(
            ScriptUse::AuxiliaryDataScripts
        ))
    );
}

#[test]
fn unsupported_body_fields_are_refused_clearly() {
    let (utxo, params) = setup();
    let credential = |e: &mut Encoder<&mut Vec<u8>>| {
        e.array(2)
            .expect("vec")
            .u8(0)
            .expect("vec")
            .bytes(&[5; 28])
            .expect("vec");
    };
    let certificates = cbor(|e| {
        e.array(1)
            .expect("vec")
            .array(2)
            .expect("vec")
            .u8(0)
            .expect("vec");
        credential(e);
    });
    let mint = cbor(|e| {
        e.map(1).expect("vec").bytes(&[7; 28]).expect("vec");
        e.map(1)
            .expect("vec")
            .bytes(b"tok")
            .expect("vec")
            .i64(-5)
            .expect("vec");
    });
    let mut reward = vec![0xe0];
    reward.extend([5; 28]);
    let withdrawals = cbor(|e| {
        e.map(1)
            .expect("vec")
            .bytes(&reward)
            .expect("vec")
            .u64(1)
            .expect("vec");
    });
    let script_data_hash = cbor(|e| {
        e.bytes(&[3; 32]).expect("vec");
    });
    let donation = cbor(|e| {
        e.u8(1).expect("vec");
    });
    let collateral = cbor(|e| {
        e.array(1).expect("vec").array(2).expect("vec");
        e.bytes(&[0xaa; 32]).expect("vec").u8(1).expect("vec");
    });
    let cases = [
        (
            4,
            certificates,
            TxError::NotSupported(Unsupported::Certificates),
        ),
        (
            5,
            withdrawals,
            TxError::NotSupported(Unsupported::Withdrawals),
        ),
        (9, mint, TxError::ScriptsNotSupported(ScriptUse::Mint)),
        (
            13,
            collateral,
            TxError::ScriptsNotSupported(ScriptUse::Collateral),
        ),
        (
            11,
            script_data_hash,
            TxError::PPViewHashesDontMatch([3; 32]),
        ),
        (22, donation, TxError::NotSupported(Unsupported::Donation)),
    ];
    for (key, value, expected) in cases {
        let body = extend_body(&transfer_body().encode(), &[(key, value)]);
        let tx = decode(&sign(&body, &[&alice()]));
        assert_eq!(
            utxo.validate(&tx, SLOT, &params),
            Err(expected),
            "body key {key}"
        );
    }

    // is_valid = false without scripts.
    let mut bytes = transfer_body().sign(&[&alice()]);
    let flag = bytes.len() - 2;
    bytes[flag] = 0xf4;
    let tx = decode(&bytes);
    assert!(!tx.is_valid);
    assert_eq!(
        utxo.validate(&tx, SLOT, &params),
        Err(TxError::ValidationTagMismatch)
    );
}

#[test]
fn real_preprod_conway_transaction_decodes_with_its_id() {
    // Preprod tx b1db2a41…46c2 (block 5184855, slot 133902219), from pallas-traverse's test
    // data: one input, one enterprise output, a native-script witness and no vkey witnesses.
    const TX: &str = "84a300d9010281825820fa72e22e7661608e75c8837b26bfc7b9fb61ddcf3456f12fb58d57ab\
        7437002f00018182581d60d8188ff2e2bd2384524e2e52b9f0ee0dc19e50ab7baac6d771f6d45e1a001c095b02\
        1a00027b25a101d9010281830320828200581c3118644aa21ba172c82732ce80d1c94cdcb5f2e8891e1ad26457\
        07188200581ce07caf4bf751495f75774ace30552441e4df84d141e5d1f5029cb04df5f6";
    let bytes: Vec<u8> = (0..TX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&TX[i..i + 2], 16).expect("hex"))
        .collect();
    let tx = decode(&bytes);
    let hex: String = tx.id.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "b1db2a411cb651a413840d3c8b112895a5bda2519a8ba6a372b8dd1ffc7746c2"
    );
    let pallas = MultiEraTx::decode_for_era(Era::Conway, &bytes).expect("pallas decodes it");
    assert_eq!(*pallas.hash(), tx.id);
    assert_eq!(tx.fee, 0x27b25);
    assert_eq!(tx.inputs.len(), 1);
    assert_eq!(tx.inputs[0].index, 0);
    assert_eq!(tx.outputs[0].lovelace, 0x1c095b);
    assert_eq!(tx.outputs[0].address[0], 0x60);
    assert!(tx.vkey_witnesses.is_empty());
    assert_eq!(tx.scripts, Some(ScriptUse::NativeScriptWitness));

    let mut utxo = UtxoSet::new();
    let mut script_address = vec![0x70];
    script_address.extend([1; 28]);
    utxo.insert(tx.inputs[0], TxOut::new(script_address, 0x1c095b + 0x27b25));
    let err = utxo
        .validate(&tx, 133_902_219, &ProtocolParams::default())
        .expect_err("scripts");
    assert_eq!(
        err,
        TxError::ScriptsNotSupported(ScriptUse::NativeScriptWitness)
    );
}

#[test]
fn outputs_and_body_must_name_the_ledger_network() {
    let tx = payment(0, None);
    assert_eq!(tx.check_network(0), Ok(()));
    assert_eq!(
        tx.check_network(1),
        Err(TxError::WrongNetwork {
            expected: 1,
            outputs: vec![0, 1]
        })
    );
    let mainnet = Wallet::from_seed([1; 32], 1);
    let body = TxBody {
        outputs: vec![(mainnet.address(), ADA), (bob().address(), ADA)],
        ..transfer_body()
    };
    let tx = decode(&body.sign(&[&alice()]));
    let err = tx
        .check_network(0)
        .expect_err("output 0 is a mainnet address");
    assert_eq!(
        err.to_string(),
        "WrongNetwork: outputs 0 are not for network 0"
    );

    let network = cbor(|e| {
        e.u8(1).expect("vec");
    });
    let body = extend_body(&transfer_body().encode(), &[(15, network)]);
    let tx = decode(&sign(&body, &[&alice()]));
    assert_eq!(tx.network_id, Some(1));
    assert_eq!(
        tx.check_network(0),
        Err(TxError::WrongNetworkInTxBody {
            expected: 0,
            found: 1
        })
    );
}
