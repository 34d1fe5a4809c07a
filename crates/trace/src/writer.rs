//! The log writer: lines from every thread are appended to one bounded buffer, and a dedicated
//! thread writes the buffer out in batches.
//!
//! trace-dispatcher's stdout backend does `putStrLn` + `hFlush` per line behind a channel of 2048
//! that blocks emitters when stdout is slow. Here an emitter copies its line into a shared buffer
//! under a short lock and returns; the writer thread swaps the buffer out and writes it with one
//! `write_all` every [`WriterOptions::flush_interval`], or sooner once
//! [`WriterOptions::wake_bytes`] are waiting. When the buffer holds
//! [`WriterOptions::capacity`] bytes, new lines are dropped and counted, never blocking the caller.
//! Stopping writes everything accepted before returning.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Tuning of a [`LogWriter`].
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Most bytes waiting to be written; beyond it lines are dropped and counted.
    pub capacity: usize,
    /// Waiting bytes that wake the writer before its interval is up.
    pub wake_bytes: usize,
    /// Longest time a line waits before it is written.
    pub flush_interval: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            capacity: 64 << 20,
            wake_bytes: 256 << 10,
            flush_interval: Duration::from_millis(50),
        }
    }
}

/// Counters of a [`LogWriter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Lines accepted into the buffer.
    pub lines_accepted: u64,
    /// Lines refused because the buffer was full (or the writer had stopped).
    pub lines_dropped: u64,
    /// Bytes handed to the output.
    pub bytes_written: u64,
    /// Batches written (one `write_all` each).
    pub batches: u64,
    /// Write errors from the output (bytes of a failed batch are lost, and counted here once).
    pub write_errors: u64,
}

struct Pending {
    buf: Vec<u8>,
    stopping: bool,
    stopped: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    opts: WriterOptions,
    accepted: AtomicU64,
    dropped: AtomicU64,
    bytes_written: AtomicU64,
    batches: AtomicU64,
    write_errors: AtomicU64,
}

/// Called on the writer thread after a batch when lines were dropped since the last call, with
/// the number dropped since then.
pub type DropReport = Box<dyn Fn(u64) + Send>;

/// A batched, bounded log writer with its own thread.
pub struct LogWriter {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

impl LogWriter {
    /// Starts a writer thread that writes to `out`.
    pub fn spawn(
        out: Box<dyn Write + Send>,
        opts: WriterOptions,
        on_drop: Option<DropReport>,
    ) -> std::io::Result<LogWriter> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(opts.wake_bytes * 2),
                stopping: false,
                stopped: false,
            }),
            wake: Condvar::new(),
            opts,
            accepted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("wb-trace-writer".into())
            .spawn(move || worker.run(out, on_drop))?;
        Ok(LogWriter {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Appends one line (which must end with `\n`). Returns `false` if it was dropped.
    #[inline]
    pub fn push(&self, line: &[u8]) -> bool {
        self.push_parts(line, &[])
    }

    /// Appends the concatenation of `a` and `b` as one line. Returns `false` if it was dropped.
    pub fn push_parts(&self, a: &[u8], b: &[u8]) -> bool {
        let s = &*self.shared;
        let len = a.len() + b.len();
        let mut p = s.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if p.stopped || p.buf.len() + len > s.opts.capacity {
            drop(p);
            s.dropped.fetch_add(1, Relaxed);
            return false;
        }
        let before = p.buf.len();
        p.buf.extend_from_slice(a);
        p.buf.extend_from_slice(b);
        let wake = before < s.opts.wake_bytes && p.buf.len() >= s.opts.wake_bytes;
        drop(p);
        s.accepted.fetch_add(1, Relaxed);
        if wake {
            s.wake.notify_one();
        }
        true
    }

    /// The counters so far.
    pub fn stats(&self) -> WriterStats {
        let s = &*self.shared;
        WriterStats {
            lines_accepted: s.accepted.load(Relaxed),
            lines_dropped: s.dropped.load(Relaxed),
            bytes_written: s.bytes_written.load(Relaxed),
            batches: s.batches.load(Relaxed),
            write_errors: s.write_errors.load(Relaxed),
        }
    }

    /// Writes everything accepted so far and stops the thread. Later lines are dropped and counted.
    pub fn stop(&self) {
        {
            let mut p = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            p.stopping = true;
        }
        self.shared.wake.notify_one();
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // The writer thread itself may end up here (a drop report holding the last reference
        // to the owner): it must not join itself; it exits on its own after this batch.
        if let Some(h) = handle.filter(|h| h.thread().id() != std::thread::current().id()) {
            let _ = h.join();
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn run(&self, mut out: Box<dyn Write + Send>, on_drop: Option<DropReport>) {
        let mut spare = Vec::with_capacity(self.opts.wake_bytes * 2);
        let mut reported_drops = 0;
        loop {
            let last = {
                let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                if p.buf.is_empty() && !p.stopping {
                    p = self
                        .wake
                        .wait_timeout(p, self.opts.flush_interval)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                std::mem::swap(&mut p.buf, &mut spare);
                if p.stopping {
                    // Lines pushed after this point are refused; all accepted ones are in `spare`.
                    p.stopped = true;
                }
                p.stopped
            };
            if !spare.is_empty() {
                match out.write_all(&spare).and_then(|()| out.flush()) {
                    Ok(()) => {
                        self.bytes_written.fetch_add(spare.len() as u64, Relaxed);
                    }
                    Err(_) => {
                        self.write_errors.fetch_add(1, Relaxed);
                    }
                }
                self.batches.fetch_add(1, Relaxed);
                spare.clear();
                // Keep memory bounded after a burst.
                if spare.capacity() > self.opts.wake_bytes * 8 {
                    spare.shrink_to(self.opts.wake_bytes * 2);
                }
            }
            let dropped = self.dropped.load(Relaxed);
            if dropped > reported_drops && !last {
                if let Some(report) = &on_drop {
                    report(dropped - reported_drops);
                }
                reported_drops = dropped;
            }
            if last {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that appends into shared memory.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn everything_accepted_is_written_at_stop() {
        let cap = Capture::default();
        let w = LogWriter::spawn(Box::new(cap.clone()), WriterOptions::default(), None).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let w = &w;
                s.spawn(move || {
                    for i in 0..10_000 {
                        assert!(w.push(format!("{t} {i}\n").as_bytes()));
                    }
                });
            }
        });
        w.stop();
        let text = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 40_000);
        let stats = w.stats();
        assert_eq!(stats.lines_accepted, 40_000);
        assert_eq!(stats.bytes_written as usize, text.len());
        assert!(stats.batches < 40_000, "writes are batched: {stats:?}");
        assert!(!w.push(b"late\n"));
        assert_eq!(w.stats().lines_dropped, 1);
    }

    #[test]
    fn a_full_buffer_drops_and_counts() {
        /// An output that blocks until released.
        struct Gate(Arc<(Mutex<bool>, Condvar)>, Capture);
        impl Write for Gate {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                let (m, c) = &*self.0;
                let mut open = m.lock().unwrap();
                while !*open {
                    open = c.wait(open).unwrap();
                }
                self.1.write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let cap = Capture::default();
        let reports = Arc::new(AtomicU64::new(0));
        let r = reports.clone();
        let opts = WriterOptions {
            capacity: 100,
            wake_bytes: 10,
            flush_interval: Duration::from_millis(1),
        };
        let w = LogWriter::spawn(
            Box::new(Gate(gate.clone(), cap.clone())),
            opts,
            Some(Box::new(move |n| {
                r.fetch_add(n, Relaxed);
            })),
        )
        .unwrap();
        // The first line may be taken by the writer (which then blocks); the buffer then fills.
        let mut dropped = 0;
        for _ in 0..100 {
            if !w.push(b"0123456789\n") {
                dropped += 1;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        assert!(dropped > 0);
        {
            *gate.0.lock().unwrap() = true;
            gate.1.notify_all();
        }
        std::thread::sleep(Duration::from_millis(50));
        w.stop();
        let stats = w.stats();
        assert_eq!(stats.lines_dropped, dropped);
        assert_eq!(stats.lines_accepted + stats.lines_dropped, 100);
        assert_eq!(
            cap.0.lock().unwrap().len() as u64,
            stats.lines_accepted * 11
        );
        assert_eq!(
            reports.load(Relaxed),
            dropped,
            "drops are reported once the writer catches up"
        );
    }
}
