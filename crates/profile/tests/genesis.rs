//! Genesis from a profile: deterministic, cached, and readable by the node.

use wb_profile::{catalog, genesis};

#[test]
fn same_profile_and_seed_give_the_same_genesis_but_the_start() {
    let p = catalog::load("ci-test", &[], None).unwrap();
    let a = genesis::genesis_json(&p, &genesis::keys(&p, 7), 7, 1_800_000_000);
    let b = genesis::genesis_json(&p, &genesis::keys(&p, 7), 7, 1_800_000_100);
    let mut b2 = b.clone();
    b2["systemStart"] = a["systemStart"].clone();
    assert_eq!(a, b2);
    assert_ne!(a["systemStart"], b["systemStart"]);
    let c = genesis::genesis_json(&p, &genesis::keys(&p, 8), 8, 1_800_000_000);
    assert_ne!(a["pools"], c["pools"], "another seed, other keys");
    assert_eq!(a["pools"].as_array().unwrap().len(), 6);
}

#[test]
fn written_genesis_is_cached_and_loads_in_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let p = catalog::load("ci-test", &[], None).unwrap();
    let run1 = dir.path().join("run1");
    let e1 = genesis::write(&run1, &cache, &p, 42, 1_800_000_000).unwrap();
    let mtime = std::fs::metadata(e1.join("keys.json"))
        .unwrap()
        .modified()
        .unwrap();
    let run2 = dir.path().join("run2");
    let e2 = genesis::write(&run2, &cache, &p, 42, 1_800_000_500).unwrap();
    assert_eq!(e1, e2);
    assert_eq!(
        std::fs::metadata(e2.join("keys.json"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime,
        "the cache entry was reused"
    );
    assert_eq!(
        std::fs::read(run1.join("pools/pool-3.skey")).unwrap(),
        std::fs::read(run2.join("pools/pool-3.skey")).unwrap()
    );
    let g = wb_ledger::genesis::Genesis::from_file(&run2.join("genesis.json")).unwrap();
    assert_eq!(g.pools.len(), 6);
    assert_eq!(g.slot_nanos(), 200_000_000);
    assert_eq!(g.system_start_nanos(), 1_800_000_500 * 1_000_000_000);
    assert_eq!(
        g.initial_funds.values().sum::<u64>(),
        p.genesis.funds_balance
    );
    assert_ne!(genesis::cache_key(&p, 42), genesis::cache_key(&p, 43));
}
