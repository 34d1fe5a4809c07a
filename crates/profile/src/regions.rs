//! Where nodes run, and what the network between two places looks like.
//!
//! The round-trip times are CloudPing's yearly averages between 21 AWS regions (`data/aws-rtt-ms.csv`,
//! republished by <https://github.com/bergerch/opti-aware> at commit
//! `da693868a5875f65964bfc84c58416d3313c9568`); the bandwidths come from DoiT International's
//! February 2022 iperf runs (`data/aws-iperf-ping-2022-02.csv`,
//! <https://github.com/doitintl/intercloud-throughput> at commit
//! `4046e3d6af0ee3c37c0fb13ca66baa932425a6ca`). `data/README.md` has the full provenance.
//!
//! Besides the AWS regions there is [`LOOPBACK`]: every node on one machine, with no emulated
//! delay between them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The pseudo-region of a local cluster: zero latency, unlimited bandwidth, and only to itself.
pub const LOOPBACK: &str = "loopback";

/// Bandwidth of an inter-region link the iperf data has no test for, in Mbit/s.
///
/// The median over all 334 tests of the iperf file; pairs are missing at random (e.g.
/// us-east-1 ↔ ap-southeast-2), so a typical value is less misleading than none.
pub const DEFAULT_BANDWIDTH_MBPS: f64 = 48.4;

const RTT_CSV: &str = include_str!("../data/aws-rtt-ms.csv");
const IPERF_CSV: &str = include_str!("../data/aws-iperf-ping-2022-02.csv");

/// The emulated properties of one direction of a link between two regions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// One-way latency in ms: half the round-trip time of the direction's table entry.
    pub latency_ms: f64,
    /// Throughput in Mbit/s; `None` means unlimited (loopback, or within one AWS region).
    pub bandwidth_mbps: Option<f64>,
}

/// The parsed tables, keyed by (from, to).
struct Tables {
    rtt: BTreeMap<(&'static str, &'static str), f64>,
    bandwidth: BTreeMap<(&'static str, &'static str), f64>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        // The embedded files are part of the source and a test parses them, so a failure here
        // is a build defect, not bad input.
        rtt: parse_rtt(RTT_CSV).expect("embedded aws-rtt-ms.csv is valid"),
        bandwidth: parse_bandwidth(IPERF_CSV)
            .expect("embedded aws-iperf-ping-2022-02.csv is valid"),
    })
}

/// Data rows of a CSV with a header line, split on commas (the files have no quoting).
fn rows(text: &'static str) -> impl Iterator<Item = (usize, Vec<&'static str>)> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| (n + 1, l.trim().split(',').collect()))
}

fn number(field: &str, line: usize) -> Result<f64, String> {
    field
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| format!("line {line}: {field:?} is not a number >= 0"))
}

fn parse_rtt(text: &'static str) -> Result<BTreeMap<(&'static str, &'static str), f64>, String> {
    let mut table = BTreeMap::new();
    for (line, f) in rows(text) {
        let [from, to, rtt] = f[..] else {
            return Err(format!("line {line}: expected from,to,rtt_ms"));
        };
        table.insert((from, to), number(rtt, line)?);
    }
    Ok(table)
}

/// Mean of `bandwidth_mbps_derived` per directed pair: some pairs were tested more than once.
fn parse_bandwidth(
    text: &'static str,
) -> Result<BTreeMap<(&'static str, &'static str), f64>, String> {
    let mut sums: BTreeMap<(&'static str, &'static str), (f64, u32)> = BTreeMap::new();
    for (line, f) in rows(text) {
        let [from, to, _, _, _, mbps] = f[..] else {
            return Err(format!("line {line}: expected 6 fields"));
        };
        let entry = sums.entry((from, to)).or_insert((0.0, 0));
        entry.0 += number(mbps, line)?;
        entry.1 += 1;
    }
    Ok(sums
        .into_iter()
        .map(|(k, (sum, n))| (k, sum / f64::from(n)))
        .collect())
}

/// All known regions, sorted: the 21 AWS regions and [`LOOPBACK`].
pub fn regions() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = tables().rtt.keys().map(|(from, _)| *from).collect();
    names.push(LOOPBACK);
    names.sort_unstable();
    names.dedup();
    names
}

/// Whether `name` is a known region.
pub fn is_region(name: &str) -> bool {
    name == LOOPBACK || tables().rtt.keys().any(|(from, _)| *from == name)
}

/// Round-trip time from `from` to `to` in ms, as measured in that direction.
///
/// `None` for an unknown region, or between [`LOOPBACK`] and an AWS region (a cluster is either
/// local or in the cloud).
pub fn rtt_ms(from: &str, to: &str) -> Option<f64> {
    if from == LOOPBACK && to == LOOPBACK {
        return Some(0.0);
    }
    tables().rtt.get(&(from, to)).copied()
}

/// The link from `from` to `to`; `None` where [`rtt_ms`] is `None`.
///
/// Bandwidth: unlimited on loopback and within one AWS region (the iperf data has no
/// intra-region tests, and those links are not what a benchmark means to constrain); otherwise
/// the mean of the iperf tests of this direction, else of the reverse direction, else
/// [`DEFAULT_BANDWIDTH_MBPS`]. (Every pair in the current file was tested in both directions; the
/// reverse fallback only guards against a one-sided table.)
pub fn link(from: &str, to: &str) -> Option<Link> {
    let rtt = rtt_ms(from, to)?;
    let bandwidth_mbps = if from == to {
        None
    } else {
        let bw = &tables().bandwidth;
        Some(
            bw.get(&(from, to))
                .or_else(|| bw.get(&(to, from)))
                .copied()
                .unwrap_or(DEFAULT_BANDWIDTH_MBPS),
        )
    };
    Some(Link {
        latency_ms: rtt / 2.0,
        bandwidth_mbps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_parse_completely() {
        let t = tables();
        assert_eq!(t.rtt.len(), 21 * 21);
        assert_eq!(t.bandwidth.len(), 228);
        assert_eq!(regions().len(), 22);
    }

    #[test]
    fn malformed_rows_are_reported_with_their_line() {
        let e = parse_rtt("from,to,rtt_ms\na,b,1\na,b\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = parse_rtt("from,to,rtt_ms\na,b,-1\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn bandwidth_is_averaged_over_repeated_tests() {
        let t = parse_bandwidth("h\na,b,t,1,2,10\na,b,t,1,2,20\n").unwrap();
        assert_eq!(t.get(&("a", "b")), Some(&15.0));
    }
}
