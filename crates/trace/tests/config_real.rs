//! The trace configuration of a real cardano-node, as its tracer logged it, parses and resolves
//! as cardano-node resolves it.

mod common;

use wb_trace::config::{Backend, ForwarderVerbosity};
use wb_trace::{DetailLevel, Severity, SeverityFilter, TraceConfig};

fn real_config() -> TraceConfig {
    let log = std::fs::read_to_string(common::fixture(
        "real-logs/block-producer-tracer-output.jsonl",
    ))
    .unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("\"ns\":\"Reflection.TracerConfigInfo\""))
        .expect("config line");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    TraceConfig::from_value(&v["data"]["conf"], "block-producer-tracer-output.jsonl").unwrap()
}

#[test]
fn real_trace_options_resolve_by_longest_prefix() {
    let cfg = real_config();
    assert_eq!(cfg.options.len(), 26);
    let sev = |ns: &str| cfg.resolve(ns).severity;
    assert_eq!(
        sev("Forge.Loop.ForgedBlock"),
        SeverityFilter::AtLeast(Severity::Info)
    );
    assert_eq!(
        sev("ChainDB.AddBlockEvent.AddedToCurrentChain"),
        SeverityFilter::AtLeast(Severity::Info)
    );
    assert_eq!(
        sev("ChainDB.AddBlockEvent.AddBlockValidation.InvalidBlock"),
        SeverityFilter::Silence
    );
    assert_eq!(sev("Mempool.AddedTx"), SeverityFilter::Silence);
    assert_eq!(sev("Resources"), SeverityFilter::Silence);
    assert_eq!(
        sev("ChainSync.Client.DownloadedHeader"),
        SeverityFilter::AtLeast(Severity::Warning)
    );
    assert_eq!(
        sev("Net.PeerSelection.Actions.StatusChanged"),
        SeverityFilter::AtLeast(Severity::Info)
    );
    assert_eq!(sev("Net.PeerSelection.Selection"), SeverityFilter::Silence);
    // Nothing but the root matches: the root's Notice.
    assert_eq!(
        sev("TxSubmission.TxInbound.Collected"),
        SeverityFilter::AtLeast(Severity::Notice)
    );

    let fetch = cfg.resolve("BlockFetch.Client.CompletedBlockFetch");
    assert_eq!(fetch.max_frequency, Some(2.0));
    assert_eq!(fetch.severity, SeverityFilter::AtLeast(Severity::Notice));
    assert_eq!(fetch.detail, DetailLevel::DNormal);
    assert_eq!(fetch.backends, vec![Backend::Ekg, Backend::Forwarder]);
    assert_eq!(
        cfg.resolve("ChainDB.AddBlockEvent.AddBlockValidation.ValidCandidate")
            .max_frequency,
        Some(2.0)
    );
    assert_eq!(
        cfg.resolve("BlockFetch.Client.SendFetchRequest")
            .max_frequency,
        None
    );
}

#[test]
fn real_forwarder_and_resource_options() {
    let cfg = real_config();
    assert_eq!(cfg.resource_frequency_ms, 5000);
    assert_eq!(cfg.metrics_prefix, "cardano.node.metrics.");
    assert_eq!(cfg.node_name, None);
    // tofConnQueueSize 64 and tofDisconnQueueSize 128 map to the larger.
    assert_eq!(cfg.forwarder.queue_size, 128);
    assert_eq!(cfg.forwarder.max_reconnect_delay_secs, 60);
    assert_eq!(cfg.forwarder.verbosity, ForwarderVerbosity::Minimum);
}

#[test]
fn the_same_config_reads_from_yaml_and_json_files() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("node.json");
    std::fs::write(
        &json,
        r#"{"Protocol":"Cardano","TraceOptionNodeName":"node-3","TraceOptions":{"":{"severity":"Info","backends":["Stdout MachineFormat"]},"Forge.Loop":{"detail":"DDetailed"}}}"#,
    )
    .unwrap();
    let yaml = dir.path().join("node.yaml");
    std::fs::write(
        &yaml,
        "Protocol: Cardano\nTraceOptionNodeName: node-3\nTraceOptions:\n  '':\n    severity: Info\n    backends:\n      - Stdout MachineFormat\n  Forge.Loop:\n    detail: DDetailed\n",
    )
    .unwrap();
    let a = TraceConfig::from_file(&json).unwrap();
    let b = TraceConfig::from_file(&yaml).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.resolve("Forge.Loop.ForgedBlock").detail,
        DetailLevel::DDetailed
    );

    std::fs::write(&json, r#"{"TraceOptions":{"Forge":{"severity":"Infos"}}}"#).unwrap();
    let err = TraceConfig::from_file(&json).unwrap_err().to_string();
    assert!(
        err.contains("node.json")
            && err.contains("TraceOptions.\"Forge\".severity")
            && err.contains("Infos"),
        "{err}"
    );
    let err = TraceConfig::from_file(&dir.path().join("missing.yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.yaml"), "{err}");
}

#[test]
fn every_json_line_of_the_real_logs_reads_back() {
    for (file, json_lines) in [
        ("block-producer-tracer-output.jsonl", 861),
        ("tracer-output-array-ns.jsonl", 12),
        ("relay-adoption-2026-shape.jsonl", 2),
    ] {
        let text = std::fs::read_to_string(common::fixture(&format!("real-logs/{file}"))).unwrap();
        let ok = text
            .lines()
            .filter(|l| wb_trace::logline::parse(l).is_ok())
            .count();
        assert_eq!(ok, json_lines, "{file}");
    }
    // The legacy human format is counted as not machine lines, not a crash.
    let text =
        std::fs::read_to_string(common::fixture("real-logs/legacy-human-coloured.log")).unwrap();
    assert!(text.lines().all(|l| wb_trace::logline::parse(l).is_err()));
}
