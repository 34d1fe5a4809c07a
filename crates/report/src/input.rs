//! The analysis outputs a report reads. They are read as JSON values, as any consumer of an
//! analysis directory would, so a report can be made of any analysis directory, whoever wrote it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why an analysis directory cannot be reported on.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A file the report needs is missing or unreadable.
    #[error("{path}: {source} (is this a `wb analyse` output directory?)")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not the JSON the analysis writes.
    #[error("{path}: not an analysis output: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// One analysis directory's outputs.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Where it was read from.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: Value,
    /// `blockprop.json`.
    pub blockprop: Value,
    /// `clusterperf.json`.
    pub clusterperf: Value,
    /// `logs.json`'s hosts.
    pub hosts: Vec<Value>,
    /// `machperf/<host>.json`, in host order.
    pub machines: Vec<Value>,
    /// `chain.json`.
    pub chain: Value,
    /// Per host, its slots' resource figures from `slots.csv` (absent without slot timing).
    pub timelines: Vec<Timeline>,
    /// `blocks.csv`: per main-chain block, (slot, size in bytes, gap to the previous in s).
    pub blocks: Vec<(f64, Option<f64>, Option<f64>)>,
    /// `blocks.csv` again: per metric id among its columns, the values of the blocks accepted
    /// for statistics (the natural sample of the per-block metrics, for the tests).
    pub block_samples: BTreeMap<String, Vec<f64>>,
    /// `slots.csv` again: for the machine metrics it has (`CentiCpu`, `RSS`), each host's
    /// mean over every window of [`SLOT_WINDOW`] slots (the natural sample of the per-slot
    /// metrics, thinned so that neighbouring slots' correlation does not pass for evidence).
    pub slot_samples: BTreeMap<String, Vec<f64>>,
    /// For a series (`wb run --repeat`): its runs' tags, in order; empty for one run.
    pub series: Vec<String>,
    /// For a series: per per-block metric, each run's mean (the sample of the run-to-run
    /// noise model).
    pub run_figures: BTreeMap<String, Vec<f64>>,
}

/// The columns of `slots.csv` a report draws over time, in this order.
pub const TIMELINE_COLUMNS: [&str; 6] = [
    "CPU%", "rssMB", "netRdKBs", "netWrKBs", "fsRdKBs", "fsWrKBs",
];

/// Slots per window of a per-slot sample.
pub const SLOT_WINDOW: usize = 10;

/// The per-slot metrics tested, with their `slots.csv` column (index in [`TIMELINE_COLUMNS`]).
pub const SLOT_METRICS: [(&str, usize); 2] = [("CentiCpu", 0), ("RSS", 1)];

fn slot_samples(timelines: &[Timeline]) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (id, col) in SLOT_METRICS {
        for t in timelines {
            for w in t.rows.chunks(SLOT_WINDOW) {
                let known: Vec<f64> = w.iter().filter_map(|(_, v)| v[col]).collect();
                // A window mostly not measured is left out, not averaged from a few slots.
                if known.len() * 2 > w.len() {
                    out.entry(id.to_owned())
                        .or_default()
                        .push(known.iter().sum::<f64>() / known.len() as f64);
                }
            }
        }
    }
    out
}

/// One host's resource figures over its slots.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// The host.
    pub host: String,
    /// Per slot: the slot and each of [`TIMELINE_COLUMNS`] (blank cells: not known).
    pub rows: Vec<(f64, [Option<f64>; 6])>,
}

/// Reads a per-slot or per-block table: its rows as cells, found by header name.
fn read_csv(path: &Path) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let head: Vec<String> = lines.next()?.split(',').map(str::to_owned).collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    Some((head, rows))
}

fn timelines(dir: &Path) -> Vec<Timeline> {
    use std::io::BufRead;
    // A long run's table is large (57 MB for 52 hosts of 100 minutes): read line by line,
    // only the columns drawn, nothing kept as text.
    let Ok(file) = std::fs::File::open(dir.join("slots.csv")) else {
        return Vec::new();
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return Vec::new();
    }
    let head: Vec<&str> = line.trim_end().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name);
    let (Some(host_col), Some(slot_col)) = (col("host"), col("slot")) else {
        return Vec::new();
    };
    let cols = TIMELINE_COLUMNS.map(col);
    let mut out: Vec<Timeline> = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let mut host = "";
        let mut slot = None;
        let mut values = [None; 6];
        for (i, cell) in line.trim_end().split(',').enumerate() {
            if i == host_col {
                host = cell;
            } else if i == slot_col {
                slot = cell.parse().ok();
            } else if let Some(k) = cols.iter().position(|c| *c == Some(i)) {
                values[k] = cell.parse().ok();
            }
        }
        let Some(slot) = slot else { continue };
        match out.last_mut() {
            Some(t) if t.host == host => t.rows.push((slot, values)),
            _ => match out.iter_mut().find(|t| t.host == host) {
                Some(t) => t.rows.push((slot, values)),
                None => out.push(Timeline {
                    host: host.to_owned(),
                    rows: vec![(slot, values)],
                }),
            },
        }
    }
    out.sort_by_key(|t| natural_key(&t.host));
    out
}

fn block_samples(dir: &Path) -> BTreeMap<String, Vec<f64>> {
    let Some((head, rows)) = read_csv(&dir.join("blocks.csv")) else {
        return BTreeMap::new();
    };
    let accepted = head.iter().position(|h| h == "accepted");
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| accepted.is_none_or(|c| r.get(c).is_some_and(|v| v == "true")))
    {
        for (i, id) in head.iter().enumerate() {
            if wb_analyse::field::lookup(id).is_none() {
                continue;
            }
            if let Some(v) = r.get(i).and_then(|v| v.parse::<f64>().ok()) {
                out.entry(id.clone()).or_default().push(v);
            }
        }
    }
    out
}

fn blocks(dir: &Path) -> Vec<(f64, Option<f64>, Option<f64>)> {
    let Some((head, rows)) = read_csv(&dir.join("blocks.csv")) else {
        return Vec::new();
    };
    let col = |name: &str| head.iter().position(|h| h == name);
    let (Some(slot), size, gap) = (col("slot"), col("size"), col("block_gap")) else {
        return Vec::new();
    };
    let num = |r: &Vec<String>, c: Option<usize>| c.and_then(|c| r.get(c)?.parse().ok());
    rows.iter()
        .filter_map(|r| Some((r.get(slot)?.parse().ok()?, num(r, size), num(r, gap))))
        .collect()
}

fn read_json(path: &Path) -> Result<Value, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| InputError::Json {
        path: path.to_owned(),
        source,
    })
}

impl Analysis {
    /// A metric's natural sample in this run: its values per accepted block, or its per-slot
    /// windows.
    pub fn samples(&self, id: &str) -> Option<&Vec<f64>> {
        self.block_samples
            .get(id)
            .or_else(|| self.slot_samples.get(id))
    }

    /// Reads the analysis in `dir` (a run directory's `analysis/`, or the directory itself; a
    /// series directory as [`Analysis::read_series`]).
    pub fn read(dir: &Path) -> Result<Analysis, InputError> {
        if dir.join("series.json").is_file() {
            return Analysis::read_series(dir);
        }
        let dir = if dir.join("analysis/summary.json").exists() {
            dir.join("analysis")
        } else {
            dir.to_owned()
        };
        let hosts = match read_json(&dir.join("logs.json"))?.get_mut("hosts") {
            Some(Value::Array(h)) => std::mem::take(h),
            _ => Vec::new(),
        };
        let mut machines = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir.join("machperf")) {
            let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
            paths.sort_by_key(|p| natural_key(&p.to_string_lossy()));
            for p in paths {
                machines.push(read_json(&p)?);
            }
        }
        let timelines = timelines(&dir);
        Ok(Analysis {
            summary: read_json(&dir.join("summary.json"))?,
            blockprop: read_json(&dir.join("blockprop.json"))?,
            clusterperf: read_json(&dir.join("clusterperf.json"))?,
            chain: read_json(&dir.join("chain.json"))?,
            slot_samples: slot_samples(&timelines),
            timelines,
            blocks: blocks(&dir),
            block_samples: block_samples(&dir),
            hosts,
            machines,
            dir,
            series: Vec::new(),
            run_figures: BTreeMap::new(),
        })
    }

    /// Reads a series directory (`series.json`, written by `wb run --repeat`, naming runs
    /// beside it): its first run's outputs stand for its figures; the blocks of every run are
    /// pooled, and each run's mean per per-block metric kept for the run-to-run noise model.
    pub fn read_series(dir: &Path) -> Result<Analysis, InputError> {
        let path = dir.join("series.json");
        let series = read_json(&path)?;
        let tags: Vec<String> = series["runs"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let root = dir.parent().unwrap_or(Path::new("."));
        let mut runs = Vec::new();
        for t in &tags {
            runs.push(Analysis::read(&root.join(t))?);
        }
        let Some(mut first) = runs.first().cloned() else {
            return Err(InputError::Read {
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "a series of no runs"),
            });
        };
        first.summary["meta"]["tag"] = series["series"].clone();
        first.block_samples.clear();
        first.slot_samples.clear();
        for r in &runs {
            for (id, v) in &r.block_samples {
                first.block_samples.entry(id.clone()).or_default().extend(v);
            }
            for (id, v) in &r.slot_samples {
                first.slot_samples.entry(id.clone()).or_default().extend(v);
            }
        }
        let ids: std::collections::BTreeSet<&String> = runs
            .iter()
            .flat_map(|r| r.block_samples.keys().chain(r.slot_samples.keys()))
            .collect();
        for id in ids {
            let means: Vec<f64> = runs
                .iter()
                .filter_map(|r| {
                    let v = r.samples(id).filter(|v| !v.is_empty())?;
                    Some(v.iter().sum::<f64>() / v.len() as f64)
                })
                .collect();
            // A run without the metric's blocks (too short to have accepted any) has no figure.
            if means.len() >= 2 {
                first.run_figures.insert(id.clone(), means);
            }
        }
        first.series = tags;
        first.dir = dir.to_owned();
        Ok(first)
    }
}

/// A sort key reading runs of digits as numbers: `node-2` before `node-10`.
pub(crate) fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                key.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

/// A distribution as the analysis writes it (`cdfSize`, `cdfAverage`, `cdfSamples`, …), with
/// the cluster's form (each figure itself a distribution over hosts) read as its mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Dist {
    /// Values it is over.
    pub size: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// Smallest and largest.
    pub range: (f64, f64),
    /// (centile, value), centiles ascending.
    pub samples: Vec<(f64, f64)>,
}

/// A number, or the mean of a distribution over hosts.
fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.get("cdfAverage")?.as_f64())
}

impl Dist {
    /// Reads one; `None` when absent or empty.
    pub fn of(v: &Value) -> Option<Dist> {
        let size = v.get("cdfSize")?.as_u64()?;
        if size == 0 {
            return None;
        }
        let range = v.get("cdfRange")?.as_array()?;
        let samples = v
            .get("cdfSamples")?
            .as_array()?
            .iter()
            .filter_map(|s| Some((s.get(0)?.as_f64()?, number(s.get(1)?)?)))
            .collect();
        Some(Dist {
            size,
            mean: number(v.get("cdfAverage")?)?,
            median: number(v.get("cdfMedian")?)?,
            range: (number(range.first()?)?, number(range.get(1)?)?),
            samples,
        })
    }

    /// The value at centile `p` (the nearest sample at or above it).
    pub fn at(&self, p: f64) -> Option<f64> {
        self.samples
            .iter()
            .find(|(q, _)| *q >= p - 1e-9)
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::natural_key;

    #[test]
    fn hosts_sort_by_their_numbers() {
        let mut hosts = vec![
            "m/node-10.json",
            "m/node-2.json",
            "m/node-1.json",
            "m/explorer.json",
        ];
        hosts.sort_by_key(|h| natural_key(h));
        assert_eq!(
            hosts,
            [
                "m/explorer.json",
                "m/node-1.json",
                "m/node-2.json",
                "m/node-10.json"
            ]
        );
    }
}
