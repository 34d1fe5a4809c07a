//! `wb txgen` as a process against a `wb node` process: it splits the funds, submits at the
//! rate, reports, and exits 0; a broken configuration is refused naming the field.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wb_ledger::crypto::{self, PoolKey};
use wb_ledger::wallet::Wallet;

#[test]
fn txgen_runs_against_a_node_process() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pool = [5u8; 32];
    let funds = [0x55u8; 32];
    let start = (wb_trace::time::now_unix_nanos() / 1_000_000_000 + 1) * 1_000_000_000;
    let mut at = Vec::new();
    wb_trace::time::write_machine_time(&mut at, start);
    std::fs::write(
        d.join("genesis.json"),
        format!(
            r#"{{"systemStart":"{}","networkMagic":42,"slotLength":0.1,"epochLength":10000,"activeSlotsCoeff":0.5,"securityParam":10,"pools":[{{"name":"node-0","vkey":"{}","stake":1}}],"initialFunds":{{"{}":10000000000000}}}}"#,
            String::from_utf8(at).unwrap(),
            crypto::hex(&PoolKey::from_seed(pool).verification_key()),
            crypto::hex(&Wallet::from_seed(funds, 0).address())
        ),
    )
    .unwrap();
    std::fs::write(d.join("config.yaml"), "GenesisFile: genesis.json\nTraceOptionNodeName: node-0\nTraceOptions:\n  '':\n    severity: Notice\n    backends: [Stdout MachineFormat]\n").unwrap();
    std::fs::write(d.join("topology.json"), r#"{"Producers":[]}"#).unwrap();
    std::fs::write(d.join("pool.skey"), crypto::hex(&pool)).unwrap();
    std::fs::write(d.join("funds.skey"), crypto::hex(&funds)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut node = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["node", "--config"])
        .arg(d.join("config.yaml"))
        .arg("--topology")
        .arg(d.join("topology.json"))
        .arg("--database-path")
        .arg(d.join("db"))
        .args(["--port", &port.to_string(), "--pool-key"])
        .arg(d.join("pool.skey"))
        .arg("--socket-path")
        .arg(d.join("node.socket"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.join("node.socket").exists() {
        assert!(Instant::now() < deadline, "node never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(
        d.join("txgen.json"),
        format!(
            r#"{{"tps": 100, "tx_count": 100, "inputs_per_tx": 2, "outputs_per_tx": 2, "add_tx_size": 100,
                "genesisFile": "genesis.json", "sigKey": "funds.skey", "localNodeSocketPath": "node.socket",
                "chainFollow": "127.0.0.1:{port}", "targetNodes": [{{"socket": "node.socket"}}], "phase_timeout": 20}}"#
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["txgen", "--config"])
        .arg(d.join("txgen.json"))
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status();
    let _ = node.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("sent 100") && err.contains("accepted 100") && err.contains("adopted 100"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"ns\":\"Benchmark.BenchTxSubSummary\""),
        "{stdout}"
    );

    // A misspelt field is named.
    std::fs::write(d.join("bad.json"), r#"{"tps": 1, "tx_count": 1, "inputs_per_tx": 1, "outputs_per_tx": 1, "genesisFile": "g", "sigKey": "k", "localNodeSocketPath": "s", "chainFollow": "x", "targetNodes": [], "inputs_pre_tx": 2}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["txgen", "--config"])
        .arg(d.join("bad.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("inputs_pre_tx"));
}
