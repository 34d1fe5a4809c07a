//! A host's uplink: the bandwidth every connection of one host shares. In Cardano's cloud
//! benchmark each node is a machine with one network interface, so a forger sending its block
//! to all its peers at once sends them one after another through it.
//!
//! The uplink is a FIFO: what is handed over when it is busy waits for what went before, on any
//! connection.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// One host's shared uplink.
#[derive(Debug)]
pub struct Uplink {
    bps: f64,
    free_at: Mutex<Option<Instant>>,
}

impl Uplink {
    /// An uplink of `mbps` Mbit/s.
    pub fn new(mbps: f64) -> Uplink {
        Uplink {
            bps: mbps * 1e6,
            free_at: Mutex::new(None),
        }
    }

    /// When the last bit of `bytes`, handed over at `now`, has left the host.
    pub fn departure(&self, now: Instant, bytes: usize) -> Instant {
        let mut free = self.free_at.lock().unwrap_or_else(PoisonError::into_inner);
        let start = free.map_or(now, |f| f.max(now));
        let done = start + Duration::from_secs_f64(bytes as f64 * 8.0 / self.bps);
        *free = Some(done);
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_queue_behind_each_other() {
        // 80 Mbit/s = 10 MB/s: 100 kB take 10 ms, whichever connection sends them.
        let u = Uplink::new(80.0);
        let t0 = Instant::now();
        let ms = |x: f64| Duration::from_secs_f64(x / 1e3);
        let near = |a: Instant, b: Instant| (a.max(b) - a.min(b)) < Duration::from_micros(1);
        assert!(near(u.departure(t0, 100_000), t0 + ms(10.0)));
        // A second connection's block handed over at the same time leaves after the first.
        assert!(near(u.departure(t0, 100_000), t0 + ms(20.0)));
        // Once the uplink has drained, only the message's own time counts.
        let later = t0 + Duration::from_secs(1);
        assert!(near(u.departure(later, 1_000), later + ms(0.1)));
    }
}
