//! A metric's trend over a profile's runs (from the results database): a table and one
//! self-contained HTML page whose chart marks each run's verdict against the run before it.

use std::fmt::Write;

use wb_analyse::field::Field;

use crate::page::{STYLE, help, plain_value, unit, value};
use crate::stats::Verdict;
use crate::svg::{escape, label, ticks};

/// A run's verdict against the run before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Called {
    /// The verdict.
    pub verdict: Verdict,
    /// Δ% of the means.
    pub delta_pct: f64,
    /// The p-value after Holm's correction over the trend.
    pub p_holm: f64,
    /// The minimum detectable effect, %.
    pub mde_pct: f64,
}

/// One run on a trend.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// The run's tag.
    pub run: String,
    /// When it ran (RFC 3339).
    pub date: String,
    /// What ran.
    pub version: String,
    /// The metric's figure.
    pub value: f64,
    /// Against the run before, where both have per-block values.
    pub verdict: Option<Called>,
}

/// `2026-12-01 10:00` of an RFC 3339 time.
fn short_date(d: &str) -> String {
    d.get(..16).unwrap_or(d).replace('T', " ")
}

fn verdict_class(v: Option<&Called>) -> &'static str {
    match v.map(|c| c.verdict) {
        Some(Verdict::Regression) => "regression",
        Some(Verdict::Improvement) => "improvement",
        Some(Verdict::NoChange) => "nochange",
        Some(Verdict::Inconclusive) => "inconclusive",
        None => "untested",
    }
}

fn called_text(f: &Field, c: Option<&Called>) -> String {
    match c {
        Some(c) => format!(
            "{} ({:+.1} %, p {:.4} after Holm, MDE {:.0} %)",
            c.verdict.name(),
            c.delta_pct,
            c.p_holm,
            c.mde_pct
        ),
        None => match f.aggregation {
            wb_analyse::field::Aggregation::PerBlock => {
                "not tested (first run, or too few blocks)".into()
            }
            _ => "not tested (no per-block values)".into(),
        },
    }
}

/// The trend as lines for a terminal.
pub fn trend_text(f: &Field, profile: &str, points: &[TrendPoint]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} ({}, {}) over {} run(s) of {profile}",
        f.short,
        f.id,
        unit(f),
        points.len()
    );
    let _ = writeln!(
        o,
        "{:<20} {:<16} {:>14}  {:<40}  run",
        "date", "version", "value", "verdict against the run before"
    );
    for p in points {
        let _ = writeln!(
            o,
            "{:<20} {:<16} {:>14}  {:<40}  {}",
            short_date(&p.date),
            p.version,
            plain_value(f, p.value),
            called_text(f, p.verdict.as_ref()),
            p.run
        );
    }
    o
}

const TREND_STYLE: &str = r#"
svg .pt.regression { fill: var(--bad); } svg .pt.improvement { fill: var(--good); }
svg .pt.nochange { fill: #7a848e; } svg .pt.inconclusive { fill: #fff; stroke: #7a848e; stroke-width: 1.5; }
svg .pt.untested { fill: #0072B2; } svg .trendline { stroke: #0072B2; stroke-width: 1.5; fill: none; }
td.verdict { text-align: left; } td.nowrap { white-space: nowrap; } td.regression { background: #fbe4e2; } td.improvement { background: #e3f3e6; }
.key span { margin-right: 14px; } .key i { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; vertical-align: -1px; }
"#;

/// The trend chart: the metric per run in order, each point coloured by its verdict.
fn chart(f: &Field, points: &[TrendPoint]) -> String {
    const W: f64 = 900.0;
    const H: f64 = 320.0;
    const L: f64 = 64.0;
    const R: f64 = 20.0;
    const T: f64 = 16.0;
    const B: f64 = 70.0;
    if points.is_empty() {
        return "<p class=\"nochart\">No runs to draw.</p>".into();
    }
    let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| {
        (a.min(p.value), b.max(p.value))
    });
    let (y0, y1) = (0f64.min(lo), if hi > 0.0 { hi * 1.1 } else { 1.0 });
    let n = points.len();
    let pw = W - L - R;
    let ph = H - T - B;
    // Inset so the first and last runs' labels fit.
    let x = |i: usize| {
        if n == 1 {
            L + pw / 2.0
        } else {
            L + 40.0 + i as f64 / (n - 1) as f64 * (pw - 80.0)
        }
    };
    let y = |v: f64| T + (1.0 - (v - y0) / (y1 - y0)) * ph;
    let title = format!("{} per run", f.short);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg class=\"chart\" id=\"trend\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = escape(&title)
    );
    for t in ticks(y0, y1, 5) {
        let _ = write!(
            o,
            "<line class=\"grid\" x1=\"{L}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            L + pw,
            L - 6.0,
            y(t) + 4.0,
            label(t),
            yy = y(t)
        );
    }
    let _ = write!(
        o,
        "<text class=\"axis\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        T + ph / 2.0,
        escape(&unit(f))
    );
    let mut d = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { "L" },
            x(i),
            y(p.value)
        );
    }
    let _ = write!(o, "<path class=\"trendline\" d=\"{d}\"/>");
    // Label at most ~12 runs on the axis, by date and version.
    let every = n.div_ceil(12).max(1);
    for (i, p) in points.iter().enumerate() {
        let class = verdict_class(p.verdict.as_ref());
        let _ = write!(
            o,
            "<circle class=\"pt {class}\" data-run=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\"><title>{}: {} — {}</title></circle>",
            escape(&p.run),
            x(i),
            y(p.value),
            escape(&p.run),
            escape(&plain_value(f, p.value)),
            escape(&called_text(f, p.verdict.as_ref()))
        );
        if i % every == 0 || i + 1 == n {
            let _ = write!(
                o,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x(i),
                T + ph + 16.0,
                escape(&p.date[..p.date.len().min(10)]),
                x(i),
                T + ph + 30.0,
                escape(&p.version)
            );
        }
    }
    let _ = write!(
        o,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">run (date, version), oldest first</text></svg>",
        L + pw / 2.0,
        H - 10.0
    );
    o
}

/// The trend as one self-contained HTML page: the chart, then every run with its verdict.
pub fn trend_page(f: &Field, profile: &str, database: &str, points: &[TrendPoint]) -> String {
    let mut o = String::with_capacity(32 << 10);
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>wb trend: {id}</title><style>{STYLE}{TREND_STYLE}</style></head><body><header><h1 title=\"{help}\">{short} <span class=\"unit\">{id}, {unit}</span></h1><p class=\"sub\">over {n} finished run(s) of profile {profile}, from {db}; each run is tested against the run before it (Mann-Whitney U over the accepted blocks, 95 % bootstrap interval, Holm's correction over the trend)</p></header>",
        id = escape(f.id),
        help = escape(&help(f)),
        short = escape(f.short),
        unit = escape(&unit(f)),
        n = points.len(),
        profile = escape(profile),
        db = escape(database),
    );
    o.push_str("<p class=\"key\"><span><i style=\"background:#b3261e\"></i>regression</span><span><i style=\"background:#1e6b34\"></i>improvement</span><span><i style=\"background:#7a848e\"></i>no change</span><span><i style=\"border:1.5px solid #7a848e\"></i>inconclusive</span><span><i style=\"background:#0072B2\"></i>not tested</span></p>");
    o.push_str(&chart(f, points));
    o.push_str("<table id=\"runs\"><thead><tr><th>run</th><th>date</th><th>version</th><th>value</th><th>against the run before</th></tr></thead><tbody>");
    for p in points {
        let class = verdict_class(p.verdict.as_ref());
        let _ = write!(
            o,
            "<tr data-run=\"{run}\"><td>{run}</td><td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td><td title=\"{}\">{}</td><td class=\"verdict {class}\">{}</td></tr>",
            escape(&short_date(&p.date)),
            escape(&p.version),
            escape(&help(f)),
            value(f, p.value),
            escape(&called_text(f, p.verdict.as_ref())),
            run = escape(&p.run),
        );
    }
    o.push_str("</tbody></table></body></html>\n");
    o
}
