//! The emulated node (`wb node`).

pub mod chaindb;
pub mod config;
pub mod costs;
pub mod events;
pub mod link;
mod local;
pub mod mempool;
pub mod node;
mod peer;
mod pipelining;
pub mod protocol;
pub mod storage;
pub mod testnet;
pub mod topology;
pub mod txproto;

pub use wb_ledger::genesis::Genesis;
