//! The chain across hosts. Each host's log is first folded, in its own order, into a
//! [`MachView`] (locli's machine view): the blocks it forged with the forge-loop stage times of
//! that slot, per block hash what it saw and did — header noticed, fetch requested, block
//! fetched, header announced, block sent, adopted — and what its lines say of each block's
//! place (slot, number) and predecessor. The views are then merged: blocks from their forgers,
//! and blocks nobody in the log set forged from their observers' evidence (a partial log set —
//! one node of a larger network — is mostly such blocks); the main chain by walking
//! predecessors back from the highest block, forks kept as blocks that lost (with their height
//! and who adopted them), and per block every observer's times.
//!
//! An observed block's predecessor is the one a line names (a forger's `blockPrev`, an
//! adoption's `headers`); else the tip the host had before adopting it, when the chain grew by
//! exactly that block (block numbers one apart, or a chain length delta of 1 where numbers are
//! not logged); else the only block one below it. Hosts that disagree are outvoted. A phase a host never logged stays missing — it is never replaced by a made-up value
//! (locli puts 0.01 s), and an unexpected order of events is kept as logged rather than turned
//! into an error that drops the block (locli's `BPEUnexpectedForForger` and friends).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::event::{Body, HeaderId, LogObject, TipId};
use crate::fasthash::FastBuild;

/// The forge-loop stage times of the slot a block was forged in, ns since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ForgeStages {
    /// The leadership check started.
    pub started: Option<u64>,
    /// Block context acquired.
    pub blk_ctx: Option<u64>,
    /// Ledger state acquired.
    pub lgr_state: Option<u64>,
    /// Ledger view acquired.
    pub lgr_view: Option<u64>,
    /// Leadership decided (positively).
    pub leading: Option<u64>,
    /// Ledger ticked.
    pub ticked: Option<u64>,
    /// Mempool snapshot taken.
    pub mem_snap: Option<u64>,
}

/// What one host saw or did with one block, ns since the Unix epoch (the earliest of repeats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Observed {
    /// Chain sync downloaded its header.
    pub header: Option<u64>,
    /// Block fetch asked for it (as the newest block of a request).
    pub requested: Option<u64>,
    /// Block fetch completed it.
    pub fetched: Option<u64>,
    /// Chain sync served its header to a peer.
    pub announced: Option<u64>,
    /// Block fetch served it to a peer.
    pub sent: Option<u64>,
    /// It joined the host's current chain.
    pub adopted: Option<u64>,
    /// How many blocks the request or adoption covered at most (locli's chain delta; 1 for a
    /// plain one-block step).
    pub chain_delta: i64,
}

impl Default for Observed {
    fn default() -> Self {
        Observed {
            header: None,
            requested: None,
            fetched: None,
            announced: None,
            sent: None,
            adopted: None,
            chain_delta: 1,
        }
    }
}

/// A block, its forger's record (when its forger is in the logs) and its observers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    /// Its hash.
    pub hash: String,
    /// Its predecessor's hash (empty when no line says it).
    pub prev: String,
    /// Its slot.
    pub slot: u64,
    /// Its number.
    pub block_no: u64,
    /// The host that forged it; none when no log here shows the forge (the block is known from
    /// its observers).
    pub forger: Option<String>,
    /// When it was forged (none without its forger's log).
    pub forged_at: Option<u64>,
    /// Its size in bytes, from the forger's `AdoptedBlock`, else as an observer fetched it.
    pub size: Option<u64>,
    /// The forge-loop stages of its slot on the forger.
    pub stages: ForgeStages,
    /// What the forger did with it after forging (announce, send, adopt).
    pub by_forger: Observed,
    /// Every other host's view of it.
    pub observers: BTreeMap<String, Observed>,
}

/// Blocks that lost: forged, but not on the main chain. With `prev`, the forks form a tree
/// hanging off the main chain (a fork's `prev` is a main-chain block or another fork).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fork {
    /// The block.
    pub hash: String,
    /// Its predecessor.
    pub prev: String,
    /// Its height.
    pub block_no: u64,
    /// Its slot.
    pub slot: u64,
    /// Its forger, when in the logs.
    pub forger: Option<String>,
    /// Hosts that adopted it before switching away.
    pub adopted_by: Vec<String>,
    /// Hosts that saw its header (whether or not they adopted it).
    pub seen_by: Vec<String>,
}

/// The reconstructed chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chain {
    /// The main chain, oldest first.
    pub main: Vec<Block>,
    /// Blocks that lost: forged at a height the main chain has another block at.
    pub forks: Vec<Fork>,
    /// Blocks whose chain the logs do not show (their height is not on the reconstructed main
    /// chain: e.g. an excerpt of a log with gaps, whose blocks' predecessors no line names),
    /// forged in these logs or only observed.
    pub unchained: Vec<Fork>,
    /// Adoptions of blocks no line places: neither forged in these logs nor given a slot and
    /// number by any line.
    pub unknown_adoptions: u64,
    /// Blocks seen (a header, a fetch, an adoption) that no line places, left out.
    pub unplaced_blocks: u64,
    /// Blocks forged more than once under the same hash (the first forge is kept).
    pub duplicate_forges: u64,
}

/// What one host's lines say of a block's place, predecessor and size.
#[derive(Debug, Clone, Default)]
struct Evidence {
    slot: Option<u64>,
    block_no: Option<u64>,
    prev: Option<String>,
    /// The predecessor was logged (`blockPrev`, `headers`), not inferred from adoption order.
    prev_logged: bool,
    /// Its size in bytes, as this host fetched it.
    fetched_size: Option<u64>,
}

impl Evidence {
    fn place(&mut self, id: TipId) {
        self.slot = self.slot.or(id.slot);
        self.block_no = self.block_no.or(id.block_no);
    }

    fn predecessor(&mut self, prev: &str, logged: bool) {
        if self.prev.is_none() || (logged && !self.prev_logged) {
            self.prev = Some(prev.to_owned());
            self.prev_logged = logged;
        }
    }
}

/// A block as its forger logged it.
#[derive(Debug, Clone, PartialEq)]
struct Forged {
    hash: String,
    prev: String,
    slot: u64,
    block_no: u64,
    at: u64,
    stages: ForgeStages,
}

/// One host's fold of its own events, in its log's order.
#[derive(Debug, Clone, Default)]
pub struct MachView {
    host: String,
    forged: Vec<Forged>,
    seen: HashMap<String, Observed, FastBuild>,
    sizes: HashMap<String, u64, FastBuild>,
    // how many blocks each adoption added (a fetch request's length is not an adoption)
    adopted_delta: HashMap<String, i64, FastBuild>,
    // (new tip, when) of fork switches
    switches: Vec<(String, u64)>,
    // what its lines say of blocks' places and predecessors
    ids: HashMap<String, Evidence, FastBuild>,
    // its chain's tip after its last adoption, with its number when known
    tip: Option<(String, Option<u64>)>,
    // the slot whose forge loop is under way, and its stages so far
    current: Option<(u64, ForgeStages)>,
}

fn earliest(slot: &mut Option<u64>, t: u64) {
    *slot = Some(slot.map_or(t, |s| s.min(t)));
}

impl MachView {
    /// An empty view of `host`.
    pub fn new(host: &str) -> MachView {
        MachView {
            host: host.to_owned(),
            ..MachView::default()
        }
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Blocks this host forged.
    pub fn forged_count(&self) -> usize {
        self.forged.len()
    }

    fn stage(&mut self, slot: u64, set: impl FnOnce(&mut ForgeStages)) {
        // A stage of another slot than the loop under way: that iteration's start was not
        // logged (or lines came out of order); its stages still belong to its own slot.
        if self.current.is_none_or(|(s, _)| s != slot) {
            self.current = Some((slot, ForgeStages::default()));
        }
        if let Some((_, st)) = self.current.as_mut() {
            set(st);
        }
    }

    fn note(&mut self, hash: &str, f: impl FnOnce(&mut Observed)) {
        // Most events are about a block already seen: no key to allocate then.
        match self.seen.get_mut(hash) {
            Some(e) => f(e),
            None => f(self.seen.entry(hash.to_owned()).or_default()),
        }
    }

    fn evidence(&mut self, hash: &str) -> &mut Evidence {
        if !self.ids.contains_key(hash) {
            self.ids.insert(hash.to_owned(), Evidence::default());
        }
        self.ids.get_mut(hash).expect("just inserted")
    }

    fn listed(&mut self, headers: &[HeaderId]) {
        for h in headers {
            let e = self.evidence(&h.hash);
            e.place(h.id);
            if let Some(p) = &h.prev {
                e.predecessor(p, true);
            }
        }
    }

    /// The chain grew to `block` (an adoption by chain selection): its predecessor is the tip
    /// before when the chain grew by exactly this block.
    fn extend_tip(&mut self, block: &str, delta: i64, listed: bool) {
        let mut n = self.ids.get(block).and_then(|e| e.block_no);
        if let Some((tip, tip_no)) = self.tip.take() {
            let one_step = match (n, tip_no) {
                (Some(n), Some(t)) => n == t + 1,
                // Numbers not logged: locli's reading of the delta (1 when not logged).
                _ => delta == 1 && !listed,
            };
            if tip != block && one_step {
                self.evidence(block).predecessor(&tip, false);
                n = n.or(tip_no.map(|t| t + 1));
            }
        }
        self.tip = Some((block.to_owned(), n));
    }

    /// Takes the host's next event.
    pub fn push(&mut self, o: &LogObject) {
        let at = o.at;
        match &o.body {
            Body::StartLeadershipCheck { slot, .. } => {
                self.current = Some((*slot, ForgeStages::default()));
                self.stage(*slot, |s| s.started = Some(at));
            }
            Body::BlockContext { slot, .. } => self.stage(*slot, |s| earliest(&mut s.blk_ctx, at)),
            Body::LedgerState { slot } => self.stage(*slot, |s| earliest(&mut s.lgr_state, at)),
            Body::LedgerView { slot } => self.stage(*slot, |s| earliest(&mut s.lgr_view, at)),
            Body::LeadershipDecided { slot, leader: true } => {
                self.stage(*slot, |s| earliest(&mut s.leading, at));
            }
            Body::TickedLedgerState { slot } => {
                self.stage(*slot, |s| earliest(&mut s.ticked, at));
            }
            Body::MempoolSnapshot { slot } => {
                self.stage(*slot, |s| earliest(&mut s.mem_snap, at));
            }
            Body::BlockForged {
                slot,
                block_no,
                block,
                prev,
            } => {
                let stages = match self.current {
                    Some((s, st)) if s == *slot => st,
                    _ => ForgeStages::default(),
                };
                let e = self.evidence(block);
                e.place(TipId {
                    slot: Some(*slot),
                    block_no: Some(*block_no),
                });
                e.predecessor(prev, true);
                self.forged.push(Forged {
                    hash: block.clone(),
                    prev: prev.clone(),
                    slot: *slot,
                    block_no: *block_no,
                    at,
                    stages,
                });
            }
            Body::SeenHeader {
                block,
                slot,
                block_no,
            } => {
                self.note(block, |e| earliest(&mut e.header, at));
                self.evidence(block).place(TipId {
                    slot: Some(*slot),
                    block_no: Some(*block_no),
                });
            }
            Body::FetchRequested { head, length } => self.note(head, |e| {
                earliest(&mut e.requested, at);
                e.chain_delta = e
                    .chain_delta
                    .max(i64::try_from(*length).unwrap_or(i64::MAX));
            }),
            Body::FetchCompleted { block, size } => {
                if let Some(sz) = size {
                    self.evidence(block).fetched_size.get_or_insert(*sz);
                }
                self.note(block, |e| earliest(&mut e.fetched, at));
            }
            Body::ServerSendHeader { block } => {
                self.note(block, |e| earliest(&mut e.announced, at));
            }
            Body::ServerSendBlock { block } => self.note(block, |e| earliest(&mut e.sent, at)),
            Body::AddedToCurrentChain {
                block,
                size,
                chain_length_delta,
                tip,
                headers,
            } => {
                self.listed(headers);
                self.evidence(block).place(*tip);
                if size.is_some() {
                    // The forger's own `AdoptedBlock`: its block is the tip now.
                    let n = self.ids.get(block.as_str()).and_then(|e| e.block_no);
                    self.tip = Some((block.clone(), n));
                } else {
                    self.extend_tip(block, *chain_length_delta, !headers.is_empty());
                }
                if let Some(sz) = size {
                    self.sizes.insert(block.clone(), *sz);
                }
                let d = self.adopted_delta.entry(block.clone()).or_insert(1);
                *d = (*d).max(*chain_length_delta);
                self.note(block, |e| {
                    earliest(&mut e.adopted, at);
                    e.chain_delta = e.chain_delta.max(*chain_length_delta);
                });
            }
            Body::SwitchedToAFork {
                block,
                tip,
                headers,
            } => {
                self.switches.push((block.clone(), at));
                self.listed(headers);
                self.evidence(block).place(*tip);
                self.tip = Some((block.clone(), tip.block_no));
            }
            _ => {}
        }
    }
}

/// Every host's evidence of one block nobody here forged.
#[derive(Debug, Default)]
struct Merged<'a> {
    slot: Option<u64>,
    block_no: Option<u64>,
    /// A predecessor a line names.
    logged: Option<&'a str>,
    /// Predecessors inferred from adoption order, with how many hosts inferred each.
    votes: Vec<(&'a str, usize)>,
}

impl<'a> Merged<'a> {
    fn take(&mut self, e: &'a Evidence) {
        self.slot = self.slot.or(e.slot);
        self.block_no = self.block_no.or(e.block_no);
        match e.prev.as_deref() {
            Some(p) if e.prev_logged => {
                self.logged.get_or_insert(p);
            }
            Some(p) => match self.votes.iter_mut().find(|(q, _)| *q == p) {
                Some(v) => v.1 += 1,
                None => self.votes.push((p, 1)),
            },
            None => {}
        }
    }

    /// The predecessor: a logged one, else the most inferred (the first among equals).
    fn prev(&self) -> Option<&'a str> {
        self.logged.or_else(|| {
            let mut best: Option<(&'a str, usize)> = None;
            for &(p, n) in &self.votes {
                if best.is_none_or(|(_, b)| n > b) {
                    best = Some((p, n));
                }
            }
            best.map(|(p, _)| p)
        })
    }
}

/// Merges every host's view, in any order of hosts.
#[derive(Debug, Default)]
pub struct ChainBuilder {
    views: BTreeMap<String, MachView>,
}

impl ChainBuilder {
    /// Takes one event of `host` (its events must come in the host's log order).
    pub fn add(&mut self, host: &str, o: &LogObject) {
        self.views
            .entry(host.to_owned())
            .or_insert_with(|| MachView::new(host))
            .push(o);
    }

    /// Takes a host's whole view.
    pub fn add_view(&mut self, view: MachView) {
        self.views.insert(view.host.clone(), view);
    }

    /// The chain: the main chain back from the highest block (the earliest forged among equals),
    /// every other forged block as a fork; adoptions of several blocks at once (a chain length
    /// delta above 1) and fork switches credited to every block they added.
    pub fn finish(self) -> Chain {
        // Blocks by index, found by hash; hosts by their rank in name order (the views' order),
        // so that merging clones no strings and builds no per-block maps until the end.
        let mut blocks: Vec<Block> = Vec::new();
        let mut index: HashMap<&str, usize, FastBuild> = HashMap::default();
        let mut duplicate_forges = 0;
        let views: Vec<&MachView> = self.views.values().collect();
        // Forges first, so that a forger is known before its observers are merged.
        let mut forger_rank = Vec::new();
        for (rank, v) in views.iter().enumerate() {
            for f in &v.forged {
                if index.contains_key(f.hash.as_str()) {
                    duplicate_forges += 1;
                    continue;
                }
                index.insert(&f.hash, blocks.len());
                forger_rank.push(rank);
                blocks.push(Block {
                    hash: f.hash.clone(),
                    prev: f.prev.clone(),
                    slot: f.slot,
                    block_no: f.block_no,
                    forger: Some(v.host.clone()),
                    forged_at: Some(f.at),
                    size: v.sizes.get(&f.hash).copied(),
                    stages: f.stages,
                    by_forger: v.seen.get(&f.hash).copied().unwrap_or_default(),
                    observers: BTreeMap::new(),
                });
            }
        }
        // Then the blocks no log here shows forged, placed by what their observers' lines say.
        let mut observed: BTreeMap<&str, Merged<'_>> = BTreeMap::new();
        for v in &views {
            for (hash, e) in &v.ids {
                if index.contains_key(hash.as_str()) {
                    continue;
                }
                observed.entry(hash.as_str()).or_default().take(e);
            }
        }
        // Oldest first, so that a predecessor's number is known before its successor's.
        let mut order: Vec<(&str, u64)> = observed
            .iter()
            .filter_map(|(h, m)| Some((*h, m.slot?)))
            .collect();
        order.sort_unstable_by_key(|&(h, slot)| (slot, h));
        let forged = blocks.len();
        for &(h, slot) in &order {
            let m = &observed[h];
            let block_no = m.block_no.or_else(|| {
                let p = m.prev()?;
                let n = match index.get(p) {
                    Some(&i) => Some(blocks[i].block_no),
                    None => observed.get(p).and_then(|q| q.block_no),
                };
                Some(n? + 1)
            });
            let Some(block_no) = block_no else { continue };
            let prev = m.prev().unwrap_or_default().to_owned();
            if let Some(m) = observed.get_mut(h) {
                m.block_no = Some(block_no);
            }
            index.insert(h, blocks.len());
            forger_rank.push(usize::MAX);
            blocks.push(Block {
                hash: h.to_owned(),
                prev,
                slot,
                block_no,
                forger: None,
                forged_at: None,
                size: None,
                stages: ForgeStages::default(),
                by_forger: Observed::default(),
                observers: BTreeMap::new(),
            });
        }
        let unplaced_blocks = (observed.len() - (blocks.len() - forged)) as u64;
        // Sizes the forger did not log (it is not here, or logged no `AdoptedBlock`): as its
        // observers fetched it.
        for b in blocks.iter_mut().filter(|b| b.size.is_none()) {
            b.size = views
                .iter()
                .find_map(|v| v.ids.get(b.hash.as_str())?.fetched_size);
        }
        let mut prev: Vec<Option<usize>> = blocks
            .iter()
            .map(|b| index.get(b.prev.as_str()).copied())
            .collect();
        // An observed block no line gives a predecessor: the only block one below it, if any.
        let mut at_height: HashMap<u64, (usize, usize)> = HashMap::new();
        for (i, b) in blocks.iter().enumerate() {
            at_height.entry(b.block_no).or_insert((i, 0)).1 += 1;
        }
        for i in 0..blocks.len() {
            let b = &blocks[i];
            if b.forger.is_some() || !b.prev.is_empty() || b.block_no == 0 {
                continue;
            }
            if let Some(&(j, 1)) = at_height.get(&(b.block_no - 1)) {
                if blocks[j].slot < b.slot {
                    prev[i] = Some(j);
                    blocks[i].prev = blocks[j].hash.clone();
                }
            }
        }
        // Per block, (host rank, what it saw) in rank order: a host's entry, if any, is the
        // last one while that host is merged.
        let mut observers: Vec<Vec<(usize, Observed)>> = vec![Vec::new(); blocks.len()];
        fn entry(list: &mut Vec<(usize, Observed)>, rank: usize) -> &mut Observed {
            if list.last().is_none_or(|(r, _)| *r != rank) {
                list.push((rank, Observed::default()));
            }
            &mut list.last_mut().expect("just pushed").1
        }
        let mut unknown = 0;
        for (rank, v) in views.iter().enumerate() {
            for (hash, obs) in &v.seen {
                let Some(&first) = index.get(hash.as_str()) else {
                    unknown += u64::from(obs.adopted.is_some());
                    continue;
                };
                let added = v.adopted_delta.get(hash).copied().unwrap_or(1);
                let mut at = Some(first);
                for step in 0..added.max(1) {
                    let Some(b) = at else { break };
                    if forger_rank[b] != rank {
                        let o = entry(&mut observers[b], rank);
                        if step == 0 {
                            for (mine, theirs) in [
                                (&mut o.header, obs.header),
                                (&mut o.requested, obs.requested),
                                (&mut o.fetched, obs.fetched),
                                (&mut o.announced, obs.announced),
                                (&mut o.sent, obs.sent),
                            ] {
                                if let Some(t) = theirs {
                                    earliest(mine, t);
                                }
                            }
                            o.chain_delta = o.chain_delta.max(obs.chain_delta);
                        }
                        if let Some(t) = obs.adopted {
                            earliest(&mut o.adopted, t);
                        }
                    }
                    at = prev[b];
                }
            }
            // A switch adopted every block from the fork point (the newest ancestor the host
            // already had, or forged) up to the new tip.
            for (tip, when) in &v.switches {
                let mut at = index.get(tip.as_str()).copied();
                while let Some(b) = at {
                    if forger_rank[b] == rank {
                        break;
                    }
                    let o = entry(&mut observers[b], rank);
                    if o.adopted.is_some_and(|t| t < *when) {
                        break;
                    }
                    earliest(&mut o.adopted, *when);
                    at = prev[b];
                }
            }
        }
        for (b, list) in blocks.iter_mut().zip(observers) {
            b.observers = list
                .into_iter()
                .map(|(rank, o)| (views[rank].host.clone(), o))
                .collect();
        }
        // The highest block; among equals the earliest forged, then the earliest slot.
        let tip = (0..blocks.len()).max_by_key(|&i| {
            let b = &blocks[i];
            (
                b.block_no,
                std::cmp::Reverse(b.forged_at.unwrap_or(u64::MAX)),
                std::cmp::Reverse(b.slot),
            )
        });
        // The main chain: back from the tip through the predecessors' indices; what is left
        // are the forks.
        let mut blocks: Vec<Option<Block>> = blocks.into_iter().map(Some).collect();
        let mut main = Vec::new();
        let mut at = tip;
        while let Some(i) = at {
            let Some(b) = blocks[i].take() else { break };
            main.push(b);
            at = prev[i];
        }
        main.reverse();
        let mut forks: Vec<Fork> = blocks
            .into_iter()
            .flatten()
            .map(|b| Fork {
                adopted_by: b
                    .observers
                    .iter()
                    .filter(|(_, o)| o.adopted.is_some())
                    .map(|(h, _)| h.clone())
                    .collect(),
                seen_by: b
                    .observers
                    .iter()
                    .filter(|(_, o)| o.header.is_some())
                    .map(|(h, _)| h.clone())
                    .collect(),
                hash: b.hash,
                prev: b.prev,
                block_no: b.block_no,
                slot: b.slot,
                forger: b.forger,
            })
            .collect();
        forks.sort_by(|a, b| (a.block_no, &a.hash).cmp(&(b.block_no, &b.hash)));
        let heights: std::collections::HashSet<u64> = main.iter().map(|b| b.block_no).collect();
        let (forks, unchained) = forks
            .into_iter()
            .partition(|f| heights.contains(&f.block_no));
        Chain {
            main,
            forks,
            unchained,
            unknown_adoptions: unknown,
            unplaced_blocks,
            duplicate_forges,
        }
    }
}

impl Block {
    /// Seconds from forging to each observer's adoption; observers that never adopted it are
    /// left out (and counted by [`Block::missing_adoptions`]).
    /// None when its forger is not in the logs.
    pub fn adoption_delays(&self) -> Vec<f64> {
        let Some(forged) = self.forged_at else {
            return Vec::new();
        };
        self.observers
            .values()
            .filter_map(|o| o.adopted)
            .map(|t| t.saturating_sub(forged) as f64 / 1e9)
            .collect()
    }

    /// Observers among `hosts` (other than the forger) with no adoption of this block.
    pub fn missing_adoptions<'a>(&self, hosts: impl Iterator<Item = &'a str>) -> usize {
        hosts
            .filter(|h| Some(*h) != self.forger.as_deref())
            .filter(|h| self.observers.get(*h).and_then(|o| o.adopted).is_none())
            .count()
    }
}
