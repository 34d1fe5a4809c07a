//! Per-host performance (locli's `MachPerf`) and its combination over the cluster
//! (`ClusterPerf`, written as `clusterperf.json`): for each metric of [`FIELDS`], the
//! distribution over a host's (filtered) slots at [`STD_CENTILES`], then per metric the
//! distribution of those distributions across hosts ([`cdf::combine`]). JSON is keyed by
//! locli's field ids (`cdfStarted`, `CentiCpu`, …), so existing tooling reads it.
//!
//! A metric a host has no observation of is absent from its `MachPerf`, not an empty or zero
//! distribution: the forge-loop metrics on a host without a forge loop, and the GHC runtime's
//! own figures (`CentiGC`, `CentiMut`, `GcsMajor`, `GcsMinor`, `Live`) on hosts that do not
//! report them — our emulated node among them. `ClusterPerf` combines, per metric, only the
//! hosts that have it. Three metrics are always present for a host: `cdfHostSlots`,
//! `cdfStarts`, `cdfLeads` (counts, 0 included), and the span metrics whenever they can be
//! computed (`cdfSpanLensCpu` always; the epoch ones when the epoch length is known), possibly
//! with no spans (size 0) — when combining, hosts without spans are left out.
//!
//! Fixed against locli: `cdfBlockGap` is in **seconds** as its unit says (slots since the tip
//! last changed × slot length; locli labels slots as seconds). Rates are per second (GCs,
//! allocation, network and file-system traffic), not per sample; they come only from slots a
//! sample was taken in, while CPU shares and memory levels count every slot, carried forward as
//! in [`crate::timeline`].
//!
//! Spans as locli defines them (`slotStatsSummary`): maximal runs of consecutive slots whose
//! CPU use is unknown or at least 85 % of a core (a slot missing from the rows given, e.g.
//! filtered out, ends a run); a span's length is its last slot minus its first (so a one-slot
//! span is 0 long, as in locli). `cdfSpanLensCpuEpoch`: the spans that contain slot 3 of an
//! epoch, counted from that epoch's first slot; `cdfSpanLensCpuRwd`: the spans containing slot
//! `3 + floor(0.4 × epochLength)` of an epoch, where the reward calculation starts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cdf::{self, Cdf, Cdf2, STD_CENTILES};
use crate::field::{Aggregation, Better, Field, Scale, Unit};
use crate::genesis::Genesis;
use crate::timeline::SlotStats;

/// CPU use at which a slot counts towards a span, % of one core.
pub const SPAN_CPU_PCT: f64 = 85.0;

const FORGE: &str = "Forge loop";
const CHAIN: &str = "Chain";
const RES: &str = "Resource usage";
const SPANS: &str = "CPU spans";

/// A dictionary entry; `form` is unit, precision, scale and range; `meaning` where its values
/// come from, how they combine and which way is better.
const fn field(
    id: &'static str,
    group: &'static str,
    short: &'static str,
    description: &'static str,
    form: (Unit, u8, Scale, &'static str),
    meaning: (&'static [&'static str], Aggregation, Better),
) -> Field {
    let (unit, precision, scale, range) = form;
    let (from, aggregation, better) = meaning;
    Field {
        id,
        group,
        short,
        description,
        unit,
        precision,
        scale,
        range,
        from,
        aggregation,
        better,
    }
}

const LOOP: &[&str] = &[
    "Forge.Loop.StartLeadershipCheck",
    "Forge.Loop.StartLeadershipCheckPlus",
];
const RESOURCES: &[&str] = &["Resources"];
const LEDGER: &[&str] = &["Forge.Loop.StartLeadershipCheckPlus", "LedgerMetrics"];

/// The metrics of a `MachPerf` / `ClusterPerf`, in locli's order (§3.2), then the four locli
/// computes without listing them (`cdfHostSlots`, `cdfLeads`, `cdfUtxo`, `cdfSpanLensCpuRwd`).
pub const FIELDS: &[Field] = &[
    field(
        "cdfStarts",
        FORGE,
        "Forge loop starts",
        "For any given slot, how many forging loop starts were registered",
        (Unit::Units, 0, Scale::Lin, "0:1"),
        (LOOP, Aggregation::PerSlot, Better::Higher),
    ),
    field(
        "cdfStarted",
        FORGE,
        "Forge loop tardiness",
        "Forge loop iteration start delay (TraceStartLeadershipCheck), relative to slot start",
        (Unit::Sec, 3, Scale::Log, ""),
        (LOOP, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "cdfBlkCtx",
        FORGE,
        "Block context acquisition delay",
        "Block context acquired (TraceBlockContext), relative to forge loop beginning",
        (Unit::Sec, 3, Scale::Log, ""),
        (
            &["Forge.Loop.BlockContext"],
            Aggregation::PerSlot,
            Better::Lower,
        ),
    ),
    field(
        "cdfLgrState",
        FORGE,
        "Ledger state acquisition delay",
        "Ledger state acquired (TraceLedgerState), relative to block context acquisition",
        (Unit::Sec, 3, Scale::Log, ""),
        (
            &["Forge.Loop.LedgerState"],
            Aggregation::PerSlot,
            Better::Lower,
        ),
    ),
    field(
        "cdfLgrView",
        FORGE,
        "Ledger view acquisition delay",
        "Ledger view acquired (TraceLedgerView), relative to ledger state acquisition",
        (Unit::Sec, 3, Scale::Log, ""),
        (
            &["Forge.Loop.LedgerView"],
            Aggregation::PerSlot,
            Better::Lower,
        ),
    ),
    field(
        "cdfLeading",
        FORGE,
        "Leadership check duration",
        "Leadership check duration (TraceNodeIsNotLeader, TraceNodeIsLeader), relative to ledger view acquisition (or forge loop beginning)",
        (Unit::Sec, 3, Scale::Log, ""),
        (
            &["Forge.Loop.NodeIsLeader", "Forge.Loop.NodeNotLeader"],
            Aggregation::PerSlot,
            Better::Lower,
        ),
    ),
    field(
        "cdfBlockGap",
        CHAIN,
        "Interblock gap",
        "Time since the tip's block number last changed (TraceBlockContext), per slot: slots × slot length, in seconds (locli has slots here, labelled seconds)",
        (Unit::Sec, 2, Scale::Lin, ""),
        (
            &["Forge.Loop.BlockContext"],
            Aggregation::PerSlot,
            Better::Neither,
        ),
    ),
    field(
        "cdfDensity",
        CHAIN,
        "Chain density",
        "Block/slot ratio, for the last 'k' slots",
        (Unit::Ratio, 2, Scale::Lin, ""),
        (LEDGER, Aggregation::PerSlot, Better::Higher),
    ),
    field(
        "CentiCpu",
        RES,
        "Process CPU usage",
        "Kernel-reported CPU process usage, % of a single core",
        (Unit::Pct, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "CentiGC",
        RES,
        "RTS GC CPU usage",
        "RTS-reported GC CPU usage, % of a single core (GHC only)",
        (Unit::Pct, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "CentiMut",
        RES,
        "RTS Mutator CPU usage",
        "RTS-reported mutator CPU usage, % of a single core (GHC only)",
        (Unit::Pct, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "GcsMajor",
        RES,
        "Major GCs",
        "Major garbage collection RTS events, per second (GHC only; locli: per sample)",
        (Unit::Hz, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "GcsMinor",
        RES,
        "Minor GCs",
        "Minor garbage collection RTS events, per second (GHC only; locli: per sample)",
        (Unit::Hz, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "RSS",
        RES,
        "Kernel RSS",
        "Kernel-reported RSS (Resident Set Size) of the process, MiB",
        (Unit::MiB, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "Heap",
        RES,
        "RTS heap size",
        "RTS-reported heap size, MiB",
        (Unit::MiB, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "Live",
        RES,
        "RTS live GC dataset",
        "RTS-reported GC live data size, MiB (GHC only)",
        (Unit::MiB, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "Alloc",
        RES,
        "RTS alloc rate",
        "RTS-reported allocation rate, MiB/s",
        (Unit::MiBs, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Lower),
    ),
    field(
        "NetRd",
        RES,
        "Network reads",
        "Network reads, KiB/s",
        (Unit::KiBs, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Neither),
    ),
    field(
        "NetWr",
        RES,
        "Network writes",
        "Network writes, KiB/s",
        (Unit::KiBs, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Neither),
    ),
    field(
        "FsRd",
        RES,
        "Filesystem reads",
        "Number of bytes which this process really did cause to be fetched from the storage layer, KiB/s",
        (Unit::KiBs, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Neither),
    ),
    field(
        "FsWr",
        RES,
        "Filesystem writes",
        "Number of bytes which this process caused to be sent to the storage layer, modulo truncate(), KiB/s",
        (Unit::KiBs, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSlot, Better::Neither),
    ),
    field(
        "cdfSpanLensCpu",
        SPANS,
        "CPU 85% spans",
        "Length of over-85% CPU usage peaks (runs of slots with CPU ≥ 85% or unknown), last slot − first slot",
        (Unit::Slots, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSpan, Better::Lower),
    ),
    field(
        "cdfSpanLensCpuEpoch",
        SPANS,
        "CPU spans at Ep boundary",
        "Length of over-85% CPU usage peaks, starting at epoch boundary (spans containing epoch slot 3, counted from the epoch's first slot), slots",
        (Unit::Slots, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSpan, Better::Lower),
    ),
    field(
        "cdfHostSlots",
        CHAIN,
        "Slots analysed",
        "Slots of the host's timeline that passed the slot filters (one value per host)",
        (Unit::Slots, 0, Scale::Lin, ""),
        (LOOP, Aggregation::PerHost, Better::Neither),
    ),
    field(
        "cdfLeads",
        FORGE,
        "Leaderships",
        "For any given slot, how many leadership checks were won (TraceNodeIsLeader)",
        (Unit::Units, 0, Scale::Lin, "0:1"),
        (
            &["Forge.Loop.NodeIsLeader"],
            Aggregation::PerSlot,
            Better::Neither,
        ),
    ),
    field(
        "cdfUtxo",
        CHAIN,
        "UTxO size",
        "UTxO set size (StartLeadershipCheckPlus, LedgerMetrics), carried forward per slot",
        (Unit::Count, 0, Scale::Lin, ""),
        (LEDGER, Aggregation::PerSlot, Better::Neither),
    ),
    field(
        "cdfSpanLensCpuRwd",
        SPANS,
        "CPU spans at reward calculation",
        "Length of over-85% CPU usage peaks containing epoch slot 3 + floor(0.4 × epoch length), where the reward calculation starts, slots",
        (Unit::Slots, 0, Scale::Lin, ""),
        (RESOURCES, Aggregation::PerSpan, Better::Lower),
    ),
];

/// The dictionary entry of a metric id.
pub fn field_of(id: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.id == id)
}

/// One host's distributions (`<host>.perf-stats.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachPerf {
    /// The host.
    pub host: String,
    /// Slots the distributions are over.
    pub slots: usize,
    /// Per metric id of [`FIELDS`], its distribution at [`STD_CENTILES`].
    #[serde(flatten)]
    pub cdfs: BTreeMap<&'static str, Cdf>,
    /// Resource metrics the host's samples cannot have measured, and why (their
    /// distributions are absent, not zeros).
    #[serde(rename = "notMeasured", skip_serializing_if = "Vec::is_empty")]
    pub not_measured: Vec<crate::resources::NotMeasured>,
}

/// Maximal runs of consecutive slots meeting the span condition, as (first, last) slots.
pub fn cpu_spans<'a>(rows: impl IntoIterator<Item = &'a SlotStats>) -> Vec<(u64, u64)> {
    let mut spans = Vec::new();
    let mut run: Option<(u64, u64)> = None;
    for r in rows {
        let hot = r.resources.cpu_pct.get().is_none_or(|c| c >= SPAN_CPU_PCT);
        run = match (run, hot) {
            (Some((f, l)), true) if r.slot == l + 1 => Some((f, r.slot)),
            (open, true) => {
                spans.extend(open);
                Some((r.slot, r.slot))
            }
            (open, false) => {
                spans.extend(open);
                None
            }
        };
    }
    spans.extend(run);
    spans
}

impl MachPerf {
    /// The distributions of `host`'s `rows` (a timeline's rows in slot order, filtered or not).
    pub fn new<'a>(
        host: &str,
        rows: impl IntoIterator<Item = &'a SlotStats>,
        genesis: &Genesis,
    ) -> MachPerf {
        let rows: Vec<&SlotStats> = rows.into_iter().collect();
        let mut cdfs = BTreeMap::new();
        let mut put = |id: &'static str, xs: Vec<f64>, always: bool| {
            if always || !xs.is_empty() {
                cdfs.insert(id, cdf::cdf(&STD_CENTILES, &xs));
            }
        };
        let all = |f: &dyn Fn(&SlotStats) -> f64| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
        let some = |f: &dyn Fn(&SlotStats) -> Option<f64>| {
            rows.iter().filter_map(|r| f(r)).collect::<Vec<_>>()
        };
        let slot_s = genesis.slot_length as f64 / 1e9;
        put("cdfHostSlots", vec![rows.len() as f64], true);
        put("cdfStarts", all(&|r| f64::from(r.count_starts)), true);
        put("cdfLeads", all(&|r| f64::from(r.count_leads)), true);
        put("cdfStarted", some(&|r| r.started.get()), false);
        put("cdfBlkCtx", some(&|r| r.blk_ctx.get()), false);
        put("cdfLgrState", some(&|r| r.lgr_state.get()), false);
        put("cdfLgrView", some(&|r| r.lgr_view.get()), false);
        put("cdfLeading", some(&|r| r.leading.get()), false);
        put(
            "cdfBlockGap",
            some(&|r| r.block_gap.map(|g| f64::from(g) * slot_s)),
            false,
        );
        put("cdfDensity", some(&|r| r.density.get()), false);
        put("cdfUtxo", some(&|r| r.utxo_size.map(|u| u as f64)), false);
        put("CentiCpu", some(&|r| r.resources.cpu_pct.get()), false);
        put("CentiGC", some(&|r| r.resources.gc_pct.get()), false);
        put("CentiMut", some(&|r| r.resources.mut_pct.get()), false);
        put(
            "GcsMajor",
            some(&|r| r.resources.gcs_major_per_s.get()),
            false,
        );
        put(
            "GcsMinor",
            some(&|r| r.resources.gcs_minor_per_s.get()),
            false,
        );
        put("RSS", some(&|r| r.resources.rss_mib.get()), false);
        put("Heap", some(&|r| r.resources.heap_mib.get()), false);
        put("Live", some(&|r| r.resources.live_mib.get()), false);
        put("Alloc", some(&|r| r.resources.alloc_mib_s.get()), false);
        put("NetRd", some(&|r| r.resources.net_rd_kib_s.get()), false);
        put("NetWr", some(&|r| r.resources.net_wr_kib_s.get()), false);
        put("FsRd", some(&|r| r.resources.fs_rd_kib_s.get()), false);
        put("FsWr", some(&|r| r.resources.fs_wr_kib_s.get()), false);
        // Without any CPU figure (no samples, or a counter not measured) every slot would
        // count as busy: no spans then.
        let cpu_measured = rows.iter().any(|r| r.resources.cpu_pct.is_some());
        let spans = if cpu_measured {
            cpu_spans(rows.iter().copied())
        } else {
            Vec::new()
        };
        let len = |(f, l): (u64, u64)| (l - f) as f64;
        put(
            "cdfSpanLensCpu",
            spans.iter().map(|s| len(*s)).collect(),
            cpu_measured,
        );
        if let Some(el) = genesis.epoch_length.filter(|e| *e > 3 && cpu_measured) {
            // The last epoch whose slot `off` lies in the span, if any.
            let epoch_at = |(f, l): (u64, u64), off: u64| {
                (f / el..=l / el)
                    .rev()
                    .map(|e| e * el)
                    .find(|e| (f..=l).contains(&(e + off)))
            };
            let epoch: Vec<f64> = spans
                .iter()
                .filter_map(|&(f, l)| epoch_at((f, l), 3).map(|e| len((f.max(e), l))))
                .collect();
            let rwd_off = 3 + (0.4 * el as f64).floor() as u64;
            let rwd: Vec<f64> = spans
                .iter()
                .filter(|&&s| epoch_at(s, rwd_off).is_some())
                .map(|s| len(*s))
                .collect();
            put("cdfSpanLensCpuEpoch", epoch, true);
            put("cdfSpanLensCpuRwd", rwd, true);
        }
        MachPerf {
            host: host.to_owned(),
            slots: rows.len(),
            cdfs,
            not_measured: Vec::new(),
        }
    }
}

/// The cluster's distributions (`clusterperf.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterPerf {
    /// The hosts combined.
    pub hosts: Vec<String>,
    /// Slots over all hosts.
    pub slots: usize,
    /// Per metric id, the combination of the hosts that have it (see [`cdf::combine`]).
    #[serde(flatten)]
    pub cdfs: BTreeMap<&'static str, Cdf2>,
}

impl ClusterPerf {
    /// Combines hosts, metric by metric, over the hosts that have observations of it; a metric
    /// no host has, or whose hosts' distributions cannot be combined (sampled at different
    /// centiles — not the case for `MachPerf::new`'s), is left out.
    pub fn combine<'a>(hosts: impl IntoIterator<Item = &'a MachPerf>) -> ClusterPerf {
        let hosts: Vec<&MachPerf> = hosts.into_iter().collect();
        let mut ids: Vec<&'static str> =
            hosts.iter().flat_map(|h| h.cdfs.keys().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        let cdfs = ids
            .into_iter()
            .filter_map(|id| {
                let inputs: Vec<Cdf> = hosts
                    .iter()
                    .filter_map(|h| h.cdfs.get(id))
                    .filter(|c| c.size > 0)
                    .cloned()
                    .collect();
                cdf::combine(&inputs).ok().map(|c| (id, c))
            })
            .collect();
        ClusterPerf {
            hosts: hosts.iter().map(|h| h.host.clone()).collect(),
            slots: hosts.iter().map(|h| h.slots).sum(),
            cdfs,
        }
    }
}
