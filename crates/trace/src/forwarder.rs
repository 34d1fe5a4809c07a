//! The trace-forward client: the `Forwarder` backend's queue and connection.
//!
//! Messages are encoded to trace-forward's CBOR `TraceObject` on the emitting thread and kept in
//! a bounded queue that outlives connections. A thread of its own connects to the tracer (or
//! accepts its connection), does the handshake, and serves the tracer's requests: trace objects
//! (long-polling, up to N at a time), data points (`NodeInfo`) and EKG metrics from the process's
//! registry. When the connection breaks it reconnects with exponential backoff.
//!
//! Improvements over trace-forward's `ForwardSink`:
//! * on overflow the **oldest** message is dropped, one at a time, and counted — not the whole
//!   queue — and the count is traced (`Forwarder.Connected`) once a tracer is connected again;
//! * a batch handed to the tracer stays "in flight" until the tracer's next request (which it
//!   sends only after handling the batch); if the connection breaks first, the batch goes back to
//!   the front of the queue, so a tracer restart loses nothing that fit in the queue.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, watch};
pub use wb_forward::Address;
use wb_forward::data_point::{DataPointMsg, NODE_INFO};
use wb_forward::ekg::{EkgMsg, EkgRequest, MetricValue};
use wb_forward::mux::{self, Listener};
use wb_forward::trace_object::{self, TraceObjectMsg, TraceObjectParts};
use wb_forward::{Mode, MuxError, MuxReader, MuxWriter};

use crate::dispatcher::Tracer;
use crate::event::{EventMeta, TraceEvent};
use crate::forward::{ForwardSink, TraceObjectRef};
use crate::json::JsonObject;
use crate::metrics::{MetricSample, MetricsRegistry};
use crate::severity::{DetailLevel, Severity};

/// How to reach the tracer.
#[derive(Debug, Clone)]
pub struct ForwarderSettings {
    /// The tracer's address (`Connect`) or ours (`Accept`).
    pub address: Address,
    /// Accept the tracer's connection instead of connecting (the tracer's `ConnectTo` mode).
    pub accept: bool,
    /// Network magic offered in the handshake.
    pub network_magic: u32,
    /// Node name published in the `NodeInfo` data point.
    pub node_name: String,
    /// Messages kept while the tracer is slow or away.
    pub queue_size: usize,
    /// First wait before reconnecting; doubles up to `max_reconnect_delay`.
    pub min_reconnect_delay: Duration,
    /// Longest wait before reconnecting.
    pub max_reconnect_delay: Duration,
}

impl ForwarderSettings {
    /// Settings from a trace configuration's `TraceOptionForwarder` and `TraceOptionNodeName`.
    pub fn from_config(
        config: &crate::TraceConfig,
        address: Address,
        network_magic: u32,
        default_name: &str,
    ) -> Self {
        ForwarderSettings {
            address,
            accept: false,
            network_magic,
            node_name: config
                .node_name
                .clone()
                .unwrap_or_else(|| default_name.to_owned()),
            queue_size: config.forwarder.queue_size,
            min_reconnect_delay: Duration::from_secs(1),
            max_reconnect_delay: Duration::from_secs(
                config.forwarder.max_reconnect_delay_secs.max(1),
            ),
        }
    }
}

/// What the forwarder traces about itself, under the `Forwarder` prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum ForwarderEvent {
    /// Connected (and handshaken) to a tracer; `dropped` messages were lost to overflow since the
    /// last connection.
    Connected {
        /// The tracer's address.
        address: String,
        /// Messages dropped from the queue while no tracer took them.
        dropped: u64,
    },
    /// A connection attempt failed.
    ConnectFailed {
        /// The tracer's address.
        address: String,
        /// Why.
        error: String,
        /// Milliseconds until the next attempt.
        retry_in_ms: u64,
    },
    /// An established connection ended.
    Interrupted {
        /// The tracer's address.
        address: String,
        /// Why.
        error: String,
        /// Messages put back at the front of the queue because the tracer had not confirmed them.
        requeued: u64,
    },
}

impl TraceEvent for ForwarderEvent {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "Connected",
            Severity::Info,
            "The forwarder connected to a tracer; with the number of messages dropped from its queue since the last connection.",
        ),
        EventMeta::new(
            "ConnectFailed",
            Severity::Warning,
            "A connection to the tracer could not be made; the forwarder retries with exponential backoff.",
        ),
        EventMeta::new(
            "Interrupted",
            Severity::Warning,
            "The connection to the tracer broke; unconfirmed messages went back to the queue.",
        ),
    ];

    fn namespace(&self) -> usize {
        match self {
            ForwarderEvent::Connected { .. } => 0,
            ForwarderEvent::ConnectFailed { .. } => 1,
            ForwarderEvent::Interrupted { .. } => 2,
        }
    }

    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            ForwarderEvent::Connected { address, dropped } => {
                o.str("address", address)
                    .u64("dropped", *dropped)
                    .str("kind", "ForwarderConnected");
            }
            ForwarderEvent::ConnectFailed {
                address,
                error,
                retry_in_ms,
            } => {
                o.str("address", address)
                    .str("error", error)
                    .str("kind", "ForwarderConnectFailed")
                    .u64("retryInMs", *retry_in_ms);
            }
            ForwarderEvent::Interrupted {
                address,
                error,
                requeued,
            } => {
                o.str("address", address)
                    .str("error", error)
                    .str("kind", "ForwarderInterrupted")
                    .u64("requeued", *requeued);
            }
        }
    }

    fn to_human(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = match self {
            ForwarderEvent::Connected { address, dropped } => write!(
                out,
                "Connected to tracer {address}; {dropped} messages dropped while disconnected"
            ),
            ForwarderEvent::ConnectFailed {
                address,
                error,
                retry_in_ms,
            } => write!(
                out,
                "Cannot connect to tracer {address}: {error}; retrying in {retry_in_ms} ms"
            ),
            ForwarderEvent::Interrupted {
                address,
                error,
                requeued,
            } => write!(
                out,
                "Connection to tracer {address} interrupted: {error}; {requeued} messages requeued"
            ),
        };
    }
}

/// Counters of a forwarder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwarderStats {
    /// Messages accepted into the queue.
    pub queued: u64,
    /// Messages dropped (oldest first) because the queue was full.
    pub dropped: u64,
    /// Messages sent to a tracer (a requeued one counts again when resent).
    pub sent: u64,
    /// Messages waiting now (queued and in flight).
    pub waiting: u64,
    /// Connections established.
    pub connections: u64,
    /// Whether a tracer is connected now.
    pub connected: bool,
}

struct Queue {
    items: VecDeque<Vec<u8>>,
    in_flight: Vec<Vec<u8>>,
}

struct Shared {
    settings: ForwarderSettings,
    queue: Mutex<Queue>,
    notify: Notify,
    queued: AtomicU64,
    dropped: AtomicU64,
    dropped_unreported: AtomicU64,
    sent: AtomicU64,
    connections: AtomicU64,
    connected: AtomicBool,
    data_points: Mutex<HashMap<String, Vec<u8>>>,
    metrics: Arc<MetricsRegistry>,
}

/// The `Forwarder` backend: a [`ForwardSink`] plus the thread that serves a tracer.
pub struct Forwarder {
    shared: Arc<Shared>,
    thread: Mutex<Option<(JoinHandle<()>, watch::Sender<bool>)>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("address", &self.shared.settings.address)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Forwarder {
    /// A forwarder whose EKG answers come from `metrics`. Nothing connects until [`start`](Self::start).
    pub fn new(settings: ForwarderSettings, metrics: Arc<MetricsRegistry>) -> Arc<Forwarder> {
        let node_info = node_info_json(&settings.node_name);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: VecDeque::with_capacity(settings.queue_size.min(1 << 16)),
                in_flight: Vec::new(),
            }),
            settings,
            notify: Notify::new(),
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            dropped_unreported: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            data_points: Mutex::new(HashMap::from([(NODE_INFO.to_owned(), node_info)])),
            metrics,
        });
        Arc::new(Forwarder {
            shared,
            thread: Mutex::new(None),
        })
    }

    /// Starts the connection thread; `tracer` traces the forwarder's own events.
    pub fn start(&self, tracer: Tracer<ForwarderEvent>) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = self.shared.clone();
        let thread = std::thread::Builder::new()
            .name("wb-trace-forwarder".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("wb-trace: forwarder cannot start its runtime: {e}");
                        return;
                    }
                };
                rt.block_on(run(shared, tracer, stop_rx));
            })?;
        *self.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some((thread, stop_tx));
        Ok(())
    }

    /// Publishes (or replaces) a data point, served to the tracer as JSON bytes.
    pub fn set_data_point(&self, name: &str, json: Vec<u8>) {
        self.shared
            .data_points
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), json);
    }

    /// The counters so far.
    pub fn stats(&self) -> ForwarderStats {
        let s = &self.shared;
        let waiting = {
            let q = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
            (q.items.len() + q.in_flight.len()) as u64
        };
        ForwarderStats {
            queued: s.queued.load(Relaxed),
            dropped: s.dropped.load(Relaxed),
            sent: s.sent.load(Relaxed),
            waiting,
            connections: s.connections.load(Relaxed),
            connected: s.connected.load(Relaxed),
        }
    }

    /// Stops the connection thread, first giving a connected tracer up to `grace` to take what is
    /// still queued.
    pub fn stop(&self, grace: Duration) {
        let Some((thread, stop)) = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline
            && self.shared.connected.load(Relaxed)
            && self.stats().waiting > 0
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = stop.send(true);
        let _ = thread.join();
    }
}

impl ForwardSink for Forwarder {
    fn forward(&self, o: &TraceObjectRef<'_>) {
        let mut item = Vec::with_capacity(
            o.machine.len() + o.human.map_or(0, str::len) + o.namespace.len() + 64,
        );
        trace_object::encode_trace_object(
            &mut item,
            &TraceObjectParts {
                human: o.human,
                machine: o.machine,
                namespace: o.namespace,
                severity: o.severity as u8,
                detail: o.detail as u8,
                timestamp_nanos: i128::from(o.timestamp_nanos),
                hostname: o.hostname,
                thread_id: o.thread_id,
            },
        );
        let s = &*self.shared;
        {
            let mut q = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if q.items.len() + q.in_flight.len() >= s.settings.queue_size
                && q.items.pop_front().is_some()
            {
                s.dropped.fetch_add(1, Relaxed);
                s.dropped_unreported.fetch_add(1, Relaxed);
            }
            q.items.push_back(item);
        }
        s.queued.fetch_add(1, Relaxed);
        s.notify.notify_one();
    }
}

/// `NodeInfo` as cardano-node publishes it.
fn node_info_json(name: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    let now = crate::time::now_unix_nanos();
    let mut o = JsonObject::open(&mut buf);
    let mut at = Vec::new();
    crate::time::write_machine_time(&mut at, now);
    let at = String::from_utf8(at).unwrap_or_default();
    o.str("niCommit", option_env!("WB_GIT_COMMIT").unwrap_or(""))
        .str("niName", name)
        .str("niProtocol", "Cardano")
        .str("niStartTime", &at)
        .str("niSystemStartTime", &at)
        .str("niVersion", env!("CARGO_PKG_VERSION"));
    o.close();
    buf
}

async fn run(shared: Arc<Shared>, tracer: Tracer<ForwarderEvent>, mut stop: watch::Receiver<bool>) {
    tokio::select! {
        () = connection_loop(shared.clone(), tracer) => {}
        _ = stop.changed() => {}
    }
    shared.connected.store(false, Relaxed);
    requeue_in_flight(&shared);
}

async fn connection_loop(shared: Arc<Shared>, tracer: Tracer<ForwarderEvent>) {
    let settings = shared.settings.clone();
    let address = settings.address.to_string();
    let mut delay = settings.min_reconnect_delay;
    let listener = if settings.accept {
        match Listener::bind(&settings.address).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracer.trace(&ForwarderEvent::ConnectFailed {
                    address,
                    error: format!("cannot listen: {e}"),
                    retry_in_ms: 0,
                });
                return;
            }
        }
    } else {
        None
    };
    loop {
        let conn = match &listener {
            Some(l) => l.accept().await.map(|(r, w, _)| (r, w)),
            None => mux::connect(&settings.address).await,
        };
        let mode = if settings.accept {
            Mode::Responder
        } else {
            Mode::Initiator
        };
        let started = Instant::now();
        let result = match conn {
            Ok((r, w)) => serve(&shared, &tracer, r, w, mode).await,
            Err(e) => Err(ServeError::Connect(e)),
        };
        let requeued = requeue_in_flight(&shared);
        shared.connected.store(false, Relaxed);
        // A connection that ran a while resets the backoff, as trace-forward does.
        if started.elapsed() > Duration::from_secs(30) {
            delay = settings.min_reconnect_delay;
        }
        match result {
            Ok(()) => {}
            Err(ServeError::Connect(e)) => {
                tracer.trace(&ForwarderEvent::ConnectFailed {
                    address: address.clone(),
                    error: e.to_string(),
                    retry_in_ms: delay.as_millis() as u64,
                });
            }
            Err(ServeError::Mux(e)) => {
                tracer.trace(&ForwarderEvent::Interrupted {
                    address: address.clone(),
                    error: e.to_string(),
                    requeued,
                });
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(settings.max_reconnect_delay);
    }
}

enum ServeError {
    Connect(std::io::Error),
    Mux(MuxError),
}

/// Puts the unconfirmed batch back at the front of the queue (within capacity); returns how many.
fn requeue_in_flight(shared: &Shared) -> u64 {
    let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
    let batch = std::mem::take(&mut q.in_flight);
    let n = batch.len() as u64;
    for item in batch.into_iter().rev() {
        if q.items.len() >= shared.settings.queue_size {
            // The unconfirmed messages are the oldest: they are the ones to go.
            shared.dropped.fetch_add(1, Relaxed);
            shared.dropped_unreported.fetch_add(1, Relaxed);
            continue;
        }
        q.items.push_front(item);
    }
    if n > 0 {
        shared.notify.notify_one();
    }
    n
}

type SharedWriter = Arc<tokio::sync::Mutex<MuxWriter<mux::BoxWrite>>>;

async fn serve(
    shared: &Arc<Shared>,
    tracer: &Tracer<ForwarderEvent>,
    r: mux::BoxRead,
    w: mux::BoxWrite,
    mode: Mode,
) -> Result<(), ServeError> {
    let mut reader = MuxReader::new(r, mode, 4);
    let mut writer = MuxWriter::new(w, mode);
    let magic = shared.settings.network_magic;
    let handshake = match mode {
        Mode::Initiator => mux::handshake_initiator(&mut reader, &mut writer, magic).await,
        Mode::Responder => mux::handshake_responder(&mut reader, &mut writer, magic).await,
    };
    handshake.map_err(ServeError::Mux)?;
    shared.connected.store(true, Relaxed);
    shared.connections.fetch_add(1, Relaxed);
    let dropped = shared.dropped_unreported.swap(0, Relaxed);
    tracer.trace(&ForwarderEvent::Connected {
        address: shared.settings.address.to_string(),
        dropped,
    });

    let writer: SharedWriter = Arc::new(tokio::sync::Mutex::new(writer));
    let (requests, rx) = mpsc::channel(4);
    let objects = tokio::spawn(serve_trace_objects(shared.clone(), writer.clone(), rx));
    let mut last_sent: HashMap<String, MetricValue> = HashMap::new();
    let result = async {
        loop {
            let (p, msg) = reader.recv().await?;
            match p {
                wb_forward::PROTOCOL_TRACE_OBJECTS => match TraceObjectMsg::decode(&msg)? {
                    TraceObjectMsg::Request { blocking, n } => {
                        // The next request confirms the previous batch.
                        shared
                            .queue
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .in_flight
                            .clear();
                        if requests.send((blocking, n)).await.is_err() {
                            return Err(MuxError::Unexpected("trace-object server stopped".into()));
                        }
                    }
                    TraceObjectMsg::Done => shared
                        .queue
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .in_flight
                        .clear(),
                    TraceObjectMsg::Reply(_) => {
                        return Err(MuxError::Unexpected(
                            "trace objects sent to the forwarder".into(),
                        ));
                    }
                },
                wb_forward::PROTOCOL_DATA_POINTS => match DataPointMsg::decode(&msg)? {
                    DataPointMsg::Request(names) => {
                        let reply = {
                            let dps = shared
                                .data_points
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner);
                            DataPointMsg::Reply(
                                names
                                    .into_iter()
                                    .map(|n| {
                                        let v = dps.get(&n).cloned();
                                        (n, v)
                                    })
                                    .collect(),
                            )
                        };
                        writer
                            .lock()
                            .await
                            .send(wb_forward::PROTOCOL_DATA_POINTS, &reply.encode())
                            .await?;
                    }
                    DataPointMsg::Done => {}
                    DataPointMsg::Reply(_) => {
                        return Err(MuxError::Unexpected(
                            "data points sent to the forwarder".into(),
                        ));
                    }
                },
                wb_forward::PROTOCOL_EKG => match EkgMsg::decode(&msg)? {
                    EkgMsg::Req(req) => {
                        let reply = EkgMsg::Resp(ekg_answer(&shared.metrics, &req, &mut last_sent));
                        writer
                            .lock()
                            .await
                            .send(wb_forward::PROTOCOL_EKG, &reply.encode())
                            .await?;
                    }
                    EkgMsg::Done => {}
                    EkgMsg::Resp(_) => {
                        return Err(MuxError::Unexpected("metrics sent to the forwarder".into()));
                    }
                },
                other => {
                    return Err(MuxError::Unexpected(format!(
                        "message on mini-protocol {other} after the handshake"
                    )));
                }
            }
        }
    }
    .await;
    objects.abort();
    result.map_err(ServeError::Mux)
}

async fn serve_trace_objects(
    shared: Arc<Shared>,
    writer: SharedWriter,
    mut requests: mpsc::Receiver<(bool, u16)>,
) {
    let mut body = Vec::new();
    while let Some((blocking, n)) = requests.recv().await {
        let count = loop {
            {
                let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let take = q.items.len().min(n as usize);
                if take > 0 || !blocking {
                    body.clear();
                    let batch: Vec<Vec<u8>> = q.items.drain(..take).collect();
                    for item in &batch {
                        body.extend_from_slice(item);
                    }
                    q.in_flight = batch;
                    break take;
                }
            }
            shared.notify.notified().await;
        };
        let reply = trace_object::encode_reply_preencoded(&body, count);
        if writer
            .lock()
            .await
            .send(wb_forward::PROTOCOL_TRACE_OBJECTS, &reply)
            .await
            .is_err()
        {
            return;
        }
        shared.sent.fetch_add(count as u64, Relaxed);
    }
}

/// Metrics as EKG values: counters and integer gauges as such, real gauges as text labels (as
/// cardano-node does), histograms as `_count` counter and `_sum` label.
fn ekg_answer(
    registry: &MetricsRegistry,
    req: &EkgRequest,
    last_sent: &mut HashMap<String, MetricValue>,
) -> Vec<(String, MetricValue)> {
    let mut all = Vec::new();
    for m in registry.all() {
        let name = registry.full_name(&m);
        match m.sample() {
            MetricSample::Counter(v) => all.push((name, MetricValue::Counter(v as i64))),
            MetricSample::Gauge(v) => all.push((name, MetricValue::Gauge(v))),
            MetricSample::GaugeF64(v) => all.push((name, MetricValue::Label(format!("{v}")))),
            MetricSample::Histogram { count, sum, .. } => {
                all.push((format!("{name}_count"), MetricValue::Counter(count as i64)));
                all.push((format!("{name}_sum"), MetricValue::Label(format!("{sum}"))));
            }
        }
    }
    match req {
        EkgRequest::GetAllMetrics => {
            last_sent.extend(all.iter().cloned());
            all
        }
        EkgRequest::GetMetrics(names) => {
            all.into_iter().filter(|(n, _)| names.contains(n)).collect()
        }
        EkgRequest::GetUpdatedMetrics => {
            let changed: Vec<_> = all
                .into_iter()
                .filter(|(n, v)| last_sent.get(n) != Some(v))
                .collect();
            last_sent.extend(changed.iter().cloned());
            changed
        }
    }
}
