//! Several runs of one profile combined (locli's "variance" / multi-run analysis): per metric,
//! the runs' CDFs combined centile by centile into a CDF of CDFs — weighted by each run's
//! number of observations, with a pooled standard deviation (locli: unweighted, the largest
//! stddev) — and per summary figure, its distribution over the runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::analysis::{Layout::Pretty, write_json_file};
use crate::cdf::{Cdf, Cdf2, STD_CENTILES, cdf, combine, gnuplot2};

/// One run's analysis, read back from its `analysis/` directory.
#[derive(Debug, Clone)]
pub struct RunResults {
    /// The run (its tag, or the directory's name).
    pub tag: String,
    /// Its profile's name, if known.
    pub profile: Option<String>,
    /// `blockprop.json`'s CDFs by id.
    pub blockprop: BTreeMap<String, Cdf>,
    /// Each host's machine performance CDFs by id (`machperf/<host>.json`), if written.
    pub machperf: Vec<BTreeMap<String, Cdf>>,
    /// `summary.json`.
    pub summary: Value,
}

/// A run whose analysis cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}")]
pub struct VarianceError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub why: String,
}

fn read_json(path: &Path) -> Result<Value, VarianceError> {
    let err = |why: String| VarianceError {
        path: path.to_owned(),
        why,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| err(format!("{e} (was the run analysed? `wb analyse RUN`)")))?;
    serde_json::from_str(&text).map_err(|e| err(e.to_string()))
}

/// The CDFs of an output: `blockprop.json` keeps them under `cdfs`; a machine's file has them
/// beside its `host` and `slots`, as locli's `perf-stats.json` does.
fn cdfs(v: &Value, path: &Path) -> Result<BTreeMap<String, Cdf>, VarianceError> {
    let fields = v.get("cdfs").unwrap_or(v);
    let obj = fields.as_object().ok_or_else(|| VarianceError {
        path: path.to_owned(),
        why: "not an object of CDFs".into(),
    })?;
    obj.iter()
        .filter(|(_, c)| c.get("cdfSize").is_some())
        .map(|(id, c)| {
            serde_json::from_value(c.clone())
                .map(|c| (id.clone(), c))
                .map_err(|e| VarianceError {
                    path: path.to_owned(),
                    why: format!("field {id}: {e}"),
                })
        })
        .collect()
}

impl RunResults {
    /// Reads a run's analysis directory.
    pub fn read(analysis: &Path, tag: &str) -> Result<RunResults, VarianceError> {
        let bp_path = analysis.join("blockprop.json");
        let blockprop = cdfs(&read_json(&bp_path)?, &bp_path)?;
        let summary = read_json(&analysis.join("summary.json"))?;
        let mut machperf = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(analysis.join("machperf"))
            .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "json"))
        {
            machperf.push(cdfs(&read_json(f)?, f)?);
        }
        Ok(RunResults {
            tag: tag.to_owned(),
            profile: summary["meta"]["profile"].as_str().map(str::to_owned),
            blockprop,
            machperf,
            summary,
        })
    }
}

/// The combination.
#[derive(Debug, Clone, Serialize)]
pub struct Variance {
    /// The runs, in the order given.
    pub runs: Vec<String>,
    /// Their profiles differ (the combination is then of unlike things, and says so).
    pub incoherent_profiles: bool,
    /// Block propagation per metric, combined over runs.
    pub blockprop: BTreeMap<String, Cdf2>,
    /// Machine performance per metric, combined over every host of every run.
    pub clusterperf: BTreeMap<String, Cdf2>,
    /// Summary figures over runs (blocks, slots, hosts, achieved throughput, …).
    pub summary: BTreeMap<&'static str, Cdf>,
}

/// Numeric summary figures worth a distribution over runs: (name, JSON pointer).
const SUMMARY_FIGURES: &[(&str, &str)] = &[
    ("sumHosts", "/sumHosts"),
    ("sumLogObjectsTotal", "/sumLogObjectsTotal"),
    ("sumDomainBlocks", "/sumDomainBlocks/ddFilteredCount"),
    ("sumDomainSlots", "/sumDomainSlots/ddFilteredCount"),
    ("sumDomainTime", "/sumDomainTime/ddRawCount"),
    ("sumBlocksRejected", "/sumBlocksRejected"),
    ("achievedTps", "/generator/achievedTps"),
];

fn combine_maps<'a>(
    maps: impl Iterator<Item = &'a BTreeMap<String, Cdf>> + Clone,
) -> BTreeMap<String, Cdf2> {
    let ids: std::collections::BTreeSet<&String> = maps.clone().flat_map(|m| m.keys()).collect();
    ids.into_iter()
        .filter_map(|id| {
            let inputs: Vec<Cdf> = maps.clone().filter_map(|m| m.get(id).cloned()).collect();
            combine(&inputs).ok().map(|c| (id.clone(), c))
        })
        .collect()
}

/// Combines runs.
pub fn combine_runs(runs: &[RunResults]) -> Variance {
    let profiles: std::collections::BTreeSet<&Option<String>> =
        runs.iter().map(|r| &r.profile).collect();
    let summary = SUMMARY_FIGURES
        .iter()
        .map(|(name, ptr)| {
            let xs: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.summary.pointer(ptr).and_then(Value::as_f64))
                .collect();
            (*name, cdf(&STD_CENTILES, &xs))
        })
        .collect();
    Variance {
        runs: runs.iter().map(|r| r.tag.clone()).collect(),
        incoherent_profiles: profiles.len() > 1,
        blockprop: combine_maps(runs.iter().map(|r| &r.blockprop)),
        clusterperf: combine_maps(runs.iter().flat_map(|r| &r.machperf)),
        summary,
    }
}

impl Variance {
    /// Writes `blockprop.json`, `clusterperf.json`, `summary.json` and `cdf/<id>.cdf` into `out`.
    pub fn write(&self, out: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(out.join("cdf"))?;
        write_json_file(&out.join("blockprop.json"), &self.blockprop, Pretty)?;
        write_json_file(&out.join("clusterperf.json"), &self.clusterperf, Pretty)?;
        write_json_file(
            &out.join("summary.json"),
            &serde_json::json!({
                "runs": self.runs,
                "incoherent_profiles": self.incoherent_profiles,
                "figures": self.summary,
            }),
            Pretty,
        )?;
        for (id, c) in self.blockprop.iter().chain(&self.clusterperf) {
            std::fs::write(out.join("cdf").join(format!("{id}.cdf")), gnuplot2(c))?;
        }
        Ok(())
    }
}

/// A one-screen text summary: key metrics' averages over the runs, with their spread.
pub fn render(v: &Variance) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "{} runs: {}", v.runs.len(), v.runs.join(", "));
    if v.incoherent_profiles {
        let _ = writeln!(o, "warning: the runs are of different profiles");
    }
    let _ = writeln!(
        o,
        "{:<22} {:>10} {:>10} {:>10} {:>8}",
        "metric", "mean", "min run", "max run", "samples"
    );
    let rows = [
        "cdf0.50",
        "cdf0.90",
        "cdf0.96",
        "cdf1.00",
        "cdfForgerForge",
        "cdfPeerAdoption",
    ]
    .iter()
    .filter_map(|id| v.blockprop.get(*id).map(|c| (*id, c)))
    .chain(
        ["CentiCpu", "RSS", "cdfStarted"]
            .iter()
            .filter_map(|id| v.clusterperf.get(*id).map(|c| (*id, c))),
    );
    for (id, c) in rows {
        let _ = writeln!(
            o,
            "{id:<22} {:>10.3} {:>10.3} {:>10.3} {:>8}",
            c.average_weighted, c.average.range.0, c.average.range.1, c.size
        );
    }
    o
}
