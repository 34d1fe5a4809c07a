//! Small local testnets of emulated nodes, run in-process: genesis, configs, topologies and
//! keys written to a directory, nodes started on loopback. Used by the tests and benchmarks (and
//! a model for the run backend's files).

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use wb_ledger::crypto::{self, PoolKey};
use wb_trace::{Dispatcher, Output};

use crate::config::{NodeConfig, RunArgs};
use crate::node::Node;

/// An in-memory trace output.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

/// How the nodes are linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every node downloads from every other.
    Mesh,
    /// Node `i` downloads from node `i - 1` only.
    Line,
}

/// A testnet's parameters.
#[derive(Debug, Clone)]
pub struct TestnetSpec {
    /// Number of nodes.
    pub nodes: usize,
    /// How many of them (the first ones) are pools, with equal stake.
    pub pools: usize,
    /// Slot length, seconds.
    pub slot_length: f64,
    /// Active slot coefficient.
    pub f: f64,
    /// One-way link latency, ms.
    pub latency_ms: f64,
    /// Link bandwidth, Mbit/s (`None`: unlimited).
    pub bandwidth_mbps: Option<f64>,
    /// Topology.
    pub shape: Shape,
    /// Milliseconds from now to the system start (rounded up to a whole second).
    pub start_in_ms: u64,
    /// Minimum trace severity.
    pub severity: &'static str,
    /// Link emulation of every node.
    pub link: crate::link::LinkConfig,
    /// cardano-node's costs charged to every node.
    pub costs: crate::costs::CostConfig,
    /// Diffusion pipelining (config key `DiffusionPipelining`).
    pub pipelining: bool,
    /// Initial funds: address bytes and lovelace.
    pub funds: Vec<(Vec<u8>, u64)>,
}

/// Writes `genesis.json` for `spec` in `dir`; returns the pool key seeds.
pub fn write_genesis(dir: &Path, spec: &TestnetSpec) -> std::io::Result<Vec<[u8; 32]>> {
    let seeds: Vec<[u8; 32]> = (0..spec.pools).map(|i| [i as u8 + 1; 32]).collect();
    let start = wb_trace::time::now_unix_nanos() + spec.start_in_ms * 1_000_000;
    let mut at = Vec::new();
    wb_trace::time::write_machine_time(&mut at, (start / 1_000_000_000 + 1) * 1_000_000_000);
    let pools: Vec<String> = seeds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                r#"{{"name":"node-{i}","vkey":"{}","stake":1000}}"#,
                crypto::hex(&PoolKey::from_seed(*s).verification_key())
            )
        })
        .collect();
    let funds: Vec<String> = spec
        .funds
        .iter()
        .map(|(a, l)| format!(r#""{}":{l}"#, crypto::hex(a)))
        .collect();
    let genesis = format!(
        r#"{{"systemStart":"{}","networkMagic":42,"slotLength":{},"epochLength":100000,"activeSlotsCoeff":{},"securityParam":20,"pools":[{}],"initialFunds":{{{}}}}}"#,
        String::from_utf8_lossy(&at),
        spec.slot_length,
        spec.f,
        pools.join(","),
        funds.join(",")
    );
    std::fs::write(dir.join("genesis.json"), genesis)?;
    Ok(seeds)
}

/// One started node with its trace capture.
pub struct TestNode {
    /// The node.
    pub node: Node,
    /// Its trace lines.
    pub log: Capture,
    /// Its dispatcher (shut it down to flush the log).
    pub dispatcher: Dispatcher,
}

/// Free loopback ports for `n` nodes.
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// Writes the files of every node and starts them, stopping at `shutdown_slot`.
pub async fn start(
    dir: &Path,
    spec: &TestnetSpec,
    seeds: &[[u8; 32]],
    shutdown_slot: u64,
) -> Result<Vec<TestNode>, Box<dyn std::error::Error>> {
    let n = spec.nodes;
    let ports = free_ports(n)?;
    let mut out = Vec::new();
    for i in 0..n {
        let upstream: Vec<usize> = match spec.shape {
            Shape::Mesh => (0..n).filter(|j| *j != i).collect(),
            Shape::Line => i.checked_sub(1).into_iter().collect(),
        };
        let bw = spec
            .bandwidth_mbps
            .map_or(String::new(), |b| format!(r#","bandwidthMbps":{b}"#));
        let producers: Vec<String> = upstream
            .iter()
            .map(|j| {
                format!(
                    r#"{{"addr":"127.0.0.1","port":{},"valency":1,"latencyMs":{}{bw}}}"#,
                    ports[*j], spec.latency_ms
                )
            })
            .collect();
        std::fs::write(
            dir.join(format!("topology-{i}.json")),
            format!(r#"{{"Producers":[{}]}}"#, producers.join(",")),
        )?;
        std::fs::write(
            dir.join(format!("config-{i}.yaml")),
            format!(
                "GenesisFile: genesis.json\nTraceOptionNodeName: node-{i}\nLinkEmulation: {}\nNodeCosts: {}\nDiffusionPipelining: {}\nTraceOptions:\n  '':\n    severity: {}\n    backends: [Stdout MachineFormat, EKGBackend]\n",
                serde_json::to_string(&spec.link)?,
                serde_json::to_string(&spec.costs)?,
                spec.pipelining,
                spec.severity
            ),
        )?;
        let pool_key = seeds.get(i).map(|s| {
            let p = dir.join(format!("pool-{i}.skey"));
            std::fs::write(&p, crypto::hex(s)).map(|()| p)
        });
        let pool_key = pool_key.transpose()?;
        let args = RunArgs {
            config: dir.join(format!("config-{i}.yaml")),
            topology: dir.join(format!("topology-{i}.json")),
            database_path: dir.join(format!("db-{i}")),
            host_addr: None,
            port: ports[i],
            pool_key,
            socket_path: Some(dir.join(format!("node-{i}.socket"))),
            shutdown_on_slot: Some(shutdown_slot),
            shutdown_on_block: None,
        };
        let cfg = NodeConfig::load(&args)?;
        let log = Capture::default();
        let dispatcher = Dispatcher::builder()
            .config(cfg.trace.clone())
            .host(format!("node-{i}"))
            .output(Output::Writer(Box::new(log.clone())))
            .build()?;
        let tracers = crate::events::register(&dispatcher);
        let node = Node::start(&cfg, tracers).await?;
        out.push(TestNode {
            node,
            log,
            dispatcher,
        });
    }
    Ok(out)
}

/// Waits for every node to stop; returns each node's chain (block hashes) and trace log.
pub async fn finish(nodes: Vec<TestNode>) -> (Vec<Vec<[u8; 32]>>, Vec<String>) {
    let mut chains = Vec::new();
    let mut logs = Vec::new();
    for mut t in nodes {
        t.node.wait_ref().await;
        chains.push(t.node.chain_hashes());
        t.dispatcher.shutdown();
        logs.push(t.log.text());
    }
    (chains, logs)
}
