//! Log analysis of Ouroboros node clusters: what locli does, streaming and without its bugs.
//!
//! This crate reads logs only — never the emulated node's types — so it treats real
//! cardano-node logs and ours alike:
//! * ingestion (`names`, `event`, `ingest`, `source`): every line of every tracing system into a
//!   typed event or a counted skip, streaming per host;
//! * `genesis`: the chain's time, given or inferred; `filter`: locli's chain filters, fixed;
//! * `resources`: cumulative samples into per-second rates; `timeline`: per-host, per-slot
//!   statistics (locli's `SlotStats`); `machperf`: their distributions per host and across the
//!   cluster (`MachPerf`, `ClusterPerf`);
//! * `chain`: per-host machine views merged into the chain with forks and per-observer times;
//!   `blockprop`: block propagation (locli's `BlockProp`);
//! * `cdf`: locli's statistics; `field`: the data dictionary; `summary`: the run summary;
//! * `inventory`: the per-host pass; `analysis`: the whole analysis and its files;
//!   `variance`: several runs combined; `synth`: synthetic cluster logs with their known answers.

pub mod analysis;
pub mod blockprop;
pub mod cdf;
pub mod chain;
pub mod event;
mod fasthash;
pub mod field;
pub mod filter;
pub mod genesis;
pub mod ingest;
pub mod inventory;
pub mod machperf;
pub mod names;
mod rawjson;
pub mod resources;
pub mod source;
pub mod summary;
pub mod synth;
pub mod timeline;
pub mod variance;
