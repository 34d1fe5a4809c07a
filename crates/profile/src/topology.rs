//! Cluster topologies: which node downloads blocks from which, and where each node runs.
//!
//! A [`Topology`] is the abstract graph (the workbench's `topology.json`); each node's own view
//! of it, with emulated link latency and bandwidth, comes from [`Topology::node_topology_json`].
//!
//! Producers are `node-0` … `node-{n-1}`. Regions are assigned round-robin: node `i` runs in
//! `regions[i % regions.len()]`. The optional explorer is node `n`, named `explorer`, is not a
//! producer, and downloads from every producer (nobody downloads from it).
//!
//! Shapes (every link is "i downloads from j"; all but `uni-circle` are symmetric, so j also
//! downloads from i):
//!
//! * `line`: i ↔ i-1 and i ↔ i+1, no wrap-around.
//! * `uni-circle`: i downloads from i-1 (mod n) only — a unidirectional ring.
//! * `torus`: let `g = min(n, regions.len())` groups; node i is in group `i % g` with rank
//!   `q = i / g`, so group k holds nodes k, k+g, k+2g, … (`m_k` of them). Each node links to
//!   * the next and previous node of its group (rank q±1 mod `m_k`): one ring per group, and
//!   * the node of rank `q mod m_{k+1}` in the next group `(k+1) mod g` — which also gives it a
//!     link from the previous group. The rank-0 nodes chain the groups' rings together.
//!
//!   Groups are positions in `regions`, not names, so `["loopback"; 3]` still yields a torus.
//!   A typical node has 4 peers.
//! * `torus-dense`: `torus` plus an intra-group chord to rank `q ± c`, with
//!   `c = max(m_k / 3, 2)`, for groups of at least 4 nodes — two more peers, ~6 in all. For 52
//!   nodes over 3 regions this links node-0 to 3, 51 (ring), 18, 36 (chords), as in the
//!   workbench's example.
//!
//! Duplicate links (small groups, where ring, chord and wrap-around coincide) and self-links are
//! dropped, and peers are listed in ascending order, so the output depends only on the inputs.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::regions;

/// The graph shape of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// A bidirectional chain.
    Line,
    /// A unidirectional ring.
    UniCircle,
    /// Per-region rings, chained between regions.
    Torus,
    /// [`Shape::Torus`] with two more intra-region peers per node.
    TorusDense,
}

impl Shape {
    /// All shapes, in declaration order.
    pub const ALL: [Shape; 4] = [
        Shape::Line,
        Shape::UniCircle,
        Shape::Torus,
        Shape::TorusDense,
    ];

    /// The profile name of the shape (as in serde).
    pub fn name(self) -> &'static str {
        match self {
            Shape::Line => "line",
            Shape::UniCircle => "uni-circle",
            Shape::Torus => "torus",
            Shape::TorusDense => "torus-dense",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Shape {
    type Err = TopologyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Shape::ALL
            .into_iter()
            .find(|shape| shape.name() == s)
            .ok_or_else(|| TopologyError::UnknownShape(s.to_owned()))
    }
}

/// Inputs [`make`] (or [`Shape::from_str`]) cannot build a topology from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TopologyError {
    /// Not one of the shape names.
    #[error("unknown topology shape {0:?}: expected one of line, uni-circle, torus, torus-dense")]
    UnknownShape(String),
    /// A cluster needs at least one producer.
    #[error("a topology needs at least one producer")]
    NoProducers,
    /// Regions are assigned round-robin, so at least one is needed.
    #[error("a topology needs at least one region (e.g. \"loopback\")")]
    NoRegions,
    /// A region not in the latency table.
    #[error("unknown region {0:?}: expected \"loopback\" or an AWS region such as eu-central-1")]
    UnknownRegion(String),
    /// `loopback` has no latency to an AWS region, so the two cannot share a cluster.
    #[error("\"loopback\" cannot be combined with AWS regions in one topology")]
    MixedLoopback,
}

/// One node of a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// `node-i` for producers, `explorer` for the explorer.
    pub name: String,
    /// Index of the node; the explorer comes after the producers.
    pub i: usize,
    /// Region the node runs in.
    pub region: String,
    /// Whether the node forges blocks (false only for the explorer).
    pub producer: bool,
    /// Indices of the nodes this one downloads from, ascending.
    pub producers: Vec<usize>,
}

/// A cluster's nodes and their links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Producers `0..n`, then the explorer if there is one.
    pub nodes: Vec<NodeSpec>,
}

/// Builds the topology of `n_producers` producers of shape `shape`, with nodes assigned
/// round-robin to `regions`, and an explorer if `with_explorer`.
pub fn make(
    shape: Shape,
    n_producers: usize,
    regions: &[String],
    with_explorer: bool,
) -> Result<Topology, TopologyError> {
    let n = n_producers;
    if n == 0 {
        return Err(TopologyError::NoProducers);
    }
    if regions.is_empty() {
        return Err(TopologyError::NoRegions);
    }
    if let Some(bad) = regions.iter().find(|r| !regions::is_region(r)) {
        return Err(TopologyError::UnknownRegion(bad.clone()));
    }
    let loopbacks = regions.iter().filter(|r| *r == regions::LOOPBACK).count();
    if loopbacks != 0 && loopbacks != regions.len() {
        return Err(TopologyError::MixedLoopback);
    }

    let producers = match shape {
        Shape::Line => symmetric(n, (1..n).map(|i| (i - 1, i))),
        // With one node the ring would be a self-link; with two, both directions are kept.
        Shape::UniCircle => (0..n)
            .map(|i| {
                if n > 1 {
                    vec![(i + n - 1) % n]
                } else {
                    Vec::new()
                }
            })
            .collect(),
        Shape::Torus => symmetric(n, torus_edges(n, regions.len(), false)),
        Shape::TorusDense => symmetric(n, torus_edges(n, regions.len(), true)),
    };

    let mut nodes: Vec<NodeSpec> = producers
        .into_iter()
        .enumerate()
        .map(|(i, producers)| NodeSpec {
            name: format!("node-{i}"),
            i,
            region: regions[i % regions.len()].clone(),
            producer: true,
            producers,
        })
        .collect();
    if with_explorer {
        nodes.push(NodeSpec {
            name: "explorer".to_owned(),
            i: n,
            // Continuing the round-robin keeps the explorer's placement a function of n alone.
            region: regions[n % regions.len()].clone(),
            producer: false,
            producers: (0..n).collect(),
        });
    }
    Ok(Topology { nodes })
}

/// Per-node ascending peer lists of an undirected graph, without self-links or duplicates.
fn symmetric(n: usize, edges: impl Iterator<Item = (usize, usize)>) -> Vec<Vec<usize>> {
    let set: BTreeSet<(usize, usize)> = edges
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    let mut peers = vec![Vec::new(); n];
    for (a, b) in set {
        peers[a].push(b);
        peers[b].push(a);
    }
    for p in &mut peers {
        p.sort_unstable();
    }
    peers
}

/// The undirected edges of the torus (see the module docs), possibly with duplicates.
fn torus_edges(n: usize, n_regions: usize, dense: bool) -> impl Iterator<Item = (usize, usize)> {
    let g = n.min(n_regions);
    // Group k holds the nodes k + q*g for q < m(k).
    let m = move |k: usize| (n - k).div_ceil(g);
    let node = move |k: usize, q: usize| k + q * g;
    (0..n).flat_map(move |i| {
        let (k, q) = (i % g, i / g);
        let mk = m(k);
        let next_group = (k + 1) % g;
        let mut edges = vec![
            (i, node(k, (q + 1) % mk)),
            (i, node(next_group, q % m(next_group))),
        ];
        if dense && mk >= 4 {
            let c = (mk / 3).max(2);
            edges.push((i, node(k, (q + c) % mk)));
        }
        edges
    })
}

impl Topology {
    /// The producers (all nodes but the explorer).
    pub fn producers(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|n| n.producer)
    }

    /// The abstract topology in the workbench's `topology.json` format: `coreNodes` for
    /// producers, `relayNodes` for the explorer.
    pub fn to_json(&self) -> Value {
        let names = |spec: &NodeSpec| -> Vec<Value> {
            spec.producers
                .iter()
                .filter_map(|j| self.nodes.get(*j))
                .map(|p| Value::from(p.name.clone()))
                .collect()
        };
        let (core, relay): (Vec<&NodeSpec>, Vec<&NodeSpec>) =
            self.nodes.iter().partition(|n| n.producer);
        let core: Vec<Value> = core
            .into_iter()
            .map(|n| {
                json!({
                    "name": n.name, "nodeId": n.i, "org": "IOHK", "pools": 1,
                    "producers": names(n), "region": n.region, "stakePool": true,
                })
            })
            .collect();
        let relay: Vec<Value> = relay
            .into_iter()
            .map(|n| {
                json!({
                    "name": n.name, "nodeId": n.i, "pools": null,
                    "producers": names(n), "region": n.region, "stakePool": null,
                })
            })
            .collect();
        json!({ "coreNodes": core, "relayNodes": relay })
    }

    /// Node `i`'s own topology file, in the legacy `Producers` format the emulated node reads,
    /// with each link's one-way latency and bandwidth from [`regions::link`] (from node `i`'s
    /// region to the peer's). `port_of(j)` is node `j`'s port on 127.0.0.1.
    ///
    /// An index outside the topology gets an empty `Producers` list.
    pub fn node_topology_json(&self, i: usize, port_of: impl Fn(usize) -> u16) -> Value {
        let Some(me) = self.nodes.get(i) else {
            return json!({ "Producers": [] });
        };
        let producers: Vec<Value> = me
            .producers
            .iter()
            .filter_map(|j| self.nodes.get(*j))
            .map(|peer| {
                let mut entry =
                    json!({ "addr": "127.0.0.1", "port": port_of(peer.i), "valency": 1 });
                // `make` rejects region mixes without a link, so `None` cannot happen for a
                // topology it built; a hand-built one just gets an instantaneous link.
                if let Some(link) = regions::link(&me.region, &peer.region) {
                    entry["latencyMs"] = json!(link.latency_ms);
                    if let Some(mbps) = link.bandwidth_mbps {
                        entry["bandwidthMbps"] = json!(mbps);
                    }
                }
                entry
            })
            .collect();
        json!({ "Producers": producers })
    }

    /// Graphviz rendering: one filled node per cluster node, coloured by region (in order of
    /// first appearance; loopback is grey), and an edge `a -> b` for "a downloads from b".
    pub fn to_dot(&self) -> String {
        const PALETTE: [&str; 8] = [
            "#8dd3c7", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5", "#bebada", "#ffffb3",
        ];
        let mut seen: Vec<&str> = Vec::new();
        let mut out = String::from("digraph topology {\n  node [style=filled];\n");
        for n in &self.nodes {
            let colour = if n.region == regions::LOOPBACK {
                "lightgrey"
            } else {
                let k = match seen.iter().position(|r| *r == n.region) {
                    Some(k) => k,
                    None => {
                        seen.push(&n.region);
                        seen.len() - 1
                    }
                };
                PALETTE[k % PALETTE.len()]
            };
            out.push_str(&format!(
                "  \"{}\" [fillcolor=\"{colour}\", tooltip=\"{}\"];\n",
                n.name, n.region
            ));
        }
        for n in &self.nodes {
            for peer in n.producers.iter().filter_map(|j| self.nodes.get(*j)) {
                out.push_str(&format!("  \"{}\" -> \"{}\";\n", n.name, peer.name));
            }
        }
        out.push_str("}\n");
        out
    }
}
