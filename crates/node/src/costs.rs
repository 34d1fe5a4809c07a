//! What cardano-node's work costs, charged to the emulated node: the emulated node forges and
//! validates a full block in well under a millisecond, where cardano-node spends tens of
//! milliseconds ticking the ledger, snapshotting the mempool, building the block and applying
//! a received block's transactions. Without those costs a cluster diffuses blocks faster than
//! any real one.
//!
//! A calibration names a linear cost per phase, `base + per_tx·txs + per_kb·kilobytes`, fitted
//! to real nodes' logs and published figures (`calibration/` in this crate: the data points
//! with their sources, the fitting script and its output, embedded here). A cost is charged as
//! waiting time (the default: one machine still holds 52 nodes) or as burnt CPU (for studies
//! of CPU contention). Validation of received blocks is serial per node, as cardano-node's
//! chain selection is one thread.
//!
//! Config key `NodeCosts`:
//!
//! ```yaml
//! NodeCosts: {calibration: cardano-node-10, mode: wait}
//! ```

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The calibrations there are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Calibration {
    /// No costs: the emulated node's own speed.
    #[default]
    None,
    /// cardano-node 10.x on the cloud benchmark's machines (`calibration/cardano-node-10.json`).
    #[serde(rename = "cardano-node-10")]
    CardanoNode10,
}

/// How a cost is charged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostMode {
    /// The node waits (no CPU used).
    #[default]
    Wait,
    /// The node keeps a core busy for the time.
    Burn,
}

/// A node's cost settings (config key `NodeCosts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// The calibration.
    pub calibration: Calibration,
    /// How costs are charged.
    pub mode: CostMode,
}

/// The phases that cost something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The leadership check (VRF evaluation), every slot.
    Leadership,
    /// Ticking the ledger to the slot (`ForgeTickedLedgerState`).
    Tick,
    /// The mempool snapshot for the block (`ForgingMempoolSnapshot`), by the transactions it yields for the block.
    Snapshot,
    /// Building and signing the block (`ForgedBlock`).
    Forge,
    /// Adding the node's own block to its chain (`AdoptedBlock`).
    AdoptForged,
    /// Validating a fetched block and adding it (fetched → `AddedToCurrentChain`).
    AdoptFetched,
}

/// One phase's linear cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Linear {
    /// Fixed part, ms.
    pub base_ms: f64,
    /// Per transaction, ms.
    pub per_tx_ms: f64,
    /// Per kilobyte (1000 bytes) of block, ms.
    pub per_kb_ms: f64,
}

impl Linear {
    /// The cost of `txs` transactions in `bytes`.
    pub fn at(&self, txs: usize, bytes: usize) -> Duration {
        let ms = self.base_ms + self.per_tx_ms * txs as f64 + self.per_kb_ms * bytes as f64 / 1e3;
        Duration::from_secs_f64(ms.max(0.0) / 1e3)
    }
}

/// A calibration's per-phase costs, as the fitting script writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostTable {
    /// The calibration's name.
    pub name: String,
    /// Costs by phase: `leadership`, `tick`, `snapshot`, `forge`, `adopt_forged`,
    /// `adopt_fetched`.
    pub leadership: Linear,
    /// See [`Phase::Tick`].
    pub tick: Linear,
    /// See [`Phase::Snapshot`].
    pub snapshot: Linear,
    /// See [`Phase::Forge`].
    pub forge: Linear,
    /// See [`Phase::AdoptForged`].
    pub adopt_forged: Linear,
    /// See [`Phase::AdoptFetched`].
    pub adopt_fetched: Linear,
}

const CARDANO_NODE_10: &str = include_str!("../calibration/cardano-node-10.json");

impl CostTable {
    /// The table of a calibration (`None`: every cost zero).
    pub fn of(c: Calibration) -> CostTable {
        match c {
            Calibration::None => CostTable::default(),
            // Embedded and parsed by a test, so a failure is a build defect.
            Calibration::CardanoNode10 => {
                serde_json::from_str::<CostFile>(CARDANO_NODE_10)
                    .expect("embedded cardano-node-10.json is valid")
                    .costs
            }
        }
    }

    /// One phase's cost.
    pub fn phase(&self, p: Phase) -> &Linear {
        match p {
            Phase::Leadership => &self.leadership,
            Phase::Tick => &self.tick,
            Phase::Snapshot => &self.snapshot,
            Phase::Forge => &self.forge,
            Phase::AdoptForged => &self.adopt_forged,
            Phase::AdoptFetched => &self.adopt_fetched,
        }
    }
}

/// The calibration file: the fitted costs and what they were fitted to.
#[derive(Debug, Deserialize)]
struct CostFile {
    costs: CostTable,
}

/// A node's costs at run time.
#[derive(Debug)]
pub struct Costs {
    table: CostTable,
    mode: CostMode,
    none: bool,
    /// When the node's chain selection is free again (validation is serial).
    validator_free: Mutex<Option<Instant>>,
    /// What the emulated node's own block validation takes, ms per kilobyte (a running
    /// average): the calibrated cost is the whole phase, so the node's own work counts in it.
    own_validation_ms_per_kb: Mutex<Option<f64>>,
}

impl Costs {
    /// The costs of a configuration.
    pub fn new(c: CostConfig) -> Costs {
        Costs {
            table: CostTable::of(c.calibration),
            mode: c.mode,
            none: c.calibration == Calibration::None,
            validator_free: Mutex::new(None),
            own_validation_ms_per_kb: Mutex::new(None),
        }
    }

    /// Whether nothing is charged.
    pub fn is_none(&self) -> bool {
        self.none
    }

    /// The cost of a phase for `txs` transactions in `bytes`.
    pub fn of(&self, p: Phase, txs: usize, bytes: usize) -> Duration {
        if self.none {
            return Duration::ZERO;
        }
        self.table.phase(p).at(txs, bytes)
    }

    /// Charges a phase: waits or burns its cost.
    pub async fn charge(&self, p: Phase, txs: usize, bytes: usize) {
        let d = self.of(p, txs, bytes);
        self.spend(Instant::now() + d).await;
    }

    /// Charges what is left of a phase's cost after the node's own work took `spent` of it: a
    /// calibrated cost is the whole phase, not an addition to the emulated node's work.
    pub async fn charge_rest(&self, p: Phase, txs: usize, bytes: usize, spent: Duration) {
        let d = self.of(p, txs, bytes).saturating_sub(spent);
        self.spend(Instant::now() + d).await;
    }

    /// Records how long the node's own validation of a block of `bytes` took.
    pub fn record_validation(&self, bytes: usize, took: Duration) {
        if self.none || bytes == 0 {
            return;
        }
        let per_kb = took.as_secs_f64() * 1e3 / (bytes as f64 / 1000.0);
        let mut avg = self
            .own_validation_ms_per_kb
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *avg = Some(avg.map_or(per_kb, |a| 0.8 * a + 0.2 * per_kb));
    }

    /// Reserves the validator for a fetched block handed over `now`: when its validation ends
    /// (after the blocks before it), less what the node's own validation, still to come, is
    /// expected to take.
    pub fn validation_done(&self, now: Instant, txs: usize, bytes: usize) -> Instant {
        let own = self
            .own_validation_ms_per_kb
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(0.0, |a| a * bytes as f64 / 1000.0);
        let d = self
            .of(Phase::AdoptFetched, txs, bytes)
            .saturating_sub(Duration::from_secs_f64(own / 1e3));
        let mut free = self
            .validator_free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let done = free.map_or(now, |f| f.max(now)) + d;
        *free = Some(done);
        done
    }

    /// Spends the time until `until`, as the mode says.
    pub async fn spend(&self, until: Instant) {
        if until <= Instant::now() {
            return;
        }
        match self.mode {
            CostMode::Wait => tokio::time::sleep_until(until).await,
            CostMode::Burn => {
                let until = until.into_std();
                let _ = tokio::task::spawn_blocking(move || {
                    while std::time::Instant::now() < until {
                        std::hint::spin_loop();
                    }
                })
                .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_calibration_parses_and_grows_with_the_block() {
        let t = CostTable::of(Calibration::CardanoNode10);
        assert_eq!(t.name, "cardano-node-10");
        for p in [Phase::Snapshot, Phase::Forge, Phase::AdoptFetched] {
            let empty = t.phase(p).at(0, 900);
            let full = t.phase(p).at(240, 88_000);
            assert!(full > empty, "{p:?}: {full:?} <= {empty:?}");
        }
        assert_eq!(
            CostTable::of(Calibration::None).forge.at(240, 88_000),
            Duration::ZERO
        );
    }

    #[test]
    fn validation_is_serial() {
        let c = Costs::new(CostConfig {
            calibration: Calibration::CardanoNode10,
            mode: CostMode::Wait,
        });
        let d = c.of(Phase::AdoptFetched, 100, 40_000);
        let t0 = Instant::now();
        assert_eq!(c.validation_done(t0, 100, 40_000), t0 + d);
        // A second block fetched at the same moment waits for the first.
        assert_eq!(c.validation_done(t0, 100, 40_000), t0 + d * 2);
    }

    #[test]
    fn the_nodes_own_validation_counts_toward_the_cost() {
        let c = Costs::new(CostConfig {
            calibration: Calibration::CardanoNode10,
            mode: CostMode::Wait,
        });
        let d = c.of(Phase::AdoptFetched, 100, 40_000);
        // Our own validation took 0.25 ms per KB: 10 ms of a 40 KB block's cost is ours.
        c.record_validation(20_000, Duration::from_millis(5));
        let t0 = Instant::now();
        let done = c.validation_done(t0, 100, 40_000);
        let left = done - t0;
        assert!(
            left + Duration::from_millis(10) >= d && left + Duration::from_millis(9) < d,
            "{left:?} of {d:?}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_phase_charges_only_what_the_nodes_own_work_left() {
        let c = Costs::new(CostConfig {
            calibration: Calibration::CardanoNode10,
            mode: CostMode::Wait,
        });
        let cost = c.of(Phase::Tick, 0, 0);
        let t0 = Instant::now();
        // Our work already took longer than the phase costs: nothing more to wait.
        c.charge_rest(Phase::Tick, 0, 0, cost * 2).await;
        assert!(t0.elapsed() < cost / 2, "{:?}", t0.elapsed());
        let t1 = Instant::now();
        c.charge_rest(Phase::Tick, 0, 0, cost / 2).await;
        assert!(t1.elapsed() >= cost / 2, "{:?}", t1.elapsed());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn both_modes_take_the_cost() {
        for mode in [CostMode::Wait, CostMode::Burn] {
            let c = Costs::new(CostConfig {
                calibration: Calibration::CardanoNode10,
                mode,
            });
            let cost = c.of(Phase::AdoptFetched, 240, 88_000);
            assert!(cost > Duration::from_millis(1));
            let t0 = Instant::now();
            c.charge(Phase::AdoptFetched, 240, 88_000).await;
            assert!(
                t0.elapsed() >= cost,
                "{mode:?}: {:?} < {cost:?}",
                t0.elapsed()
            );
        }
    }

    /// This process's CPU time (user + system) from `/proc/self/stat`, in clock ticks of 10 ms.
    fn cpu_ticks() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn burn_uses_the_cpu_and_wait_does_not() {
        let cpu_of = |mode| async move {
            let c = Costs::new(CostConfig {
                calibration: Calibration::CardanoNode10,
                mode,
            });
            let before = cpu_ticks();
            // Twenty ticks of the ledger: ~465 ms.
            for _ in 0..20 {
                c.charge(Phase::Tick, 0, 0).await;
            }
            cpu_ticks() - before
        };
        let burnt = cpu_of(CostMode::Burn).await;
        let waited = cpu_of(CostMode::Wait).await;
        // Other tests of this binary may run meanwhile and add their CPU to either figure.
        assert!(burnt >= 30, "burn used {burnt} ticks of ~46");
        assert!(waited * 2 < burnt, "wait used {waited} ticks, burn {burnt}");
    }

    #[test]
    fn settings_read_as_the_config_writes_them() {
        let c: CostConfig =
            serde_json::from_str(r#"{"calibration":"cardano-node-10","mode":"burn"}"#).unwrap();
        assert_eq!(c.calibration, Calibration::CardanoNode10);
        assert_eq!(c.mode, CostMode::Burn);
        let e = serde_json::from_str::<CostConfig>(r#"{"calibration":"cardano-node-9"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cardano-node-9"), "{e}");
    }
}
