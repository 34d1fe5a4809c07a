//! The chain's time: slot length, system start, epoch length and the parameters the metrics need,
//! read from a Shelley genesis file, taken from a public network's published genesis (by name,
//! or by the network magic a node logs at start-up) or, for logs that come without either,
//! inferred from the leadership checks (every slot's check happens just after the slot starts).
//! A public network began in Byron (20 s slots) and its slot numbers count those slots too: the
//! Byron prefix is part of the timing.

use std::ops::ControlFlow;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::event::Body;
use crate::inventory::HostLogs;
use crate::source::read_host_until;

/// Where the chain's time came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum GenesisSource {
    /// A genesis file.
    File {
        /// Its path.
        path: String,
    },
    /// A public network's published genesis.
    Network {
        /// Its name (`mainnet`, `preprod`, `preview`, `sanchonet`).
        name: String,
        /// The network magic it was recognised by, when taken from the logs.
        magic_in_logs: Option<u64>,
    },
    /// Inferred from leadership checks: slot length and system start only.
    Inferred {
        /// How many checks were used.
        checks: usize,
    },
}

/// The chain parameters the analysis needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Genesis {
    /// Start of slot 0, ns since the Unix epoch.
    pub system_start: u64,
    /// Slot length, ns.
    pub slot_length: u64,
    /// Slots per epoch (unknown when inferred).
    pub epoch_length: Option<u64>,
    /// `k`.
    pub security_param: Option<u64>,
    /// `f`.
    pub active_slots_coeff: Option<f64>,
    /// Largest block body, bytes (the fullness filters' reference).
    pub max_block_body_size: Option<u64>,
    /// The slots before the Shelley era, of their own length (public networks that began in
    /// Byron); none for a chain that started in Shelley.
    pub byron: Option<ByronPrefix>,
    /// Where these came from.
    pub source: GenesisSource,
}

/// A chain's Byron era: its slots come first and last longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ByronPrefix {
    /// Byron epochs.
    pub epochs: u64,
    /// Slots per Byron epoch (`10 k`).
    pub epoch_length: u64,
    /// Byron slot length, ns.
    pub slot_length: u64,
}

impl ByronPrefix {
    fn slots(&self) -> u64 {
        self.epochs * self.epoch_length
    }
}

/// A public network's timing, from its published genesis files.
struct KnownNetwork {
    name: &'static str,
    magic: u64,
    /// Shelley genesis `systemStart` (= Byron genesis `startTime`), Unix seconds.
    system_start_s: u64,
    /// Shelley `epochLength`.
    epoch_length: u64,
    /// Shelley `securityParam` (Byron's `protocolConsts.k` too).
    k: u64,
    /// Epochs in Byron before the Shelley hard fork.
    byron_epochs: u64,
}

/// The public networks. Every one has `slotLength` 1 s, `activeSlotsCoeff` 0.05 and
/// `protocolParams.maxBlockBodySize` 65536 in its Shelley genesis, and Byron's
/// `blockVersionData.slotDuration` 20000 ms. Sources: the networks' published genesis files as
/// distributed with cardano-node (IntersectMBO/cardano-node `configuration/cardano/mainnet-*`)
/// and the Cardano operations book's environment pages (`preprod`, `preview`, `sanchonet`
/// `byron-genesis.json`, `shelley-genesis.json`, `config.json`), with the hard-fork epochs
/// from the chains themselves: mainnet left Byron at epoch 208 (slot 4,492,800,
/// 2020-07-29T21:44:51Z), preprod at epoch 4 (slot 86,400, 2022-06-21T00:00:00Z); preview's and
/// sanchonet's `config.json` fork to Shelley at epoch 0 (`TestShelleyHardForkAtEpoch: 0`).
const NETWORKS: &[KnownNetwork] = &[
    KnownNetwork {
        name: "mainnet",
        magic: 764_824_073,
        system_start_s: 1_506_203_091, // 2017-09-23T21:44:51Z
        epoch_length: 432_000,
        k: 2160,
        byron_epochs: 208,
    },
    KnownNetwork {
        name: "preprod",
        magic: 1,
        system_start_s: 1_654_041_600, // 2022-06-01T00:00:00Z
        epoch_length: 432_000,
        k: 2160,
        byron_epochs: 4,
    },
    KnownNetwork {
        name: "preview",
        magic: 2,
        system_start_s: 1_666_656_000, // 2022-10-25T00:00:00Z
        epoch_length: 86_400,
        k: 432,
        byron_epochs: 0,
    },
    KnownNetwork {
        name: "sanchonet",
        magic: 4,
        system_start_s: 1_686_789_000, // 2023-06-15T00:30:00Z
        epoch_length: 86_400,
        k: 432,
        byron_epochs: 0,
    },
];

/// The names `--network` takes.
pub fn network_names() -> Vec<&'static str> {
    NETWORKS.iter().map(|n| n.name).collect()
}

/// Why no genesis could be had.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A field is missing or wrong.
    #[error("{path}: field {field}: missing or not of the expected type")]
    Field {
        /// The file.
        path: String,
        /// The field.
        field: &'static str,
    },
    /// The logs hold too few leadership checks to infer slot timing from.
    #[error(
        "no genesis file given and only {0} leadership checks in the logs: cannot infer the slot length and system start (pass --genesis FILE or --network NAME)"
    )]
    TooFewChecks(usize),
    /// A network name that is not one of the public networks.
    #[error("--network {0}: not a known network (one of: {list})", list = network_names().join(", "))]
    UnknownNetwork(String),
}

/// Leadership checks sampled per host for inference (the start of each log suffices).
const INFER_CHECKS_PER_HOST: usize = 400;

impl Genesis {
    /// Reads a Shelley genesis file (`systemStart`, `slotLength`, `epochLength`,
    /// `securityParam`, `activeSlotsCoeff`, `protocolParams.maxBlockBodySize`).
    pub fn read(path: &Path) -> Result<Genesis, GenesisError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Read {
            path: p.clone(),
            source,
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|_| GenesisError::Field {
            path: p.clone(),
            field: "(the file is not JSON)",
        })?;
        let field = |field| GenesisError::Field {
            path: p.clone(),
            field,
        };
        let system_start = v["systemStart"]
            .as_str()
            .and_then(wb_trace::time::parse_utc_nanos)
            .ok_or_else(|| field("systemStart"))?;
        let slot_secs = v["slotLength"]
            .as_f64()
            .filter(|s| *s > 0.0)
            .ok_or_else(|| field("slotLength"))?;
        Ok(Genesis {
            system_start,
            slot_length: (slot_secs * 1e9).round() as u64,
            epoch_length: v["epochLength"].as_u64().filter(|e| *e > 0),
            security_param: v["securityParam"].as_u64(),
            active_slots_coeff: v["activeSlotsCoeff"].as_f64(),
            max_block_body_size: v["protocolParams"]["maxBlockBodySize"].as_u64(),
            byron: None,
            source: GenesisSource::File { path: p },
        })
    }

    /// A public network's genesis by name (`mainnet`, `preprod`, `preview`, `sanchonet`).
    pub fn network(name: &str) -> Result<Genesis, GenesisError> {
        NETWORKS
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.genesis(None))
            .ok_or_else(|| GenesisError::UnknownNetwork(name.to_owned()))
    }

    /// A public network's genesis by its network magic, if it is one of them.
    pub fn network_of_magic(magic: u64) -> Option<Genesis> {
        NETWORKS
            .iter()
            .find(|n| n.magic == magic)
            .map(|n| n.genesis(Some(magic)))
    }

    /// Infers slot length and system start from `(slot, time)` pairs of leadership checks:
    /// the slot length is the median time per slot between checks many slots apart, rounded
    /// to the millisecond; the system start is the earliest `time − slot × length` (the check
    /// least delayed after its slot began).
    pub fn infer(checks: &[(u64, u64)]) -> Result<Genesis, GenesisError> {
        // Pairs half the list apart: a check's jitter is spread over many slots.
        let half = checks.len() / 2;
        let mut per_slot: Vec<f64> = checks
            .iter()
            .zip(&checks[half..])
            .filter(|(a, b)| b.0 > a.0 && b.1 > a.1)
            .map(|(a, b)| (b.1 - a.1) as f64 / (b.0 - a.0) as f64)
            .collect();
        if per_slot.len() < 3 {
            return Err(GenesisError::TooFewChecks(checks.len()));
        }
        per_slot.sort_by(f64::total_cmp);
        let median = per_slot[per_slot.len() / 2];
        let slot_length = ((median / 1e6).round().max(1.0) * 1e6) as u64;
        let system_start = checks
            .iter()
            .map(|&(slot, at)| at.saturating_sub(slot * slot_length))
            .min()
            .unwrap_or(0);
        Ok(Genesis {
            system_start,
            slot_length,
            epoch_length: None,
            security_param: None,
            active_slots_coeff: None,
            max_block_body_size: None,
            byron: None,
            source: GenesisSource::Inferred {
                checks: checks.len(),
            },
        })
    }

    /// Infers from the first leadership checks of each host's logs (reads only as far as it
    /// needs to).
    pub fn infer_from_logs(hosts: &[HostLogs]) -> Result<Genesis, GenesisError> {
        let mut best: Vec<(u64, u64)> = Vec::new();
        for h in hosts {
            let checks = first_checks(h);
            if checks.len() > best.len() {
                best = checks;
            }
            if best.len() >= INFER_CHECKS_PER_HOST {
                break;
            }
        }
        best.sort_unstable();
        best.dedup_by_key(|c| c.0);
        Genesis::infer(&best)
    }

    /// The Byron prefix: its slots, their length and its end, ns since the Unix epoch.
    fn prefix(&self) -> (u64, u64, u64) {
        match self.byron {
            Some(b) => (
                b.slots(),
                b.slot_length,
                self.system_start + b.slots() * b.slot_length,
            ),
            None => (0, self.slot_length, self.system_start),
        }
    }

    /// Slot `slot`'s start, ns since the Unix epoch.
    pub fn slot_start(&self, slot: u64) -> u64 {
        let (byron, byron_len, shelley_start) = self.prefix();
        if slot < byron {
            self.system_start + slot * byron_len
        } else {
            shelley_start + (slot - byron) * self.slot_length
        }
    }

    /// The slot a time falls in (slot 0 for times before the system start).
    pub fn slot_of(&self, at: u64) -> u64 {
        let (byron, byron_len, shelley_start) = self.prefix();
        if at < shelley_start {
            at.saturating_sub(self.system_start) / byron_len
        } else {
            byron + (at - shelley_start) / self.slot_length
        }
    }

    /// The epoch of a slot (0 when the epoch length is unknown).
    pub fn epoch(&self, slot: u64) -> u64 {
        match self.byron {
            Some(b) if slot < b.slots() => slot / b.epoch_length,
            Some(b) => b.epochs + self.epoch_length.map_or(0, |e| (slot - b.slots()) / e),
            None => self.epoch_length.map_or(0, |e| slot / e),
        }
    }

    /// A slot's place within its epoch (the slot itself when the epoch length is unknown).
    pub fn epoch_slot(&self, slot: u64) -> u64 {
        match self.byron {
            Some(b) if slot < b.slots() => slot % b.epoch_length,
            Some(b) => self.epoch_length.map_or(slot, |e| (slot - b.slots()) % e),
            None => self.epoch_length.map_or(slot, |e| slot % e),
        }
    }

    /// What the timing is: the genesis file, the network, or the inference.
    pub fn describe(&self) -> String {
        match &self.source {
            GenesisSource::File { path } => format!("the genesis {path}"),
            GenesisSource::Network {
                name,
                magic_in_logs: Some(m),
            } => format!("the {name} genesis (network magic {m} in the logs)"),
            GenesisSource::Network { name, .. } => format!("the {name} genesis"),
            GenesisSource::Inferred { checks } => {
                format!("the slot timing inferred from {checks} leadership checks")
            }
        }
    }

    /// locli's "safe interval" of an epoch slot: `floor(epochSlot / k × f)`, i.e. which
    /// stretch of `k/f` slots of the epoch it is in (0 without `k` and `f`).
    pub fn epoch_safe_int(&self, slot: u64) -> u64 {
        match (self.security_param, self.active_slots_coeff) {
            (Some(k), Some(f)) if k > 0 => {
                (self.epoch_slot(slot) as f64 / k as f64 * f).floor() as u64
            }
            _ => 0,
        }
    }

    /// Seconds from a slot's start to `at` (negative when before it).
    pub fn since_slot_start(&self, slot: u64, at: u64) -> f64 {
        seconds_between(self.slot_start(slot), at)
    }
}

/// Seconds from `from` to `to` (negative if earlier), both ns since the Unix epoch; exact to the
/// nanosecond: the difference is taken in integers, as such times exceed an f64's exact range.
pub fn seconds_between(from: u64, to: u64) -> f64 {
    (to as i64).wrapping_sub(from as i64) as f64 / 1e9
}

impl KnownNetwork {
    fn genesis(&self, magic_in_logs: Option<u64>) -> Genesis {
        const S: u64 = 1_000_000_000;
        Genesis {
            system_start: self.system_start_s * S,
            slot_length: S,
            epoch_length: Some(self.epoch_length),
            security_param: Some(self.k),
            active_slots_coeff: Some(0.05),
            max_block_body_size: Some(65_536),
            byron: (self.byron_epochs > 0).then_some(ByronPrefix {
                epochs: self.byron_epochs,
                epoch_length: 10 * self.k,
                slot_length: 20 * S,
            }),
            source: GenesisSource::Network {
                name: self.name.to_owned(),
                magic_in_logs,
            },
        }
    }
}

/// Bytes read from the start of a host's first file for a network magic: a node logs it at
/// start-up, within its first few hundred lines.
const MAGIC_BYTES: u64 = 2 << 20;
/// Hosts whose first file is searched: the hosts of one log set share one network, so when the
/// first few do not state it, the rest (the same kind of logs) do not either.
const MAGIC_HOSTS: usize = 4;

/// The network magic a node logged at start-up (`"networkMagic":N` in a line's data, as
/// cardano-node's start-up and handshake traces write it), from the first 2 MiB of the first
/// file of each of the first four hosts.
pub fn magic_in_logs(hosts: &[HostLogs]) -> Option<u64> {
    use std::io::Read;
    hosts.iter().take(MAGIC_HOSTS).find_map(|h| {
        let first = h.files.iter().min()?;
        let mut head = Vec::new();
        std::fs::File::open(first)
            .ok()?
            .take(MAGIC_BYTES)
            .read_to_end(&mut head)
            .ok()?;
        magic_in(&head)
    })
}

/// The number after the first `networkMagic` key in `text` that has one (quotes escaped or
/// not, as in a journal export).
fn magic_in(text: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"networkMagic";
    memchr::memmem::find_iter(text, KEY).find_map(|at| number_after(&text[at + KEY.len()..]))
}

fn number_after(rest: &[u8]) -> Option<u64> {
    let start = rest
        .iter()
        .take(8)
        .position(|b| !matches!(b, b'"' | b'\\' | b':' | b' '))?;
    let digits: Vec<u8> = rest[start..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// The first leadership checks of a host, from its first file only; an unreadable host yields
/// none (the analysis proper names it).
pub(crate) fn first_checks(h: &HostLogs) -> Vec<(u64, u64)> {
    let mut checks = Vec::new();
    let Some(first) = h.files.iter().min().cloned() else {
        return checks;
    };
    let _ = read_host_until(&[first], &h.host, |o| {
        if let Body::StartLeadershipCheck { slot, .. } = o.body {
            checks.push((slot, o.at));
        }
        if checks.len() < INFER_CHECKS_PER_HOST {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_finds_slot_length_and_start_despite_jitter() {
        let start = 1_700_000_000_000_000_000u64;
        let len = 200_000_000u64;
        // Checks 1–9 ms after their slot, some slots skipped, one very late.
        let checks: Vec<(u64, u64)> = (10..200u64)
            .filter(|s| s % 7 != 0)
            .map(|s| {
                let jitter = 1_000_000 + (s * 7919 % 8) * 1_000_000;
                let late = if s == 50 { 150_000_000 } else { 0 };
                (s, start + s * len + jitter + late)
            })
            .collect();
        let g = Genesis::infer(&checks).unwrap();
        assert_eq!(g.slot_length, len);
        // The least-delayed check is 1 ms after its slot's start.
        assert_eq!(g.system_start, start + 1_000_000);
        assert_eq!(
            g.source,
            GenesisSource::Inferred {
                checks: checks.len()
            }
        );
        assert!(matches!(
            Genesis::infer(&checks[..2]),
            Err(GenesisError::TooFewChecks(2))
        ));
    }

    #[test]
    fn public_networks_count_their_byron_slots() {
        let m = Genesis::network("mainnet").unwrap();
        // The first Shelley slot began 2020-07-29T21:44:51Z.
        let shelley = wb_trace::time::parse_utc_nanos("2020-07-29T21:44:51Z").unwrap();
        assert_eq!(m.slot_start(4_492_800), shelley);
        assert_eq!(m.slot_of(shelley + 1_500_000_000), 4_492_801);
        assert_eq!(m.slot_start(1), m.system_start + 20_000_000_000);
        assert_eq!(m.slot_of(m.system_start + 45_000_000_000), 2);
        assert_eq!((m.epoch(4_492_800), m.epoch_slot(4_492_800)), (208, 0));
        assert_eq!(m.epoch(4_492_800 + 432_000 + 5), 209);
        assert_eq!(m.epoch(21_600), 1);
        let pp = Genesis::network("preprod").unwrap();
        let pp_shelley = wb_trace::time::parse_utc_nanos("2022-06-21T00:00:00Z").unwrap();
        assert_eq!(pp.slot_start(86_400), pp_shelley);
        let pv = Genesis::network("preview").unwrap();
        assert_eq!(pv.slot_start(10), pv.system_start + 10_000_000_000);
        assert_eq!(pv.byron, None);
        assert_eq!(
            Genesis::network_of_magic(4).map(|g| g.describe()),
            Some("the sanchonet genesis (network magic 4 in the logs)".to_owned())
        );
        assert!(Genesis::network_of_magic(42).is_none());
        let e = Genesis::network("testnet").unwrap_err().to_string();
        assert!(e.contains("testnet") && e.contains("preprod"), "{e}");
        assert_eq!(
            magic_in(br#"{"data":{"networkMagic":764824073,"kind":"x"}}"#),
            Some(764_824_073)
        );
        assert_eq!(magic_in(br#"{"MESSAGE":"{\"networkMagic\": 1}"}"#), Some(1));
        assert_eq!(magic_in(b"no magic here"), None);
    }

    #[test]
    fn a_genesis_file_is_read_and_a_bad_one_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("genesis.json");
        std::fs::write(
            &p,
            r#"{"systemStart":"2026-11-24T06:24:38Z","slotLength":0.2,"epochLength":600,
                "securityParam":10,"activeSlotsCoeff":0.1,"protocolParams":{"maxBlockBodySize":65536}}"#,
        )
        .unwrap();
        let g = Genesis::read(&p).unwrap();
        assert_eq!(g.slot_length, 200_000_000);
        assert_eq!(g.epoch_length, Some(600));
        assert_eq!(g.max_block_body_size, Some(65536));
        assert_eq!(g.slot_start(5), g.system_start + 1_000_000_000);
        assert_eq!(g.slot_of(g.system_start + 1_100_000_000), 5);
        assert_eq!(g.epoch(1234), 2);
        assert_eq!(g.epoch_slot(1234), 34);
        // 34 / 10 × 0.1 = 0.34 → 0; 599 / 10 × 0.1 = 5.99 → 5.
        assert_eq!(g.epoch_safe_int(1234), 0);
        assert_eq!(g.epoch_safe_int(599), 5);
        std::fs::write(&p, r#"{"systemStart":"2026-11-24T06:24:38Z"}"#).unwrap();
        let e = Genesis::read(&p).unwrap_err().to_string();
        assert!(
            e.contains("genesis.json") && e.contains("slotLength"),
            "{e}"
        );
    }
}
