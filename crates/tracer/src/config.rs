//! cardano-tracer's configuration file in its own vocabulary (`networkMagic`, `network`,
//! `logging`, `rotation`, …), read from YAML or JSON.
//!
//! A config that cardano-tracer accepts is accepted here unless it asks for something wb tracer
//! does not do (TLS, re-forwarding, the timeseries API, journald); those are refused by name, so a
//! broken or unsupported config fails before anything starts. Unknown keys are refused too, with
//! the path of the offending field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

/// Default `loRequestNum`: trace objects asked for per request.
pub const DEFAULT_LO_REQUEST_NUM: u16 = 100;
/// Default `ekgRequestFreq`.
pub const DEFAULT_EKG_REQUEST_FREQ: Duration = Duration::from_secs(1);
/// Default `rotation.rpFrequencySecs`.
pub const DEFAULT_ROTATION_FREQUENCY: Duration = Duration::from_secs(60);
/// Default `rotation.rpMaxAgeMinutes` / `rpMaxAgeHours`: 24 hours.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// A whole cardano-tracer configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracerConfig {
    /// `networkMagic`: must equal the node's magic in the handshake.
    pub network_magic: u32,
    /// `network`: accept connections from nodes, or connect to them.
    pub network: Network,
    /// `loRequestNum`: how many trace objects to ask for at once (at least 1).
    pub lo_request_num: u16,
    /// `ekgRequestFreq`: how often to poll metrics.
    pub ekg_request_freq: Duration,
    /// `ekgRequestFull`: ask for all metrics each time rather than the updated ones.
    pub ekg_request_full: bool,
    /// `hasPrometheus`: where to serve Prometheus metrics.
    pub has_prometheus: Option<Endpoint>,
    /// `hasEKG`: accepted and kept, though wb tracer serves no EKG page of its own.
    pub has_ekg: Option<Endpoint>,
    /// `hasLiveView` (a wb extension): where to serve the live page.
    pub has_live_view: Option<Endpoint>,
    /// `logging`: the log sinks, never empty, exact duplicates dropped.
    pub logging: Vec<LoggingParams>,
    /// `rotation`: absent means one ever-growing file per node and sink.
    pub rotation: Option<RotationParams>,
    /// `verbosity`: how much of its own protocol chatter the tracer logs.
    pub verbosity: Verbosity,
    /// `metricsNoSuffix`: drop `_int`, `_real`, `_counter` from Prometheus names.
    pub metrics_no_suffix: bool,
    /// `metricsHelp`: `# HELP` texts for Prometheus.
    pub metrics_help: Option<MetricsHelp>,
    /// `resourceFreq`: how often to sample the tracer's own resources.
    pub resource_freq: Option<Duration>,
    /// `prometheusLabels`: extra labels for Prometheus service discovery, sorted by name.
    pub prometheus_labels: Vec<(String, String)>,
}

/// `network`: which side opens the connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Network {
    /// `AcceptAt`: listen here; nodes connect to us.
    AcceptAt(Address),
    /// `ConnectTo`: connect to each of these (never empty).
    ConnectTo(Vec<Address>),
}

/// A socket address as cardano-tracer writes it: `"host:port"` or a Unix socket path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A Unix domain socket.
    Unix(PathBuf),
    /// A TCP address; an IPv6 host is kept without its brackets.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl Address {
    /// Parses `"host:port"` (split at the last `:`, the port all digits; an IPv6 host in
    /// brackets) as TCP, and anything else as a Unix socket path.
    pub fn parse(s: &str) -> Result<Address, String> {
        if s.trim().is_empty() {
            return Err("empty address".into());
        }
        // A host never contains '/', so "/run/x:1" stays a path.
        let host_port = s
            .rsplit_once(':')
            .filter(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
        if let (false, Some((host, port))) = (s.contains('/'), host_port) {
            let port = port
                .parse()
                .map_err(|_| format!("port {port} in {s:?} is not in 0..65535"))?;
            let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
            if bracketed.is_none() && host.contains(':') {
                return Err(format!(
                    "ambiguous address {s:?}: write an IPv6 host in brackets, e.g. [::1]:3000"
                ));
            }
            let host = bracketed.unwrap_or(host);
            if host.trim().is_empty() {
                return Err(format!("empty host in address {s:?}"));
            }
            return Ok(Address::Tcp {
                host: host.to_owned(),
                port,
            });
        }
        Ok(Address::Unix(PathBuf::from(s)))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "{}", path.display()),
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// `Endpoint {epHost, epPort}` of an HTTP server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// `epHost`: address to bind.
    pub host: String,
    /// `epPort`: port to bind.
    pub port: u16,
}

/// One `logging` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoggingParams {
    /// `logRoot`: the directory holding one subdirectory per node.
    pub root: PathBuf,
    /// `logMode`.
    pub mode: LogMode,
    /// `logFormat`.
    pub format: LogFormat,
}

/// `logMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogMode {
    /// `FileMode`: files under `logRoot`.
    File,
    /// `JournalMode`: journald. Never produced by the parser, which refuses it.
    Journal,
}

/// `logFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// `ForHuman`: the human text of each trace object, in `.log` files.
    ForHuman,
    /// `ForMachine`: one JSON object per line, in `.json` files.
    ForMachine,
}

/// `rotation`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RotationParams {
    /// `rpFrequencySecs`: how often the rotator runs (at least 1 s).
    pub frequency: Duration,
    /// `rpLogLimitBytes`: a file this big or bigger is replaced by a new one (at least 1).
    pub log_limit_bytes: u64,
    /// `rpMaxAgeMinutes` or `rpMaxAgeHours`: older files may be deleted.
    pub max_age: Duration,
    /// `rpKeepFilesNum`: the newest this many files are kept whatever their age.
    pub keep_files_num: u32,
}

/// `verbosity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Verbosity {
    /// `Minimum`: nothing about the protocols.
    Minimum,
    /// `ErrorsOnly`: protocol errors only.
    #[default]
    ErrorsOnly,
    /// `Maximum`: all protocol messages.
    Maximum,
}

/// `metricsHelp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsHelp {
    /// A file (JSON or YAML) holding the `{metric: help}` map, read later.
    File(PathBuf),
    /// The map itself.
    Inline(BTreeMap<String, String>),
}

/// A configuration that could not be read, naming where and what.
#[derive(Debug, thiserror::Error)]
pub enum TracerConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not YAML or JSON.
    #[error("{origin}: not valid {format}: {message}")]
    Syntax {
        /// File name or whatever the caller named the text.
        origin: String,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// Parser message with line and column.
        message: String,
    },
    /// A field is missing, unknown, of the wrong type or has a value that is not allowed.
    #[error("{origin}: field {field}: {message}")]
    Field {
        /// File name or whatever the caller named the text.
        origin: String,
        /// Path of the field, e.g. `logging[0].logRoot`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

type ConfigResult<T> = Result<T, TracerConfigError>;

/// The top-level keys we read.
const TOP_KEYS: &[&str] = &[
    "networkMagic",
    "network",
    "loRequestNum",
    "ekgRequestFreq",
    "ekgRequestFull",
    "hasPrometheus",
    "hasEKG",
    "hasLiveView",
    "logging",
    "rotation",
    "verbosity",
    "metricsNoSuffix",
    "metricsHelp",
    "resourceFreq",
    "prometheusLabels",
];

impl TracerConfig {
    /// Reads a config file (JSON if it ends in `.json`, YAML otherwise).
    pub fn from_file(path: &Path) -> Result<TracerConfig, TracerConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| TracerConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let origin = path.display().to_string();
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json {
            Self::from_json_str(&text, &origin)
        } else {
            Self::from_yaml_str(&text, &origin)
        }
    }

    /// Parses YAML text; `origin` names it in errors.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<TracerConfig, TracerConfigError> {
        let v: Value = serde_yaml_ng::from_str(text).map_err(|e| TracerConfigError::Syntax {
            origin: origin.to_owned(),
            format: "YAML",
            message: e.to_string(),
        })?;
        Self::from_value(&v, origin)
    }

    /// Parses JSON text; `origin` names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<TracerConfig, TracerConfigError> {
        let v: Value = serde_json::from_str(text).map_err(|e| TracerConfigError::Syntax {
            origin: origin.to_owned(),
            format: "JSON",
            message: e.to_string(),
        })?;
        Self::from_value(&v, origin)
    }

    /// Reads and validates an already-parsed config object.
    pub fn from_value(v: &Value, origin: &str) -> Result<TracerConfig, TracerConfigError> {
        let r = Reader { origin };
        let top = v
            .as_object()
            .ok_or_else(|| r.err("(top level)", format!("expected an object, got {}", got(v))))?;
        for (key, val) in top {
            if TOP_KEYS.contains(&key.as_str()) {
                continue;
            }
            let message = match key.as_str() {
                // Null means absent (aeson's `.:?`), so these may be written out empty.
                "tlsCertificate" | "hasForwarding" | "hasTimeseries" if val.is_null() => continue,
                "tlsCertificate" => "TLS is not supported by wb tracer".to_owned(),
                "hasForwarding" => "re-forwarding is not supported by wb tracer".to_owned(),
                "hasTimeseries" => "the timeseries API is not supported by wb tracer".to_owned(),
                "hasRTView" => "RTView was removed in cardano-tracer 0.5.0 and is not \
                                supported by wb tracer (see hasLiveView)"
                    .to_owned(),
                _ => format!("unknown key (known keys: {})", TOP_KEYS.join(", ")),
            };
            return Err(r.err(key, message));
        }

        let network_magic = r.uint(r.required(top, "", "networkMagic")?, "networkMagic")?;
        let network_magic = u32::try_from(network_magic).map_err(|_| {
            r.err(
                "networkMagic",
                format!("{network_magic} does not fit 32 bits"),
            )
        })?;
        let network = r.network(r.required(top, "", "network")?)?;

        let lo_request_num = match field(top, "loRequestNum") {
            None => DEFAULT_LO_REQUEST_NUM,
            Some(v) => {
                let n = r.uint(v, "loRequestNum")?;
                match u16::try_from(n) {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(r.err("loRequestNum", format!("{n} is not in 1..65535"))),
                }
            }
        };
        let ekg_request_freq = match field(top, "ekgRequestFreq") {
            None => DEFAULT_EKG_REQUEST_FREQ,
            Some(v) => r.seconds(v, "ekgRequestFreq")?,
        };
        let ekg_request_full = match field(top, "ekgRequestFull") {
            None => false,
            Some(v) => r.boolean(v, "ekgRequestFull")?,
        };
        let endpoint = |key: &str| field(top, key).map(|v| r.endpoint(v, key)).transpose();
        let has_prometheus = endpoint("hasPrometheus")?;
        let has_ekg = endpoint("hasEKG")?;
        let has_live_view = endpoint("hasLiveView")?;
        let logging = r.logging(r.required(top, "", "logging")?)?;
        let rotation = field(top, "rotation").map(|v| r.rotation(v)).transpose()?;
        let verbosity = match field(top, "verbosity") {
            None => Verbosity::default(),
            Some(v) => match r.string(v, "verbosity")? {
                "Minimum" => Verbosity::Minimum,
                "ErrorsOnly" => Verbosity::ErrorsOnly,
                "Maximum" => Verbosity::Maximum,
                s => {
                    return Err(r.err(
                        "verbosity",
                        format!("unknown verbosity {s:?} (expected Minimum, ErrorsOnly, Maximum)"),
                    ));
                }
            },
        };
        let metrics_no_suffix = match field(top, "metricsNoSuffix") {
            None => false,
            Some(v) => r.boolean(v, "metricsNoSuffix")?,
        };
        let metrics_help = field(top, "metricsHelp")
            .map(|v| r.metrics_help(v))
            .transpose()?;
        let resource_freq = match field(top, "resourceFreq") {
            None => None,
            Some(v) => match r.uint(v, "resourceFreq")? {
                // Zero would sample in a busy loop; leaving the key out turns sampling off.
                0 => {
                    return Err(r.err(
                        "resourceFreq",
                        "must be at least 1 ms (leave it out to turn sampling off)",
                    ));
                }
                ms => Some(Duration::from_millis(ms)),
            },
        };
        let prometheus_labels = match field(top, "prometheusLabels") {
            None => Vec::new(),
            Some(v) => r.labels(v)?,
        };

        let cfg = TracerConfig {
            network_magic,
            network,
            lo_request_num,
            ekg_request_freq,
            ekg_request_full,
            has_prometheus,
            has_ekg,
            has_live_view,
            logging,
            rotation,
            verbosity,
            metrics_no_suffix,
            metrics_help,
            resource_freq,
            prometheus_labels,
        };
        r.check_ports(&cfg)?;
        Ok(cfg)
    }
}

/// `value` of `key` in `obj`; `null` counts as absent, as aeson's `.:?` has it.
fn field<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// `parent.key`, or `key` at the top.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A short description of a value for "expected X, got Y" (whole objects would be noise).
fn got(v: &Value) -> String {
    match v {
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        Value::String(s) if s.len() > 40 => "a long string".into(),
        other => other.to_string(),
    }
}

/// Hosts that bind every interface, and so clash with any host on the same port.
fn is_wildcard_host(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "[::]" | "*" | "*4" | "*6")
}

/// Prometheus label names: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Typed field extraction whose errors name the origin and the field path.
struct Reader<'a> {
    origin: &'a str,
}

impl Reader<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> TracerConfigError {
        TracerConfigError::Field {
            origin: self.origin.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn required<'v>(
        &self,
        obj: &'v Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> ConfigResult<&'v Value> {
        field(obj, key).ok_or_else(|| self.err(&join(parent, key), "missing required field"))
    }

    /// An object whose keys are all in `known`.
    fn object<'v>(
        &self,
        v: &'v Value,
        path: &str,
        known: &[&str],
    ) -> ConfigResult<&'v Map<String, Value>> {
        let obj = v
            .as_object()
            .ok_or_else(|| self.err(path, format!("expected an object, got {}", got(v))))?;
        if let Some(key) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(self.err(
                &join(path, key),
                format!("unknown key (expected {})", known.join(", ")),
            ));
        }
        Ok(obj)
    }

    fn string<'v>(&self, v: &'v Value, path: &str) -> ConfigResult<&'v str> {
        v.as_str()
            .ok_or_else(|| self.err(path, format!("expected a string, got {}", got(v))))
    }

    fn boolean(&self, v: &Value, path: &str) -> ConfigResult<bool> {
        v.as_bool()
            .ok_or_else(|| self.err(path, format!("expected true or false, got {}", got(v))))
    }

    fn uint(&self, v: &Value, path: &str) -> ConfigResult<u64> {
        v.as_u64().ok_or_else(|| {
            self.err(
                path,
                format!("expected a whole number >= 0, got {}", got(v)),
            )
        })
    }

    /// Seconds as a number > 0, possibly fractional.
    fn seconds(&self, v: &Value, path: &str) -> ConfigResult<Duration> {
        v.as_f64()
            .filter(|s| *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| self.err(path, format!("expected seconds > 0, got {}", got(v))))
    }

    fn network(&self, v: &Value) -> ConfigResult<Network> {
        let obj = self.object(v, "network", &["tag", "contents"])?;
        let tag = self.string(self.required(obj, "network", "tag")?, "network.tag")?;
        let contents = self.required(obj, "network", "contents")?;
        let address = |v: &Value, path: &str| {
            Address::parse(self.string(v, path)?).map_err(|e| self.err(path, e))
        };
        match tag {
            "AcceptAt" => Ok(Network::AcceptAt(address(contents, "network.contents")?)),
            "ConnectTo" => {
                let list = contents.as_array().ok_or_else(|| {
                    self.err(
                        "network.contents",
                        format!("expected a list of addresses, got {}", got(contents)),
                    )
                })?;
                if list.is_empty() {
                    return Err(self.err("network.contents", "empty list of addresses"));
                }
                let addrs = list
                    .iter()
                    .enumerate()
                    .map(|(i, a)| address(a, &format!("network.contents[{i}]")))
                    .collect::<ConfigResult<Vec<_>>>()?;
                Ok(Network::ConnectTo(addrs))
            }
            other => Err(self.err(
                "network.tag",
                format!("unknown tag {other:?} (expected AcceptAt or ConnectTo)"),
            )),
        }
    }

    fn endpoint(&self, v: &Value, path: &str) -> ConfigResult<Endpoint> {
        let obj = self.object(v, path, &["epHost", "epPort", "epForceSSL"])?;
        let host_path = join(path, "epHost");
        let host = self.string(self.required(obj, path, "epHost")?, &host_path)?;
        if host.trim().is_empty() {
            return Err(self.err(&host_path, "empty host"));
        }
        let port_path = join(path, "epPort");
        let port = self.uint(self.required(obj, path, "epPort")?, &port_path)?;
        let port = u16::try_from(port)
            .map_err(|_| self.err(&port_path, format!("{port} is not in 0..65535")))?;
        if let Some(ssl) = field(obj, "epForceSSL") {
            let ssl_path = join(path, "epForceSSL");
            if self.boolean(ssl, &ssl_path)? {
                return Err(self.err(&ssl_path, "TLS is not supported by wb tracer"));
            }
        }
        Ok(Endpoint {
            host: host.to_owned(),
            port,
        })
    }

    fn logging(&self, v: &Value) -> ConfigResult<Vec<LoggingParams>> {
        let list = v.as_array().ok_or_else(|| {
            self.err(
                "logging",
                format!(
                    "expected a list of {{logRoot, logMode, logFormat}}, got {}",
                    got(v)
                ),
            )
        })?;
        if list.is_empty() {
            return Err(self.err("logging", "empty list (at least one log sink is needed)"));
        }
        let mut out: Vec<LoggingParams> = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let path = format!("logging[{i}]");
            let obj = self.object(entry, &path, &["logRoot", "logMode", "logFormat"])?;
            let mode_path = join(&path, "logMode");
            let mode = match self.string(self.required(obj, &path, "logMode")?, &mode_path)? {
                "FileMode" => LogMode::File,
                "JournalMode" => {
                    return Err(self.err(
                        &mode_path,
                        "JournalMode is not supported by wb tracer; use FileMode",
                    ));
                }
                s => {
                    return Err(self.err(
                        &mode_path,
                        format!("unknown log mode {s:?} (expected FileMode)"),
                    ));
                }
            };
            let format_path = join(&path, "logFormat");
            let format = match self.string(self.required(obj, &path, "logFormat")?, &format_path)? {
                "ForHuman" => LogFormat::ForHuman,
                "ForMachine" => LogFormat::ForMachine,
                s => {
                    return Err(self.err(
                        &format_path,
                        format!("unknown log format {s:?} (expected ForHuman or ForMachine)"),
                    ));
                }
            };
            let root_path = join(&path, "logRoot");
            let root = self.string(self.required(obj, &path, "logRoot")?, &root_path)?;
            if root.trim().is_empty() {
                return Err(self.err(&root_path, "empty path"));
            }
            let params = LoggingParams {
                root: PathBuf::from(root),
                mode,
                format,
            };
            if !out.contains(&params) {
                out.push(params);
            }
        }
        Ok(out)
    }

    fn rotation(&self, v: &Value) -> ConfigResult<RotationParams> {
        const KEYS: &[&str] = &[
            "rpFrequencySecs",
            "rpLogLimitBytes",
            "rpMaxAgeMinutes",
            "rpMaxAgeHours",
            "rpKeepFilesNum",
        ];
        let obj = self.object(v, "rotation", KEYS)?;
        let frequency = match field(obj, "rpFrequencySecs") {
            None => DEFAULT_ROTATION_FREQUENCY,
            Some(v) => match self.uint(v, "rotation.rpFrequencySecs")? {
                0 => return Err(self.err("rotation.rpFrequencySecs", "must be at least 1")),
                s => Duration::from_secs(s),
            },
        };
        let limit = self.required(obj, "rotation", "rpLogLimitBytes")?;
        let log_limit_bytes = match self.uint(limit, "rotation.rpLogLimitBytes")? {
            // Zero would start a new (empty) file on every run of the rotator.
            0 => return Err(self.err("rotation.rpLogLimitBytes", "must be at least 1")),
            n => n,
        };
        let minutes = field(obj, "rpMaxAgeMinutes");
        let hours = field(obj, "rpMaxAgeHours");
        let max_age = match (minutes, hours) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "rotation.rpMaxAgeHours",
                    "give rpMaxAgeMinutes or rpMaxAgeHours, not both",
                ));
            }
            (Some(m), None) => self.scaled_secs(m, "rotation.rpMaxAgeMinutes", 60)?,
            (None, Some(h)) => self.scaled_secs(h, "rotation.rpMaxAgeHours", 3600)?,
            (None, None) => DEFAULT_MAX_AGE,
        };
        let keep = self.required(obj, "rotation", "rpKeepFilesNum")?;
        let keep = self.uint(keep, "rotation.rpKeepFilesNum")?;
        let keep_files_num = u32::try_from(keep)
            .map_err(|_| self.err("rotation.rpKeepFilesNum", format!("{keep} is too large")))?;
        Ok(RotationParams {
            frequency,
            log_limit_bytes,
            max_age,
            keep_files_num,
        })
    }

    /// A whole number of units of `unit_secs` seconds each.
    fn scaled_secs(&self, v: &Value, path: &str, unit_secs: u64) -> ConfigResult<Duration> {
        let n = self.uint(v, path)?;
        n.checked_mul(unit_secs)
            .map(Duration::from_secs)
            .ok_or_else(|| self.err(path, format!("{n} is too large")))
    }

    fn metrics_help(&self, v: &Value) -> ConfigResult<MetricsHelp> {
        match v {
            Value::String(s) if s.trim().is_empty() => Err(self.err("metricsHelp", "empty path")),
            Value::String(s) => Ok(MetricsHelp::File(PathBuf::from(s))),
            Value::Object(obj) => {
                let mut map = BTreeMap::new();
                for (name, help) in obj {
                    let help = self.string(help, &format!("metricsHelp.{name:?}"))?;
                    map.insert(name.clone(), help.to_owned());
                }
                Ok(MetricsHelp::Inline(map))
            }
            other => Err(self.err(
                "metricsHelp",
                format!(
                    "expected a file path or a {{metric: help}} map, got {}",
                    got(other)
                ),
            )),
        }
    }

    fn labels(&self, v: &Value) -> ConfigResult<Vec<(String, String)>> {
        let obj = v.as_object().ok_or_else(|| {
            self.err(
                "prometheusLabels",
                format!("expected a {{label: value}} map, got {}", got(v)),
            )
        })?;
        let mut labels = Vec::with_capacity(obj.len());
        for (name, value) in obj {
            let path = format!("prometheusLabels.{name:?}");
            if !is_label_name(name) {
                return Err(self.err(
                    &path,
                    "not a Prometheus label name ([A-Za-z_][A-Za-z0-9_]*)",
                ));
            }
            // Every target already carries node_name; a second one would be ambiguous.
            if name == "node_name" {
                return Err(self.err(&path, "node_name is set by the tracer itself"));
            }
            labels.push((name.clone(), self.string(value, &path)?.to_owned()));
        }
        labels.sort();
        Ok(labels)
    }

    /// Refuses two listeners on one port of one host (a wildcard host clashes with any).
    fn check_ports(&self, cfg: &TracerConfig) -> ConfigResult<()> {
        let mut listeners: Vec<(String, &str, u16)> = Vec::new();
        if let Network::AcceptAt(Address::Tcp { host, port }) = &cfg.network {
            listeners.push(("network.contents".into(), host, *port));
        }
        for (key, ep) in [
            ("hasPrometheus", &cfg.has_prometheus),
            ("hasEKG", &cfg.has_ekg),
            ("hasLiveView", &cfg.has_live_view),
        ] {
            if let Some(ep) = ep {
                listeners.push((format!("{key}.epPort"), &ep.host, ep.port));
            }
        }
        for (i, (path, host, port)) in listeners.iter().enumerate() {
            // Port 0 asks the system for a free port, so it never clashes.
            if *port == 0 {
                continue;
            }
            let clash = listeners[..i].iter().find(|(_, h, p)| {
                p == port && (h == host || is_wildcard_host(h) || is_wildcard_host(host))
            });
            if let Some((other, other_host, _)) = clash {
                return Err(self.err(
                    path,
                    format!("port {port} on {host} is already used by {other} (on {other_host})"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_yaml(text: &str) -> String {
        match TracerConfig::from_yaml_str(text, "tracer.yaml") {
            Ok(cfg) => panic!("accepted: {cfg:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A valid config with `extra` lines appended at the top level.
    fn with(extra: &str) -> String {
        format!(
            "networkMagic: 42\nnetwork: {{tag: AcceptAt, contents: /tmp/t.sock}}\n\
             logging: [{{logRoot: /tmp/logs, logMode: FileMode, logFormat: ForMachine}}]\n{extra}"
        )
    }

    fn assert_err(text: &str, expected_start: &str) {
        let e = err_yaml(text);
        assert!(
            e.starts_with(expected_start),
            "{e}\n  does not start with\n{expected_start}"
        );
    }

    #[test]
    fn full_yaml_config() {
        let cfg = TracerConfig::from_yaml_str(
            r#"
networkMagic: 764824073
network:
  tag: ConnectTo
  contents:
    - /run/node-1/forwarder.sock
    - "10.0.0.2:3001"
    - "[::1]:3002"
loRequestNum: 50
ekgRequestFreq: 0.5
ekgRequestFull: true
hasPrometheus:
  epHost: 0.0.0.0
  epPort: 3200
hasEKG:
  epHost: 127.0.0.1
  epPort: 3100
  epForceSSL: false
hasLiveView:
  epHost: 127.0.0.1
  epPort: 3300
logging:
  - logRoot: /var/log/tracer
    logMode: FileMode
    logFormat: ForMachine
  - logRoot: /var/log/tracer
    logMode: FileMode
    logFormat: ForHuman
  - logRoot: /var/log/tracer
    logMode: FileMode
    logFormat: ForMachine
rotation:
  rpFrequencySecs: 15
  rpLogLimitBytes: 1000000
  rpMaxAgeHours: 2
  rpKeepFilesNum: 10
verbosity: Maximum
metricsNoSuffix: true
metricsHelp:
  Mem_resident_int: Resident memory
resourceFreq: 2500
prometheusLabels:
  role: relay
  cluster: bench
tlsCertificate: null
"#,
            "tracer.yaml",
        )
        .unwrap();
        let expected = TracerConfig {
            network_magic: 764_824_073,
            network: Network::ConnectTo(vec![
                Address::Unix("/run/node-1/forwarder.sock".into()),
                Address::Tcp {
                    host: "10.0.0.2".into(),
                    port: 3001,
                },
                Address::Tcp {
                    host: "::1".into(),
                    port: 3002,
                },
            ]),
            lo_request_num: 50,
            ekg_request_freq: Duration::from_millis(500),
            ekg_request_full: true,
            has_prometheus: Some(Endpoint {
                host: "0.0.0.0".into(),
                port: 3200,
            }),
            has_ekg: Some(Endpoint {
                host: "127.0.0.1".into(),
                port: 3100,
            }),
            has_live_view: Some(Endpoint {
                host: "127.0.0.1".into(),
                port: 3300,
            }),
            logging: vec![
                LoggingParams {
                    root: "/var/log/tracer".into(),
                    mode: LogMode::File,
                    format: LogFormat::ForMachine,
                },
                LoggingParams {
                    root: "/var/log/tracer".into(),
                    mode: LogMode::File,
                    format: LogFormat::ForHuman,
                },
            ],
            rotation: Some(RotationParams {
                frequency: Duration::from_secs(15),
                log_limit_bytes: 1_000_000,
                max_age: Duration::from_secs(7200),
                keep_files_num: 10,
            }),
            verbosity: Verbosity::Maximum,
            metrics_no_suffix: true,
            metrics_help: Some(MetricsHelp::Inline(BTreeMap::from([(
                "Mem_resident_int".into(),
                "Resident memory".into(),
            )]))),
            resource_freq: Some(Duration::from_millis(2500)),
            prometheus_labels: vec![
                ("cluster".into(), "bench".into()),
                ("role".into(), "relay".into()),
            ],
        };
        assert_eq!(cfg, expected);
    }

    #[test]
    fn minimal_json_config_gets_defaults() {
        let cfg = TracerConfig::from_json_str(
            r#"{"networkMagic": 42,
                "network": {"tag": "AcceptAt", "contents": "127.0.0.1:3000"},
                "logging": [{"logRoot": "logs", "logMode": "FileMode", "logFormat": "ForHuman"}],
                "rotation": {"rpLogLimitBytes": 10, "rpKeepFilesNum": 0},
                "metricsHelp": "help.json"}"#,
            "tracer.json",
        )
        .unwrap();
        assert_eq!(cfg.network_magic, 42);
        assert_eq!(
            cfg.network,
            Network::AcceptAt(Address::Tcp {
                host: "127.0.0.1".into(),
                port: 3000
            })
        );
        assert_eq!(cfg.lo_request_num, 100);
        assert_eq!(cfg.ekg_request_freq, Duration::from_secs(1));
        assert!(!cfg.ekg_request_full);
        assert_eq!((&cfg.has_prometheus, &cfg.has_ekg), (&None, &None));
        assert_eq!(cfg.has_live_view, None);
        assert_eq!(cfg.logging.len(), 1);
        assert_eq!(
            cfg.rotation,
            Some(RotationParams {
                frequency: Duration::from_secs(60),
                log_limit_bytes: 10,
                max_age: Duration::from_secs(86_400),
                keep_files_num: 0,
            })
        );
        assert_eq!(cfg.verbosity, Verbosity::ErrorsOnly);
        assert!(!cfg.metrics_no_suffix);
        assert_eq!(
            cfg.metrics_help,
            Some(MetricsHelp::File("help.json".into()))
        );
        assert_eq!(cfg.resource_freq, None);
        assert!(cfg.prometheus_labels.is_empty());
    }

    #[test]
    fn from_file_picks_the_format_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("t.json");
        std::fs::write(
            &json,
            r#"{"networkMagic": 1, "network": {"tag": "AcceptAt", "contents": "/s"},
                "logging": [{"logRoot": "l", "logMode": "FileMode", "logFormat": "ForMachine"}]}"#,
        )
        .unwrap();
        assert_eq!(TracerConfig::from_file(&json).unwrap().network_magic, 1);
        let yaml = dir.path().join("t.yaml");
        std::fs::write(
            &yaml,
            with("rotation: {rpLogLimitBytes: 1, rpKeepFilesNum: x}"),
        )
        .unwrap();
        let e = TracerConfig::from_file(&yaml).unwrap_err().to_string();
        assert!(e.starts_with(&format!(
            "{}: field rotation.rpKeepFilesNum",
            yaml.display()
        )));
        let missing = dir.path().join("missing.yaml");
        let e = TracerConfig::from_file(&missing).unwrap_err();
        assert!(matches!(e, TracerConfigError::Io { .. }), "{e}");
        // YAML with a `.json` name is parsed as JSON and refused as such.
        std::fs::write(&json, "networkMagic: 1").unwrap();
        let e = TracerConfig::from_file(&json).unwrap_err().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn syntax_errors_name_the_origin() {
        assert_err("network: [1\n", "tracer.yaml: not valid YAML");
        assert_err(
            "- 1\n",
            "tracer.yaml: field (top level): expected an object",
        );
    }

    #[test]
    fn network_refusals() {
        let net = |n: &str| format!("networkMagic: 1\nnetwork: {n}\nlogging: []\n");
        assert_err(
            &net("{tag: AcceptAt, contents: ''}"),
            "tracer.yaml: field network.contents: empty address",
        );
        assert_err(
            &net("{tag: ConnectTo, contents: []}"),
            "tracer.yaml: field network.contents: empty list of addresses",
        );
        assert_err(
            &net("{tag: ConnectTo, contents: [/a.sock, ' ']}"),
            "tracer.yaml: field network.contents[1]: empty address",
        );
        assert_err(
            &net("{tag: ConnectTo, contents: /a.sock}"),
            "tracer.yaml: field network.contents: expected a list of addresses",
        );
        assert_err(
            &net("{tag: Listen, contents: /a.sock}"),
            "tracer.yaml: field network.tag: unknown tag \"Listen\"",
        );
        assert_err(
            &net("{tag: AcceptAt}"),
            "tracer.yaml: field network.contents: missing required field",
        );
        assert_err(
            &net("{tag: AcceptAt, contents: 3000}"),
            "tracer.yaml: field network.contents: expected a string, got 3000",
        );
        assert_err(
            &net("{tag: AcceptAt, contents: /a.sock, extra: 1}"),
            "tracer.yaml: field network.extra: unknown key (expected tag, contents)",
        );
        assert_err(
            &net("{tag: AcceptAt, contents: ':3000'}"),
            "tracer.yaml: field network.contents: empty host",
        );
        assert_err(
            &net("{tag: AcceptAt, contents: 'h:70000'}"),
            "tracer.yaml: field network.contents: port 70000",
        );
        assert_err(
            "network: {tag: AcceptAt, contents: /a}\nlogging: []\n",
            "tracer.yaml: field networkMagic: missing required field",
        );
        assert_err(
            "networkMagic: 4294967296\nnetwork: {tag: AcceptAt, contents: /a}\n",
            "tracer.yaml: field networkMagic: 4294967296 does not fit 32 bits",
        );
    }

    #[test]
    fn logging_refusals() {
        let log = |l: &str| {
            format!("networkMagic: 1\nnetwork: {{tag: AcceptAt, contents: /a}}\nlogging: {l}\n")
        };
        assert_err(&log("[]"), "tracer.yaml: field logging: empty list");
        assert_err(
            &log("[{logRoot: '', logMode: FileMode, logFormat: ForHuman}]"),
            "tracer.yaml: field logging[0].logRoot: empty path",
        );
        assert_err(
            &log("[{logRoot: /l, logMode: FileMode, logFormat: ForHuman}, \
                   {logRoot: /l, logMode: JournalMode, logFormat: ForHuman}]"),
            "tracer.yaml: field logging[1].logMode: JournalMode is not supported by wb tracer; \
             use FileMode",
        );
        assert_err(
            &log("[{logRoot: /l, logMode: FileMode, logFormat: Pretty}]"),
            "tracer.yaml: field logging[0].logFormat: unknown log format \"Pretty\"",
        );
        assert_err(
            &log("[{logRoot: /l, logMode: FileMode}]"),
            "tracer.yaml: field logging[0].logFormat: missing required field",
        );
        assert_err(
            &log("[{logRoot: /l, logMode: FileMode, logFormat: ForHuman, rotate: true}]"),
            "tracer.yaml: field logging[0].rotate: unknown key",
        );
        assert_err(
            &log("{logRoot: /l, logMode: FileMode, logFormat: ForHuman}"),
            "tracer.yaml: field logging: expected a list",
        );
    }

    #[test]
    fn endpoint_refusals() {
        assert_err(
            &with("hasPrometheus: {epHost: '', epPort: 1}"),
            "tracer.yaml: field hasPrometheus.epHost: empty host",
        );
        assert_err(
            &with("hasEKG: {epHost: h, epPort: 1, epForceSSL: true}"),
            "tracer.yaml: field hasEKG.epForceSSL: TLS is not supported by wb tracer",
        );
        assert_err(
            &with("hasLiveView: {epHost: h, epPort: 65536}"),
            "tracer.yaml: field hasLiveView.epPort: 65536 is not in 0..65535",
        );
        assert_err(
            &with("hasLiveView: {epHost: h, epPort: '80'}"),
            "tracer.yaml: field hasLiveView.epPort: expected a whole number >= 0, got \"80\"",
        );
        assert_err(
            &with("hasLiveView: {epHost: h}"),
            "tracer.yaml: field hasLiveView.epPort: missing required field",
        );
        assert_err(
            &with("hasLiveView: {epHost: h, epPort: 1, epPath: /}"),
            "tracer.yaml: field hasLiveView.epPath: unknown key (expected epHost, epPort, \
             epForceSSL)",
        );
    }

    #[test]
    fn duplicate_ports_are_refused() {
        assert_err(
            &with(
                "hasEKG: {epHost: 127.0.0.1, epPort: 3000}\n\
                   hasPrometheus: {epHost: 127.0.0.1, epPort: 3000}",
            ),
            "tracer.yaml: field hasEKG.epPort: port 3000 on 127.0.0.1 is already used by \
             hasPrometheus.epPort",
        );
        // A wildcard host clashes with any host.
        assert_err(
            &with(
                "hasPrometheus: {epHost: 0.0.0.0, epPort: 3000}\n\
                   hasLiveView: {epHost: 127.0.0.1, epPort: 3000}",
            ),
            "tracer.yaml: field hasLiveView.epPort: port 3000",
        );
        // So does the TCP address we accept nodes at.
        assert_err(
            "networkMagic: 1\nnetwork: {tag: AcceptAt, contents: '127.0.0.1:3000'}\n\
             logging: [{logRoot: l, logMode: FileMode, logFormat: ForHuman}]\n\
             hasPrometheus: {epHost: 127.0.0.1, epPort: 3000}",
            "tracer.yaml: field hasPrometheus.epPort: port 3000 on 127.0.0.1 is already used by \
             network.contents",
        );
        // Different hosts, or port 0 (any free port), are fine.
        let cfg = TracerConfig::from_yaml_str(
            &with(
                "hasEKG: {epHost: 127.0.0.1, epPort: 3000}\n\
                 hasPrometheus: {epHost: 127.0.0.2, epPort: 3000}\n\
                 hasLiveView: {epHost: 127.0.0.2, epPort: 0}",
            ),
            "t",
        );
        assert!(cfg.is_ok(), "{cfg:?}");
        let cfg = TracerConfig::from_yaml_str(
            &with(
                "hasEKG: {epHost: 127.0.0.1, epPort: 0}\n\
                 hasPrometheus: {epHost: 127.0.0.1, epPort: 0}",
            ),
            "t",
        );
        assert!(cfg.is_ok(), "{cfg:?}");
    }

    #[test]
    fn rotation_refusals() {
        assert_err(
            &with("rotation: {rpKeepFilesNum: 1}"),
            "tracer.yaml: field rotation.rpLogLimitBytes: missing required field",
        );
        assert_err(
            &with("rotation: {rpLogLimitBytes: 1}"),
            "tracer.yaml: field rotation.rpKeepFilesNum: missing required field",
        );
        assert_err(
            &with("rotation: {rpLogLimitBytes: 0, rpKeepFilesNum: 1}"),
            "tracer.yaml: field rotation.rpLogLimitBytes: must be at least 1",
        );
        assert_err(
            &with("rotation: {rpLogLimitBytes: 1, rpKeepFilesNum: 1, rpFrequencySecs: 0}"),
            "tracer.yaml: field rotation.rpFrequencySecs: must be at least 1",
        );
        assert_err(
            &with(
                "rotation: {rpLogLimitBytes: 1, rpKeepFilesNum: 1, rpMaxAgeMinutes: 1, \
                   rpMaxAgeHours: 1}",
            ),
            "tracer.yaml: field rotation.rpMaxAgeHours: give rpMaxAgeMinutes or rpMaxAgeHours",
        );
        assert_err(
            &with("rotation: {rpLogLimitBytes: 1, rpKeepFilesNum: 1, rpMaxAgeMinutes: -5}"),
            "tracer.yaml: field rotation.rpMaxAgeMinutes: expected a whole number >= 0, got -5",
        );
        assert_err(
            &with("rotation: {rpLogLimitBytes: 1, rpKeepFilesNum: 1, rpMaxAgeDays: 1}"),
            "tracer.yaml: field rotation.rpMaxAgeDays: unknown key",
        );
        let cfg = TracerConfig::from_yaml_str(
            &with("rotation: {rpLogLimitBytes: 1, rpKeepFilesNum: 1, rpMaxAgeMinutes: 90}"),
            "t",
        )
        .unwrap();
        assert_eq!(cfg.rotation.unwrap().max_age, Duration::from_secs(5400));
    }

    #[test]
    fn top_level_refusals() {
        let e = err_yaml(&with("netwrk: 1"));
        assert!(
            e.starts_with("tracer.yaml: field netwrk: unknown key (known keys: networkMagic, ")
                && e.contains("prometheusLabels"),
            "{e}"
        );
        for (key, what) in [
            ("tlsCertificate", "TLS"),
            ("hasForwarding", "re-forwarding"),
            ("hasTimeseries", "the timeseries API"),
            ("hasRTView", "RTView"),
        ] {
            let e = err_yaml(&with(&format!("{key}: {{}}")));
            assert!(
                e.starts_with(&format!("tracer.yaml: field {key}: {what}"))
                    && e.contains("not supported by wb tracer"),
                "{e}"
            );
        }
        assert_err(
            &with("loRequestNum: 0"),
            "tracer.yaml: field loRequestNum: 0 is not in 1..65535",
        );
        assert_err(
            &with("ekgRequestFreq: 0"),
            "tracer.yaml: field ekgRequestFreq: expected seconds > 0, got 0",
        );
        assert_err(
            &with("ekgRequestFreq: soon"),
            "tracer.yaml: field ekgRequestFreq: expected seconds > 0",
        );
        assert_err(
            &with("ekgRequestFull: yes please"),
            "tracer.yaml: field ekgRequestFull: expected true or false",
        );
        assert_err(
            &with("verbosity: Loud"),
            "tracer.yaml: field verbosity: unknown verbosity \"Loud\"",
        );
        assert_err(
            &with("metricsNoSuffix: 1"),
            "tracer.yaml: field metricsNoSuffix: expected true or false, got 1",
        );
        assert_err(
            &with("metricsHelp: [a]"),
            "tracer.yaml: field metricsHelp: expected a file path or a {metric: help} map",
        );
        assert_err(
            &with("metricsHelp: {a: 1}"),
            "tracer.yaml: field metricsHelp.\"a\": expected a string, got 1",
        );
        assert_err(
            &with("resourceFreq: 0"),
            "tracer.yaml: field resourceFreq: must be at least 1 ms",
        );
        assert_err(
            &with("resourceFreq: 1.5"),
            "tracer.yaml: field resourceFreq: expected a whole number >= 0, got 1.5",
        );
        assert_err(
            &with("prometheusLabels: {role: 1}"),
            "tracer.yaml: field prometheusLabels.\"role\": expected a string, got 1",
        );
        assert_err(
            &with("prometheusLabels: {bad-name: x}"),
            "tracer.yaml: field prometheusLabels.\"bad-name\": not a Prometheus label name",
        );
        assert_err(
            &with("prometheusLabels: {node_name: x}"),
            "tracer.yaml: field prometheusLabels.\"node_name\": node_name is set by the tracer",
        );
        assert_err(
            &with("prometheusLabels: [a]"),
            "tracer.yaml: field prometheusLabels: expected a {label: value} map, got a list",
        );
    }

    #[test]
    fn nulls_count_as_absent() {
        let cfg = TracerConfig::from_yaml_str(
            &with("hasEKG:\nrotation: null\nhasForwarding: null\nverbosity: ~"),
            "t",
        )
        .unwrap();
        assert_eq!((cfg.has_ekg, cfg.rotation), (None, None));
        assert_eq!(cfg.verbosity, Verbosity::ErrorsOnly);
        // A null does not excuse an unknown key.
        assert_err(
            &with("netwrk: null"),
            "tracer.yaml: field netwrk: unknown key",
        );
    }

    #[test]
    fn addresses_parse_and_display() {
        let tcp = |h: &str, p| Address::Tcp {
            host: h.into(),
            port: p,
        };
        for (text, addr, shown) in [
            ("127.0.0.1:3000", tcp("127.0.0.1", 3000), "127.0.0.1:3000"),
            ("localhost:0", tcp("localhost", 0), "localhost:0"),
            ("[::1]:3000", tcp("::1", 3000), "[::1]:3000"),
            (
                "/run/t.sock",
                Address::Unix("/run/t.sock".into()),
                "/run/t.sock",
            ),
            ("t.sock", Address::Unix("t.sock".into()), "t.sock"),
            // Not host:port, so a path.
            ("host:abc", Address::Unix("host:abc".into()), "host:abc"),
            ("host:+80", Address::Unix("host:+80".into()), "host:+80"),
            ("/run/x:1", Address::Unix("/run/x:1".into()), "/run/x:1"),
        ] {
            let parsed = Address::parse(text).unwrap();
            assert_eq!(parsed, addr, "{text}");
            assert_eq!(parsed.to_string(), shown);
        }
        assert!(Address::parse("").is_err());
        assert!(Address::parse("[]:1").is_err());
        assert!(Address::parse("::1:3000").unwrap_err().contains("brackets"));
        assert!(Address::parse("h:65536").is_err());
    }
}
