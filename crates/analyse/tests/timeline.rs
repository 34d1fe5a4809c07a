//! Timelines into per-host and cluster distributions, on rows whose answers are known by
//! construction (centiles, spans, block gaps in seconds, GHC-only fields absent), and real
//! cardano-node logs through `read_host` + an inferred genesis + the timeline.

use std::path::PathBuf;

use wb_analyse::cdf::STD_CENTILES;
use wb_analyse::cdf::gnuplot2;
use wb_analyse::event::{Body, LogObject};
use wb_analyse::genesis::{Genesis, GenesisSource};
use wb_analyse::inventory::HostLogs;
use wb_analyse::machperf::{ClusterPerf, FIELDS, MachPerf, cpu_spans, field_of};
use wb_analyse::source::read_host;
use wb_analyse::timeline::{self, OptF32, SlotStats, TimelineBuilder};

const MS: u64 = 1_000_000;
const T0: u64 = 1_800_000_000_000_000_000;

fn genesis(slot_ms: u64, epoch_length: Option<u64>) -> Genesis {
    Genesis {
        system_start: T0,
        slot_length: slot_ms * MS,
        epoch_length,
        security_param: None,
        active_slots_coeff: None,
        max_block_body_size: None,
        byron: None,
        source: GenesisSource::Inferred { checks: 0 },
    }
}

fn slot_row(slot: u64) -> SlotStats {
    SlotStats {
        slot,
        ..SlotStats::default()
    }
}

fn sample(c: &wb_analyse::cdf::Cdf, centile: f64) -> f64 {
    c.samples.iter().find(|s| s.0 == centile).unwrap().1
}

#[test]
fn cpu_spans_as_locli_defines_them() {
    // CPU per slot; None = no figure; slot 9 is missing (filtered out), which ends a run.
    let cpu: [(u64, Option<f64>); 12] = [
        (0, Some(10.0)),
        (1, Some(90.0)),
        (2, Some(95.0)),
        (3, Some(10.0)),
        (4, None),
        (5, None),
        (6, Some(85.0)),
        (7, Some(10.0)),
        (8, Some(86.0)),
        (10, Some(90.0)),
        (11, Some(90.0)),
        (12, Some(84.9)),
    ];
    let rows: Vec<SlotStats> = cpu
        .iter()
        .map(|&(s, c)| {
            let mut r = slot_row(s);
            r.resources.cpu_pct = c.into();
            r
        })
        .collect();
    assert_eq!(cpu_spans(&rows), [(1, 2), (4, 6), (8, 8), (10, 11)]);
    let m = MachPerf::new("a", &rows, &genesis(1000, Some(8)));
    let spans = &m.cdfs["cdfSpanLensCpu"];
    // Lengths last − first: 1, 2, 0, 1.
    assert_eq!(spans.size, 4);
    assert_eq!((spans.range, spans.median), ((0.0, 2.0), 1.0));
    // Epochs of 8 slots: epoch slot 3 is slot 3 or 11; only (10, 11) contains one, and is
    // counted from the epoch's first slot, 8 — here before the span, so from 10: 1 slot.
    let epoch = &m.cdfs["cdfSpanLensCpuEpoch"];
    assert_eq!((epoch.size, epoch.range), (1, (1.0, 1.0)));
    // Reward start 3 + floor(0.4 × 8) = epoch slot 6: slot 6, in (4, 6).
    let rwd = &m.cdfs["cdfSpanLensCpuRwd"];
    assert_eq!((rwd.size, rwd.range), (1, (2.0, 2.0)));
    // A span across epoch boundaries is counted from the last epoch whose slot 3 it holds:
    // slots 1‥12 at 100 %, epochs of 5: slot 8 is epoch 1's slot 3, so 12 − 5 = 7.
    let hot: Vec<SlotStats> = (0..=12)
        .map(|s| {
            let mut r = slot_row(s);
            r.resources.cpu_pct = OptF32::some(if s == 0 { 0.0 } else { 100.0 });
            r
        })
        .collect();
    let m5 = MachPerf::new("a", &hot, &genesis(1000, Some(5)));
    assert_eq!(m5.cdfs["cdfSpanLensCpu"].range, (11.0, 11.0));
    assert_eq!(m5.cdfs["cdfSpanLensCpuEpoch"].range, (7.0, 7.0));
    // Without an epoch length there are no epoch spans.
    let m = MachPerf::new("a", &rows, &genesis(1000, None));
    assert!(m.cdfs.contains_key("cdfSpanLensCpu"));
    assert!(!m.cdfs.contains_key("cdfSpanLensCpuEpoch"));
}

#[test]
fn block_gap_is_in_seconds() {
    let g = genesis(200, Some(100));
    let ctx = |slot: u64, block_no| LogObject {
        at: T0 + (slot * 200 + 5) * MS,
        thread: Some(1),
        body: Body::BlockContext { slot, block_no },
    };
    let mut b = TimelineBuilder::new(&g);
    for o in [ctx(10, 1), ctx(12, 2), ctx(15, 2), ctx(17, 3)] {
        b.push(&o);
    }
    let t = b.finish();
    // Gaps in slots from slot 12 on: 0 1 2 3 4 0 → × 0.2 s.
    let m = MachPerf::new("a", &t.rows, &g);
    let gap = &m.cdfs["cdfBlockGap"];
    assert_eq!(gap.size, 6);
    assert!((gap.range.1 - 0.8).abs() < 1e-9, "{:?}", gap.range);
    assert!(
        (gap.average - 10.0 / 6.0 * 0.2).abs() < 1e-9,
        "{}",
        gap.average
    );
    assert_eq!(
        field_of("cdfBlockGap").unwrap().unit,
        wb_analyse::field::Unit::Sec
    );
}

/// Host rows: `n` slots, forge loop started 10·i ms (+ `shift`) into slot i, CPU 10·i %.
fn host_rows(n: u64, shift: f64) -> Vec<SlotStats> {
    (1..=n)
        .map(|i| {
            let mut r = slot_row(100 + i);
            r.count_starts = 1;
            r.started = OptF32::some(i as f64 * 0.01 + shift);
            r.resources.cpu_pct = OptF32::some(i as f64 * 10.0 % 100.0);
            r.resources.rss_mib = OptF32::some(500.0);
            r
        })
        .collect()
}

#[test]
fn machperf_and_clusterperf_of_two_hosts() {
    let g = genesis(1000, Some(1000));
    let a = MachPerf::new("a", &host_rows(10, 0.0), &g);
    let mut b_rows = host_rows(10, 0.1);
    b_rows[0].count_leads = 1;
    b_rows[0].leading = OptF32::some(0.002);
    let b = MachPerf::new("b", &b_rows, &g);

    // Per host: nearest-rank centiles of 0.01‥0.10.
    let st = &a.cdfs["cdfStarted"];
    assert_eq!(st.size, 10);
    assert!((sample(st, 0.0) - 0.01).abs() < 1e-6);
    assert!((sample(st, 0.5) - 0.06).abs() < 1e-6);
    assert!((sample(st, 1.0) - 0.10).abs() < 1e-6);
    assert_eq!(st.samples.len(), STD_CENTILES.len());
    assert_eq!(a.cdfs["cdfHostSlots"].median, 10.0);
    assert_eq!(a.cdfs["cdfStarts"].average, 1.0);
    // GHC-only figures were never reported: absent, not zero.
    for id in ["CentiGC", "CentiMut", "GcsMajor", "GcsMinor", "Live"] {
        assert!(!a.cdfs.contains_key(id), "{id}");
    }
    assert!(!a.cdfs.contains_key("cdfLeading") && b.cdfs.contains_key("cdfLeading"));
    // Every key is a dictionary id.
    assert!(a.cdfs.keys().all(|k| field_of(k).is_some()));

    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["host"], "a");
    assert_eq!(json["slots"], 10);
    assert_eq!(json["cdfStarted"]["cdfSize"], 10);
    assert!(json.get("CentiGC").is_none());

    let c = ClusterPerf::combine(&[a.clone(), b.clone()]);
    assert_eq!(
        (c.hosts.clone(), c.slots),
        (vec!["a".into(), "b".into()], 20)
    );
    let st = &c.cdfs["cdfStarted"];
    assert_eq!(st.size, 20);
    // Centile 0.5 across hosts: [0.06, 0.16]; its median by nearest rank is 0.16.
    let mid = &st.samples.iter().find(|s| s.0 == 0.5).unwrap().1;
    assert!((mid.range.0 - 0.06).abs() < 1e-6 && (mid.range.1 - 0.16).abs() < 1e-6);
    assert!((mid.median - 0.16).abs() < 1e-6);
    // The weighted mean is that of all 20 values: (0.055 + 0.155) / 2.
    assert!((st.average_weighted - 0.105).abs() < 1e-6);
    // A metric only b has: combined from b alone.
    assert_eq!(c.cdfs["cdfLeading"].size, 1);
    assert!(!c.cdfs.contains_key("CentiGC"));

    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["cdfStarted"]["cdfSize"], 20);
    assert!(json["CentiCpu"]["cdfSamples"].is_array());
    let plot = gnuplot2(st);
    assert_eq!(plot.lines().count(), STD_CENTILES.len());
    let half: Vec<f64> = plot
        .lines()
        .find(|l| l.starts_with("0.5 "))
        .unwrap()
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    // centile, median, min, max, median − stddev, median + stddev.
    assert_eq!(half.len(), 6);
    assert!((half[2] - 0.06).abs() < 1e-6 && (half[3] - 0.16).abs() < 1e-6);
    assert!((half[1] - half[4] - (half[5] - half[1])).abs() < 1e-9);
}

#[test]
fn the_dictionary_covers_locli_ids_once() {
    let ids: Vec<&str> = FIELDS.iter().map(|f| f.id).collect();
    for id in [
        "cdfStarts",
        "cdfStarted",
        "cdfBlkCtx",
        "cdfLgrState",
        "cdfLgrView",
        "cdfLeading",
        "cdfBlockGap",
        "cdfDensity",
        "CentiCpu",
        "CentiGC",
        "CentiMut",
        "GcsMajor",
        "GcsMinor",
        "RSS",
        "Heap",
        "Live",
        "Alloc",
        "NetRd",
        "NetWr",
        "FsRd",
        "FsWr",
        "cdfSpanLensCpu",
        "cdfSpanLensCpuEpoch",
        "cdfHostSlots",
        "cdfLeads",
        "cdfUtxo",
        "cdfSpanLensCpuRwd",
    ] {
        assert_eq!(ids.iter().filter(|i| **i == id).count(), 1, "{id}");
    }
    assert_eq!(ids.len(), 27);
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/real-logs")
        .join(name)
}

#[test]
fn real_block_producer_log() {
    let path = fixture("block-producer-tracer-output.jsonl");
    assert!(path.exists(), "{} not found", path.display());
    let host = HostLogs {
        host: "p1.example".into(),
        files: vec![path],
    };
    let g = Genesis::infer_from_logs(std::slice::from_ref(&host)).unwrap();
    assert_eq!(g.slot_length, 1_000 * MS);
    let mut b = TimelineBuilder::new(&g);
    let counts = read_host(&host.files, &host.host, |o| b.push(&o)).unwrap();
    assert!(counts.events > 0);
    let t = b.finish();
    // Slots 20‥200, one leadership check each (180 of them `…Plus`, one plain at slot 20).
    assert_eq!(t.rows.first().unwrap().slot, 20);
    assert_eq!(t.rows.last().unwrap().slot, 200);
    assert_eq!(t.rows.len(), 181);
    let sum = |f: fn(&SlotStats) -> u16| t.rows.iter().map(|r| u64::from(f(r))).sum::<u64>();
    assert_eq!(sum(|r| r.count_starts), 181);
    assert_eq!(sum(|r| r.count_leads), 9);
    assert_eq!(sum(|r| r.count_forges), 9);
    assert_eq!(t.counters.before_system_start, 0);
    assert_eq!(t.counters.future_slot, 0);
    // The inferred start is the least delayed check's; every other check is after its slot's start.
    assert!(
        t.rows
            .iter()
            .filter_map(|r| r.started.get())
            .all(|s| (0.0..1.0).contains(&s))
    );
    assert_eq!(t.rows[1].utxo_size, Some(3));
    assert!(
        t.rows
            .iter()
            .filter(|r| r.count_forges > 0)
            .all(|r| r.forged.is_some())
    );

    let m = MachPerf::new(&host.host, &t.rows, &g);
    assert_eq!(m.cdfs["cdfStarts"].average, 1.0);
    assert_eq!(m.cdfs["cdfLeads"].size, 181);
    assert!(m.cdfs["cdfDensity"].range.1 > 0.3);
    // No resource samples in this log: no resource figures, and no CPU spans (without a CPU
    // figure every slot would count as busy).
    assert!(!m.cdfs.contains_key("CentiCpu"));
    assert!(!m.cdfs.contains_key("cdfSpanLensCpu"));
    let c = ClusterPerf::combine(&[m]);
    assert_eq!(c.cdfs["cdfStarted"].size, 181);

    let mut csv = Vec::new();
    timeline::write_csv(&mut csv, &host.host, &t.rows, true).unwrap();
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 182);
}

#[test]
fn the_other_real_logs_read_without_panics() {
    for name in [
        "tracer-output-array-ns.jsonl",
        "relay-adoption-2026-shape.jsonl",
        "legacy-human-coloured.log",
    ] {
        let path = fixture(name);
        if !path.exists() {
            continue;
        }
        let g = genesis(1000, Some(432_000));
        let mut b = TimelineBuilder::new(&g);
        read_host(&[path], "x", |o| b.push(&o)).unwrap();
        let t = b.finish();
        let m = MachPerf::new("x", &t.rows, &g);
        assert_eq!(m.slots, t.rows.len(), "{name}");
    }
}
