//! The events the analysis reads: locli's `LOBody` constructors, with the fields it extracts.

/// One cumulative resource sample (`Resources`): counters as the node reports them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceSample {
    /// CPU ticks (1/100 s) used so far.
    pub centi_cpu: u64,
    /// GC CPU ticks so far (GHC only).
    pub centi_gc: Option<u64>,
    /// Mutator CPU ticks so far (GHC only).
    pub centi_mut: Option<u64>,
    /// Major GCs so far (GHC only).
    pub gcs_major: Option<u64>,
    /// Minor GCs so far (GHC only).
    pub gcs_minor: Option<u64>,
    /// Bytes allocated so far.
    pub alloc: u64,
    /// Live bytes (GHC only).
    pub live: Option<u64>,
    /// Resident set, bytes.
    pub rss: u64,
    /// Heap, bytes.
    pub heap: u64,
    /// Block-I/O wait ticks so far.
    pub centi_blk_io: u64,
    /// OS threads.
    pub threads: u64,
    /// Network bytes read so far.
    pub net_rd: u64,
    /// Network bytes written so far.
    pub net_wr: u64,
    /// File-system bytes read so far.
    pub fs_rd: u64,
    /// File-system bytes written so far.
    pub fs_wr: u64,
}

/// A block's place, as far as a line says it: its slot (from a `hash@slot` point or a
/// selection view's `slotNo`) and its number (a selection view's `blockNo` or `chainLength`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TipId {
    /// The slot.
    pub slot: Option<u64>,
    /// The block number.
    pub block_no: Option<u64>,
}

/// A header an adoption lists: the block, its predecessor and its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderId {
    /// Its hash.
    pub hash: String,
    /// Its predecessor's hash, if logged (not for the chain's first block).
    pub prev: Option<String>,
    /// Its slot and number.
    pub id: TipId,
}

/// What a trace line says, for the analysis.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `Resources`.
    Resources(Box<ResourceSample>),
    /// The slot's leadership check begins (with ledger figures in the `…Plus` form).
    StartLeadershipCheck {
        /// The slot.
        slot: u64,
        /// UTxO size, if logged.
        utxo_size: Option<u64>,
        /// Chain density, if logged.
        chain_density: Option<f64>,
    },
    /// `BlockContext`: the block the forger would build on (`tipBlockNo − 1`, as locli reads it).
    BlockContext {
        /// The slot.
        slot: u64,
        /// The block number.
        block_no: u64,
    },
    /// `LedgerState` obtained for the slot.
    LedgerState {
        /// The slot.
        slot: u64,
    },
    /// `LedgerView` obtained for the slot.
    LedgerView {
        /// The slot.
        slot: u64,
    },
    /// The leadership decision.
    LeadershipDecided {
        /// The slot.
        slot: u64,
        /// Leader or not.
        leader: bool,
    },
    /// The ledger state ticked to the slot.
    TickedLedgerState {
        /// The slot.
        slot: u64,
    },
    /// The mempool snapshot for the block taken.
    MempoolSnapshot {
        /// The slot.
        slot: u64,
    },
    /// A block was forged.
    BlockForged {
        /// The slot.
        slot: u64,
        /// Its number.
        block_no: u64,
        /// Its hash.
        block: String,
        /// Its predecessor's hash.
        prev: String,
    },
    /// Chain sync saw a header.
    SeenHeader {
        /// The slot.
        slot: u64,
        /// The block number.
        block_no: u64,
        /// The hash.
        block: String,
    },
    /// Block fetch asked for blocks.
    FetchRequested {
        /// The newest hash asked for.
        head: String,
        /// How many.
        length: u64,
    },
    /// Block fetch completed a block.
    FetchCompleted {
        /// The hash.
        block: String,
        /// The block's size in bytes, as fetched (`size`).
        size: Option<u64>,
    },
    /// Chain sync served (announced) a header.
    ServerSendHeader {
        /// The hash (first 64 characters of the point).
        block: String,
    },
    /// Block fetch served a block.
    ServerSendBlock {
        /// The hash.
        block: String,
    },
    /// A block joined the current chain (the forger's `AdoptedBlock` carries its size).
    AddedToCurrentChain {
        /// The new tip's hash (first 64 characters of the point).
        block: String,
        /// The block's size, for the forger's own adoption.
        size: Option<u64>,
        /// How much the chain grew (1 unless logged).
        chain_length_delta: i64,
        /// The new tip's slot and number, where the line carries them.
        tip: TipId,
        /// The headers the line lists as added (`headers`, at detailed verbosity), oldest first.
        headers: Vec<HeaderId>,
    },
    /// The node switched to a fork ending in this block: every block from the fork point up to
    /// it joined its chain (locli does not read this message, so it misses those adoptions).
    SwitchedToAFork {
        /// The new tip's hash.
        block: String,
        /// The new tip's slot and number, where the line carries them.
        tip: TipId,
        /// The headers the line lists as added, oldest first.
        headers: Vec<HeaderId>,
    },
    /// The ledger took a snapshot.
    TookSnapshot,
    /// Ledger figures for a slot.
    LedgerMetrics {
        /// The slot.
        slot: u64,
        /// UTxO size.
        utxo_size: Option<u64>,
        /// Chain density.
        chain_density: Option<f64>,
    },
    /// The generator's transactions acknowledged.
    TxsAcked(Vec<String>),
    /// Transactions collected from a peer (a Haskell `Int`, as logged).
    TxsCollected(i64),
    /// Transactions from a peer processed (Haskell `Int`s, as logged: real nodes have written
    /// negative ones).
    TxsProcessed {
        /// Accepted.
        accepted: i64,
        /// Rejected.
        rejected: i64,
    },
    /// The mempool's transaction count after a change.
    MempoolTxs(u64),
    /// The mempool refused a transaction.
    MempoolRejectedTx,
    /// The generator's summary.
    GeneratorSummary {
        /// No failures reported.
        no_failures: bool,
        /// Transactions sent.
        sent: u64,
        /// Seconds elapsed.
        elapsed: f64,
        /// Per-thread rates.
        threadwise_tps: Vec<f64>,
    },
}

/// One interpreted trace line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogObject {
    /// When, nanoseconds since the Unix epoch.
    pub at: u64,
    /// The `thread` field: its number (cardano-node logs a number, as a string or not), or a
    /// hash of any other text; none when absent. It pairs a peer's `TxsCollected` with its
    /// `TxsProcessed`. (The `host` field is in [`crate::ingest::Line::Event`]: the analysis
    /// names hosts by file, and an owned copy per event was a seventh of the reading time.)
    pub thread: Option<u64>,
    /// The event.
    pub body: Body,
}
