//! `wb tracer` as a process: it takes a node's traces, stops cleanly on SIGTERM, and refuses a
//! broken configuration before starting anything.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wb_trace::forwarder::ForwarderSettings;
use wb_trace::{Dispatcher, Output, TraceConfig};

#[test]
fn wb_tracer_serves_a_node_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tracer.sock");
    let logs = dir.path().join("logs");
    let cfg = dir.path().join("tracer.yaml");
    std::fs::write(
        &cfg,
        format!(
            "networkMagic: 764824073\nnetwork:\n  tag: AcceptAt\n  contents: \"{}\"\nlogging:\n  - logRoot: \"{}\"\n    logMode: FileMode\n    logFormat: ForMachine\n",
            sock.display(),
            logs.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["tracer", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "tracer never listened");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A node forwards its own Forwarder.Connected message and resource samples.
    let node_cfg = TraceConfig::from_yaml_str(
        "TraceOptionResourceFrequency: 50\nTraceOptions:\n  '':\n    severity: Info\n    backends: [Forwarder]\n",
        "node",
    )
    .unwrap();
    let mut settings = ForwarderSettings::from_config(
        &node_cfg,
        wb_forward_address(&sock),
        764_824_073,
        "node-cli",
    );
    settings.min_reconnect_delay = Duration::from_millis(50);
    let mut node = Dispatcher::builder()
        .config(node_cfg)
        .output(Output::None)
        .forward_to(settings)
        .sample_resources(true)
        .build()
        .unwrap();
    let log = logs.join("node-cli").join("node.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text
            .lines()
            .filter(|l| l.contains("\"ns\":\"Resources\""))
            .count()
            >= 3
        {
            assert!(text.contains("\"ns\":\"Forwarder.Connected\""));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "resource samples never reached the log"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    node.shutdown();

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "wb tracer did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        exit.success(),
        "exit {exit:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"ns\":\"Tracer.SockListen\""), "{stdout}");
    assert!(
        stdout.contains("\"ns\":\"Tracer.NodeConnected\"")
            && stdout.contains("\"node\":\"node-cli\""),
        "{stdout}"
    );
    assert!(!sock.exists(), "the socket file is removed at exit");
}

fn wb_forward_address(p: &std::path::Path) -> wb_trace::forwarder::Address {
    wb_trace::forwarder::Address::Unix(p.to_owned())
}

#[test]
fn a_broken_tracer_config_is_refused_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tracer.yaml");
    std::fs::write(
        &cfg,
        "networkMagic: 1\nnetwork:\n  tag: AcceptAt\n  contents: \"\"\nlogging: []\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["tracer", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tracer.yaml") && err.contains("field"),
        "{err}"
    );
}
