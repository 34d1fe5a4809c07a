//! A TCP-like link: when the bytes handed to one direction of a connection arrive, given the
//! congestion window, the round-trip time and the bottleneck rate — the reason an 88 KB block
//! takes several round trips to cross an ocean after the connection has been quiet.
//!
//! What is modelled, from first principles and the behaviour of Linux's TCP (Reno-style
//! window growth; CUBIC differs only in congestion avoidance, which a block-sized transfer
//! barely reaches):
//!
//! * **Rounds.** A sender may have `min(cwnd, rwnd)` segments of `mss` bytes in flight. The
//!   segments of one window leave together; the next window leaves when the first
//!   acknowledgement of this one returns, one RTT after the window started.
//! * **Slow start** (RFC 5681 §3.1): from the initial window (10 segments, RFC 6928), every
//!   acknowledged segment grows `cwnd` by one — doubling per round — until `ssthresh`; then
//!   **congestion avoidance** grows it by about one segment per round. A window grows only when
//!   the sender used it (Linux's `tcp_is_cwnd_limited`: in slow start, more than half of it).
//! * **Slow-start restart** (RFC 5681 §4.1; Linux `net.ipv4.tcp_slow_start_after_idle = 1` by
//!   default): after more than one RTO with nothing sent, `cwnd` halves per RTO idle, down to
//!   `min(initial window, cwnd)` (`tcp_cwnd_restart`); while the sender sends but does not fill
//!   its window, each RTO halves the unused part (`tcp_cwnd_application_limited`, RFC 7661's
//!   idea). Linux gates both by the same setting, and so does this model.
//! * **Bottleneck**: the link's rate, if any, serialises the segments (a FIFO).
//! * **Jitter**: each message's one-way delay gains a uniform random part in `[0, jitter]`;
//!   delivery stays in order, as TCP's is.
//! * **Loss**: each segment is lost with probability `loss` and its retransmission arrives.
//!   With three later segments in flight to raise duplicate acknowledgements, fast retransmit
//!   sends it one RTT after the original (`ssthresh = cwnd = cwnd / 2`); otherwise the
//!   retransmission timer fires (`cwnd = 1`). The RTO is Linux's for a steady path:
//!   `srtt + max(4·rttvar, tcp_rto_min = 200 ms)`, the jitter standing for `rttvar`.
//!
//! The round-trip time is twice the direction's one-way latency (the region table is
//! symmetric to within its measurement noise).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The model's parameters: one set for every connection of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpParams {
    /// Maximum segment size, bytes (1448: a 1500-byte MTU less IP, TCP and timestamp headers).
    pub mss: u32,
    /// Initial congestion window, segments (RFC 6928; Linux's `TCP_INIT_CWND`).
    pub initial_window: u32,
    /// Receive window cap, bytes (Linux's autotuning ceiling, `tcp_rmem` max: 6 MiB).
    pub receive_window: u32,
    /// Slow-start restart after idle, as Linux's `tcp_slow_start_after_idle` (default on).
    pub slow_start_after_idle: bool,
    /// The minimum retransmission timeout, ms (Linux's `TCP_RTO_MIN`).
    pub min_rto_ms: f64,
    /// Largest extra one-way delay per message, ms (uniform in `[0, jitter_ms]`).
    pub jitter_ms: f64,
    /// Probability that a segment is lost (0 ≤ loss < 1).
    pub loss: f64,
}

impl Default for TcpParams {
    fn default() -> TcpParams {
        TcpParams {
            mss: 1448,
            initial_window: 10,
            receive_window: 6 << 20,
            slow_start_after_idle: true,
            min_rto_ms: 200.0,
            jitter_ms: 0.0,
            loss: 0.0,
        }
    }
}

impl TcpParams {
    /// Refuses parameters the model cannot use, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.mss < 64 {
            return Err(format!("mss: {} bytes is below 64", self.mss));
        }
        if self.initial_window == 0 {
            return Err("initial_window: must be at least 1 segment".into());
        }
        if self.receive_window < self.mss {
            return Err(format!(
                "receive_window: {} bytes is less than one segment ({} bytes)",
                self.receive_window, self.mss
            ));
        }
        for (name, v) in [
            ("min_rto_ms", self.min_rto_ms),
            ("jitter_ms", self.jitter_ms),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name}: expected milliseconds >= 0, not {v}"));
            }
        }
        if !(self.loss.is_finite() && (0.0..1.0).contains(&self.loss)) {
            return Err(format!(
                "loss: expected a probability in [0, 1), not {}",
                self.loss
            ));
        }
        Ok(())
    }
}

/// One direction of a connection under the model.
#[derive(Debug, Clone)]
pub struct TcpLink {
    p: TcpParams,
    one_way: Duration,
    rtt: Duration,
    rto: Duration,
    bottleneck_bps: Option<u64>,
    /// Congestion window and slow-start threshold, segments.
    cwnd: f64,
    ssthresh: f64,
    /// The current round: when its window left and how many segments it holds.
    round_start: Instant,
    round_sent: u32,
    /// Whether the current round filled its window.
    round_full: bool,
    /// When data was last sent, and when the window was last found full (or reduced).
    last_send: Option<Instant>,
    cwnd_stamp: Instant,
    /// When the bottleneck is free again.
    wire_free: Instant,
    /// The latest delivery so far (delivery is in order).
    last_delivery: Instant,
    rng: SplitMix64,
}

impl TcpLink {
    /// A fresh connection (window at its initial value) with this one-way latency and
    /// bottleneck rate (bits per second; `None`: unlimited); `seed` drives jitter and loss.
    pub fn new(
        p: TcpParams,
        one_way: Duration,
        bottleneck_bps: Option<u64>,
        seed: u64,
        now: Instant,
    ) -> TcpLink {
        let rtt = one_way * 2;
        let rto = rtt + Duration::from_secs_f64((4.0 * p.jitter_ms).max(p.min_rto_ms) / 1e3);
        TcpLink {
            cwnd: f64::from(p.initial_window),
            ssthresh: f64::INFINITY,
            p,
            one_way,
            rtt,
            rto,
            bottleneck_bps,
            round_start: now,
            round_sent: 0,
            round_full: false,
            last_send: None,
            cwnd_stamp: now,
            wire_free: now,
            last_delivery: now,
            rng: SplitMix64(seed),
        }
    }

    /// The congestion window now, segments.
    pub fn cwnd(&self) -> f64 {
        self.cwnd
    }

    /// The retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    fn segments(&self, bytes: usize) -> u32 {
        (bytes.div_ceil(self.p.mss as usize).max(1)).min(u32::MAX as usize) as u32
    }

    fn window(&self) -> u32 {
        let rwnd = (self.p.receive_window / self.p.mss).max(1);
        (self.cwnd.floor() as u32).clamp(1, rwnd)
    }

    fn serialisation(&self, segments: u32) -> Duration {
        self.bottleneck_bps.map_or(Duration::ZERO, |bps| {
            Duration::from_secs_f64(f64::from(segments) * f64::from(self.p.mss) * 8.0 / bps as f64)
        })
    }

    /// Whether the current round used its window (Linux's `tcp_is_cwnd_limited`: filled it,
    /// or in slow start more than half of it).
    fn limited(&self) -> bool {
        let sent = f64::from(self.round_sent);
        self.round_full || (self.cwnd < self.ssthresh && 2.0 * sent > self.cwnd)
    }

    /// Closes the current round: its acknowledgements grow the window if the round used it.
    fn end_round(&mut self) {
        let sent = f64::from(self.round_sent);
        let slow_start = self.cwnd < self.ssthresh;
        if self.limited() && sent > 0.0 {
            if slow_start {
                let grown = self.cwnd + sent;
                self.cwnd = if grown > self.ssthresh {
                    // The rest of the acknowledgements count in congestion avoidance.
                    self.ssthresh + (grown - self.ssthresh) / self.ssthresh
                } else {
                    grown
                };
            } else {
                self.cwnd += sent / self.cwnd;
            }
        }
        self.round_sent = 0;
        self.round_full = false;
    }

    /// Linux's window validation before sending at `now`: restart after idle, decay while
    /// application-limited.
    fn validate(&mut self, now: Instant) {
        if !self.p.slow_start_after_idle {
            return;
        }
        let iw = f64::from(self.p.initial_window);
        match self.last_send {
            Some(last) if now.saturating_duration_since(last) > self.rto => {
                let restart = iw.min(self.cwnd);
                self.ssthresh = self.ssthresh.max(0.75 * self.cwnd);
                let mut idle = now.saturating_duration_since(last);
                while idle > self.rto && self.cwnd > restart {
                    self.cwnd = (self.cwnd / 2.0).floor();
                    idle -= self.rto;
                }
                self.cwnd = self.cwnd.max(restart);
                self.cwnd_stamp = now;
            }
            _ => {
                let mut starved = now.saturating_duration_since(self.cwnd_stamp);
                while starved >= self.rto && self.cwnd > iw {
                    self.ssthresh = self.ssthresh.max(0.75 * self.cwnd);
                    self.cwnd = ((self.cwnd + iw) / 2.0).floor();
                    starved -= self.rto;
                    self.cwnd_stamp += self.rto;
                }
                if now.saturating_duration_since(self.cwnd_stamp) >= self.rto {
                    self.cwnd_stamp = now;
                }
            }
        }
    }

    /// When a message of `bytes` handed to the connection at `now` has fully arrived.
    pub fn delivery(&mut self, now: Instant, bytes: usize) -> Instant {
        // The sender's data leaves in order: not before what it already sent.
        let now = self.last_send.map_or(now, |l| now.max(l));
        if now >= self.round_start + self.rtt {
            self.end_round();
            self.round_start = now;
        }
        self.validate(now);
        let total = self.segments(bytes);
        let mut left = total;
        let mut send_at = now;
        // The first lost segment: when it left, and whether three more followed it.
        let mut lost: Option<(Instant, bool)> = None;
        loop {
            let room = self.window().saturating_sub(self.round_sent);
            let k = room.min(left);
            if k > 0 {
                let start = self.wire_free.max(send_at);
                if self.p.loss > 0.0 && lost.is_none() {
                    for i in 0..k {
                        if self.rng.unit() < self.p.loss {
                            let after = left - i - 1;
                            lost = Some((start + self.serialisation(i), after >= 3));
                            break;
                        }
                    }
                }
                self.wire_free = start + self.serialisation(k);
                self.round_sent += k;
                left -= k;
            }
            if left == 0 {
                self.round_full = self.round_sent >= self.window();
                if self.limited() {
                    self.cwnd_stamp = send_at;
                }
                break;
            }
            // The window is full: the rest waits for this round's acknowledgements.
            self.round_full = true;
            self.cwnd_stamp = send_at;
            send_at = self.round_start + self.rtt;
            self.end_round();
            self.round_start = send_at;
        }
        self.last_send = Some(send_at);
        let mut at = self.wire_free + self.one_way + self.jitter();
        if let Some((sent, fast)) = lost {
            let wait = if fast { self.rtt } else { self.rto };
            let resent = sent + wait;
            at = at.max(resent + self.serialisation(1) + self.one_way);
            self.ssthresh = (self.cwnd / 2.0).max(2.0);
            self.cwnd = if fast { self.ssthresh } else { 1.0 };
            self.cwnd_stamp = resent;
            // Sending resumes from the recovery.
            self.round_start = self.round_start.max(resent);
            self.round_sent = 0;
            self.round_full = false;
            self.last_send = Some(resent.max(send_at));
        }
        at = at.max(self.last_delivery);
        self.last_delivery = at;
        at
    }

    fn jitter(&mut self) -> Duration {
        if self.p.jitter_ms <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(self.rng.unit() * self.p.jitter_ms / 1e3)
    }
}

/// A small seeded generator (SplitMix64) for jitter and loss: reproducible, no dependency.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: usize = 88_000;

    fn ms(x: u64) -> Duration {
        Duration::from_millis(x)
    }

    /// Within a microsecond (serialisation times go through floating point).
    fn close(a: Instant, b: Instant) -> bool {
        a.max(b) - a.min(b) < Duration::from_micros(1)
    }

    fn link(p: TcpParams, t0: Instant) -> TcpLink {
        // 100 ms RTT, no bottleneck.
        TcpLink::new(p, ms(50), None, 7, t0)
    }

    #[test]
    fn cold_block_takes_the_rounds_slow_start_implies() {
        // 88 000 bytes = 61 segments of 1448; windows of 10, 20, then 40: three rounds, so the
        // last segment leaves two RTTs after the first and arrives half an RTT later.
        let t0 = Instant::now();
        let mut l = link(TcpParams::default(), t0);
        assert_eq!(l.delivery(t0, BLOCK), t0 + ms(250));
        // The window grew through the transfer: 10 → 20 → 40, and 31 used of the last 40.
        assert_eq!(l.cwnd(), 40.0);
    }

    #[test]
    fn warm_connection_sends_a_block_in_one_round() {
        let t0 = Instant::now();
        let mut l = link(TcpParams::default(), t0);
        // Warm it: a block-sized transfer, then the next block soon after (well within an RTO).
        l.delivery(t0, BLOCK);
        let t1 = t0 + ms(300);
        l.delivery(t1, BLOCK);
        assert!(l.cwnd() >= 61.0, "cwnd {}", l.cwnd());
        let t2 = t1 + ms(400);
        assert_eq!(l.delivery(t2, BLOCK), t2 + ms(50));
    }

    #[test]
    fn idle_connection_restarts_slow_start_unless_disabled() {
        let t0 = Instant::now();
        let mut l = link(TcpParams::default(), t0);
        l.delivery(t0, BLOCK);
        l.delivery(t0 + ms(300), BLOCK);
        // Twenty seconds of silence (a block interval): back to the initial window.
        let t2 = t0 + Duration::from_secs(20);
        assert_eq!(l.delivery(t2, BLOCK), t2 + ms(250));

        let p = TcpParams {
            slow_start_after_idle: false,
            ..TcpParams::default()
        };
        let mut l = link(p, t0);
        l.delivery(t0, BLOCK);
        l.delivery(t0 + ms(300), BLOCK);
        assert_eq!(l.delivery(t2, BLOCK), t2 + ms(50));
    }

    #[test]
    fn chatter_below_the_window_decays_it_to_the_initial_one() {
        let t0 = Instant::now();
        let mut l = link(TcpParams::default(), t0);
        l.delivery(t0, BLOCK);
        l.delivery(t0 + ms(300), BLOCK);
        let before = l.cwnd();
        // A small message every 200 ms (never idle for an RTO of 300 ms) for five seconds.
        for i in 1..=25 {
            l.delivery(t0 + ms(300 + 200 * i), 200);
        }
        assert!(l.cwnd() < before && l.cwnd() <= 11.0, "cwnd {}", l.cwnd());
    }

    #[test]
    fn small_messages_take_one_way_latency_and_keep_order() {
        let t0 = Instant::now();
        let mut l = link(TcpParams::default(), t0);
        assert_eq!(l.delivery(t0, 300), t0 + ms(50));
        assert_eq!(l.delivery(t0 + ms(1), 300), t0 + ms(51));
    }

    #[test]
    fn bottleneck_serialises_segments() {
        // 61 segments × 1448 bytes × 8 bits at 88.328 Mbit/s = 8 ms; a window of 100, so one
        // round: 8 ms of serialisation plus the 50 ms one-way latency.
        let t0 = Instant::now();
        let p = TcpParams {
            initial_window: 100,
            ..TcpParams::default()
        };
        let mut l = TcpLink::new(p, ms(50), Some(88_328_000), 7, t0);
        assert!(close(l.delivery(t0, BLOCK), t0 + ms(58)));
    }

    #[test]
    fn receive_window_caps_the_flight() {
        // A 64 KiB receive window holds 45 segments: even a huge cwnd needs two rounds.
        let t0 = Instant::now();
        let p = TcpParams {
            initial_window: 100,
            receive_window: 64 << 10,
            ..TcpParams::default()
        };
        let mut l = link(p, t0);
        assert_eq!(l.delivery(t0, BLOCK), t0 + ms(150));
    }

    #[test]
    fn a_lost_tail_waits_for_the_retransmission_timeout() {
        // A one-segment message has no later segments to raise duplicate acknowledgements: its
        // loss is repaired by the RTO (100 ms RTT + 200 ms minimum = 300 ms).
        let t0 = Instant::now();
        let p = TcpParams {
            loss: 0.999_999,
            ..TcpParams::default()
        };
        let mut l = link(p, t0);
        assert_eq!(l.rto(), ms(300));
        assert_eq!(l.delivery(t0, 300), t0 + ms(300) + ms(50));
        assert_eq!(l.cwnd(), 1.0);
    }

    #[test]
    fn a_loss_with_segments_behind_it_is_fast_retransmitted() {
        // The first segment of ten is lost; nine follow it, so three duplicate ACKs return and
        // it is resent one RTT after it left: arrival at 100 + 50 ms, window halved.
        let t0 = Instant::now();
        let p = TcpParams {
            loss: 0.999_999,
            ..TcpParams::default()
        };
        let mut l = link(p, t0);
        assert_eq!(l.delivery(t0, 10 * 1448), t0 + ms(150));
        assert_eq!(l.cwnd(), 5.0);
    }

    #[test]
    fn jitter_stays_within_bounds_and_in_order() {
        let t0 = Instant::now();
        let p = TcpParams {
            jitter_ms: 10.0,
            ..TcpParams::default()
        };
        let mut l = link(p, t0);
        let mut last = t0;
        let mut spread = Duration::ZERO;
        for i in 0..200u64 {
            // One small message every 20 ms: never window-limited.
            let sent = t0 + ms(20 * i);
            let at = l.delivery(sent, 200);
            spread = spread.max(at - sent - ms(50));
            assert!(at >= last);
            assert!(
                at >= sent + ms(50) && at <= sent + ms(61),
                "{:?}",
                at - sent
            );
            last = at;
        }
        assert!(spread > ms(5), "jitter never above 5 ms: {spread:?}");
    }

    #[test]
    fn parameters_are_checked_by_field() {
        assert!(TcpParams::default().check().is_ok());
        let bad = TcpParams {
            loss: 1.0,
            ..TcpParams::default()
        };
        assert!(bad.check().unwrap_err().starts_with("loss"));
        let bad = TcpParams {
            receive_window: 100,
            ..TcpParams::default()
        };
        assert!(bad.check().unwrap_err().starts_with("receive_window"));
    }
}
