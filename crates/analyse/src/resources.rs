//! Resource samples into per-second rates. Nodes report cumulative counters (CPU ticks, bytes
//! allocated, read, written); locli turns consecutive samples into per-sample deltas. Two of its
//! defects are fixed here: the first sample is the base, not a delta against zero stamped at
//! the epoch (locli's first figures are meaningless), and deltas are divided by the time between
//! samples, so "per second" holds whatever the sampling period. A counter going backwards (the
//! process restarted) starts a new base instead of producing an absurd delta.

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
}
