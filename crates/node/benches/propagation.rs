//! Header-to-adoption time over a line of emulated nodes, against the lower bound the links
//! allow, in one run.
//!
//! Run: `cargo bench -p wb-node --bench propagation` (`-- --quick` for a short run).
//!
//! Ten nodes in a line (node `i` downloads from node `i − 1`), 50 ms one-way latency and
//! 100 Mbit/s per link (emulated in the nodes' transport); only node 0 forges. For each block,
//! the time from `Forge.Loop.ForgedBlock` on node 0 to `ChainDB.AddBlockEvent.AddedToCurrentChain`
//! on node 9 (from the trace timestamps) is compared with the lower bound: per hop, the header
//! (one latency), the fetch request (one latency) and the body (one latency plus its
//! transmission time) — three one-way latencies plus serialisation, times nine hops.

use std::collections::HashMap;

use wb_node::testnet::{self, Shape, TestnetSpec};

const HOPS: usize = 9;
const LATENCY_MS: f64 = 50.0;
const BANDWIDTH_MBPS: f64 = 100.0;

fn events(log: &str, ns: &str, key: &str) -> HashMap<String, (u64, u64)> {
    let mut out = HashMap::new();
    for line in log
        .lines()
        .filter(|l| l.contains(&format!("\"ns\":\"{ns}\"")))
    {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let at = v["at"]
            .as_str()
            .and_then(wb_trace::time::parse_utc_nanos)
            .unwrap_or(0);
        let hash = v["data"][key]
            .as_str()
            .unwrap_or("")
            .split('@')
            .next()
            .unwrap_or("")
            .to_owned();
        let size = v["data"]["blockSize"].as_u64().unwrap_or(0);
        out.entry(hash).or_insert((at, size));
    }
    out
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let spec = TestnetSpec {
        nodes: HOPS + 1,
        pools: 1,
        slot_length: 0.5,
        f: 0.3,
        latency_ms: LATENCY_MS,
        bandwidth_mbps: Some(BANDWIDTH_MBPS),
        shape: Shape::Line,
        start_in_ms: 200,
        severity: "Info",
        funds: Vec::new(),
    };
    let slots = if quick { 16 } else { 60 };
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (chains, logs) = rt.block_on(async {
        let seeds = testnet::write_genesis(dir.path(), &spec).expect("genesis");
        let nodes = testnet::start(dir.path(), &spec, &seeds, slots)
            .await
            .expect("start");
        testnet::finish(nodes).await
    });
    let forged = events(&logs[0], "Forge.Loop.AdoptedBlock", "blockHash");
    let adopted = events(
        &logs[HOPS],
        "ChainDB.AddBlockEvent.AddedToCurrentChain",
        "newtip",
    );
    let mut delays = Vec::new();
    let mut bounds = Vec::new();
    for (hash, (t_forged, size)) in &forged {
        if let Some((t_adopted, _)) = adopted.get(hash) {
            delays.push((*t_adopted as f64 - *t_forged as f64) / 1e6);
            // Header ~ 300 bytes, request ~ 80 bytes, body `size`: serialisation at the link rate.
            let serialisation_ms =
                (300.0 + 80.0 + *size as f64) * 8.0 / (BANDWIDTH_MBPS * 1e6) * 1e3;
            bounds.push(HOPS as f64 * (3.0 * LATENCY_MS + serialisation_ms));
        }
    }
    assert!(
        !delays.is_empty(),
        "no block reached the end of the line (chain lengths {:?})",
        chains.iter().map(Vec::len).collect::<Vec<_>>()
    );
    delays.sort_by(f64::total_cmp);
    bounds.sort_by(f64::total_cmp);
    let median = delays[delays.len() / 2];
    let bound = bounds[bounds.len() / 2];
    println!(
        "header-to-adoption over a {}-node line ({LATENCY_MS} ms, {BANDWIDTH_MBPS} Mbit/s links), {} blocks",
        HOPS + 1,
        delays.len()
    );
    println!("  lower bound from latency and bandwidth   {bound:>8.1} ms");
    println!(
        "  measured median (min {:.1}, max {:.1})     {median:>8.1} ms",
        delays[0],
        delays[delays.len() - 1]
    );
    println!(
        "  ratio measured / bound                   {:>8.3}  (target <= 1.2)",
        median / bound
    );
    // Where a hop's time goes, between node 0 and node 1 (medians).
    let stage = |from: &HashMap<String, (u64, u64)>, to: &HashMap<String, (u64, u64)>| {
        let mut d: Vec<f64> = from
            .iter()
            .filter_map(|(h, (t0, _))| to.get(h).map(|(t1, _)| (*t1 as f64 - *t0 as f64) / 1e6))
            .collect();
        d.sort_by(f64::total_cmp);
        d.get(d.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let header = events(&logs[1], "ChainSync.Client.DownloadedHeader", "block");
    let request = events(&logs[1], "BlockFetch.Client.SendFetchRequest", "head");
    let body = events(&logs[1], "BlockFetch.Client.CompletedBlockFetch", "block");
    let added = events(
        &logs[1],
        "ChainDB.AddBlockEvent.AddedToCurrentChain",
        "newtip",
    );
    println!(
        "  first hop: adopted→header {:.1} ms, header→request {:.1} ms, request→body {:.1} ms, body→adopted {:.1} ms",
        stage(&forged, &header),
        stage(&header, &request),
        stage(&request, &body),
        stage(&body, &added)
    );
}
