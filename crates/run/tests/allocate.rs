//! Allocation from a profile: the same profile and seed give the same genesis and topology;
//! variants change what they say; every process gets its files.

use std::path::Path;

use wb_profile::catalog;
use wb_run::plan::{Role, allocate};
use wb_run::rundir::RunDir;
use wb_run::timing::Timing;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn same_profile_and_seed_give_the_same_genesis_and_topology() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache");
    let p = catalog::load("value-local-52", &[], None).unwrap();
    let timing = Timing::allocate(&p, 1_795_500_000);
    let mut runs = Vec::new();
    for (tag, seed) in [("a", 7), ("b", 7), ("c", 8)] {
        let run = RunDir::create(&root.path().join("runs"), tag).unwrap();
        let plan = allocate(&run, &p, seed, &cache, &timing).unwrap();
        runs.push((run, plan));
    }
    let (a, b, c) = (&runs[0].0, &runs[1].0, &runs[2].0);
    for f in [
        "genesis/genesis.json",
        "genesis/funds.skey",
        "genesis/pools/pool-51.skey",
        "topology.json",
        "topology.dot",
        "node-7/config.yaml",
        "profile.json",
    ] {
        assert_eq!(
            read(&a.join(f)),
            read(&b.join(f)),
            "{f} differs for the same seed"
        );
    }
    assert_ne!(
        read(&a.join("genesis/genesis.json")),
        read(&c.join("genesis/genesis.json")),
        "another seed, other keys"
    );
    assert_eq!(
        read(&a.join("topology.json")),
        read(&c.join("topology.json"))
    );
    // The system start is the run's.
    let g: serde_json::Value =
        serde_json::from_str(&read(&a.join("genesis/genesis.json"))).unwrap();
    assert_eq!(g["systemStart"], timing.system_start);
    // The block size limit is written even when the profile leaves it to the node (the
    // analysis's fullness filters are relative to it).
    assert_eq!(g["protocolParams"]["maxBlockBodySize"], 90_112);

    // 52 producers and an explorer, each with its files; links carry the regions' latencies.
    let plan = &runs[0].1;
    assert_eq!(plan.nodes.len(), 53);
    assert_eq!(
        plan.nodes
            .iter()
            .filter(|n| n.role == Role::Producer)
            .count(),
        52
    );
    assert_eq!(plan.nodes[52].name, "explorer");
    assert!(!plan.nodes[52].args.contains(&"--pool-key".to_owned()));
    let explorer: serde_json::Value =
        serde_json::from_str(&read(&a.join("explorer/topology.json"))).unwrap();
    let peers = explorer["Producers"].as_array().unwrap();
    assert_eq!(peers.len(), 52);
    assert!(
        peers
            .iter()
            .any(|p| p["latencyMs"].as_f64().unwrap() > 50.0),
        "WAN links"
    );
    let script: serde_json::Value =
        serde_json::from_str(&read(&a.join("generator/run-script.json"))).unwrap();
    assert_eq!(script["tps"], 12.0);
    assert_eq!(script["inputs_per_tx"], 2);
    assert_eq!(script["targetNodes"].as_array().unwrap().len(), 52);
    assert_eq!(
        script["tx_count"].as_u64().unwrap(),
        p.derived.as_ref().unwrap().generator_tx_count
    );
    assert!(plan.live_page.is_some() && plan.tracer.is_some());
}

#[test]
fn variants_change_tracing_and_forwarding() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache");
    let runs = root.path().join("runs");
    for (name, forwarded, minimal) in [
        ("ci-test", true, false),
        ("ci-test-notracer", false, false),
        ("ci-test-tracing-minimal", true, true),
    ] {
        let p = catalog::load(name, &[], None).unwrap();
        let run = RunDir::create(&runs, name).unwrap();
        let plan = allocate(&run, &p, 0, &cache, &Timing::allocate(&p, 1_795_500_000)).unwrap();
        let cfg = read(&run.join("node-0/config.yaml"));
        assert_eq!(
            cfg.contains("[Forwarder, EKGBackend]"),
            forwarded,
            "{name}: {cfg}"
        );
        assert_eq!(
            cfg.contains("[Stdout MachineFormat, EKGBackend]"),
            !forwarded,
            "{name}"
        );
        assert_eq!(plan.tracer.is_some(), forwarded, "{name}");
        let connects = plan.nodes[0]
            .args
            .contains(&"--tracer-socket-path-connect".to_owned());
        assert_eq!(connects, forwarded, "{name}");
        assert_eq!(cfg.contains("severity: Notice"), minimal, "{name}");
        // Loaded runs stop when the generator is done, not at a slot.
        assert!(
            !plan.nodes[0]
                .args
                .contains(&"--shutdown-on-slot-synced".to_owned())
        );
        // Every node's config names the shared genesis, relative to its own directory.
        assert!(cfg.starts_with("GenesisFile: ../genesis/genesis.json\n"));
    }
    // An idle run's nodes stop by themselves at the derived slot.
    let p = catalog::load("idle", &[], None).unwrap();
    let run = RunDir::create(&runs, "idle").unwrap();
    let plan = allocate(&run, &p, 0, &cache, &Timing::allocate(&p, 1_795_500_000)).unwrap();
    let slot = p.derived.as_ref().unwrap().shutdown_slot.to_string();
    assert!(
        plan.nodes[0]
            .args
            .windows(2)
            .any(|w| w[0] == "--shutdown-on-slot-synced" && w[1] == slot)
    );
    assert!(plan.generator.is_none());
}
