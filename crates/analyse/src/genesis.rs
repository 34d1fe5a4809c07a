//! The chain's time: slot length, system start, epoch length and the parameters the metrics need,
//! read from a Shelley genesis file or, for logs that come without one, inferred from the
//! leadership checks (every slot's check happens just after the slot starts).

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
    /// Where these came from.
    pub source: GenesisSource,
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
        "no genesis file given and only {0} leadership checks in the logs: cannot infer the slot length and system start (pass --genesis FILE)"
    )]
    TooFewChecks(usize),
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
            source: GenesisSource::File { path: p },
        })
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

    /// Slot `slot`'s start, ns since the Unix epoch.
    pub fn slot_start(&self, slot: u64) -> u64 {
        self.system_start + slot * self.slot_length
    }

    /// The slot a time falls in (slot 0 for times before the system start).
    pub fn slot_of(&self, at: u64) -> u64 {
        at.saturating_sub(self.system_start) / self.slot_length
    }

    /// The epoch of a slot (0 when the epoch length is unknown).
    pub fn epoch(&self, slot: u64) -> u64 {
        self.epoch_length.map_or(0, |e| slot / e)
    }

    /// A slot's place within its epoch (the slot itself when the epoch length is unknown).
    pub fn epoch_slot(&self, slot: u64) -> u64 {
        self.epoch_length.map_or(slot, |e| slot % e)
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

/// The first leadership checks of a host, from its first file only; an unreadable host yields
/// none (the analysis proper names it).
fn first_checks(h: &HostLogs) -> Vec<(u64, u64)> {
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
