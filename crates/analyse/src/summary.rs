//! The run summary (locli's Summary): what was analysed and how much of it — hosts, log
//! objects, time/slot/block domains raw and filtered, filters and what they rejected — with the
//! run's identity and workload when the logs come from a `wb run`, and the generator's requested
//! against achieved throughput. Keys are locli's field ids where locli has one.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::blockprop::BlockProp;
use crate::cdf::{BRIEF_CENTILES, Cdf, cdf};
use crate::field::{Aggregation, Better, Field, Scale, Unit};
use crate::genesis::{Genesis, seconds_between};
use crate::inventory::HostSummary;

/// The generator's own account of its work (`BenchTxSubSummary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneratorFigures {
    /// Transactions sent.
    pub sent: u64,
    /// Seconds it ran.
    pub elapsed: f64,
    /// `sent / elapsed`.
    #[serde(rename = "achievedTps")]
    pub achieved_tps: f64,
    /// What the profile asked for, if known.
    #[serde(rename = "requestedTps")]
    pub requested_tps: Option<f64>,
    /// Per submission thread.
    #[serde(rename = "threadwiseTps")]
    pub threadwise_tps: Vec<f64>,
    /// Whether it reported no failures.
    pub no_failures: bool,
}

/// A raw and a filtered extent, with counts (locli's `DataDomain`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DataDomain {
    /// `[first, last]` of everything.
    #[serde(rename = "ddRaw")]
    pub raw: Option<(f64, f64)>,
    /// `[first, last]` after filtering.
    #[serde(rename = "ddFiltered")]
    pub filtered: Option<(f64, f64)>,
    /// Extent of everything.
    #[serde(rename = "ddRawCount")]
    pub raw_count: f64,
    /// Extent after filtering.
    #[serde(rename = "ddFilteredCount")]
    pub filtered_count: f64,
    /// `filtered / raw`.
    #[serde(rename = "dataDomainFilterRatio")]
    pub filter_ratio: f64,
}

impl DataDomain {
    fn new(raw: Option<(f64, f64)>, filtered: Option<(f64, f64)>, inclusive: bool) -> DataDomain {
        let len = |d: Option<(f64, f64)>| {
            d.map_or(0.0, |(a, b)| b - a + if inclusive { 1.0 } else { 0.0 })
        };
        let (rc, fc) = (len(raw), len(filtered));
        DataDomain {
            raw,
            filtered,
            raw_count: rc,
            filtered_count: fc,
            filter_ratio: if rc > 0.0 { fc / rc } else { 0.0 },
        }
    }
}

/// The run summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// When the analysis ran (RFC 3339).
    #[serde(rename = "sumAnalysisTime")]
    pub analysis_time: String,
    /// The wb version that analysed.
    pub wb_version: String,
    /// The run's identity (tag, profile, era, manifest) from its `meta.json`, if any.
    pub meta: Option<Value>,
    /// The genesis the timing came from (file, network or inferred, and from how many checks);
    /// none when the logs allowed none.
    pub genesis: Option<Genesis>,
    /// The profile's genesis spec (delegators, utxo, dreps), if known.
    #[serde(rename = "sumGenesisSpec")]
    pub genesis_spec: Option<Value>,
    /// The profile's workload (`add_tx_size`, `inputs_per_tx`, `outputs_per_tx`, `tps`, …).
    #[serde(rename = "sumWorkload")]
    pub workload: Option<Value>,
    /// The generator's figures, if its log was analysed.
    pub generator: Option<GeneratorFigures>,
    /// Hosts analysed.
    #[serde(rename = "sumHosts")]
    pub hosts: usize,
    /// Lines read over all hosts.
    #[serde(rename = "sumLogObjectsTotal")]
    pub log_objects_total: u64,
    /// Lines unreadable (counted and skipped).
    pub bad_lines_total: u64,
    /// Filters in force, by name.
    #[serde(rename = "sumFilters")]
    pub filters: Vec<String>,
    /// Lines per host.
    #[serde(rename = "cdfLogObjectsEmitted")]
    pub log_objects_emitted: Cdf,
    /// Events the analysis read, per host.
    #[serde(rename = "cdfLogObjects")]
    pub log_objects: Cdf,
    /// Seconds each host logged for.
    #[serde(rename = "cdfRuntime")]
    pub runtime: Cdf,
    /// Lines per second, per host.
    #[serde(rename = "cdfLogLineRate")]
    pub log_line_rate: Cdf,
    /// Run time in seconds since the system start: first to last line, raw; first to last
    /// accepted block's slot start, filtered.
    #[serde(rename = "sumDomainTime")]
    pub domain_time: DataDomain,
    /// Spread of the hosts' first lines, seconds.
    #[serde(rename = "sumStartSpread")]
    pub start_spread: f64,
    /// Spread of the hosts' last lines, seconds.
    #[serde(rename = "sumStopSpread")]
    pub stop_spread: f64,
    /// Slots of the main chain, raw and accepted.
    #[serde(rename = "sumDomainSlots")]
    pub domain_slots: DataDomain,
    /// Blocks of the main chain, raw and accepted.
    #[serde(rename = "sumDomainBlocks")]
    pub domain_blocks: DataDomain,
    /// Main-chain blocks the statistics leave out.
    #[serde(rename = "sumBlocksRejected")]
    pub blocks_rejected: usize,
    /// Rejected blocks per filter (and `tip`).
    #[serde(rename = "sumChainRejectionStats")]
    pub rejection_stats: BTreeMap<String, u64>,
    /// Main-chain blocks whose forger is in the logs.
    pub blocks_forged_in_logs: usize,
    /// Main-chain blocks known only from their observers.
    pub blocks_observed_only: usize,
    /// Metrics the logs could not give, and why (see [`missing`]).
    pub missing: Vec<Missing>,
    /// What the analysis was told to keep although it looks wrong (`--force`).
    pub warnings: Vec<String>,
}

/// Metrics the analysis could not give, for which hosts, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missing {
    /// The metrics (locli's ids, or a table's file name).
    pub metrics: Vec<String>,
    /// The hosts concerned; empty: all of them.
    pub hosts: Vec<String>,
    /// Why.
    pub reason: String,
}

/// What is missing from an analysis and why: everything relative to slot starts without slot
/// timing (`checks`: the leadership checks found, when too few), the forger's phases of blocks
/// whose forger is not in the logs, and the resource metrics a host's samples cannot have
/// measured.
pub fn missing(hosts: &[HostSummary], bp: &BlockProp, checks: Option<usize>) -> Vec<Missing> {
    let mut out = Vec::new();
    if let Some(n) = checks {
        let mut metrics: Vec<String> = [
            "cdfForgerStart",
            "cdfForgerAnnounceCum",
            "cdfPeerNoticeFirst",
            "cdfPeerFetchFirst",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        metrics.extend(
            crate::cdf::ADOPTION_CENTILES
                .iter()
                .map(|c| format!("cdf{c:.2}")),
        );
        metrics
            .extend(["slots.csv", "machperf", "clusterperf", "sumDomainSlots"].map(String::from));
        out.push(Missing {
            metrics,
            hosts: Vec::new(),
            reason: format!(
                "no slot timing: no genesis file, no --network, no network magic in the logs, and {n} leadership checks (too few to infer slot length and system start)"
            ),
        });
    }
    if bp.blocks_observed_only > 0 {
        out.push(Missing {
            metrics: crate::blockprop::FIELDS[..12].iter().map(|f| f.id.to_owned()).collect(),
            hosts: Vec::new(),
            reason: format!(
                "{} of {} main-chain blocks were forged by nodes whose logs are not here: their forger phases are not known",
                bp.blocks_observed_only, bp.blocks
            ),
        });
    }
    for h in hosts {
        for n in &h.not_measured {
            out.push(Missing {
                metrics: vec![n.metric.to_owned()],
                hosts: vec![h.host.clone()],
                reason: format!("not measured: {}", n.reason),
            });
        }
    }
    out
}

/// The run's inputs beyond the logs.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// `meta.json`'s `meta` object.
    pub meta: Option<Value>,
    /// `profile.json`.
    pub profile: Option<Value>,
}

impl RunContext {
    /// Reads `meta.json` and `profile.json` of a run directory (either may be absent).
    pub fn read(run: &std::path::Path) -> RunContext {
        let json = |name: &str| -> Option<Value> {
            serde_json::from_str(&std::fs::read_to_string(run.join(name)).ok()?).ok()
        };
        let meta = json("meta.json").map(|m| m.get("meta").cloned().unwrap_or(m));
        RunContext {
            // The profile is kept apart; the run's identity is what the summary shows.
            meta: meta.map(|mut m| {
                if let Some(o) = m.as_object_mut() {
                    o.remove("profile_content");
                }
                m
            }),
            profile: json("profile.json"),
        }
    }
}

/// Computes the summary.
pub fn compute(
    hosts: &[HostSummary],
    blockprop: &BlockProp,
    genesis: Option<&Genesis>,
    filters: Vec<String>,
    ctx: &RunContext,
) -> Summary {
    // Times since the system start; without one, since the first line.
    let origin = genesis
        .map(|g| g.system_start)
        .or_else(|| hosts.iter().filter_map(|h| h.first_ns).min())
        .unwrap_or(0);
    let secs = |t: u64| seconds_between(origin, t);
    let firsts: Vec<f64> = hosts.iter().filter_map(|h| h.first_ns).map(secs).collect();
    let lasts: Vec<f64> = hosts.iter().filter_map(|h| h.last_ns).map(secs).collect();
    let min = |v: &[f64]| v.iter().copied().reduce(f64::min);
    let max = |v: &[f64]| v.iter().copied().reduce(f64::max);
    let spread = |v: &[f64]| max(v).zip(min(v)).map_or(0.0, |(a, b)| a - b);
    let runtimes: Vec<f64> = hosts
        .iter()
        .filter_map(|h| Some((h.last_ns? - h.first_ns?) as f64 / 1e9))
        .collect();
    let rates: Vec<f64> = hosts
        .iter()
        .filter_map(|h| {
            let rt = (h.last_ns? - h.first_ns?) as f64 / 1e9;
            (rt >= 1.0).then(|| h.counts.lines as f64 / rt.floor())
        })
        .collect();
    let slot_time = |s: u64| genesis.map(|g| secs(g.slot_start(s)));
    let to_f = |d: Option<(u64, u64)>| d.map(|(a, b)| (a as f64, b as f64));
    let profile = ctx.profile.as_ref();
    let generator = hosts
        .iter()
        .find_map(|h| h.generator.clone())
        .map(|g| GeneratorFigures {
            requested_tps: profile.and_then(|p| p["generator"]["tps"].as_f64()),
            ..g
        });
    Summary {
        analysis_time: wb_trace::time::machine_time(wb_trace::time::now_unix_nanos()),
        wb_version: env!("CARGO_PKG_VERSION").to_owned(),
        meta: ctx.meta.clone(),
        genesis: genesis.cloned(),
        genesis_spec: profile.map(|p| p["genesis"].clone()),
        workload: profile.map(|p| p["generator"].clone()),
        generator,
        hosts: hosts.len(),
        log_objects_total: hosts.iter().map(|h| h.counts.lines).sum(),
        bad_lines_total: hosts.iter().map(|h| h.counts.bad).sum(),
        filters,
        log_objects_emitted: cdf(
            &BRIEF_CENTILES,
            &hosts
                .iter()
                .map(|h| h.counts.lines as f64)
                .collect::<Vec<_>>(),
        ),
        log_objects: cdf(
            &BRIEF_CENTILES,
            &hosts
                .iter()
                .map(|h| h.counts.events as f64)
                .collect::<Vec<_>>(),
        ),
        runtime: cdf(&BRIEF_CENTILES, &runtimes),
        log_line_rate: cdf(&BRIEF_CENTILES, &rates),
        domain_time: DataDomain::new(
            min(&firsts).zip(max(&lasts)),
            blockprop
                .domain_slots
                .filtered
                .and_then(|(a, b)| slot_time(a).zip(slot_time(b))),
            false,
        ),
        start_spread: spread(&firsts),
        stop_spread: spread(&lasts),
        domain_slots: DataDomain::new(
            to_f(blockprop.domain_slots.raw),
            to_f(blockprop.domain_slots.filtered),
            true,
        ),
        domain_blocks: DataDomain::new(
            to_f(blockprop.domain_blocks.raw),
            to_f(blockprop.domain_blocks.filtered),
            true,
        ),
        blocks_rejected: blockprop.blocks - blockprop.accepted,
        rejection_stats: blockprop.rejections.clone(),
        blocks_forged_in_logs: blockprop.blocks_forged_in_logs,
        blocks_observed_only: blockprop.blocks_observed_only,
        missing: Vec::new(),
        warnings: Vec::new(),
    }
}

/// A summary figure; `meaning` is where its values come from (none: every line), how they
/// combine and which way is better.
const fn scalar(
    id: &'static str,
    short: &'static str,
    description: &'static str,
    unit: Unit,
    meaning: (&'static [&'static str], Aggregation, Better),
) -> Field {
    let (from, aggregation, better) = meaning;
    Field {
        id,
        group: "Summary",
        short,
        description,
        unit,
        precision: 0,
        scale: Scale::Lin,
        range: "",
        from,
        aggregation,
        better,
    }
}

const CHAIN: &[&str] = &[
    "Forge.Loop.ForgedBlock",
    "ChainDB.AddBlockEvent.AddedToCurrentChain",
];
const OBSERVED: &[&str] = &[
    "ChainSync.Client.DownloadedHeader",
    "BlockFetch.Client.CompletedBlockFetch",
    "ChainDB.AddBlockEvent.AddedToCurrentChain",
    "ChainDB.AddBlockEvent.SwitchedToAFork",
];
const GENERATOR: &[&str] = &["Benchmark.BenchTxSubSummary"];

/// The summary's metrics.
pub const FIELDS: &[Field] = &[
    scalar(
        "sumHosts",
        "Machines",
        "Hosts whose logs were analysed",
        Unit::Count,
        (&[], Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "sumLogObjectsTotal",
        "Total log objects analysed",
        "Lines read over all hosts",
        Unit::Count,
        (&[], Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "sumFilters",
        "Number of filters applied",
        "Chain filters in force",
        Unit::Count,
        (&[], Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "cdfLogObjectsEmitted",
        "Log objects emitted per host",
        "Lines per host",
        Unit::Count,
        (&[], Aggregation::PerHost, Better::Neither),
    ),
    scalar(
        "cdfLogObjects",
        "Log objects analysed per host",
        "Lines the analysis interprets, per host",
        Unit::Count,
        (&[], Aggregation::PerHost, Better::Neither),
    ),
    scalar(
        "cdfRuntime",
        "Host run time",
        "Seconds from a host's first to its last line",
        Unit::Sec,
        (&[], Aggregation::PerHost, Better::Neither),
    ),
    scalar(
        "cdfLogLineRate",
        "Host log line rate",
        "Lines per second of a host's run time",
        Unit::Hz,
        (&[], Aggregation::PerHost, Better::Neither),
    ),
    scalar(
        "sumDomainTime",
        "Run time",
        "Seconds from the first to the last line (raw), and between the first and last accepted block's slot (filtered)",
        Unit::Sec,
        (&[], Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "sumStartSpread",
        "Node start spread",
        "Seconds between the first and the last host's first line",
        Unit::Sec,
        (&[], Aggregation::PerRun, Better::Lower),
    ),
    scalar(
        "sumStopSpread",
        "Node stop spread",
        "Seconds between the first and the last host's last line",
        Unit::Sec,
        (&[], Aggregation::PerRun, Better::Lower),
    ),
    scalar(
        "sumDomainSlots",
        "Slots analysed",
        "Slots from the first to the last main-chain block (raw), and of the accepted blocks (filtered)",
        Unit::Slots,
        (CHAIN, Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "sumDomainBlocks",
        "Blocks analysed",
        "Main-chain blocks (raw), and accepted blocks (filtered)",
        Unit::Blocks,
        (CHAIN, Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "sumBlocksRejected",
        "Blocks rejected",
        "Main-chain blocks the filters (or the tip rule) leave out",
        Unit::Blocks,
        (CHAIN, Aggregation::PerRun, Better::Lower),
    ),
    scalar(
        "sumChainRejectionStats",
        "Blocks rejected, by reason",
        "Main-chain blocks left out, per filter that rejected them (and the tip rule)",
        Unit::Blocks,
        (CHAIN, Aggregation::PerRun, Better::Lower),
    ),
    scalar(
        "blocks_forged_in_logs",
        "Blocks forged in these logs",
        "Main-chain blocks whose forger's log is in the log set",
        Unit::Blocks,
        (CHAIN, Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "blocks_observed_only",
        "Blocks known only from observers",
        "Main-chain blocks nobody in the log set forged, placed from their observers' lines (forger: not in these logs)",
        Unit::Blocks,
        (OBSERVED, Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "bad_lines_total",
        "Unreadable lines",
        "Lines over all hosts that are not trace lines or lack a field the analysis uses (counted and skipped)",
        Unit::Count,
        (&[], Aggregation::PerRun, Better::Lower),
    ),
    scalar(
        "achievedTps",
        "Achieved load",
        "Transactions the generator sent per second of its run",
        Unit::Hz,
        (GENERATOR, Aggregation::PerRun, Better::Higher),
    ),
    scalar(
        "sent",
        "Transactions sent",
        "Transactions the generator reports it sent (BenchTxSubSummary ssTxSent)",
        Unit::Count,
        (GENERATOR, Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "elapsed",
        "Generator run time",
        "Seconds the generator reports it ran (ssElapsed)",
        Unit::Sec,
        (GENERATOR, Aggregation::PerRun, Better::Neither),
    ),
    scalar(
        "threadwiseTps",
        "Load per submission thread",
        "Transactions per second of each of the generator's submission threads (ssThreadwiseTps)",
        Unit::Hz,
        (GENERATOR, Aggregation::PerRun, Better::Higher),
    ),
    scalar(
        "no_failures",
        "Generator without failures",
        "Whether the generator reported no submission failures (ssFailures empty)",
        Unit::Flag,
        (GENERATOR, Aggregation::PerRun, Better::Higher),
    ),
    scalar(
        "requestedTps",
        "Offered load",
        "Transactions per second the profile asked for",
        Unit::Hz,
        (GENERATOR, Aggregation::PerRun, Better::Neither),
    ),
];
