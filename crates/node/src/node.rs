//! A running node: its chain, the slot clock with the forging loop, the listener for downstream
//! peers and the connections to upstream peers, and chain selection over what they offer.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wb_ledger::block::{Block, Header, Point};
use wb_ledger::chain::Selection;
use wb_ledger::crypto::{self, Hash32, PoolKey};
use wb_ledger::genesis::Genesis;
use wb_ledger::lottery;

use crate::chaindb::{ChainDb, ChainDbError};
use crate::config::NodeConfig;
use crate::costs::{Costs, Phase};
use crate::events::{ChainDbEvent, ForgeEvent, NodeTracers, SelectView};
use crate::events::{MempoolEvent, MempoolSize};
use crate::link::{LinkConfig, Uplink};
use crate::mempool::Mempool;
use crate::peer;
use crate::pipelining::Tentative;

/// Why a node could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Configuration, genesis or topology.
    #[error("{0}")]
    Config(String),
    /// The chain on disk.
    #[error(transparent)]
    ChainDb(#[from] ChainDbError),
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Why the node stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It reached the configured slot.
    ShutdownSlot(u64),
    /// Its chain reached the configured block number.
    ShutdownBlock(u64),
    /// It was asked to stop (signal or [`Node::stop`]).
    Stopped,
}

/// State shared by the node's tasks.
pub(crate) struct Shared {
    pub(crate) genesis: Genesis,
    pub(crate) db: Mutex<ChainDb>,
    /// Bumped on every chain change; chain-sync servers wait on it. (Updated with `send_modify`
    /// and `send_replace`, which work with no receiver subscribed.)
    pub(crate) tip: watch::Sender<u64>,
    pub(crate) tracers: NodeTracers,
    /// Fetched bodies not (yet) on our chain.
    pub(crate) bodies: Mutex<HashMap<Hash32, (Block, Vec<u8>)>>,
    /// Bodies some connection is fetching now.
    pub(crate) in_flight: Mutex<HashSet<Hash32>>,
    pub(crate) stop: watch::Sender<Option<Exit>>,
    shutdown_block: Option<u64>,
    /// Validated transactions waiting for a block.
    pub(crate) mempool: Mutex<Mempool>,
    /// Bumped whenever a transaction enters the mempool; tx-submission clients wait on it.
    pub(crate) mempool_changed: watch::Sender<u64>,
    /// The link model of every connection.
    pub(crate) link: LinkConfig,
    /// The host's uplink, shared by its connections (`None`: unlimited).
    pub(crate) uplink: Option<Arc<Uplink>>,
    /// cardano-node's costs, charged to this node.
    pub(crate) costs: Costs,
    /// Whether headers are announced while their blocks are validated ([`crate::pipelining`]).
    pub(crate) pipelining: bool,
    /// The block being validated whose header is announced already, if any.
    pub(crate) tentative: Mutex<Option<Tentative>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The selection view of a header, as traced.
fn view(h: &Header) -> SelectView {
    SelectView {
        block_no: h.body.block_no,
        slot: h.body.slot,
        issuer_hash: crypto::blake2b_224(&h.body.issuer_vkey),
        tie_break: h.tie_breaker(),
    }
}

impl Shared {
    /// Number of leading blocks `candidate` shares with our chain.
    fn common_prefix(db: &ChainDb, candidate: &[Header]) -> usize {
        let ours = db.chain();
        // Hash chains share a prefix and then differ: binary search for the boundary.
        let (mut lo, mut hi) = (0usize, candidate.len().min(ours.len() as usize));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if ours
                .get(mid as u64)
                .is_some_and(|h| h.hash() == candidate[mid].hash())
            {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Whether `candidate` (a peer's chain from block 0) is better than ours; with the block
    /// number of the intersection.
    pub(crate) fn prefers(&self, candidate: &[Header]) -> (bool, usize) {
        let db = lock(&self.db);
        let common = Self::common_prefix(&db, candidate);
        let Some(tip) = candidate.last() else {
            return (false, common);
        };
        let better = matches!(
            db.chain().select(
                (common as u64).checked_sub(1),
                candidate.len() as u64,
                &tip.tie_breaker()
            ),
            Ok(Selection::Switch { .. })
        );
        (better, common)
    }

    /// Adopts the best chain obtainable from `candidate` with the bodies at hand, if it beats ours.
    pub(crate) fn try_adopt(&self, candidate: &[Header]) {
        let mut db = lock(&self.db);
        let common = Self::common_prefix(&db, candidate);
        let mut bodies = lock(&self.bodies);
        let usable = candidate[common..]
            .iter()
            .take_while(|h| bodies.contains_key(&h.hash()))
            .count();
        if usable == 0 {
            return;
        }
        let new_len = common + usable;
        let new_tip = &candidate[new_len - 1];
        let intersection = (common as u64).checked_sub(1);
        let rollback = match db
            .chain()
            .select(intersection, new_len as u64, &new_tip.tie_breaker())
        {
            Ok(Selection::Switch { rollback }) => rollback,
            Ok(Selection::Keep) | Err(_) => return,
        };
        let old_tip = db.chain().tip().cloned();
        if rollback > 0 && db.rollback_to(intersection).is_err() {
            return;
        }
        for h in &candidate[common..new_len] {
            let Some((b, bytes)) = bodies.remove(&h.hash()) else {
                break;
            };
            let started = std::time::Instant::now();
            let extended = db.extend(&b, &bytes);
            self.costs.record_validation(bytes.len(), started.elapsed());
            if let Err(e) = extended {
                // A bad body: stop here; what was added stays, the rest is dropped.
                drop(e);
                break;
            }
        }
        let Some(tip) = db.chain().tip().cloned() else {
            return;
        };
        drop(bodies);
        drop(db);
        let new_tip = (tip.hash(), tip.body.slot);
        match (rollback, old_tip) {
            (r, Some(old)) if r > 0 => {
                self.tracers.chain_db.trace(&ChainDbEvent::SwitchedToAFork {
                    new_tip,
                    view: view(&tip),
                    old: view(&old),
                });
            }
            _ => self
                .tracers
                .chain_db
                .trace(&ChainDbEvent::AddedToCurrentChain {
                    new_tip,
                    view: view(&tip),
                }),
        }
        self.chain_changed(&tip);
    }

    /// The slot now (0 before the system start).
    pub(crate) fn current_slot(&self) -> u64 {
        self.genesis
            .slot_at(wb_trace::time::now_unix_nanos())
            .unwrap_or(0)
    }

    /// Validates a transaction against the tip and the mempool and adds it; traces
    /// `Mempool.AddedTx` or `Mempool.RejectedTx`. The error is the reason, one line.
    pub(crate) fn submit_tx(&self, bytes: &[u8]) -> Result<MempoolSize, String> {
        self.try_submit(bytes, false).map_err(|r| match r {
            // Not produced when not waiting; named anyway.
            Refused::Full => "MempoolFull".to_owned(),
            Refused::Reason(r) => r,
        })
    }

    /// As [`submit_tx`](Self::submit_tx), but a local client waits for room when the mempool is
    /// full, as cardano-node's do (its mempool blocks a local submitter until there is space)
    /// rather than being told "full": the generator feels back-pressure, not rejections.
    pub(crate) async fn submit_tx_local(&self, bytes: &[u8]) -> Result<MempoolSize, String> {
        let mut tip = self.tip.subscribe();
        let mut stop = self.stop.subscribe();
        loop {
            tip.borrow_and_update();
            match self.try_submit(bytes, true) {
                Ok(size) => return Ok(size),
                Err(Refused::Reason(r)) => return Err(r),
                // Room appears when a chain change takes transactions out.
                Err(Refused::Full) => tokio::select! {
                    r = tip.changed() => if r.is_err() { return Err("the node is stopping".into()) },
                    _ = stop.changed() => return Err("the node is stopping".into()),
                },
            }
        }
    }

    /// Validates and adds a transaction; with `wait_if_full`, a full mempool is reported as
    /// [`Refused::Full`] (not traced, for the caller to retry after a chain change), otherwise as
    /// a traced rejection.
    pub(crate) fn try_submit(
        &self,
        bytes: &[u8],
        wait_if_full: bool,
    ) -> Result<MempoolSize, Refused> {
        let slot = self.current_slot();
        let decoded = wb_ledger::tx::decode_tx(bytes);
        let result = match decoded {
            Err(e) => Err((None, e.to_string())),
            Ok(tx) => {
                let id = tx.id;
                match tx.check_network(self.genesis.network_id) {
                    Err(e) => Err((Some(id), e.to_string())),
                    Ok(()) => {
                        let db = lock(&self.db);
                        let mut mempool = lock(&self.mempool);
                        match mempool.add(tx, db.utxo(), slot, db.params()) {
                            Err(crate::mempool::AddError::MempoolFull { .. }) if wait_if_full => {
                                return Err(Refused::Full);
                            }
                            r => r
                                .map_err(|e| (Some(id), e.to_string()))
                                .map(|size| (id, size)),
                        }
                    }
                }
            }
        };
        match result {
            Ok((txid, size)) => {
                self.tracers
                    .mempool
                    .trace(&MempoolEvent::AddedTx { txid, size });
                self.mempool_changed.send_modify(|v| *v += 1);
                Ok(size)
            }
            Err((txid, reason)) => {
                let size = lock(&self.mempool).size();
                self.tracers.mempool.trace(&MempoolEvent::RejectedTx {
                    txid,
                    reason: reason.clone(),
                    size,
                });
                Err(Refused::Reason(reason))
            }
        }
    }

    /// After a chain change: drops the transactions now in the chain or no longer valid.
    fn sync_mempool(&self) {
        let slot = self.current_slot();
        let (removed, size) = {
            let db = lock(&self.db);
            let mut mempool = lock(&self.mempool);
            let removed = mempool.sync_with_ledger(db.utxo(), slot, db.params());
            (removed, mempool.size())
        };
        if !removed.is_empty() {
            self.tracers.mempool.trace(&MempoolEvent::RemoveTxs {
                txids: removed,
                size,
            });
        }
    }

    /// Tells the chain-sync servers, and stops the node if the configured block is reached.
    fn chain_changed(&self, tip: &Header) {
        self.outdate_tentative(tip);
        self.sync_mempool();
        self.tip.send_modify(|v| *v += 1);
        if self.shutdown_block.is_some_and(|b| tip.body.block_no >= b) {
            self.stop
                .send_replace(Some(Exit::ShutdownBlock(tip.body.block_no)));
        }
    }
}

/// Why a transaction did not enter the mempool.
pub(crate) enum Refused {
    /// No room now (only reported to callers that wait for room).
    Full,
    /// The reason, one line (traced as `Mempool.RejectedTx`).
    Reason(String),
}

/// A running node.
pub struct Node {
    shared: Arc<Shared>,
    listen_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Node {
    /// Opens the chain, binds the listener, connects to the topology's peers and starts the slot
    /// clock (forging if a pool key is configured).
    pub async fn start(cfg: &NodeConfig, tracers: NodeTracers) -> Result<Node, NodeError> {
        let genesis =
            Genesis::from_file(&cfg.genesis_file).map_err(|e| NodeError::Config(e.to_string()))?;
        let peers = crate::topology::read_topology(&cfg.topology_file)
            .map_err(|e| NodeError::Config(e.to_string()))?;
        let key = match &cfg.pool_key_file {
            Some(p) => Some(
                crate::config::read_pool_key(p).map_err(|e| NodeError::Config(e.to_string()))?,
            ),
            None => None,
        };
        if let Some(k) = &key {
            use wb_ledger::block::LeaderSchedule;
            if genesis
                .schedule()
                .relative_stake(&k.verification_key())
                .is_none()
            {
                return Err(NodeError::Config(format!(
                    "pool key {} is not a pool of {}",
                    crypto::hex(&k.verification_key()),
                    cfg.genesis_file.display()
                )));
            }
        }
        std::fs::create_dir_all(&cfg.database_path)
            .map_err(|e| NodeError::Config(format!("{}: {e}", cfg.database_path.display())))?;
        let (db, _report) = ChainDb::open(&cfg.database_path, &genesis)?;
        let addr = format!("{}:{}", cfg.host_addr, cfg.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| NodeError::Listen {
                addr: addr.clone(),
                source,
            })?;
        let listen_addr = listener
            .local_addr()
            .map_err(|source| NodeError::Listen { addr, source })?;
        let (tip, _) = watch::channel(0);
        let (stop, _) = watch::channel(None);
        // cardano-node's default: twice the largest block body.
        let mempool_capacity = genesis.protocol_params.max_block_body_size * 2;
        let shared = Arc::new(Shared {
            genesis,
            db: Mutex::new(db),
            tip,
            tracers,
            bodies: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            stop,
            shutdown_block: cfg.shutdown_on_block,
            mempool: Mutex::new(Mempool::new(mempool_capacity)),
            mempool_changed: watch::channel(0).0,
            link: cfg.link.clone(),
            uplink: cfg.link.uplink().map(Arc::new),
            costs: Costs::new(cfg.costs),
            pipelining: cfg.pipelining,
            tentative: Mutex::new(None),
        });
        let mut tasks = vec![tokio::spawn(peer::listen(shared.clone(), listener))];
        for p in peers {
            tasks.push(tokio::spawn(peer::connect_loop(shared.clone(), p)));
        }
        tasks.push(tokio::spawn(slot_clock(
            shared.clone(),
            key,
            cfg.shutdown_on_slot,
        )));
        if let Some(path) = &cfg.socket_path {
            let listener = crate::local::bind(path).map_err(|source| NodeError::Listen {
                addr: path.display().to_string(),
                source,
            })?;
            tasks.push(tokio::spawn(crate::local::serve(shared.clone(), listener)));
        }
        Ok(Node {
            shared,
            listen_addr,
            tasks,
        })
    }

    /// The address peers connect to.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// The tip.
    pub fn tip(&self) -> Option<Point> {
        lock(&self.shared.db).chain().tip_point()
    }

    /// The hashes of the chain, from the first block.
    pub fn chain_hashes(&self) -> Vec<Hash32> {
        let db = lock(&self.shared.db);
        (0..db.chain().len())
            .filter_map(|n| db.chain().get(n).map(Header::hash))
            .collect()
    }

    /// The output `input` refers to in the ledger at the tip, if unspent.
    pub fn utxo_get(&self, input: &wb_ledger::tx::TxIn) -> Option<wb_ledger::tx::TxOut> {
        lock(&self.shared.db).utxo().get(input).cloned()
    }

    /// Transactions in the mempool.
    pub fn mempool_size(&self) -> MempoolSize {
        lock(&self.shared.mempool).size()
    }

    /// Validates and adds a transaction to the mempool, as local tx-submission does.
    pub fn submit_tx(&self, bytes: &[u8]) -> Result<MempoolSize, String> {
        self.shared.submit_tx(bytes)
    }

    /// A handle that stops the node from elsewhere (a signal handler).
    pub fn stopper(&self) -> Stopper {
        Stopper(self.shared.stop.clone())
    }

    /// Asks the node to stop.
    pub fn stop(&self) {
        self.shared.stop.send_replace(Some(Exit::Stopped));
    }

    /// Waits until the node stops (configured slot or block, or [`stop`](Self::stop)), then
    /// closes its connections and flushes its chain to disk.
    pub async fn wait(mut self) -> Exit {
        self.wait_ref().await
    }

    /// [`wait`](Self::wait) without giving the node up, so its chain can be read afterwards.
    pub async fn wait_ref(&mut self) -> Exit {
        let mut rx = self.shared.stop.subscribe();
        let exit = loop {
            if let Some(e) = *rx.borrow_and_update() {
                break e;
            }
            if rx.changed().await.is_err() {
                break Exit::Stopped;
            }
        };
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        let _ = lock(&self.shared.db).sync();
        exit
    }
}

/// The slot clock: at the start of every slot, the forging loop's checks (for a pool), and the
/// configured shutdown slot.
async fn slot_clock(shared: Arc<Shared>, key: Option<PoolKey>, shutdown_slot: Option<u64>) {
    use wb_ledger::block::LeaderSchedule;
    let g = &shared.genesis;
    let schedule = g.schedule();
    let stake = key
        .as_ref()
        .and_then(|k| schedule.relative_stake(&k.verification_key()))
        .unwrap_or(0.0);
    let now = wb_trace::time::now_unix_nanos();
    let mut slot = g.slot_at(now).map_or(0, |s| s + 1);
    loop {
        let start = g.slot_start(slot);
        let now = wb_trace::time::now_unix_nanos();
        if start > now {
            tokio::time::sleep(Duration::from_nanos(start - now)).await;
        }
        if shutdown_slot.is_some_and(|s| slot >= s) {
            shared.stop.send_replace(Some(Exit::ShutdownSlot(slot)));
            return;
        }
        if let Some(k) = &key {
            forge_slot(&shared, k, slot, stake, &schedule.nonce_for_slot(slot)).await;
        }
        shared.tracers.ledger.trace(&ledger_metrics(&shared, slot));
        slot += 1;
    }
}

/// `LedgerMetrics` at `slot`: UTxO size, pools, and the density of the newest `k` blocks
/// (blocks per slot over the slots they span).
fn ledger_metrics(shared: &Shared, slot: u64) -> crate::events::LedgerMetrics {
    let db = lock(&shared.db);
    let chain = db.chain();
    let len = chain.len();
    let window = len.min(chain.k().max(1));
    let chain_density = match (
        chain.tip(),
        len.checked_sub(window).and_then(|n| chain.get(n)),
    ) {
        (Some(tip), Some(first)) if window > 0 => {
            window as f64 / (tip.body.slot - first.body.slot + 1) as f64
        }
        _ => 0.0,
    };
    crate::events::LedgerMetrics {
        slot,
        utxo_size: db.utxo().len() as u64,
        deleg_map_size: shared.genesis.pools.len() as u64,
        chain_density,
    }
}

/// One slot of the forging loop, with cardano-node's trace sequence; each phase takes its cost.
async fn forge_slot(shared: &Shared, key: &PoolKey, slot: u64, stake: f64, nonce: &Hash32) {
    let t = &shared.tracers.forge;
    t.trace(&ForgeEvent::StartLeadershipCheck { slot });
    let tip = lock(&shared.db).chain().tip().cloned();
    let prev = tip.as_ref().map(|h| (h.hash(), h.body.slot));
    let next_no = tip.as_ref().map_or(0, |h| h.body.block_no + 1);
    t.trace(&ForgeEvent::BlockContext {
        slot,
        tip: prev,
        tip_block_no: next_no,
    });
    t.trace(&ForgeEvent::LedgerState { slot });
    t.trace(&ForgeEvent::LedgerView { slot });
    let (proof, wins) =
        lottery::check_leader(key, nonce, slot, shared.genesis.active_slots_coeff, stake);
    let costs = &shared.costs;
    costs.charge(Phase::Leadership, 0, 0).await;
    if !wins {
        t.trace(&ForgeEvent::NodeNotLeader { slot });
        return;
    }
    t.trace(&ForgeEvent::NodeIsLeader { slot });
    if tip.as_ref().is_some_and(|h| h.body.slot >= slot) {
        // Our tip is already in this slot (adopted from a peer): nothing to build on.
        return;
    }
    costs.charge(Phase::Tick, 0, 0).await;
    t.trace(&ForgeEvent::ForgeTickedLedgerState { slot, prev });
    // The snapshot is what goes into the block (the calibration is by the block's bytes); each
    // phase's cost includes the emulated node's own work in it.
    let started = std::time::Instant::now();
    let txs: Vec<Vec<u8>> = {
        let db = lock(&shared.db);
        let mempool = lock(&shared.mempool);
        mempool
            .take_for_block(db.params().max_block_body_size)
            .into_iter()
            .map(|t| t.bytes.clone())
            .collect()
    };
    let n_txs = txs.len();
    let tx_bytes = txs.iter().map(Vec::len).sum();
    costs
        .charge_rest(Phase::Snapshot, n_txs, tx_bytes, started.elapsed())
        .await;
    t.trace(&ForgeEvent::ForgingMempoolSnapshot {
        slot,
        prev,
        mempool_hash: prev.map_or([0; 32], |p| p.0),
        mempool_slot: slot,
    });
    let started = std::time::Instant::now();
    let block = Block::forge(key, slot, tip.as_ref(), proof, txs);
    let bytes = block.encode();
    costs
        .charge_rest(Phase::Forge, n_txs, bytes.len(), started.elapsed())
        .await;
    let h = &block.header;
    t.trace(&ForgeEvent::ForgedBlock {
        slot,
        block: h.hash(),
        block_no: h.body.block_no,
        block_prev: h.body.prev_hash,
    });
    // The header goes out before the block is adopted (pipelining), the body served meanwhile.
    shared.set_tentative(h, &bytes);
    // Let the woken chain-sync servers read the chain before validation holds its lock.
    tokio::task::yield_now().await;
    let started = std::time::Instant::now();
    let added = lock(&shared.db).extend(&block, &bytes);
    let validated_in = started.elapsed();
    if added.is_ok() {
        if shared.pipelining {
            // Adopting takes its cost; peers fetch the body from the chain DB meanwhile.
            shared.chain_changed(h);
        }
        costs
            .charge_rest(Phase::AdoptForged, n_txs, bytes.len(), validated_in)
            .await;
        shared
            .tracers
            .chain_db
            .trace(&ChainDbEvent::AddedToCurrentChain {
                new_tip: (h.hash(), slot),
                view: view(h),
            });
        t.trace(&ForgeEvent::AdoptedBlock {
            slot,
            block_hash: h.hash(),
            block_size: bytes.len() as u64,
        });
        if !shared.pipelining {
            shared.chain_changed(h);
        }
    }
    shared.end_tentative(&h.hash());
}

/// Stops a node from another task.
#[derive(Clone)]
pub struct Stopper(watch::Sender<Option<Exit>>);

impl Stopper {
    /// Asks the node to stop (unless it already stopped for another reason).
    pub fn stop(&self) {
        self.0.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(Exit::Stopped);
                true
            } else {
                false
            }
        });
    }
}
