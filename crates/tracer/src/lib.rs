//! The wb tracer service: our counterpart of cardano-tracer.

pub mod config;
pub mod logs;
