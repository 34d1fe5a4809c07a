//! The per-node view: how fast each node adopted the main chain's blocks, where it sits (its
//! region, its hops from each block's forger in the run's topology), which nodes were slow; and
//! the topology drawn with each node coloured by its adoption delay.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use crate::input::Analysis;
use crate::svg::escape;

/// One node's figures over the main chain's blocks it adopted.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFigures {
    /// The host.
    pub host: String,
    /// Its region, when the run's topology names one.
    pub region: Option<String>,
    /// Blocks it adopted (of others' forging).
    pub adopted: usize,
    /// Mean seconds from the block's slot start to its adoption here.
    pub mean_delay: f64,
    /// 90th centile of those.
    pub p90_delay: f64,
    /// Mean hops from each block's forger, when the topology is known.
    pub mean_hops: Option<f64>,
    /// Among the slowest tenth of the nodes (at least one).
    pub slow: bool,
}

/// The run's topology (`topology.json` beside the analysis, the workbench's format): each node's
/// region and neighbours (links taken both ways).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topology {
    /// Node → region.
    pub regions: BTreeMap<String, String>,
    /// Node → its neighbours.
    pub links: BTreeMap<String, Vec<String>>,
}

impl Topology {
    /// Reads `topology.json` of the run an analysis belongs to, if there is one.
    pub fn of(a: &Analysis) -> Option<Topology> {
        let run = if a.dir.file_name().is_some_and(|n| n == "analysis") {
            a.dir.parent()?
        } else {
            a.dir.as_path()
        };
        Topology::read(&run.join("topology.json"))
    }

    fn read(path: &Path) -> Option<Topology> {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        let mut t = Topology::default();
        for n in ["coreNodes", "relayNodes"]
            .iter()
            .filter_map(|k| v[k].as_array())
            .flatten()
        {
            let Some(name) = n["name"].as_str() else {
                continue;
            };
            if let Some(r) = n["region"].as_str() {
                t.regions.insert(name.into(), r.into());
            }
            for p in n["producers"].as_array().into_iter().flatten() {
                let Some(p) = p.as_str() else { continue };
                for (a, b) in [(name, p), (p, name)] {
                    let l = t.links.entry(a.into()).or_default();
                    if !l.iter().any(|x| x == b) {
                        l.push(b.into());
                    }
                }
            }
        }
        Some(t)
    }

    /// Hops from `from` to every node it reaches.
    fn hops_from(&self, from: &str) -> HashMap<String, usize> {
        let mut d = HashMap::from([(from.to_owned(), 0)]);
        let mut q = VecDeque::from([from.to_owned()]);
        while let Some(n) = q.pop_front() {
            let here = d[&n];
            for m in self.links.get(&n).into_iter().flatten() {
                if !d.contains_key(m) {
                    d.insert(m.clone(), here + 1);
                    q.push_back(m.clone());
                }
            }
        }
        d
    }
}

/// A slot's start, ns, from the summary's genesis (its Byron prefix counted).
fn slot_start(g: &Value, slot: u64) -> Option<u64> {
    let start = g["system_start"].as_u64()?;
    let len = g["slot_length"].as_u64()?;
    let b = &g["byron"];
    Some(
        match (
            b["epochs"].as_u64(),
            b["epoch_length"].as_u64(),
            b["slot_length"].as_u64(),
        ) {
            (Some(e), Some(el), Some(bl)) if slot < e * el => start + slot * bl,
            (Some(e), Some(el), Some(bl)) => start + e * el * bl + (slot - e * el) * len,
            _ => start + slot * len,
        },
    )
}

/// Every node's adoption figures over the main chain, slowest tenth marked; none without slot
/// timing.
pub fn figures(a: &Analysis, topo: Option<&Topology>) -> Vec<NodeFigures> {
    let g = &a.summary["genesis"];
    let mut delays: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut hops: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut from_forger: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for b in a.chain["main"].as_array().into_iter().flatten() {
        let Some(start) = b["slot"].as_u64().and_then(|s| slot_start(g, s)) else {
            continue;
        };
        let forger = b["forger"].as_str();
        for (host, o) in b["observers"].as_object().into_iter().flatten() {
            let Some(at) = o["adopted"].as_u64() else {
                continue;
            };
            delays
                .entry(host.clone())
                .or_default()
                .push((at as f64 - start as f64) / 1e9);
            if let (Some(t), Some(f)) = (topo, forger) {
                let h = from_forger
                    .entry(f.to_owned())
                    .or_insert_with(|| t.hops_from(f));
                if let Some(n) = h.get(host) {
                    hops.entry(host.clone()).or_default().push(*n as f64);
                }
            }
        }
    }
    let mut out: Vec<NodeFigures> = delays
        .into_iter()
        .map(|(host, mut d)| {
            d.sort_by(f64::total_cmp);
            let p90 = d[((d.len() as f64 * 0.9).ceil() as usize).clamp(1, d.len()) - 1];
            NodeFigures {
                region: topo.and_then(|t| t.regions.get(&host).cloned()),
                mean_hops: hops
                    .get(&host)
                    .map(|h| h.iter().sum::<f64>() / h.len() as f64),
                adopted: d.len(),
                mean_delay: d.iter().sum::<f64>() / d.len() as f64,
                p90_delay: p90,
                slow: false,
                host,
            }
        })
        .collect();
    out.sort_by_key(|n| crate::input::natural_key(&n.host));
    let mut by_delay: Vec<usize> = (0..out.len()).collect();
    by_delay.sort_by(|&i, &j| out[j].mean_delay.total_cmp(&out[i].mean_delay));
    for &i in by_delay.iter().take(out.len().div_ceil(10)) {
        out[i].slow = true;
    }
    out
}

/// A colour from green (fastest) to red (slowest) for `t` in 0..=1.
fn heat(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let (r, g) = if t < 0.5 {
        (2.0 * t, 1.0)
    } else {
        (1.0, 2.0 * (1.0 - t))
    };
    format!(
        "#{:02x}{:02x}40",
        (60.0 + r * 180.0) as u8,
        (60.0 + g * 140.0) as u8
    )
}

/// The topology: nodes on a circle grouped by region, links as lines, each node coloured by its
/// mean adoption delay (green fastest, red slowest), slow ones ringed.
pub fn topology_svg(t: &Topology, nodes: &[NodeFigures]) -> String {
    let mut names: Vec<&String> = t.links.keys().chain(t.regions.keys()).collect();
    names.sort_by_key(|n| (t.regions.get(*n).cloned(), crate::input::natural_key(n)));
    names.dedup();
    let (w, h, r) = (720.0, 520.0, 200.0);
    let (cx, cy) = (300.0, h / 2.0);
    let at: HashMap<&str, (f64, f64)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let a = i as f64 / names.len().max(1) as f64 * std::f64::consts::TAU;
            (n.as_str(), (cx + r * a.cos(), cy + r * a.sin()))
        })
        .collect();
    let fig: HashMap<&str, &NodeFigures> = nodes.iter().map(|n| (n.host.as_str(), n)).collect();
    let (lo, hi) = nodes.iter().fold((f64::MAX, f64::MIN), |(a, b), n| {
        (a.min(n.mean_delay), b.max(n.mean_delay))
    });
    let mut o = format!(
        "<svg class=\"chart topology\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"topology\" xmlns=\"http://www.w3.org/2000/svg\"><title>Topology, nodes coloured by mean adoption delay</title>"
    );
    for (a, ns) in &t.links {
        for b in ns {
            if a < b {
                if let (Some(p), Some(q)) = (at.get(a.as_str()), at.get(b.as_str())) {
                    let _ = write!(
                        o,
                        "<line class=\"link\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c5ccd3\" stroke-width=\"1\"/>",
                        p.0, p.1, q.0, q.1
                    );
                }
            }
        }
    }
    for n in &names {
        let (x, y) = at[n.as_str()];
        let f = fig.get(n.as_str());
        let fill = f.map_or_else(
            || "#ffffff".to_owned(),
            |f| {
                heat(if hi > lo {
                    (f.mean_delay - lo) / (hi - lo)
                } else {
                    0.0
                })
            },
        );
        let tip = match f {
            Some(f) => format!(
                "{n}{}: mean adoption {:.1} ms after slot start, 90 % {:.1} ms, {} blocks{}",
                t.regions
                    .get(*n)
                    .map_or(String::new(), |r| format!(" ({r})")),
                f.mean_delay * 1e3,
                f.p90_delay * 1e3,
                f.adopted,
                if f.slow { " — among the slowest" } else { "" }
            ),
            None => format!("{n}: no adoptions in these logs"),
        };
        let ring = if f.is_some_and(|f| f.slow) {
            "stroke=\"#b3261e\" stroke-width=\"3\""
        } else {
            "stroke=\"#5b6570\" stroke-width=\"1\""
        };
        let _ = write!(
            o,
            "<circle class=\"node\" data-node=\"{id}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"9\" fill=\"{fill}\" {ring}><title>{}</title></circle><text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{id}</text>",
            escape(&tip),
            x,
            y - 13.0,
            id = escape(n)
        );
    }
    // The colour key.
    let _ = write!(
        o,
        "<text class=\"axis\" x=\"560\" y=\"40\">mean adoption delay</text><rect x=\"560\" y=\"50\" width=\"16\" height=\"16\" fill=\"{}\"/><text class=\"legend\" x=\"582\" y=\"62\">{:.0} ms (fastest)</text><rect x=\"560\" y=\"74\" width=\"16\" height=\"16\" fill=\"{}\"/><text class=\"legend\" x=\"582\" y=\"86\">{:.0} ms (slowest)</text><circle cx=\"568\" cy=\"108\" r=\"7\" fill=\"none\" stroke=\"#b3261e\" stroke-width=\"3\"/><text class=\"legend\" x=\"582\" y=\"112\">slowest tenth</text></svg>",
        heat(0.0),
        lo * 1e3,
        heat(1.0),
        hi * 1e3
    );
    o
}
