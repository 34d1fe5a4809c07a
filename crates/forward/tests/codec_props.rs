//! Property tests: every message survives encode → decode, and messages survive segmentation.

use proptest::prelude::*;
use wb_forward::data_point::DataPointMsg;
use wb_forward::ekg::{EkgMsg, EkgRequest, MetricValue};
use wb_forward::handshake::{HandshakeMsg, RefuseReason};
use wb_forward::trace_object::{TraceObject, TraceObjectMsg};
use wb_forward::{Mode, MuxReader, MuxWriter};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-zA-Z.]{0,20}", Just(String::new())]
}

fn trace_object() -> impl Strategy<Value = TraceObject> {
    (
        proptest::option::of(text()),
        ".{0,300}",
        proptest::collection::vec(text(), 0..3),
        0u8..8,
        0u8..4,
        -(1i128 << 62)..(1i128 << 62),
        text(),
        text(),
    )
        .prop_map(
            |(human, machine, namespace, severity, detail, ts, hostname, thread_id)| TraceObject {
                human,
                machine,
                namespace,
                severity,
                detail,
                timestamp_nanos: ts,
                hostname,
                thread_id,
            },
        )
}

proptest! {
    #[test]
    fn trace_object_messages_round_trip(objs in proptest::collection::vec(trace_object(), 0..20), blocking: bool, n: u16) {
        // The namespace is sent joined; a multi-segment list comes back as one element.
        let expected: Vec<TraceObject> = objs
            .iter()
            .map(|o| TraceObject { namespace: vec![o.namespace.join(".")], ..o.clone() })
            .collect();
        let reply = TraceObjectMsg::Reply(objs);
        prop_assert_eq!(TraceObjectMsg::decode(&reply.encode()).unwrap(), TraceObjectMsg::Reply(expected));
        let req = TraceObjectMsg::Request { blocking, n };
        prop_assert_eq!(TraceObjectMsg::decode(&req.encode()).unwrap(), req);
    }

    #[test]
    fn data_point_messages_round_trip(names in proptest::collection::vec(text(), 0..5),
                                      values in proptest::collection::vec((text(), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))), 0..5)) {
        for m in [DataPointMsg::Request(names), DataPointMsg::Reply(values), DataPointMsg::Done] {
            prop_assert_eq!(DataPointMsg::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn ekg_messages_round_trip(metrics in proptest::collection::vec((text(), prop_oneof![
        any::<i64>().prop_map(MetricValue::Counter),
        any::<i64>().prop_map(MetricValue::Gauge),
        text().prop_map(MetricValue::Label),
    ]), 0..10), names in proptest::collection::vec(text(), 1..4)) {
        for m in [EkgMsg::Resp(metrics), EkgMsg::Req(EkgRequest::GetMetrics(names)), EkgMsg::Req(EkgRequest::GetAllMetrics), EkgMsg::Done] {
            prop_assert_eq!(EkgMsg::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn handshake_messages_round_trip(vs in proptest::collection::vec((any::<u64>(), any::<u32>()), 0..4), v: u64, t in text()) {
        for m in [
            HandshakeMsg::Propose(vs.clone()),
            HandshakeMsg::QueryReply(vs.clone()),
            HandshakeMsg::Accept(v, 7),
            HandshakeMsg::Refuse(RefuseReason::VersionMismatch(vs.iter().map(|x| x.0).collect())),
            HandshakeMsg::Refuse(RefuseReason::Refused(v, t.clone())),
            HandshakeMsg::Refuse(RefuseReason::DecodeError(v, t.clone())),
        ] {
            prop_assert_eq!(HandshakeMsg::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn messages_survive_segmentation(objs in proptest::collection::vec(proptest::collection::vec(trace_object(), 1..60), 1..4)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let (a, b) = tokio::io::duplex(1 << 16);
            let msgs: Vec<Vec<u8>> = objs.into_iter().map(|o| TraceObjectMsg::Reply(o).encode()).collect();
            let sent = msgs.clone();
            let writer = tokio::spawn(async move {
                let mut w = MuxWriter::new(a, Mode::Initiator);
                for m in &sent {
                    w.send(2, m).await.unwrap();
                }
            });
            let mut r = MuxReader::new(b, Mode::Responder, 4);
            for m in &msgs {
                let (p, got) = r.recv().await.unwrap();
                assert_eq!(p, 2);
                assert_eq!(&got, m);
            }
            writer.await.unwrap();
        });
    }
}
