//! The run report: one self-contained HTML page (styles and charts inline, nothing fetched when
//! opened, a print stylesheet) that says how a run or a set of logs went. Every metric carries
//! its unit and its dictionary entry: hover help where it stands, and the dictionary at the end.

use std::fmt::Write;

use serde_json::Value;
use wb_analyse::field::{self, Better, Field};

use crate::input::{Analysis, Dist};
use crate::svg::{Series, cdf_chart, downsample, escape, line_chart};

pub(crate) const STYLE: &str = r#"
:root { --ink: #1b1f24; --muted: #5b6570; --line: #d9dee3; --bad: #b3261e; --warn: #8a5a00; --good: #1e6b34; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0 0 16px; }
nav { margin: 12px 0 8px; } nav a { margin-right: 14px; color: #0b57d0; text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; white-space: nowrap; }
thead th { font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line); }
td.metric a, th a { color: inherit; text-decoration: none; border-bottom: 1px dotted var(--muted); }
[title] { cursor: help; }
.unit { color: var(--muted); font-size: 12px; margin-left: 2px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 150px; }
.card .v { font-size: 22px; font-weight: 600; } .card .k { color: var(--muted); font-size: 13px; }
.card.bad .v { color: var(--bad); } .card.warn .v { color: var(--warn); }
tr.slow td { background: #fbe4e2; }
ul.notes li { margin: 2px 0; } .bad { color: var(--bad); } .warn { color: var(--warn); }
svg.chart { width: 100%; max-width: 900px; height: auto; display: block; margin: 6px 0 14px; }
svg .grid { stroke: var(--line); stroke-width: 1; } svg .tick, svg .legend { font-size: 11px; fill: var(--muted); }
svg .axis { font-size: 12px; fill: var(--ink); } .nochart { color: var(--muted); font-style: italic; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 0 18px; } .grid2 svg.chart { margin: 0; }
table.dict td, table.dict th { text-align: left; font-size: 13px; } table.dict td:first-child { white-space: nowrap; }
@media print { body { max-width: none; padding: 0; font-size: 11px; } nav { display: none; } h2 { break-after: avoid; } svg.chart, table { break-inside: avoid; } a { color: inherit; } }
"#;

/// A metric's hover text: what it is, its unit, which way is better, where it comes from.
pub(crate) fn help(f: &Field) -> String {
    let unit = unit(f);
    let better = match f.better {
        Better::Higher => "; higher is better",
        Better::Lower => "; lower is better",
        Better::Neither => "",
    };
    let from = if f.from.is_empty() {
        "every line".to_owned()
    } else {
        f.from.join(", ")
    };
    format!(
        "{} ({unit}{better}). From: {from}. {}",
        f.description,
        f.aggregation.describe()
    )
}

pub(crate) fn unit(f: &Field) -> String {
    serde_json::to_value(f.unit)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A value in a metric's unit and precision: (number, unit, decimals). Delays under a second
/// in ms, so that a 0.12 ms step does not read as 0.000 s.
fn scaled(f: &Field, v: f64) -> (f64, String, usize) {
    match f.unit {
        wb_analyse::field::Unit::Sec if v.abs() < 1.0 => (v * 1e3, "ms".to_owned(), 2),
        // A mean of small counts: 0.25 battles per block is not 0.
        _ if f.precision == 0 && v.fract() != 0.0 && v.abs() < 10.0 => (v, unit(f), 2),
        _ => (v, unit(f), usize::from(f.precision)),
    }
}

/// A value with its unit, for HTML.
pub(crate) fn value(f: &Field, v: f64) -> String {
    let (v, unit, p) = scaled(f, v);
    format!("{v:.p$}<span class=\"unit\">{}</span>", escape(&unit))
}

/// A value with its unit, as plain text.
pub(crate) fn plain_value(f: &Field, v: f64) -> String {
    let (v, unit, p) = scaled(f, v);
    format!("{v:.p$} {unit}")
}

/// The name cell of a metric: its short name, linked to its dictionary entry, with hover help.
pub(crate) fn name_cell(f: &Field) -> String {
    format!(
        "<td class=\"metric\" data-metric=\"{id}\" title=\"{}\"><a href=\"#dict-{id}\">{}</a></td>",
        escape(&help(f)),
        escape(f.short),
        id = escape(f.id)
    )
}

/// A number cell of a metric, the hover help naming what the number is.
fn number_cell(f: &Field, what: &str, v: Option<f64>) -> String {
    match v {
        Some(v) => format!(
            "<td data-metric=\"{}\" title=\"{} — {}\">{}</td>",
            escape(f.id),
            escape(what),
            escape(&help(f)),
            value(f, v)
        ),
        None => "<td title=\"no value\">–</td>".into(),
    }
}

/// A table of distributions, one row per metric: values, mean, median, 90th centile, range.
fn dist_table(rows: &[(&'static Field, Option<Dist>)]) -> String {
    let mut o = String::from(
        "<table class=\"dists\"><thead><tr><th>metric</th><th>values</th><th>mean</th><th>median</th><th>90 %</th><th>min</th><th>max</th></tr></thead><tbody>",
    );
    for (f, d) in rows {
        o.push_str("<tr>");
        o.push_str(&name_cell(f));
        match d {
            Some(d) => {
                let _ = write!(o, "<td>{}</td>", d.size);
                o.push_str(&number_cell(f, "mean", Some(d.mean)));
                o.push_str(&number_cell(f, "median", Some(d.median)));
                o.push_str(&number_cell(f, "90th centile", d.at(0.9)));
                o.push_str(&number_cell(f, "smallest", Some(d.range.0)));
                o.push_str(&number_cell(f, "largest", Some(d.range.1)));
            }
            None => o.push_str(
                "<td colspan=\"6\" class=\"nochart\">no values (see Run health: missing)</td>",
            ),
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

/// The series of a chart: each metric's distribution as (value, centile) points.
pub(crate) fn series(rows: &[(&'static Field, Option<Dist>)]) -> Vec<Series> {
    rows.iter()
        .filter_map(|(f, d)| {
            Some(Series {
                id: f.id.into(),
                label: f.short.into(),
                points: d.as_ref()?.samples.iter().map(|&(p, v)| (v, p)).collect(),
            })
        })
        .collect()
}

/// The block-propagation metrics of `group`, with their distributions.
pub(crate) fn blockprop_rows(a: &Analysis, group: &str) -> Vec<(&'static Field, Option<Dist>)> {
    wb_analyse::blockprop::FIELDS
        .iter()
        .filter(|f| f.group == group)
        .map(|f| (f, Dist::of(&a.blockprop["cdfs"][f.id])))
        .collect()
}

fn card(class: &str, key: &str, v: &str, title: &str) -> String {
    format!(
        "<div class=\"card {class}\" title=\"{}\"><div class=\"v\">{v}</div><div class=\"k\">{}</div></div>",
        escape(title),
        escape(key)
    )
}

fn as_u64(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn manifest(a: &Analysis, o: &mut String) {
    let s = &a.summary;
    let meta = &s["meta"];
    let title = meta["tag"]
        .as_str()
        .or_else(|| meta["profile"].as_str())
        .map_or_else(
            || format!("logs of {} hosts", as_u64(&s["sumHosts"])),
            str::to_owned,
        );
    let _ = write!(
        o,
        "<header><h1>Run report: {}</h1><p class=\"sub\">analysed {} by wb {} from <code>{}</code></p></header>",
        escape(&title),
        escape(s["sumAnalysisTime"].as_str().unwrap_or("")),
        escape(s["wb_version"].as_str().unwrap_or("")),
        escape(&a.dir.display().to_string())
    );
    o.push_str("<nav><a href=\"#manifest\">Manifest</a><a href=\"#health\">Run health</a><a href=\"#resources\">Resources</a><a href=\"#timeline\">Over the run</a><a href=\"#forging\">Forging</a><a href=\"#peers\">Peer propagation</a><a href=\"#adoption\">End-to-end adoption</a><a href=\"#nodes\">Nodes</a><a href=\"#dictionary\">Dictionary</a></nav>");
    o.push_str("<section id=\"manifest\"><h2>Manifest</h2><table><tbody>");
    let mut row = |k: &str, v: String| {
        let _ = write!(o, "<tr><td>{}</td><td>{}</td></tr>", escape(k), v);
    };
    if let Value::Object(m) = meta {
        for (k, v) in m {
            if let Some(t) = v.as_str() {
                row(k, escape(t));
            } else if v.is_number() || v.is_boolean() {
                row(k, v.to_string());
            }
        }
    }
    // The machine and build (`manifest`), and what the run changed from its profile.
    for (k, v) in meta["manifest"].as_object().into_iter().flatten() {
        if !v.is_null() && !v.is_object() && !v.is_array() {
            // The build's and the machine's facts, apart from the run's own (`status` there is
            // the build tree's).
            let k = match k.as_str() {
                "status" => "build tree".to_owned(),
                k => format!("machine · {k}"),
            };
            row(
                &k,
                escape(
                    v.as_str()
                        .map_or_else(|| v.to_string(), str::to_owned)
                        .as_str(),
                ),
            );
        }
    }
    for (path, base, run) in profile_changes(a) {
        row(
            &format!("profile · {path}"),
            format!(
                "{} <span class=\"unit\">(built-in: {})</span>",
                escape(&run.to_string()),
                escape(&base.to_string())
            ),
        );
    }
    if let Some(o) = meta["profile_overlay"]
        .as_object()
        .filter(|o| !o.is_empty())
    {
        row(
            "changed from the profile",
            format!(
                "<code>{}</code>",
                escape(&Value::Object(o.clone()).to_string())
            ),
        );
    }
    let g = &s["genesis"];
    let timing = match g["source"]["kind"].as_str() {
        None => "none: figures relative to slot starts are missing".to_owned(),
        Some(kind) => format!(
            "{kind}; slot length {} s",
            g["slot_length"].as_f64().unwrap_or(0.0) / 1e9
        ),
    };
    row("slot timing (genesis)", escape(&timing));
    row("hosts", as_u64(&s["sumHosts"]).to_string());
    o.push_str("</tbody></table></section>");
}

/// The fields in which the run's profile (`profile.json` beside its analysis) differs from the
/// built-in profile of its name: what `--set` and overlays changed. None when the analysis is
/// not of a run, or its profile is not a built-in one.
fn profile_changes(a: &Analysis) -> Vec<(String, Value, Value)> {
    let run_dir = match a.dir.file_name() {
        Some(n) if n == "analysis" => a.dir.parent(),
        _ => Some(a.dir.as_path()),
    };
    let Some(run) = run_dir
        .and_then(|d| std::fs::read_to_string(d.join("profile.json")).ok())
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        return Vec::new();
    };
    let Some(base) = run["name"]
        .as_str()
        .and_then(|n| wb_profile::catalog::load(n, &[], None).ok())
        .and_then(|p| serde_json::to_value(p).ok())
    else {
        return Vec::new();
    };
    wb_profile::catalog::diff(&base, &run)
        .into_iter()
        // The overlay itself is listed apart; derived values follow from the fields changed.
        .filter(|(path, _, _)| !path.starts_with("overlay") && !path.starts_with("derived"))
        .collect()
}

fn health(a: &Analysis, o: &mut String) {
    let s = &a.summary;
    let bp = &a.blockprop;
    o.push_str("<section id=\"health\"><h2>Run health</h2><div class=\"cards\">");
    let lines = as_u64(&s["sumLogObjectsTotal"]);
    let bad = as_u64(&s["bad_lines_total"]);
    let forks = a.chain["forks"].as_array().map_or(0, Vec::len);
    let unchained = a.chain["unchained"].as_array().map_or(0, Vec::len);
    let dropped: u64 = a.hosts.iter().map(|h| as_u64(&h["dropped_by_node"])).sum();
    let help_of = |id: &str| field::lookup(id).map(help).unwrap_or_default();
    o.push_str(&card(
        "",
        "hosts",
        &s["sumHosts"].to_string(),
        &help_of("sumHosts"),
    ));
    o.push_str(&card(
        "",
        "lines read",
        &lines.to_string(),
        &help_of("sumLogObjectsTotal"),
    ));
    o.push_str(&card(
        if bad > 0 { "warn" } else { "" },
        "unreadable lines",
        &bad.to_string(),
        &help_of("bad_lines_total"),
    ));
    o.push_str(&card(
        "",
        "main-chain blocks",
        &as_u64(&bp["blocks"]).to_string(),
        "Blocks on the main chain the logs show",
    ));
    o.push_str(&card(
        "",
        "accepted for statistics",
        &as_u64(&bp["accepted"]).to_string(),
        "Main-chain blocks the filters (and the tip rule) keep",
    ));
    o.push_str(&card(
        if forks > 0 { "warn" } else { "" },
        "blocks lost in forks",
        &forks.to_string(),
        "Blocks forged at a height the main chain has another block at",
    ));
    o.push_str(&card(
        "",
        "known only from observers",
        &as_u64(&s["blocks_observed_only"]).to_string(),
        &help_of("blocks_observed_only"),
    ));
    if unchained > 0 {
        o.push_str(&card(
            "warn",
            "on chains not shown",
            &unchained.to_string(),
            "Blocks whose predecessors no line names (an excerpt with gaps)",
        ));
    }
    if dropped > 0 {
        o.push_str(&card(
            "bad",
            "trace messages dropped by nodes",
            &dropped.to_string(),
            "Messages the nodes say they could not write out (TraceObject queue overflowed)",
        ));
    }
    if let Some(g) = s["generator"].as_object() {
        let achieved = g.get("achievedTps").and_then(Value::as_f64).unwrap_or(0.0);
        let shown = match g.get("requestedTps").and_then(Value::as_f64) {
            Some(r) => format!("{achieved:.2} of {r:.2}"),
            None => format!("{achieved:.2}"),
        };
        o.push_str(&card("", "generator tx/s", &shown, &help_of("achievedTps")));
    }
    o.push_str("</div>");
    outcome(&s["meta"]["outcome"], o);
    o.push_str("<ul class=\"notes\">");
    if let Some(r) = s["sumChainRejectionStats"].as_object() {
        for (why, n) in r {
            let _ = write!(
                o,
                "<li>main-chain blocks left out of the statistics: {} ({})</li>",
                n,
                escape(why)
            );
        }
    }
    for m in s["missing"].as_array().into_iter().flatten() {
        let metrics: Vec<&str> = m["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = write!(
            o,
            "<li class=\"warn\">missing: {} — {}</li>",
            escape(&metrics.join(", ")),
            escape(m["reason"].as_str().unwrap_or(""))
        );
    }
    for w in s["warnings"].as_array().into_iter().flatten() {
        let _ = write!(
            o,
            "<li class=\"bad\">warning: {}</li>",
            escape(w.as_str().unwrap_or(""))
        );
    }
    for h in &a.hosts {
        for n in h["not_measured"].as_array().into_iter().flatten() {
            let _ = write!(
                o,
                "<li class=\"warn\">{}: {} not measured — {}</li>",
                escape(h["host"].as_str().unwrap_or("")),
                escape(n["metric"].as_str().unwrap_or("")),
                escape(n["reason"].as_str().unwrap_or(""))
            );
        }
    }
    o.push_str("</ul></section>");
}

/// How a run ended: its status, every process's exit, every node's chain and missed slots.
fn outcome(out: &Value, o: &mut String) {
    let Some(status) = out["status"].as_str() else {
        return;
    };
    let class = if status == "finished" { "" } else { "bad" };
    let _ = write!(
        o,
        "<h3>The run</h3><p class=\"{class}\">{} {}</p>",
        escape(status),
        escape(out["reason"].as_str().unwrap_or(""))
    );
    if let Some(p) = out["processes"].as_object() {
        o.push_str("<table class=\"processes\"><thead><tr><th>process</th><th>ended</th><th>CPU</th><th>peak RSS</th><th>ran</th></tr></thead><tbody>");
        for (name, x) in p {
            let ended = match (x["exit_code"].as_i64(), x["signal"].as_i64()) {
                (Some(0), _) => "exit 0".to_owned(),
                (Some(c), _) => format!("<span class=\"bad\">exit {c}</span>"),
                (None, Some(sig)) => format!("<span class=\"bad\">signal {sig}</span>"),
                _ => "–".to_owned(),
            };
            let stopped = if x["stopped_by_wb"].as_bool() == Some(true) {
                " (stopped by wb)"
            } else {
                ""
            };
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{ended}{stopped}</td><td>{:.1}<span class=\"unit\">s</span></td><td>{:.0}<span class=\"unit\">MiB</span></td><td>{:.0}<span class=\"unit\">s</span></td></tr>",
                escape(name),
                x["cpu_s"].as_f64().unwrap_or(0.0),
                x["max_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0,
                x["wall_s"].as_f64().unwrap_or(0.0),
            );
        }
        o.push_str("</tbody></table>");
    }
    if let Some(nodes) = out["nodes"].as_object().filter(|n| !n.is_empty()) {
        o.push_str("<table class=\"outcome-nodes\"><thead><tr><th>node</th><th title=\"Blocks on its chain at the end\">chain</th><th>forged</th><th>fork switches</th><th>leadership checks</th><th title=\"Slots between its first and last leadership check without one\">missed slots</th></tr></thead><tbody>");
        for (name, n) in nodes {
            let missed = n["missed_slots"].as_u64().unwrap_or(0);
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{missed}</td></tr>",
                escape(name),
                n["tip_block_no"].as_u64().map_or(0, |b| b + 1),
                n["forged"].as_u64().unwrap_or(0),
                n["forks"].as_u64().unwrap_or(0),
                n["leadership_checks"].as_u64().unwrap_or(0),
                if missed > 0 { " class=\"warn\"" } else { "" },
            );
        }
        o.push_str("</tbody></table>");
    }
    if let Some(g) = out["generator"].as_object() {
        let _ = write!(
            o,
            "<p>generator: {} sent, {} accepted, {} rejected</p>",
            g.get("sent").unwrap_or(&Value::Null),
            g.get("accepted").unwrap_or(&Value::Null),
            g.get("rejected").unwrap_or(&Value::Null)
        );
    }
}

/// The resource metrics shown per host, in this order.
pub(crate) const RESOURCES: &[&str] = &[
    "CentiCpu", "CentiGC", "RSS", "Heap", "Live", "Alloc", "NetRd", "NetWr", "FsRd", "FsWr",
];

fn resources(a: &Analysis, o: &mut String) {
    o.push_str("<section id=\"resources\"><h2>Resource usage</h2>");
    let fields: Vec<&Field> = RESOURCES
        .iter()
        .filter_map(|id| field::lookup(id))
        .collect();
    if a.machines.is_empty() {
        o.push_str("<p class=\"nochart\">No per-slot machine figures (they need slot timing and leadership checks): see Run health.</p></section>");
        return;
    }
    o.push_str("<p>Mean over each host's slots; the cluster row is the mean of the hosts' means. Hover a number for its metric.</p><table class=\"resources\"><thead><tr><th>host</th>");
    for f in &fields {
        let _ = write!(
            o,
            "<th data-metric=\"{id}\" title=\"{}\"><a href=\"#dict-{id}\">{}</a></th>",
            escape(&help(f)),
            escape(f.short),
            id = escape(f.id)
        );
    }
    o.push_str("</tr></thead><tbody>");
    let mut row = |name: &str, v: &Value| {
        let _ = write!(o, "<tr><td>{}</td>", escape(name));
        for f in &fields {
            o.push_str(&number_cell(
                f,
                &format!("{name}: mean"),
                Dist::of(&v[f.id]).map(|d| d.mean),
            ));
        }
        o.push_str("</tr>");
    };
    for m in &a.machines {
        row(m["host"].as_str().unwrap_or("?"), m);
    }
    row("cluster", &a.clusterperf);
    o.push_str("</tbody></table>");
    let cpu = field::lookup("CentiCpu").expect("in the dictionary");
    let per_host: Vec<Series> = a
        .machines
        .iter()
        .filter_map(|m| {
            Some(Series {
                id: format!("CentiCpu:{}", m["host"].as_str()?),
                label: m["host"].as_str()?.to_owned(),
                points: Dist::of(&m["CentiCpu"])?
                    .samples
                    .iter()
                    .map(|&(p, v)| (v, p))
                    .collect(),
            })
        })
        .take(12)
        .collect();
    let shown = if a.machines.len() > per_host.len() {
        format!(
            ", the first {} of {} hosts",
            per_host.len(),
            a.machines.len()
        )
    } else {
        String::new()
    };
    let _ = write!(
        o,
        "<h3 title=\"{}\">CPU per host (share of slots at or below each CPU figure{shown})</h3>{}",
        escape(&help(cpu)),
        cdf_chart("CPU per host", &unit(cpu), false, &per_host)
    );
    o.push_str("</section>");
}

/// Hosts drawn in one chart at most (the colours stay apart).
const MAX_LINES: usize = 12;
/// Points per line at most.
const MAX_POINTS: usize = 400;

fn timeline(a: &Analysis, o: &mut String) {
    o.push_str("<section id=\"timeline\"><h2>Over the run</h2>");
    if a.timelines.is_empty() {
        o.push_str(
            "<p class=\"nochart\">No per-slot table (it needs slot timing): see Run health.</p>",
        );
    }
    let shown = a.timelines.len().min(MAX_LINES);
    let _ = write!(
        o,
        "<p>Per slot, averaged over runs of slots where a run is long{}.</p><div class=\"grid2\">",
        if a.timelines.len() > shown {
            format!("; the first {shown} of {} hosts", a.timelines.len())
        } else {
            String::new()
        }
    );
    let resources: &[(&str, &str, &str)] = if a.timelines.is_empty() {
        &[]
    } else {
        &[
            ("CentiCpu", "CPU over the run", "% of a core"),
            ("RSS", "Resident memory over the run", "MiB"),
            ("NetRd", "Network reads over the run", "KiB/s"),
            ("NetWr", "Network writes over the run", "KiB/s"),
            ("FsRd", "Disk reads over the run", "KiB/s"),
            ("FsWr", "Disk writes over the run", "KiB/s"),
        ]
    };
    for (i, &(metric, title, unit)) in resources.iter().enumerate() {
        let series: Vec<Series> = a
            .timelines
            .iter()
            .take(MAX_LINES)
            .map(|t| {
                let pts: Vec<(f64, f64)> = t
                    .rows
                    .iter()
                    .filter_map(|(slot, v)| Some((*slot, v[i]?)))
                    .collect();
                Series {
                    id: format!("{metric}:{}", t.host),
                    label: t.host.clone(),
                    points: downsample(&pts, MAX_POINTS),
                }
            })
            .collect();
        let help = field::lookup(metric).map(help).unwrap_or_default();
        let _ = write!(
            o,
            "<div><h3 title=\"{}\">{}</h3>{}</div>",
            escape(&help),
            escape(title),
            line_chart(title, "slot", unit, &series)
        );
    }
    for (key, title, unit, get) in [
        ("cdfBlockSize", "Block size over the run", "bytes", 1usize),
        ("cdfBlockGap", "Block gap over the run", "s", 2),
    ] {
        let pts: Vec<(f64, f64)> = a
            .blocks
            .iter()
            .filter_map(|b| Some((b.0, if get == 1 { b.1? } else { b.2? })))
            .collect();
        let help = field::lookup(key).map(help).unwrap_or_default();
        let _ = write!(
            o,
            "<div><h3 title=\"{}\">{}</h3>{}</div>",
            escape(&help),
            escape(title),
            line_chart(
                title,
                "slot",
                unit,
                &[Series {
                    id: key.into(),
                    label: "main chain".into(),
                    points: downsample(&pts, MAX_POINTS),
                }]
            )
        );
    }
    o.push_str("</div></section>");
}

fn phases(a: &Analysis, o: &mut String, id: &str, title: &str, group: &str, intro: &str) {
    let rows = blockprop_rows(a, group);
    let _ = write!(
        o,
        "<section id=\"{id}\"><h2>{}</h2><p>{}</p>{}{}</section>",
        escape(title),
        escape(intro),
        cdf_chart(title, "s", true, &series(&rows)),
        dist_table(&rows)
    );
}

fn nodes(a: &Analysis, o: &mut String) {
    use crate::nodes::{Topology, figures, topology_svg};
    o.push_str("<section id=\"nodes\"><h2>Nodes</h2>");
    let topo = Topology::of(a);
    let nodes = figures(a, topo.as_ref());
    if nodes.is_empty() {
        o.push_str("<p class=\"nochart\">No adoption times relative to slot starts (they need slot timing): see Run health.</p></section>");
        return;
    }
    o.push_str("<p>Each node's adoption of the main chain's blocks, from the block's slot start; the slowest tenth are marked. Where the analysis is of a run, its region and its distance in hops from each block's forger come from the run's topology.</p><table class=\"nodes\"><thead><tr><th>node</th><th>region</th><th>blocks adopted</th><th title=\"Mean time from the block's slot start to its adoption by this node\">mean adoption</th><th>90 %</th><th title=\"Mean hops from the block's forger in the topology\">hops from forger</th><th></th></tr></thead><tbody>");
    for n in &nodes {
        let _ = write!(
            o,
            "<tr data-node=\"{h}\"{}><td>{h}</td><td>{}</td><td>{}</td><td>{:.1}<span class=\"unit\">ms</span></td><td>{:.1}<span class=\"unit\">ms</span></td><td>{}</td><td>{}</td></tr>",
            if n.slow { " class=\"slow\"" } else { "" },
            escape(n.region.as_deref().unwrap_or("–")),
            n.adopted,
            n.mean_delay * 1e3,
            n.p90_delay * 1e3,
            n.mean_hops
                .map_or_else(|| "–".to_owned(), |h| format!("{h:.2}")),
            if n.slow {
                "<span class=\"bad\">slow</span>"
            } else {
                ""
            },
            h = escape(&n.host)
        );
    }
    o.push_str("</tbody></table>");
    match &topo {
        Some(t) => {
            let _ = write!(o, "<h3>Topology, nodes coloured by mean adoption delay</h3>{}", topology_svg(t, &nodes));
        }
        None => o.push_str("<p class=\"nochart\">No topology beside this analysis (a run's topology.json): no picture.</p>"),
    }
    o.push_str("</section>");
}

fn dictionary(o: &mut String) {
    o.push_str("<section id=\"dictionary\"><h2>Data dictionary</h2><table class=\"dict\"><thead><tr><th>id</th><th>metric</th><th>unit</th><th>better</th><th>from</th><th>what it measures</th></tr></thead><tbody>");
    for f in field::all() {
        let better = match f.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
            Better::Neither => "–",
        };
        let from = if f.from.is_empty() {
            "every line".to_owned()
        } else {
            f.from.join(", ")
        };
        let _ = write!(
            o,
            "<tr id=\"dict-{id}\"><td><code>{id}</code></td><td>{}</td><td>{}</td><td>{better}</td><td>{}</td><td>{} <span class=\"unit\">{}</span></td></tr>",
            escape(f.short),
            escape(&unit(f)),
            escape(&from),
            escape(f.description),
            escape(f.aggregation.describe()),
            id = escape(f.id)
        );
    }
    o.push_str("</tbody></table></section>");
}

/// The block-propagation sections: (anchor, title, dictionary group, what it shows).
pub(crate) const PHASES: [(&str, &str, &str, &str); 3] = [
    (
        "forging",
        "Forging",
        "Forger event Δt",
        "How long each step of forging took on the block's forger, per accepted main-chain block (only for blocks whose forger's log is here).",
    ),
    (
        "peers",
        "Peer propagation",
        "Peer event Δt",
        "How a block travelled: each observing node's notice, request, fetch and adoption of it, and the fastest peer's times since the slot started.",
    ),
    (
        "adoption",
        "End-to-end adoption",
        "Slot-rel. Δt to adoption centile",
        "Time from the slot's start until a share of the whole cluster had adopted the block (0.50: half of the nodes … 1.00: all of them).",
    ),
];

/// The run report of an analysis, as one HTML page.
pub fn run_report(a: &Analysis) -> String {
    let mut o = String::with_capacity(256 << 10);
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>wb run report</title><style>{STYLE}</style></head><body>"
    );
    manifest(a, &mut o);
    health(a, &mut o);
    resources(a, &mut o);
    timeline(a, &mut o);
    for (id, title, group, intro) in PHASES {
        phases(a, &mut o, id, title, group, intro);
    }
    nodes(a, &mut o);
    dictionary(&mut o);
    o.push_str("</body></html>\n");
    o
}
