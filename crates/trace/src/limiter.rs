//! The per-namespace frequency limiter (`maxFrequency`), lock-free.
//!
//! trace-dispatcher's limiter keeps a budget in an `MVar` and reads the clock per message. Ours is
//! the generic cell rate algorithm on one atomic: a message passes if the "theoretical arrival
//! time" is not more than a small burst ahead of now, and each pass pushes it one period further.
//! Over a long run at most `maxFrequency` messages per second pass, plus a burst of
//! [`BURST`] after a quiet spell. Like trace-dispatcher, it reports when limiting starts, reminds
//! every 10 s while it goes on, and says how many messages it suppressed when it stops.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Messages that may pass back to back after a quiet spell.
pub const BURST: u64 = 3;
/// How often a `RememberLimiting` report is due while limiting goes on.
pub const REMINDER_PERIOD_NANOS: u64 = 10_000_000_000;

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let it through.
    Pass,
    /// Let it through; limiting just ended after suppressing this many.
    PassStopped(u64),
    /// Drop it.
    Suppress,
    /// Drop it; limiting just started.
    SuppressStarted,
    /// Drop it; a reminder is due, with the count suppressed so far.
    SuppressRemind(u64),
}

impl Decision {
    /// Whether the message passes.
    pub fn passes(self) -> bool {
        matches!(self, Decision::Pass | Decision::PassStopped(_))
    }
}

/// One limiter: at most `max_frequency` messages per second.
#[derive(Debug)]
pub struct FrequencyLimiter {
    max_frequency: f64,
    period: u64,
    tolerance: u64,
    tat: AtomicU64,
    limiting: AtomicBool,
    suppressed: AtomicU64,
    last_report: AtomicU64,
}

impl FrequencyLimiter {
    /// A limiter for `max_frequency` (> 0) messages per second.
    pub fn new(max_frequency: f64) -> Self {
        let period = (1e9 / max_frequency).clamp(1.0, u64::MAX as f64 / 4.0) as u64;
        FrequencyLimiter {
            max_frequency,
            period,
            tolerance: period.saturating_mul(BURST - 1),
            tat: AtomicU64::new(0),
            limiting: AtomicBool::new(false),
            suppressed: AtomicU64::new(0),
            last_report: AtomicU64::new(0),
        }
    }

    /// The decision for a message arriving at `now` (nanoseconds, any monotone-ish clock).
    pub fn check(&self, now: u64) -> Decision {
        let mut tat = self.tat.load(Relaxed);
        loop {
            let start = tat.max(now);
            if start - now > self.tolerance {
                return self.suppress(now);
            }
            match self
                .tat
                .compare_exchange_weak(tat, start + self.period, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(seen) => tat = seen,
            }
        }
        // The cell was idle (nothing owed) when this message came: the excess is over.
        if tat <= now && self.limiting.load(Relaxed) && self.limiting.swap(false, Relaxed) {
            return Decision::PassStopped(self.suppressed.swap(0, Relaxed));
        }
        Decision::Pass
    }

    fn suppress(&self, now: u64) -> Decision {
        let n = self.suppressed.fetch_add(1, Relaxed) + 1;
        if !self.limiting.load(Relaxed) && !self.limiting.swap(true, Relaxed) {
            self.last_report.store(now, Relaxed);
            return Decision::SuppressStarted;
        }
        let last = self.last_report.load(Relaxed);
        if now.saturating_sub(last) >= REMINDER_PERIOD_NANOS
            && self
                .last_report
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            return Decision::SuppressRemind(n);
        }
        Decision::Suppress
    }

    /// The configured messages per second.
    pub fn max_frequency(&self) -> f64 {
        self.max_frequency
    }

    /// Messages suppressed since limiting last started.
    pub fn suppressed(&self) -> u64 {
        self.suppressed.load(Relaxed)
    }

    /// Whether the limiter is currently suppressing.
    pub fn is_limiting(&self) -> bool {
        self.limiting.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn sustained_overload_passes_at_the_configured_rate() {
        let l = FrequencyLimiter::new(2.0);
        let t0 = 1_000 * SEC;
        // 1000 messages/s for 10 s.
        let passed = (0..10_000)
            .filter(|i| l.check(t0 + i * SEC / 1000).passes())
            .count();
        // 2/s for 10 s plus the initial burst.
        assert!(
            (20..=20 + BURST as usize).contains(&passed),
            "passed {passed}"
        );
        assert!(l.is_limiting());
    }

    #[test]
    fn reports_start_reminder_and_stop_with_counts() {
        let l = FrequencyLimiter::new(1.0);
        let t0 = 1_000 * SEC;
        let mut decisions = Vec::new();
        for i in 0..150u64 {
            decisions.push(l.check(t0 + i * SEC / 10)); // 10/s for 15 s
        }
        assert_eq!(
            decisions
                .iter()
                .filter(|d| **d == Decision::SuppressStarted)
                .count(),
            1
        );
        assert_eq!(
            decisions
                .iter()
                .filter(|d| matches!(d, Decision::SuppressRemind(_)))
                .count(),
            1
        );
        let suppressed = decisions.iter().filter(|d| !d.passes()).count() as u64;
        // After a quiet spell the next message passes and reports the total.
        assert_eq!(l.check(t0 + 30 * SEC), Decision::PassStopped(suppressed));
        assert!(!l.is_limiting());
        assert_eq!(l.check(t0 + 40 * SEC), Decision::Pass);
    }

    #[test]
    fn below_the_limit_nothing_is_suppressed() {
        let l = FrequencyLimiter::new(10.0);
        assert!((0..1000u64).all(|i| l.check(i * SEC / 5).passes()));
    }

    #[test]
    fn concurrent_checks_never_exceed_rate() {
        let l = FrequencyLimiter::new(100.0);
        let now = 5 * SEC;
        let passed = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        if l.check(now).passes() {
                            passed.fetch_add(1, Relaxed);
                        }
                    }
                });
            }
        });
        // All at one instant: only the burst passes.
        assert_eq!(passed.load(Relaxed), BURST);
        assert_eq!(l.suppressed(), 40_000 - BURST);
    }
}
