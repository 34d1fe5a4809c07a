//! Blocks and headers of the emulated chain.
//!
//! A header carries what Praos headers carry for the benchmarks: block number, slot, previous
//! block's hash, the issuer's key, the leader proof, the body's size and hash, and the issuer's
//! signature. The **block hash is blake2b-256 of the header's CBOR**, as in Cardano. The body is a
//! CBOR list of real Conway transactions, embedded byte for byte.
//!
//! ```text
//! block  = [header, [tx, …]]
//! header = [[block_no, slot, prev_hash / null, issuer_vkey, leader_proof, body_size, body_hash], signature]
//! ```

use std::fmt;

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

use crate::crypto::{self, Hash32, PoolKey};
use crate::lottery::{self, LeaderProof};

/// A point on a chain: a slot and the hash of the block in it. Displayed as `hash@slot`, the form
/// cardano-node's traces use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Point {
    /// The block's slot.
    pub slot: u64,
    /// The block's hash.
    pub hash: Hash32,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", crypto::hex(&self.hash), self.slot)
    }
}

/// The signed part of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBody {
    /// Height: 0 for the first block after genesis.
    pub block_no: u64,
    /// Slot of issue.
    pub slot: u64,
    /// The previous block's hash; `None` for the first block.
    pub prev_hash: Option<Hash32>,
    /// The issuing pool's verification key.
    pub issuer_vkey: [u8; 32],
    /// The issuer's leader proof for `slot`.
    pub leader_proof: LeaderProof,
    /// Size of the body in bytes.
    pub body_size: u32,
    /// blake2b-256 of the body.
    pub body_hash: Hash32,
}

/// A signed header, with its encoding and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signed fields.
    pub body: HeaderBody,
    /// The issuer's signature of the encoded body.
    pub signature: [u8; 64],
    raw: Vec<u8>,
    hash: Hash32,
}

/// A block or header that does not decode or check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Not the CBOR layout of a header or block.
    #[error("malformed {what}: {message}")]
    Malformed {
        /// `header` or `block`.
        what: &'static str,
        /// The decoder's complaint.
        message: String,
    },
    /// The header signature does not verify.
    #[error("header signature does not verify")]
    BadSignature,
    /// The body does not hash to the header's body hash, or its size differs.
    #[error("body does not match its header ({0})")]
    BodyMismatch(&'static str),
    /// The leadership claim is not valid.
    #[error(transparent)]
    Leader(#[from] lottery::LeaderError),
    /// The issuer is not a pool of this chain.
    #[error("unknown issuer {0}")]
    UnknownIssuer(String),
}

fn malformed(what: &'static str) -> impl Fn(minicbor::decode::Error) -> BlockError {
    move |e| BlockError::Malformed {
        what,
        message: e.to_string(),
    }
}

fn encode_body(b: &HeaderBody, e: &mut Encoder<&mut Vec<u8>>) {
    let _ = e
        .array(7)
        .and_then(|e| e.u64(b.block_no))
        .and_then(|e| e.u64(b.slot));
    let _ = match &b.prev_hash {
        Some(h) => e.bytes(h),
        None => e.null(),
    };
    let _ = e
        .bytes(&b.issuer_vkey)
        .and_then(|e| e.bytes(&b.leader_proof))
        .and_then(|e| e.u32(b.body_size))
        .and_then(|e| e.bytes(&b.body_hash));
}

fn fixed<const N: usize>(d: &mut Decoder<'_>) -> Result<[u8; N], minicbor::decode::Error> {
    let b = d.bytes()?;
    b.try_into().map_err(|_| {
        minicbor::decode::Error::message(format!("expected {N} bytes, got {}", b.len()))
    })
}

impl Header {
    /// Signs `body` with the issuer's key.
    pub fn sign(body: HeaderBody, key: &PoolKey) -> Header {
        let mut body_bytes = Vec::with_capacity(200);
        encode_body(&body, &mut Encoder::new(&mut body_bytes));
        let signature = key.sign(&body_bytes);
        let mut raw = Vec::with_capacity(body_bytes.len() + 70);
        raw.push(0x82);
        raw.extend_from_slice(&body_bytes);
        let _ = Encoder::new(&mut raw).bytes(&signature);
        let hash = crypto::blake2b_256(&raw);
        Header {
            body,
            signature,
            raw,
            hash,
        }
    }

    /// Decodes a header (its bytes must be exactly one header).
    pub fn decode(bytes: &[u8]) -> Result<Header, BlockError> {
        let m = malformed("header");
        let mut d = Decoder::new(bytes);
        if d.array().map_err(&m)? != Some(2) || d.array().map_err(&m)? != Some(7) {
            return Err(BlockError::Malformed {
                what: "header",
                message: "expected [[7 fields], signature]".into(),
            });
        }
        let block_no = d.u64().map_err(&m)?;
        let slot = d.u64().map_err(&m)?;
        let prev_hash = if d.datatype().map_err(&m)? == Type::Null {
            d.skip().map_err(&m)?;
            None
        } else {
            Some(fixed::<32>(&mut d).map_err(&m)?)
        };
        let body = HeaderBody {
            block_no,
            slot,
            prev_hash,
            issuer_vkey: fixed::<32>(&mut d).map_err(&m)?,
            leader_proof: fixed::<64>(&mut d).map_err(&m)?,
            body_size: d.u32().map_err(&m)?,
            body_hash: fixed::<32>(&mut d).map_err(&m)?,
        };
        let signature = fixed::<64>(&mut d).map_err(&m)?;
        if d.position() != bytes.len() {
            return Err(BlockError::Malformed {
                what: "header",
                message: "trailing bytes".into(),
            });
        }
        Ok(Header {
            body,
            signature,
            raw: bytes.to_vec(),
            hash: crypto::blake2b_256(bytes),
        })
    }

    /// The header's CBOR.
    pub fn bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The block hash: blake2b-256 of the header's CBOR.
    pub fn hash(&self) -> Hash32 {
        self.hash
    }

    /// This block's point.
    pub fn point(&self) -> Point {
        Point {
            slot: self.body.slot,
            hash: self.hash,
        }
    }

    /// The chain-selection tie-breaker (from the leader proof).
    pub fn tie_breaker(&self) -> Hash32 {
        lottery::tie_breaker(&self.body.leader_proof)
    }

    /// Whether the signature is the issuer's over the body.
    pub fn signature_ok(&self) -> bool {
        // The body is the raw bytes after the outer array byte, up to the signature.
        let body_end = self.raw.len() - 2 - 64;
        crypto::verify(
            &self.body.issuer_vkey,
            &self.raw[1..body_end],
            &self.signature,
        )
    }
}

/// A whole block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The transactions, each the CBOR of a Conway transaction.
    pub txs: Vec<Vec<u8>>,
}

/// The body's CBOR: a list of the transactions' bytes.
pub fn body_bytes(txs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(txs.iter().map(Vec::len).sum::<usize>() + 9);
    let _ = Encoder::new(&mut out).array(txs.len() as u64);
    for t in txs {
        out.extend_from_slice(t);
    }
    out
}

impl Block {
    /// A block of `txs` issued by `key` in `slot` on top of `prev` (`None`: the first block).
    pub fn forge(
        key: &PoolKey,
        slot: u64,
        prev: Option<&Header>,
        leader_proof: LeaderProof,
        txs: Vec<Vec<u8>>,
    ) -> Block {
        let body = body_bytes(&txs);
        let header = Header::sign(
            HeaderBody {
                block_no: prev.map_or(0, |p| p.body.block_no + 1),
                slot,
                prev_hash: prev.map(Header::hash),
                issuer_vkey: key.verification_key(),
                leader_proof,
                body_size: body.len() as u32,
                body_hash: crypto::blake2b_256(&body),
            },
            key,
        );
        Block { header, txs }
    }

    /// The block's CBOR.
    pub fn encode(&self) -> Vec<u8> {
        let body = body_bytes(&self.txs);
        let mut out = Vec::with_capacity(1 + self.header.raw.len() + body.len());
        out.push(0x82);
        out.extend_from_slice(&self.header.raw);
        out.extend_from_slice(&body);
        out
    }

    /// Decodes a block and checks its body against the header (hash and size); the header's
    /// signature and leadership are checked separately ([`verify_header`]).
    pub fn decode(bytes: &[u8]) -> Result<Block, BlockError> {
        let m = malformed("block");
        let mut d = Decoder::new(bytes);
        if d.array().map_err(&m)? != Some(2) {
            return Err(BlockError::Malformed {
                what: "block",
                message: "expected [header, body]".into(),
            });
        }
        let h_start = d.position();
        d.skip().map_err(&m)?;
        let header = Header::decode(&bytes[h_start..d.position()])?;
        let b_start = d.position();
        let n = d
            .array()
            .map_err(&m)?
            .ok_or_else(|| BlockError::Malformed {
                what: "block",
                message: "indefinite body".into(),
            })?;
        let mut txs = Vec::with_capacity(n.min(100_000) as usize);
        for _ in 0..n {
            let s = d.position();
            d.skip().map_err(&m)?;
            txs.push(bytes[s..d.position()].to_vec());
        }
        if d.position() != bytes.len() {
            return Err(BlockError::Malformed {
                what: "block",
                message: "trailing bytes".into(),
            });
        }
        let body = &bytes[b_start..];
        if body.len() != header.body.body_size as usize {
            return Err(BlockError::BodyMismatch("size"));
        }
        if crypto::blake2b_256(body) != header.body.body_hash {
            return Err(BlockError::BodyMismatch("hash"));
        }
        Ok(Block { header, txs })
    }

    /// Size of the encoded block.
    pub fn size(&self) -> usize {
        1 + self.header.raw.len() + self.header.body.body_size as usize
    }
}

/// The stake and nonce a header is checked against.
pub trait LeaderSchedule {
    /// The relative stake of the pool with this key, if it is a pool.
    fn relative_stake(&self, issuer_vkey: &[u8; 32]) -> Option<f64>;
    /// The nonce of the epoch of `slot`.
    fn nonce_for_slot(&self, slot: u64) -> Hash32;
    /// The active slot coefficient.
    fn active_slot_coeff(&self) -> f64;
}

/// Checks a header on its own: a known issuer, a valid signature, a valid leadership claim.
pub fn verify_header(h: &Header, schedule: &impl LeaderSchedule) -> Result<(), BlockError> {
    let stake = schedule
        .relative_stake(&h.body.issuer_vkey)
        .ok_or_else(|| BlockError::UnknownIssuer(crypto::hex(&h.body.issuer_vkey)))?;
    if !h.signature_ok() {
        return Err(BlockError::BadSignature);
    }
    let nonce = schedule.nonce_for_slot(h.body.slot);
    lottery::verify_leader(
        &h.body.issuer_vkey,
        &nonce,
        h.body.slot,
        &h.body.leader_proof,
        schedule.active_slot_coeff(),
        stake,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct OnePool([u8; 32]);
    impl LeaderSchedule for OnePool {
        fn relative_stake(&self, k: &[u8; 32]) -> Option<f64> {
            (k == &self.0).then_some(1.0)
        }
        fn nonce_for_slot(&self, slot: u64) -> Hash32 {
            lottery::epoch_nonce(&[0; 32], slot / 100)
        }
        fn active_slot_coeff(&self) -> f64 {
            0.5
        }
    }

    fn leader_slot(key: &PoolKey, s: &OnePool, from: u64) -> (u64, LeaderProof) {
        (from..)
            .find_map(|slot| {
                let (p, wins) = lottery::check_leader(key, &s.nonce_for_slot(slot), slot, 0.5, 1.0);
                wins.then_some((slot, p))
            })
            .unwrap()
    }

    #[test]
    fn blocks_round_trip_and_check() {
        let key = PoolKey::from_seed([3; 32]);
        let sched = OnePool(key.verification_key());
        let (slot, proof) = leader_slot(&key, &sched, 0);
        let b0 = Block::forge(
            &key,
            slot,
            None,
            proof,
            vec![vec![0x80], vec![0x82, 0x01, 0x02]],
        );
        let bytes = b0.encode();
        assert_eq!(bytes.len(), b0.size());
        let back = Block::decode(&bytes).unwrap();
        assert_eq!(back, b0);
        verify_header(&back.header, &sched).unwrap();
        assert_eq!(back.header.body.block_no, 0);
        let (slot1, proof1) = leader_slot(&key, &sched, slot + 1);
        let b1 = Block::forge(&key, slot1, Some(&b0.header), proof1, vec![]);
        assert_eq!(b1.header.body.prev_hash, Some(b0.header.hash()));
        assert_eq!(b1.header.body.block_no, 1);
        assert_eq!(
            Header::decode(b1.header.bytes()).unwrap().hash(),
            b1.header.hash()
        );
        assert_eq!(
            format!("{}", b1.header.point()),
            format!("{}@{slot1}", crypto::hex(&b1.header.hash()))
        );
    }

    #[test]
    fn tampering_is_detected() {
        let key = PoolKey::from_seed([3; 32]);
        let sched = OnePool(key.verification_key());
        let (slot, proof) = leader_slot(&key, &sched, 0);
        let b = Block::forge(&key, slot, None, proof, vec![vec![0x01]]);
        let mut bytes = b.encode();
        // Change the transaction byte: the body no longer hashes to the header's body hash.
        let last = bytes.len() - 1;
        bytes[last] = 0x02;
        assert_eq!(Block::decode(&bytes), Err(BlockError::BodyMismatch("hash")));
        // A header claiming another slot fails its signature.
        let stranger = PoolKey::from_seed([4; 32]);
        let mut forged = b.header.body.clone();
        forged.issuer_vkey = stranger.verification_key();
        let resigned = Header::sign(forged, &stranger);
        assert!(matches!(
            verify_header(&resigned, &sched),
            Err(BlockError::UnknownIssuer(_))
        ));
        let mut raw = b.header.bytes().to_vec();
        let n = raw.len();
        raw[n - 1] ^= 1;
        assert_eq!(
            verify_header(&Header::decode(&raw).unwrap(), &sched),
            Err(BlockError::BadSignature)
        );
        // A slot the issuer did not win.
        let lost = (0..)
            .find(|&s| !lottery::check_leader(&key, &sched.nonce_for_slot(s), s, 0.5, 1.0).1)
            .unwrap();
        let (p, _) = lottery::check_leader(&key, &sched.nonce_for_slot(lost), lost, 0.5, 1.0);
        let nb = Block::forge(&key, lost, None, p, vec![]);
        assert!(matches!(
            verify_header(&nb.header, &sched),
            Err(BlockError::Leader(lottery::LeaderError::NotLeader { .. }))
        ));
        assert!(Block::decode(&[0x82, 0x01]).is_err());
        assert!(Header::decode(&[]).is_err());
    }
}
