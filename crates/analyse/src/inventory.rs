//! Which logs belong to which host, and a first pass over them: per host, every line read and
//! accounted for (events, other trace lines, duplicates, cut lines, bad lines with samples), the
//! time and slot span, blocks forged and adopted, and resource use from its samples. Hosts are
//! read in parallel, each as one stream in bounded memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::chain::{Chain, ChainBuilder, MachView};
use crate::event::Body;
use crate::filter::{Filters, SlotFacts};
use crate::genesis::Genesis;
use crate::machperf::MachPerf;
use crate::resources::{Accumulator, NotMeasured, SampleCheck};
use crate::source::{Counts, SourceError, host_of, read_host};
use crate::summary::GeneratorFigures;
use crate::timeline::{OptF32, SlotStats, TimelineBuilder, TimelineCounters, write_csv};

/// A host and its log files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLogs {
    /// The host's name.
    pub host: String,
    /// Its files (read in name order).
    pub files: Vec<PathBuf>,
}

/// A path given as logs that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// It does not exist or cannot be looked at.
    #[error("{path}: {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A directory without any log file in it.
    #[error("{0}: no log files in this directory (*.json, *.log, stdout)")]
    NoLogsIn(PathBuf),
}

/// The log files `paths` name: files as given, a `wb run` directory's logs as `wb analyse RUN`
/// takes them ([`run_dir_logs`]: not its topology, genesis or outputs), other directories (a
/// tracer's `logs/`, a node's directory) walked for their log files (`*.json`, `*.log`,
/// `stdout`) in name order. A file reached twice (given twice, or through a link such as the
/// tracer's `node.json`, which points at the newest file) is read once: read twice, its lines
/// would count twice. Refused before anything is read: a path that does not exist, a
/// directory without logs.
pub fn log_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let unreadable = |path: &Path| {
        let path = path.to_owned();
        move |source| InputError::Unreadable { path, source }
    };
    let mut found = Vec::new();
    for p in paths {
        if std::fs::metadata(p).map_err(unreadable(p))?.is_dir() {
            let before = found.len();
            if p.join("meta.json").is_file() {
                found.extend(run_dir_logs(p).into_iter().flat_map(|h| h.files));
            } else {
                walk(p, &mut found, &mut Vec::new()).map_err(unreadable(p))?;
            }
            if found.len() == before {
                return Err(InputError::NoLogsIn(p.clone()));
            }
        } else {
            found.push(p.clone());
        }
    }
    // Keep each file's first name that is not a link (a link's name may not say the host).
    let mut seen = std::collections::HashMap::new();
    let mut files: Vec<PathBuf> = Vec::new();
    for f in found {
        let real = std::fs::canonicalize(&f).map_err(unreadable(&f))?;
        match seen.get(&real) {
            None => {
                seen.insert(real, files.len());
                files.push(f);
            }
            Some(&i) if files[i].is_symlink() && !f.is_symlink() => files[i] = f,
            Some(_) => {}
        }
    }
    Ok(files)
}

/// Appends the log files under `dir` (recursively, in name order) to `found`; `open` holds the
/// directories being walked, so a link back up is not followed forever.
fn walk(dir: &Path, found: &mut Vec<PathBuf>, open: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let real = std::fs::canonicalize(dir)?;
    if open.contains(&real) {
        return Ok(());
    }
    open.push(real);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for e in entries {
        let hidden = e
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        // `metadata` follows links: a dangling one is skipped, not an error.
        let Ok(meta) = std::fs::metadata(&e) else {
            continue;
        };
        if meta.is_dir() {
            walk(&e, found, open)?;
        } else if meta.is_file() && is_log_name(&e) {
            found.push(e);
        }
    }
    open.pop();
    Ok(())
}

/// Whether a file in a walked directory is a log by its name.
fn is_log_name(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "json" || e == "log")
        || p.file_name().is_some_and(|n| n == "stdout")
}

/// Groups files by host name ([`host_of`]), hosts in name order.
pub fn group_by_host(files: &[PathBuf]) -> Vec<HostLogs> {
    let mut by: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        by.entry(host_of(f)).or_default().push(f.clone());
    }
    by.into_iter()
        .map(|(host, files)| HostLogs { host, files })
        .collect()
}

/// Groups files by the `host` field of their first trace line (for logs whose file names do
/// not say the host); files without one are named from the file as [`group_by_host`] does.
/// Each file is one host's: lines in it logged by other hosts are counted as foreign.
pub fn group_by_host_field(files: &[PathBuf]) -> Vec<HostLogs> {
    let mut by: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        let host = first_host(f).unwrap_or_else(|| host_of(f));
        by.entry(host).or_default().push(f.clone());
    }
    by.into_iter()
        .map(|(host, files)| HostLogs { host, files })
        .collect()
}

/// The `host` field of a file's first trace line that has one (among its first 1000 lines).
fn first_host(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let f = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut reader = crate::ingest::LineReader::default();
    for line in f.split(b'\n').take(1000) {
        let line = line.ok()?;
        let host = match reader.read(&line) {
            Ok(crate::ingest::Line::Event(_, _, host)) => host.into_owned(),
            Ok(crate::ingest::Line::Other { host, .. }) => host.into_owned(),
            Err(_) => continue,
        };
        if !host.is_empty() {
            return Some(host);
        }
    }
    None
}

/// The logs of a `wb run` directory: the tracer's per-node directories when the nodes
/// forwarded, else each process's `stdout` (`node-N/`, `explorer/`, `generator/`).
pub fn run_dir_logs(run: &Path) -> Vec<HostLogs> {
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut hosts = Vec::new();
    for dir in list(&run.join("tracer/logs"))
        .into_iter()
        .filter(|p| p.is_dir())
    {
        let files: Vec<PathBuf> = list(&dir)
            .into_iter()
            // `node.json` links to the newest file, which is listed anyway.
            .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.is_symlink())
            .collect();
        if !files.is_empty() {
            let host = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            hosts.push(HostLogs { host, files });
        }
    }
    if hosts.is_empty() {
        for dir in list(run).into_iter().filter(|p| p.is_dir()) {
            let out = dir.join("stdout");
            if out.is_file() && std::fs::metadata(&out).is_ok_and(|m| m.len() > 0) {
                hosts.push(HostLogs {
                    host: host_of(&out),
                    files: vec![out],
                });
            }
        }
    }
    hosts
}

/// What one pass over a host's logs found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostSummary {
    /// The host.
    pub host: String,
    /// Files read.
    pub files: usize,
    /// Line accounting (lines, events, other, duplicates, truncated, bad with samples,
    /// foreign-host lines, lines per namespace).
    #[serde(flatten)]
    pub counts: Counts,
    /// First and last event time (RFC 3339).
    pub first_at: Option<String>,
    /// Last event time.
    pub last_at: Option<String>,
    /// First and last slot with a leadership check.
    pub first_slot: Option<u64>,
    /// Last slot with a leadership check.
    pub last_slot: Option<u64>,
    /// Leadership checks.
    pub leadership_checks: u64,
    /// Blocks forged.
    pub forged: u64,
    /// Chain extensions adopted.
    pub adopted: u64,
    /// Resource samples.
    pub resource_samples: u64,
    /// Mean CPU over the sampled intervals, percent of one core.
    pub cpu_pct_mean: Option<f64>,
    /// Largest resident set, MiB.
    pub rss_mib_max: Option<f64>,
    /// Resource metrics its samples cannot have measured (a stuck CPU counter, an RSS of 0),
    /// with the reason: left out of its figures and tables, never averaged in as 0.
    pub not_measured: Vec<NotMeasured>,
    /// The generator's summary, if this host is a generator that logged one.
    pub generator: Option<GeneratorFigures>,
    /// First event time, ns since the Unix epoch.
    #[serde(skip)]
    pub first_ns: Option<u64>,
    /// Last event time, ns since the Unix epoch.
    #[serde(skip)]
    pub last_ns: Option<u64>,
    /// Rows of its per-slot timeline (with a genesis), and how many the filters kept.
    pub slots: Option<(usize, usize)>,
    /// What its timeline skipped or patched.
    pub timeline: Option<TimelineCounters>,
}

/// What the per-host pass needs beyond the logs.
#[derive(Debug, Clone, Copy)]
pub struct PassContext<'a> {
    /// The chain's time; without it no per-slot timeline is built.
    pub genesis: Option<&'a Genesis>,
    /// The filters (their slot conditions select the slots of the machine performance).
    pub filters: &'a Filters,
    /// Where to write the hosts' per-slot tables, one after the other in host order under one
    /// header, if anywhere.
    pub slots_csv: Option<&'a Path>,
    /// The cores of the machines the logs come from, if known (CPU above 100 % × cores is not
    /// measured).
    pub cores: Option<usize>,
}

/// What one host's pass found, besides its view of the chain.
#[derive(Debug, Clone)]
pub struct HostResult {
    /// Its accounting.
    pub summary: HostSummary,
    /// Its performance over the filtered slots (none for a host without slots, e.g. a
    /// generator).
    pub machperf: Option<MachPerf>,
}

/// A host's pass failed.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// A log could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The per-slot table could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What one host's pass hands back.
#[derive(Debug)]
pub struct HostPass {
    /// Its accounting and machine performance.
    pub result: HostResult,
    /// Its view of the chain.
    pub view: MachView,
    /// Its per-slot table as CSV rows (without a header), when a table was asked for.
    pub slot_rows: Option<Vec<u8>>,
}

/// Reads one host in one streaming pass: its accounting, its view of the chain and, with a
/// genesis, its per-slot timeline — filtered, rendered as table rows and summarised as its
/// machine performance, then dropped (memory holds one host's slots, not the run's).
pub fn pass_host(h: &HostLogs, ctx: PassContext<'_>) -> Result<HostPass, PassError> {
    let mut s = HostSummary {
        host: h.host.clone(),
        files: h.files.len(),
        ..HostSummary::default()
    };
    let (mut first, mut last) = (None::<u64>, None::<u64>);
    let mut acc = Accumulator::default();
    let mut check = SampleCheck::default();
    let (mut cpu_sum, mut cpu_dt) = (0.0, 0.0);
    let mut view = MachView::new(&h.host);
    let mut timeline = ctx.genesis.map(TimelineBuilder::new);
    let counts: Counts = read_host(&h.files, &h.host, |o| {
        first = Some(first.map_or(o.at, |f| f.min(o.at)));
        last = Some(last.map_or(o.at, |l| l.max(o.at)));
        view.push(&o);
        if let Some(t) = timeline.as_mut() {
            t.push(&o);
        }
        match o.body {
            Body::StartLeadershipCheck { slot, .. } => {
                s.leadership_checks += 1;
                s.first_slot = Some(s.first_slot.map_or(slot, |f| f.min(slot)));
                s.last_slot = Some(s.last_slot.map_or(slot, |l| l.max(slot)));
            }
            Body::BlockForged { .. } => s.forged += 1,
            Body::GeneratorSummary {
                no_failures,
                sent,
                elapsed,
                ref threadwise_tps,
            } => {
                s.generator = Some(GeneratorFigures {
                    sent,
                    elapsed,
                    achieved_tps: if elapsed > 0.0 {
                        sent as f64 / elapsed
                    } else {
                        0.0
                    },
                    requested_tps: None,
                    threadwise_tps: threadwise_tps.clone(),
                    no_failures,
                });
            }
            Body::AddedToCurrentChain { size: None, .. } => s.adopted += 1,
            Body::Resources(r) => {
                s.resource_samples += 1;
                let rss = r.rss as f64 / (1024.0 * 1024.0);
                s.rss_mib_max = Some(s.rss_mib_max.map_or(rss, |m| m.max(rss)));
                let rate = acc.push(o.at, (*r).clone());
                check.push(o.at, &r, rate.as_ref());
                if let Some(rate) = rate {
                    cpu_sum += rate.cpu_pct * rate.dt;
                    cpu_dt += rate.dt;
                }
            }
            _ => {}
        }
    })?;
    s.not_measured = check.verdict(ctx.cores);
    let unmeasured = |metric| s.not_measured.iter().any(|n| n.metric == metric);
    let (no_cpu, no_rss) = (unmeasured("CentiCpu"), unmeasured("RSS"));
    s.cpu_pct_mean = (cpu_dt > 0.0 && !no_cpu).then(|| cpu_sum / cpu_dt);
    if no_rss {
        s.rss_mib_max = None;
    }
    (s.first_ns, s.last_ns) = (first, last);
    s.first_at = first.map(wb_trace::time::machine_time);
    s.last_at = last.map(wb_trace::time::machine_time);
    s.counts = counts;
    let mut result = HostResult {
        summary: s,
        machperf: None,
    };
    let mut slot_rows = None;
    if let (Some(t), Some(g)) = (timeline, ctx.genesis) {
        let mut t = t.finish();
        for r in t.rows.iter_mut().filter(|_| no_cpu || no_rss) {
            if no_cpu {
                r.resources.cpu_pct = OptF32::NONE;
            }
            if no_rss {
                r.resources.rss_mib = OptF32::NONE;
            }
        }
        let kept: Vec<&SlotStats> = t
            .rows
            .iter()
            .filter(|r| {
                ctx.filters.accepts_slot(
                    SlotFacts {
                        slot: r.slot,
                        leads: u64::from(r.count_leads),
                    },
                    g,
                )
            })
            .collect();
        result.summary.slots = Some((t.rows.len(), kept.len()));
        if !t.rows.is_empty() {
            if ctx.slots_csv.is_some() {
                let mut rows = Vec::with_capacity(t.rows.len() * 256);
                write_csv(&mut rows, &h.host, &t.rows, false)
                    .expect("writing into memory cannot fail");
                slot_rows = Some(rows);
            }
            let mut m = MachPerf::new(&h.host, kept, g);
            m.not_measured = result.summary.not_measured.clone();
            result.machperf = Some(m);
        }
        result.summary.timeline = Some(t.counters);
    }
    Ok(HostPass {
        result,
        view,
        slot_rows,
    })
}

/// The per-slot table being written: hosts' rows in host order whatever order they finish in
/// (at most one waiting table per thread, as hosts are taken in order).
struct SlotTable<'p> {
    path: &'p Path,
    file: std::fs::File,
    /// The next host to write, and finished hosts waiting for it.
    next: usize,
    waiting: BTreeMap<usize, Option<Vec<u8>>>,
}

impl<'p> SlotTable<'p> {
    fn create(path: &'p Path) -> Result<Self, PassError> {
        let mut t = SlotTable {
            path,
            file: std::fs::File::create(path).map_err(|source| PassError::Write {
                path: path.to_owned(),
                source,
            })?,
            next: 0,
            waiting: BTreeMap::new(),
        };
        let mut header = Vec::new();
        write_csv(&mut header, "", std::iter::empty(), true)
            .expect("writing into memory cannot fail");
        t.write(&header)?;
        Ok(t)
    }

    /// Host `i`'s rows (none for a host without slots or whose pass failed).
    fn put(&mut self, i: usize, rows: Option<Vec<u8>>) -> Result<(), PassError> {
        self.waiting.insert(i, rows);
        while let Some(rows) = self.waiting.remove(&self.next) {
            self.next += 1;
            if let Some(rows) = rows {
                self.write(&rows)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), PassError> {
        std::io::Write::write_all(&mut self.file, bytes).map_err(|source| PassError::Write {
            path: self.path.to_owned(),
            source,
        })
    }
}

/// Reads every host, `threads` at a time: results in host order, the chain built from every
/// host's view (each handed over as soon as its host is read), and the per-slot table written
/// as hosts finish.
pub fn pass(
    hosts: &[HostLogs],
    threads: usize,
    ctx: PassContext<'_>,
) -> Result<(Vec<HostResult>, Chain), PassError> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<HostResult, PassError>>>> =
        Mutex::new((0..hosts.len()).map(|_| None).collect());
    let chain = Mutex::new(ChainBuilder::default());
    let table = ctx
        .slots_csv
        .map(SlotTable::create)
        .transpose()?
        .map(Mutex::new);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(hosts.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(h) = hosts.get(i) else { break };
                    let (mut r, rows) = match pass_host(h, ctx) {
                        Ok(p) => {
                            chain
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .add_view(p.view);
                            (Ok(p.result), p.slot_rows)
                        }
                        Err(e) => (Err(e), None),
                    };
                    // A failed host still takes its turn, so later hosts' rows are written.
                    if let Some(t) = &table {
                        let written = t
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .put(i, rows);
                        if let (Ok(_), Err(e)) = (&r, written) {
                            r = Err(e);
                        }
                    }
                    out.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(r);
                }
            });
        }
    });
    let results = out
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect::<Result<Vec<_>, _>>()?;
    let chain = chain.into_inner().unwrap_or_else(PoisonError::into_inner);
    Ok((results, chain.finish()))
}

/// Reads every host for its accounting and the chain only (no genesis, no timelines).
pub fn summarise(
    hosts: &[HostLogs],
    threads: usize,
) -> Result<(Vec<HostSummary>, Chain), PassError> {
    let filters = Filters::default();
    let ctx = PassContext {
        genesis: None,
        filters: &filters,
        slots_csv: None,
        cores: None,
    };
    let (results, chain) = pass(hosts, threads, ctx)?;
    Ok((results.into_iter().map(|r| r.summary).collect(), chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_table_rows_go_in_host_order_whatever_order_hosts_finish_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slots.csv");
        let mut t = SlotTable::create(&path).unwrap();
        t.put(2, Some(b"c\n".to_vec())).unwrap();
        t.put(1, None).unwrap(); // a host without slots, or whose pass failed
        t.put(3, Some(b"d\n".to_vec())).unwrap();
        t.put(0, Some(b"a\n".to_vec())).unwrap();
        drop(t);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("host,slot,"), "{}", lines[0]);
        assert_eq!(lines[1..], ["a", "c", "d"]);
    }

    #[test]
    fn directories_give_their_logs_once_each_and_bad_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let put = |rel: &str| {
            let p = logs.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "{}\n").unwrap();
            p
        };
        let a1 = put("node-0/node-2026-01-01T00-00-00.json");
        let a2 = put("node-0/node-2026-01-01T01-00-00.json");
        let b = put("node-1/node-2026-01-01T00-00-00.json");
        let out = put("explorer/stdout");
        put("node-0/notes.txt");
        put("node-0/.hidden.json");
        // The tracer's link to each node's newest file, and a dangling one.
        std::os::unix::fs::symlink(&a2, logs.join("node-0/node.json")).unwrap();
        std::os::unix::fs::symlink(logs.join("gone.json"), logs.join("node-1/node.json")).unwrap();

        let files = log_files(std::slice::from_ref(&logs)).unwrap();
        assert_eq!(files, [out.clone(), a1.clone(), a2.clone(), b.clone()]);
        let hosts: Vec<String> = group_by_host(&files).into_iter().map(|h| h.host).collect();
        assert_eq!(hosts, ["explorer", "node-0", "node-1"]);

        // Given twice, or first through the link: still once, under its own name.
        let twice = [
            logs.join("node-0/node.json"),
            a2.clone(),
            logs.join("node-0"),
        ];
        assert_eq!(log_files(&twice).unwrap(), [a2.clone(), a1.clone()]);

        // A run directory: its logs, not its topologies, genesis or earlier outputs.
        let run = dir.path().join("run");
        for (rel, text) in [
            ("meta.json", "{}"),
            ("genesis/genesis.json", "{}"),
            ("node-0/topology.json", "{}"),
            ("node-0/stdout", "{}\n"),
            ("node-1/stdout", "{}\n"),
            ("analysis/blockprop.json", "{}"),
        ] {
            std::fs::create_dir_all(run.join(rel).parent().unwrap()).unwrap();
            std::fs::write(run.join(rel), text).unwrap();
        }
        assert_eq!(
            log_files(std::slice::from_ref(&run)).unwrap(),
            [run.join("node-0/stdout"), run.join("node-1/stdout")]
        );

        let missing = logs.join("node-9.json");
        let e = log_files(&[b.clone(), missing.clone()])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = log_files(std::slice::from_ref(&empty))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{}: no log files", empty.display())),
            "{e}"
        );
    }
}
