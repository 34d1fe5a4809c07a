//! Allocation: from a profile to the run's files and the processes a backend starts. Everything a
//! process needs is written into the run directory, with paths relative to the process's own
//! directory, so a run directory can be moved, inspected, or replayed process by process.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wb_profile::profile::{Profile, Scenario};
use wb_profile::topology::{self, Topology};

use crate::rundir::{RunDir, RunDirError, write_json_atomic};
use crate::timing::Timing;

/// What a process is in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The tracer service.
    Tracer,
    /// A block producer.
    Producer,
    /// A node that does not forge (the explorer, a syncing node).
    Relay,
    /// The transaction generator.
    Generator,
}

/// One process of a run, as a backend starts it: `wb <args>` in `run/<dir>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// `tracer`, `node-N`, `explorer`, `generator`.
    pub name: String,
    /// What it is.
    pub role: Role,
    /// Its directory inside the run (its working directory).
    pub dir: PathBuf,
    /// The `wb` subcommand and flags; paths relative to `dir`.
    pub args: Vec<String>,
    /// A file (relative to `dir`) whose appearance means the process is ready.
    pub ready: Option<PathBuf>,
}

/// The processes of a run and where to watch it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The tracer, when nodes forward.
    pub tracer: Option<ProcessSpec>,
    /// Producers then the explorer.
    pub nodes: Vec<ProcessSpec>,
    /// The generator, for loaded scenarios.
    pub generator: Option<ProcessSpec>,
    /// The tracer's live page.
    pub live_page: Option<String>,
    /// The tracer's Prometheus endpoint.
    pub prometheus: Option<String>,
    /// Node ports on 127.0.0.1, by node index.
    pub ports: Vec<u16>,
    /// The topology.
    pub topology: Topology,
}

/// Why a run could not be allocated.
#[derive(Debug, thiserror::Error)]
pub enum AllocateError {
    /// A run-directory failure.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// The profile's topology cannot be built.
    #[error("profile field composition: {0}")]
    Topology(#[from] topology::TopologyError),
    /// A file could not be written.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

fn write(path: &Path, text: &str) -> Result<(), AllocateError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| AllocateError::Io(d.to_owned(), e))?;
    }
    std::fs::write(path, text).map_err(|e| AllocateError::Io(path.to_owned(), e))
}

/// Writes `profile.json`, `genesis/`, `topology.json`, `topology.dot` and every process's files
/// into `run`, and returns the processes to start.
pub fn allocate(
    run: &RunDir,
    profile: &Profile,
    seed: u64,
    genesis_cache: &Path,
    timing: &Timing,
) -> Result<Plan, AllocateError> {
    let profile_json = serde_json::to_value(profile).unwrap_or(Value::Null);
    write_json_atomic(&run.join("profile.json"), &profile_json)?;
    let c = &profile.composition;
    let with_nodes = profile.scenario != Scenario::TracerOnly;
    let topo = if with_nodes {
        topology::make(c.topology, c.n_pools, &c.locations, c.with_explorer)?
    } else {
        Topology { nodes: Vec::new() }
    };
    write(
        &run.join("topology.json"),
        &serde_json::to_string_pretty(&topo.to_json()).unwrap_or_default(),
    )?;
    write(&run.join("topology.dot"), &topo.to_dot())?;
    let genesis_dir = run.join("genesis");
    std::fs::create_dir_all(&genesis_dir).map_err(|e| AllocateError::Io(genesis_dir.clone(), e))?;
    let entry =
        wb_profile::genesis::write(&genesis_dir, genesis_cache, profile, seed, timing.start)
            .map_err(|e| AllocateError::Io(genesis_cache.to_owned(), e))?;
    // Where the key material came from, as the workbench's `genesis/cache-entry` link says.
    let _ = std::os::unix::fs::symlink(&entry, genesis_dir.join("cache-entry"));

    let ports = wb_node::testnet::free_ports(topo.nodes.len() + 2)
        .map_err(|e| AllocateError::Io("127.0.0.1".into(), e))?;
    let (http_ports, ports) = ports.split_at(2);
    let forwarding = profile.node.tracer;
    let tracer_socket = "../tracer/tracer.socket";

    let tracer = if forwarding || !with_nodes {
        let mut cfg = format!(
            "networkMagic: {}\nnetwork: {{tag: AcceptAt, contents: tracer.socket}}\nlogging:\n  - {{logRoot: logs, logMode: FileMode, logFormat: ForMachine}}\nhasPrometheus: {{epHost: 127.0.0.1, epPort: {}}}\n",
            profile.genesis.network_magic, http_ports[0]
        );
        if profile.tracer.live_view {
            cfg += &format!(
                "hasLiveView: {{epHost: 127.0.0.1, epPort: {}}}\n",
                http_ports[1]
            );
        }
        if profile.tracer.withresources {
            cfg += "resourceFreq: 1000\n";
        }
        write(&run.join("tracer/config.yaml"), &cfg)?;
        Some(ProcessSpec {
            name: "tracer".into(),
            role: Role::Tracer,
            dir: "tracer".into(),
            args: vec!["tracer".into(), "--config".into(), "config.yaml".into()],
            ready: Some("tracer.socket".into()),
        })
    } else {
        None
    };

    let mut nodes = Vec::new();
    for spec in &topo.nodes {
        let dir = PathBuf::from(&spec.name);
        let backend = if forwarding {
            "Forwarder"
        } else {
            "Stdout MachineFormat"
        };
        write(
            &run.join(&dir).join("config.yaml"),
            &node_config(&spec.name, backend, profile),
        )?;
        let topo_json = topo.node_topology_json(spec.i, |j| ports[j]);
        write(
            &run.join(&dir).join("topology.json"),
            &serde_json::to_string_pretty(&topo_json).unwrap_or_default(),
        )?;
        let mut args: Vec<String> = [
            "node",
            "--config",
            "config.yaml",
            "--topology",
            "topology.json",
            "--database-path",
            "db",
            "--host-addr",
            "127.0.0.1",
            "--port",
        ]
        .map(String::from)
        .into();
        args.push(ports[spec.i].to_string());
        args.extend(["--socket-path".into(), "node.socket".into()]);
        if spec.producer {
            args.extend([
                "--pool-key".into(),
                format!("../genesis/pools/pool-{}.skey", spec.i),
            ]);
        }
        if forwarding {
            args.extend(["--tracer-socket-path-connect".into(), tracer_socket.into()]);
        }
        // Loaded runs end when the generator is done (plus a cooldown), so their nodes run until
        // stopped; the others stop by themselves at the derived slot, as the workbench's do.
        let shutdown = profile
            .node
            .shutdown_on_slot_synced
            .or(match profile.scenario {
                Scenario::Idle | Scenario::Fixed => {
                    profile.derived.as_ref().map(|d| d.shutdown_slot)
                }
                _ => None,
            });
        if let Some(slot) = shutdown {
            args.extend(["--shutdown-on-slot-synced".into(), slot.to_string()]);
        }
        if let Some(block) = profile.node.shutdown_on_block_synced {
            args.extend(["--shutdown-on-block-synced".into(), block.to_string()]);
        }
        nodes.push(ProcessSpec {
            name: spec.name.clone(),
            role: if spec.producer {
                Role::Producer
            } else {
                Role::Relay
            },
            dir,
            args,
            ready: Some("node.socket".into()),
        });
    }

    let generator = match (&profile.generator, profile.scenario) {
        (Some(g), Scenario::FixedLoaded) => {
            let d = profile.compute_derived();
            let producers: Vec<&ProcessSpec> =
                nodes.iter().filter(|n| n.role == Role::Producer).collect();
            let first = producers
                .first()
                .map_or("node-0".to_owned(), |n| n.name.clone());
            let first_port = topo.nodes.first().map_or(0, |n| ports[n.i]);
            let gen_ = &profile.genesis;
            // A setup phase waits for blocks; give it twenty block intervals, at least a minute.
            let phase_timeout = (20.0 * gen_.slot_duration / gen_.active_slots_coeff).max(60.0);
            let mut script = json!({
                "tps": g.tps,
                "tx_count": d.generator_tx_count,
                "inputs_per_tx": g.inputs_per_tx,
                "outputs_per_tx": g.outputs_per_tx,
                "init_cooldown": g.init_cooldown,
                "era": "Conway",
                "genesisFile": "../genesis/genesis.json",
                "sigKey": "../genesis/funds.skey",
                "localNodeSocketPath": format!("../{first}/node.socket"),
                "chainFollow": format!("127.0.0.1:{first_port}"),
                "targetNodes": producers.iter().map(|n| json!({"name": n.name, "socket": format!("../{}/node.socket", n.name)})).collect::<Vec<_>>(),
                "phase_timeout": phase_timeout,
            });
            if let Some(fee) = g.tx_fee {
                script["tx_fee"] = json!(fee);
            }
            if let Some(pad) = g.add_tx_size {
                script["add_tx_size"] = json!(pad);
            }
            write_json_atomic(&run.join("generator/run-script.json"), &script)?;
            let mut args: Vec<String> = ["txgen", "--config", "run-script.json"]
                .map(String::from)
                .into();
            if forwarding {
                args.extend(["--tracer-socket-path-connect".into(), tracer_socket.into()]);
            }
            Some(ProcessSpec {
                name: "generator".into(),
                role: Role::Generator,
                dir: "generator".into(),
                args,
                ready: None,
            })
        }
        _ => None,
    };
    Ok(Plan {
        live_page: (tracer.is_some() && profile.tracer.live_view)
            .then(|| format!("http://127.0.0.1:{}/", http_ports[1])),
        prometheus: tracer
            .is_some()
            .then(|| format!("http://127.0.0.1:{}/metrics", http_ports[0])),
        tracer,
        nodes,
        generator,
        ports: ports.to_vec(),
        topology: topo,
    })
}

/// A node's configuration: the genesis, its name, the profile's link emulation and node costs,
/// and the trace options of the profile's tracing level, sent to `backend` (`Forwarder` or
/// `Stdout MachineFormat`).
///
/// `full` gives the analysis what it reads (the forging loop, block fetch and chain sync at
/// Debug, the rest at Info); `minimal` keeps only what tells blocks were made and adopted and the
/// resource samples, as a floor for measuring what tracing costs.
pub fn node_config(name: &str, backend: &str, profile: &Profile) -> String {
    let tracing = profile.node.tracing.as_str();
    // JSON is YAML: the sections are written as flow mappings.
    let json = |v: serde_json::Value| v.to_string();
    let mut s = format!(
        "GenesisFile: ../genesis/genesis.json\nTraceOptionNodeName: {name}\nTraceOptionResourceFrequency: 1000\nLinkEmulation: {}\nNodeCosts: {}\nDiffusionPipelining: {}\nTraceOptions:\n",
        json(serde_json::to_value(profile.link_config()).unwrap_or_default()),
        json(serde_json::to_value(profile.cost_config()).unwrap_or_default()),
        profile.node.pipelining,
    );
    if tracing == "minimal" {
        s += &format!("  '':\n    severity: Notice\n    backends: [{backend}, EKGBackend]\n");
        for ns in [
            "Forge.Loop.StartLeadershipCheck",
            "Forge.Loop.ForgedBlock",
            "Forge.Loop.AdoptedBlock",
            "ChainDB.AddBlockEvent.AddedToCurrentChain",
            "ChainDB.AddBlockEvent.SwitchedToAFork",
            "Resources",
        ] {
            s += &format!("  {ns}:\n    severity: Info\n");
        }
    } else {
        s += &format!("  '':\n    severity: Info\n    backends: [{backend}, EKGBackend]\n");
        for ns in [
            "Forge.Loop",
            "ChainSync.Client",
            "ChainSync.ServerHeader",
            "BlockFetch.Client",
            "BlockFetch.Server",
            "ChainDB.AddBlockEvent",
        ] {
            s += &format!("  {ns}:\n    severity: Debug\n");
        }
    }
    s
}
