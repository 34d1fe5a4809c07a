//! A host's log files, read as one stream: files in name order (a rotator's names sort by time),
//! line by line in bounded memory, each line interpreted or counted — never a reason to stop.
//! Exact duplicate lines (a forwarder resending after a reconnect) are counted and dropped; a
//! cut last line (a killed node) is counted apart from real errors.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::event::LogObject;
use crate::ingest::{Line, parse_line};

/// How many recent lines are remembered to drop exact duplicates.
const DUPLICATE_WINDOW: usize = 256;
/// How many unreadable lines are quoted in the counts.
const SAMPLES: usize = 3;

/// What reading a host's logs found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Lines read (empty ones excluded).
    pub lines: u64,
    /// Lines interpreted as events.
    pub events: u64,
    /// Trace lines the analysis does not read.
    pub other: u64,
    /// Exact repeats of a recent line, dropped.
    pub duplicates: u64,
    /// A cut last line of a file.
    pub truncated: u64,
    /// Lines that are not trace lines or lack a needed field.
    pub bad: u64,
    /// The first few bad lines: `file:line: error: text`.
    pub bad_samples: Vec<String>,
    /// Lines per namespace (read or not).
    pub namespaces: BTreeMap<String, u64>,
    /// Lines whose `host` field differs from the host the files belong to.
    pub foreign_host_lines: u64,
}

/// A failure to read a file at all.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct SourceError {
    /// The file.
    pub path: PathBuf,
    /// The failure.
    pub source: std::io::Error,
}

/// The host a log file belongs to, as locli names it: the file name without its directory, its
/// extensions and a `logs-` prefix (`/x/logs-node-3.some.json` → `node-3`); for files a tracer
/// or a run writes inside a per-node directory (`node-3/node-2026-…json`, `node-3/stdout`), the
/// directory's name.
pub fn host_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_prefix("logs-").unwrap_or(stem);
    let timestamped = stem.strip_prefix("node-").is_some_and(|rest| {
        rest.len() >= 10
            && rest.as_bytes()[4] == b'-'
            && rest[..4].bytes().all(|b| b.is_ascii_digit())
    });
    if timestamped || matches!(stem, "node" | "stdout" | "") {
        if let Some(dir) = path.parent().and_then(Path::file_name) {
            return dir.to_string_lossy().into_owned();
        }
    }
    stem.to_owned()
}

/// Reads `files` (one host's, any order: they are sorted by name) and hands every event to
/// `sink`, in file order.
pub fn read_host(
    files: &[PathBuf],
    host: &str,
    mut sink: impl FnMut(LogObject),
) -> Result<Counts, SourceError> {
    let mut files = files.to_vec();
    files.sort();
    let mut c = Counts::default();
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let mut recent: VecDeque<u64> = VecDeque::with_capacity(DUPLICATE_WINDOW);
    let mut recent_set: HashSet<u64> = HashSet::with_capacity(DUPLICATE_WINDOW);
    for path in &files {
        let f = std::fs::File::open(path).map_err(|source| SourceError {
            path: path.clone(),
            source,
        })?;
        let mut r = std::io::BufReader::with_capacity(1 << 16, f);
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        loop {
            buf.clear();
            let n = r
                .read_until(b'\n', &mut buf)
                .map_err(|source| SourceError {
                    path: path.clone(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let complete = buf.last() == Some(&b'\n');
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            c.lines += 1;
            let h = hasher.hash_one(text);
            if recent_set.contains(&h) {
                c.duplicates += 1;
                continue;
            }
            if recent.len() == DUPLICATE_WINDOW {
                if let Some(old) = recent.pop_front() {
                    recent_set.remove(&old);
                }
            }
            recent.push_back(h);
            recent_set.insert(h);
            match parse_line(text) {
                Ok(Line::Event(o, ns)) => {
                    c.events += 1;
                    *c.namespaces.entry(ns).or_default() += 1;
                    if !o.host.is_empty() && o.host != host {
                        c.foreign_host_lines += 1;
                    }
                    sink(o);
                }
                Ok(Line::Other { ns, host: h, .. }) => {
                    c.other += 1;
                    if !h.is_empty() && h != host {
                        c.foreign_host_lines += 1;
                    }
                    *c.namespaces.entry(ns).or_default() += 1;
                }
                Err(_) if !complete => c.truncated += 1,
                Err(e) => {
                    c.bad += 1;
                    if c.bad_samples.len() < SAMPLES {
                        let quoted: String = text.chars().take(120).collect();
                        c.bad_samples
                            .push(format!("{}:{line_no}: {e}: {quoted}", path.display()));
                    }
                }
            }
        }
    }
    Ok(c)
}
