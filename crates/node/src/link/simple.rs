//! The simple link model: what a node sends on a link arrives after the link's one-way
//! latency, and no faster than its bandwidth allows.
//!
//! A link is a FIFO: a message starts transmitting when the link is free, takes
//! `size / bandwidth` to transmit, and is delivered `latency` after its last bit left. The
//! connection's writer task sleeps until the delivery time and then writes, so the receiver sees
//! exactly the emulated timing (plus loopback's own microseconds).

use std::time::Duration;

use tokio::time::Instant;

/// The timing of one link direction.
#[derive(Debug, Clone)]
pub struct LinkShaper {
    latency: Duration,
    bandwidth_bps: Option<u64>,
    free_at: Instant,
}

impl LinkShaper {
    /// A link with this one-way latency and bandwidth (bits per second; `None`: unlimited).
    pub fn new(latency: Duration, bandwidth_bps: Option<u64>) -> LinkShaper {
        LinkShaper {
            latency,
            bandwidth_bps,
            free_at: Instant::now(),
        }
    }

    /// Whether the link adds nothing (so callers can skip the timing).
    pub fn is_ideal(&self) -> bool {
        self.latency.is_zero() && self.bandwidth_bps.is_none()
    }

    /// When a message of `bytes` handed over at `now` is delivered.
    pub fn delivery(&mut self, now: Instant, bytes: usize) -> Instant {
        let start = self.free_at.max(now);
        let transmit = self.bandwidth_bps.map_or(Duration::ZERO, |bps| {
            Duration::from_secs_f64(bytes as f64 * 8.0 / bps as f64)
        });
        self.free_at = start + transmit;
        self.free_at + self.latency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_and_serialisation_delay() {
        // 50 ms, 8 Mbit/s = 1 MB/s: 100 kB take 100 ms to transmit.
        let mut l = LinkShaper::new(Duration::from_millis(50), Some(8_000_000));
        let mut ideal = LinkShaper::new(Duration::ZERO, None);
        let t0 = Instant::now();
        assert_eq!(l.delivery(t0, 100_000), t0 + Duration::from_millis(150));
        // A second message queued at once waits for the first to leave.
        assert_eq!(l.delivery(t0, 100_000), t0 + Duration::from_millis(250));
        // After the link went idle, only latency and transmission count.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(l.delivery(later, 1_000), later + Duration::from_millis(51));
        assert!(ideal.is_ideal());
        assert_eq!(ideal.delivery(t0, 1 << 20), t0);
    }
}
