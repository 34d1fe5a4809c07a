//! Log analysis of Ouroboros node clusters: what locli does, streaming and without its bugs.
//!
//! This crate reads logs only — never the emulated node's types — so it treats real
//! cardano-node logs and ours alike. So far: ingestion (`names`, `event`, `ingest`, `source`):
//! every line of every tracing system into a typed event or a counted skip; and `resources`:
//! cumulative resource samples into per-second rates; `cdf`: locli's statistics; `chain`: the
//! chain across hosts with forks and per-observer times; `inventory`: a first pass over every
//! host of a run or file list; `synth`: synthetic cluster logs with their known answers.

pub mod cdf;
pub mod chain;
pub mod event;
mod fasthash;
pub mod field;
pub mod genesis;
pub mod ingest;
pub mod inventory;
pub mod names;
mod rawjson;
pub mod resources;
pub mod source;
pub mod synth;
