//! The emulated node's pure domain: real Cardano (Conway) transactions validated against a UTxO
//! set, blocks and headers, the stake-weighted leader lottery, and chain selection. No I/O.

pub mod block;
pub mod cbor_out;
pub mod chain;
pub mod crypto;
pub mod genesis;
pub mod lottery;
pub mod params;
mod time;
pub mod tx;
pub mod utxo;
pub mod wallet;
