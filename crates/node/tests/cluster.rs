//! Emulated nodes over real TCP on loopback: a cluster forges and agrees on one chain.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use wb_ledger::crypto::{self, PoolKey};
use wb_node::config::{NodeConfig, RunArgs};
use wb_node::node::{Exit, Node};
use wb_trace::{Dispatcher, Output};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);
impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A genesis starting `delay_ms` from now with `n` equal pools; returns the pool seeds.
fn write_genesis(dir: &Path, n: usize, slot_length: f64, f: f64, delay_ms: u64) -> Vec<[u8; 32]> {
    let seeds: Vec<[u8; 32]> = (0..n).map(|i| [i as u8 + 1; 32]).collect();
    let start = wb_trace::time::now_unix_nanos() + delay_ms * 1_000_000;
    let mut at = Vec::new();
    // Whole seconds are enough for systemStart; round up so it stays in the future.
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
    let genesis = format!(
        r#"{{"systemStart":"{}","networkMagic":42,"slotLength":{slot_length},"epochLength":1000,"activeSlotsCoeff":{f},"securityParam":20,"pools":[{}]}}"#,
        String::from_utf8(at).unwrap(),
        pools.join(",")
    );
    std::fs::write(dir.join("genesis.json"), genesis).unwrap();
    seeds
}

struct Started {
    node: Node,
    log: Capture,
    dispatcher: Dispatcher,
}

async fn start_cluster(
    dir: &Path,
    seeds: &[[u8; 32]],
    latency_ms: u64,
    shutdown_slot: u64,
) -> Vec<Started> {
    let n = seeds.len();
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let mut out = Vec::new();
    for i in 0..n {
        let producers: Vec<String> = (0..n)
            .filter(|j| *j != i)
            .map(|j| {
                format!(
                    r#"{{"addr":"127.0.0.1","port":{},"valency":1,"latencyMs":{latency_ms}}}"#,
                    ports[j]
                )
            })
            .collect();
        std::fs::write(
            dir.join(format!("topology-{i}.json")),
            format!(r#"{{"Producers":[{}]}}"#, producers.join(",")),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("config-{i}.yaml")),
            format!("GenesisFile: genesis.json\nTraceOptionNodeName: node-{i}\nTraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat, EKGBackend]\n"),
        )
        .unwrap();
        std::fs::write(dir.join(format!("pool-{i}.skey")), crypto::hex(&seeds[i])).unwrap();
        let args = RunArgs {
            config: dir.join(format!("config-{i}.yaml")),
            topology: dir.join(format!("topology-{i}.json")),
            database_path: dir.join(format!("db-{i}")),
            host_addr: None,
            port: ports[i],
            pool_key: Some(dir.join(format!("pool-{i}.skey"))),
            shutdown_on_slot: Some(shutdown_slot),
            shutdown_on_block: None,
        };
        let cfg = NodeConfig::load(&args).unwrap();
        let log = Capture::default();
        let dispatcher = Dispatcher::builder()
            .config(cfg.trace.clone())
            .host(format!("node-{i}"))
            .output(Output::Writer(Box::new(log.clone())))
            .build()
            .unwrap();
        let tracers = wb_node::events::register(&dispatcher);
        let node = Node::start(&cfg, tracers).await.unwrap();
        out.push(Started {
            node,
            log,
            dispatcher,
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_forge_and_agree_on_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = write_genesis(dir.path(), 3, 0.1, 0.3, 500);
    let nodes = start_cluster(dir.path(), &seeds, 20, 60).await;
    let mut chains = Vec::new();
    let mut logs = Vec::new();
    for mut s in nodes {
        let hashes = {
            let exit = s.node.wait_ref().await;
            assert_eq!(exit, Exit::ShutdownSlot(60));
            s.node.chain_hashes()
        };
        chains.push(hashes);
        let mut d = s.dispatcher;
        d.shutdown();
        logs.push(String::from_utf8(s.log.0.lock().unwrap().clone()).unwrap());
    }
    let shortest = chains.iter().map(Vec::len).min().unwrap();
    assert!(
        shortest >= 5,
        "too few blocks: {:?}",
        chains.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let common = (0..shortest)
        .take_while(|&i| chains.iter().all(|c| c[i] == chains[0][i]))
        .count();
    // All nodes stop in the same slot: only the newest block or two may not have spread yet.
    assert!(
        common + 2 >= shortest,
        "chains diverge at block {common} of {shortest}"
    );
    for (i, log) in logs.iter().enumerate() {
        let mut forged = 0;
        for line in log.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("node-{i}: {e}: {line}"));
            assert_eq!(v["host"], format!("node-{i}"));
            if v["ns"] == "Forge.Loop.ForgedBlock" {
                forged += 1;
            }
        }
        assert!(forged > 0, "node-{i} forged nothing");
        for ns in [
            "ChainSync.Client.DownloadedHeader",
            "BlockFetch.Client.SendFetchRequest",
            "BlockFetch.Client.CompletedBlockFetch",
            "ChainDB.AddBlockEvent.AddedToCurrentChain",
            "BlockFetch.Server.SendBlock",
            "ChainSync.ServerHeader.Update",
            "Forge.Loop.StartLeadershipCheck",
        ] {
            assert!(
                log.contains(&format!("\"ns\":\"{ns}\"")),
                "node-{i} never traced {ns}"
            );
        }
    }
}
