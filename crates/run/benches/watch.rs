//! The run's log watch (what feeds the progress line and the outcome) against two baselines on
//! the same files, in one run: reading the files and counting lines (the least any follower
//! does), and parsing every line as JSON (a naive follower).
//!
//! Run: `cargo bench -p wb-run --bench watch` (`-- --quick` for a short run). The input is a
//! synthetic log set shaped like a `value-local-52` run with full tracing: 53 hosts, per slot a
//! leadership check and its outcome, ledger metrics, mempool additions, and now and then a
//! block adoption and a resource sample.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use wb_run::watch::Watch;

fn line(at: u64, ns: &str, data: &str, host: &str) -> String {
    format!(
        r#"{{"at":"2026-11-24T06:{:02}:{:02}.{:09}Z","ns":"{ns}","data":{data},"sev":"Info","thread":"42","host":"{host}"}}"#,
        at / 60 % 60,
        at % 60,
        at * 7919 % 1_000_000_000
    )
}

fn write_logs(dir: &std::path::Path, hosts: usize, slots: u64) -> (Vec<PathBuf>, u64, u64) {
    let mut files = Vec::new();
    let (mut bytes, mut lines) = (0u64, 0u64);
    for h in 0..hosts {
        let host = format!("node-{h}");
        let path = dir.join(format!("{host}.json"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for slot in 0..slots {
            let mut ls = vec![
                line(
                    slot,
                    "Forge.Loop.StartLeadershipCheck",
                    &format!(r#"{{"kind":"TraceStartLeadershipCheck","slot":{slot}}}"#),
                    &host,
                ),
                line(
                    slot,
                    "Forge.Loop.NodeNotLeader",
                    &format!(r#"{{"kind":"TraceNodeNotLeader","slot":{slot}}}"#),
                    &host,
                ),
                line(
                    slot,
                    "LedgerMetrics",
                    &format!(
                        r#"{{"kind":"LedgerMetrics","slot":{slot},"utxoSize":14402,"delegMapSize":52}}"#
                    ),
                    &host,
                ),
            ];
            for t in 0..12 {
                ls.push(line(slot, "Mempool.AddedTx", &format!(r#"{{"kind":"TraceMempoolAddedTx","mempoolSize":{{"bytes":{},"numTxs":{t}}},"tx":{{"txid":"3b26f955"}}}}"#, t * 375), &host));
            }
            if slot % 20 == 0 {
                ls.push(line(slot, "ChainDB.AddBlockEvent.AddedToCurrentChain", &format!(r#"{{"kind":"AddedToCurrentChain","newTipSelectView":{{"blockNo":{},"issueNo":0,"kind":"PraosTiebreakerView","slotNo":{slot}}},"newtip":"a1e8@{slot}"}}"#, slot / 20), &host));
                ls.push(line(slot, "Resources", r#"{"Alloc":7303777,"CentiBlkIO":0,"CentiCpu":3,"FsRd":0,"FsWr":8192,"Heap":5321740,"NetRd":363852,"NetWr":361178,"RSS":9011200,"Threads":6,"kind":"ResourceStats"}"#, &host));
            }
            for l in ls {
                bytes += l.len() as u64 + 1;
                lines += 1;
                writeln!(out, "{l}").unwrap();
            }
        }
        files.push(path);
    }
    (files, bytes, lines)
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    (best, last.unwrap_or_else(|| unreachable!("runs ≥ 1")))
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (hosts, slots, runs) = if quick { (53, 100, 3) } else { (53, 600, 5) };
    let dir = tempfile::tempdir().unwrap();
    let (files, bytes, lines) = write_logs(dir.path(), hosts, slots);
    println!(
        "log set: {hosts} hosts × {slots} slots = {lines} lines, {:.1} MB",
        bytes as f64 / 1e6
    );

    let (t_count, counted) = best_of(runs, || {
        files
            .iter()
            .map(|f| {
                std::fs::read(f)
                    .unwrap()
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64
            })
            .sum::<u64>()
    });
    assert_eq!(counted, lines);
    let (t_json, parsed) = best_of(runs, || {
        let mut n = 0u64;
        for f in &files {
            for l in std::fs::read_to_string(f).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                n += u64::from(v["ns"].is_string());
            }
        }
        n
    });
    assert_eq!(parsed, lines);
    let (t_watch, watch) = best_of(runs, || {
        let mut w = Watch::default();
        for (h, f) in files.iter().enumerate() {
            w.update(&format!("node-{h}"), std::slice::from_ref(f));
        }
        w
    });
    assert_eq!(watch.nodes["node-0"].leadership_checks, slots);
    assert_eq!(watch.nodes["node-0"].chain_length(), slots.div_ceil(20));

    let rate = |t: f64| {
        format!(
            "{:>7.0} MB/s {:>6.2} M lines/s",
            bytes as f64 / t / 1e6,
            lines as f64 / t / 1e6
        )
    };
    println!(
        "read + count lines (baseline) {} ({:.1} ms)",
        rate(t_count),
        t_count * 1e3
    );
    println!(
        "parse every line as JSON      {} ({:.1} ms)",
        rate(t_json),
        t_json * 1e3
    );
    println!(
        "wb run's watch                {} ({:.1} ms)",
        rate(t_watch),
        t_watch * 1e3
    );
    println!(
        "ratio watch / read+count = {:.2}; watch is {:.1}× faster than parsing every line",
        t_watch / t_count,
        t_json / t_watch
    );
}
