//! Node-to-node mini-protocol messages, in the CBOR shapes of Ouroboros's CDDL: handshake (0),
//! chain-sync (2), block-fetch (3), tx-submission (4) and keep-alive (8), carried by the same mux
//! as trace forwarding (`wb_forward::mux`). Headers and blocks travel as CBOR-in-CBOR (tag 24),
//! as cardano-node wraps them; their contents are the emulated chain's (`wb_ledger::block`).
//!
//! | protocol | message | CBOR |
//! |---|---|---|
//! | handshake | propose / accept / refuse | `[0, {v: [magic, initiatorOnly, peerSharing, query]}]` / `[1, v, data]` / `[2, reason]` |
//! | chain-sync | RequestNext, AwaitReply, RollForward, RollBackward | `[0]`, `[1]`, `[2, header, tip]`, `[3, point, tip]` |
//! | | FindIntersect, IntersectFound, IntersectNotFound, Done | `[4, [point…]]`, `[5, point, tip]`, `[6, tip]`, `[7]` |
//! | block-fetch | RequestRange, ClientDone, StartBatch, NoBlocks, Block, BatchDone | `[0, from, to]`, `[1]`, `[2]`, `[3]`, `[4, block]`, `[5]` |
//! | tx-submission | RequestTxIds, ReplyTxIds, RequestTxs, ReplyTxs, Done, Init | `[0, blocking, ack, req]`, `[1, [[id, size]…]]`, `[2, [id…]]`, `[3, [tx…]]`, `[4]`, `[6]` |
//! | keep-alive | KeepAlive, Response, Done | `[0, cookie]`, `[1, cookie]`, `[2]` |
//!
//! A point is `[]` (origin) or `[slot, hash]`; a tip is `[point, blockNo]`.

use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

/// Mini-protocol numbers (node-to-node).
pub mod num {
    /// Handshake.
    pub const HANDSHAKE: u16 = 0;
    /// Chain-sync.
    pub const CHAIN_SYNC: u16 = 2;
    /// Block-fetch.
    pub const BLOCK_FETCH: u16 = 3;
    /// Tx-submission (v2).
    pub const TX_SUBMISSION: u16 = 4;
    /// Keep-alive.
    pub const KEEP_ALIVE: u16 = 8;
    /// One past the highest number a node-to-node connection runs.
    pub const COUNT: u16 = 9;
}

/// The node-to-node version we speak.
pub const N2N_VERSION: u64 = 14;

/// A chain point: `None` is the origin.
pub type Point = Option<(u64, [u8; 32])>;

/// The sender's tip: its point and block number (`None`: empty chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// The tip's point.
    pub point: Point,
    /// The tip's block number (`-1`-like `None` for an empty chain).
    pub block_no: Option<u64>,
}

/// A message that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{protocol}: {message}")]
pub struct CodecError {
    /// Which protocol.
    pub protocol: &'static str,
    /// What went wrong.
    pub message: String,
}

type DResult<T> = Result<T, minicbor::decode::Error>;
type E<'a> = Encoder<&'a mut Vec<u8>>;

fn enc_point(e: &mut E<'_>, p: &Point) {
    let _ = match p {
        None => e.array(0),
        Some((slot, hash)) => e
            .array(2)
            .and_then(|e| e.u64(*slot))
            .and_then(|e| e.bytes(hash)),
    };
}

fn dec_point(d: &mut Decoder<'_>) -> DResult<Point> {
    match d.array()? {
        Some(0) => Ok(None),
        Some(2) => {
            let slot = d.u64()?;
            let h = d.bytes()?;
            let hash: [u8; 32] = h
                .try_into()
                .map_err(|_| minicbor::decode::Error::message("point hash is not 32 bytes"))?;
            Ok(Some((slot, hash)))
        }
        _ => Err(minicbor::decode::Error::message(
            "point is not [] or [slot, hash]",
        )),
    }
}

fn enc_tip(e: &mut E<'_>, t: &Tip) {
    let _ = e.array(2);
    enc_point(e, &t.point);
    let _ = match t.block_no {
        Some(n) => e.u64(n),
        None => e.i64(-1),
    };
}

fn dec_tip(d: &mut Decoder<'_>) -> DResult<Tip> {
    if d.array()? != Some(2) {
        return Err(minicbor::decode::Error::message(
            "tip is not [point, blockNo]",
        ));
    }
    let point = dec_point(d)?;
    let n = d.i64()?;
    Ok(Tip {
        point,
        block_no: u64::try_from(n).ok(),
    })
}

fn enc_wrapped(e: &mut E<'_>, bytes: &[u8]) {
    let _ = e.tag(Tag::new(24)).and_then(|e| e.bytes(bytes));
}

fn dec_wrapped(d: &mut Decoder<'_>) -> DResult<Vec<u8>> {
    if d.tag()?.as_u64() != 24 {
        return Err(minicbor::decode::Error::message(
            "expected CBOR-in-CBOR (tag 24)",
        ));
    }
    Ok(d.bytes()?.to_vec())
}

fn finish<T>(
    protocol: &'static str,
    bytes: &[u8],
    r: impl FnOnce(&mut Decoder<'_>) -> DResult<T>,
) -> Result<T, CodecError> {
    let mut d = Decoder::new(bytes);
    let v = r(&mut d).map_err(|e| CodecError {
        protocol,
        message: e.to_string(),
    })?;
    if d.position() != bytes.len() {
        return Err(CodecError {
            protocol,
            message: "trailing bytes".into(),
        });
    }
    Ok(v)
}

fn encode(f: impl FnOnce(&mut E<'_>)) -> Vec<u8> {
    let mut buf = Vec::new();
    f(&mut Encoder::new(&mut buf));
    buf
}

/// Node-to-node handshake messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Versions offered, each with `[magic, initiatorOnly, peerSharing, query]`.
    Propose(Vec<(u64, u32)>),
    /// The accepted version and magic.
    Accept(u64, u32),
    /// Refusal with a reason text.
    Refuse(String),
}

impl Handshake {
    /// CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        let data = |e: &mut E<'_>, magic: u32| {
            let _ = e
                .array(4)
                .and_then(|e| e.u32(magic))
                .and_then(|e| e.bool(false))
                .and_then(|e| e.u8(0))
                .and_then(|e| e.bool(false));
        };
        encode(|e| match self {
            Handshake::Propose(vs) => {
                let _ = e
                    .array(2)
                    .and_then(|e| e.u8(0))
                    .and_then(|e| e.map(vs.len() as u64));
                for (v, magic) in vs {
                    let _ = e.u64(*v);
                    data(e, *magic);
                }
            }
            Handshake::Accept(v, magic) => {
                let _ = e.array(3).and_then(|e| e.u8(1)).and_then(|e| e.u64(*v));
                data(e, *magic);
            }
            Handshake::Refuse(text) => {
                let _ = e
                    .array(2)
                    .and_then(|e| e.u8(2))
                    .and_then(|e| e.array(3))
                    .and_then(|e| e.u8(2))
                    .and_then(|e| e.u64(N2N_VERSION))
                    .and_then(|e| e.str(text));
            }
        })
    }

    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<Handshake, CodecError> {
        finish("handshake", bytes, |d| {
            let len = d.array()?;
            let data = |d: &mut Decoder<'_>| -> DResult<u32> {
                // Version data: [magic, …] in recent versions, a bare magic in old ones.
                if d.datatype()? == Type::Array {
                    let n = d.array()?.unwrap_or(0);
                    let magic = d.u32()?;
                    for _ in 1..n {
                        d.skip()?;
                    }
                    Ok(magic)
                } else {
                    d.u32()
                }
            };
            match (len, d.u8()?) {
                (Some(2), 0) => {
                    let n = d.map()?.unwrap_or(0);
                    let mut vs = Vec::new();
                    for _ in 0..n {
                        let v = d.u64()?;
                        vs.push((v, data(d)?));
                    }
                    Ok(Handshake::Propose(vs))
                }
                (Some(3), 1) => {
                    let v = d.u64()?;
                    Ok(Handshake::Accept(v, data(d)?))
                }
                (Some(2), 2) => {
                    let start = d.position();
                    d.skip()?;
                    Ok(Handshake::Refuse(format!(
                        "refused ({} bytes of reason)",
                        d.position() - start
                    )))
                }
                (l, t) => Err(minicbor::decode::Error::message(format!(
                    "unknown handshake message {t} (length {l:?})"
                ))),
            }
        })
    }
}

/// Chain-sync messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainSync {
    /// Client: the next update, please.
    RequestNext,
    /// Server: nothing new yet; the next message comes when there is.
    AwaitReply,
    /// Server: the next header, and the server's tip.
    RollForward(Vec<u8>, Tip),
    /// Server: roll back to this point.
    RollBackward(Point, Tip),
    /// Client: find the newest of these points that you have.
    FindIntersect(Vec<Point>),
    /// Server: this one.
    IntersectFound(Point, Tip),
    /// Server: none of them.
    IntersectNotFound(Tip),
    /// Client: done.
    Done,
}

impl ChainSync {
    /// CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(|e| match self {
            ChainSync::RequestNext => {
                let _ = e.array(1).and_then(|e| e.u8(0));
            }
            ChainSync::AwaitReply => {
                let _ = e.array(1).and_then(|e| e.u8(1));
            }
            ChainSync::RollForward(h, tip) => {
                let _ = e.array(3).and_then(|e| e.u8(2));
                enc_wrapped(e, h);
                enc_tip(e, tip);
            }
            ChainSync::RollBackward(p, tip) => {
                let _ = e.array(3).and_then(|e| e.u8(3));
                enc_point(e, p);
                enc_tip(e, tip);
            }
            ChainSync::FindIntersect(ps) => {
                let _ = e
                    .array(2)
                    .and_then(|e| e.u8(4))
                    .and_then(|e| e.array(ps.len() as u64));
                for p in ps {
                    enc_point(e, p);
                }
            }
            ChainSync::IntersectFound(p, tip) => {
                let _ = e.array(3).and_then(|e| e.u8(5));
                enc_point(e, p);
                enc_tip(e, tip);
            }
            ChainSync::IntersectNotFound(tip) => {
                let _ = e.array(2).and_then(|e| e.u8(6));
                enc_tip(e, tip);
            }
            ChainSync::Done => {
                let _ = e.array(1).and_then(|e| e.u8(7));
            }
        })
    }

    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<ChainSync, CodecError> {
        finish("chain-sync", bytes, |d| {
            let len = d.array()?;
            Ok(match (len, d.u8()?) {
                (Some(1), 0) => ChainSync::RequestNext,
                (Some(1), 1) => ChainSync::AwaitReply,
                (Some(3), 2) => ChainSync::RollForward(dec_wrapped(d)?, dec_tip(d)?),
                (Some(3), 3) => ChainSync::RollBackward(dec_point(d)?, dec_tip(d)?),
                (Some(2), 4) => {
                    let n = d.array()?.unwrap_or(0).min(1000);
                    let mut ps = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        ps.push(dec_point(d)?);
                    }
                    ChainSync::FindIntersect(ps)
                }
                (Some(3), 5) => ChainSync::IntersectFound(dec_point(d)?, dec_tip(d)?),
                (Some(2), 6) => ChainSync::IntersectNotFound(dec_tip(d)?),
                (Some(1), 7) => ChainSync::Done,
                (l, t) => {
                    return Err(minicbor::decode::Error::message(format!(
                        "unknown chain-sync message {t} (length {l:?})"
                    )));
                }
            })
        })
    }
}

/// Block-fetch messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockFetch {
    /// Client: the blocks from the first point to the second, inclusive.
    RequestRange(Point, Point),
    /// Client: done.
    ClientDone,
    /// Server: here they come.
    StartBatch,
    /// Server: I do not have them.
    NoBlocks,
    /// Server: one block.
    Block(Vec<u8>),
    /// Server: that was all.
    BatchDone,
}

impl BlockFetch {
    /// CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(|e| {
            let tag = |e: &mut E<'_>, n: u64, t: u8| {
                let _ = e.array(n).and_then(|e| e.u8(t));
            };
            match self {
                BlockFetch::RequestRange(a, b) => {
                    tag(e, 3, 0);
                    enc_point(e, a);
                    enc_point(e, b);
                }
                BlockFetch::ClientDone => tag(e, 1, 1),
                BlockFetch::StartBatch => tag(e, 1, 2),
                BlockFetch::NoBlocks => tag(e, 1, 3),
                BlockFetch::Block(b) => {
                    tag(e, 2, 4);
                    enc_wrapped(e, b);
                }
                BlockFetch::BatchDone => tag(e, 1, 5),
            }
        })
    }

    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<BlockFetch, CodecError> {
        finish("block-fetch", bytes, |d| {
            let len = d.array()?;
            Ok(match (len, d.u8()?) {
                (Some(3), 0) => BlockFetch::RequestRange(dec_point(d)?, dec_point(d)?),
                (Some(1), 1) => BlockFetch::ClientDone,
                (Some(1), 2) => BlockFetch::StartBatch,
                (Some(1), 3) => BlockFetch::NoBlocks,
                (Some(2), 4) => BlockFetch::Block(dec_wrapped(d)?),
                (Some(1), 5) => BlockFetch::BatchDone,
                (l, t) => {
                    return Err(minicbor::decode::Error::message(format!(
                        "unknown block-fetch message {t} (length {l:?})"
                    )));
                }
            })
        })
    }
}

/// Keep-alive messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepAlive {
    /// Client: are you there?
    KeepAlive(u16),
    /// Server: yes.
    Response(u16),
    /// Client: done.
    Done,
}

impl KeepAlive {
    /// CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(|e| {
            let _ = match self {
                KeepAlive::KeepAlive(c) => e.array(2).and_then(|e| e.u8(0)).and_then(|e| e.u16(*c)),
                KeepAlive::Response(c) => e.array(2).and_then(|e| e.u8(1)).and_then(|e| e.u16(*c)),
                KeepAlive::Done => e.array(1).and_then(|e| e.u8(2)),
            };
        })
    }

    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<KeepAlive, CodecError> {
        finish("keep-alive", bytes, |d| {
            let len = d.array()?;
            Ok(match (len, d.u8()?) {
                (Some(2), 0) => KeepAlive::KeepAlive(d.u16()?),
                (Some(2), 1) => KeepAlive::Response(d.u16()?),
                (Some(1), 2) => KeepAlive::Done,
                (l, t) => {
                    return Err(minicbor::decode::Error::message(format!(
                        "unknown keep-alive message {t} (length {l:?})"
                    )));
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_follow_the_cddl() {
        assert_eq!(ChainSync::RequestNext.encode(), [0x81, 0x00]);
        assert_eq!(ChainSync::Done.encode(), [0x81, 0x07]);
        assert_eq!(KeepAlive::KeepAlive(5).encode(), [0x82, 0x00, 0x05]);
        assert_eq!(BlockFetch::BatchDone.encode(), [0x81, 0x05]);
        // FindIntersect [origin]: [4, [[]]]
        assert_eq!(
            ChainSync::FindIntersect(vec![None]).encode(),
            [0x82, 0x04, 0x81, 0x80]
        );
        // Propose {14: [42, false, 0, false]}
        assert_eq!(
            Handshake::Propose(vec![(14, 42)]).encode(),
            [0x82, 0x00, 0xa1, 0x0e, 0x84, 0x18, 0x2a, 0xf4, 0x00, 0xf4]
        );
    }

    #[test]
    fn messages_round_trip() {
        let tip = Tip {
            point: Some((9, [7; 32])),
            block_no: Some(3),
        };
        let empty = Tip {
            point: None,
            block_no: None,
        };
        for m in [
            ChainSync::RequestNext,
            ChainSync::AwaitReply,
            ChainSync::RollForward(vec![1, 2, 3], tip),
            ChainSync::RollBackward(None, empty),
            ChainSync::FindIntersect(vec![Some((1, [1; 32])), None]),
            ChainSync::IntersectFound(Some((1, [1; 32])), tip),
            ChainSync::IntersectNotFound(empty),
            ChainSync::Done,
        ] {
            assert_eq!(ChainSync::decode(&m.encode()).unwrap(), m);
        }
        for m in [
            BlockFetch::RequestRange(Some((1, [1; 32])), Some((2, [2; 32]))),
            BlockFetch::ClientDone,
            BlockFetch::StartBatch,
            BlockFetch::NoBlocks,
            BlockFetch::Block(vec![9; 100]),
            BlockFetch::BatchDone,
        ] {
            assert_eq!(BlockFetch::decode(&m.encode()).unwrap(), m);
        }
        for m in [
            KeepAlive::KeepAlive(1),
            KeepAlive::Response(1),
            KeepAlive::Done,
        ] {
            assert_eq!(KeepAlive::decode(&m.encode()).unwrap(), m);
        }
        for m in [
            Handshake::Propose(vec![(14, 1), (13, 1)]),
            Handshake::Accept(14, 1),
        ] {
            assert_eq!(Handshake::decode(&m.encode()).unwrap(), m);
        }
        assert!(matches!(
            Handshake::decode(&Handshake::Refuse("no".into()).encode()).unwrap(),
            Handshake::Refuse(_)
        ));
        assert!(ChainSync::decode(&[0x81, 0x09]).is_err());
        assert!(
            BlockFetch::decode(&[0x82, 0x04, 0x41, 0x00]).is_err(),
            "block not wrapped in tag 24"
        );
    }
}
