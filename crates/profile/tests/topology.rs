//! Topology shapes: structure, connectivity, determinism, and what the node makes of the output.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use wb_profile::regions;
use wb_profile::topology::{Shape, Topology, TopologyError, make};

const SIZES: [usize; 5] = [1, 2, 3, 6, 52];

fn cloud() -> Vec<String> {
    ["eu-central-1", "us-east-1", "ap-southeast-2"]
        .map(String::from)
        .to_vec()
}

fn local() -> Vec<String> {
    vec!["loopback".to_owned()]
}

/// Every shape × size × region set × explorer, as (label, topology).
fn all() -> Vec<(String, Topology)> {
    let mut out = Vec::new();
    for shape in Shape::ALL {
        for n in SIZES {
            for (rname, regions) in [("cloud", cloud()), ("local", local())] {
                for explorer in [false, true] {
                    let t = make(shape, n, &regions, explorer).expect("valid inputs");
                    out.push((format!("{shape} n={n} {rname} explorer={explorer}"), t));
                }
            }
        }
    }
    out
}

fn undirected(t: &Topology) -> Vec<BTreeSet<usize>> {
    let mut adj = vec![BTreeSet::new(); t.nodes.len()];
    for n in &t.nodes {
        for &j in &n.producers {
            adj[n.i].insert(j);
            adj[j].insert(n.i);
        }
    }
    adj
}

fn degrees(t: &Topology) -> Vec<usize> {
    undirected(t).iter().map(BTreeSet::len).collect()
}

#[test]
fn every_topology_is_connected_without_self_or_duplicate_links() {
    for (label, t) in all() {
        for (k, n) in t.nodes.iter().enumerate() {
            assert_eq!(n.i, k, "{label}");
            assert!(
                !n.producers.contains(&n.i),
                "{label}: self-link at {}",
                n.name
            );
            let set: BTreeSet<_> = n.producers.iter().collect();
            assert_eq!(
                set.len(),
                n.producers.len(),
                "{label}: duplicate at {}",
                n.name
            );
            assert!(n.producers.iter().all(|j| *j < t.nodes.len()), "{label}");
            // Nodes only download from producers, never from the explorer.
            assert!(n.producers.iter().all(|j| t.nodes[*j].producer), "{label}");
        }
        let adj = undirected(&t);
        let mut seen = vec![false; adj.len()];
        let mut queue = VecDeque::from([0]);
        seen[0] = true;
        while let Some(v) = queue.pop_front() {
            for &w in &adj[v] {
                if !seen[w] {
                    seen[w] = true;
                    queue.push_back(w);
                }
            }
        }
        assert!(seen.iter().all(|s| *s), "{label}: not connected");
    }
}

#[test]
fn same_inputs_give_identical_output() {
    for ((la, a), (lb, b)) in all().into_iter().zip(all()) {
        assert_eq!(la, lb);
        assert_eq!(a, b, "{la}");
        assert_eq!(a.to_json(), b.to_json(), "{la}");
        assert_eq!(a.to_dot(), b.to_dot(), "{la}");
        for i in 0..a.nodes.len() {
            let port = |j: usize| 30000 + j as u16;
            assert_eq!(a.node_topology_json(i, port), b.node_topology_json(i, port));
        }
    }
}

#[test]
fn regions_are_assigned_round_robin_and_explorer_reads_all_producers() {
    let t = make(Shape::Torus, 6, &cloud(), true).unwrap();
    let got: Vec<&str> = t.nodes.iter().map(|n| n.region.as_str()).collect();
    let c = ["eu-central-1", "us-east-1", "ap-southeast-2"];
    assert_eq!(got, [c[0], c[1], c[2], c[0], c[1], c[2], c[0]]);
    let explorer = &t.nodes[6];
    assert_eq!(explorer.name, "explorer");
    assert!(!explorer.producer);
    assert_eq!(explorer.producers, (0..6).collect::<Vec<_>>());
    assert!(
        t.nodes[..6]
            .iter()
            .all(|n| n.producer && n.name == format!("node-{}", n.i))
    );
}

#[test]
fn line_and_uni_circle_degrees() {
    let line = make(Shape::Line, 6, &local(), false).unwrap();
    assert_eq!(line.nodes[0].producers, [1]);
    assert_eq!(line.nodes[3].producers, [2, 4]);
    assert_eq!(line.nodes[5].producers, [4]);

    for n in SIZES {
        let ring = make(Shape::UniCircle, n, &local(), false).unwrap();
        for node in &ring.nodes {
            let want = if n == 1 {
                vec![]
            } else {
                vec![(node.i + n - 1) % n]
            };
            assert_eq!(node.producers, want, "n={n}");
        }
    }
}

#[test]
fn torus_rings_per_region_chained_across_regions() {
    let t = make(Shape::Torus, 52, &cloud(), false).unwrap();
    // node-0: ring neighbours 3 and 51 in eu-central-1, 1 in us-east-1 (next region, same rank)
    // and 2 in ap-southeast-2 (whose rank 0 links to the next region, eu-central-1).
    assert_eq!(t.nodes[0].producers, [1, 2, 3, 51]);
    let d = degrees(&t);
    assert!(d.iter().all(|k| (3..=5).contains(k)), "{d:?}");
    let mean = d.iter().sum::<usize>() as f64 / d.len() as f64;
    assert!((3.8..=4.3).contains(&mean), "mean degree {mean}");
    // Every node has at least one peer in another region and one in its own.
    for n in &t.nodes {
        assert!(
            n.producers.iter().any(|j| t.nodes[*j].region != n.region),
            "{}",
            n.name
        );
        assert!(
            n.producers.iter().any(|j| t.nodes[*j].region == n.region),
            "{}",
            n.name
        );
    }
}

#[test]
fn torus_dense_adds_two_intra_region_peers() {
    let t = make(Shape::TorusDense, 52, &cloud(), false).unwrap();
    // The workbench's example: node-0 → 3, 51 (ring) and 18, 36 (chords), plus the
    // inter-region links of the torus.
    assert_eq!(t.nodes[0].producers, [1, 2, 3, 18, 36, 51]);
    let d = degrees(&t);
    assert!(d.iter().all(|k| (5..=7).contains(k)), "{d:?}");
    let mean = d.iter().sum::<usize>() as f64 / d.len() as f64;
    assert!((5.8..=6.3).contains(&mean), "mean degree {mean}");

    let sparse = make(Shape::Torus, 52, &cloud(), false).unwrap();
    for (dense, plain) in t.nodes.iter().zip(&sparse.nodes) {
        let extra: Vec<_> = dense
            .producers
            .iter()
            .filter(|j| !plain.producers.contains(j))
            .collect();
        assert_eq!(extra.len(), 2, "{}", dense.name);
        assert!(extra.iter().all(|j| t.nodes[**j].region == dense.region));
    }
}

#[test]
fn small_tori_degenerate_to_small_complete_graphs() {
    for shape in [Shape::Torus, Shape::TorusDense] {
        let one = make(shape, 1, &cloud(), false).unwrap();
        assert!(one.nodes[0].producers.is_empty());
        let two = make(shape, 2, &cloud(), false).unwrap();
        assert_eq!(degrees(&two), [1, 1]);
        let three = make(shape, 3, &cloud(), false).unwrap();
        assert_eq!(degrees(&three), [2, 2, 2]);
        // One region: the torus is a ring (plus chords when dense).
        let ring = make(shape, 6, &local(), false).unwrap();
        let want = if shape == Shape::Torus { 2 } else { 4 };
        assert!(degrees(&ring).iter().all(|d| *d == want), "{shape}");
    }
}

#[test]
fn abstract_json_follows_the_workbench_format() {
    let t = make(Shape::UniCircle, 3, &local(), true).unwrap();
    let v = t.to_json();
    let core = v["coreNodes"].as_array().unwrap();
    assert_eq!(core.len(), 3);
    assert_eq!(core[1]["name"], "node-1");
    assert_eq!(core[1]["nodeId"], 1);
    assert_eq!(core[1]["pools"], 1);
    assert_eq!(core[1]["producers"], serde_json::json!(["node-0"]));
    assert_eq!(core[1]["region"], "loopback");
    assert_eq!(core[1]["stakePool"], true);
    let relay = v["relayNodes"].as_array().unwrap();
    assert_eq!(relay.len(), 1);
    assert_eq!(relay[0]["name"], "explorer");
    assert_eq!(relay[0]["nodeId"], 3);
    assert!(relay[0]["pools"].is_null() && relay[0]["stakePool"].is_null());
    assert_eq!(
        relay[0]["producers"],
        serde_json::json!(["node-0", "node-1", "node-2"])
    );
}

#[test]
fn node_topology_is_read_by_the_node_with_region_latencies() {
    let t = make(Shape::Torus, 52, &cloud(), true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for node in &t.nodes {
        let want = node.producers.len();
        let v = t.node_topology_json(node.i, |j| 30000 + j as u16);
        let path = dir.path().join(format!("{}.json", node.name));
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        let peers = wb_node::topology::read_topology(&path).expect("node accepts it");
        assert_eq!(peers.len(), want, "{}", node.name);
        for (peer, j) in peers.iter().zip(&node.producers) {
            assert_eq!(peer.address(), format!("127.0.0.1:{}", 30000 + j));
            let link = regions::link(&node.region, &t.nodes[*j].region).unwrap();
            let want = Duration::from_secs_f64(link.latency_ms / 1000.0);
            assert_eq!(peer.latency, want);
        }
    }

    // node-0 (eu-central-1) downloads from node-1 (us-east-1): half the table's 90.98 ms RTT.
    let v = t.node_topology_json(0, |j| 30000 + j as u16);
    let text = v.to_string();
    let peers = wb_node::topology::parse_topology(&text, "t").unwrap();
    let to_us = &v["Producers"][0];
    assert_eq!(to_us["port"], 30001);
    assert_eq!(to_us["valency"], 1);
    let rtt = regions::rtt_ms("eu-central-1", "us-east-1").unwrap();
    assert_eq!(rtt, 90.98);
    assert_eq!(to_us["latencyMs"].as_f64(), Some(rtt / 2.0));
    assert_eq!(peers[0].latency, Duration::from_secs_f64(0.04549));
    // The iperf file's single eu-central-1 → us-east-1 test: 76.0 Mbit/s.
    assert_eq!(to_us["bandwidthMbps"].as_f64(), Some(76.0));
    assert_eq!(peers[0].bandwidth_bps, Some(76_000_000));
    // node-0's ring neighbour node-3 is also in eu-central-1: intra-region, unlimited bandwidth.
    let same = &v["Producers"][2];
    assert_eq!(same["port"], 30003);
    assert_eq!(same["latencyMs"].as_f64(), Some(3.05 / 2.0));
    assert!(same.get("bandwidthMbps").is_none());

    // Loopback: zero latency, no bandwidth limit; out-of-range index: no producers.
    let l = make(Shape::Line, 3, &local(), false).unwrap();
    let peers = wb_node::topology::parse_topology(
        &l.node_topology_json(1, |j| 3000 + j as u16).to_string(),
        "t",
    )
    .unwrap();
    assert_eq!(peers.len(), 2);
    assert!(
        peers
            .iter()
            .all(|p| p.latency.is_zero() && p.bandwidth_bps.is_none())
    );
    assert_eq!(
        l.node_topology_json(9, |_| 1),
        serde_json::json!({ "Producers": [] })
    );
}

#[test]
fn region_table_lookups() {
    assert_eq!(regions::regions().len(), 22);
    assert!(regions::regions().contains(&"loopback"));
    assert_eq!(regions::rtt_ms("us-east-1", "eu-central-1"), Some(93.01));
    assert_eq!(
        regions::rtt_ms("ap-southeast-2", "ap-southeast-2"),
        Some(3.53)
    );
    assert_eq!(regions::rtt_ms("loopback", "loopback"), Some(0.0));
    assert_eq!(regions::rtt_ms("loopback", "us-east-1"), None);
    assert_eq!(regions::rtt_ms("mars-north-1", "us-east-1"), None);
    let l = regions::link("loopback", "loopback").unwrap();
    assert_eq!((l.latency_ms, l.bandwidth_mbps), (0.0, None));
    // No iperf test of us-east-1 ↔ ap-southeast-2: the documented default.
    let l = regions::link("us-east-1", "ap-southeast-2").unwrap();
    assert_eq!(l.latency_ms, 202.13 / 2.0);
    assert_eq!(l.bandwidth_mbps, Some(regions::DEFAULT_BANDWIDTH_MBPS));
    // Directional: each direction has its own iperf test.
    let l = regions::link("ap-southeast-2", "eu-central-1").unwrap();
    assert_eq!(l.bandwidth_mbps, Some(26.1));
    let l = regions::link("eu-central-1", "ap-southeast-2").unwrap();
    assert_eq!(l.bandwidth_mbps, Some(26.2));
    // Within one AWS region: unlimited (no intra-region iperf data).
    assert_eq!(
        regions::link("us-east-1", "us-east-1")
            .unwrap()
            .bandwidth_mbps,
        None
    );
}

#[test]
fn bad_inputs_are_rejected_with_clear_errors() {
    assert_eq!(
        make(Shape::Line, 0, &local(), false),
        Err(TopologyError::NoProducers)
    );
    assert_eq!(
        make(Shape::Line, 3, &[], false),
        Err(TopologyError::NoRegions)
    );
    let mars = vec!["mars-north-1".to_owned()];
    assert_eq!(
        make(Shape::Torus, 3, &mars, false),
        Err(TopologyError::UnknownRegion("mars-north-1".into()))
    );
    let mixed = vec!["loopback".to_owned(), "us-east-1".to_owned()];
    assert_eq!(
        make(Shape::Torus, 3, &mixed, false),
        Err(TopologyError::MixedLoopback)
    );

    for shape in Shape::ALL {
        assert_eq!(shape.to_string().parse::<Shape>(), Ok(shape));
        let json = serde_json::to_string(&shape).unwrap();
        assert_eq!(json, format!("\"{shape}\""));
        assert_eq!(serde_json::from_str::<Shape>(&json).unwrap(), shape);
    }
    let e = "ring".parse::<Shape>().unwrap_err().to_string();
    for name in ["\"ring\"", "line", "uni-circle", "torus", "torus-dense"] {
        assert!(e.contains(name), "{e}");
    }
}

#[test]
fn dot_colours_nodes_by_region() {
    let t = make(Shape::Torus, 6, &cloud(), true).unwrap();
    let dot = t.to_dot();
    assert!(dot.starts_with("digraph topology {"));
    assert!(dot.trim_end().ends_with('}'));
    let colour = |name: &str| {
        let line = dot
            .lines()
            .find(|l| l.contains(&format!("\"{name}\" [")))
            .unwrap();
        line.split("fillcolor=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(colour("node-0"), colour("node-3"));
    assert_eq!(colour("node-0"), colour("explorer"));
    assert_ne!(colour("node-0"), colour("node-1"));
    assert_ne!(colour("node-1"), colour("node-2"));
    let edges = dot.lines().filter(|l| l.contains("->")).count();
    assert_eq!(
        edges,
        t.nodes.iter().map(|n| n.producers.len()).sum::<usize>()
    );
    assert!(dot.contains("\"explorer\" -> \"node-5\";"));
    let local = make(Shape::Line, 2, &local(), false).unwrap().to_dot();
    assert!(local.contains("lightgrey"));
}
