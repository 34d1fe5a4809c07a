//! A host's log files, read as one stream: files in name order (a rotator's names sort by time),
//! line by line in bounded memory, each line interpreted or counted — never a reason to stop.
//! Exact duplicate lines (a forwarder resending after a reconnect) are counted and dropped; a
//! cut last line (a killed node) is counted apart from real errors.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::{ControlFlow, Range};
use std::path::{Path, PathBuf};

use crate::event::LogObject;
use crate::fasthash::hash64;
use crate::ingest::{Line, LineReader};
use crate::rawjson::{plain_lines, same_bytes};

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
    /// Trace messages the node says it dropped (`TraceObject queue overflowed. Dropped 128
    /// messages from … to …` on its stdout, counted among the unreadable lines): these logs
    /// lack them.
    pub dropped_by_node: u64,
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
        recent: Recent::default(),
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
                    let span = Span {
                        range: 0..len,
                        complete: false,
                        plain: false,
                    };
                    r.line(&buf, span, path, line_no, &mut sink);
                }
                // The next file reuses the buffer.
                r.recent.seal(&buf);
                break;
            }
            let mut start = 0;
            // Nearly every chunk's lines are all plain: checked once here, not line by line.
            let plain = plain_lines(&buf[..len + n]);
            for nl in memchr::memchr_iter(b'\n', &buf[len..len + n]) {
                let end = len + nl;
                line_no += 1;
                let span = Span {
                    range: start..end,
                    complete: true,
                    plain,
                };
                r.line(&buf, span, path, line_no, &mut sink);
                start = end + 1;
            }
            len += n;
            r.recent.seal(&buf);
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

/// Where a line is in the read buffer, whether it ended with a line break, and whether its
/// chunk is known to be plain ([`plain_lines`]).
struct Span {
    range: Range<usize>,
    complete: bool,
    plain: bool,
}

/// One host's reading state.
struct HostReader<'h> {
    host: &'h str,
    counts: Counts,
    recent: Recent,
    reader: LineReader,
}

/// The last distinct lines read: when each was logged (if it says), its length and the line
/// itself, to drop exact repeats. A repeat was logged when its original was, and logs mostly
/// go forward in time: a line logged after every line so far repeats none of them and is not
/// looked up; a line of the latest time is compared only with the lines since that time first
/// appeared (every line of that time is among them); only a line of an earlier time (out of
/// order) or of none is compared with the whole window. A line is kept as its place in the read
/// buffer and hashed only when it must be compared (a later line of the same time and length)
/// or when the buffer is about to be overwritten ([`Recent::seal`]): most lines leave the
/// window unhashed, and none is hashed twice however many lines share a time (coarse clocks).
struct Recent {
    at: [u64; DUPLICATE_WINDOW],
    len: [usize; DUPLICATE_WINDOW],
    /// The line's start in the read buffer, until it is hashed ([`HASHED`] after).
    place: [usize; DUPLICATE_WINDOW],
    hash: [u64; DUPLICATE_WINDOW],
    /// Lines held so far (the next line's count; its slot is the count modulo the window).
    count: u64,
    /// The latest time of any line so far, and the count of the first line of that time.
    latest: Option<(u64, u64)>,
}

/// `Recent::place` of a line already hashed.
const HASHED: usize = usize::MAX;

/// The time kept for a line that says none (not a trace line).
const NO_TIME: u64 = u64::MAX;

impl Default for Recent {
    fn default() -> Self {
        Recent {
            at: [0; DUPLICATE_WINDOW],
            len: [0; DUPLICATE_WINDOW],
            place: [HASHED; DUPLICATE_WINDOW],
            hash: [0; DUPLICATE_WINDOW],
            count: 0,
            latest: None,
        }
    }
}

impl Recent {
    /// Remembers the line `buf[line]` (`false`: it repeats one held, and is not added).
    fn insert(&mut self, at: Option<u64>, buf: &[u8], line: Range<usize>) -> bool {
        let key = at.unwrap_or(NO_TIME);
        let window = DUPLICATE_WINDOW as u64;
        let oldest = self.count.saturating_sub(window);
        // The count of the first line it may repeat.
        let candidates = match (at, self.latest) {
            (Some(_), None) => None,
            (Some(at), Some((latest, _))) if at > latest => None,
            (Some(at), Some((latest, since))) if at == latest => Some(since.max(oldest)),
            _ => Some(oldest),
        };
        let text = &buf[line.clone()];
        let mut text_hash = None;
        if let Some(first) = candidates {
            for n in first..self.count {
                let slot = (n % window) as usize;
                if self.at[slot] != key || self.len[slot] != text.len() {
                    continue;
                }
                if *text_hash.get_or_insert_with(|| hash64(text)) == self.hash_of(slot, buf) {
                    return false;
                }
            }
        }
        if let Some(at) = at {
            match self.latest {
                Some((latest, _)) if at <= latest => {}
                _ => self.latest = Some((at, self.count)),
            }
        }
        let slot = (self.count % window) as usize;
        (self.at[slot], self.len[slot]) = (key, text.len());
        (self.place[slot], self.hash[slot]) = match text_hash {
            Some(h) => (HASHED, h),
            None => (line.start, 0),
        };
        self.count += 1;
        true
    }

    /// The hash of the line in `slot`, hashing it now if it is still a place in `buf`.
    fn hash_of(&mut self, slot: usize, buf: &[u8]) -> u64 {
        let start = self.place[slot];
        if start != HASHED {
            self.hash[slot] = hash64(&buf[start..start + self.len[slot]]);
            self.place[slot] = HASHED;
        }
        self.hash[slot]
    }

    /// Hashes the lines still kept as places in `buf`, which is about to be overwritten.
    fn seal(&mut self, buf: &[u8]) {
        for slot in 0..DUPLICATE_WINDOW {
            self.hash_of(slot, buf);
        }
    }
}

/// The number of trace messages a node's `TraceObject queue overflowed. Dropped N messages
/// from … to …` line says it dropped (0 for any other line).
fn dropped_messages(text: &[u8]) -> u64 {
    const NOTICE: &[u8] = b"TraceObject queue overflowed. Dropped ";
    let Some(at) = memchr::memmem::find(text, NOTICE) else {
        return 0;
    };
    let digits = &text[at + NOTICE.len()..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end])
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Blank as `str::trim` sees it: whitespace only (Unicode whitespace too).
#[inline]
fn blank(text: &[u8]) -> bool {
    // Nearly every line starts with its object.
    if text.first() == Some(&b'{') {
        return false;
    }
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
    /// Accounts for one line, `buf[span.range]` (without its `\n`).
    fn line(
        &mut self,
        buf: &[u8],
        span: Span,
        path: &Path,
        line_no: u64,
        sink: &mut impl FnMut(LogObject),
    ) {
        let Span {
            range,
            complete,
            plain,
        } = span;
        let mut text = &buf[range.clone()];
        while let [rest @ .., b'\n' | b'\r'] = text {
            text = rest;
        }
        if blank(text) {
            return;
        }
        let c = &mut self.counts;
        c.lines += 1;
        let read = self.reader.read_known(text, plain);
        let at = match &read {
            Ok(Line::Event(o, ..)) => Some(o.at),
            Ok(Line::Other { at, .. }) => Some(*at),
            Err(_) => None,
        };
        if !self
            .recent
            .insert(at, buf, range.start..range.start + text.len())
        {
            c.duplicates += 1;
            if let Ok(l) = &read {
                self.reader.uncount(l);
            }
            return;
        }
        let line_host = match read {
            Ok(Line::Event(o, _, host)) => {
                c.events += 1;
                let foreign =
                    !host.is_empty() && !same_bytes(host.as_bytes(), self.host.as_bytes());
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
                c.dropped_by_node += dropped_messages(text);
                if c.bad_samples.len() < SAMPLES {
                    let quoted: String = String::from_utf8_lossy(text).chars().take(120).collect();
                    c.bad_samples
                        .push(format!("{}:{line_no}: {e}: {quoted}", path.display()));
                }
                return;
            }
        };
        if !line_host.is_empty() && !same_bytes(line_host.as_bytes(), self.host.as_bytes()) {
            c.foreign_host_lines += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A leadership check for `slot`, logged at second `second` by `host` (as written).
    fn check(second: u64, slot: u64, host: &str) -> String {
        format!(
            r#"{{"at":"2026-01-01T00:00:{second:02}Z","ns":"Forge.Loop.StartLeadershipCheckPlus","data":{{"kind":"TraceStartLeadershipCheck","slot":{slot}}},"host":"{host}"}}"#
        )
    }

    /// Writes `lines` as node-1's log and reads it: the slots checked, and the counts.
    fn read_lines(lines: &[String]) -> (Vec<u64>, Counts) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-1.json");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let mut slots = Vec::new();
        let c = read_host(&[path], "node-1", |o| {
            if let crate::event::Body::StartLeadershipCheck { slot, .. } = o.body {
                slots.push(slot);
            }
        })
        .unwrap();
        (slots, c)
    }

    #[test]
    fn repeats_are_dropped_in_or_out_of_time_order_and_only_exact_ones() {
        let (slots, c) = read_lines(&[
            check(1, 1, "node-1"),
            check(2, 2, "node-1"),
            check(2, 2, "node-1"), // a repeat at the latest time
            check(3, 3, "node-1"),
            check(1, 1, "node-1"), // a repeat of an older line, after later ones
            check(2, 22, "node-1"), // logged at the same time, but another line
            "not json".to_owned(),
            "not json".to_owned(), // repeats of lines without a time count too
            check(1, 1, "node-1"), // a repeat of a repeat
        ]);
        assert_eq!(slots, [1, 2, 3, 22]);
        assert_eq!((c.lines, c.duplicates, c.bad), (9, 4, 1));
        assert_eq!(c.namespaces["Forge.Loop.StartLeadershipCheckPlus"], 4);
    }

    #[test]
    fn escapes_and_raw_control_characters_are_seen_whatever_chunk_they_are_in() {
        let (slots, c) = read_lines(&[
            check(1, 1, "node-1"),
            check(2, 2, "node-\\u0031"), // an escape: the same host
            check(3, 3, "node-1\\tx"),   // an escaped tab: another host
            check(4, 4, "node-1\tx"),    // a raw tab in a string: not JSON
            check(5, 5, "node-1"),
        ]);
        assert_eq!(slots, [1, 2, 3, 5]);
        assert_eq!((c.bad, c.foreign_host_lines), (1, 1));
    }

    /// Appends `text` to the read buffer `buf` and offers it to the window.
    fn add(r: &mut Recent, buf: &mut Vec<u8>, at: Option<u64>, text: &str) -> bool {
        let start = buf.len();
        buf.extend_from_slice(text.as_bytes());
        r.insert(at, buf, start..buf.len())
    }

    #[test]
    fn lines_sharing_one_time_are_told_apart_and_their_repeats_found() {
        let mut r = Recent::default();
        let mut buf: Vec<u8> = Vec::new();
        // A coarse clock: 300 different lines of the same length at one time.
        for i in 0..300 {
            assert!(add(&mut r, &mut buf, Some(7), &format!("line {i:03}")));
        }
        // The last 256 are held (hashed, as when the read buffer is reused), the first 44 not.
        r.seal(&buf);
        for i in (44..300).step_by(2) {
            assert!(
                !add(&mut r, &mut buf, Some(7), &format!("line {i:03}")),
                "{i}"
            );
        }
        assert!(add(&mut r, &mut buf, Some(7), "line 000"));
        // Lines without a time, and the same text at another time.
        assert!(add(&mut r, &mut buf, None, "line 299"));
        assert!(!add(&mut r, &mut buf, None, "line 299"));
        assert!(add(&mut r, &mut buf, Some(6), "line 299"));
    }

    #[test]
    fn the_window_forgets_the_oldest_lines_and_knows_lines_after_their_buffer_is_gone() {
        let mut r = Recent::default();
        let mut buf: Vec<u8> = Vec::new();
        assert!(add(&mut r, &mut buf, Some(5), "first"));
        for i in 0..DUPLICATE_WINDOW as u64 - 1 {
            assert!(add(&mut r, &mut buf, Some(10 + i), &format!("line {i}")));
        }
        // Still in the window: found while its bytes are in the buffer, and after it is reused.
        assert!(!add(&mut r, &mut buf, Some(5), "first"));
        r.seal(&buf);
        buf.clear();
        assert!(!add(&mut r, &mut buf, Some(5), "first"));
        assert!(add(&mut r, &mut buf, Some(5), "first!"));
        // The first line has now left the window: its repeat is kept, as before.
        assert!(add(&mut r, &mut buf, Some(5), "first"));
    }
}
