//! Shared pieces of the wb-trace integration tests: a capturing output and a test event type
//! shaped like cardano-node's `Forge.Loop` messages.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wb_trace::{
    DetailLevel, EventMeta, JsonObject, MetricDoc, MetricKind, Privacy, Severity, TraceEvent,
};

/// An output that keeps everything written to it.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }
}

/// Path of a shared fixture, relative to the workspace root.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

/// Forging-loop messages, with the real field names.
#[derive(Debug, Clone)]
pub enum Forge {
    NodeNotLeader {
        slot: u64,
    },
    ForgedBlock {
        block: String,
        block_no: u64,
        block_prev: String,
        slot: u64,
    },
    /// A confidential message (never forwarded), with detail-dependent payload.
    Secret {
        key_period: u64,
        detail_hint: &'static str,
    },
}

pub const M_FORGED: usize = 0;
pub const M_SLOT: usize = 1;

impl TraceEvent for Forge {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "NodeNotLeader",
            Severity::Info,
            "The node is not the leader of this slot.",
        )
        .metrics(&["slotNum"]),
        EventMeta::new("ForgedBlock", Severity::Info, "The node forged a block.")
            .metrics(&["Forge.forged", "slotNum"]),
        EventMeta::new("Secret", Severity::Notice, "Key material, never forwarded.")
            .privacy(Privacy::Confidential),
    ];
    const METRICS: &'static [MetricDoc] = &[
        MetricDoc::new(
            "Forge.forged",
            MetricKind::Counter,
            "Blocks forged by this node",
        ),
        MetricDoc::new("slotNum", MetricKind::Gauge, "Current slot"),
    ];

    fn namespace(&self) -> usize {
        match self {
            Forge::NodeNotLeader { .. } => 0,
            Forge::ForgedBlock { .. } => 1,
            Forge::Secret { .. } => 2,
        }
    }

    fn to_machine(&self, detail: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            Forge::NodeNotLeader { slot } => {
                o.str("kind", "TraceNodeNotLeader").u64("slot", *slot);
            }
            Forge::ForgedBlock {
                block,
                block_no,
                block_prev,
                slot,
            } => {
                o.str("block", block)
                    .u64("blockNo", *block_no)
                    .str("blockPrev", block_prev)
                    .str("kind", "TraceForgedBlock")
                    .u64("slot", *slot);
            }
            Forge::Secret {
                key_period,
                detail_hint,
            } => {
                if detail >= DetailLevel::DDetailed {
                    o.str("hint", detail_hint);
                }
                o.u64("keyPeriod", *key_period).str("kind", "Secret");
            }
        }
    }

    fn to_human(&self, out: &mut String) {
        if let Forge::ForgedBlock { block, slot, .. } = self {
            out.push_str(&format!("Forged block {block} in slot {slot}"));
        }
    }

    fn update_metrics(&self, m: &wb_trace::EventMetrics) {
        match self {
            Forge::NodeNotLeader { slot } => m.set(M_SLOT, *slot as i64),
            Forge::ForgedBlock { slot, .. } => {
                m.inc(M_FORGED);
                m.set(M_SLOT, *slot as i64);
            }
            Forge::Secret { .. } => {}
        }
    }
}
