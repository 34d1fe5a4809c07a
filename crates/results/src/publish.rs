//! Storing runs, series and comparisons. Publishing is idempotent: a run is keyed by its tag,
//! the same analysis published again changes nothing, a re-analysed run replaces its figures.

use crate::record::RunRecord;
use crate::store::{DbError, Param, Store};

/// What publishing one run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Stored for the first time.
    Stored,
    /// Already stored with the same figures: nothing changed.
    Unchanged,
    /// Stored before with other figures (re-analysed): replaced.
    Updated,
}

impl Published {
    /// How it reads.
    pub fn describe(self) -> &'static str {
        match self {
            Published::Stored => "stored",
            Published::Unchanged => "already stored, unchanged",
            Published::Updated => "updated (re-analysed)",
        }
    }
}

/// Stores one run: all of it, or (on any error) nothing.
pub fn publish(store: &mut Store, r: &RunRecord) -> Result<Published, DbError> {
    store.transaction(|s| {
        let existing = s.query(
            "SELECT content_hash FROM runs WHERE run_id = $1",
            &[r.run_id.as_str().into()],
        )?;
        let outcome = match existing.first() {
            Some(row) if row[0].text() == r.content_hash => return Ok(Published::Unchanged),
            Some(_) => Published::Updated,
            None => Published::Stored,
        };
        let m = &r.manifest;
        let text = |k: &str| Param::from(m[k].as_str().unwrap_or("unknown"));
        let int = |k: &str| Param::from(m[k].as_i64().unwrap_or(0));
        let row = [
            r.run_id.as_str().into(),
            r.profile.as_str().into(),
            r.profile_hash.as_str().into(),
            r.content_hash.as_str().into(),
            text("wb_version"),
            text("commit"),
            text("hostname"),
            text("cpu_model"),
            int("cpus"),
            int("memory_mib"),
            m.to_string().into(),
            r.started_at.as_str().into(),
            r.finished_at.clone().into(),
            r.duration_s.into(),
            r.outcome.as_str().into(),
            crate::now().into(),
        ];
        if outcome == Published::Updated {
            // Replace the figures but keep the row (and so its series memberships).
            for t in ["metric_values", "metric_centiles", "metric_samples"] {
                s.execute(
                    &format!("DELETE FROM {t} WHERE run_id = $1"),
                    &[r.run_id.as_str().into()],
                )?;
            }
            s.execute(
                "UPDATE runs SET profile = $2, profile_hash = $3, content_hash = $4, wb_version = $5, commit_id = $6, hostname = $7, cpu_model = $8, cpus = $9, memory_mib = $10, manifest = $11, started_at = $12, finished_at = $13, duration_s = $14, outcome = $15, published_at = $16 WHERE run_id = $1",
                &row,
            )?;
        } else {
            s.execute(
                "INSERT INTO runs (run_id, profile, profile_hash, content_hash, wb_version, commit_id, hostname, cpu_model, cpus, memory_mib, manifest, started_at, finished_at, duration_s, outcome, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                &row,
            )?;
        }
        for (metric, (value, unit)) in &r.values {
            s.execute(
                "INSERT INTO metric_values (run_id, metric, value, unit) VALUES ($1, $2, $3, $4)",
                &[
                    r.run_id.as_str().into(),
                    metric.as_str().into(),
                    (*value).into(),
                    unit.as_str().into(),
                ],
            )?;
        }
        for (metric, cs) in &r.centiles {
            for (p, v) in cs {
                s.execute(
                    "INSERT INTO metric_centiles (run_id, metric, centile, value) VALUES ($1, $2, $3, $4)",
                    &[
                        r.run_id.as_str().into(),
                        metric.as_str().into(),
                        (*p).into(),
                        (*v).into(),
                    ],
                )?;
            }
        }
        for (metric, xs) in &r.samples {
            s.execute(
                "INSERT INTO metric_samples (run_id, metric, n, samples) VALUES ($1, $2, $3, $4)",
                &[
                    r.run_id.as_str().into(),
                    metric.as_str().into(),
                    (xs.len() as i64).into(),
                    serde_json::to_string(xs).unwrap_or_default().into(),
                ],
            )?;
        }
        Ok(outcome)
    })
}

/// Records a series: repeated runs of one profile, in order (their runs published first).
pub fn publish_series(
    store: &mut Store,
    series_id: &str,
    profile: &str,
    seeds: &str,
    run_ids: &[String],
) -> Result<(), DbError> {
    store.transaction(|s| {
        s.execute(
            "INSERT INTO series (series_id, profile, seeds, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (series_id) DO NOTHING",
            &[
                series_id.into(),
                profile.into(),
                seeds.into(),
                crate::now().into(),
            ],
        )?;
        for (i, run) in run_ids.iter().enumerate() {
            s.execute(
                "INSERT INTO series_runs (series_id, run_id, position) VALUES ($1, $2, $3) ON CONFLICT (series_id, run_id) DO NOTHING",
                &[series_id.into(), run.as_str().into(), (i as i64).into()],
            )?;
        }
        Ok(())
    })
}

/// One verdict of a comparison, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictRow {
    /// The run compared with the baseline.
    pub run_id: String,
    /// The metric.
    pub metric: String,
    /// `regression`, `improvement`, `no change` or `inconclusive`.
    pub verdict: String,
    /// Difference of means, run − baseline.
    pub delta: f64,
    /// The same in % of the baseline.
    pub delta_pct: f64,
    /// Its 95 % confidence interval.
    pub ci: (f64, f64),
    /// The p-value after Holm's correction.
    pub p_holm: f64,
    /// The minimum detectable effect, %.
    pub mde_pct: f64,
}

/// Records a comparison and its verdicts; the same comparison (baseline, runs and model)
/// recorded again replaces its verdicts.
pub fn publish_comparison(
    store: &mut Store,
    baseline: &str,
    runs: &[String],
    model: &str,
    verdicts: &[VerdictRow],
) -> Result<String, DbError> {
    let id = {
        let mut h = blake2b_simd::Params::new().hash_length(12).to_state();
        h.update(baseline.as_bytes());
        for r in runs {
            h.update(b"\0");
            h.update(r.as_bytes());
        }
        h.update(b"\0");
        h.update(model.as_bytes());
        h.finalize().to_hex().to_string()
    };
    store.transaction(|s| {
        s.execute(
            "DELETE FROM comparisons WHERE comparison_id = $1",
            &[id.as_str().into()],
        )?;
        s.execute(
            "DELETE FROM verdicts WHERE comparison_id = $1",
            &[id.as_str().into()],
        )?;
        s.execute(
            "INSERT INTO comparisons (comparison_id, baseline, runs, model, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                id.as_str().into(),
                baseline.into(),
                serde_json::to_string(runs).unwrap_or_default().into(),
                model.into(),
                crate::now().into(),
            ],
        )?;
        for v in verdicts {
            s.execute(
                "INSERT INTO verdicts (comparison_id, run_id, metric, verdict, delta, delta_pct, ci_lo, ci_hi, p_holm, mde_pct) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    id.as_str().into(),
                    v.run_id.as_str().into(),
                    v.metric.as_str().into(),
                    v.verdict.as_str().into(),
                    v.delta.into(),
                    v.delta_pct.into(),
                    v.ci.0.into(),
                    v.ci.1.into(),
                    v.p_holm.into(),
                    v.mde_pct.into(),
                ],
            )?;
        }
        Ok(id)
    })
}
