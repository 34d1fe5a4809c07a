//! Forwarders and the tracer over real sockets on loopback: logs, metrics, many nodes, restarts,
//! rotation, both connection directions, and bad peers.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wb_forward::Address;
use wb_trace::forwarder::ForwarderSettings;
use wb_trace::{
    DetailLevel, Dispatcher, EventMeta, JsonObject, MetricDoc, MetricKind, Output, Severity,
    TraceConfig, TraceEvent,
};
use wb_tracer::{ServiceOptions, TracerConfig, TracerEvent, TracerService};

const MAGIC: u32 = 42;

/// A numbered test message.
struct Seq(u64);

impl TraceEvent for Seq {
    const NAMESPACES: &'static [EventMeta] =
        &[
            EventMeta::new("Seq", Severity::Info, "A numbered test message.")
                .metrics(&["test.seen"]),
        ];
    const METRICS: &'static [MetricDoc] = &[MetricDoc::new(
        "test.seen",
        MetricKind::Counter,
        "Seq messages",
    )];
    fn namespace(&self) -> usize {
        0
    }
    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        o.str("kind", "Seq").u64("n", self.0);
    }
    fn to_human(&self, out: &mut String) {
        out.push_str(&format!("message number {}", self.0));
    }
    fn update_metrics(&self, m: &wb_trace::EventMetrics) {
        m.inc(0);
    }
}

/// An output that keeps what is written to it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);
impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Capture {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn tracer_config(yaml: &str) -> TracerConfig {
    TracerConfig::from_yaml_str(yaml, "test").unwrap()
}

fn accept_at(addr: &str, logs: &Path, extra: &str) -> TracerConfig {
    tracer_config(&format!(
        "networkMagic: {MAGIC}\nnetwork:\n  tag: AcceptAt\n  contents: \"{addr}\"\nlogging:\n  - logRoot: \"{}\"\n    logMode: FileMode\n    logFormat: ForMachine\nekgRequestFreq: 0.2\n{extra}",
        logs.display()
    ))
}

/// The tracer with its own messages captured.
async fn start(
    config: TracerConfig,
    options: ServiceOptions,
) -> (TracerService, Dispatcher, Capture) {
    let cap = Capture::default();
    let own = TraceConfig::from_yaml_str(
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat]\n",
        "own",
    )
    .unwrap();
    let d = Dispatcher::builder()
        .config(own)
        .host("tracer")
        .output(Output::Writer(Box::new(cap.clone())))
        .build()
        .unwrap();
    let tracer = d.tracer::<TracerEvent>("Tracer");
    let service = TracerService::start(config, Some(tracer), options)
        .await
        .unwrap();
    (service, d, cap)
}

fn settings(address: Address, name: &str) -> ForwarderSettings {
    ForwarderSettings {
        address,
        accept: false,
        network_magic: MAGIC,
        node_name: name.into(),
        queue_size: 10_000,
        min_reconnect_delay: Duration::from_millis(50),
        max_reconnect_delay: Duration::from_millis(200),
    }
}

/// A node process's tracing: everything Info and up forwarded, metrics on.
fn node(s: ForwarderSettings) -> (Dispatcher, wb_trace::Tracer<Seq>) {
    let cfg = TraceConfig::from_yaml_str(
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Forwarder, EKGBackend]\n",
        "node",
    )
    .unwrap();
    let d = Dispatcher::builder()
        .config(cfg)
        .host("host-a")
        .output(Output::None)
        .forward_to(s)
        .build()
        .unwrap();
    let t = d.tracer::<Seq>("Test");
    (d, t)
}

/// `n` of every `Test.Seq` line in the `.json` files of a node's log directory, in file order.
/// Only whole lines count: a poll may catch the tracer in the middle of writing the last one.
fn seqs(dir: &Path) -> Vec<u64> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json") && !p.is_symlink());
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let v: Value = serde_json::from_str(line.trim_end()).unwrap();
            if v["ns"] == "Test.Seq" {
                out.push(v["data"]["n"].as_u64().unwrap());
            }
        }
    }
    out
}

async fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_forwarding_writes_logs_and_serves_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tracer.sock");
    let logs = dir.path().join("logs");
    let human = dir.path().join("human");
    let extra = format!(
        "  - logRoot: \"{}\"\n    logMode: FileMode\n    logFormat: ForHuman\nhasPrometheus:\n  epHost: 127.0.0.1\n  epPort: 0\n",
        human.display()
    );
    // The second logging entry continues the list started in accept_at.
    let cfg = tracer_config(&format!(
        "networkMagic: {MAGIC}\nnetwork:\n  tag: AcceptAt\n  contents: \"{}\"\nekgRequestFreq: 0.2\nlogging:\n  - logRoot: \"{}\"\n    logMode: FileMode\n    logFormat: ForMachine\n{extra}",
        sock.display(),
        logs.display()
    ));
    let (service, mut own, own_log) = start(cfg, ServiceOptions::default()).await;
    let (mut d, t) = node(settings(Address::Unix(sock.clone()), "node-1"));
    for i in 0..500 {
        t.trace(&Seq(i));
    }
    let node_dir = logs.join("node-1");
    wait_for("500 lines", Duration::from_secs(10), || {
        seqs(&node_dir).len() == 500
    })
    .await;
    assert_eq!(
        seqs(&node_dir),
        (0..500).collect::<Vec<_>>(),
        "in order, once each"
    );
    // The symlink names the current file.
    let link = std::fs::read_link(node_dir.join("node.json")).unwrap();
    assert!(link.to_string_lossy().starts_with("node-"), "{link:?}");
    // Lines are the node's own machine lines.
    let text = std::fs::read_to_string(node_dir.join("node.json")).unwrap();
    let first: Value =
        serde_json::from_str(text.lines().find(|l| l.contains("Test.Seq")).unwrap()).unwrap();
    assert_eq!(first["host"], "host-a");
    assert_eq!(first["data"], serde_json::json!({"kind": "Seq", "n": 0}));
    // Human logs carry the timestamp prefix and the human text.
    let htext = std::fs::read_to_string(human.join("node-1").join("node.log")).unwrap();
    let hline = htext.lines().find(|l| l.contains("Test.Seq")).unwrap();
    assert!(
        hline.starts_with('[')
            && hline.contains("][host-a:Test.Seq](Info,")
            && hline.ends_with(") message number 0"),
        "{hline}"
    );

    // Metrics arrive through EKG polling, labelled by node.
    let prom = service.prometheus_addr().unwrap();
    let mut body = String::new();
    for _ in 0..100 {
        body = http_get(prom, "/metrics").await;
        if body.contains("cardano_node_metrics_test_seen_counter{node_name=\"node-1\"} 500") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        body.contains("cardano_node_metrics_test_seen_counter{node_name=\"node-1\"} 500"),
        "{body}"
    );
    assert!(body.contains("# TYPE cardano_node_metrics_test_seen_counter counter"));
    assert_prometheus_parses(&body);
    let per_node = http_get(prom, "/node-1").await;
    assert!(
        per_node.contains("\ncardano_node_metrics_test_seen_counter 500\n"),
        "{per_node}"
    );
    assert!(http_get(prom, "/nobody").await.starts_with("HTTP/1.1 404"));
    let snap = service.snapshot();
    assert_eq!(snap["nodes"][0]["name"], "node-1");
    assert_eq!(snap["nodes"][0]["connected"], true);

    // The node goes away: its logs stay, its metrics stay but are marked stale.
    d.shutdown();
    wait_for("disconnect", Duration::from_secs(5), || {
        service.snapshot()["nodes"][0]["connected"] == false
    })
    .await;
    assert_eq!(service.snapshot()["nodes"][0]["stale"], true);
    let body = http_get(prom, "/metrics").await;
    assert!(
        body.contains("wb_tracer_node_connected{node_name=\"node-1\"} 0"),
        "{body}"
    );
    assert!(body.contains("cardano_node_metrics_test_seen_counter{node_name=\"node-1\"} 500"));
    assert_eq!(seqs(&node_dir).len(), 500);
    service.shutdown().await;
    own.shutdown();
    let own = own_log.text();
    assert!(own.contains("\"ns\":\"Tracer.NodeConnected\""), "{own}");
    assert!(own.contains("\"ns\":\"Tracer.NodeDisconnected\""), "{own}");
}

/// Every sample line is `name{labels} value` with a numeric value, after a TYPE line for it.
fn assert_prometheus_parses(body: &str) {
    let text = body.split("\r\n\r\n").nth(1).unwrap_or(body);
    let mut typed = BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            typed.insert(parts.next().unwrap().to_owned());
            assert!(matches!(parts.next(), Some("counter" | "gauge")), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        assert!(typed.contains(name), "no TYPE before {line}");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_forwarders_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let (service, _own, _cap) = start(
        accept_at("127.0.0.1:0", &logs, ""),
        ServiceOptions::default(),
    )
    .await;
    let addr = service.accept_addr().unwrap().clone();
    assert!(matches!(&addr, Address::Tcp(a) if a.starts_with("127.0.0.1:")));
    let nodes: Vec<_> = (0..50)
        .map(|i| node(settings(addr.clone(), &format!("node-{i}"))))
        .collect();
    for (_, t) in &nodes {
        for i in 0..200 {
            t.trace(&Seq(i));
        }
    }
    wait_for("10000 lines", Duration::from_secs(30), || {
        (0..50).all(|i| seqs(&logs.join(format!("node-{i}"))).len() == 200)
    })
    .await;
    for i in 0..50 {
        assert_eq!(
            seqs(&logs.join(format!("node-{i}"))),
            (0..200).collect::<Vec<_>>()
        );
    }
    assert_eq!(service.snapshot()["totals"]["connected"], 50);
    drop(nodes);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracer_restart_loses_nothing_that_fit_in_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tracer.sock");
    let logs = dir.path().join("logs");
    let cfg = accept_at(&sock.display().to_string(), &logs, "");
    let (first, _own1, _c1) = start(cfg.clone(), ServiceOptions::default()).await;
    let (mut d, t) = node(settings(Address::Unix(sock.clone()), "node-r"));
    let node_dir = logs.join("node-r");
    for i in 0..1000 {
        t.trace(&Seq(i));
    }
    wait_for("first 1000", Duration::from_secs(10), || {
        seqs(&node_dir).len() >= 1000
    })
    .await;
    // Stop the tracer while the node keeps tracing, across the gap and the restart.
    let tracing = std::thread::spawn(move || {
        for i in 1000..3000 {
            t.trace(&Seq(i));
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    first.shutdown().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (second, _own2, _c2) = start(cfg, ServiceOptions::default()).await;
    tracing.join().unwrap();
    wait_for("all 3000", Duration::from_secs(15), || {
        seqs(&node_dir).len() >= 3000
    })
    .await;
    let got = seqs(&node_dir);
    let unique: BTreeSet<u64> = got.iter().copied().collect();
    assert_eq!(unique, (0..3000).collect::<BTreeSet<_>>(), "nothing lost");
    assert_eq!(got.len(), 3000, "nothing written twice");
    let stats = d.forwarder().unwrap().stats();
    assert_eq!(stats.dropped, 0);
    assert!(stats.connections >= 2, "{stats:?}");
    d.shutdown();
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_size_keeps_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tracer.sock");
    let logs = dir.path().join("logs");
    let extra = "rotation:\n  rpFrequencySecs: 1\n  rpLogLimitBytes: 4000\n  rpMaxAgeHours: 1\n  rpKeepFilesNum: 10\n";
    let (service, _own, cap) = start(
        accept_at(&sock.display().to_string(), &logs, extra),
        ServiceOptions::default(),
    )
    .await;
    let (_d, t) = node(settings(Address::Unix(sock.clone()), "node-rot"));
    let node_dir = logs.join("node-rot");
    for round in 0..3u64 {
        for i in 0..100 {
            t.trace(&Seq(round * 100 + i));
        }
        wait_for("round", Duration::from_secs(10), || {
            seqs(&node_dir).len() as u64 == (round + 1) * 100
        })
        .await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    let files: Vec<_> = std::fs::read_dir(&node_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| !p.is_symlink())
        .collect();
    assert!(files.len() >= 3, "rotated into several files: {files:?}");
    assert_eq!(seqs(&node_dir), (0..300).collect::<Vec<_>>());
    let current = node_dir.join(std::fs::read_link(node_dir.join("node.json")).unwrap());
    assert!(
        std::fs::metadata(&current).unwrap().len() < 4000 * 3,
        "the link follows the newest file"
    );
    wait_for("rotation trace", Duration::from_secs(2), || {
        cap.text().contains("\"ns\":\"Tracer.LogRotated\"")
    })
    .await;
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracer_can_dial_nodes_that_accept() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("node.sock");
    let logs = dir.path().join("logs");
    let mut s = settings(Address::Unix(sock.clone()), "node-passive");
    s.accept = true;
    let (_d, t) = node(s);
    for i in 0..100 {
        t.trace(&Seq(i));
    }
    let cfg = tracer_config(&format!(
        "networkMagic: {MAGIC}\nnetwork:\n  tag: ConnectTo\n  contents: [\"{}\"]\nlogging:\n  - logRoot: \"{}\"\n    logMode: FileMode\n    logFormat: ForMachine\n",
        sock.display(),
        logs.display()
    ));
    wait_for("node socket", Duration::from_secs(5), || sock.exists()).await;
    let (service, _own, _cap) = start(cfg, ServiceOptions::default()).await;
    wait_for("100 lines", Duration::from_secs(10), || {
        seqs(&logs.join("node-passive")).len() == 100
    })
    .await;
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_lose_their_connection_and_nobody_else_does() {
    use wb_forward::mux::{self, handshake_initiator};
    use wb_forward::{Mode, MuxReader, MuxWriter};
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let options = ServiceOptions {
        max_message: 64 << 10,
        ..ServiceOptions::default()
    };
    let (service, _own, cap) = start(accept_at("127.0.0.1:0", &logs, ""), options).await;
    let addr = service.accept_addr().unwrap().clone();
    let Address::Tcp(tcp) = &addr else { panic!() };
    let (_good, t) = node(settings(addr.clone(), "good"));
    for i in 0..100 {
        t.trace(&Seq(i));
    }
    let good_dir = logs.join("good");
    wait_for("good lines", Duration::from_secs(10), || {
        seqs(&good_dir).len() == 100
    })
    .await;

    // 1. Garbage instead of a mux frame.
    let mut raw = tokio::net::TcpStream::connect(tcp).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: nonsense\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "garbage peer is disconnected");

    // 2. The wrong network magic is refused, with the reason.
    let (r, w) = mux::connect(&addr).await.unwrap();
    let mut reader = MuxReader::new(r, Mode::Initiator, 4);
    let mut writer = MuxWriter::new(w, Mode::Initiator);
    let err = handshake_initiator(&mut reader, &mut writer, 7)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("magic 7 offered, 42 expected"), "{err}");

    // 3. An oversize message and 4. an unknown mini-protocol, after a proper handshake.
    for (protocol, payload) in [(2u16, oversize_payload()), (9u16, vec![0x80])] {
        let (r, w) = mux::connect(&addr).await.unwrap();
        let mut reader = MuxReader::new(r, Mode::Initiator, 4);
        let mut writer = MuxWriter::new(w, Mode::Initiator);
        handshake_initiator(&mut reader, &mut writer, MAGIC)
            .await
            .unwrap();
        let _ = writer.send(protocol, &payload).await;
        // The tracer closes the connection: reading ends.
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if reader.recv().await.is_err() {
                    break;
                }
            }
        })
        .await;
        assert!(
            ended.is_ok(),
            "bad peer on protocol {protocol} is disconnected"
        );
    }

    // The good node kept flowing.
    for i in 100..200 {
        t.trace(&Seq(i));
    }
    wait_for("good lines after", Duration::from_secs(10), || {
        seqs(&good_dir).len() == 200
    })
    .await;
    assert_eq!(seqs(&good_dir), (0..200).collect::<Vec<_>>());
    wait_for("error traces", Duration::from_secs(5), || {
        cap.text()
            .matches("\"ns\":\"Tracer.ConnectionError\"")
            .count()
            >= 4
    })
    .await;
    let own = cap.text();
    assert!(own.contains("magic 7 offered, 42 expected"), "{own}");
    assert!(own.contains("exceeds 65536 bytes"), "{own}");
    assert!(own.contains("unknown mini-protocol 9"), "{own}");
    assert_eq!(service.snapshot()["totals"]["connected"], 1);
    service.shutdown().await;
}

/// The start of a 1 MiB byte string that never ends within the limit.
fn oversize_payload() -> Vec<u8> {
    let mut p = vec![0x5a, 0x00, 0x10, 0x00, 0x00];
    p.resize(100_000, 0xab);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflowing_queue_drops_the_oldest_and_says_so_when_connected() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tracer.sock");
    let logs = dir.path().join("logs");
    // The forwarder's own messages stay local, so the queue holds only Test.Seq.
    let cfg = TraceConfig::from_yaml_str(
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Forwarder]\n  Forwarder:\n    backends: [Stdout MachineFormat]\n",
        "node",
    )
    .unwrap();
    let local = Capture::default();
    let mut s = settings(Address::Unix(sock.clone()), "node-q");
    s.queue_size = 10;
    let mut d = Dispatcher::builder()
        .config(cfg)
        .host("h")
        .output(Output::Writer(Box::new(local.clone())))
        .forward_to(s)
        .build()
        .unwrap();
    let t = d.tracer::<Seq>("Test");
    // No tracer yet: 25 messages into a queue of 10.
    for i in 0..25 {
        t.trace(&Seq(i));
    }
    let stats = d.forwarder().unwrap().stats();
    assert_eq!(
        (stats.queued, stats.dropped, stats.waiting),
        (25, 15, 10),
        "{stats:?}"
    );
    // The forwarder has tried, and failed, to reach the tracer that is not there yet.
    wait_for("a failed attempt", Duration::from_secs(10), || {
        local.text().contains("\"ns\":\"Forwarder.ConnectFailed\"")
    })
    .await;
    let (service, _own, _cap) = start(
        accept_at(&sock.display().to_string(), &logs, ""),
        ServiceOptions::default(),
    )
    .await;
    wait_for("the newest 10", Duration::from_secs(10), || {
        seqs(&logs.join("node-q")).len() == 10
    })
    .await;
    assert_eq!(
        seqs(&logs.join("node-q")),
        (15..25).collect::<Vec<_>>(),
        "the oldest went first, one by one"
    );
    d.shutdown();
    let text = local.text();
    let connected = text
        .lines()
        .find(|l| l.contains("\"ns\":\"Forwarder.Connected\""))
        .expect("connected trace");
    assert!(connected.contains("\"dropped\":15"), "{connected}");
    assert!(
        text.contains("\"ns\":\"Forwarder.ConnectFailed\""),
        "{text}"
    );
    service.shutdown().await;
}
