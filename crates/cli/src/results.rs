//! `wb publish`, `wb results` and `wb trend`: the results database from the command line.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use wb_results::publish::Published;

/// Which results database: `--db`, else `$WB_DB`, else `<runs>/results.sqlite`.
#[derive(clap::Args, Debug, Clone)]
pub struct DbArgs {
    /// The results database: a SQLite file, or `postgres://user@host:port/dbname` (a password
    /// in the URL or in `PGPASSWORD`; `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` fill in what
    /// the URL leaves out). Default: $WB_DB, else `<runs-dir>/results.sqlite`.
    #[arg(long, global = true)]
    pub db: Option<String>,
    /// The directory holding runs (default: $WB_RUNS_DIR, else `runs`).
    #[arg(long, global = true)]
    pub runs_dir: Option<PathBuf>,
}

impl DbArgs {
    /// The runs directory.
    pub fn runs(&self) -> PathBuf {
        crate::runs_dir(self.runs_dir.clone())
    }

    /// The database's address.
    pub fn spec(&self) -> String {
        db_spec(self.db.clone(), &self.runs())
    }
}

/// `--db`, else `$WB_DB`, else the runs directory's SQLite file.
pub fn db_spec(arg: Option<String>, runs_dir: &Path) -> String {
    arg.or_else(|| std::env::var("WB_DB").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| wb_results::default_db(runs_dir))
}

/// `wb results` actions.
#[derive(Subcommand, Debug)]
pub enum ResultsAction {
    /// The published runs, oldest first.
    List {
        /// Only runs of this profile.
        #[arg(long)]
        profile: Option<String>,
        /// Only runs allocated at or after this date or time (`2026-12-01`, RFC 3339).
        #[arg(long)]
        since: Option<String>,
    },
    /// One published run: its manifest and every metric's value.
    Show {
        /// The run's tag.
        run: String,
    },
}

/// Publishes runs (tags, `current` or directories; or every analysed run with `all`).
pub fn publish(runs: &[String], all: bool, db: &DbArgs) -> anyhow::Result<()> {
    let root = db.runs();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if all {
        for r in wb_run::rundir::list(&root)? {
            if r.alive().is_some() {
                println!("{}: still running, skipped", r.tag);
            } else if !r.path.join("analysis/summary.json").is_file() {
                println!("{}: not analysed, skipped", r.tag);
            } else {
                dirs.push(r.path);
            }
        }
    }
    for r in runs {
        dirs.push(crate::run_path(&root, r)?);
    }
    anyhow::ensure!(
        !dirs.is_empty(),
        "wb publish: which runs? (tags, directories, or --all)"
    );
    let mut store = wb_results::open(&db.spec())?;
    for d in &dirs {
        let rec = wb_results::RunRecord::read(d)?;
        let done = wb_results::publish::publish(&mut store, &rec)?;
        println!(
            "{}: {} ({} metrics) in {}",
            rec.run_id,
            done.describe(),
            rec.values.len(),
            store.location
        );
    }
    Ok(())
}

/// Publishes one finished run to the default database at the end of `wb run`: a failure is
/// reported, never fatal, and the run directory stays as it is for a retry.
pub fn publish_after_run(dir: &Path, spec: &str) {
    let outcome = wb_results::RunRecord::read(dir)
        .map_err(anyhow::Error::from)
        .and_then(|rec| {
            let mut store = wb_results::open(spec)?;
            let done: Published = wb_results::publish::publish(&mut store, &rec)?;
            Ok((done, store.location.to_string()))
        });
    match outcome {
        Ok((done, db)) => println!("published: {} in {db}", done.describe()),
        Err(e) => println!(
            "  publish failed: {e:#}; the run is kept, retry with `wb publish {}`",
            dir.display()
        ),
    }
}

/// Records a comparison's verdicts (`wb compare --publish`): the runs are named by their tags,
/// as they are published.
pub fn publish_verdicts(
    runs: &[wb_report::Analysis],
    thresholds: &wb_report::Thresholds,
    db: &DbArgs,
) -> anyhow::Result<()> {
    let names: Vec<String> = runs.iter().map(wb_report::compare::name).collect();
    let tests = wb_report::compare::tested(runs, thresholds);
    let models: std::collections::BTreeSet<&str> = tests.values().map(|t| t.model.name()).collect();
    let rows: Vec<wb_results::publish::VerdictRow> = tests
        .iter()
        .map(|((metric, i), t)| wb_results::publish::VerdictRow {
            run_id: names[*i].clone(),
            metric: (*metric).to_owned(),
            verdict: t.verdict.name().to_owned(),
            delta: t.c.delta,
            delta_pct: if t.c.mean.0 == 0.0 {
                0.0
            } else {
                t.c.delta / t.c.mean.0.abs() * 100.0
            },
            ci: t.c.ci,
            p_holm: t.p_adjusted,
            mde_pct: t.c.mde_pct,
        })
        .collect();
    let mut store = wb_results::open(&db.spec())?;
    let model = models.into_iter().collect::<Vec<_>>().join("+");
    let id =
        wb_results::publish::publish_comparison(&mut store, &names[0], &names[1..], &model, &rows)?;
    eprintln!(
        "comparison {id}: {} verdicts recorded in {}",
        rows.len(),
        store.location
    );
    Ok(())
}

/// `wb results list|show`.
pub fn results(action: ResultsAction, db: &DbArgs) -> anyhow::Result<()> {
    let mut store = wb_results::open(&db.spec())?;
    match action {
        ResultsAction::List { profile, since } => {
            let rows = wb_results::query::list(&mut store, profile.as_deref(), since.as_deref())?;
            println!(
                "{:<20} {:<16} {:<16} {:<11} {:>8} {:>7}  run",
                "started", "profile", "version", "outcome", "length", "metrics"
            );
            for r in &rows {
                println!(
                    "{:<20} {:<16} {:<16} {:<11} {:>8} {:>7}  {}",
                    &r.started_at[..r.started_at.len().min(19)],
                    r.profile,
                    r.version,
                    r.outcome,
                    r.duration_s.map_or("-".into(), |s| format!("{s:.0} s")),
                    r.metrics,
                    r.run_id
                );
            }
            println!("{} run(s) in {}", rows.len(), store.location);
        }
        ResultsAction::Show { run } => {
            let d = wb_results::query::show(&mut store, &run)?
                .with_context(|| format!("{run}: not in {}", store.location))?;
            println!("run       {}", d.row.run_id);
            println!("profile   {} (content {})", d.row.profile, d.profile_hash);
            println!("version   {}", d.row.version);
            println!(
                "machine   {} × {} ({} MiB) on {}",
                d.manifest["cpus"],
                d.manifest["cpu_model"].as_str().unwrap_or("?"),
                d.manifest["memory_mib"],
                d.manifest["hostname"].as_str().unwrap_or("?")
            );
            println!(
                "ran       {} for {}, {}",
                d.row.started_at,
                d.row.duration_s.map_or("?".into(), |s| format!("{s:.0} s")),
                d.row.outcome
            );
            if !d.series.is_empty() {
                println!("series    {}", d.series.join(", "));
            }
            for (base, metric, verdict, pct, model) in &d.verdicts {
                println!(
                    "verdict   {verdict} on {metric} against {base} ({}, noise model {model})",
                    pct.map_or("-".into(), |p| format!("{p:+.1} %"))
                );
            }
            println!("{:<28} {:>16} {:<8} metric", "id", "value", "unit");
            for (id, v, unit) in &d.values {
                let short = wb_analyse::field::lookup(id).map_or("", |f| f.short);
                println!("{id:<28} {v:>16.6} {unit:<8} {short}");
            }
        }
    }
    Ok(())
}

/// `wb trend METRIC --profile P`: the table on the terminal, the chart as a page.
pub fn trend(
    metric: &str,
    profile: &str,
    out: Option<PathBuf>,
    format: &str,
    thresholds: Option<&Path>,
    db: &DbArgs,
) -> anyhow::Result<()> {
    let t = crate::thresholds_of(thresholds)?;
    let mut store = wb_results::open(&db.spec())?;
    let points = wb_results::query::trend(&mut store, metric, profile, &t)?;
    let f = wb_analyse::field::lookup(metric).expect("trend checked the metric");
    if format == "json" {
        let records: Vec<_> = points
            .iter()
            .map(|p| {
                serde_json::json!({
                    "run": p.run, "date": p.date, "version": p.version, "value": p.value,
                    "verdict": p.verdict.as_ref().map(|c| c.verdict.name()),
                    "delta_pct": p.verdict.as_ref().map(|c| c.delta_pct),
                    "p_holm": p.verdict.as_ref().map(|c| c.p_holm),
                    "mde_pct": p.verdict.as_ref().map(|c| c.mde_pct),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        print!("{}", wb_report::trend::trend_text(f, profile, &points));
    }
    let out = out.unwrap_or_else(|| PathBuf::from(format!("trend-{metric}.html")));
    let page = wb_report::trend::trend_page(f, profile, &store.location.to_string(), &points);
    std::fs::write(&out, page).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("trend: {}", out.display());
    Ok(())
}
