//! The end-of-run summary, rendered from `meta.json` (so `wb run show` prints the same for any
//! run dir, on any machine).

use std::fmt::Write as _;

use serde_json::Value;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// A few lines a person reads at the end of a run.
pub fn render(meta: &Value, path: &std::path::Path) -> String {
    let m = &meta["meta"];
    let o = &m["outcome"];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "run {} ({}): {}",
        m["tag"].as_str().unwrap_or("?"),
        m["profile"].as_str().unwrap_or("?"),
        m["status"].as_str().unwrap_or("?")
    );
    if let Some(r) = o["reason"].as_str() {
        let _ = writeln!(s, "  reason: {r}");
    }
    let _ = writeln!(
        s,
        "  system start {}, wb {} ({})",
        m["timing"]["systemStart"].as_str().unwrap_or("?"),
        m["manifest"]["wb_version"].as_str().unwrap_or("?"),
        m["manifest"]["commit"]
            .as_str()
            .unwrap_or("?")
            .get(..7)
            .unwrap_or("?")
    );
    if let Some(nodes) = o["nodes"].as_object().filter(|n| !n.is_empty()) {
        let chain: Vec<u64> = nodes
            .values()
            .map(|n| n["tip_block_no"].as_u64().map_or(0, |b| b + 1))
            .collect();
        let forged: u64 = nodes
            .values()
            .map(|n| n["forged"].as_u64().unwrap_or(0))
            .sum();
        let missed: u64 = nodes
            .values()
            .map(|n| n["missed_slots"].as_u64().unwrap_or(0))
            .sum();
        let checks: u64 = nodes
            .values()
            .map(|n| n["leadership_checks"].as_u64().unwrap_or(0))
            .sum();
        let forks: u64 = nodes
            .values()
            .map(|n| n["forks"].as_u64().unwrap_or(0))
            .sum();
        let _ = writeln!(
            s,
            "  nodes: {} · chain length {}–{} blocks · {forged} forged · {forks} fork switches · leadership checks {checks}, missed {missed}",
            nodes.len(),
            chain.iter().min().unwrap_or(&0),
            chain.iter().max().unwrap_or(&0),
        );
        if nodes.len() <= 12 {
            for (name, n) in nodes {
                let _ = writeln!(
                    s,
                    "    {name:<10} chain {:>4}  forged {:>3}  checks {:>5}  missed {:>3}",
                    n["tip_block_no"].as_u64().map_or(0, |b| b + 1),
                    n["forged"].as_u64().unwrap_or(0),
                    n["leadership_checks"].as_u64().unwrap_or(0),
                    n["missed_slots"].as_u64().unwrap_or(0),
                );
            }
        }
    }
    if let Some(g) = o["generator"].as_object() {
        let _ = write!(
            s,
            "  generator: {} sent, {} accepted, {} rejected",
            g["sent"], g["accepted"], g["rejected"]
        );
        if let Some(sum) = g.get("summary").and_then(Value::as_object) {
            let _ = write!(
                s,
                " · requested {:.1} tx/s, achieved {:.1} tx/s, adopted {}",
                f(&sum["requestedTps"]),
                f(&sum["achievedTps"]),
                sum["adopted"]
            );
        } else {
            s += " · no summary (the generator did not finish)";
        }
        s += "\n";
    }
    if let Some(c) = o["chainsync"].as_object() {
        let _ = writeln!(
            s,
            "  chainsync: {} blocks in {:.2} s = {:.0} blocks/s",
            c["blocks"],
            f(&c["seconds"]),
            f(&c["blocks_per_s"])
        );
    }
    let cpu = &o["cpu"];
    let wall = f(&cpu["wall_s"]);
    if wall > 0.0 {
        let cap = wall * cpu["cpus"].as_f64().unwrap_or(1.0).max(1.0);
        let _ = writeln!(
            s,
            "  CPU over {wall:.0} s on {} cores: nodes {:.1}%, tracer {:.1}%, generator {:.1}%, wb run {:.1}% of the machine",
            cpu["cpus"],
            100.0 * f(&cpu["nodes_s"]) / cap,
            100.0 * f(&cpu["tracer_s"]) / cap,
            100.0 * f(&cpu["generator_s"]) / cap,
            100.0 * f(&cpu["supervisor_s"]) / cap,
        );
    }
    if let Some(p) = o["processes"].as_object() {
        let bad: Vec<String> = p
            .iter()
            .filter(|(_, x)| x["exit_code"].as_i64() != Some(0))
            .map(|(n, x)| match x["exit_code"].as_i64() {
                Some(c) => format!("{n} (exit {c})"),
                None => format!("{n} (signal {})", x["signal"]),
            })
            .collect();
        if bad.is_empty() {
            let _ = writeln!(s, "  exit codes: all {} processes 0", p.len());
        } else {
            let _ = writeln!(s, "  exit codes: not 0: {}", bad.join(", "));
        }
    }
    let _ = writeln!(s, "  run directory: {}", path.display());
    s
}
