//! Trace configuration in cardano-node's vocabulary: the `TraceOptions` map and the
//! `TraceOption*` keys of a node configuration file, read from YAML or JSON.
//!
//! Only these keys are read; the rest of a node configuration file is ignored, so a real
//! cardano-node config can be given as it is. Inside the trace keys, anything unknown is refused
//! with the path of the offending field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::metrics::DEFAULT_METRICS_PREFIX;
use crate::severity::{DetailLevel, Severity, SeverityFilter};

/// How a `Stdout` backend renders lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StdoutFormat {
    /// `Stdout HumanFormatColoured`: human lines with ANSI colours on the bracket prefix.
    HumanColoured,
    /// `Stdout HumanFormatUncoloured`.
    HumanUncoloured,
    /// `Stdout MachineFormat`: one JSON object per line.
    Machine,
}

/// One entry of a namespace's `backends` list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Write to the process's log output (stdout, or the file the dispatcher was given).
    Stdout(StdoutFormat),
    /// Forward to a tracer over trace-forward.
    Forwarder,
    /// Update metrics (`EKGBackend`).
    Ekg,
    /// Store data points (`DatapointBackend`).
    DataPoint,
    /// `PrometheusSimple [suffix|nosuffix] [bindhost] <port>`: serve `/metrics` over HTTP.
    PrometheusSimple {
        /// `nosuffix` given: drop `_int`, `_real`, `_counter`.
        no_suffix: bool,
        /// Address to bind (default `127.0.0.1`).
        host: String,
        /// Port to bind.
        port: u16,
    },
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Stdout(StdoutFormat::HumanColoured) => {
                f.write_str("Stdout HumanFormatColoured")
            }
            Backend::Stdout(StdoutFormat::HumanUncoloured) => {
                f.write_str("Stdout HumanFormatUncoloured")
            }
            Backend::Stdout(StdoutFormat::Machine) => f.write_str("Stdout MachineFormat"),
            Backend::Forwarder => f.write_str("Forwarder"),
            Backend::Ekg => f.write_str("EKGBackend"),
            Backend::DataPoint => f.write_str("DatapointBackend"),
            Backend::PrometheusSimple {
                no_suffix,
                host,
                port,
            } => {
                let suffix = if *no_suffix { "nosuffix" } else { "suffix" };
                write!(f, "PrometheusSimple {suffix} {host} {port}")
            }
        }
    }
}

impl Backend {
    /// Parses a backend string as cardano-node writes it.
    pub fn parse(s: &str) -> Result<Backend, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        Ok(match words.as_slice() {
            ["Stdout", "HumanFormatColoured"] => Backend::Stdout(StdoutFormat::HumanColoured),
            ["Stdout", "HumanFormatUncoloured"] => Backend::Stdout(StdoutFormat::HumanUncoloured),
            ["Stdout", "MachineFormat"] => Backend::Stdout(StdoutFormat::Machine),
            ["Forwarder"] => Backend::Forwarder,
            ["EKGBackend"] => Backend::Ekg,
            ["DatapointBackend"] => Backend::DataPoint,
            ["PrometheusSimple", rest @ ..] => {
                let mut rest = rest;
                let mut no_suffix = false;
                if let [first @ ("suffix" | "nosuffix"), tail @ ..] = rest {
                    no_suffix = *first == "nosuffix";
                    rest = tail;
                }
                let (host, port) = match rest {
                    [port] => ("127.0.0.1", *port),
                    [host, port] => (*host, *port),
                    _ => {
                        return Err(format!(
                            "bad backend {s:?}: expected PrometheusSimple [suffix|nosuffix] [bindhost] <port>"
                        ));
                    }
                };
                let port = port.parse().map_err(|_| {
                    format!("bad backend {s:?}: port {port:?} is not a number 0..65535")
                })?;
                Backend::PrometheusSimple {
                    no_suffix,
                    host: host.to_owned(),
                    port,
                }
            }
            _ => {
                return Err(format!(
                    "unknown backend {s:?} (expected Forwarder, EKGBackend, DatapointBackend, Stdout HumanFormatColoured|HumanFormatUncoloured|MachineFormat, or PrometheusSimple [suffix|nosuffix] [bindhost] <port>)"
                ));
            }
        })
    }
}

/// The options one `TraceOptions` entry sets; unset fields are inherited from shorter prefixes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceOptions {
    /// `severity`.
    pub severity: Option<SeverityFilter>,
    /// `detail`.
    pub detail: Option<DetailLevel>,
    /// `backends`.
    pub backends: Option<Vec<Backend>>,
    /// `maxFrequency` in messages per second; 0 means no limiter.
    pub max_frequency: Option<f64>,
}

/// `TraceOptionForwarder.verbosity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwarderVerbosity {
    /// Quiet.
    #[default]
    Minimum,
    /// Protocol-level chatter.
    Maximum,
}

/// `TraceOptionForwarder`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwarderOptions {
    /// Messages kept for the tracer (default 192, as trace-dispatcher's `defaultForwarder`).
    pub queue_size: usize,
    /// Protocol verbosity.
    pub verbosity: ForwarderVerbosity,
    /// Longest wait between reconnection attempts, in seconds (default 45).
    pub max_reconnect_delay_secs: u64,
}

impl Default for ForwarderOptions {
    fn default() -> Self {
        ForwarderOptions {
            queue_size: 192,
            verbosity: ForwarderVerbosity::Minimum,
            max_reconnect_delay_secs: 45,
        }
    }
}

/// A whole trace configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    /// `TraceOptions`: namespace prefix (dotted; `""` is the root) → options.
    pub options: BTreeMap<String, NamespaceOptions>,
    /// `TraceOptionNodeName`.
    pub node_name: Option<String>,
    /// `TraceOptionForwarder`.
    pub forwarder: ForwarderOptions,
    /// `TraceOptionResourceFrequency` in ms (default 5000; 0 turns sampling off).
    pub resource_frequency_ms: u64,
    /// `TraceOptionMetricsPrefix`.
    pub metrics_prefix: String,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            options: BTreeMap::new(),
            node_name: None,
            forwarder: ForwarderOptions::default(),
            resource_frequency_ms: 5000,
            metrics_prefix: DEFAULT_METRICS_PREFIX.to_owned(),
        }
    }
}

/// The options that apply to one namespace after prefix resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedOptions {
    /// Severity filter.
    pub severity: SeverityFilter,
    /// Detail level.
    pub detail: DetailLevel,
    /// Backends.
    pub backends: Vec<Backend>,
    /// Frequency limit, if any (messages per second, > 0).
    pub max_frequency: Option<f64>,
}

/// Trace-dispatcher's defaults for a namespace nothing in the configuration matches.
pub const DEFAULT_SEVERITY: SeverityFilter = SeverityFilter::AtLeast(Severity::Warning);
/// Default detail level.
pub const DEFAULT_DETAIL: DetailLevel = DetailLevel::DNormal;

/// Default backends: `[EKGBackend, Forwarder, Stdout HumanFormatColoured]`.
pub fn default_backends() -> Vec<Backend> {
    vec![
        Backend::Ekg,
        Backend::Forwarder,
        Backend::Stdout(StdoutFormat::HumanColoured),
    ]
}

/// A configuration that could not be read, naming where and what.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
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
        /// File name or `<string>`.
        origin: String,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// Parser message with line and column.
        message: String,
    },
    /// A field has a value that is not allowed.
    #[error("{origin}: field {field}: {message}")]
    Field {
        /// File name or `<string>`.
        origin: String,
        /// Path of the field, e.g. `TraceOptions."ChainDB".severity`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl TraceConfig {
    /// Reads a node configuration file (JSON if it ends in `.json`, YAML otherwise).
    pub fn from_file(path: &Path) -> Result<TraceConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
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

    /// Parses YAML text (which also accepts most JSON); `origin` names it in errors.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<TraceConfig, ConfigError> {
        let v: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            format: "YAML",
            message: e.to_string(),
        })?;
        Self::from_value(&v, origin)
    }

    /// Parses JSON text; `origin` names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<TraceConfig, ConfigError> {
        let v: Value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            format: "JSON",
            message: e.to_string(),
        })?;
        Self::from_value(&v, origin)
    }

    /// Reads the trace keys of an already-parsed node configuration object.
    pub fn from_value(v: &Value, origin: &str) -> Result<TraceConfig, ConfigError> {
        let field_err = |field: String, message: String| ConfigError::Field {
            origin: origin.to_owned(),
            field,
            message,
        };
        let top = v
            .as_object()
            .ok_or_else(|| field_err("(top level)".into(), "expected an object".into()))?;
        let mut cfg = TraceConfig::default();

        if let Some(opts) = top.get("TraceOptions") {
            let opts = opts
                .as_object()
                .ok_or_else(|| field_err("TraceOptions".into(), "expected an object".into()))?;
            for (ns, entry) in opts {
                let parsed = parse_namespace_options(entry).map_err(|(sub, msg)| {
                    field_err(
                        format!(
                            "TraceOptions.{ns:?}{}",
                            sub.map(|s| format!(".{s}")).unwrap_or_default()
                        ),
                        msg,
                    )
                })?;
                cfg.options.insert(ns.clone(), parsed);
            }
        }
        match top.get("TraceOptionNodeName") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => cfg.node_name = Some(s.clone()),
            Some(other) => {
                return Err(field_err(
                    "TraceOptionNodeName".into(),
                    format!("expected a string, got {other}"),
                ));
            }
        }
        if let Some(f) = top.get("TraceOptionForwarder") {
            cfg.forwarder = parse_forwarder(f)
                .map_err(|(sub, msg)| field_err(format!("TraceOptionForwarder{sub}"), msg))?;
        }
        if let Some(r) = top.get("TraceOptionResourceFrequency") {
            cfg.resource_frequency_ms = r.as_u64().ok_or_else(|| {
                field_err(
                    "TraceOptionResourceFrequency".into(),
                    format!("expected milliseconds as a whole number, got {r}"),
                )
            })?;
        }
        if let Some(p) = top.get("TraceOptionMetricsPrefix") {
            cfg.metrics_prefix = p
                .as_str()
                .ok_or_else(|| {
                    field_err(
                        "TraceOptionMetricsPrefix".into(),
                        format!("expected a string, got {p}"),
                    )
                })?
                .to_owned();
        }
        Ok(cfg)
    }

    /// The options for namespace `ns` (dotted): for each option, the longest configured prefix
    /// of `ns` that sets it wins, walking up segment by segment to the root `""`.
    pub fn resolve(&self, ns: &str) -> ResolvedOptions {
        let mut severity = None;
        let mut detail = None;
        let mut backends = None;
        let mut max_frequency = None;
        for prefix in prefixes(ns) {
            if let Some(o) = self.options.get(prefix) {
                severity = severity.or(o.severity);
                detail = detail.or(o.detail);
                if backends.is_none() {
                    backends.clone_from(&o.backends);
                }
                max_frequency = max_frequency.or(o.max_frequency);
            }
        }
        ResolvedOptions {
            severity: severity.unwrap_or(DEFAULT_SEVERITY),
            detail: detail.unwrap_or(DEFAULT_DETAIL),
            backends: backends.unwrap_or_else(default_backends),
            max_frequency: max_frequency.filter(|f| *f > 0.0),
        }
    }

    /// The PrometheusSimple backend, if any entry configures one (it is process-wide).
    pub fn prometheus_simple(&self) -> Option<&Backend> {
        self.options
            .values()
            .filter_map(|o| o.backends.as_ref())
            .flatten()
            .find(|b| matches!(b, Backend::PrometheusSimple { .. }))
    }
}

/// `ns` itself, then each shorter dotted prefix, then `""`.
pub fn prefixes(ns: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(ns);
    std::iter::from_fn(move || {
        let cur = next?;
        next = if cur.is_empty() {
            None
        } else {
            Some(cur.rfind('.').map_or("", |i| &cur[..i]))
        };
        Some(cur)
    })
}

type FieldResult<T> = Result<T, (Option<&'static str>, String)>;

fn parse_namespace_options(entry: &Value) -> FieldResult<NamespaceOptions> {
    let obj = entry
        .as_object()
        .ok_or((None, format!("expected an object, got {entry}")))?;
    let mut o = NamespaceOptions::default();
    for (key, v) in obj {
        match key.as_str() {
            "severity" => {
                let s = v
                    .as_str()
                    .ok_or((Some("severity"), format!("expected a string, got {v}")))?;
                o.severity = Some(s.parse().map_err(|e: crate::severity::UnknownName| {
                    (Some("severity"), e.to_string())
                })?);
            }
            "detail" => {
                let s = v
                    .as_str()
                    .ok_or((Some("detail"), format!("expected a string, got {v}")))?;
                o.detail =
                    Some(s.parse().map_err(|e: crate::severity::UnknownName| {
                        (Some("detail"), e.to_string())
                    })?);
            }
            "backends" => {
                let list = v
                    .as_array()
                    .ok_or((Some("backends"), format!("expected a list, got {v}")))?;
                let mut backends = Vec::with_capacity(list.len());
                for b in list {
                    let s = b
                        .as_str()
                        .ok_or((Some("backends"), format!("expected a string, got {b}")))?;
                    backends.push(Backend::parse(s).map_err(|e| (Some("backends"), e))?);
                }
                o.backends = Some(backends);
            }
            "maxFrequency" => {
                let f = v.as_f64().filter(|f| f.is_finite() && *f >= 0.0).ok_or((
                    Some("maxFrequency"),
                    format!("expected messages per second (a number >= 0), got {v}"),
                ))?;
                o.max_frequency = Some(f);
            }
            other => {
                return Err((
                    None,
                    format!(
                        "unknown option {other:?} (expected severity, detail, backends, maxFrequency)"
                    ),
                ));
            }
        }
    }
    Ok(o)
}

fn parse_forwarder(v: &Value) -> Result<ForwarderOptions, (String, String)> {
    let obj = v
        .as_object()
        .ok_or((String::new(), format!("expected an object, got {v}")))?;
    let mut f = ForwarderOptions::default();
    let mut queue_sizes = Vec::new();
    for (key, val) in obj {
        let field = format!(".{key}");
        let uint = || {
            val.as_u64()
                .ok_or((field.clone(), format!("expected a whole number, got {val}")))
        };
        // Both the file keys and the record field names of a `TracerConfigInfo` dump are accepted.
        match key.as_str() {
            "queueSize"
            | "tofQueueSize"
            | "connQueueSize"
            | "tofConnQueueSize"
            | "disconnQueueSize"
            | "tofDisconnQueueSize" => {
                queue_sizes.push(uint()? as usize);
            }
            "maxReconnectDelay" | "tofMaxReconnectDelay" => f.max_reconnect_delay_secs = uint()?,
            "verbosity" | "tofVerbosity" => {
                f.verbosity = match val.as_str() {
                    Some("Minimum") => ForwarderVerbosity::Minimum,
                    Some("Maximum") => ForwarderVerbosity::Maximum,
                    _ => {
                        return Err((
                            field,
                            format!("expected \"Minimum\" or \"Maximum\", got {val}"),
                        ));
                    }
                };
            }
            _ => {
                return Err((
                    field,
                    "unknown option (expected queueSize, connQueueSize, disconnQueueSize, verbosity, maxReconnectDelay)".into(),
                ));
            }
        }
    }
    // The legacy pair of queue sizes maps to the larger, as trace-dispatcher does.
    if let Some(max) = queue_sizes.into_iter().max() {
        if max == 0 {
            return Err((".queueSize".into(), "must be at least 1".into()));
        }
        f.queue_size = max;
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_walk_up_to_root() {
        assert_eq!(
            prefixes("A.B.C").collect::<Vec<_>>(),
            ["A.B.C", "A.B", "A", ""]
        );
        assert_eq!(prefixes("").collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn yaml_config_resolves_per_option() {
        let cfg = TraceConfig::from_yaml_str(
            r#"
Protocol: Cardano
TraceOptionNodeName: node-1
TraceOptionResourceFrequency: 1000
TraceOptions:
  "":
    severity: Notice
    detail: DNormal
    backends: [Stdout MachineFormat, EKGBackend, Forwarder]
  ChainDB:
    severity: Info
  ChainDB.AddBlockEvent.AddedBlockToQueue:
    maxFrequency: 2.0
    detail: DMinimal
  Mempool:
    severity: Silence
"#,
            "test.yaml",
        )
        .unwrap();
        assert_eq!(cfg.node_name.as_deref(), Some("node-1"));
        assert_eq!(cfg.resource_frequency_ms, 1000);
        let r = cfg.resolve("ChainDB.AddBlockEvent.AddedBlockToQueue");
        assert_eq!(r.severity, SeverityFilter::AtLeast(Severity::Info));
        assert_eq!(r.detail, DetailLevel::DMinimal);
        assert_eq!(r.max_frequency, Some(2.0));
        assert_eq!(r.backends[0], Backend::Stdout(StdoutFormat::Machine));
        let r = cfg.resolve("ChainDB.AddBlockEvent.AddedToCurrentChain");
        assert_eq!((r.detail, r.max_frequency), (DetailLevel::DNormal, None));
        assert_eq!(
            cfg.resolve("Mempool.AddedTx").severity,
            SeverityFilter::Silence
        );
        assert_eq!(
            cfg.resolve("Forge.Loop.ForgedBlock").severity,
            SeverityFilter::AtLeast(Severity::Notice)
        );
        // A segment boundary matters: "ChainDBX" is not under "ChainDB".
        assert_eq!(
            cfg.resolve("ChainDBX.Y").severity,
            SeverityFilter::AtLeast(Severity::Notice)
        );
    }

    #[test]
    fn empty_config_gives_dispatcher_defaults() {
        let r = TraceConfig::default().resolve("Any.Thing");
        assert_eq!(r.severity, DEFAULT_SEVERITY);
        assert_eq!(r.detail, DetailLevel::DNormal);
        assert_eq!(r.backends, default_backends());
        assert_eq!(r.max_frequency, None);
    }

    #[test]
    fn bad_fields_are_named() {
        let err = |text: &str| {
            TraceConfig::from_yaml_str(text, "node.yaml")
                .unwrap_err()
                .to_string()
        };
        let e = err("TraceOptions:\n  ChainDB:\n    severity: Loud\n");
        assert!(
            e.starts_with(
                "node.yaml: field TraceOptions.\"ChainDB\".severity: unknown severity \"Loud\""
            ),
            "{e}"
        );
        let e = err("TraceOptions:\n  ChainDB:\n    severty: Info\n");
        assert!(
            e.contains("TraceOptions.\"ChainDB\"") && e.contains("\"severty\""),
            "{e}"
        );
        let e = err("TraceOptions:\n  \"\":\n    backends: [Stdout JSON]\n");
        assert!(e.contains("unknown backend \"Stdout JSON\""), "{e}");
        let e = err("TraceOptions:\n  X:\n    maxFrequency: -1\n");
        assert!(e.contains("maxFrequency"), "{e}");
        let e = err("TraceOptionForwarder:\n  queueSize: many\n");
        assert!(e.contains("TraceOptionForwarder.queueSize"), "{e}");
        let e = err("TraceOptions: [1\n");
        assert!(e.starts_with("node.yaml: not valid YAML"), "{e}");
    }

    #[test]
    fn backend_strings() {
        for s in [
            "Forwarder",
            "EKGBackend",
            "DatapointBackend",
            "Stdout HumanFormatColoured",
            "Stdout HumanFormatUncoloured",
            "Stdout MachineFormat",
        ] {
            assert_eq!(Backend::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            Backend::parse("PrometheusSimple nosuffix 0.0.0.0 12798").unwrap(),
            Backend::PrometheusSimple {
                no_suffix: true,
                host: "0.0.0.0".into(),
                port: 12798
            }
        );
        assert_eq!(
            Backend::parse("PrometheusSimple 12798").unwrap(),
            Backend::PrometheusSimple {
                no_suffix: false,
                host: "127.0.0.1".into(),
                port: 12798
            }
        );
        assert!(Backend::parse("PrometheusSimple suffix").is_err());
        assert!(Backend::parse("PrometheusSimple 99999").is_err());
    }
}
