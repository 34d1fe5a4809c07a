//! The dispatcher end to end: lines in cardano-node's formats, filtering, detail, privacy,
//! limiting, metrics, reconfiguration, forwarding, concurrency and shutdown.

mod common;

use std::sync::{Arc, Mutex};

use common::{Capture, Forge};
use serde_json::Value;
use wb_trace::metrics::MetricSample;
use wb_trace::{Dispatcher, ForwardSink, Output, TraceConfig, TraceObjectRef};

fn config(yaml: &str) -> TraceConfig {
    TraceConfig::from_yaml_str(yaml, "test").unwrap()
}

const MACHINE_INFO: &str = "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat, EKGBackend, Forwarder]\n";

fn dispatcher(yaml: &str, host: &str) -> (Dispatcher, Capture) {
    let cap = Capture::default();
    let d = Dispatcher::builder()
        .config(config(yaml))
        .host(host)
        .output(Output::Writer(Box::new(cap.clone())))
        .build()
        .unwrap();
    (d, cap)
}

fn forged(slot: u64) -> Forge {
    Forge::ForgedBlock {
        block: "6be99e7e7ad7e3ec054729d273b531a60201d4f2cd86e28bea13c6caeeb50a4b".into(),
        block_no: 1,
        block_prev: "3002b6f091e64723880dbb457325b537d25288c1865dd54fdf4caaf589262898".into(),
        slot,
    }
}

/// Replaces the values of `"at"` and `"thread"` in a machine line with those of another line.
fn with_at_and_thread_of(template: &str, source: &Value) -> String {
    let t: Value = serde_json::from_str(template).unwrap();
    template
        .replacen(
            &format!("\"at\":\"{}\"", t["at"].as_str().unwrap()),
            &format!("\"at\":\"{}\"", source["at"].as_str().unwrap()),
            1,
        )
        .replacen(
            &format!("\"thread\":\"{}\"", t["thread"].as_str().unwrap()),
            &format!("\"thread\":\"{}\"", source["thread"].as_str().unwrap()),
            1,
        )
}

#[test]
fn machine_lines_are_byte_identical_to_real_node_lines() {
    let log = std::fs::read_to_string(common::fixture(
        "real-logs/block-producer-tracer-output.jsonl",
    ))
    .unwrap();
    let real_forged = log
        .lines()
        .find(|l| l.contains("\"ns\":\"Forge.Loop.ForgedBlock\""))
        .unwrap();
    let real_not_leader = log
        .lines()
        .find(|l| l.contains("\"ns\":\"Forge.Loop.NodeNotLeader\""))
        .unwrap();
    let (mut d, cap) = dispatcher(MACHINE_INFO, "p1.example");
    let tr = d.tracer::<Forge>("Forge.Loop");
    tr.trace(&forged(29));
    let slot = serde_json::from_str::<Value>(real_not_leader).unwrap()["data"]["slot"]
        .as_u64()
        .unwrap();
    tr.trace(&Forge::NodeNotLeader { slot });
    d.shutdown();
    let lines = cap.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (ours, real) in lines.iter().zip([real_forged, real_not_leader]) {
        let v: Value = serde_json::from_str(ours).unwrap();
        assert_eq!(ours, &with_at_and_thread_of(real, &v));
        // Our timestamp is in the same form and close to now.
        let at = wb_trace::time::parse_utc_nanos(v["at"].as_str().unwrap()).unwrap();
        let now = wb_trace::time::now_unix_nanos();
        assert!(now - at < 60_000_000_000);
    }
}

#[test]
fn every_line_has_the_real_key_order() {
    // Real lines: keys at, ns, data, sev, thread, host in that order.
    let key_order = |line: &str| -> Vec<usize> {
        [
            "\"at\":",
            "\"ns\":",
            "\"data\":",
            "\"sev\":",
            "\"thread\":",
            "\"host\":",
        ]
        .iter()
        .map(|k| line.find(k).unwrap())
        .collect()
    };
    let log = std::fs::read_to_string(common::fixture(
        "real-logs/block-producer-tracer-output.jsonl",
    ))
    .unwrap();
    for real in log.lines().take(50) {
        let o = key_order(real);
        assert!(o.windows(2).all(|w| w[0] < w[1]), "{real}");
    }
    let (mut d, cap) = dispatcher(MACHINE_INFO, "weird \"host\"");
    let tr = d.tracer::<Forge>("Forge.Loop");
    tr.trace(&forged(1));
    tr.trace(&Forge::Secret {
        key_period: 3,
        detail_hint: "x",
    });
    d.shutdown();
    for line in cap.lines() {
        let o = key_order(&line);
        assert!(o.windows(2).all(|w| w[0] < w[1]), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 6);
        assert_eq!(v["host"], "weird \"host\"");
    }
}

#[test]
fn severity_filter_detail_and_silence() {
    let yaml = "TraceOptions:\n  '':\n    severity: Notice\n    backends: [Stdout MachineFormat, EKGBackend]\n  Forge.Loop.Secret:\n    detail: DDetailed\n  Forge.Loop.NodeNotLeader:\n    severity: Silence\n";
    let (mut d, cap) = dispatcher(yaml, "h");
    let tr = d.tracer::<Forge>("Forge.Loop");
    tr.trace(&forged(1)); // Info < Notice: filtered
    tr.trace(&Forge::NodeNotLeader { slot: 2 }); // silenced
    tr.trace(&Forge::Secret {
        key_period: 9,
        detail_hint: "more",
    }); // Notice, DDetailed
    assert!(!tr.enabled(0, wb_trace::Severity::Emergency));
    assert!(tr.enabled(1, wb_trace::Severity::Notice));
    assert!(!tr.enabled(1, wb_trace::Severity::Info));
    d.shutdown();
    let lines = cap.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["ns"], "Forge.Loop.Secret");
    assert_eq!(v["data"]["hint"], "more");
    assert_eq!(v["sev"], "Notice");
    // Metrics were updated although the messages were filtered out.
    let m = d.metrics();
    assert_eq!(
        m.get("Forge.forged").unwrap().sample(),
        MetricSample::Counter(1)
    );
    assert_eq!(m.get("slotNum").unwrap().sample(), MetricSample::Gauge(2));
}

#[test]
fn metrics_need_the_ekg_backend() {
    let (d, _cap) = dispatcher(
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat]\n",
        "h",
    );
    let tr = d.tracer::<Forge>("Forge.Loop");
    tr.trace(&forged(5));
    assert_eq!(
        d.metrics().get("Forge.forged").unwrap().sample(),
        MetricSample::Counter(0)
    );
}

#[test]
fn human_format_with_text_fallback_and_colour() {
    let yaml =
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout HumanFormatUncoloured]\n";
    let (mut d, cap) = dispatcher(yaml, "node-1");
    let tr = d.tracer::<Forge>("Forge.Loop");
    tr.trace(&forged(29));
    tr.trace(&Forge::NodeNotLeader { slot: 20 });
    d.shutdown();
    let lines = cap.lines();
    assert_eq!(lines.len(), 2);
    let (prefix, text) = lines[0].split_once(") ").unwrap();
    // [2026-01-02 03:04:05.1234Z][node-1:Forge.Loop.ForgedBlock](Info,7)
    let b = prefix.as_bytes();
    assert_eq!(
        (b[0], b[11], b[prefix.find(']').unwrap() - 1]),
        (b'[', b' ', b'Z')
    );
    assert!(
        prefix.contains("][node-1:Forge.Loop.ForgedBlock](Info,"),
        "{prefix}"
    );
    assert_eq!(
        text,
        "Forged block 6be99e7e7ad7e3ec054729d273b531a60201d4f2cd86e28bea13c6caeeb50a4b in slot 29"
    );
    // No human text: the machine payload under "data".
    let (_, text) = lines[1].split_once(") ").unwrap();
    assert_eq!(text, r#"{"data":{"kind":"TraceNodeNotLeader","slot":20}}"#);

    // Coloured: Info is blue (34) around the bracket prefix only.
    let yaml = "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout HumanFormatColoured, Stdout MachineFormat]\n";
    let (mut d, cap) = dispatcher(yaml, "node-1");
    d.tracer::<Forge>("Forge.Loop")
        .trace(&Forge::NodeNotLeader { slot: 1 });
    d.shutdown();
    let line = cap.text();
    assert!(
        line.starts_with("\x1b[34m[") && line.contains(")\x1b[0m {\"data\""),
        "{line:?}"
    );
}

/// (toHuman, toMachine, namespace, severity, hostname) of a forwarded message.
type Forwarded = (Option<String>, String, String, wb_trace::Severity, String);

#[derive(Default)]
struct Collect(Mutex<Vec<Forwarded>>);

impl ForwardSink for Collect {
    fn forward(&self, o: &TraceObjectRef<'_>) {
        self.0.lock().unwrap().push((
            o.human.map(str::to_owned),
            o.machine.to_owned(),
            o.namespace.to_owned(),
            o.severity,
            o.hostname.to_owned(),
        ));
    }
}

#[test]
fn forwarder_gets_public_messages_with_the_same_machine_line() {
    let sink = Arc::new(Collect::default());
    let cap = Capture::default();
    let mut d = Dispatcher::builder()
        .config(config(MACHINE_INFO))
        .host("node-2")
        .output(Output::Writer(Box::new(cap.clone())))
        .forwarder(sink.clone())
        .build()
        .unwrap();
    let tr = d.tracer::<Forge>("Forge.Loop");
    tr.trace(&forged(3));
    tr.trace(&Forge::Secret {
        key_period: 1,
        detail_hint: "",
    });
    d.shutdown();
    let got = sink.0.lock().unwrap();
    assert_eq!(got.len(), 1, "confidential messages are not forwarded");
    let (human, machine, ns, sev, host) = &got[0];
    assert_eq!(ns, "Forge.Loop.ForgedBlock");
    assert_eq!(*sev, wb_trace::Severity::Info);
    assert_eq!(host, "node-2");
    assert!(human.as_deref().unwrap().starts_with("Forged block"));
    let lines = cap.lines();
    assert_eq!(lines.len(), 2, "both are written locally");
    assert_eq!(&lines[0], machine);
}

#[test]
fn frequency_limiter_suppresses_and_reports() {
    let yaml = "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat]\n  Forge.Loop.NodeNotLeader:\n    maxFrequency: 2\n";
    let (mut d, cap) = dispatcher(yaml, "h");
    let tr = d.tracer::<Forge>("Forge.Loop");
    for slot in 0..1000 {
        tr.trace(&Forge::NodeNotLeader { slot });
        tr.trace(&forged(slot));
    }
    d.shutdown();
    let lines: Vec<Value> = cap
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |ns: &str| lines.iter().filter(|v| v["ns"] == ns).count();
    assert!(
        (1..=wb_trace::limiter::BURST as usize + 1).contains(&count("Forge.Loop.NodeNotLeader"))
    );
    assert_eq!(
        count("Forge.Loop.ForgedBlock"),
        1000,
        "other namespaces are not limited"
    );
    let start: Vec<&Value> = lines
        .iter()
        .filter(|v| v["ns"] == "Reflection.StartLimiting")
        .collect();
    assert_eq!(start.len(), 1);
    assert_eq!(start[0]["data"]["name"], "Forge.Loop.NodeNotLeader");
}

#[test]
fn reconfiguration_swaps_the_table_under_load() {
    let (mut d, cap) = dispatcher(
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat]\n",
        "h",
    );
    let tr = d.tracer::<Forge>("Forge.Loop");
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let tr = tr.clone();
            let stop = &stop;
            s.spawn(move || {
                let mut slot = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tr.trace(&Forge::NodeNotLeader { slot });
                    slot += 1;
                }
            });
        }
        for i in 0..200 {
            let sev = if i % 2 == 0 { "Warning" } else { "Info" };
            d.reconfigure(config(&format!(
                "TraceOptions:\n  '':\n    severity: {sev}\n    backends: [Stdout MachineFormat]\n"
            )));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    // Now silence everything: nothing more is written.
    d.reconfigure(config("TraceOptions:\n  '':\n    severity: Silence\n"));
    let before = cap.lines().len();
    for slot in 0..100 {
        tr.trace(&forged(slot));
    }
    d.shutdown();
    let lines = cap.lines();
    assert_eq!(lines.len(), d.writer_stats().lines_accepted as usize);
    assert!(lines.len() >= before);
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    assert!(lines.iter().all(|l| !l.contains("ForgedBlock")));
    assert_eq!(
        d.config().resolve("X").severity,
        wb_trace::SeverityFilter::Silence
    );
}

#[test]
fn many_threads_to_a_file_lose_nothing_at_shutdown() {
    const THREADS: usize = 8;
    const EACH: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.json");
    let mut d = Dispatcher::builder()
        .config(config(MACHINE_INFO))
        .host("node-0")
        .output(Output::File(path.clone()))
        .build()
        .unwrap();
    let tr = d.tracer::<Forge>("Forge.Loop");
    std::thread::scope(|s| {
        for t in 0..THREADS as u64 {
            let tr = tr.clone();
            s.spawn(move || {
                for i in 0..EACH {
                    tr.trace(&Forge::NodeNotLeader {
                        slot: t * 1_000_000 + i,
                    });
                }
            });
        }
    });
    d.shutdown();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut seen = vec![Vec::new(); THREADS];
    let mut threads = std::collections::HashSet::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let slot = v["data"]["slot"].as_u64().unwrap();
        seen[(slot / 1_000_000) as usize].push(slot % 1_000_000);
        threads.insert(v["thread"].as_str().unwrap().to_owned());
    }
    for (t, slots) in seen.iter().enumerate() {
        assert_eq!(slots.len() as u64, EACH, "thread {t}");
        // Each thread's lines appear in the order it traced them.
        assert!(
            slots.windows(2).all(|w| w[0] < w[1]),
            "thread {t} out of order"
        );
    }
    assert_eq!(threads.len(), THREADS, "each OS thread has its own id");
    let stats = d.writer_stats();
    assert_eq!(
        (stats.lines_accepted, stats.lines_dropped),
        (THREADS as u64 * EACH, 0)
    );
}

#[test]
fn namespaces_are_enumerable_and_checked() {
    let (d, _cap) = dispatcher(
        "TraceOptions:\n  Forge.Loop:\n    severity: Info\n  Nowhere.Special:\n    severity: Info\n",
        "h",
    );
    let _a = d.tracer::<Forge>("Forge.Loop");
    let _again = d.tracer::<Forge>("Forge.Loop");
    let _b = d.tracer::<Forge>("Forge");
    let names: Vec<String> = d.namespaces().iter().map(|n| n.name.to_string()).collect();
    for n in [
        "Forge.Loop.NodeNotLeader",
        "Forge.Loop.ForgedBlock",
        "Forge.Loop.Secret",
        "Forge.ForgedBlock",
        "Reflection.StartLimiting",
    ] {
        assert!(names.contains(&n.to_owned()), "{n} in {names:?}");
    }
    assert_eq!(
        names.len(),
        6 + 3 + 3,
        "asking twice registers once: {names:?}"
    );
    let warnings = d.consistency_warnings();
    assert_eq!(
        warnings,
        vec!["configured namespace \"Nowhere.Special\" matches no tracer".to_owned()]
    );
}

#[test]
fn prefix_overlap_is_a_consistency_warning() {
    struct Leaf;
    impl wb_trace::TraceEvent for Leaf {
        const NAMESPACES: &'static [wb_trace::EventMeta] =
            &[wb_trace::EventMeta::new("", wb_trace::Severity::Info, "")];
        fn namespace(&self) -> usize {
            0
        }
        fn to_machine(&self, _: wb_trace::DetailLevel, _: &mut wb_trace::JsonObject<'_>) {}
    }
    let (d, cap) = dispatcher(
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat]\n",
        "h",
    );
    let _a = d.tracer::<Forge>("Forge.Loop");
    let _b = d.tracer::<Leaf>("Forge.Loop.ForgedBlock.Extra");
    let _c = d.tracer::<Leaf>("Forge.Loop.ForgedBlock");
    let w = d.consistency_warnings();
    assert!(
        w.iter().any(|w| w.contains(
            "\"Forge.Loop.ForgedBlock\" is a prefix of namespace \"Forge.Loop.ForgedBlock.Extra\""
        )),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.contains("\"Forge.Loop.ForgedBlock\" is registered twice")),
        "{w:?}"
    );
    d.announce();
    drop(d);
    let text = cap.text();
    assert!(
        text.contains("\"ns\":\"Reflection.TracerConsistencyWarnings\""),
        "{text}"
    );
    assert!(text.contains("\"ns\":\"Reflection.TracerInfo\""), "{text}");
}

#[test]
fn prometheus_simple_serves_metrics_on_loopback() {
    use std::io::{Read, Write};
    let yaml = "TraceOptions:\n  '':\n    severity: Info\n    backends: [EKGBackend, \"PrometheusSimple nosuffix 127.0.0.1 0\"]\n";
    let (d, _cap) = dispatcher(yaml, "h");
    let tr = d.tracer::<Forge>("Forge.Loop");
    tr.trace(&forged(77));
    let addr = d.prometheus_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        body
    };
    let body = get("/metrics");
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        body.contains("\ncardano_node_metrics_slotNum 77\n"),
        "{body}"
    );
    assert!(
        body.contains("\ncardano_node_metrics_Forge_forged 1\n"),
        "{body}"
    );
    assert!(get("/nope").starts_with("HTTP/1.1 404"));
}

#[test]
fn resources_are_sampled_with_cardano_field_names() {
    let cap = Capture::default();
    let yaml = "TraceOptionResourceFrequency: 20\nTraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat, EKGBackend]\n";
    let mut d = Dispatcher::builder()
        .config(config(yaml))
        .host("h")
        .output(Output::Writer(Box::new(cap.clone())))
        .sample_resources(true)
        .build()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    d.shutdown();
    let lines: Vec<Value> = cap
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["ns"] == "Resources")
        .collect();
    assert!(lines.len() >= 3, "{}", lines.len());
    let data = lines.last().unwrap()["data"].as_object().unwrap();
    assert_eq!(data["kind"], "ResourceStats");
    for k in ["CentiCpu", "RSS", "Threads"] {
        assert!(data[k].as_u64().is_some(), "{k} in {data:?}");
    }
    for k in ["CentiGC", "CentiMut", "GcsMajor", "GcsMinor", "Live"] {
        assert!(!data.contains_key(k), "{k} must be omitted, not invented");
    }
    let keys: Vec<&String> = data.keys().collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    let rss = d.metrics().get("Mem.resident").unwrap().sample();
    assert!(
        matches!(rss, MetricSample::Gauge(v) if v > 1 << 20),
        "{rss:?}"
    );
}
