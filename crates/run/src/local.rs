//! The local backend: every process of the run is a child of this `wb`, supervised directly
//! (no supervisord). Each child runs in its own process group, so a terminal's Ctrl-C reaches
//! only wb, which then stops the children in order (generator, nodes, tracer) and keeps their
//! logs; each child also gets SIGTERM from the kernel if wb itself dies (`PR_SET_PDEATHSIG`), so
//! no child outlives its supervisor even when wb is killed with SIGKILL. Children are reaped
//! with `wait4`, which also yields their CPU time and peak RSS.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::backend::{Backend, BackendError, Exit, tail};
use crate::plan::{Plan, ProcessSpec};
use crate::rundir::RunDir;

struct Child {
    pid: libc::pid_t,
    dir: PathBuf,
    started: Instant,
    stopping: bool,
}

/// Local processes of the `wb` binary.
pub struct LocalBackend {
    exe: PathBuf,
    children: BTreeMap<String, Child>,
    exited: Vec<Exit>,
}

impl LocalBackend {
    /// A backend starting `exe` (normally this very binary).
    pub fn new(exe: PathBuf) -> LocalBackend {
        LocalBackend {
            exe,
            children: BTreeMap::new(),
            exited: Vec::new(),
        }
    }

    /// The pid of a running process.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children.get(name).map(|c| c.pid as u32)
    }

    /// Reaps `name` if it ended (`block`: wait for it).
    fn reap(&mut self, name: &str, block: bool) -> Option<Exit> {
        let child = self.children.get(name)?;
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 only writes into our locals.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: plain syscall on a pid we spawned and have not reaped.
        let r = unsafe { libc::wait4(child.pid, &mut status, flags, &mut usage) };
        if r != child.pid {
            return None;
        }
        let child = self.children.remove(name)?;
        let exit = Exit {
            name: name.to_owned(),
            exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            cpu_s: cpu_seconds(&usage),
            max_rss_kib: usage.ru_maxrss.max(0) as u64,
            wall_s: child.started.elapsed().as_secs_f64(),
            stopped_by_wb: child.stopping,
        };
        let code = exit.exit_code.map_or_else(
            || format!("signal {}", exit.signal.unwrap_or(0)),
            |c| c.to_string(),
        );
        let _ = std::fs::write(child.dir.join("exit_code"), code + "\n");
        let _ = std::fs::remove_file(child.dir.join("pid"));
        Some(exit)
    }

    fn signal(&self, name: &str, sig: libc::c_int) {
        if let Some(c) = self.children.get(name) {
            // SAFETY: plain syscall; the group is the child's own (it is its leader).
            unsafe {
                libc::kill(-c.pid, sig);
            }
        }
    }

    fn logs_tail(dir: &Path) -> String {
        let mut out = String::new();
        for f in ["stderr", "stdout"] {
            let t = tail(&dir.join(f), 10);
            if !t.is_empty() {
                out += &format!("  --- {}/{f}\n", dir.display());
                for l in t.lines() {
                    out += "  ";
                    out += l;
                    out += "\n";
                }
            }
        }
        out
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    fn allocate(&mut self, _run: &RunDir, _plan: &Plan) -> Result<(), BackendError> {
        Ok(())
    }

    fn deploy_genesis(&mut self, _run: &RunDir) -> Result<(), BackendError> {
        // Every process reads `../genesis` in place.
        Ok(())
    }

    fn start(
        &mut self,
        run: &RunDir,
        p: &ProcessSpec,
        ready_timeout: Duration,
    ) -> Result<(), BackendError> {
        let dir = run.join(&p.dir);
        let spawn_err = |source| BackendError::Spawn {
            name: p.name.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(spawn_err)?;
        for stale in ["exit_code", "pid"] {
            let _ = std::fs::remove_file(dir.join(stale));
        }
        if let Some(r) = &p.ready {
            let _ = std::fs::remove_file(dir.join(r));
        }
        let open = |f: &str| File::options().create(true).append(true).open(dir.join(f));
        let parent = std::process::id() as libc::pid_t;
        let mut cmd = Command::new(&self.exe);
        cmd.args(&p.args)
            .current_dir(&dir)
            // Error reports in `stderr` end with the error, not a backtrace (panics still have one).
            .env("RUST_LIB_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(open("stdout").map_err(spawn_err)?)
            .stderr(open("stderr").map_err(spawn_err)?)
            .process_group(0);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                // wb died between fork and prctl: do not run unsupervised.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(spawn_err)?;
        let pid = child.id() as libc::pid_t;
        // `wait4` reaps it; dropping `Child` neither waits nor kills.
        drop(child);
        let _ = std::fs::write(dir.join("pid"), format!("{pid}\n"));
        self.children.insert(
            p.name.clone(),
            Child {
                pid,
                dir: dir.clone(),
                started: Instant::now(),
                stopping: false,
            },
        );
        let Some(ready) = &p.ready else {
            return Ok(());
        };
        let deadline = Instant::now() + ready_timeout;
        loop {
            if dir.join(ready).exists() {
                return Ok(());
            }
            if let Some(exit) = self.reap(&p.name, false) {
                self.exited.push(exit.clone());
                return Err(BackendError::DiedEarly {
                    name: p.name.clone(),
                    how: exit.describe(),
                    tail: Self::logs_tail(&dir),
                });
            }
            if Instant::now() > deadline || crate::signals::received() > 0 {
                let e = self.stop(std::slice::from_ref(&p.name), Duration::from_secs(5));
                self.exited.extend(e);
                return Err(BackendError::NotReady {
                    name: p.name.clone(),
                    secs: ready_timeout.as_secs(),
                    ready: ready.display().to_string(),
                    tail: Self::logs_tail(&dir),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn poll_exits(&mut self) -> Vec<Exit> {
        let names: Vec<String> = self.children.keys().cloned().collect();
        let mut out = std::mem::take(&mut self.exited);
        out.extend(names.iter().filter_map(|n| self.reap(n, false)));
        out
    }

    fn running(&self) -> Vec<String> {
        self.children.keys().cloned().collect()
    }

    fn stop(&mut self, names: &[String], grace: Duration) -> Vec<Exit> {
        let mut pending: Vec<String> = Vec::new();
        for n in names {
            if let Some(c) = self.children.get_mut(n) {
                c.stopping = true;
                pending.push(n.clone());
            }
        }
        for n in &pending {
            self.signal(n, libc::SIGTERM);
        }
        let mut out = Vec::new();
        let deadline = Instant::now() + grace;
        while !pending.is_empty() && Instant::now() < deadline {
            pending.retain(|n| match self.reap(n, false) {
                Some(e) => {
                    out.push(e);
                    false
                }
                None => true,
            });
            std::thread::sleep(Duration::from_millis(20));
        }
        for n in &pending {
            self.signal(n, libc::SIGKILL);
        }
        out.extend(pending.iter().filter_map(|n| self.reap(n, true)));
        out
    }

    fn fetch_logs(&mut self, _run: &RunDir) -> Result<(), BackendError> {
        // Logs are written into the run directory already.
        Ok(())
    }

    fn cleanup(&mut self, run: &RunDir) -> Result<(), BackendError> {
        let entries =
            std::fs::read_dir(&run.path).map_err(|e| BackendError::Other(e.to_string()))?;
        for e in entries.filter_map(Result::ok) {
            for f in ["node.socket", "tracer.socket", "pid"] {
                let _ = std::fs::remove_file(e.path().join(f));
            }
        }
        Ok(())
    }

    fn log_tail(&self, run: &RunDir, name: &str) -> String {
        // A process's directory is named after it.
        Self::logs_tail(&run.join(name))
    }

    fn log_files(&self, run: &RunDir, name: &str) -> Vec<PathBuf> {
        let forwarded = run.join("tracer/logs").join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&forwarded)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    // `node.json` is a link to the newest file, which is listed anyway.
                    .filter(|p| {
                        p.extension().is_some_and(|x| x == "json")
                            && p.file_name().is_some_and(|n| n != "node.json")
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        if files.is_empty() {
            files.push(run.join(name).join("stdout"));
        }
        files
    }
}

/// User + system CPU seconds of a resource-usage record.
pub(crate) fn cpu_seconds(u: &libc::rusage) -> f64 {
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

impl Drop for LocalBackend {
    fn drop(&mut self) {
        // Whatever path led here (error, panic), no child is left running.
        let names: Vec<String> = self.children.keys().cloned().collect();
        self.stop(&names, Duration::from_secs(5));
    }
}
