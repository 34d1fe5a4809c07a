//! When a run starts and ends (`meta.json .meta.timing`), with the workbench's field names.

use serde::{Deserialize, Serialize};
use wb_profile::profile::{Profile, Scenario};

/// Seconds of slack after the planned end before a run is declared overdue and stopped.
pub const END_TOLERANCE_S: f64 = 40.0;

/// The run's planned times, Unix seconds unless named otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Seconds between allocation and the system start.
    pub future_offset: f64,
    /// The system start (slot 0).
    pub start: u64,
    /// When the nodes reach the derived shutdown slot.
    pub shutdown_end: u64,
    /// When the generator's transactions are planned to be sent.
    pub workload_end: Option<u64>,
    /// The earliest planned end of the whole run.
    pub earliest_end: u64,
    /// `systemStart` in genesis (RFC 3339).
    #[serde(rename = "systemStart")]
    pub system_start: String,
    /// `shutdown_end`, RFC 3339.
    #[serde(rename = "shutdownTime")]
    pub shutdown_time: String,
    /// `workload_end`, RFC 3339.
    #[serde(rename = "workloadEndTime")]
    pub workload_end_time: Option<String>,
    /// `earliest_end`, RFC 3339.
    #[serde(rename = "earliestEndTime")]
    pub earliest_end_time: String,
    /// The time part of the tag.
    pub start_tag: String,
    /// `start` for people.
    pub start_human: String,
}

/// RFC 3339 (`2026-11-24T06:15:36Z`) for Unix seconds.
pub fn rfc3339(secs: u64) -> String {
    wb_trace::time::machine_time(secs * 1_000_000_000)
}

/// The time part of a run tag: `2026-11-24-06-15-36` for Unix seconds.
pub fn tag_time(secs: u64) -> String {
    rfc3339(secs).trim_end_matches('Z').replace([':', 'T'], "-")
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    wb_trace::time::now_unix_nanos() / 1_000_000_000
}

impl Timing {
    /// The times of a run of `profile` allocated at `now` (Unix seconds).
    pub fn allocate(profile: &Profile, now: u64) -> Timing {
        let d = profile.compute_derived();
        let start = now + d.genesis_future_offset.ceil() as u64;
        let shutdown_end = start + d.shutdown_time.ceil() as u64;
        let workload_end = (profile.scenario == Scenario::FixedLoaded)
            .then(|| start + d.generator_duration.ceil() as u64);
        let earliest_end = shutdown_end.max(workload_end.unwrap_or(0));
        let human = rfc3339(start);
        Timing {
            future_offset: d.genesis_future_offset,
            start,
            shutdown_end,
            workload_end,
            earliest_end,
            system_start: human.clone(),
            shutdown_time: rfc3339(shutdown_end),
            workload_end_time: workload_end.map(rfc3339),
            earliest_end_time: rfc3339(earliest_end),
            start_tag: human
                .replace([':', 'T'], "-")
                .trim_end_matches('Z')
                .to_owned(),
            start_human: human.replace('T', " ").replace('Z', " UTC"),
        }
    }
}
