//! Resource sampling: the `Resources` trace with cardano-node's field names, read from `/proc`.
//!
//! | field | source |
//! |---|---|
//! | `CentiCpu` | `/proc/self/stat` utime + stime, in centiseconds |
//! | `RSS` | `/proc/self/stat` rss × page size, bytes |
//! | `Threads` | `/proc/self/stat` num_threads |
//! | `CentiBlkIO` | `/proc/self/stat` delayacct_blkio_ticks, in centiseconds |
//! | `FsRd`, `FsWr` | `/proc/self/io` read_bytes / write_bytes (omitted when unreadable) |
//! | `NetRd`, `NetWr` | bytes the process counted itself with [`count_net_read`] / [`count_net_written`] once it called [`use_own_net_counters`]; otherwise `/proc/self/net/netstat` IpExt InOctets / OutOctets, which covers the whole network namespace, as cardano-node's does |
//! | `Alloc`, `Heap` | the [`crate::alloc::CountingAlloc`] counters when installed, else omitted |
//!
//! A Rust process has no garbage collector, so `CentiGC`, `CentiMut`, `GcsMajor`, `GcsMinor` and
//! `Live` are **omitted**, never written as invented zeros: an analysis must treat them as absent.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::dispatcher::Tracer;
use crate::event::{EventMeta, MetricDoc, MetricKind, TraceEvent};
use crate::json::JsonObject;
use crate::severity::{DetailLevel, Severity};

static OWN_NET: AtomicBool = AtomicBool::new(false);
static NET_READ: AtomicU64 = AtomicU64::new(0);
static NET_WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Makes `NetRd`/`NetWr` report the bytes this process counts itself (per process, unlike the
/// namespace-wide `/proc/self/net/netstat`).
pub fn use_own_net_counters() {
    OWN_NET.store(true, Relaxed);
}

/// Adds `n` bytes read from the network.
#[inline]
pub fn count_net_read(n: u64) {
    NET_READ.fetch_add(n, Relaxed);
}

/// Adds `n` bytes written to the network.
#[inline]
pub fn count_net_written(n: u64) {
    NET_WRITTEN.fetch_add(n, Relaxed);
}

/// One sample; a field is `None` when it cannot be measured here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceStats {
    /// Bytes allocated since start.
    pub alloc: Option<u64>,
    /// Centiseconds blocked on block I/O.
    pub centi_blk_io: Option<u64>,
    /// Centiseconds of CPU (user + system).
    pub centi_cpu: Option<u64>,
    /// Bytes read from storage.
    pub fs_rd: Option<u64>,
    /// Bytes written to storage.
    pub fs_wr: Option<u64>,
    /// Bytes allocated and not freed.
    pub heap: Option<u64>,
    /// Bytes received from the network.
    pub net_rd: Option<u64>,
    /// Bytes sent to the network.
    pub net_wr: Option<u64>,
    /// Resident set size in bytes.
    pub rss: Option<u64>,
    /// OS threads.
    pub threads: Option<u64>,
}

const M_CPU: usize = 0;
const M_RSS: usize = 1;
const M_BLKIO: usize = 2;
const M_NET_RD: usize = 3;
const M_NET_WR: usize = 4;
const M_FS_RD: usize = 5;
const M_FS_WR: usize = 6;
const M_THREADS: usize = 7;
const M_ALLOC: usize = 8;
const M_HEAP: usize = 9;

impl TraceEvent for ResourceStats {
    const NAMESPACES: &'static [EventMeta] = &[EventMeta::new(
        "",
        Severity::Info,
        "Resource usage of the process, sampled every TraceOptionResourceFrequency ms. Counters are cumulative; RSS and Heap are levels.",
    )
    .metrics(&[
        "Stat.cputicks",
        "Mem.resident",
        "Stat.blkIOticks",
        "Stat.netRd",
        "Stat.netWr",
        "Stat.fsRd",
        "Stat.fsWr",
        "RTS.threads",
        "RTS.alloc",
        "RTS.gcHeapBytes",
    ])];

    const METRICS: &'static [MetricDoc] = &[
        MetricDoc::new(
            "Stat.cputicks",
            MetricKind::Gauge,
            "CPU time of the process, centiseconds",
        ),
        MetricDoc::new(
            "Mem.resident",
            MetricKind::Gauge,
            "Resident set size, bytes",
        ),
        MetricDoc::new(
            "Stat.blkIOticks",
            MetricKind::Gauge,
            "Time blocked on block I/O, centiseconds",
        ),
        MetricDoc::new(
            "Stat.netRd",
            MetricKind::Gauge,
            "Bytes received from the network",
        ),
        MetricDoc::new("Stat.netWr", MetricKind::Gauge, "Bytes sent to the network"),
        MetricDoc::new("Stat.fsRd", MetricKind::Gauge, "Bytes read from storage"),
        MetricDoc::new("Stat.fsWr", MetricKind::Gauge, "Bytes written to storage"),
        MetricDoc::new(
            "RTS.threads",
            MetricKind::Gauge,
            "OS threads of the process",
        ),
        MetricDoc::new(
            "RTS.alloc",
            MetricKind::Gauge,
            "Bytes allocated since start (counting allocator)",
        ),
        MetricDoc::new(
            "RTS.gcHeapBytes",
            MetricKind::Gauge,
            "Bytes allocated and not freed (counting allocator)",
        ),
    ];

    fn namespace(&self) -> usize {
        0
    }

    fn to_machine(&self, _detail: DetailLevel, o: &mut JsonObject<'_>) {
        let fields = [
            ("Alloc", self.alloc),
            ("CentiBlkIO", self.centi_blk_io),
            ("CentiCpu", self.centi_cpu),
            ("FsRd", self.fs_rd),
            ("FsWr", self.fs_wr),
            ("Heap", self.heap),
            ("NetRd", self.net_rd),
            ("NetWr", self.net_wr),
            ("RSS", self.rss),
            ("Threads", self.threads),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                o.u64(k, v);
            }
        }
        o.str("kind", "ResourceStats");
    }

    fn to_human(&self, out: &mut String) {
        use std::fmt::Write as _;
        let f = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let _ = write!(
            out,
            "Resources: Cpu Ticks {}, RSS {}, Heap {}, Alloc {}, Threads {}, NetRd {}, NetWr {}, FsRd {}, FsWr {}, BlkIO {}.",
            f(self.centi_cpu),
            f(self.rss),
            f(self.heap),
            f(self.alloc),
            f(self.threads),
            f(self.net_rd),
            f(self.net_wr),
            f(self.fs_rd),
            f(self.fs_wr),
            f(self.centi_blk_io)
        );
    }

    fn update_metrics(&self, m: &crate::metrics::EventMetrics) {
        let set = |i, v: Option<u64>| {
            if let Some(v) = v {
                m.set(i, v as i64);
            }
        };
        set(M_CPU, self.centi_cpu);
        set(M_RSS, self.rss);
        set(M_BLKIO, self.centi_blk_io);
        set(M_NET_RD, self.net_rd);
        set(M_NET_WR, self.net_wr);
        set(M_FS_RD, self.fs_rd);
        set(M_FS_WR, self.fs_wr);
        set(M_THREADS, self.threads);
        set(M_ALLOC, self.alloc);
        set(M_HEAP, self.heap);
    }
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|v| *v > 0)
}

/// Reads one sample of this process's resources.
pub fn read_resource_stats() -> ResourceStats {
    let mut s = ResourceStats::default();
    let ticks = sysconf(libc::_SC_CLK_TCK).unwrap_or(100);
    let page = sysconf(libc::_SC_PAGESIZE).unwrap_or(4096);
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name, which is in parentheses and may contain spaces.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // `f[0]` is field 3 (state), so field n is `f[n - 3]`.
            let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
            s.centi_cpu = field(14).zip(field(15)).map(|(u, k)| (u + k) * 100 / ticks);
            s.threads = field(20);
            s.rss = field(24).map(|p| p * page);
            s.centi_blk_io = field(42).map(|t| t * 100 / ticks);
        }
    }
    if let Ok(io) = std::fs::read_to_string("/proc/self/io") {
        let get = |key: &str| {
            io.lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        };
        s.fs_rd = get("read_bytes:");
        s.fs_wr = get("write_bytes:");
    }
    if OWN_NET.load(Relaxed) {
        s.net_rd = Some(NET_READ.load(Relaxed));
        s.net_wr = Some(NET_WRITTEN.load(Relaxed));
    } else if let Ok(netstat) = std::fs::read_to_string("/proc/self/net/netstat") {
        let (rd, wr) = ip_ext_octets(&netstat);
        s.net_rd = rd;
        s.net_wr = wr;
    }
    if let Some((alloc, heap)) = crate::alloc::counters() {
        s.alloc = Some(alloc);
        s.heap = Some(heap);
    }
    s
}

/// `InOctets` and `OutOctets` of the `IpExt:` header/value line pair.
fn ip_ext_octets(netstat: &str) -> (Option<u64>, Option<u64>) {
    let mut lines = netstat.lines().filter(|l| l.starts_with("IpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return (None, None);
    };
    let pairs: Vec<(&str, &str)> = names
        .split_whitespace()
        .zip(values.split_whitespace())
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .and_then(|(_, v)| v.parse().ok())
    };
    (get("InOctets"), get("OutOctets"))
}

/// A thread tracing [`ResourceStats`] every period until stopped.
pub struct ResourceSampler {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl ResourceSampler {
    /// Starts sampling now and every `period`.
    pub fn start(tracer: Tracer<ResourceStats>, period: Duration) -> std::io::Result<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wb-trace-resources".into())
            .spawn(move || {
                let (lock, cond) = &*flag;
                let mut stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
                while !*stopped {
                    tracer.trace(&read_resource_stats());
                    stopped = cond
                        .wait_timeout(stopped, period)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            })?;
        Ok(ResourceSampler {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops sampling and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(t) = self.thread.take() {
            *self.stop.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
            self.stop.1.notify_all();
            let _ = t.join();
        }
    }
}

impl Drop for ResourceSampler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = read_resource_stats();
        assert!(s.rss.unwrap() > 1 << 20, "{s:?}");
        assert!(s.threads.unwrap() >= 1);
        assert!(s.centi_cpu.is_some());
    }

    #[test]
    fn cpu_counter_grows_with_work() {
        let before = read_resource_stats().centi_cpu.unwrap();
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = read_resource_stats().centi_cpu.unwrap();
        assert!(after >= before + 10, "{before} -> {after}");
    }

    #[test]
    fn parses_netstat_ip_ext() {
        let text =
            "TcpExt: A B\nTcpExt: 1 2\nIpExt: InNoRoutes InOctets OutOctets\nIpExt: 0 1234 5678\n";
        assert_eq!(ip_ext_octets(text), (Some(1234), Some(5678)));
        assert_eq!(ip_ext_octets("nothing"), (None, None));
    }
}
