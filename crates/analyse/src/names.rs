//! locli's message table (`interpreters`): which trace lines the analysis reads, under all three
//! names a message has had — the new tracing system's namespace, the legacy namespace alias, and
//! the legacy `data.kind`. Looked up in locli's order: new `ns`, legacy `ns`, `kind` without a
//! `Cardano.Node.` prefix as a legacy `ns`, then legacy `kind`.

/// What a message is, before its fields are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Resources`.
    Resources,
    /// Leadership check start.
    StartLeadershipCheck,
    /// `BlockContext`.
    BlockContext,
    /// `LedgerState`.
    LedgerState,
    /// `LedgerView`.
    LedgerView,
    /// `NodeIsLeader`.
    NodeIsLeader,
    /// `NodeNotLeader`.
    NodeNotLeader,
    /// `ForgeTickedLedgerState`.
    TickedLedgerState,
    /// `ForgingMempoolSnapshot`.
    MempoolSnapshot,
    /// `ForgedBlock`.
    ForgedBlock,
    /// Chain-sync client downloaded a header.
    DownloadedHeader,
    /// Block-fetch client request.
    SendFetchRequest,
    /// Block-fetch client completion.
    CompletedBlockFetch,
    /// Chain-sync server read (legacy, non-blocking).
    ServerRead,
    /// Chain-sync server update (announce).
    ServerUpdate,
    /// Block-fetch server sent a block.
    ServerSendBlock,
    /// `AddedToCurrentChain`.
    AddedToCurrentChain,
    /// The forger adopted its block.
    AdoptedBlock,
    /// A switch to a fork (not in locli's table).
    SwitchedToAFork,
    /// Ledger snapshot.
    TookSnapshot,
    /// `LedgerMetrics`.
    LedgerMetrics,
    /// Generator acks.
    TxsAcked,
    /// Tx-submission inbound collected.
    TxsCollected,
    /// Tx-submission inbound processed.
    TxsProcessed,
    /// Mempool added a transaction.
    MempoolAddedTx,
    /// Mempool removed transactions.
    MempoolRemoveTxs,
    /// Mempool rejected a transaction.
    MempoolRejectedTx,
    /// Generator summary.
    GeneratorSummary,
}

/// (legacy kind, legacy ns alias, new ns, kind) — locli's three columns. `None` where locli has
/// a placeholder (`unknown0`/`unknown1`) or no name.
pub const TABLE: &[(&str, Option<&str>, Option<&str>, Kind)] = &[
    (
        "Resources",
        Some("Resources"),
        Some("Resources"),
        Kind::Resources,
    ),
    (
        "TraceStartLeadershipCheck",
        Some("Forge.Loop.StartLeadershipCheckPlus"),
        Some("Forge.Loop.StartLeadershipCheck"),
        Kind::StartLeadershipCheck,
    ),
    (
        "TraceBlockContext",
        Some("Forge.BlockContext"),
        Some("Forge.Loop.BlockContext"),
        Kind::BlockContext,
    ),
    (
        "TraceLedgerState",
        Some("Forge.LedgerState"),
        Some("Forge.Loop.LedgerState"),
        Kind::LedgerState,
    ),
    (
        "TraceLedgerView",
        Some("Forge.LedgerView"),
        Some("Forge.Loop.LedgerView"),
        Kind::LedgerView,
    ),
    (
        "TraceNodeIsLeader",
        Some("Forge.NodeIsLeader"),
        Some("Forge.Loop.NodeIsLeader"),
        Kind::NodeIsLeader,
    ),
    (
        "TraceNodeNotLeader",
        Some("Forge.NodeNotLeader"),
        Some("Forge.Loop.NodeNotLeader"),
        Kind::NodeNotLeader,
    ),
    (
        "TraceForgeTickedLedgerState",
        Some("Forge.TickedLedgerState"),
        Some("Forge.Loop.TickedLedgerState"),
        Kind::TickedLedgerState,
    ),
    (
        "TraceForgingMempoolSnapshot",
        Some("Forge.MempoolSnapshot"),
        Some("Forge.Loop.MempoolSnapshot"),
        Kind::MempoolSnapshot,
    ),
    (
        "TraceForgedBlock",
        Some("Forge.ForgedBlock"),
        Some("Forge.Loop.ForgedBlock"),
        Kind::ForgedBlock,
    ),
    (
        "ChainSyncClientEvent.TraceDownloadedHeader",
        Some("ChainSyncClient.ChainSyncClientEvent.DownloadedHeader"),
        Some("ChainSync.Client.DownloadedHeader"),
        Kind::DownloadedHeader,
    ),
    (
        "SendFetchRequest",
        Some("BlockFetchClient.SendFetchRequest"),
        Some("BlockFetch.Client.SendFetchRequest"),
        Kind::SendFetchRequest,
    ),
    (
        "CompletedBlockFetch",
        Some("BlockFetchClient.CompletedBlockFetch"),
        Some("BlockFetch.Client.CompletedBlockFetch"),
        Kind::CompletedBlockFetch,
    ),
    (
        "ChainSyncServerEvent.TraceChainSyncServerRead.AddBlock",
        None,
        None,
        Kind::ServerRead,
    ),
    (
        "ChainSyncServerEvent.TraceChainSyncServerReadBlocked.AddBlock",
        Some("ChainSyncServerEvent.TraceChainSyncServerUpdate"),
        Some("ChainSync.ServerHeader.Update"),
        Kind::ServerUpdate,
    ),
    (
        "TraceBlockFetchServerSendBlock",
        Some("BlockFetchServer.SendBlock"),
        Some("BlockFetch.Server.SendBlock"),
        Kind::ServerSendBlock,
    ),
    (
        "TraceAddBlockEvent.AddedToCurrentChain",
        Some("ChainDB.AddBlockEvent.AddedToCurrentChain"),
        Some("ChainDB.AddBlockEvent.AddedToCurrentChain"),
        Kind::AddedToCurrentChain,
    ),
    (
        "TraceAdoptedBlock",
        Some("Forge.AdoptedBlock"),
        Some("Forge.Loop.AdoptedBlock"),
        Kind::AdoptedBlock,
    ),
    (
        "TraceSnapshotEvent.TookSnapshot",
        Some("TraceLedgerEvent.TookSnapshot"),
        Some("ChainDB.LedgerEvent.TookSnapshot"),
        Kind::TookSnapshot,
    ),
    (
        "LedgerMetrics",
        Some("LedgerMetrics"),
        Some("LedgerMetrics"),
        Kind::LedgerMetrics,
    ),
    (
        "TraceBenchTxSubServAck",
        Some("TraceBenchTxSubServAck"),
        Some("TraceBenchTxSubServAck"),
        Kind::TxsAcked,
    ),
    (
        "TraceTxSubmissionCollected",
        Some("TraceTxSubmissionCollected"),
        Some("TxSubmission.TxInbound.Collected"),
        Kind::TxsCollected,
    ),
    (
        "TraceTxSubmissionProcessed",
        Some("TraceTxSubmissionProcessed"),
        Some("TxSubmission.TxInbound.Processed"),
        Kind::TxsProcessed,
    ),
    (
        "TraceMempoolAddedTx",
        Some("Mempool.AddedTx"),
        Some("Mempool.AddedTx"),
        Kind::MempoolAddedTx,
    ),
    (
        "TraceMempoolRemoveTxs",
        Some("Mempool.RemoveTxs"),
        Some("Mempool.RemoveTxs"),
        Kind::MempoolRemoveTxs,
    ),
    (
        "TraceMempoolRejectedTx",
        Some("Mempool.RejectedTx"),
        Some("Mempool.RejectedTx"),
        Kind::MempoolRejectedTx,
    ),
    (
        "TraceBenchTxSubSummary",
        Some("TraceBenchTxSubSummary"),
        Some("Benchmark.BenchTxSubSummary"),
        Kind::GeneratorSummary,
    ),
];

/// Real new-tracing namespaces locli's table misses but that mean the same (the leadership
/// check's `…Plus` form is locli's legacy alias, and also what current nodes log).
const EXTRA_NEW: &[(&str, Kind)] = &[
    (
        "Forge.Loop.StartLeadershipCheckPlus",
        Kind::StartLeadershipCheck,
    ),
    ("Forge.Loop.ForgeTickedLedgerState", Kind::TickedLedgerState),
    ("Forge.Loop.ForgingMempoolSnapshot", Kind::MempoolSnapshot),
    (
        "ChainDB.AddBlockEvent.SwitchedToAFork",
        Kind::SwitchedToAFork,
    ),
];

/// The message a line is, from its namespace and `data.kind`, in locli's lookup order.
pub fn lookup(ns: &str, kind: Option<&str>) -> Option<Kind> {
    if let Some(k) = TABLE.iter().find(|r| r.2 == Some(ns)).map(|r| r.3) {
        return Some(k);
    }
    if let Some(k) = EXTRA_NEW.iter().find(|r| r.0 == ns).map(|r| r.1) {
        return Some(k);
    }
    if let Some(k) = TABLE.iter().find(|r| r.1 == Some(ns)).map(|r| r.3) {
        return Some(k);
    }
    let kind = kind?;
    if kind == "TraceAddBlockEvent.SwitchedToAFork" {
        return Some(Kind::SwitchedToAFork);
    }
    let stripped = kind.strip_prefix("Cardano.Node.").unwrap_or(kind);
    if let Some(k) = TABLE.iter().find(|r| r.1 == Some(stripped)).map(|r| r.3) {
        return Some(k);
    }
    TABLE.iter().find(|r| r.0 == kind).map(|r| r.3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_column_finds_its_message() {
        for (legacy_kind, legacy_ns, new_ns, kind) in TABLE {
            if let Some(ns) = new_ns {
                assert_eq!(lookup(ns, None), Some(*kind), "{ns}");
            }
            if let Some(ns) = legacy_ns {
                assert_eq!(lookup(ns, None), Some(*kind), "{ns}");
                assert_eq!(
                    lookup("cardano.node.X", Some(&format!("Cardano.Node.{ns}"))),
                    Some(*kind)
                );
            }
            // Legacy lines: the namespace says little, the kind says what it is.
            assert_eq!(
                lookup("cardano.node.ChainDB", Some(legacy_kind)),
                Some(*kind),
                "{legacy_kind}"
            );
        }
        assert_eq!(lookup("Net.Mux.Local.CleanExit", Some("CleanExit")), None);
        assert_eq!(
            lookup(
                "Forge.Loop.StartLeadershipCheckPlus",
                Some("TraceStartLeadershipCheck")
            ),
            Some(Kind::StartLeadershipCheck)
        );
    }
}
