//! Tracer throughput: trace objects per second received and written to disk from N forwarders,
//! next to a read-and-discard server on the same traffic, in one run.
//!
//! Run: `cargo bench -p wb-tracer --bench throughput` (`-- --quick` for a short run).
//!
//! The forwarders are lean simulators that speak the real protocol (handshake, NodeInfo, EKG,
//! long-polled trace-object requests) and answer every request with a pre-encoded batch of
//! realistic objects, so what is measured is the receiving side. The baseline server does the
//! handshake and the requests too — the protocol is pull-based — but only frames the replies and
//! throws them away: no decoding, no state, no disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use wb_forward::data_point::DataPointMsg;
use wb_forward::ekg::EkgMsg;
use wb_forward::mux::{self, Listener};
use wb_forward::trace_object::{self, TraceObject, TraceObjectMsg};
use wb_forward::{Address, Mode, MuxReader, MuxWriter};
use wb_tracer::{ServiceOptions, TracerConfig, TracerService};

const MAGIC: u32 = 42;

/// A reply holding `n` objects like a node's `BlockFetch.Client.CompletedBlockFetch`.
fn reply(n: usize) -> Vec<u8> {
    let objs: Vec<TraceObject> = (0..n)
        .map(|i| TraceObject {
            human: None,
            machine: format!(
                r#"{{"at":"2026-11-24T04:10:00.{i:09}Z","ns":"BlockFetch.Client.CompletedBlockFetch","data":{{"block":"a1e88dba00b72362da126842045a0155b72f358656e69a81d60cfd25f81b7ccd","delay":0.022536,"kind":"CompletedBlockFetch","peer":{{"connectionId":"127.0.0.1:30001 127.0.0.1:30000"}},"size":64192}},"sev":"Info","thread":"78","host":"node-1"}}"#
            ),
            namespace: vec!["BlockFetch.Client.CompletedBlockFetch".into()],
            severity: 1,
            detail: 1,
            timestamp_nanos: 1_795_000_000_000_000_000 + i as i128,
            hostname: "node-1".into(),
            thread_id: "78".into(),
        })
        .collect();
    TraceObjectMsg::Reply(objs).encode()
}

/// A forwarder that answers each request with `batch` until it has sent `total` objects.
async fn forwarder(addr: Address, name: String, total: u64, batch: Arc<Vec<u8>>, per_batch: u64) {
    let (r, w) = mux::connect(&addr).await.expect("connect");
    let mut reader = MuxReader::new(r, Mode::Initiator, 4);
    let mut writer = MuxWriter::new(w, Mode::Initiator);
    mux::handshake_initiator(&mut reader, &mut writer, MAGIC)
        .await
        .expect("handshake");
    let mut sent = 0;
    while let Ok((p, msg)) = reader.recv().await {
        match p {
            wb_forward::PROTOCOL_DATA_POINTS => {
                let info = format!(r#"{{"niName":"{name}"}}"#).into_bytes();
                let _ = writer
                    .send(
                        p,
                        &DataPointMsg::Reply(vec![("NodeInfo".into(), Some(info))]).encode(),
                    )
                    .await;
            }
            wb_forward::PROTOCOL_EKG => {
                let _ = writer.send(p, &EkgMsg::Resp(vec![]).encode()).await;
            }
            _ => {
                if sent >= total {
                    return;
                }
                if let Ok(TraceObjectMsg::Request { .. }) = TraceObjectMsg::decode(&msg) {
                    let _ = writer.send(p, &batch).await;
                    sent += per_batch;
                }
            }
        }
    }
}

/// The baseline: handshake, requests, replies framed and dropped.
async fn discard_server(
    listener: Listener,
    connections: usize,
    received: Arc<AtomicU64>,
    per_batch: u64,
    total: u64,
) {
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (r, w, _) = listener.accept().await.expect("accept");
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            let mut reader = MuxReader::new(r, Mode::Responder, 4);
            let mut writer = MuxWriter::new(w, Mode::Responder);
            mux::handshake_responder(&mut reader, &mut writer, MAGIC)
                .await
                .expect("handshake");
            let request = trace_object::encode_request(true, per_batch as u16);
            let mut got = 0;
            while got < total {
                writer
                    .send(wb_forward::PROTOCOL_TRACE_OBJECTS, &request)
                    .await
                    .expect("request");
                let (_, reply) = reader.recv().await.expect("reply");
                std::hint::black_box(reply);
                got += per_batch;
                received.fetch_add(per_batch, Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Runs `n` forwarders on a runtime of their own (one thread), pointed at `addr`.
fn spawn_forwarders(
    addr: Address,
    n: usize,
    each: u64,
    batch: Arc<Vec<u8>>,
    per_batch: u64,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    tokio::spawn(forwarder(
                        addr.clone(),
                        format!("bench-{i}"),
                        each,
                        batch.clone(),
                        per_batch,
                    ))
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
        });
    })
}

/// Objects per second through the read-and-discard server.
fn run_baseline(
    rt: &tokio::runtime::Runtime,
    forwarders: usize,
    each: u64,
    batch: &Arc<Vec<u8>>,
    per_batch: u64,
) -> f64 {
    let received = Arc::new(AtomicU64::new(0));
    let secs = rt.block_on(async {
        let listener = Listener::bind(&Address::Tcp("127.0.0.1:0".into()))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let start = Instant::now();
        let server = tokio::spawn(discard_server(
            listener,
            forwarders,
            received.clone(),
            per_batch,
            each,
        ));
        let clients = spawn_forwarders(addr, forwarders, each, batch.clone(), per_batch);
        let _ = server.await;
        let secs = start.elapsed().as_secs_f64();
        let _ = tokio::task::spawn_blocking(move || clients.join()).await;
        secs
    });
    received.load(Relaxed) as f64 / secs
}

/// Objects per second through the tracer writing machine-format logs to disk, and bytes written.
fn run_tracer(
    rt: &tokio::runtime::Runtime,
    forwarders: usize,
    each: u64,
    batch: &Arc<Vec<u8>>,
    per_batch: u64,
) -> (f64, u64) {
    let total = each * forwarders as u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = TracerConfig::from_yaml_str(
        &format!(
            "networkMagic: {MAGIC}\nnetwork:\n  tag: AcceptAt\n  contents: \"127.0.0.1:0\"\nloRequestNum: {per_batch}\nlogging:\n  - logRoot: \"{}\"\n    logMode: FileMode\n    logFormat: ForMachine\n",
            dir.path().display()
        ),
        "bench",
    )
    .expect("config");
    rt.block_on(async {
        let service = TracerService::start(cfg, None, ServiceOptions::default())
            .await
            .expect("tracer");
        let addr = service.accept_addr().expect("addr").clone();
        let start = Instant::now();
        let clients = spawn_forwarders(addr, forwarders, each, batch.clone(), per_batch);
        while service.totals().0 < total {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let secs = start.elapsed().as_secs_f64();
        // The last objects are counted as they arrive and their bytes once written: wait until
        // the byte count has been still for 50 ms before comparing it with the disk.
        let mut bytes = service.totals().1;
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = service.totals().1;
            if now == bytes {
                break;
            }
            bytes = now;
        }
        let objects = service.totals().0;
        service.shutdown().await;
        let _ = tokio::task::spawn_blocking(move || clients.join()).await;
        assert_eq!(
            walk_size(dir.path()),
            bytes,
            "every byte counted is on disk"
        );
        (objects as f64 / secs, bytes)
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let only_tracer = std::env::args().any(|a| a == "--only-tracer");
    let forwarders = 4;
    let per_batch: u64 = 100;
    let each: u64 = if quick { 50_000 } else { 500_000 };
    let rounds = if quick { 1 } else { 3 };
    let batch = Arc::new(reply(per_batch as usize));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // Alternate the two, so that both see the same machine conditions.
    let (mut baseline, mut tracer, mut bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..rounds {
        if !only_tracer {
            baseline.push(run_baseline(&rt, forwarders, each, &batch, per_batch));
        }
        let (rate, b) = run_tracer(&rt, forwarders, each, &batch, per_batch);
        tracer.push(rate);
        bytes = b;
    }
    let tracer = median(tracer);
    let object_bytes = bytes as f64 / (each * forwarders as u64) as f64;
    println!(
        "wb tracer throughput ({forwarders} forwarders × {each} objects, {per_batch} per request, TCP loopback, median of {rounds})"
    );
    if !only_tracer {
        let baseline = median(baseline);
        println!("  read-and-discard server           {baseline:>12.0} objects/s");
        println!(
            "  wb tracer, logs written to disk   {tracer:>12.0} objects/s  ({:.0} MB/s to disk)",
            tracer * object_bytes / 1e6
        );
        println!(
            "  ratio tracer / discard            {:>12.3}",
            tracer / baseline
        );
    } else {
        println!("  wb tracer, logs written to disk   {tracer:>12.0} objects/s");
    }
}

fn walk_size(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| {
            let path = e.path();
            if path.is_symlink() {
                0
            } else if path.is_dir() {
                walk_size(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}
