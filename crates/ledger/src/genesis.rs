//! The chain's genesis: time, the Praos parameters, the pools and their stake, the initial funds
//! and the protocol parameters. Read from `genesis.json`, with Cardano's Shelley-genesis names
//! where they exist (`systemStart`, `networkMagic`, `slotLength`, `epochLength`,
//! `activeSlotsCoeff`, `securityParam`, `protocolParams`, `initialFunds`).
//!
//! ```json
//! {"systemStart": "2026-11-24T04:00:00Z", "networkMagic": 42, "slotLength": 1, "epochLength": 600,
//!  "activeSlotsCoeff": 0.05, "securityParam": 10, "protocolParams": {…},
//!  "pools": [{"name": "node-0", "vkey": "<hex>", "stake": 1000000}],
//!  "initialFunds": {"<address hex>": 1000000000000}, "nonce": "<64 hex, optional>"}
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::block::LeaderSchedule;
use crate::crypto::{self, Hash32};
use crate::lottery;
use crate::params::ProtocolParams;

/// A pool of the genesis stake distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenesisPool {
    /// Its name (the node that runs it).
    pub name: String,
    /// Its block-issuing verification key, hex.
    pub vkey: String,
    /// Its stake in lovelace.
    pub stake: u64,
}

/// The genesis file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Genesis {
    /// UTC start of slot 0, RFC 3339 (`2026-11-24T04:00:00Z`).
    pub system_start: String,
    /// Network magic (handshakes, tx submission).
    pub network_magic: u32,
    /// Address network id (0 = testnet).
    #[serde(default)]
    pub network_id: u8,
    /// Slot length in seconds.
    pub slot_length: f64,
    /// Slots per epoch.
    pub epoch_length: u64,
    /// Praos's `f`.
    pub active_slots_coeff: f64,
    /// Praos's `k`: the deepest rollback.
    pub security_param: u64,
    /// Protocol parameters.
    #[serde(default)]
    pub protocol_params: ProtocolParams,
    /// The pools.
    pub pools: Vec<GenesisPool>,
    /// Address (hex) → lovelace.
    #[serde(default)]
    pub initial_funds: BTreeMap<String, u64>,
    /// The genesis nonce, hex (default: blake2b-256 of the system start).
    #[serde(default)]
    pub nonce: Option<String>,
}

/// A genesis that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The JSON does not match the schema.
    #[error("{origin}: {message}")]
    Parse {
        /// File or `<string>`.
        origin: String,
        /// serde's message with line and column.
        message: String,
    },
    /// A field has a value that cannot work.
    #[error("{origin}: field {field}: {message}")]
    Field {
        /// File or `<string>`.
        origin: String,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Genesis {
    /// Reads and checks `genesis.json`.
    pub fn from_file(path: &Path) -> Result<Genesis, GenesisError> {
        let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Genesis::from_json(&text, &path.display().to_string())
    }

    /// Parses and checks genesis JSON; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Genesis, GenesisError> {
        let g: Genesis = serde_json::from_str(text).map_err(|e| GenesisError::Parse {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        g.check(origin)?;
        Ok(g)
    }

    fn check(&self, origin: &str) -> Result<(), GenesisError> {
        let bad = |field: &str, message: String| {
            Err(GenesisError::Field {
                origin: origin.into(),
                field: field.into(),
                message,
            })
        };
        if crate::time::parse_rfc3339_nanos(&self.system_start).is_none() {
            return bad(
                "systemStart",
                format!(
                    "{:?} is not an RFC 3339 UTC time like 2026-11-24T04:00:00Z",
                    self.system_start
                ),
            );
        }
        if !(self.slot_length > 0.0 && self.slot_length.is_finite()) {
            return bad(
                "slotLength",
                format!(
                    "must be a positive number of seconds, got {}",
                    self.slot_length
                ),
            );
        }
        if self.epoch_length == 0 {
            return bad("epochLength", "must be at least 1".into());
        }
        if !(self.active_slots_coeff > 0.0 && self.active_slots_coeff <= 1.0) {
            return bad(
                "activeSlotsCoeff",
                format!("must be in (0, 1], got {}", self.active_slots_coeff),
            );
        }
        if self.security_param == 0 {
            return bad("securityParam", "must be at least 1".into());
        }
        if self.pools.is_empty() {
            return bad("pools", "at least one pool is needed to make blocks".into());
        }
        for (i, p) in self.pools.iter().enumerate() {
            if crypto::from_hex::<32>(&p.vkey).is_none() {
                return bad(
                    &format!("pools[{i}].vkey"),
                    "must be 64 hex characters (an ed25519 key)".into(),
                );
            }
            if p.stake == 0 {
                return bad(&format!("pools[{i}].stake"), "must be positive".into());
            }
        }
        for addr in self.initial_funds.keys() {
            if addr.len() % 2 != 0
                || addr.is_empty()
                || !addr.bytes().all(|c| c.is_ascii_hexdigit())
            {
                return bad("initialFunds", format!("address {addr:?} is not hex"));
            }
        }
        if let Some(n) = &self.nonce {
            if crypto::from_hex::<32>(n).is_none() {
                return bad("nonce", "must be 64 hex characters".into());
            }
        }
        Ok(())
    }

    /// Unix nanoseconds of the start of slot 0.
    pub fn system_start_nanos(&self) -> u64 {
        crate::time::parse_rfc3339_nanos(&self.system_start).unwrap_or(0)
    }

    /// Slot length in nanoseconds.
    pub fn slot_nanos(&self) -> u64 {
        (self.slot_length * 1e9).round() as u64
    }

    /// The slot at Unix time `nanos` (`None` before the system start).
    pub fn slot_at(&self, nanos: u64) -> Option<u64> {
        nanos
            .checked_sub(self.system_start_nanos())
            .map(|d| d / self.slot_nanos().max(1))
    }

    /// Unix nanoseconds at which `slot` starts.
    pub fn slot_start(&self, slot: u64) -> u64 {
        self.system_start_nanos() + slot * self.slot_nanos()
    }

    /// The epoch of `slot`.
    pub fn epoch_of(&self, slot: u64) -> u64 {
        slot / self.epoch_length
    }

    /// The genesis nonce.
    pub fn genesis_nonce(&self) -> Hash32 {
        self.nonce
            .as_deref()
            .and_then(crypto::from_hex::<32>)
            .unwrap_or_else(|| crypto::blake2b_256(self.system_start.as_bytes()))
    }

    /// The leader schedule of this genesis.
    pub fn schedule(&self) -> StakeDistribution {
        let total: u128 = self.pools.iter().map(|p| u128::from(p.stake)).sum();
        let by_vkey = self
            .pools
            .iter()
            .filter_map(|p| {
                Some((
                    crypto::from_hex::<32>(&p.vkey)?,
                    p.stake as f64 / total as f64,
                ))
            })
            .collect();
        StakeDistribution {
            by_vkey,
            genesis_nonce: self.genesis_nonce(),
            active_slot_coeff: self.active_slots_coeff,
            epoch_length: self.epoch_length,
        }
    }

    /// The initial funds as outputs of pseudo-transactions: the id of an address's genesis
    /// output is blake2b-256 of the address bytes, index 0 (as Cardano's genesis UTxO does).
    pub fn initial_outputs(&self) -> Vec<(Hash32, Vec<u8>, u64)> {
        self.initial_funds
            .iter()
            .filter_map(|(addr, lovelace)| {
                let bytes: Option<Vec<u8>> = (0..addr.len() / 2)
                    .map(|i| u8::from_str_radix(&addr[2 * i..2 * i + 2], 16).ok())
                    .collect();
                let bytes = bytes?;
                Some((crypto::blake2b_256(&bytes), bytes, *lovelace))
            })
            .collect()
    }
}

/// Relative stake per pool key, and the nonces: what headers are checked against.
#[derive(Debug, Clone)]
pub struct StakeDistribution {
    by_vkey: HashMap<[u8; 32], f64>,
    genesis_nonce: Hash32,
    active_slot_coeff: f64,
    epoch_length: u64,
}

impl LeaderSchedule for StakeDistribution {
    fn relative_stake(&self, issuer_vkey: &[u8; 32]) -> Option<f64> {
        self.by_vkey.get(issuer_vkey).copied()
    }

    fn nonce_for_slot(&self, slot: u64) -> Hash32 {
        lottery::epoch_nonce(&self.genesis_nonce, slot / self.epoch_length.max(1))
    }

    fn active_slot_coeff(&self) -> f64 {
        self.active_slot_coeff
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::PoolKey;

    fn sample() -> String {
        let vk = crypto::hex(&PoolKey::from_seed([1; 32]).verification_key());
        let vk2 = crypto::hex(&PoolKey::from_seed([2; 32]).verification_key());
        format!(
            r#"{{"systemStart":"2026-11-24T04:00:00Z","networkMagic":42,"slotLength":0.2,"epochLength":100,
               "activeSlotsCoeff":0.1,"securityParam":5,
               "pools":[{{"name":"node-0","vkey":"{vk}","stake":300}},{{"name":"node-1","vkey":"{vk2}","stake":100}}],
               "initialFunds":{{"6001":1000}}}}"#
        )
    }

    #[test]
    fn reads_time_stake_and_funds() {
        let g = Genesis::from_json(&sample(), "genesis.json").unwrap();
        assert_eq!(g.slot_nanos(), 200_000_000);
        let t0 = g.system_start_nanos();
        assert_eq!(g.slot_at(t0 + 1_000_000_000), Some(5));
        assert_eq!(g.slot_at(t0 - 1), None);
        assert_eq!(g.slot_start(5), t0 + 1_000_000_000);
        assert_eq!(g.epoch_of(250), 2);
        let s = g.schedule();
        assert_eq!(
            s.relative_stake(&PoolKey::from_seed([1; 32]).verification_key()),
            Some(0.75)
        );
        assert_eq!(s.relative_stake(&[0; 32]), None);
        assert_ne!(s.nonce_for_slot(99), s.nonce_for_slot(100));
        let outs = g.initial_outputs();
        assert_eq!(
            outs,
            vec![(crypto::blake2b_256(&[0x60, 0x01]), vec![0x60, 0x01], 1000)]
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let err = |t: String| {
            Genesis::from_json(&t, "genesis.json")
                .unwrap_err()
                .to_string()
        };
        assert!(err(sample().replace("0.1,", "1.5,")).contains("activeSlotsCoeff"));
        assert!(err(sample().replace("2026-11-24T04:00:00Z", "yesterday")).contains("systemStart"));
        assert!(err(sample().replace("\"stake\":100", "\"stake\":0")).contains("pools[1].stake"));
        assert!(err(sample().replace("\"6001\"", "\"zz\"")).contains("initialFunds"));
        assert!(
            err(sample().replace("\"networkMagic\"", "\"networkMagik\"")).contains("unknown field")
        );
    }
}
