//! Transaction-submission messages in the CBOR shapes of Ouroboros's CDDL, so a transaction
//! generator written against a real cardano-node works against ours unchanged: the
//! node-to-client handshake (mini-protocol 0 on the local socket), local tx-submission
//! (node-to-client 6) and tx-submission v2 (node-to-node 4, the pull protocol).
//!
//! Transactions and their ids travel wrapped for the Cardano hard-fork combinator: a tx is
//! `[era, #6.24(bytes .cbor tx)]` and an id `[era, bytes .size 32]`, the era being its index in
//! the Cardano eras (Conway is [`CONWAY_ERA`]).
//!
//! | protocol | message | CBOR |
//! |---|---|---|
//! | n2c handshake | Propose, Accept, Refuse, QueryReply | `[0, {v: data}]`, `[1, v, data]`, `[2, reason]`, `[3, {v: data}]` |
//! | | version `v`, version data | `n \| 0x8000` (bit 15 marks node-to-client), `[networkMagic, query]` |
//! | | refuse reason | `[0, [v…]]` mismatch, `[1, v, text]` decode error, `[2, v, text]` refused |
//! | local tx-submission | SubmitTx, AcceptTx, RejectTx, Done | `[0, [era, #6.24(bytes)]]`, `[1]`, `[2, reason]`, `[3]` |
//! | tx-submission v2 | RequestTxIds, ReplyTxIds | `[0, blocking, ack, req]`, `[1, [_ [[era, id], size]…]]` |
//! | | RequestTxs, ReplyTxs, Done, Init | `[2, [_ [era, id]…]]`, `[3, [_ [era, #6.24(bytes)]…]]`, `[4]`, `[6]` |
//!
//! Lists inside tx-submission messages are encoded indefinite-length (`[_ …]`), as
//! ouroboros-network does; both kinds are accepted.
//!
//! A real node's reject reason is the ledger's structured `ApplyTxErr`. Ours keeps the
//! hard-fork combinator's wrapping — `[[era, failures]]`, the outer one-element list meaning
//! "the transaction was for the current era" — but each failure is a text (the ledger rule and
//! its details, as in our traces): `[[6, [text…]]]`. Clients should display it as text. A reason
//! from someone else is kept as its raw CBOR item ([`RejectReason::as_cbor`]).

use std::convert::Infallible;
use std::fmt;
use std::ops::RangeInclusive;

use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

use crate::protocol::CodecError;

/// Index of the Conway era among the Cardano eras (Byron 0, Shelley 1, …, Babbage 5).
pub const CONWAY_ERA: u16 = 6;

/// Bit 15 of a handshake version number marks a node-to-client version.
pub const N2C_VERSION_BIT: u64 = 0x8000;

/// The node-to-client versions we accept: `NodeToClientV_16` (Conway) and later. Their version
/// data and local tx-submission messages are all alike.
pub const N2C_VERSIONS: RangeInclusive<u16> = 16..=24;

/// Largest number of list items decoding reserves room for up front; longer lists grow as
/// they are read, so a forged length cannot make us allocate.
const PREALLOC: u64 = 256;

/// Mini-protocol numbers on a node-to-client (local socket) connection.
pub mod n2c_num {
    /// Handshake.
    pub const HANDSHAKE: u16 = 0;
    /// Local chain-sync.
    pub const LOCAL_CHAIN_SYNC: u16 = 5;
    /// Local tx-submission.
    pub const LOCAL_TX_SUBMISSION: u16 = 6;
    /// Local state query.
    pub const LOCAL_STATE_QUERY: u16 = 7;
    /// Local tx-monitor.
    pub const LOCAL_TX_MONITOR: u16 = 9;
}

type DResult<T> = Result<T, minicbor::decode::Error>;
type E<'a> = Encoder<&'a mut Vec<u8>>;
type EResult = Result<(), minicbor::encode::Error<Infallible>>;

fn encode(f: impl FnOnce(&mut E<'_>) -> EResult) -> Vec<u8> {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = f(&mut Encoder::new(&mut buf));
    buf
}

/// Decodes one whole message: trailing bytes are an error.
fn finish<'b, T>(
    protocol: &'static str,
    bytes: &'b [u8],
    r: impl FnOnce(&mut Decoder<'b>) -> DResult<T>,
) -> Result<T, CodecError> {
    let mut d = Decoder::new(bytes);
    let v = r(&mut d).map_err(|e| CodecError {
        protocol,
        message: e.to_string(),
    })?;
    if d.position() != bytes.len() {
        return Err(CodecError {
            protocol,
            message: format!("{} trailing bytes", bytes.len() - d.position()),
        });
    }
    Ok(v)
}

fn err<T>(message: impl fmt::Display) -> DResult<T> {
    Err(minicbor::decode::Error::message(message))
}

/// Reads a list of either length kind, one item at a time.
fn dec_list<'b, T>(
    d: &mut Decoder<'b>,
    mut item: impl FnMut(&mut Decoder<'b>) -> DResult<T>,
) -> DResult<Vec<T>> {
    match d.array()? {
        Some(n) => {
            let mut out = Vec::with_capacity(n.min(PREALLOC) as usize);
            for _ in 0..n {
                out.push(item(d)?);
            }
            Ok(out)
        }
        None => {
            let mut out = Vec::new();
            while d.datatype()? != Type::Break {
                out.push(item(d)?);
            }
            // The break is the single byte 0xff.
            d.set_position(d.position() + 1);
            Ok(out)
        }
    }
}

/// Reads a map of either length kind, one entry at a time.
fn dec_map<'b>(
    d: &mut Decoder<'b>,
    mut entry: impl FnMut(&mut Decoder<'b>) -> DResult<()>,
) -> DResult<()> {
    match d.map()? {
        Some(n) => (0..n).try_for_each(|_| entry(d)),
        None => {
            while d.datatype()? != Type::Break {
                entry(d)?;
            }
            d.set_position(d.position() + 1);
            Ok(())
        }
    }
}

/// Size of a transaction of `tx_len` bytes as tx-submission sends it, `[era, #6.24(bytes)]`:
/// what a real node advertises in `ReplyTxIds` (its `txWireSize`); newer nodes check the
/// transactions they then receive against it.
pub fn wire_size(era: u16, tx_len: usize) -> u32 {
    let len = tx_len as u64;
    let head_len = |n: u64| wb_ledger::tx::cbor_head_len(n) as u64;
    let size = head_len(2) + head_len(u64::from(era)) + head_len(24) + head_len(len) + len;
    u32::try_from(size).unwrap_or(u32::MAX)
}

/// A transaction wrapped for the hard-fork combinator: its era and its CBOR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraTx {
    /// The era index ([`CONWAY_ERA`] for ours).
    pub era: u16,
    /// The transaction's CBOR, as signed.
    pub bytes: Vec<u8>,
}

impl EraTx {
    /// A Conway transaction.
    pub fn conway(bytes: Vec<u8>) -> Self {
        Self {
            era: CONWAY_ERA,
            bytes,
        }
    }

    /// Its size as tx-submission sends it: see [`wire_size`].
    pub fn wire_size(&self) -> u32 {
        wire_size(self.era, self.bytes.len())
    }

    fn encode(&self, e: &mut E<'_>) -> EResult {
        e.array(2)?
            .u16(self.era)?
            .tag(Tag::new(24))?
            .bytes(&self.bytes)?;
        Ok(())
    }

    fn decode(d: &mut Decoder<'_>) -> DResult<Self> {
        if d.array()? != Some(2) {
            return err("transaction is not [era, #6.24(bytes)]");
        }
        let era = d.u16()?;
        if d.tag()? != Tag::new(24) {
            return err("transaction is not CBOR-in-CBOR (tag 24)");
        }
        Ok(Self {
            era,
            bytes: d.bytes()?.to_vec(),
        })
    }
}

/// A transaction id wrapped for the hard-fork combinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EraTxId {
    /// The era index ([`CONWAY_ERA`] for ours).
    pub era: u16,
    /// blake2b-256 of the transaction body.
    pub id: [u8; 32],
}

impl EraTxId {
    /// A Conway transaction id.
    pub fn conway(id: [u8; 32]) -> Self {
        Self {
            era: CONWAY_ERA,
            id,
        }
    }

    fn encode(&self, e: &mut E<'_>) -> EResult {
        e.array(2)?.u16(self.era)?.bytes(&self.id)?;
        Ok(())
    }

    fn decode(d: &mut Decoder<'_>) -> DResult<Self> {
        if d.array()? != Some(2) {
            return err("transaction id is not [era, bytes]");
        }
        let era = d.u16()?;
        let Ok(id) = d.bytes()?.try_into() else {
            return err("transaction id is not 32 bytes");
        };
        Ok(Self { era, id })
    }
}

/// Node-to-client version data (`NodeToClientV_15` and later): `[networkMagic, query]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct N2cVersionData {
    /// The network magic; both sides must agree.
    pub network_magic: u32,
    /// The client only asks which versions the server has (answered with `QueryReply`).
    pub query: bool,
}

impl N2cVersionData {
    fn encode(&self, e: &mut E<'_>) -> EResult {
        e.array(2)?.u32(self.network_magic)?.bool(self.query)?;
        Ok(())
    }

    /// Before `NodeToClientV_15` the data was the bare magic; read as `query = false`.
    fn decode(d: &mut Decoder<'_>) -> DResult<Self> {
        if d.datatype()? != Type::Array {
            return Ok(Self {
                network_magic: d.u32()?,
                query: false,
            });
        }
        if d.array()? != Some(2) {
            return err("version data is not [networkMagic, query]");
        }
        Ok(Self {
            network_magic: d.u32()?,
            query: d.bool()?,
        })
    }
}

/// Why a handshake was refused. Versions are node-to-client numbers (16 for V_16), without
/// bit 15.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefuseReason {
    /// No version in common; the refusing side's versions.
    VersionMismatch(Vec<u16>),
    /// The version data of the chosen version did not decode.
    HandshakeDecodeError(u16, String),
    /// The version data is not acceptable (e.g. another network magic).
    Refused(u16, String),
}

/// Node-to-client handshake messages. Versions are node-to-client numbers (16 for
/// `NodeToClientV_16`); bit 15 is added and removed by the codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum N2cHandshake {
    /// Client: the versions it speaks, each with its data.
    Propose(Vec<(u16, N2cVersionData)>),
    /// Server: this version, with this data.
    Accept(u16, N2cVersionData),
    /// Server: no.
    Refuse(RefuseReason),
    /// Server, to a proposal with `query` set: the versions it speaks.
    QueryReply(Vec<(u16, N2cVersionData)>),
}

fn enc_version(e: &mut E<'_>, v: u16) -> EResult {
    e.u64(u64::from(v) | N2C_VERSION_BIT)?;
    Ok(())
}

/// A node-to-client version number: bit 15 set, the rest a `u16`.
fn dec_version(d: &mut Decoder<'_>) -> DResult<u16> {
    let wire = d.u64()?;
    match u16::try_from(wire & !N2C_VERSION_BIT) {
        Ok(v) if wire & N2C_VERSION_BIT != 0 => Ok(v),
        _ => err(format!("{wire} is not a node-to-client version")),
    }
}

/// Versions ascending, as ouroboros-network writes its version maps.
fn enc_table(e: &mut E<'_>, table: &[(u16, N2cVersionData)]) -> EResult {
    let mut sorted = table.to_vec();
    sorted.sort_by_key(|(v, _)| *v);
    e.map(sorted.len() as u64)?;
    for (v, data) in &sorted {
        enc_version(e, *v)?;
        data.encode(e)?;
    }
    Ok(())
}

/// Entries under keys without bit 15 (node-to-node versions) are skipped, as a real node
/// ignores versions it does not know.
fn dec_table(d: &mut Decoder<'_>) -> DResult<Vec<(u16, N2cVersionData)>> {
    let mut table = Vec::new();
    dec_map(d, |d| {
        let wire = d.u64()?;
        match u16::try_from(wire & !N2C_VERSION_BIT) {
            Ok(v) if wire & N2C_VERSION_BIT != 0 => {
                table.push((v, N2cVersionData::decode(d)?));
            }
            _ => d.skip()?,
        }
        Ok(())
    })?;
    Ok(table)
}

impl N2cHandshake {
    /// CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(|e| match self {
            N2cHandshake::Propose(table) => {
                e.array(2)?.u8(0)?;
                enc_table(e, table)
            }
            N2cHandshake::Accept(v, data) => {
                e.array(3)?.u8(1)?;
                enc_version(e, *v)?;
                data.encode(e)
            }
            N2cHandshake::Refuse(reason) => {
                e.array(2)?.u8(2)?;
                match reason {
                    RefuseReason::VersionMismatch(vs) => {
                        e.array(2)?.u8(0)?.array(vs.len() as u64)?;
                        vs.iter().try_for_each(|v| enc_version(e, *v))
                    }
                    RefuseReason::HandshakeDecodeError(v, text) => {
                        e.array(3)?.u8(1)?;
                        enc_version(e, *v)?;
                        e.str(text)?;
                        Ok(())
                    }
                    RefuseReason::Refused(v, text) => {
                        e.array(3)?.u8(2)?;
                        enc_version(e, *v)?;
                        e.str(text)?;
                        Ok(())
                    }
                }
            }
            N2cHandshake::QueryReply(table) => {
                e.array(2)?.u8(3)?;
                enc_table(e, table)
            }
        })
    }

    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<N2cHandshake, CodecError> {
        finish("n2c handshake", bytes, |d| {
            let len = d.array()?;
            match (len, d.u8()?) {
                (Some(2), 0) => Ok(N2cHandshake::Propose(dec_table(d)?)),
                (Some(3), 1) => {
                    let v = dec_version(d)?;
                    Ok(N2cHandshake::Accept(v, N2cVersionData::decode(d)?))
                }
                (Some(2), 2) => {
                    let len = d.array()?;
                    let reason = match (len, d.u8()?) {
                        (Some(2), 0) => RefuseReason::VersionMismatch(dec_list(d, dec_version)?),
                        (Some(3), 1) => {
                            RefuseReason::HandshakeDecodeError(dec_version(d)?, d.str()?.into())
                        }
                        (Some(3), 2) => RefuseReason::Refused(dec_version(d)?, d.str()?.into()),
                        (l, t) => return err(format!("unknown refuse reason {t} (length {l:?})")),
                    };
                    Ok(N2cHandshake::Refuse(reason))
                }
                (Some(2), 3) => Ok(N2cHandshake::QueryReply(dec_table(d)?)),
                (l, t) => err(format!("unknown handshake message {t} (length {l:?})")),
            }
        })
    }
}

/// The server's answer to a node-to-client proposal, as ouroboros-network negotiates: the
/// highest version both speak ([`N2C_VERSIONS`]); then, if the client only queries, the
/// versions we speak; then the network magic must match.
pub fn n2c_negotiate(proposal: &[(u16, N2cVersionData)], network_magic: u32) -> N2cHandshake {
    let ours = N2cVersionData {
        network_magic,
        query: false,
    };
    let best = proposal
        .iter()
        .filter(|(v, _)| N2C_VERSIONS.contains(v))
        .max_by_key(|(v, _)| *v);
    let Some(&(v, theirs)) = best else {
        return N2cHandshake::Refuse(RefuseReason::VersionMismatch(N2C_VERSIONS.collect()));
    };
    if theirs.query {
        return N2cHandshake::QueryReply(N2C_VERSIONS.map(|v| (v, ours)).collect());
    }
    if theirs.network_magic != network_magic {
        return N2cHandshake::Refuse(RefuseReason::Refused(
            v,
            format!(
                "version data mismatch: network magic {} /= {}",
                network_magic, theirs.network_magic
            ),
        ));
    }
    N2cHandshake::Accept(v, ours)
}

/// Why local tx-submission rejected a transaction: one CBOR item, ours (texts) or anyone's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectReason {
    raw: Vec<u8>,
}

impl RejectReason {
    /// Our reason for a transaction of `era`: `[[era, [text…]]]`, one text per failed rule.
    pub fn from_messages<S: AsRef<str>>(era: u16, messages: &[S]) -> Self {
        let raw = encode(|e| {
            e.array(1)?
                .array(2)?
                .u16(era)?
                .array(messages.len() as u64)?;
            for m in messages {
                e.str(m.as_ref())?;
            }
            Ok(())
        });
        Self { raw }
    }

    /// Any reason: exactly one well-formed CBOR item.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, CodecError> {
        finish("local tx-submission", bytes, |d| d.skip())?;
        Ok(Self {
            raw: bytes.to_vec(),
        })
    }

    /// The reason's CBOR item.
    pub fn as_cbor(&self) -> &[u8] {
        &self.raw
    }

    /// The era and texts, if the reason has our shape (`[[era, [text…]]]`, or the unwrapped
    /// `[era, [text…]]`); `None` for a real node's structured `ApplyTxErr`.
    pub fn messages(&self) -> Option<(u16, Vec<String>)> {
        let texts = |d: &mut Decoder<'_>| -> DResult<(u16, Vec<String>)> {
            if d.array()? != Some(2) {
                return err("not [era, texts]");
            }
            let era = d.u16()?;
            Ok((era, dec_list(d, |d| d.str().map(String::from))?))
        };
        finish("reject reason", &self.raw, |d| {
            if d.probe().array()? == Some(1) {
                d.array()?;
            }
            texts(d)
        })
        .ok()
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((_, messages)) = self.messages() {
            return f.write_str(&messages.join("; "));
        }
        const SHOWN: usize = 64;
        write!(f, "ApplyTxErr ({} bytes of CBOR): ", self.raw.len())?;
        for b in self.raw.iter().take(SHOWN) {
            write!(f, "{b:02x}")?;
        }
        if self.raw.len() > SHOWN {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// Local tx-submission (node-to-client mini-protocol 6) messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalTxSubmission {
    /// Client: please add this transaction to your mempool.
    SubmitTx(EraTx),
    /// Server: added.
    AcceptTx,
    /// Server: refused, and why.
    RejectTx(RejectReason),
    /// Client: done.
    Done,
}

impl LocalTxSubmission {
    /// CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(|e| match self {
            LocalTxSubmission::SubmitTx(tx) => {
                e.array(2)?.u8(0)?;
                tx.encode(e)
            }
            LocalTxSubmission::AcceptTx => e.array(1)?.u8(1)?.ok(),
            LocalTxSubmission::RejectTx(reason) => {
                e.array(2)?.u8(2)?;
                e.writer_mut().extend_from_slice(&reason.raw);
                Ok(())
            }
            LocalTxSubmission::Done => e.array(1)?.u8(3)?.ok(),
        })
    }

    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<LocalTxSubmission, CodecError> {
        finish("local tx-submission", bytes, |d| {
            let len = d.array()?;
            Ok(match (len, d.u8()?) {
                (Some(2), 0) => LocalTxSubmission::SubmitTx(EraTx::decode(d)?),
                (Some(1), 1) => LocalTxSubmission::AcceptTx,
                (Some(2), 2) => {
                    let start = d.position();
                    d.skip()?;
                    let raw = d.input()[start..d.position()].to_vec();
                    LocalTxSubmission::RejectTx(RejectReason { raw })
                }
                (Some(1), 3) => LocalTxSubmission::Done,
                (l, t) => {
                    return err(format!(
                        "unknown local tx-submission message {t} (length {l:?})"
                    ));
                }
            })
        })
    }
}

/// Tx-submission v2 (node-to-node mini-protocol 4) messages. The client (the side whose
/// mempool has the transactions) starts with `Init`; then the server pulls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxSubmission {
    /// Client: start.
    Init,
    /// Server: acknowledge `ack` ids handed out before and send up to `req` new ones; when
    /// `blocking`, wait for at least one (the reply may then not be empty).
    RequestTxIds {
        /// Wait for new transactions rather than answering with none.
        blocking: bool,
        /// How many ids of earlier replies the server is done with.
        ack: u16,
        /// How many new ids the server wants at most.
        req: u16,
    },
    /// Client: ids and sizes in bytes, oldest first.
    ReplyTxIds(Vec<(EraTxId, u32)>),
    /// Server: send these transactions.
    RequestTxs(Vec<EraTxId>),
    /// Client: the requested transactions it still has.
    ReplyTxs(Vec<EraTx>),
    /// Client, in answer to a blocking request: done.
    Done,
}

impl TxSubmission {
    /// CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(|e| match self {
            TxSubmission::Init => e.array(1)?.u8(6)?.ok(),
            TxSubmission::RequestTxIds { blocking, ack, req } => {
                e.array(4)?.u8(0)?.bool(*blocking)?.u16(*ack)?.u16(*req)?;
                Ok(())
            }
            TxSubmission::ReplyTxIds(ids) => {
                e.array(2)?.u8(1)?.begin_array()?;
                for (id, size) in ids {
                    e.array(2)?;
                    id.encode(e)?;
                    e.u32(*size)?;
                }
                e.end()?;
                Ok(())
            }
            TxSubmission::RequestTxs(ids) => {
                e.array(2)?.u8(2)?.begin_array()?;
                ids.iter().try_for_each(|id| id.encode(e))?;
                e.end()?;
                Ok(())
            }
            TxSubmission::ReplyTxs(txs) => {
                e.array(2)?.u8(3)?.begin_array()?;
                txs.iter().try_for_each(|tx| tx.encode(e))?;
                e.end()?;
                Ok(())
            }
            TxSubmission::Done => e.array(1)?.u8(4)?.ok(),
        })
    }

    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<TxSubmission, CodecError> {
        finish("tx-submission", bytes, |d| {
            let len = d.array()?;
            Ok(match (len, d.u8()?) {
                (Some(4), 0) => TxSubmission::RequestTxIds {
                    blocking: d.bool()?,
                    ack: d.u16()?,
                    req: d.u16()?,
                },
                (Some(2), 1) => TxSubmission::ReplyTxIds(dec_list(d, |d| {
                    if d.array()? != Some(2) {
                        return err("not [txid, size]");
                    }
                    Ok((EraTxId::decode(d)?, d.u32()?))
                })?),
                (Some(2), 2) => TxSubmission::RequestTxs(dec_list(d, EraTxId::decode)?),
                (Some(2), 3) => TxSubmission::ReplyTxs(dec_list(d, EraTx::decode)?),
                (Some(1), 4) => TxSubmission::Done,
                (Some(1), 6) => TxSubmission::Init,
                (l, t) => {
                    return err(format!("unknown tx-submission message {t} (length {l:?})"));
                }
            })
        })
    }
}
