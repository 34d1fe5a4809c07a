//! One run from start to end: refuse if another run is alive, allocate the run directory, start
//! the processes the scenario asks for, watch them until the scenario's end condition, stop
//! everything in order, record how every process ended, and leave a self-describing
//! `meta.json`. Any failure or interruption still stops every process and keeps every log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use wb_profile::profile::{Profile, Scenario};

use crate::backend::{Backend, BackendError, Exit};
use crate::plan::{Plan, ProcessSpec, Role, allocate};
use crate::progress::Progress;
use crate::rundir::{RunDir, RunDirError, assert_none_alive, make_tag};
use crate::timing::{END_TOLERANCE_S, Timing, now_secs, rfc3339};
use crate::watch::{GeneratorStats, NodeStats, Watch};

/// What to run and where.
pub struct RunOptions {
    /// The profile, overrides applied and derived values computed.
    pub profile: Profile,
    /// The directory holding runs (`runs/`).
    pub runs_dir: PathBuf,
    /// The tag; made from time, profile and commit when absent.
    pub tag: Option<String>,
    /// The genesis seed.
    pub seed: u64,
    /// The genesis key cache.
    pub genesis_cache: PathBuf,
    /// No progress output at all.
    pub quiet: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The scenario reached its end and every process ended well.
    Finished,
    /// A process failed, or the run overran.
    Failed,
    /// Stopped by a signal (Ctrl-C, `wb run stop`).
    Interrupted,
}

/// CPU use of the run's processes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuUse {
    /// CPU seconds of all nodes.
    pub nodes_s: f64,
    /// CPU seconds of the tracer.
    pub tracer_s: f64,
    /// CPU seconds of the generator.
    pub generator_s: f64,
    /// CPU seconds of the supervising `wb run` itself (watching logs, reaping).
    pub supervisor_s: f64,
    /// Seconds from the first start to the last stop.
    pub wall_s: f64,
    /// Logical CPUs of the machine.
    pub cpus: usize,
}

impl CpuUse {
    /// Share of the machine's capacity (`cpu_s / (wall × cpus)`).
    pub fn share(&self, cpu_s: f64) -> f64 {
        if self.wall_s > 0.0 {
            cpu_s / (self.wall_s * self.cpus.max(1) as f64)
        } else {
            0.0
        }
    }
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Why, when not finished.
    pub reason: Option<String>,
    /// Every process, as it ended.
    pub processes: BTreeMap<String, Exit>,
    /// Per node, from its traces.
    pub nodes: BTreeMap<String, NodeStats>,
    /// The generator, from its traces.
    pub generator: Option<GeneratorStats>,
    /// CPU use.
    pub cpu: CpuUse,
    /// The chainsync scenario's measurement.
    pub chainsync: Option<Value>,
    /// The live page, while the run went.
    pub live_page: Option<String>,
}

/// A run that could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The run directory.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// Allocation.
    #[error(transparent)]
    Allocate(#[from] crate::plan::AllocateError),
}

/// A finished run: its directory and outcome.
pub struct Finished {
    /// The run directory.
    pub run: RunDir,
    /// What happened.
    pub outcome: Outcome,
}

enum Waited {
    Done,
    Failed(String),
    Interrupted,
    Overdue,
}

struct Supervisor<'a> {
    backend: &'a mut dyn Backend,
    run: &'a RunDir,
    plan: Plan,
    watch: Watch,
    progress: Progress,
    exits: BTreeMap<String, Exit>,
    started: Option<Instant>,
    last_watch: Instant,
    chainsync: Option<Value>,
    /// When the generator sent its first workload transaction (its setup is over).
    workload_started: Option<Instant>,
}

impl Supervisor<'_> {
    fn start(&mut self, p: &ProcessSpec) -> Result<(), String> {
        self.started.get_or_insert_with(Instant::now);
        self.backend
            .start(self.run, p, Duration::from_secs(30))
            .map_err(|e| self.describe_start_error(e))
    }

    fn describe_start_error(&mut self, e: BackendError) -> String {
        for x in self.backend.poll_exits() {
            self.exits.insert(x.name.clone(), x);
        }
        e.to_string()
    }

    fn names(&self, role: impl Fn(Role) -> bool) -> Vec<String> {
        self.plan
            .nodes
            .iter()
            .chain(&self.plan.tracer)
            .chain(&self.plan.generator)
            .filter(|p| role(p.role))
            .map(|p| p.name.clone())
            .collect()
    }

    fn refresh(&mut self) {
        for n in self.names(|r| r != Role::Tracer) {
            let files = self.backend.log_files(self.run, &n);
            self.watch.update(&n, &files);
        }
        if self.workload_started.is_none() && self.watch.generator.sent > 0 {
            self.workload_started = Some(Instant::now());
        }
    }

    fn status_line(&self) -> String {
        let nodes = self.names(|r| matches!(r, Role::Producer | Role::Relay));
        let (lo, hi) = self.watch.chain_range(nodes.iter().map(String::as_str));
        let mut s = format!(
            "slot {} · blocks {lo}–{hi} on {} nodes",
            self.watch.slot().map_or("-".into(), |s| s.to_string()),
            nodes.len()
        );
        if self.plan.generator.is_some() {
            let g = &self.watch.generator;
            s += &format!(" · tx {} sent / {} acked", g.sent, g.accepted);
            if g.rejected > 0 {
                s += &format!(" / {} rejected", g.rejected);
            }
        }
        if let Some(url) = &self.plan.live_page {
            s += &format!(" · live {url}");
        }
        s
    }

    /// Polls until `done` holds, a process fails, a signal arrives or `deadline` passes. A
    /// process that ends by itself with exit code 0 is fine; any other end fails the run,
    /// naming the process with the tail of its logs.
    fn wait(&mut self, deadline: Option<Instant>, done: impl FnMut(&Self) -> bool) -> Waited {
        self.wait_until(|_| deadline, done)
    }

    /// As [`wait`](Self::wait), with a deadline that may move as the run goes.
    fn wait_until(
        &mut self,
        deadline: impl Fn(&Self) -> Option<Instant>,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Waited {
        loop {
            for x in self.backend.poll_exits() {
                let bad = !x.success() && !x.stopped_by_wb;
                let name = x.name.clone();
                let how = x.describe();
                self.exits.insert(name.clone(), x);
                if bad {
                    let tail = self.backend.log_tail(self.run, &name);
                    return Waited::Failed(format!(
                        "{name} ended unexpectedly ({how}); last lines of its logs:\n{tail}"
                    ));
                }
            }
            if crate::signals::received() > 0 {
                return Waited::Interrupted;
            }
            if self.last_watch.elapsed() >= Duration::from_millis(500) {
                self.last_watch = Instant::now();
                self.refresh();
                let line = self.status_line();
                self.progress.status(&line);
            }
            if done(self) {
                return Waited::Done;
            }
            if deadline(self).is_some_and(|d| Instant::now() > d) {
                return Waited::Overdue;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn exited(&self, name: &str) -> bool {
        self.exits.contains_key(name)
    }

    /// Stops whatever still runs: generator, then nodes, then the tracer (so it gets the
    /// nodes' last traces).
    fn stop_all(&mut self) {
        let running = self.backend.running();
        for role in [
            |r| r == Role::Generator,
            |r| matches!(r, Role::Producer | Role::Relay),
            |r| r == Role::Tracer,
        ] {
            let names: Vec<String> = self
                .names(role)
                .into_iter()
                .filter(|n| running.contains(n))
                .collect();
            for x in self.backend.stop(&names, Duration::from_secs(10)) {
                self.exits.insert(x.name.clone(), x);
            }
        }
        // Processes outside the plan (a restarted node under a new spec) go too.
        let rest = self.backend.running();
        for x in self.backend.stop(&rest, Duration::from_secs(10)) {
            self.exits.insert(x.name.clone(), x);
        }
    }
}

/// User + system CPU seconds of this process (not its children).
fn own_cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is valid; getrusage only writes into it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: plain syscall into a local.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    crate::local::cpu_seconds(&u)
}

fn deadline_in(secs: f64) -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs_f64(secs.max(0.0)))
}

/// Seconds until Unix time `t`.
fn until(t: u64) -> f64 {
    t as f64 - wb_trace::time::now_unix_nanos() as f64 / 1e9
}

/// Drives the profile's scenario; `Ok` when it reached its end.
fn scenario(s: &mut Supervisor<'_>, profile: &Profile, timing: &Timing) -> Waited {
    macro_rules! step {
        ($e:expr) => {
            if let Err(reason) = $e {
                return Waited::Failed(reason);
            }
        };
    }
    let d = profile.compute_derived();
    if let Some(t) = s.plan.tracer.clone() {
        s.progress.phase("tracer");
        step!(s.start(&t));
        if let Some(url) = &s.plan.live_page {
            s.progress.println(&format!("live page: {url}"));
        }
    }
    let overrun = END_TOLERANCE_S + 0.5 * d.shutdown_time;
    match profile.scenario {
        Scenario::TracerOnly => {
            s.progress.phase("run");
            match s.wait(deadline_in(until(timing.shutdown_end)), |_| false) {
                Waited::Overdue => Waited::Done,
                other => other,
            }
        }
        Scenario::Idle | Scenario::Fixed => {
            s.progress.phase("nodes");
            for n in s.plan.nodes.clone() {
                step!(s.start(&n));
            }
            s.progress.phase("run");
            let nodes = s.names(|r| matches!(r, Role::Producer | Role::Relay));
            let end = deadline_in(until(timing.shutdown_end) + END_TOLERANCE_S);
            match s.wait(end, |s| nodes.iter().all(|n| s.exited(n))) {
                // Fixed runs end by the clock even if a node did not stop by itself.
                Waited::Overdue if profile.scenario == Scenario::Fixed => Waited::Done,
                Waited::Overdue => Waited::Failed(format!(
                    "nodes did not stop by themselves at slot {} ({} s late)",
                    d.shutdown_slot, END_TOLERANCE_S
                )),
                other => other,
            }
        }
        Scenario::FixedLoaded => {
            s.progress.phase("nodes");
            for n in s.plan.nodes.clone() {
                step!(s.start(&n));
            }
            let Some(g) = s.plan.generator.clone() else {
                return Waited::Failed("the profile has no generator".into());
            };
            s.progress.phase("generator");
            step!(s.start(&g));
            // The clock starts with the workload: the funds split before it waits for blocks,
            // and the generator bounds each of its phases itself (`phase_timeout`).
            let budget = Duration::from_secs_f64(d.generator_duration + overrun);
            let end = |s: &Supervisor<'_>| s.workload_started.map(|t| t + budget);
            match s.wait_until(end, |s| s.exited("generator")) {
                Waited::Done => {}
                Waited::Overdue => {
                    return Waited::Failed(format!(
                        "the generator was still running {:.0} s after its workload began (planned: {:.0} s)",
                        budget.as_secs_f64(),
                        d.generator_duration
                    ));
                }
                other => return other,
            }
            s.progress.phase("cooldown");
            let cooldown = d.shutdown_time - d.generator_duration;
            match s.wait(deadline_in(cooldown), |_| false) {
                Waited::Overdue => Waited::Done,
                other => other,
            }
        }
        Scenario::Chainsync => chainsync(s, &d, timing),
    }
}

/// A producer makes a chain until the shutdown slot; then it serves that chain (not forging) to
/// a fresh node, which stops when it has the whole chain. The measure is blocks per second.
fn chainsync(s: &mut Supervisor<'_>, d: &wb_profile::profile::Derived, timing: &Timing) -> Waited {
    let (Some(server), Some(fresh)) = (
        s.plan
            .nodes
            .iter()
            .find(|n| n.role == Role::Producer)
            .cloned(),
        s.plan.nodes.iter().find(|n| n.role == Role::Relay).cloned(),
    ) else {
        return Waited::Failed(
            "chainsync needs a producer and a non-producing node (composition.with_explorer)"
                .into(),
        );
    };
    s.progress.phase("make chain");
    let mut maker = server.clone();
    maker.args.extend([
        "--shutdown-on-slot-synced".into(),
        d.shutdown_slot.to_string(),
    ]);
    if let Err(e) = s.start(&maker) {
        return Waited::Failed(e);
    }
    let end = deadline_in(until(timing.shutdown_end) + END_TOLERANCE_S);
    let name = server.name.clone();
    match s.wait(end, |s| s.exited(&name)) {
        Waited::Done => {}
        Waited::Overdue => {
            return Waited::Failed(format!("{name} did not stop at slot {}", d.shutdown_slot));
        }
        other => return other,
    }
    s.refresh();
    let Some(tip) = s.watch.nodes.get(&name).and_then(|n| n.tip_block_no) else {
        return Waited::Failed(format!("{name} made no blocks to sync"));
    };
    if let Some(x) = s.exits.remove(&name) {
        s.exits.insert(format!("{name}.make-chain"), x);
    }
    s.progress.phase("sync");
    // Serve the chain without forging more.
    let mut serving = server;
    if let Some(i) = serving.args.iter().position(|a| a == "--pool-key") {
        serving.args.drain(i..i + 2);
    }
    if let Err(e) = s.start(&serving) {
        return Waited::Failed(e);
    }
    let mut syncing = fresh;
    syncing
        .args
        .extend(["--shutdown-on-block-synced".into(), tip.to_string()]);
    let t0 = Instant::now();
    if let Err(e) = s.start(&syncing) {
        return Waited::Failed(e);
    }
    let fresh_name = syncing.name.clone();
    match s.wait(deadline_in(600.0), |s| s.exited(&fresh_name)) {
        Waited::Done => {}
        Waited::Overdue => {
            return Waited::Failed(format!(
                "{fresh_name} did not sync {} blocks in 600 s",
                tip + 1
            ));
        }
        other => return other,
    }
    let secs = t0.elapsed().as_secs_f64();
    let blocks = tip + 1;
    s.chainsync = Some(json!({
        "blocks": blocks,
        "seconds": secs,
        "blocks_per_s": blocks as f64 / secs,
    }));
    s.progress.println(&format!(
        "{fresh_name} synced {blocks} blocks in {secs:.2} s: {:.0} blocks/s",
        blocks as f64 / secs
    ));
    Waited::Done
}

/// Carries out a run with `backend`. Refuses (before creating anything) when another run
/// under the same runs directory is alive.
pub fn run(opts: RunOptions, backend: &mut dyn Backend) -> Result<Finished, RunError> {
    assert_none_alive(&opts.runs_dir)?;
    crate::signals::install();
    let profile = opts.profile;
    let now = now_secs();
    let timing = Timing::allocate(&profile, now);
    let tag = opts
        .tag
        .unwrap_or_else(|| make_tag(now, &profile.name, crate::manifest::short_commit(7)));
    let run = RunDir::create(&opts.runs_dir, &tag)?;
    run.claim()?;
    let manifest = crate::manifest::collect();
    let mut meta = json!({"meta": {
        "tag": tag,
        "profile": profile.name,
        "era": "conway",
        "backend": backend.name(),
        "seed": opts.seed,
        "timing": timing,
        "manifest": manifest,
        "profile_overlay": profile.overlay,
        "profile_content": profile,
        "status": "allocating",
        "allocated_at": rfc3339(now),
    }});
    run.write_meta(&meta)?;
    let mut progress = Progress::new(opts.quiet);
    progress.phase("allocate");
    let plan = match allocate(&run, &profile, opts.seed, &opts.genesis_cache, &timing) {
        Ok(p) => p,
        Err(e) => {
            progress.end_phase(false);
            meta["meta"]["status"] = json!("failed");
            meta["meta"]["outcome"] = json!({"status": "failed", "reason": e.to_string()});
            let _ = run.write_meta(&meta);
            run.release();
            return Err(e.into());
        }
    };
    let cpus = manifest.cpus;
    let live_page = plan.live_page.clone();
    meta["meta"]["status"] = json!("running");
    meta["meta"]["live_page"] = json!(live_page);
    run.write_meta(&meta)?;
    let mut s = Supervisor {
        backend,
        run: &run,
        plan,
        watch: Watch::default(),
        progress,
        exits: BTreeMap::new(),
        started: None,
        last_watch: Instant::now(),
        chainsync: None,
        workload_started: None,
    };
    let prepared = s
        .backend
        .allocate(&run, &s.plan)
        .and_then(|()| s.backend.deploy_genesis(&run));
    let waited = match prepared {
        Ok(()) => scenario(&mut s, &profile, &timing),
        Err(e) => Waited::Failed(e.to_string()),
    };
    // A stop signal that arrived while a process was starting shows as that start failing; the
    // run was interrupted all the same.
    let waited = match waited {
        Waited::Failed(_) if crate::signals::received() > 0 => Waited::Interrupted,
        w => w,
    };
    let ok = matches!(waited, Waited::Done);
    s.progress.end_phase(ok);
    s.progress.phase("stop");
    s.stop_all();
    let _ = s.backend.fetch_logs(&run);
    let _ = s.backend.cleanup(&run);
    s.refresh();
    let (status, reason) = match waited {
        Waited::Done => {
            // Everything that ended must have ended well (a node that failed as it was
            // being stopped, say).
            match s.exits.values().find(|x| !x.success() && !x.stopped_by_wb) {
                Some(x) => (
                    Status::Failed,
                    Some(format!("{} ended with {}", x.name, x.describe())),
                ),
                None => (Status::Finished, None),
            }
        }
        Waited::Failed(r) => (Status::Failed, Some(r)),
        Waited::Interrupted => (Status::Interrupted, Some("stopped by a signal".to_owned())),
        Waited::Overdue => (Status::Failed, Some("overdue".to_owned())),
    };
    s.progress.end_phase(status == Status::Finished);
    let mut cpu = CpuUse {
        wall_s: s.started.map_or(0.0, |t| t.elapsed().as_secs_f64()),
        cpus,
        ..CpuUse::default()
    };
    for p in s
        .plan
        .nodes
        .iter()
        .chain(&s.plan.tracer)
        .chain(&s.plan.generator)
    {
        let used = s.exits.get(&p.name).map_or(0.0, |x| x.cpu_s);
        match p.role {
            Role::Tracer => cpu.tracer_s += used,
            Role::Generator => cpu.generator_s += used,
            Role::Producer | Role::Relay => cpu.nodes_s += used,
        }
    }
    cpu.supervisor_s = own_cpu_seconds();
    let node_names = s.names(|r| matches!(r, Role::Producer | Role::Relay));
    let outcome = Outcome {
        status,
        reason,
        processes: s.exits.clone(),
        nodes: node_names
            .iter()
            .map(|n| (n.clone(), s.watch.nodes.get(n).cloned().unwrap_or_default()))
            .collect(),
        generator: s
            .plan
            .generator
            .is_some()
            .then(|| s.watch.generator.clone()),
        cpu,
        chainsync: s.chainsync.take(),
        live_page,
    };
    meta["meta"]["status"] = json!(status);
    meta["meta"]["finished_at"] = json!(rfc3339(now_secs()));
    meta["meta"]["outcome"] = serde_json::to_value(&outcome).unwrap_or(Value::Null);
    run.write_meta(&meta)?;
    run.release();
    Ok(Finished { run, outcome })
}
