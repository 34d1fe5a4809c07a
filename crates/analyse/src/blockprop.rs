//! Block propagation (locli's BlockProp): per main-chain block the forger's phase times, every
//! observer's phases, and the end-to-end times to adoption by a share of the cluster; then CDFs
//! over the blocks the filters accept, keyed by locli's field ids.
//!
//! Truer than locli:
//! * a phase nobody logged is left out of its CDF and counted in `missing` — locli puts 0.01 s
//!   for the forger's announce/send/adopt and hard-fails on the rest;
//! * the end-to-end centiles count the whole cluster: a block only 40 of 52 nodes adopted has
//!   no 0.90 adoption time (counted in `missing`), where locli takes the 90th percentile of the
//!   40 that did;
//! * a forger's stage times are those of the forged slot's loop, not whatever stage came last.
//!
//! As locli does, the newest main-chain block is left out (the logs end before it can
//! propagate), and an observation is valid for the peer CDFs only if it has the header, the
//! request and the fetch, and its request or adoption covered exactly one block.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::cdf::{ADOPTION_CENTILES, Cdf, STD_CENTILES, cdf};
use crate::chain::{Block, Chain, Observed};
use crate::field::{Aggregation, Better, Field, Scale, Unit};
use crate::filter::{BlockFacts, Filters};
use crate::genesis::{Genesis, seconds_between as delta};

const FORGER: &str = "Forger event Δt";
const PEER: &str = "Peer event Δt";
const E2E: &str = "Slot-rel. Δt to adoption centile";
const CONTROL: &str = "Control";

/// A forger phase: one value per block, lower is better.
const fn forger(
    id: &'static str,
    short: &'static str,
    description: &'static str,
    from: &'static [&'static str],
) -> Field {
    Field {
        id,
        group: FORGER,
        short,
        description,
        unit: Unit::Sec,
        precision: 3,
        scale: Scale::Log,
        range: "",
        from,
        aggregation: Aggregation::PerBlock,
        better: Better::Lower,
    }
}

/// A peer phase: one value per valid observation.
const fn peer(
    id: &'static str,
    short: &'static str,
    description: &'static str,
    from: &'static [&'static str],
) -> Field {
    Field {
        group: PEER,
        aggregation: Aggregation::PerObservation,
        ..forger(id, short, description, from)
    }
}

/// A peer figure of the fastest peer: one value per block.
const fn first_peer(
    id: &'static str,
    short: &'static str,
    description: &'static str,
    from: &'static [&'static str],
) -> Field {
    Field {
        group: PEER,
        ..forger(id, short, description, from)
    }
}

const fn e2e(id: &'static str, short: &'static str) -> Field {
    Field {
        group: E2E,
        ..forger(
            id,
            short,
            "Time since slot start to the block's adoption by this share of the cluster (all nodes, not only those that adopted it).",
            &[ADDED, SWITCHED, ADOPTED],
        )
    }
}

/// A control figure; `meaning` is where it comes from, how values combine, which way is
/// better.
const fn control(
    id: &'static str,
    short: &'static str,
    description: &'static str,
    form: (Unit, u8, &'static str),
    meaning: (&'static [&'static str], Aggregation, Better),
) -> Field {
    let (unit, precision, range) = form;
    let (from, aggregation, better) = meaning;
    Field {
        id,
        group: CONTROL,
        short,
        description,
        unit,
        precision,
        scale: Scale::Lin,
        range,
        from,
        aggregation,
        better,
    }
}

const FORGED: &str = "Forge.Loop.ForgedBlock";
const ADOPTED: &str = "Forge.Loop.AdoptedBlock";
const ADDED: &str = "ChainDB.AddBlockEvent.AddedToCurrentChain";
const SWITCHED: &str = "ChainDB.AddBlockEvent.SwitchedToAFork";
const HEADER: &str = "ChainSync.Client.DownloadedHeader";
const REQUEST: &str = "BlockFetch.Client.SendFetchRequest";
const FETCHED: &str = "BlockFetch.Client.CompletedBlockFetch";
const ANNOUNCED: &str = "ChainSync.ServerHeader.Update";
const SENT: &str = "BlockFetch.Server.SendBlock";
const LOOP: &str = "Forge.Loop.StartLeadershipCheck";
const LOOP_PLUS: &str = "Forge.Loop.StartLeadershipCheckPlus";

/// Every BlockProp metric, in locli's order.
pub const FIELDS: &[Field] = &[
    forger(
        "cdfForgerStart",
        "Started forge loop iteration",
        "Forge loop iteration delay (StartLeadershipCheck), relative to slot start",
        &[LOOP, LOOP_PLUS],
    ),
    forger(
        "cdfForgerBlkCtx",
        "Acquired block context",
        "Block context acquired (BlockContext), relative to forge loop beginning",
        &["Forge.Loop.BlockContext"],
    ),
    forger(
        "cdfForgerLgrState",
        "Acquired ledger state",
        "Ledger state acquired (LedgerState), relative to block context acquisition",
        &["Forge.Loop.LedgerState"],
    ),
    forger(
        "cdfForgerLgrView",
        "Acquired ledger view",
        "Ledger view acquired (LedgerView), relative to ledger state acquisition",
        &["Forge.Loop.LedgerView"],
    ),
    forger(
        "cdfForgerLead",
        "Leadership check duration",
        "Leadership check duration (NodeIsLeader), relative to ledger view acquisition (or loop start)",
        &["Forge.Loop.NodeIsLeader"],
    ),
    forger(
        "cdfForgerTicked",
        "Ledger ticking",
        "Time spent ticking the ledger state (TickedLedgerState), relative to leadership check completion",
        &["Forge.Loop.ForgeTickedLedgerState"],
    ),
    forger(
        "cdfForgerMemSnap",
        "Mempool snapshotting",
        "Time spent taking a mempool snapshot (MempoolSnapshot), relative to ledger ticking conclusion",
        &["Forge.Loop.ForgingMempoolSnapshot"],
    ),
    forger(
        "cdfForgerForge",
        "Leadership to forged",
        "Time spent forging the block: ForgedBlock relative to the mempool snapshot (or positive leadership decision)",
        &[FORGED],
    ),
    forger(
        "cdfForgerAnnounce",
        "Forged to announced",
        "Time between block forging completion and header announcement (ChainSync server header update)",
        &[FORGED, ANNOUNCED],
    ),
    forger(
        "cdfForgerSend",
        "Forged to sending",
        "Time between block forging completion and begin-of-sending (BlockFetch server SendBlock)",
        &[FORGED, SENT],
    ),
    forger(
        "cdfForgerAdoption",
        "Forged to self-adopted",
        "Time between block forging completion and adoption (AdoptedBlock / AddedToCurrentChain)",
        &[FORGED, ADOPTED, ADDED],
    ),
    forger(
        "cdfForgerAnnounceCum",
        "Slot start to announced",
        "Time since slot start until header announcement",
        &[ANNOUNCED],
    ),
    first_peer(
        "cdfPeerNoticeFirst",
        "First peer notice",
        "Time since slot start until the fastest peer noticed the header (DownloadedHeader)",
        &[HEADER],
    ),
    first_peer(
        "cdfPeerFetchFirst",
        "First peer fetch",
        "Time since slot start until the fastest peer fetched the block (CompletedBlockFetch)",
        &[FETCHED],
    ),
    peer(
        "cdfPeerRequest",
        "Notice to fetch request",
        "SendFetchRequest after the header was seen",
        &[HEADER, REQUEST],
    ),
    peer(
        "cdfPeerFetch",
        "Fetch duration",
        "CompletedBlockFetch after the request",
        &[REQUEST, FETCHED],
    ),
    peer(
        "cdfPeerAnnounce",
        "Fetched to announced",
        "The peer announces the header (ChainSync server header update) since it fetched the block",
        &[FETCHED, ANNOUNCED],
    ),
    peer(
        "cdfPeerSend",
        "Fetched to sending",
        "The peer begins sending the block (BlockFetch server SendBlock) since it fetched it",
        &[FETCHED, SENT],
    ),
    peer(
        "cdfPeerAdoption",
        "Fetched to adopted",
        "AddedToCurrentChain since the block was fetched",
        &[FETCHED, ADDED],
    ),
    e2e("cdf0.50", "0.50 adoption"),
    e2e("cdf0.80", "0.80 adoption"),
    e2e("cdf0.90", "0.90 adoption"),
    e2e("cdf0.92", "0.92 adoption"),
    e2e("cdf0.94", "0.94 adoption"),
    e2e("cdf0.96", "0.96 adoption"),
    e2e("cdf0.98", "0.98 adoption"),
    e2e("cdf1.00", "1.00 adoption"),
    control(
        "cdfBlocksPerHost",
        "Blocks per host",
        "Blocks forged per host (on the chain, filtered out, or lost)",
        (Unit::Blocks, 0, ""),
        (&[FORGED], Aggregation::PerHost, Better::Neither),
    ),
    control(
        "cdfBlocksFilteredRatio",
        "Filtered to chained blocks",
        "Per host, the share of its chained blocks the filters accepted",
        (Unit::Ratio, 3, "0:1"),
        (&[FORGED], Aggregation::PerHost, Better::Higher),
    ),
    control(
        "cdfBlocksChainedRatio",
        "Chained to forged blocks",
        "Per host, the share of its forged blocks that made the main chain",
        (Unit::Ratio, 3, "0:1"),
        (&[FORGED, ADDED], Aggregation::PerHost, Better::Higher),
    ),
    control(
        "cdfBlockBattle",
        "Height & slot battles",
        "Per block, how many other blocks were forged at its height",
        (Unit::Blocks, 0, ""),
        (
            &[FORGED, HEADER, ADDED, SWITCHED],
            Aggregation::PerBlock,
            Better::Lower,
        ),
    ),
    control(
        "cdfBlockSize",
        "Block size",
        "Block size, as its forger adopted it (AdoptedBlock), else as an observer fetched it (CompletedBlockFetch)",
        (Unit::Bytes, 0, ""),
        (&[ADOPTED, FETCHED], Aggregation::PerBlock, Better::Neither),
    ),
];

/// One main-chain block's figures (a row of the per-block table).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockRow {
    /// Its number.
    pub block_no: u64,
    /// Its slot.
    pub slot: u64,
    /// Its hash.
    pub hash: String,
    /// Its forger (none when not in the logs).
    pub forger: Option<String>,
    /// Its size, bytes.
    pub size: Option<u64>,
    /// Seconds since the previous main-chain block was forged (between their slots' starts
    /// when either forge is not in the logs).
    pub block_gap: Option<f64>,
    /// Other blocks forged at its height.
    pub battles: u64,
    /// Forger phases, seconds, in [`FIELDS`] order (the first 12).
    pub forger_phases: [Option<f64>; 12],
    /// Observers that logged anything of it.
    pub observers: usize,
    /// Observations valid for the peer CDFs.
    pub valid_observations: usize,
    /// Observers that adopted it.
    pub adoptions: usize,
    /// Seconds since slot start to adoption by each share of the cluster ([`ADOPTION_CENTILES`]).
    pub propagation: [Option<f64>; 8],
    /// Whether the statistics cover it.
    pub accepted: bool,
    /// Why not: the filters it failed, or `tip`.
    pub rejected_by: Vec<String>,
}

/// Block propagation statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockProp {
    /// Main-chain blocks.
    pub blocks: usize,
    /// Blocks the CDFs cover.
    pub accepted: usize,
    /// Main-chain blocks whose forger is in the logs.
    pub blocks_forged_in_logs: usize,
    /// Main-chain blocks known only from their observers (forger not in the logs).
    pub blocks_observed_only: usize,
    /// First and last slot of the main chain, and of the accepted blocks.
    pub domain_slots: DomainPair,
    /// First and last block number, likewise.
    pub domain_blocks: DomainPair,
    /// Blocks rejected per filter name (and `tip`).
    pub rejections: BTreeMap<String, u64>,
    /// Nodes in the cluster (the end-to-end centiles' denominator).
    pub cluster_size: usize,
    /// Per field, the CDF (locli's ids).
    pub cdfs: BTreeMap<&'static str, Cdf>,
    /// Per field, values not logged (blocks or observations).
    pub missing: BTreeMap<&'static str, u64>,
    /// Per field, negative values (kept in the CDF, as measured).
    pub negative: BTreeMap<&'static str, u64>,
}

/// A raw and a filtered `[first, last]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DomainPair {
    /// All main-chain blocks.
    pub raw: Option<(u64, u64)>,
    /// The accepted ones.
    pub filtered: Option<(u64, u64)>,
}

/// Seconds between two times, when both were logged.
fn secs(from: Option<u64>, to: Option<u64>) -> Option<f64> {
    Some(delta(from?, to?))
}

fn forger_phases(b: &Block, slot_start: Option<u64>) -> [Option<f64>; 12] {
    let st = &b.stages;
    let f = &b.by_forger;
    let start = slot_start;
    let forged = b.forged_at;
    [
        secs(start, st.started),
        secs(st.started, st.blk_ctx),
        secs(st.blk_ctx, st.lgr_state),
        secs(st.lgr_state, st.lgr_view),
        secs(st.lgr_view, st.leading).or(secs(st.started, st.leading)),
        secs(st.leading, st.ticked),
        secs(st.ticked, st.mem_snap),
        secs(st.mem_snap, forged).or(secs(st.leading, forged)),
        secs(forged, f.announced),
        secs(forged, f.sent),
        secs(forged, f.adopted),
        secs(start, f.announced),
    ]
}

/// The 7 peer phases of one observation ([`FIELDS`] 12..19; the two "first" ones are per block).
fn peer_phases(o: &Observed) -> [Option<f64>; 5] {
    [
        secs(o.header, o.requested),
        secs(o.requested, o.fetched),
        secs(o.fetched, o.announced),
        secs(o.fetched, o.sent),
        secs(o.fetched, o.adopted),
    ]
}

fn valid(o: &Observed) -> bool {
    o.header.is_some() && o.requested.is_some() && o.fetched.is_some() && o.chain_delta == 1
}

/// Computes block propagation over `chain`; `cluster` names every node (forgers and observers).
/// Without a genesis the figures relative to slot starts are missing (the filters, which need
/// one, must be empty then).
pub fn compute(
    chain: &Chain,
    cluster: &[String],
    genesis: Option<&Genesis>,
    filters: &Filters,
) -> (BlockProp, Vec<BlockRow>) {
    let mut battles: HashMap<u64, u64> = HashMap::new();
    for f in &chain.forks {
        *battles.entry(f.block_no).or_default() += 1;
    }
    let n = cluster.len().max(1);
    let mut rows = Vec::with_capacity(chain.main.len());
    let mut values: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut missing: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut negative: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut rejections: BTreeMap<String, u64> = BTreeMap::new();
    let mut take = |id: &'static str, v: Option<f64>| match v {
        Some(x) => {
            if x < 0.0 {
                *negative.entry(id).or_default() += 1;
            }
            values.entry(id).or_default().push(x);
        }
        None => *missing.entry(id).or_default() += 1,
    };
    let last = chain.main.len().saturating_sub(1);
    for (i, b) in chain.main.iter().enumerate() {
        let slot_start = genesis.map(|g| g.slot_start(b.slot));
        let phases = forger_phases(b, slot_start);
        let adoptions = b.observers.values().filter(|o| o.adopted.is_some()).count();
        let mut adopted: Vec<f64> = b
            .observers
            .values()
            .filter_map(|o| o.adopted)
            .chain(b.by_forger.adopted)
            .filter_map(|t| secs(slot_start, Some(t)))
            .collect();
        adopted.sort_by(f64::total_cmp);
        let propagation = ADOPTION_CENTILES.map(|c| {
            let idx = ((n as f64 * c).floor() as usize).min(n - 1);
            adopted.get(idx).copied()
        });
        let obs_phases: Vec<[Option<f64>; 5]> = b
            .observers
            .values()
            .filter(|o| valid(o))
            .map(peer_phases)
            .collect();
        let non_negative = phases
            .iter()
            .chain(obs_phases.iter().flatten())
            .flatten()
            .all(|x| *x >= 0.0);
        let facts = BlockFacts {
            slot: b.slot,
            chain_delta: b.by_forger.chain_delta,
            size: b.size,
            adoptions: adoptions as u64,
            non_negative,
        };
        let mut rejected_by: Vec<String> = genesis
            .map(|g| filters.block_rejections(&facts, g))
            .unwrap_or_default()
            .into_iter()
            .map(str::to_owned)
            .collect();
        if i == last {
            rejected_by.push("tip".into());
        }
        for r in &rejected_by {
            *rejections.entry(r.clone()).or_default() += 1;
        }
        let accepted = rejected_by.is_empty();
        if accepted {
            for (f, v) in FIELDS.iter().zip(phases) {
                take(f.id, v);
            }
            let first = |get: fn(&Observed) -> Option<u64>| {
                secs(slot_start, b.observers.values().filter_map(get).min())
            };
            take("cdfPeerNoticeFirst", first(|o| o.header));
            take("cdfPeerFetchFirst", first(|o| o.fetched));
            for p in &obs_phases {
                for (f, v) in FIELDS[14..19].iter().zip(p) {
                    take(f.id, *v);
                }
            }
            for (f, v) in FIELDS[19..27].iter().zip(propagation) {
                take(f.id, v);
            }
            take(
                "cdfBlockBattle",
                Some(battles.get(&b.block_no).copied().unwrap_or(0) as f64),
            );
            take("cdfBlockSize", b.size.map(|s| s as f64));
        }
        rows.push(BlockRow {
            block_no: b.block_no,
            slot: b.slot,
            hash: b.hash.clone(),
            forger: b.forger.clone(),
            size: b.size,
            block_gap: i.checked_sub(1).and_then(|p| {
                let a = &chain.main[p];
                match (a.forged_at, b.forged_at) {
                    (Some(x), Some(y)) => Some(delta(x, y)),
                    _ => secs(genesis.map(|g| g.slot_start(a.slot)), slot_start),
                }
            }),
            battles: battles.get(&b.block_no).copied().unwrap_or(0),
            forger_phases: phases,
            observers: b.observers.len(),
            valid_observations: obs_phases.len(),
            adoptions,
            propagation,
            accepted,
            rejected_by,
        });
    }
    // Per host: forged (anywhere), chained, accepted.
    let mut per_host: BTreeMap<&str, (u64, u64, u64)> =
        cluster.iter().map(|h| (h.as_str(), (0, 0, 0))).collect();
    for (b, r) in chain.main.iter().zip(&rows) {
        let Some(forger) = &b.forger else { continue };
        let e = per_host.entry(forger).or_default();
        e.0 += 1;
        e.1 += 1;
        e.2 += u64::from(r.accepted);
    }
    for f in chain.forks.iter().chain(&chain.unchained) {
        if let Some(forger) = &f.forger {
            per_host.entry(forger).or_default().0 += 1;
        }
    }
    for (forged, chained, accepted) in per_host.values() {
        take("cdfBlocksPerHost", Some(*forged as f64));
        if *chained > 0 {
            take(
                "cdfBlocksFilteredRatio",
                Some(*accepted as f64 / *chained as f64),
            );
        }
        if *forged > 0 {
            take(
                "cdfBlocksChainedRatio",
                Some(*chained as f64 / *forged as f64),
            );
        }
    }
    let cdfs = FIELDS
        .iter()
        .map(|f| {
            let xs = values.get(f.id).map_or(&[][..], Vec::as_slice);
            (f.id, cdf(&STD_CENTILES, xs))
        })
        .collect();
    let span = |it: &mut dyn Iterator<Item = u64>| {
        let v: Vec<u64> = it.collect();
        Some((*v.iter().min()?, *v.iter().max()?))
    };
    let accepted_rows = || rows.iter().filter(|r| r.accepted);
    let bp = BlockProp {
        blocks: rows.len(),
        accepted: accepted_rows().count(),
        blocks_forged_in_logs: chain.main.iter().filter(|b| b.forger.is_some()).count(),
        blocks_observed_only: chain.main.iter().filter(|b| b.forger.is_none()).count(),
        domain_slots: DomainPair {
            raw: span(&mut rows.iter().map(|r| r.slot)),
            filtered: span(&mut accepted_rows().map(|r| r.slot)),
        },
        domain_blocks: DomainPair {
            raw: span(&mut rows.iter().map(|r| r.block_no)),
            filtered: span(&mut accepted_rows().map(|r| r.block_no)),
        },
        rejections,
        cluster_size: cluster.len(),
        cdfs,
        missing,
        negative,
    };
    (bp, rows)
}

/// The per-block table as CSV (one row per main-chain block; empty cells for missing values).
pub fn write_csv(mut w: impl std::io::Write, rows: &[BlockRow]) -> std::io::Result<()> {
    let mut head = vec![
        "block_no",
        "slot",
        "hash",
        "forger",
        "size",
        "block_gap",
        "battles",
    ];
    head.extend(FIELDS[..12].iter().map(|f| f.id));
    head.extend(["observers", "valid_observations", "adoptions"]);
    head.extend(FIELDS[19..27].iter().map(|f| f.id));
    head.extend(["accepted", "rejected_by"]);
    writeln!(w, "{}", head.join(","))?;
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.6}"));
    for r in rows {
        let mut cells = vec![
            r.block_no.to_string(),
            r.slot.to_string(),
            r.hash.clone(),
            r.forger.clone().unwrap_or_default(),
            r.size.map_or(String::new(), |s| s.to_string()),
            opt(r.block_gap),
            r.battles.to_string(),
        ];
        cells.extend(r.forger_phases.iter().map(|v| opt(*v)));
        cells.extend([
            r.observers.to_string(),
            r.valid_observations.to_string(),
            r.adoptions.to_string(),
        ]);
        cells.extend(r.propagation.iter().map(|v| opt(*v)));
        cells.extend([r.accepted.to_string(), r.rejected_by.join(" ")]);
        writeln!(w, "{}", cells.join(","))?;
    }
    Ok(())
}
