//! The whole analysis of one cluster's logs, and its files: the genesis (given, from the run, or
//! inferred), the filters, one streaming pass per host (in parallel), the chain, block
//! propagation, the summary; then `analysis/` written with locli's file names and a one-screen
//! text summary.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::blockprop::{self, BlockProp, BlockRow};
use crate::cdf::{Cdf, gnuplot, gnuplot2};
use crate::chain::Chain;
use crate::filter::{FilterError, Filters};
use crate::genesis::{Genesis, GenesisError, GenesisSource};
use crate::inventory::{HostLogs, HostSummary, PassContext, PassError, pass};
use crate::machperf::{self, ClusterPerf, MachPerf};
use crate::summary::{self, RunContext, Summary};

/// What to analyse and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A Shelley genesis file (else the run's, else `network`'s, else the network whose magic
    /// the logs state, else inferred from the logs).
    pub genesis: Option<PathBuf>,
    /// A public network by name (`mainnet`, `preprod`, `preview`, `sanchonet`).
    pub network: Option<String>,
    /// Keep slot-relative figures although the genesis does not fit the logs.
    pub force: bool,
    /// Chain filters by built-in name or file.
    pub filters: Vec<String>,
    /// Chain filters as JSON expressions.
    pub filter_exprs: Vec<String>,
    /// The run directory the logs come from, if any (its meta, profile, genesis and filters).
    pub run: Option<PathBuf>,
    /// Hosts read at once.
    pub threads: usize,
    /// Cores of the machines the logs come from, if known.
    pub cores: Option<usize>,
}

/// Why the analysis could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// No logs.
    #[error("no log files found")]
    NoLogs,
    /// The genesis.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The genesis does not fit the logs: slot-relative figures would be nonsense.
    #[error(
        "{genesis} does not fit these logs: {why}; slot-relative figures refused (pass the logs' own genesis with --genesis, or --force to keep them)"
    )]
    Misfit {
        /// Which genesis.
        genesis: String,
        /// What does not fit, naming the first offending block or line.
        why: String,
    },
    /// Filters need slot timing, and there is none.
    #[error(
        "chain filters need slot timing, and these logs have none (pass --genesis or --network)"
    )]
    FiltersWithoutTiming,
    /// A filter.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A host's logs could not be read or its table written.
    #[error(transparent)]
    Pass(#[from] PassError),
    /// An output could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Everything the analysis found.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Per host accounting.
    pub hosts: Vec<HostSummary>,
    /// Per host performance over the filtered slots (hosts with slots only).
    pub machperf: Vec<MachPerf>,
    /// The cluster's performance.
    pub clusterperf: ClusterPerf,
    /// The chain.
    pub chain: Chain,
    /// The chain's timing, if any could be had.
    pub genesis: Option<Genesis>,
    /// Block propagation.
    pub blockprop: BlockProp,
    /// Per main-chain block figures.
    pub blocks: Vec<BlockRow>,
    /// The run summary.
    pub summary: Summary,
    /// Wall seconds per phase (genesis, hosts, the rest).
    pub timings: Vec<(&'static str, f64)>,
}

/// The genesis: the given file, the run's `genesis/genesis.json`, the named network, the
/// network whose magic the logs state, or inferred from the leadership checks; none when the
/// logs have too few (the number they have is handed back).
fn resolve_genesis(
    hosts: &[HostLogs],
    opts: &Options,
) -> Result<Result<Genesis, usize>, GenesisError> {
    if let Some(g) = &opts.genesis {
        return Genesis::read(g).map(Ok);
    }
    if let Some(run) = &opts.run {
        let g = run.join("genesis/genesis.json");
        if g.is_file() {
            return Genesis::read(&g).map(Ok);
        }
    }
    if let Some(n) = &opts.network {
        return Genesis::network(n).map(Ok);
    }
    if let Some(g) = crate::genesis::magic_in_logs(hosts).and_then(Genesis::network_of_magic) {
        return Ok(Ok(g));
    }
    match Genesis::infer_from_logs(hosts) {
        Ok(g) => Ok(Ok(g)),
        Err(GenesisError::TooFewChecks(n)) => Ok(Err(n)),
        Err(e) => Err(e),
    }
}

/// A block's events further than this before its slot's start are taken as misplaced (closer
/// ones may be clock skew between hosts).
const EARLY_TOLERANCE_NS: u64 = 100_000_000;
/// A block with more than this share of its events before its slot's start does not fit.
const EARLY_SHARE: f64 = 0.05;
/// Leadership checks this far from their slot's start mean another chain's timing.
const CHECK_DISTANCE_NS: u64 = 3_600 * 1_000_000_000;

/// Whether `g` fits the logs: no block with more than a few percent of its events (forge,
/// headers, fetches, adoptions) well before its slot's start, no leadership check hours away
/// from its slot. A genesis inferred from the logs fits by construction.
fn check_fit(g: &Genesis, chain: &Chain, hosts: &[HostLogs]) -> Result<(), String> {
    if matches!(g.source, GenesisSource::Inferred { .. }) {
        return Ok(());
    }
    let when = |t: u64| wb_trace::time::machine_time(t);
    for b in &chain.main {
        let start = g.slot_start(b.slot);
        let times: Vec<u64> = b
            .forged_at
            .into_iter()
            .chain(
                b.observers
                    .values()
                    .flat_map(|o| [o.header, o.fetched, o.adopted])
                    .flatten(),
            )
            .collect();
        let early: Vec<u64> = times
            .iter()
            .copied()
            .filter(|t| t + EARLY_TOLERANCE_NS < start)
            .collect();
        if !times.is_empty() && early.len() as f64 > EARLY_SHARE * times.len() as f64 {
            let first = early.iter().min().copied().unwrap_or(start);
            return Err(format!(
                "block {} (slot {}) has {} of its {} events before its slot starts ({}), the first at {}, {:.0} s early",
                b.hash,
                b.slot,
                early.len(),
                times.len(),
                when(start),
                when(first),
                (start - first) as f64 / 1e9
            ));
        }
    }
    for h in hosts {
        let checks = crate::genesis::first_checks(h);
        if let Some(&(slot, at)) = checks
            .iter()
            .find(|(slot, at)| g.slot_start(*slot).abs_diff(*at) > CHECK_DISTANCE_NS)
        {
            let first_block = chain.main.first().map_or(String::new(), |b| {
                format!(
                    "; the first block, {} (slot {}), would have started at {}",
                    b.hash,
                    b.slot,
                    when(g.slot_start(b.slot))
                )
            });
            return Err(format!(
                "{}: the leadership check of slot {slot} was logged at {}, {:.1} hours from its slot's start ({}){first_block}",
                h.host,
                when(at),
                g.slot_start(slot).abs_diff(at) as f64 / 3.6e12,
                when(g.slot_start(slot))
            ));
        }
    }
    Ok(())
}

/// The filters asked for, plus the run profile's `analysis.filters` and `analysis.filter_exprs`.
fn resolve_filters(opts: &Options, ctx: &RunContext) -> Result<Filters, FilterError> {
    let mut names = opts.filters.clone();
    let mut exprs = opts.filter_exprs.clone();
    if let Some(a) = ctx.profile.as_ref().map(|p| &p["analysis"]) {
        names.extend(
            a["filters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned)),
        );
        exprs.extend(
            a["filter_exprs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.to_string()),
        );
    }
    Filters::load(&names, &exprs)
}

fn mkdir(d: &Path) -> Result<(), AnalysisError> {
    std::fs::create_dir_all(d).map_err(|source| AnalysisError::Write {
        path: d.to_owned(),
        source,
    })
}

/// Analyses `hosts`' logs; the per-slot table is written into `out` as hosts are read
/// (`slots.csv`), everything else by [`write`].
pub fn analyse(hosts: &[HostLogs], opts: &Options, out: &Path) -> Result<Analysis, AnalysisError> {
    if hosts.is_empty() {
        return Err(AnalysisError::NoLogs);
    }
    let ctx = opts
        .run
        .as_deref()
        .map(RunContext::read)
        .unwrap_or_default();
    let t0 = std::time::Instant::now();
    let (genesis, checks_found) = match resolve_genesis(hosts, opts)? {
        Ok(g) => (Some(g), None),
        Err(n) => (None, Some(n)),
    };
    let t_genesis = t0.elapsed().as_secs_f64();
    let filters = resolve_filters(opts, &ctx)?;
    match &genesis {
        Some(g) => filters.check(g)?,
        None if !filters.0.is_empty() => return Err(AnalysisError::FiltersWithoutTiming),
        None => {}
    }
    // A run's machine is in its manifest.
    let cores = opts.cores.or_else(|| {
        let cpus = ctx.meta.as_ref()?.get("manifest")?.get("cpus")?.as_u64()?;
        usize::try_from(cpus).ok()
    });
    let slots_csv = out.join("slots.csv");
    mkdir(out)?;
    // Without slot timing there are no slots: no table (not even an earlier run's).
    if genesis.is_none() {
        let _ = std::fs::remove_file(&slots_csv);
    }
    let (results, chain) = pass(
        hosts,
        opts.threads.max(1),
        PassContext {
            genesis: genesis.as_ref(),
            filters: &filters,
            slots_csv: genesis.is_some().then_some(slots_csv.as_path()),
            cores,
        },
    )?;
    let t_hosts = t0.elapsed().as_secs_f64() - t_genesis;
    let mut summaries = Vec::new();
    let mut machperf = Vec::new();
    for r in results {
        summaries.push(r.summary);
        machperf.extend(r.machperf);
    }
    // The cluster: hosts that run a chain (a generator or a tracer adopts nothing); their
    // machines make the cluster's performance (the others' are still written per host).
    let cluster: Vec<String> = summaries
        .iter()
        .filter(|s| s.adopted > 0 || s.forged > 0 || s.leadership_checks > 0)
        .map(|s| s.host.clone())
        .collect();
    let nodes = machperf.iter().filter(|m| cluster.contains(&m.host));
    let clusterperf = ClusterPerf::combine(nodes);
    let mut warnings = Vec::new();
    if let Some(g) = &genesis {
        if let Err(why) = check_fit(g, &chain, hosts) {
            if !opts.force {
                // Nothing of a refused analysis is left behind.
                let _ = std::fs::remove_file(&slots_csv);
                return Err(AnalysisError::Misfit {
                    genesis: g.describe(),
                    why,
                });
            }
            warnings.push(format!(
                "{} does not fit these logs ({why}); slot-relative figures kept because of --force",
                g.describe()
            ));
        }
    }
    for s in summaries.iter().filter(|s| s.counts.dropped_by_node > 0) {
        warnings.push(format!(
            "{}: the node dropped {} trace messages it could not write out in time (\"TraceObject queue overflowed\"); these logs lack them",
            s.host, s.counts.dropped_by_node
        ));
    }
    let (bp, blocks) = blockprop::compute(&chain, &cluster, genesis.as_ref(), &filters);
    let names = filters.0.iter().map(|f| f.name.clone()).collect();
    let mut summary = summary::compute(&summaries, &bp, genesis.as_ref(), names, &ctx);
    summary.missing = summary::missing(&summaries, &bp, checks_found);
    summary.warnings = warnings;
    Ok(Analysis {
        hosts: summaries,
        machperf,
        clusterperf,
        chain,
        genesis,
        blockprop: bp,
        blocks,
        summary,
        timings: vec![
            ("genesis", t_genesis),
            ("hosts", t_hosts),
            (
                "chain and statistics",
                t0.elapsed().as_secs_f64() - t_genesis - t_hosts,
            ),
        ],
    })
}

/// One dictionary for every metric the outputs carry.
#[derive(Serialize)]
struct Dictionary {
    #[serde(rename = "dBlockProp")]
    block_prop: &'static [crate::field::Field],
    #[serde(rename = "dClusterPerf")]
    cluster_perf: &'static [crate::field::Field],
    #[serde(rename = "dSummary")]
    summary: &'static [crate::field::Field],
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AnalysisError> {
    std::fs::write(path, bytes).map_err(|source| AnalysisError::Write {
        path: path.to_owned(),
        source,
    })
}

/// How a JSON output is laid out.
#[derive(Clone, Copy)]
pub(crate) enum Layout {
    /// Indented, for people.
    Pretty,
    /// One line: the chain (large, and read by programs; the per-block table is for people).
    Compact,
}

/// Writes JSON straight to the file (no tree or string of the whole document: the chain of a
/// long run is large).
pub(crate) fn write_json_file(
    path: &Path,
    v: &(impl Serialize + ?Sized),
    layout: Layout,
) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    match layout {
        Layout::Pretty => serde_json::to_writer_pretty(&mut w, v),
        Layout::Compact => serde_json::to_writer(&mut w, v),
    }
    .map_err(std::io::Error::other)?;
    std::io::Write::write_all(&mut w, b"\n")?;
    std::io::Write::flush(&mut w)
}

/// [`write_json_file`], failures naming the file.
fn write_json(
    path: &Path,
    v: &(impl Serialize + ?Sized),
    layout: Layout,
) -> Result<(), AnalysisError> {
    write_json_file(path, v, layout).map_err(|source| AnalysisError::Write {
        path: path.to_owned(),
        source,
    })
}

/// `logs.json`.
#[derive(Serialize)]
struct Hosts<'a> {
    hosts: &'a [HostSummary],
}

/// Writes the analysis into `out`: `logs.json`, `chain.json`, `blockprop.json`, `blocks.csv`,
/// `clusterperf.json`, `machperf/<host>.json`, `summary.json`, `dictionary.json` and
/// `cdf/<id>.cdf` (`slots.csv` is already there); returns the files and directories written.
pub fn write(a: &Analysis, out: &Path) -> Result<Vec<PathBuf>, AnalysisError> {
    mkdir(out)?;
    mkdir(&out.join("cdf"))?;
    // The two biggest outputs (the chain, every machine) on a second thread.
    let (chain, machines) = std::thread::scope(|scope| {
        let chain = scope.spawn(|| write_json(&out.join("chain.json"), &a.chain, Layout::Compact));
        let machines = scope.spawn(|| {
            mkdir(&out.join("machperf"))?;
            a.machperf.iter().try_for_each(|m| {
                write_json(
                    &out.join("machperf").join(format!("{}.json", m.host)),
                    m,
                    Layout::Pretty,
                )
            })
        });
        let rest = write_rest(a, out);
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<(), AnalysisError>>| {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        };
        (rest.and(join(chain)), join(machines))
    });
    chain?;
    machines?;
    let mut written: Vec<PathBuf> = [
        "logs.json",
        "chain.json",
        "blockprop.json",
        "clusterperf.json",
        "summary.json",
        "dictionary.json",
        "blocks.csv",
        "slots.csv",
    ]
    .iter()
    .map(|n| out.join(n))
    .filter(|p| p.exists())
    .collect();
    written.push(out.join("machperf"));
    written.push(out.join("cdf"));
    Ok(written)
}

/// Every output but the chain and the machines.
fn write_rest(a: &Analysis, out: &Path) -> Result<(), AnalysisError> {
    let dictionary = Dictionary {
        block_prop: blockprop::FIELDS,
        cluster_perf: machperf::FIELDS,
        summary: summary::FIELDS,
    };
    write_json(
        &out.join("logs.json"),
        &Hosts { hosts: &a.hosts },
        Layout::Pretty,
    )?;
    write_json(&out.join("blockprop.json"), &a.blockprop, Layout::Pretty)?;
    write_json(
        &out.join("clusterperf.json"),
        &a.clusterperf,
        Layout::Pretty,
    )?;
    write_json(&out.join("summary.json"), &a.summary, Layout::Pretty)?;
    write_json(&out.join("dictionary.json"), &dictionary, Layout::Pretty)?;
    let mut csv = Vec::new();
    blockprop::write_csv(&mut csv, &a.blocks).map_err(|source| AnalysisError::Write {
        path: out.join("blocks.csv"),
        source,
    })?;
    write_file(&out.join("blocks.csv"), &csv)?;
    for (id, c) in &a.blockprop.cdfs {
        let p = out.join("cdf").join(format!("{id}.cdf"));
        write_file(&p, gnuplot(c).as_bytes())?;
    }
    for (id, c) in &a.clusterperf.cdfs {
        let p = out.join("cdf").join(format!("{id}.cdf"));
        write_file(&p, gnuplot2(c).as_bytes())?;
    }
    Ok(())
}

fn sample(c: &Cdf, centile: f64) -> Option<f64> {
    (c.size > 0)
        .then(|| c.samples.iter().find(|s| s.0 == centile).map(|s| s.1))
        .flatten()
}

/// A one-screen text summary.
pub fn render(a: &Analysis) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<16} {:>9} {:>9} {:>6} {:>5} {:>11} {:>6} {:>7} {:>7} {:>7}",
        "host", "lines", "events", "bad", "dup", "slots", "forged", "adopted", "cpu%", "rss MiB"
    );
    for s in &a.hosts {
        let slots = match (s.first_slot, s.last_slot) {
            (Some(x), Some(y)) => format!("{x}–{y}"),
            _ => "-".into(),
        };
        let _ = writeln!(
            o,
            "{:<16} {:>9} {:>9} {:>6} {:>5} {:>11} {:>6} {:>7} {:>7} {:>7}",
            s.host,
            s.counts.lines,
            s.counts.events,
            s.counts.bad,
            s.counts.duplicates,
            slots,
            s.forged,
            s.adopted,
            s.cpu_pct_mean.map_or("-".into(), |c| format!("{c:.1}")),
            s.rss_mib_max.map_or("-".into(), |r| format!("{r:.0}")),
        );
        for sample in &s.counts.bad_samples {
            let _ = writeln!(o, "    bad line: {sample}");
        }
        for n in &s.not_measured {
            let _ = writeln!(o, "    {} not measured: {}", n.metric, n.reason);
        }
    }
    let _ = match a.genesis.as_ref().map(|g| (g, &g.source)) {
        Some((g, GenesisSource::Inferred { checks })) => writeln!(
            o,
            "genesis: none given — slot length {} s and system start {} inferred from {checks} leadership checks",
            g.slot_length as f64 / 1e9,
            wb_trace::time::machine_time(g.system_start)
        ),
        Some((g, _)) => writeln!(
            o,
            "genesis: {} (slot {} s)",
            g.describe(),
            g.slot_length as f64 / 1e9
        ),
        None => writeln!(
            o,
            "genesis: none — no genesis file, no --network, no network magic in the logs and too few leadership checks: figures relative to slot starts are missing (below)"
        ),
    };
    let bp = &a.blockprop;
    let _ = writeln!(
        o,
        "chain: {} blocks on the main chain ({} forged by hosts in these logs, {} known only from observers: forger not in these logs), {} lost in forks{}; {} accepted for statistics ({} rejected: {})",
        bp.blocks,
        bp.blocks_forged_in_logs,
        bp.blocks_observed_only,
        a.chain.forks.len(),
        match a.chain.unchained.len() {
            0 => String::new(),
            n => format!(
                ", {n} on chains the logs do not show ({} of them forged in these logs)",
                a.chain
                    .unchained
                    .iter()
                    .filter(|f| f.forger.is_some())
                    .count()
            ),
        },
        bp.accepted,
        bp.blocks - bp.accepted,
        bp.rejections
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let fmt = |id: &str, c: f64| {
        bp.cdfs
            .get(id)
            .and_then(|x| sample(x, c))
            .map_or("-".into(), |v| format!("{:.1} ms", v * 1e3))
    };
    let _ = writeln!(
        o,
        "propagation (since slot start, median over blocks): 50% of nodes {}, 90% {}, 96% {}, all {}; forging {}, first peer notice {}",
        fmt("cdf0.50", 0.5),
        fmt("cdf0.90", 0.5),
        fmt("cdf0.96", 0.5),
        fmt("cdf1.00", 0.5),
        fmt("cdfForgerForge", 0.5),
        fmt("cdfPeerNoticeFirst", 0.5),
    );
    let missing: u64 = ["cdf0.50", "cdf0.90", "cdf1.00"]
        .iter()
        .filter_map(|id| bp.missing.get(id))
        .sum();
    if missing > 0 {
        let _ = writeln!(
            o,
            "  {missing} centile values missing: blocks not adopted by that share of the {} nodes",
            bp.cluster_size
        );
    }
    let cp = &a.clusterperf;
    let avg = |id: &str, prec: usize| {
        cp.cdfs
            .get(id)
            .filter(|c| c.size > 0)
            .map_or("-".into(), |c| format!("{:.prec$}", c.average_weighted))
    };
    let _ = writeln!(
        o,
        "machines ({} hosts, {} slots analysed): CPU {} % of a core, RSS {} MiB, forge loop {} s after slot start, block gap {} s, {} CPU-85% spans",
        cp.hosts.len(),
        cp.slots,
        avg("CentiCpu", 1),
        avg("RSS", 0),
        avg("cdfStarted", 4),
        avg("cdfBlockGap", 2),
        cp.cdfs.get("cdfSpanLensCpu").map_or(0, |c| c.size),
    );
    if let Some(g) = &a.summary.generator {
        let _ = writeln!(
            o,
            "generator: {} txs in {:.0} s, achieved {:.2} tx/s{}",
            g.sent,
            g.elapsed,
            g.achieved_tps,
            g.requested_tps
                .map_or(String::new(), |r| format!(" of {r:.2} requested"))
        );
    }
    for m in &a.summary.missing {
        let _ = writeln!(o, "missing: {} — {}", m.metrics.join(", "), m.reason);
    }
    for w in &a.summary.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    let bad: u64 = a.hosts.iter().map(|s| s.counts.bad).sum();
    let lines: u64 = a.hosts.iter().map(|s| s.counts.lines).sum();
    let _ = writeln!(
        o,
        "{} hosts, {lines} lines, {bad} unreadable (counted and skipped); took {}",
        a.hosts.len(),
        a.timings
            .iter()
            .map(|(what, s)| format!("{what} {s:.2} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    o
}
