//! The chain across hosts: blocks from their forgers' `ForgedBlock` events, the main chain by
//! walking predecessors back from the highest block, forks kept as blocks that lost (with their
//! height and who adopted them), and per block what every other host saw and when. A phase a
//! host never logged stays missing — it is never replaced by a made-up value (locli puts 0.01 s).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::event::{Body, LogObject};

/// What one host saw of one block, ns since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Observed {
    /// Chain sync downloaded its header.
    pub header: Option<u64>,
    /// Block fetch completed it.
    pub fetched: Option<u64>,
    /// It joined the host's current chain.
    pub adopted: Option<u64>,
}

/// A forged block and its observers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    /// Its hash.
    pub hash: String,
    /// Its predecessor's hash.
    pub prev: String,
    /// Its slot.
    pub slot: u64,
    /// Its number.
    pub block_no: u64,
    /// The host that forged it.
    pub forger: String,
    /// When it was forged.
    pub forged_at: u64,
    /// Every other host's view of it.
    pub observers: BTreeMap<String, Observed>,
}

/// Blocks that lost: forged, but not on the main chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fork {
    /// The block.
    pub hash: String,
    /// Its height.
    pub block_no: u64,
    /// Its slot.
    pub slot: u64,
    /// Its forger.
    pub forger: String,
    /// Hosts that adopted it before switching away.
    pub adopted_by: Vec<String>,
}

/// The reconstructed chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chain {
    /// The main chain, oldest first.
    pub main: Vec<Block>,
    /// Blocks that lost.
    pub forks: Vec<Fork>,
    /// Adoptions of hashes no log shows forged (e.g. a forger whose logs are missing).
    pub unknown_adoptions: u64,
}

/// Collects what every host logged, in any order of hosts and events.
#[derive(Debug, Default)]
pub struct ChainBuilder {
    forged: HashMap<String, Block>,
    // hash → host → (header, fetched, adopted at, chain length delta of that adoption)
    seen: HashMap<String, BTreeMap<String, (Observed, i64)>>,
    // (host, new tip, when) of fork switches
    switches: Vec<(String, String, u64)>,
}

fn earliest(slot: &mut Option<u64>, t: u64) {
    *slot = Some(slot.map_or(t, |s| s.min(t)));
}

impl ChainBuilder {
    /// Takes one event of `host`.
    pub fn add(&mut self, host: &str, o: &LogObject) {
        let mut note = |hash: &str, f: &dyn Fn(&mut (Observed, i64))| {
            let e = self
                .seen
                .entry(hash.to_owned())
                .or_default()
                .entry(host.to_owned())
                .or_insert((Observed::default(), 1));
            f(e);
        };
        match &o.body {
            Body::BlockForged {
                slot,
                block_no,
                block,
                prev,
            } => {
                self.forged.entry(block.clone()).or_insert(Block {
                    hash: block.clone(),
                    prev: prev.clone(),
                    slot: *slot,
                    block_no: *block_no,
                    forger: host.to_owned(),
                    forged_at: o.at,
                    observers: BTreeMap::new(),
                });
            }
            Body::SeenHeader { block, .. } => note(block, &|e| earliest(&mut e.0.header, o.at)),
            Body::FetchCompleted { block } => note(block, &|e| earliest(&mut e.0.fetched, o.at)),
            Body::AddedToCurrentChain {
                block,
                chain_length_delta,
                ..
            } => note(block, &|e| {
                earliest(&mut e.0.adopted, o.at);
                e.1 = e.1.max(*chain_length_delta);
            }),
            Body::SwitchedToAFork { block } => {
                self.switches.push((host.to_owned(), block.clone(), o.at));
            }
            _ => {}
        }
    }

    /// The chain: the main chain back from the highest block (the earliest forged among equals),
    /// every other forged block as a fork; adoptions of several blocks at once (a chain length
    /// delta above 1) credited to the predecessors too.
    pub fn finish(mut self) -> Chain {
        let mut unknown = 0;
        for (hash, hosts) in std::mem::take(&mut self.seen) {
            for (host, (obs, delta)) in hosts {
                if !self.forged.contains_key(&hash) {
                    unknown += u64::from(obs.adopted.is_some());
                    continue;
                }
                let mut h = hash.clone();
                for step in 0..delta.max(1) {
                    let Some(b) = self.forged.get_mut(&h) else {
                        break;
                    };
                    if b.forger != host {
                        let o = b.observers.entry(host.clone()).or_default();
                        if step == 0 {
                            if let Some(t) = obs.header {
                                earliest(&mut o.header, t);
                            }
                            if let Some(t) = obs.fetched {
                                earliest(&mut o.fetched, t);
                            }
                        }
                        if let Some(t) = obs.adopted {
                            earliest(&mut o.adopted, t);
                        }
                    }
                    h = b.prev.clone();
                }
            }
        }
        // A switch adopted every block from the fork point (the newest ancestor the host already
        // had, or forged) up to the new tip.
        for (host, tip, at) in std::mem::take(&mut self.switches) {
            let mut h = tip;
            while let Some(b) = self.forged.get_mut(&h) {
                if b.forger == host {
                    break;
                }
                let o = b.observers.entry(host.clone()).or_default();
                if o.adopted.is_some_and(|t| t < at) {
                    break;
                }
                earliest(&mut o.adopted, at);
                h = b.prev.clone();
            }
        }
        let tip = self
            .forged
            .values()
            .max_by(|a, b| {
                a.block_no
                    .cmp(&b.block_no)
                    .then(b.forged_at.cmp(&a.forged_at))
            })
            .map(|b| b.hash.clone());
        let mut main = Vec::new();
        let mut h = tip;
        while let Some(b) = h.as_ref().and_then(|x| self.forged.remove(x)) {
            h = Some(b.prev.clone());
            main.push(b);
        }
        main.reverse();
        let mut forks: Vec<Fork> = self
            .forged
            .into_values()
            .map(|b| Fork {
                adopted_by: b
                    .observers
                    .iter()
                    .filter(|(_, o)| o.adopted.is_some())
                    .map(|(h, _)| h.clone())
                    .collect(),
                hash: b.hash,
                block_no: b.block_no,
                slot: b.slot,
                forger: b.forger,
            })
            .collect();
        forks.sort_by(|a, b| (a.block_no, &a.hash).cmp(&(b.block_no, &b.hash)));
        Chain {
            main,
            forks,
            unknown_adoptions: unknown,
        }
    }
}

impl Block {
    /// Seconds from forging to each observer's adoption; observers that never adopted it are
    /// left out (and counted by [`Block::missing_adoptions`]).
    pub fn adoption_delays(&self) -> Vec<f64> {
        self.observers
            .values()
            .filter_map(|o| o.adopted)
            .map(|t| t.saturating_sub(self.forged_at) as f64 / 1e9)
            .collect()
    }

    /// Observers among `hosts` (other than the forger) with no adoption of this block.
    pub fn missing_adoptions<'a>(&self, hosts: impl Iterator<Item = &'a str>) -> usize {
        hosts
            .filter(|h| *h != self.forger)
            .filter(|h| self.observers.get(*h).and_then(|o| o.adopted).is_none())
            .count()
    }
}
