//! Synthetic cluster logs whose answers are known by construction: N hosts of a Praos cluster
//! logging in the new tracing system's machine format (`design/TRACE-EVENTS.md`), slot by slot —
//! leadership checks, forging, diffusion (header, fetch, adoption, serving on), slot battles
//! that some hosts adopt and then switch away from, mempool and tx-submission traffic, resource
//! samples and the lines of a full-tracing node the analysis does not read — plus the [`Truth`]
//! the analysis must find in them. Deterministic for a seed; hosts are written one stream each
//! (in parallel), through a small time-ordered queue, so memory stays bounded whatever the size.
//!
//! The chain is drawn first (leaders, blocks, who adopts what when): propagation delays are
//! functions of (seed, block, host), so each host's stream recomputes what it needs.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::fasthash::hash64;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Hosts (`node-0`…).
    pub hosts: usize,
    /// How long: slots, or a total size in bytes (the slots are then estimated).
    pub length: Length,
    /// The seed: the same seed and options give the same bytes.
    pub seed: u64,
    /// Files per host (each host's log split at slot boundaries, names in time order).
    pub rotate: usize,
    /// Slot length, milliseconds.
    pub slot_ms: u64,
    /// Active slot coefficient: the chance that a slot has a leader.
    pub active_slot_coeff: f64,
    /// The first slot's start, ns since the Unix epoch.
    pub start: u64,
}

/// How long the logs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// This many slots.
    Slots(u64),
    /// About this many bytes over all hosts.
    Bytes(u64),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hosts: 6,
            length: Length::Slots(300),
            seed: 1,
            rotate: 1,
            slot_ms: 1000,
            active_slot_coeff: 0.05,
            // 2026-01-01T00:00:00Z
            start: 1_767_225_600_000_000_000,
        }
    }
}

/// What a host wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostTruth {
    /// Its name.
    pub host: String,
    /// Its files, in time order.
    pub files: Vec<PathBuf>,
    /// Bytes written.
    pub bytes: u64,
    /// Lines written.
    pub lines: u64,
    /// Leadership checks (one per slot).
    pub leadership_checks: u64,
    /// Blocks it forged (lost ones included).
    pub forged: u64,
    /// Blocks of others it added to its chain (`AddedToCurrentChain`; fork switches apart).
    pub adopted: u64,
}

/// A forged block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthBlock {
    /// Its hash.
    pub hash: String,
    /// Its predecessor's hash.
    pub prev: String,
    /// Its slot.
    pub slot: u64,
    /// Its number.
    pub block_no: u64,
    /// Its forger.
    pub forger: String,
    /// When it was forged, ns.
    pub forged_at: u64,
    /// When each other host adopted it (by `AddedToCurrentChain`, or by switching to it).
    pub adopted: BTreeMap<String, u64>,
}

/// The answers, known by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    /// Slots generated.
    pub slots: u64,
    /// Per host, in host order.
    pub hosts: Vec<HostTruth>,
    /// The main chain, oldest first.
    pub main: Vec<TruthBlock>,
    /// Blocks that lost a slot battle, by block number then hash.
    pub forks: Vec<TruthBlock>,
}

/// A block as drawn, with its battle.
struct Drawn {
    hash: String,
    prev: String,
    slot: u64,
    block_no: u64,
    forger: usize,
    forged_at: u64,
    /// The slot's winner (itself if it won).
    winner: usize,
    /// The other blocks of its slot.
    rivals: Vec<usize>,
}

/// What one host sees of one block.
#[derive(Clone, Copy)]
struct Arrival {
    header: u64,
    fetched: u64,
    adopted: u64,
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn mix(parts: &[u64]) -> u64 {
    let bytes: Vec<u8> = parts.iter().flat_map(|p| p.to_le_bytes()).collect();
    hash64(&bytes)
}

fn hex_hash(seed: u64, salt: u64) -> String {
    (0..4u64)
        .map(|i| format!("{:016x}", mix(&[seed, salt, i])))
        .collect()
}

fn host_name(i: usize) -> String {
    format!("node-{i}")
}

/// The cluster: options and the drawn chain, shared read-only by the host writers.
struct Cluster {
    o: Options,
    slot_ns: u64,
    blocks: Vec<Drawn>,
    /// The first block of each slot's index (blocks are in slot order).
    first_of_slot: BTreeMap<u64, usize>,
}

impl Cluster {
    fn draw(o: &Options, slots: u64) -> Cluster {
        let slot_ns = o.slot_ms * 1_000_000;
        let mut rng = Rng(mix(&[o.seed, 0xc4a1]));
        // Equal stakes: each host leads with the chance that makes f the chance of any leader.
        let p = 1.0 - (1.0 - o.active_slot_coeff).powf(1.0 / o.hosts.max(1) as f64);
        let mut blocks: Vec<Drawn> = Vec::new();
        let mut first_of_slot = BTreeMap::new();
        let (mut tip, mut tip_no) = (hex_hash(o.seed, u64::MAX), 0u64);
        for slot in 0..slots {
            let leaders: Vec<usize> = (0..o.hosts).filter(|_| rng.unit() < p).collect();
            if leaders.is_empty() {
                continue;
            }
            let first = blocks.len();
            first_of_slot.insert(slot, first);
            for &h in &leaders {
                // Forging takes 5–25 ms after the slot starts.
                let forged_at = o.start + slot * slot_ns + 5_000_000 + rng.below(20_000_000);
                blocks.push(Drawn {
                    hash: hex_hash(o.seed, slot << 16 | h as u64),
                    prev: tip.clone(),
                    slot,
                    block_no: tip_no + 1,
                    forger: h,
                    forged_at,
                    winner: 0,
                    rivals: Vec::new(),
                });
            }
            let ids: Vec<usize> = (first..blocks.len()).collect();
            // The earliest forged wins (what the analysis also picks between equal heights).
            let winner = *ids
                .iter()
                .min_by_key(|&&i| (blocks[i].forged_at, blocks[i].forger))
                .unwrap_or(&first);
            for &i in &ids {
                blocks[i].winner = winner;
                blocks[i].rivals = ids.iter().copied().filter(|&j| j != i).collect();
            }
            tip = blocks[winner].hash.clone();
            tip_no += 1;
        }
        Cluster {
            o: o.clone(),
            slot_ns,
            blocks,
            first_of_slot,
        }
    }

    /// When `host` sees block `b` (not its forger): header after a propagation delay (mostly
    /// tens of ms, a long tail), the body 2–60 ms later, adoption 1–3 ms after that. All of it
    /// stays within 70% of a slot so the next leader builds on the winner.
    fn arrival(&self, b: usize, host: usize) -> Arrival {
        let mut r = Rng(mix(&[self.o.seed, b as u64, host as u64, 0xa7]));
        let slot = self.slot_ns as f64;
        let delay = (0.01 + -0.08 * (1.0 - r.unit()).ln()).min(0.5);
        let header = self.blocks[b].forged_at + (delay * slot) as u64;
        let fetched = header + ((0.002 + r.unit() * 0.058) * slot) as u64;
        let adopted = fetched + ((0.001 + r.unit() * 0.002) * slot) as u64;
        Arrival {
            header,
            fetched,
            adopted,
        }
    }

    /// What `host` does with the blocks of one slot: per block, its arrival and whether the
    /// host adopts it (`Added`), switches to it (`Switched`) or only sees its header.
    fn fate(&self, first: usize, host: usize) -> Vec<(usize, Arrival, Fate)> {
        let b0 = &self.blocks[first];
        let ids: Vec<usize> = std::iter::once(first)
            .chain(b0.rivals.iter().copied())
            .filter(|&i| i >= first)
            .collect();
        let own = ids.iter().copied().find(|&i| self.blocks[i].forger == host);
        let winner = b0.winner;
        let mut seen: Vec<(usize, Arrival)> = ids
            .iter()
            .copied()
            .filter(|&i| Some(i) != own)
            .map(|i| (i, self.arrival(i, host)))
            .collect();
        seen.sort_by_key(|(i, a)| (a.header, *i));
        // The block the host holds first: its own, else the first to arrive.
        let held = own.or_else(|| seen.first().map(|(i, _)| *i));
        let held_at = match (own, seen.first()) {
            (Some(b), _) => self.blocks[b].forged_at + SELF_ADOPT,
            (None, Some((_, a))) => a.adopted,
            (None, None) => 0,
        };
        seen.into_iter()
            .map(|(i, mut a)| {
                let fate = if Some(i) == held {
                    Fate::Added
                } else if i == winner {
                    // A switch comes after the block it leaves.
                    a.adopted = a.adopted.max(held_at + 1_000_000);
                    Fate::Switched
                } else {
                    Fate::HeaderOnly
                };
                (i, a, fate)
            })
            .collect()
    }

    fn truth_blocks(&self) -> (Vec<TruthBlock>, Vec<TruthBlock>) {
        let mut all: Vec<TruthBlock> = self
            .blocks
            .iter()
            .map(|b| TruthBlock {
                hash: b.hash.clone(),
                prev: b.prev.clone(),
                slot: b.slot,
                block_no: b.block_no,
                forger: host_name(b.forger),
                forged_at: b.forged_at,
                adopted: BTreeMap::new(),
            })
            .collect();
        for &first in self.first_of_slot.values() {
            for host in 0..self.o.hosts {
                for (i, a, fate) in self.fate(first, host) {
                    if fate != Fate::HeaderOnly {
                        all[i].adopted.insert(host_name(host), a.adopted);
                    }
                }
            }
        }
        let (main, mut forks): (Vec<_>, Vec<_>) = all
            .into_iter()
            .enumerate()
            .partition(|(i, _)| self.blocks[*i].winner == *i);
        forks.sort_by(|a, b| (a.1.block_no, &a.1.hash).cmp(&(b.1.block_no, &b.1.hash)));
        (
            main.into_iter().map(|x| x.1).collect(),
            forks.into_iter().map(|x| x.1).collect(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Added,
    Switched,
    HeaderOnly,
}

/// One line to write, before its time and host are put on.
#[derive(Debug, Clone)]
enum Ev {
    Check(u64),
    Decided(u64, bool),
    Forging(u64, usize),
    Forged(usize),
    SelfAdopted(usize),
    Header(usize),
    FetchRequest(usize),
    Fetched(usize, u64),
    Queued(usize),
    Added(usize),
    Switched(usize),
    Announce(usize),
    Serve(usize),
    RemoveTxs(u64),
    TxIn(u64),
    LedgerMetrics(u64),
    StateInfo(u64),
    Resources(u64),
    NetCounters,
    FetchDecision,
}

/// A queued line: by time, then by order of queueing.
struct Timed(u64, u64, Ev);

impl PartialEq for Timed {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for Timed {}
impl PartialOrd for Timed {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Timed {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

/// Where a host's lines go: files rotated at slot boundaries, or nowhere (to measure).
enum Sink {
    Files {
        dir: PathBuf,
        out: Option<std::io::BufWriter<std::fs::File>>,
        files: Vec<PathBuf>,
    },
    Count,
}

/// One host's stream.
struct HostWriter<'c> {
    c: &'c Cluster,
    host: usize,
    name: String,
    rng: Rng,
    queue: BinaryHeap<Reverse<Timed>>,
    seq: u64,
    line: Vec<u8>,
    sink: Sink,
    truth: HostTruth,
    mempool: u64,
    cpu: u64,
}

/// Peers listen on 127.0.0.1:30000 + host.
const PEER_BASE: usize = 30000;
/// A forger adopts its block this long after forging it, ns.
const SELF_ADOPT: u64 = 2_000_000;

impl<'c> HostWriter<'c> {
    fn new(c: &'c Cluster, host: usize, sink: Sink) -> Self {
        HostWriter {
            c,
            host,
            name: host_name(host),
            rng: Rng(mix(&[c.o.seed, host as u64, 0x5eed])),
            queue: BinaryHeap::new(),
            seq: 0,
            line: Vec::with_capacity(1024),
            sink,
            truth: HostTruth {
                host: host_name(host),
                ..HostTruth::default()
            },
            mempool: 0,
            cpu: 0,
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Timed(at, self.seq, ev)));
    }

    /// Writes every queued line before `until`.
    fn flush(&mut self, until: u64) -> std::io::Result<()> {
        while self.queue.peek().is_some_and(|Reverse(t)| t.0 < until) {
            if let Some(Reverse(Timed(at, _, ev))) = self.queue.pop() {
                self.write(at, &ev)?;
            }
        }
        Ok(())
    }

    fn rotate(&mut self, at: u64) -> std::io::Result<()> {
        if let Sink::Files { dir, out, files } = &mut self.sink {
            if let Some(mut w) = out.take() {
                w.flush()?;
            }
            // `node-2026-01-01T00-00-00-000.json`: fixed width, so names sort by time as a
            // rotator's do.
            let stamp = wb_trace::time::machine_time(at);
            let ms = at / 1_000_000 % 1000;
            let name = format!("node-{}-{ms:03}.json", stamp[..19].replace(':', "-"));
            let path = dir.join(name);
            *out = Some(std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(&path)?,
            ));
            files.push(path);
        }
        Ok(())
    }

    fn run(mut self, slots: u64) -> std::io::Result<HostTruth> {
        let c = self.c;
        let pieces = c.o.rotate.clamp(1, slots.max(1) as usize) as u64;
        let per_sample = (1_000 / c.o.slot_ms.max(1)).max(1);
        for slot in 0..slots {
            let t0 = c.o.start + slot * c.slot_ns;
            self.flush(t0)?;
            if slot * pieces / slots.max(1) != slot.saturating_sub(1) * pieces / slots.max(1)
                || slot == 0
            {
                self.rotate(t0)?;
            }
            self.slot(slot, t0, per_sample);
        }
        self.flush(u64::MAX)?;
        if let Sink::Files { out, files, .. } = &mut self.sink {
            if let Some(mut w) = out.take() {
                w.flush()?;
            }
            self.truth.files = std::mem::take(files);
        }
        Ok(self.truth)
    }

    /// Queues one slot's lines.
    fn slot(&mut self, slot: u64, t0: u64, per_sample: u64) {
        let c = self.c;
        let us = 1_000;
        let check = t0 + 200 * us + self.rng.below(300) * us;
        self.push(check, Ev::Check(slot));
        self.push(check + 5 * us, Ev::StateInfo(slot));
        let own = c.first_of_slot.get(&slot).and_then(|&first| {
            std::iter::once(first)
                .chain(c.blocks[first].rivals.iter().copied())
                .find(|&i| c.blocks[i].forger == self.host)
        });
        self.push(check + 20 * us, Ev::Decided(slot, own.is_some()));
        if let Some(b) = own {
            let f = c.blocks[b].forged_at;
            self.push(check + 40 * us, Ev::Forging(slot, b));
            self.push(f, Ev::Forged(b));
            self.push(f + SELF_ADOPT, Ev::SelfAdopted(b));
            self.push(f + 2_500 * us, Ev::RemoveTxs(self.mempool / 2));
            self.push(f + 3_000 * us, Ev::Announce(b));
            self.push(f + 6_000 * us, Ev::Serve(b));
        }
        if let Some(&first) = c.first_of_slot.get(&slot) {
            for (b, a, fate) in c.fate(first, self.host) {
                self.push(a.header, Ev::Header(b));
                if fate == Fate::HeaderOnly {
                    continue;
                }
                self.push(a.header + 300 * us, Ev::FetchRequest(b));
                let delay_us = (a.fetched - a.header) / us;
                self.push(a.fetched, Ev::Fetched(b, delay_us));
                self.push(a.fetched + 100 * us, Ev::Queued(b));
                match fate {
                    Fate::Added => self.push(a.adopted, Ev::Added(b)),
                    _ => self.push(a.adopted, Ev::Switched(b)),
                }
                self.push(a.adopted + 500 * us, Ev::RemoveTxs(self.mempool / 2));
                self.push(a.adopted + 1_000 * us, Ev::Announce(b));
                self.push(a.adopted + 4_000 * us, Ev::Serve(b));
            }
        }
        let span = c.slot_ns * 9 / 10;
        for _ in 0..self.rng.below(4) {
            let at = t0 + self.rng.below(span / us) * us;
            let n = 1 + self.rng.below(2);
            self.push(at, Ev::TxIn(n));
        }
        self.push(t0 + span / 2, Ev::LedgerMetrics(slot));
        if slot % per_sample == 0 {
            self.push(t0 + 100 * us, Ev::Resources(slot));
        }
        if slot % 2 == 0 {
            self.push(t0 + span / 3, Ev::NetCounters);
        }
        self.push(t0 + span / 4, Ev::FetchDecision);
    }

    /// Writes one line as a real node does: `at`, `ns`, `data`, severity, thread, host.
    fn out(
        &mut self,
        at: u64,
        ns: &str,
        sev: &str,
        thread: u32,
        data: std::fmt::Arguments<'_>,
    ) -> std::io::Result<()> {
        let mut l = std::mem::take(&mut self.line);
        l.clear();
        l.extend_from_slice(b"{\"at\":\"");
        wb_trace::time::write_machine_time(&mut l, at);
        write!(
            l,
            r#"","ns":"{ns}","data":{data},"sev":"{sev}","thread":"{thread}","host":"{}"}}"#,
            self.name
        )?;
        l.push(b'\n');
        let r = self.emit(&l);
        self.line = l;
        r
    }

    /// Writes the lines of one event.
    fn write(&mut self, at: u64, ev: &Ev) -> std::io::Result<()> {
        let c = self.c;
        let blk = |b: usize| &c.blocks[b];
        let up = |b: usize| {
            format!(
                "127.0.0.1:{} 127.0.0.1:{}",
                PEER_BASE + self.host,
                PEER_BASE + c.blocks[b].forger
            )
        };
        let down = format!(
            "127.0.0.1:{} 127.0.0.1:{}",
            PEER_BASE + self.host,
            PEER_BASE + (self.host + 1) % c.o.hosts.max(1)
        );
        let (f, hosts) = (c.o.active_slot_coeff, c.o.hosts);
        match *ev {
            Ev::Check(slot) => {
                self.truth.leadership_checks += 1;
                let utxo = 600_000 + slot;
                self.out(at, "Forge.Loop.StartLeadershipCheckPlus", "Info", 49, format_args!(
                    r#"{{"chainDensity":{f:.4},"delegMapSize":{hosts},"kind":"TraceStartLeadershipCheck","slot":{slot},"utxoSize":{utxo}}}"#))
            }
            Ev::Decided(slot, leader) => {
                let (ns, kind) = if leader {
                    ("Forge.Loop.NodeIsLeader", "TraceNodeIsLeader")
                } else {
                    ("Forge.Loop.NodeNotLeader", "TraceNodeNotLeader")
                };
                self.out(
                    at,
                    ns,
                    "Info",
                    49,
                    format_args!(r#"{{"kind":"{kind}","slot":{slot}}}"#),
                )
            }
            Ev::Forging(slot, b) => {
                // The leader's steps between the decision and the block, 15 µs apart.
                let d = blk(b);
                let (prev, no, ps) = (&d.prev, d.block_no, slot.saturating_sub(1));
                self.out(at, "Forge.Loop.BlockContext", "Debug", 49, format_args!(
                    r#"{{"current slot":{slot},"kind":"TraceBlockContext","tip":"{prev}","tipBlockNo":{no}}}"#))?;
                self.out(
                    at + 15_000,
                    "Forge.Loop.LedgerState",
                    "Debug",
                    49,
                    format_args!(r#"{{"kind":"TraceLedgerState","slot":{slot}}}"#),
                )?;
                self.out(
                    at + 30_000,
                    "Forge.Loop.LedgerView",
                    "Debug",
                    49,
                    format_args!(r#"{{"kind":"TraceLedgerView","slot":{slot}}}"#),
                )?;
                self.out(at + 45_000, "Forge.Loop.ForgeTickedLedgerState", "Debug", 49, format_args!(
                    r#"{{"kind":"TraceForgeTickedLedgerState","prev":"{prev}@{ps}","slot":{slot}}}"#))?;
                self.out(at + 60_000, "Forge.Loop.ForgingMempoolSnapshot", "Debug", 49, format_args!(
                    r#"{{"kind":"TraceForgingMempoolSnapshot","mempoolHash":"{prev}","mempoolSlot":{ps},"prev":"{prev}@{ps}","slot":{slot}}}"#))
            }
            Ev::Forged(b) => {
                self.truth.forged += 1;
                let d = blk(b);
                self.out(at, "Forge.Loop.ForgedBlock", "Info", 49, format_args!(
                    r#"{{"block":"{}","blockNo":{},"blockPrev":"{}","kind":"TraceForgedBlock","slot":{}}}"#,
                    d.hash, d.block_no, d.prev, d.slot))
            }
            Ev::SelfAdopted(b) => {
                let d = blk(b);
                self.out(at, "Forge.Loop.AdoptedBlock", "Info", 49, format_args!(
                    r#"{{"blockHash":"{}","blockSize":{},"kind":"TraceAdoptedBlock","slot":{}}}"#,
                    d.hash, 60_000 + d.slot % 5_000, d.slot))
            }
            Ev::Header(b) => {
                let (d, peer) = (blk(b), up(b));
                self.out(at, "ChainSync.Client.DownloadedHeader", "Info", 85, format_args!(
                    r#"{{"block":"{}","blockNo":{},"kind":"DownloadedHeader","peer":{{"connectionId":"{peer}"}},"slot":{}}}"#,
                    d.hash, d.block_no, d.slot))
            }
            Ev::FetchRequest(b) => {
                let (d, peer) = (blk(b), up(b));
                self.out(at, "BlockFetch.Client.AddedFetchRequest", "Info", 79, format_args!(
                    r#"{{"head":"{}","kind":"AddedFetchRequest","length":1,"peer":{{"connectionId":"{peer}"}}}}"#, d.hash))?;
                self.out(at + 50_000, "BlockFetch.Client.SendFetchRequest", "Info", 79, format_args!(
                    r#"{{"head":"{}","kind":"SendFetchRequest","length":1,"peer":{{"connectionId":"{peer}"}}}}"#, d.hash))?;
                self.out(at + 60_000, "BlockFetch.Client.AcknowledgedFetchRequest", "Info", 79, format_args!(
                    r#"{{"kind":"AcknowledgedFetchRequest","peer":{{"connectionId":"{peer}"}}}}"#))
            }
            Ev::Fetched(b, delay_us) => {
                let (d, peer) = (blk(b), up(b));
                self.out(at, "BlockFetch.Client.CompletedBlockFetch", "Info", 78, format_args!(
                    r#"{{"block":"{}","delay":{:.6},"kind":"CompletedBlockFetch","peer":{{"connectionId":"{peer}"}},"size":{}}}"#,
                    d.hash, delay_us as f64 / 1e6, 60_000 + d.slot % 5_000))
            }
            Ev::Queued(b) => {
                let d = blk(b);
                self.out(at, "ChainDB.AddBlockEvent.AddedBlockToQueue", "Debug", 29, format_args!(
                    r#"{{"block":{{"hash":"{}","kind":"Point","slot":{}}},"kind":"AddedBlockToQueue","queueSize":1}}"#, d.hash, d.slot))?;
                self.out(at + 10_000, "ChainDB.AddBlockEvent.AddedBlockToVolatileDB", "Debug", 29, format_args!(
                    r#"{{"block":{{"hash":"{}","kind":"Point","slot":{}}},"blockNo":{},"kind":"AddedBlockToVolatileDB"}}"#,
                    d.hash, d.slot, d.block_no))?;
                self.out(at + 20_000, "ChainDB.AddBlockEvent.PipeliningEvent.SetTentativeHeader", "Debug", 29, format_args!(
                    r#"{{"header":{{"blockNo":{},"hash":"{}","kind":"ShelleyBlock","slotNo":{}}},"kind":"SetTentativeHeader"}}"#,
                    d.block_no, d.hash, d.slot))
            }
            Ev::Added(b) => {
                self.truth.adopted += 1;
                let d = blk(b);
                self.out(at, "ChainDB.AddBlockEvent.AddedToCurrentChain", "Notice", 29, format_args!(
                    r#"{{"kind":"AddedToCurrentChain","newTipSelectView":{{"blockNo":{},"issueNo":0,"kind":"PraosTiebreakerView","slotNo":{}}},"newtip":"{}@{}"}}"#,
                    d.block_no, d.slot, d.hash, d.slot))
            }
            Ev::Switched(b) => {
                let d = blk(b);
                self.out(at, "ChainDB.AddBlockEvent.SwitchedToAFork", "Notice", 29, format_args!(
                    r#"{{"kind":"TraceAddBlockEvent.SwitchedToAFork","newTipSelectView":{{"chainLength":{},"issueNo":0,"kind":"PraosChainSelectView","slotNo":{}}},"newtip":"{}@{}"}}"#,
                    d.block_no, d.slot, d.hash, d.slot))
            }
            Ev::Announce(b) => {
                let d = blk(b);
                self.out(at, "ChainSync.ServerHeader.Update", "Info", 92, format_args!(
                    r#"{{"addBlock":"{}@{}","blockingRead":true,"kind":"ChainSyncServer.Update","peer":{{"connectionId":"{down}"}},"risingEdge":true,"tip":{{"block":"{}","blockNo":{},"slot":{}}}}}"#,
                    d.hash, d.slot, d.prev, d.block_no.saturating_sub(1), d.slot))
            }
            Ev::Serve(b) => {
                let d = blk(b);
                self.out(at, "BlockFetch.Server.SendBlock", "Info", 115, format_args!(
                    r#"{{"block":"{}","kind":"BlockFetchServer","peer":{{"connectionId":"{down}"}}}}"#, d.hash))
            }
            Ev::RemoveTxs(left) => {
                self.mempool = left;
                let txid = self.rng.next() as u32;
                self.out(at, "Mempool.RemoveTxs", "Info", 39, format_args!(
                    r#"{{"kind":"TraceMempoolRemoveTxs","mempoolSize":{{"bytes":{},"numTxs":{left}}},"txs":[{{"tx":{{"txid":"{txid:08x}"}}}}]}}"#,
                    left * 1275))
            }
            Ev::TxIn(n) => {
                // Collected from a peer, each added to the mempool, then processed.
                self.out(at, "TxSubmission.TxInbound.Collected", "Debug", 91, format_args!(
                    r#"{{"count":{n},"kind":"TraceTxSubmissionCollected","peer":{{"connectionId":"{down}"}}}}"#))?;
                for i in 1..=n {
                    self.mempool += 1;
                    let (size, txid) = (self.mempool, self.rng.next() as u32);
                    self.out(at + 200_000 * i, "Mempool.AddedTx", "Info", 91, format_args!(
                        r#"{{"kind":"TraceMempoolAddedTx","mempoolSize":{{"bytes":{},"numTxs":{size}}},"tx":{{"txid":"{txid:08x}"}}}}"#,
                        size * 1275))?;
                }
                self.out(at + 200_000 * (n + 1), "TxSubmission.TxInbound.Processed", "Debug", 91, format_args!(
                    r#"{{"accepted":{n},"kind":"TraceTxSubmissionProcessed","peer":{{"connectionId":"{down}"}},"rejected":0}}"#))?;
                self.out(at + 200_000 * (n + 2), "TxSubmission.TxInbound.CanRequestMoreTxs", "Debug", 91, format_args!(
                    r#"{{"count":{n},"kind":"CanRequestMoreTxs","peer":{{"connectionId":"{down}"}}}}"#))
            }
            Ev::LedgerMetrics(slot) => {
                let utxo = 600_000 + slot;
                self.out(at, "LedgerMetrics", "Info", 15, format_args!(
                    r#"{{"chainDensity":{f:.4},"delegMapSize":{hosts},"kind":"LedgerMetrics","slot":{slot},"utxoSize":{utxo}}}"#))
            }
            Ev::StateInfo(slot) => {
                let period = slot / 129_600;
                self.out(at, "Forge.StateInfo.StateInfo", "Info", 49, format_args!(
                    r#"{{"kind":"StateInfo","maxKESEvolutions":62,"opCertExpiryPeriod":62,"opCertStartPeriod":0,"currentKESPeriod":{period}}}"#))
            }
            Ev::Resources(slot) => {
                self.cpu += 20 + self.rng.below(40);
                let secs = slot * c.o.slot_ms / 1000;
                let (cpu, heap, live, rss, threads) = (
                    self.cpu,
                    789_577_728 + self.rng.below(10_000_000),
                    456_905_808 + self.rng.below(10_000_000),
                    895_557_632 + self.rng.below(20_000_000),
                    40 + self.rng.below(4),
                );
                self.out(at, "Resources", "Info", 13, format_args!(
                    r#"{{"Alloc":{},"CentiBlkIO":0,"CentiCpu":{cpu},"CentiGC":{},"CentiMut":{},"FsRd":0,"FsWr":{},"GcsMajor":{},"GcsMinor":{},"Heap":{heap},"Live":{live},"NetRd":{},"NetWr":{},"RSS":{rss},"Threads":{threads},"kind":"ResourceStats"}}"#,
                    2_600_000_000 + secs * 50_000_000, cpu / 10, cpu - cpu / 10, secs * 8192, 6 + secs / 600,
                    82 + secs / 2, secs * 120_000, secs * 118_000))
            }
            Ev::NetCounters => {
                let peers = hosts.saturating_sub(1).min(20);
                self.out(at, "Net.ConnectionManager.Remote.ConnectionManagerCounters", "Info", 120, format_args!(
                    r#"{{"duplex":{peers},"fullDuplex":{peers},"inbound":{peers},"kind":"ConnectionManagerCounters","outbound":{peers},"unidirectional":0}}"#))?;
                self.out(at + 10_000, "Net.InboundGovernor.Remote.InboundGovernorCounters", "Info", 121, format_args!(
                    r#"{{"coldPeers":0,"hotPeers":{peers},"idlePeers":0,"kind":"InboundGovernorCounters","warmPeers":0}}"#))
            }
            Ev::FetchDecision => {
                let peers = hosts.saturating_sub(1);
                self.out(at, "BlockFetch.Decision.Declined", "Info", 79, format_args!(
                    r#"{{"kind":"FetchDecisions","length":{peers},"peers":["{down}"],"result":"FetchDeclineChainNotPlausible"}}"#))
            }
        }
    }

    /// Writes finished lines (one or several) and counts them.
    fn emit(&mut self, lines: &[u8]) -> std::io::Result<()> {
        self.truth.lines += memchr::memchr_iter(b'\n', lines).count() as u64;
        self.truth.bytes += lines.len() as u64;
        match &mut self.sink {
            Sink::Files { out: Some(w), .. } => w.write_all(lines),
            _ => Ok(()),
        }
    }
}

/// Slots that make at least about `bytes` over all hosts: one host's first slots written
/// nowhere, to measure.
fn slots_for(o: &Options, bytes: u64) -> std::io::Result<u64> {
    const PROBE: u64 = 400;
    let c = Cluster::draw(o, PROBE);
    let t = HostWriter::new(&c, 0, Sink::Count).run(PROBE)?;
    let per_slot = (t.bytes as f64 / PROBE as f64).max(1.0) * o.hosts.max(1) as f64;
    // Later slots write longer numbers than the probe's: aim a little over, so that a size
    // asked for is a size at least.
    Ok(((1.03 * bytes as f64 / per_slot).ceil() as u64).max(1))
}

/// Writes the cluster's logs under `dir` (`dir/node-N/node-<time>.json`, `group_by_host`
/// names the host from the directory), hosts `threads` at a time, and returns the truth.
pub fn generate(o: &Options, dir: &Path, threads: usize) -> std::io::Result<Truth> {
    let slots = match o.length {
        Length::Slots(s) => s,
        Length::Bytes(b) => slots_for(o, b)?,
    };
    let c = Cluster::draw(o, slots);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<std::io::Result<HostTruth>>>> =
        std::sync::Mutex::new((0..o.hosts).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, o.hosts.max(1)) {
            scope.spawn(|| {
                loop {
                    let h = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if h >= o.hosts {
                        break;
                    }
                    let hdir = dir.join(host_name(h));
                    let r = std::fs::create_dir_all(&hdir).and_then(|()| {
                        let sink = Sink::Files {
                            dir: hdir,
                            out: None,
                            files: Vec::new(),
                        };
                        HostWriter::new(&c, h, sink).run(slots)
                    });
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[h] = Some(r);
                }
            });
        }
    });
    let hosts = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect::<std::io::Result<Vec<_>>>()?;
    let (main, forks) = c.truth_blocks();
    Ok(Truth {
        slots,
        hosts,
        main,
        forks,
    })
}
