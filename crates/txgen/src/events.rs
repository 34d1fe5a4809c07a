//! The generator's traces, under `Benchmark`. The summary keeps tx-generator's
//! `TraceBenchTxSubSummary` fields (`summary.ssTxSent`, `ssElapsed`, `ssEffectiveTps`,
//! `ssThreadwiseTps`, `ssFailures`, `ssTxUnavailable`), so an analysis reads either generator,
//! and adds what tx-generator does not say: requested vs achieved rate, accepted, rejected,
//! adopted, the generator's CPU, and whether the generator itself was the bottleneck.

use wb_trace::{DetailLevel, EventMeta, JsonObject, Severity, TraceEvent};

/// The final report of a benchmark phase.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Transactions sent.
    pub sent: u64,
    /// Accepted by the nodes' mempools.
    pub accepted: u64,
    /// Rejected, with a reason each (distinct reasons in `rejections`).
    pub rejected: u64,
    /// Seen on chain by the end.
    pub adopted: u64,
    /// Seconds from the first due time to the last answer.
    pub elapsed: f64,
    /// The configured rate.
    pub requested_tps: f64,
    /// Sent / elapsed.
    pub achieved_tps: f64,
    /// Per target: accepted / elapsed.
    pub per_target_tps: Vec<f64>,
    /// Connection failures and other errors, one line each.
    pub failures: Vec<String>,
    /// Distinct rejection reasons with counts.
    pub rejections: Vec<(String, u64)>,
    /// CPU the generator used, centiseconds.
    pub cpu_centis: u64,
    /// Achieved < 99 % of requested while the targets answered promptly: the generator was
    /// the bottleneck, not the nodes.
    pub generator_bound: bool,
}

/// The generator's messages.
#[derive(Debug, Clone, PartialEq)]
pub enum TxgenEvent {
    /// A setup phase is on chain.
    PhaseDone {
        /// `split-1`, `split-2`, …
        phase: String,
        /// Its transactions.
        txs: u64,
        /// Seconds from first submission to all seen on chain.
        seconds: f64,
    },
    /// Progress during the benchmark.
    Progress {
        /// Sent so far.
        sent: u64,
        /// Accepted so far.
        accepted: u64,
        /// Rejected so far.
        rejected: u64,
        /// Sent per second over the last interval.
        tps: f64,
    },
    /// A rejected transaction (the first of each distinct reason is traced).
    Rejected {
        /// The target.
        target: String,
        /// The node's reason.
        reason: String,
    },
    /// Something went wrong (a target stopped answering, a phase never landed).
    Error {
        /// One line.
        message: String,
    },
    /// The final report.
    Summary(Box<Summary>),
}

impl TraceEvent for TxgenEvent {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "PhaseDone",
            Severity::Info,
            "A funds-splitting phase is on chain (confirmed by following the chain, not by sleeping).",
        ),
        EventMeta::new(
            "Progress",
            Severity::Info,
            "Sent, accepted and rejected so far, and the rate over the last interval.",
        ),
        EventMeta::new(
            "Rejected",
            Severity::Warning,
            "A node rejected a transaction; the first of each distinct reason is traced.",
        ),
        EventMeta::new(
            "Error",
            Severity::Error,
            "A target failed or a phase did not land in time.",
        ),
        EventMeta::new(
            "BenchTxSubSummary",
            Severity::Notice,
            "The benchmark's summary: tx-generator's fields plus requested vs achieved rate, acceptance, adoption, CPU and whether the generator was the bottleneck.",
        ),
    ];

    fn namespace(&self) -> usize {
        match self {
            TxgenEvent::PhaseDone { .. } => 0,
            TxgenEvent::Progress { .. } => 1,
            TxgenEvent::Rejected { .. } => 2,
            TxgenEvent::Error { .. } => 3,
            TxgenEvent::Summary(_) => 4,
        }
    }

    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            TxgenEvent::PhaseDone {
                phase,
                txs,
                seconds,
            } => {
                o.str("kind", "PhaseDone")
                    .str("phase", phase)
                    .f64("seconds", *seconds)
                    .u64("txs", *txs);
            }
            TxgenEvent::Progress {
                sent,
                accepted,
                rejected,
                tps,
            } => {
                o.u64("accepted", *accepted)
                    .str("kind", "Progress")
                    .u64("rejected", *rejected)
                    .u64("sent", *sent)
                    .f64("tps", *tps);
            }
            TxgenEvent::Rejected { target, reason } => {
                o.str("kind", "Rejected")
                    .str("reason", reason)
                    .str("target", target);
            }
            TxgenEvent::Error { message } => {
                o.str("kind", "Error").str("message", message);
            }
            TxgenEvent::Summary(s) => {
                o.u64("accepted", s.accepted)
                    .f64("achievedTps", s.achieved_tps)
                    .u64("adopted", s.adopted)
                    .bool("generatorBound", s.generator_bound)
                    .u64("generatorCentiCpu", s.cpu_centis)
                    .str("kind", "TraceBenchTxSubSummary")
                    .u64("rejected", s.rejected)
                    .array("rejections", |a| {
                        for (reason, n) in &s.rejections {
                            a.object(|r| {
                                r.u64("count", *n).str("reason", reason);
                            });
                        }
                    })
                    .f64("requestedTps", s.requested_tps)
                    .object("summary", |m| {
                        m.f64("ssEffectiveTps", s.achieved_tps)
                            .f64("ssElapsed", s.elapsed)
                            .array("ssFailures", |a| {
                                for f in &s.failures {
                                    a.str(f);
                                }
                            })
                            .array("ssThreadwiseTps", |a| {
                                for t in &s.per_target_tps {
                                    a.f64(*t);
                                }
                            })
                            .u64("ssTxSent", s.sent)
                            .u64("ssTxUnavailable", 0);
                    });
            }
        }
    }
}
