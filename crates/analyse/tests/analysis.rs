//! The whole analysis on synthetic cluster logs whose answers are known by construction: block
//! propagation against the generator's adoption times, the per-slot and per-block tables, the
//! cluster's machines, the summary, genesis inference, and several runs combined (variance).

use std::path::{Path, PathBuf};

use wb_analyse::analysis::{Analysis, Options, analyse, write};
use wb_analyse::inventory::group_by_host;
use wb_analyse::synth::{self, Length, Truth};

const SLOTS: u64 = 300;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for host in std::fs::read_dir(dir).unwrap() {
        let host = host.unwrap().path();
        if host.is_dir() {
            for f in std::fs::read_dir(host).unwrap() {
                v.push(f.unwrap().path());
            }
        }
    }
    v
}

fn synth_opts(seed: u64) -> synth::Options {
    synth::Options {
        hosts: 6,
        length: Length::Slots(SLOTS),
        seed,
        rotate: 2,
        active_slot_coeff: 0.2,
        ..synth::Options::default()
    }
}

/// A cluster's logs, a genesis file for them, and the analysis written into `<dir>/analysis`.
fn analysed(seed: u64, with_genesis: bool) -> (tempfile::TempDir, Truth, Analysis) {
    analysed_with(seed, with_genesis, &[])
}

fn analysed_with(
    seed: u64,
    with_genesis: bool,
    filter_exprs: &[&str],
) -> (tempfile::TempDir, Truth, Analysis) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let o = synth_opts(seed);
    let truth = synth::generate(&o, &logs, 2).unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(
        &genesis,
        format!(
            r#"{{"systemStart":"{}","slotLength":{},"epochLength":100,"securityParam":5,
                "activeSlotsCoeff":0.2,"protocolParams":{{"maxBlockBodySize":65536}}}}"#,
            wb_trace::time::machine_time(o.start),
            o.slot_ms as f64 / 1000.0
        ),
    )
    .unwrap();
    let opts = Options {
        genesis: with_genesis.then_some(genesis),
        filter_exprs: filter_exprs.iter().map(|e| e.to_string()).collect(),
        threads: 2,
        ..Options::default()
    };
    let out = dir.path().join("analysis");
    let hosts = group_by_host(&files_under(&logs));
    let a = analyse(&hosts, &opts, &out).unwrap();
    write(&a, &out).unwrap();
    (dir, truth, a)
}

#[test]
fn block_propagation_and_tables_match_the_generated_cluster() {
    let (dir, truth, a) = analysed(11, true);
    let o = synth_opts(11);
    let bp = &a.blockprop;
    assert_eq!(bp.blocks, truth.main.len());
    assert_eq!(a.chain.forks.len(), truth.forks.len());
    assert!(truth.main.len() > 20, "{}", truth.main.len());
    assert_eq!(bp.cluster_size, 6);
    // Every accepted block's time to adoption by the whole cluster is the latest adoption the
    // generator wrote (the forger adopts its own block first), since its slot's start.
    for (row, t) in a.blocks.iter().zip(&truth.main) {
        assert_eq!(row.hash, t.hash);
        assert_eq!(row.forger.as_deref(), Some(t.forger.as_str()));
        if t.adopted.len() == 5 {
            let slot_start = o.start + t.slot * o.slot_ms * 1_000_000;
            let last = *t.adopted.values().max().unwrap();
            let want = (last - slot_start) as f64 / 1e9;
            let got = row.propagation[7].expect("adopted by all");
            assert!(
                (got - want).abs() < 1e-9,
                "block {}: {got} vs {want}",
                t.block_no
            );
        }
    }
    // Nothing the generator wrote is missing: forger phases and adoptions all measured.
    for id in [
        "cdfForgerForge",
        "cdfForgerAdoption",
        "cdf0.50",
        "cdfPeerAdoption",
    ] {
        assert_eq!(bp.missing.get(id), None, "{id}: {:?}", bp.missing);
    }
    assert_eq!(bp.cdfs["cdf1.00"].size, bp.accepted);

    // Per-block and per-slot tables.
    let out = dir.path().join("analysis");
    let blocks = std::fs::read_to_string(out.join("blocks.csv")).unwrap();
    assert_eq!(blocks.lines().count(), truth.main.len() + 1);
    let slots = std::fs::read_to_string(out.join("slots.csv")).unwrap();
    for h in &truth.hosts {
        let rows = slots
            .lines()
            .filter(|l| l.starts_with(&format!("{},", h.host)))
            .count() as u64;
        assert_eq!(rows, h.leadership_checks, "{}", h.host);
    }

    // Machines: every node in the cluster's performance; one start per slot.
    assert_eq!(a.clusterperf.hosts.len(), 6);
    let starts = &a.clusterperf.cdfs["cdfStarts"];
    assert_eq!(starts.range, (1.0, 1.0));
    assert!(a.clusterperf.cdfs["CentiCpu"].size > 0);

    // The one-screen text: every host, the chain, propagation in ms, machines, timings.
    let text = wb_analyse::analysis::render(&a);
    assert_eq!(text.lines().filter(|l| l.starts_with("node-")).count(), 6);
    assert!(
        text.contains(&format!(
            "chain: {} blocks on the main chain",
            truth.main.len()
        )),
        "{text}"
    );
    assert!(
        text.contains("propagation (since slot start") && text.contains(" ms"),
        "{text}"
    );
    assert!(
        text.contains("machines (6 hosts") && text.contains("took genesis"),
        "{text}"
    );

    // The summary.
    let s = &a.summary;
    assert_eq!(s.hosts, 6);
    assert_eq!(
        s.log_objects_total,
        truth.hosts.iter().map(|h| h.lines).sum::<u64>()
    );
    assert_eq!(s.blocks_rejected, 1, "the tip");
    for f in [
        "summary.json",
        "blockprop.json",
        "clusterperf.json",
        "dictionary.json",
        "cdf/cdf0.50.cdf",
        "cdf/CentiCpu.cdf",
        "machperf/node-0.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

#[test]
fn without_a_genesis_the_slot_timing_is_inferred_and_the_answers_hold() {
    let (_dir, truth, a) = analysed(12, false);
    let o = synth_opts(12);
    assert!(matches!(
        a.genesis.as_ref().unwrap().source,
        wb_analyse::genesis::GenesisSource::Inferred { .. }
    ));
    assert_eq!(
        a.genesis.as_ref().unwrap().slot_length,
        o.slot_ms * 1_000_000
    );
    // The system start is the least-delayed check: at or just after the true start.
    let off = a.genesis.as_ref().unwrap().system_start as i64 - o.start as i64;
    assert!((0..50_000_000).contains(&off), "{off} ns");
    assert_eq!(a.blockprop.blocks, truth.main.len());
    assert_eq!(a.genesis.as_ref().unwrap().epoch_length, None);
}

#[test]
fn runs_combine_into_a_variance_of_their_distributions() {
    let runs: Vec<(tempfile::TempDir, Truth, Analysis)> =
        [21, 22].into_iter().map(|s| analysed(s, true)).collect();
    let results: Vec<wb_analyse::variance::RunResults> = runs
        .iter()
        .enumerate()
        .map(|(i, (dir, _, _))| {
            wb_analyse::variance::RunResults::read(&dir.path().join("analysis"), &format!("r{i}"))
                .unwrap()
        })
        .collect();
    let v = wb_analyse::variance::combine_runs(&results);
    assert_eq!(v.runs, ["r0", "r1"]);
    // Block propagation over the runs: every block of both.
    let sizes: usize = runs
        .iter()
        .map(|r| r.2.blockprop.cdfs["cdf0.50"].size)
        .sum();
    assert_eq!(v.blockprop["cdf0.50"].size, sizes);
    // Machines over every host of both runs.
    assert_eq!(v.clusterperf["cdfStarts"].size, 2 * 6 * SLOTS as usize);
    assert_eq!(v.summary["sumHosts"].size, 2);
    assert_eq!(v.summary["sumHosts"].range, (6.0, 6.0));
    let out = tempfile::tempdir().unwrap();
    v.write(out.path()).unwrap();
    let cdf = std::fs::read_to_string(out.path().join("cdf/cdf0.50.cdf")).unwrap();
    assert_eq!(cdf.lines().count(), 29);
    assert_eq!(cdf.lines().next().unwrap().split(' ').count(), 6);
}

#[test]
fn slot_filters_select_both_blocks_and_machine_slots() {
    let from = 100u64;
    let expr = format!(r#"[{{"tag":"CSlot","contents":{{"tag":"SlotGEq","contents":{from}}}}}]"#);
    let (_dir, truth, a) = analysed_with(13, true, &[&expr]);
    // Every block of a slot before 100 is rejected by the filter (and the tip by its rule).
    let early = truth.main.iter().filter(|b| b.slot < from).count() as u64;
    assert!(early > 0);
    assert_eq!(a.blockprop.rejections.get("inline-expr"), Some(&early));
    for r in &a.blocks {
        let by_filter = r.rejected_by.iter().any(|x| x == "inline-expr");
        assert_eq!(
            by_filter,
            r.slot < from,
            "block {} in slot {}",
            r.block_no,
            r.slot
        );
    }
    // Machines: only slots from 100 on, every host.
    assert_eq!(
        a.clusterperf.cdfs["cdfStarts"].size,
        6 * (SLOTS - from) as usize
    );
    assert_eq!(a.summary.filters, ["inline-expr"]);
}

/// The metric ids an analysis directory's outputs carry: block propagation's CDFs, every
/// machine's and the cluster's distributions, the summary's figures.
fn metrics_in_outputs(out: &Path) -> std::collections::BTreeSet<String> {
    let read = |p: PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    };
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .into_iter()
            .flat_map(|o| o.keys().cloned())
            .collect()
    };
    let mut ids = std::collections::BTreeSet::new();
    ids.extend(keys(&read(out.join("blockprop.json"))["cdfs"]));
    // What describes a distribution rather than being a metric.
    let not_metrics = ["host", "hosts", "slots"];
    let mut perf = vec![read(out.join("clusterperf.json"))];
    for f in std::fs::read_dir(out.join("machperf")).unwrap() {
        perf.push(read(f.unwrap().path()));
    }
    for p in &perf {
        ids.extend(
            keys(p)
                .into_iter()
                .filter(|k| !not_metrics.contains(&k.as_str())),
        );
    }
    // The summary's figures; its other members say what was analysed, not how it went.
    let summary = read(out.join("summary.json"));
    let descriptive = [
        "genesis",
        "meta",
        "missing",
        "warnings",
        "wb_version",
        "generator",
        "sumAnalysisTime",
        "sumGenesisSpec",
        "sumWorkload",
    ];
    ids.extend(
        keys(&summary)
            .into_iter()
            .filter(|k| !descriptive.contains(&k.as_str())),
    );
    ids.extend(keys(&summary["generator"]));
    ids
}

#[test]
fn every_metric_computed_has_one_dictionary_entry_and_every_entry_is_computed() {
    // A cluster with a genesis (epochs, so the epoch-bound CPU spans exist) and a generator.
    let (dir, _, _) = analysed(5, true);
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("generator")).unwrap();
    std::fs::write(
        logs.join("generator/generator.json"),
        r#"{"at":"2026-01-01T00:04:00Z","ns":"Benchmark.BenchTxSubSummary","data":{"kind":"TraceBenchTxSubSummary","summary":{"ssElapsed":240,"ssFailures":[],"ssThreadwiseTps":[2.5],"ssTxSent":600}},"sev":"Info","thread":"1","host":"generator"}"#,
    )
    .unwrap();
    let out = dir.path().join("with-generator");
    let opts = Options {
        genesis: Some(dir.path().join("genesis.json")),
        threads: 2,
        ..Options::default()
    };
    let a = analyse(&group_by_host(&files_under(&logs)), &opts, &out).unwrap();
    write(&a, &out).unwrap();
    let computed = metrics_in_outputs(&out);
    let entries: Vec<&str> = wb_analyse::field::all().map(|f| f.id).collect();
    let unique: std::collections::BTreeSet<&str> = entries.iter().copied().collect();
    assert_eq!(
        unique.len(),
        entries.len(),
        "an id is in the dictionary twice"
    );
    let without_entry: Vec<&String> = computed
        .iter()
        .filter(|id| !unique.contains(id.as_str()))
        .collect();
    assert!(
        without_entry.is_empty(),
        "computed, not in the dictionary: {without_entry:?}"
    );
    let not_computed: Vec<&&str> = unique
        .iter()
        .filter(|id| !computed.contains(**id))
        .collect();
    assert!(
        not_computed.is_empty(),
        "in the dictionary, computed by nothing: {not_computed:?}"
    );
}

#[test]
fn every_dictionary_entry_is_complete_and_comes_from_messages_the_analysis_reads() {
    for f in wb_analyse::field::all() {
        assert!(
            !f.short.is_empty() && !f.description.is_empty() && !f.group.is_empty(),
            "{}",
            f.id
        );
        for ns in f.from {
            assert!(
                wb_analyse::names::lookup(ns, None).is_some(),
                "{}: {ns} is not a message the analysis reads",
                f.id
            );
        }
    }
}

#[test]
fn the_dictionary_in_docs_is_the_one_the_analysis_has() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/DICTIONARY.md");
    let docs = std::fs::read_to_string(&path).unwrap();
    assert!(
        docs == wb_analyse::field::markdown(),
        "docs/DICTIONARY.md is stale: run `cargo run -- dictionary > docs/DICTIONARY.md`"
    );
}
