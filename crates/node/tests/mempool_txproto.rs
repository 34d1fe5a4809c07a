//! Tx-submission codecs against bytes written by hand from ouroboros-network's CDDL, round
//! trips, and garbage.

use proptest::prelude::*;
use wb_node::txproto::{
    CONWAY_ERA, EraTx, EraTxId, LocalTxSubmission, N2C_VERSIONS, N2cHandshake, N2cVersionData,
    RefuseReason, RejectReason, TxSubmission, n2c_negotiate,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

const MAINNET: u32 = 764_824_073; // 0x2d964a09

fn data(network_magic: u32, query: bool) -> N2cVersionData {
    N2cVersionData {
        network_magic,
        query,
    }
}

#[test]
fn n2c_handshake_bytes_follow_the_cddl() {
    // [0, {16 | 0x8000: [764824073, false]}]
    let propose = N2cHandshake::Propose(vec![(16, data(MAINNET, false))]);
    assert_eq!(propose.encode(), hex("8200 a1 198010 82 1a2d964a09 f4"));
    // Keys ascending whatever the order given.
    let unsorted = N2cHandshake::Propose(vec![(17, data(2, true)), (16, data(2, false))]);
    assert_eq!(
        unsorted.encode(),
        hex("8200 a2 198010 8202f4 198011 8202f5")
    );
    let two = N2cHandshake::Propose(vec![(16, data(2, false)), (17, data(2, true))]);
    assert_eq!(two.encode(), unsorted.encode());
    // [1, 16 | 0x8000, [42, false]]
    let accept = N2cHandshake::Accept(16, data(42, false));
    assert_eq!(accept.encode(), hex("8301 198010 82182af4"));
    // [2, [0, [v16, v17]]]
    let mismatch = N2cHandshake::Refuse(RefuseReason::VersionMismatch(vec![16, 17]));
    assert_eq!(mismatch.encode(), hex("8202 8200 82 198010 198011"));
    // [2, [1, v16, "x"]] and [2, [2, v16, "x"]]
    let decode_error = N2cHandshake::Refuse(RefuseReason::HandshakeDecodeError(16, "x".into()));
    assert_eq!(decode_error.encode(), hex("8202 8301 198010 6178"));
    let refused = N2cHandshake::Refuse(RefuseReason::Refused(16, "x".into()));
    assert_eq!(refused.encode(), hex("8202 8302 198010 6178"));
    // [3, {v16: [42, false]}]
    let reply = N2cHandshake::QueryReply(vec![(16, data(42, false))]);
    assert_eq!(reply.encode(), hex("8203 a1 198010 82182af4"));
    for m in [propose, two, accept, mismatch, decode_error, refused, reply] {
        assert_eq!(N2cHandshake::decode(&m.encode()), Ok(m));
    }
}

#[test]
fn n2c_proposals_from_other_clients_decode() {
    // Old versions carry a bare magic; node-to-node keys (no bit 15) are ignored.
    let old_and_n2n = hex("8200 a3 0e 82 01 f4 19800a 1a2d964a09 198010 82 1a2d964a09 f4");
    assert_eq!(
        N2cHandshake::decode(&old_and_n2n),
        Ok(N2cHandshake::Propose(vec![
            (10, data(MAINNET, false)),
            (16, data(MAINNET, false))
        ]))
    );
    // An indefinite map is read too.
    assert_eq!(
        N2cHandshake::decode(&hex("8200 bf 198010 8201f4 ff")),
        Ok(N2cHandshake::Propose(vec![(16, data(1, false))]))
    );
}

#[test]
fn n2c_negotiation_picks_the_highest_common_version() {
    let proposal: Vec<_> = (10..=30).map(|v| (v, data(42, false))).collect();
    assert_eq!(
        n2c_negotiate(&proposal, 42),
        N2cHandshake::Accept(*N2C_VERSIONS.end(), data(42, false))
    );
    assert!(matches!(
        n2c_negotiate(&proposal, 43),
        N2cHandshake::Refuse(RefuseReason::Refused(v, _)) if v == *N2C_VERSIONS.end()
    ));
    let old = [(13, data(42, false)), (14, data(42, false))];
    assert_eq!(
        n2c_negotiate(&old, 42),
        N2cHandshake::Refuse(RefuseReason::VersionMismatch(N2C_VERSIONS.collect()))
    );
    let query = [(16, data(42, true))];
    let N2cHandshake::QueryReply(table) = n2c_negotiate(&query, 42) else {
        panic!("a query is answered with the versions");
    };
    assert_eq!(table.len(), N2C_VERSIONS.count());
}

#[test]
fn local_tx_submission_bytes_follow_the_cddl() {
    // [0, [6, #6.24(h'a0')]]
    let submit = LocalTxSubmission::SubmitTx(EraTx::conway(vec![0xa0]));
    assert_eq!(submit.encode(), hex("8200 8206 d818 41a0"));
    assert_eq!(LocalTxSubmission::AcceptTx.encode(), hex("8101"));
    assert_eq!(LocalTxSubmission::Done.encode(), hex("8103"));
    // [2, [[6, ["x"]]]]
    let reject = LocalTxSubmission::RejectTx(RejectReason::from_messages(CONWAY_ERA, &["x"]));
    assert_eq!(reject.encode(), hex("8202 81 8206 81 6178"));
    for m in [
        submit,
        LocalTxSubmission::AcceptTx,
        reject,
        LocalTxSubmission::Done,
    ] {
        assert_eq!(LocalTxSubmission::decode(&m.encode()), Ok(m));
    }
}

#[test]
fn reject_reasons_read_as_text_and_foreign_ones_stay_raw() {
    let ours = RejectReason::from_messages(CONWAY_ERA, &["BadInputsUTxO: gone", "second"]);
    assert_eq!(
        ours.messages(),
        Some((6, vec!["BadInputsUTxO: gone".into(), "second".into()]))
    );
    assert_eq!(ours.to_string(), "BadInputsUTxO: gone; second");
    // The brief's unwrapped shape [era, [text]] reads as ours too.
    let bare = RejectReason::from_cbor(&hex("8206 81 6178")).expect("one item");
    assert_eq!(bare.messages(), Some((6, vec!["x".into()])));

    // A real node's structured ApplyTxErr: [[6, [[1, [0, [...]]]]]], kept byte for byte.
    let foreign = hex("8202 81 8206 81 8201 8200 81 00");
    let LocalTxSubmission::RejectTx(reason) =
        LocalTxSubmission::decode(&foreign).expect("any CBOR reason")
    else {
        panic!("a reject");
    };
    assert_eq!(reason.messages(), None);
    assert_eq!(reason.as_cbor(), &foreign[2..]);
    assert!(
        reason
            .to_string()
            .starts_with("ApplyTxErr (10 bytes of CBOR): 81820681")
    );
    assert_eq!(LocalTxSubmission::RejectTx(reason).encode(), foreign);
    assert!(RejectReason::from_cbor(&hex("8201")).is_err(), "truncated");
    assert!(RejectReason::from_cbor(&hex("0101")).is_err(), "two items");
}

#[test]
fn tx_submission_bytes_follow_the_cddl() {
    let id = [0x11; 32];
    let id_hex = "5820".to_owned() + &"11".repeat(32);
    assert_eq!(TxSubmission::Init.encode(), hex("8106"));
    assert_eq!(TxSubmission::Done.encode(), hex("8104"));
    // [0, true, 1, 3]
    let request = TxSubmission::RequestTxIds {
        blocking: true,
        ack: 1,
        req: 3,
    };
    assert_eq!(request.encode(), hex("8400 f5 01 03"));
    // [1, [_ [[6, id], 300]]]
    let reply_ids = TxSubmission::ReplyTxIds(vec![(EraTxId::conway(id), 300)]);
    assert_eq!(
        reply_ids.encode(),
        hex(&format!("8201 9f 82 8206 {id_hex} 19012c ff"))
    );
    assert_eq!(TxSubmission::ReplyTxIds(vec![]).encode(), hex("8201 9f ff"));
    // [2, [_ [6, id]]]
    let request_txs = TxSubmission::RequestTxs(vec![EraTxId::conway(id)]);
    assert_eq!(
        request_txs.encode(),
        hex(&format!("8202 9f 8206 {id_hex} ff"))
    );
    // [3, [_ [6, #6.24(h'a0')]]]
    let reply_txs = TxSubmission::ReplyTxs(vec![EraTx::conway(vec![0xa0])]);
    assert_eq!(reply_txs.encode(), hex("8203 9f 8206 d818 41a0 ff"));
    for m in [
        TxSubmission::Init,
        request,
        reply_ids,
        request_txs,
        reply_txs,
        TxSubmission::Done,
    ] {
        assert_eq!(TxSubmission::decode(&m.encode()), Ok(m));
    }
    // Definite-length lists are accepted too.
    assert_eq!(
        TxSubmission::decode(&hex(&format!("8202 81 8206 {id_hex}"))),
        Ok(TxSubmission::RequestTxs(vec![EraTxId::conway(id)]))
    );
    assert_eq!(
        TxSubmission::decode(&hex("8203 80")),
        Ok(TxSubmission::ReplyTxs(vec![]))
    );
}

#[test]
fn garbage_is_rejected() {
    let bad: &[&str] = &[
        "",
        "80",
        "ff",
        "8107",                       // unknown tag
        "8200",                       // wrong length for the tag
        "8400 f5 01",                 // truncated
        "8400 f5 01 03 00",           // trailing byte
        "8400 f5 1a00010000 03",      // ack over u16
        "8201 9f 82 8206 4100 01 ff", // txid of 1 byte
        "8202 9f 8206 5820",          // truncated id, no break
        "8203 9f 8206 41a0 ff",       // tx not tagged 24
        "8203 9f 8206 d819 41a0 ff",  // wrong tag
        "8201 9f 82 8206 5820 0000000000000000000000000000000000000000000000000000000000000000 1b0000000100000000 ff", // size over u32
        "9f 8106 ff", // indefinite envelope
    ];
    for b in bad {
        assert!(TxSubmission::decode(&hex(b)).is_err(), "tx-submission {b}");
    }
    for b in [
        "",
        "8104",
        "8200 8206 41a0",
        "8202",
        "8201 00",
        "8200 8206 d818 41a0 00",
    ] {
        assert!(LocalTxSubmission::decode(&hex(b)).is_err(), "local {b}");
    }
    for b in [
        "",
        "8301 0e 82 01 f4",                     // accept of a node-to-node version
        "8301 198010 83 01 f4 f4",              // data of 3 items
        "8301 198010 82 1b0000000100000000 f4", // magic over u32
        "8202 8203 00",                         // unknown refuse reason
        "8200 a1 198010 f4",                    // data not a magic or list
        "8204 a0",
    ] {
        assert!(N2cHandshake::decode(&hex(b)).is_err(), "handshake {b}");
    }
}

proptest! {
    #[test]
    fn tx_submission_round_trips(
        blocking: bool, ack: u16, req: u16,
        ids in prop::collection::vec((any::<[u8; 32]>(), any::<u32>(), 0u16..8), 0..20),
        txs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..5),
    ) {
        let era_ids: Vec<(EraTxId, u32)> =
            ids.iter().map(|(id, size, era)| (EraTxId { era: *era, id: *id }, *size)).collect();
        for m in [
            TxSubmission::RequestTxIds { blocking, ack, req },
            TxSubmission::ReplyTxIds(era_ids.clone()),
            TxSubmission::RequestTxs(era_ids.iter().map(|(id, _)| *id).collect()),
            TxSubmission::ReplyTxs(txs.iter().cloned().map(EraTx::conway).collect()),
        ] {
            prop_assert_eq!(TxSubmission::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn wire_size_is_the_encoded_size(len in 0usize..70_000, era in 0u16..300) {
        let tx = EraTx { era, bytes: vec![0; len] };
        let one = TxSubmission::ReplyTxs(vec![tx.clone()]).encode().len();
        let none = TxSubmission::ReplyTxs(vec![]).encode().len();
        prop_assert_eq!(tx.wire_size() as usize, one - none);
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = TxSubmission::decode(&bytes);
        let _ = LocalTxSubmission::decode(&bytes);
        let _ = N2cHandshake::decode(&bytes);
        let _ = RejectReason::from_cbor(&bytes);
    }

    #[test]
    fn handshakes_round_trip(
        table in prop::collection::vec((0u16..0x8000, any::<u32>(), any::<bool>()), 0..8),
        texts in prop::collection::vec(".{0,20}", 0..4),
    ) {
        let mut table: Vec<(u16, N2cVersionData)> =
            table.into_iter().map(|(v, m, q)| (v, data(m, q))).collect();
        table.sort_by_key(|(v, _)| *v);
        table.dedup_by_key(|(v, _)| *v);
        let m = N2cHandshake::Propose(table);
        prop_assert_eq!(N2cHandshake::decode(&m.encode()), Ok(m));
        let reason = RejectReason::from_messages(CONWAY_ERA, &texts);
        prop_assert_eq!(reason.messages(), Some((CONWAY_ERA, texts.clone())));
        let m = LocalTxSubmission::RejectTx(reason);
        prop_assert_eq!(LocalTxSubmission::decode(&m.encode()), Ok(m));
    }
}
