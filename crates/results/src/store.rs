//! One connection to a results database, SQLite or PostgreSQL, behind the same few calls. The
//! SQL is written once for both: portable types (`TEXT`, `BIGINT`, `DOUBLE PRECISION`),
//! `$n` parameters (SQLite reads them as numbered names in order) and `ON CONFLICT`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the results database cannot be used. Every message names the database as
/// [`Location`] shows it: a path, or a URL without its password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `--db` is neither a file path nor a `postgres://` URL that parses.
    #[error("results database {given}: {why}")]
    Address {
        /// What was given, its password removed.
        given: String,
        /// What is wrong with it.
        why: String,
    },
    /// The server could not be reached, refused the login, or the file could not be opened.
    #[error("results database {db}: {why}")]
    Connect {
        /// The database.
        db: Location,
        /// The server's or the system's reason.
        why: String,
    },
    /// The database was made by a newer wb.
    #[error(
        "results database {db}: its schema is version {found}, this wb knows up to {known}; use a newer wb (nothing was changed)"
    )]
    Newer {
        /// The database.
        db: Location,
        /// Its schema version.
        found: i64,
        /// The newest this wb knows.
        known: i64,
    },
    /// A statement failed.
    #[error("results database {db}: {why}")]
    Query {
        /// The database.
        db: Location,
        /// The reason.
        why: String,
    },
}

/// Where a results database is, as it may be shown: a file, or a PostgreSQL server and
/// database with the user but never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database: `postgres://user@host:port/dbname`.
    Postgres(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(s) => f.write_str(s),
        }
    }
}

/// A statement parameter. Nulls carry their type: PostgreSQL checks it.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Text.
    Text(Option<String>),
    /// A 64-bit integer.
    Int(Option<i64>),
    /// A double (non-finite values are stored as null).
    Real(Option<f64>),
}

impl From<&str> for Param {
    fn from(s: &str) -> Param {
        Param::Text(Some(s.to_owned()))
    }
}
impl From<String> for Param {
    fn from(s: String) -> Param {
        Param::Text(Some(s))
    }
}
impl From<Option<String>> for Param {
    fn from(s: Option<String>) -> Param {
        Param::Text(s)
    }
}
impl From<i64> for Param {
    fn from(v: i64) -> Param {
        Param::Int(Some(v))
    }
}
impl From<f64> for Param {
    fn from(v: f64) -> Param {
        Param::Real(v.is_finite().then_some(v))
    }
}
impl From<Option<f64>> for Param {
    fn from(v: Option<f64>) -> Param {
        Param::Real(v.filter(|v| v.is_finite()))
    }
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Null.
    Null,
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// A double.
    Real(f64),
}

impl Cell {
    /// As text (numbers printed), empty for null.
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(v) => v.to_string(),
            Cell::Real(v) => v.to_string(),
        }
    }

    /// As a number, if it is one.
    pub fn real(&self) -> Option<f64> {
        match self {
            Cell::Int(v) => Some(*v as f64),
            Cell::Real(v) => Some(*v),
            _ => None,
        }
    }

    /// As an integer, if it is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(v) => Some(*v),
            _ => None,
        }
    }
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// An open results database.
pub struct Store {
    conn: Conn,
    /// Where it is.
    pub location: Location,
}

/// What `--db` says: a `postgres://` (or `postgresql://`) URL, else a SQLite file path.
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// A URL with any password replaced by `***`, for messages about a URL that did not parse.
pub fn redact(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_owned();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return spec.to_owned(),
    };
    let user = auth.split_once(':').map_or(auth, |(u, _)| u);
    if user.len() == auth.len() {
        spec.to_owned()
    } else {
        format!("{scheme}://{user}:***@{host}")
    }
}

impl Store {
    /// Opens (creating if need be) the database `spec` names: a `postgres://` URL, its parts
    /// missing taken from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD` and `PGDATABASE` as libpq
    /// does, or a SQLite file (its directory created).
    pub fn open(spec: &str) -> Result<Store, DbError> {
        if is_postgres(spec) {
            Self::open_postgres(spec)
        } else if spec.contains("://") {
            Err(DbError::Address {
                given: redact(spec),
                why: "not a database address wb knows: give a file path (SQLite) or postgres://user@host:port/dbname".into(),
            })
        } else {
            Self::open_sqlite(Path::new(spec))
        }
    }

    fn open_sqlite(path: &Path) -> Result<Store, DbError> {
        let location = Location::Sqlite(path.to_owned());
        let fail = |why: String| DbError::Connect {
            db: location.clone(),
            why,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let conn = rusqlite::Connection::open(path).map_err(|e| fail(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(10))
            .and_then(|()| conn.execute_batch("PRAGMA foreign_keys = ON;"))
            .map_err(|e| fail(e.to_string()))?;
        // A file that is not a database shows here, not at the first insert.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Store {
            conn: Conn::Sqlite(conn),
            location,
        })
    }

    fn open_postgres(spec: &str) -> Result<Store, DbError> {
        let mut config: postgres::Config = spec.parse().map_err(|e| DbError::Address {
            given: redact(spec),
            why: format!("{e}"),
        })?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if config.get_hosts().is_empty() {
            config.host(&env("PGHOST").unwrap_or_else(|| "localhost".into()));
        }
        if config.get_ports().is_empty()
            && let Some(p) = env("PGPORT")
        {
            let port = p.parse().map_err(|_| DbError::Address {
                given: redact(spec),
                why: format!("PGPORT={p} is not a port"),
            })?;
            config.port(port);
        }
        if config.get_user().is_none() {
            config.user(
                &env("PGUSER")
                    .or_else(|| env("USER"))
                    .unwrap_or_else(|| "postgres".into()),
            );
        }
        if config.get_password().is_none()
            && let Some(p) = env("PGPASSWORD")
        {
            config.password(p);
        }
        if config.get_dbname().is_none()
            && let Some(d) = env("PGDATABASE")
        {
            config.dbname(&d);
        }
        config.connect_timeout(Duration::from_secs(5));
        config.application_name("wb");
        let location = Location::Postgres(postgres_location(&config));
        let client = config
            .connect(postgres::NoTls)
            .map_err(|e| DbError::Connect {
                db: location.clone(),
                why: postgres_reason(&e),
            })?;
        Ok(Store {
            conn: Conn::Postgres(Box::new(client)),
            location,
        })
    }

    /// `sqlite` or `postgresql`.
    pub fn kind(&self) -> &'static str {
        match self.conn {
            Conn::Sqlite(_) => "sqlite",
            Conn::Postgres(_) => "postgresql",
        }
    }

    fn fail(&self, why: String) -> DbError {
        DbError::Query {
            db: self.location.clone(),
            why,
        }
    }

    /// Runs statements without parameters (`;`-separated).
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let r = match &mut self.conn {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(|e| e.to_string()),
            Conn::Postgres(c) => c.batch_execute(sql).map_err(|e| postgres_reason(&e)),
        };
        r.map_err(|why| self.fail(why))
    }

    /// Runs one statement; the rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
        let r = match &mut self.conn {
            Conn::Sqlite(c) => c
                .execute(
                    sql,
                    rusqlite::params_from_iter(params.iter().map(sqlite_value)),
                )
                .map(|n| n as u64)
                .map_err(|e| e.to_string()),
            Conn::Postgres(c) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| b.as_ref()).collect();
                c.execute(sql, &refs).map_err(|e| postgres_reason(&e))
            }
        };
        r.map_err(|why| self.fail(why))
    }

    /// Runs a query; its rows.
    pub fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, DbError> {
        let r = match &mut self.conn {
            Conn::Sqlite(c) => sqlite_query(c, sql, params),
            Conn::Postgres(c) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| b.as_ref()).collect();
                c.query(sql, &refs)
                    .map_err(|e| postgres_reason(&e))
                    .map(|rows| rows.iter().map(pg_row).collect())
            }
        };
        r.map_err(|why| self.fail(why))
    }

    /// Runs `f` in one transaction: all of it is stored, or none.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.batch("BEGIN")?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// `postgres://user@host:port/dbname`: what a message may show of a connection.
fn postgres_location(c: &postgres::Config) -> String {
    let host = match c.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        c.get_user().unwrap_or(""),
        c.get_dbname().or(c.get_user()).unwrap_or("")
    )
}

/// One line saying why: the server's own message, else the connection's error and its cause.
fn postgres_reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_owned();
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s = format!("{s}: {c}");
        }
        source = cause.source();
    }
    if s.contains("Connection refused") {
        s.push_str(" (is the server running, and listening there?)");
    }
    s
}

fn sqlite_value(p: &Param) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match p {
        Param::Text(Some(s)) => Value::Text(s.clone()),
        Param::Int(Some(v)) => Value::Integer(*v),
        Param::Real(Some(v)) => Value::Real(*v),
        _ => Value::Null,
    }
}

fn sqlite_query(
    c: &rusqlite::Connection,
    sql: &str,
    params: &[Param],
) -> Result<Vec<Vec<Cell>>, String> {
    let mut stmt = c.prepare(sql).map_err(|e| e.to_string())?;
    let n = stmt.column_count();
    let rows = stmt
        .query_map(
            rusqlite::params_from_iter(params.iter().map(sqlite_value)),
            |row| {
                (0..n)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Cell::Null,
                            rusqlite::types::ValueRef::Integer(v) => Cell::Int(v),
                            rusqlite::types::ValueRef::Real(v) => Cell::Real(v),
                            rusqlite::types::ValueRef::Text(t) => {
                                Cell::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(b) => {
                                Cell::Text(String::from_utf8_lossy(b).into_owned())
                            }
                        })
                    })
                    .collect::<Result<Vec<Cell>, rusqlite::Error>>()
            },
        )
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

fn pg_params(params: &[Param]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
            match p {
                Param::Text(v) => Box::new(v.clone()),
                Param::Int(v) => Box::new(*v),
                Param::Real(v) => Box::new(*v),
            }
        })
        .collect()
}

fn pg_row(row: &postgres::Row) -> Vec<Cell> {
    use postgres::types::Type;
    (0..row.len())
        .map(|i| {
            let t = row.columns()[i].type_().clone();
            let cell = if t == Type::INT8 {
                row.get::<_, Option<i64>>(i).map(Cell::Int)
            } else if t == Type::INT4 {
                row.get::<_, Option<i32>>(i).map(|v| Cell::Int(v.into()))
            } else if t == Type::FLOAT8 {
                row.get::<_, Option<f64>>(i).map(Cell::Real)
            } else {
                row.try_get::<_, Option<String>>(i)
                    .ok()
                    .flatten()
                    .map(Cell::Text)
            };
            cell.unwrap_or(Cell::Null)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_an_address() {
        assert_eq!(
            redact("postgres://wb:s3cret@db.example:5432/wb"),
            "postgres://wb:***@db.example:5432/wb"
        );
        assert_eq!(redact("postgres://db/wb"), "postgres://db/wb");
        let e = Store::open("mysql://root:hunter2@h/db").err().unwrap();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("postgres://"), "{e}");
    }
}
