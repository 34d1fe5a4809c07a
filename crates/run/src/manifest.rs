//! The manifest of a run (`meta.json .meta.manifest`): what produced it and where. Cardano's
//! workbench records component versions from the Nix/cabal plan; wb is one binary, so its
//! version and commit stand for every component, plus the facts of the machine that matter when
//! comparing runs (CPU, cores, memory, kernel).

use serde::{Deserialize, Serialize};

/// What built and ran a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `wb`'s version.
    pub wb_version: String,
    /// The git commit wb was built from (`unknown` outside a checkout).
    pub commit: String,
    /// `clean` or `dirty` at build time.
    pub status: String,
    /// The branch at build time.
    pub branch: String,
    /// Kernel name and release (`Linux 6.1.0`).
    pub os: String,
    /// CPU model.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Physical memory, MiB.
    pub memory_mib: u64,
    /// Host name.
    pub hostname: String,
}

/// The commit wb was built from.
pub const COMMIT: &str = env!("WB_GIT_COMMIT");

/// The first `n` characters of the commit (all of `unknown`).
pub fn short_commit(n: usize) -> &'static str {
    &COMMIT[..n.min(COMMIT.len())]
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The manifest of this build on this machine.
pub fn collect() -> Manifest {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let memory_mib = read("/proc/meminfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb / 1024);
    Manifest {
        wb_version: env!("CARGO_PKG_VERSION").into(),
        commit: COMMIT.into(),
        status: env!("WB_GIT_STATUS").into(),
        branch: env!("WB_GIT_BRANCH").into(),
        os: format!(
            "{} {}",
            read("/proc/sys/kernel/ostype"),
            read("/proc/sys/kernel/osrelease")
        ),
        cpu_model,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_mib,
        hostname: read("/proc/sys/kernel/hostname"),
    }
}
