//! Reading the database back: runs listed and shown, and one metric's trend over a profile's
//! runs, each run tested against the one before it.

use serde_json::Value;
use wb_analyse::field;
use wb_report::Thresholds;
use wb_report::stats;
use wb_report::trend::TrendPoint;

use crate::store::{Cell, DbError, Param, Store};

/// One run as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Its tag.
    pub run_id: String,
    /// Its profile.
    pub profile: String,
    /// What ran: wb's version and commit.
    pub version: String,
    /// When it was allocated.
    pub started_at: String,
    /// Its wall-clock length, s.
    pub duration_s: Option<f64>,
    /// How it ended.
    pub outcome: String,
    /// How many metrics it has values of.
    pub metrics: i64,
}

const RUN_COLUMNS: &str = "r.run_id, r.profile, r.wb_version, r.commit_id, r.started_at, r.duration_s, r.outcome, (SELECT count(*) FROM metric_values v WHERE v.run_id = r.run_id)";

fn run_row(c: &[Cell]) -> RunRow {
    let commit = c[3].text();
    RunRow {
        run_id: c[0].text(),
        profile: c[1].text(),
        version: format!("{}+{}", c[2].text(), &commit[..commit.len().min(7)]),
        started_at: c[4].text(),
        duration_s: c[5].real(),
        outcome: c[6].text(),
        metrics: c[7].int().unwrap_or(0),
    }
}

/// The runs, oldest first, of `profile` if given, allocated at or after `since` (an RFC 3339
/// date or time, `2026-12-01`) if given.
pub fn list(
    store: &mut Store,
    profile: Option<&str>,
    since: Option<&str>,
) -> Result<Vec<RunRow>, DbError> {
    let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE 1 = 1");
    let mut params: Vec<Param> = Vec::new();
    if let Some(p) = profile {
        params.push(p.into());
        sql += &format!(" AND r.profile = ${}", params.len());
    }
    if let Some(d) = since {
        params.push(d.into());
        sql += &format!(" AND r.started_at >= ${}", params.len());
    }
    sql += " ORDER BY r.started_at, r.run_id";
    Ok(store
        .query(&sql, &params)?
        .iter()
        .map(|r| run_row(r))
        .collect())
}

/// One run in full: its row, its manifest, and every metric's value and unit.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDetail {
    /// As listed.
    pub row: RunRow,
    /// The manifest it was published with.
    pub manifest: Value,
    /// The hash of its profile's content.
    pub profile_hash: String,
    /// (metric, value, unit), in dictionary order.
    pub values: Vec<(String, f64, String)>,
    /// The series it belongs to.
    pub series: Vec<String>,
    /// Recorded verdicts on it: (baseline, metric, verdict, Δ%, noise model), regressions first.
    pub verdicts: Vec<(String, String, String, Option<f64>, String)>,
}

/// The run `run_id`, if stored.
pub fn show(store: &mut Store, run_id: &str) -> Result<Option<RunDetail>, DbError> {
    let rows = store.query(
        &format!(
            "SELECT {RUN_COLUMNS}, r.manifest, r.profile_hash FROM runs r WHERE r.run_id = $1"
        ),
        &[run_id.into()],
    )?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let mut values: Vec<(String, f64, String)> = store
        .query(
            "SELECT metric, value, unit FROM metric_values WHERE run_id = $1",
            &[run_id.into()],
        )?
        .iter()
        .filter_map(|c| Some((c[0].text(), c[1].real()?, c[2].text())))
        .collect();
    let order = |id: &str| field::all().position(|f| f.id == id).unwrap_or(usize::MAX);
    values.sort_by_key(|v| order(&v.0));
    let series = store
        .query(
            "SELECT series_id FROM series_runs WHERE run_id = $1 ORDER BY series_id",
            &[run_id.into()],
        )?
        .iter()
        .map(|c| c[0].text())
        .collect();
    let mut verdicts: Vec<(String, String, String, Option<f64>, String)> = store
        .query(
            "SELECT c.baseline, v.metric, v.verdict, v.delta_pct, c.model FROM verdicts v JOIN comparisons c ON c.comparison_id = v.comparison_id WHERE v.run_id = $1",
            &[run_id.into()],
        )?
        .iter()
        .map(|c| (c[0].text(), c[1].text(), c[2].text(), c[3].real(), c[4].text()))
        .collect();
    let rank = |v: &str| {
        ["regression", "improvement", "inconclusive", "no change"]
            .iter()
            .position(|r| *r == v)
            .unwrap_or(4)
    };
    verdicts.sort_by(|a, b| (rank(&a.2), &a.0, &a.1).cmp(&(rank(&b.2), &b.0, &b.1)));
    Ok(Some(RunDetail {
        verdicts,
        row: run_row(r),
        manifest: serde_json::from_str(&r[8].text()).unwrap_or(Value::Null),
        profile_hash: r[9].text(),
        values,
        series,
    }))
}

/// Why a trend cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    /// The metric is not in the dictionary.
    #[error("{0}: no such metric (`wb dictionary` lists them)")]
    Metric(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// `metric` over the finished runs of `profile`, oldest first. Each run whose metric has
/// per-block values is tested against the run before it (the same tests as `wb compare`,
/// Holm-corrected over the whole trend), so the trend marks where the metric moved.
pub fn trend(
    store: &mut Store,
    metric: &str,
    profile: &str,
    thresholds: &Thresholds,
) -> Result<Vec<TrendPoint>, TrendError> {
    let f = field::lookup(metric).ok_or_else(|| TrendError::Metric(metric.to_owned()))?;
    let rows = store.query(
        "SELECT r.run_id, r.started_at, r.wb_version, r.commit_id, v.value, s.samples FROM runs r JOIN metric_values v ON v.run_id = r.run_id AND v.metric = $1 LEFT JOIN metric_samples s ON s.run_id = r.run_id AND s.metric = $1 WHERE r.profile = $2 AND r.outcome = 'finished' ORDER BY r.started_at, r.run_id",
        &[metric.into(), profile.into()],
    )?;
    let mut points: Vec<(TrendPoint, Vec<f64>)> = rows
        .iter()
        .filter_map(|c| {
            let commit = c[3].text();
            Some((
                TrendPoint {
                    run: c[0].text(),
                    date: c[1].text(),
                    version: format!("{}+{}", c[2].text(), &commit[..commit.len().min(7)]),
                    value: c[4].real()?,
                    verdict: None,
                },
                serde_json::from_str(&c[5].text()).unwrap_or_default(),
            ))
        })
        .collect();
    let mut tests = Vec::new();
    for i in 1..points.len() {
        let (a, b) = (&points[i - 1].1, &points[i].1);
        if a.len() >= 5 && b.len() >= 5 {
            tests.push((i, stats::compare(a, b, i as u64)));
        }
    }
    let adjusted = stats::holm(&tests.iter().map(|(_, c)| c.p).collect::<Vec<_>>());
    for ((i, c), p) in tests.into_iter().zip(adjusted) {
        let v = stats::verdict(&c, p, thresholds.of(f), f.better);
        points[i].0.verdict = Some(wb_report::trend::Called {
            verdict: v,
            delta_pct: if c.mean.0 == 0.0 {
                0.0
            } else {
                c.delta / c.mean.0.abs() * 100.0
            },
            p_holm: p,
            mde_pct: c.mde_pct,
        });
    }
    Ok(points.into_iter().map(|(p, _)| p).collect())
}
