//! The analysis against every real log of `tests/fixtures/real-logs`: what it reads must agree
//! exactly with what `expected.sh` worked out with `jq` alone (`expected.json`), and no file
//! there may be left out of `expected.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wb_analyse::analysis::{Options, analyse};
use wb_analyse::inventory::HostLogs;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/real-logs")
}

/// One file's entry in `expected.json`.
#[derive(Debug, Deserialize)]
struct Entry {
    host: String,
    counts: Expected,
}

/// What `expected.sh` counted (see its header for the definitions).
#[derive(Debug, Deserialize)]
struct Expected {
    lines: u64,
    duplicates: u64,
    trace: u64,
    truncated: u64,
    unreadable: u64,
    dropped_by_node: u64,
    foreign_host_lines: u64,
    namespaces: BTreeMap<String, u64>,
    leadership_checks: u64,
    forged: u64,
    adopted: u64,
    resource_samples: u64,
    blocks: u64,
}

fn expected() -> BTreeMap<String, Entry> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_real_log_is_in_the_expected_counts_and_the_readme() {
    let expected = expected();
    let readme = std::fs::read_to_string(corpus_dir().join("README.md")).unwrap();
    let mut logs = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if ["README.md", "expected.sh", "expected.json"].contains(&name.as_str()) {
            continue;
        }
        logs += 1;
        assert!(
            expected.contains_key(&name),
            "{name} is not in expected.json: add it to expected.sh and run it"
        );
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} has no origin in README.md"
        );
    }
    assert_eq!(
        logs,
        expected.len(),
        "expected.json names files that are gone"
    );
}

#[test]
fn the_analysis_reads_every_real_log_as_jq_counts_it() {
    let mut disagreements = Vec::new();
    for (file, entry) in expected() {
        let out = tempfile::tempdir().unwrap();
        let hosts = [HostLogs {
            host: entry.host.clone(),
            files: vec![corpus_dir().join(&file)],
        }];
        let a = match analyse(&hosts, &Options::default(), out.path()) {
            Ok(a) => a,
            Err(e) => {
                disagreements.push(format!("{file}: the analysis failed: {e:#}"));
                continue;
            }
        };
        let h = &a.hosts[0];
        let c = &h.counts;
        let e = &entry.counts;
        let chain = &a.chain;
        let blocks = chain.main.len() as u64
            + chain.forks.len() as u64
            + chain.unchained.len() as u64
            + chain.unplaced_blocks;
        let pairs: [(&str, u64, u64); 13] = [
            ("lines", c.lines, e.lines),
            ("duplicates", c.duplicates, e.duplicates),
            ("trace lines (events + other)", c.events + c.other, e.trace),
            ("truncated", c.truncated, e.truncated),
            ("unreadable", c.bad, e.unreadable),
            ("dropped by the node", c.dropped_by_node, e.dropped_by_node),
            (
                "foreign host lines",
                c.foreign_host_lines,
                e.foreign_host_lines,
            ),
            (
                "leadership checks",
                h.leadership_checks,
                e.leadership_checks,
            ),
            ("forged", h.forged, e.forged),
            ("chain extensions adopted", h.adopted, e.adopted),
            ("resource samples", h.resource_samples, e.resource_samples),
            ("blocks named", blocks, e.blocks),
            (
                "namespaces",
                c.namespaces.len() as u64,
                e.namespaces.len() as u64,
            ),
        ];
        for (what, ours, theirs) in pairs {
            if ours != theirs {
                disagreements.push(format!("{file}: {what}: analysis {ours}, jq {theirs}"));
            }
        }
        if c.namespaces != e.namespaces {
            disagreements.push(format!(
                "{file}: lines per namespace differ:\n  analysis {:?}\n  jq       {:?}",
                c.namespaces, e.namespaces
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Analyses one corpus file as `host`, without a genesis.
fn analysed(file: &str, host: &str) -> wb_analyse::analysis::Analysis {
    let out = tempfile::tempdir().unwrap();
    let hosts = [HostLogs {
        host: host.into(),
        files: vec![corpus_dir().join(file)],
    }];
    analyse(&hosts, &Options::default(), out.path()).unwrap()
}

#[test]
fn a_mainnet_relays_slot_battle_ends_on_the_block_it_switched_to() {
    // Two blocks at height 9233842, slot 102011373: the relay adopts dda846c3…, then
    // switches to fa927c71… (`SwitchedToAFork`, `realFork`). Neither was forged here.
    let a = analysed("mainnet-relay-legacy-json.jsonl", "mainnetf");
    let main: Vec<(&str, u64, u64)> = a
        .chain
        .main
        .iter()
        .map(|b| (&b.hash[..8], b.block_no, b.slot))
        .collect();
    assert_eq!(main, [("fa927c71", 9_233_842, 102_011_373)]);
    // Its size as the relay fetched it (`CompletedBlockFetch`'s `size`): its forger is not here.
    assert_eq!(a.chain.main[0].size, Some(89_587));
    let lost = &a.chain.forks[0];
    assert_eq!((&lost.hash[..8], lost.block_no), ("dda846c3", 9_233_842));
    assert_eq!(lost.adopted_by, ["mainnetf"]);
    assert!(lost.forger.is_none() && a.chain.main[0].forger.is_none());
    assert_eq!(a.blockprop.blocks_observed_only, 1);
}

#[test]
fn messages_a_node_says_it_dropped_are_counted_and_warned_of() {
    let a = analysed("leios-demo-node-0-stdout.log", "pamperito-III");
    // 17 notices of 128 messages each, among the 19 lines that are not trace lines.
    assert_eq!(a.hosts[0].counts.dropped_by_node, 17 * 128);
    assert!(
        a.summary
            .warnings
            .iter()
            .any(|w| w.contains("dropped 2176 trace messages")),
        "{:?}",
        a.summary.warnings
    );
}
