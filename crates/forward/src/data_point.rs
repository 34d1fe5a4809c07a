//! Mini-protocol 3: DataPointForward.
//!
//! | message | from | CBOR |
//! |---|---|---|
//! | `MsgDataPointsRequest names` | acceptor | `[1, [name…]]` |
//! | `MsgDone` | acceptor | `[2]` |
//! | `MsgDataPointsReply values` | forwarder | `[3, [[name, []\|[bytes]]…]]` |
//!
//! A value is the JSON encoding of the data point, or nothing if the forwarder does not know it.
//! The tracer asks for `NodeInfo` to learn the node's name.

use minicbor::{Decoder, Encoder};

use crate::{DecodeError, cbor};

/// The data point a tracer asks for to learn who is connected.
pub const NODE_INFO: &str = "NodeInfo";

/// A DataPointForward message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataPointMsg {
    /// Ask for these data points.
    Request(Vec<String>),
    /// The values, in request order; `None` for unknown names.
    Reply(Vec<(String, Option<Vec<u8>>)>),
    /// The acceptor is done.
    Done,
}

impl DataPointMsg {
    /// CBOR bytes of the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        match self {
            DataPointMsg::Request(names) => {
                let _ = e.array(2).and_then(|e| e.u8(1));
                cbor::begin_list(&mut e, names.len());
                for n in names {
                    let _ = e.str(n);
                }
                cbor::end_list(&mut e, names.len());
            }
            DataPointMsg::Reply(values) => {
                let _ = e.array(2).and_then(|e| e.u8(3));
                cbor::begin_list(&mut e, values.len());
                for (name, value) in values {
                    let _ = e.array(2).and_then(|e| e.str(name));
                    let _ = match value {
                        None => e.array(0),
                        Some(v) => e.array(1).and_then(|e| e.bytes(v)),
                    };
                }
                cbor::end_list(&mut e, values.len());
            }
            DataPointMsg::Done => {
                let _ = e.array(1).and_then(|e| e.u8(2));
            }
        }
        buf
    }

    /// Decodes one message, which must fill `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<DataPointMsg, DecodeError> {
        let mut d = Decoder::new(bytes);
        let msg = decode_msg(&mut d).map_err(|e| DecodeError::new("data-points", e.to_string()))?;
        if d.position() != bytes.len() {
            return Err(DecodeError::new(
                "data-points",
                "trailing bytes after message",
            ));
        }
        Ok(msg)
    }
}

fn decode_msg(d: &mut Decoder<'_>) -> Result<DataPointMsg, minicbor::decode::Error> {
    let len = d.array()?;
    let tag = d.u8()?;
    Ok(match (len, tag) {
        (Some(2), 1) => DataPointMsg::Request(cbor::decode_list(d, cbor::decode_text)?),
        (Some(1), 2) => DataPointMsg::Done,
        (Some(2), 3) => DataPointMsg::Reply(cbor::decode_list(d, |d| {
            if d.array()? != Some(2) {
                return Err(minicbor::decode::Error::message("data point is not a pair"));
            }
            let name = cbor::decode_text(d)?;
            Ok((name, cbor::decode_maybe(d, cbor::decode_bytes)?))
        })?),
        (l, t) => {
            return Err(minicbor::decode::Error::message(format!(
                "unknown data-points message {t} (length {l:?})"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_round_trips() {
        let req = DataPointMsg::Request(vec![NODE_INFO.into()]);
        let bytes = req.encode();
        assert_eq!(&bytes[..4], &[0x82, 0x01, 0x9f, 0x68]);
        assert_eq!(*bytes.last().unwrap(), 0xff);
        assert_eq!(DataPointMsg::decode(&bytes).unwrap(), req);
        assert_eq!(DataPointMsg::Request(vec![]).encode(), [0x82, 0x01, 0x80]);
        assert_eq!(DataPointMsg::Done.encode(), [0x81, 0x02]);
        let reply = DataPointMsg::Reply(vec![
            (NODE_INFO.into(), Some(br#"{"niName":"node-1"}"#.to_vec())),
            ("Other".into(), None),
        ]);
        let bytes = reply.encode();
        assert_eq!(&bytes[..5], &[0x82, 0x03, 0x9f, 0x82, 0x68]);
        assert_eq!(DataPointMsg::decode(&bytes).unwrap(), reply);
    }

    #[test]
    fn chunked_values_decode() {
        // [3, [["a", [ (_ h'7b', h'7d') ]]]]
        let bytes = [
            0x82, 0x03, 0x81, 0x82, 0x61, b'a', 0x81, 0x5f, 0x41, b'{', 0x41, b'}', 0xff,
        ];
        assert_eq!(
            DataPointMsg::decode(&bytes).unwrap(),
            DataPointMsg::Reply(vec![("a".into(), Some(b"{}".to_vec()))])
        );
    }
}
