//! The generator against emulated nodes on loopback: funds split and confirmed on chain, a run
//! at a rate accepted and adopted, rejections reported with reasons, a stopped node reported
//! instead of a hang, bad configuration named.

use std::path::Path;
use std::time::Duration;

use wb_ledger::wallet::Wallet;
use wb_node::testnet::{self, Shape, TestNode, TestnetSpec};
use wb_trace::{Dispatcher, Output, TraceConfig};
use wb_txgen::config::TxgenConfig;
use wb_txgen::events::TxgenEvent;

const FUNDS_SEED: [u8; 32] = [0x55; 32];

async fn cluster(dir: &Path, nodes: usize) -> Vec<TestNode> {
    let spec = TestnetSpec {
        nodes,
        // One producer: no forks, so every accepted transaction must end on chain.
        pools: 1,
        slot_length: 0.1,
        f: 0.5,
        latency_ms: 5.0,
        bandwidth_mbps: None,
        shape: Shape::Mesh,
        start_in_ms: 200,
        severity: "Notice",
        link: Default::default(),
        costs: Default::default(),
        pipelining: true,
        funds: vec![(
            Wallet::from_seed(FUNDS_SEED, 0).address(),
            10_000_000_000_000,
        )],
    };
    let seeds = testnet::write_genesis(dir, &spec).unwrap();
    std::fs::write(dir.join("funds.skey"), wb_ledger::crypto::hex(&FUNDS_SEED)).unwrap();
    testnet::start(dir, &spec, &seeds, 100_000).await.unwrap()
}

fn config(dir: &Path, nodes: &[TestNode], tx_count: u64, tps: f64, extra: &str) -> TxgenConfig {
    let targets: Vec<String> = (0..nodes.len())
        .map(|i| format!("{{\"socket\": \"node-{i}.socket\", \"name\": \"node-{i}\"}}"))
        .collect();
    let text = format!(
        "{{\"tps\": {tps}, \"tx_count\": {tx_count}, \"inputs_per_tx\": 2, \"outputs_per_tx\": 2, \"add_tx_size\": 100, \"fan_out\": 20,\n\
          \"genesisFile\": \"genesis.json\", \"sigKey\": \"funds.skey\", \"localNodeSocketPath\": \"node-0.socket\",\n\
          \"chainFollow\": \"{}\", \"targetNodes\": [{}], \"phase_timeout\": 20 {extra}}}",
        nodes[0].node.listen_addr(),
        targets.join(",")
    );
    let path = dir.join("txgen.json");
    std::fs::write(&path, text).unwrap();
    TxgenConfig::from_file(&path).unwrap()
}

fn tracer() -> (Dispatcher, wb_trace::Tracer<TxgenEvent>, testnet::Capture) {
    let cap = testnet::Capture::default();
    let cfg = TraceConfig::from_yaml_str(
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat]\n",
        "t",
    )
    .unwrap();
    let d = Dispatcher::builder()
        .config(cfg)
        .host("txgen")
        .output(Output::Writer(Box::new(cap.clone())))
        .build()
        .unwrap();
    let t = d.tracer::<TxgenEvent>("Benchmark");
    (d, t, cap)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_funds_then_gets_every_transaction_accepted_and_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2).await;
    let cfg = config(dir.path(), &nodes, 300, 150.0, "");
    let (mut d, t, cap) = tracer();
    let s = wb_txgen::run::run(&cfg, &t).await.unwrap();
    d.shutdown();
    assert_eq!((s.sent, s.accepted, s.rejected), (300, 300, 0), "{s:?}");
    assert_eq!(s.adopted, 300, "all on chain");
    assert!(s.failures.is_empty());
    assert!(s.achieved_tps > 0.9 * 150.0, "{}", s.achieved_tps);
    assert!(!s.generator_bound);
    let log = cap.text();
    assert!(log.contains("\"ns\":\"Benchmark.PhaseDone\""), "{log}");
    let summary = log
        .lines()
        .find(|l| l.contains("\"ns\":\"Benchmark.BenchTxSubSummary\""))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(summary).unwrap();
    assert_eq!(v["data"]["summary"]["ssTxSent"], 300);
    assert_eq!(v["data"]["kind"], "TraceBenchTxSubSummary");
    assert_eq!(v["data"]["adopted"], 300);
    for n in &nodes {
        n.node.stop();
    }
    testnet::finish(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_rejects_is_reported_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 1).await;
    let cfg = config(dir.path(), &nodes, 20, 100.0, "");
    let (mut d, t, _cap) = tracer();
    wb_txgen::run::run(&cfg, &t).await.unwrap();
    // Again with the same funds: the genesis output is spent now.
    let err = wb_txgen::run::run(&cfg, &t).await.unwrap_err().to_string();
    d.shutdown();
    assert!(
        err.contains("rejected") && err.contains("BadInputsUTxO"),
        "{err}"
    );
    for n in &nodes {
        n.node.stop();
    }
    testnet::finish(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopping_mid_run_is_reported_instead_of_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 1).await;
    let cfg = config(dir.path(), &nodes, 1_500, 100.0, "");
    let (mut d, t, cap) = tracer();
    let stopper = nodes[0].node.stopper();
    let node = nodes.remove(0);
    let run = tokio::spawn(async move { wb_txgen::run::run(&cfg, &t).await });
    // Let the split land and the benchmark start, then stop the node.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cap.text().contains("\"ns\":\"Benchmark.Progress\"") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the benchmark never started: {}",
            cap.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stopper.stop();
    let mut node = node;
    node.node.wait_ref().await;
    drop(node);
    let s = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the generator hung")
        .unwrap()
        .unwrap();
    d.shutdown();
    assert!(s.sent < 1_500, "{s:?}");
    assert!(!s.failures.is_empty(), "{s:?}");
    assert!(cap.text().contains("\"ns\":\"Benchmark.Error\""));
}

#[test]
fn a_bad_config_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("txgen.json");
    std::fs::write(&p, r#"{"tps": 10, "tx_count": 5, "inputs_per_tx": 2, "outputs_per_tx": 2, "genesisFile": "g", "sigKey": "k", "localNodeSocketPath": "s", "chainFollow": "x", "targetNodes": [], "tpx": 3}"#).unwrap();
    let e = TxgenConfig::from_file(&p).unwrap_err().to_string();
    assert!(e.contains("txgen.json") && e.contains("tpx"), "{e}");
    std::fs::write(&p, r#"{"tps": 0, "tx_count": 5, "inputs_per_tx": 2, "outputs_per_tx": 2, "genesisFile": "g", "sigKey": "k", "localNodeSocketPath": "s", "chainFollow": "x", "targetNodes": [{"socket": "s"}]}"#).unwrap();
    let e = TxgenConfig::from_file(&p).unwrap_err().to_string();
    assert!(e.contains("field tps"), "{e}");
}
