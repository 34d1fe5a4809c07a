//! The node's trace lines carry exactly the `data` of real cardano-node lines
//! (`shared/design/TRACE-EVENTS.md`): same keys, same order, same `kind` strings.

use std::io::Write;
use std::sync::{Arc, Mutex};

use wb_node::events::{
    self, ChainDbEvent, DiffusionEvent, ForgeEvent, LedgerMetrics, MempoolEvent, MempoolSize,
    SelectView,
};
use wb_trace::{Dispatcher, Output, TraceConfig};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);
impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn h(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..32 {
        out[i] = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

const A: &str = "a1e88dba00b72362da126842045a0155b72f358656e69a81d60cfd25f81b7ccd";
const B: &str = "140dd66638889ddac93bec38b560e021f4a535b935911a7e909cb86f26c0788e";
const PEER: &str = "127.0.0.1:30001 127.0.0.1:30000";

/// The `data` object of a machine line, as text.
fn data_of(line: &str) -> &str {
    let start = line.find("\"data\":").unwrap() + 7;
    let end = line.rfind(",\"sev\":").unwrap();
    &line[start..end]
}

#[test]
fn node_lines_match_real_cardano_node_lines() {
    let cap = Capture::default();
    let cfg = TraceConfig::from_yaml_str(
        "TraceOptions:\n  '':\n    severity: Debug\n    backends: [Stdout MachineFormat]\n",
        "t",
    )
    .unwrap();
    let mut d = Dispatcher::builder()
        .config(cfg)
        .host("node-1")
        .output(Output::Writer(Box::new(cap.clone())))
        .build()
        .unwrap();
    let t = events::register(&d);
    let peer: Arc<str> = Arc::from(PEER);
    let prev = Some((h(A), 57));
    t.forge.trace(&ForgeEvent::StartLeadershipCheck { slot: 7 });
    t.forge.trace(&ForgeEvent::BlockContext {
        slot: 7,
        tip: None,
        tip_block_no: 0,
    });
    t.forge.trace(&ForgeEvent::LedgerState { slot: 7 });
    t.forge.trace(&ForgeEvent::LedgerView { slot: 7 });
    t.forge.trace(&ForgeEvent::NodeNotLeader { slot: 7 });
    t.forge.trace(&ForgeEvent::NodeIsLeader { slot: 100 });
    t.forge
        .trace(&ForgeEvent::ForgeTickedLedgerState { slot: 100, prev });
    t.forge.trace(&ForgeEvent::ForgingMempoolSnapshot {
        slot: 100,
        prev,
        mempool_hash: h(A),
        mempool_slot: 58,
    });
    t.forge.trace(&ForgeEvent::ForgedBlock {
        slot: 100,
        block: h(B),
        block_no: 1,
        block_prev: Some(h(A)),
    });
    t.forge.trace(&ForgeEvent::AdoptedBlock {
        slot: 100,
        block_hash: h(B),
        block_size: 64273,
    });
    t.diffusion.trace(&DiffusionEvent::DownloadedHeader {
        peer: peer.clone(),
        block: h(A),
        block_no: 0,
        slot: 57,
    });
    t.diffusion.trace(&DiffusionEvent::SendFetchRequest {
        peer: peer.clone(),
        head: h(A),
        length: 1,
    });
    t.diffusion.trace(&DiffusionEvent::CompletedBlockFetch {
        peer: peer.clone(),
        block: h(A),
        delay: 0.022536,
        size: 64192,
    });
    t.diffusion.trace(&DiffusionEvent::ServerHeaderUpdate {
        peer: peer.clone(),
        add_block: (h(A), 57),
        tip: None,
    });
    t.diffusion.trace(&DiffusionEvent::SendBlock {
        peer: peer.clone(),
        block: h(B),
    });
    t.mempool.trace(&MempoolEvent::AddedTx {
        txid: h("20a1aefc00000000000000000000000000000000000000000000000000000000"),
        size: MempoolSize {
            bytes: 1275,
            num_txs: 1,
        },
    });
    t.mempool.trace(&MempoolEvent::Collected {
        peer: peer.clone(),
        count: 2,
    });
    t.mempool.trace(&MempoolEvent::Processed {
        peer: peer.clone(),
        accepted: 1,
        rejected: 1,
    });
    t.ledger.trace(&LedgerMetrics {
        slot: 8,
        utxo_size: 600_003,
        deleg_map_size: 100_000,
        chain_density: 0.0,
    });
    let view = SelectView {
        block_no: 0,
        slot: 57,
        issuer_hash: [0x70; 28],
        tie_break: [0x92; 32],
    };
    t.chain_db.trace(&ChainDbEvent::AddedToCurrentChain {
        new_tip: (h(A), 57),
        view,
    });
    d.shutdown();

    let text = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = text.lines().collect();
    let expected = [
        ("Forge.Loop.StartLeadershipCheck", "Info", r#"{"kind":"TraceStartLeadershipCheck","slot":7}"#.to_owned()),
        ("Forge.Loop.BlockContext", "Debug", r#"{"current slot":7,"kind":"TraceBlockContext","tip":"genesis (origin)","tipBlockNo":0}"#.to_owned()),
        ("Forge.Loop.LedgerState", "Debug", r#"{"kind":"TraceLedgerState","slot":7}"#.to_owned()),
        ("Forge.Loop.LedgerView", "Debug", r#"{"kind":"TraceLedgerView","slot":7}"#.to_owned()),
        ("Forge.Loop.NodeNotLeader", "Info", r#"{"kind":"TraceNodeNotLeader","slot":7}"#.to_owned()),
        ("Forge.Loop.NodeIsLeader", "Info", r#"{"kind":"TraceNodeIsLeader","slot":100}"#.to_owned()),
        ("Forge.Loop.ForgeTickedLedgerState", "Debug", format!(r#"{{"kind":"TraceForgeTickedLedgerState","prev":"{A}@57","slot":100}}"#)),
        ("Forge.Loop.ForgingMempoolSnapshot", "Debug", format!(r#"{{"kind":"TraceForgingMempoolSnapshot","mempoolHash":"{A}","mempoolSlot":58,"prev":"{A}@57","slot":100}}"#)),
        ("Forge.Loop.ForgedBlock", "Info", format!(r#"{{"block":"{B}","blockNo":1,"blockPrev":"{A}","kind":"TraceForgedBlock","slot":100}}"#)),
        ("Forge.Loop.AdoptedBlock", "Info", format!(r#"{{"blockHash":"{B}","blockSize":64273,"kind":"TraceAdoptedBlock","slot":100}}"#)),
        ("ChainSync.Client.DownloadedHeader", "Info", format!(r#"{{"block":"{A}","blockNo":0,"kind":"DownloadedHeader","peer":{{"connectionId":"{PEER}"}},"slot":57}}"#)),
        ("BlockFetch.Client.SendFetchRequest", "Info", format!(r#"{{"head":"{A}","kind":"SendFetchRequest","length":1,"peer":{{"connectionId":"{PEER}"}}}}"#)),
        ("BlockFetch.Client.CompletedBlockFetch", "Info", format!(r#"{{"block":"{A}","delay":0.022536,"kind":"CompletedBlockFetch","peer":{{"connectionId":"{PEER}"}},"size":64192}}"#)),
        ("ChainSync.ServerHeader.Update", "Info", format!(r#"{{"addBlock":"{A}@57","blockingRead":true,"kind":"ChainSyncServer.Update","peer":{{"connectionId":"{PEER}"}},"risingEdge":true,"tip":{{"block":"genesis","blockNo":-1,"slot":0}}}}"#)),
        ("BlockFetch.Server.SendBlock", "Info", format!(r#"{{"block":"{B}","kind":"BlockFetchServer","peer":{{"connectionId":"{PEER}"}}}}"#)),
        ("Mempool.AddedTx", "Info", r#"{"kind":"TraceMempoolAddedTx","mempoolSize":{"bytes":1275,"numTxs":1},"tx":{"txid":"20a1aefc"}}"#.to_owned()),
        ("TxSubmission.TxInbound.Collected", "Debug", format!(r#"{{"count":2,"kind":"TraceTxSubmissionCollected","peer":{{"connectionId":"{PEER}"}}}}"#)),
        ("TxSubmission.TxInbound.Processed", "Debug", format!(r#"{{"accepted":1,"kind":"TraceTxSubmissionProcessed","peer":{{"connectionId":"{PEER}"}},"rejected":1}}"#)),
        ("LedgerMetrics", "Info", r#"{"chainDensity":0,"delegMapSize":100000,"kind":"LedgerMetrics","slot":8,"utxoSize":600003}"#.to_owned()),
    ];
    assert_eq!(ours.len(), expected.len() + 1, "{text}");
    for (line, (ns, sev, data)) in ours.iter().zip(expected.iter()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["ns"], *ns, "{line}");
        assert_eq!(v["sev"], *sev, "{line}");
        assert_eq!(data_of(line), data, "{ns}");
    }
    let last = ours.last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["ns"], "ChainDB.AddBlockEvent.AddedToCurrentChain");
    assert_eq!(v["sev"], "Notice");
    assert_eq!(v["data"]["newtip"], format!("{A}@57"));
    assert_eq!(v["data"]["newTipSelectView"]["kind"], "PraosTiebreakerView");
    let keys: Vec<&String> = v["data"]["newTipSelectView"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        keys,
        [
            "blockNo",
            "issueNo",
            "issuerHash",
            "kind",
            "slotNo",
            "tieBreakVRF"
        ]
    );
}
