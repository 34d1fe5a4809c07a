//! Header-to-adoption time over a line of emulated nodes, against the lower bound the links
//! allow, in one run, for each link model.
//!
//! Run: `cargo bench -p wb-node --bench propagation` (`-- --quick` for a short run).
//!
//! Ten nodes in a line (node `i` downloads from node `i − 1`), 50 ms one-way latency and
//! 100 Mbit/s per link (emulated in the nodes' transport); only node 0 forges, and a feeder keeps
//! its mempool full of 4 KB transactions, so blocks are large. For each block, the time from
//! `Forge.Loop.AdoptedBlock` on node 0 to `ChainDB.AddBlockEvent.AddedToCurrentChain` on node 9
//! (from the trace timestamps) is compared with what the link model implies for a connection
//! idle since the last block: per hop, the header (one latency), the fetch request (one latency)
//! and the body. (A block forged within an RTO of the last finds a warm window and can beat
//! it: the minimum shows those.)
//!
//! * `simple`: the body takes one latency plus its transmission time.
//! * `tcp`: the body's segments leave in slow-start rounds from the initial window (the
//!   connection is idle between blocks, so it restarts each time): `r` rounds for `n` segments,
//!   the smallest `r` with `IW·(2^r − 1) ≥ n`, so the body takes `(r − 1)` round trips plus one
//!   latency plus its transmission time.

use std::collections::HashMap;
use std::time::Duration;

use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::TxIn;
use wb_ledger::wallet::Wallet;
use wb_node::link::{LinkConfig, LinkModel, TcpParams};
use wb_node::testnet::{self, Shape, TestNode, TestnetSpec};

const HOPS: usize = 9;
const LATENCY_MS: f64 = 50.0;
const BANDWIDTH_MBPS: f64 = 100.0;
/// Bytes of a header and of a fetch request on the wire (with the mux header).
const HEADER_BYTES: f64 = 300.0;
const REQUEST_BYTES: f64 = 80.0;

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

/// Slow-start rounds for `n` segments from an initial window `iw`.
fn slow_start_rounds(n: u64, iw: u64) -> u64 {
    let mut r = 1;
    while iw * ((1 << r) - 1) < n {
        r += 1;
    }
    r
}

/// The time of one hop on an idle link for a body of `size` bytes under `model`, ms.
fn hop_bound_ms(model: LinkModel, size: f64, tcp: &TcpParams) -> f64 {
    let ser = |bytes: f64| bytes * 8.0 / (BANDWIDTH_MBPS * 1e6) * 1e3;
    match model {
        LinkModel::Simple => 3.0 * LATENCY_MS + ser(HEADER_BYTES + REQUEST_BYTES + size),
        LinkModel::Tcp => {
            // The model sends whole segments.
            let mss = f64::from(tcp.mss);
            let n = ((size + 8.0) / mss).ceil().max(1.0);
            let r = slow_start_rounds(n as u64, u64::from(tcp.initial_window));
            3.0 * LATENCY_MS + (r - 1) as f64 * 2.0 * LATENCY_MS + ser(2.0 * mss) + ser(n * mss)
        }
    }
}

/// Keeps node 0's mempool full until `until`: a chain of transactions, each spending the last
/// one's change and paying 60 outputs (about 4 KB each).
async fn feed(node: &TestNode, wallet: Wallet, funds: u64, until: tokio::time::Instant) {
    let params = ProtocolParams::default();
    let to = Wallet::from_seed([0x78; 32], 0).address();
    let outputs: Vec<(Vec<u8>, u64)> = (0..60).map(|_| (to.clone(), 1_000_000)).collect();
    let mut input = (
        TxIn {
            tx_id: wb_ledger::crypto::blake2b_256(&wallet.address()),
            index: 0,
        },
        funds,
    );
    while tokio::time::Instant::now() < until {
        let (tx, fee) = wallet
            .build_payment(&[input], &outputs, None, &params)
            .expect("payment");
        loop {
            match node.node.submit_tx(&tx) {
                Ok(_) => break,
                Err(e) if e.contains("MempoolFull") => {
                    if tokio::time::Instant::now() >= until {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("transaction refused: {e}"),
            }
        }
        let id = wb_ledger::tx::decode_tx(&tx).expect("decode").id;
        input = (
            TxIn {
                tx_id: id,
                index: outputs.len() as u64,
            },
            input.1 - 60 * 1_000_000 - fee,
        );
    }
}

/// Medians of one run of the line under one link model.
struct Measured {
    blocks: usize,
    median: f64,
    min: f64,
    max: f64,
    bound: f64,
    size: f64,
    /// First hop: adopted→header, header→request, request→body, body→adopted (ms).
    stages: [f64; 4],
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn measure(model: LinkModel, slots: u64) -> Measured {
    let wallet = Wallet::from_seed([0x77; 32], 0);
    let funds = 10_000_000_000_000u64;
    let link = LinkConfig {
        model,
        ..LinkConfig::default()
    };
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
        link: link.clone(),
        costs: Default::default(),
        pipelining: true,
        funds: vec![(wallet.address(), funds)],
    };
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
        // The system starts within 1.2 s; the nodes stop at the shutdown slot.
        let until = tokio::time::Instant::now()
            + Duration::from_millis(1200)
            + Duration::from_secs_f64(slots as f64 * spec.slot_length);
        feed(&nodes[0], wallet, funds, until).await;
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
    let mut sizes = Vec::new();
    for (hash, (t_forged, size)) in &forged {
        if let Some((t_adopted, _)) = adopted.get(hash) {
            delays.push((*t_adopted as f64 - *t_forged as f64) / 1e6);
            bounds.push(HOPS as f64 * hop_bound_ms(model, *size as f64, &link.tcp));
            sizes.push(*size as f64);
        }
    }
    assert!(
        !delays.is_empty(),
        "no block reached the end of the line (chain lengths {:?})",
        chains.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let stage = |from: &HashMap<String, (u64, u64)>, to: &HashMap<String, (u64, u64)>| {
        median(
            from.iter()
                .filter_map(|(h, (t0, _))| to.get(h).map(|(t1, _)| (*t1 as f64 - *t0 as f64) / 1e6))
                .collect(),
        )
    };
    let header = events(&logs[1], "ChainSync.Client.DownloadedHeader", "block");
    let request = events(&logs[1], "BlockFetch.Client.SendFetchRequest", "head");
    let body = events(&logs[1], "BlockFetch.Client.CompletedBlockFetch", "block");
    let added = events(
        &logs[1],
        "ChainDB.AddBlockEvent.AddedToCurrentChain",
        "newtip",
    );
    let (min, max) = delays
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), d| (a.min(*d), b.max(*d)));
    Measured {
        blocks: delays.len(),
        median: median(delays),
        min,
        max,
        bound: median(bounds),
        size: median(sizes),
        stages: [
            stage(&forged, &header),
            stage(&header, &request),
            stage(&request, &body),
            stage(&body, &added),
        ],
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let slots = if quick { 16 } else { 60 };
    println!(
        "header-to-adoption over a {}-node line ({LATENCY_MS} ms, {BANDWIDTH_MBPS} Mbit/s links, full blocks)",
        HOPS + 1
    );
    for (name, model) in [("simple", LinkModel::Simple), ("tcp", LinkModel::Tcp)] {
        let m = measure(model, slots);
        println!(
            "  {name:<6} {} blocks of median {:.0} bytes",
            m.blocks, m.size
        );
        println!(
            "    the link model's time (idle link)   {:>8.1} ms",
            m.bound
        );
        println!(
            "    measured median (min {:.1}, max {:.1}) {:>8.1} ms",
            m.min, m.max, m.median
        );
        println!(
            "    ratio measured / model               {:>8.3}  (target <= 1.2)",
            m.median / m.bound
        );
        println!(
            "    first hop: adopted→header {:.1} ms, header→request {:.1} ms, request→body {:.1} ms, body→adopted {:.1} ms",
            m.stages[0], m.stages[1], m.stages[2], m.stages[3]
        );
    }
}
