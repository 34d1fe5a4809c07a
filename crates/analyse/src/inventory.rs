//! Which logs belong to which host, and a first pass over them: per host, every line read and
//! accounted for (events, other trace lines, duplicates, cut lines, bad lines with samples), the
//! time and slot span, blocks forged and adopted, and resource use from its samples. Hosts are
//! read in parallel, each as one stream in bounded memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::chain::{Chain, ChainBuilder};
use crate::event::{Body, LogObject};
use crate::resources::Accumulator;
use crate::source::{Counts, SourceError, host_of, read_host};

/// A host and its log files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLogs {
    /// The host's name.
    pub host: String,
    /// Its files (read in name order).
    pub files: Vec<PathBuf>,
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
    /// Line accounting.
    pub lines: u64,
    /// Events read.
    pub events: u64,
    /// Trace lines not read by the analysis.
    pub other: u64,
    /// Exact duplicates dropped.
    pub duplicates: u64,
    /// Cut last lines.
    pub truncated: u64,
    /// Unreadable lines.
    pub bad: u64,
    /// The first unreadable lines, with file and line.
    pub bad_samples: Vec<String>,
    /// Lines logged by another host.
    pub foreign_host_lines: u64,
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
    /// Lines per namespace.
    pub namespaces: BTreeMap<String, u64>,
}

/// Reads one host: its summary, and its block events for the chain.
pub fn summarise_host(h: &HostLogs) -> Result<(HostSummary, Vec<LogObject>), SourceError> {
    let mut s = HostSummary {
        host: h.host.clone(),
        files: h.files.len(),
        ..HostSummary::default()
    };
    let (mut first, mut last) = (None::<u64>, None::<u64>);
    let mut acc = Accumulator::default();
    let (mut cpu_sum, mut cpu_dt) = (0.0, 0.0);
    let mut block_events = Vec::new();
    let counts: Counts = read_host(&h.files, &h.host, |o| {
        first = Some(first.map_or(o.at, |f| f.min(o.at)));
        last = Some(last.map_or(o.at, |l| l.max(o.at)));
        if matches!(
            o.body,
            Body::BlockForged { .. }
                | Body::SeenHeader { .. }
                | Body::FetchCompleted { .. }
                | Body::AddedToCurrentChain { .. }
                | Body::SwitchedToAFork { .. }
        ) {
            block_events.push(o.clone());
        }
        match o.body {
            Body::StartLeadershipCheck { slot, .. } => {
                s.leadership_checks += 1;
                s.first_slot = Some(s.first_slot.map_or(slot, |f| f.min(slot)));
                s.last_slot = Some(s.last_slot.map_or(slot, |l| l.max(slot)));
            }
            Body::BlockForged { .. } => s.forged += 1,
            Body::AddedToCurrentChain { size: None, .. } => s.adopted += 1,
            Body::Resources(r) => {
                s.resource_samples += 1;
                let rss = r.rss as f64 / (1024.0 * 1024.0);
                s.rss_mib_max = Some(s.rss_mib_max.map_or(rss, |m| m.max(rss)));
                if let Some(rate) = acc.push(o.at, *r) {
                    cpu_sum += rate.cpu_pct * rate.dt;
                    cpu_dt += rate.dt;
                }
            }
            _ => {}
        }
    })?;
    s.cpu_pct_mean = (cpu_dt > 0.0).then(|| cpu_sum / cpu_dt);
    s.first_at = first.map(wb_trace::time::machine_time);
    s.last_at = last.map(wb_trace::time::machine_time);
    s.lines = counts.lines;
    s.events = counts.events;
    s.other = counts.other;
    s.duplicates = counts.duplicates;
    s.truncated = counts.truncated;
    s.bad = counts.bad;
    s.bad_samples = counts.bad_samples;
    s.foreign_host_lines = counts.foreign_host_lines;
    s.namespaces = counts.namespaces;
    Ok((s, block_events))
}

/// Reads every host, `threads` at a time: summaries in host order, and the chain built from
/// every host's block events (each host's handed to the chain as soon as it is read, so only the
/// hosts being read hold theirs).
pub fn summarise(
    hosts: &[HostLogs],
    threads: usize,
) -> Result<(Vec<HostSummary>, Chain), SourceError> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<HostSummary, SourceError>>>> =
        Mutex::new((0..hosts.len()).map(|_| None).collect());
    let chain = Mutex::new(ChainBuilder::default());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(hosts.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(h) = hosts.get(i) else { break };
                    let r = summarise_host(h).map(|(s, events)| {
                        let mut c = chain.lock().unwrap_or_else(PoisonError::into_inner);
                        for e in &events {
                            c.add(&s.host, e);
                        }
                        s
                    });
                    out.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(r);
                }
            });
        }
    });
    let summaries = out
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect::<Result<Vec<_>, _>>()?;
    let chain = chain.into_inner().unwrap_or_else(PoisonError::into_inner);
    Ok((summaries, chain.finish()))
}
