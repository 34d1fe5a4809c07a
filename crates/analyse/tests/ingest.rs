//! Ingestion against real cardano-node logs (`tests/fixtures/real-logs`, counts as their
//! README states them) and against every envelope shape the analysis must read.

use std::path::{Path, PathBuf};

use wb_analyse::event::{Body, LogObject, TipId};
use wb_analyse::ingest::{Line, LineError, parse_line};
use wb_analyse::source::{host_of, read_host};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/real-logs")
        .join(name)
}

/// Reads a fixture as the logs of `host` (their file names are not host names).
fn read(name: &str, host: &str) -> (wb_analyse::source::Counts, Vec<LogObject>) {
    let mut events = Vec::new();
    let counts = read_host(&[fixture(name)], host, |o| events.push(o)).unwrap();
    (counts, events)
}

fn count(events: &[LogObject], f: impl Fn(&Body) -> bool) -> usize {
    events.iter().filter(|o| f(&o.body)).count()
}

#[test]
fn a_block_producers_tracer_output_reads_with_its_real_counts() {
    let (c, ev) = read("block-producer-tracer-output.jsonl", "p1.example");
    assert_eq!(c.lines, 861);
    assert_eq!(
        (c.bad, c.truncated, c.duplicates),
        (0, 0, 0),
        "{:?}",
        c.bad_samples
    );
    assert_eq!(c.events + c.other, 861);
    // 180 `…Plus` checks and one plain one.
    assert_eq!(
        count(&ev, |b| matches!(b, Body::StartLeadershipCheck { .. })),
        181
    );
    assert_eq!(
        count(&ev, |b| matches!(
            b,
            Body::LeadershipDecided { leader: false, .. }
        )),
        172
    );
    assert_eq!(
        count(&ev, |b| matches!(
            b,
            Body::LeadershipDecided { leader: true, .. }
        )),
        9
    );
    assert_eq!(count(&ev, |b| matches!(b, Body::BlockForged { .. })), 9);
    // 29 AddedToCurrentChain + 9 AdoptedBlock (the forger's own, with its size).
    assert_eq!(
        count(&ev, |b| matches!(
            b,
            Body::AddedToCurrentChain { size: None, .. }
        )),
        29
    );
    assert_eq!(
        count(&ev, |b| matches!(
            b,
            Body::AddedToCurrentChain { size: Some(_), .. }
        )),
        9
    );
    assert_eq!(c.namespaces["Forge.StateInfo.StateInfo"], 181);
    // One line (a Net.Server error) comes from another host.
    assert_eq!(c.foreign_host_lines, 1);
    let forged = ev
        .iter()
        .find_map(|o| match &o.body {
            Body::BlockForged { block, prev, .. } => Some((block.clone(), prev.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!((forged.0.len(), forged.1.len()), (64, 64));
}

#[test]
fn array_namespaces_and_duplicate_lines() {
    let (c, ev) = read("tracer-output-array-ns.jsonl", "p1.example");
    assert_eq!(c.lines, 12);
    assert!(c.duplicates > 0, "the file repeats lines");
    assert_eq!(c.events + c.other + c.duplicates, 12);
    assert_eq!(c.bad, 0);
    assert!(ev.iter().any(|o| matches!(
        o.body,
        Body::StartLeadershipCheck {
            slot: 584119,
            utxo_size: Some(3),
            ..
        }
    )));
    assert!(
        c.namespaces.keys().all(|ns| !ns.contains('[')),
        "{:?}",
        c.namespaces
    );
}

#[test]
fn the_2026_adoption_shape_and_human_lines() {
    let (c, ev) = read("relay-adoption-2026-shape.jsonl", "lfl4");
    assert_eq!((c.lines, c.events, c.other, c.bad), (2, 1, 1, 0));
    match &ev[0].body {
        Body::AddedToCurrentChain {
            block,
            chain_length_delta,
            ..
        } => {
            assert!(block.starts_with("db3b5675") && block.len() == 64);
            assert_eq!(*chain_length_delta, 1, "absent: one block");
        }
        other => panic!("{other:?}"),
    }
    // The legacy human format is not JSON: counted, sampled with file and line, never a crash.
    let (c, ev) = read("legacy-human-coloured.log", "wallet");
    assert_eq!((c.lines, c.bad, ev.len()), (3, 3, 0));
    assert!(
        c.bad_samples[0].contains("legacy-human-coloured.log:1: not JSON"),
        "{:?}",
        c.bad_samples
    );
}

#[test]
fn legacy_journal_and_quirky_envelopes() {
    // Legacy iohk-monitoring: one-element `ns`, the event in `data.kind`, forging wrapped.
    let legacy = r#"{"at":"2021-03-01T10:00:00.5Z","ns":["cardano.node.Forge"],"data":{"credentials":"Cardano","val":{"kind":"TraceForgedBlock","slot":12,"blockNo":{"unBlockNo":4},"block":"aa","blockPrev":"bb"}},"app":[],"env":"1.25","msg":"","pid":"7","loc":null,"host":"h","sev":"Info","thread":"5"}"#;
    let Ok(Line::Event(o, ns, host)) = parse_line(legacy) else {
        panic!()
    };
    assert_eq!((ns.as_ref(), host.as_ref()), ("cardano.node.Forge", "h"));
    assert_eq!(o.thread, Some(5));
    // A numeric thread id reads as its digits.
    let numeric = r#"{"at":"2026-01-01T00:00:00Z","ns":"TxSubmission.TxInbound.Collected","data":{"kind":"TraceTxSubmissionCollected","count":3},"sev":"Info","thread":42,"host":"n"}"#;
    let Ok(Line::Event(n, _, _)) = parse_line(numeric) else {
        panic!()
    };
    assert_eq!((n.thread, n.body), (Some(42), Body::TxsCollected(3)));
    assert_eq!(o.at, 1_614_592_800_500_000_000);
    assert_eq!(
        o.body,
        Body::BlockForged {
            slot: 12,
            block_no: 4,
            block: "aa".into(),
            prev: "bb".into()
        }
    );
    let legacy_chain = r#"{"at":"2021-03-01T10:00:01Z","ns":["cardano.node.ChainDB"],"data":{"kind":"TraceAddBlockEvent.AddedToCurrentChain","newtip":"cc@13","chainLengthDelta":2},"host":"h","thread":"5"}"#;
    assert!(matches!(
        parse_line(legacy_chain),
        Ok(Line::Event(
            LogObject {
                body: Body::AddedToCurrentChain {
                    chain_length_delta: 2,
                    tip: TipId {
                        slot: Some(13),
                        block_no: None
                    },
                    ..
                },
                ..
            },
            _,
            _
        ))
    ));
    // systemd journal export: the node's line in MESSAGE.
    let journal = serde_json::json!({"__REALTIME_TIMESTAMP": "1", "_SYSTEMD_UNIT": "cardano-node.service",
        "MESSAGE": r#"{"at":"2026-01-01T00:00:00Z","ns":"Forge.Loop.NodeIsLeader","data":{"kind":"TraceNodeIsLeader","slot":9},"sev":"Info","thread":"1","host":"n"}"#}).to_string();
    assert!(matches!(
        parse_line(&journal),
        Ok(Line::Event(
            LogObject {
                body: Body::LeadershipDecided {
                    slot: 9,
                    leader: true
                },
                ..
            },
            _,
            _
        ))
    ));
    // The same line as a journal's text export, a docker json-file log and `docker compose
    // logs` print it: a prefix, or a wrapper with its line break.
    let line = r#"{"at":"2026-01-01T00:00:00Z","ns":"Forge.Loop.NodeIsLeader","data":{"kind":"TraceNodeIsLeader","slot":9},"sev":"Info","thread":"1","host":"n"}"#;
    let docker = serde_json::json!({"log": format!("{line}\n"), "stream": "stdout", "time": "2026-01-01T00:00:00.1Z"}).to_string();
    for shape in [
        format!("Mar 10 21:36:58 relay-1 cardano-node[7201]: {line}"),
        format!("node-1  | {line}"),
        docker,
    ] {
        assert!(
            matches!(
                parse_line(&shape),
                Ok(Line::Event(
                    LogObject {
                        body: Body::LeadershipDecided { slot: 9, .. },
                        ..
                    },
                    _,
                    _
                ))
            ),
            "{shape}"
        );
    }
    // A prefix before something that is not a trace object: still not JSON.
    assert_eq!(
        parse_line("Mar 10 21:36:58 relay-1 cardano-node[7201]: TraceMempoolAddedTx {\"x\":1}"),
        Err(LineError::NotJson)
    );
    // A chain-sync server's falling edge carries nothing for the analysis.
    let edge = r#"{"at":"2026-01-01T00:00:00Z","ns":"ChainSync.ServerHeader.Update","data":{"kind":"ChainSyncServer.Update","risingEdge":false,"blockingRead":true,"addBlock":"dd@1"},"sev":"Info","thread":"1","host":"n"}"#;
    assert!(matches!(parse_line(edge), Ok(Line::Other { .. })));
    // A message the analysis reads but without a field it needs: named.
    let broken = r#"{"at":"2026-01-01T00:00:00Z","ns":"Forge.Loop.ForgedBlock","data":{"kind":"TraceForgedBlock","slot":1},"sev":"Info","thread":"1","host":"n"}"#;
    assert_eq!(
        parse_line(broken),
        Err(LineError::Data {
            ns: "Forge.Loop.ForgedBlock".into(),
            field: "blockNo"
        })
    );
    assert_eq!(
        parse_line(r#"{"ns":"x","data":{}}"#),
        Err(LineError::Envelope("at"))
    );
    assert_eq!(parse_line("[INFO] starting"), Err(LineError::NotJson));
}

#[test]
fn rotated_files_a_cut_last_line_and_hosts_from_names() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node-3");
    std::fs::create_dir(&node).unwrap();
    let line = |slot: u64| {
        format!(
            r#"{{"at":"2026-01-01T00:00:{slot:02}Z","ns":"Forge.Loop.StartLeadershipCheck","data":{{"kind":"TraceStartLeadershipCheck","slot":{slot}}},"sev":"Info","thread":"1","host":"node-3"}}"#
        )
    };
    // Written out of name order; read in name (= time) order. The newer file ends mid-line.
    let second = node.join("node-2026-01-01T00-00-10.json");
    std::fs::write(&second, format!("{}\n{}", line(10), &line(11)[..50])).unwrap();
    let first = node.join("node-2026-01-01T00-00-00.json");
    std::fs::write(&first, format!("{}\n{}\n", line(1), line(2))).unwrap();
    assert_eq!(host_of(&second), "node-3");
    assert_eq!(host_of(Path::new("/x/logs-node-7.some.json")), "node-7");
    assert_eq!(host_of(Path::new("/runs/r/node-2/stdout")), "node-2");
    let mut slots = Vec::new();
    let c = read_host(&[second, first], "node-3", |o| {
        if let Body::StartLeadershipCheck { slot, .. } = o.body {
            slots.push(slot);
        }
    })
    .unwrap();
    assert_eq!(slots, [1, 2, 10]);
    assert_eq!((c.truncated, c.bad, c.foreign_host_lines), (1, 0, 0));
}

#[test]
fn the_fast_reader_answers_as_the_json_tree_does() {
    use wb_analyse::ingest::LineReader;
    let mut lines: Vec<String> = [
        "block-producer-tracer-output.jsonl",
        "tracer-output-array-ns.jsonl",
        "relay-adoption-2026-shape.jsonl",
        "legacy-human-coloured.log",
    ]
    .iter()
    .flat_map(|f| {
        std::fs::read_to_string(fixture(f))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    })
    .collect();
    // Shapes the fast path must hand over or read the same: numbers in odd forms, escapes,
    // duplicate keys, a wrapped legacy payload under a new namespace, a cut and glued line.
    let env = |ns: &str, data: &str| {
        format!(r#"{{"at":"2026-01-01T00:00:00.5Z","ns":"{ns}","data":{data},"host":"h"}}"#)
    };
    lines.extend([
        env(
            "Forge.Loop.ForgedBlock",
            r#"{"kind":"TraceForgedBlock","slot":1.0,"blockNo":{"unBlockNo":4},"block":"a","blockPrev":"b"}"#,
        ),
        env(
            "Forge.Loop.ForgedBlock",
            r#"{"kind":"TraceForgedBlock","slot":3,"blockNo":2,"block":"a\u00e9\"","blockPrev":"b","slot":4}"#,
        ),
        env(
            "ChainDB.AddBlockEvent.AddedToCurrentChain",
            r#"{"newtip":"x@1","chainLengthDelta":-1}"#,
        ),
        env(
            "LedgerMetrics",
            r#"{"slot":18446744073709551616,"chainDensity":0.123456789012345678}"#,
        ),
        env(
            "Forge.Loop.NodeIsLeader",
            r#"{"credentials":"Cardano","val":{"kind":"TraceNodeIsLeader","slot":9}}"#,
        ),
        env("Some.Thing", r#"{"kind":"Cardano.Node.Forge.NodeIsLeader","slot":2}"#),
        env("Mempool.AddedTx", r#"{"mempoolSize":{"numTxs":"7"}}"#),
        // Fields out of the usual order, a repeated one, odd number forms, one missing.
        env(
            "Resources",
            r#"{"kind":"ResourceStats","RSS":10,"CentiCpu":5,"Alloc":1,"Heap":{"unBlockNo":3},"Alloc":2,"Live":1.5,"Threads":18446744073709551616}"#,
        ),
        env("Resources", r#"{"kind":"ResourceStats","CentiCpu":5}"#),
        env("Mempool.AddedTx", r#"{"mempoolSize":{"n\u0075mTxs":7}}"#),
        env("ChainSync.ServerHeader.Update", r#"{"risingEdge":true,"block":"q"}"#),
        format!(
            "{}{}",
            &env("Net.X", r#"{"a":"bcd"}"#)[..40],
            env("Net.Y", "{}")
        ),
        r#"{"at":"2026-01-01T00:00:00Z","ns":"X","data":[],"host":"h"}"#.into(),
        r#"{"at":"2026-01-01T00:00:00Z","ns":"X","data":{},"host":7}"#.into(),
        r#"{"at":"2026-01-01T00:00:00Z","ns":"TxSubmission.TxInbound.Collected","data":{"kind":"TraceTxSubmissionCollected","count":3},"thread":42,"host":"n"}"#.into(),
    ]);
    let mut r = LineReader::default();
    for l in &lines {
        assert_eq!(r.read(l.as_bytes()), parse_line(l), "{l}");
    }
}

#[test]
fn reading_stops_when_the_sink_says_so() {
    use std::ops::ControlFlow;
    let path = fixture("block-producer-tracer-output.jsonl");
    let mut seen = 0;
    // The same file twice: read whole, both would make 1,722 lines.
    let c = wb_analyse::source::read_host_until(&[path.clone(), path], "p1.example", |_| {
        seen += 1;
        if seen == 10 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(seen, 10, "nothing handed over after the stop");
    // The stop came in the first file (smaller than a read chunk, so read whole): the second
    // was not read.
    assert_eq!(c.lines, 861);
}

/// Adoptions place their block: the slot from the `newtip` point, the number from the selection
/// view in each real shape (`chainLength` of a `PraosChainSelectView`, `blockNo` of the newest
/// `newSuffixSelectView`).
#[test]
fn adoptions_carry_the_new_tips_slot_and_number_in_every_real_shape() {
    let tip_of = |name: &str, host: &str| -> Vec<(String, TipId)> {
        let (_, events) = read(name, host);
        events
            .into_iter()
            .filter_map(|e| match e.body {
                Body::AddedToCurrentChain {
                    block,
                    size: None,
                    tip,
                    ..
                } => Some((block, tip)),
                _ => None,
            })
            .collect()
    };
    let producer = tip_of("block-producer-tracer-output.jsonl", "p1.example");
    assert_eq!(producer.len(), 29);
    assert_eq!(
        producer[0],
        (
            "3002b6f091e64723880dbb457325b537d25288c1865dd54fdf4caaf589262898".into(),
            TipId {
                slot: Some(27),
                block_no: Some(0)
            }
        )
    );
    assert!(
        producer
            .iter()
            .all(|(_, t)| t.slot.is_some() && t.block_no.is_some())
    );
    let relay = tip_of("relay-adoption-2026-shape.jsonl", "lfl4");
    assert_eq!(
        relay[0].1,
        TipId {
            slot: Some(421),
            block_no: Some(17)
        }
    );
}
