//! Mini-protocol 0: the Ouroboros handshake with trace-forward's version data (the network magic,
//! a bare unsigned integer).
//!
//! | message | CBOR |
//! |---|---|
//! | `MsgProposeVersions` | `[0, {version: magic, …}]` |
//! | `MsgAcceptVersion` | `[1, version, magic]` |
//! | `MsgRefuse` | `[2, [0, [versions]]]` / `[2, [1, version, text]]` / `[2, [2, version, text]]` |
//! | `MsgQueryReply` | `[3, {version: magic, …}]` |

use minicbor::{Decoder, Encoder};

use crate::DecodeError;

/// Why a handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefuseReason {
    /// No common version; the refusing side's versions.
    VersionMismatch(Vec<u64>),
    /// The version data did not decode.
    DecodeError(u64, String),
    /// The version data was not acceptable (e.g. another network magic).
    Refused(u64, String),
}

/// A handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeMsg {
    /// The initiator's offer: (version, network magic) pairs, ascending.
    Propose(Vec<(u64, u32)>),
    /// The responder accepts this version with this magic.
    Accept(u64, u32),
    /// The responder refuses.
    Refuse(RefuseReason),
    /// Answer to a version query.
    QueryReply(Vec<(u64, u32)>),
}

impl HandshakeMsg {
    /// CBOR bytes of the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        let versions = |e: &mut Encoder<&mut Vec<u8>>, vs: &[(u64, u32)]| {
            let _ = e.map(vs.len() as u64);
            for (v, magic) in vs {
                let _ = e.u64(*v);
                let _ = e.u32(*magic);
            }
        };
        match self {
            HandshakeMsg::Propose(vs) => {
                let _ = e.array(2).and_then(|e| e.u8(0));
                versions(&mut e, vs);
            }
            HandshakeMsg::Accept(v, magic) => {
                let _ = e
                    .array(3)
                    .and_then(|e| e.u8(1))
                    .and_then(|e| e.u64(*v))
                    .and_then(|e| e.u32(*magic));
            }
            HandshakeMsg::Refuse(reason) => {
                let _ = e.array(2).and_then(|e| e.u8(2));
                let _ = match reason {
                    RefuseReason::VersionMismatch(vs) => {
                        e.array(2).and_then(|e| e.u8(0)).and_then(|e| {
                            e.array(vs.len() as u64)?;
                            for v in vs {
                                e.u64(*v)?;
                            }
                            Ok(e)
                        })
                    }
                    RefuseReason::DecodeError(v, t) => e
                        .array(3)
                        .and_then(|e| e.u8(1))
                        .and_then(|e| e.u64(*v))
                        .and_then(|e| e.str(t)),
                    RefuseReason::Refused(v, t) => e
                        .array(3)
                        .and_then(|e| e.u8(2))
                        .and_then(|e| e.u64(*v))
                        .and_then(|e| e.str(t)),
                };
            }
            HandshakeMsg::QueryReply(vs) => {
                let _ = e.array(2).and_then(|e| e.u8(3));
                versions(&mut e, vs);
            }
        }
        buf
    }

    /// Decodes one message, which must fill `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<HandshakeMsg, DecodeError> {
        let err = |e: minicbor::decode::Error| DecodeError::new("handshake", e.to_string());
        let mut d = Decoder::new(bytes);
        let msg = decode_msg(&mut d).map_err(err)?;
        if d.position() != bytes.len() {
            return Err(DecodeError::new(
                "handshake",
                "trailing bytes after message",
            ));
        }
        Ok(msg)
    }
}

fn decode_versions(d: &mut Decoder<'_>) -> Result<Vec<(u64, u32)>, minicbor::decode::Error> {
    let n = d
        .map()?
        .ok_or_else(|| minicbor::decode::Error::message("indefinite version map"))?;
    let mut out = Vec::new();
    for _ in 0..n {
        let v = d.u64()?;
        // Version data of other protocols may be structured; only a bare magic is ours.
        let magic = match d.datatype()? {
            minicbor::data::Type::U8 | minicbor::data::Type::U16 | minicbor::data::Type::U32 => {
                d.u32()?
            }
            _ => {
                d.skip()?;
                u32::MAX
            }
        };
        out.push((v, magic));
    }
    Ok(out)
}

fn decode_msg(d: &mut Decoder<'_>) -> Result<HandshakeMsg, minicbor::decode::Error> {
    let len = d.array()?;
    let tag = d.u8()?;
    Ok(match (len, tag) {
        (Some(2), 0) => HandshakeMsg::Propose(decode_versions(d)?),
        (Some(3), 1) => HandshakeMsg::Accept(d.u64()?, d.u32()?),
        (Some(2), 2) => {
            let rlen = d.array()?;
            match (rlen, d.u8()?) {
                (Some(2), 0) => HandshakeMsg::Refuse(RefuseReason::VersionMismatch(
                    crate::cbor::decode_list(d, |d| d.u64())?,
                )),
                (Some(3), 1) => HandshakeMsg::Refuse(RefuseReason::DecodeError(
                    d.u64()?,
                    crate::cbor::decode_text(d)?,
                )),
                (Some(3), 2) => HandshakeMsg::Refuse(RefuseReason::Refused(
                    d.u64()?,
                    crate::cbor::decode_text(d)?,
                )),
                (l, t) => {
                    return Err(minicbor::decode::Error::message(format!(
                        "unknown refuse reason {t} (length {l:?})"
                    )));
                }
            }
        }
        (Some(2), 3) => HandshakeMsg::QueryReply(decode_versions(d)?),
        (l, t) => {
            return Err(minicbor::decode::Error::message(format!(
                "unknown handshake message {t} (length {l:?})"
            )));
        }
    })
}

/// The responder's answer to a proposal, for our magic: accept `ForwardingV_1` if offered with
/// the same magic; refuse otherwise, saying why.
pub fn respond(proposal: &[(u64, u32)], our_magic: u32) -> HandshakeMsg {
    match proposal.iter().find(|(v, _)| *v == crate::FORWARDING_V1) {
        None => HandshakeMsg::Refuse(RefuseReason::VersionMismatch(vec![crate::FORWARDING_V1])),
        Some(&(v, magic)) if magic != our_magic => HandshakeMsg::Refuse(RefuseReason::Refused(
            v,
            format!(
                "ForwardingVersionData mismatch: network magic {magic} offered, {our_magic} expected"
            ),
        )),
        Some(&(v, magic)) => HandshakeMsg::Accept(v, magic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_proposal_bytes() {
        // From the reference: 82 00 a1 01 1a 2d 96 4a 09.
        let msg = HandshakeMsg::Propose(vec![(1, 764_824_073)]);
        assert_eq!(
            msg.encode(),
            [0x82, 0x00, 0xa1, 0x01, 0x1a, 0x2d, 0x96, 0x4a, 0x09]
        );
        assert_eq!(HandshakeMsg::decode(&msg.encode()).unwrap(), msg);
    }

    #[test]
    fn accept_and_refuse_bytes() {
        assert_eq!(
            HandshakeMsg::Accept(1, 42).encode(),
            [0x83, 0x01, 0x01, 0x18, 0x2a]
        );
        let refuse = HandshakeMsg::Refuse(RefuseReason::VersionMismatch(vec![1]));
        assert_eq!(refuse.encode(), [0x82, 0x02, 0x82, 0x00, 0x81, 0x01]);
        let refused = HandshakeMsg::Refuse(RefuseReason::Refused(1, "no".into()));
        assert_eq!(
            refused.encode(),
            [0x82, 0x02, 0x83, 0x02, 0x01, 0x62, b'n', b'o']
        );
        for m in [
            refuse,
            refused,
            HandshakeMsg::Refuse(RefuseReason::DecodeError(1, "bad".into())),
            HandshakeMsg::QueryReply(vec![(1, 2)]),
        ] {
            assert_eq!(HandshakeMsg::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn responder_checks_version_and_magic() {
        assert_eq!(respond(&[(1, 42)], 42), HandshakeMsg::Accept(1, 42));
        assert!(
            matches!(respond(&[(1, 7)], 42), HandshakeMsg::Refuse(RefuseReason::Refused(1, t)) if t.contains("7") && t.contains("42"))
        );
        assert_eq!(
            respond(&[(2, 42)], 42),
            HandshakeMsg::Refuse(RefuseReason::VersionMismatch(vec![1]))
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(HandshakeMsg::decode(&[0x82, 0x09, 0x00]).is_err());
        assert!(HandshakeMsg::decode(&[0x83, 0x01, 0x01, 0x18, 0x2a, 0x00]).is_err());
        assert!(HandshakeMsg::decode(&[]).is_err());
    }
}
