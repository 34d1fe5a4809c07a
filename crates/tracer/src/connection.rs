//! One forwarder connection: handshake, the node's name from `NodeInfo`, then long-polling for
//! trace objects (written to the node's logs in batches), EKG polling, and a clean `MsgDone` at
//! shutdown. Any error closes this connection only.

use std::io::IoSlice;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use wb_forward::data_point::{DataPointMsg, NODE_INFO};
use wb_forward::ekg::{EkgMsg, EkgRequest};
use wb_forward::mux::{self, BoxRead, BoxWrite};
use wb_forward::trace_object::{self, FromForwarder, TraceObjectView};
use wb_forward::{Mode, MuxError, MuxReader, MuxWriter};
use wb_forward::{PROTOCOL_DATA_POINTS, PROTOCOL_EKG, PROTOCOL_TRACE_OBJECTS};

use crate::config::LogFormat;
use crate::events::TracerEvent;
use crate::logs::NodeLog;
use crate::service::Ctx;

/// How long a forwarder has to answer the `NodeInfo` request before its connection id is used.
const NAME_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown waits for the reply to an outstanding trace-object request.
const SHUTDOWN_REPLY_WAIT: Duration = Duration::from_millis(500);

/// Runs one connection to the end and reports how it ended.
pub(crate) async fn handle(ctx: Arc<Ctx>, r: BoxRead, w: BoxWrite, connection: String, mode: Mode) {
    let mut node = None;
    let result = run(&ctx, r, w, &connection, mode, &mut node).await;
    let reason = match &result {
        Ok(()) => "tracer shutting down".to_owned(),
        Err(e) => e.to_string(),
    };
    let protocol_error = !matches!(result, Ok(()) | Err(MuxError::Closed | MuxError::Io(_)));
    if protocol_error {
        ctx.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .errors += 1;
        ctx.trace(&TracerEvent::ConnectionError {
            connection: connection.clone(),
            error: reason.clone(),
        });
    }
    if let Some(name) = node {
        ctx.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .disconnect(&name);
        ctx.connections.fetch_sub(1, Relaxed);
        ctx.trace(&TracerEvent::NodeDisconnected {
            connection,
            node: name,
            reason,
        });
    }
}

async fn run(
    ctx: &Arc<Ctx>,
    r: BoxRead,
    w: BoxWrite,
    connection: &str,
    mode: Mode,
    node: &mut Option<String>,
) -> Result<(), MuxError> {
    let mut reader = MuxReader::new(r, mode, 4).with_max_message(ctx.options.max_message);
    let mut writer = MuxWriter::new(w, mode);
    let magic = ctx.config.network_magic;
    match mode {
        Mode::Responder => mux::handshake_responder(&mut reader, &mut writer, magic).await?,
        Mode::Initiator => mux::handshake_initiator(&mut reader, &mut writer, magic).await?,
    };

    serve(ctx, &mut reader, &mut writer, connection, node).await
}

/// The next message, keeping the tracer's count of received-but-unhandled bytes current.
async fn next(
    ctx: &Ctx,
    reader: &mut MuxReader<BoxRead>,
    accounted: &mut usize,
) -> Result<(u16, Vec<u8>), MuxError> {
    let m = reader.recv().await;
    let now = reader.buffered();
    if now >= *accounted {
        ctx.queued.fetch_add((now - *accounted) as u64, Relaxed);
    } else {
        ctx.queued.fetch_sub((*accounted - now) as u64, Relaxed);
    }
    *accounted = now;
    m
}

async fn serve(
    ctx: &Arc<Ctx>,
    reader: &mut MuxReader<BoxRead>,
    writer: &mut MuxWriter<BoxWrite>,
    connection: &str,
    node: &mut Option<String>,
) -> Result<(), MuxError> {
    let mut accounted = 0;
    let result = serve_named(ctx, reader, writer, connection, node, &mut accounted).await;
    ctx.queued.fetch_sub(accounted as u64, Relaxed);
    result
}

async fn serve_named(
    ctx: &Arc<Ctx>,
    reader: &mut MuxReader<BoxRead>,
    writer: &mut MuxWriter<BoxWrite>,
    connection: &str,
    node: &mut Option<String>,
    accounted: &mut usize,
) -> Result<(), MuxError> {
    // Who is this? Ask NodeInfo; fall back to the connection id.
    writer
        .send(
            PROTOCOL_DATA_POINTS,
            &DataPointMsg::Request(vec![NODE_INFO.to_owned()]).encode(),
        )
        .await?;
    let wanted = match tokio::time::timeout(NAME_TIMEOUT, next(ctx, reader, accounted)).await {
        Ok(Ok((PROTOCOL_DATA_POINTS, bytes))) => match DataPointMsg::decode(&bytes)? {
            DataPointMsg::Reply(values) => values
                .iter()
                .find(|(n, _)| n == NODE_INFO)
                .and_then(|(_, v)| v.as_ref())
                .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
                .and_then(|v| v["niName"].as_str().map(str::to_owned))
                .filter(|n| !n.is_empty()),
            other => return Err(MuxError::Unexpected(format!("{other:?} from a forwarder"))),
        },
        Ok(Ok((p, _))) => {
            return Err(MuxError::Unexpected(format!(
                "unrequested message on mini-protocol {p}"
            )));
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => None,
    };
    let wanted = wanted.unwrap_or_else(|| connection.replace(['"', '/', ' ', '\\'], "-"));
    let now = wb_trace::time::now_unix_nanos();
    let name = ctx
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .connect(&wanted, connection, now);
    ctx.connections.fetch_add(1, Relaxed);
    *node = Some(name.clone());
    ctx.trace(&TracerEvent::NodeConnected {
        connection: connection.to_owned(),
        node: name.clone(),
    });
    let logs = ctx
        .node_logs(&name)
        .map_err(|e| MuxError::Unexpected(format!("cannot open logs of {name}: {e}")))?;

    let request = trace_object::encode_request(true, ctx.config.lo_request_num);
    writer.send(PROTOCOL_TRACE_OBJECTS, &request).await?;
    let mut ekg_outstanding = true;
    writer
        .send(
            PROTOCOL_EKG,
            &EkgMsg::Req(EkgRequest::GetAllMetrics).encode(),
        )
        .await?;
    let mut ekg_tick = tokio::time::interval(ctx.config.ekg_request_freq);
    ekg_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = ctx.shutdown.clone();
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            m = next(ctx, reader, accounted) => {
                let (p, bytes) = m?;
                match p {
                    PROTOCOL_TRACE_OBJECTS => match trace_object::decode_from_forwarder(&bytes)? {
                        FromForwarder::Reply(objs) => {
                            if objs.is_empty() {
                                return Err(MuxError::Unexpected("empty reply to a blocking request".into()));
                            }
                            ctx.handle_batch(&name, &logs, &objs, &mut batch);
                            // Asking again tells the forwarder this batch is safely handled.
                            writer.send(PROTOCOL_TRACE_OBJECTS, &request).await?;
                        }
                        FromForwarder::Other(m) => return Err(MuxError::Unexpected(format!("{m:?} from a forwarder"))),
                    },
                    PROTOCOL_EKG => match EkgMsg::decode(&bytes)? {
                        EkgMsg::Resp(metrics) => {
                            ekg_outstanding = false;
                            let mut st = ctx.state.lock().unwrap_or_else(PoisonError::into_inner);
                            if let Some(n) = st.nodes.get_mut(&name) {
                                n.metrics.extend(metrics);
                            }
                        }
                        other => return Err(MuxError::Unexpected(format!("{other:?} from a forwarder"))),
                    },
                    PROTOCOL_DATA_POINTS => {
                        DataPointMsg::decode(&bytes)?;
                    }
                    other => return Err(MuxError::Unexpected(format!("message on mini-protocol {other} after the handshake"))),
                }
            }
            _ = ekg_tick.tick() => {
                if !ekg_outstanding {
                    let req = if ctx.config.ekg_request_full { EkgRequest::GetAllMetrics } else { EkgRequest::GetUpdatedMetrics };
                    writer.send(PROTOCOL_EKG, &EkgMsg::Req(req).encode()).await?;
                    ekg_outstanding = true;
                }
            }
            _ = shutdown.changed() => {
                // MsgDone may only follow a reply. Take the batch in flight first, waiting briefly
                // (the forwarder may have nothing to send); then confirm it with a non-blocking
                // request for nothing, so the forwarder does not send it again to the next tracer.
                let deadline = tokio::time::Instant::now() + SHUTDOWN_REPLY_WAIT;
                let mut idle = false;
                let mut confirmed = false;
                while let Ok(m) = tokio::time::timeout_at(deadline, next(ctx, reader, accounted)).await {
                    let Ok((p, bytes)) = m else { break };
                    if p != PROTOCOL_TRACE_OBJECTS {
                        continue;
                    }
                    let Ok(FromForwarder::Reply(objs)) = trace_object::decode_from_forwarder(&bytes) else { break };
                    if idle {
                        confirmed = true;
                        break;
                    }
                    ctx.handle_batch(&name, &logs, &objs, &mut batch);
                    idle = true;
                    if writer.send(PROTOCOL_TRACE_OBJECTS, &trace_object::encode_request(false, 0)).await.is_err() {
                        break;
                    }
                }
                if !confirmed {
                    // Still waiting on the forwarder: just close; it keeps what it had not
                    // confirmed and sends it to the next tracer.
                    return Ok(());
                }
                let _ = writer.send(PROTOCOL_TRACE_OBJECTS, &trace_object::encode_done()).await;
                let _ = writer.send(PROTOCOL_EKG, &EkgMsg::Done.encode()).await;
                let _ = writer.send(PROTOCOL_DATA_POINTS, &DataPointMsg::Done.encode()).await;
                let _ = writer.shutdown().await;
                return Ok(());
            }
        }
    }
}

/// A node's open logs, one per `logging` entry.
pub(crate) type NodeLogs = Vec<(Arc<Mutex<NodeLog>>, LogFormat)>;

impl Ctx {
    /// Folds a batch into the cluster state and appends it to each of the node's logs, one write
    /// per log.
    pub(crate) fn handle_batch(
        &self,
        name: &str,
        logs: &NodeLogs,
        objs: &[TraceObjectView<'_>],
        buf: &mut Vec<u8>,
    ) {
        let now = wb_trace::time::now_unix_nanos();
        {
            let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            st.objects_total += objs.len() as u64;
            if let Some(n) = st.nodes.get_mut(name) {
                for o in objs {
                    n.observe(o, now);
                }
            }
        }
        let mut written = 0;
        for (log, format) in logs {
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            let result = match format {
                LogFormat::ForMachine => {
                    // Machine lines go out as they came, straight from the received message.
                    let mut parts = Vec::with_capacity(objs.len() * 2);
                    for o in objs {
                        parts.push(IoSlice::new(o.machine.as_bytes()));
                        parts.push(IoSlice::new(b"\n"));
                    }
                    let len: usize = parts.iter().map(|p| p.len()).sum();
                    log.write_parts(&mut parts).map(|()| len)
                }
                LogFormat::ForHuman => {
                    buf.clear();
                    for o in objs {
                        human_line(buf, o);
                        buf.push(b'\n');
                    }
                    log.write_batch(buf).map(|()| buf.len())
                }
            };
            match result {
                Ok(n) => written += n as u64,
                Err(e) => self.trace(&TracerEvent::LogError {
                    node: name.to_owned(),
                    error: format!("{}: {e}", log.current_path().display()),
                }),
            }
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes_written += written;
    }

    /// Opens (or finds) the logs of node `name`.
    pub(crate) fn node_logs(&self, name: &str) -> std::io::Result<NodeLogs> {
        let mut registry = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for (i, params) in self.config.logging.iter().enumerate() {
            let key = (name.to_owned(), i);
            let log = match registry.get(&key) {
                Some(l) => l.clone(),
                None => {
                    let l = Arc::new(Mutex::new(NodeLog::open(
                        &params.root,
                        name,
                        params.format,
                        SystemTime::now(),
                    )?));
                    registry.insert(key, l.clone());
                    l
                }
            };
            out.push((log, params.format));
        }
        Ok(out)
    }
}

/// `[time][host:ns](Severity,thread) text` — the node's human format, so that human log files
/// carry timestamps (cardano-tracer writes the bare text).
fn human_line(buf: &mut Vec<u8>, o: &TraceObjectView<'_>) {
    buf.push(b'[');
    wb_trace::time::write_human_time(buf, u64::try_from(o.timestamp_nanos).unwrap_or(0));
    buf.extend_from_slice(b"][");
    buf.extend_from_slice(o.hostname.as_bytes());
    buf.push(b':');
    buf.extend_from_slice(o.namespace_text().as_bytes());
    buf.extend_from_slice(b"](");
    let sev = wb_trace::Severity::from_index(o.severity).map_or("?", |s| s.as_str());
    buf.extend_from_slice(sev.as_bytes());
    buf.push(b',');
    buf.extend_from_slice(o.thread_id.as_bytes());
    buf.extend_from_slice(b") ");
    let text = o
        .human
        .as_deref()
        .filter(|h| !h.is_empty())
        .unwrap_or(&o.machine);
    // One message per line: embedded newlines would split it.
    for (i, part) in text.split('\n').enumerate() {
        if i > 0 {
            buf.extend_from_slice(b"\\n");
        }
        buf.extend_from_slice(part.as_bytes());
    }
}
