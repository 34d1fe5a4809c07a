//! Reports people read, from an analysis directory (`wb analyse`'s outputs):
//!
//! * `input`: the analysis outputs a report reads, and what each of them lacks;
//! * `svg`: charts (CDFs) drawn as inline SVG, so a report needs nothing at view time;
//! * `page`: the run report as one self-contained HTML file, every number carrying its unit and
//!   its dictionary entry (hover help, and the dictionary as an appendix);
//! * `compare`: the comparison report: runs side by side against a baseline, Δ and Δ%,
//!   coloured only beyond each metric's noise threshold, distributions overlaid;
//! * `markdown`: both reports as Markdown for pull requests, the charts as SVG files beside it;
//! * `nodes`: the per-node view (adoption delay, region, hops from the forger, the slowest
//!   nodes) and the topology coloured by adoption delay;
//! * `stats`: whether a difference is real: rank test, bootstrap interval, Holm's correction,
//!   minimum detectable effect, verdicts;
//! * `trend`: a metric over a profile's runs (from the results database), each run's verdict
//!   against the one before it marked on the chart.

pub mod compare;
pub mod input;
pub mod markdown;
pub mod nodes;
pub mod page;
pub mod stats;
pub mod svg;
pub mod trend;

pub use compare::{CompareError, Thresholds, comparison_report};
pub use input::{Analysis, InputError};
pub use page::run_report;
