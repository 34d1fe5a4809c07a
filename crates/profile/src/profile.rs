//! The profile: one JSON object describing a cluster, its chain and its workload, with the
//! section and field names of Cardano's workbench profiles (`name`, `desc`, `scenario`,
//! `composition`, `genesis`, `node`, `generator`, `tracer`, `analysis`, `overlay`, `derived`),
//! plus wb's own `network` (how the emulated links behave).
//!
//! `derived` is computed from the rest ([`Profile::derive`]) and refused in input: durations,
//! transaction count, shutdown slot and the expected number of blocks are never hand-set.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use wb_node::costs::{Calibration, CostConfig, CostMode};
use wb_node::link::{LinkConfig, LinkModel, TcpParams};

use crate::topology::Shape;

/// How a run ends and what runs in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Nodes only, for a fixed time.
    Idle,
    /// The tracer alone.
    TracerOnly,
    /// Nodes for a fixed time.
    Fixed,
    /// Nodes and the generator until its transactions are done, plus a cooldown.
    FixedLoaded,
    /// A fresh node syncs an existing chain from a peer.
    Chainsync,
}

/// The cluster's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Composition {
    /// Regions the nodes are spread over (`loopback`, or AWS regions for emulated WAN links).
    pub locations: Vec<String>,
    /// Block-producing nodes.
    pub n_pools: usize,
    /// A non-producing explorer node that downloads from every producer.
    #[serde(default)]
    pub with_explorer: bool,
    /// `line`, `uni-circle`, `torus` or `torus-dense`.
    pub topology: Shape,
}

/// Chain parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisSpec {
    /// Network magic.
    pub network_magic: u32,
    /// Lovelace for the generator's funds.
    pub funds_balance: u64,
    /// Stake per pool, lovelace.
    pub per_pool_balance: u64,
    /// Praos `f`.
    pub active_slots_coeff: f64,
    /// Slots per epoch.
    pub epoch_length: u64,
    /// Praos `k`.
    pub parameter_k: u64,
    /// Seconds per slot.
    pub slot_duration: f64,
    /// `maxBlockBodySize`, if not the default.
    #[serde(default)]
    pub max_block_size: Option<u64>,
    /// Extra seconds before the system start.
    #[serde(default)]
    pub extra_future_offset: f64,
}

/// Node options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeOptions {
    /// Forward traces to the tracer (`trace_forwarding` in Haskell); off: nodes keep their own logs.
    pub tracer: bool,
    /// `full` (the analysis's namespaces at Info, Debug for the forging loop) or `minimal`.
    #[serde(default = "default_tracing")]
    pub tracing: String,
    /// Stop every node at this slot (derived from the scenario when absent).
    #[serde(default)]
    pub shutdown_on_slot_synced: Option<u64>,
    /// Stop every node when its chain reaches this block.
    #[serde(default)]
    pub shutdown_on_block_synced: Option<u64>,
    /// cardano-node's costs charged to the emulated node: `none` or `cardano-node-10`
    /// (default: `cardano-node-10` where the cluster spans regions, as a real one does; else
    /// `none`).
    #[serde(default)]
    pub costs: Option<Calibration>,
    /// How the costs are charged: `wait` (default) or `burn` (CPU, for contention studies).
    #[serde(default)]
    pub cost_mode: CostMode,
    /// Diffusion pipelining, as cardano-node does it: a block's header goes on to peers while
    /// the block is validated (default `true`; `false` for the ablation).
    #[serde(default = "yes")]
    pub pipelining: bool,
}

/// How the emulated links behave (wb's own section).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkOptions {
    /// `simple` (latency plus serialisation) or `tcp` (congestion window, round trips,
    /// slow-start restart); default: `tcp` where the cluster spans regions, else `simple`.
    #[serde(default)]
    pub link_model: Option<LinkModel>,
    /// The TCP model's parameters (`mss`, `initial_window`, `receive_window`,
    /// `slow_start_after_idle`, `min_rto_ms`, `jitter_ms`, `loss`).
    #[serde(default)]
    pub tcp: TcpParams,
    /// Each host's uplink, Mbit/s, shared by all its connections; absent: unlimited.
    #[serde(default)]
    pub uplink_mbps: Option<f64>,
}

fn default_tracing() -> String {
    "full".into()
}

/// The generator's workload (tx-generator's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    /// Target transactions per second.
    pub tps: f64,
    /// Inputs per transaction.
    pub inputs_per_tx: usize,
    /// Outputs per transaction.
    pub outputs_per_tx: usize,
    /// Fixed fee; absent: the minimum.
    #[serde(default)]
    pub tx_fee: Option<u64>,
    /// Seconds to pause after each confirmed setup phase.
    pub init_cooldown: f64,
    /// Metadata padding per transaction, bytes.
    #[serde(default)]
    pub add_tx_size: Option<usize>,
    /// How long the generator runs, in epochs.
    pub epochs: f64,
}

/// Tracer options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracerOptions {
    /// Sample the tracer's own resources.
    #[serde(default)]
    pub withresources: bool,
    /// Serve the live page.
    #[serde(default = "yes")]
    pub live_view: bool,
}

fn yes() -> bool {
    true
}

/// Analysis options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisOptions {
    /// `standard`, `performance`, or none.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Chain density below which a run is suspect.
    #[serde(default)]
    pub minimum_chain_density: Option<f64>,
    /// Chain filters by name (`unitary`, `adopt-10`, `size-full`, …) or file, all applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// Chain filters as JSON expressions (locli's syntax, plus `COr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_exprs: Vec<serde_json::Value>,
}

/// Values computed from the rest of the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// `slot_duration × epoch_length`, seconds.
    pub epoch_duration: f64,
    /// Seconds the generator runs (0 without one).
    pub generator_duration: f64,
    /// `ceil(generator_duration × tps)`.
    pub generator_tx_count: u64,
    /// Seconds from system start to the nodes' shutdown.
    pub shutdown_time: f64,
    /// The slot at which nodes stop.
    pub shutdown_slot: u64,
    /// `f × shutdown_slot`: blocks a healthy run makes.
    pub expected_blocks: f64,
    /// Seconds between allocation and the system start.
    pub genesis_future_offset: f64,
    /// Nodes in all.
    pub n_hosts: usize,
    /// The link model in force (`network.link_model` or its default).
    pub link_model: LinkModel,
    /// The node cost calibration in force (`node.costs` or its default).
    pub node_costs: Calibration,
}

/// A benchmark profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub desc: String,
    /// How the run goes.
    pub scenario: Scenario,
    /// The cluster.
    pub composition: Composition,
    /// The chain.
    pub genesis: GenesisSpec,
    /// Node options.
    pub node: NodeOptions,
    /// The workload; absent for idle profiles.
    #[serde(default)]
    pub generator: Option<GeneratorSpec>,
    /// Tracer options.
    pub tracer: TracerOptions,
    /// Analysis options.
    pub analysis: AnalysisOptions,
    /// Link emulation (wb's own section; absent: every default).
    #[serde(default)]
    pub network: NetworkOptions,
    /// Free JSON merged on top, recorded as given.
    #[serde(default)]
    pub overlay: Value,
    /// Computed; refused in input.
    #[serde(default, skip_deserializing)]
    pub derived: Option<Derived>,
}

/// A profile that cannot be used; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: field {field}: {message}")]
pub struct ProfileError {
    /// The profile's name or file.
    pub origin: String,
    /// The field path (`generator.tps`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Seconds a small cluster needs between allocation and slot 0.
const FUTURE_OFFSET_S: f64 = 5.0;
/// Seconds after the generator's last transaction for it to be adopted.
const COOLDOWN_S: f64 = 10.0;

impl Profile {
    /// Parses a profile (with overlay and overrides already merged into `v`), refusing unknown
    /// fields and hand-set `derived`, and computes `derived`.
    pub fn from_value(v: Value, origin: &str) -> Result<Profile, ProfileError> {
        let err = |field: String, message: String| ProfileError {
            origin: origin.into(),
            field,
            message,
        };
        if v.get("derived").is_some_and(|d| !d.is_null()) {
            return Err(err(
                "derived".into(),
                "is computed from the rest of the profile; remove it".into(),
            ));
        }
        let p: Profile = serde_path_to_error::deserialize(v).map_err(|e| {
            let field = e.path().to_string();
            err(
                if field == "." {
                    "(top level)".into()
                } else {
                    field
                },
                e.into_inner().to_string(),
            )
        })?;
        p.check().map_err(|(f, m)| err(f.into(), m))?;
        Ok(p.derive())
    }

    fn check(&self) -> Result<(), (&'static str, String)> {
        let g = &self.genesis;
        if !(g.active_slots_coeff > 0.0 && g.active_slots_coeff <= 1.0) {
            return Err((
                "genesis.active_slots_coeff",
                format!("must be in (0, 1], got {}", g.active_slots_coeff),
            ));
        }
        if g.slot_duration.is_nan() || g.slot_duration <= 0.0 {
            return Err(("genesis.slot_duration", "must be positive".into()));
        }
        if g.epoch_length == 0 || g.parameter_k == 0 {
            return Err((
                "genesis.epoch_length",
                "epoch_length and parameter_k must be at least 1".into(),
            ));
        }
        if self.composition.n_pools == 0 && self.scenario != Scenario::TracerOnly {
            return Err((
                "composition.n_pools",
                "at least one pool is needed to make blocks".into(),
            ));
        }
        if self.composition.locations.is_empty() {
            return Err((
                "composition.locations",
                "at least one location (e.g. \"loopback\")".into(),
            ));
        }
        if self.scenario == Scenario::FixedLoaded && self.generator.is_none() {
            return Err((
                "generator",
                "scenario fixed-loaded needs a generator".into(),
            ));
        }
        if let Some(workload) = &self.generator {
            if workload.tps.is_nan()
                || workload.tps <= 0.0
                || workload.epochs.is_nan()
                || workload.epochs <= 0.0
            {
                return Err(("generator.tps", "tps and epochs must be positive".into()));
            }
        }
        let link = self.link_config();
        link.tcp.check().map_err(|e| ("network.tcp", e))?;
        link.check().map_err(|e| ("network.uplink_mbps", e))?;
        if !matches!(self.node.tracing.as_str(), "full" | "minimal") {
            return Err((
                "node.tracing",
                format!("{:?} is not \"full\" or \"minimal\"", self.node.tracing),
            ));
        }
        Ok(())
    }

    /// Whether the cluster spans more than one place: then it stands for a real cloud cluster,
    /// and the models of one (TCP links, cardano-node's costs) are on by default.
    pub fn spans_regions(&self) -> bool {
        let mut places = self.composition.locations.iter();
        let first = places.next();
        places.any(|l| Some(l) != first)
    }

    /// The nodes' link emulation: the `network` section with its defaults resolved.
    pub fn link_config(&self) -> LinkConfig {
        let n = &self.network;
        LinkConfig {
            model: n.link_model.unwrap_or(if self.spans_regions() {
                LinkModel::Tcp
            } else {
                LinkModel::Simple
            }),
            tcp: n.tcp.clone(),
            uplink_mbps: n.uplink_mbps,
        }
    }

    /// The nodes' costs: `node.costs` and `node.cost_mode` with their defaults resolved.
    pub fn cost_config(&self) -> CostConfig {
        CostConfig {
            calibration: self.node.costs.unwrap_or(if self.spans_regions() {
                Calibration::CardanoNode10
            } else {
                Calibration::None
            }),
            mode: self.node.cost_mode,
        }
    }

    /// The profile with `derived` computed.
    pub fn derive(mut self) -> Profile {
        self.derived = Some(self.compute_derived());
        self
    }

    /// The derived values of this profile (whether or not `derived` is filled in).
    pub fn compute_derived(&self) -> Derived {
        let g = &self.genesis;
        let epoch_duration = g.slot_duration * g.epoch_length as f64;
        let (generator_duration, generator_tx_count) = match (&self.generator, self.scenario) {
            (Some(workload), Scenario::FixedLoaded) => {
                let d = workload.epochs * epoch_duration;
                (d, (d * workload.tps).ceil() as u64)
            }
            _ => (0.0, 0),
        };
        let shutdown_time = match self.scenario {
            Scenario::FixedLoaded => generator_duration + COOLDOWN_S,
            _ => epoch_duration,
        };
        let shutdown_slot = self
            .node
            .shutdown_on_slot_synced
            .unwrap_or_else(|| (shutdown_time / g.slot_duration).ceil() as u64);
        let n_hosts = self.composition.n_pools + usize::from(self.composition.with_explorer);
        Derived {
            link_model: self.link_config().model,
            node_costs: self.cost_config().calibration,
            epoch_duration,
            generator_duration,
            generator_tx_count,
            shutdown_time: shutdown_slot as f64 * g.slot_duration,
            shutdown_slot,
            expected_blocks: g.active_slots_coeff * shutdown_slot as f64,
            genesis_future_offset: FUTURE_OFFSET_S + g.extra_future_offset,
            n_hosts,
        }
    }
}

/// Sets `path` (dotted, e.g. `generator.tps`) in `v` to `value` (read as JSON, else as a string).
pub fn set_path(v: &mut Value, path: &str, value: &str) -> Result<(), String> {
    let parsed: Value =
        serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = cur
            .as_object_mut()
            .ok_or_else(|| format!("--set {path}: {} is not an object", parts[..i].join(".")))?;
        if i + 1 == parts.len() {
            obj.insert((*part).to_owned(), parsed);
            return Ok(());
        }
        cur = obj
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    Err(format!("--set {path}: empty path"))
}

/// Merges `overlay` into `base`: objects recursively, anything else replaced.
pub fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}
