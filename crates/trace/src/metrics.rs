//! The metrics registry: counters, integer and real gauges, histograms, all plain atomics (no
//! lock on update), with Prometheus text exposition.
//!
//! Names follow cardano-node: a configurable prefix (`TraceOptionMetricsPrefix`, by default
//! `cardano.node.metrics.`) and a kind suffix (`_counter`, `_int`, `_real`) that PrometheusSimple's
//! `nosuffix` drops. In exposition every character outside `[A-Za-z0-9_:]` becomes `_`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use crate::event::{MetricDoc, MetricKind};

/// The prefix cardano-node puts before every metric name unless configured otherwise.
pub const DEFAULT_METRICS_PREFIX: &str = "cardano.node.metrics.";

/// One metric: its description and its current value.
#[derive(Debug)]
pub struct Metric {
    name: String,
    help: String,
    value: MetricValue,
}

#[derive(Debug)]
enum MetricValue {
    Counter(AtomicU64),
    Gauge(AtomicI64),
    GaugeF64(AtomicU64),
    Histogram(Histogram),
}

#[derive(Debug)]
struct Histogram {
    bounds: Vec<f64>,
    /// One count per bound plus the `+Inf` bucket; not cumulative (exposition sums them).
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_bits: AtomicU64,
}

/// A point-in-time value of one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricSample {
    /// A counter's total.
    Counter(u64),
    /// An integer level.
    Gauge(i64),
    /// A real level.
    GaugeF64(f64),
    /// A histogram: (upper bound, cumulative count) per bucket, then the total count and sum.
    Histogram {
        /// Cumulative counts for each finite upper bound.
        buckets: Vec<(f64, u64)>,
        /// Number of observations.
        count: u64,
        /// Sum of observations.
        sum: f64,
    },
}

impl Metric {
    fn new(name: &str, help: &str, kind: MetricKind) -> Self {
        let value = match kind {
            MetricKind::Counter => MetricValue::Counter(AtomicU64::new(0)),
            MetricKind::Gauge => MetricValue::Gauge(AtomicI64::new(0)),
            MetricKind::GaugeF64 => MetricValue::GaugeF64(AtomicU64::new(0f64.to_bits())),
            MetricKind::Histogram(bounds) => MetricValue::Histogram(Histogram {
                bounds: bounds.to_vec(),
                buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                count: AtomicU64::new(0),
                sum_bits: AtomicU64::new(0f64.to_bits()),
            }),
        };
        Metric {
            name: name.to_owned(),
            help: help.to_owned(),
            value,
        }
    }

    /// The name as registered (without prefix or suffix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The help text.
    pub fn help(&self) -> &str {
        &self.help
    }

    /// Adds `n` to a counter, or to an integer gauge.
    #[inline]
    pub fn add(&self, n: u64) {
        match &self.value {
            MetricValue::Counter(c) => {
                c.fetch_add(n, Relaxed);
            }
            MetricValue::Gauge(g) => {
                g.fetch_add(n as i64, Relaxed);
            }
            _ => debug_assert!(
                false,
                "add on metric {} that is not a counter or gauge",
                self.name
            ),
        }
    }

    /// Sets an integer gauge (or a real gauge, converted).
    #[inline]
    pub fn set(&self, v: i64) {
        match &self.value {
            MetricValue::Gauge(g) => g.store(v, Relaxed),
            MetricValue::GaugeF64(g) => g.store((v as f64).to_bits(), Relaxed),
            _ => debug_assert!(false, "set on metric {} that is not a gauge", self.name),
        }
    }

    /// Sets a real gauge (or an integer gauge, rounded).
    #[inline]
    pub fn set_f64(&self, v: f64) {
        match &self.value {
            MetricValue::GaugeF64(g) => g.store(v.to_bits(), Relaxed),
            MetricValue::Gauge(g) => g.store(v.round() as i64, Relaxed),
            _ => debug_assert!(false, "set_f64 on metric {} that is not a gauge", self.name),
        }
    }

    /// Records one observation in a histogram.
    #[inline]
    pub fn observe(&self, v: f64) {
        let MetricValue::Histogram(h) = &self.value else {
            debug_assert!(
                false,
                "observe on metric {} that is not a histogram",
                self.name
            );
            return;
        };
        let i = h.bounds.partition_point(|&b| b < v);
        h.buckets[i].fetch_add(1, Relaxed);
        h.count.fetch_add(1, Relaxed);
        let mut cur = h.sum_bits.load(Relaxed);
        loop {
            let next = (f64::from_bits(cur) + v).to_bits();
            match h
                .sum_bits
                .compare_exchange_weak(cur, next, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The current value.
    pub fn sample(&self) -> MetricSample {
        match &self.value {
            MetricValue::Counter(c) => MetricSample::Counter(c.load(Relaxed)),
            MetricValue::Gauge(g) => MetricSample::Gauge(g.load(Relaxed)),
            MetricValue::GaugeF64(g) => MetricSample::GaugeF64(f64::from_bits(g.load(Relaxed))),
            MetricValue::Histogram(h) => {
                let mut acc = 0;
                let buckets = h
                    .bounds
                    .iter()
                    .zip(h.buckets.iter())
                    .map(|(&b, c)| {
                        acc += c.load(Relaxed);
                        (b, acc)
                    })
                    .collect();
                MetricSample::Histogram {
                    buckets,
                    count: h.count.load(Relaxed),
                    sum: f64::from_bits(h.sum_bits.load(Relaxed)),
                }
            }
        }
    }

    fn suffix(&self) -> &'static str {
        match self.value {
            MetricValue::Counter(_) => "_counter",
            MetricValue::Gauge(_) => "_int",
            MetricValue::GaugeF64(_) => "_real",
            MetricValue::Histogram(_) => "",
        }
    }
}

/// The handles of the metrics one event type declared, in the order of its `METRICS`.
#[derive(Debug, Clone, Default)]
pub struct EventMetrics {
    handles: Arc<[Arc<Metric>]>,
}

impl EventMetrics {
    /// The metric at `index` of the event type's `METRICS`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&Metric> {
        self.handles.get(index).map(|m| &**m)
    }

    /// Increments counter `index` by one.
    #[inline]
    pub fn inc(&self, index: usize) {
        self.add(index, 1);
    }

    /// Adds `n` to counter (or gauge) `index`.
    #[inline]
    pub fn add(&self, index: usize, n: u64) {
        if let Some(m) = self.get(index) {
            m.add(n);
        }
    }

    /// Sets gauge `index`.
    #[inline]
    pub fn set(&self, index: usize, v: i64) {
        if let Some(m) = self.get(index) {
            m.set(v);
        }
    }

    /// Sets real gauge `index`.
    #[inline]
    pub fn set_f64(&self, index: usize, v: f64) {
        if let Some(m) = self.get(index) {
            m.set_f64(v);
        }
    }

    /// Records an observation in histogram `index`.
    #[inline]
    pub fn observe(&self, index: usize, v: f64) {
        if let Some(m) = self.get(index) {
            m.observe(v);
        }
    }
}

/// All metrics of a process. Registration takes a lock; updates never do.
#[derive(Debug)]
pub struct MetricsRegistry {
    prefix: String,
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    by_name: HashMap<String, usize>,
    metrics: Vec<Arc<Metric>>,
}

/// Options of Prometheus exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Drop the `_counter`/`_int`/`_real` suffixes (PrometheusSimple's `nosuffix`).
    pub no_suffix: bool,
    /// Labels added to every sample, e.g. `[("node", "node-1")]`.
    pub labels: Vec<(String, String)>,
}

impl MetricsRegistry {
    /// An empty registry whose names get `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        MetricsRegistry {
            prefix: prefix.into(),
            inner: Mutex::default(),
        }
    }

    /// The name prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The metric called `doc.name`, created if new. A name registered twice is one metric; the
    /// kind of the first registration wins.
    pub fn register(&self, doc: &MetricDoc) -> Arc<Metric> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&i) = inner.by_name.get(doc.name) {
            return inner.metrics[i].clone();
        }
        let m = Arc::new(Metric::new(doc.name, doc.help, doc.kind));
        let i = inner.metrics.len();
        inner.metrics.push(m.clone());
        inner.by_name.insert(doc.name.to_owned(), i);
        m
    }

    /// Handles for every metric of `docs`, in order.
    pub fn register_all(&self, docs: &[MetricDoc]) -> EventMetrics {
        EventMetrics {
            handles: docs.iter().map(|d| self.register(d)).collect(),
        }
    }

    /// The metric registered under `name`, if any.
    pub fn get(&self, name: &str) -> Option<Arc<Metric>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.by_name.get(name).map(|&i| inner.metrics[i].clone())
    }

    /// Every metric, in registration order.
    pub fn all(&self) -> Vec<Arc<Metric>> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .metrics
            .clone()
    }

    /// The full dotted name of `m` as cardano-node would forward it: prefix, name and suffix
    /// (`cardano.node.metrics.blockNum_int`).
    pub fn full_name(&self, m: &Metric) -> String {
        format!("{}{}{}", self.prefix, m.name, m.suffix())
    }

    /// Renders every metric in the Prometheus text format (version 0.0.4).
    pub fn render_prometheus(&self, opts: &Exposition) -> String {
        let mut out = String::new();
        let labels = render_labels(&opts.labels);
        for m in self.all() {
            let mut name = String::with_capacity(self.prefix.len() + m.name.len() + 8);
            push_sanitised(&mut name, &self.prefix);
            push_sanitised(&mut name, &m.name);
            if !opts.no_suffix {
                name.push_str(m.suffix());
            }
            let ty = match m.value {
                MetricValue::Counter(_) => "counter",
                MetricValue::Gauge(_) | MetricValue::GaugeF64(_) => "gauge",
                MetricValue::Histogram(_) => "histogram",
            };
            if !m.help.is_empty() {
                let help = m.help.replace('\\', "\\\\").replace('\n', "\\n");
                let _ = writeln!(out, "# HELP {name} {help}");
            }
            let _ = writeln!(out, "# TYPE {name} {ty}");
            match m.sample() {
                MetricSample::Counter(v) => {
                    let _ = writeln!(out, "{name}{} {v}", braces(&labels));
                }
                MetricSample::Gauge(v) => {
                    let _ = writeln!(out, "{name}{} {v}", braces(&labels));
                }
                MetricSample::GaugeF64(v) => {
                    let _ = writeln!(out, "{name}{} {}", braces(&labels), prom_f64(v));
                }
                MetricSample::Histogram {
                    buckets,
                    count,
                    sum,
                } => {
                    let sep = if labels.is_empty() { "" } else { "," };
                    for (bound, c) in buckets {
                        let _ = writeln!(
                            out,
                            "{name}_bucket{{{labels}{sep}le=\"{}\"}} {c}",
                            prom_f64(bound)
                        );
                    }
                    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
                    let _ = writeln!(out, "{name}_sum{} {}", braces(&labels), prom_f64(sum));
                    let _ = writeln!(out, "{name}_count{} {count}", braces(&labels));
                }
            }
        }
        out
    }
}

fn push_sanitised(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        }
    }));
}

fn render_labels(labels: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_sanitised(&mut out, k);
        out.push_str("=\"");
        out.push_str(
            &v.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n"),
        );
        out.push('"');
    }
    out
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

fn prom_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: &[MetricDoc] = &[
        MetricDoc::new("blockNum", MetricKind::Gauge, "Block number of the tip"),
        MetricDoc::new("Forge.forged", MetricKind::Counter, "Blocks forged"),
        MetricDoc::new("density", MetricKind::GaugeF64, "Chain density"),
        MetricDoc::new(
            "delay",
            MetricKind::Histogram(&[0.1, 1.0]),
            "Fetch delay (s)",
        ),
    ];

    #[test]
    fn updates_and_exposition() {
        let reg = MetricsRegistry::new(DEFAULT_METRICS_PREFIX);
        let m = reg.register_all(DOCS);
        m.set(0, 42);
        m.inc(1);
        m.add(1, 2);
        m.set_f64(2, 0.05);
        for v in [0.05, 0.5, 0.5, 7.0] {
            m.observe(3, v);
        }
        m.inc(99); // out of range: ignored
        let text = reg.render_prometheus(&Exposition {
            no_suffix: false,
            labels: vec![("node".into(), "node-1".into())],
        });
        assert!(
            text.contains("# TYPE cardano_node_metrics_blockNum_int gauge\n"),
            "{text}"
        );
        assert!(
            text.contains("cardano_node_metrics_blockNum_int{node=\"node-1\"} 42\n"),
            "{text}"
        );
        assert!(text.contains("cardano_node_metrics_Forge_forged_counter{node=\"node-1\"} 3\n"));
        assert!(text.contains("cardano_node_metrics_density_real{node=\"node-1\"} 0.05\n"));
        assert!(text.contains("cardano_node_metrics_delay_bucket{node=\"node-1\",le=\"0.1\"} 1\n"));
        assert!(text.contains("cardano_node_metrics_delay_bucket{node=\"node-1\",le=\"1.0\"} 3\n"));
        assert!(
            text.contains("cardano_node_metrics_delay_bucket{node=\"node-1\",le=\"+Inf\"} 4\n")
        );
        assert!(
            text.contains("cardano_node_metrics_delay_sum{node=\"node-1\"} 8.05\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP cardano_node_metrics_blockNum_int Block number of the tip\n")
        );
        let plain = reg.render_prometheus(&Exposition {
            no_suffix: true,
            labels: vec![],
        });
        assert!(
            plain.contains("cardano_node_metrics_blockNum 42\n"),
            "{plain}"
        );
        assert_eq!(
            reg.full_name(&reg.get("blockNum").unwrap()),
            "cardano.node.metrics.blockNum_int"
        );
    }

    #[test]
    fn same_name_is_one_metric() {
        let reg = MetricsRegistry::new("");
        let a = reg.register_all(&DOCS[1..2]);
        let b = reg.register_all(&DOCS[1..2]);
        a.inc(0);
        b.inc(0);
        assert_eq!(
            reg.get("Forge.forged").unwrap().sample(),
            MetricSample::Counter(2)
        );
        assert_eq!(reg.all().len(), 1);
    }

    #[test]
    fn counters_are_exact_under_concurrency() {
        let reg = MetricsRegistry::new("");
        let m = reg.register_all(DOCS);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        m.inc(1);
                        m.observe(3, 1.0);
                    }
                });
            }
        });
        assert_eq!(m.get(1).unwrap().sample(), MetricSample::Counter(80_000));
        let MetricSample::Histogram { count, sum, .. } = m.get(3).unwrap().sample() else {
            panic!()
        };
        assert_eq!((count, sum), (80_000, 80_000.0));
    }
}
