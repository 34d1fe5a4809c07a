//! `wb study tracing PROFILE`: the seed's question as one command. What does tracing cost? The
//! profile runs with full tracing, with minimal tracing and with no tracer (nodes logging to
//! their own standard output). The costs are then compared with minimal tracing: CPU, RSS,
//! forging and adoption delays, and missed leadership checks, each with its verdict.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use wb_analyse::field;
use wb_report::Analysis;

use crate::repeat::{How, exit_code, new_tag};
use crate::results::DbArgs;

/// `wb study` actions.
#[derive(Subcommand, Debug)]
pub enum StudyAction {
    /// What tracing costs: the profile with full tracing, minimal tracing and no tracer,
    /// compared with minimal tracing (CPU, RSS, forging and adoption delays, missed leadership
    /// checks), each with its verdict. Writes `runs/<study>/study.md`, `study.json` and
    /// `study.html`.
    Tracing {
        /// The profile (its `-tracing-minimal` and `-notracer` variants are run too).
        profile: String,
        /// Runs per variant: with 2 or more, each variant is a series and run-to-run variation
        /// is the noise.
        #[arg(long, default_value_t = 1)]
        repeat: u64,
        /// With --repeat: `same` genesis seed for every run, or `fresh`.
        #[arg(long, default_value = "same", value_parser = ["same", "fresh"])]
        seeds: String,
        /// The genesis seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Override a profile field in every variant: `--set generator.tps=20`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// The study's tag (default: UTC time, profile, wb's commit, `-tracing`); its runs are
        /// `<study>-full`, `<study>-minimal`, `<study>-no-tracer`.
        #[arg(long)]
        tag: Option<String>,
        /// The genesis key cache (as for `wb run`).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// No progress lines.
        #[arg(long)]
        quiet: bool,
        /// Do not publish the runs to the results database.
        #[arg(long)]
        no_publish: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// The variants, the baseline first: (name, profile suffix).
const VARIANTS: [(&str, &str); 3] = [
    ("minimal", "-tracing-minimal"),
    ("full", ""),
    ("no-tracer", "-notracer"),
];

/// The costs reported, in this order (the ones tested carry verdicts).
const COSTS: [&str; 8] = [
    "CentiCpu",
    "RSS",
    "cdfForgerLead",
    "cdfForgerForge",
    "cdfForgerAdoption",
    "cdf0.50",
    "cdf0.80",
    "cdf1.00",
];

/// Runs the study.
pub fn study(action: StudyAction) -> anyhow::Result<()> {
    let StudyAction::Tracing {
        profile,
        repeat,
        seeds,
        seed,
        sets,
        tag,
        cache_dir,
        quiet,
        no_publish,
        db,
    } = action;
    anyhow::ensure!(repeat >= 1, "--repeat {repeat}: at least 1");
    let sets = crate::parse_sets(&sets)?;
    // Every variant's profile is checked before anything starts.
    let mut profiles = Vec::new();
    for (variant, suffix) in VARIANTS {
        let name = format!("{profile}{suffix}");
        profiles.push((
            variant,
            wb_profile::catalog::load(&name, &sets, None).with_context(|| {
                format!("the {variant} variant ({name}) is refused; nothing was started")
            })?,
        ));
    }
    let root = db.runs();
    let how = How {
        root: root.clone(),
        seed,
        seeds,
        cache: crate::genesis_cache(cache_dir),
        quiet,
        publish_to: (!no_publish).then(|| db.spec()),
    };
    let study = tag.unwrap_or_else(|| format!("{}-tracing", new_tag(&profile)));
    let mut dirs = Vec::new();
    for (variant, p) in profiles {
        let tag = format!("{study}-{variant}");
        println!("study {study}: {variant} tracing ({})", p.name);
        let status = if repeat == 1 {
            how.run_once(p, Some(tag.clone()))?.0
        } else {
            how.series(&p, &tag, repeat)?
        };
        dirs.push(root.join(&tag));
        if status == wb_run::lifecycle::Status::Interrupted {
            println!("study {study}: interrupted; the runs so far are kept");
            std::process::exit(exit_code(status));
        }
    }
    let runs = wb_report::compare::read_runs(&dirs)?;
    let t = wb_report::Thresholds::builtin();
    let out = root.join(&study);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let (md, json) = costs(&profile, repeat, &runs, &t, &root);
    print!("{md}");
    let write = |name: &str, text: &str| {
        let p = out.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
    };
    write("study.md", &md)?;
    write("study.json", &(serde_json::to_string_pretty(&json)? + "\n"))?;
    write(
        "study.html",
        &wb_report::comparison_report(&runs, &t, true)?,
    )?;
    println!("study {study}: {}", out.display());
    Ok(())
}

/// A variant's figure: the mean of its runs' figures for a series, else the run's.
fn value(a: &Analysis, f: &field::Field) -> Option<f64> {
    match a.run_figures.get(f.id) {
        Some(v) if !v.is_empty() => Some(v.iter().sum::<f64>() / v.len() as f64),
        _ => wb_report::compare::figure(a, f),
    }
}

/// Missed leadership checks and leadership checks, summed over a variant's runs and nodes.
fn missed(a: &Analysis, root: &Path, tag: &str) -> (u64, u64) {
    let tags = if a.series.is_empty() {
        vec![tag.to_owned()]
    } else {
        a.series.clone()
    };
    let mut sum = (0, 0);
    for t in tags {
        let meta: serde_json::Value = std::fs::read_to_string(root.join(&t).join("meta.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        for n in meta["meta"]["outcome"]["nodes"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
        {
            sum.0 += n["missed_slots"].as_u64().unwrap_or(0);
            sum.1 += n["leadership_checks"].as_u64().unwrap_or(0);
        }
    }
    sum
}

/// The study's table (Markdown) and its figures (JSON).
fn costs(
    profile: &str,
    repeat: u64,
    runs: &[Analysis],
    t: &wb_report::Thresholds,
    root: &Path,
) -> (String, serde_json::Value) {
    let tests = wb_report::compare::tested(runs, t);
    let names: Vec<String> = runs.iter().map(wb_report::compare::name).collect();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "What tracing costs on `{profile}` ({repeat} run(s) per variant; against minimal tracing; verdicts from {}):\n",
        if repeat >= 2 {
            "run-to-run variation (Welch's t over the runs' means)"
        } else {
            "one run a side (Mann-Whitney U over blocks or 10-slot windows, 95 % bootstrap interval, Holm)"
        }
    );
    let _ = writeln!(
        md,
        "| metric | minimal | full | Δ% full | verdict full | no tracer | Δ% no tracer | verdict no tracer |\n|---|---:|---:|---:|---|---:|---:|---|"
    );
    let mut records = Vec::new();
    for id in COSTS {
        let Some(f) = field::lookup(id) else { continue };
        let unit = wb_results::record::unit_name(f);
        // Where a metric is tested, its figures are the tested samples' means, so that Δ% and
        // the verdict speak of the same numbers.
        let tested_mean = |i: usize| match i {
            0 => tests
                .get(&(id, 1))
                .or(tests.get(&(id, 2)))
                .map(|x| x.c.mean.0),
            i => tests.get(&(id, i)).map(|x| x.c.mean.1),
        };
        let vals: Vec<Option<f64>> = runs
            .iter()
            .enumerate()
            .map(|(i, a)| tested_mean(i).or_else(|| value(a, f)))
            .collect();
        let cell = |v: Option<f64>| v.map_or("–".into(), |v| format_value(v, &unit));
        let mut row = format!("| {} (`{id}`, {unit}) | {} |", f.short, cell(vals[0]));
        let mut rec = serde_json::json!({"metric": id, "unit": unit, "minimal": vals[0]});
        for (i, key) in [(1, "full"), (2, "no_tracer")] {
            let pct = match (vals[0], vals[i]) {
                (Some(b), Some(v)) if b != 0.0 => Some((v - b) / b.abs() * 100.0),
                _ => None,
            };
            let tested = tests.get(&(id, i));
            let verdict = tested.map_or("not tested".to_owned(), |x| {
                format!("{} (MDE {:.0} %)", x.verdict.name(), x.c.mde_pct)
            });
            let _ = write!(
                row,
                " {} | {} | {verdict} |",
                cell(vals[i]),
                pct.map_or("–".into(), |p| format!("{p:+.1} %"))
            );
            rec[key] = serde_json::json!({
                "value": vals[i], "delta_pct": pct,
                "verdict": tested.map(|x| x.verdict.name()),
                "mde_pct": tested.map(|x| x.c.mde_pct), "model": tested.map(|x| x.model.name()),
            });
        }
        let _ = writeln!(md, "{row}");
        records.push(rec);
    }
    let m: Vec<(u64, u64)> = runs
        .iter()
        .zip(&names)
        .map(|(a, n)| missed(a, root, n))
        .collect();
    let _ = writeln!(
        md,
        "| Missed leadership checks (slots without one, all nodes) | {} of {} | {} of {} | | | {} of {} | | |",
        m[0].0, m[0].1, m[1].0, m[1].1, m[2].0, m[2].1
    );
    let json = serde_json::json!({
        "profile": profile, "repeat": repeat, "runs": names, "baseline": "minimal",
        "costs": records,
        "missed_leadership_checks": {
            "minimal": m[0], "full": m[1], "no_tracer": m[2],
        },
    });
    (md, json)
}

/// A value in its unit, seconds under one as ms.
fn format_value(v: f64, unit: &str) -> String {
    if unit == "s" && v.abs() < 1.0 {
        format!("{:.2} ms", v * 1e3)
    } else {
        format!("{v:.2} {unit}")
    }
}
