//! Link emulation in the node's own transport. Kernel `netem` is not available in containers
//! or CI, so a cluster on one machine gets its regions this way: each connection's two
//! directions are timed by a link model, and everything a host sends also passes its uplink.
//!
//! * [`simple`]: one latency plus serialisation at the link's rate.
//! * [`tcp`]: TCP's congestion window, round trips, slow-start restart, jitter and loss.
//! * [`uplink`]: the host's bandwidth, shared by all its connections.
//!
//! The settings come from the node's config file, key `LinkEmulation`; the per-peer latency and
//! rate come from the topology.
//!
//! ```yaml
//! LinkEmulation: {model: tcp, tcp: {mss: 1448, initial_window: 10}, uplink_mbps: 1000}
//! ```

pub mod simple;
pub mod tcp;
pub mod uplink;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use simple::LinkShaper;
pub use tcp::{TcpLink, TcpParams};
pub use uplink::Uplink;

/// Which model times a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkModel {
    /// Latency plus serialisation ([`LinkShaper`]).
    #[default]
    Simple,
    /// The TCP-like model ([`TcpLink`]).
    Tcp,
}

/// A node's link emulation settings (config key `LinkEmulation`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// The model of every connection.
    pub model: LinkModel,
    /// The TCP model's parameters (used when `model` is `tcp`).
    pub tcp: TcpParams,
    /// The host's uplink, Mbit/s, shared by all its connections; absent: unlimited.
    pub uplink_mbps: Option<f64>,
}

impl LinkConfig {
    /// Refuses settings the models cannot use, naming the field.
    pub fn check(&self) -> Result<(), String> {
        self.tcp.check().map_err(|e| format!("tcp.{e}"))?;
        match self.uplink_mbps {
            Some(m) if !(m.is_finite() && m > 0.0) => {
                Err(format!("uplink_mbps: expected a positive number, not {m}"))
            }
            _ => Ok(()),
        }
    }

    /// The host's uplink, if limited.
    pub fn uplink(&self) -> Option<Uplink> {
        self.uplink_mbps.map(Uplink::new)
    }

    /// The timing of one direction of a connection with this one-way latency and rate;
    /// `None` when the link adds nothing.
    pub fn link(
        &self,
        latency: Duration,
        bandwidth_bps: Option<u64>,
        seed: u64,
        now: Instant,
    ) -> Option<Link> {
        if latency.is_zero() && bandwidth_bps.is_none() {
            return None;
        }
        Some(match self.model {
            LinkModel::Simple => Link::Simple(LinkShaper::new(latency, bandwidth_bps)),
            LinkModel::Tcp => Link::Tcp(Box::new(TcpLink::new(
                self.tcp.clone(),
                latency,
                bandwidth_bps,
                seed,
                now,
            ))),
        })
    }
}

/// One direction of an emulated connection.
#[derive(Debug, Clone)]
pub enum Link {
    /// Latency plus serialisation.
    Simple(LinkShaper),
    /// The TCP-like model.
    Tcp(Box<TcpLink>),
}

impl Link {
    /// When a message of `bytes` handed over at `now` is delivered.
    pub fn delivery(&mut self, now: Instant, bytes: usize) -> Instant {
        match self {
            Link::Simple(s) => s.delivery(now, bytes),
            Link::Tcp(t) => t.delivery(now, bytes),
        }
    }
}
