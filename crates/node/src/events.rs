//! The node's trace messages: cardano-node's namespaces, severities, `data` field names and
//! `kind` strings (`shared/design/TRACE-EVENTS.md`), so an analysis cannot tell our logs from a
//! real node's by format. Keys are written in ascending order, as cardano-node's aeson does.

use std::sync::Arc;

use wb_trace::{
    DetailLevel, EventMeta, EventMetrics, JsonObject, MetricDoc, MetricKind, Severity, TraceEvent,
};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// `hash@slot`, as cardano-node writes points.
fn point(o: &mut JsonObject<'_>, key: &str, hash: &Hash, slot: u64) {
    o.display(key, format_args!("{}@{slot}", Hex(hash)));
}

/// Hex display of bytes without allocating.
pub struct Hex<'a>(pub &'a [u8]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn peer(o: &mut JsonObject<'_>, connection_id: &str) {
    o.object("peer", |p| {
        p.str("connectionId", connection_id);
    });
}

/// The forging loop, under `Forge.Loop`, one sequence per slot.
#[derive(Debug, Clone)]
pub enum ForgeEvent {
    /// The loop woke for a slot.
    StartLeadershipCheck {
        /// The slot.
        slot: u64,
    },
    /// The block context: the current slot and the tip it would build on.
    BlockContext {
        /// The slot.
        slot: u64,
        /// The tip's point, `None` at genesis.
        tip: Option<(Hash, u64)>,
        /// The block number the new block would get (cardano-node's `tipBlockNo`).
        tip_block_no: u64,
    },
    /// The ledger state for the slot was obtained.
    LedgerState {
        /// The slot.
        slot: u64,
    },
    /// The ledger view for the slot was obtained.
    LedgerView {
        /// The slot.
        slot: u64,
    },
    /// The node leads this slot.
    NodeIsLeader {
        /// The slot.
        slot: u64,
    },
    /// The node does not lead this slot.
    NodeNotLeader {
        /// The slot.
        slot: u64,
    },
    /// The ledger was ticked to the slot.
    ForgeTickedLedgerState {
        /// The slot.
        slot: u64,
        /// The tip built on.
        prev: Option<(Hash, u64)>,
    },
    /// The mempool snapshot taken for the block.
    ForgingMempoolSnapshot {
        /// The slot.
        slot: u64,
        /// The tip built on.
        prev: Option<(Hash, u64)>,
        /// The snapshot's identity (the tip hash it was validated against).
        mempool_hash: Hash,
        /// The slot the snapshot was validated at.
        mempool_slot: u64,
    },
    /// A block was forged.
    ForgedBlock {
        /// The slot.
        slot: u64,
        /// Its hash.
        block: Hash,
        /// Its block number.
        block_no: u64,
        /// The previous block's hash (`None`: genesis).
        block_prev: Option<Hash>,
    },
    /// The forged block was adopted as the new tip.
    AdoptedBlock {
        /// The slot.
        slot: u64,
        /// Its hash.
        block_hash: Hash,
        /// Its size in bytes.
        block_size: u64,
    },
}

const M_FORGED: usize = 0;
const M_LEADER: usize = 1;
const M_ADOPTED: usize = 2;
const M_SLOT: usize = 3;

fn prev_text(prev: &Option<(Hash, u64)>) -> String {
    match prev {
        Some((h, s)) => format!("{}@{s}", Hex(h)),
        None => "genesis".to_owned(),
    }
}

impl TraceEvent for ForgeEvent {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "StartLeadershipCheck",
            Severity::Info,
            "The forging loop woke up for a slot.",
        )
        .metrics(&["slotNum"]),
        EventMeta::new(
            "BlockContext",
            Severity::Debug,
            "The block context: current slot, and the tip a block would extend.",
        ),
        EventMeta::new(
            "LedgerState",
            Severity::Debug,
            "The ledger state at the tip was obtained.",
        ),
        EventMeta::new(
            "LedgerView",
            Severity::Debug,
            "The ledger view for the slot was obtained.",
        ),
        EventMeta::new(
            "NodeIsLeader",
            Severity::Info,
            "The node won the slot's leader lottery.",
        )
        .metrics(&["Forge.node-is-leader"]),
        EventMeta::new(
            "NodeNotLeader",
            Severity::Info,
            "The node did not win the slot.",
        ),
        EventMeta::new(
            "ForgeTickedLedgerState",
            Severity::Debug,
            "The ledger was ticked to the slot.",
        ),
        EventMeta::new(
            "ForgingMempoolSnapshot",
            Severity::Debug,
            "The mempool snapshot for the new block was taken.",
        ),
        EventMeta::new("ForgedBlock", Severity::Info, "The node forged a block.")
            .metrics(&["Forge.forged"]),
        EventMeta::new(
            "AdoptedBlock",
            Severity::Info,
            "The forged block became the node's tip.",
        )
        .metrics(&["Forge.adopted"]),
    ];
    const METRICS: &'static [MetricDoc] = &[
        MetricDoc::new(
            "Forge.forged",
            MetricKind::Counter,
            "Blocks forged by this node",
        ),
        MetricDoc::new(
            "Forge.node-is-leader",
            MetricKind::Counter,
            "Slots this node led",
        ),
        MetricDoc::new(
            "Forge.adopted",
            MetricKind::Counter,
            "Forged blocks adopted by this node",
        ),
        MetricDoc::new("slotNum", MetricKind::Gauge, "The current slot"),
    ];

    fn namespace(&self) -> usize {
        match self {
            ForgeEvent::StartLeadershipCheck { .. } => 0,
            ForgeEvent::BlockContext { .. } => 1,
            ForgeEvent::LedgerState { .. } => 2,
            ForgeEvent::LedgerView { .. } => 3,
            ForgeEvent::NodeIsLeader { .. } => 4,
            ForgeEvent::NodeNotLeader { .. } => 5,
            ForgeEvent::ForgeTickedLedgerState { .. } => 6,
            ForgeEvent::ForgingMempoolSnapshot { .. } => 7,
            ForgeEvent::ForgedBlock { .. } => 8,
            ForgeEvent::AdoptedBlock { .. } => 9,
        }
    }

    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            ForgeEvent::StartLeadershipCheck { slot } => {
                o.str("kind", "TraceStartLeadershipCheck")
                    .u64("slot", *slot);
            }
            ForgeEvent::BlockContext {
                slot,
                tip,
                tip_block_no,
            } => {
                o.u64("current slot", *slot)
                    .str("kind", "TraceBlockContext")
                    .str(
                        "tip",
                        &tip.as_ref().map_or_else(
                            || "genesis (origin)".to_owned(),
                            |(h, s)| format!("{}@{s}", Hex(h)),
                        ),
                    )
                    .u64("tipBlockNo", *tip_block_no);
            }
            ForgeEvent::LedgerState { slot } => {
                o.str("kind", "TraceLedgerState").u64("slot", *slot);
            }
            ForgeEvent::LedgerView { slot } => {
                o.str("kind", "TraceLedgerView").u64("slot", *slot);
            }
            ForgeEvent::NodeIsLeader { slot } => {
                o.str("kind", "TraceNodeIsLeader").u64("slot", *slot);
            }
            ForgeEvent::NodeNotLeader { slot } => {
                o.str("kind", "TraceNodeNotLeader").u64("slot", *slot);
            }
            ForgeEvent::ForgeTickedLedgerState { slot, prev } => {
                o.str("kind", "TraceForgeTickedLedgerState")
                    .str("prev", &prev_text(prev))
                    .u64("slot", *slot);
            }
            ForgeEvent::ForgingMempoolSnapshot {
                slot,
                prev,
                mempool_hash,
                mempool_slot,
            } => {
                o.str("kind", "TraceForgingMempoolSnapshot")
                    .hex("mempoolHash", mempool_hash)
                    .u64("mempoolSlot", *mempool_slot)
                    .str("prev", &prev_text(prev))
                    .u64("slot", *slot);
            }
            ForgeEvent::ForgedBlock {
                slot,
                block,
                block_no,
                block_prev,
            } => {
                o.hex("block", block).u64("blockNo", *block_no);
                match block_prev {
                    Some(p) => o.hex("blockPrev", p),
                    None => o.str("blockPrev", "genesis"),
                };
                o.str("kind", "TraceForgedBlock").u64("slot", *slot);
            }
            ForgeEvent::AdoptedBlock {
                slot,
                block_hash,
                block_size,
            } => {
                o.hex("blockHash", block_hash)
                    .u64("blockSize", *block_size)
                    .str("kind", "TraceAdoptedBlock")
                    .u64("slot", *slot);
            }
        }
    }

    fn update_metrics(&self, m: &EventMetrics) {
        match self {
            ForgeEvent::StartLeadershipCheck { slot } => m.set(M_SLOT, *slot as i64),
            ForgeEvent::NodeIsLeader { .. } => m.inc(M_LEADER),
            ForgeEvent::ForgedBlock { .. } => m.inc(M_FORGED),
            ForgeEvent::AdoptedBlock { .. } => m.inc(M_ADOPTED),
            _ => {}
        }
    }
}

/// What a chain selection view of a tip shows (`newTipSelectView`).
#[derive(Debug, Clone)]
pub struct SelectView {
    /// Block number of the tip.
    pub block_no: u64,
    /// Slot of the tip.
    pub slot: u64,
    /// blake2b-224 of the issuer's key.
    pub issuer_hash: [u8; 28],
    /// The tie-breaker.
    pub tie_break: Hash,
}

fn select_view(o: &mut JsonObject<'_>, key: &str, v: &SelectView) {
    o.object(key, |o| {
        o.u64("blockNo", v.block_no)
            .u64("issueNo", 0)
            .hex("issuerHash", &v.issuer_hash)
            .str("kind", "PraosTiebreakerView")
            .u64("slotNo", v.slot)
            .hex("tieBreakVRF", &v.tie_break);
    });
}

/// Chain selection, under `ChainDB.AddBlockEvent`.
#[derive(Debug, Clone)]
pub enum ChainDbEvent {
    /// The chain was extended: a new tip.
    AddedToCurrentChain {
        /// The new tip's point.
        new_tip: (Hash, u64),
        /// Its selection view.
        view: SelectView,
    },
    /// The node switched to a fork.
    SwitchedToAFork {
        /// The new tip's point.
        new_tip: (Hash, u64),
        /// Its selection view.
        view: SelectView,
        /// The old tip's view.
        old: SelectView,
    },
    /// Diffusion pipelining: a block's header is announced while its body is validated.
    SetTentativeHeader {
        /// The header's hash.
        hash: Hash,
        /// Its block number.
        block_no: u64,
        /// Its slot.
        slot: u64,
    },
}

impl TraceEvent for ChainDbEvent {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "AddedToCurrentChain",
            Severity::Notice,
            "A block extended the current chain.",
        )
        .metrics(&["blockNum", "slotInTip"]),
        EventMeta::new(
            "SwitchedToAFork",
            Severity::Notice,
            "The node switched to a fork (rolled back and adopted a better chain).",
        )
        .metrics(&["blockNum", "slotInTip", "forks"]),
        EventMeta::new(
            "PipeliningEvent.SetTentativeHeader",
            Severity::Debug,
            "A block's header is announced to peers while its body is being validated.",
        ),
    ];
    const METRICS: &'static [MetricDoc] = &[
        MetricDoc::new("blockNum", MetricKind::Gauge, "Block number of the tip"),
        MetricDoc::new("slotInTip", MetricKind::Gauge, "Slot of the tip"),
        MetricDoc::new("forks", MetricKind::Counter, "Fork switches"),
    ];

    fn namespace(&self) -> usize {
        match self {
            ChainDbEvent::AddedToCurrentChain { .. } => 0,
            ChainDbEvent::SwitchedToAFork { .. } => 1,
            ChainDbEvent::SetTentativeHeader { .. } => 2,
        }
    }

    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            ChainDbEvent::AddedToCurrentChain { new_tip, view } => {
                o.str("kind", "AddedToCurrentChain");
                select_view(o, "newTipSelectView", view);
                point(o, "newtip", &new_tip.0, new_tip.1);
            }
            ChainDbEvent::SwitchedToAFork { new_tip, view, old } => {
                o.str("kind", "TraceAddBlockEvent.SwitchedToAFork");
                select_view(o, "newTipSelectView", view);
                point(o, "newtip", &new_tip.0, new_tip.1);
                select_view(o, "oldTipSelectView", old);
            }
            ChainDbEvent::SetTentativeHeader {
                hash,
                block_no,
                slot,
            } => {
                o.object("header", |o| {
                    o.u64("blockNo", *block_no)
                        .hex("hash", hash)
                        .str("kind", "ShelleyBlock")
                        .u64("slotNo", *slot);
                })
                .str("kind", "SetTentativeHeader");
            }
        }
    }

    fn update_metrics(&self, m: &EventMetrics) {
        let (ChainDbEvent::AddedToCurrentChain { view, .. }
        | ChainDbEvent::SwitchedToAFork { view, .. }) = self
        else {
            return;
        };
        m.set(0, view.block_no as i64);
        m.set(1, view.slot as i64);
        if matches!(self, ChainDbEvent::SwitchedToAFork { .. }) {
            m.inc(2);
        }
    }
}

/// Header and block diffusion: `ChainSync.Client`, `BlockFetch.Client`, `ChainSync.ServerHeader`,
/// `BlockFetch.Server` (the tracer prefix is empty; the inner names carry the full namespace).
#[derive(Debug, Clone)]
pub enum DiffusionEvent {
    /// A header arrived from a peer.
    DownloadedHeader {
        /// The peer's connection id (`"local:port remote:port"`).
        peer: Arc<str>,
        /// The header's hash.
        block: Hash,
        /// Its block number.
        block_no: u64,
        /// Its slot.
        slot: u64,
    },
    /// Bodies were requested from a peer.
    SendFetchRequest {
        /// The peer.
        peer: Arc<str>,
        /// The newest block requested.
        head: Hash,
        /// How many blocks.
        length: u64,
    },
    /// A body arrived.
    CompletedBlockFetch {
        /// The peer.
        peer: Arc<str>,
        /// The block's hash.
        block: Hash,
        /// Seconds from request to arrival.
        delay: f64,
        /// Its size in bytes.
        size: u64,
    },
    /// A header was announced to a downstream peer.
    ServerHeaderUpdate {
        /// The peer.
        peer: Arc<str>,
        /// The header announced.
        add_block: (Hash, u64),
        /// Our tip (hash, block no, slot); `None` at genesis.
        tip: Option<(Hash, u64, u64)>,
    },
    /// A body was sent to a downstream peer.
    SendBlock {
        /// The peer.
        peer: Arc<str>,
        /// The block's hash.
        block: Hash,
    },
}

impl TraceEvent for DiffusionEvent {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "ChainSync.Client.DownloadedHeader",
            Severity::Info,
            "A header arrived from an upstream peer.",
        ),
        EventMeta::new(
            "BlockFetch.Client.SendFetchRequest",
            Severity::Info,
            "Block bodies were requested from a peer.",
        ),
        EventMeta::new(
            "BlockFetch.Client.CompletedBlockFetch",
            Severity::Info,
            "A block body arrived; `delay` is seconds since it was requested.",
        )
        .metrics(&["blocksFetched"]),
        EventMeta::new(
            "ChainSync.ServerHeader.Update",
            Severity::Info,
            "A header was announced to a downstream peer.",
        ),
        EventMeta::new(
            "BlockFetch.Server.SendBlock",
            Severity::Info,
            "A block body was sent to a downstream peer.",
        )
        .metrics(&["served.block"]),
    ];
    const METRICS: &'static [MetricDoc] = &[
        MetricDoc::new(
            "blocksFetched",
            MetricKind::Counter,
            "Block bodies fetched from peers",
        ),
        MetricDoc::new(
            "served.block",
            MetricKind::Counter,
            "Block bodies served to peers",
        ),
        MetricDoc::new(
            "blockFetchDelay",
            MetricKind::Histogram(&[0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]),
            "Seconds from fetch request to body arrival",
        ),
    ];

    fn namespace(&self) -> usize {
        match self {
            DiffusionEvent::DownloadedHeader { .. } => 0,
            DiffusionEvent::SendFetchRequest { .. } => 1,
            DiffusionEvent::CompletedBlockFetch { .. } => 2,
            DiffusionEvent::ServerHeaderUpdate { .. } => 3,
            DiffusionEvent::SendBlock { .. } => 4,
        }
    }

    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            DiffusionEvent::DownloadedHeader {
                peer: p,
                block,
                block_no,
                slot,
            } => {
                o.hex("block", block)
                    .u64("blockNo", *block_no)
                    .str("kind", "DownloadedHeader");
                peer(o, p);
                o.u64("slot", *slot);
            }
            DiffusionEvent::SendFetchRequest {
                peer: p,
                head,
                length,
            } => {
                o.hex("head", head)
                    .str("kind", "SendFetchRequest")
                    .u64("length", *length);
                peer(o, p);
            }
            DiffusionEvent::CompletedBlockFetch {
                peer: p,
                block,
                delay,
                size,
            } => {
                o.hex("block", block)
                    .f64("delay", *delay)
                    .str("kind", "CompletedBlockFetch");
                peer(o, p);
                o.u64("size", *size);
            }
            DiffusionEvent::ServerHeaderUpdate {
                peer: p,
                add_block,
                tip,
            } => {
                point(o, "addBlock", &add_block.0, add_block.1);
                o.bool("blockingRead", true)
                    .str("kind", "ChainSyncServer.Update");
                peer(o, p);
                o.bool("risingEdge", true).object("tip", |t| match tip {
                    Some((h, n, s)) => {
                        t.hex("block", h).u64("blockNo", *n).u64("slot", *s);
                    }
                    None => {
                        t.str("block", "genesis").i64("blockNo", -1).u64("slot", 0);
                    }
                });
            }
            DiffusionEvent::SendBlock { peer: p, block } => {
                o.hex("block", block).str("kind", "BlockFetchServer");
                peer(o, p);
            }
        }
    }

    fn update_metrics(&self, m: &EventMetrics) {
        match self {
            DiffusionEvent::CompletedBlockFetch { delay, .. } => {
                m.inc(0);
                m.observe(2, *delay);
            }
            DiffusionEvent::SendBlock { .. } => m.inc(1),
            _ => {}
        }
    }
}

/// Mempool size as cardano-node reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MempoolSize {
    /// Bytes of transactions.
    pub bytes: u64,
    /// Number of transactions.
    pub num_txs: u64,
}

fn mempool_size(o: &mut JsonObject<'_>, s: &MempoolSize) {
    o.object("mempoolSize", |m| {
        m.u64("bytes", s.bytes).u64("numTxs", s.num_txs);
    });
}

/// Mempool and transaction submission, under `Mempool` and `TxSubmission.TxInbound`.
#[derive(Debug, Clone)]
pub enum MempoolEvent {
    /// A transaction entered the mempool.
    AddedTx {
        /// Its id.
        txid: Hash,
        /// The mempool after.
        size: MempoolSize,
    },
    /// A transaction was refused, with the ledger's reason.
    RejectedTx {
        /// Its id (if it decoded).
        txid: Option<Hash>,
        /// Why (the ledger rule that failed).
        reason: String,
        /// The mempool after.
        size: MempoolSize,
    },
    /// Transactions left the mempool (in a block, or invalid after a chain change).
    RemoveTxs {
        /// Their ids.
        txids: Vec<Hash>,
        /// The mempool after.
        size: MempoolSize,
    },
    /// Transactions were collected from a peer.
    Collected {
        /// The peer.
        peer: Arc<str>,
        /// How many.
        count: u64,
    },
    /// Collected transactions were processed.
    Processed {
        /// The peer.
        peer: Arc<str>,
        /// Accepted into the mempool.
        accepted: u64,
        /// Rejected.
        rejected: u64,
    },
}

/// First 8 hex digits, as cardano-node shortens tx ids in mempool traces.
fn short_txid(o: &mut JsonObject<'_>, txid: &Hash) {
    o.object("tx", |t| {
        t.hex("txid", &txid[..4]);
    });
}

impl TraceEvent for MempoolEvent {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "Mempool.AddedTx",
            Severity::Info,
            "A transaction was validated and added to the mempool.",
        )
        .metrics(&["txsInMempool", "mempoolBytes"]),
        EventMeta::new(
            "Mempool.RejectedTx",
            Severity::Info,
            "A transaction was rejected; `err` names the failed ledger rule.",
        )
        .metrics(&["txsRejected"]),
        EventMeta::new(
            "Mempool.RemoveTxs",
            Severity::Info,
            "Transactions left the mempool.",
        )
        .metrics(&["txsInMempool", "mempoolBytes"]),
        EventMeta::new(
            "TxSubmission.TxInbound.Collected",
            Severity::Debug,
            "Transactions were collected from a peer.",
        ),
        EventMeta::new(
            "TxSubmission.TxInbound.Processed",
            Severity::Debug,
            "Collected transactions were processed.",
        )
        .metrics(&["txsProcessedNum"]),
    ];
    const METRICS: &'static [MetricDoc] = &[
        MetricDoc::new(
            "txsInMempool",
            MetricKind::Gauge,
            "Transactions in the mempool",
        ),
        MetricDoc::new(
            "mempoolBytes",
            MetricKind::Gauge,
            "Bytes of transactions in the mempool",
        ),
        MetricDoc::new("txsRejected", MetricKind::Counter, "Transactions rejected"),
        MetricDoc::new(
            "txsProcessedNum",
            MetricKind::Counter,
            "Transactions processed from peers",
        ),
    ];

    fn namespace(&self) -> usize {
        match self {
            MempoolEvent::AddedTx { .. } => 0,
            MempoolEvent::RejectedTx { .. } => 1,
            MempoolEvent::RemoveTxs { .. } => 2,
            MempoolEvent::Collected { .. } => 3,
            MempoolEvent::Processed { .. } => 4,
        }
    }

    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            MempoolEvent::AddedTx { txid, size } => {
                o.str("kind", "TraceMempoolAddedTx");
                mempool_size(o, size);
                short_txid(o, txid);
            }
            MempoolEvent::RejectedTx { txid, reason, size } => {
                o.str("err", reason).str("kind", "TraceMempoolRejectedTx");
                mempool_size(o, size);
                if let Some(t) = txid {
                    short_txid(o, t);
                }
            }
            MempoolEvent::RemoveTxs { txids, size } => {
                o.str("kind", "TraceMempoolRemoveTxs");
                mempool_size(o, size);
                o.array("txs", |a| {
                    for t in txids {
                        a.object(|e| short_txid(e, t));
                    }
                });
            }
            MempoolEvent::Collected { peer: p, count } => {
                o.u64("count", *count)
                    .str("kind", "TraceTxSubmissionCollected");
                peer(o, p);
            }
            MempoolEvent::Processed {
                peer: p,
                accepted,
                rejected,
            } => {
                o.u64("accepted", *accepted)
                    .str("kind", "TraceTxSubmissionProcessed");
                peer(o, p);
                o.u64("rejected", *rejected);
            }
        }
    }

    fn update_metrics(&self, m: &EventMetrics) {
        match self {
            MempoolEvent::AddedTx { size, .. } | MempoolEvent::RemoveTxs { size, .. } => {
                m.set(0, size.num_txs as i64);
                m.set(1, size.bytes as i64);
            }
            MempoolEvent::RejectedTx { .. } => m.inc(2),
            MempoolEvent::Processed {
                accepted, rejected, ..
            } => m.add(3, accepted + rejected),
            MempoolEvent::Collected { .. } => {}
        }
    }
}

/// `LedgerMetrics`: ledger size and chain density, once per slot.
#[derive(Debug, Clone)]
pub struct LedgerMetrics {
    /// The slot.
    pub slot: u64,
    /// UTxO entries.
    pub utxo_size: u64,
    /// Stake delegations (pools in the emulation).
    pub deleg_map_size: u64,
    /// Blocks per slot over the last `k/f` slots.
    pub chain_density: f64,
}

impl TraceEvent for LedgerMetrics {
    const NAMESPACES: &'static [EventMeta] = &[EventMeta::new(
        "",
        Severity::Info,
        "Ledger size and chain density at a slot.",
    )
    .metrics(&["utxoSize", "density"])];
    const METRICS: &'static [MetricDoc] = &[
        MetricDoc::new("utxoSize", MetricKind::Gauge, "UTxO entries"),
        MetricDoc::new("density", MetricKind::GaugeF64, "Chain density"),
    ];

    fn namespace(&self) -> usize {
        0
    }

    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        // cardano-node writes the density as an exact decimal; zero is `0`.
        if self.chain_density == 0.0 {
            o.u64("chainDensity", 0);
        } else {
            o.f64("chainDensity", self.chain_density);
        }
        o.u64("delegMapSize", self.deleg_map_size)
            .str("kind", "LedgerMetrics")
            .u64("slot", self.slot)
            .u64("utxoSize", self.utxo_size);
    }

    fn update_metrics(&self, m: &EventMetrics) {
        m.set(0, self.utxo_size as i64);
        m.set_f64(1, self.chain_density);
    }
}

/// Registers every node tracer with `d` (for `wb trace-docs` and for the node itself): the
/// prefixes are cardano-node's.
pub fn register(d: &wb_trace::Dispatcher) -> NodeTracers {
    NodeTracers {
        forge: d.tracer("Forge.Loop"),
        chain_db: d.tracer("ChainDB.AddBlockEvent"),
        diffusion: d.tracer(""),
        mempool: d.tracer(""),
        ledger: d.tracer("LedgerMetrics"),
    }
}

/// The node's tracers.
#[derive(Debug, Clone)]
pub struct NodeTracers {
    /// `Forge.Loop.*`.
    pub forge: wb_trace::Tracer<ForgeEvent>,
    /// `ChainDB.AddBlockEvent.*`.
    pub chain_db: wb_trace::Tracer<ChainDbEvent>,
    /// `ChainSync.*`, `BlockFetch.*`.
    pub diffusion: wb_trace::Tracer<DiffusionEvent>,
    /// `Mempool.*`, `TxSubmission.*`.
    pub mempool: wb_trace::Tracer<MempoolEvent>,
    /// `LedgerMetrics`.
    pub ledger: wb_trace::Tracer<LedgerMetrics>,
}
