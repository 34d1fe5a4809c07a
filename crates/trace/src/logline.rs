//! Reading one trace line back: the machine format cardano-node writes (and wb writes), including
//! the older shapes real logs contain (`ns` as an array of segments, trimmed fractions). What does
//! not parse — the legacy human format, launcher chatter — is an error to count and skip.

use serde_json::Value;

/// One machine trace line, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// `at`, nanoseconds since the Unix epoch.
    pub at: u64,
    /// `ns`, dotted (an array of segments is joined).
    pub ns: String,
    /// `data`.
    pub data: Value,
    /// `sev`.
    pub sev: String,
    /// `thread`.
    pub thread: String,
    /// `host`.
    pub host: String,
}

/// Why a line is not a machine trace line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not a JSON object.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// A field is missing or has the wrong type.
    #[error("field {0}: missing or not of the expected type")]
    Field(&'static str),
}

/// Parses one line.
pub fn parse(line: &str) -> Result<LogLine, LineError> {
    let v: Value = serde_json::from_str(line).map_err(|e| LineError::NotJson(e.to_string()))?;
    let str_field = |k: &'static str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(LineError::Field(k))
    };
    let at = v
        .get("at")
        .and_then(Value::as_str)
        .and_then(crate::time::parse_utc_nanos)
        .ok_or(LineError::Field("at"))?;
    let ns = match v.get("ns") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let segs: Option<Vec<&str>> = parts.iter().map(Value::as_str).collect();
            segs.ok_or(LineError::Field("ns"))?.join(".")
        }
        _ => return Err(LineError::Field("ns")),
    };
    let data = v
        .get("data")
        .filter(|d| d.is_object())
        .cloned()
        .ok_or(LineError::Field("data"))?;
    Ok(LogLine {
        at,
        ns,
        data,
        sev: str_field("sev")?,
        thread: str_field("thread")?,
        host: str_field("host")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_namespace_shapes_and_garbage() {
        let a = parse(r#"{"at":"2025-10-27T16:24:37.9919Z","ns":"LedgerMetrics","data":{"slot":8},"sev":"Info","thread":"15","host":"node-1"}"#).unwrap();
        assert_eq!(
            (a.ns.as_str(), a.data["slot"].as_u64()),
            ("LedgerMetrics", Some(8))
        );
        let b = parse(r#"{"at":"2025-04-23T10:43:18.001516576Z","ns":["Forge","Loop","NodeNotLeader"],"data":{},"sev":"Info","thread":"42","host":"p1"}"#).unwrap();
        assert_eq!(b.ns, "Forge.Loop.NodeNotLeader");
        assert!(matches!(
            parse("[2025-01-01 00:00:00.00 UTC] hello"),
            Err(LineError::NotJson(_))
        ));
        assert_eq!(
            parse(r#"{"at":"x","ns":"a","data":{},"sev":"Info","thread":"1","host":"h"}"#),
            Err(LineError::Field("at"))
        );
    }
}
