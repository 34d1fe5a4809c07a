//! The node's peers and the links to them, from a topology file.
//!
//! Both of cardano-node's formats are read — the legacy `Producers` list and the P2P
//! `localRoots`/`publicRoots` access points — with two additions per peer for link emulation:
//! `latencyMs` (one-way) and `bandwidthMbps`. Absent, a link is instantaneous.
//!
//! ```json
//! {"Producers": [{"addr": "127.0.0.1", "port": 3001, "valency": 1, "latencyMs": 50, "bandwidthMbps": 100}]}
//! ```

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// One upstream peer and the link to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// One-way latency applied to what we send on this link.
    pub latency: Duration,
    /// Bandwidth of this link in bits per second (`None`: unlimited).
    pub bandwidth_bps: Option<u64>,
}

impl Peer {
    /// `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A topology file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct TopologyError {
    /// The file.
    pub origin: String,
    /// What is wrong (with the field).
    pub message: String,
}

/// The peers of a topology file.
pub fn read_topology(path: &Path) -> Result<Vec<Peer>, TopologyError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| TopologyError {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    parse_topology(&text, &origin)
}

/// Parses topology JSON; `origin` names it in errors.
pub fn parse_topology(text: &str, origin: &str) -> Result<Vec<Peer>, TopologyError> {
    let err = |message: String| TopologyError {
        origin: origin.to_owned(),
        message,
    };
    let v: Value = serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
    let mut peers = Vec::new();
    if let Some(list) = v.get("Producers") {
        let list = list
            .as_array()
            .ok_or_else(|| err("field Producers: expected a list".into()))?;
        for (i, p) in list.iter().enumerate() {
            peers.push(peer(p, "addr", &format!("Producers[{i}]")).map_err(err)?);
        }
    }
    for key in ["localRoots", "publicRoots"] {
        let Some(groups) = v.get(key) else { continue };
        let groups = groups
            .as_array()
            .ok_or_else(|| err(format!("field {key}: expected a list")))?;
        for (g, group) in groups.iter().enumerate() {
            let Some(aps) = group.get("accessPoints") else {
                continue;
            };
            let aps = aps
                .as_array()
                .ok_or_else(|| err(format!("field {key}[{g}].accessPoints: expected a list")))?;
            for (i, p) in aps.iter().enumerate() {
                peers.push(
                    peer(p, "address", &format!("{key}[{g}].accessPoints[{i}]")).map_err(err)?,
                );
            }
        }
    }
    Ok(peers)
}

fn peer(p: &Value, host_key: &str, at: &str) -> Result<Peer, String> {
    let host = p
        .get(host_key)
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("field {at}.{host_key}: expected a host"))?;
    let port = p
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("field {at}.port: expected a port number"))?;
    let latency = match p.get("latencyMs") {
        None | Some(Value::Null) => Duration::ZERO,
        Some(v) => Duration::from_secs_f64(
            v.as_f64()
                .filter(|x| *x >= 0.0 && x.is_finite())
                .ok_or_else(|| format!("field {at}.latencyMs: expected milliseconds >= 0"))?
                / 1000.0,
        ),
    };
    let bandwidth_bps = match p.get("bandwidthMbps") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            (v.as_f64()
                .filter(|x| *x > 0.0 && x.is_finite())
                .ok_or_else(|| format!("field {at}.bandwidthMbps: expected a positive number"))?
                * 1e6) as u64,
        ),
    };
    Ok(Peer {
        host: host.to_owned(),
        port,
        latency,
        bandwidth_bps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_with_link_attributes() {
        let legacy = r#"{"Producers":[{"addr":"127.0.0.1","port":3001,"valency":1,"latencyMs":50,"bandwidthMbps":100},{"addr":"127.0.0.1","port":3002}]}"#;
        let p = parse_topology(legacy, "t.json").unwrap();
        assert_eq!(
            p[0],
            Peer {
                host: "127.0.0.1".into(),
                port: 3001,
                latency: Duration::from_millis(50),
                bandwidth_bps: Some(100_000_000)
            }
        );
        assert_eq!(p[1].latency, Duration::ZERO);
        assert_eq!(p[1].bandwidth_bps, None);
        let p2p = r#"{"localRoots":[{"accessPoints":[{"address":"127.0.0.1","port":3003,"latencyMs":12.5}],"advertise":false,"valency":1}],"publicRoots":[]}"#;
        let p = parse_topology(p2p, "t.json").unwrap();
        assert_eq!(p[0].address(), "127.0.0.1:3003");
        assert_eq!(p[0].latency, Duration::from_micros(12_500));
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_topology(r#"{"Producers":[{"addr":"h","port":70000}]}"#, "t.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.json") && e.contains("Producers[0].port"),
            "{e}"
        );
        let e = parse_topology(
            r#"{"Producers":[{"addr":"h","port":1,"latencyMs":-1}]}"#,
            "t.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("latencyMs"), "{e}");
        assert!(parse_topology("[", "t.json").is_err());
    }
}
