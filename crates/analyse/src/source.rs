//! A host's log files, read as one stream: files in name order (a rotator's names sort by time),
//! line by line in bounded memory, each line interpreted or counted — never a reason to stop.
//! Exact duplicate lines (a forwarder resending after a reconnect) are counted and dropped; a
//! cut last line (a killed node) is counted apart from real errors.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::event::LogObject;
use crate::fasthash::{FastBuild, hash64};
use crate::ingest::{Line, LineReader};

/// How many recent lines are remembered to drop exact duplicates.
const DUPLICATE_WINDOW: usize = 256;
/// How many unreadable lines are quoted in the counts.
const SAMPLES: usize = 3;

/// What reading a host's logs found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
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
    read_host_until(files, host, |o| {
        sink(o);
        ControlFlow::Continue(())
    })
}

/// [`read_host`] that stops soon after `sink` says so (within the chunk being read); the
/// counts cover what was read.
pub fn read_host_until(
    files: &[PathBuf],
    host: &str,
    mut sink: impl FnMut(LogObject) -> ControlFlow<()>,
) -> Result<Counts, SourceError> {
    let stop = std::cell::Cell::new(false);
    let mut sink = |o| {
        if !stop.get() {
            stop.set(sink(o).is_break());
        }
    };
    let mut files = files.to_vec();
    files.sort();
    let mut r = HostReader {
        host,
        counts: Counts::default(),
        recent: VecDeque::with_capacity(DUPLICATE_WINDOW),
        recent_set: HashSet::with_capacity_and_hasher(DUPLICATE_WINDOW, FastBuild::default()),
        reader: LineReader::default(),
    };
    let mut buf = vec![0u8; CHUNK];
    for path in &files {
        let err = |source| SourceError {
            path: path.clone(),
            source,
        };
        let mut f = std::fs::File::open(path).map_err(err)?;
        // `buf[..len]` holds unread bytes: at most one unfinished line between reads.
        let mut len = 0;
        let mut line_no = 0u64;
        loop {
            if len == buf.len() {
                buf.resize(2 * len, 0);
            }
            let n = match f.read(&mut buf[len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(err(e)),
            };
            if n == 0 {
                if len > 0 {
                    line_no += 1;
                    r.line(&buf[..len], false, path, line_no, &mut sink);
                }
                break;
            }
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', &buf[len..len + n]) {
                let end = len + nl;
                line_no += 1;
                r.line(&buf[start..end], true, path, line_no, &mut sink);
                start = end + 1;
            }
            len += n;
            buf.copy_within(start..len, 0);
            len -= start;
            if stop.get() {
                break;
            }
        }
        if stop.get() {
            break;
        }
    }
    let mut c = r.counts;
    c.namespaces = r.reader.namespaces().collect();
    Ok(c)
}

/// Bytes read at a time.
const CHUNK: usize = 1 << 20;

/// One host's reading state.
struct HostReader<'h> {
    host: &'h str,
    counts: Counts,
    /// Hashes of the last lines, oldest first, and as a set.
    recent: VecDeque<u64>,
    recent_set: HashSet<u64, FastBuild>,
    reader: LineReader,
}

/// Blank as `str::trim` sees it: whitespace only (Unicode whitespace too).
fn blank(text: &[u8]) -> bool {
    match text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        None => true,
        Some(i) if text[i] >= 0x80 => String::from_utf8_lossy(&text[i..]).trim().is_empty(),
        Some(_) => false,
    }
}

impl HostReader<'_> {
    /// Accounts for one line (without its `\n`; `complete`: it had one).
    fn line(
        &mut self,
        mut text: &[u8],
        complete: bool,
        path: &Path,
        line_no: u64,
        sink: &mut impl FnMut(LogObject),
    ) {
        while let [rest @ .., b'\n' | b'\r'] = text {
            text = rest;
        }
        if blank(text) {
            return;
        }
        let c = &mut self.counts;
        c.lines += 1;
        let h = hash64(text);
        if !self.recent_set.insert(h) {
            c.duplicates += 1;
            return;
        }
        if self.recent.len() == DUPLICATE_WINDOW {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
        self.recent.push_back(h);
        let line_host = match self.reader.read(text) {
            Ok(Line::Event(o, _, host)) => {
                c.events += 1;
                let foreign = !host.is_empty() && host != self.host;
                c.foreign_host_lines += u64::from(foreign);
                sink(o);
                return;
            }
            Ok(Line::Other { host, .. }) => {
                c.other += 1;
                host
            }
            Err(_) if !complete => {
                c.truncated += 1;
                return;
            }
            Err(e) => {
                c.bad += 1;
                if c.bad_samples.len() < SAMPLES {
                    let quoted: String = String::from_utf8_lossy(text).chars().take(120).collect();
                    c.bad_samples
                        .push(format!("{}:{line_no}: {e}: {quoted}", path.display()));
                }
                return;
            }
        };
        if !line_host.is_empty() && line_host != self.host {
            c.foreign_host_lines += 1;
        }
    }
}
