//! The small closed vocabularies of trace-dispatcher: severity, privacy and detail level.

use std::fmt;
use std::str::FromStr;

/// Severity of a trace message, in RFC 5424 order (cardano-node's `SeverityS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Severity {
    /// Debug-level messages.
    Debug = 0,
    /// Informational messages.
    Info = 1,
    /// Normal but significant conditions.
    Notice = 2,
    /// Warning conditions.
    Warning = 3,
    /// Error conditions.
    Error = 4,
    /// Critical conditions.
    Critical = 5,
    /// Action must be taken immediately.
    Alert = 6,
    /// The system is unusable.
    Emergency = 7,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 8] = [
        Severity::Debug,
        Severity::Info,
        Severity::Notice,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
        Severity::Alert,
        Severity::Emergency,
    ];

    /// The constructor name, as written in the `sev` field of a machine line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Debug => "Debug",
            Severity::Info => "Info",
            Severity::Notice => "Notice",
            Severity::Warning => "Warning",
            Severity::Error => "Error",
            Severity::Critical => "Critical",
            Severity::Alert => "Alert",
            Severity::Emergency => "Emergency",
        }
    }

    /// The severity with this `Enum` index (0 = Debug … 7 = Emergency), as in the CBOR codecs.
    pub const fn from_index(i: u8) -> Option<Severity> {
        if (i as usize) < Self::ALL.len() {
            Some(Self::ALL[i as usize])
        } else {
            None
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new(
                    "severity",
                    s,
                    "Debug|Info|Notice|Warning|Error|Critical|Alert|Emergency",
                )
            })
    }
}

/// A severity *filter* from the configuration: messages below it are dropped; `Silence` drops all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SeverityFilter {
    /// Pass messages of this severity and above.
    AtLeast(Severity),
    /// Pass nothing.
    Silence,
}

impl SeverityFilter {
    /// The threshold as a number compared against `Severity as u8`: 0..=7, or 8 for `Silence`.
    pub const fn threshold(self) -> u8 {
        match self {
            SeverityFilter::AtLeast(s) => s as u8,
            SeverityFilter::Silence => 8,
        }
    }

    /// Whether a message of severity `sev` passes this filter.
    pub const fn passes(self, sev: Severity) -> bool {
        sev as u8 >= self.threshold()
    }
}

impl fmt::Display for SeverityFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeverityFilter::AtLeast(s) => f.write_str(s.as_str()),
            SeverityFilter::Silence => f.write_str("Silence"),
        }
    }
}

impl FromStr for SeverityFilter {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "Silence" {
            return Ok(SeverityFilter::Silence);
        }
        s.parse::<Severity>()
            .map(SeverityFilter::AtLeast)
            .map_err(|_| {
                UnknownName::new(
                    "severity",
                    s,
                    "Debug|Info|Notice|Warning|Error|Critical|Alert|Emergency|Silence",
                )
            })
    }
}

/// Whether a message may leave the process (cardano-node's `Privacy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Privacy {
    /// Never forwarded; written only to local backends.
    Confidential,
    /// May be forwarded to a tracer.
    Public,
}

impl Privacy {
    /// The constructor name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Privacy::Confidential => "Confidential",
            Privacy::Public => "Public",
        }
    }
}

impl fmt::Display for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of an event's payload goes into its machine object (cardano-node's `DetailLevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum DetailLevel {
    /// The least: identifiers only.
    DMinimal = 0,
    /// The usual payload.
    DNormal = 1,
    /// More fields.
    DDetailed = 2,
    /// Everything the event has.
    DMaximum = 3,
}

impl DetailLevel {
    /// All levels, least first.
    pub const ALL: [DetailLevel; 4] = [
        DetailLevel::DMinimal,
        DetailLevel::DNormal,
        DetailLevel::DDetailed,
        DetailLevel::DMaximum,
    ];

    /// The constructor name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DetailLevel::DMinimal => "DMinimal",
            DetailLevel::DNormal => "DNormal",
            DetailLevel::DDetailed => "DDetailed",
            DetailLevel::DMaximum => "DMaximum",
        }
    }

    /// The level with this `Enum` index (0 = DMinimal … 3 = DMaximum).
    pub const fn from_index(i: u8) -> Option<DetailLevel> {
        if (i as usize) < Self::ALL.len() {
            Some(Self::ALL[i as usize])
        } else {
            None
        }
    }
}

impl fmt::Display for DetailLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DetailLevel {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DetailLevel::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownName::new("detail", s, "DMinimal|DNormal|DDetailed|DMaximum"))
    }
}

/// A name that is not one of a vocabulary's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?} (expected one of {expected})")]
pub struct UnknownName {
    what: &'static str,
    given: String,
    expected: &'static str,
}

impl UnknownName {
    fn new(what: &'static str, given: &str, expected: &'static str) -> Self {
        UnknownName {
            what,
            given: given.to_owned(),
            expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_names_round_trip_and_order() {
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
            assert_eq!(Severity::from_index(i as u8), Some(s));
        }
        assert!(Severity::Debug < Severity::Emergency);
        assert_eq!(Severity::from_index(8), None);
        assert!("info".parse::<Severity>().is_err());
    }

    #[test]
    fn filter_threshold_and_silence() {
        let f: SeverityFilter = "Notice".parse().unwrap();
        assert!(!f.passes(Severity::Info));
        assert!(f.passes(Severity::Notice));
        assert!(f.passes(Severity::Emergency));
        let s: SeverityFilter = "Silence".parse().unwrap();
        assert!(!s.passes(Severity::Emergency));
        let err = "Loud".parse::<SeverityFilter>().unwrap_err().to_string();
        assert!(err.contains("\"Loud\"") && err.contains("Silence"), "{err}");
    }

    #[test]
    fn detail_names_round_trip() {
        for d in DetailLevel::ALL {
            assert_eq!(d.as_str().parse::<DetailLevel>().unwrap(), d);
        }
        assert!("DFull".parse::<DetailLevel>().is_err());
    }
}
