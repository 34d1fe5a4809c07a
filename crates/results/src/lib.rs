//! The results database: every analysed run kept, so that runs can be listed, shown, compared
//! and followed across versions and dates. A SQLite file under the runs directory by default;
//! PostgreSQL for a team (`postgres://…`). One schema on both.
//!
//! * `store`: one connection, SQLite or PostgreSQL, behind the same calls; errors that name the
//!   database and never its password;
//! * `schema`: the schema as numbered migrations, applied on open;
//! * `record`: what a run directory contributes (manifest, timing, outcome, every metric's
//!   figure, centiles and per-block samples);
//! * `publish`: storing runs (idempotent), series and comparisons;
//! * `query`: listing and showing runs, and a metric's trend with verdicts between
//!   consecutive runs.

pub mod publish;
pub mod query;
pub mod record;
pub mod schema;
pub mod store;

use std::path::Path;

pub use record::{RecordError, RunRecord};
pub use store::{DbError, Location, Store};

/// The default database of a runs directory: `<runs>/results.sqlite`.
pub fn default_db(runs_dir: &Path) -> String {
    runs_dir.join("results.sqlite").display().to_string()
}

/// Opens the database `spec` names (a file path or a `postgres://` URL) and brings its schema
/// up to date.
pub fn open(spec: &str) -> Result<Store, DbError> {
    let mut store = Store::open(spec)?;
    schema::migrate(&mut store, schema::latest())?;
    Ok(store)
}

/// Now, RFC 3339 UTC.
pub(crate) fn now() -> String {
    wb_trace::time::machine_time(wb_trace::time::now_unix_nanos())
}
