//! Per-node log files laid out as cardano-tracer lays them out:
//!
//! ```text
//! <logRoot>/<node name, sanitised>/
//!     node-2026-01-31T10-06-52.json    # "node-" + UTC opening time + ".json" (".log": ForHuman)
//!     node-2026-01-31T11-06-52.json
//!     node.json -> node-2026-01-31T11-06-52.json
//! ```
//!
//! The `node.json` (or `node.log`) symlink always names the current file and is replaced
//! atomically. Its target is the bare file name, so a log directory can be moved or archived
//! without breaking it. Two files opened within one second get `_001`, `_002`, … before the
//! extension (`node-2026-01-31T10-06-52_001.json`), which sorts after the plain name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wb_trace::time::{civil_from_days, days_from_civil};

use crate::config::{LogFormat, RotationParams};

/// Start of every log file name.
const PREFIX: &str = "node-";
/// Longest sanitised node name, well under the usual 255-byte file name limit.
const MAX_NAME_LEN: usize = 200;
/// Last second a four-digit year can show: 9999-12-31T23:59:59.
const MAX_SECS: i64 = 253_402_300_799;

/// The name of a node's log directory: `[A-Za-z0-9._-]` kept, every other character replaced by
/// `-`, and `""`, `"."` and `".."` replaced by `node`, so it is always one plain path component.
pub fn sanitise_node_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME_LEN)
        .collect();
    if s.is_empty() || s == "." || s == ".." {
        s = "node".to_owned();
    }
    s
}

/// The extension of `format`'s files, without the dot.
fn extension(format: LogFormat) -> &'static str {
    match format {
        LogFormat::ForHuman => "log",
        LogFormat::ForMachine => "json",
    }
}

/// Orders log files: the opening second, then the same-second sequence number (0 for none).
type FileKey = (i64, u32);

/// Whole seconds since the epoch, clamped to what a file name can show.
fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .min(MAX_SECS)
}

/// `node-YYYY-MM-DDTHH-MM-SS[_NNN].<ext>`.
fn file_name((secs, seq): FileKey, format: LogFormat) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, sod / 60 % 60, sod % 60);
    let ext = extension(format);
    let stamp = format!("{PREFIX}{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{s:02}");
    if seq == 0 {
        format!("{stamp}.{ext}")
    } else {
        format!("{stamp}_{seq:03}.{ext}")
    }
}

/// Reads `n` ASCII digits at the front of `s`, returning the number and the rest.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

/// The key of a log file name of `format`, if it is one.
fn parse_key(name: &str, format: LogFormat) -> Option<FileKey> {
    let rest = name.strip_prefix(PREFIX)?;
    let rest = rest.strip_suffix(extension(format))?.strip_suffix('.')?;
    let (y, rest) = digits(rest, 4)?;
    let (mo, rest) = digits(rest.strip_prefix('-')?, 2)?;
    let (d, rest) = digits(rest.strip_prefix('-')?, 2)?;
    let (h, rest) = digits(rest.strip_prefix('T')?, 2)?;
    let (mi, rest) = digits(rest.strip_prefix('-')?, 2)?;
    let (s, rest) = digits(rest.strip_prefix('-')?, 2)?;
    let seq = match rest {
        "" => 0,
        _ => {
            let n = rest.strip_prefix('_')?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n.parse().ok().filter(|n| *n > 0)?
        }
    };
    let days = days_from_civil(i64::from(y), mo, d);
    // A date that does not round-trip (month 13, February 30th) is not one we wrote.
    if !(1..=12).contains(&mo) || civil_from_days(days) != (i64::from(y), mo, d) {
        return None;
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some((days * 86_400 + i64::from(h * 3600 + mi * 60 + s), seq))
}

/// The opening time encoded in a log file name of `format` (`node-…T…` with that format's
/// extension, with or without a same-second `_NNN`), or `None` if it is not one.
pub fn parse_log_file_name(name: &str, format: LogFormat) -> Option<SystemTime> {
    let (secs, _) = parse_key(name, format)?;
    match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH.checked_add(Duration::from_secs(s)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs())),
    }
}

/// `format`'s log files in `dir` with their keys, oldest first.
fn scan(dir: &Path, format: LogFormat) -> io::Result<Vec<(FileKey, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(key) = entry
            .file_name()
            .to_str()
            .and_then(|n| parse_key(n, format))
        else {
            continue;
        };
        if entry.file_type()?.is_file() {
            files.push((key, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// What one [`NodeLog::rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RotationOutcome {
    /// The file opened because the previous one reached the size limit, if any.
    pub new_file: Option<PathBuf>,
    /// The old files deleted, oldest first.
    pub deleted: Vec<PathBuf>,
}

/// One node's log directory for one log format: the current file, open for appending.
#[derive(Debug)]
pub struct NodeLog {
    dir: PathBuf,
    format: LogFormat,
    current: PathBuf,
    file: File,
    size: u64,
}

impl NodeLog {
    /// Creates `<root>/<sanitised node_name>/` if needed, opens a new file stamped `now` and
    /// points the `node.<ext>` symlink at it.
    pub fn open(
        root: &Path,
        node_name: &str,
        format: LogFormat,
        now: SystemTime,
    ) -> io::Result<NodeLog> {
        let dir = root.join(sanitise_node_name(node_name));
        fs::create_dir_all(&dir)?;
        let (current, file) = create_file(&dir, format, now)?;
        let log = NodeLog {
            dir,
            format,
            current,
            file,
            size: 0,
        };
        log.point_symlink()?;
        Ok(log)
    }

    /// The node's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file being written.
    pub fn current_path(&self) -> &Path {
        &self.current
    }

    /// The format of this log's files.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Bytes in the current file (those written through this `NodeLog`).
    pub fn current_size(&self) -> u64 {
        self.size
    }

    /// Appends `batch` (already newline-terminated lines) with one write.
    pub fn write_batch(&mut self, batch: &[u8]) -> io::Result<()> {
        match self.file.write_all(batch) {
            Ok(()) => {
                self.size += batch.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Part of the batch may have landed; ask the file how big it now is.
                if let Ok(meta) = self.file.metadata() {
                    self.size = meta.len();
                }
                Err(e)
            }
        }
    }

    /// Appends the concatenation of `parts` (already newline-terminated lines) with vectored
    /// writes, so lines borrowed from received messages need no copying into a batch first.
    pub fn write_parts(&mut self, parts: &mut [io::IoSlice<'_>]) -> io::Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut parts = parts;
        let mut written = 0;
        while !parts.is_empty() {
            match self.file.write_vectored(parts) {
                Ok(0) => {
                    self.size += written as u64;
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "log file accepts no more bytes",
                    ));
                }
                Ok(n) => {
                    written += n;
                    io::IoSlice::advance_slices(&mut parts, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.size += written as u64;
                    return Err(e);
                }
            }
        }
        debug_assert_eq!(written, total);
        self.size += total as u64;
        Ok(())
    }

    /// Hands anything buffered to the operating system (writes are unbuffered, so this is cheap).
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// One run of the rotator: if the current file has reached `params.log_limit_bytes`, opens
    /// a new one stamped `now` and repoints the symlink; then deletes files stamped before
    /// `now - params.max_age`, except the newest `params.keep_files_num` and the current one.
    ///
    /// An error while deleting is returned after any new file is already in use.
    pub fn rotate(
        &mut self,
        params: &RotationParams,
        now: SystemTime,
    ) -> io::Result<RotationOutcome> {
        let mut outcome = RotationOutcome::default();
        if self.size >= params.log_limit_bytes {
            let (path, file) = create_file(&self.dir, self.format, now)?;
            self.file = file;
            self.current = path;
            self.size = 0;
            self.point_symlink()?;
            outcome.new_file = Some(self.current.clone());
        }

        let cutoff = unix_secs(now)
            .saturating_sub(i64::try_from(params.max_age.as_secs()).unwrap_or(i64::MAX));
        let files = scan(&self.dir, self.format)?;
        let keep = usize::try_from(params.keep_files_num).unwrap_or(usize::MAX);
        let removable = files.len().saturating_sub(keep);
        for ((secs, _), path) in files.into_iter().take(removable) {
            if secs >= cutoff || path == self.current {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => outcome.deleted.push(path),
                // Someone else removed it first: the goal is reached.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(outcome)
    }

    /// This format's log files in the directory, oldest first.
    pub fn list_files(&self) -> io::Result<Vec<PathBuf>> {
        Ok(scan(&self.dir, self.format)?
            .into_iter()
            .map(|(_, p)| p)
            .collect())
    }

    /// Points `node.<ext>` at the current file: a fresh link under a temporary name, renamed
    /// over the old one, so readers never see the link missing.
    fn point_symlink(&self) -> io::Result<()> {
        let ext = extension(self.format);
        let link = self.dir.join(format!("node.{ext}"));
        let tmp = self.dir.join(format!("node.{ext}.tmp"));
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let target = self
            .current
            .file_name()
            .ok_or_else(|| io::Error::other("log file path has no file name"))?;
        std::os::unix::fs::symlink(target, &tmp)?;
        fs::rename(&tmp, &link)
    }
}

/// Creates a new log file in `dir` stamped `now`, named to sort after every log file of
/// `format` already there (so the newest file is always the current one, even if the clock
/// stepped back).
fn create_file(dir: &Path, format: LogFormat, now: SystemTime) -> io::Result<(PathBuf, File)> {
    let mut key = (unix_secs(now), 0);
    if let Some((newest, _)) = scan(dir, format)?.pop() {
        if newest >= key {
            key = (newest.0, newest.1 + 1);
        }
    }
    loop {
        let path = dir.join(file_name(key, format));
        // create_new: never append to a file that appeared since the scan.
        match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => key.1 += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-31T10:06:52Z plus `secs`.
    fn at(secs: u64) -> SystemTime {
        let base = days_from_civil(2026, 1, 31) * 86_400 + 10 * 3600 + 6 * 60 + 52;
        UNIX_EPOCH + Duration::from_secs(base as u64 + secs)
    }

    fn names(paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    fn params(limit: u64, max_age_secs: u64, keep: u32) -> RotationParams {
        RotationParams {
            frequency: Duration::from_secs(60),
            log_limit_bytes: limit,
            max_age: Duration::from_secs(max_age_secs),
            keep_files_num: keep,
        }
    }

    #[test]
    fn sanitising() {
        assert_eq!(sanitise_node_name("node-1"), "node-1");
        assert_eq!(sanitise_node_name("127.0.0.1:30004"), "127.0.0.1-30004");
        assert_eq!(sanitise_node_name("a/b c\"d"), "a-b-c-d");
        assert_eq!(sanitise_node_name("../etc"), "..-etc");
        assert_eq!(sanitise_node_name("ñode"), "-ode");
        for slug in ["", ".", ".."] {
            assert_eq!(sanitise_node_name(slug), "node");
        }
        assert_eq!(sanitise_node_name("/"), "-");
        assert_eq!(sanitise_node_name(&"x".repeat(1000)).len(), MAX_NAME_LEN);
    }

    #[test]
    fn file_names_round_trip() {
        let t = at(0);
        assert_eq!(
            file_name((unix_secs(t), 0), LogFormat::ForMachine),
            "node-2026-01-31T10-06-52.json"
        );
        assert_eq!(
            file_name((unix_secs(t), 1), LogFormat::ForHuman),
            "node-2026-01-31T10-06-52_001.log"
        );
        for (name, format) in [
            ("node-2026-01-31T10-06-52.json", LogFormat::ForMachine),
            ("node-2026-01-31T10-06-52_001.json", LogFormat::ForMachine),
            ("node-2026-01-31T10-06-52.log", LogFormat::ForHuman),
        ] {
            assert_eq!(parse_log_file_name(name, format), Some(t), "{name}");
        }
        // Every second of a leap day survives the round trip.
        let leap = UNIX_EPOCH + Duration::from_secs(days_from_civil(2024, 2, 29) as u64 * 86_400);
        for s in (0..86_400).step_by(997) {
            let t = leap + Duration::from_secs(s);
            let name = file_name((unix_secs(t), 0), LogFormat::ForMachine);
            assert_eq!(
                parse_log_file_name(&name, LogFormat::ForMachine),
                Some(t),
                "{name}"
            );
        }
        for bad in [
            "node-2026-01-31T10-06-52.log",
            "node.json",
            "node.json.tmp",
            "node-2026-01-31T10-06-52.json.tmp",
            "xnode-2026-01-31T10-06-52.json",
            "node-2026-13-01T10-06-52.json",
            "node-2026-02-30T10-06-52.json",
            "node-2026-01-31T24-06-52.json",
            "node-2026-01-31T10-06-60.json",
            "node-2026-01-31 10-06-52.json",
            "node-2026-01-31T10-06-52_.json",
            "node-2026-01-31T10-06-52_000.json",
            "node-2026-01-31T10-06-52_x.json",
            "node-2026-1-31T10-06-52.json",
            "node-+026-01-31T10-06-52.json",
        ] {
            assert_eq!(
                parse_log_file_name(bad, LogFormat::ForMachine),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn open_write_and_symlink() {
        let root = tempfile::tempdir().unwrap();
        let mut log =
            NodeLog::open(root.path(), "127.0.0.1:3001", LogFormat::ForMachine, at(0)).unwrap();
        assert_eq!(log.dir(), root.path().join("127.0.0.1-3001"));
        assert_eq!(
            log.current_path(),
            log.dir().join("node-2026-01-31T10-06-52.json")
        );
        log.write_batch(b"{\"a\":1}\n{\"a\":2}\n").unwrap();
        log.write_batch(b"{\"a\":3}\n").unwrap();
        log.flush().unwrap();
        assert_eq!(log.current_size(), 24);
        let link = log.dir().join("node.json");
        assert_eq!(
            fs::read_link(&link).unwrap(),
            Path::new("node-2026-01-31T10-06-52.json")
        );
        assert_eq!(
            fs::read_to_string(&link).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );
        assert!(!log.dir().join("node.json.tmp").exists());
        assert_eq!(
            names(&log.list_files().unwrap()),
            ["node-2026-01-31T10-06-52.json"]
        );

        // A human log in the same directory is separate.
        let human =
            NodeLog::open(root.path(), "127.0.0.1:3001", LogFormat::ForHuman, at(0)).unwrap();
        assert_eq!(
            fs::read_link(human.dir().join("node.log")).unwrap(),
            Path::new("node-2026-01-31T10-06-52.log")
        );
        assert_eq!(human.list_files().unwrap().len(), 1);
        assert_eq!(log.list_files().unwrap().len(), 1);
    }

    #[test]
    fn opens_in_one_second_get_distinct_sorted_names() {
        let root = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for _ in 0..3 {
            let log = NodeLog::open(root.path(), "n", LogFormat::ForMachine, at(0)).unwrap();
            paths.push(log.current_path().to_owned());
        }
        assert_eq!(
            names(&paths),
            [
                "node-2026-01-31T10-06-52.json",
                "node-2026-01-31T10-06-52_001.json",
                "node-2026-01-31T10-06-52_002.json",
            ]
        );
        // Plain byte order (as `ls` sorts) agrees with the opening order.
        let mut sorted = names(&paths);
        sorted.sort();
        assert_eq!(sorted, names(&paths));
        let log = NodeLog::open(root.path(), "n", LogFormat::ForMachine, at(1)).unwrap();
        assert_eq!(
            names(&log.list_files().unwrap())[3],
            "node-2026-01-31T10-06-53.json"
        );
        assert_eq!(
            fs::read_link(log.dir().join("node.json")).unwrap(),
            Path::new("node-2026-01-31T10-06-53.json")
        );
    }

    #[test]
    fn a_clock_stepping_back_still_makes_the_new_file_newest() {
        let root = tempfile::tempdir().unwrap();
        let mut log = NodeLog::open(root.path(), "n", LogFormat::ForHuman, at(100)).unwrap();
        log.write_batch(b"x\n").unwrap();
        let out = log.rotate(&params(1, 3600, 1), at(0)).unwrap();
        assert_eq!(
            names(&[out.new_file.unwrap()]),
            ["node-2026-01-31T10-08-32_001.log"]
        );
        assert_eq!(
            log.list_files().unwrap().last().unwrap(),
            log.current_path()
        );
    }

    #[test]
    fn rotation_by_size_moves_the_symlink() {
        let root = tempfile::tempdir().unwrap();
        let mut log = NodeLog::open(root.path(), "n", LogFormat::ForMachine, at(0)).unwrap();
        let p = params(10, 3600, 5);
        log.write_batch(b"12345\n").unwrap();
        assert_eq!(log.rotate(&p, at(60)).unwrap(), RotationOutcome::default());
        log.write_batch(b"6789\n").unwrap();
        let first = log.current_path().to_owned();
        let out = log.rotate(&p, at(120)).unwrap();
        let second = log.dir().join("node-2026-01-31T10-08-52.json");
        assert_eq!(out.new_file.as_deref(), Some(second.as_path()));
        assert!(out.deleted.is_empty());
        assert_eq!(log.current_path(), second);
        assert_eq!(log.current_size(), 0);
        assert_eq!(log.list_files().unwrap(), [first.clone(), second.clone()]);
        assert_eq!(
            fs::read_link(log.dir().join("node.json")).unwrap(),
            Path::new("node-2026-01-31T10-08-52.json")
        );
        log.write_batch(b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&first).unwrap(), "12345\n6789\n");
        assert_eq!(fs::read_to_string(&second).unwrap(), "new\n");
    }

    #[test]
    fn rotation_by_age_keeps_the_newest_and_the_current() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("n");
        fs::create_dir_all(&dir).unwrap();
        // Five old files an hour apart, a file of the other format and a stray one.
        for h in 0..5 {
            File::create(dir.join(file_name(
                (unix_secs(at(h * 3600)), 0),
                LogFormat::ForMachine,
            )))
            .unwrap();
        }
        File::create(dir.join("node-2026-01-31T10-06-52.log")).unwrap();
        File::create(dir.join("notes.txt")).unwrap();
        let mut log = NodeLog::open(root.path(), "n", LogFormat::ForMachine, at(5 * 3600)).unwrap();
        let all = log.list_files().unwrap();
        assert_eq!(all.len(), 6);

        // Max age 90 min at 15:06:52: the files of 10:06, 11:06, 12:06 and 13:06 are too old,
        // but the newest 3 (13:06, 14:06 and the current 15:06) are kept.
        let out = log
            .rotate(&params(1 << 30, 90 * 60, 3), at(5 * 3600))
            .unwrap();
        assert_eq!(out.new_file, None);
        assert_eq!(out.deleted, all[..3]);
        assert_eq!(log.list_files().unwrap(), all[3..]);
        assert!(dir.join("node-2026-01-31T10-06-52.log").exists());
        assert!(dir.join("notes.txt").exists());

        // Keeping none and a zero age still spares the current file.
        let out = log.rotate(&params(1 << 30, 0, 0), at(6 * 3600)).unwrap();
        assert_eq!(out.deleted, all[3..5]);
        assert_eq!(log.list_files().unwrap(), [log.current_path().to_owned()]);
        assert!(log.current_path().exists());
    }

    #[test]
    fn files_younger_than_max_age_stay() {
        let root = tempfile::tempdir().unwrap();
        let mut log = NodeLog::open(root.path(), "n", LogFormat::ForHuman, at(0)).unwrap();
        let p = params(1, 3600, 0);
        for i in 1..=3 {
            log.write_batch(b"x\n").unwrap();
            let out = log.rotate(&p, at(i * 600)).unwrap();
            assert!(out.new_file.is_some() && out.deleted.is_empty());
        }
        assert_eq!(log.list_files().unwrap().len(), 4);
        // Exactly max_age old is not older than max_age.
        let out = log.rotate(&p, at(3600)).unwrap();
        assert!(out.deleted.is_empty());
        let out = log.rotate(&p, at(3601)).unwrap();
        assert_eq!(names(&out.deleted), ["node-2026-01-31T10-06-52.log"]);
    }
}
