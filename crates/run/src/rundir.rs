//! Run directories: `runs/<tag>/`, their tag, `meta.json`, the `current` link, listing, removal,
//! and whether a run's supervisor is still alive.
//!
//! Layout (Cardano's workbench layout where it applies):
//! ```text
//! runs/<tag>/meta.json  profile.json  topology.json  topology.dot  wb.pid (while running)
//!            genesis/{genesis.json, funds.skey, pools/pool-N.skey}
//!            node-N/{config.yaml, topology.json, stdout, stderr, exit_code, db/}
//!            explorer/ (like node-N)   tracer/{config.yaml, logs/<node>/…, stdout, stderr, exit_code}
//!            generator/{run-script.json, stdout, stderr, exit_code}   analysis/
//! runs/current -> <tag>
//! ```

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// Its tag (the directory name).
    pub tag: String,
    /// Its path.
    pub path: PathBuf,
}

/// Why a run directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// An I/O failure on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// No such run.
    #[error("no run {0:?} in {1} (see `wb run list`)")]
    NoSuchRun(String, PathBuf),
    /// A tag that would escape the runs directory or break a job name.
    #[error(
        "tag {0:?}: only letters, digits, '-', '_' and '.' (at most 128, not starting with '.')"
    )]
    BadTag(String),
    /// The tag is taken.
    #[error("run {0} already exists")]
    Exists(PathBuf),
    /// A run is still going.
    #[error("run {tag} is still running (wb pid {pid}); stop it with `wb run stop {tag}` or wait")]
    Alive {
        /// The live run.
        tag: String,
        /// Its supervisor.
        pid: u32,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `YYYY-MM-DD-HH-MM-SS-<profile>-<commit>`: sortable by time, says what ran and which wb ran it.
pub fn make_tag(unix_secs: u64, profile: &str, commit: &str) -> String {
    format!("{}-{profile}-{commit}", crate::timing::tag_time(unix_secs))
}

/// Whether `tag` is usable as a directory and a job name.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with('.')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl RunDir {
    /// Creates `root/<tag>/` (failing if it exists) and points `root/current` at it.
    pub fn create(root: &Path, tag: &str) -> Result<RunDir, RunDirError> {
        if !valid_tag(tag) {
            return Err(RunDirError::BadTag(tag.into()));
        }
        std::fs::create_dir_all(root).map_err(io(root))?;
        let path = root.join(tag);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(RunDirError::Exists(path));
            }
            Err(e) => return Err(io(&path)(e)),
        }
        let run = RunDir {
            tag: tag.into(),
            path,
        };
        set_current(root, tag)?;
        Ok(run)
    }

    /// Opens an existing run by tag, or `current`.
    pub fn open(root: &Path, tag: &str) -> Result<RunDir, RunDirError> {
        let tag = if tag == "current" {
            let link = root.join("current");
            std::fs::read_link(&link)
                .ok()
                .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                .ok_or_else(|| RunDirError::NoSuchRun("current".into(), root.to_owned()))?
        } else {
            tag.to_owned()
        };
        let path = root.join(&tag);
        if !valid_tag(&tag) || !path.join("meta.json").is_file() {
            return Err(RunDirError::NoSuchRun(tag, root.to_owned()));
        }
        Ok(RunDir { tag, path })
    }

    /// A path inside the run.
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }

    /// `meta.json` as JSON.
    pub fn meta(&self) -> Result<Value, RunDirError> {
        let p = self.join("meta.json");
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        serde_json::from_str(&text).map_err(|e| io(&p)(std::io::Error::other(e)))
    }

    /// Writes `meta.json` atomically (a reader never sees half a file).
    pub fn write_meta(&self, meta: &Value) -> Result<(), RunDirError> {
        write_json_atomic(&self.join("meta.json"), meta)
    }

    /// The supervisor's pid if it is still running.
    pub fn alive(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.join("wb.pid")).ok()?;
        let (pid, start) = text.trim().split_once(' ')?;
        let pid: u32 = pid.parse().ok()?;
        (process_start_time(pid)?.to_string() == start).then_some(pid)
    }

    /// Marks this process as the run's supervisor.
    pub fn claim(&self) -> Result<(), RunDirError> {
        let pid = std::process::id();
        let start = process_start_time(pid).unwrap_or(0);
        let p = self.join("wb.pid");
        std::fs::write(&p, format!("{pid} {start}\n")).map_err(io(&p))
    }

    /// Clears the supervisor mark.
    pub fn release(&self) {
        let _ = std::fs::remove_file(self.join("wb.pid"));
    }
}

/// Points `root/current` at `tag`.
pub fn set_current(root: &Path, tag: &str) -> Result<(), RunDirError> {
    let link = root.join("current");
    let tmp = root.join(format!(".current-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(tag, &tmp).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &link).map_err(io(&link))
}

/// Every run under `root`, oldest first (tags sort by time).
pub fn list(root: &Path) -> Result<Vec<RunDir>, RunDirError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(root)(e)),
    };
    let mut runs: Vec<RunDir> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let tag = e.file_name().to_string_lossy().into_owned();
            (valid_tag(&tag) && e.path().join("meta.json").is_file()).then(|| RunDir {
                tag,
                path: e.path(),
            })
        })
        .collect();
    runs.sort_by(|a, b| a.tag.cmp(&b.tag));
    Ok(runs)
}

/// Refuses when any run under `root` is still supervised by a live wb.
pub fn assert_none_alive(root: &Path) -> Result<(), RunDirError> {
    for run in list(root)? {
        if let Some(pid) = run.alive() {
            return Err(RunDirError::Alive { tag: run.tag, pid });
        }
    }
    Ok(())
}

/// Removes a run that is not alive; moves `current` to the newest remaining run.
pub fn remove(root: &Path, run: &RunDir) -> Result<(), RunDirError> {
    if let Some(pid) = run.alive() {
        return Err(RunDirError::Alive {
            tag: run.tag.clone(),
            pid,
        });
    }
    std::fs::remove_dir_all(&run.path).map_err(io(&run.path))?;
    let link = root.join("current");
    if std::fs::read_link(&link).is_ok_and(|t| t == Path::new(&run.tag)) {
        let _ = std::fs::remove_file(&link);
        if let Some(last) = list(root)?.last() {
            set_current(root, &last.tag)?;
        }
    }
    Ok(())
}

/// Writes JSON to `path` through a temporary file and a rename.
pub fn write_json_atomic(path: &Path, v: &Value) -> Result<(), RunDirError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22), which tells a
/// live process from a later one that reused its pid.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    // `rest` starts at field 3 (state); field 22 is the 20th from there. A zombie is not alive.
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_sort_by_time_and_name_what_ran() {
        let t = make_tag(1_795_500_936, "ci-test", "2072dfe");
        assert_eq!(t, "2026-11-24-06-15-36-ci-test-2072dfe");
        assert!(valid_tag(&t));
        assert!(make_tag(1_795_500_936, "a", "c") < make_tag(1_795_500_937, "a", "c"));
        for bad in ["", "../x", ".hidden", "a/b", "a b", &"x".repeat(129)] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn create_list_current_and_remove() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let a = RunDir::create(root, "2026-01-01-00-00-00-a-x").unwrap();
        a.write_meta(&serde_json::json!({"meta": {"tag": a.tag}}))
            .unwrap();
        let b = RunDir::create(root, "2026-01-01-00-00-01-b-x").unwrap();
        b.write_meta(&serde_json::json!({"meta": {}})).unwrap();
        assert!(matches!(
            RunDir::create(root, &a.tag),
            Err(RunDirError::Exists(_))
        ));
        assert_eq!(RunDir::open(root, "current").unwrap().tag, b.tag);
        let tags: Vec<String> = list(root).unwrap().into_iter().map(|r| r.tag).collect();
        assert_eq!(tags, [a.tag.clone(), b.tag.clone()]);

        // A live supervisor blocks a new run and removal; a dead one does not.
        b.claim().unwrap();
        assert_eq!(b.alive(), Some(std::process::id()));
        assert!(matches!(
            assert_none_alive(root),
            Err(RunDirError::Alive { .. })
        ));
        assert!(remove(root, &b).is_err());
        std::fs::write(b.join("wb.pid"), format!("{} 1\n", std::process::id())).unwrap();
        assert_eq!(b.alive(), None, "a reused pid is not our supervisor");
        assert_none_alive(root).unwrap();
        remove(root, &b).unwrap();
        assert_eq!(RunDir::open(root, "current").unwrap().tag, a.tag);
        assert!(matches!(
            RunDir::open(root, "nope"),
            Err(RunDirError::NoSuchRun(..))
        ));
    }
}
