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

/// Slots in which more than one node forged, from the nodes' logs: slot → block hashes.
fn multi_leader_slots(logs: &[String]) -> std::collections::BTreeMap<u64, Vec<String>> {
    let mut by_slot: std::collections::BTreeMap<u64, Vec<String>> =
        std::collections::BTreeMap::new();
    for log in logs {
        for line in log
            .lines()
            .filter(|l| l.contains("\"ns\":\"Forge.Loop.ForgedBlock\""))
        {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            by_slot
                .entry(v["data"]["slot"].as_u64().unwrap())
                .or_default()
                .push(v["data"]["block"].as_str().unwrap().to_owned());
        }
    }
    by_slot.retain(|_, v| v.len() > 1);
    by_slot
}

async fn run_to_end(nodes: Vec<Started>) -> (Vec<Vec<[u8; 32]>>, Vec<String>) {
    let mut chains = Vec::new();
    let mut logs = Vec::new();
    for mut s in nodes {
        s.node.wait_ref().await;
        chains.push(s.node.chain_hashes());
        let mut d = s.dispatcher;
        d.shutdown();
        logs.push(String::from_utf8(s.log.0.lock().unwrap().clone()).unwrap());
    }
    (chains, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_leaders_in_a_slot_fork_and_every_node_resolves_it_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    // Two pools with f = 0.9: both lead about half of all slots.
    let seeds = write_genesis(dir.path(), 2, 0.2, 0.9, 500);
    let nodes = start_cluster(dir.path(), &seeds, 20, 30).await;
    let (chains, logs) = run_to_end(nodes).await;
    let contested = multi_leader_slots(&logs);
    assert!(!contested.is_empty(), "no slot had two leaders");
    let shortest = chains.iter().map(Vec::len).min().unwrap();
    let common = (0..shortest)
        .take_while(|&i| chains[0][i] == chains[1][i])
        .count();
    assert!(
        common + 2 >= shortest,
        "the nodes disagree from block {common} of {shortest}"
    );
    // In every contested slot settled on both chains, both kept the same one of the two blocks.
    let on_chain: std::collections::HashSet<String> =
        chains[0][..common].iter().map(|h| crypto::hex(h)).collect();
    let mut settled = 0;
    for (slot, blocks) in &contested {
        let kept: Vec<&String> = blocks.iter().filter(|b| on_chain.contains(*b)).collect();
        assert!(kept.len() <= 1, "slot {slot}: both forks on one chain?");
        settled += usize::from(kept.len() == 1);
    }
    assert!(
        settled > 0,
        "no contested slot was settled in the common chain"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("\"ns\":\"ChainDB.AddBlockEvent.SwitchedToAFork\"")),
        "somebody switched forks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_resumes_from_disk_and_repairs_a_torn_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = write_genesis(dir.path(), 1, 0.05, 0.5, 300);
    let (first, _) = run_to_end(start_cluster(dir.path(), &seeds, 0, 40).await).await;
    assert!(first[0].len() >= 5, "{}", first[0].len());
    // Tear the last chunk: garbage after the last record, as a crash mid-write leaves it.
    let chunk = dir.path().join("db-0").join("chunk-00000.dat");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&chunk)
        .unwrap();
    f.write_all(&[0x57, 0x42, 0x42, 0x31, 0xff, 0xff, 0x00])
        .unwrap();
    drop(f);
    // The slot clock moved on: run again until a later slot.
    let now_slot = {
        let g = wb_ledger::genesis::Genesis::from_file(&dir.path().join("genesis.json")).unwrap();
        g.slot_at(wb_trace::time::now_unix_nanos()).unwrap()
    };
    let (second, logs) =
        run_to_end(start_cluster(dir.path(), &seeds, 0, now_slot + 40).await).await;
    assert!(
        second[0].len() > first[0].len(),
        "the chain grew after the restart"
    );
    assert_eq!(
        &second[0][..first[0].len()],
        &first[0][..],
        "it resumed from the chain on disk"
    );
    assert!(logs[0].contains("\"ns\":\"Forge.Loop.ForgedBlock\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_garbage_is_disconnected_and_the_cluster_goes_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let seeds = write_genesis(dir.path(), 2, 0.1, 0.3, 500);
    let nodes = start_cluster(dir.path(), &seeds, 10, 50).await;
    let target = nodes[0].node.listen_addr();
    // Garbage instead of a handshake, and a valid frame on an unknown mini-protocol.
    for payload in [
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        vec![0, 0, 0, 0, 0x00, 0x63, 0, 1, 0x80],
    ] {
        let mut s = tokio::net::TcpStream::connect(target).await.unwrap();
        s.write_all(&payload).await.unwrap();
        let mut buf = Vec::new();
        let closed =
            tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "the garbage peer was disconnected");
    }
    let (chains, _) = run_to_end(nodes).await;
    let shortest = chains.iter().map(Vec::len).min().unwrap();
    assert!(shortest >= 3);
    let common = (0..shortest)
        .take_while(|&i| chains[0][i] == chains[1][i])
        .count();
    assert!(common + 2 >= shortest);
}
