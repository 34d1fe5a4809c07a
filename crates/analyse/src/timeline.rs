//! Per-host, per-slot timeline (locli's `SlotStats`, §2.3 of the locli notes): one row per slot
//! from the host's first to its last slot, built in one streaming pass over the host's events
//! in file order ([`TimelineBuilder`]), then turned into forge-loop deltas ([`Timeline`]).
//!
//! A row holds the slot's coordinates (slot, epoch, epoch slot, safe interval, start), its
//! counters (forge-loop starts, block contexts, ledger states and views, leaderships, forges,
//! ledger snapshots, mempool rejections), the tip's block number and the slots since it last
//! changed, the forge loop's stage times as deltas (as locli's `deltifySlotStats`: started
//! since slot start; block context − started; ledger state − block context; ledger view −
//! ledger state; leadership decided − ledger view (else − started); ticked − leading; mempool
//! snapshot − ticked; forged − mempool snapshot (else − leading); seconds), the mempool size,
//! the transaction-submission work (collected, accepted, rejected, and the Collected→Processed
//! spans), UTxO size, chain density, and the slot's resource use.
//!
//! Which slot an event belongs to: forge-loop events (leadership check, block context, ledger
//! state and view, leadership decision, ticked ledger, mempool snapshot, forged block) to the
//! slot they name; resource samples and every other event to the slot their timestamp falls in.
//! Only events the timeline reads create rows; a slot nothing was logged for is a gap row that
//! carries forward the mempool size, UTxO size, density, block number and block gap, and the
//! resource *levels* (RSS, heap, live data, threads) and CPU shares (CPU, GC, mutator — locli's
//! `zeroObsoleteValues` keeps these too), with the per-second rates of counters (GCs,
//! allocation, network, file system) absent: a rate belongs to the slot its sample was taken in.
//!
//! Fixed against locli, each covered by a test in this module:
//! * Mempool, transaction-submission, ledger-snapshot and ledger-metrics events go to the slot of
//!   **their own timestamp**; locli puts them in the latest slot a resource sample or leadership
//!   check created, which can be many slots off (a node busy forging, or sampling resources once
//!   a second with 0.2 s slots).
//! * A `TxsProcessed` with no `TxsCollected` before it on the same thread adds **no** span
//!   (locli adds a made-up 1.0 s); such events are counted in
//!   [`TimelineCounters::processed_without_collected`]. Logs without thread ids pair nothing.
//! * Gaps of any length are patched (locli aborts at 1000 slots); gap rows are counted.
//! * Forge-loop events naming an older slot update that slot (locli fails hard on some); events
//!   timed or naming a slot before the first row prepend rows; so out-of-order lines at the
//!   tail of a log land where they belong.
//! * Events before the system start are skipped and counted (as locli skips them, silently).
//! * The first resource sample is a base, not a delta against zero (see [`crate::resources`]);
//!   its slot gets the levels but no rates. Two samples in one slot are merged: levels from the
//!   later, rates weighted by the time each covers (locli keeps the last).
//!
//! Also different, deliberately: a stage time is the earliest logged for the slot (locli keeps
//! the last in file order, which out-of-order lines make arbitrary); a `StartLeadershipCheck`
//! or `LedgerMetrics` with a UTxO size or density of 0 records it (locli ignores zeros, which are
//! real at a chain's start); the block gap is unknown until the tip has been seen to change once
//! (locli counts from slot 0); and the tip changes when the host adopts a block
//! (`AddedToCurrentChain`, `SwitchedToAFork`) as well as when a block context shows a new block
//! number — locli reads only block contexts, which a node logs only in slots it leads, so its
//! block gap on relays and most producers just grows.
//!
//! Rows are compact (224 bytes; optional floats take 4 bytes, [`OptF32`]), so a host's 100k
//! slots take some 22 MB.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::{Serialize, Serializer};

use crate::event::{Body, LogObject, ResourceSample};
use crate::genesis::Genesis;
use crate::resources::{Accumulator, ResourceRates};

/// An optional number in 4 bytes (NaN stands for none).
#[derive(Clone, Copy)]
pub struct OptF32(f32);

impl OptF32 {
    /// No value.
    pub const NONE: OptF32 = OptF32(f32::NAN);

    /// A value (NaN is none).
    pub fn some(x: f64) -> OptF32 {
        OptF32(x as f32)
    }

    /// The value, if any.
    pub fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(f64::from(self.0))
    }

    /// Whether there is a value.
    pub fn is_some(self) -> bool {
        !self.0.is_nan()
    }
}

impl Default for OptF32 {
    fn default() -> Self {
        OptF32::NONE
    }
}

impl From<Option<f64>> for OptF32 {
    fn from(o: Option<f64>) -> Self {
        o.map_or(OptF32::NONE, OptF32::some)
    }
}

impl PartialEq for OptF32 {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl std::fmt::Debug for OptF32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for OptF32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

/// A slot's resource use (from [`crate::resources`]: rates per second, levels in MiB).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SlotResources {
    /// Samples taken in this slot (0: a gap row, its levels and CPU shares carried forward).
    pub samples: u8,
    /// Seconds of sampled intervals ending in this slot, which the rates cover.
    pub interval_s: f32,
    /// CPU, % of one core.
    pub cpu_pct: OptF32,
    /// GC CPU, % of one core (GHC only).
    pub gc_pct: OptF32,
    /// Mutator CPU, % of one core (GHC only).
    pub mut_pct: OptF32,
    /// Major GCs per second (GHC only; sampled slots only).
    pub gcs_major_per_s: OptF32,
    /// Minor GCs per second (GHC only; sampled slots only).
    pub gcs_minor_per_s: OptF32,
    /// Allocation, MiB/s (sampled slots only).
    pub alloc_mib_s: OptF32,
    /// Network reads, KiB/s (sampled slots only).
    pub net_rd_kib_s: OptF32,
    /// Network writes, KiB/s (sampled slots only).
    pub net_wr_kib_s: OptF32,
    /// File-system reads, KiB/s (sampled slots only).
    pub fs_rd_kib_s: OptF32,
    /// File-system writes, KiB/s (sampled slots only).
    pub fs_wr_kib_s: OptF32,
    /// Resident set, MiB.
    pub rss_mib: OptF32,
    /// Heap, MiB.
    pub heap_mib: OptF32,
    /// Live data, MiB (GHC only).
    pub live_mib: OptF32,
    /// OS threads.
    pub threads: Option<u32>,
}

const MIB: f64 = 1024.0 * 1024.0;

impl SlotResources {
    /// What a following slot without a sample of its own inherits.
    fn carried(&self) -> SlotResources {
        SlotResources {
            samples: 0,
            interval_s: 0.0,
            cpu_pct: self.cpu_pct,
            gc_pct: self.gc_pct,
            mut_pct: self.mut_pct,
            rss_mib: self.rss_mib,
            heap_mib: self.heap_mib,
            live_mib: self.live_mib,
            threads: self.threads,
            ..SlotResources::default()
        }
    }

    /// Takes a sample and the rates since the previous one (none for a base sample).
    fn apply(&mut self, s: &ResourceSample, rates: Option<&ResourceRates>) {
        self.rss_mib = OptF32::some(s.rss as f64 / MIB);
        self.heap_mib = OptF32::some(s.heap as f64 / MIB);
        self.live_mib = s.live.map(|l| l as f64 / MIB).into();
        self.threads = Some(u32::try_from(s.threads).unwrap_or(u32::MAX));
        self.samples = self.samples.saturating_add(1);
        let old_dt = f64::from(self.interval_s);
        let Some(r) = rates else {
            if old_dt == 0.0 {
                // No rate known for this slot: drop what a gap row carried.
                let levels = (self.rss_mib, self.heap_mib, self.live_mib, self.threads);
                *self = SlotResources {
                    samples: self.samples,
                    ..SlotResources::default()
                };
                (self.rss_mib, self.heap_mib, self.live_mib, self.threads) = levels;
            }
            return;
        };
        let total = old_dt + r.dt;
        // The slot's rate: this interval's, or both intervals' weighted by their lengths.
        let merge = |old: OptF32, new: Option<f64>| -> OptF32 {
            match (old.get(), new) {
                (Some(o), Some(n)) if old_dt > 0.0 => OptF32::some((o * old_dt + n * r.dt) / total),
                (_, n) => n.into(),
            }
        };
        self.cpu_pct = merge(self.cpu_pct, Some(r.cpu_pct));
        self.gc_pct = merge(self.gc_pct, r.gc_pct);
        self.mut_pct = merge(self.mut_pct, r.mut_pct);
        self.gcs_major_per_s = merge(self.gcs_major_per_s, r.gcs_major_per_s);
        self.gcs_minor_per_s = merge(self.gcs_minor_per_s, r.gcs_minor_per_s);
        self.alloc_mib_s = merge(self.alloc_mib_s, Some(r.alloc_mib_s));
        self.net_rd_kib_s = merge(self.net_rd_kib_s, Some(r.net_rd_kib_s));
        self.net_wr_kib_s = merge(self.net_wr_kib_s, Some(r.net_wr_kib_s));
        self.fs_rd_kib_s = merge(self.fs_rd_kib_s, Some(r.fs_rd_kib_s));
        self.fs_wr_kib_s = merge(self.fs_wr_kib_s, Some(r.fs_wr_kib_s));
        self.interval_s = total as f32;
    }
}

/// One slot of one host (locli's `SlotStats` after `deltifySlotStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlotStats {
    /// The slot.
    pub slot: u64,
    /// Its epoch (0 when the epoch length is unknown).
    pub epoch: u32,
    /// Its place in the epoch (the slot itself when the epoch length is unknown).
    pub epoch_slot: u64,
    /// locli's safe interval of the epoch slot.
    pub epoch_safe_int: u32,
    /// The slot's start, ns since the Unix epoch.
    pub start: u64,
    /// Forge-loop starts (`StartLeadershipCheck`).
    pub count_starts: u16,
    /// Block contexts acquired.
    pub count_blk_ctx: u16,
    /// Ledger states acquired.
    pub count_lgr_state: u16,
    /// Ledger views acquired.
    pub count_lgr_view: u16,
    /// Leaderships won.
    pub count_leads: u16,
    /// Blocks forged.
    pub count_forges: u16,
    /// Ledger snapshots taken (locli's `slChainDBSnap`).
    pub chaindb_snapshots: u16,
    /// Transactions the mempool rejected.
    pub rejected_txs: u32,
    /// The tip's block number, as the forge loop's block context has it (carried forward).
    pub block_no: Option<u64>,
    /// Slots since the tip's block number last changed.
    pub block_gap: Option<u32>,
    /// Forge loop started, s after the slot's start.
    pub started: OptF32,
    /// Block context acquired, s after the start.
    pub blk_ctx: OptF32,
    /// Ledger state acquired, s after the block context.
    pub lgr_state: OptF32,
    /// Ledger view acquired, s after the ledger state.
    pub lgr_view: OptF32,
    /// Leadership decided, s after the ledger view (or the start).
    pub leading: OptF32,
    /// Ledger ticked, s after the leadership decision.
    pub ticked: OptF32,
    /// Mempool snapshot taken, s after the ticking.
    pub mem_snap: OptF32,
    /// Block forged, s after the mempool snapshot (or the leadership decision).
    pub forged: OptF32,
    /// Transactions in the mempool after its last change (carried forward).
    pub mempool_txs: Option<u32>,
    /// Sum of this slot's Collected→Processed spans, s.
    pub span_txs_mem: OptF32,
    /// Transactions collected from peers.
    pub txs_collected: u32,
    /// Transactions accepted into the mempool.
    pub txs_accepted: u32,
    /// Transactions rejected.
    pub txs_rejected: u32,
    /// UTxO size (carried forward).
    pub utxo_size: Option<u64>,
    /// Chain density (carried forward).
    pub density: OptF32,
    /// Resource use.
    pub resources: SlotResources,
}

/// The generator's summary (locli's `RunScalars`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunScalars {
    /// Transactions submitted.
    pub submitted: u64,
    /// Seconds the submission took.
    pub elapsed_s: f64,
    /// Per-thread rates, tx/s.
    pub threadwise_tps: Vec<f64>,
    /// The generator reported no failures.
    pub no_failures: bool,
}

/// What the pass skipped or repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TimelineCounters {
    /// Events timed before the system start, skipped.
    pub before_system_start: u64,
    /// `TxsProcessed` with no `TxsCollected` before it on its thread (no span added).
    pub processed_without_collected: u64,
    /// Negative transaction counts (`TxsCollected`, `TxsProcessed`: Haskell `Int`s that real
    /// nodes have logged below zero), added to their slot as 0.
    pub negative_tx_counts: u64,
    /// Rows no event was logged for, filled in between (locli's patched slots).
    pub gap_slots: u64,
    /// Events for a slot before the newest row when they came (late or out-of-order lines).
    pub late_events: u64,
    /// Rows added before the first one by late events.
    pub prepended_slots: u64,
    /// Resource samples timed before the previous sample, skipped.
    pub resources_out_of_order: u64,
    /// Forge-loop events naming a slot that had not begun at their time (more than two slots
    /// ahead of their timestamp), skipped: a wrong genesis or a corrupt line.
    pub future_slot: u64,
}

/// A host's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// One row per slot, in slot order, first to last without holes.
    pub rows: Vec<SlotStats>,
    /// The generator's summary, if the host logged one.
    pub run_scalars: Option<RunScalars>,
    /// What was skipped or repaired.
    pub counters: TimelineCounters,
}

/// How many slots ahead of its timestamp a forge-loop event may name.
const FUTURE_SLACK: u64 = 2;

/// Builds a host's [`Timeline`] from its events in file order.
#[derive(Debug)]
pub struct TimelineBuilder {
    genesis: Genesis,
    /// The slot of `rows[0]`.
    first: u64,
    /// Stage times are kept as seconds since the slot's start until [`TimelineBuilder::finish`].
    rows: Vec<SlotStats>,
    acc: Accumulator,
    last_sample_at: Option<u64>,
    collected_at: HashMap<u64, u64>,
    /// The tip's block number last seen, and the slot it was last seen changing in.
    block: Option<u64>,
    block_changed: Option<u64>,
    run_scalars: Option<RunScalars>,
    counters: TimelineCounters,
}

fn count(c: &mut u16) {
    *c = c.saturating_add(1);
}

fn add32(c: &mut u32, n: u64) {
    *c = c.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
}

impl TimelineBuilder {
    /// A logged transaction count as added to a row: a negative one counts as 0, and is counted.
    fn count(&mut self, n: i64) -> u64 {
        u64::try_from(n).unwrap_or_else(|_| {
            self.counters.negative_tx_counts += 1;
            0
        })
    }
}

/// Keeps the earliest of a stage's times.
fn earliest(slot_field: &mut OptF32, since_start: f64) {
    if slot_field.get().is_none_or(|t| since_start < t) {
        *slot_field = OptF32::some(since_start);
    }
}

impl TimelineBuilder {
    /// A builder for one host under `genesis`.
    pub fn new(genesis: &Genesis) -> TimelineBuilder {
        TimelineBuilder {
            genesis: genesis.clone(),
            first: 0,
            rows: Vec::new(),
            acc: Accumulator::default(),
            last_sample_at: None,
            collected_at: HashMap::new(),
            block: None,
            block_changed: None,
            run_scalars: None,
            counters: TimelineCounters::default(),
        }
    }

    fn blank(&self, slot: u64) -> SlotStats {
        let g = &self.genesis;
        SlotStats {
            slot,
            epoch: u32::try_from(g.epoch(slot)).unwrap_or(u32::MAX),
            epoch_slot: g.epoch_slot(slot),
            epoch_safe_int: u32::try_from(g.epoch_safe_int(slot)).unwrap_or(u32::MAX),
            start: g.slot_start(slot),
            ..SlotStats::default()
        }
    }

    /// The row of `slot`, creating it (and any rows between it and the existing ones).
    fn row(&mut self, slot: u64) -> &mut SlotStats {
        let i = self.ensure(slot);
        &mut self.rows[i]
    }

    /// The index of `slot`'s row, creating it (and any rows between it and the existing ones).
    fn ensure(&mut self, slot: u64) -> usize {
        if self.rows.is_empty() {
            self.first = slot;
            let r = self.blank(slot);
            self.rows.push(r);
        } else if slot < self.first {
            self.counters.late_events += 1;
            let n = self.first - slot;
            self.counters.prepended_slots += n;
            let mut front: Vec<SlotStats> = (slot..self.first).map(|s| self.blank(s)).collect();
            front.append(&mut self.rows);
            self.rows = front;
            self.first = slot;
        } else {
            let head = self.first + self.rows.len() as u64 - 1;
            if slot > head {
                self.counters.gap_slots += slot - head - 1;
                for s in head + 1..=slot {
                    let prev = &self.rows[self.rows.len() - 1];
                    let mut r = self.blank(s);
                    r.block_no = prev.block_no;
                    r.block_gap = self.block_changed.map(|c| gap(s, c));
                    r.mempool_txs = prev.mempool_txs;
                    r.utxo_size = prev.utxo_size;
                    r.density = prev.density;
                    r.resources = prev.resources.carried();
                    self.rows.push(r);
                }
            } else if slot < head {
                self.counters.late_events += 1;
            }
        }
        (slot - self.first) as usize
    }

    /// The slot `at` falls in, or `None` (counted) before the system start.
    fn time_slot(&mut self, at: u64) -> Option<u64> {
        if at < self.genesis.system_start {
            self.counters.before_system_start += 1;
            return None;
        }
        Some(self.genesis.slot_of(at))
    }

    /// The row of a forge-loop event for `slot` logged at `at`, with `at` in seconds since the
    /// slot's start; `None` (counted) before the system start or for a slot not yet begun.
    fn forge_row(&mut self, slot: u64, at: u64) -> Option<(&mut SlotStats, f64)> {
        let now = self.time_slot(at)?;
        if slot > now + FUTURE_SLACK {
            self.counters.future_slot += 1;
            return None;
        }
        let since = self.genesis.since_slot_start(slot, at);
        Some((self.row(slot), since))
    }

    /// Updates the tip's block number from a block context for `slot`: a change restarts the
    /// block gap (late contexts, for slots before the last change, do not).
    fn see_block(&mut self, slot: u64, b: u64) -> Option<u32> {
        let current = self.block_changed.is_none_or(|c| slot >= c);
        if current {
            if self.block.is_some_and(|old| old != b) {
                self.block_changed = Some(slot);
            }
            self.block = Some(b);
        }
        self.block_changed.map(|c| gap(slot, c))
    }

    /// The host's chain grew at `at`: the block gap restarts in that slot.
    fn tip_changed(&mut self, at: u64) {
        if at < self.genesis.system_start {
            return;
        }
        let slot = self.genesis.slot_of(at);
        if self.block_changed.is_none_or(|c| slot >= c) {
            self.block_changed = Some(slot);
            if let Some(r) = slot
                .checked_sub(self.first)
                .and_then(|i| self.rows.get_mut(i as usize))
            {
                r.block_gap = Some(0);
            }
        }
    }

    /// Takes the next event of the host, in file order.
    pub fn push(&mut self, o: &LogObject) {
        let at = o.at;
        match &o.body {
            Body::Resources(s) => {
                let Some(slot) = self.time_slot(at) else {
                    return;
                };
                if self.last_sample_at.is_some_and(|t| at < t) {
                    self.counters.resources_out_of_order += 1;
                    return;
                }
                self.last_sample_at = Some(at);
                let rates = self.acc.push(at, (**s).clone());
                self.row(slot).resources.apply(s, rates.as_ref());
            }
            Body::StartLeadershipCheck {
                slot,
                utxo_size,
                chain_density,
            } => {
                if let Some((r, t)) = self.forge_row(*slot, at) {
                    count(&mut r.count_starts);
                    earliest(&mut r.started, t);
                    if utxo_size.is_some() {
                        r.utxo_size = *utxo_size;
                    }
                    if chain_density.is_some() {
                        r.density = (*chain_density).into();
                    }
                }
            }
            Body::BlockContext { slot, block_no } => {
                let (slot, b) = (*slot, *block_no);
                let Some((_, t)) = self.forge_row(slot, at) else {
                    return;
                };
                let g = self.see_block(slot, b);
                let r = &mut self.rows[(slot - self.first) as usize];
                count(&mut r.count_blk_ctx);
                earliest(&mut r.blk_ctx, t);
                r.block_no = Some(b);
                r.block_gap = g;
            }
            Body::LedgerState { slot } => {
                if let Some((r, t)) = self.forge_row(*slot, at) {
                    count(&mut r.count_lgr_state);
                    earliest(&mut r.lgr_state, t);
                }
            }
            Body::LedgerView { slot } => {
                if let Some((r, t)) = self.forge_row(*slot, at) {
                    count(&mut r.count_lgr_view);
                    earliest(&mut r.lgr_view, t);
                }
            }
            Body::LeadershipDecided { slot, leader } => {
                if let Some((r, t)) = self.forge_row(*slot, at) {
                    if *leader {
                        count(&mut r.count_leads);
                    }
                    earliest(&mut r.leading, t);
                }
            }
            Body::TickedLedgerState { slot } => {
                if let Some((r, t)) = self.forge_row(*slot, at) {
                    earliest(&mut r.ticked, t);
                }
            }
            Body::MempoolSnapshot { slot } => {
                if let Some((r, t)) = self.forge_row(*slot, at) {
                    earliest(&mut r.mem_snap, t);
                }
            }
            Body::BlockForged { slot, .. } => {
                if let Some((r, t)) = self.forge_row(*slot, at) {
                    count(&mut r.count_forges);
                    earliest(&mut r.forged, t);
                }
            }
            Body::TookSnapshot => {
                if let Some(s) = self.time_slot(at) {
                    count(&mut self.row(s).chaindb_snapshots);
                }
            }
            Body::LedgerMetrics {
                utxo_size,
                chain_density,
                ..
            } => {
                if let Some(s) = self.time_slot(at) {
                    let r = self.row(s);
                    if utxo_size.is_some() {
                        r.utxo_size = *utxo_size;
                    }
                    if chain_density.is_some() {
                        r.density = (*chain_density).into();
                    }
                }
            }
            Body::MempoolTxs(n) => {
                if let Some(s) = self.time_slot(at) {
                    self.row(s).mempool_txs = Some(u32::try_from(*n).unwrap_or(u32::MAX));
                }
            }
            Body::MempoolRejectedTx => {
                if let Some(s) = self.time_slot(at) {
                    add32(&mut self.row(s).rejected_txs, 1);
                }
            }
            Body::TxsCollected(n) => {
                if let Some(s) = self.time_slot(at) {
                    let n = self.count(*n);
                    add32(&mut self.row(s).txs_collected, n);
                    if let Some(t) = o.thread {
                        self.collected_at.insert(t, at);
                    }
                }
            }
            Body::TxsProcessed { accepted, rejected } => {
                let Some(s) = self.time_slot(at) else {
                    return;
                };
                let collected = o.thread.and_then(|t| self.collected_at.remove(&t));
                if collected.is_none() {
                    self.counters.processed_without_collected += 1;
                }
                let (accepted, rejected) = (self.count(*accepted), self.count(*rejected));
                let r = self.row(s);
                add32(&mut r.txs_accepted, accepted);
                add32(&mut r.txs_rejected, rejected);
                if let Some(t0) = collected {
                    let span = at.saturating_sub(t0) as f64 / 1e9;
                    r.span_txs_mem = OptF32::some(r.span_txs_mem.get().unwrap_or(0.0) + span);
                }
            }
            Body::GeneratorSummary {
                no_failures,
                sent,
                elapsed,
                threadwise_tps,
            } => {
                self.run_scalars = Some(RunScalars {
                    submitted: *sent,
                    elapsed_s: *elapsed,
                    threadwise_tps: threadwise_tps.clone(),
                    no_failures: *no_failures,
                });
            }
            Body::AddedToCurrentChain { .. } | Body::SwitchedToAFork { .. } => {
                self.tip_changed(at);
            }
            Body::SeenHeader { .. }
            | Body::FetchRequested { .. }
            | Body::FetchCompleted { .. }
            | Body::ServerSendHeader { .. }
            | Body::ServerSendBlock { .. }
            | Body::TxsAcked(_) => {}
        }
    }

    /// The timeline, stage times turned into deltas.
    pub fn finish(mut self) -> Timeline {
        for r in &mut self.rows {
            deltify(r);
        }
        Timeline {
            rows: self.rows,
            run_scalars: self.run_scalars,
            counters: self.counters,
        }
    }
}

fn gap(slot: u64, changed: u64) -> u32 {
    u32::try_from(slot.saturating_sub(changed)).unwrap_or(u32::MAX)
}

/// Times since the slot's start into locli's stage deltas (`deltifySlotStats`).
fn deltify(r: &mut SlotStats) {
    let d = |a: OptF32, b: OptF32| -> OptF32 {
        match (a.get(), b.get()) {
            (Some(a), Some(b)) => OptF32::some(a - b),
            _ => OptF32::NONE,
        }
    };
    let or = |a: OptF32, b: OptF32| if a.is_some() { a } else { b };
    let (started, blk_ctx, lgr_state, lgr_view) = (r.started, r.blk_ctx, r.lgr_state, r.lgr_view);
    let (leading, ticked, mem_snap, forged) = (r.leading, r.ticked, r.mem_snap, r.forged);
    r.blk_ctx = d(blk_ctx, started);
    r.lgr_state = d(lgr_state, blk_ctx);
    r.lgr_view = d(lgr_view, lgr_state);
    r.leading = d(leading, or(lgr_view, started));
    r.ticked = d(ticked, leading);
    r.mem_snap = d(mem_snap, ticked);
    r.forged = d(forged, or(mem_snap, leading));
}

/// Builds a timeline from a sequence of events (a convenience over [`TimelineBuilder`]).
pub fn build<'a>(genesis: &Genesis, events: impl IntoIterator<Item = &'a LogObject>) -> Timeline {
    let mut b = TimelineBuilder::new(genesis);
    for o in events {
        b.push(o);
    }
    b.finish()
}

/// The CSV columns: `host`, then locli's slot-timeline column names (§3.4), then a few more.
pub const CSV_COLUMNS: &[&str] = &[
    "host",
    "slot",
    "epochSlot",
    "epoch",
    "safetyInt",
    "block",
    "blockGap",
    "forgeLoop",
    "blockCtx",
    "ledgerState",
    "ledgerView",
    "leadShips",
    "forges",
    "CDBSnap",
    "rejTxs",
    "startDelay",
    "blkCtx",
    "lgrState",
    "lgrView",
    "leadChecked",
    "lgrTicked",
    "mempoolSnap",
    "forge",
    "SpanTxsMem",
    "TxsCollected",
    "TxsAccepted",
    "TxsRejected",
    "chDensity",
    "CPU%",
    "GC%",
    "MUT%",
    "majFlt",
    "minFlt",
    "rssMB",
    "heapMB",
    "liveMB",
    "allocatedMB",
    "mempoolTxs",
    "utxoSize",
    "slotStart",
    "netRdKBs",
    "netWrKBs",
    "fsRdKBs",
    "fsWrKBs",
    "threads",
    "resSamples",
];

/// Writes rows as CSV (one line per slot, [`CSV_COLUMNS`]; an empty cell where a value is
/// missing; times in seconds; rates per second as in [`SlotResources`], so `majFlt`/`minFlt`
/// are major/minor GCs per second and `allocatedMB` is MiB/s; `slotStart` in RFC 3339).
/// `with_header` writes the header line first (once per file when several hosts share one).
pub fn write_csv<'a, W: Write>(
    w: &mut W,
    host: &str,
    rows: impl IntoIterator<Item = &'a SlotStats>,
    with_header: bool,
) -> io::Result<()> {
    if with_header {
        writeln!(w, "{}", CSV_COLUMNS.join(","))?;
    }
    let host = csv_text(host);
    let mut line: Vec<u8> = Vec::with_capacity(512);
    for r in rows {
        line.clear();
        let res = &r.resources;
        let c = &mut line;
        c.extend_from_slice(host.as_bytes());
        for v in [
            r.slot,
            r.epoch_slot,
            u64::from(r.epoch),
            u64::from(r.epoch_safe_int),
        ] {
            cell_u64(c, Some(v));
        }
        cell_u64(c, r.block_no);
        cell_u64(c, r.block_gap.map(u64::from));
        for v in [
            r.count_starts,
            r.count_blk_ctx,
            r.count_lgr_state,
            r.count_lgr_view,
            r.count_leads,
            r.count_forges,
        ] {
            cell_u64(c, Some(u64::from(v)));
        }
        cell_u64(c, Some(u64::from(r.chaindb_snapshots)));
        cell_u64(c, Some(u64::from(r.rejected_txs)));
        // Forge-loop times to the microsecond.
        for v in [
            r.started,
            r.blk_ctx,
            r.lgr_state,
            r.lgr_view,
            r.leading,
            r.ticked,
            r.mem_snap,
            r.forged,
            r.span_txs_mem,
        ] {
            cell_fixed::<6>(c, v.get());
        }
        for v in [r.txs_collected, r.txs_accepted, r.txs_rejected] {
            cell_u64(c, Some(u64::from(v)));
        }
        cell_fixed::<6>(c, r.density.get());
        for v in [
            res.cpu_pct,
            res.gc_pct,
            res.mut_pct,
            res.gcs_major_per_s,
            res.gcs_minor_per_s,
            res.rss_mib,
            res.heap_mib,
            res.live_mib,
            res.alloc_mib_s,
        ] {
            cell_fixed::<3>(c, v.get());
        }
        cell_u64(c, r.mempool_txs.map(u64::from));
        cell_u64(c, r.utxo_size);
        c.push(b',');
        wb_trace::time::write_machine_time(c, r.start);
        for v in [
            res.net_rd_kib_s,
            res.net_wr_kib_s,
            res.fs_rd_kib_s,
            res.fs_wr_kib_s,
        ] {
            cell_fixed::<3>(c, v.get());
        }
        cell_u64(c, res.threads.map(u64::from));
        cell_u64(c, Some(u64::from(res.samples)));
        c.push(b'\n');
        w.write_all(&line)?;
    }
    Ok(())
}

/// Appends a number's digits.
#[inline(always)]
fn push_digits(out: &mut Vec<u8>, mut v: u64, min_width: usize) {
    // Most cells are one digit.
    if v < 10 && min_width <= 1 {
        out.push(b'0' + v as u8);
        return;
    }
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Byte by byte: a `memcpy` call for a few digits costs more.
    for &d in &digits[i.min(digits.len() - min_width)..] {
        out.push(d);
    }
}

/// Appends `,` and a number (nothing for none).
#[inline(always)]
fn cell_u64(out: &mut Vec<u8>, v: Option<u64>) {
    out.push(b',');
    if let Some(v) = v {
        push_digits(out, v, 1);
    }
}

/// Appends `,` and a number rounded to `DECIMALS` places, trailing zeros dropped (nothing for
/// none or a non-finite value). Integer arithmetic: the table has millions of cells, and
/// shortest-float formatting was a fifth of the whole analysis; the places are a constant so
/// that dividing by their power of ten compiles to a multiplication.
#[inline(always)]
fn cell_fixed<const DECIMALS: u32>(out: &mut Vec<u8>, v: Option<f64>) {
    out.push(b',');
    let Some(x) = v.filter(|x| x.is_finite()) else {
        return;
    };
    let scale = 10u64.pow(DECIMALS);
    let y = x.abs() * scale as f64;
    if y >= 1e18 {
        out.extend_from_slice(x.to_string().as_bytes());
        return;
    }
    // `y.round()` without a libm call: the fraction `y - trunc(y)` is exact.
    let whole = y as u64;
    let scaled = whole + u64::from(y - whole as f64 >= 0.5);
    if x < 0.0 && scaled > 0 {
        out.push(b'-');
    }
    push_digits(out, scaled / scale, 1);
    let (mut frac, mut width) = (scaled % scale, DECIMALS as usize);
    if frac > 0 {
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        out.push(b'.');
        push_digits(out, frac, width);
    }
}

/// A CSV cell: quoted when it holds a comma, quote or line break.
fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::GenesisSource;

    const MS: u64 = 1_000_000;
    const T0: u64 = 1_800_000_000_000_000_000;

    fn genesis(slot_ms: u64) -> Genesis {
        Genesis {
            system_start: T0,
            slot_length: slot_ms * MS,
            epoch_length: Some(100),
            security_param: Some(10),
            active_slots_coeff: Some(0.5),
            max_block_body_size: None,
            byron: None,
            source: GenesisSource::Inferred { checks: 0 },
        }
    }

    /// An event on a thread named by letters ("" for none).
    fn on(thread: &str, at_ms: u64, body: Body) -> LogObject {
        LogObject {
            at: T0 + at_ms * MS,
            thread: (!thread.is_empty())
                .then(|| thread.bytes().fold(0, |a, b| a * 256 + u64::from(b))),
            body,
        }
    }

    fn ev(at_ms: u64, body: Body) -> LogObject {
        on("1", at_ms, body)
    }

    fn start(at_ms: u64, slot: u64) -> LogObject {
        ev(
            at_ms,
            Body::StartLeadershipCheck {
                slot,
                utxo_size: None,
                chain_density: None,
            },
        )
    }

    fn cpu_sample(at_ms: u64, centi_cpu: u64) -> LogObject {
        ev(
            at_ms,
            Body::Resources(Box::new(ResourceSample {
                centi_cpu,
                alloc: at_ms << 20,
                rss: 100 << 20,
                threads: 7,
                ..ResourceSample::default()
            })),
        )
    }

    fn row(t: &Timeline, slot: u64) -> &SlotStats {
        t.rows.iter().find(|r| r.slot == slot).unwrap()
    }

    fn close(a: OptF32, b: f64) -> bool {
        a.get().is_some_and(|a| (a - b).abs() < 1e-5)
    }

    #[test]
    fn forge_loop_times_become_locli_deltas_and_counts() {
        let t = build(
            &genesis(1000),
            &[
                ev(
                    5010,
                    Body::StartLeadershipCheck {
                        slot: 5,
                        utxo_size: Some(100),
                        chain_density: Some(0.5),
                    },
                ),
                ev(
                    5015,
                    Body::BlockContext {
                        slot: 5,
                        block_no: 7,
                    },
                ),
                ev(5020, Body::LedgerState { slot: 5 }),
                ev(5030, Body::LedgerView { slot: 5 }),
                ev(
                    5040,
                    Body::LeadershipDecided {
                        slot: 5,
                        leader: true,
                    },
                ),
                ev(5045, Body::TickedLedgerState { slot: 5 }),
                ev(5060, Body::MempoolSnapshot { slot: 5 }),
                ev(
                    5100,
                    Body::BlockForged {
                        slot: 5,
                        block_no: 8,
                        block: "b".into(),
                        prev: "a".into(),
                    },
                ),
                // No ledger view: leadership relative to the start.
                start(6010, 6),
                ev(
                    6020,
                    Body::LeadershipDecided {
                        slot: 6,
                        leader: false,
                    },
                ),
                // No mempool snapshot: forged relative to the leadership decision.
                start(7002, 7),
                ev(
                    7010,
                    Body::LeadershipDecided {
                        slot: 7,
                        leader: true,
                    },
                ),
                ev(
                    7050,
                    Body::BlockForged {
                        slot: 7,
                        block_no: 9,
                        block: "c".into(),
                        prev: "b".into(),
                    },
                ),
            ],
        );
        assert_eq!(t.rows.len(), 3);
        let r = row(&t, 5);
        assert_eq!(
            (
                r.count_starts,
                r.count_blk_ctx,
                r.count_lgr_state,
                r.count_lgr_view
            ),
            (1, 1, 1, 1)
        );
        assert_eq!((r.count_leads, r.count_forges), (1, 1));
        assert!(close(r.started, 0.010));
        assert!(close(r.blk_ctx, 0.005));
        assert!(close(r.lgr_state, 0.005));
        assert!(close(r.lgr_view, 0.010));
        assert!(close(r.leading, 0.010));
        assert!(close(r.ticked, 0.005));
        assert!(close(r.mem_snap, 0.015));
        assert!(close(r.forged, 0.040));
        assert_eq!((r.block_no, r.utxo_size), (Some(7), Some(100)));
        assert!(close(r.density, 0.5));
        assert_eq!((r.epoch, r.epoch_slot), (0, 5));
        assert_eq!(r.start, T0 + 5000 * MS);
        let r = row(&t, 6);
        assert_eq!(r.count_leads, 0);
        assert!(close(r.leading, 0.010), "{:?}", r.leading);
        assert!(!r.blk_ctx.is_some() && !r.forged.is_some());
        // Carried forward from slot 5.
        assert_eq!((r.block_no, r.utxo_size), (Some(7), Some(100)));
        let r = row(&t, 7);
        assert!(close(r.forged, 0.040));
    }

    #[test]
    fn gaps_of_any_length_are_patched_carrying_levels_forward() {
        // locli aborts on a gap of 1000 slots or more; this one is 2499 slots.
        let t = build(
            &genesis(1000),
            &[
                cpu_sample(1000, 1000),
                ev(
                    2010,
                    Body::StartLeadershipCheck {
                        slot: 2,
                        utxo_size: Some(50),
                        chain_density: Some(0.25),
                    },
                ),
                ev(
                    2020,
                    Body::BlockContext {
                        slot: 2,
                        block_no: 7,
                    },
                ),
                cpu_sample(2100, 1050),
                ev(2200, Body::MempoolTxs(3)),
                start(2_502_005, 2502),
            ],
        );
        assert_eq!(t.rows.len(), 2502);
        assert_eq!(t.rows.first().unwrap().slot, 1);
        assert_eq!(t.rows.last().unwrap().slot, 2502);
        assert_eq!(t.counters.gap_slots, 2499);
        assert!(t.rows.windows(2).all(|w| w[1].slot == w[0].slot + 1));
        let sampled = row(&t, 2);
        assert_eq!(sampled.resources.samples, 1);
        assert!(sampled.resources.alloc_mib_s.is_some());
        for s in [3, 1000, 2501, 2502] {
            let r = row(&t, s);
            assert_eq!(r.mempool_txs, Some(3), "slot {s}");
            assert_eq!((r.utxo_size, r.block_no), (Some(50), Some(7)));
            assert!(close(r.density, 0.25));
            assert_eq!(r.resources.samples, 0);
            assert_eq!(r.resources.rss_mib, sampled.resources.rss_mib);
            assert_eq!(r.resources.threads, Some(7));
            assert_eq!(r.resources.cpu_pct, sampled.resources.cpu_pct);
            assert!(!r.resources.alloc_mib_s.is_some(), "rates stay absent");
            assert_eq!(r.count_starts, u16::from(s == 2502));
        }
    }

    #[test]
    fn mempool_and_tx_events_go_to_their_own_slot_not_the_latest() {
        // locli puts all of these in slot 10, the latest slot a check or sample created.
        let t = build(
            &genesis(1000),
            &[
                start(10_005, 10),
                ev(11_200, Body::TookSnapshot),
                ev(
                    11_300,
                    Body::LedgerMetrics {
                        slot: 11,
                        utxo_size: Some(999),
                        chain_density: Some(0.1),
                    },
                ),
                on("a", 12_100, Body::TxsCollected(5)),
                on(
                    "a",
                    12_400,
                    Body::TxsProcessed {
                        accepted: 4,
                        rejected: 1,
                    },
                ),
                ev(12_500, Body::MempoolTxs(4)),
                ev(12_600, Body::MempoolRejectedTx),
            ],
        );
        assert_eq!(t.rows.len(), 3);
        let r10 = row(&t, 10);
        assert_eq!(
            (r10.chaindb_snapshots, r10.mempool_txs, r10.txs_collected),
            (0, None, 0)
        );
        assert_eq!(r10.utxo_size, None);
        let r11 = row(&t, 11);
        assert_eq!((r11.chaindb_snapshots, r11.utxo_size), (1, Some(999)));
        let r12 = row(&t, 12);
        assert_eq!(r12.mempool_txs, Some(4));
        assert_eq!(r12.rejected_txs, 1);
        assert_eq!(
            (r12.txs_collected, r12.txs_accepted, r12.txs_rejected),
            (5, 4, 1)
        );
        assert!(close(r12.span_txs_mem, 0.3));
        assert_eq!(r12.utxo_size, Some(999), "carried from slot 11");
        assert_eq!(t.counters.processed_without_collected, 0);
    }

    #[test]
    fn processed_without_collected_adds_no_span() {
        let processed = |thread, at| {
            on(
                thread,
                at,
                Body::TxsProcessed {
                    accepted: 1,
                    rejected: 0,
                },
            )
        };
        let t = build(
            &genesis(1000),
            &[
                start(1_001, 1),
                // Nothing collected on thread b (locli: +1.0 s).
                processed("b", 1_500),
                // Collected on c, processed on d: no pair.
                on("c", 2_100, Body::TxsCollected(2)),
                processed("d", 2_200),
                // No thread ids at all: nothing pairs.
                on("", 3_100, Body::TxsCollected(1)),
                processed("", 3_200),
                // A real pair, and a second Processed on its thread.
                on("e", 4_100, Body::TxsCollected(1)),
                processed("e", 4_350),
                processed("e", 4_400),
            ],
        );
        for s in 1..=3 {
            assert_eq!(row(&t, s).span_txs_mem, OptF32::NONE, "slot {s}");
            assert_eq!(row(&t, s).txs_accepted, 1);
        }
        assert!(close(row(&t, 4).span_txs_mem, 0.25));
        assert_eq!(row(&t, 4).txs_accepted, 2);
        assert_eq!(t.counters.processed_without_collected, 4);
    }

    #[test]
    fn late_and_out_of_order_lines_land_in_their_slots() {
        let mut events: Vec<LogObject> = (20..=24).map(|s| start(s * 1000 + 3, s)).collect();
        events.push(cpu_sample(24_500, 100));
        // The tail of a log, out of order: a ledger view for slot 21, an earlier resource
        // sample, a check for a slot before the first, a line from before the system start.
        events.push(ev(21_020, Body::LedgerView { slot: 21 }));
        events.push(ev(
            24_900,
            Body::BlockContext {
                slot: 22,
                block_no: 3,
            },
        ));
        events.push(cpu_sample(23_500, 50));
        events.push(start(18_004, 18));
        events.push(LogObject {
            at: T0 - 5 * MS,
            ..start(0, 0)
        });
        // A forge-loop event for a slot far ahead of its time: skipped, not thousands of rows.
        events.push(start(25_000, 90_000));
        let t = build(&genesis(1000), &events);
        assert_eq!(t.rows.first().unwrap().slot, 18);
        assert_eq!(t.rows.last().unwrap().slot, 24);
        assert_eq!(t.rows.len(), 7);
        assert_eq!(row(&t, 21).count_lgr_view, 1);
        // No ledger state for slot 21: its view has nothing to be a delta from.
        assert!(!row(&t, 21).lgr_view.is_some());
        assert_eq!(row(&t, 22).block_no, Some(3));
        assert_eq!(row(&t, 18).count_starts, 1);
        assert_eq!(row(&t, 19).count_starts, 0);
        let c = &t.counters;
        assert_eq!(c.prepended_slots, 2);
        assert_eq!(c.late_events, 3);
        assert_eq!(c.resources_out_of_order, 1);
        assert_eq!(c.before_system_start, 1);
        assert_eq!(c.future_slot, 1);
        assert_eq!(
            t.rows
                .iter()
                .map(|r| u64::from(r.count_starts))
                .sum::<u64>(),
            6
        );
    }

    #[test]
    fn first_resource_sample_is_a_base_and_samples_in_one_slot_merge() {
        let t = build(
            &genesis(1000),
            &[
                cpu_sample(3_000, 1_000),
                cpu_sample(4_000, 1_050),
                cpu_sample(5_250, 1_175),
                cpu_sample(5_750, 1_200),
            ],
        );
        let r3 = &row(&t, 3).resources;
        assert_eq!(r3.samples, 1);
        assert!(!r3.cpu_pct.is_some(), "no rate from the first sample");
        assert!(close(r3.rss_mib, 100.0));
        assert!(close(row(&t, 4).resources.cpu_pct, 50.0));
        // 100 % over 1.25 s and 50 % over 0.5 s: 85.71 % over the slot's 1.75 s.
        let r5 = &row(&t, 5).resources;
        assert_eq!(r5.samples, 2);
        assert!(close(r5.cpu_pct, 150.0 / 1.75), "{:?}", r5.cpu_pct);
        assert!((f64::from(r5.interval_s) - 1.75).abs() < 1e-6);
    }

    #[test]
    fn block_gap_counts_slots_since_the_tip_changed() {
        let ctx = |slot: u64, block_no| ev(slot * 200 + 5, Body::BlockContext { slot, block_no });
        let t = build(
            &genesis(200),
            &[
                ctx(10, 1),
                ctx(11, 1),
                ctx(12, 2),
                ctx(13, 2),
                start(16 * 200 + 1, 16),
            ],
        );
        let gaps: Vec<Option<u32>> = t.rows.iter().map(|r| r.block_gap).collect();
        assert_eq!(
            gaps,
            [None, None, Some(0), Some(1), Some(2), Some(3), Some(4)]
        );
        // A relay logs no block contexts: its adoptions restart the gap.
        let adopt = |ms: u64| {
            ev(
                ms,
                Body::AddedToCurrentChain {
                    block: "b".into(),
                    size: None,
                    chain_length_delta: 1,
                    tip: Default::default(),
                    headers: Vec::new(),
                },
            )
        };
        let t = build(
            &genesis(200),
            &[
                start(10 * 200 + 1, 10),
                adopt(10 * 200 + 50),
                start(11 * 200 + 1, 11),
                start(12 * 200 + 1, 12),
                start(13 * 200 + 1, 13),
                adopt(13 * 200 + 90),
                start(14 * 200 + 1, 14),
            ],
        );
        let gaps: Vec<Option<u32>> = t.rows.iter().map(|r| r.block_gap).collect();
        assert_eq!(gaps, [Some(0), Some(1), Some(2), Some(0), Some(1)]);
    }

    #[test]
    fn generator_summary_and_csv() {
        let t = build(
            &genesis(1000),
            &[
                start(1_001, 1),
                ev(
                    1_500,
                    Body::GeneratorSummary {
                        no_failures: true,
                        sent: 100,
                        elapsed: 10.0,
                        threadwise_tps: vec![5.0, 5.0],
                    },
                ),
                start(3_001, 3),
            ],
        );
        assert_eq!(t.run_scalars.as_ref().map(|r| r.submitted), Some(100));
        let mut out = Vec::new();
        write_csv(&mut out, "node-1", &t.rows, true).unwrap();
        write_csv(&mut out, "a,b", &t.rows[..1], false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(
            lines[0].starts_with("host,slot,epochSlot,epoch,safetyInt,block,blockGap,forgeLoop")
        );
        assert!(
            lines
                .iter()
                .all(|l| l.matches(',').count() == CSV_COLUMNS.len() - 1 || l.starts_with('"'))
        );
        // Slot 2 is a gap row: no start, no forge-loop times, empty cells.
        assert!(lines[2].starts_with("node-1,2,2,0,0,,,0,"), "{}", lines[2]);
        assert!(lines[1].contains(",0.001,"), "{}", lines[1]);
        assert!(lines[4].starts_with("\"a,b\",1,"));
    }
}

#[cfg(test)]
mod size {
    #[test]
    fn rows_stay_compact() {
        let n = std::mem::size_of::<super::SlotStats>();
        // 100k slots of a host: some 22 MB.
        assert!(n <= 224, "SlotStats is {n} bytes");
    }

    #[test]
    fn table_numbers_are_fixed_point_without_trailing_zeros() {
        use crate::timeline::{cell_fixed, cell_u64};
        let cell = |v: Option<f64>, d| {
            let mut out = Vec::new();
            match d {
                3 => cell_fixed::<3>(&mut out, v),
                _ => cell_fixed::<6>(&mut out, v),
            }
            String::from_utf8(out).unwrap()
        };
        assert_eq!(cell(Some(0.00141108), 6), ",0.001411");
        assert_eq!(cell(Some(12.5), 3), ",12.5");
        assert_eq!(cell(Some(3.0), 3), ",3");
        assert_eq!(cell(Some(-0.0205), 3), ",-0.021");
        assert_eq!(cell(Some(-0.0001), 3), ",0");
        assert_eq!(cell(Some(0.000001), 6), ",0.000001");
        assert_eq!(cell(None, 3), ",");
        assert_eq!(cell(Some(f64::NAN), 3), ",");
        // Rounding is `f64::round`'s (half away from zero), whatever the value.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 3 {
                0 => (x % 1_000_000) as f64 / 2000.0, // many exact halves at 3 places
                1 => f64::from_bits(x >> 2) % 1e9,
                _ => (x % 100_000) as f64 * 1e-7,
            };
            let text = cell(Some(v), 3);
            let got: f64 = text[1..].parse().unwrap();
            let want = (v.abs() * 1000.0).round() / 1000.0;
            assert!((got - want).abs() <= want * 1e-15, "{v}: {text} vs {want}");
        }
        let mut out = Vec::new();
        cell_u64(&mut out, Some(1_234_567));
        cell_u64(&mut out, Some(0));
        cell_u64(&mut out, None);
        assert_eq!(out, b",1234567,0,");
    }
}
