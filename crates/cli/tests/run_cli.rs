//! `wb run`'s lifecycle as processes: Ctrl-C stops every process and keeps the logs; a second
//! run is refused while one is alive; a killed node is reported by name; a broken profile is
//! refused before anything starts; the other scenarios (idle, fixed, tracer-only, chainsync)
//! reach their ends; list/show/stop/rm.

mod common;

use common::*;

fn sigint(pid: u32) {
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
}

#[test]
fn ctrl_c_stops_every_process_and_keeps_the_logs() {
    let s = Scratch::new();
    let mut wb = s.spawn(&["ci-test", "--set", "composition.n_pools=3"]);
    let run = s.started("generator");
    wait_for("blocks in node-0's log", 60, || {
        node_log(&run, "node-0").contains("AddedToCurrentChain")
    });
    let pids = pids(&run);
    assert_eq!(pids.len(), 5, "tracer, 3 nodes, generator: {pids:?}");
    assert!(pids.iter().all(|(_, p)| alive(*p)));

    // While it is alive, another run in the same place is refused before anything starts.
    let second = s.wb_run(&["idle"]).output().unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("is still running"), "{err}");
    assert_eq!(
        std::fs::read_dir(s.runs()).unwrap().count(),
        2,
        "only the live run and `current`"
    );

    sigint(wb.id());
    let status = wait_child(&mut wb, 60);
    assert_eq!(status.code(), Some(130), "{}", s.stderr());
    for (name, pid) in &pids {
        assert!(!alive(*pid), "{name} (pid {pid}) outlived the run");
        assert!(run.join(name).join("exit_code").is_file(), "{name}");
    }
    let meta = s.meta();
    assert_eq!(meta["meta"]["status"], "interrupted");
    assert!(!run.join("wb.pid").exists());
    let log = node_log(&run, "node-0");
    assert!(log.contains("Forge.Loop.StartLeadershipCheck"), "logs kept");
    assert!(s.stdout().contains("interrupted"), "{}", s.stdout());
    // Nodes were stopped politely: the tracer got their traces up to the end.
    assert_eq!(
        std::fs::read_to_string(run.join("node-1/exit_code"))
            .unwrap()
            .trim(),
        "0"
    );
}

#[test]
fn a_killed_node_is_reported_by_name() {
    let s = Scratch::new();
    let mut wb = s.spawn(&["idle", "--set", "composition.n_pools=3", "--quiet"]);
    let run = s.started("node-2");
    let pid: u32 = std::fs::read_to_string(run.join("node-2/pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    // SAFETY: plain syscall on a process of our run.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    let status = wait_child(&mut wb, 60);
    assert_eq!(status.code(), Some(1));
    let out = s.stdout();
    assert!(
        out.contains("node-2 ended unexpectedly (killed by signal 9)"),
        "{out}"
    );
    assert!(out.contains("last lines of its logs"), "{out}");
    // Whichever of its own logs has anything in it is quoted, under its path.
    for f in ["stderr", "stdout"] {
        let log = std::fs::read_to_string(run.join("node-2").join(f)).unwrap_or_default();
        if let Some(last) = log.lines().last() {
            assert!(out.contains(&format!("node-2/{f}")), "{f}: {out}");
            assert!(out.contains(last.trim()), "{f}'s last line: {out}");
        }
    }
    let meta = s.meta();
    assert_eq!(meta["meta"]["status"], "failed");
    assert_eq!(meta["meta"]["outcome"]["processes"]["node-2"]["signal"], 9);
    for (name, pid) in pids(&run) {
        assert!(!alive(pid), "{name} outlived the failed run");
    }
    assert_eq!(
        std::fs::read_to_string(run.join("node-2/exit_code"))
            .unwrap()
            .trim(),
        "signal 9"
    );
}

#[test]
fn a_broken_profile_is_refused_before_anything_starts() {
    let s = Scratch::new();
    for (args, field) in [
        (vec!["ci-test", "--set", "generator.tpz=3"], "generator.tpz"),
        (
            vec!["ci-test", "--set", "genesis.active_slots_coeff=2"],
            "genesis.active_slots_coeff",
        ),
        (vec!["no-such-profile"], "no such profile"),
    ] {
        let out = s.wb_run(&args).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(field) && err.contains("nothing was started"),
            "{err}"
        );
        assert!(
            !s.runs().exists(),
            "a refused profile created {}",
            s.runs().display()
        );
    }
    let out = s
        .wb_run(&["ci-test", "--backend", "nomad"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--backend nomad"));
}

#[test]
fn idle_and_fixed_runs_end_when_the_nodes_stop_at_the_slot() {
    for scenario in ["idle", "fixed"] {
        let s = Scratch::new();
        let out = s
            .wb_run(&[
                "idle",
                "--set",
                "composition.n_pools=2",
                "--set",
                "genesis.epoch_length=60",
                "--set",
                &format!("scenario={scenario}"),
                "--tag",
                "short",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(s.runs().join("short/meta.json").is_file());
        let meta = s.meta();
        assert_eq!(meta["meta"]["status"], "finished");
        let shutdown = meta["meta"]["profile_content"]["derived"]["shutdown_slot"]
            .as_u64()
            .unwrap();
        for node in ["node-0", "node-1"] {
            let n = &meta["meta"]["outcome"]["nodes"][node];
            // The node stopped by itself at the shutdown slot (not stopped by wb).
            assert_eq!(
                meta["meta"]["outcome"]["processes"][node]["stopped_by_wb"],
                false
            );
            assert!(n["last_slot"].as_u64().unwrap() + 1 >= shutdown - 1, "{n}");
            assert!(n["tip_block_no"].as_u64().is_some(), "{n}");
        }
        assert!(meta["meta"]["outcome"]["generator"].is_null());
    }
}

#[test]
fn tracer_only_and_chainsync_scenarios() {
    let s = Scratch::new();
    let out = s
        .wb_run(&["tracer-only", "--set", "genesis.epoch_length=25"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = s.current();
    assert_eq!(s.meta()["meta"]["status"], "finished");
    assert_eq!(
        std::fs::read_to_string(run.join("tracer/exit_code"))
            .unwrap()
            .trim(),
        "0"
    );
    assert!(!run.join("node-0").exists());

    let out = s
        .wb_run(&["chainsync", "--set", "genesis.epoch_length=200"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = s.meta();
    let c = &meta["meta"]["outcome"]["chainsync"];
    assert!(c["blocks"].as_u64().unwrap() >= 10, "{c}");
    assert!(c["blocks_per_s"].as_f64().unwrap() > 0.0, "{c}");
    // The fresh node has the whole chain: its tip is the producer's.
    let nodes = &meta["meta"]["outcome"]["nodes"];
    assert_eq!(
        nodes["explorer"]["tip_block_no"],
        nodes["node-0"]["tip_block_no"]
    );
    assert_eq!(nodes["explorer"]["forged"], 0);
    assert!(stdout.contains("blocks/s"), "{stdout}");

    // Two runs: list shows both, rm removes one and `current` moves back.
    let list = s.wb_run(&["list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert_eq!(list.lines().count(), 2, "{list}");
    let newest = list
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let oldest = list
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let rm = s.wb_run(&["rm", &newest]).output().unwrap();
    assert!(rm.status.success());
    assert_eq!(
        std::fs::read_link(s.runs().join("current"))
            .unwrap()
            .to_string_lossy(),
        oldest
    );
    let stop = s.wb_run(&["stop"]).output().unwrap();
    assert!(String::from_utf8_lossy(&stop.stdout).contains("is not running"));
}

#[test]
fn wb_run_stop_stops_a_live_run() {
    let s = Scratch::new();
    let mut wb = s.spawn(&["idle", "--set", "composition.n_pools=2", "--quiet"]);
    let run = s.started("node-1");
    let pids = pids(&run);
    let stop = s.wb_run(&["stop"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&stop.stdout).contains("stopped"),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    assert_eq!(wait_child(&mut wb, 30).code(), Some(130));
    for (name, pid) in pids {
        assert!(!alive(pid), "{name}");
    }
}

#[test]
fn a_repeated_run_is_kept_as_a_series_that_compares_by_its_runs() {
    let s = Scratch::new();
    let out = s
        .wb_run(&[
            "idle",
            "--set",
            "composition.n_pools=2",
            "--set",
            "genesis.epoch_length=80",
            "--set",
            "scenario=fixed",
            "--repeat",
            "2",
            "--seeds",
            "fresh",
            "--tag",
            "ser",
            "--quiet",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("series ser: run 2 of 2 (seed 1)"),
        "{stdout}"
    );
    let series: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.runs().join("ser/series.json")).unwrap())
            .unwrap();
    assert_eq!(series["runs"], serde_json::json!(["ser-1", "ser-2"]));
    assert_eq!(series["seeds"], "fresh");
    // Fresh seeds: different genesis keys for each run.
    let genesis = |t: &str| std::fs::read(s.runs().join(t).join("genesis/genesis.json")).unwrap();
    assert_ne!(genesis("ser-1"), genesis("ser-2"));
    assert!(
        s.runs().join("ser/variance").is_dir(),
        "combined by wb analyse variance"
    );
    assert!(stdout.contains("series ser: published"), "{stdout}");
    let wb = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wb"))
            .args(args)
            .env_remove("WB_DB")
            .output()
            .unwrap()
    };
    let runs = s.runs().display().to_string();
    let shown =
        String::from_utf8_lossy(&wb(&["results", "show", "ser-1", "--runs-dir", &runs]).stdout)
            .into_owned();
    assert!(shown.contains("series    ser"), "{shown}");
    // Series against series: the runs are the sample.
    let ser = s.runs().join("ser").display().to_string();
    let cmp = wb(&["compare", &ser, &ser, "--format", "json"]);
    assert!(
        cmp.status.success(),
        "{}",
        String::from_utf8_lossy(&cmp.stderr)
    );
    let records: Vec<serde_json::Value> = serde_json::from_slice(&cmp.stdout).unwrap();
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|r| r["model"] == "runs" && r["samples"] == serde_json::json!([2, 2]))
    );
    assert!(records.iter().all(|r| r["verdict"] != "regression"));
    // Recorded in the database with --publish.
    let cmp = wb(&["compare", &ser, &ser, "--publish", "--runs-dir", &runs]);
    let err = String::from_utf8_lossy(&cmp.stderr);
    assert!(cmp.status.success(), "{err}");
    assert!(
        err.contains(&format!("{} verdicts recorded in", records.len())),
        "{err}"
    );
}

#[test]
fn the_tracing_study_runs_three_variants_and_reports_their_costs_with_verdicts() {
    let s = Scratch::new();
    let study = |extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_wb"));
        c.args(["study", "tracing", "idle"])
            .args(extra)
            .arg("--runs-dir")
            .arg(s.runs())
            .arg("--cache-dir")
            .arg(s.dir.path().join("cache"))
            .env_remove("WB_DB");
        c.output().unwrap()
    };
    // A broken override is refused before anything starts.
    let bad = study(&["--set", "composition.n_pools=many"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nothing was started"));
    assert!(!s.runs().exists(), "nothing was started");
    let out = study(&[
        "--set",
        "composition.n_pools=2",
        "--set",
        "genesis.epoch_length=100",
        "--set",
        "scenario=fixed",
        "--tag",
        "st",
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for v in ["minimal", "full", "no-tracer"] {
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(s.runs().join(format!("st-{v}/meta.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["meta"]["status"], "finished", "{v}");
        let node = &meta["meta"]["profile_content"]["node"];
        match v {
            "minimal" => assert_eq!(node["tracing"], "minimal"),
            "full" => assert_eq!(
                (&node["tracing"], &node["tracer"]),
                (&"full".into(), &true.into())
            ),
            _ => assert_eq!(node["tracer"], false),
        }
    }
    assert!(
        s.runs().join("st-no-tracer/node-0/stdout").is_file(),
        "logs without a tracer"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.runs().join("st/study.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["runs"],
        serde_json::json!(["st-minimal", "st-full", "st-no-tracer"])
    );
    let cpu = json["costs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "CentiCpu")
        .unwrap();
    assert!(cpu["minimal"].as_f64().unwrap() > 0.0, "{cpu}");
    for v in ["full", "no_tracer"] {
        assert!(cpu[v]["verdict"].is_string(), "{cpu}");
        assert!(cpu[v]["mde_pct"].as_f64().is_some(), "{cpu}");
    }
    assert!(
        json["missed_leadership_checks"]["full"][1]
            .as_u64()
            .unwrap()
            >= 100
    );
    let md = std::fs::read_to_string(s.runs().join("st/study.md")).unwrap();
    assert!(md.contains("| Process CPU usage (`CentiCpu`, %) |"), "{md}");
    assert!(stdout.contains(&md), "the table is printed too");
    let page = std::fs::read_to_string(s.runs().join("st/study.html")).unwrap();
    assert!(page.contains("<section id=\"verdicts\""));
}
