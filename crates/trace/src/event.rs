//! Typed trace events: what a message type declares about itself (cardano-node's `MetaTrace` and
//! `LogFormatting` in one trait).

use crate::json::JsonObject;
use crate::metrics::EventMetrics;
use crate::severity::{DetailLevel, Privacy, Severity};

/// What one namespace of an event type is: its inner name and its documented defaults.
#[derive(Debug, Clone, Copy)]
pub struct EventMeta {
    /// The inner namespace, dotted (`"ForgedBlock"`, `"AddBlockEvent.AddedToCurrentChain"`). The
    /// tracer's prefix comes in front of it.
    pub name: &'static str,
    /// Severity of messages of this namespace (an event may refine it per value).
    pub severity: Severity,
    /// Whether messages may be forwarded.
    pub privacy: Privacy,
    /// The detail level used when the configuration names none.
    pub detail: DetailLevel,
    /// What the message means, for `wb trace-docs`.
    pub doc: &'static str,
    /// Names (from [`TraceEvent::METRICS`]) of the metrics messages of this namespace update.
    pub metrics: &'static [&'static str],
}

impl EventMeta {
    /// A public, `DNormal` namespace that updates no metrics: the common case.
    pub const fn new(name: &'static str, severity: Severity, doc: &'static str) -> Self {
        EventMeta {
            name,
            severity,
            privacy: Privacy::Public,
            detail: DetailLevel::DNormal,
            doc,
            metrics: &[],
        }
    }

    /// The same, with the given privacy.
    pub const fn privacy(mut self, privacy: Privacy) -> Self {
        self.privacy = privacy;
        self
    }

    /// The same, with the given default detail level.
    pub const fn detail(mut self, detail: DetailLevel) -> Self {
        self.detail = detail;
        self
    }

    /// The same, documenting which metrics it updates.
    pub const fn metrics(mut self, metrics: &'static [&'static str]) -> Self {
        self.metrics = metrics;
        self
    }
}

/// The kind of a metric, which decides its Prometheus type and cardano-node's name suffix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricKind {
    /// A monotonically increasing count (`CounterM`, suffix `_counter`).
    Counter,
    /// An integer level (`IntM`, suffix `_int`).
    Gauge,
    /// A real-valued level (`DoubleM`, suffix `_real`).
    GaugeF64,
    /// A distribution over fixed upper bucket bounds (ascending); an extension of ours.
    Histogram(&'static [f64]),
}

/// A metric an event type updates, as documented and as registered.
#[derive(Debug, Clone, Copy)]
pub struct MetricDoc {
    /// The metric name without prefix or suffix (`"blockNum"`, `"Mem.resident"`).
    pub name: &'static str,
    /// What it measures.
    pub help: &'static str,
    /// Its kind.
    pub kind: MetricKind,
}

impl MetricDoc {
    /// A metric description.
    pub const fn new(name: &'static str, kind: MetricKind, help: &'static str) -> Self {
        MetricDoc { name, help, kind }
    }
}

/// A type whose values are trace messages.
///
/// An implementation lists every namespace it can produce in [`NAMESPACES`](Self::NAMESPACES),
/// says which one a value belongs to, and renders itself. The dispatcher resolves the
/// configuration for each `(prefix, namespace)` pair once, so a message that is filtered out costs
/// a table lookup and a comparison, and nothing here is called for it except
/// [`update_metrics`](Self::update_metrics) (metrics are not filtered by severity, as in
/// trace-dispatcher).
pub trait TraceEvent {
    /// Every namespace of this type, in a fixed order; must be non-empty and free of duplicates.
    const NAMESPACES: &'static [EventMeta];

    /// Every metric this type updates; [`update_metrics`](Self::update_metrics) refers to them by
    /// index into this slice.
    const METRICS: &'static [MetricDoc] = &[];

    /// Index into [`NAMESPACES`](Self::NAMESPACES) of this value's namespace.
    fn namespace(&self) -> usize;

    /// Severity of this message; by default the namespace's documented one.
    #[inline]
    fn severity(&self) -> Severity {
        Self::NAMESPACES[self.namespace()].severity
    }

    /// Privacy of this message; by default the namespace's documented one.
    #[inline]
    fn privacy(&self) -> Privacy {
        Self::NAMESPACES[self.namespace()].privacy
    }

    /// Writes the machine payload (the `data` object's members) for `detail`. By convention it
    /// includes `"kind"`; keys go in ascending order.
    fn to_machine(&self, detail: DetailLevel, data: &mut JsonObject<'_>);

    /// Writes human text; writing nothing makes human output fall back to `{"data":…}`.
    fn to_human(&self, _out: &mut String) {}

    /// Updates the metrics of [`METRICS`](Self::METRICS); called for every message, filtered or not.
    #[inline]
    fn update_metrics(&self, _metrics: &EventMetrics) {}
}
