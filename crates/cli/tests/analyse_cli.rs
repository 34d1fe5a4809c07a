//! `wb analyse logs` on real cardano-node logs: every line accounted for, unreadable ones
//! counted with their file and line, the results in `logs.json`.

use std::process::Command;

#[test]
fn analyse_logs_accounts_for_every_line_of_real_logs() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/real-logs");
    let out = tempfile::tempdir().unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "logs"])
        .arg(fixtures.join("block-producer-tracer-output.jsonl"))
        .arg(fixtures.join("tracer-output-array-ns.jsonl"))
        .arg(fixtures.join("legacy-human-coloured.log"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        stdout.contains("3 hosts, 876 lines, 3 unreadable"),
        "{stdout}"
    );
    assert!(
        stdout.contains("legacy-human-coloured.log:1: not JSON"),
        "{stdout}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("logs.json")).unwrap())
            .unwrap();
    let hosts = doc["hosts"].as_array().unwrap();
    let bp = hosts
        .iter()
        .find(|h| h["host"] == "block-producer-tracer-output")
        .unwrap();
    assert_eq!(bp["lines"], 861);
    assert_eq!(bp["forged"], 9);
    assert_eq!(bp["adopted"], 29);
    assert_eq!(bp["leadership_checks"], 181);
    assert_eq!(bp["namespaces"]["Forge.StateInfo.StateInfo"], 181);
    let arr = hosts
        .iter()
        .find(|h| h["host"] == "tracer-output-array-ns")
        .unwrap();
    assert_eq!(
        arr["duplicates"].as_u64().unwrap()
            + arr["events"].as_u64().unwrap()
            + arr["other"].as_u64().unwrap(),
        12
    );

    // No genesis given: the slot timing was inferred from the producer's leadership checks,
    // and the summary says so.
    assert!(stdout.contains("inferred from"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["genesis"]["source"]["kind"], "inferred");
    assert_eq!(summary["sumHosts"], 3);
    assert!(out.path().join("blockprop.json").is_file());

    // Hosts from the `host` field: the producer's two files are one host's.
    let r = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "logs", "--host-field"])
        .arg(fixtures.join("block-producer-tracer-output.jsonl"))
        .arg(fixtures.join("tracer-output-array-ns.jsonl"))
        .arg(fixtures.join("relay-adoption-2026-shape.jsonl"))
        .arg("--out")
        .arg(out.path().join("by-field"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("by-field/logs.json")).unwrap(),
    )
    .unwrap();
    let hosts: Vec<(&str, u64, u64)> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap(),
                h["files"].as_u64().unwrap(),
                h["lines"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(hosts, [("lfl4", 1, 2), ("p1.example", 2, 873)]);

    // Logs without a single leadership check and no genesis (here: no trace line at all):
    // still analysed, every line accounted for, and the summary says what needs slot timing.
    let r = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "logs"])
        .arg(fixtures.join("legacy-human-coloured.log"))
        .arg("--out")
        .arg(out.path().join("none"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(stdout.contains("3 unreadable"), "{stdout}");
    assert!(stdout.contains("missing: cdfForgerStart"), "{stdout}");
    assert!(
        stdout.contains("pass --genesis") || stdout.contains("no genesis file"),
        "{stdout}"
    );

    // Nothing to read is an error that says so.
    let r = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "no-such-run", "--runs-dir"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("no run \"no-such-run\""));
}

/// Lists the files under each host directory of `dir`.
fn logs_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for host in std::fs::read_dir(dir).unwrap() {
        for f in std::fs::read_dir(host.unwrap().path()).unwrap() {
            v.push(f.unwrap().path());
        }
    }
    v.sort();
    v
}

#[test]
fn synthetic_runs_are_analysed_and_combined_by_variance() {
    let tmp = tempfile::tempdir().unwrap();
    let wb = |args: &[&str]| {
        let r = Command::new(env!("CARGO_BIN_EXE_wb"))
            .args(args)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&r.stdout).into_owned();
        assert!(
            r.status.success(),
            "{args:?}: {out}{}",
            String::from_utf8_lossy(&r.stderr)
        );
        out
    };
    for (run, seed) in [("run-a", "1"), ("run-b", "2")] {
        let dir = tmp.path().join(run);
        let logs = dir.join("logs");
        wb(&[
            "analyse",
            "synth",
            "--hosts",
            "4",
            "--slots",
            "200",
            "--seed",
            seed,
            "--out",
            logs.to_str().unwrap(),
        ]);
        std::fs::write(
            dir.join("meta.json"),
            format!(r#"{{"meta":{{"tag":"{run}","profile":"synthetic"}}}}"#),
        )
        .unwrap();
        let mut args = vec!["analyse".to_owned(), "logs".into(), "--out".into()];
        args.push(dir.join("analysis").to_string_lossy().into_owned());
        args.extend(
            logs_under(&logs)
                .iter()
                .map(|p| p.to_string_lossy().into_owned()),
        );
        let out = wb(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.contains("inferred from"), "{out}");
        assert!(out.contains("machines (4 hosts"), "{out}");
    }
    let v = tmp.path().join("variance");
    let out = wb(&[
        "analyse",
        "variance",
        tmp.path().join("run-a").to_str().unwrap(),
        tmp.path().join("run-b").to_str().unwrap(),
        "--out",
        v.to_str().unwrap(),
    ]);
    assert!(out.contains("2 runs: run-a, run-b"), "{out}");
    assert!(out.contains("cdf0.50"), "{out}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(v.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"].as_array().unwrap().len(), 2);
    assert_eq!(summary["incoherent_profiles"], false);
    assert!(v.join("cdf/cdfForgerForge.cdf").is_file());

    // A run never analysed is named.
    std::fs::create_dir_all(tmp.path().join("run-c")).unwrap();
    std::fs::write(tmp.path().join("run-c/meta.json"), "{}").unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "variance"])
        .arg(tmp.path().join("run-a"))
        .arg(tmp.path().join("run-c"))
        .output()
        .unwrap();
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("run-c/analysis/blockprop.json"), "{err}");
}

#[test]
fn analyse_logs_takes_a_tracer_directory_and_refuses_a_missing_file_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let synth = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "synth", "--hosts", "3", "--size", "2M", "--out"])
        .arg(&logs)
        .output()
        .unwrap();
    assert!(
        synth.status.success(),
        "{}",
        String::from_utf8_lossy(&synth.stderr)
    );
    let analyse = |args: &[&std::path::Path], out: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wb"));
        c.args(["analyse", "logs", "--out"])
            .arg(dir.path().join(out));
        c.args(args).output().unwrap()
    };
    let by_files: Vec<std::path::PathBuf> = std::fs::read_dir(&logs)
        .unwrap()
        .flat_map(|h| std::fs::read_dir(h.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .collect();
    let by_files: Vec<&std::path::Path> = by_files.iter().map(|p| p.as_path()).collect();
    assert!(analyse(&by_files, "files").status.success());
    // The tracer's `node.json` link to the newest file must not be read a second time.
    let newest = by_files
        .iter()
        .find(|p| p.starts_with(logs.join("node-1")))
        .unwrap();
    std::os::unix::fs::symlink(newest, logs.join("node-1/node.json")).unwrap();
    let r = analyse(&[&logs], "dir");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for table in ["blockprop.json", "logs.json", "slots.csv"] {
        let read = |out: &str| std::fs::read(dir.path().join(out).join(table)).unwrap();
        assert!(read("files") == read("dir"), "{table} differs");
    }

    let missing = logs.join("node-7.json");
    let r = analyse(&[&logs, &missing], "missing");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        stderr.contains(&format!("{}: No such file", missing.display())),
        "{stderr}"
    );
    assert!(
        !dir.path().join("missing").exists(),
        "refused before anything is written"
    );
}

fn real_log(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/real-logs")
        .join(name)
}

/// A genesis from another network: refused by name, naming the first block, in one message
/// without a backtrace whatever RUST_BACKTRACE says, and nothing left behind; `--force` keeps
/// the figures and says so.
#[test]
fn a_genesis_of_another_network_is_refused_by_name() {
    let out = tempfile::tempdir().unwrap();
    let analyse = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wb"))
            .env("RUST_BACKTRACE", "1")
            .args(["analyse", "logs", "--network", "mainnet"])
            .args(extra)
            .arg(real_log("block-producer-tracer-output.jsonl"))
            .arg("--out")
            .arg(out.path().join("a"))
            .output()
            .unwrap()
    };
    let r = analyse(&[]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.starts_with("error: the mainnet genesis does not fit these logs"),
        "{err}"
    );
    assert!(
        err.contains("3002b6f091e64723880dbb457325b537d25288c1865dd54fdf4caaf589262898 (slot 27)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one message, no backtrace: {err}");
    let left: Vec<_> = std::fs::read_dir(out.path().join("a")).unwrap().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");

    let r = analyse(&["--force"]);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        stdout.contains("warning: the mainnet genesis does not fit"),
        "{stdout}"
    );

    // A name that is no network.
    let r = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "logs", "--network", "testnet"])
        .arg(real_log("relay-adoption-2026-shape.jsonl"))
        .arg("--out")
        .arg(out.path().join("b"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains(
            "--network testnet: not a known network (one of: mainnet, preprod, preview, sanchonet)"
        ),
        "{err}"
    );
}

/// A relay's log without leadership checks and without a genesis: analysed all the same, the
/// summary listing what needs slot timing as missing, and why.
#[test]
fn without_any_slot_timing_the_rest_is_reported_and_the_missing_listed() {
    let out = tempfile::tempdir().unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "logs"])
        .arg(real_log("relay-adoption-2026-shape.jsonl"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(stdout.contains("genesis: none"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap())
            .unwrap();
    assert!(summary["genesis"].is_null());
    assert_eq!(summary["blocks_observed_only"], 1);
    let missing = summary["missing"].as_array().unwrap();
    let timing = missing
        .iter()
        .find(|m| m["reason"].as_str().unwrap().starts_with("no slot timing"))
        .expect("the slot-relative metrics are listed");
    assert!(
        timing["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "cdf0.50")
    );
    // The block the relay adopted is on the chain, known from its observer.
    let chain: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("chain.json")).unwrap())
            .unwrap();
    assert_eq!(chain["main"][0]["block_no"], 17);
    assert_eq!(chain["main"][0]["slot"], 421);
    assert!(chain["main"][0]["forger"].is_null());
}

#[test]
fn a_journal_export_without_genesis_gives_resource_figures_and_lists_what_is_missing() {
    // A benchmarking node's real lines (resource samples 1 s apart, two leadership checks: too
    // few for slot timing) as `journalctl -o json` and `journalctl` print them, with the
    // journal's own lines between them.
    let real = std::fs::read_to_string(real_log("benchmark-node-locli-excerpt.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut json = String::new();
    let mut text = String::from("-- Logs begin at Mon 2026-09-07 12:30:00 UTC. --\n");
    json.push_str(
        &serde_json::json!({"_SYSTEMD_UNIT": "init.scope", "MESSAGE": "Started cardano-node.service."})
            .to_string(),
    );
    json.push('\n');
    for (i, line) in real.lines().enumerate() {
        let entry = serde_json::json!({
            "__REALTIME_TIMESTAMP": (1_788_784_590_000_000u64 + i as u64).to_string(),
            "_SYSTEMD_UNIT": "cardano-node.service",
            "SYSLOG_IDENTIFIER": "cardano-node",
            "MESSAGE": line,
        });
        json.push_str(&entry.to_string());
        json.push('\n');
        text.push_str(&format!(
            "Sep 07 12:36:30 node-1 cardano-node[4242]: {line}\n"
        ));
    }
    for (name, body) in [
        ("node-1.journal.json", &json),
        ("node-1.journal.txt", &text),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let r = Command::new(env!("CARGO_BIN_EXE_wb"))
            .args(["analyse", "logs"])
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&r.stdout);
        assert!(
            r.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(stdout.contains("genesis: none"), "{name}: {stdout}");
        assert!(stdout.contains("missing: "), "{name}: {stdout}");
        let logs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("logs.json")).unwrap()).unwrap();
        let host = &logs["hosts"][0];
        assert_eq!(host["host"], "node-1", "{name}");
        // Every real line read, the journal's own line counted as unreadable.
        assert_eq!(
            host["events"].as_u64().unwrap() + host["other"].as_u64().unwrap(),
            56,
            "{name}"
        );
        assert_eq!(host["bad"], 1, "{name}");
        assert_eq!(host["resource_samples"], 2, "{name}");
        // No slots without slot timing: no table of them.
        assert!(!out.join("slots.csv").exists(), "{name}");
        // CentiCpu 7912 → 8013 over 1.013765112 s: 99.6 % of a core; RSS 9599819776 B.
        let cpu = host["cpu_pct_mean"].as_f64().unwrap();
        assert!((cpu - 101.0 / 1.013_765_112).abs() < 0.01, "{name}: {cpu}");
        let rss = host["rss_mib_max"].as_f64().unwrap();
        assert!(
            (rss - 9_599_819_776.0 / 1_048_576.0).abs() < 0.01,
            "{name}: {rss}"
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        let reasons: Vec<&str> = summary["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["reason"].as_str().unwrap())
            .collect();
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("no slot timing") && r.contains("2 leadership checks")),
            "{name}: {reasons:?}"
        );
    }
}

#[test]
fn a_stuck_cpu_counter_is_reported_not_measured_and_never_as_zero() {
    // The benchmarking node's real resource sample, repeated every 5 s with the process
    // allocating as it does but `CentiCpu` frozen at its first value: the quirk of a real
    // node's log whose 265 samples all say `"CentiCpu":429496` (input-output-hk/ouroboros-leios,
    // scripts/trace-translator/demo/node-1.json at bc84c633, not copied: no licence for it).
    let real = std::fs::read_to_string(real_log("benchmark-node-locli-excerpt.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(real.lines().next().unwrap()).unwrap();
    let mut lines = Vec::new();
    for i in 0..6u64 {
        let mut s = first.clone();
        s["at"] = format!(
            "2026-09-07T12:{:02}:{:02}.627022535Z",
            35 + i * 5 / 60,
            i * 5 % 60
        )
        .into();
        s["data"]["Alloc"] = (94_701_592_520u64 + i * 700_000_000).into();
        lines.push(s.to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node-1.json");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let r = Command::new(env!("CARGO_BIN_EXE_wb"))
        .args(["analyse", "logs"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let logs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("logs.json")).unwrap()).unwrap();
    let host = &logs["hosts"][0];
    assert_eq!(host["resource_samples"], 6);
    assert!(host["cpu_pct_mean"].is_null(), "{host}");
    let nm = &host["not_measured"][0];
    assert_eq!(nm["metric"], "CentiCpu");
    assert!(nm["reason"].as_str().unwrap().contains("7912"), "{nm}");
    // RSS is still measured, and the text says what is not.
    assert!(host["rss_mib_max"].as_f64().unwrap() > 9000.0);
    assert!(stdout.contains("not measured"), "{stdout}");
}

#[test]
fn wb_report_writes_the_run_report_and_compares_runs_refusing_incompatible_ones() {
    let dir = tempfile::tempdir().unwrap();
    let analyse = |name: &str, logs: &[&str]| {
        let out = dir.path().join(name).join("analysis");
        let r = Command::new(env!("CARGO_BIN_EXE_wb"))
            .args(["analyse", "logs"])
            .args(logs.iter().map(|l| real_log(l)))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        dir.path().join(name)
    };
    let one = analyse("one", &["leios-demo-node-0-stdout.log"]);
    let other = analyse("other", &["leios-demo-node-1-stdout.log"]);
    let two = analyse(
        "two",
        &[
            "leios-demo-node-0-stdout.log",
            "mainnet-relay-legacy-json.jsonl",
        ],
    );
    let wb = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_wb"))
            .arg("report")
            .args(args)
            .current_dir(dir.path())
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap()
    };
    // The run report beside the analysis.
    let r = wb(&[one.as_os_str()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        std::fs::read_to_string(one.join("report.html"))
            .unwrap()
            .contains("<section id=\"health\"")
    );
    // Two runs of one host each compare; a two-host one is refused, by name, without a backtrace.
    let r = wb(&["--compare".as_ref(), one.as_os_str(), other.as_os_str()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(dir.path().join("compare.html").is_file());
    let r = wb(&["--compare".as_ref(), one.as_os_str(), two.as_os_str()]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.starts_with("error: these runs cannot be compared")
            && err.contains("cluster size (hosts): one has 1, two has 2"),
        "{err}"
    );
    assert!(!err.contains("stack backtrace"), "{err}");
    let out = dir.path().join("forced.html");
    let r = wb(&[
        "--compare".as_ref(),
        "--force".as_ref(),
        one.as_os_str(),
        two.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("compared although they differ")
    );
}

#[test]
fn wb_compare_prints_verdicts_and_gates_ci_on_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let wb = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_wb"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // A synthetic cluster (inferred slot timing), analysed.
    let logs = dir.path().join("logs");
    let r = wb(&[
        "analyse".as_ref(),
        "synth".as_ref(),
        "--hosts".as_ref(),
        "6".as_ref(),
        "--slots".as_ref(),
        "3000".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
        "--out".as_ref(),
        logs.as_os_str(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let base = dir.path().join("base/analysis");
    let args: Vec<std::ffi::OsString> = vec![
        "analyse".into(),
        "logs".into(),
        logs.clone().into(),
        "--out".into(),
        base.clone().into(),
    ];
    let r = wb(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // The same run, its blocks adopted by all nodes 60 % later.
    let slow = dir.path().join("slow/analysis");
    std::fs::create_dir_all(slow.join("machperf")).unwrap();
    for sub in ["", "machperf"] {
        for e in std::fs::read_dir(base.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, slow.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let csv = std::fs::read_to_string(slow.join("blocks.csv")).unwrap();
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == "cdf1.00").unwrap();
    let shifted: Vec<String> = csv
        .lines()
        .enumerate()
        .map(|(n, l)| {
            let mut c: Vec<String> = l.split(',').map(str::to_owned).collect();
            if n > 0 {
                if let Ok(v) = c[col].parse::<f64>() {
                    c[col] = format!("{:.6}", v * 1.6);
                }
            }
            c.join(",")
        })
        .collect();
    std::fs::write(slow.join("blocks.csv"), shifted.join("\n") + "\n").unwrap();
    let (b, s) = (dir.path().join("base"), dir.path().join("slow"));
    // Text: the regression first; json: records; the gate: exit 3 naming it.
    let r = wb(&["compare".as_ref(), b.as_os_str(), s.as_os_str()]);
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let first = out.lines().nth(2).unwrap();
    assert!(
        first.starts_with("cdf1.00") && first.contains("regression"),
        "{out}"
    );
    let r = wb(&[
        "compare".as_ref(),
        b.as_os_str(),
        s.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let records: Vec<serde_json::Value> = serde_json::from_slice(&r.stdout).unwrap();
    let rec = records.iter().find(|r| r["metric"] == "cdf1.00").unwrap();
    assert_eq!(rec["verdict"], "regression");
    assert!(
        (rec["delta_pct"].as_f64().unwrap() - 60.0).abs() < 1.0,
        "{rec}"
    );
    let r = wb(&[
        "compare".as_ref(),
        b.as_os_str(),
        s.as_os_str(),
        "--fail-on-regression".as_ref(),
    ]);
    assert_eq!(r.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&r.stderr).contains("regression: cdf1.00 in slow"));
    // The baseline against itself: no regression, the gate passes.
    let r = wb(&[
        "compare".as_ref(),
        b.as_os_str(),
        b.as_os_str(),
        "--fail-on-regression".as_ref(),
        "--format".as_ref(),
        "md".as_ref(),
    ]);
    assert!(r.status.success());
    assert!(!String::from_utf8_lossy(&r.stdout).contains("**regression**"));
}
