//! Emulated nodes over real TCP on loopback: a cluster forges and agrees on one chain.

use std::io::Write;

use wb_ledger::crypto;
use wb_node::testnet::{self, Shape, TestnetSpec};

fn spec(nodes: usize, slot_length: f64, f: f64, latency_ms: f64) -> TestnetSpec {
    TestnetSpec {
        nodes,
        pools: nodes,
        slot_length,
        f,
        latency_ms,
        bandwidth_mbps: None,
        shape: Shape::Mesh,
        start_in_ms: 500,
        severity: "Info",
        link: Default::default(),
        costs: Default::default(),
        pipelining: true,
        funds: Vec::new(),
    }
}

async fn run(
    dir: &std::path::Path,
    spec: &TestnetSpec,
    shutdown_slot: u64,
) -> (Vec<Vec<[u8; 32]>>, Vec<String>) {
    let seeds = testnet::write_genesis(dir, spec).unwrap();
    let nodes = testnet::start(dir, spec, &seeds, shutdown_slot)
        .await
        .unwrap();
    testnet::finish(nodes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_forge_and_agree_on_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (chains, logs) = run(dir.path(), &spec(3, 0.1, 0.3, 20.0), 60).await;
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
        // Read with the same reader as the real cardano-node logs in shared/fixtures.
        for line in log.lines() {
            let l =
                wb_trace::logline::parse(line).unwrap_or_else(|e| panic!("node-{i}: {e}: {line}"));
            assert_eq!(l.host, format!("node-{i}"));
            if l.ns == "Forge.Loop.ForgedBlock" {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_leaders_in_a_slot_fork_and_every_node_resolves_it_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    // Two pools with f = 0.9: both lead about half of all slots.
    let (chains, logs) = run(dir.path(), &spec(2, 0.2, 0.9, 20.0), 30).await;
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
    let one = TestnetSpec {
        start_in_ms: 300,
        ..spec(1, 0.05, 0.5, 0.0)
    };
    let seeds = testnet::write_genesis(dir.path(), &one).unwrap();
    let (first, _) =
        testnet::finish(testnet::start(dir.path(), &one, &seeds, 40).await.unwrap()).await;
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
    let (second, logs) = testnet::finish(
        testnet::start(dir.path(), &one, &seeds, now_slot + 40)
            .await
            .unwrap(),
    )
    .await;
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
    let two = spec(2, 0.1, 0.3, 10.0);
    let seeds = testnet::write_genesis(dir.path(), &two).unwrap();
    let nodes = testnet::start(dir.path(), &two, &seeds, 50).await.unwrap();
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
    let (chains, _) = testnet::finish(nodes).await;
    let shortest = chains.iter().map(Vec::len).min().unwrap();
    assert!(shortest >= 3);
    let common = (0..shortest)
        .take_while(|&i| chains[0][i] == chains[1][i])
        .count();
    assert!(common + 2 >= shortest);
}

/// Every line of the logs with namespace `ns`, with its time (ns since the epoch) and data.
fn events<'a>(log: &'a str, ns: &'a str) -> impl Iterator<Item = (u64, serde_json::Value)> + 'a {
    log.lines().filter_map(move |line| {
        let l = wb_trace::logline::parse(line).ok()?;
        (l.ns == ns).then_some((l.at, l.data))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_costs_delay_each_phase_by_at_least_the_calibrated_cost() {
    use wb_node::costs::{Calibration, CostTable, Phase};
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(3, 0.2, 0.3, 10.0);
    spec.costs.calibration = Calibration::CardanoNode10;
    spec.link.model = wb_node::link::LinkModel::Tcp;
    let (chains, logs) = run(dir.path(), &spec, 40).await;
    assert!(chains.iter().all(|c| c.len() >= 3), "too few blocks");
    let table = CostTable::of(Calibration::CardanoNode10);
    let ms = |p| table.phase(p).at(0, 0).as_nanos() as u64;
    // Slot start → forged takes the leadership check, the tick, the snapshot and the forge.
    let to_forge = ms(Phase::Leadership) + ms(Phase::Tick) + ms(Phase::Snapshot) + ms(Phase::Forge);
    let adopt_own = ms(Phase::AdoptForged);
    let adopt_fetched = ms(Phase::AdoptFetched);
    let (mut forged, mut fetched) = (0, 0);
    for log in &logs {
        let starts: std::collections::HashMap<u64, u64> =
            events(log, "Forge.Loop.StartLeadershipCheck")
                .map(|(at, d)| (d["slot"].as_u64().unwrap(), at))
                .collect();
        let adopted: std::collections::HashMap<String, u64> =
            events(log, "Forge.Loop.AdoptedBlock")
                .map(|(at, d)| (d["blockHash"].as_str().unwrap().to_owned(), at))
                .collect();
        let added: std::collections::HashMap<String, u64> =
            events(log, "ChainDB.AddBlockEvent.AddedToCurrentChain")
                .map(|(at, d)| {
                    let tip = d["newtip"].as_str().unwrap();
                    (tip.split('@').next().unwrap().to_owned(), at)
                })
                .collect();
        for (at, d) in events(log, "Forge.Loop.ForgedBlock") {
            let start = starts[&d["slot"].as_u64().unwrap()];
            assert!(
                at - start >= to_forge,
                "forged {} ns after the slot began",
                at - start
            );
            let block = d["block"].as_str().unwrap();
            if let Some(&a) = adopted.get(block) {
                assert!(
                    a - at >= adopt_own,
                    "own block adopted {} ns after forging",
                    a - at
                );
            }
            forged += 1;
        }
        for (at, d) in events(log, "BlockFetch.Client.CompletedBlockFetch") {
            if let Some(&a) = added.get(d["block"].as_str().unwrap()) {
                assert!(
                    a - at >= adopt_fetched,
                    "fetched block adopted {} ns after it arrived",
                    a - at
                );
                fetched += 1;
            }
        }
    }
    assert!(
        forged > 0 && fetched > 0,
        "forged {forged}, fetched {fetched}"
    );
}

/// Block hashes with the time of each `ns` event, the hash read by `key`.
fn by_block(
    log: &str,
    ns: &str,
    key: impl Fn(&serde_json::Value) -> String,
) -> std::collections::HashMap<String, u64> {
    events(log, ns).map(|(at, d)| (key(&d), at)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_pipelining_a_relay_announces_and_serves_a_block_before_adopting_it() {
    assert!(relayed_before_adoption(true).await >= 2);
    // Without, the relay announces a block only once it is its tip.
    assert_eq!(relayed_before_adoption(false).await, 0);
}

/// How many blocks the middle of a line of three nodes announced and served, and its
/// downstream heard of, before the middle node had adopted them.
async fn relayed_before_adoption(pipelining: bool) -> usize {
    use wb_node::costs::Calibration;
    let dir = tempfile::tempdir().unwrap();
    // node-0 forges; node-1 relays to node-2. Validating even an empty block costs ~7 ms, more
    // than a round trip of these links.
    let mut spec = spec(3, 0.2, 0.3, 1.0);
    spec.pools = 1;
    spec.shape = Shape::Line;
    spec.severity = "Debug";
    spec.costs.calibration = Calibration::CardanoNode10;
    spec.pipelining = pipelining;
    let (chains, logs) = run(dir.path(), &spec, 40).await;
    assert!(chains.iter().all(|c| c.len() >= 3), "too few blocks");
    // A point's hash (`hash@slot`) in field `k`.
    let point_hash = |k: &'static str| {
        move |d: &serde_json::Value| d[k].as_str().unwrap().split('@').next().unwrap().to_owned()
    };
    let field = |k: &'static str| move |d: &serde_json::Value| d[k].as_str().unwrap().to_owned();
    let relay = &logs[1];
    let added = by_block(
        relay,
        "ChainDB.AddBlockEvent.AddedToCurrentChain",
        point_hash("newtip"),
    );
    let tentative = by_block(
        relay,
        "ChainDB.AddBlockEvent.PipeliningEvent.SetTentativeHeader",
        |d| d["header"]["hash"].as_str().unwrap().to_owned(),
    );
    let announced = by_block(
        relay,
        "ChainSync.ServerHeader.Update",
        point_hash("addBlock"),
    );
    let served = by_block(relay, "BlockFetch.Server.SendBlock", field("block"));
    let heard = by_block(
        &logs[2],
        "ChainSync.Client.DownloadedHeader",
        field("block"),
    );
    let (mut early, mut relayed) = (0, 0);
    for (block, &adopted) in &added {
        let (Some(&t), Some(&a), Some(&s), Some(&h)) = (
            tentative.get(block).or(announced.get(block)),
            announced.get(block),
            served.get(block),
            heard.get(block),
        ) else {
            continue;
        };
        relayed += 1;
        assert!(t <= a, "{block}: announced before it was tentative");
        // The header and the body went on before the relay had validated the block.
        if a < adopted && s < adopted && h < adopted {
            early += 1;
        }
    }
    assert!(
        relayed >= 2,
        "only {relayed} blocks relayed (pipelining {pipelining})"
    );
    early
}
