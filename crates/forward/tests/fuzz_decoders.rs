//! A proptest-driven fuzzer for everything that reads bytes from a peer: the CBOR item scanner,
//! the four codecs and the mux reader. Arbitrary and mutated inputs must give `Ok` or `Err`,
//! never a panic, a hang or an out-of-bounds answer. Raise `PROPTEST_CASES` for a longer run
//! (e.g. `PROPTEST_CASES=200000 cargo test -p wb-forward --test fuzz_decoders --release`).

use proptest::prelude::*;
use wb_forward::cbor::item_end;
use wb_forward::data_point::DataPointMsg;
use wb_forward::ekg::EkgMsg;
use wb_forward::handshake::HandshakeMsg;
use wb_forward::trace_object::{TraceObject, TraceObjectMsg};
use wb_forward::{Mode, MuxReader};

fn decode_all(bytes: &[u8]) {
    let _ = HandshakeMsg::decode(bytes);
    let _ = TraceObjectMsg::decode(bytes);
    let _ = DataPointMsg::decode(bytes);
    let _ = EkgMsg::decode(bytes);
    if let Ok(Some(n)) = item_end(bytes) {
        assert!(n <= bytes.len() && n > 0);
    }
}

/// A valid reply to mutate, so the fuzzer reaches deep into the decoders.
fn seed() -> Vec<u8> {
    let o = TraceObject {
        human: Some("h".into()),
        machine: "{\"at\":\"x\"}".into(),
        namespace: vec!["A.B".into()],
        severity: 1,
        detail: 1,
        timestamp_nanos: 1_700_000_000_000_000_000,
        hostname: "host".into(),
        thread_id: "7".into(),
    };
    TraceObjectMsg::Reply(vec![o.clone(), o]).encode()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&bytes);
    }

    #[test]
    fn mutated_valid_messages(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
        let mut bytes = seed();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        decode_all(&bytes);
        decode_all(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn random_mux_streams(chunks in proptest::collection::vec((0u16..6, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..8)) {
        let mut stream = Vec::new();
        for (p, responder, payload) in chunks {
            let word = (if responder { 0x8000 } else { 0 }) | p;
            stream.extend_from_slice(&[0, 0, 0, 0]);
            stream.extend_from_slice(&word.to_be_bytes());
            stream.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            stream.extend_from_slice(&payload);
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut r = MuxReader::new(stream.as_slice(), Mode::Responder, 4).with_max_message(1024);
            // Ends with an error (closed, truncated or refused) after finitely many messages.
            for _ in 0..100 {
                match r.recv().await {
                    Ok((_, m)) => decode_all(&m),
                    Err(_) => return,
                }
            }
            panic!("reader did not finish");
        });
    }
}
