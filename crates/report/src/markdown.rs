//! The reports as Markdown, for pull requests and issues: tables, and the charts as SVG files
//! beside the Markdown (`<stem>-<chart>.svg`), linked as images.

use std::fmt::Write;

use serde_json::Value;
use wb_analyse::field::{self, Field};

use crate::compare::{CompareError, Thresholds, differences, figure, name, verdict};
use crate::input::{Analysis, Dist};
use crate::page::{PHASES, RESOURCES, blockprop_rows, plain_value, series, unit};
use crate::svg::{Series, cdf_chart};

/// A Markdown document and the chart files it links to (file name, SVG).
#[derive(Debug, Clone, PartialEq)]
pub struct Markdown {
    /// The document.
    pub text: String,
    /// `(file name, SVG)` of each chart, to write beside the document.
    pub charts: Vec<(String, String)>,
}

/// A table cell: no line breaks, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(o: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(
        o,
        "|{}",
        head.iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for r in rows {
        let _ = writeln!(o, "| {} |", r.join(" | "));
    }
    o.push('\n');
}

fn chart(md: &mut Markdown, stem: &str, key: &str, title: &str, svg: String) {
    let file = format!("{stem}-{key}.svg");
    let _ = writeln!(md.text, "![{title}]({file})\n");
    md.charts.push((file, svg));
}

fn dist_rows(rows: &[(&'static Field, Option<Dist>)]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|(f, d)| {
            let mut r = vec![format!("{} (`{}`)", cell(f.short), f.id)];
            match d {
                Some(d) => {
                    r.push(d.size.to_string());
                    for v in [
                        Some(d.mean),
                        Some(d.median),
                        d.at(0.9),
                        Some(d.range.0),
                        Some(d.range.1),
                    ] {
                        r.push(v.map_or_else(|| "–".into(), |v| plain_value(f, v)));
                    }
                }
                None => r.extend(std::iter::repeat_n("–".to_owned(), 6)),
            }
            r
        })
        .collect()
}

/// The run report as Markdown; charts are named `<stem>-<chart>.svg`.
pub fn run_markdown(a: &Analysis, stem: &str) -> Markdown {
    let mut md = Markdown {
        text: String::new(),
        charts: Vec::new(),
    };
    let s = &a.summary;
    let o = &mut md.text;
    let _ = writeln!(o, "# Run report: {}\n", cell(&name(a)));
    let g = &s["genesis"];
    let timing = match g["source"]["kind"].as_str() {
        None => "none (figures relative to slot starts are missing)".to_owned(),
        Some(kind) => format!(
            "{kind}, slot length {} s",
            g["slot_length"].as_f64().unwrap_or(0.0) / 1e9
        ),
    };
    let forks = a.chain["forks"].as_array().map_or(0, Vec::len);
    let n = |v: &Value| v.as_u64().unwrap_or(0).to_string();
    let _ = writeln!(o, "## Run health\n");
    table(
        o,
        &["", ""],
        &[
            vec!["slot timing".into(), timing],
            vec!["hosts".into(), n(&s["sumHosts"])],
            vec!["lines read".into(), n(&s["sumLogObjectsTotal"])],
            vec!["unreadable lines".into(), n(&s["bad_lines_total"])],
            vec!["main-chain blocks".into(), n(&a.blockprop["blocks"])],
            vec![
                "accepted for statistics".into(),
                n(&a.blockprop["accepted"]),
            ],
            vec!["blocks lost in forks".into(), forks.to_string()],
            vec![
                "known only from observers".into(),
                n(&s["blocks_observed_only"]),
            ],
        ],
    );
    for m in s["missing"].as_array().into_iter().flatten() {
        let metrics: Vec<&str> = m["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = writeln!(
            o,
            "- missing: {} — {}",
            metrics.join(", "),
            m["reason"].as_str().unwrap_or("")
        );
    }
    for w in s["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(o, "- **warning**: {}", w.as_str().unwrap_or(""));
    }
    o.push('\n');
    // Resources: the cluster's means, then per host.
    if !a.machines.is_empty() {
        let fields: Vec<&Field> = RESOURCES
            .iter()
            .filter_map(|id| field::lookup(id))
            .collect();
        let _ = writeln!(o, "## Resource usage (mean over slots)\n");
        let mut head = vec!["host"];
        head.extend(fields.iter().map(|f| f.short));
        let rows: Vec<Vec<String>> = a
            .machines
            .iter()
            .map(|m| (m["host"].as_str().unwrap_or("?"), m))
            .chain(std::iter::once(("cluster", &a.clusterperf)))
            .map(|(h, v)| {
                let mut r = vec![h.to_owned()];
                r.extend(fields.iter().map(|f| {
                    Dist::of(&v[f.id]).map_or_else(|| "–".into(), |d| plain_value(f, d.mean))
                }));
                r
            })
            .collect();
        table(o, &head, &rows);
    }
    for (key, title, group, intro) in PHASES {
        let rows = blockprop_rows(a, group);
        let _ = writeln!(md.text, "## {title}\n\n{intro}\n");
        chart(
            &mut md,
            stem,
            key,
            title,
            cdf_chart(title, "s", true, &series(&rows)),
        );
        table(
            &mut md.text,
            &["metric", "values", "mean", "median", "90 %", "min", "max"],
            &dist_rows(&rows),
        );
    }
    let topo = crate::nodes::Topology::of(a);
    let nodes = crate::nodes::figures(a, topo.as_ref());
    if !nodes.is_empty() {
        let _ = writeln!(md.text, "## Nodes\n");
        let rows: Vec<Vec<String>> = nodes
            .iter()
            .map(|n| {
                vec![
                    if n.slow {
                        format!("**{}** (slow)", cell(&n.host))
                    } else {
                        cell(&n.host)
                    },
                    n.region.clone().unwrap_or_else(|| "–".into()),
                    n.adopted.to_string(),
                    format!("{:.1} ms", n.mean_delay * 1e3),
                    format!("{:.1} ms", n.p90_delay * 1e3),
                    n.mean_hops
                        .map_or_else(|| "–".into(), |h| format!("{h:.2}")),
                ]
            })
            .collect();
        table(
            &mut md.text,
            &[
                "node",
                "region",
                "blocks adopted",
                "mean adoption",
                "90 %",
                "hops from forger",
            ],
            &rows,
        );
    }
    md.text
        .push_str("Definitions of every metric: `wb dictionary` (docs/DICTIONARY.md).\n");
    md
}

/// The comparison report as Markdown: one table of every metric any run has, Δ% and a verdict
/// where the difference exceeds the metric's noise threshold, and the overlaid adoption charts.
pub fn comparison_markdown(
    runs: &[Analysis],
    thresholds: &Thresholds,
    force: bool,
    stem: &str,
) -> Result<Markdown, CompareError> {
    if runs.len() < 2 {
        return Err(CompareError::TooFew);
    }
    let diffs = differences(runs);
    if !diffs.is_empty() && !force {
        return Err(CompareError::Incompatible(diffs));
    }
    let names: Vec<String> = runs.iter().map(name).collect();
    let mut md = Markdown {
        text: String::new(),
        charts: Vec::new(),
    };
    let _ = writeln!(
        md.text,
        "# Comparison: {}\n\nBaseline `{}`. Each figure is the metric's mean; Δ% against the baseline, **worse** / **better** / *changed* only where it exceeds the metric's noise threshold.\n",
        cell(&names.join(" vs ")),
        cell(&names[0])
    );
    for d in &diffs {
        let _ = writeln!(md.text, "- **compared although they differ**: {d}");
    }
    let mut head = vec!["metric".to_owned()];
    head.extend(names.iter().map(|n| cell(n)));
    let mut rows = Vec::new();
    for f in field::all() {
        let figures: Vec<Option<f64>> = runs.iter().map(|a| figure(a, f)).collect();
        if figures.iter().all(Option::is_none) {
            continue;
        }
        let mut r = vec![format!("{} (`{}`)", cell(f.short), f.id)];
        for (i, v) in figures.iter().enumerate() {
            r.push(match (v, figures[0]) {
                (None, _) => "–".into(),
                (Some(v), Some(base)) if i > 0 => {
                    let pct = if base == 0.0 {
                        String::new()
                    } else {
                        format!(" ({:+.1} %)", (v - base) / base.abs() * 100.0)
                    };
                    let mark = match verdict(f, base, *v, thresholds.of(f)) {
                        "worse" => " **worse**",
                        "better" => " **better**",
                        "changed" => " *changed*",
                        _ => "",
                    };
                    format!("{}{pct}{mark}", plain_value(f, *v))
                }
                (Some(v), _) => plain_value(f, *v),
            });
        }
        rows.push(r);
    }
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    table(&mut md.text, &head, &rows);
    for id in ["cdf0.50", "cdf1.00"] {
        let Some(f) = field::lookup(id) else { continue };
        let series: Vec<Series> = runs
            .iter()
            .zip(&names)
            .filter_map(|(a, n)| {
                let d = Dist::of(&a.blockprop["cdfs"][id])?;
                Some(Series {
                    id: format!("{id}:{n}"),
                    label: n.clone(),
                    points: d.samples.iter().map(|&(p, v)| (v, p)).collect(),
                })
            })
            .collect();
        let key = id.replace('.', "");
        chart(
            &mut md,
            stem,
            &key,
            f.short,
            cdf_chart(f.short, &unit(f), true, &series),
        );
    }
    md.text
        .push_str("Definitions of every metric: `wb dictionary` (docs/DICTIONARY.md).\n");
    Ok(md)
}
