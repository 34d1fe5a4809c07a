//! The emulated node (`wb node`).

pub mod chaindb;
pub mod config;
pub mod events;
pub mod link;
pub mod node;
mod peer;
pub mod protocol;
pub mod storage;
pub mod topology;

pub use wb_ledger::genesis::Genesis;
