//! The `wb` binary as a user runs it.

use std::path::PathBuf;
use std::process::Command;

fn wb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

/// The trace configuration a real block producer logged, written out as a node config file.
fn real_config_file(dir: &std::path::Path) -> PathBuf {
    let log =
        std::fs::read_to_string(fixture("real-logs/block-producer-tracer-output.jsonl")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("\"ns\":\"Reflection.TracerConfigInfo\""))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let path = dir.join("node-config.json");
    std::fs::write(&path, v["data"]["conf"].to_string()).unwrap();
    path
}

#[test]
fn help_and_version() {
    let out = wb(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("trace-docs") && text.contains("trace-config"),
        "{text}"
    );
    let out = wb(&["--version"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("wb {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(!wb(&["no-such-command"]).status.success());
}

#[test]
fn trace_docs_lists_every_namespace_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = real_config_file(dir.path());
    let md = dir.path().join("docs.md");
    let help = dir.path().join("help.json");
    let out = wb(&[
        "trace-docs",
        "--config",
        cfg.to_str().unwrap(),
        "--output-file",
        md.to_str().unwrap(),
        "--output-metric-help",
        help.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(md).unwrap();
    for ns in [
        "Resources",
        "Reflection.StartLimiting",
        "Reflection.StopLimiting",
        "Reflection.DroppedMessages",
    ] {
        assert!(md.contains(&format!("\n## {ns}\n")), "{ns} documented");
    }
    // The real config silences Resources: the docs say so.
    let resources = md.split("\n## Resources\n").nth(1).unwrap();
    assert!(
        resources.contains("Invisible by config value: `Silence`"),
        "{resources}"
    );
    assert!(
        resources.contains("`cardano.node.metrics.Mem.resident_int` (integer gauge)"),
        "{resources}"
    );
    assert!(resources.contains("`EKGBackend`, `Forwarder`"));
    let help: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(help).unwrap()).unwrap();
    assert_eq!(
        help["cardano.node.metrics.Stat.cputicks_int"],
        "CPU time of the process, centiseconds"
    );

    // Without a config: trace-dispatcher's defaults, to stdout.
    let out = wb(&["trace-docs"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("as configured by trace-dispatcher's defaults"));
    assert!(text.contains("`Stdout HumanFormatColoured`"));
}

#[test]
fn trace_config_resolves_and_refuses_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = real_config_file(dir.path());
    let out = wb(&["trace-config", cfg.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let resources = text.lines().find(|l| l.starts_with("Resources ")).unwrap();
    assert!(resources.contains("Silence"), "{resources}");
    assert!(
        text.contains("warning: configured namespace \"Net.Subscription.DNS\" matches no tracer"),
        "{text}"
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "TraceOptions:\n  Forge.Loop:\n    backends: [Stdout Fancy]\n",
    )
    .unwrap();
    let out = wb(&["trace-config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.yaml")
            && err.contains("TraceOptions.\"Forge.Loop\".backends")
            && err.contains("Stdout Fancy"),
        "{err}"
    );
}

#[test]
fn the_dictionary_prints_as_markdown_and_as_data() {
    let md = wb(&["dictionary"]);
    assert!(md.status.success());
    let md = String::from_utf8(md.stdout).unwrap();
    let json = wb(&["dictionary", "--format", "json"]);
    assert!(json.status.success());
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    // One table row per entry, each entry complete.
    let rows = md.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, entries.len());
    let adoption = entries.iter().find(|e| e["id"] == "cdf0.50").unwrap();
    assert_eq!(adoption["unit"], "s");
    assert_eq!(adoption["better"], "lower");
    assert_eq!(adoption["aggregation"], "per-block");
    assert!(
        adoption["from"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "ChainDB.AddBlockEvent.AddedToCurrentChain")
    );
    assert!(
        md.contains("| `CentiCpu` | Process CPU usage | % | lower | `Resources` |"),
        "{md}"
    );
    let bad = wb(&["dictionary", "--format", "yaml"]);
    assert!(!bad.status.success());
}

#[test]
fn results_database_errors_are_one_line_naming_the_database_without_its_password() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let url = format!("postgres://wb:hunter2@127.0.0.1:{port}/results");
    for args in [
        vec!["results", "list", "--db", &url],
        vec!["trend", "cdf0.50", "--profile", "ci-test", "--db", &url],
        vec![
            "publish",
            "--all",
            "--db",
            &url,
            "--runs-dir",
            "/nonexistent-wb-runs",
        ],
    ] {
        let out = wb(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        if args[0] == "publish" {
            // Nothing to publish is said before any connection is made.
            assert!(err.contains("which runs?"), "{err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "error: results database postgres://wb@127.0.0.1:{port}/results: "
            )),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
    let out = wb(&["results", "list", "--db", "sqlite://x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a database address wb knows"), "{err}");
}
