//! The built-in profiles load, derive what they promise, and refuse what is wrong by name.

use serde_json::json;
use wb_profile::catalog;
use wb_profile::profile::Scenario;

#[test]
fn every_builtin_profile_and_variant_loads() {
    let names = catalog::names();
    assert!(names.len() >= 24, "{names:?}");
    for name in &names {
        let p = catalog::load(name, &[], None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&p.name, name);
        let d = p.derived.as_ref().unwrap();
        assert!(d.shutdown_slot > 0 && d.epoch_duration > 0.0, "{name}");
    }
    assert!(
        !catalog::load("ci-test-notracer", &[], None)
            .unwrap()
            .node
            .tracer
    );
    assert_eq!(
        catalog::load("idle-tracing-minimal", &[], None)
            .unwrap()
            .node
            .tracing,
        "minimal"
    );
    assert!(
        catalog::load("no-such", &[], None)
            .unwrap_err()
            .to_string()
            .contains("no such profile")
    );
}

#[test]
fn ci_test_is_short_and_still_makes_blocks() {
    let p = catalog::load("ci-test", &[], None).unwrap();
    let d = p.derived.unwrap();
    assert_eq!(p.scenario, Scenario::FixedLoaded);
    assert!(d.shutdown_time <= 150.0, "{}", d.shutdown_time);
    assert!(d.expected_blocks >= 40.0, "{}", d.expected_blocks);
    assert_eq!(
        d.generator_tx_count,
        (d.generator_duration * 15.0).ceil() as u64
    );
    let big = catalog::load("value-local-52", &[], None).unwrap();
    assert_eq!(big.derived.unwrap().n_hosts, 53);
}

#[test]
fn overrides_and_overlays_change_the_derived_values() {
    let p = catalog::load("ci-test", &[("generator.tps".into(), "20".into())], None).unwrap();
    let d = p.derived.unwrap();
    assert_eq!(
        d.generator_tx_count,
        (d.generator_duration * 20.0).ceil() as u64
    );
    let overlay = json!({"genesis": {"slot_duration": 0.1}});
    let q = catalog::load("ci-test", &[], Some(&overlay)).unwrap();
    assert_eq!(q.genesis.slot_duration, 0.1);
    assert_eq!(q.overlay, overlay);
}

#[test]
fn wrong_fields_are_refused_by_name_before_anything_starts() {
    let e = catalog::load("ci-test", &[("generator.tpz".into(), "3".into())], None).unwrap_err();
    assert!(
        e.to_string().contains("tpz") && e.field.starts_with("generator"),
        "{e}"
    );
    let e = catalog::load(
        "ci-test",
        &[("genesis.active_slots_coeff".into(), "2".into())],
        None,
    )
    .unwrap_err();
    assert_eq!(e.field, "genesis.active_slots_coeff", "{e}");
    let e = catalog::load(
        "ci-test",
        &[("derived.shutdown_slot".into(), "5".into())],
        None,
    )
    .unwrap_err();
    assert_eq!(e.field, "derived");
    let e = catalog::load(
        "ci-test",
        &[("composition.topology".into(), "\"star\"".into())],
        None,
    )
    .unwrap_err();
    assert!(e.field.starts_with("composition.topology"), "{e}");
}

#[test]
fn diff_names_the_differing_fields() {
    let a = catalog::raw("ci-test").unwrap();
    let b = catalog::raw("ci-bench").unwrap();
    let fields: Vec<String> = catalog::diff(&a, &b)
        .into_iter()
        .map(|(f, _, _)| f)
        .collect();
    assert!(
        fields.contains(&"generator.epochs".to_owned()),
        "{fields:?}"
    );
    assert!(fields.contains(&"name".to_owned()));
    assert!(!fields.contains(&"genesis.slot_duration".to_owned()));
}

#[test]
fn the_same_profile_derives_the_same_values() {
    assert_eq!(
        catalog::load("default", &[], None).unwrap(),
        catalog::load("default", &[], None).unwrap()
    );
}

#[test]
fn every_builtin_profile_has_a_buildable_topology() {
    for name in catalog::names() {
        let p = catalog::load(&name, &[], None).unwrap();
        if p.composition.n_pools == 0 {
            continue;
        }
        let t = wb_profile::topology::make(
            p.composition.topology,
            p.composition.n_pools,
            &p.composition.locations,
            p.composition.with_explorer,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.nodes.len(), p.derived.unwrap().n_hosts, "{name}");
    }
}

#[test]
fn multi_region_profiles_model_a_real_cluster_by_default() {
    use wb_node::costs::{Calibration, CostMode};
    use wb_node::link::LinkModel;
    // Three AWS regions: TCP links and cardano-node's costs unless the profile says otherwise.
    let p = catalog::load("value-local-52", &[], None).unwrap();
    assert_eq!(p.link_config().model, LinkModel::Tcp);
    assert_eq!(p.cost_config().calibration, Calibration::CardanoNode10);
    assert_eq!(p.derived.as_ref().unwrap().link_model, LinkModel::Tcp);
    // One machine's loopback: neither.
    let q = catalog::load("ci-test", &[], None).unwrap();
    assert_eq!(q.link_config().model, LinkModel::Simple);
    assert_eq!(q.cost_config().calibration, Calibration::None);
    // Each element can be switched off (the ablation) or set.
    let r = catalog::load(
        "value-local-52",
        &[
            ("network.link_model".into(), "\"simple\"".into()),
            ("node.costs".into(), "\"none\"".into()),
            ("node.cost_mode".into(), "\"burn\"".into()),
            ("node.pipelining".into(), "false".into()),
            ("network.tcp.slow_start_after_idle".into(), "false".into()),
            ("network.uplink_mbps".into(), "1000".into()),
        ],
        None,
    )
    .unwrap();
    assert_eq!(r.link_config().model, LinkModel::Simple);
    assert!(!r.link_config().tcp.slow_start_after_idle);
    assert_eq!(r.link_config().uplink_mbps, Some(1000.0));
    assert_eq!(r.cost_config().calibration, Calibration::None);
    assert_eq!(r.cost_config().mode, CostMode::Burn);
    assert!(p.node.pipelining && !r.node.pipelining);
}

#[test]
fn bad_link_and_cost_settings_are_refused_by_field() {
    for (path, value, field) in [
        ("network.tcp.loss", "1.5", "network.tcp"),
        ("network.tcp.mss", "10", "network.tcp"),
        ("network.uplink_mbps", "0", "network.uplink_mbps"),
        ("network.link_model", "\"udp\"", "network.link_model"),
        ("node.costs", "\"cardano-node-9\"", "node.costs"),
    ] {
        let e =
            catalog::load("value-local-52", &[(path.into(), value.into())], None).expect_err(path);
        assert!(e.field.starts_with(field), "{path}: {e}");
    }
}
