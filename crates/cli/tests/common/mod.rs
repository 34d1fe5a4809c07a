//! Shared helpers for the `wb run` tests: a run directory per test, waiting for files, reading
//! `meta.json`, and telling whether a process is gone.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch place for one test's runs and genesis cache.
pub struct Scratch {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn runs(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    /// `wb run <args> --runs-dir … --cache-dir …`, not yet started.
    pub fn wb_run(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wb"));
        // A run publishes to its runs directory's database, never to one the environment names.
        c.env_remove("WB_DB");
        c.arg("run")
            .args(args)
            .arg("--runs-dir")
            .arg(self.runs())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"));
        c
    }

    /// Starts `wb run` in the background with its output in files.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let out = std::fs::File::create(self.dir.path().join("wb.stdout")).unwrap();
        let err = std::fs::File::create(self.dir.path().join("wb.stderr")).unwrap();
        self.wb_run(args)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map(Running)
            .unwrap()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("wb.stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("wb.stderr")).unwrap_or_default()
    }

    /// The current run's directory.
    pub fn current(&self) -> PathBuf {
        self.runs()
            .join(std::fs::read_link(self.runs().join("current")).unwrap())
    }

    /// Waits (up to 60 s) until the current run's `process` has started; the run's directory.
    pub fn started(&self, process: &str) -> PathBuf {
        wait_for(&format!("{process} to start"), 60, || {
            self.runs().join("current").exists()
                && self.current().join(process).join("pid").exists()
        });
        self.current()
    }

    pub fn meta(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.current().join("meta.json")).unwrap())
            .unwrap()
    }
}

/// A `wb run` in the background, killed if the test fails before it ends (its children follow
/// it: the kernel signals them when their supervisor dies).
pub struct Running(pub Child);

impl Running {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits until `f` holds (panicking with `what` after `secs`).
pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for a child, killing it after `secs`.
pub fn wait_child(child: &mut Running, secs: u64) -> std::process::ExitStatus {
    let child = &mut child.0;
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wb run did not end within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The pids of every process of a run (from `*/pid`, written while they run).
pub fn pids(run: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(run).unwrap().filter_map(Result::ok) {
        if let Ok(p) = std::fs::read_to_string(e.path().join("pid")) {
            out.push((
                e.file_name().to_string_lossy().into_owned(),
                p.trim().parse().unwrap(),
            ));
        }
    }
    out.sort();
    out
}

/// Whether a pid names a live (non-zombie) process.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

/// Every line of every file of a node's forwarded logs.
pub fn node_log(run: &Path, node: &str) -> String {
    let dir = run.join("tracer/logs").join(node);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.file_name().is_some_and(|n| n != "node.json"));
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect()
}
