//! The run report of real analyses, rendered and opened in a real headless Chromium (Debian's
//! `chromium`, installed by `.ci/run`): every section there, every chart drawn with data, every
//! metric linked to its dictionary entry with hover help, nothing fetched from elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use wb_analyse::analysis::{Options, analyse, write};
use wb_analyse::inventory::{HostLogs, group_by_host};
use wb_analyse::synth;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for host in std::fs::read_dir(dir).unwrap() {
        for f in std::fs::read_dir(host.unwrap().path()).unwrap() {
            v.push(f.unwrap().path());
        }
    }
    v
}

/// A six-node cluster's logs (known answers), its genesis, and their analysis in `<dir>/analysis`.
fn cluster_analysis() -> tempfile::TempDir {
    analysis_of(3, 6)
}

/// A cluster of `hosts` nodes from `seed`, analysed into `<dir>/analysis`.
fn analysis_of(seed: u64, hosts: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = synth::Options {
        hosts,
        length: synth::Length::Slots(300),
        seed,
        active_slot_coeff: 0.2,
        ..synth::Options::default()
    };
    synth::generate(&o, &dir.path().join("logs"), 2).unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(
        &genesis,
        format!(
            r#"{{"systemStart":"{}","slotLength":1,"epochLength":100,"securityParam":5,"activeSlotsCoeff":0.2}}"#,
            wb_trace::time::machine_time(o.start)
        ),
    )
    .unwrap();
    let opts = Options {
        genesis: Some(genesis),
        threads: 2,
        ..Options::default()
    };
    let out = dir.path().join("analysis");
    let a = analyse(
        &group_by_host(&files_under(&dir.path().join("logs"))),
        &opts,
        &out,
    )
    .unwrap();
    write(&a, &out).unwrap();
    dir
}

fn chromium(args: &[&str], page: &Path) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--timeout=4000",
        ])
        .args(args)
        // Console messages go to stderr, where the tests look for them.
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect(
            "Debian's chromium must be installed (apt-get install -y chromium; .ci/run does it)",
        )
}

/// Where screenshots of what the tests rendered are kept (`target/test-artifacts/`).
fn artifacts() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_clusters_run_report_opens_in_chromium_with_every_section_chart_and_entry() {
    let dir = cluster_analysis();
    let a = wb_report::Analysis::read(dir.path()).unwrap();
    let page = wb_report::run_report(&a);
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();

    // Self-contained: nothing to fetch.
    for outside in ["src=\"http", "href=\"http", "<script src", "<link "] {
        assert!(
            !page.contains(outside),
            "the page fetches something: {outside}"
        );
    }
    // Every number of a metric has hover help and its metric is in the dictionary appendix.
    let ids: Vec<&str> = page
        .split("data-metric=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(ids.len() > 100, "{}", ids.len());
    for id in &ids {
        assert!(wb_analyse::field::lookup(id).is_some(), "{id}");
        assert!(
            page.contains(&format!("id=\"dict-{id}\"")),
            "{id} has no entry"
        );
    }
    for f in wb_analyse::field::all() {
        assert!(page.contains(&format!("id=\"dict-{}\"", f.id)), "{}", f.id);
    }

    // Chromium parses the page, logs nothing to its console, and keeps every section and every
    // drawn line.
    let opened = chromium(&["--dump-dom"], &file);
    let console = String::from_utf8_lossy(&opened.stderr);
    assert!(!console.contains("CONSOLE"), "console messages: {console}");
    let dom = String::from_utf8(opened.stdout).unwrap();
    for section in [
        "manifest",
        "health",
        "resources",
        "forging",
        "peers",
        "adoption",
        "dictionary",
    ] {
        assert!(
            dom.contains(&format!("<section id=\"{section}\"")),
            "{section} missing in Chromium's DOM"
        );
    }
    let drawn = |s: &str| s.matches("class=\"series\"").count();
    assert_eq!(drawn(&dom), drawn(&page));
    // CPU per host (6); over the run, CPU, RSS, network and disk reads and writes per host
    // (6 × 6) and block size and gap (2); forging (12), peers (7), adoption (8): every line with
    // data.
    assert_eq!(drawn(&page), 6 + 6 * 6 + 2 + 12 + 7 + 8);
    assert!(!dom.contains("no values to draw"), "a chart without data");
    assert!(
        dom.contains("title=\"Kernel-reported CPU process usage"),
        "hover help lost"
    );

    let shot = artifacts().join("run-report.png");
    let out = chromium(
        &[
            "--window-size=1200,2400",
            &format!("--screenshot={}", shot.display()),
        ],
        &file,
    );
    assert!(
        out.status.success() && shot.exists(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_relays_partial_logs_get_the_sections_they_have_data_for_and_say_what_they_lack() {
    // A real mainnet relay's lines (legacy JSON, a slot battle), no genesis.
    let dir = tempfile::tempdir().unwrap();
    let log = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/real-logs/mainnet-relay-legacy-json.jsonl");
    let out = dir.path().join("analysis");
    let hosts = [HostLogs {
        host: "mainnetf".into(),
        files: vec![log],
    }];
    let a = analyse(&hosts, &Options::default(), &out).unwrap();
    write(&a, &out).unwrap();
    let page = wb_report::run_report(&wb_report::Analysis::read(&out).unwrap());
    assert!(page.contains("Run report: logs of 1 hosts"));
    assert!(page.contains("slot timing (genesis)</td><td>none"));
    assert!(
        page.contains("missing: cdfForgerStart"),
        "what is missing is said"
    );
    assert!(page.contains("No per-slot machine figures"));
    assert!(page.contains("No per-slot table (it needs slot timing)"));
    // One lost block, the battle's.
    assert!(page.contains("<div class=\"v\">1</div><div class=\"k\">blocks lost in forks</div>"));
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();
    let dom = String::from_utf8(chromium(&["--dump-dom"], &file).stdout).unwrap();
    assert!(dom.contains("<section id=\"adoption\""));
}

#[test]
fn a_directory_that_is_not_an_analysis_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let e = wb_report::Analysis::read(dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("logs.json") && e.contains("wb analyse"), "{e}");
}

#[test]
fn a_three_run_comparison_opens_in_chromium_with_deltas_verdicts_and_overlaid_runs() {
    let dirs: Vec<tempfile::TempDir> = [3, 4, 5].map(|seed| analysis_of(seed, 6)).into();
    let runs =
        wb_report::compare::read_runs(&dirs.iter().map(|d| d.path()).collect::<Vec<_>>()).unwrap();
    let t = wb_report::Thresholds::builtin();
    let page = wb_report::comparison_report(&runs, &t, false).unwrap();
    // Every compared figure has a verdict against its threshold, and the two runs each have one.
    let verdicts: Vec<&str> = page
        .split("data-verdict=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(verdicts.len() > 60, "{}", verdicts.len());
    assert!(
        verdicts
            .iter()
            .all(|v| ["same", "better", "worse", "changed"].contains(v))
    );
    // Different seeds: some figures move beyond noise, most do not.
    assert!(verdicts.contains(&"same") && verdicts.iter().any(|v| *v != "same"));
    assert!(page.contains("(+") || page.contains("(-"), "Δ% shown");
    // The per-block metrics are tested, each compared run with its verdict.
    assert!(page.contains("<section id=\"verdicts\""));
    assert!(
        page.matches("data-stat=\"").count() >= 2 * 20,
        "forger phases and adoption, two runs"
    );
    let file = dirs[0].path().join("compare.html");
    std::fs::write(&file, &page).unwrap();
    let opened = chromium(&["--dump-dom"], &file);
    let console = String::from_utf8_lossy(&opened.stderr);
    assert!(!console.contains("CONSOLE"), "console messages: {console}");
    let dom = String::from_utf8(opened.stdout).unwrap();
    // Seven overlaid charts, each with the three runs.
    assert_eq!(dom.matches("class=\"series\"").count(), 7 * 3);
    assert!(!dom.contains("no values to draw"));
    let shot = artifacts().join("comparison-report.png");
    let out = chromium(
        &[
            "--window-size=1200,2400",
            &format!("--screenshot={}", shot.display()),
        ],
        &file,
    );
    assert!(out.status.success() && shot.exists());
}

#[test]
fn runs_of_another_cluster_size_are_refused_by_what_differs_unless_forced() {
    let dirs = [analysis_of(3, 6), analysis_of(3, 4)];
    let runs = wb_report::compare::read_runs(&[dirs[0].path(), dirs[1].path()]).unwrap();
    let t = wb_report::Thresholds::builtin();
    let e = wb_report::comparison_report(&runs, &t, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cluster size (hosts)") && e.contains("has 6") && e.contains("has 4"),
        "{e}"
    );
    let page = wb_report::comparison_report(&runs, &t, true).unwrap();
    assert!(page.contains("compared although they differ"));
}

#[test]
fn two_real_log_analyses_compare() {
    // The two nodes of a real Leios demo (captured stdout, no genesis): no slot timing, so the
    // adoption charts are empty, but what they have compares.
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, d) in dirs.iter().enumerate() {
        let log = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
            "../../tests/fixtures/real-logs/leios-demo-node-{i}-stdout.log"
        ));
        let out = d.path().join("analysis");
        let a = analyse(
            &[HostLogs {
                host: "pamperito-III".into(),
                files: vec![log],
            }],
            &Options::default(),
            &out,
        )
        .unwrap();
        write(&a, &out).unwrap();
    }
    let runs = wb_report::compare::read_runs(&[dirs[0].path(), dirs[1].path()]).unwrap();
    let page =
        wb_report::comparison_report(&runs, &wb_report::Thresholds::builtin(), false).unwrap();
    assert!(
        page.contains("data-metric=\"blocks_observed_only\""),
        "the block counts compare"
    );
    assert!(
        page.contains("no values to draw"),
        "the slot-relative charts say they are empty"
    );
}

#[test]
fn a_thresholds_file_is_checked_field_by_field() {
    let base = wb_report::Thresholds::builtin();
    let t = wb_report::Thresholds::read(r#"{"metrics": {"cdf0.50": 1}}"#, "t.json", Some(&base))
        .unwrap();
    let f = wb_analyse::field::lookup("cdf0.50").unwrap();
    assert_eq!(t.of(f), 1.0);
    assert_eq!(
        t.of(wb_analyse::field::lookup("CentiGC").unwrap()),
        5.0,
        "its group's"
    );
    for (text, field) in [
        (r#"{"metrics": {"cdfNope": 1}}"#, "metrics.cdfNope"),
        (r#"{"groups": {"Chain": "high"}}"#, "groups.Chain"),
        (r#"{"default": -1}"#, "default"),
    ] {
        let e = wb_report::Thresholds::read(text, "t.json", Some(&base))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.json: ") && e.contains(field), "{e}");
    }
}

#[test]
fn the_nodes_section_ranks_nodes_by_adoption_and_draws_the_runs_topology() {
    let dir = cluster_analysis();
    // The run's topology beside its analysis, as `wb run` writes it: six producers in a torus
    // over two regions.
    let regions = ["eu-central-1".to_owned(), "us-east-1".to_owned()];
    let t =
        wb_profile::topology::make(wb_profile::topology::Shape::Torus, 6, &regions, false).unwrap();
    std::fs::write(dir.path().join("topology.json"), t.to_json().to_string()).unwrap();
    // Its profile as run: ci-test with one field set on the command line.
    let p = wb_profile::catalog::load("ci-test", &[("generator.tps".into(), "20".into())], None)
        .unwrap();
    std::fs::write(
        dir.path().join("profile.json"),
        serde_json::to_string(&p).unwrap(),
    )
    .unwrap();
    let a = wb_report::Analysis::read(dir.path()).unwrap();
    let topo = wb_report::nodes::Topology::of(&a).expect("read beside the analysis");
    let nodes = wb_report::nodes::figures(&a, Some(&topo));
    assert_eq!(nodes.len(), 6);
    assert_eq!(
        nodes.iter().filter(|n| n.slow).count(),
        1,
        "the slowest tenth, at least one"
    );
    let slowest = nodes
        .iter()
        .max_by(|a, b| a.mean_delay.total_cmp(&b.mean_delay))
        .unwrap();
    assert!(slowest.slow);
    for n in &nodes {
        assert!(
            n.region.is_some() && n.mean_hops.is_some_and(|h| h >= 1.0),
            "{n:?}"
        );
        assert!(
            n.mean_delay > 0.0 && n.p90_delay >= n.mean_delay * 0.5,
            "{n:?}"
        );
    }
    let page = wb_report::run_report(&a);
    assert!(
        page.contains("profile · generator.tps</td><td>20.0 <span class=\"unit\">(built-in: 15.0)"),
        "what the run changed from its profile"
    );
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();
    let dom = String::from_utf8(chromium(&["--dump-dom"], &file).stdout).unwrap();
    assert_eq!(dom.matches("class=\"node\"").count(), 6, "every node drawn");
    assert_eq!(dom.matches("class=\"slow\"").count(), 1);
    assert!(dom.contains("class=\"link\""));
    let shot = artifacts().join("run-report-nodes.png");
    let part = dir.path().join("nodes.html");
    let (head, rest) = page.split_once("<body>").unwrap();
    let nodes_html = &rest[rest.find("<section id=\"nodes\"").unwrap()
        ..rest.find("<section id=\"dictionary\"").unwrap()];
    std::fs::write(&part, format!("{head}<body>{nodes_html}</body></html>")).unwrap();
    let out = chromium(
        &[
            "--window-size=1100,900",
            &format!("--screenshot={}", shot.display()),
        ],
        &part,
    );
    assert!(out.status.success() && shot.exists());
}

#[test]
fn a_real_shift_in_adoption_is_called_a_regression_with_its_evidence() {
    let base = analysis_of(3, 6);
    // The same run with every accepted block adopted by half the cluster 50 % later.
    let slow = tempfile::tempdir().unwrap();
    let copy = |from: &Path, to: &Path| {
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.path().is_file() {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    };
    let out = slow.path().join("analysis");
    std::fs::create_dir_all(out.join("machperf")).unwrap();
    copy(&base.path().join("analysis"), &out);
    copy(
        &base.path().join("analysis/machperf"),
        &out.join("machperf"),
    );
    let csv = std::fs::read_to_string(out.join("blocks.csv")).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == "cdf0.50").unwrap();
    let mut shifted = vec![head.join(",")];
    for l in lines {
        let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
        if let Ok(v) = cells[col].parse::<f64>() {
            cells[col] = format!("{:.6}", v * 1.5);
        }
        shifted.push(cells.join(","));
    }
    std::fs::write(out.join("blocks.csv"), shifted.join("\n") + "\n").unwrap();
    let runs = wb_report::compare::read_runs(&[base.path(), slow.path()]).unwrap();
    let tests = wb_report::compare::tested(&runs, &wb_report::Thresholds::builtin());
    let t = &tests[&("cdf0.50", 1)];
    assert_eq!(t.verdict, wb_report::stats::Verdict::Regression, "{t:?}");
    assert!(t.c.ci.0 > 0.0 && t.p_adjusted < 0.001);
    // Untouched metrics are not called.
    assert!(
        tests
            .iter()
            .filter(|(k, _)| k.0 != "cdf0.50")
            .all(|(_, t)| t.verdict != wb_report::stats::Verdict::Regression)
    );
    let page =
        wb_report::comparison_report(&runs, &wb_report::Thresholds::builtin(), false).unwrap();
    assert!(page.contains("data-called=\"cdf0.50\""), "in the headline");
}

#[test]
fn a_trend_opens_in_chromium_with_every_run_marked_by_its_verdict() {
    use wb_report::stats::Verdict;
    use wb_report::trend::{Called, TrendPoint, trend_page};
    let f = wb_analyse::field::lookup("cdf0.50").unwrap();
    let called = |verdict, delta_pct| {
        Some(Called {
            verdict,
            delta_pct,
            p_holm: 0.001,
            mde_pct: 14.0,
        })
    };
    let points: Vec<TrendPoint> = [
        (0.21, None),
        (0.22, called(Verdict::NoChange, 1.0)),
        (0.35, called(Verdict::Regression, 60.0)),
        (0.20, called(Verdict::Improvement, -40.0)),
        (0.21, called(Verdict::Inconclusive, 4.0)),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (value, verdict))| TrendPoint {
        run: format!("2026-12-0{}-ci-test-run{i}", i + 1),
        date: format!("2026-12-0{}T10:00:00Z", i + 1),
        version: format!("0.1.0+abc{i}"),
        value,
        verdict,
    })
    .collect();
    let page = trend_page(f, "ci-test", "runs/results.sqlite", &points);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trend.html");
    std::fs::write(&file, &page).unwrap();
    let opened = chromium(&["--dump-dom"], &file);
    let console = String::from_utf8_lossy(&opened.stderr);
    assert!(!console.contains("CONSOLE"), "console messages: {console}");
    let dom = String::from_utf8(opened.stdout).unwrap();
    for class in [
        "untested",
        "nochange",
        "regression",
        "improvement",
        "inconclusive",
    ] {
        assert_eq!(
            dom.matches(&format!("class=\"pt {class}\"")).count(),
            1,
            "{class}"
        );
    }
    assert!(dom.contains("regression (+60.0 %, p 0.0010 after Holm, MDE 14 %)"));
    assert_eq!(dom.matches("<tr data-run=").count(), 5);
    assert!(
        dom.contains("210.00<span class=\"unit\">ms</span>"),
        "values in their unit"
    );
    let shot = artifacts().join("trend.png");
    let out = chromium(
        &[
            "--window-size=1000,900",
            &format!("--screenshot={}", shot.display()),
        ],
        &file,
    );
    assert!(out.status.success() && shot.exists());
}

/// A series of runs under `root`: each run a copy of a cluster analysis from `seeds`, its
/// per-block 0.50-adoption times scaled by `scales`, and the `series.json` `wb run --repeat`
/// writes.
fn series_of(root: &Path, name: &str, seeds: &[u64], scales: &[f64]) -> PathBuf {
    let mut tags = Vec::new();
    for (i, (&seed, &scale)) in seeds.iter().zip(scales).enumerate() {
        let src = analysis_of(seed, 6);
        let tag = format!("{name}-{}", i + 1);
        let out = root.join(&tag).join("analysis");
        std::fs::create_dir_all(out.join("machperf")).unwrap();
        for sub in ["", "machperf"] {
            for e in std::fs::read_dir(src.path().join("analysis").join(sub)).unwrap() {
                let e = e.unwrap();
                if e.path().is_file() {
                    std::fs::copy(e.path(), out.join(sub).join(e.file_name())).unwrap();
                }
            }
        }
        let csv = std::fs::read_to_string(out.join("blocks.csv")).unwrap();
        let mut lines = csv.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = head.iter().position(|h| *h == "cdf0.50").unwrap();
        let mut scaled = vec![head.join(",")];
        for l in lines {
            let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
            if let Ok(v) = cells[col].parse::<f64>() {
                cells[col] = format!("{:.6}", v * scale);
            }
            scaled.push(cells.join(","));
        }
        std::fs::write(out.join("blocks.csv"), scaled.join("\n") + "\n").unwrap();
        tags.push(tag);
    }
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("series.json"),
        serde_json::json!({"series": name, "profile": "ci-test", "seeds": "fresh", "runs": tags})
            .to_string(),
    )
    .unwrap();
    dir
}

#[test]
fn between_series_run_to_run_variation_is_the_noise_and_the_report_says_so() {
    use wb_report::compare::{Model, tested};
    use wb_report::stats::Verdict;
    let root = tempfile::tempdir().unwrap();
    let t = wb_report::Thresholds::builtin();
    // Runs that vary ±20 % from run to run, and a series 20 % slower on average.
    let base = series_of(root.path(), "base", &[3, 4, 5], &[0.8, 1.0, 1.2]);
    let other = series_of(root.path(), "other", &[6, 7, 8], &[1.0, 1.2, 1.4]);
    let runs = wb_report::compare::read_runs(&[&base, &other]).unwrap();
    assert_eq!(runs[0].series, ["base-1", "base-2", "base-3"]);
    assert_eq!(runs[0].run_figures["cdf0.50"].len(), 3);
    let tests = tested(&runs, &t);
    let c = &tests[&("cdf0.50", 1)];
    assert_eq!(c.model, Model::Runs);
    assert_ne!(
        c.verdict,
        Verdict::Regression,
        "inside run-to-run noise: {c:?}"
    );
    assert_eq!(c.c.n, (3, 3));
    // One run of each, compared by their blocks, calls the same 40 % step a regression: the
    // within-run noise is far smaller than the run-to-run one.
    let single =
        wb_report::compare::read_runs(&[root.path().join("base-2"), root.path().join("other-3")])
            .unwrap();
    let s = &tested(&single, &t)[&("cdf0.50", 1)];
    assert_eq!(
        (s.model, s.verdict),
        (Model::Blocks, Verdict::Regression),
        "{s:?}"
    );
    // A shift well beyond the run-to-run spread is a regression between series too.
    let steady = series_of(root.path(), "steady", &[3, 4, 5], &[1.0, 1.02, 0.98]);
    let slow = series_of(root.path(), "slow", &[6, 7, 8], &[1.5, 1.52, 1.48]);
    let runs = wb_report::compare::read_runs(&[&steady, &slow]).unwrap();
    let c = &tested(&runs, &t)[&("cdf0.50", 1)];
    assert_eq!(
        (c.model, c.verdict),
        (Model::Runs, Verdict::Regression),
        "{c:?}"
    );
    let (text, regressed) = wb_report::compare::verdicts(&runs, &t, false, "text").unwrap();
    assert!(text.contains("noise model: runs"), "{text}");
    assert!(
        regressed.contains(&"cdf0.50 in slow".to_owned()),
        "{regressed:?}"
    );
    let page = wb_report::comparison_report(&runs, &t, false).unwrap();
    assert!(page.contains("data-model=\"runs\""));
    assert!(
        page.contains("data-series=\"2\""),
        "the page says its figures are first runs'"
    );
}

#[test]
fn cpu_is_tested_over_slot_windows_and_a_real_rise_is_called() {
    use wb_report::stats::Verdict;
    let base = analysis_of(3, 6);
    let hot = analysis_of(3, 6);
    // The same run with every node's CPU 50 % higher.
    let path = hot.path().join("analysis/slots.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == "CPU%").unwrap();
    let mut out = vec![head.join(",")];
    for l in lines {
        let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
        if let Ok(v) = cells[col].parse::<f64>() {
            cells[col] = format!("{:.3}", v * 1.5);
        }
        out.push(cells.join(","));
    }
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    let runs = wb_report::compare::read_runs(&[base.path(), hot.path()]).unwrap();
    // 6 hosts × 300 slots in windows of 10.
    let n = runs[0].slot_samples["CentiCpu"].len();
    assert!((170..=181).contains(&n), "{n}");
    let tests = wb_report::compare::tested(&runs, &wb_report::Thresholds::builtin());
    let cpu = &tests[&("CentiCpu", 1)];
    assert_eq!(cpu.verdict, Verdict::Regression, "{cpu:?}");
    assert_eq!(cpu.c.n, (n, n));
    // RSS untouched: not called.
    let rss = &tests[&("RSS", 1)];
    assert!(
        !matches!(rss.verdict, Verdict::Regression | Verdict::Improvement),
        "{rss:?}"
    );
    // Against itself, CPU is no change.
    let same = wb_report::compare::read_runs(&[base.path(), base.path()]).unwrap();
    let t = &wb_report::compare::tested(&same, &wb_report::Thresholds::builtin())[&("CentiCpu", 1)];
    assert_eq!(t.verdict, Verdict::NoChange, "{t:?}");
}
