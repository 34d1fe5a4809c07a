//! The comparison report: several analyses side by side, the first the baseline. One column per
//! run, Δ and Δ% against the baseline per metric, coloured only where the difference is larger
//! than the metric's noise threshold (and then as better or worse by the metric's direction),
//! CDF charts with the runs overlaid. Runs that cannot be compared (another cluster size,
//! workload or slot length) are refused, naming what differs, unless forced.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde_json::Value;
use wb_analyse::field::{self, Better, Field};

use crate::input::{Analysis, Dist};
use crate::page::{STYLE, help, name_cell, plain_value, unit, value};
use crate::stats::{self, Comparison, Verdict};
use crate::svg::{Series, cdf_chart, escape};

/// The noise thresholds built in: `crates/report/data/thresholds.json`.
pub const DEFAULT_THRESHOLDS: &str = include_str!("../data/thresholds.json");

/// How large a relative difference must be, per metric, before it counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Percent, for metrics named neither below nor by their group.
    pub default: f64,
    /// Percent per dictionary group.
    pub groups: BTreeMap<String, f64>,
    /// Percent per metric id (wins over its group).
    pub metrics: BTreeMap<String, f64>,
}

/// Why runs cannot be compared, or a thresholds file not read.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Fewer than two runs.
    #[error("a comparison needs a baseline and at least one run to compare with it")]
    TooFew,
    /// The runs differ where a comparison would be meaningless.
    #[error(
        "these runs cannot be compared (pass --force to compare them anyway): {}",
        .0.join("; ")
    )]
    Incompatible(Vec<String>),
    /// A thresholds file.
    #[error("{path}: {why}")]
    Thresholds {
        /// The file.
        path: String,
        /// What is wrong, naming the field.
        why: String,
    },
}

impl Thresholds {
    /// Reads thresholds (`{"default": 5, "groups": {…}, "metrics": {…}}`, percent) over the
    /// built-in ones; `path` names the source in errors.
    pub fn read(
        text: &str,
        path: &str,
        over: Option<&Thresholds>,
    ) -> Result<Thresholds, CompareError> {
        let bad = |why: String| CompareError::Thresholds {
            path: path.to_owned(),
            why,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mut t = over.cloned().unwrap_or(Thresholds {
            default: 5.0,
            groups: BTreeMap::new(),
            metrics: BTreeMap::new(),
        });
        if let Some(d) = v.get("default") {
            t.default = d
                .as_f64()
                .filter(|d| *d >= 0.0)
                .ok_or_else(|| bad("field default: a percentage ≥ 0".into()))?;
        }
        for (key, map) in [("groups", &mut t.groups), ("metrics", &mut t.metrics)] {
            let Some(entries) = v.get(key) else { continue };
            let entries = entries
                .as_object()
                .ok_or_else(|| bad(format!("field {key}: an object of percentages")))?;
            for (name, pct) in entries {
                if key == "metrics" && field::lookup(name).is_none() {
                    return Err(bad(format!(
                        "field metrics.{name}: no such metric in the dictionary"
                    )));
                }
                let pct = pct
                    .as_f64()
                    .filter(|p| *p >= 0.0)
                    .ok_or_else(|| bad(format!("field {key}.{name}: a percentage ≥ 0")))?;
                map.insert(name.clone(), pct);
            }
        }
        Ok(t)
    }

    /// The built-in thresholds.
    pub fn builtin() -> Thresholds {
        Thresholds::read(DEFAULT_THRESHOLDS, "built-in thresholds", None)
            .expect("the built-in thresholds are valid (tested)")
    }

    /// The threshold of a metric, percent.
    pub fn of(&self, f: &Field) -> f64 {
        self.metrics
            .get(f.id)
            .or_else(|| self.groups.get(f.group))
            .copied()
            .unwrap_or(self.default)
    }
}

/// A run's name: its tag, else its directory.
pub fn name(a: &Analysis) -> String {
    a.summary["meta"]["tag"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let d = if a.dir.file_name().is_some_and(|n| n == "analysis") {
                a.dir.parent().unwrap_or(&a.dir)
            } else {
                &a.dir
            };
            d.file_name().map_or_else(
                || d.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
}

/// Where the runs differ from the baseline in what makes a comparison meaningful.
pub fn differences(runs: &[Analysis]) -> Vec<String> {
    let base = &runs[0];
    let mut d = Vec::new();
    for r in &runs[1..] {
        let mut check = |what: &str, a: &Value, b: &Value| {
            if a != b {
                d.push(format!(
                    "{what}: {} has {a}, {} has {b}",
                    name(base),
                    name(r)
                ));
            }
        };
        check(
            "cluster size (hosts)",
            &base.summary["sumHosts"],
            &r.summary["sumHosts"],
        );
        check(
            "slot length (ns)",
            &base.summary["genesis"]["slot_length"],
            &r.summary["genesis"]["slot_length"],
        );
        check(
            "workload",
            &base.summary["sumWorkload"],
            &r.summary["sumWorkload"],
        );
    }
    d
}

/// A metric's distribution in a run (over blocks, slots, peaks or hosts), if it has one.
pub fn distribution(a: &Analysis, f: &Field) -> Option<Dist> {
    Dist::of(&a.blockprop["cdfs"][f.id])
        .or_else(|| Dist::of(&a.clusterperf[f.id]))
        .or_else(|| Dist::of(&a.summary[f.id]))
}

/// A metric's figure in a run: the mean of its distribution, or its number.
pub fn figure(a: &Analysis, f: &Field) -> Option<f64> {
    distribution(a, f)
        .map(|d| d.mean)
        .or_else(|| a.summary[f.id].as_f64())
        .or_else(|| a.summary["generator"][f.id].as_f64())
}

/// How a difference reads: within noise, better, worse, or changed (a metric with no better).
pub(crate) fn verdict(f: &Field, base: f64, v: f64, threshold: f64) -> &'static str {
    let pct = if base == 0.0 {
        if v == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        (v - base) / base.abs() * 100.0
    };
    if pct.abs() <= threshold {
        return "same";
    }
    match (f.better, pct > 0.0) {
        (Better::Lower, true) | (Better::Higher, false) => "worse",
        (Better::Lower, false) | (Better::Higher, true) => "better",
        (Better::Neither, _) => "changed",
    }
}

/// Which noise decided a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// The blocks of one run (or of a series' runs pooled): the within-run noise.
    Blocks,
    /// The runs of two series: run-to-run variation is the noise, so a difference inside it is
    /// no change however small its p-value within one run.
    Runs,
}

impl Model {
    /// How it reads.
    pub fn name(self) -> &'static str {
        match self {
            Model::Blocks => "blocks",
            Model::Runs => "runs",
        }
    }
}

/// One metric of one run tested against the baseline.
#[derive(Debug, Clone)]
pub struct Tested {
    /// Which noise decided.
    pub model: Model,
    /// The comparison of the samples.
    pub c: Comparison,
    /// Its p-value after Holm's correction over every test of the report.
    pub p_adjusted: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// The tests of a report: every metric with a natural sample (per-block metrics: their values
/// per accepted block in `blocks.csv`; CPU and RSS: 10-slot windows of `slots.csv`) of every run
/// against the baseline, Holm-corrected together. Keyed by (metric,
/// run index).
pub fn tested(
    runs: &[Analysis],
    thresholds: &Thresholds,
) -> BTreeMap<(&'static str, usize), Tested> {
    let mut raw: Vec<((&'static str, usize), Comparison, &'static Field, Model)> = Vec::new();
    let series = |a: &Analysis, id: &str| a.run_figures.get(id).filter(|v| v.len() >= 2).cloned();
    for f in field::all() {
        let Some(base) = runs[0].samples(f.id).filter(|s| s.len() >= 5) else {
            continue;
        };
        for (i, r) in runs.iter().enumerate().skip(1) {
            let Some(s) = r.samples(f.id).filter(|s| s.len() >= 5) else {
                continue;
            };
            // Series on both sides: their runs are the sample.
            if let (Some(a), Some(b)) = (series(&runs[0], f.id), series(r, f.id)) {
                raw.push(((f.id, i), stats::compare_runs(&a, &b), f, Model::Runs));
                continue;
            }
            // Seeded per metric and run: the same inputs give the same intervals.
            let seed = f.id.bytes().fold(i as u64, |h, b| {
                h.wrapping_mul(31).wrapping_add(u64::from(b))
            });
            raw.push(((f.id, i), stats::compare(base, s, seed), f, Model::Blocks));
        }
    }
    let adjusted = stats::holm(&raw.iter().map(|(_, c, _, _)| c.p).collect::<Vec<_>>());
    raw.into_iter()
        .zip(adjusted)
        .map(|((key, c, f, model), p)| {
            let verdict = stats::verdict(&c, p, thresholds.of(f), f.better);
            (
                key,
                Tested {
                    model,
                    c,
                    p_adjusted: p,
                    verdict,
                },
            )
        })
        .collect()
}

/// The regressions and improvements first, each with its evidence.
fn headline(tests: &BTreeMap<(&'static str, usize), Tested>, names: &[String], o: &mut String) {
    let called: Vec<_> = tests
        .iter()
        .filter(|(_, t)| matches!(t.verdict, Verdict::Regression | Verdict::Improvement))
        .collect();
    o.push_str("<section id=\"verdicts\"><h2>Verdicts</h2>");
    let _ = write!(
        o,
        "<p>{} metrics tested (Mann-Whitney U over their natural samples: the accepted blocks, or 10-slot windows of every host for CPU and RSS; a 95 % bootstrap interval of the difference of means, Holm's correction over all {} tests); a regression or improvement needs a significant test, an interval clear of zero and a change beyond the metric's threshold; \"no change\" needs the whole interval inside the threshold; anything else is inconclusive. MDE: the smallest shift these samples detect 80 % of the time.</p>",
        tests
            .keys()
            .map(|k| k.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        tests.len()
    );
    let by_runs = tests.values().filter(|t| t.model == Model::Runs).count();
    if by_runs > 0 {
        let _ = write!(
            o,
            "<p data-model=\"runs\">Noise model: <b>runs</b> for {by_runs} of the {} tests — both sides are series of repeated runs, so run-to-run variation is the noise (Welch's t-test and its 95 % interval over the runs' means): a difference inside it is no change however small its p-value within one run.</p>",
            tests.len()
        );
    }
    if called.is_empty() {
        o.push_str("<p class=\"good\">No regression and no improvement found.</p>");
    } else {
        o.push_str("<ul class=\"notes\">");
        for ((id, i), t) in called {
            let Some(f) = field::lookup(id) else { continue };
            let pct = if t.c.mean.0 == 0.0 {
                0.0
            } else {
                t.c.delta / t.c.mean.0.abs() * 100.0
            };
            let _ = write!(
                o,
                "<li class=\"{}\" data-called=\"{id}\"><b>{}</b> in {}: {} ({}, {pct:+.1} %), 95 % CI {} … {}, p {:.4} after Holm</li>",
                if t.verdict == Verdict::Regression {
                    "bad"
                } else {
                    "good"
                },
                t.verdict.name(),
                escape(&names[*i]),
                escape(f.short),
                escape(id),
                plain_value(f, t.c.ci.0),
                plain_value(f, t.c.ci.1),
                t.p_adjusted
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>");
}

const COMPARE_STYLE: &str = r#"
td.worse { background: #fbe4e2; } td.better { background: #e3f3e6; } td.changed { background: #fff4d6; }
td .delta, td .stat { display: block; color: var(--muted); font-size: 12px; } .good { color: var(--good); }

.legend-row span { display: inline-block; padding: 1px 8px; margin-right: 8px; border-radius: 4px; }
"#;

/// The comparison report of `runs` (the first the baseline).
pub fn comparison_report(
    runs: &[Analysis],
    thresholds: &Thresholds,
    force: bool,
) -> Result<String, CompareError> {
    if runs.len() < 2 {
        return Err(CompareError::TooFew);
    }
    let diffs = differences(runs);
    if !diffs.is_empty() && !force {
        return Err(CompareError::Incompatible(diffs));
    }
    let names: Vec<String> = runs.iter().map(name).collect();
    let tests = tested(runs, thresholds);
    let mut o = String::with_capacity(128 << 10);
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>wb comparison report</title><style>{STYLE}{COMPARE_STYLE}</style></head><body><header><h1>Comparison: {}</h1><p class=\"sub\">baseline {}, {} run(s) compared with it; each figure is the metric's mean (over blocks, observations, or slots and hosts, as its dictionary entry says)</p></header>",
        escape(&names.join(" vs ")),
        escape(&names[0]),
        runs.len() - 1
    );
    let series: Vec<String> = runs
        .iter()
        .filter(|a| !a.series.is_empty())
        .map(|a| format!("{} ({} runs)", name(a), a.series.len()))
        .collect();
    if !series.is_empty() {
        let _ = write!(
            o,
            "<p class=\"sub\" data-series=\"{}\">Series: {}. A series' figures and distributions are those of its first run; its verdicts weigh all its runs.</p>",
            series.len(),
            escape(&series.join(", "))
        );
    }
    o.push_str("<p class=\"legend-row\"><span style=\"background:#e3f3e6\">better</span><span style=\"background:#fbe4e2\">worse</span><span style=\"background:#fff4d6\">changed (no better way)</span> — only where |Δ%| exceeds the metric's noise threshold (hover a cell); uncoloured: within noise. Where a metric is tested (see Verdicts), its verdict decides the colour.</p>");
    if !diffs.is_empty() {
        o.push_str("<ul class=\"notes\">");
        for d in &diffs {
            let _ = write!(
                o,
                "<li class=\"bad\">compared although they differ (--force): {}</li>",
                escape(d)
            );
        }
        o.push_str("</ul>");
    }
    headline(&tests, &names, &mut o);
    // Every metric, group by group.
    let mut group = "";
    for f in field::all() {
        let figures: Vec<Option<f64>> = runs.iter().map(|a| figure(a, f)).collect();
        if figures.iter().all(Option::is_none) {
            continue;
        }
        if f.group != group {
            if !group.is_empty() {
                o.push_str("</tbody></table></section>");
            }
            group = f.group;
            let _ = write!(
                o,
                "<section><h2>{}</h2><table class=\"compare\"><thead><tr><th>metric</th>",
                escape(group)
            );
            for n in &names {
                let _ = write!(o, "<th>{}</th>", escape(n));
            }
            o.push_str("</tr></thead><tbody>");
        }
        o.push_str("<tr>");
        o.push_str(&name_cell(f));
        let threshold = thresholds.of(f);
        for (i, v) in figures.iter().enumerate() {
            match (v, figures[0]) {
                (None, _) => o.push_str("<td title=\"no value\">–</td>"),
                (Some(v), Some(base)) if i > 0 => {
                    let delta = v - base;
                    let pct = if base == 0.0 {
                        None
                    } else {
                        Some(delta / base.abs() * 100.0)
                    };
                    let test = tests.get(&(f.id, i));
                    // Where the metric's per-block sample allows a test, its verdict decides.
                    let class = match test.map(|t| t.verdict) {
                        Some(Verdict::Regression) => "worse",
                        Some(Verdict::Improvement) => "better",
                        Some(_) => "same",
                        None => verdict(f, base, *v, threshold),
                    };
                    let stats = test.map_or_else(String::new, |t| {
                        format!(
                            "<span class=\"stat\" data-stat=\"{}\">{} · p {:.3} · 95 % CI {} … {} · MDE {:.0} %</span>",
                            t.verdict.name(),
                            t.verdict.name(),
                            t.p_adjusted,
                            plain_value(f, t.c.ci.0),
                            plain_value(f, t.c.ci.1),
                            t.c.mde_pct
                        )
                    });
                    let _ = write!(
                        o,
                        "<td class=\"{class}\" data-metric=\"{id}\" data-verdict=\"{class}\" title=\"{tip}\">{}<span class=\"delta\">Δ {}{}</span>{stats}</td>",
                        value(f, *v),
                        value(f, delta),
                        pct.map_or_else(String::new, |p| format!(" ({p:+.1} %)")),
                        id = escape(f.id),
                        tip = escape(&format!(
                            "{}: noise threshold {threshold} %. {}",
                            names[i],
                            help(f)
                        )),
                    );
                }
                (Some(v), _) => {
                    let _ = write!(
                        o,
                        "<td data-metric=\"{}\" title=\"{}\">{}</td>",
                        escape(f.id),
                        escape(&format!("{}: {}", names[i], help(f))),
                        value(f, *v)
                    );
                }
            }
        }
        o.push_str("</tr>");
    }
    if !group.is_empty() {
        o.push_str("</tbody></table></section>");
    }
    // Overlaid distributions of the metrics people look at first.
    o.push_str("<section id=\"charts\"><h2>Distributions, runs overlaid</h2><div class=\"grid2\">");
    for id in [
        "cdf0.50",
        "cdf0.90",
        "cdf1.00",
        "cdfForgerForge",
        "cdfPeerAdoption",
        "CentiCpu",
        "RSS",
    ] {
        let Some(f) = field::lookup(id) else { continue };
        let series: Vec<Series> = runs
            .iter()
            .zip(&names)
            .filter_map(|(a, n)| {
                let d =
                    Dist::of(&a.blockprop["cdfs"][id]).or_else(|| Dist::of(&a.clusterperf[id]))?;
                Some(Series {
                    id: format!("{id}:{n}"),
                    label: n.clone(),
                    points: d.samples.iter().map(|&(p, v)| (v, p)).collect(),
                })
            })
            .collect();
        let _ = write!(
            o,
            "<div><h3 title=\"{}\">{} <span class=\"unit\">({id})</span></h3>{}</div>",
            escape(&help(f)),
            escape(f.short),
            cdf_chart(
                f.short,
                &unit(f),
                f.unit == wb_analyse::field::Unit::Sec,
                &series
            )
        );
    }
    o.push_str("</div></section>");
    o.push_str("</body></html>\n");
    Ok(o)
}

/// Reads the analyses of `dirs` for a comparison.
pub fn read_runs(dirs: &[impl AsRef<Path>]) -> Result<Vec<Analysis>, crate::input::InputError> {
    dirs.iter().map(|d| Analysis::read(d.as_ref())).collect()
}

/// The verdicts of a comparison as lines for a terminal (`text`), JSON records (`json`) or a
/// Markdown table (`md`): per tested metric and run, the verdict, Δ%, the interval, the
/// corrected p-value and the minimum detectable effect; the regressions first.
pub fn verdicts(
    runs: &[Analysis],
    thresholds: &Thresholds,
    force: bool,
    format: &str,
) -> Result<(String, Vec<String>), CompareError> {
    if runs.len() < 2 {
        return Err(CompareError::TooFew);
    }
    let diffs = differences(runs);
    if !diffs.is_empty() && !force {
        return Err(CompareError::Incompatible(diffs));
    }
    let names: Vec<String> = runs.iter().map(name).collect();
    let tests = tested(runs, thresholds);
    let mut rows: Vec<(&(&'static str, usize), &Tested)> = tests.iter().collect();
    let rank = |v: Verdict| match v {
        Verdict::Regression => 0,
        Verdict::Improvement => 1,
        Verdict::Inconclusive => 2,
        Verdict::NoChange => 3,
    };
    rows.sort_by_key(|(k, t)| (rank(t.verdict), k.1));
    let regressed: Vec<String> = rows
        .iter()
        .filter(|(_, t)| t.verdict == Verdict::Regression)
        .map(|((id, i), _)| format!("{id} in {}", names[*i]))
        .collect();
    let pct = |t: &Tested| {
        if t.c.mean.0 == 0.0 {
            0.0
        } else {
            t.c.delta / t.c.mean.0.abs() * 100.0
        }
    };
    // Per-block tests whose MDE exceeds the threshold: how many runs a side would do.
    let runs_for = |id: &str, t: &Tested| {
        let thr = field::lookup(id).map_or(f64::INFINITY, |f| thresholds.of(f));
        (t.model == Model::Blocks && t.c.mde_pct > thr)
            .then(|| stats::runs_for(t.c.mde_pct, thr))
            .flatten()
    };
    let models: std::collections::BTreeSet<&str> =
        rows.iter().map(|(_, t)| t.model.name()).collect();
    let mut o = String::new();
    match format {
        "json" => {
            let records: Vec<Value> = rows
                .iter()
                .map(|((id, i), t)| {
                    serde_json::json!({
                        "metric": id, "run": names[*i], "baseline": names[0],
                        "verdict": t.verdict.name(), "mean_baseline": t.c.mean.0,
                        "mean_run": t.c.mean.1, "delta": t.c.delta, "delta_pct": pct(t),
                        "ci95": [t.c.ci.0, t.c.ci.1], "p": t.c.p, "p_holm": t.p_adjusted,
                        "mde_pct": t.c.mde_pct, "threshold_pct": field::lookup(id).map(|f| thresholds.of(f)),
                        "samples": [t.c.n.0, t.c.n.1], "model": t.model.name(),
                        "runs_for_threshold": runs_for(id, t),
                    })
                })
                .collect();
            o = serde_json::to_string_pretty(&records).unwrap_or_default() + "\n";
        }
        "md" => {
            let _ = writeln!(
                o,
                "| metric | run | verdict | Δ% | 95 % CI of Δ | p (Holm) | MDE |\n|---|---|---|---:|---:|---:|---:|"
            );
            for ((id, i), t) in &rows {
                let f = field::lookup(id).expect("tested metrics are in the dictionary");
                let _ = writeln!(
                    o,
                    "| {} (`{id}`) | {} | {} | {:+.1} % | {} … {} | {:.4} | {:.0} % |",
                    f.short,
                    names[*i],
                    match t.verdict {
                        Verdict::Regression => "**regression**",
                        Verdict::Improvement => "**improvement**",
                        v => v.name(),
                    },
                    pct(t),
                    plain_value(f, t.c.ci.0),
                    plain_value(f, t.c.ci.1),
                    t.p_adjusted,
                    t.c.mde_pct
                );
            }
        }
        _ => {
            let _ = writeln!(
                o,
                "baseline {}; {} tests, noise model: {} ({}; Holm over all)",
                names[0],
                rows.len(),
                models.iter().copied().collect::<Vec<_>>().join(" and "),
                if models.contains("runs") {
                    "runs: Welch's t over the series' run means; blocks: Mann-Whitney U, 95 % bootstrap CI"
                } else {
                    "Mann-Whitney U over the accepted blocks, 95 % bootstrap CI"
                }
            );
            let _ = writeln!(
                o,
                "{:<24} {:<20} {:<13} {:>8} {:>26} {:>8} {:>6}",
                "metric", "run", "verdict", "Δ%", "95 % CI of Δ", "p(Holm)", "MDE"
            );
            for ((id, i), t) in &rows {
                let f = field::lookup(id).expect("tested metrics are in the dictionary");
                let _ = writeln!(
                    o,
                    "{:<24} {:<20} {:<13} {:>+7.1}% {:>26} {:>8.4} {:>5.0}%",
                    id,
                    names[*i],
                    t.verdict.name(),
                    pct(t),
                    format!(
                        "{} … {}",
                        plain_value(f, t.c.ci.0),
                        plain_value(f, t.c.ci.1)
                    ),
                    t.p_adjusted,
                    t.c.mde_pct
                );
            }
            let short: Vec<String> = rows
                .iter()
                .filter_map(|((id, _), t)| Some(format!("{id} {}", runs_for(id, t)?)))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if !short.is_empty() {
                let _ = writeln!(
                    o,
                    "MDE above the threshold: one run a side cannot rule out a change of the threshold's size; runs a side needed at least (`wb run --repeat N`): {}",
                    short.join(", ")
                );
            }
        }
    }
    Ok((o, regressed))
}
