//! The analysis against synthetic cluster logs whose answers are known by construction (golden),
//! and properties: neither the order hosts are read in nor where a host's log is split into
//! rotated files changes anything.

use std::path::{Path, PathBuf};

use wb_analyse::blockprop;
use wb_analyse::chain::Chain;
use wb_analyse::filter::Filters;
use wb_analyse::genesis::{Genesis, GenesisSource};
use wb_analyse::inventory::{HostLogs, HostSummary, group_by_host, summarise};
use wb_analyse::synth::{Length, Options, Truth, generate};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for host in std::fs::read_dir(dir).unwrap() {
        for f in std::fs::read_dir(host.unwrap().path()).unwrap() {
            v.push(f.unwrap().path());
        }
    }
    v
}

fn cluster(seed: u64, rotate: usize) -> (tempfile::TempDir, Truth) {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        hosts: 6,
        length: Length::Slots(400),
        seed,
        rotate,
        // Many leaders, so that slot battles happen in a short run.
        active_slot_coeff: 0.3,
        ..Options::default()
    };
    let truth = generate(&o, dir.path(), 2).unwrap();
    (dir, truth)
}

/// What must not change with host order or file splits: the summaries less `files`, the chain.
fn essence(mut s: Vec<HostSummary>, chain: Chain) -> (Vec<HostSummary>, Chain) {
    s.sort_by(|a, b| a.host.cmp(&b.host));
    for h in &mut s {
        h.files = 0;
    }
    (s, chain)
}

#[test]
fn the_analysis_finds_what_the_generator_wrote() {
    let (dir, truth) = cluster(7, 3);
    let hosts = group_by_host(&files_under(dir.path()));
    assert_eq!(hosts.len(), 6);
    let (summaries, chain) = summarise(&hosts, 2).unwrap();
    for (s, t) in summaries.iter().zip(&truth.hosts) {
        assert_eq!(s.host, t.host);
        assert_eq!(s.files, 3, "{}", s.host);
        assert_eq!(
            (
                s.counts.bad,
                s.counts.truncated,
                s.counts.duplicates,
                s.counts.foreign_host_lines
            ),
            (0, 0, 0, 0),
            "{:?}",
            s.counts.bad_samples
        );
        assert_eq!(s.counts.lines, t.lines, "{}", s.host);
        assert_eq!(s.counts.events + s.counts.other, t.lines);
        assert_eq!(s.leadership_checks, t.leadership_checks);
        assert_eq!(s.leadership_checks, truth.slots);
        assert_eq!(
            (s.first_slot, s.last_slot),
            (Some(0), Some(truth.slots - 1))
        );
        assert_eq!(s.forged, t.forged, "{}", s.host);
        assert_eq!(s.adopted, t.adopted, "{}", s.host);
        assert!(s.resource_samples > 0 && s.counts.namespaces.len() > 20);
    }
    assert!(!truth.forks.is_empty(), "the run has slot battles");
    assert!(
        truth.forks.iter().any(|f| !f.adopted.is_empty()),
        "and losers some host adopted"
    );
    assert_eq!(chain.unknown_adoptions, 0);
    assert_eq!(chain.main.len(), truth.main.len());
    for (b, t) in chain.main.iter().zip(&truth.main) {
        assert_eq!(
            (
                &b.hash,
                &b.prev,
                b.slot,
                b.block_no,
                b.forger.as_deref(),
                b.forged_at
            ),
            (
                &t.hash,
                &t.prev,
                t.slot,
                t.block_no,
                Some(t.forger.as_str()),
                Some(t.forged_at)
            )
        );
        let adopted: std::collections::BTreeMap<String, u64> = b
            .observers
            .iter()
            .filter_map(|(h, o)| o.adopted.map(|a| (h.clone(), a)))
            .collect();
        assert_eq!(adopted, t.adopted, "block {} (slot {})", t.block_no, t.slot);
        assert_eq!(adopted.len(), 5, "every other host adopted it");
    }
    assert_eq!(chain.forks.len(), truth.forks.len());
    for (f, t) in chain.forks.iter().zip(&truth.forks) {
        assert_eq!(
            (&f.hash, f.block_no, f.slot, f.forger.as_deref()),
            (&t.hash, t.block_no, t.slot, Some(t.forger.as_str()))
        );
        let by: Vec<&String> = t.adopted.keys().collect();
        assert_eq!(f.adopted_by.iter().collect::<Vec<_>>(), by);
    }
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let (a, ta) = cluster(3, 1);
    let (b, tb) = cluster(3, 1);
    assert_eq!(ta.main, tb.main);
    let read = |d: &Path| {
        let mut f = files_under(d);
        f.sort();
        f.iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(read(a.path()), read(b.path()));
}

/// Splits every host's one file into pieces at the given line fractions, named in time order.
fn split(hosts: &[HostLogs], out: &Path, cuts: &[f64]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for h in hosts {
        let text = std::fs::read_to_string(&h.files[0]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let dir = out.join(&h.host);
        std::fs::create_dir_all(&dir).unwrap();
        let mut bounds: Vec<usize> = cuts
            .iter()
            .map(|c| (c * lines.len() as f64) as usize)
            .collect();
        bounds.insert(0, 0);
        bounds.push(lines.len());
        for (i, w) in bounds.windows(2).enumerate() {
            let p = dir.join(format!("node-2026-01-01T00-00-{i:02}.json"));
            let mut piece = lines[w[0]..w[1]].join("\n");
            if !piece.is_empty() {
                piece.push('\n');
            }
            std::fs::write(&p, piece).unwrap();
            files.push(p);
        }
    }
    files
}

#[test]
fn host_order_and_rotation_points_change_nothing() {
    let (dir, _) = cluster(11, 1);
    let hosts = group_by_host(&files_under(dir.path()));
    let (s, c) = summarise(&hosts, 2).unwrap();
    let reference = essence(s, c);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..6 {
        // Hosts shuffled.
        let mut shuffled = hosts.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        let (s, c) = summarise(&shuffled, 1 + round % 2).unwrap();
        assert_eq!(essence(s, c), reference, "shuffle {round}");
        // Each host's log cut at arbitrary lines (an empty piece included now and then).
        let mut cuts: Vec<f64> = (0..1 + next() % 4)
            .map(|_| (next() % 1000) as f64 / 1000.0)
            .collect();
        cuts.sort_by(f64::total_cmp);
        let out = tempfile::tempdir().unwrap();
        let pieces = group_by_host(&split(&hosts, out.path(), &cuts));
        let (s, c) = summarise(&pieces, 2).unwrap();
        assert!(s.iter().all(|h| h.files == cuts.len() + 1));
        assert_eq!(essence(s, c), reference, "cuts {cuts:?}");
    }
}

/// A stake pool operator's view: one node's log of a two-node cluster in which each node forged
/// about half the blocks. Every main-chain block is found, the other node's as observed ones
/// (no forger in the logs), with this node's times to the nanosecond and its adoption since
/// slot start in the per-block table.
#[test]
fn one_nodes_log_alone_gives_every_block_the_others_as_observed() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        hosts: 2,
        length: Length::Slots(400),
        seed: 5,
        active_slot_coeff: 0.1,
        ..Options::default()
    };
    let truth = generate(&o, dir.path(), 2).unwrap();
    let all = group_by_host(&files_under(dir.path()));
    let (_, full) = summarise(&all, 2).unwrap();
    let alone: Vec<HostLogs> = all.into_iter().filter(|h| h.host == "node-0").collect();
    let (_, part) = summarise(&alone, 1).unwrap();

    let hashes = |c: &Chain| c.main.iter().map(|b| b.hash.clone()).collect::<Vec<_>>();
    let want: Vec<String> = truth.main.iter().map(|b| b.hash.clone()).collect();
    assert_eq!(hashes(&part), want, "every main-chain block, in order");
    assert_eq!(hashes(&full), want);
    assert!(part.unchained.is_empty(), "node-0's blocks are chained");
    let theirs = truth.main.iter().filter(|t| t.forger == "node-1").count();
    assert!(theirs >= 5 && truth.main.len() - theirs >= 5, "both forged");

    let g = Genesis {
        system_start: o.start,
        slot_length: o.slot_ms * 1_000_000,
        epoch_length: None,
        security_param: None,
        active_slots_coeff: None,
        max_block_body_size: None,
        byron: None,
        source: GenesisSource::Inferred { checks: 0 },
    };
    let (bp, rows) =
        blockprop::compute(&part, &["node-0".to_owned()], Some(&g), &Filters::default());
    assert_eq!(
        (bp.blocks_forged_in_logs, bp.blocks_observed_only),
        (truth.main.len() - theirs, theirs)
    );
    for (i, ((b, t), row)) in part.main.iter().zip(&truth.main).zip(&rows).enumerate() {
        assert_eq!((b.slot, b.block_no), (t.slot, t.block_no), "block {i}");
        if i > 0 {
            assert_eq!(b.prev, t.prev, "block {i}'s predecessor");
        }
        if t.forger == "node-0" {
            assert_eq!(b.forger.as_deref(), Some("node-0"));
            assert_eq!(b.forged_at, Some(t.forged_at));
            continue;
        }
        assert_eq!(
            (b.forger.as_deref(), b.forged_at),
            (None, None),
            "block {i}"
        );
        // node-0's times: exactly those the whole cluster's analysis has.
        let mine = b.observers["node-0"];
        assert_eq!(mine, full.main[i].observers["node-0"], "block {i}");
        assert_eq!(mine.adopted, Some(t.adopted["node-0"]));
        assert!(mine.header.is_some() && mine.requested.is_some() && mine.fetched.is_some());
        // One node: every adoption centile is its adoption, since the slot's start.
        let since = (t.adopted["node-0"] - g.slot_start(t.slot)) as f64 / 1e9;
        assert_eq!(row.propagation[0], Some(since), "block {i}");
        assert_eq!(row.forger, None);
        assert!(row.forger_phases.iter().all(Option::is_none));
    }
    // The first peer notice is the observer's header for the other node's blocks.
    assert!(bp.cdfs["cdfPeerNoticeFirst"].size >= theirs - 1);
}
