//! locli's message table (`interpreters`): which trace lines the analysis reads, under all three
//! names a message has had — the new tracing system's namespace, the legacy namespace alias, and
//! the legacy `data.kind`. Looked up in locli's order: new `ns`, legacy `ns`, `kind` without a
//! `Cardano.Node.` prefix as a legacy `ns`, then legacy `kind`.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::fasthash::FastBuild;

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
    lookup_ns(ns).or_else(|| kind.and_then(lookup_kind))
}

/// Name → message tables, built once: a lookup per line must not walk the table.
struct Tables {
    /// New `ns`, then the extra new names, then legacy `ns` (the first entry for a name wins).
    ns: HashMap<&'static str, Kind, FastBuild>,
    /// Legacy `ns` column, for `kind`s naming a legacy namespace.
    legacy_ns: HashMap<&'static str, Kind, FastBuild>,
    /// Legacy `kind` column.
    legacy_kind: HashMap<&'static str, Kind, FastBuild>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Tables {
            ns: HashMap::default(),
            legacy_ns: HashMap::default(),
            legacy_kind: HashMap::default(),
        };
        let names = TABLE
            .iter()
            .filter_map(|r| r.2.map(|n| (n, r.3)))
            .chain(EXTRA_NEW.iter().copied())
            .chain(TABLE.iter().filter_map(|r| r.1.map(|n| (n, r.3))));
        for (name, k) in names {
            t.ns.entry(name).or_insert(k);
        }
        for r in TABLE {
            if let Some(n) = r.1 {
                t.legacy_ns.entry(n).or_insert(r.3);
            }
            t.legacy_kind.entry(r.0).or_insert(r.3);
        }
        t
    })
}

/// The message a namespace names by itself (locli's first two steps), if any.
pub fn lookup_ns(ns: &str) -> Option<Kind> {
    tables().ns.get(ns).copied()
}

/// The message a `data.kind` names (locli's last two steps: a legacy namespace, perhaps with a
/// `Cardano.Node.` prefix, then a legacy kind), for lines whose namespace names none.
pub fn lookup_kind(kind: &str) -> Option<Kind> {
    if kind == "TraceAddBlockEvent.SwitchedToAFork" {
        return Some(Kind::SwitchedToAFork);
    }
    let t = tables();
    let stripped = kind.strip_prefix("Cardano.Node.").unwrap_or(kind);
    t.legacy_ns
        .get(stripped)
        .or_else(|| t.legacy_kind.get(kind))
        .copied()
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
