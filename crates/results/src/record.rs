//! What one analysed run contributes to the database, read from its run directory: who and
//! what made it (`meta.json`: tag, profile, manifest, timing, outcome) and what it measured
//! (`analysis/`: every dictionary metric's figure, its CDF centiles, and the per-block samples
//! the statistical tests need).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use wb_analyse::field;
use wb_report::Analysis;

/// The centiles kept of every distribution.
pub const CENTILES: [f64; 9] = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99];

/// Why a directory cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// No `meta.json`: not a `wb run` directory.
    #[error("{0}: not a wb run directory (no meta.json); only runs are published")]
    NotARun(PathBuf),
    /// `meta.json` lacks what a run records.
    #[error("{path}: meta.json has no {field}")]
    Meta {
        /// The file.
        path: PathBuf,
        /// The missing field.
        field: &'static str,
    },
    /// The run has not been analysed (or its analysis is unreadable).
    #[error("{path}: no analysis to publish ({why}); run `wb analyse {path}` first")]
    Analysis {
        /// The run directory.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// One run, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run's tag: its key.
    pub run_id: String,
    /// The profile's name.
    pub profile: String,
    /// A hash of the profile's whole content: runs of the same name but other settings differ.
    pub profile_hash: String,
    /// A hash of what the analysis measured: a run re-analysed differently is updated, the
    /// same one published again is left as it is.
    pub content_hash: String,
    /// The manifest (`meta.manifest`) as JSON.
    pub manifest: Value,
    /// When the run was allocated (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Its wall-clock length, s.
    pub duration_s: Option<f64>,
    /// `finished`, `failed` or `interrupted`.
    pub outcome: String,
    /// Per metric id: its figure and unit.
    pub values: BTreeMap<String, (f64, String)>,
    /// Per metric id: (centile, value) of its distribution.
    pub centiles: BTreeMap<String, Vec<(f64, f64)>>,
    /// Per metric id: its natural sample (values per accepted block, or per-slot windows).
    pub samples: BTreeMap<String, Vec<f64>>,
}

fn hash(parts: &[&[u8]]) -> String {
    let mut h = blake2b_simd::Params::new().hash_length(16).to_state();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_hex().to_string()
}

/// A unit's name as the dictionary spells it.
pub fn unit_name(f: &field::Field) -> String {
    serde_json::to_value(f.unit)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl RunRecord {
    /// Reads the run in `dir` and its analysis.
    pub fn read(dir: &Path) -> Result<RunRecord, RecordError> {
        let meta_path = dir.join("meta.json");
        let meta: Value = std::fs::read_to_string(&meta_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| RecordError::NotARun(dir.to_owned()))?;
        let m = &meta["meta"];
        let text = |field: &'static str| {
            m[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| RecordError::Meta {
                    path: meta_path.clone(),
                    field,
                })
        };
        let run_id = text("tag")?;
        let profile = text("profile")?;
        let started_at = text("allocated_at")?;
        let a = Analysis::read(dir).map_err(|e| RecordError::Analysis {
            path: dir.to_owned(),
            why: e.to_string(),
        })?;
        let mut values = BTreeMap::new();
        let mut centiles = BTreeMap::new();
        for f in field::all() {
            if let Some(v) = wb_report::compare::figure(&a, f).filter(|v| v.is_finite()) {
                values.insert(f.id.to_owned(), (v, unit_name(f)));
            }
            if let Some(d) = wb_report::compare::distribution(&a, f) {
                let c: Vec<(f64, f64)> = CENTILES
                    .iter()
                    .filter_map(|&p| Some((p, d.at(p).filter(|v| v.is_finite())?)))
                    .collect();
                if !c.is_empty() {
                    centiles.insert(f.id.to_owned(), c);
                }
            }
        }
        let read = |name: &str| std::fs::read(a.dir.join(name)).unwrap_or_default();
        let content_hash = hash(&[
            &read("summary.json"),
            &read("blockprop.json"),
            &read("clusterperf.json"),
            &read("blocks.csv"),
        ]);
        let profile_hash = hash(&[m["profile_content"].to_string().as_bytes()]);
        Ok(RunRecord {
            run_id,
            profile,
            profile_hash,
            content_hash,
            manifest: m["manifest"].clone(),
            started_at,
            finished_at: m["finished_at"].as_str().map(str::to_owned),
            duration_s: m["outcome"]["cpu"]["wall_s"].as_f64(),
            outcome: m["status"].as_str().unwrap_or("unknown").to_owned(),
            values,
            centiles,
            samples: a.block_samples.into_iter().chain(a.slot_samples).collect(),
        })
    }

    /// The version of what ran: wb's version and commit (one binary stands for every
    /// component of an emulated cluster).
    pub fn version(&self) -> String {
        version_of(&self.manifest)
    }
}

/// `0.1.0+1a2b3c4` from a manifest.
pub fn version_of(manifest: &Value) -> String {
    let v = manifest["wb_version"].as_str().unwrap_or("?");
    let c = manifest["commit"].as_str().unwrap_or("unknown");
    format!("{v}+{}", &c[..c.len().min(7)])
}
