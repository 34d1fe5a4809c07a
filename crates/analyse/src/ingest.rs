//! One log line into an interpreted event, a counted skip, or a named error. Reads every shape
//! real logs have: the new tracing machine format (`ns` a dotted string or an array of
//! segments), the legacy iohk-monitoring format (`ns` a one-element array, the event in
//! `data.kind`, forging traces wrapped as `{credentials, val}`), and systemd-journal JSON exports
//! (the node's line in `MESSAGE`).

use serde_json::{Map, Value};

use crate::event::{Body, LogObject, ResourceSample};
use crate::names::{Kind, lookup};

/// Why a line is not read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    /// Not JSON (a human-format line, launcher chatter, a cut line).
    #[error("not JSON")]
    NotJson,
    /// JSON, but not a trace line: a field of the envelope is missing or wrong.
    #[error("field {0}: missing or not of the expected type")]
    Envelope(&'static str),
    /// A message the analysis reads lacks a field it needs.
    #[error("{ns}: field data.{field}: missing or not of the expected type")]
    Data {
        /// The message.
        ns: String,
        /// The field.
        field: &'static str,
    },
}

/// What a line is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A message the analysis reads, and its namespace as logged.
    Event(LogObject, String),
    /// A trace line the analysis does not read (its namespace, for frequency counts), or a
    /// variant of one it reads that carries nothing for it (a falling edge, a non-blocking
    /// read, a rollback: locli's `LOAny` kinds).
    Other {
        /// The namespace.
        ns: String,
        /// When.
        at: u64,
        /// The `host` field as logged.
        host: String,
    },
}

/// Reads one line.
pub fn parse_line(text: &str) -> Result<Line, LineError> {
    let v: Value = serde_json::from_str(text).map_err(|_| LineError::NotJson)?;
    let Value::Object(mut obj) = v else {
        return Err(LineError::NotJson);
    };
    // A systemd journal export: the node's own line is the MESSAGE.
    if !obj.contains_key("ns") {
        if let Some(Value::String(m)) = obj.get("MESSAGE") {
            return parse_line(m);
        }
    }
    let at = obj
        .get("at")
        .and_then(Value::as_str)
        .and_then(wb_trace::time::parse_utc_nanos)
        .ok_or(LineError::Envelope("at"))?;
    let ns = match obj.get("ns") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<&str>>>()
            .ok_or(LineError::Envelope("ns"))?
            .join("."),
        _ => return Err(LineError::Envelope("ns")),
    };
    let host = match obj.get("host") {
        Some(Value::String(h)) => h.clone(),
        _ => String::new(),
    };
    let thread = match obj.get("thread") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let mut data = match obj.remove("data") {
        Some(Value::Object(d)) => d,
        _ => return Err(LineError::Envelope("data")),
    };
    // Legacy forging traces: `{"credentials": …, "val": {"kind": …}}`.
    if !data.contains_key("kind") && data.contains_key("credentials") {
        if let Some(Value::Object(val)) = data.remove("val") {
            data = val;
        }
    }
    let kind = data.get("kind").and_then(Value::as_str);
    let Some(k) = lookup(&ns, kind) else {
        return Ok(Line::Other { ns, at, host });
    };
    let d = Data {
        ns: &ns,
        data: &data,
    };
    let body = match d.body(k)? {
        Some(b) => b,
        None => return Ok(Line::Other { ns, at, host }),
    };
    Ok(Line::Event(
        LogObject {
            at,
            host,
            thread,
            body,
        },
        ns,
    ))
}

struct Data<'a> {
    ns: &'a str,
    data: &'a Map<String, Value>,
}

impl Data<'_> {
    fn err(&self, field: &'static str) -> LineError {
        LineError::Data {
            ns: self.ns.to_owned(),
            field,
        }
    }

    /// A count: a number, or legacy `{"unBlockNo": n}` (locli's `BlockNoCompat`).
    fn opt_u64(&self, field: &'static str) -> Option<u64> {
        match self.data.get(field)? {
            Value::Number(n) => n.as_u64(),
            Value::Object(o) => o.values().next().and_then(Value::as_u64),
            _ => None,
        }
    }

    fn u64(&self, field: &'static str) -> Result<u64, LineError> {
        self.opt_u64(field).ok_or_else(|| self.err(field))
    }

    fn f64(&self, field: &'static str) -> Option<f64> {
        self.data.get(field).and_then(Value::as_f64)
    }

    /// A hash: the first 64 characters of a string (`hash@slot` points keep the hash).
    fn hash(&self, field: &'static str) -> Result<String, LineError> {
        self.data
            .get(field)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(64).collect())
            .ok_or_else(|| self.err(field))
    }

    fn body(&self, k: Kind) -> Result<Option<Body>, LineError> {
        let slot = || self.u64("slot");
        Ok(Some(match k {
            Kind::Resources => Body::Resources(Box::new(ResourceSample {
                centi_cpu: self.u64("CentiCpu")?,
                centi_gc: self.opt_u64("CentiGC"),
                centi_mut: self.opt_u64("CentiMut"),
                gcs_major: self.opt_u64("GcsMajor"),
                gcs_minor: self.opt_u64("GcsMinor"),
                alloc: self.opt_u64("Alloc").unwrap_or(0),
                live: self.opt_u64("Live"),
                rss: self.u64("RSS")?,
                heap: self.opt_u64("Heap").unwrap_or(0),
                centi_blk_io: self.opt_u64("CentiBlkIO").unwrap_or(0),
                threads: self.opt_u64("Threads").unwrap_or(0),
                net_rd: self.opt_u64("NetRd").unwrap_or(0),
                net_wr: self.opt_u64("NetWr").unwrap_or(0),
                fs_rd: self.opt_u64("FsRd").unwrap_or(0),
                fs_wr: self.opt_u64("FsWr").unwrap_or(0),
            })),
            Kind::StartLeadershipCheck => Body::StartLeadershipCheck {
                slot: slot()?,
                utxo_size: self.opt_u64("utxoSize"),
                chain_density: self.f64("chainDensity"),
            },
            Kind::BlockContext => Body::BlockContext {
                slot: self.u64("current slot")?,
                // locli reads `tipBlockNo − 1`: the field is one ahead of other traces' numbers.
                block_no: self.u64("tipBlockNo")?.saturating_sub(1),
            },
            Kind::LedgerState => Body::LedgerState { slot: slot()? },
            Kind::LedgerView => Body::LedgerView { slot: slot()? },
            Kind::NodeIsLeader => Body::LeadershipDecided {
                slot: slot()?,
                leader: true,
            },
            Kind::NodeNotLeader => Body::LeadershipDecided {
                slot: slot()?,
                leader: false,
            },
            Kind::TickedLedgerState => Body::TickedLedgerState { slot: slot()? },
            Kind::MempoolSnapshot => Body::MempoolSnapshot { slot: slot()? },
            Kind::ForgedBlock => Body::BlockForged {
                slot: slot()?,
                block_no: self.u64("blockNo")?,
                block: self.hash("block")?,
                prev: self.hash("blockPrev")?,
            },
            Kind::DownloadedHeader => Body::SeenHeader {
                slot: slot()?,
                block_no: self.u64("blockNo")?,
                block: self.hash("block")?,
            },
            Kind::SendFetchRequest => Body::FetchRequested {
                head: self.hash("head")?,
                length: self.u64("length")?,
            },
            Kind::CompletedBlockFetch => Body::FetchCompleted {
                block: self.hash("block")?,
            },
            Kind::ServerRead => Body::ServerSendHeader {
                block: self.hash("block")?,
            },
            Kind::ServerUpdate => {
                let flag = |f: &str| self.data.get(f).and_then(Value::as_bool);
                if flag("risingEdge") == Some(false)
                    || flag("blockingRead") == Some(false)
                    || self.data.contains_key("rollBackTo")
                {
                    return Ok(None);
                }
                let block = self.hash("addBlock").or_else(|_| self.hash("block"))?;
                Body::ServerSendHeader { block }
            }
            Kind::ServerSendBlock => Body::ServerSendBlock {
                block: self.hash("block")?,
            },
            Kind::AddedToCurrentChain => Body::AddedToCurrentChain {
                block: self.hash("newtip")?,
                size: None,
                chain_length_delta: self
                    .data
                    .get("chainLengthDelta")
                    .and_then(Value::as_i64)
                    .unwrap_or(1),
            },
            Kind::AdoptedBlock => Body::AddedToCurrentChain {
                block: self.hash("blockHash")?,
                size: self.opt_u64("blockSize"),
                chain_length_delta: 1,
            },
            Kind::SwitchedToAFork => Body::SwitchedToAFork {
                block: self.hash("newtip")?,
            },
            Kind::TookSnapshot => Body::TookSnapshot,
            Kind::LedgerMetrics => Body::LedgerMetrics {
                slot: slot()?,
                utxo_size: self.opt_u64("utxoSize"),
                chain_density: self.f64("chainDensity"),
            },
            Kind::TxsAcked => Body::TxsAcked(
                self.data
                    .get("txIds")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Kind::TxsCollected => Body::TxsCollected(self.u64("count")?),
            Kind::TxsProcessed => Body::TxsProcessed {
                accepted: self.u64("accepted")?,
                rejected: self.u64("rejected")?,
            },
            Kind::MempoolAddedTx | Kind::MempoolRemoveTxs => Body::MempoolTxs(
                self.data
                    .get("mempoolSize")
                    .and_then(|m| m.get("numTxs"))
                    .and_then(Value::as_u64)
                    .ok_or_else(|| self.err("mempoolSize.numTxs"))?,
            ),
            Kind::MempoolRejectedTx => Body::MempoolRejectedTx,
            Kind::GeneratorSummary => {
                let s = self
                    .data
                    .get("summary")
                    .and_then(Value::as_object)
                    .ok_or_else(|| self.err("summary"))?;
                Body::GeneratorSummary {
                    no_failures: s
                        .get("ssFailures")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty),
                    sent: s
                        .get("ssTxSent")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| self.err("summary.ssTxSent"))?,
                    elapsed: s.get("ssElapsed").and_then(Value::as_f64).unwrap_or(0.0),
                    threadwise_tps: s
                        .get("ssThreadwiseTps")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_f64).collect())
                        .unwrap_or_default(),
                }
            }
        }))
    }
}
