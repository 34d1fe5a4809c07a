//! `wb node` as a process: forges, forwards its traces to `wb tracer`, stops at the configured
//! slot or on SIGTERM with exit code 0, and refuses a broken configuration.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wb_ledger::crypto::{self, PoolKey};

fn wb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wb"))
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A one-pool genesis starting a second from now, a config and an empty topology.
fn setup(dir: &Path) {
    let seed = [5u8; 32];
    let start = (wb_trace::time::now_unix_nanos() / 1_000_000_000 + 2) * 1_000_000_000;
    let mut at = Vec::new();
    wb_trace::time::write_machine_time(&mut at, start);
    let vkey = crypto::hex(&PoolKey::from_seed(seed).verification_key());
    std::fs::write(
        dir.join("genesis.json"),
        format!(
            r#"{{"systemStart":"{}","networkMagic":42,"slotLength":0.1,"epochLength":1000,"activeSlotsCoeff":0.5,"securityParam":10,"pools":[{{"name":"node-0","vkey":"{vkey}","stake":1}}]}}"#,
            String::from_utf8(at).unwrap()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("config.yaml"), "GenesisFile: genesis.json\nTraceOptionNodeName: node-0\nTraceOptionResourceFrequency: 200\nTraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat, Forwarder, EKGBackend]\n").unwrap();
    std::fs::write(dir.join("topology.json"), r#"{"Producers":[]}"#).unwrap();
    std::fs::write(dir.join("pool.skey"), crypto::hex(&seed)).unwrap();
}

fn node_cmd(dir: &Path) -> Command {
    let mut c = wb();
    c.args(["node", "--config"])
        .arg(dir.join("config.yaml"))
        .arg("--topology")
        .arg(dir.join("topology.json"))
        .arg("--database-path")
        .arg(dir.join("db"))
        .args(["--port", "0", "--pool-key"])
        .arg(dir.join("pool.skey"));
    c
}

#[test]
fn a_node_forges_forwards_to_the_tracer_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let sock = dir.path().join("tracer.sock");
    let logs = dir.path().join("logs");
    std::fs::write(
        dir.path().join("tracer.yaml"),
        format!("networkMagic: 42\nnetwork:\n  tag: AcceptAt\n  contents: \"{}\"\nlogging:\n  - logRoot: \"{}\"\n    logMode: FileMode\n    logFormat: ForMachine\n", sock.display(), logs.display()),
    )
    .unwrap();
    let mut tracer = wb()
        .args(["tracer", "--config"])
        .arg(dir.path().join("tracer.yaml"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "tracer never listened");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Run to slot 40 and stop there by itself.
    let out = node_cmd(dir.path())
        .args([
            "--shutdown-on-slot-synced",
            "40",
            "--tracer-socket-path-connect",
        ])
        .arg(&sock)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"ns\":\"Forge.Loop.ForgedBlock\""),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ShutdownSlot(40)"));
    // Every stdout line is a machine line.
    for l in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["at"].is_string() && v["ns"].is_string() && v["host"].is_string());
    }
    // The tracer has the node's traces under its name.
    let forwarded = std::fs::read_to_string(logs.join("node-0").join("node.json")).unwrap();
    assert!(forwarded.contains("\"ns\":\"Forge.Loop.ForgedBlock\""));
    assert!(forwarded.contains("\"ns\":\"Resources\""));

    // Again, stopped by SIGTERM: it resumes from disk and exits 0.
    let mut node = node_cmd(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        Command::new("kill")
            .args(["-TERM", &node.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_exit(&mut node, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");

    assert!(
        Command::new("kill")
            .args(["-TERM", &tracer.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(wait_exit(&mut tracer, Duration::from_secs(10)).success());
}

#[test]
fn a_broken_node_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("topology.json"),
        r#"{"Producers":[{"addr":"127.0.0.1","port":"x"}]}"#,
    )
    .unwrap();
    let out = node_cmd(dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("topology.json") && err.contains("Producers[0].port"),
        "{err}"
    );
}
