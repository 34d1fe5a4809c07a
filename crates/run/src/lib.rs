//! Runs of a benchmark cluster: the run directory and its `meta.json`, allocation of every
//! process's files from a profile, the backend interface with the local process backend,
//! scenarios, the progress display and the end-of-run summary.

pub mod backend;
pub mod lifecycle;
pub mod local;
pub mod manifest;
pub mod plan;
pub mod progress;
pub mod rundir;
pub mod signals;
pub mod summary;
pub mod timing;
pub mod watch;
