//! `wb`: one binary for the whole workbench. Each subcommand calls into a library crate.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use wb_trace::{Dispatcher, Output, TraceConfig};

mod repeat;
mod results;
mod study;

#[global_allocator]
static ALLOC: wb_trace::alloc::CountingAlloc = wb_trace::alloc::CountingAlloc::SYSTEM;

/// wb — a performance and tracing workbench for Ouroboros (Cardano) node clusters.
#[derive(Parser, Debug)]
#[command(name = "wb", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print every trace namespace wb's components can emit, as Markdown.
    TraceDocs {
        /// A node configuration file (YAML or JSON) whose TraceOptions decide the backends,
        /// detail and visibility shown; trace-dispatcher's defaults if absent.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the Markdown here instead of to standard output.
        #[arg(long)]
        output_file: Option<PathBuf>,
        /// Also write the metrics help (`{metric: help}`, cardano-tracer's `metricsHelp`) here.
        #[arg(long)]
        output_metric_help: Option<PathBuf>,
    },
    /// Run the tracer service: accept trace-forward connections from nodes, write per-node logs,
    /// serve Prometheus metrics and the live page. Stops cleanly on Ctrl-C or SIGTERM.
    Tracer {
        /// The tracer configuration (cardano-tracer's format, YAML or JSON).
        #[arg(long)]
        config: PathBuf,
        /// The least severity of the tracer's own messages on standard output.
        #[arg(long, default_value = "Info")]
        min_log_severity: String,
    },
    /// Run an emulated node (cardano-node's `run` flags where they exist). Stops at the
    /// configured slot or block, or on Ctrl-C/SIGTERM; exits 0 only when it stopped as asked.
    Node {
        /// The node configuration (cardano-node style; `GenesisFile` and the trace keys).
        #[arg(long)]
        config: PathBuf,
        /// The topology file (legacy `Producers` or P2P roots; `latencyMs`/`bandwidthMbps` per peer).
        #[arg(long)]
        topology: PathBuf,
        /// Where the chain is kept.
        #[arg(long)]
        database_path: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host_addr: String,
        /// Port to listen on.
        #[arg(long, default_value_t = 3001)]
        port: u16,
        /// The pool's key seed (64 hex characters); without it the node is a relay.
        #[arg(long)]
        pool_key: Option<PathBuf>,
        /// The node-to-client socket for local tx-submission.
        #[arg(long)]
        socket_path: Option<PathBuf>,
        /// Stop when this slot is reached.
        #[arg(long)]
        shutdown_on_slot_synced: Option<u64>,
        /// Stop when the chain reaches this block number.
        #[arg(long)]
        shutdown_on_block_synced: Option<u64>,
        /// Forward traces to a tracer listening on this Unix socket.
        #[arg(long, conflicts_with = "tracer_socket_network_connect")]
        tracer_socket_path_connect: Option<PathBuf>,
        /// Forward traces to a tracer listening on this host:port.
        #[arg(long)]
        tracer_socket_network_connect: Option<String>,
    },
    /// Run the transaction generator: split the genesis funds, submit transactions at the
    /// configured rate, report requested vs achieved. Exits 1 if a target failed or rejected.
    Txgen {
        /// The generator configuration (tx-generator field names; JSON or YAML).
        #[arg(long)]
        config: PathBuf,
        /// Forward traces to a tracer listening on this Unix socket.
        #[arg(long)]
        tracer_socket_path_connect: Option<PathBuf>,
    },
    /// Benchmark profiles: list them, show one (with overrides), compare two.
    Profile {
        #[command(subcommand)]
        action: ProfileAction,
    },
    /// Run a benchmark: allocate a run directory from a profile, start the tracer, nodes and
    /// generator, watch them to the scenario's end, stop everything, record how every process
    /// ended. `wb run list|show|stop|rm` manage runs.
    Run(RunCmd),
    /// Analyse logs (locli): a run directory (`wb analyse RUN`, a path, a tag or `current`) or
    /// any cluster's logs, partial ones and real cardano-node logs included (`wb analyse logs
    /// FILES-OR-DIRS…`): block propagation, machine and cluster performance, the run summary,
    /// per-block and per-slot tables and the data dictionary, into `analysis/`; `variance`
    /// combines runs, `synth` writes logs with known answers.
    Analyse(AnalyseCmd),
    /// Write the run report of an analysis (a run directory, its `analysis/`, or any
    /// `wb analyse` output directory): one self-contained HTML page, charts inline, every number
    /// with its dictionary entry.
    Report {
        /// The run or analysis directory; with `--compare`, the baseline first, then the runs
        /// to compare with it.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Compare the runs with the first: one column per run, Δ and Δ% per metric, coloured
        /// beyond each metric's noise threshold, distributions overlaid.
        #[arg(long)]
        compare: bool,
        /// Noise thresholds over the built-in ones (JSON: `{"default": 5, "groups": {…},
        /// "metrics": {"cdf0.50": 3}}`, percent).
        #[arg(long, requires = "compare")]
        thresholds: Option<PathBuf>,
        /// Compare runs even of another cluster size, workload or slot length.
        #[arg(long, requires = "compare")]
        force: bool,
        /// Where to write the page (default: `report.html` beside the analysis; with
        /// `--compare`, `compare.html` in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the report as Markdown here, its charts as `<stem>-<chart>.svg` beside
        /// it (for pull requests).
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Compare runs with the first on the terminal: every per-block metric tested (rank test,
    /// bootstrap interval, Holm's correction), with its verdict: regression, improvement, no
    /// change or inconclusive. With `--fail-on-regression`, exits 3 when any metric regressed.
    Compare {
        /// The baseline's run or analysis directory, then the runs to compare with it.
        #[arg(required = true, num_args = 2..)]
        dirs: Vec<PathBuf>,
        /// `text`, `json` or `md`.
        #[arg(long, default_value = "text", value_parser = ["text", "json", "md"])]
        format: String,
        /// Noise thresholds over the built-in ones (as for `wb report --compare`).
        #[arg(long)]
        thresholds: Option<PathBuf>,
        /// Compare runs even of another cluster size, workload or slot length.
        #[arg(long)]
        force: bool,
        /// Exit 3, naming the regressed metrics, when any metric regressed (a CI gate).
        #[arg(long)]
        fail_on_regression: bool,
        /// Record the comparison and its verdicts in the results database (`wb results show`
        /// lists a run's recorded verdicts).
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        db: results::DbArgs,
    },
    /// Store runs in the results database (a SQLite file under the runs directory by default,
    /// or PostgreSQL with `--db postgres://…`): manifest, timing, outcome, every metric's value,
    /// CDF centiles and per-block samples. Idempotent: a run published twice is stored once.
    Publish {
        /// Runs: tags (or `current`) under the runs directory, or run directories.
        runs: Vec<String>,
        /// Every analysed run in the runs directory.
        #[arg(long, conflicts_with = "runs")]
        all: bool,
        #[command(flatten)]
        db: results::DbArgs,
    },
    /// The published runs: `list [--profile P] [--since D]`, `show RUN`.
    Results {
        #[command(subcommand)]
        action: results::ResultsAction,
        #[command(flatten)]
        db: results::DbArgs,
    },
    /// A metric across a profile's published runs (versions and dates): a table, and an HTML
    /// chart marking each run's verdict against the run before it.
    Trend {
        /// The metric's id (`wb dictionary`), e.g. `cdf0.50`.
        metric: String,
        /// The profile whose runs to follow.
        #[arg(long)]
        profile: String,
        /// Where to write the chart (default: `trend-<metric>.html`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// `text` or `json` on standard output.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        /// Noise thresholds over the built-in ones (as for `wb compare`).
        #[arg(long)]
        thresholds: Option<PathBuf>,
        #[command(flatten)]
        db: results::DbArgs,
    },
    /// Studies of several runs answering one question: `tracing PROFILE` (what tracing costs).
    Study {
        #[command(subcommand)]
        action: study::StudyAction,
    },
    /// Print the data dictionary: every metric the analysis computes, with its id, unit,
    /// the traces it comes from, how its values combine and which way is better.
    Dictionary {
        /// `md` (tables per group, as in docs/DICTIONARY.md) or `json` (the entries as data).
        #[arg(long, default_value = "md", value_parser = ["md", "json"])]
        format: String,
    },
    /// Check a trace configuration and print how it resolves for every namespace.
    TraceConfig {
        /// A node configuration file (YAML or JSON).
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum ProfileAction {
    /// Every built-in profile, variants included.
    List,
    /// A profile as JSON, with `derived` computed.
    Show {
        /// The profile.
        name: String,
        /// Override a field: `--set generator.tps=20`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Merge a JSON file on top.
        #[arg(long)]
        overlay: Option<PathBuf>,
    },
    /// The fields in which two profiles differ.
    Diff {
        /// One profile.
        a: String,
        /// The other.
        b: String,
    },
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct RunCmd {
    #[command(subcommand)]
    action: Option<RunAction>,
    /// The profile to run (`wb profile list`).
    profile: Option<String>,
    /// Override a profile field: `--set generator.tps=20`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Merge a JSON file on top of the profile.
    #[arg(long)]
    overlay: Option<PathBuf>,
    /// The run's tag (directory name); default: UTC time, profile and wb's commit.
    #[arg(long)]
    tag: Option<String>,
    /// Where the cluster runs.
    #[arg(long, default_value = "local")]
    backend: String,
    /// The genesis seed: the same profile and seed give the same keys, genesis and topology.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The directory holding runs (default: $WB_RUNS_DIR, else `runs`).
    #[arg(long, global = true)]
    runs_dir: Option<PathBuf>,
    /// The genesis key cache (default: $WB_CACHE_DIR/genesis, else ~/.cache/wb/genesis).
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
    /// No progress lines (the summary is still printed).
    #[arg(long)]
    quiet: bool,
    /// Do not publish the analysed run to the results database at the end.
    #[arg(long)]
    no_publish: bool,
    /// The results database to publish to (as for `wb publish`; default: $WB_DB, else
    /// `<runs-dir>/results.sqlite`).
    #[arg(long)]
    db: Option<String>,
    /// Run the profile N times, one after another, as one series (`runs/<series>/`, its runs
    /// `<series>-1…N`): the input of `wb compare` with run-to-run variation as the noise.
    #[arg(long, default_value_t = 1)]
    repeat: u64,
    /// With --repeat: `same` genesis seed for every run, or `fresh` (seed, seed + 1, …).
    #[arg(long, default_value = "same", value_parser = ["same", "fresh"])]
    seeds: String,
}

#[derive(Subcommand, Debug)]
enum RunAction {
    /// Every run, oldest first, with its status.
    List,
    /// A run's summary (from its `meta.json`).
    Show {
        /// The run's tag, or `current`.
        #[arg(default_value = "current")]
        tag: String,
    },
    /// Stop a live run (as Ctrl-C would: processes stopped in order, logs kept).
    Stop {
        /// The run's tag, or `current`.
        #[arg(default_value = "current")]
        tag: String,
    },
    /// Remove runs that are not alive.
    Rm {
        /// Tags of the runs.
        #[arg(required = true)]
        tags: Vec<String>,
    },
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct AnalyseCmd {
    #[command(subcommand)]
    action: Option<AnalyseAction>,
    /// A run directory, or a run's tag (or `current`) under the runs directory.
    run: Option<String>,
    /// The directory holding runs (default: $WB_RUNS_DIR, else `runs`).
    #[arg(long, global = true)]
    runs_dir: Option<PathBuf>,
    /// Where to write the results (default: the run's `analysis/`).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// A Shelley genesis file (default: the run's; for other logs, a known network's by
    /// --network or by the magic the logs state, else slot length and system start inferred
    /// from the leadership checks, and the summary says so; with none of these, everything
    /// that needs no slot timing, and the summary lists what is missing).
    #[arg(long, global = true)]
    genesis: Option<PathBuf>,
    /// A chain filter: a built-in name (`unitary`, `adopt-10`, `size-full`, `no-rewards`, …)
    /// or a locli filter file; repeatable, all must pass.
    #[arg(long = "filter", global = true)]
    filters: Vec<String>,
    /// A chain filter as a JSON expression (locli's syntax, plus `COr`); repeatable.
    #[arg(long = "filter-expr", global = true)]
    filter_exprs: Vec<String>,
    /// A public network's published slot timing instead of a genesis file: mainnet, preprod,
    /// preview or sanchonet (default: the network whose magic the logs state, if any).
    #[arg(long, global = true)]
    network: Option<String>,
    /// Keep the figures relative to slot starts although the genesis does not fit the logs
    /// (events well before their slot's start, leadership checks hours away from their slot).
    #[arg(long, global = true)]
    force: bool,
    /// Cores of the machines the logs come from (default: a run's manifest): CPU above
    /// 100 % × cores is reported as not measured.
    #[arg(long, global = true)]
    cores: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum AnalyseAction {
    /// Log files of any cluster (real cardano-nodes included); hosts are named from the file
    /// names as locli does (`logs-node-3.json` → `node-3`, `node-3/node-….json` → `node-3`).
    Logs {
        /// The files, or directories to take every `*.json`, `*.log` and `stdout` under (a
        /// tracer's `logs/`; of a `wb run` directory, its logs only); a file reached twice,
        /// e.g. through the tracer's `node.json` link, is read once.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Name each file's host from the `host` field of its lines instead of its file name.
        #[arg(long)]
        host_field: bool,
    },
    /// Several analysed runs of one profile combined, metric by metric (locli's "variance"):
    /// written to --out (default: `<runs-dir>/<newest tag>-variance/`).
    Variance {
        /// The runs: directories, tags or `current`; a series (`wb run --repeat`) stands
        /// for its runs.
        #[arg(required = true, num_args = 1..)]
        runs: Vec<String>,
    },
    /// Writes synthetic cluster logs with known answers into `--out` (`node-N/node-….json`)
    /// and prints their truth's totals: to test and measure the analysis at any size.
    Synth {
        /// Hosts.
        #[arg(long, default_value_t = 52)]
        hosts: usize,
        /// Slots to generate.
        #[arg(long, conflicts_with = "size", required_unless_present = "size")]
        slots: Option<u64>,
        /// Total size instead of slots: bytes, or with a K/M/G suffix (`5G`).
        #[arg(long, value_parser = parse_size)]
        size: Option<u64>,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Files per host (rotated at slot boundaries).
        #[arg(long, default_value_t = 1)]
        rotate: usize,
    },
}

/// `5G`, `200M`, `64K` or plain bytes (powers of 1000).
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, scale) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1e3),
        Some((i, 'M' | 'm')) => (&s[..i], 1e6),
        Some((i, 'G' | 'g')) => (&s[..i], 1e9),
        _ => (s, 1.0),
    };
    num.parse::<f64>()
        .map(|n| (n * scale) as u64)
        .map_err(|e| format!("{s}: {e}"))
}

/// `wb analyse synth`: generates, then prints what was written.
fn analyse_synth(o: &wb_analyse::synth::Options, out: &Path) -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t = wb_analyse::synth::generate(o, out, threads)
        .with_context(|| format!("writing {}", out.display()))?;
    let bytes: u64 = t.hosts.iter().map(|h| h.bytes).sum();
    let lines: u64 = t.hosts.iter().map(|h| h.lines).sum();
    println!(
        "{} hosts, {} slots, {lines} lines, {:.1} MB; {} blocks on the main chain, {} lost → {}",
        t.hosts.len(),
        t.slots,
        bytes as f64 / 1e6,
        t.main.len(),
        t.forks.len(),
        out.display()
    );
    Ok(())
}

/// Analyses every host's logs, writes the results into `out` and prints the one-screen summary.
fn analyse_hosts(
    hosts: &[wb_analyse::inventory::HostLogs],
    out: &Path,
    opts: &wb_analyse::analysis::Options,
) -> anyhow::Result<()> {
    let opts = wb_analyse::analysis::Options {
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..opts.clone()
    };
    let a = wb_analyse::analysis::analyse(hosts, &opts, out)?;
    wb_analyse::analysis::write(&a, out)?;
    print!("{}", wb_analyse::analysis::render(&a));
    println!("→ {}", out.display());
    Ok(())
}

fn analyse_cmd(cmd: AnalyseCmd) -> anyhow::Result<()> {
    let mut opts = wb_analyse::analysis::Options {
        genesis: cmd.genesis,
        filters: cmd.filters,
        filter_exprs: cmd.filter_exprs,
        cores: cmd.cores,
        network: cmd.network,
        force: cmd.force,
        ..Default::default()
    };
    match cmd.action {
        Some(AnalyseAction::Logs { files, host_field }) => {
            let out = cmd.out.unwrap_or_else(|| PathBuf::from("analysis"));
            let files = wb_analyse::inventory::log_files(&files)?;
            let hosts = if host_field {
                wb_analyse::inventory::group_by_host_field(&files)
            } else {
                wb_analyse::inventory::group_by_host(&files)
            };
            analyse_hosts(&hosts, &out, &opts)
        }
        Some(AnalyseAction::Variance { runs }) => {
            let runs_dir = runs_dir(cmd.runs_dir);
            let mut results = Vec::new();
            // A series (`wb run --repeat`) stands for its runs.
            let mut expanded = Vec::new();
            for r in &runs {
                let series = Path::new(r).join("series.json");
                let series = if series.is_file() {
                    series
                } else {
                    runs_dir.join(r).join("series.json")
                };
                match std::fs::read_to_string(&series) {
                    Ok(text) => {
                        let v: serde_json::Value = serde_json::from_str(&text)
                            .with_context(|| format!("{}: not JSON", series.display()))?;
                        let root = series
                            .parent()
                            .and_then(Path::parent)
                            .unwrap_or(Path::new("."));
                        for t in v["runs"].as_array().into_iter().flatten() {
                            expanded.push(
                                root.join(t.as_str().unwrap_or_default())
                                    .display()
                                    .to_string(),
                            );
                        }
                    }
                    Err(_) => expanded.push(r.clone()),
                }
            }
            for r in &expanded {
                let dir = run_path(&runs_dir, r)?;
                let tag = dir
                    .file_name()
                    .map_or(r.clone(), |n| n.to_string_lossy().into_owned());
                results.push(wb_analyse::variance::RunResults::read(
                    &dir.join("analysis"),
                    &tag,
                )?);
            }
            let v = wb_analyse::variance::combine_runs(&results);
            let newest = v.runs.iter().max().cloned().unwrap_or_default();
            let out = cmd
                .out
                .unwrap_or_else(|| runs_dir.join(format!("{newest}-variance")));
            v.write(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            print!("{}", wb_analyse::variance::render(&v));
            println!("→ {}", out.display());
            Ok(())
        }
        Some(AnalyseAction::Synth {
            hosts,
            slots,
            size,
            seed,
            rotate,
        }) => {
            let out = cmd
                .out
                .ok_or_else(|| anyhow::anyhow!("wb analyse synth: --out DIR is needed"))?;
            let length = match (slots, size) {
                (Some(s), _) => wb_analyse::synth::Length::Slots(s),
                (None, Some(b)) => wb_analyse::synth::Length::Bytes(b),
                (None, None) => anyhow::bail!("wb analyse synth: --slots or --size"),
            };
            let o = wb_analyse::synth::Options {
                hosts,
                length,
                seed,
                rotate,
                ..wb_analyse::synth::Options::default()
            };
            analyse_synth(&o, &out)
        }
        None => {
            let arg = cmd.run.ok_or_else(|| {
                anyhow::anyhow!("wb analyse: which run? (a directory, a tag or `current`)")
            })?;
            let dir = run_path(&runs_dir(cmd.runs_dir), &arg)?;
            let out = cmd.out.unwrap_or_else(|| dir.join("analysis"));
            opts.run = Some(dir.clone());
            analyse_hosts(&wb_analyse::inventory::run_dir_logs(&dir), &out, &opts)
        }
    }
}

/// A run given as a directory (with a `meta.json`) or a tag (or `current`) under `runs_dir`.
fn run_path(runs_dir: &Path, arg: &str) -> anyhow::Result<PathBuf> {
    Ok(if Path::new(arg).join("meta.json").is_file() {
        PathBuf::from(arg)
    } else {
        wb_run::rundir::RunDir::open(runs_dir, arg)?.path
    })
}

fn runs_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("WB_RUNS_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("runs"))
}

fn genesis_cache(arg: Option<PathBuf>) -> PathBuf {
    if let Some(p) = arg {
        return p;
    }
    if let Some(p) = std::env::var_os("WB_CACHE_DIR") {
        return PathBuf::from(p).join("genesis");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("wb").join("genesis")
}

/// `--set PATH=VALUE` pairs.
fn parse_sets(sets: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    sets.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--set {s}: expected PATH=VALUE"))
        })
        .collect()
}

/// An `--overlay` file's JSON.
fn read_overlay(path: Option<&Path>) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(p) = path else { return Ok(None) };
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(Some(
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", p.display()))?,
    ))
}

fn run_cmd(cmd: RunCmd) -> anyhow::Result<()> {
    let root = runs_dir(cmd.runs_dir);
    match cmd.action {
        Some(RunAction::List) => {
            for run in wb_run::rundir::list(&root)? {
                let meta = run.meta().unwrap_or_default();
                let status = match (run.alive(), meta["meta"]["status"].as_str()) {
                    (Some(_), _) => "running",
                    // Marked running but nobody supervises it: wb itself was killed.
                    (None, Some("running" | "allocating")) => "abandoned",
                    (None, s) => s.unwrap_or("?"),
                };
                println!(
                    "{:<60} {:<12} {}",
                    run.tag,
                    status,
                    meta["meta"]["profile"].as_str().unwrap_or("?")
                );
            }
            Ok(())
        }
        Some(RunAction::Show { tag }) => {
            let run = wb_run::rundir::RunDir::open(&root, &tag)?;
            print!("{}", wb_run::summary::render(&run.meta()?, &run.path));
            if let Some(pid) = run.alive() {
                println!("  still running (wb pid {pid})");
            }
            Ok(())
        }
        Some(RunAction::Stop { tag }) => {
            let run = wb_run::rundir::RunDir::open(&root, &tag)?;
            let Some(pid) = run.alive() else {
                println!("run {} is not running", run.tag);
                return Ok(());
            };
            // SAFETY: plain syscall; `alive` checked the pid is this run's supervisor.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while run.alive().is_some() {
                anyhow::ensure!(
                    std::time::Instant::now() < deadline,
                    "run {} (wb pid {pid}) did not stop within 120 s",
                    run.tag
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            println!("run {} stopped", run.tag);
            Ok(())
        }
        Some(RunAction::Rm { tags }) => {
            for tag in tags {
                let run = wb_run::rundir::RunDir::open(&root, &tag)?;
                wb_run::rundir::remove(&root, &run)?;
                println!("removed {}", run.tag);
            }
            Ok(())
        }
        None => {
            let name = cmd
                .profile
                .ok_or_else(|| anyhow::anyhow!("wb run: which profile? (`wb profile list`)"))?;
            let overlay = read_overlay(cmd.overlay.as_deref())?;
            let profile =
                wb_profile::catalog::load(&name, &parse_sets(&cmd.sets)?, overlay.as_ref())
                    .context("the profile is refused; nothing was started")?;
            let exprs: Vec<String> = profile
                .analysis
                .filter_exprs
                .iter()
                .map(|v| v.to_string())
                .collect();
            wb_analyse::filter::Filters::load(&profile.analysis.filters, &exprs)
                .context("the profile's analysis filters are refused; nothing was started")?;
            anyhow::ensure!(
                cmd.backend == "local",
                "--backend {}: only `local` is available in this wb",
                cmd.backend
            );
            anyhow::ensure!(cmd.repeat >= 1, "--repeat {}: at least 1", cmd.repeat);
            let how = repeat::How {
                root: root.clone(),
                seed: cmd.seed,
                seeds: cmd.seeds,
                cache: genesis_cache(cmd.cache_dir.clone()),
                quiet: cmd.quiet,
                publish_to: (!cmd.no_publish).then(|| results::db_spec(cmd.db.clone(), &root)),
            };
            let status = if cmd.repeat == 1 {
                how.run_once(profile, cmd.tag)?.0
            } else {
                let series = cmd.tag.unwrap_or_else(|| {
                    format!("{}-x{}", repeat::new_tag(&profile.name), cmd.repeat)
                });
                how.series(&profile, &series, cmd.repeat)?
            };
            std::process::exit(repeat::exit_code(status));
        }
    }
}

fn profile(action: ProfileAction) -> anyhow::Result<()> {
    match action {
        ProfileAction::List => {
            for name in wb_profile::catalog::names() {
                let p = wb_profile::catalog::load(&name, &[], None)?;
                println!("{name:<28} {}", p.desc);
            }
        }
        ProfileAction::Show {
            name,
            sets,
            overlay,
        } => {
            let overlay = read_overlay(overlay.as_deref())?;
            let p = wb_profile::catalog::load(&name, &parse_sets(&sets)?, overlay.as_ref())?;
            println!("{}", serde_json::to_string_pretty(&p)?);
        }
        ProfileAction::Diff { a, b } => {
            let (x, y) = (wb_profile::catalog::raw(&a)?, wb_profile::catalog::raw(&b)?);
            for (field, l, r) in wb_profile::catalog::diff(&x, &y) {
                println!("{field}: {l} → {r}");
            }
        }
    }
    Ok(())
}

/// `wb report`: the run report of an analysis directory.
fn report(dir: &Path, out: Option<PathBuf>) -> anyhow::Result<()> {
    let a = wb_report::Analysis::read(dir)?;
    let out = out.unwrap_or_else(|| {
        // Beside the analysis: a run directory gets `runs/<tag>/report.html`.
        match a.dir.parent() {
            Some(p) if a.dir.file_name().is_some_and(|n| n == "analysis") => p.join("report.html"),
            _ => a.dir.join("report.html"),
        }
    });
    let page = wb_report::run_report(&a);
    std::fs::write(&out, &page).with_context(|| format!("writing {}", out.display()))?;
    println!("report: {} ({} KiB)", out.display(), page.len() / 1024);
    Ok(())
}

/// `wb report --compare BASE RUN…`: the comparison report.
fn compare_report(
    dirs: &[PathBuf],
    thresholds: Option<&Path>,
    force: bool,
    out: Option<PathBuf>,
    markdown: Option<PathBuf>,
) -> anyhow::Result<()> {
    let t = thresholds_of(thresholds)?;
    let runs = wb_report::compare::read_runs(dirs)?;
    let page = wb_report::comparison_report(&runs, &t, force)?;
    let out = out.unwrap_or_else(|| PathBuf::from("compare.html"));
    std::fs::write(&out, &page).with_context(|| format!("writing {}", out.display()))?;
    println!("comparison: {} ({} KiB)", out.display(), page.len() / 1024);
    match markdown {
        Some(md) => write_markdown(&md, |stem| {
            Ok(wb_report::markdown::comparison_markdown(
                &runs, &t, force, stem,
            )?)
        }),
        None => Ok(()),
    }
}

/// The noise thresholds: the built-in ones, with a file's over them.
fn thresholds_of(path: Option<&Path>) -> anyhow::Result<wb_report::Thresholds> {
    let builtin = wb_report::Thresholds::builtin();
    Ok(match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            wb_report::Thresholds::read(&text, &p.display().to_string(), Some(&builtin))?
        }
        None => builtin,
    })
}

/// Writes a Markdown report to `path` and its charts beside it, named after its stem.
fn write_markdown(
    path: &Path,
    render: impl FnOnce(&str) -> anyhow::Result<wb_report::markdown::Markdown>,
) -> anyhow::Result<()> {
    let stem = path
        .file_stem()
        .map_or_else(|| "report".to_owned(), |s| s.to_string_lossy().into_owned());
    let md = render(&stem)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(path, &md.text).with_context(|| format!("writing {}", path.display()))?;
    for (name, svg) in &md.charts {
        let p = dir.join(name);
        std::fs::write(&p, svg).with_context(|| format!("writing {}", p.display()))?;
    }
    println!(
        "markdown: {} and {} charts beside it",
        path.display(),
        md.charts.len()
    );
    Ok(())
}

/// Errors are the user's (a missing file, a bad profile, logs that do not fit their genesis):
/// one message with its causes, never a backtrace, whatever `RUST_BACKTRACE` says. Bugs panic,
/// and a panic keeps its backtrace.
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A listing piped into `head` ends quietly, as other command-line tools do, instead of
    // panicking on the closed pipe. Never for the services, which write to sockets whose peers
    // may go away: for them a closed peer is an error to handle, not a signal that kills.
    if matches!(
        cli.command,
        Command::Results { .. }
            | Command::Trend { .. }
            | Command::Compare { .. }
            | Command::Dictionary { .. }
            | Command::TraceDocs { .. }
            | Command::Profile { .. }
    ) {
        // SAFETY: plain syscall, before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::TraceDocs {
            config,
            output_file,
            output_metric_help,
        } => trace_docs(config, output_file, output_metric_help),
        Command::TraceConfig { file } => trace_config(&file),
        Command::Report {
            dirs,
            compare: false,
            out,
            markdown,
            ..
        } => match dirs.as_slice() {
            [dir] => {
                report(dir, out)?;
                match markdown {
                    Some(md) => {
                        let a = wb_report::Analysis::read(dir)?;
                        write_markdown(&md, |stem| Ok(wb_report::markdown::run_markdown(&a, stem)))
                    }
                    None => Ok(()),
                }
            }
            _ => anyhow::bail!("wb report: one run or analysis directory (or --compare BASE RUN…)"),
        },
        Command::Report {
            dirs,
            compare: true,
            thresholds,
            force,
            out,
            markdown,
        } => compare_report(&dirs, thresholds.as_deref(), force, out, markdown),
        Command::Compare {
            dirs,
            format,
            thresholds,
            force,
            fail_on_regression,
            publish,
            db,
        } => {
            let t = thresholds_of(thresholds.as_deref())?;
            let runs = wb_report::compare::read_runs(&dirs)?;
            let (text, regressed) = wb_report::compare::verdicts(&runs, &t, force, &format)?;
            print!("{text}");
            if publish {
                results::publish_verdicts(&runs, &t, &db)?;
            }
            if fail_on_regression && !regressed.is_empty() {
                eprintln!("regression: {}", regressed.join(", "));
                std::process::exit(3);
            }
            Ok(())
        }
        Command::Study { action } => study::study(action),
        Command::Publish { runs, all, db } => results::publish(&runs, all, &db),
        Command::Results { action, db } => results::results(action, &db),
        Command::Trend {
            metric,
            profile,
            out,
            format,
            thresholds,
            db,
        } => results::trend(&metric, &profile, out, &format, thresholds.as_deref(), &db),
        Command::Dictionary { format } => {
            let text = match format.as_str() {
                "json" => {
                    let entries: Vec<_> = wb_analyse::field::all().collect();
                    serde_json::to_string_pretty(&entries)? + "\n"
                }
                _ => wb_analyse::field::markdown(),
            };
            print!("{text}");
            Ok(())
        }
        Command::Tracer {
            config,
            min_log_severity,
        } => tracer(&config, &min_log_severity),
        Command::Profile { action } => profile(action),
        Command::Run(cmd) => run_cmd(cmd),
        Command::Analyse(cmd) => analyse_cmd(cmd),
        Command::Txgen {
            config,
            tracer_socket_path_connect,
        } => txgen(&config, tracer_socket_path_connect),
        Command::Node {
            config,
            topology,
            database_path,
            host_addr,
            port,
            pool_key,
            socket_path,
            shutdown_on_slot_synced,
            shutdown_on_block_synced,
            tracer_socket_path_connect,
            tracer_socket_network_connect,
        } => {
            let args = wb_node::config::RunArgs {
                config,
                topology,
                database_path,
                host_addr: Some(host_addr),
                port,
                pool_key,
                socket_path,
                shutdown_on_slot: shutdown_on_slot_synced,
                shutdown_on_block: shutdown_on_block_synced,
            };
            let tracer = tracer_socket_path_connect
                .map(wb_trace::forwarder::Address::Unix)
                .or(tracer_socket_network_connect.map(wb_trace::forwarder::Address::Tcp));
            node(&args, tracer)
        }
    }
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<(TraceConfig, String)> {
    match path {
        Some(p) => Ok((TraceConfig::from_file(p)?, format!("`{}`", p.display()))),
        None => Ok((
            TraceConfig::default(),
            "trace-dispatcher's defaults".to_owned(),
        )),
    }
}

/// A dispatcher with no output, holding a tracer for every event type of every component, so
/// that its namespaces can be listed.
fn catalog(config: TraceConfig) -> anyhow::Result<Dispatcher> {
    let d = Dispatcher::builder()
        .config(config)
        .output(Output::None)
        .build()?;
    wb_trace::register_all(&d);
    d.tracer::<wb_tracer::TracerEvent>("Tracer");
    wb_node::events::register(&d);
    d.tracer::<wb_txgen::events::TxgenEvent>("Benchmark");
    Ok(d)
}

fn trace_docs(
    config: Option<PathBuf>,
    output: Option<PathBuf>,
    metric_help: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (cfg, source) = load_config(config.as_ref())?;
    let d = catalog(cfg.clone())?;
    let namespaces = d.namespaces();
    let md = wb_trace::docs::render_markdown(&namespaces, &cfg, &source);
    match output {
        Some(p) => std::fs::write(&p, md).with_context(|| format!("writing {}", p.display()))?,
        None => print!("{md}"),
    }
    if let Some(p) = metric_help {
        let json = wb_trace::docs::metrics_help_json(&namespaces, &cfg);
        std::fs::write(&p, json).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

fn tracer(config: &Path, min_severity: &str) -> anyhow::Result<()> {
    let cfg = wb_tracer::TracerConfig::from_file(config)?;
    let severity: wb_trace::SeverityFilter =
        min_severity.parse().with_context(|| "--min-log-severity")?;
    let resource_ms = cfg.resource_freq.map_or(0, |d| d.as_millis());
    let own = TraceConfig::from_yaml_str(
        &format!(
            "TraceOptionResourceFrequency: {resource_ms}\nTraceOptions:\n  '':\n    severity: {severity}\n    backends: [Stdout MachineFormat, EKGBackend]\n"
        ),
        "wb tracer",
    )?;
    let mut dispatcher = Dispatcher::builder()
        .config(own)
        .sample_resources(resource_ms > 0)
        .build()?;
    let tracer = dispatcher.tracer::<wb_tracer::TracerEvent>("Tracer");
    dispatcher.announce();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let service =
            wb_tracer::TracerService::start(cfg, Some(tracer), Default::default()).await?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        service.shutdown().await;
        anyhow::Ok(())
    })?;
    dispatcher.shutdown();
    Ok(())
}

fn node(
    args: &wb_node::config::RunArgs,
    tracer: Option<wb_trace::forwarder::Address>,
) -> anyhow::Result<()> {
    let cfg = wb_node::config::NodeConfig::load(args)?;
    let mut builder = Dispatcher::builder()
        .config(cfg.trace.clone())
        .sample_resources(true);
    if let Some(address) = tracer {
        let genesis = wb_ledger_genesis(&cfg)?;
        let settings = wb_trace::forwarder::ForwarderSettings::from_config(
            &cfg.trace,
            address,
            genesis.network_magic,
            &cfg.node_name,
        );
        builder = builder.forward_to(settings);
    }
    let mut dispatcher = builder.build()?;
    let tracers = wb_node::events::register(&dispatcher);
    dispatcher.announce();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let exit = rt.block_on(async {
        let node = wb_node::node::Node::start(&cfg, tracers).await?;
        let stopper = node.stopper();
        tokio::spawn(async move {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stopper.stop();
        });
        anyhow::Ok(node.wait().await)
    })?;
    dispatcher.shutdown();
    eprintln!("wb node: stopped ({exit:?})");
    Ok(())
}

fn txgen(config: &Path, tracer: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = wb_txgen::config::TxgenConfig::from_file(config)?;
    let trace = TraceConfig::from_yaml_str(
        "TraceOptionNodeName: txgen\nTraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat, Forwarder]\n",
        "wb txgen",
    )?;
    let mut builder = Dispatcher::builder()
        .config(trace.clone())
        .sample_resources(true);
    if let Some(sock) = tracer {
        let magic = wb_ledger::genesis::Genesis::from_file(&cfg.genesis_file)?.network_magic;
        let settings = wb_trace::forwarder::ForwarderSettings::from_config(
            &trace,
            wb_trace::forwarder::Address::Unix(sock),
            magic,
            "txgen",
        );
        builder = builder.forward_to(settings);
    }
    let mut dispatcher = builder.build()?;
    let tracer = dispatcher.tracer::<wb_txgen::events::TxgenEvent>("Benchmark");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(wb_txgen::run::run(&cfg, &tracer));
    dispatcher.shutdown();
    let s = result?;
    eprintln!(
        "wb txgen: sent {} (requested {:.1} tx/s, achieved {:.1} tx/s{}), accepted {}, rejected {}, adopted {}",
        s.sent,
        s.requested_tps,
        s.achieved_tps,
        if s.generator_bound {
            ", GENERATOR-BOUND"
        } else {
            ""
        },
        s.accepted,
        s.rejected,
        s.adopted
    );
    for f in &s.failures {
        eprintln!("wb txgen: failure: {f}");
    }
    for (reason, n) in &s.rejections {
        eprintln!("wb txgen: rejected {n}×: {reason}");
    }
    if !s.failures.is_empty() || s.rejected > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn wb_ledger_genesis(
    cfg: &wb_node::config::NodeConfig,
) -> anyhow::Result<wb_ledger::genesis::Genesis> {
    Ok(wb_ledger::genesis::Genesis::from_file(&cfg.genesis_file)?)
}

fn trace_config(file: &Path) -> anyhow::Result<()> {
    let cfg = TraceConfig::from_file(file)?;
    let d = catalog(cfg.clone())?;
    println!("{}: valid", file.display());
    println!(
        "{:<50} {:<9} {:<9} {:<8} backends",
        "namespace", "severity", "detail", "limit/s"
    );
    for ns in d.namespaces() {
        let r = cfg.resolve(&ns.name);
        let backends: Vec<String> = r.backends.iter().map(ToString::to_string).collect();
        let limit = r
            .max_frequency
            .map_or_else(|| "-".to_owned(), |f| f.to_string());
        println!(
            "{:<50} {:<9} {:<9} {:<8} {}",
            ns.name,
            r.severity.to_string(),
            r.detail.to_string(),
            limit,
            backends.join(", ")
        );
    }
    for w in d.consistency_warnings() {
        println!("warning: {w}");
    }
    Ok(())
}
