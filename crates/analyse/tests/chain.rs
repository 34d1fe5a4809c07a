//! Chain reconstruction on events whose answers are known by construction, fed in any host
//! order: main chain, a lost fork with who adopted it, per-observer adoption delays, a
//! two-block adoption credited to both blocks, missing adoptions left missing.

use wb_analyse::chain::ChainBuilder;
use wb_analyse::event::{Body, LogObject};

const S: u64 = 1_000_000_000;

fn ev(at_ms: u64, body: Body) -> LogObject {
    LogObject {
        at: 1_800_000_000 * S + at_ms * 1_000_000,
        thread: None,
        body,
    }
}

fn forged(at_ms: u64, no: u64, hash: &str, prev: &str) -> LogObject {
    ev(
        at_ms,
        Body::BlockForged {
            slot: at_ms / 1000,
            block_no: no,
            block: hash.into(),
            prev: prev.into(),
        },
    )
}

fn adopted(at_ms: u64, hash: &str, delta: i64) -> LogObject {
    ev(
        at_ms,
        Body::AddedToCurrentChain {
            block: hash.into(),
            size: None,
            chain_length_delta: delta,
            tip: Default::default(),
            headers: Vec::new(),
        },
    )
}

fn logs() -> Vec<(&'static str, Vec<LogObject>)> {
    vec![
        (
            "a",
            vec![
                forged(10_000, 1, "b1", "g"),
                adopted(20_080, "f2", 1),
                adopted(20_100, "b2", 1),
                forged(30_000, 3, "b3", "b2"),
            ],
        ),
        (
            "b",
            vec![
                adopted(10_200, "b1", 1),
                forged(20_000, 2, "b2", "b1"),
                adopted(30_300, "b3", 1),
            ],
        ),
        // d had f2, then switched to b3's chain: b2 and b3 adopted then; b1 it already had.
        (
            "d",
            vec![
                adopted(10_600, "b1", 1),
                adopted(20_090, "f2", 1),
                ev(
                    30_500,
                    Body::SwitchedToAFork {
                        block: "b3".into(),
                        tip: Default::default(),
                        headers: Vec::new(),
                    },
                ),
            ],
        ),
        (
            "c",
            vec![
                adopted(10_500, "b1", 1),
                forged(20_050, 2, "f2", "b1"),
                adopted(30_400, "b3", 2),
                adopted(31_000, "zz", 1),
            ],
        ),
    ]
}

#[test]
fn main_chain_forks_and_adoption_delays() {
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 2, 0]] {
        let hosts = logs();
        let mut b = ChainBuilder::default();
        for i in order {
            let (h, evs) = &hosts[i];
            for e in evs {
                b.add(h, e);
            }
        }
        let chain = b.finish();
        let main: Vec<&str> = chain.main.iter().map(|b| b.hash.as_str()).collect();
        assert_eq!(main, ["b1", "b2", "b3"], "order {order:?}");
        assert_eq!(chain.forks.len(), 1);
        assert!(chain.unchained.is_empty());
        assert_eq!(
            (chain.forks[0].hash.as_str(), chain.forks[0].block_no),
            ("f2", 2)
        );
        assert_eq!(chain.forks[0].adopted_by, ["a", "d"]);
        assert_eq!(
            chain.forks[0].prev, "b1",
            "the fork hangs off the main chain at b1"
        );
        assert_eq!(chain.unknown_adoptions, 1);
        let delays = |i: usize| {
            let mut d = chain.main[i].adoption_delays();
            d.sort_by(f64::total_cmp);
            d.iter()
                .map(|x| (x * 1000.0).round() as u64)
                .collect::<Vec<_>>()
        };
        assert_eq!(delays(0), [200, 500, 600]);
        // c adopted b2 only as part of b3's two-block extension; d by its fork switch.
        assert_eq!(delays(1), [100, 10_400, 10_500]);
        assert_eq!(delays(2), [300, 400, 500]);
        assert_eq!(chain.main[0].forger.as_deref(), Some("a"));
        assert_eq!(
            chain.main[0].missing_adoptions(["a", "b", "c", "d", "e"].into_iter()),
            1,
            "e logged nothing"
        );
    }
}

#[test]
fn blocks_whose_chain_the_logs_do_not_show_are_not_called_forks() {
    // One producer of a larger network: its blocks' predecessors were forged elsewhere.
    let mut b = ChainBuilder::default();
    b.add("p", &forged(10_000, 5, "x", "other-1"));
    b.add("p", &forged(50_000, 9, "y", "other-2"));
    let chain = b.finish();
    assert_eq!(chain.main.len(), 1);
    assert_eq!(chain.main[0].hash, "y");
    assert!(chain.forks.is_empty());
    assert_eq!(chain.unchained.len(), 1);
    assert_eq!(chain.unchained[0].hash, "x");
}
