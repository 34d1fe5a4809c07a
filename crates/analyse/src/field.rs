//! The data dictionary: every metric the analysis reports, with locli's id, headings, unit and
//! description (locli's `Field`/`DictEntry`), the traces it is derived from, how its values are
//! combined and which way is better, so reports and comparisons can say what a number is. The
//! entries live beside the code that computes them (`blockprop`, `machperf`, `summary`);
//! [`all`] is the one list everything else reads.

use serde::Serialize;

/// A metric's unit (locli's `renderUnit` spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    /// Seconds.
    #[serde(rename = "s")]
    Sec,
    /// Per second.
    #[serde(rename = "Hz")]
    Hz,
    /// Bytes.
    #[serde(rename = "Bytes")]
    Bytes,
    /// MiB.
    #[serde(rename = "MiB")]
    MiB,
    /// KiB per second.
    #[serde(rename = "KiB/s")]
    KiBs,
    /// MiB per second.
    #[serde(rename = "MiB/s")]
    MiBs,
    /// Slots.
    #[serde(rename = "slots")]
    Slots,
    /// Blocks.
    #[serde(rename = "blocks")]
    Blocks,
    /// Percent.
    #[serde(rename = "%")]
    Pct,
    /// Events.
    #[serde(rename = "events")]
    Events,
    /// A ratio.
    #[serde(rename = "ratio")]
    Ratio,
    /// A plain count.
    #[serde(rename = "count")]
    Count,
    /// Units (counts per slot).
    #[serde(rename = "units")]
    Units,
    /// Yes or no.
    #[serde(rename = "yes/no")]
    Flag,
}

/// How a metric is best plotted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scale {
    /// Linear.
    #[serde(rename = "lin")]
    Lin,
    /// Logarithmic.
    #[serde(rename = "log")]
    Log,
}

/// Which way a metric is better, for comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// More is better (a share of blocks that made the chain, throughput).
    Higher,
    /// Less is better (a delay, CPU, memory).
    Lower,
    /// Neither: a description of the run or its load (block size, lines logged).
    Neither,
}

/// What one value of a metric is, and how its values are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// One value per accepted main-chain block; the distribution is over blocks.
    PerBlock,
    /// One value per block and node that observed it (valid observations only).
    PerObservation,
    /// One value per slot of a host's timeline; a host's distribution is over its slots, the
    /// cluster's over the hosts' distributions (each centile's values across hosts).
    PerSlot,
    /// One value per span of slots (a CPU peak); the distribution is over spans.
    PerSpan,
    /// One value per host; the distribution is over hosts.
    PerHost,
    /// One value for the whole run (or a raw and a filtered one).
    PerRun,
}

impl Aggregation {
    /// In words, for the dictionary.
    pub fn describe(self) -> &'static str {
        match self {
            Aggregation::PerBlock => "one value per accepted main-chain block; CDF over blocks",
            Aggregation::PerObservation => {
                "one value per block and node observing it (valid observations); CDF over them"
            }
            Aggregation::PerSlot => {
                "one value per slot of a host; CDF over its slots; cluster: each centile across hosts"
            }
            Aggregation::PerSpan => "one value per CPU peak; CDF over peaks",
            Aggregation::PerHost => "one value per host; CDF over hosts",
            Aggregation::PerRun => "one value for the run",
        }
    }
}

/// One metric of the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Field {
    /// locli's id (`cdfForgerLead`, `CentiCpu`, …): the key in the JSON outputs and the name
    /// of its `cdf/<id>.cdf` file.
    pub id: &'static str,
    /// The group heading.
    pub group: &'static str,
    /// A few words.
    pub short: &'static str,
    /// What it measures and from which traces.
    pub description: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// Decimals worth showing.
    pub precision: u8,
    /// Plot scale.
    pub scale: Scale,
    /// Plot range (`""`, `"0:1"`, …).
    pub range: &'static str,
    /// The trace messages (new tracing namespaces) its values come from; none: every line.
    pub from: &'static [&'static str],
    /// What one value is and how values are combined.
    pub aggregation: Aggregation,
    /// Which way is better.
    pub better: Better,
}

/// Every metric of the analysis, each once: block propagation, machine and cluster
/// performance, the run summary.
pub fn all() -> impl Iterator<Item = &'static Field> {
    crate::blockprop::FIELDS
        .iter()
        .chain(crate::machperf::FIELDS)
        .chain(crate::summary::FIELDS)
}

/// The dictionary entry of a metric id.
pub fn lookup(id: &str) -> Option<&'static Field> {
    all().find(|f| f.id == id)
}

/// The dictionary as Markdown: one table per group, in the analysis's order.
pub fn markdown() -> String {
    use std::fmt::Write;
    let mut o = String::from(
        "# Data dictionary\n\nEvery metric `wb analyse` computes, generated from the one source the analysis and\nthe reports read (`wb dictionary --format md`; `--format json` for the same as data).\nIds are locli's. Delays are seconds; \"better\" says which way a comparison should read.\n",
    );
    let mut group = "";
    for f in all() {
        if f.group != group {
            group = f.group;
            let _ = write!(
                o,
                "\n## {group}\n\n| id | metric | unit | better | from | values | what it measures |\n|---|---|---|---|---|---|---|\n"
            );
        }
        let unit = serde_json::to_value(f.unit)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let better = match f.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
            Better::Neither => "–",
        };
        let from = if f.from.is_empty() {
            "every line".to_owned()
        } else {
            f.from
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            o,
            "| `{}` | {} | {unit} | {better} | {from} | {} | {} |",
            f.id,
            f.short,
            f.aggregation.describe(),
            f.description.replace('|', "\\|")
        );
    }
    o
}
