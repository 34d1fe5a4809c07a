//! The schema, one for SQLite and PostgreSQL, as numbered migrations. A database records the
//! migrations applied to it in `wb_schema`; opening applies the missing ones in order, each in
//! its own transaction, and refuses a database of a newer version than this wb knows.

use crate::store::{DbError, Param, Store};

/// The migrations, oldest first: version `i + 1` is `MIGRATIONS[i]`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "runs, their metric values, CDF centiles and per-block samples",
        "
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    profile_hash TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    wb_version TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    hostname TEXT NOT NULL,
    cpu_model TEXT NOT NULL,
    cpus BIGINT NOT NULL,
    memory_mib BIGINT NOT NULL,
    manifest TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_s DOUBLE PRECISION,
    outcome TEXT NOT NULL,
    published_at TEXT NOT NULL
);
CREATE TABLE metric_values (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    unit TEXT NOT NULL,
    PRIMARY KEY (run_id, metric)
);
CREATE TABLE metric_centiles (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    centile DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, metric, centile)
);
CREATE TABLE metric_samples (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    n BIGINT NOT NULL,
    samples TEXT NOT NULL,
    PRIMARY KEY (run_id, metric)
);
",
    ),
    (
        "series of repeated runs, comparisons and their verdicts",
        "
CREATE INDEX runs_by_profile ON runs (profile, started_at);
CREATE TABLE series (
    series_id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    seeds TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE series_runs (
    series_id TEXT NOT NULL REFERENCES series (series_id) ON DELETE CASCADE,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    PRIMARY KEY (series_id, run_id)
);
CREATE TABLE comparisons (
    comparison_id TEXT PRIMARY KEY,
    baseline TEXT NOT NULL,
    runs TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE verdicts (
    comparison_id TEXT NOT NULL REFERENCES comparisons (comparison_id) ON DELETE CASCADE,
    run_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    verdict TEXT NOT NULL,
    delta DOUBLE PRECISION,
    delta_pct DOUBLE PRECISION,
    ci_lo DOUBLE PRECISION,
    ci_hi DOUBLE PRECISION,
    p_holm DOUBLE PRECISION,
    mde_pct DOUBLE PRECISION,
    PRIMARY KEY (comparison_id, run_id, metric)
);
",
    ),
];

/// The newest schema version this wb knows.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// The database's schema version (0: empty).
pub fn version(store: &mut Store) -> Result<i64, DbError> {
    store.batch(
        "CREATE TABLE IF NOT EXISTS wb_schema (version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    let rows = store.query("SELECT max(version) FROM wb_schema", &[])?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(|c| c.int())
        .unwrap_or(0))
}

/// Brings the database to version `upto` (normally [`latest`]); the versions applied.
pub fn migrate(store: &mut Store, upto: i64) -> Result<Vec<i64>, DbError> {
    let found = version(store)?;
    if found > latest() {
        return Err(DbError::Newer {
            db: store.location.clone(),
            found,
            known: latest(),
        });
    }
    let mut applied = Vec::new();
    for v in (found + 1)..=upto.min(latest()) {
        let (description, sql) = MIGRATIONS[(v - 1) as usize];
        store.transaction(|s| {
            s.batch(sql)?;
            s.execute(
                "INSERT INTO wb_schema (version, description, applied_at) VALUES ($1, $2, $3)",
                &[
                    Param::from(v),
                    Param::from(description),
                    Param::from(crate::now()),
                ],
            )?;
            Ok(())
        })?;
        applied.push(v);
    }
    Ok(applied)
}
