//! A whole generator run: split the genesis funds (each phase confirmed on chain), then submit
//! the benchmark transactions at the target rate to every target, and report honestly.
//!
//! Rate control is by deadlines: transaction `i` is due at `start + i / tps` over all targets
//! together, so a late wake-up is caught up rather than accumulated. The feeder hands each due
//! transaction to whichever submission slot (a connection to a target, `window` per target) is
//! free. Time the feeder spends waiting for the builder is the generator's fault; time it
//! spends waiting for a free slot is the targets'. A run that misses its rate mostly for the
//! first reason is flagged `generatorBound`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use wb_ledger::crypto;
use wb_ledger::genesis::Genesis;
use wb_ledger::tx::TxIn;
use wb_ledger::wallet::Wallet;
use wb_trace::Tracer;

use crate::build::{self, FeePolicy, Padding, SignedTx, WorkloadConfig};
use crate::config::TxgenConfig;
use crate::events::{Summary, TxgenEvent};
use crate::follow::ChainWatch;
use crate::plan::{self, SplitTarget};
use crate::submit::LocalSubmitter;

/// Generator wallets the split pays to and the workload spends from.
const WALLETS: usize = 10;

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Setup: genesis, keys, funds.
    #[error("{0}")]
    Setup(String),
    /// A split phase failed.
    #[error("{0}")]
    Phase(String),
}

/// The generator wallets: fixed seeds, so a run is repeatable.
pub fn generator_wallets(network: u8) -> Vec<Wallet> {
    (0..WALLETS)
        .map(|i| {
            Wallet::from_seed(
                crypto::blake2b_256(format!("wb-txgen wallet {i}").as_bytes()),
                network,
            )
        })
        .collect()
}

/// Runs the generator; the summary is also traced as `Benchmark.BenchTxSubSummary`.
pub async fn run(cfg: &TxgenConfig, tracer: &Tracer<TxgenEvent>) -> Result<Summary, RunError> {
    let genesis =
        Genesis::from_file(&cfg.genesis_file).map_err(|e| RunError::Setup(e.to_string()))?;
    let params = genesis.protocol_params.clone();
    let magic = genesis.network_magic;
    let seed_text = std::fs::read_to_string(&cfg.sig_key)
        .map_err(|e| RunError::Setup(format!("{}: {e}", cfg.sig_key.display())))?;
    let seed = crypto::from_hex::<32>(seed_text.trim()).ok_or_else(|| {
        RunError::Setup(format!(
            "{}: expected 64 hex characters (a key seed)",
            cfg.sig_key.display()
        ))
    })?;
    let funds_wallet = Wallet::from_seed(seed, genesis.network_id);
    let address = funds_wallet.address();
    let available = genesis
        .initial_funds
        .get(&crypto::hex(&address))
        .copied()
        .ok_or_else(|| {
            RunError::Setup(format!(
                "the address of {} has no initialFunds in {}",
                cfg.sig_key.display(),
                cfg.genesis_file.display()
            ))
        })?;
    let source = (
        TxIn {
            tx_id: crypto::blake2b_256(&address),
            index: 0,
        },
        available,
    );
    let wallets = generator_wallets(genesis.network_id);
    let workload_cfg = WorkloadConfig {
        inputs_per_tx: cfg.inputs_per_tx,
        outputs_per_tx: cfg.outputs_per_tx,
        fee: cfg.tx_fee.map_or(FeePolicy::Minimum, FeePolicy::Fixed),
        padding: cfg.add_tx_size.map_or(Padding::None, Padding::Add),
        min_recycle_lag: 0,
    };
    let value = cfg.min_utxo_value.max(workload_cfg.min_fund_value(&params));
    let target = SplitTarget {
        utxos: cfg.tx_count * cfg.inputs_per_tx as u64,
        value,
        fan_out: cfg.fan_out,
    };
    let split = plan::plan_split(source, &funds_wallet, &wallets, &target, &params)
        .map_err(|e| RunError::Setup(e.to_string()))?;

    let watch = ChainWatch::start(&cfg.chain_follow, magic)
        .await
        .map_err(|e| RunError::Setup(e.to_string()))?;
    let mut setup = LocalSubmitter::connect(&cfg.local_node_socket_path, magic)
        .await
        .map_err(|e| RunError::Setup(e.to_string()))?;
    for (n, phase) in split.phases().iter().enumerate() {
        let started = Instant::now();
        for tx in phase {
            match setup.submit(tx.bytes.clone()).await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => {
                    let message = format!(
                        "split phase {}: the node rejected a transaction: {reason}",
                        n + 1
                    );
                    tracer.trace(&TxgenEvent::Error {
                        message: message.clone(),
                    });
                    return Err(RunError::Phase(message));
                }
                Err(e) => return Err(RunError::Phase(format!("split phase {}: {e}", n + 1))),
            }
        }
        let ids: Vec<[u8; 32]> = phase.iter().map(|t| t.id).collect();
        let missing = watch
            .wait_for(&ids, Duration::from_secs_f64(cfg.phase_timeout))
            .await;
        if missing > 0 {
            let message = format!(
                "split phase {}: {missing} of {} transactions not on chain after {} s",
                n + 1,
                ids.len(),
                cfg.phase_timeout
            );
            tracer.trace(&TxgenEvent::Error {
                message: message.clone(),
            });
            return Err(RunError::Phase(message));
        }
        tracer.trace(&TxgenEvent::PhaseDone {
            phase: format!("split-{}", n + 1),
            txs: ids.len() as u64,
            seconds: started.elapsed().as_secs_f64(),
        });
        tokio::time::sleep(Duration::from_secs_f64(cfg.init_cooldown)).await;
    }
    drop(setup);

    let workload = build::Workload::new(
        wallets,
        split.final_utxos().iter().copied(),
        workload_cfg,
        params,
    )
    .map_err(|e| RunError::Setup(e.to_string()))?;
    let builder = build::spawn_builder(workload, Some(cfg.tx_count), 4096)
        .map_err(|e| RunError::Setup(e.to_string()))?;
    Ok(benchmark_phase(cfg, tracer, builder, Some(&watch)).await)
}

/// Counters shared by the submission slots.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    reasons: Mutex<BTreeMap<String, u64>>,
    failures: Mutex<Vec<String>>,
    accepted_ids: Mutex<Vec<[u8; 32]>>,
    last_answer: Mutex<Option<Instant>>,
}

impl Counters {
    /// Records why part of the run stopped; the report lists every one.
    fn fail(&self, message: String) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message);
    }
}

/// The benchmark phase alone: submits what `builder` produces to the targets at `cfg.tps`, then
/// (with a `watch`) waits for the accepted transactions to be on chain.
pub async fn benchmark_phase(
    cfg: &TxgenConfig,
    tracer: &Tracer<TxgenEvent>,
    builder: build::Builder,
    watch: Option<&ChainWatch>,
) -> Summary {
    let cpu_before = wb_trace::resources::read_resource_stats()
        .centi_cpu
        .unwrap_or(0);
    // The builder's thread hands transactions to the async side.
    let (built_tx, mut built_rx) = mpsc::channel::<SignedTx>(1024);
    let counters = Arc::new(Counters::default());
    let bridge = {
        let (counters, tracer) = (counters.clone(), tracer.clone());
        std::thread::spawn(move || {
            while let Some(item) = builder.recv() {
                match item {
                    Ok(tx) => {
                        if built_tx.blocking_send(tx).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        // The builder's error is its last item: the run ends short, and says why.
                        let message = format!("building transactions: {e}");
                        tracer.trace(&TxgenEvent::Error {
                            message: message.clone(),
                        });
                        counters.fail(message);
                        break;
                    }
                }
            }
        })
    };
    let slots = cfg.target_nodes.len() * cfg.window;
    let (work_tx, work_rx) = mpsc::channel::<SignedTx>(slots);
    let work_rx = Arc::new(tokio::sync::Mutex::new(work_rx));
    let per_target: Vec<Arc<AtomicU64>> = cfg
        .target_nodes
        .iter()
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let mut workers = Vec::new();
    let magic = Genesis::from_file(&cfg.genesis_file)
        .map(|g| g.network_magic)
        .unwrap_or(0);
    for (t, target) in cfg.target_nodes.iter().enumerate() {
        for _ in 0..cfg.window {
            let (counters, work_rx, accepted_here) =
                (counters.clone(), work_rx.clone(), per_target[t].clone());
            let name = target
                .name
                .clone()
                .unwrap_or_else(|| target.socket.display().to_string());
            let socket = target.socket.clone();
            let tracer = tracer.clone();
            workers.push(tokio::spawn(async move {
                let mut conn = match LocalSubmitter::connect(&socket, magic).await {
                    Ok(c) => c,
                    Err(e) => {
                        counters.fail(format!("{name}: {e}"));
                        return;
                    }
                };
                loop {
                    let next = work_rx.lock().await.recv().await;
                    let Some(tx) = next else { return };
                    let id = tx.id;
                    match conn.submit(tx.bytes).await {
                        Ok(Ok(())) => {
                            counters.accepted.fetch_add(1, Relaxed);
                            accepted_here.fetch_add(1, Relaxed);
                            counters
                                .accepted_ids
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(id);
                        }
                        Ok(Err(reason)) => {
                            counters.rejected.fetch_add(1, Relaxed);
                            let first = {
                                let mut r = counters
                                    .reasons
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner);
                                let n = r.entry(reason.clone()).or_insert(0);
                                *n += 1;
                                *n == 1
                            };
                            if first {
                                tracer.trace(&TxgenEvent::Rejected {
                                    target: name.clone(),
                                    reason,
                                });
                            }
                        }
                        Err(e) => {
                            let message = format!("{name}: stopped answering: {e}");
                            tracer.trace(&TxgenEvent::Error {
                                message: message.clone(),
                            });
                            counters.fail(message);
                            return;
                        }
                    }
                    *counters
                        .last_answer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                }
            }));
        }
    }

    // Progress reports.
    let reporter = {
        let (counters, tracer) = (counters.clone(), tracer.clone());
        let every = Duration::from_secs_f64(cfg.report_interval.max(0.05));
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            loop {
                tokio::time::sleep(every).await;
                let sent = counters.sent.load(Relaxed);
                let tps = (sent - last.1) as f64 / last.0.elapsed().as_secs_f64();
                last = (Instant::now(), sent);
                tracer.trace(&TxgenEvent::Progress {
                    sent,
                    accepted: counters.accepted.load(Relaxed),
                    rejected: counters.rejected.load(Relaxed),
                    tps,
                });
            }
        })
    };

    // The feeder: transaction i is due at start + i / tps.
    let start = Instant::now();
    let (mut waited_builder, mut waited_targets) = (Duration::ZERO, Duration::ZERO);
    for i in 0..cfg.tx_count {
        let due = start + Duration::from_secs_f64(i as f64 / cfg.tps);
        tokio::time::sleep_until(due).await;
        let t0 = Instant::now();
        let Some(tx) = built_rx.recv().await else {
            break;
        };
        waited_builder += t0.elapsed();
        let t1 = Instant::now();
        if work_tx.send(tx).await.is_err() {
            break;
        }
        waited_targets += t1.elapsed();
        counters.sent.fetch_add(1, Relaxed);
        if workers.iter().all(|w| w.is_finished()) {
            // Every slot has failed: nobody will take more.
            break;
        }
    }
    drop(work_tx);
    for w in workers {
        let _ = w.await;
    }
    reporter.abort();
    drop(built_rx);
    let _ = tokio::task::spawn_blocking(move || bridge.join()).await;

    let last = counters
        .last_answer
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .unwrap_or(start);
    let elapsed = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-9);
    let sent = counters.sent.load(Relaxed);
    let accepted = counters.accepted.load(Relaxed);
    let achieved_tps = sent as f64 / elapsed;
    let ids = counters
        .accepted_ids
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let failures = counters
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    // Adoption: wait for the accepted transactions to be on chain (not forever).
    let adopt_wait = if failures.is_empty() {
        Duration::from_secs_f64(cfg.phase_timeout)
    } else {
        Duration::from_secs(2)
    };
    let missing = match watch {
        Some(w) => w.wait_for(&ids, adopt_wait).await,
        None => ids.len(),
    };
    let summary = Summary {
        sent,
        accepted,
        rejected: counters.rejected.load(Relaxed),
        adopted: (ids.len() - missing) as u64,
        elapsed,
        requested_tps: cfg.tps,
        achieved_tps,
        per_target_tps: per_target
            .iter()
            .map(|a| a.load(Relaxed) as f64 / elapsed)
            .collect(),
        rejections: counters
            .reasons
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(r, n)| (r.clone(), *n))
            .collect(),
        failures,
        cpu_centis: wb_trace::resources::read_resource_stats()
            .centi_cpu
            .unwrap_or(0)
            .saturating_sub(cpu_before),
        generator_bound: achieved_tps < 0.99 * cfg.tps && waited_builder > waited_targets,
    };
    tracer.trace(&TxgenEvent::Summary(Box::new(summary.clone())));
    summary
}
