//! cardano-node's trace-forward protocol.
//!
//! One connection (a Unix socket or TCP) carries an Ouroboros mux ([`mux`]) with four
//! mini-protocols: the handshake ([`handshake`], 0), EKG metrics ([`ekg`], 1), trace objects
//! ([`trace_object`], 2) and data points ([`data_point`], 3). Messages are CBOR, encoded exactly as
//! the Haskell codecs (`serialise` Generic instances) produce them: indefinite-length lists,
//! `[idx]` enums, `[]`/`[x]` for `Maybe`, tag-1000 timestamps. Decoders also accept the
//! definite-length forms.
//!
//! Codecs are plain functions over byte slices; the mux is async (tokio) over any bearer.

pub mod cbor;
pub mod data_point;
pub mod ekg;
pub mod handshake;
pub mod mux;
pub mod trace_object;

pub use mux::{Address, Mode, MuxError, MuxReader, MuxWriter};

/// Mini-protocol number of the handshake.
pub const PROTOCOL_HANDSHAKE: u16 = 0;
/// Mini-protocol number of EKG metrics forwarding.
pub const PROTOCOL_EKG: u16 = 1;
/// Mini-protocol number of trace-object forwarding.
pub const PROTOCOL_TRACE_OBJECTS: u16 = 2;
/// Mini-protocol number of data-point forwarding.
pub const PROTOCOL_DATA_POINTS: u16 = 3;

/// `ForwardingV_1`, the only version either side offers today.
pub const FORWARDING_V1: u64 = 1;

/// A message that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{protocol}: {message}")]
pub struct DecodeError {
    /// Which mini-protocol's codec refused it.
    pub protocol: &'static str,
    /// What was wrong.
    pub message: String,
}

impl DecodeError {
    pub(crate) fn new(protocol: &'static str, message: impl Into<String>) -> Self {
        DecodeError {
            protocol,
            message: message.into(),
        }
    }
}
