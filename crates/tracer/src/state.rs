//! What the tracer knows about the cluster: per node, connection status, chain tip, forging,
//! mempool, throughput, resource samples, errors and forwarded metrics. Fed by the trace objects
//! the nodes send (so it works for real cardano-nodes too) and by their EKG metrics; read by the
//! live page and the Prometheus endpoint.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use serde_json::{Value, json};
use wb_forward::ekg::MetricValue;
use wb_forward::trace_object::TraceObjectView;

/// Resource samples kept per node for the sparklines.
const SPARK_LEN: usize = 120;

/// One node as the tracer sees it.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    /// Its name (unique among nodes).
    pub name: String,
    /// Connection id of its current or last connection.
    pub connection: String,
    /// Whether it is connected now.
    pub connected: bool,
    /// Unix nanos of the current (or last) connection's start.
    pub since: u64,
    /// Unix nanos of the last message received.
    pub last_seen: u64,
    /// Slot of the chain tip (from `AddedToCurrentChain`/`SwitchedToAFork`).
    pub tip_slot: Option<u64>,
    /// Block number of the chain tip.
    pub tip_block: Option<u64>,
    /// `Forge.Loop.ForgedBlock` seen.
    pub forged: u64,
    /// `Forge.Loop.AdoptedBlock` seen.
    pub adopted: u64,
    /// Transactions in the mempool (last `mempoolSize`).
    pub mempool_txs: Option<u64>,
    /// Bytes in the mempool.
    pub mempool_bytes: Option<u64>,
    /// `Mempool.AddedTx` seen.
    pub txs_added: u64,
    /// Trace objects received.
    pub objects_total: u64,
    /// Messages of severity Warning.
    pub warnings: u64,
    /// Messages of severity Error or above.
    pub errors: u64,
    /// The last Error-or-above message, namespace and text.
    pub last_error: Option<String>,
    /// CPU % per `Resources` sample, oldest first.
    pub cpu: VecDeque<f64>,
    /// RSS bytes per `Resources` sample.
    pub rss: VecDeque<u64>,
    /// Forwarded EKG metrics by full name.
    pub metrics: BTreeMap<String, MetricValue>,
    last_cpu: Option<(i128, u64)>,
    rate_base: (u64, u64),
    /// Objects per second over the last rate period.
    pub objects_per_sec: f64,
    /// `Mempool.AddedTx` per second over the last rate period.
    pub tx_per_sec: f64,
}

impl NodeState {
    /// Folds one trace object into the state. Only a few namespaces are parsed; the rest cost a
    /// string comparison.
    pub fn observe(&mut self, o: &TraceObjectView<'_>, now: u64) {
        self.objects_total += 1;
        self.last_seen = now;
        match o.severity {
            3 => self.warnings += 1,
            4..=7 => {
                self.errors += 1;
                let text = o.human.as_deref().unwrap_or(&o.machine);
                let mut msg = format!("{}: {}", o.namespace_text(), text);
                if msg.len() > 300 {
                    let cut = (0..=300)
                        .rev()
                        .find(|i| msg.is_char_boundary(*i))
                        .unwrap_or(0);
                    msg.truncate(cut);
                }
                self.last_error = Some(msg);
            }
            _ => {}
        }
        let ns = o.namespace_text();
        let interesting = matches!(
            ns,
            "Forge.Loop.ForgedBlock"
                | "Forge.Loop.AdoptedBlock"
                | "ChainDB.AddBlockEvent.AddedToCurrentChain"
                | "ChainDB.AddBlockEvent.SwitchedToAFork"
                | "Mempool.AddedTx"
                | "Mempool.RemoveTxs"
                | "Mempool.RejectedTx"
                | "Resources"
        );
        if !interesting {
            return;
        }
        let Ok(line) = serde_json::from_str::<Value>(&o.machine) else {
            return;
        };
        let data = &line["data"];
        match ns {
            "Forge.Loop.ForgedBlock" => self.forged += 1,
            "Forge.Loop.AdoptedBlock" => self.adopted += 1,
            "ChainDB.AddBlockEvent.AddedToCurrentChain"
            | "ChainDB.AddBlockEvent.SwitchedToAFork" => {
                if let Some(slot) = data["newtip"]
                    .as_str()
                    .and_then(|t| t.rsplit_once('@'))
                    .and_then(|(_, s)| s.parse().ok())
                {
                    self.tip_slot = Some(slot);
                }
                let view = if data["newTipSelectView"].is_object() {
                    &data["newTipSelectView"]
                } else {
                    &data["newSuffixSelectView"]
                };
                if let Some(b) = view["blockNo"]
                    .as_u64()
                    .or_else(|| view["chainLength"].as_u64())
                {
                    self.tip_block = Some(b);
                }
            }
            "Resources" => {
                if let Some(rss) = data["RSS"].as_u64() {
                    push_capped(&mut self.rss, rss);
                }
                if let Some(centi) = data["CentiCpu"].as_u64() {
                    if let Some((t0, c0)) = self.last_cpu {
                        let secs = (o.timestamp_nanos - t0) as f64 / 1e9;
                        if secs > 0.0 && centi >= c0 {
                            // Centiseconds of CPU per second of wall time is a percentage.
                            push_capped(&mut self.cpu, (centi - c0) as f64 / secs);
                        }
                    }
                    self.last_cpu = Some((o.timestamp_nanos, centi));
                }
            }
            _ => {
                if ns == "Mempool.AddedTx" {
                    self.txs_added += 1;
                }
                let size = &data["mempoolSize"];
                if let Some(n) = size["numTxs"].as_u64() {
                    self.mempool_txs = Some(n);
                }
                if let Some(b) = size["bytes"].as_u64() {
                    self.mempool_bytes = Some(b);
                }
            }
        }
    }

    /// Recomputes rates over `secs` seconds since the last call.
    fn update_rates(&mut self, secs: f64) {
        let (objects, txs) = self.rate_base;
        if secs > 0.0 {
            self.objects_per_sec = (self.objects_total - objects) as f64 / secs;
            self.tx_per_sec = (self.txs_added - txs) as f64 / secs;
        }
        self.rate_base = (self.objects_total, self.txs_added);
    }
}

fn push_capped<T>(q: &mut VecDeque<T>, v: T) {
    if q.len() == SPARK_LEN {
        q.pop_front();
    }
    q.push_back(v);
}

/// The whole cluster as the tracer sees it.
#[derive(Debug)]
pub struct ClusterState {
    /// Nodes by name; disconnected ones stay.
    pub nodes: BTreeMap<String, NodeState>,
    started: Instant,
    /// Trace objects received in all.
    pub objects_total: u64,
    /// Bytes written to log files.
    pub bytes_written: u64,
    /// Connections closed for errors.
    pub errors: u64,
    last_rates: Instant,
    rate_base: u64,
    /// Objects per second over all nodes in the last rate period.
    pub objects_per_sec: f64,
}

impl Default for ClusterState {
    fn default() -> Self {
        ClusterState {
            nodes: BTreeMap::new(),
            started: Instant::now(),
            objects_total: 0,
            bytes_written: 0,
            errors: 0,
            last_rates: Instant::now(),
            rate_base: 0,
            objects_per_sec: 0.0,
        }
    }
}

impl ClusterState {
    /// Registers a newly connected node wanting `name`; returns the name it gets, unique among
    /// connected nodes (a node that reconnects under its old name gets its old entry back).
    pub fn connect(&mut self, wanted: &str, connection: &str, now: u64) -> String {
        let mut name = wanted.to_owned();
        let mut n = 2;
        while self.nodes.get(&name).is_some_and(|s| s.connected) {
            name = format!("{wanted}-{n}");
            n += 1;
        }
        let node = self.nodes.entry(name.clone()).or_default();
        node.name.clone_from(&name);
        node.connection = connection.to_owned();
        node.connected = true;
        node.since = now;
        node.last_seen = now;
        name
    }

    /// Marks a node disconnected; everything else about it stays.
    pub fn disconnect(&mut self, name: &str) {
        if let Some(n) = self.nodes.get_mut(name) {
            n.connected = false;
        }
    }

    /// Connected nodes.
    pub fn connected(&self) -> usize {
        self.nodes.values().filter(|n| n.connected).count()
    }

    /// Recomputes per-second rates (call about once a second).
    pub fn update_rates(&mut self) {
        let secs = self.last_rates.elapsed().as_secs_f64();
        self.last_rates = Instant::now();
        for n in self.nodes.values_mut() {
            n.update_rates(secs);
        }
        if secs > 0.0 {
            self.objects_per_sec = (self.objects_total - self.rate_base) as f64 / secs;
        }
        self.rate_base = self.objects_total;
    }

    /// The live page's JSON.
    pub fn snapshot(&self) -> Value {
        let iso = wb_trace::time::machine_time;
        let nodes: Vec<Value> = self
            .nodes
            .values()
            .map(|n| {
                json!({
                    "name": n.name,
                    "connected": n.connected,
                    "stale": !n.connected,
                    "since": iso(n.since),
                    "lastSeen": iso(n.last_seen),
                    "tipSlot": n.tip_slot,
                    "tipBlock": n.tip_block,
                    "forged": n.forged,
                    "adopted": n.adopted,
                    "mempoolTxs": n.mempool_txs,
                    "mempoolBytes": n.mempool_bytes,
                    "txPerSec": n.tx_per_sec,
                    "objectsPerSec": n.objects_per_sec,
                    "objectsTotal": n.objects_total,
                    "cpu": n.cpu,
                    "rss": n.rss,
                    "errors": n.errors,
                    "warnings": n.warnings,
                    "lastError": n.last_error,
                })
            })
            .collect();
        let connected: Vec<&NodeState> = self.nodes.values().filter(|n| n.connected).collect();
        json!({
            "now": iso(wb_trace::time::now_unix_nanos()),
            "uptimeSecs": self.started.elapsed().as_secs_f64(),
            "tracer": {
                "objectsPerSec": self.objects_per_sec,
                "objectsTotal": self.objects_total,
                "bytesWritten": self.bytes_written,
                "connections": connected.len(),
                "errors": self.errors,
            },
            "totals": {
                "nodes": self.nodes.len(),
                "connected": connected.len(),
                "forged": self.nodes.values().map(|n| n.forged).sum::<u64>(),
                "adopted": self.nodes.values().map(|n| n.adopted).sum::<u64>(),
                "txPerSec": connected.iter().map(|n| n.tx_per_sec).sum::<f64>(),
                "mempoolTxs": connected.iter().filter_map(|n| n.mempool_txs).sum::<u64>(),
            },
            "nodes": nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn view<'a>(ns: &'a str, sev: u8, machine: &'a str, ts: i128) -> TraceObjectView<'a> {
        TraceObjectView {
            human: None,
            machine: Cow::Borrowed(machine),
            namespace: Cow::Borrowed(ns),
            severity: sev,
            detail: 1,
            timestamp_nanos: ts,
            hostname: Cow::Borrowed("h"),
            thread_id: Cow::Borrowed("1"),
        }
    }

    #[test]
    fn real_lines_update_the_node() {
        let mut n = NodeState::default();
        // From shared/fixtures/real-logs and TRACE-EVENTS.md.
        let added = r#"{"at":"2025-10-27T16:25:26.038106Z","ns":"ChainDB.AddBlockEvent.AddedToCurrentChain","data":{"kind":"AddedToCurrentChain","newTipSelectView":{"blockNo":3,"issueNo":0,"kind":"PraosTiebreakerView","slotNo":57},"newtip":"a1e8@57"},"sev":"Notice","thread":"29","host":"node-1"}"#;
        n.observe(
            &view("ChainDB.AddBlockEvent.AddedToCurrentChain", 2, added, 0),
            1,
        );
        assert_eq!((n.tip_slot, n.tip_block), (Some(57), Some(3)));
        let newest = r#"{"at":"2026-06-07T05:10:19.725777847Z","ns":"ChainDB.AddBlockEvent.AddedToCurrentChain","data":{"kind":"AddedToCurrentChain","newSuffixSelectView":{"blockNo":17,"slotNo":421},"newtip":"db3b@421"},"sev":"Notice","thread":"17","host":"lfl4"}"#;
        n.observe(
            &view("ChainDB.AddBlockEvent.AddedToCurrentChain", 2, newest, 0),
            2,
        );
        assert_eq!((n.tip_slot, n.tip_block), (Some(421), Some(17)));
        let mempool = r#"{"at":"x","ns":"Mempool.AddedTx","data":{"kind":"TraceMempoolAddedTx","mempoolSize":{"bytes":1275,"numTxs":1},"tx":{"txid":"20a1aefc"}},"sev":"Info","thread":"91","host":"node-1"}"#;
        n.observe(&view("Mempool.AddedTx", 1, mempool, 0), 3);
        assert_eq!(
            (n.mempool_txs, n.mempool_bytes, n.txs_added),
            (Some(1), Some(1275), 1)
        );
        let res = |cpu: u64| {
            format!(
                r#"{{"at":"x","ns":"Resources","data":{{"CentiCpu":{cpu},"RSS":1000,"kind":"ResourceStats"}},"sev":"Info","thread":"1","host":"h"}}"#
            )
        };
        n.observe(&view("Resources", 1, &res(100), 1_000_000_000), 4);
        n.observe(&view("Resources", 1, &res(150), 2_000_000_000), 5);
        assert_eq!(n.cpu.iter().copied().collect::<Vec<_>>(), vec![50.0]);
        assert_eq!(n.rss.len(), 2);
        n.observe(&view("Forge.Loop.ForgedBlock", 1, "{}", 0), 6);
        n.observe(&view("Net.Whatever", 4, "{\"boom\":1}", 0), 7);
        assert_eq!((n.forged, n.errors, n.objects_total), (1, 1, 7));
        assert_eq!(n.last_error.as_deref(), Some("Net.Whatever: {\"boom\":1}"));
    }

    #[test]
    fn names_are_unique_among_connected_nodes_and_reused_on_reconnect() {
        let mut c = ClusterState::default();
        assert_eq!(c.connect("node-1", "a", 1), "node-1");
        assert_eq!(c.connect("node-1", "b", 1), "node-1-2");
        c.disconnect("node-1");
        assert_eq!(c.connected(), 1);
        assert_eq!(c.connect("node-1", "c", 2), "node-1");
        let snap = c.snapshot();
        assert_eq!(snap["totals"]["connected"], 2);
        assert_eq!(snap["nodes"][0]["name"], "node-1");
    }
}
