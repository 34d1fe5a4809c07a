//! The project's main job as a test: `wb run ci-test` from nothing to a finished run directory
//! whose logs show blocks forged and adopted by every node, a generator summary with accepted
//! transactions, and exit code 0 for every process. (About two minutes.)

mod common;

use common::*;

#[test]
fn wb_run_ci_test_produces_a_complete_run_directory() {
    let s = Scratch::new();
    let out = s.wb_run(&["ci-test"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("): finished"), "{stdout}");
    assert!(stdout.contains("exit codes: all 8 processes 0"), "{stdout}");
    // Progress lines went by (plain ones: stderr is not a terminal here).
    assert!(stderr.contains("wb run: ✓ generator"), "{stderr}");

    let run = s.current();
    let meta = s.meta();
    let m = &meta["meta"];
    assert_eq!(m["profile"], "ci-test");
    assert_eq!(m["status"], "finished");
    assert!(m["tag"].as_str().unwrap().contains("-ci-test-"));
    for k in [
        "wb_version",
        "commit",
        "os",
        "cpu_model",
        "cpus",
        "memory_mib",
    ] {
        assert!(!m["manifest"][k].is_null(), "manifest.{k}");
    }
    assert!(m["timing"]["systemStart"].as_str().unwrap().ends_with('Z'));
    assert_eq!(m["profile_content"]["name"], "ci-test");
    for f in [
        "profile.json",
        "topology.json",
        "topology.dot",
        "genesis/genesis.json",
    ] {
        assert!(run.join(f).is_file(), "{f}");
    }
    assert!(!run.join("wb.pid").exists(), "the run is not marked alive");

    for i in 0..6 {
        let node = format!("node-{i}");
        assert_eq!(
            std::fs::read_to_string(run.join(&node).join("exit_code"))
                .unwrap()
                .trim(),
            "0",
            "{node}"
        );
        let log = node_log(&run, &node);
        let forged = log.matches("\"ns\":\"Forge.Loop.ForgedBlock\"").count();
        let adopted = log
            .matches("\"ns\":\"ChainDB.AddBlockEvent.AddedToCurrentChain\"")
            .count()
            + log
                .matches("\"ns\":\"ChainDB.AddBlockEvent.SwitchedToAFork\"")
                .count();
        assert!(forged >= 1, "{node} forged no block");
        assert!(adopted >= 20, "{node} adopted only {adopted} blocks");
        let stats = &m["outcome"]["nodes"][&node];
        assert!(
            stats["tip_block_no"].as_u64().unwrap() >= 19,
            "{node}: {stats}"
        );
    }
    for p in ["tracer", "generator"] {
        assert_eq!(
            std::fs::read_to_string(run.join(p).join("exit_code"))
                .unwrap()
                .trim(),
            "0",
            "{p}"
        );
    }
    let gen_out = std::fs::read_to_string(run.join("generator/stdout")).unwrap();
    let summary = gen_out
        .lines()
        .find(|l| l.contains("\"ns\":\"Benchmark.BenchTxSubSummary\""))
        .expect("generator summary");
    let v: serde_json::Value = serde_json::from_str(summary).unwrap();
    assert!(v["data"]["accepted"].as_u64().unwrap() > 1000, "{summary}");
    assert_eq!(v["data"]["rejected"], 0);
    // The generator's traces were forwarded too.
    assert!(run.join("tracer/logs/txgen").is_dir());

    // The run ends with its analysis: every host's logs accounted for.
    assert!(stdout.contains("0 unreadable"), "{stdout}");
    let logs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("analysis/logs.json")).unwrap())
            .unwrap();
    let hosts = logs["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 7, "6 nodes and the generator");
    for h in hosts {
        assert_eq!(h["bad"], 0, "{h}");
        if h["host"].as_str().unwrap().starts_with("node-") {
            assert!(h["adopted"].as_u64().unwrap() >= 20, "{h}");
            assert!(h["cpu_pct_mean"].as_f64().is_some(), "{h}");
        }
    }

    // The chain across hosts, and block propagation: every main-chain block adopted by the
    // whole cluster, every forger phase measured.
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(run.join("analysis").join(name)).unwrap())
            .unwrap()
    };
    let chain = json("chain.json");
    let blocks = chain["main"].as_array().unwrap().len();
    assert!(blocks >= 20, "{blocks}");
    let bp = json("blockprop.json");
    assert_eq!(bp["blocks"], blocks);
    assert_eq!(bp["cluster_size"], 6);
    let accepted = bp["accepted"].as_u64().unwrap();
    assert_eq!(accepted, blocks as u64 - 1, "all but the tip: {bp}");
    assert_eq!(
        bp["cdfs"]["cdf1.00"]["cdfSize"], accepted,
        "adopted by all 6"
    );
    for id in [
        "cdfForgerStart",
        "cdfForgerForge",
        "cdfForgerAdoption",
        "cdfForgerAnnounce",
    ] {
        assert_eq!(bp["cdfs"][id]["cdfSize"], accepted, "{id}");
    }
    assert!(bp["cdfs"]["cdfPeerAdoption"]["cdfSize"].as_u64().unwrap() >= accepted * 4);
    assert!(stdout.contains("chain: "), "{stdout}");
    let summary = json("summary.json");
    assert_eq!(summary["sumHosts"], 7);
    assert_eq!(summary["generator"]["requestedTps"], 15.0);
    assert!(summary["generator"]["achievedTps"].as_f64().unwrap() > 10.0);
    let csv = std::fs::read_to_string(run.join("analysis/blocks.csv")).unwrap();
    assert_eq!(csv.lines().count(), blocks + 1);
    assert!(run.join("analysis/cdf/cdf0.50.cdf").is_file());
    // Machine performance: the six nodes make the cluster (not the generator), every slot of
    // every node in the per-slot table, CPU and RSS known, GHC-only figures absent.
    let cp = json("clusterperf.json");
    assert_eq!(cp["hosts"].as_array().unwrap().len(), 6, "{}", cp["hosts"]);
    assert!(cp["CentiCpu"]["cdfSize"].as_u64().unwrap() > 6 * 400);
    assert!(cp["RSS"]["cdfAverageWeighted"].as_f64().unwrap() > 1.0);
    assert!(cp.get("CentiGC").is_none());
    assert!(run.join("analysis/machperf/node-0.json").is_file());
    let slots = std::fs::read_to_string(run.join("analysis/slots.csv")).unwrap();
    assert!(slots.lines().filter(|l| l.starts_with("node-3,")).count() > 400);
    assert!(run.join("analysis/cdf/CentiCpu.cdf").is_file());
    // The run report beside it, named after the run.
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(report.contains("<section id=\"adoption\""));
    assert!(report.contains("data-metric=\"cdf0.50\""));
    // How it ended: every process's exit and every node's missed slots, and the per-node view.
    assert!(report.contains("<h3>The run</h3>") && report.contains("exit 0"));
    assert!(report.contains("missed slots") && report.contains("<section id=\"nodes\""));
    assert!(report.contains("class=\"node\""), "the topology drawn");

    // `wb run list` and `show` see it.
    let list = s.wb_run(&["list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains(m["tag"].as_str().unwrap()) && list.contains("finished"),
        "{list}"
    );
    let show = s.wb_run(&["show"]).output().unwrap();
    assert!(String::from_utf8_lossy(&show.stdout).contains("ci-test): finished"));

    // Published to the runs directory's results database at the end; publishing it again
    // stores nothing new; `wb results` and `wb trend` read it back.
    assert!(stdout.contains("published: stored in "), "{stdout}");
    assert!(s.runs().join("results.sqlite").is_file());
    let tag = m["tag"].as_str().unwrap();
    let wb = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wb"))
            .args(args)
            .arg("--runs-dir")
            .arg(s.runs())
            .env_remove("WB_DB")
            .current_dir(s.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let again = wb(&["publish", "current"]);
    assert!(again.contains("already stored, unchanged"), "{again}");
    let list = wb(&["results", "list", "--profile", "ci-test"]);
    assert!(
        list.contains(tag) && list.contains("finished") && list.contains("1 run(s)"),
        "{list}"
    );
    let shown = wb(&["results", "show", tag]);
    assert!(
        shown.contains("cdf0.50") && shown.contains("CentiCpu"),
        "{shown}"
    );
    let trend = wb(&["trend", "cdf0.50", "--profile", "ci-test"]);
    assert!(trend.contains(tag), "{trend}");
    assert!(s.dir.path().join("trend-cdf0.50.html").is_file());
}
