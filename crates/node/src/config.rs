//! The node's configuration: a cardano-node-style config file (its trace keys are read by
//! wb-trace) plus the command line's paths, as `cardano-node run` takes them.
//!
//! ```yaml
//! GenesisFile: genesis.json          # relative to this file
//! TraceOptionNodeName: node-0
//! TraceOptions: {"": {severity: Info, backends: [Stdout MachineFormat, EKGBackend, Forwarder]}}
//! ```

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The config file (for messages).
    pub config_file: PathBuf,
    /// The genesis file.
    pub genesis_file: PathBuf,
    /// The topology file.
    pub topology_file: PathBuf,
    /// Where the chain is kept.
    pub database_path: PathBuf,
    /// Address to listen on for peers.
    pub host_addr: String,
    /// Port to listen on (0: any free port).
    pub port: u16,
    /// The pool's key seed file (hex); absent for a relay.
    pub pool_key_file: Option<PathBuf>,
    /// The node-to-client socket (local tx-submission), if any.
    pub socket_path: Option<PathBuf>,
    /// Stop once this slot is reached.
    pub shutdown_on_slot: Option<u64>,
    /// Stop once the chain has this block number.
    pub shutdown_on_block: Option<u64>,
    /// The node's name in traces and NodeInfo.
    pub node_name: String,
    /// The trace configuration.
    pub trace: wb_trace::TraceConfig,
    /// Link emulation (key `LinkEmulation`; absent: the simple model, no uplink limit).
    pub link: crate::link::LinkConfig,
    /// cardano-node's costs charged to this node (key `NodeCosts`; absent: none).
    pub costs: crate::costs::CostConfig,
    /// Diffusion pipelining (key `DiffusionPipelining`, default true): a block's header is
    /// announced as soon as its validation starts, its body served meanwhile, as cardano-node
    /// does with its tentative header.
    pub pipelining: bool,
    /// The raw config, for other keys.
    pub raw: Value,
}

/// A configuration that cannot be used, naming the file and field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The trace keys are wrong.
    #[error(transparent)]
    Trace(#[from] wb_trace::ConfigError),
}

/// The command line's part of the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    /// `--config`.
    pub config: PathBuf,
    /// `--topology`.
    pub topology: PathBuf,
    /// `--database-path`.
    pub database_path: PathBuf,
    /// `--host-addr` (default 127.0.0.1).
    pub host_addr: Option<String>,
    /// `--port`.
    pub port: u16,
    /// `--pool-key`.
    pub pool_key: Option<PathBuf>,
    /// `--socket-path`.
    pub socket_path: Option<PathBuf>,
    /// `--shutdown-on-slot-synced`.
    pub shutdown_on_slot: Option<u64>,
    /// `--shutdown-on-block-synced`.
    pub shutdown_on_block: Option<u64>,
}

impl NodeConfig {
    /// Reads the config file named in `args` and combines it with them.
    pub fn load(args: &RunArgs) -> Result<NodeConfig, ConfigError> {
        let path = &args.config;
        let file_err = |message: String| ConfigError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let raw: Value = if json {
            serde_json::from_str(&text).map_err(|e| file_err(format!("not valid JSON: {e}")))?
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| file_err(format!("not valid YAML: {e}")))?
        };
        let trace = wb_trace::TraceConfig::from_value(&raw, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        let genesis = raw
            .get("GenesisFile")
            .or_else(|| raw.get("ShelleyGenesisFile"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                file_err("field GenesisFile: expected the path of genesis.json".into())
            })?;
        let node_name = trace.node_name.clone().unwrap_or_else(|| {
            args.pool_key
                .as_ref()
                .map_or("relay".into(), |_| "pool".into())
        });
        let slot = |k: &str| raw.get(k).and_then(Value::as_u64);
        let link: crate::link::LinkConfig = section(&raw, "LinkEmulation").map_err(file_err)?;
        link.check()
            .map_err(|e| file_err(format!("field LinkEmulation.{e}")))?;
        let costs = section(&raw, "NodeCosts").map_err(file_err)?;
        let pipelining = match raw.get("DiffusionPipelining") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(file_err(format!(
                    "field DiffusionPipelining: expected true or false, not {other}"
                )));
            }
        };
        Ok(NodeConfig {
            config_file: path.clone(),
            genesis_file: base.join(genesis),
            topology_file: args.topology.clone(),
            database_path: args.database_path.clone(),
            host_addr: args.host_addr.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: args.port,
            pool_key_file: args.pool_key.clone(),
            socket_path: args.socket_path.clone(),
            shutdown_on_slot: args
                .shutdown_on_slot
                .or_else(|| slot("ShutdownOnSlotSynced")),
            shutdown_on_block: args
                .shutdown_on_block
                .or_else(|| slot("ShutdownOnBlockSynced")),
            node_name,
            trace,
            link,
            costs,
            pipelining,
            raw,
        })
    }
}

/// A section of the config read into its type (absent: the default), the error naming it.
fn section<T: serde::de::DeserializeOwned + Default>(raw: &Value, key: &str) -> Result<T, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("field {key}: {e}")),
    }
}

/// Reads a pool key seed: 64 hex characters (whitespace around them is ignored).
pub fn read_pool_key(path: &Path) -> Result<wb_ledger::crypto::PoolKey, ConfigError> {
    let err = |message: String| ConfigError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let seed = wb_ledger::crypto::from_hex::<32>(text.trim())
        .ok_or_else(|| err("expected 64 hex characters (a 32-byte key seed)".into()))?;
    Ok(wb_ledger::crypto::PoolKey::from_seed(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &str) -> Result<NodeConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, format!("GenesisFile: genesis.json\n{extra}")).unwrap();
        NodeConfig::load(&RunArgs {
            config: path,
            ..RunArgs::default()
        })
    }

    #[test]
    fn link_and_cost_sections_are_read_and_checked_by_field() {
        let c = load("LinkEmulation: {model: tcp, tcp: {initial_window: 4}, uplink_mbps: 1000}\nNodeCosts: {calibration: cardano-node-10}\nDiffusionPipelining: false\n").unwrap();
        assert!(!c.pipelining);
        assert_eq!(c.link.model, crate::link::LinkModel::Tcp);
        assert_eq!(c.link.tcp.initial_window, 4);
        assert_eq!(c.link.tcp.mss, 1448);
        assert_eq!(c.link.uplink_mbps, Some(1000.0));
        assert_eq!(
            c.costs.calibration,
            crate::costs::Calibration::CardanoNode10
        );
        // Absent: the simple model and no costs.
        let d = load("").unwrap();
        assert_eq!(d.link, crate::link::LinkConfig::default());
        assert_eq!(d.costs, crate::costs::CostConfig::default());
        assert!(d.pipelining, "pipelining is on unless switched off");
        for (bad, field) in [
            ("LinkEmulation: {model: udp}\n", "field LinkEmulation"),
            (
                "LinkEmulation: {tcp: {loss: 2}}\n",
                "field LinkEmulation.tcp.loss",
            ),
            (
                "LinkEmulation: {uplink_mbps: -1}\n",
                "field LinkEmulation.uplink_mbps",
            ),
            ("NodeCosts: {calibration: fast}\n", "field NodeCosts"),
            (
                "DiffusionPipelining: yes please\n",
                "field DiffusionPipelining",
            ),
        ] {
            let e = load(bad).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains("config.yaml"), "{bad}: {e}");
        }
    }
}
