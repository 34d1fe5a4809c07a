//! Following a run while it goes: the trace lines of every node and of the generator are read as
//! they are written (incrementally, from where the last look stopped) and folded into the few
//! numbers the progress line and the end-of-run summary show. The full analysis reads the same
//! files afterwards; this only looks at a handful of namespaces, and skips the others after a
//! substring test, so it stays cheap beside 50 nodes.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// What one node's traces say so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NodeStats {
    /// Blocks it forged (`Forge.Loop.ForgedBlock`).
    pub forged: u64,
    /// Chain extensions it adopted (`AddedToCurrentChain` + `SwitchedToAFork`).
    pub adoptions: u64,
    /// Fork switches.
    pub forks: u64,
    /// Block number of its tip (`newTipSelectView.blockNo`), if it has one.
    pub tip_block_no: Option<u64>,
    /// Leadership checks seen (`Forge.Loop.StartLeadershipCheck`).
    pub leadership_checks: u64,
    /// The first and last slot checked.
    pub first_slot: Option<u64>,
    /// The last slot checked.
    pub last_slot: Option<u64>,
    /// Slots between the first and last check without one.
    pub missed_slots: u64,
    /// Lines at severity Error or worse.
    pub errors: u64,
    /// Lines that were not trace lines.
    pub unreadable: u64,
}

impl NodeStats {
    /// Blocks on its chain (block numbers start at 0).
    pub fn chain_length(&self) -> u64 {
        self.tip_block_no.map_or(0, |b| b + 1)
    }
}

/// What the generator's traces say so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GeneratorStats {
    /// Sent so far (`Benchmark.Progress`).
    pub sent: u64,
    /// Accepted by the target nodes so far.
    pub accepted: u64,
    /// Rejected so far.
    pub rejected: u64,
    /// Funds-splitting phases confirmed.
    pub phases_done: u64,
    /// `Benchmark.BenchTxSubSummary`'s data, once it is written.
    pub summary: Option<Value>,
}

struct Tail {
    offset: u64,
    partial: Vec<u8>,
}

/// Incremental readers over the log files of a run.
#[derive(Default)]
pub struct Watch {
    tails: BTreeMap<PathBuf, Tail>,
    /// Per node.
    pub nodes: BTreeMap<String, NodeStats>,
    /// The generator.
    pub generator: GeneratorStats,
}

/// Namespaces the watch reads; every other line is skipped unparsed.
const WANTED: [&str; 8] = [
    "Forge.Loop.StartLeadershipCheck",
    "Forge.Loop.ForgedBlock",
    "ChainDB.AddBlockEvent.AddedToCurrentChain",
    "ChainDB.AddBlockEvent.SwitchedToAFork",
    "Benchmark.Progress",
    "Benchmark.PhaseDone",
    "Benchmark.BenchTxSubSummary",
    // What real cardano-nodes call the leadership check when they add ledger figures to it.
    "Forge.Loop.StartLeadershipCheckPlus",
];

/// The value of a top-level string field `"key":"…"` found by searching from the front (`ns`
/// comes second in a machine line) or from the back (`sev` comes third from last).
fn field<'a>(line: &'a str, key: &str, from_back: bool) -> Option<&'a str> {
    let at = if from_back {
        line.rfind(key)?
    } else {
        line.find(key)?
    } + key.len();
    let rest = &line[at..];
    Some(&rest[..rest.find('"')?])
}

impl Watch {
    /// Reads what is new in `files` (the logs of node or generator `name`).
    pub fn update(&mut self, name: &str, files: &[PathBuf]) {
        for f in files {
            let lines = self.read_new(f);
            for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                self.line(name, line);
            }
        }
    }

    fn read_new(&mut self, path: &Path) -> Vec<u8> {
        let tail = self.tails.entry(path.to_owned()).or_insert(Tail {
            offset: 0,
            partial: Vec::new(),
        });
        let Ok(mut f) = std::fs::File::open(path) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(tail.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = std::mem::take(&mut tail.partial);
        let before = buf.len();
        if f.read_to_end(&mut buf).is_err() {
            buf.truncate(before);
        }
        tail.offset += (buf.len() - before) as u64;
        // Keep an unfinished last line for the next look.
        match buf.iter().rposition(|b| *b == b'\n') {
            Some(i) => {
                tail.partial = buf.split_off(i + 1);
                buf
            }
            None => {
                tail.partial = buf;
                Vec::new()
            }
        }
    }

    fn line(&mut self, name: &str, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            self.nodes.entry(name.to_owned()).or_default().unreadable += 1;
            return;
        };
        let ns = field(text, "\"ns\":\"", false);
        let found = ns.and_then(|ns| WANTED.iter().position(|w| *w == ns));
        // The `…Plus` alias is the leadership check.
        let Some(which) = found.map(|w| if w == 7 { 0 } else { w }) else {
            if matches!(
                field(text, "\"sev\":\"", true),
                Some("Error" | "Critical" | "Alert" | "Emergency")
            ) {
                self.nodes.entry(name.to_owned()).or_default().errors += 1;
            }
            return;
        };
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.nodes.entry(name.to_owned()).or_default().unreadable += 1;
            return;
        };
        let data = &v["data"];
        let u = |k: &str| data[k].as_u64();
        if which >= 4 {
            let g = &mut self.generator;
            match which {
                4 => {
                    g.sent = u("sent").unwrap_or(g.sent);
                    g.accepted = u("accepted").unwrap_or(g.accepted);
                    g.rejected = u("rejected").unwrap_or(g.rejected);
                }
                5 => g.phases_done += 1,
                _ => {
                    g.sent = data["summary"]["ssTxSent"].as_u64().unwrap_or(g.sent);
                    g.accepted = u("accepted").unwrap_or(g.accepted);
                    g.rejected = u("rejected").unwrap_or(g.rejected);
                    g.summary = Some(data.clone());
                }
            }
            return;
        }
        let n = self.nodes.entry(name.to_owned()).or_default();
        match which {
            0 => {
                if let Some(slot) = u("slot") {
                    n.leadership_checks += 1;
                    n.first_slot.get_or_insert(slot);
                    if let Some(last) = n.last_slot {
                        n.missed_slots += slot.saturating_sub(last + 1);
                    }
                    n.last_slot = Some(n.last_slot.map_or(slot, |l| l.max(slot)));
                }
            }
            1 => n.forged += 1,
            _ => {
                n.adoptions += 1;
                if which == 3 {
                    n.forks += 1;
                }
                // `newSuffixSelectView` is the name in 2026 cardano-node releases.
                let view = data
                    .get("newTipSelectView")
                    .or_else(|| data.get("newSuffixSelectView"));
                if let Some(b) = view.and_then(|v| v["blockNo"].as_u64()) {
                    n.tip_block_no = Some(b);
                }
            }
        }
    }

    /// The highest slot any node has checked.
    pub fn slot(&self) -> Option<u64> {
        self.nodes.values().filter_map(|n| n.last_slot).max()
    }

    /// The shortest and longest chain among `names`.
    pub fn chain_range<'a>(&self, names: impl Iterator<Item = &'a str>) -> (u64, u64) {
        let lens: Vec<u64> = names
            .map(|n| self.nodes.get(n).map_or(0, NodeStats::chain_length))
            .collect();
        (
            lens.iter().copied().min().unwrap_or(0),
            lens.iter().copied().max().unwrap_or(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn follows_growing_files_and_counts_what_matters() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node.json");
        let mut f = std::fs::File::create(&p).unwrap();
        let check = |slot: u64| {
            format!(
                r#"{{"at":"2026-11-24T06:00:00.000000000Z","ns":"Forge.Loop.StartLeadershipCheck","data":{{"kind":"TraceStartLeadershipCheck","slot":{slot}}},"sev":"Info","thread":"1","host":"node-0"}}"#
            )
        };
        writeln!(f, "{}", check(1)).unwrap();
        writeln!(f, "{}", check(2)).unwrap();
        // Half a line: not read until it is finished.
        write!(f, "{}", &check(5)[..40]).unwrap();
        let mut w = Watch::default();
        w.update("node-0", std::slice::from_ref(&p));
        assert_eq!(w.nodes["node-0"].leadership_checks, 2);
        writeln!(f, "{}", &check(5)[40..]).unwrap();
        writeln!(f, r#"{{"at":"2026-11-24T06:00:01.000000000Z","ns":"ChainDB.AddBlockEvent.AddedToCurrentChain","data":{{"kind":"AddedToCurrentChain","newTipSelectView":{{"blockNo":7}},"newtip":"ab@5"}},"sev":"Notice","thread":"1","host":"node-0"}}"#).unwrap();
        writeln!(f, r#"{{"at":"2026-11-24T06:00:01.000000000Z","ns":"Forge.Loop.ForgedBlock","data":{{"kind":"TraceForgedBlock","slot":5}},"sev":"Info","thread":"1","host":"node-0"}}"#).unwrap();
        writeln!(f, r#"{{"at":"2026-11-24T06:00:01.000000000Z","ns":"Mempool.AddedTx","data":{{}},"sev":"Error","thread":"1","host":"node-0"}}"#).unwrap();
        writeln!(f, r#"{{"at":"2026-11-24T06:00:02.000000000Z","ns":"Benchmark.Progress","data":{{"kind":"Progress","sent":10,"accepted":9,"rejected":1}},"sev":"Info","thread":"1","host":"txgen"}}"#).unwrap();
        w.update("node-0", std::slice::from_ref(&p));
        let n = &w.nodes["node-0"];
        assert_eq!(
            (
                n.leadership_checks,
                n.missed_slots,
                n.first_slot,
                n.last_slot
            ),
            (3, 2, Some(1), Some(5)),
            "slots 3 and 4 were never checked"
        );
        assert_eq!(
            (n.forged, n.adoptions, n.chain_length(), n.errors),
            (1, 1, 8, 1)
        );
        assert_eq!(
            (w.generator.sent, w.generator.accepted, w.generator.rejected),
            (10, 9, 1)
        );
        assert_eq!(w.slot(), Some(5));
        assert_eq!(w.chain_range(["node-0", "node-1"].into_iter()), (0, 8));

        // Real cardano-node shapes: the `…Plus` leadership check, 2026's `newSuffixSelectView`.
        writeln!(f, r#"{{"at":"2026-11-24T06:00:03.000000000Z","ns":"Forge.Loop.StartLeadershipCheckPlus","data":{{"chainDensity":0.05,"kind":"TraceStartLeadershipCheck","slot":6,"utxoSize":3}},"sev":"Info","thread":"42","host":"p1"}}"#).unwrap();
        writeln!(f, r#"{{"at":"2026-11-24T06:00:03.000000000Z","ns":"ChainDB.AddBlockEvent.AddedToCurrentChain","data":{{"kind":"AddedToCurrentChain","newSuffixSelectView":{{"blockNo":17}},"newtip":"db@6"}},"sev":"Notice","thread":"17","host":"p1"}}"#).unwrap();
        w.update("node-0", std::slice::from_ref(&p));
        let n = &w.nodes["node-0"];
        assert_eq!(
            (n.leadership_checks, n.last_slot, n.chain_length()),
            (4, Some(6), 18)
        );
    }
}
