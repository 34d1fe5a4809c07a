//! The data dictionary: every metric the analysis reports, with locli's id, headings, unit and
//! description (locli's `Field`/`DictEntry`), so reports and comparisons can say what a number is.

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
}
