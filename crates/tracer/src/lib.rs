//! The wb tracer service: our counterpart of cardano-tracer. It accepts trace-forward
//! connections from any number of nodes (ours or real cardano-nodes), writes per-node logs with
//! rotation, serves every node's metrics to Prometheus, shows the cluster on a live page, and
//! traces itself through wb-trace.

pub mod config;
mod connection;
pub mod events;
pub mod http;
pub mod logs;
pub mod service;
pub mod state;

pub use config::TracerConfig;
pub use events::TracerEvent;
pub use service::{ServiceOptions, StartError, TracerService};
