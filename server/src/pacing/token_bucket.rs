//! The application's own pacing, where the kernel's is missing (no
//! `SO_MAX_PACING_RATE`: another OS, a sandboxed kernel, `--pace-by app`):
//! a token bucket the body's writer asks before each piece. Pure: time is
//! passed in.

use std::time::{Duration, Instant};

/// The burst at least: a piece the writer hands over at once.
pub const MIN_BURST: u64 = 64 * 1024;

/// Bytes may leave at `rate` on average, `burst` at once.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Bytes per second.
    rate: f64,
    burst: f64,
    /// May go below zero: the debt the next wait pays.
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Full at the start: the first burst leaves at once.
    pub fn new(bytes_per_second: u64, now: Instant) -> Self {
        let burst = burst_for(bytes_per_second);
        TokenBucket {
            rate: bytes_per_second.max(1) as f64,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// A new rate from `now` on; what was earned so far is kept.
    pub fn set_rate(&mut self, bytes_per_second: u64, now: Instant) {
        self.refill(now);
        self.rate = bytes_per_second.max(1) as f64;
        self.burst = burst_for(bytes_per_second);
        self.tokens = self.tokens.min(self.burst);
    }

    /// `len` bytes left at `now`: how long to wait before the next.
    pub fn take(&mut self, len: u64, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= len as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// The most to hand over in one piece (a `sendfile` call): the burst.
    pub fn burst(&self) -> u64 {
        self.burst as u64
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }
}

/// 50 ms at the rate, at least [`MIN_BURST`]: short enough that the rate
/// holds over a round trip, long enough that timers are not the limit.
fn burst_for(bytes_per_second: u64) -> f64 {
    (bytes_per_second / 20).max(MIN_BURST) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `total` in `piece`s as fast as the bucket allows: the time it took.
    fn drain(bucket: &mut TokenBucket, start: Instant, total: u64, piece: u64) -> Duration {
        let mut now = start;
        let mut sent = 0;
        while sent < total {
            now += bucket.take(piece, now);
            sent += piece;
        }
        now - start
    }

    #[test]
    fn the_long_run_rate_is_the_rate_after_one_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1_000_000, t0);
        // 611 pieces of 16 KiB at 1 MB/s: the bytes less the first burst,
        // at the rate (the wait after the last piece included).
        let took = drain(&mut bucket, t0, 611 * 16_384, 16_384).as_secs_f64();
        let expected = (611.0 * 16_384.0 - 65_536.0) / 1_000_000.0;
        assert!(
            (took - expected).abs() < 1e-6,
            "{took} s, {expected} expected"
        );
    }

    #[test]
    fn an_idle_bucket_saves_one_burst_not_more() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1_000_000, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(bucket.take(65_536, later), Duration::ZERO);
        let wait = bucket.take(100_000, later);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
    }

    #[test]
    fn a_new_rate_applies_to_what_follows() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1_000_000, t0);
        bucket.take(65_536, t0);
        bucket.set_rate(4_000_000, t0);
        // The burst is 200 KB now, but it refills from empty at 4 MB/s.
        let wait = bucket.take(400_000, t0);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert_eq!(bucket.burst(), 200_000);
    }
}
