//! Resource samples into per-second rates. Nodes report cumulative counters (CPU ticks, bytes
//! allocated, read, written); locli turns consecutive samples into per-sample deltas. Two of its
//! defects are fixed here: the first sample is the base, not a delta against zero stamped at
//! the epoch (locli's first figures are meaningless), and deltas are divided by the time between
//! samples, so "per second" holds whatever the sampling period. A counter going backwards (the
//! process restarted) starts a new base instead of producing an absurd delta.

//!
//! Counters that cannot be right are caught ([`SampleCheck`]): a CPU counter that never moves
//! while the process works (real nodes have logged `CentiCpu` 429496 in every sample), CPU
//! above 100 % of every core, a resident set of 0. Such a metric is "not measured", with the
//! reason; it is never averaged in as 0.

use serde::Serialize;

use crate::event::ResourceSample;

/// One interval's resource use.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRates {
    /// End of the interval, ns since the Unix epoch.
    pub at: u64,
    /// Seconds the interval lasted.
    pub dt: f64,
    /// CPU, percent of one core.
    pub cpu_pct: f64,
    /// GC CPU, percent of one core (GHC only).
    pub gc_pct: Option<f64>,
    /// Mutator CPU, percent of one core (GHC only).
    pub mut_pct: Option<f64>,
    /// Block-I/O wait, percent.
    pub blk_io_pct: f64,
    /// Major GCs per second (GHC only).
    pub gcs_major_per_s: Option<f64>,
    /// Minor GCs per second (GHC only).
    pub gcs_minor_per_s: Option<f64>,
    /// Allocation, MiB per second.
    pub alloc_mib_s: f64,
    /// Network read, KiB per second.
    pub net_rd_kib_s: f64,
    /// Network written, KiB per second.
    pub net_wr_kib_s: f64,
    /// File-system read, KiB per second.
    pub fs_rd_kib_s: f64,
    /// File-system written, KiB per second.
    pub fs_wr_kib_s: f64,
    /// Resident set at the end, MiB.
    pub rss_mib: f64,
    /// Heap at the end, MiB.
    pub heap_mib: f64,
    /// Live data at the end, MiB (GHC only).
    pub live_mib: Option<f64>,
    /// OS threads at the end.
    pub threads: u64,
}

/// Turns one host's samples, in time order, into rates.
#[derive(Debug, Default)]
pub struct Accumulator {
    prev: Option<(u64, ResourceSample)>,
}

impl Accumulator {
    /// Takes the next sample; the rates since the previous one, or `None` for a base sample
    /// (the first, one at the same instant or earlier, or one after a restart).
    pub fn push(&mut self, at: u64, s: ResourceSample) -> Option<ResourceRates> {
        let prev = self.prev.replace((at, s.clone()));
        let (t0, p) = prev?;
        let restarted = s.centi_cpu < p.centi_cpu
            || s.alloc < p.alloc
            || s.net_rd < p.net_rd
            || s.net_wr < p.net_wr
            || s.fs_rd < p.fs_rd
            || s.fs_wr < p.fs_wr;
        if at <= t0 || restarted {
            return None;
        }
        let dt = (at - t0) as f64 / 1e9;
        let per_s = |new: u64, old: u64| new.saturating_sub(old) as f64 / dt;
        // Ticks are 1/100 s, so ticks per second are percent of one core.
        let pct = |new: u64, old: u64| per_s(new, old);
        let opt = |new: Option<u64>, old: Option<u64>, f: &dyn Fn(u64, u64) -> f64| match (new, old)
        {
            (Some(n), Some(o)) => Some(f(n, o)),
            _ => None,
        };
        const MIB: f64 = 1024.0 * 1024.0;
        Some(ResourceRates {
            at,
            dt,
            cpu_pct: pct(s.centi_cpu, p.centi_cpu),
            gc_pct: opt(s.centi_gc, p.centi_gc, &pct),
            mut_pct: opt(s.centi_mut, p.centi_mut, &pct),
            blk_io_pct: pct(s.centi_blk_io, p.centi_blk_io),
            gcs_major_per_s: opt(s.gcs_major, p.gcs_major, &per_s),
            gcs_minor_per_s: opt(s.gcs_minor, p.gcs_minor, &per_s),
            alloc_mib_s: per_s(s.alloc, p.alloc) / MIB,
            net_rd_kib_s: per_s(s.net_rd, p.net_rd) / 1024.0,
            net_wr_kib_s: per_s(s.net_wr, p.net_wr) / 1024.0,
            fs_rd_kib_s: per_s(s.fs_rd, p.fs_rd) / 1024.0,
            fs_wr_kib_s: per_s(s.fs_wr, p.fs_wr) / 1024.0,
            rss_mib: s.rss as f64 / MIB,
            heap_mib: s.heap as f64 / MIB,
            live_mib: s.live.map(|l| l as f64 / MIB),
            threads: s.threads,
        })
    }
}

/// A resource metric a host's samples cannot have measured, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotMeasured {
    /// The metric (locli's id: `CentiCpu`, `RSS`).
    pub metric: &'static str,
    /// Why its values cannot be right.
    pub reason: String,
}

/// Samples this many seconds apart with a frozen CPU counter are a stuck counter, even if no
/// other counter shows the process working.
const STUCK_CPU_SPAN_S: f64 = 60.0;

/// Watches one host's samples for counters that cannot be right.
#[derive(Debug, Default)]
pub struct SampleCheck {
    samples: u64,
    /// (time, CentiCpu, Alloc, CentiMut) of the first sample.
    first: Option<(u64, u64, u64, Option<u64>)>,
    last: Option<(u64, u64, u64, Option<u64>)>,
    cpu_moved: bool,
    rss_zero: u64,
    /// The highest interval CPU, percent of one core.
    cpu_max_pct: f64,
}

impl SampleCheck {
    /// Takes a sample and the rates it ended, if any.
    pub fn push(&mut self, at: u64, s: &ResourceSample, rates: Option<&ResourceRates>) {
        self.samples += 1;
        let now = (at, s.centi_cpu, s.alloc, s.centi_mut);
        let first = *self.first.get_or_insert(now);
        self.cpu_moved |= s.centi_cpu != first.1;
        self.last = Some(now);
        self.rss_zero += u64::from(s.rss == 0);
        if let Some(r) = rates {
            self.cpu_max_pct = self.cpu_max_pct.max(r.cpu_pct);
        }
    }

    /// The metrics that were not measured, given the machine's cores if known.
    pub fn verdict(&self, cores: Option<usize>) -> Vec<NotMeasured> {
        let mut out = Vec::new();
        if let (Some(f), Some(l)) = (self.first, self.last) {
            let span = l.0.saturating_sub(f.0) as f64 / 1e9;
            let working = l.2 > f.2 || l.3.zip(f.3).is_some_and(|(a, b)| a > b);
            if self.samples >= 3 && !self.cpu_moved && (working || span >= STUCK_CPU_SPAN_S) {
                out.push(NotMeasured {
                    metric: "CentiCpu",
                    reason: format!(
                        "the CPU counter is stuck at {} in all {} samples over {span:.0} s{}",
                        f.1,
                        self.samples,
                        if working {
                            " while the process allocated memory"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        if let Some(c) = cores.filter(|c| *c > 0) {
            // A little over the limit is sampling jitter.
            let limit = 100.0 * c as f64 * 1.05;
            if self.cpu_max_pct > limit && !out.iter().any(|n| n.metric == "CentiCpu") {
                out.push(NotMeasured {
                    metric: "CentiCpu",
                    reason: format!(
                        "CPU reached {:.0} % of a core in one interval, more than {c} cores can do",
                        self.cpu_max_pct
                    ),
                });
            }
        }
        if self.rss_zero > 0 {
            out.push(NotMeasured {
                metric: "RSS",
                reason: format!(
                    "a resident set of 0 bytes in {} of {} samples (a running process has one)",
                    self.rss_zero, self.samples
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(cpu: u64, alloc: u64, net_rd: u64) -> ResourceSample {
        ResourceSample {
            centi_cpu: cpu,
            alloc,
            net_rd,
            rss: 64 << 20,
            threads: 9,
            ..ResourceSample::default()
        }
    }

    #[test]
    fn first_sample_is_the_base_and_rates_are_per_second() {
        let mut a = Accumulator::default();
        let s = 1_000_000_000u64;
        // A process that had used 12 s of CPU before the first sample: no rate from it.
        assert_eq!(a.push(10 * s, sample(1200, 1 << 30, 0)), None);
        // 2 s later: 150 ticks = 1.5 s of CPU over 2 s = 75 % of a core; 4 MiB allocated = 2 MiB/s.
        let r = a
            .push(12 * s, sample(1350, (1 << 30) + (4 << 20), 8192))
            .unwrap();
        assert_eq!(r.dt, 2.0);
        assert_eq!(r.cpu_pct, 75.0);
        assert_eq!(r.alloc_mib_s, 2.0);
        assert_eq!(r.net_rd_kib_s, 4.0);
        assert_eq!((r.rss_mib, r.threads), (64.0, 9));
        assert_eq!(r.gc_pct, None, "no GHC fields, no GC figures (not zeros)");
        // A restart (counters back near zero) is a new base, not a huge or negative rate.
        assert_eq!(a.push(13 * s, sample(5, 100, 0)), None);
        let r = a.push(14 * s, sample(105, 100, 0)).unwrap();
        assert_eq!(r.cpu_pct, 100.0);
        // A sample not after the previous one is a base too.
        assert_eq!(a.push(14 * s, sample(200, 100, 0)), None);
    }

    fn check(samples: &[(u64, ResourceSample)], cores: Option<usize>) -> Vec<&'static str> {
        let mut acc = Accumulator::default();
        let mut c = SampleCheck::default();
        for (at, smp) in samples {
            let r = acc.push(*at, smp.clone());
            c.push(*at, smp, r.as_ref());
        }
        c.verdict(cores).iter().map(|n| n.metric).collect()
    }

    #[test]
    fn counters_that_cannot_be_right_are_not_measured() {
        let s = 1_000_000_000u64;
        // The real quirk: CentiCpu frozen while the node allocates.
        let stuck: Vec<_> = (0..5)
            .map(|i| (i * 5 * s, sample(429_496, (1 << 30) + i * (64 << 20), 0)))
            .collect();
        assert_eq!(check(&stuck, None), ["CentiCpu"]);
        // An idle process, briefly: a constant counter is believable.
        let idle: Vec<_> = (0..3).map(|i| (i * s, sample(50, 1 << 20, 0))).collect();
        assert!(check(&idle, None).is_empty());
        // Idle for minutes without a tick is not.
        let long: Vec<_> = (0..3)
            .map(|i| (i * 60 * s, sample(50, 1 << 20, 0)))
            .collect();
        assert_eq!(check(&long, None), ["CentiCpu"]);
        // 300 % of a core on a 2-core machine; fine on 4.
        let busy: Vec<_> = (0..3)
            .map(|i| (i * s, sample(1000 + i * 300, (1 << 20) + i, 0)))
            .collect();
        assert_eq!(check(&busy, Some(2)), ["CentiCpu"]);
        assert!(check(&busy, Some(4)).is_empty());
        assert!(check(&busy, None).is_empty());
        // A resident set of 0.
        let mut zero = busy.clone();
        zero[1].1.rss = 0;
        assert_eq!(check(&zero, None), ["RSS"]);
    }
}
