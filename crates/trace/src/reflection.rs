//! `Reflection.*`: what the tracing system says about itself (limiters, drops, configuration).

use crate::event::{EventMeta, TraceEvent};
use crate::json::JsonObject;
use crate::severity::{DetailLevel, Severity};

/// Messages of the tracing system about itself, under the `Reflection` prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum ReflectionEvent {
    /// A frequency limiter started suppressing messages of namespace `name`.
    StartLimiting {
        /// The limited namespace.
        name: String,
    },
    /// A limiter is still suppressing (every 10 s).
    RememberLimiting {
        /// The limited namespace.
        name: String,
        /// Messages suppressed so far.
        suppressed: u64,
    },
    /// A limiter stopped suppressing.
    StopLimiting {
        /// The limited namespace.
        name: String,
        /// Messages it suppressed in all.
        suppressed: u64,
    },
    /// The log writer dropped lines because its buffer was full.
    DroppedMessages {
        /// The backend that dropped them.
        backend: &'static str,
        /// Lines dropped since the last report.
        dropped: u64,
    },
    /// Which tracers exist, which are entirely silent and which update no metrics.
    TracerInfo {
        /// Every tracer prefix.
        all: Vec<String>,
        /// Prefixes all of whose namespaces are filtered out.
        silent: Vec<String>,
        /// Prefixes that update no metrics.
        no_metrics: Vec<String>,
    },
    /// Problems found in the namespaces or the configuration.
    TracerConsistencyWarnings {
        /// One line per problem.
        warnings: Vec<String>,
    },
}

impl TraceEvent for ReflectionEvent {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "StartLimiting",
            Severity::Info,
            "A frequency limiter (`maxFrequency`) started suppressing messages of the named namespace.",
        ),
        EventMeta::new(
            "RememberLimiting",
            Severity::Info,
            "A frequency limiter is still suppressing; repeated every 10 s with the count so far.",
        ),
        EventMeta::new(
            "StopLimiting",
            Severity::Info,
            "A frequency limiter stopped suppressing, with the number of messages it suppressed.",
        ),
        EventMeta::new(
            "DroppedMessages",
            Severity::Warning,
            "The log writer's buffer was full and lines were dropped (counted, never silently).",
        ),
        EventMeta::new(
            "TracerInfo",
            Severity::Notice,
            "The tracers of this process, the silent ones and those without metrics.",
        ),
        EventMeta::new(
            "TracerConsistencyWarnings",
            Severity::Warning,
            "Duplicate or overlapping namespaces, or configured namespaces no tracer has.",
        ),
    ];

    fn namespace(&self) -> usize {
        match self {
            ReflectionEvent::StartLimiting { .. } => 0,
            ReflectionEvent::RememberLimiting { .. } => 1,
            ReflectionEvent::StopLimiting { .. } => 2,
            ReflectionEvent::DroppedMessages { .. } => 3,
            ReflectionEvent::TracerInfo { .. } => 4,
            ReflectionEvent::TracerConsistencyWarnings { .. } => 5,
        }
    }

    fn to_machine(&self, _detail: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            ReflectionEvent::StartLimiting { name } => {
                o.str("kind", "StartLimiting").str("name", name);
            }
            ReflectionEvent::RememberLimiting { name, suppressed } => {
                o.str("kind", "RememberLimiting")
                    .str("name", name)
                    .u64("numSuppressed", *suppressed);
            }
            ReflectionEvent::StopLimiting { name, suppressed } => {
                o.str("kind", "StopLimiting")
                    .str("name", name)
                    .u64("numSuppressed", *suppressed);
            }
            ReflectionEvent::DroppedMessages { backend, dropped } => {
                o.str("backend", backend)
                    .u64("dropped", *dropped)
                    .str("kind", "DroppedMessages");
            }
            ReflectionEvent::TracerInfo {
                all,
                silent,
                no_metrics,
            } => {
                o.str("allTracers", &all.join(" "))
                    .str("kind", "TracerMeta")
                    .str("noMetrics", &no_metrics.join(" "))
                    .str("silentTracers", &silent.join(" "));
            }
            ReflectionEvent::TracerConsistencyWarnings { warnings } => {
                o.str("kind", "TracerConsistencyWarnings")
                    .array("warnings", |a| {
                        for w in warnings {
                            a.str(w);
                        }
                    });
            }
        }
    }

    fn to_human(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = match self {
            ReflectionEvent::StartLimiting { name } => {
                write!(out, "Start of frequency limiting for {name}")
            }
            ReflectionEvent::RememberLimiting { name, suppressed } => {
                write!(
                    out,
                    "Frequency limiting still active for {name}, {suppressed} messages suppressed so far"
                )
            }
            ReflectionEvent::StopLimiting { name, suppressed } => {
                write!(
                    out,
                    "Stop of frequency limiting for {name}, {suppressed} messages suppressed"
                )
            }
            ReflectionEvent::DroppedMessages { backend, dropped } => {
                write!(
                    out,
                    "{backend} backend dropped {dropped} messages: its buffer was full"
                )
            }
            ReflectionEvent::TracerInfo { all, silent, .. } => {
                write!(
                    out,
                    "{} tracers, {} silent: {}",
                    all.len(),
                    silent.len(),
                    silent.join(" ")
                )
            }
            ReflectionEvent::TracerConsistencyWarnings { warnings } => {
                write!(out, "Consistency warnings: {}", warnings.join("; "))
            }
        };
    }
}
