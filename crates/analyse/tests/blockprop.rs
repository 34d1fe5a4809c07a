//! Block propagation on a three-node chain whose phase times are known by construction: the
//! forger's 12 phases, the peers' phases over valid observations, end-to-end centiles that count
//! the whole cluster, missing phases counted instead of invented, filters and the tip left out.

use wb_analyse::blockprop::{FIELDS, compute};
use wb_analyse::chain::ChainBuilder;
use wb_analyse::event::{Body, LogObject};
use wb_analyse::filter::Filters;
use wb_analyse::genesis::{Genesis, GenesisSource};

const T0: u64 = 1_800_000_000_000_000_000;

fn ev(ms: u64, body: Body) -> LogObject {
    LogObject {
        at: T0 + ms * 1_000_000,
        thread: None,
        body,
    }
}

fn genesis() -> Genesis {
    Genesis {
        system_start: T0,
        slot_length: 1_000_000_000,
        epoch_length: Some(1000),
        security_param: Some(10),
        active_slots_coeff: Some(0.1),
        max_block_body_size: Some(65536),
        byron: None,
        source: GenesisSource::Inferred { checks: 0 },
    }
}

fn forge(ms: u64, slot: u64, no: u64, hash: &str, prev: &str) -> LogObject {
    ev(
        ms,
        Body::BlockForged {
            slot,
            block_no: no,
            block: hash.into(),
            prev: prev.into(),
        },
    )
}

fn adopt(ms: u64, hash: &str, size: Option<u64>) -> LogObject {
    ev(
        ms,
        Body::AddedToCurrentChain {
            block: hash.into(),
            size,
            chain_length_delta: 1,
            tip: Default::default(),
            headers: Vec::new(),
        },
    )
}

fn observe(ms: [u64; 4], slot: u64, no: u64, hash: &str) -> Vec<LogObject> {
    vec![
        ev(
            ms[0],
            Body::SeenHeader {
                slot,
                block_no: no,
                block: hash.into(),
            },
        ),
        ev(
            ms[1],
            Body::FetchRequested {
                head: hash.into(),
                length: 1,
            },
        ),
        ev(
            ms[2],
            Body::FetchCompleted {
                block: hash.into(),
                size: None,
            },
        ),
        adopt(ms[3], hash, None),
    ]
}

fn hosts() -> Vec<(&'static str, Vec<LogObject>)> {
    let mut a = vec![
        ev(
            10_010,
            Body::StartLeadershipCheck {
                slot: 10,
                utxo_size: None,
                chain_density: None,
            },
        ),
        ev(
            10_012,
            Body::BlockContext {
                slot: 10,
                block_no: 0,
            },
        ),
        ev(10_013, Body::LedgerState { slot: 10 }),
        ev(10_014, Body::LedgerView { slot: 10 }),
        ev(
            10_020,
            Body::LeadershipDecided {
                slot: 10,
                leader: true,
            },
        ),
        ev(10_025, Body::TickedLedgerState { slot: 10 }),
        ev(10_030, Body::MempoolSnapshot { slot: 10 }),
        forge(10_050, 10, 1, "b1", "g"),
        adopt(10_060, "b1", Some(1000)),
        ev(10_070, Body::ServerSendHeader { block: "b1".into() }),
        ev(10_100, Body::ServerSendBlock { block: "b1".into() }),
    ];
    a.extend(observe([12_100, 12_200, 12_400, 12_500], 12, 2, "b2"));
    a.extend(observe([13_100, 13_200, 13_300, 13_400], 13, 3, "b3"));
    let mut b = observe([10_200, 10_210, 10_300, 10_320], 10, 1, "b1");
    b.extend([
        ev(10_330, Body::ServerSendHeader { block: "b1".into() }),
        ev(10_400, Body::ServerSendBlock { block: "b1".into() }),
        ev(
            12_001,
            Body::StartLeadershipCheck {
                slot: 12,
                utxo_size: None,
                chain_density: None,
            },
        ),
        ev(
            12_003,
            Body::LeadershipDecided {
                slot: 12,
                leader: true,
            },
        ),
        forge(12_050, 12, 2, "b2", "b1"),
        adopt(12_060, "b2", Some(2000)),
    ]);
    b.extend(observe([13_100, 13_200, 13_300, 13_400], 13, 3, "b3"));
    let mut c = observe([10_250, 10_260, 10_400, 10_450], 10, 1, "b1");
    c.extend([
        forge(13_050, 13, 3, "b3", "b2"),
        adopt(13_060, "b3", Some(10)),
    ]);
    vec![("a", a), ("b", b), ("c", c)]
}

fn ms(x: Option<f64>) -> Option<u64> {
    x.map(|s| (s * 1000.0).round() as u64)
}

#[test]
fn phases_centiles_missing_and_filters() {
    let mut builder = ChainBuilder::default();
    for (h, evs) in hosts() {
        for e in &evs {
            builder.add(h, e);
        }
    }
    let chain = builder.finish();
    let cluster: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let (bp, rows) = compute(&chain, &cluster, Some(&genesis()), &Filters::default());
    assert_eq!(bp.blocks, 3);
    // b3 is the tip: left out, as locli does.
    assert_eq!(bp.accepted, 2);
    assert_eq!(bp.rejections.get("tip"), Some(&1));
    let b1 = &rows[0];
    let forger: Vec<Option<u64>> = b1.forger_phases.iter().map(|v| ms(*v)).collect();
    let want = [10, 2, 1, 1, 6, 5, 5, 20, 20, 50, 10, 70].map(Some);
    assert_eq!(forger, want);
    // Cluster of 3: a self-adopted at .060, b at .320, c at .450 since slot start.
    let prop: Vec<Option<u64>> = b1.propagation.iter().map(|v| ms(*v)).collect();
    assert_eq!(prop, [320, 450, 450, 450, 450, 450, 450, 450].map(Some));
    // b2: c never adopted it, so no 0.80 (or higher) adoption time exists.
    let prop2: Vec<Option<u64>> = rows[1].propagation.iter().map(|v| ms(*v)).collect();
    assert_eq!(prop2[0], Some(500));
    assert!(prop2[1..].iter().all(Option::is_none));
    // b2's forger logged no block context etc.: those phases are missing, never 0.01 s.
    assert_eq!(ms(rows[1].forger_phases[0]), Some(1));
    assert_eq!(rows[1].forger_phases[1], None);
    assert_eq!(
        ms(rows[1].forger_phases[4]),
        Some(2),
        "lead falls back to loop start"
    );
    assert_eq!(
        ms(rows[1].forger_phases[7]),
        Some(47),
        "forge falls back to leading"
    );
    assert_eq!(ms(rows[1].block_gap), Some(2000));

    let cdf = |id: &str| &bp.cdfs[id];
    assert_eq!(cdf("cdfForgerStart").size, 2);
    assert_eq!(cdf("cdfForgerBlkCtx").size, 1);
    assert_eq!(bp.missing.get("cdfForgerBlkCtx"), Some(&1));
    assert_eq!(bp.missing.get("cdfForgerAnnounce"), Some(&1));
    // Peers: b1 seen by b and c, b2 by a (c saw nothing of b2).
    assert_eq!(cdf("cdfPeerRequest").size, 3);
    assert_eq!(ms(Some(cdf("cdfPeerNoticeFirst").range.0)), Some(100));
    assert_eq!(ms(Some(cdf("cdfPeerFetch").range.1)), Some(200));
    assert_eq!(cdf("cdfPeerAnnounce").size, 1);
    assert_eq!(bp.missing.get("cdfPeerAnnounce"), Some(&2));
    assert_eq!(cdf("cdf0.50").size, 2);
    assert_eq!(cdf("cdf0.80").size, 1);
    assert_eq!(bp.missing.get("cdf1.00"), Some(&1));
    assert_eq!(cdf("cdfBlockSize").range, (1000.0, 2000.0));
    // Control: every host forged one block, all chained.
    assert_eq!(cdf("cdfBlocksPerHost").size, 3);
    assert_eq!(cdf("cdfBlocksChainedRatio").range, (1.0, 1.0));
    assert!(FIELDS.iter().all(|f| bp.cdfs.contains_key(f.id)));

    // A filter needing two adoptions by observers rejects b2 (adopted by a only).
    let f = Filters::load(
        &[],
        &[r#"[{"tag":"CBlock","contents":{"tag":"BMinimumAdoptions","contents":2}}]"#.into()],
    )
    .unwrap();
    let (bp, rows) = compute(&chain, &cluster, Some(&genesis()), &f);
    assert_eq!(bp.accepted, 1);
    assert_eq!(rows[1].rejected_by, ["inline-expr"]);
    assert_eq!(bp.domain_blocks.filtered, Some((1, 1)));
    assert_eq!(bp.domain_blocks.raw, Some((1, 3)));
    assert_eq!(cdf("cdfBlocksFilteredRatio").size, 3);

    let mut csv = Vec::new();
    wb_analyse::blockprop::write_csv(&mut csv, &rows).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("block_no,slot,hash,forger")
    );
    assert!(csv.contains(",inline-expr"));
}
