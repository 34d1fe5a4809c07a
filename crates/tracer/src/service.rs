//! The tracer service: binds its sockets, accepts (or dials) forwarders, rotates logs, keeps
//! rates, serves HTTP, and stops cleanly.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wb_forward::mux::{self, Listener};
use wb_forward::{Address, Mode};
use wb_trace::Tracer;

use crate::config::{self, Network, TracerConfig};
use crate::connection;
use crate::events::TracerEvent;
use crate::logs::NodeLog;
use crate::state::ClusterState;

/// The open log of one node for one `logging` entry (by index).
pub(crate) type LogRegistry = HashMap<(String, usize), Arc<Mutex<NodeLog>>>;

/// Shared by every task of the service.
pub(crate) struct Ctx {
    pub(crate) config: TracerConfig,
    pub(crate) state: Mutex<ClusterState>,
    pub(crate) logs: Mutex<LogRegistry>,
    pub(crate) tracer: Option<Tracer<TracerEvent>>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Received messages not yet handled, over all connections.
    pub(crate) queued: AtomicU64,
    /// Connected (named) forwarders.
    pub(crate) connections: AtomicU64,
    pub(crate) options: ServiceOptions,
}

impl Ctx {
    pub(crate) fn trace(&self, ev: &TracerEvent) {
        if let Some(t) = &self.tracer {
            t.trace(ev);
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A socket could not be bound.
    #[error("cannot listen on {what} {address}: {source}")]
    Bind {
        /// Which socket.
        what: &'static str,
        /// Where.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Options of the service that are not part of cardano-tracer's configuration.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// How often `Tracer.Stats` is traced.
    pub stats_period: Duration,
    /// Largest message accepted from a forwarder; a larger one closes its connection.
    pub max_message: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            stats_period: Duration::from_secs(10),
            max_message: wb_forward::mux::DEFAULT_MAX_MESSAGE,
        }
    }
}

/// A running tracer.
pub struct TracerService {
    ctx: Arc<Ctx>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    http: Vec<JoinHandle<()>>,
    accept_addr: Option<Address>,
    prometheus_addr: Option<std::net::SocketAddr>,
    live_addr: Option<std::net::SocketAddr>,
}

fn forward_address(a: &config::Address) -> Address {
    match a {
        config::Address::Unix(p) => Address::Unix(p.clone()),
        tcp => Address::Tcp(tcp.to_string()),
    }
}

impl TracerService {
    /// Binds every socket of `config` and starts serving; `tracer` traces the service itself.
    pub async fn start(
        config: TracerConfig,
        tracer: Option<Tracer<TracerEvent>>,
        options: ServiceOptions,
    ) -> Result<TracerService, StartError> {
        let (stop, shutdown) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            config,
            state: Mutex::new(ClusterState::default()),
            logs: Mutex::new(HashMap::new()),
            tracer,
            shutdown,
            queued: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            options: options.clone(),
        });
        let mut tasks = Vec::new();
        let mut accept_addr = None;
        match &ctx.config.network {
            Network::AcceptAt(a) => {
                let address = forward_address(a);
                let listener =
                    Listener::bind(&address)
                        .await
                        .map_err(|source| StartError::Bind {
                            what: "forwarders",
                            address: address.to_string(),
                            source,
                        })?;
                let bound = listener.local_addr().unwrap_or(address);
                ctx.trace(&TracerEvent::SockListen {
                    address: bound.to_string(),
                });
                accept_addr = Some(bound);
                tasks.push(tokio::spawn(accept_loop(ctx.clone(), listener)));
            }
            Network::ConnectTo(addrs) => {
                for a in addrs {
                    tasks.push(tokio::spawn(connect_loop(ctx.clone(), forward_address(a))));
                }
            }
        }
        let mut http = Vec::new();
        let mut prometheus_addr = None;
        if let Some(ep) = &ctx.config.has_prometheus {
            let (addr, task) = crate::http::serve(crate::http::prometheus_router(ctx.clone()), ep)
                .await
                .map_err(|source| StartError::Bind {
                    what: "Prometheus",
                    address: format!("{}:{}", ep.host, ep.port),
                    source,
                })?;
            ctx.trace(&TracerEvent::HttpListen {
                what: "prometheus",
                address: addr.to_string(),
            });
            prometheus_addr = Some(addr);
            http.push(task);
        }
        let mut live_addr = None;
        if let Some(ep) = &ctx.config.has_live_view {
            let (addr, task) = crate::http::serve(crate::http::live_router(ctx.clone()), ep)
                .await
                .map_err(|source| StartError::Bind {
                    what: "live view",
                    address: format!("{}:{}", ep.host, ep.port),
                    source,
                })?;
            ctx.trace(&TracerEvent::HttpListen {
                what: "live",
                address: addr.to_string(),
            });
            live_addr = Some(addr);
            http.push(task);
        }
        tasks.push(tokio::spawn(housekeeping(ctx.clone(), options)));
        Ok(TracerService {
            ctx,
            stop,
            tasks,
            http,
            accept_addr,
            prometheus_addr,
            live_addr,
        })
    }

    /// Where forwarders connect (AcceptAt), with the real port when 0 was configured.
    pub fn accept_addr(&self) -> Option<&Address> {
        self.accept_addr.as_ref()
    }

    /// The Prometheus endpoint's address.
    pub fn prometheus_addr(&self) -> Option<std::net::SocketAddr> {
        self.prometheus_addr
    }

    /// The live page's address.
    pub fn live_addr(&self) -> Option<std::net::SocketAddr> {
        self.live_addr
    }

    /// The live page's JSON, now.
    pub fn snapshot(&self) -> serde_json::Value {
        self.ctx
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot()
    }

    /// Objects received and bytes written so far.
    pub fn totals(&self) -> (u64, u64) {
        let st = self
            .ctx
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (st.objects_total, st.bytes_written)
    }

    /// Tells every forwarder we are done, waits (up to 5 s) for the connections to close, and
    /// flushes the logs.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.http {
            t.abort();
        }
        let wait = async {
            for t in self.tasks {
                let _ = t.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        for log in self
            .ctx
            .logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            let _ = log.lock().unwrap_or_else(PoisonError::into_inner).flush();
        }
    }
}

async fn accept_loop(ctx: Arc<Ctx>, listener: Listener) {
    let mut shutdown = ctx.shutdown.clone();
    let mut conns = Vec::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((r, w, id)) => conns.push(tokio::spawn(connection::handle(ctx.clone(), r, w, id, Mode::Responder))),
                Err(e) => {
                    ctx.trace(&TracerEvent::ConnectionError { connection: "accept".into(), error: e.to_string() });
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
        conns.retain(|c: &JoinHandle<()>| !c.is_finished());
    }
    for c in conns {
        let _ = c.await;
    }
}

async fn connect_loop(ctx: Arc<Ctx>, address: Address) {
    let mut shutdown = ctx.shutdown.clone();
    let mut delay = Duration::from_millis(500);
    loop {
        tokio::select! {
            r = mux::connect(&address) => match r {
                Ok((r, w)) => {
                    delay = Duration::from_millis(500);
                    connection::handle(ctx.clone(), r, w, address.to_string(), Mode::Initiator).await;
                }
                Err(e) => ctx.trace(&TracerEvent::ConnectionError { connection: address.to_string(), error: e.to_string() }),
            },
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Rates every second, `Tracer.Stats` every stats period, log rotation every `rpFrequencySecs`.
async fn housekeeping(ctx: Arc<Ctx>, options: ServiceOptions) {
    let mut shutdown = ctx.shutdown.clone();
    let mut rates = tokio::time::interval(Duration::from_secs(1));
    let mut stats = tokio::time::interval(options.stats_period);
    let rotation_period = ctx
        .config
        .rotation
        .as_ref()
        .map_or(Duration::from_secs(3600), |r| r.frequency);
    let mut rotation = tokio::time::interval(rotation_period);
    let mut last = (std::time::Instant::now(), 0u64);
    loop {
        tokio::select! {
            _ = rates.tick() => ctx.state.lock().unwrap_or_else(PoisonError::into_inner).update_rates(),
            _ = stats.tick() => {
                let (objects_total, bytes_written, errors) = {
                    let st = ctx.state.lock().unwrap_or_else(PoisonError::into_inner);
                    (st.objects_total, st.bytes_written, st.errors)
                };
                let secs = last.0.elapsed().as_secs_f64();
                let objects_per_sec = if secs > 0.0 { (objects_total - last.1) as f64 / secs } else { 0.0 };
                last = (std::time::Instant::now(), objects_total);
                ctx.trace(&TracerEvent::Stats {
                    objects_per_sec,
                    objects_total,
                    bytes_written,
                    connections: ctx.connections.load(Relaxed),
                    queued: ctx.queued.load(Relaxed),
                    errors,
                });
            }
            _ = rotation.tick() => rotate_all(&ctx),
            _ = shutdown.changed() => return,
        }
    }
}

fn rotate_all(ctx: &Ctx) {
    let Some(params) = &ctx.config.rotation else {
        return;
    };
    let logs: LogRegistry = ctx
        .logs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for ((node, _), log) in logs {
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        match log.rotate(params, SystemTime::now()) {
            Ok(outcome) => {
                if let Some(file) = outcome.new_file {
                    ctx.trace(&TracerEvent::LogRotated {
                        node,
                        file: file.display().to_string(),
                        deleted: outcome.deleted.len() as u64,
                    });
                }
            }
            Err(e) => ctx.trace(&TracerEvent::LogError {
                node,
                error: format!("rotation: {e}"),
            }),
        }
    }
}
