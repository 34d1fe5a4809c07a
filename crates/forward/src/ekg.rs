//! Mini-protocol 1: EKGForward (package `ekg-forward`).
//!
//! | message | from | CBOR |
//! |---|---|---|
//! | `MsgReq GetAllMetrics` | acceptor | `[0, [0]]` |
//! | `MsgReq (GetMetrics names)` | acceptor | `[0, [1, [name…]]]` |
//! | `MsgReq GetUpdatedMetrics` | acceptor | `[0, [2]]` |
//! | `MsgResp (ResponseMetrics ms)` | forwarder | `[1, [0, [[name, value]…]]]` |
//! | `MsgDone` | acceptor | `[1]` |
//!
//! Values: `CounterValue i` = `[0, i]`, `GaugeValue i` = `[1, i]`, `LabelValue t` = `[2, t]`.

use minicbor::{Decoder, Encoder};

use crate::{DecodeError, cbor};

/// What the acceptor asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EkgRequest {
    /// Every metric.
    GetAllMetrics,
    /// These metrics.
    GetMetrics(Vec<String>),
    /// Metrics changed since the last request.
    GetUpdatedMetrics,
}

/// One metric's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricValue {
    /// A counter.
    Counter(i64),
    /// An integer gauge.
    Gauge(i64),
    /// Text (cardano-node forwards real-valued metrics this way).
    Label(String),
}

/// An EKGForward message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EkgMsg {
    /// A request.
    Req(EkgRequest),
    /// The metrics.
    Resp(Vec<(String, MetricValue)>),
    /// The acceptor is done.
    Done,
}

impl EkgMsg {
    /// CBOR bytes of the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        match self {
            EkgMsg::Req(req) => {
                let _ = e.array(2).and_then(|e| e.u8(0));
                let _ = match req {
                    EkgRequest::GetAllMetrics => e.array(1).and_then(|e| e.u8(0)).map(|_| ()),
                    EkgRequest::GetUpdatedMetrics => e.array(1).and_then(|e| e.u8(2)).map(|_| ()),
                    EkgRequest::GetMetrics(names) => {
                        let _ = e.array(2).and_then(|e| e.u8(1));
                        cbor::begin_list(&mut e, names.len());
                        for n in names {
                            let _ = e.str(n);
                        }
                        cbor::end_list(&mut e, names.len());
                        Ok(())
                    }
                };
            }
            EkgMsg::Resp(metrics) => {
                let _ = e
                    .array(2)
                    .and_then(|e| e.u8(1))
                    .and_then(|e| e.array(2))
                    .and_then(|e| e.u8(0));
                cbor::begin_list(&mut e, metrics.len());
                for (name, v) in metrics {
                    let _ = e
                        .array(2)
                        .and_then(|e| e.str(name))
                        .and_then(|e| e.array(2));
                    let _ = match v {
                        MetricValue::Counter(i) => e.u8(0).and_then(|e| e.i64(*i)),
                        MetricValue::Gauge(i) => e.u8(1).and_then(|e| e.i64(*i)),
                        MetricValue::Label(t) => e.u8(2).and_then(|e| e.str(t)),
                    };
                }
                cbor::end_list(&mut e, metrics.len());
            }
            EkgMsg::Done => {
                let _ = e.array(1).and_then(|e| e.u8(1));
            }
        }
        buf
    }

    /// Decodes one message, which must fill `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<EkgMsg, DecodeError> {
        let mut d = Decoder::new(bytes);
        let msg = decode_msg(&mut d).map_err(|e| DecodeError::new("ekg", e.to_string()))?;
        if d.position() != bytes.len() {
            return Err(DecodeError::new("ekg", "trailing bytes after message"));
        }
        Ok(msg)
    }
}

fn decode_msg(d: &mut Decoder<'_>) -> Result<EkgMsg, minicbor::decode::Error> {
    let len = d.array()?;
    let tag = d.u8()?;
    let bad = |what: String| minicbor::decode::Error::message(what);
    Ok(match (len, tag) {
        (Some(2), 0) => {
            let rlen = d.array()?;
            EkgMsg::Req(match (rlen, d.u8()?) {
                (Some(1), 0) => EkgRequest::GetAllMetrics,
                (Some(2), 1) => EkgRequest::GetMetrics(cbor::decode_list(d, cbor::decode_text)?),
                (Some(1), 2) => EkgRequest::GetUpdatedMetrics,
                (l, t) => return Err(bad(format!("unknown EKG request {t} (length {l:?})"))),
            })
        }
        (Some(2), 1) => {
            if d.array()? != Some(2) || d.u8()? != 0 {
                return Err(bad("EKG response is not [0, metrics]".into()));
            }
            EkgMsg::Resp(cbor::decode_list(d, |d| {
                if d.array()? != Some(2) {
                    return Err(minicbor::decode::Error::message("metric is not a pair"));
                }
                let name = cbor::decode_text(d)?;
                if d.array()? != Some(2) {
                    return Err(minicbor::decode::Error::message(
                        "metric value is not [kind, value]",
                    ));
                }
                let v = match d.u8()? {
                    0 => MetricValue::Counter(d.i64()?),
                    1 => MetricValue::Gauge(d.i64()?),
                    2 => MetricValue::Label(cbor::decode_text(d)?),
                    k => {
                        return Err(minicbor::decode::Error::message(format!(
                            "unknown metric kind {k}"
                        )));
                    }
                };
                Ok((name, v))
            })?)
        }
        (Some(1), 1) => EkgMsg::Done,
        (l, t) => return Err(bad(format!("unknown EKG message {t} (length {l:?})"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_from_the_conformance_tests() {
        let cases: [(EkgMsg, &[u8]); 4] = [
            (
                EkgMsg::Req(EkgRequest::GetUpdatedMetrics),
                &[0x82, 0x00, 0x81, 0x02],
            ),
            (
                EkgMsg::Req(EkgRequest::GetAllMetrics),
                &[0x82, 0x00, 0x81, 0x00],
            ),
            (EkgMsg::Resp(vec![]), &[0x82, 0x01, 0x82, 0x00, 0x80]),
            (EkgMsg::Done, &[0x81, 0x01]),
        ];
        for (msg, bytes) in cases {
            assert_eq!(msg.encode(), bytes, "{msg:?}");
            assert_eq!(EkgMsg::decode(bytes).unwrap(), msg);
        }
    }

    #[test]
    fn metrics_round_trip() {
        let m = EkgMsg::Resp(vec![
            (
                "cardano.node.metrics.blockNum_int".into(),
                MetricValue::Gauge(42),
            ),
            (
                "cardano.node.metrics.forged_counter".into(),
                MetricValue::Counter(3),
            ),
            (
                "cardano.node.metrics.density_real".into(),
                MetricValue::Label("0.05".into()),
            ),
        ]);
        let bytes = m.encode();
        assert_eq!(&bytes[..5], &[0x82, 0x01, 0x82, 0x00, 0x9f]);
        assert_eq!(EkgMsg::decode(&bytes).unwrap(), m);
        let q = EkgMsg::Req(EkgRequest::GetMetrics(vec!["a".into()]));
        assert_eq!(EkgMsg::decode(&q.encode()).unwrap(), q);
    }
}
