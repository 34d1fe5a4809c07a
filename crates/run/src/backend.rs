//! The backend interface: the operations Cardano's workbench backends implement (allocate,
//! deploy genesis, start tracer/nodes/generator, wait, stop, fetch logs, clean up), so that a
//! cluster can run as local processes or elsewhere (Nomad) under the same scenarios.

use std::path::PathBuf;
use std::time::Duration;

use crate::plan::{Plan, ProcessSpec};
use crate::rundir::RunDir;

/// How a process ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Exit {
    /// The process (`node-3`).
    pub name: String,
    /// Its exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// User + system CPU seconds it used.
    pub cpu_s: f64,
    /// Its peak resident set, KiB.
    pub max_rss_kib: u64,
    /// Seconds it ran.
    pub wall_s: f64,
    /// Whether wb stopped it (as opposed to it stopping by itself).
    pub stopped_by_wb: bool,
}

impl Exit {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// `exit code 1`, `killed by signal 9`.
    pub fn describe(&self) -> String {
        match (self.exit_code, self.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "ended".into(),
        }
    }
}

/// A backend failure, naming the process.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A process could not be started.
    #[error("{name}: could not start: {source}")]
    Spawn {
        /// The process.
        name: String,
        /// The failure.
        source: std::io::Error,
    },
    /// A process ended before it was ready.
    #[error("{name} ended before it was ready ({how}); last lines of its logs:\n{tail}")]
    DiedEarly {
        /// The process.
        name: String,
        /// How it ended.
        how: String,
        /// The tail of its logs.
        tail: String,
    },
    /// A process did not become ready in time.
    #[error("{name} was not ready after {secs} s (no {ready}); last lines of its logs:\n{tail}")]
    NotReady {
        /// The process.
        name: String,
        /// The wait.
        secs: u64,
        /// The file that never appeared.
        ready: String,
        /// The tail of its logs.
        tail: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A place to run a cluster.
pub trait Backend {
    /// `local`, `nomad`.
    fn name(&self) -> &'static str;
    /// Prepares whatever the backend needs beyond the run's files.
    fn allocate(&mut self, run: &RunDir, plan: &Plan) -> Result<(), BackendError>;
    /// Makes `genesis/` available to every process.
    fn deploy_genesis(&mut self, run: &RunDir) -> Result<(), BackendError>;
    /// Starts one process and waits (up to `ready_timeout`) until it is ready.
    fn start(
        &mut self,
        run: &RunDir,
        process: &ProcessSpec,
        ready_timeout: Duration,
    ) -> Result<(), BackendError>;
    /// Processes that ended since the last call.
    fn poll_exits(&mut self) -> Vec<Exit>;
    /// Names of the processes still running.
    fn running(&self) -> Vec<String>;
    /// Stops processes together (politely, then forcibly after `grace`) and returns how they
    /// ended.
    fn stop(&mut self, names: &[String], grace: Duration) -> Vec<Exit>;
    /// Brings every process's logs into the run directory.
    fn fetch_logs(&mut self, run: &RunDir) -> Result<(), BackendError>;
    /// Removes what a stopped run leaves that is not a result (sockets, pid files).
    fn cleanup(&mut self, run: &RunDir) -> Result<(), BackendError>;
    /// The files holding a process's trace lines, as far as they exist now.
    fn log_files(&self, run: &RunDir, name: &str) -> Vec<PathBuf>;
    /// The last lines of a process's own output (stderr, stdout), for failure reports.
    fn log_tail(&self, run: &RunDir, name: &str) -> String;

    /// Starts the tracer (if the plan has one).
    fn start_tracer(&mut self, run: &RunDir, plan: &Plan) -> Result<(), BackendError> {
        match &plan.tracer {
            Some(t) => self.start(run, t, Duration::from_secs(30)),
            None => Ok(()),
        }
    }

    /// Starts every node, each ready before the next.
    fn start_nodes(&mut self, run: &RunDir, plan: &Plan) -> Result<(), BackendError> {
        for n in &plan.nodes {
            self.start(run, n, Duration::from_secs(30))?;
        }
        Ok(())
    }

    /// Starts the generator (if the plan has one).
    fn start_generator(&mut self, run: &RunDir, plan: &Plan) -> Result<(), BackendError> {
        match &plan.generator {
            Some(g) => self.start(run, g, Duration::from_secs(30)),
            None => Ok(()),
        }
    }
}

/// The last `n` lines of a file ("" if it cannot be read).
pub fn tail(path: &std::path::Path, n: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(64 * 1024);
    let text = String::from_utf8_lossy(&text[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
