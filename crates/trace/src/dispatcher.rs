//! The dispatcher: registers typed tracers, resolves the configuration for every namespace into
//! a dense table, and routes each message that passes to the configured backends.
//!
//! The hot path of a message that is filtered out is: one atomic load of the current table, an
//! index by the tracer's base id plus the event's namespace index, and a comparison of severities.
//! No map lookup, no string work, no clock read. A message that passes is rendered once, straight
//! from the event into a thread-local buffer, and the same bytes go to every backend.

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::config::{Backend, ResolvedOptions, StdoutFormat, TraceConfig};
use crate::event::{EventMeta, MetricDoc, TraceEvent};
use crate::forward::{ForwardSink, TraceObjectRef};
use crate::forwarder::{Forwarder, ForwarderEvent, ForwarderSettings};
use crate::json::{self, JsonObject};
use crate::limiter::{Decision, FrequencyLimiter};
use crate::metrics::{EventMetrics, MetricsRegistry};
use crate::prometheus::PrometheusServer;
use crate::reflection::ReflectionEvent;
use crate::resources::ResourceSampler;
use crate::severity::{DetailLevel, Privacy, Severity, SeverityFilter};
use crate::time;
use crate::writer::{LogWriter, WriterOptions, WriterStats};

const TO_STDOUT: u8 = 1;
const TO_FORWARDER: u8 = 2;
const TO_METRICS: u8 = 4;

/// The resolved configuration of one namespace, as the hot path reads it.
struct NsEntry {
    min_severity: u8,
    flags: u8,
    detail: DetailLevel,
    limiter: Option<Arc<FrequencyLimiter>>,
    name: Arc<str>,
    /// The namespace, escaped for a JSON string.
    name_json: Arc<[u8]>,
}

/// One immutable generation of the resolved configuration.
struct Table {
    entries: Box<[NsEntry]>,
    stdout_format: Option<StdoutFormat>,
}

/// The current table behind one atomic pointer. Replaced tables are kept until the dispatcher is
/// dropped, so a reader never needs a lock or a reference count: registration and
/// reconfiguration are rare and a table is small.
struct TableCell {
    current: AtomicPtr<Table>,
    // Boxed so each table keeps its address when the vector grows: `current` points at one.
    #[allow(clippy::vec_box)]
    generations: Mutex<Vec<Box<Table>>>,
}

impl TableCell {
    fn new(t: Table) -> Self {
        let mut b = Box::new(t);
        let p: *mut Table = &mut *b;
        TableCell {
            current: AtomicPtr::new(p),
            generations: Mutex::new(vec![b]),
        }
    }

    #[inline]
    fn load(&self) -> &Table {
        // SAFETY: `current` always points into a box owned by `generations`, which only grows
        // and lives as long as `self`; tables are never mutated after publication.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }

    fn publish(&self, t: Table) {
        let mut gens = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut b = Box::new(t);
        let p: *mut Table = &mut *b;
        gens.push(b);
        self.current.store(p, Ordering::Release);
    }
}

/// A registered namespace.
#[derive(Debug, Clone)]
pub struct NamespaceInfo {
    /// The full dotted namespace (prefix and inner name).
    pub name: Arc<str>,
    /// The tracer prefix it was registered under.
    pub prefix: Arc<str>,
    /// Its documented defaults.
    pub meta: EventMeta,
    /// The metrics its event type declares (by name in `meta.metrics`).
    pub type_metrics: &'static [MetricDoc],
}

struct Registry {
    config: TraceConfig,
    namespaces: Vec<NamespaceInfo>,
    by_name: HashMap<Arc<str>, u32>,
    blocks: HashMap<(TypeId, Arc<str>), u32>,
    warnings: Vec<String>,
}

struct Inner {
    host: String,
    host_json: Vec<u8>,
    table: TableCell,
    registry: Mutex<Registry>,
    metrics: Arc<MetricsRegistry>,
    writer: Option<LogWriter>,
    forwarder: Option<Arc<dyn ForwardSink>>,
    reflection_base: u32,
    reflection_metrics: EventMetrics,
}

/// Where the `Stdout` backend's lines go.
pub enum Output {
    /// The process's standard output.
    Stdout,
    /// A file, created or appended to.
    File(PathBuf),
    /// Any writer (benchmarks, tests, an in-memory capture).
    Writer(Box<dyn Write + Send>),
    /// Nowhere: `Stdout` backends are off (documentation, dry runs).
    None,
}

/// Configures and builds a [`Dispatcher`].
pub struct DispatcherBuilder {
    config: TraceConfig,
    host: Option<String>,
    output: Output,
    writer_options: WriterOptions,
    forwarder: Option<Arc<dyn ForwardSink>>,
    forward_to: Option<ForwarderSettings>,
    resources: bool,
}

/// An error starting the dispatcher.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The log file could not be opened.
    #[error("cannot open log file {path}: {source}")]
    LogFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A thread could not be started or a socket bound.
    #[error("cannot start {what}: {source}")]
    Start {
        /// What failed.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl DispatcherBuilder {
    /// The trace configuration (default: trace-dispatcher's defaults).
    pub fn config(mut self, config: TraceConfig) -> Self {
        self.config = config;
        self
    }

    /// The `host` of every line (default: `$TRACE_DISPATCHER_LOGGING_HOSTNAME`, else the short
    /// host name).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Where `Stdout` backends write (default: standard output).
    pub fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Tuning of the log writer.
    pub fn writer_options(mut self, opts: WriterOptions) -> Self {
        self.writer_options = opts;
        self
    }

    /// The sink of the `Forwarder` backend.
    pub fn forwarder(mut self, sink: Arc<dyn ForwardSink>) -> Self {
        self.forwarder = Some(sink);
        self
    }

    /// Forward public messages to a tracer (trace-forward over a Unix socket or TCP), serving it
    /// `NodeInfo` and this process's metrics.
    pub fn forward_to(mut self, settings: ForwarderSettings) -> Self {
        self.forward_to = Some(settings);
        self
    }

    /// Sample this process's resources every `TraceOptionResourceFrequency` ms (off by default).
    pub fn sample_resources(mut self, on: bool) -> Self {
        self.resources = on;
        self
    }

    /// Starts the writer (and the resource sampler and Prometheus endpoint, if configured).
    pub fn build(self) -> Result<Dispatcher, BuildError> {
        let host = self.host.unwrap_or_else(default_host);
        let mut host_json = Vec::new();
        json::write_str_body(&mut host_json, &host);
        let metrics = Arc::new(MetricsRegistry::new(self.config.metrics_prefix.clone()));
        let prometheus_backend = self.config.prometheus_simple().cloned();
        let resource_period = self.config.resource_frequency_ms;
        let mut registry = Registry {
            config: self.config,
            namespaces: Vec::new(),
            by_name: HashMap::new(),
            blocks: HashMap::new(),
            warnings: Vec::new(),
        };
        let reflection_base = registry.add::<ReflectionEvent>("Reflection");
        let table = registry.build_table(None);
        let forwarder_client = self.forward_to.map(|s| Forwarder::new(s, metrics.clone()));
        let forward_sink: Option<Arc<dyn ForwardSink>> = match &forwarder_client {
            Some(f) => Some(f.clone()),
            None => self.forwarder,
        };
        let out: Option<Box<dyn Write + Send>> = match self.output {
            Output::Stdout => Some(Box::new(std::io::stdout())),
            Output::File(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|source| BuildError::LogFile { path, source })?;
                Some(Box::new(f))
            }
            Output::Writer(w) => Some(w),
            Output::None => None,
        };
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let writer = out.and_then(|out| {
                let weak = weak.clone();
                let report = Box::new(move |dropped: u64| {
                    if let Some(inner) = weak.upgrade() {
                        inner.reflect(&ReflectionEvent::DroppedMessages {
                            backend: "Stdout",
                            dropped,
                        });
                    }
                });
                // A writer that cannot start leaves Stdout off; the error is reported below.
                LogWriter::spawn(out, self.writer_options.clone(), Some(report)).ok()
            });
            Inner {
                host,
                host_json,
                table: TableCell::new(table),
                registry: Mutex::new(registry),
                reflection_metrics: metrics.register_all(ReflectionEvent::METRICS),
                metrics,
                writer,
                forwarder: forward_sink,
                reflection_base,
            }
        });
        let mut dispatcher = Dispatcher {
            inner,
            prometheus: None,
            sampler: None,
            forwarder: None,
        };
        if let Some(f) = forwarder_client {
            f.start(dispatcher.tracer::<ForwarderEvent>("Forwarder"))
                .map_err(|source| BuildError::Start {
                    what: "forwarder".into(),
                    source,
                })?;
            dispatcher.forwarder = Some(f);
        }
        if let Some(Backend::PrometheusSimple {
            no_suffix,
            host,
            port,
        }) = prometheus_backend
        {
            let server =
                PrometheusServer::start(&host, port, dispatcher.inner.metrics.clone(), no_suffix)
                    .map_err(|source| BuildError::Start {
                    what: format!("PrometheusSimple on {host}:{port}"),
                    source,
                })?;
            dispatcher.prometheus = Some(server);
        }
        if self.resources && resource_period > 0 {
            let tracer = dispatcher.tracer::<crate::resources::ResourceStats>("Resources");
            let sampler =
                ResourceSampler::start(tracer, std::time::Duration::from_millis(resource_period))
                    .map_err(|source| BuildError::Start {
                    what: "resource sampler".into(),
                    source,
                })?;
            dispatcher.sampler = Some(sampler);
        }
        Ok(dispatcher)
    }
}

/// The tracing system of one process. Dropping it stops its threads after writing every line
/// accepted so far.
pub struct Dispatcher {
    inner: Arc<Inner>,
    prometheus: Option<PrometheusServer>,
    sampler: Option<ResourceSampler>,
    forwarder: Option<Arc<Forwarder>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("host", &self.inner.host)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A builder with trace-dispatcher's default configuration, writing to standard output.
    pub fn builder() -> DispatcherBuilder {
        DispatcherBuilder {
            config: TraceConfig::default(),
            host: None,
            output: Output::Stdout,
            writer_options: WriterOptions::default(),
            forwarder: None,
            forward_to: None,
            resources: false,
        }
    }

    /// A tracer for events of type `E` under `prefix` (dotted, e.g. `"Forge.Loop"`). Asking again
    /// for the same type and prefix gives a tracer of the same namespaces.
    pub fn tracer<E: TraceEvent + 'static>(&self, prefix: &str) -> Tracer<E> {
        let mut reg = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let known = reg
            .blocks
            .contains_key(&(TypeId::of::<E>(), Arc::from(prefix)));
        let base = reg.add::<E>(prefix);
        if !known {
            let table = reg.build_table(Some(self.inner.table.load()));
            self.inner.table.publish(table);
        }
        drop(reg);
        Tracer {
            inner: self.inner.clone(),
            base,
            metrics: self.inner.metrics.register_all(E::METRICS),
            _event: PhantomData,
        }
    }

    /// Replaces the configuration. Every namespace is resolved again and the new table replaces
    /// the old one in one atomic store; messages in flight finish with the table they started with.
    /// The PrometheusSimple endpoint and resource period stay as they were at start.
    pub fn reconfigure(&self, config: TraceConfig) {
        let mut reg = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        reg.config = config;
        let table = reg.build_table(Some(self.inner.table.load()));
        self.inner.table.publish(table);
    }

    /// The configuration in force.
    pub fn config(&self) -> TraceConfig {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .config
            .clone()
    }

    /// Every namespace registered so far, in registration order.
    pub fn namespaces(&self) -> Vec<NamespaceInfo> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .namespaces
            .clone()
    }

    /// Problems found so far: duplicate namespaces, namespaces that are prefixes of others, and
    /// configured namespaces that match no registered one.
    pub fn consistency_warnings(&self) -> Vec<String> {
        let reg = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut w = reg.warnings.clone();
        w.extend(
            reg.unmatched_config_keys()
                .into_iter()
                .map(|k| format!("configured namespace {k:?} matches no tracer")),
        );
        w
    }

    /// Emits `Reflection.TracerInfo` and, if there are any, `Reflection.TracerConsistencyWarnings`:
    /// call it once the process has created its tracers.
    pub fn announce(&self) {
        let (all, silent, no_metrics) = {
            let reg = self
                .inner
                .registry
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let table = self.inner.table.load();
            let mut by_prefix: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
            for (i, ns) in reg.namespaces.iter().enumerate() {
                let e = &table.entries[i];
                let slot = by_prefix.entry(&ns.prefix).or_insert((true, true));
                slot.0 &= e.min_severity as usize > ns.meta.severity as usize;
                slot.1 &= ns.meta.metrics.is_empty();
            }
            let pick = |f: fn(&(bool, bool)) -> bool| {
                by_prefix
                    .iter()
                    .filter(|(_, v)| f(v))
                    .map(|(k, _)| k.to_string())
                    .collect()
            };
            (
                by_prefix.keys().map(|k| k.to_string()).collect(),
                pick(|v| v.0),
                pick(|v| v.1),
            )
        };
        self.inner.reflect(&ReflectionEvent::TracerInfo {
            all,
            silent,
            no_metrics,
        });
        let warnings = self.consistency_warnings();
        if !warnings.is_empty() {
            self.inner
                .reflect(&ReflectionEvent::TracerConsistencyWarnings { warnings });
        }
    }

    /// The metrics registry of this process.
    pub fn metrics(&self) -> &Arc<MetricsRegistry> {
        &self.inner.metrics
    }

    /// The host name written into every line.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// The log writer's counters (zero when there is no output).
    pub fn writer_stats(&self) -> WriterStats {
        self.inner
            .writer
            .as_ref()
            .map(LogWriter::stats)
            .unwrap_or_default()
    }

    /// The address the PrometheusSimple endpoint listens on, if configured.
    pub fn prometheus_addr(&self) -> Option<std::net::SocketAddr> {
        self.prometheus.as_ref().map(PrometheusServer::local_addr)
    }

    /// The trace-forward client, if the dispatcher forwards to a tracer.
    pub fn forwarder(&self) -> Option<&Arc<Forwarder>> {
        self.forwarder.as_ref()
    }

    /// Stops the resource sampler and the Prometheus endpoint, gives a connected tracer up to
    /// 2 s to take the forwarder's queue, and writes out every line accepted so far. Lines traced
    /// afterwards are dropped and counted.
    pub fn shutdown(&mut self) {
        if let Some(s) = self.sampler.take() {
            s.stop();
        }
        if let Some(p) = self.prometheus.take() {
            p.stop();
        }
        if let Some(f) = self.forwarder.take() {
            f.stop(std::time::Duration::from_secs(2));
        }
        if let Some(w) = &self.inner.writer {
            w.stop();
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Traces events of type `E`. Cheap to clone; usable from any thread.
pub struct Tracer<E> {
    inner: Arc<Inner>,
    base: u32,
    metrics: EventMetrics,
    _event: PhantomData<fn(&E)>,
}

impl<E> Clone for Tracer<E> {
    fn clone(&self) -> Self {
        Tracer {
            inner: self.inner.clone(),
            base: self.base,
            metrics: self.metrics.clone(),
            _event: PhantomData,
        }
    }
}

impl<E> std::fmt::Debug for Tracer<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl<E: TraceEvent> Tracer<E> {
    /// Traces one message: updates its metrics, and if its severity passes the configured filter,
    /// renders it once and hands it to the configured backends.
    #[inline]
    pub fn trace(&self, ev: &E) {
        self.inner.trace_at(self.base, &self.metrics, ev);
    }

    /// Whether a message of namespace `namespace` (an index into `E::NAMESPACES`) at severity
    /// `sev` would be written: lets a caller skip building an expensive event.
    #[inline]
    pub fn enabled(&self, namespace: usize, sev: Severity) -> bool {
        let table = self.inner.table.load();
        table
            .entries
            .get(self.base as usize + namespace)
            .is_some_and(|e| sev as u8 >= e.min_severity)
    }

    /// The metric handles of this tracer's event type.
    pub fn metrics(&self) -> &EventMetrics {
        &self.metrics
    }
}

/// Per-thread buffers, reused for every message this thread renders.
struct Scratch {
    machine: Vec<u8>,
    human: String,
    line: Vec<u8>,
    thread_id: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

impl Scratch {
    fn new() -> Self {
        use std::sync::atomic::AtomicU64;
        static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
        Scratch {
            machine: Vec::with_capacity(512),
            human: String::new(),
            line: Vec::with_capacity(512),
            thread_id: id.to_string(),
        }
    }
}

impl Inner {
    #[inline]
    fn trace_at<E: TraceEvent>(&self, base: u32, metrics: &EventMetrics, ev: &E) {
        let table = self.table.load();
        let Some(entry) = table.entries.get(base as usize + ev.namespace()) else {
            return;
        };
        if !E::METRICS.is_empty() && entry.flags & TO_METRICS != 0 {
            ev.update_metrics(metrics);
        }
        let sev = ev.severity();
        if (sev as u8) < entry.min_severity {
            return;
        }
        self.emit(ev, sev, entry, table);
    }

    fn reflect(&self, ev: &ReflectionEvent) {
        self.trace_at(self.reflection_base, &self.reflection_metrics, ev);
    }

    #[inline(never)]
    fn emit<E: TraceEvent>(&self, ev: &E, sev: Severity, entry: &NsEntry, table: &Table) {
        let now = time::now_unix_nanos();
        if let Some(limiter) = &entry.limiter {
            let decision = limiter.check(now);
            let name = || entry.name.to_string();
            match decision {
                Decision::Pass | Decision::Suppress => {}
                Decision::PassStopped(suppressed) => self.reflect(&ReflectionEvent::StopLimiting {
                    name: name(),
                    suppressed,
                }),
                Decision::SuppressStarted => {
                    self.reflect(&ReflectionEvent::StartLimiting { name: name() })
                }
                Decision::SuppressRemind(suppressed) => {
                    self.reflect(&ReflectionEvent::RememberLimiting {
                        name: name(),
                        suppressed,
                    });
                }
            }
            if !decision.passes() {
                return;
            }
        }
        let stdout = match (&self.writer, table.stdout_format) {
            (Some(w), Some(format)) if entry.flags & TO_STDOUT != 0 => Some((w, format)),
            _ => None,
        };
        let forwarder = match &self.forwarder {
            Some(f) if entry.flags & TO_FORWARDER != 0 && ev.privacy() == Privacy::Public => {
                Some(&**f)
            }
            _ => None,
        };
        if stdout.is_none() && forwarder.is_none() {
            return;
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.render(ev, sev, entry, now, &mut scratch, stdout, forwarder),
            // Tracing from inside an event's own rendering: use fresh buffers.
            Err(_) => self.render(ev, sev, entry, now, &mut Scratch::new(), stdout, forwarder),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn render<E: TraceEvent>(
        &self,
        ev: &E,
        sev: Severity,
        entry: &NsEntry,
        now: u64,
        s: &mut Scratch,
        stdout: Option<(&LogWriter, StdoutFormat)>,
        forwarder: Option<&dyn ForwardSink>,
    ) {
        let human_out = matches!(
            stdout,
            Some((
                _,
                StdoutFormat::HumanColoured | StdoutFormat::HumanUncoloured
            ))
        );
        s.human.clear();
        if human_out || forwarder.is_some() {
            ev.to_human(&mut s.human);
        }
        // The machine line is needed by the machine format, the forwarder (`toMachine`) and the
        // human format's fallback for events without text.
        let data_range = if forwarder.is_some() || !human_out || s.human.is_empty() {
            Some(self.render_machine(ev, sev, entry, now, s))
        } else {
            None
        };
        if let Some((writer, format)) = stdout {
            if format == StdoutFormat::Machine {
                writer.push_parts(&s.machine, b"\n");
            } else {
                self.render_human(
                    sev,
                    entry,
                    now,
                    s,
                    data_range,
                    format == StdoutFormat::HumanColoured,
                );
                writer.push(&s.line);
            }
        }
        if let Some(f) = forwarder {
            // Both buffers hold UTF-8: JSON we wrote from `&str` pieces, and a `String`.
            let machine = std::str::from_utf8(&s.machine).unwrap_or_default();
            f.forward(&TraceObjectRef {
                human: (!s.human.is_empty()).then_some(s.human.as_str()),
                machine,
                namespace: &entry.name,
                severity: sev,
                detail: entry.detail,
                timestamp_nanos: now,
                hostname: &self.host,
                thread_id: &s.thread_id,
            });
        }
    }

    /// Writes the machine line into `s.machine`; returns the byte range of the `data` object.
    fn render_machine<E: TraceEvent>(
        &self,
        ev: &E,
        sev: Severity,
        entry: &NsEntry,
        now: u64,
        s: &mut Scratch,
    ) -> (usize, usize) {
        let m = &mut s.machine;
        m.clear();
        m.extend_from_slice(b"{\"at\":\"");
        time::write_machine_time(m, now);
        m.extend_from_slice(b"\",\"ns\":\"");
        m.extend_from_slice(&entry.name_json);
        m.extend_from_slice(b"\",\"data\":");
        let start = m.len();
        let mut data = JsonObject::open(m);
        ev.to_machine(entry.detail, &mut data);
        data.close();
        let end = m.len();
        m.extend_from_slice(b",\"sev\":\"");
        m.extend_from_slice(sev.as_str().as_bytes());
        m.extend_from_slice(b"\",\"thread\":\"");
        m.extend_from_slice(s.thread_id.as_bytes());
        m.extend_from_slice(b"\",\"host\":\"");
        m.extend_from_slice(&self.host_json);
        m.extend_from_slice(b"\"}");
        (start, end)
    }

    /// Writes the human line `[time][host:ns](Sev,thread) text` (with newline) into `s.line`.
    fn render_human(
        &self,
        sev: Severity,
        entry: &NsEntry,
        now: u64,
        s: &mut Scratch,
        data: Option<(usize, usize)>,
        colour: bool,
    ) {
        let l = &mut s.line;
        l.clear();
        let colour_code = match sev {
            Severity::Debug => None,
            Severity::Info => Some(b"34"),
            Severity::Notice => Some(b"35"),
            Severity::Warning => Some(b"33"),
            _ => Some(b"31"),
        };
        let colour_code = colour_code.filter(|_| colour);
        if let Some(code) = colour_code {
            l.extend_from_slice(b"\x1b[");
            l.extend_from_slice(code);
            l.push(b'm');
        }
        l.push(b'[');
        time::write_human_time(l, now);
        l.extend_from_slice(b"][");
        l.extend_from_slice(self.host.as_bytes());
        l.push(b':');
        l.extend_from_slice(entry.name.as_bytes());
        l.extend_from_slice(b"](");
        l.extend_from_slice(sev.as_str().as_bytes());
        l.push(b',');
        l.extend_from_slice(s.thread_id.as_bytes());
        l.push(b')');
        if colour_code.is_some() {
            l.extend_from_slice(b"\x1b[0m");
        }
        l.push(b' ');
        match data {
            Some((a, b)) if s.human.is_empty() => {
                l.extend_from_slice(b"{\"data\":");
                l.extend_from_slice(&s.machine[a..b]);
                l.push(b'}');
            }
            _ => l.extend_from_slice(s.human.as_bytes()),
        }
        l.push(b'\n');
    }
}

impl Registry {
    /// Registers `E`'s namespaces under `prefix` (once per type and prefix); returns the base id.
    fn add<E: TraceEvent + 'static>(&mut self, prefix: &str) -> u32 {
        let prefix: Arc<str> = Arc::from(prefix);
        if let Some(&base) = self.blocks.get(&(TypeId::of::<E>(), prefix.clone())) {
            return base;
        }
        let base = self.namespaces.len() as u32;
        for meta in E::NAMESPACES {
            let name: Arc<str> = match (prefix.is_empty(), meta.name.is_empty()) {
                (_, true) => prefix.clone(),
                (true, false) => Arc::from(meta.name),
                (false, false) => Arc::from(format!("{prefix}.{}", meta.name)),
            };
            self.check_consistency(&name);
            let id = self.namespaces.len() as u32;
            self.by_name.entry(name.clone()).or_insert(id);
            self.namespaces.push(NamespaceInfo {
                name,
                prefix: prefix.clone(),
                meta: *meta,
                type_metrics: E::METRICS,
            });
        }
        self.blocks.insert((TypeId::of::<E>(), prefix), base);
        base
    }

    fn check_consistency(&mut self, name: &str) {
        if self.by_name.contains_key(name) {
            self.warnings
                .push(format!("namespace {name:?} is registered twice"));
            return;
        }
        for other in self.by_name.keys() {
            let (short, long) = if other.len() < name.len() {
                (&**other, name)
            } else {
                (name, &**other)
            };
            if long.starts_with(short) && long.as_bytes().get(short.len()) == Some(&b'.') {
                self.warnings.push(format!(
                    "namespace {short:?} is a prefix of namespace {long:?}"
                ));
            }
        }
    }

    /// Configured namespace keys under which no registered namespace falls.
    fn unmatched_config_keys(&self) -> Vec<String> {
        let known: BTreeSet<&str> = self
            .namespaces
            .iter()
            .flat_map(|n| crate::config::prefixes(&n.name))
            .collect();
        self.config
            .options
            .keys()
            .filter(|k| !known.contains(k.as_str()))
            .cloned()
            .collect()
    }

    /// Resolves every namespace against the configuration. Limiters whose frequency is unchanged
    /// are carried over from `previous`, so re-registration does not reset their state.
    fn build_table(&self, previous: Option<&Table>) -> Table {
        let entries = self
            .namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let r: ResolvedOptions = self.config.resolve(&ns.name);
                let mut flags = 0;
                for b in &r.backends {
                    flags |= match b {
                        Backend::Stdout(_) => TO_STDOUT,
                        Backend::Forwarder => TO_FORWARDER,
                        Backend::Ekg | Backend::PrometheusSimple { .. } => TO_METRICS,
                        Backend::DataPoint => 0,
                    };
                }
                let old = previous
                    .and_then(|t| t.entries.get(i))
                    .and_then(|e| e.limiter.clone());
                let limiter = r.max_frequency.map(|f| match old {
                    Some(l) if l.max_frequency() == f => l,
                    _ => Arc::new(FrequencyLimiter::new(f)),
                });
                let mut name_json = Vec::new();
                json::write_str_body(&mut name_json, &ns.name);
                NsEntry {
                    min_severity: match r.severity {
                        SeverityFilter::AtLeast(s) => s as u8,
                        SeverityFilter::Silence => u8::MAX,
                    },
                    flags,
                    detail: r.detail,
                    limiter,
                    name: ns.name.clone(),
                    name_json: name_json.into(),
                }
            })
            .collect();
        Table {
            entries,
            stdout_format: stdout_format(&self.config),
        }
    }
}

/// The one Stdout format that takes effect: coloured beats uncoloured beats machine, as in
/// trace-dispatcher.
fn stdout_format(config: &TraceConfig) -> Option<StdoutFormat> {
    let mut formats: Vec<StdoutFormat> = config
        .options
        .values()
        .filter_map(|o| o.backends.as_ref())
        .flatten()
        .filter_map(|b| match b {
            Backend::Stdout(f) => Some(*f),
            _ => None,
        })
        .collect();
    if formats.is_empty() && config.options.get("").is_none_or(|o| o.backends.is_none()) {
        // Nothing configured at the root: the default backends apply.
        formats.push(StdoutFormat::HumanColoured);
    }
    [
        StdoutFormat::HumanColoured,
        StdoutFormat::HumanUncoloured,
        StdoutFormat::Machine,
    ]
    .into_iter()
    .find(|f| formats.contains(f))
}

/// `$TRACE_DISPATCHER_LOGGING_HOSTNAME`, else the host name up to its first dot.
fn default_host() -> String {
    if let Ok(h) = std::env::var("TRACE_DISPATCHER_LOGGING_HOSTNAME") {
        if !h.is_empty() {
            return h;
        }
    }
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let short = h.trim().split('.').next().unwrap_or_default();
    if short.is_empty() {
        "localhost".into()
    } else {
        short.into()
    }
}
