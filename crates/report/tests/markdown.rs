//! Snapshot tests of the Markdown reports: a known cluster's run report and a three-run
//! comparison must render exactly as the committed snapshots (`tests/snapshots/`). After an
//! intended change: `WB_UPDATE_SNAPSHOTS=1 cargo test -p wb-report --test markdown`, then
//! read the diff before committing it.

use std::path::{Path, PathBuf};

use wb_analyse::analysis::{Options, analyse, write};
use wb_analyse::inventory::group_by_host;
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

/// A six-node cluster from `seed`, analysed into `<root>/cluster-<seed>/analysis` (the run's
/// name in the report is its directory's).
fn cluster(root: &Path, seed: u64) -> PathBuf {
    let dir = root.join(format!("cluster-{seed}"));
    let o = synth::Options {
        hosts: 6,
        length: synth::Length::Slots(300),
        seed,
        active_slot_coeff: 0.2,
        ..synth::Options::default()
    };
    synth::generate(&o, &dir.join("logs"), 2).unwrap();
    let genesis = dir.join("genesis.json");
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
    let out = dir.join("analysis");
    let a = analyse(&group_by_host(&files_under(&dir.join("logs"))), &opts, &out).unwrap();
    write(&a, &out).unwrap();
    dir
}

fn snapshot(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("WB_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == text,
        "{name} differs from its snapshot (WB_UPDATE_SNAPSHOTS=1 to accept):\n{text}"
    );
}

#[test]
fn the_run_report_renders_as_its_markdown_snapshot_with_its_charts() {
    let root = tempfile::tempdir().unwrap();
    let a = wb_report::Analysis::read(&cluster(root.path(), 3)).unwrap();
    let md = wb_report::markdown::run_markdown(&a, "run");
    snapshot("run-report.md", &md.text);
    let files: Vec<&str> = md.charts.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        files,
        ["run-forging.svg", "run-peers.svg", "run-adoption.svg"]
    );
    for (f, svg) in &md.charts {
        assert!(md.text.contains(&format!("]({f})")), "{f} is linked");
        assert!(
            svg.starts_with("<svg") && svg.contains("class=\"series\""),
            "{f}"
        );
    }
}

#[test]
fn a_three_run_comparison_renders_as_its_markdown_snapshot() {
    let root = tempfile::tempdir().unwrap();
    let runs: Vec<wb_report::Analysis> = [3, 4, 5]
        .map(|seed| wb_report::Analysis::read(&cluster(root.path(), seed)).unwrap())
        .into();
    let md = wb_report::markdown::comparison_markdown(
        &runs,
        &wb_report::Thresholds::builtin(),
        false,
        "cmp",
    )
    .unwrap();
    snapshot("comparison.md", &md.text);
    assert_eq!(md.charts.len(), 2);
}
