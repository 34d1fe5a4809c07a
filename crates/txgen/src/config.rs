//! The generator's configuration, with the tx-generator's field names (`tps`, `tx_count`,
//! `inputs_per_tx`, `outputs_per_tx`, `tx_fee`, `min_utxo_value`, `add_tx_size`,
//! `init_cooldown`, `era`, `sigKey`, `localNodeSocketPath`, `targetNodes`) plus ours. Unknown
//! fields are refused with their name.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A node to submit to: its node-to-client socket.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The node's node-to-client socket (local tx-submission).
    pub socket: PathBuf,
}

/// `wb txgen`'s configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxgenConfig {
    /// Global target rate over all targets, transactions per second.
    pub tps: f64,
    /// Benchmark transactions to submit.
    pub tx_count: u64,
    /// Inputs per benchmark transaction.
    pub inputs_per_tx: usize,
    /// Outputs per benchmark transaction.
    pub outputs_per_tx: usize,
    /// Fixed fee per transaction; absent: the minimum fee for the size.
    #[serde(default)]
    pub tx_fee: Option<u64>,
    /// Floor of every output's value, lovelace.
    #[serde(default = "default_min_utxo")]
    pub min_utxo_value: u64,
    /// Pad every benchmark transaction to exactly this many bytes (through metadata).
    #[serde(default)]
    pub add_tx_size: Option<usize>,
    /// Seconds to wait after each setup phase is on chain (a pause, never a substitute for
    /// confirmation).
    #[serde(default)]
    pub init_cooldown: f64,
    /// Transaction era; only `Conway`.
    #[serde(default = "default_era")]
    pub era: String,
    /// The genesis file (protocol parameters, network, the funds' genesis output).
    #[serde(rename = "genesisFile")]
    pub genesis_file: PathBuf,
    /// The genesis funds key: a file with its 32-byte seed in hex.
    #[serde(rename = "sigKey")]
    pub sig_key: PathBuf,
    /// The node used for setup and for watching the chain (its N2N `host:port` for chain-sync).
    #[serde(rename = "localNodeSocketPath")]
    pub local_node_socket_path: PathBuf,
    /// The node-to-node address of the node whose chain confirms transactions.
    #[serde(rename = "chainFollow")]
    pub chain_follow: String,
    /// Where benchmark transactions go.
    #[serde(rename = "targetNodes")]
    pub target_nodes: Vec<Target>,
    /// Outputs per split transaction.
    #[serde(default = "default_fan_out")]
    pub fan_out: usize,
    /// Submissions awaiting an answer, per target.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Seconds between `Benchmark.Progress` traces.
    #[serde(default = "default_report")]
    pub report_interval: f64,
    /// Seconds a setup phase may take to appear on chain before the run fails.
    #[serde(default = "default_phase_timeout")]
    pub phase_timeout: f64,
}

fn default_min_utxo() -> u64 {
    1_000_000
}
fn default_era() -> String {
    "Conway".into()
}
fn default_fan_out() -> usize {
    30
}
fn default_window() -> usize {
    8
}
fn default_report() -> f64 {
    1.0
}
fn default_phase_timeout() -> f64 {
    60.0
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// The file.
    pub origin: String,
    /// What is wrong, naming the field.
    pub message: String,
}

impl TxgenConfig {
    /// Reads and checks a configuration file (JSON if `.json`, else YAML); relative paths in it
    /// are relative to the file.
    pub fn from_file(path: &Path) -> Result<TxgenConfig, ConfigError> {
        let origin = path.display().to_string();
        let err = |message: String| ConfigError {
            origin: origin.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let json = path.extension().is_some_and(|e| e == "json");
        let mut cfg: TxgenConfig = if json {
            serde_json::from_str(&text).map_err(|e| err(e.to_string()))?
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| err(e.to_string()))?
        };
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut cfg.genesis_file,
            &mut cfg.sig_key,
            &mut cfg.local_node_socket_path,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for t in &mut cfg.target_nodes {
            if t.socket.is_relative() {
                t.socket = base.join(&t.socket);
            }
        }
        cfg.check().map_err(err)?;
        Ok(cfg)
    }

    /// Checks values that parse but cannot work.
    pub fn check(&self) -> Result<(), String> {
        if !(self.tps > 0.0 && self.tps.is_finite()) {
            return Err(format!(
                "field tps: must be a positive rate, got {}",
                self.tps
            ));
        }
        if self.tx_count == 0 {
            return Err("field tx_count: must be at least 1".into());
        }
        if self.inputs_per_tx == 0 || self.outputs_per_tx == 0 {
            return Err("fields inputs_per_tx / outputs_per_tx: must be at least 1".into());
        }
        if self.era != "Conway" {
            return Err(format!(
                "field era: {:?} is not supported; only \"Conway\"",
                self.era
            ));
        }
        if self.target_nodes.is_empty() {
            return Err("field targetNodes: at least one target is needed".into());
        }
        if self.fan_out < 2 {
            return Err("field fan_out: must be at least 2".into());
        }
        if self.window == 0 {
            return Err("field window: must be at least 1".into());
        }
        if let Some(s) = self.add_tx_size {
            if s < 39 {
                return Err(format!(
                    "field add_tx_size: {s} is too small (at least 39, as tx-generator)"
                ));
            }
        }
        Ok(())
    }
}
