//! The results database against SQLite and against a real PostgreSQL server on loopback (the
//! one `scripts/test.sh` starts, named by `WB_TEST_PG`): publishing twice stores once, queries
//! return what was stored, migrations apply from an empty database and from the previous
//! version, a trend marks a real shift, and each failure gives its one clear line.

use std::path::{Path, PathBuf};

use wb_analyse::analysis::{Options, analyse, write};
use wb_analyse::inventory::group_by_host;
use wb_analyse::synth;
use wb_results::publish::{Published, publish};
use wb_results::{RunRecord, query, schema};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(files_under(&p));
        } else {
            v.push(p);
        }
    }
    v
}

/// A finished run directory of profile `profile`: a synthetic cluster's logs (known answers),
/// analysed, and the `meta.json` `wb run` writes.
fn run_dir(root: &Path, tag: &str, profile: &str, seed: u64, day: u32) -> PathBuf {
    let dir = root.join(tag);
    let o = synth::Options {
        hosts: 4,
        length: synth::Length::Slots(300),
        seed,
        active_slot_coeff: 0.2,
        ..synth::Options::default()
    };
    synth::generate(&o, &dir.join("logs"), 2).unwrap();
    let genesis = dir.join("genesis.json");
    std::fs::write(
        &genesis,
        format!(
            r#"{{"systemStart":"{}","slotLength":1,"epochLength":100,"securityParam":5,"activeSlotsCoeff":0.2}}"#,
            wb_trace::time::machine_time(o.start)
        ),
    )
    .unwrap();
    let opts = Options {
        genesis: Some(genesis),
        threads: 2,
        ..Options::default()
    };
    let out = dir.join("analysis");
    let a = analyse(&group_by_host(&files_under(&dir.join("logs"))), &opts, &out).unwrap();
    write(&a, &out).unwrap();
    let meta = serde_json::json!({"meta": {
        "tag": tag, "profile": profile, "status": "finished",
        "allocated_at": format!("2026-12-{day:02}T10:00:00Z"),
        "finished_at": format!("2026-12-{day:02}T10:05:00Z"),
        "manifest": {"wb_version": "0.1.0", "commit": format!("{seed:07}abcdef"), "hostname": "bench-1",
                     "cpu_model": "Test CPU", "cpus": 2, "memory_mib": 24000, "os": "Linux 6.1",
                     "status": "clean", "branch": "main"},
        "profile_content": {"name": profile, "composition": {"n_hosts": 4}},
        "outcome": {"status": "finished", "cpu": {"wall_s": 300.5}},
    }});
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    dir
}

/// Multiplies one column of a run's `blocks.csv` (a metric's per-block values) by `factor`.
fn scale_blocks(dir: &Path, column: &str, factor: f64) {
    let path = dir.join("analysis/blocks.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == column).unwrap();
    let mut out = vec![head.join(",")];
    for l in lines {
        let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
        if let Ok(v) = cells[col].parse::<f64>() {
            cells[col] = format!("{:.6}", v * factor);
        }
        out.push(cells.join(","));
    }
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

/// A fresh PostgreSQL database for one test on the server `WB_TEST_PG` names, or `None` (the
/// test then says it skipped PostgreSQL, by name) when there is none and none is required.
fn postgres_db(name: &str) -> Option<String> {
    let Ok(admin) = std::env::var("WB_TEST_PG") else {
        assert!(
            std::env::var_os("WB_TEST_PG_REQUIRED").is_none(),
            "WB_TEST_PG_REQUIRED is set but WB_TEST_PG is not"
        );
        eprintln!(
            "skipped: {name} on PostgreSQL (no WB_TEST_PG; scripts/test.sh starts a server and sets it)"
        );
        return None;
    };
    let mut c = postgres::Client::connect(&admin, postgres::NoTls)
        .expect("the WB_TEST_PG server must accept its own URL");
    let db = format!("wbt_{name}");
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{db}"))
}

/// The databases a test runs against: a SQLite file in `dir`, and PostgreSQL when there.
fn databases(dir: &Path, name: &str) -> Vec<String> {
    let mut v = vec![dir.join(format!("{name}.sqlite")).display().to_string()];
    v.extend(postgres_db(name));
    v
}

#[test]
fn publishing_twice_stores_once_and_queries_return_what_was_stored() {
    let root = tempfile::tempdir().unwrap();
    let run = run_dir(root.path(), "run-a", "ci-test", 3, 1);
    let rec = RunRecord::read(&run).unwrap();
    assert!(rec.values.contains_key("cdf0.50") && rec.samples["cdf0.50"].len() >= 5);
    for db in databases(root.path(), "publish_twice") {
        let mut s = wb_results::open(&db).unwrap();
        assert_eq!(publish(&mut s, &rec).unwrap(), Published::Stored, "{db}");
        assert_eq!(publish(&mut s, &rec).unwrap(), Published::Unchanged);
        let rows = query::list(&mut s, None, None).unwrap();
        assert_eq!(rows.len(), 1, "{db}");
        assert_eq!(rows[0].run_id, "run-a");
        assert_eq!(rows[0].version, "0.1.0+0000003");
        assert_eq!(rows[0].metrics as usize, rec.values.len());
        let shown = query::show(&mut s, "run-a").unwrap().unwrap();
        assert_eq!(shown.manifest["cpu_model"], "Test CPU");
        assert_eq!(shown.row.duration_s, Some(300.5));
        for (metric, v, unit) in &shown.values {
            let (want, want_unit) = &rec.values[metric];
            assert!((v - want).abs() <= want.abs() * 1e-12, "{metric} in {db}");
            assert_eq!(unit, want_unit);
        }
        assert_eq!(shown.values.len(), rec.values.len());
        let n: i64 = s
            .query(
                "SELECT count(*) FROM metric_centiles WHERE run_id = 'run-a'",
                &[],
            )
            .unwrap()[0][0]
            .int()
            .unwrap();
        assert_eq!(
            n as usize,
            rec.centiles.values().map(Vec::len).sum::<usize>()
        );
        // Filters.
        assert_eq!(query::list(&mut s, Some("default"), None).unwrap().len(), 0);
        assert_eq!(
            query::list(&mut s, Some("ci-test"), Some("2026-12-01"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            query::list(&mut s, None, Some("2026-12-02")).unwrap().len(),
            0
        );
        assert!(query::show(&mut s, "nope").unwrap().is_none());
    }
    // Re-analysed: the figures are replaced, the run is still stored once.
    scale_blocks(&run, "cdf0.50", 2.0);
    let again = RunRecord::read(&run).unwrap();
    assert_ne!(again.content_hash, rec.content_hash);
    for db in databases(root.path(), "publish_twice_update") {
        let mut s = wb_results::open(&db).unwrap();
        publish(&mut s, &rec).unwrap();
        assert_eq!(publish(&mut s, &again).unwrap(), Published::Updated, "{db}");
        assert_eq!(query::list(&mut s, None, None).unwrap().len(), 1);
    }
}

#[test]
fn migrations_apply_from_empty_and_from_the_previous_version() {
    let root = tempfile::tempdir().unwrap();
    let run = run_dir(root.path(), "run-m", "ci-test", 4, 2);
    let rec = RunRecord::read(&run).unwrap();
    for db in databases(root.path(), "migrations") {
        // From the previous version, with a run stored in it.
        {
            let mut s = wb_results::Store::open(&db).unwrap();
            assert_eq!(schema::version(&mut s).unwrap(), 0);
            assert_eq!(
                schema::migrate(&mut s, schema::latest() - 1).unwrap(),
                (1..schema::latest()).collect::<Vec<_>>()
            );
            assert_eq!(publish(&mut s, &rec).unwrap(), Published::Stored);
        }
        let mut s = wb_results::open(&db).unwrap();
        assert_eq!(schema::version(&mut s).unwrap(), schema::latest(), "{db}");
        assert_eq!(query::list(&mut s, None, None).unwrap().len(), 1);
        wb_results::publish::publish_series(
            &mut s,
            "series-1",
            "ci-test",
            "same",
            &["run-m".into()],
        )
        .unwrap();
        assert_eq!(
            query::show(&mut s, "run-m").unwrap().unwrap().series,
            ["series-1"]
        );
        // Opening again applies nothing.
        assert!(
            schema::migrate(&mut s, schema::latest())
                .unwrap()
                .is_empty()
        );
    }
    // From empty.
    for db in databases(root.path(), "migrations_empty") {
        let mut s = wb_results::open(&db).unwrap();
        assert_eq!(schema::version(&mut s).unwrap(), schema::latest());
    }
}

#[test]
fn a_database_of_a_newer_schema_is_refused_by_name_and_left_alone() {
    let root = tempfile::tempdir().unwrap();
    for db in databases(root.path(), "newer") {
        {
            let mut s = wb_results::open(&db).unwrap();
            s.execute(
                "INSERT INTO wb_schema (version, description, applied_at) VALUES (99, 'from the future', 'x')",
                &[],
            )
            .unwrap();
        }
        let e = wb_results::open(&db).err().expect("refused");
        let msg = e.to_string();
        assert!(msg.contains("schema is version 99"), "{msg}");
        assert!(msg.contains("knows up to 2"), "{msg}");
        let shown = match e {
            wb_results::DbError::Newer { db, .. } => db.to_string(),
            e => panic!("{e}"),
        };
        assert!(
            msg.starts_with(&format!("results database {shown}:")),
            "{msg}"
        );
        assert!(!has_password(&msg), "{msg}");
    }
}

fn has_password(msg: &str) -> bool {
    std::env::var("WB_TEST_PG")
        .ok()
        .and_then(|u| {
            let auth = u.split_once("://")?.1.split_once('@')?.0.to_owned();
            Some(auth.split_once(':')?.1.to_owned())
        })
        .is_some_and(|pw| msg.contains(&pw))
}

#[test]
fn each_failure_gives_one_line_naming_the_database_without_its_password() {
    // Not an address wb knows.
    let e = wb_results::open("mysql://root:hunter2@127.0.0.1/wb")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("mysql://root:***@127.0.0.1/wb") && !e.contains("hunter2"),
        "{e}"
    );
    // A URL that does not parse.
    let e = wb_results::open("postgres://wb:hunter2@127.0.0.1:notaport/wb")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("results database postgres://wb:***@127.0.0.1:notaport/wb:"),
        "{e}"
    );
    assert!(!e.contains("hunter2") && !e.contains('\n'), "{e}");
    // Nobody listening (a port on loopback nothing binds).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let e = wb_results::open(&format!("postgres://wb:hunter2@127.0.0.1:{port}/wb"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "results database postgres://wb@127.0.0.1:{port}/wb:"
        )),
        "{e}"
    );
    assert!(
        e.contains("Connection refused") && !e.contains("hunter2") && !e.contains('\n'),
        "{e}"
    );
    // A file that is not a database.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("results.sqlite");
    std::fs::write(
        &junk,
        "this is not SQLite, it is a note that happens to sit here",
    )
    .unwrap();
    let e = wb_results::open(&junk.display().to_string())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains(&junk.display().to_string()) && e.contains("not a database"),
        "{e}"
    );
    // A refused password, on the real server.
    let Some(url) = postgres_db("refused") else {
        return;
    };
    let (scheme_user, rest) = url.split_once("://").unwrap().1.split_once(':').unwrap();
    let host_db = rest.split_once('@').unwrap().1;
    let wrong = format!("postgres://{scheme_user}:not-the-password@{host_db}");
    let e = wb_results::open(&wrong).err().unwrap().to_string();
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(
        e.starts_with(&format!("results database postgres://{scheme_user}@")),
        "{e}"
    );
    assert!(!e.contains("not-the-password") && !has_password(&e), "{e}");
    // Credentials from the PG* variables: the URL names only the server.
    let pw = url
        .split_once("://")
        .unwrap()
        .1
        .split_once('@')
        .unwrap()
        .0
        .split_once(':')
        .unwrap()
        .1
        .to_owned();
    // SAFETY (of the test): only this test reads the PG* variables.
    unsafe {
        std::env::set_var("PGUSER", scheme_user);
        std::env::set_var("PGPASSWORD", &pw);
    }
    let bare = format!("postgres://{host_db}");
    let mut s = wb_results::open(&bare).unwrap();
    assert!(!s.location.to_string().contains(&pw));
    assert_eq!(s.kind(), "postgresql");
    assert_eq!(schema::version(&mut s).unwrap(), schema::latest());
}

#[test]
fn a_trend_marks_the_run_where_adoption_got_slower() {
    let root = tempfile::tempdir().unwrap();
    let runs: Vec<PathBuf> = (0..4u32)
        .map(|i| {
            run_dir(
                root.path(),
                &format!("run-{i}"),
                "ci-test",
                10 + u64::from(i),
                1 + i,
            )
        })
        .collect();
    // The third run adopts every block 60 % later than the others.
    scale_blocks(&runs[2], "cdf0.50", 1.6);
    for db in databases(root.path(), "trend") {
        let mut s = wb_results::open(&db).unwrap();
        for r in &runs {
            publish(&mut s, &RunRecord::read(r).unwrap()).unwrap();
        }
        let t = wb_report::Thresholds::builtin();
        let points = query::trend(&mut s, "cdf0.50", "ci-test", &t).unwrap();
        assert_eq!(points.len(), 4, "{db}");
        assert!(points[0].verdict.is_none());
        use wb_report::stats::Verdict;
        let v = |i: usize| points[i].verdict.as_ref().map(|c| c.verdict);
        assert_eq!(v(2), Some(Verdict::Regression), "{points:?}");
        assert_eq!(v(3), Some(Verdict::Improvement), "{points:?}");
        assert_ne!(v(1), Some(Verdict::Regression));
        assert!(matches!(
            query::trend(&mut s, "noSuchMetric", "ci-test", &t),
            Err(query::TrendError::Metric(_))
        ));
        assert!(
            query::trend(&mut s, "cdf0.50", "other", &t)
                .unwrap()
                .is_empty()
        );
        // A comparison's verdicts are recorded, and recording it again replaces them.
        let row = wb_results::publish::VerdictRow {
            run_id: "run-2".into(),
            metric: "cdf0.50".into(),
            verdict: "regression".into(),
            delta: 0.1,
            delta_pct: 60.0,
            ci: (0.08, 0.12),
            p_holm: 0.0001,
            mde_pct: 12.0,
        };
        for _ in 0..2 {
            wb_results::publish::publish_comparison(
                &mut s,
                "run-1",
                &["run-2".into()],
                "blocks",
                std::slice::from_ref(&row),
            )
            .unwrap();
        }
        let shown = query::show(&mut s, "run-2").unwrap().unwrap();
        assert_eq!(
            shown.verdicts,
            [(
                "run-1".to_owned(),
                "cdf0.50".to_owned(),
                "regression".to_owned(),
                Some(60.0),
                "blocks".to_owned()
            )],
            "{db}"
        );
    }
}
