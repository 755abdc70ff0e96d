//! The bottleneck of a shaped link: one token bucket over bytes, shared by
//! every connection through it, so the *link* has the rate whatever the
//! number of requests. Used by the test proxy ([`crate::proxy`]) and the
//! QoE benchmark's link ([`crate::shaped_link`]).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A rate limit that writers wait on; unlimited until a rate is set.
#[derive(Debug)]
pub struct SharedBucket(Mutex<Bucket>);

#[derive(Debug)]
struct Bucket {
    rate: Option<f64>, // bytes per second; None: unlimited
    tokens: f64,       // may go negative: a debt the writer waits off
    last: Instant,
}

impl Bucket {
    /// ~50 ms of data, at least 4 KiB: a small burst, like a real
    /// bottleneck queue, and not one write per byte.
    fn burst(rate: f64) -> f64 {
        (rate * 0.05).max(4096.0)
    }

    fn refill(&mut self, now: Instant) {
        if let Some(rate) = self.rate {
            let dt = now.saturating_duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * rate).min(Self::burst(rate));
        }
        self.last = now;
    }
}

impl Default for SharedBucket {
    fn default() -> Self {
        SharedBucket(Mutex::new(Bucket {
            rate: None,
            tokens: 0.0,
            last: Instant::now(),
        }))
    }
}

impl SharedBucket {
    fn lock(&self) -> MutexGuard<'_, Bucket> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Limits to `bits_per_second` (None: unlimited). Waits in progress
    /// see the new rate within ~50 ms.
    pub fn set_rate(&self, bits_per_second: Option<u64>) {
        let mut b = self.lock();
        b.refill(Instant::now());
        b.rate = bits_per_second.map(|bps| (bps as f64 / 8.0).max(1.0));
        b.tokens = match b.rate {
            Some(rate) => b.tokens.min(Bucket::burst(rate)),
            None => 0.0,
        };
    }

    /// The current limit in bit/s (None: unlimited).
    pub fn rate(&self) -> Option<u64> {
        self.lock().rate.map(|r| (r * 8.0) as u64)
    }

    /// Largest single write at the current rate (~20 ms of data, 1..16 KiB),
    /// so a rate change or another connection gets its turn soon.
    pub fn quantum(&self) -> usize {
        match self.lock().rate {
            None => usize::MAX,
            Some(rate) => ((rate * 0.02) as usize).clamp(1024, 16 * 1024),
        }
    }

    /// Debits `n` bytes and waits until the bucket is out of debt. Re-reads
    /// the rate every ≤50 ms, so a change applies to waits in progress.
    pub async fn take(&self, n: usize) {
        {
            let mut b = self.lock();
            if b.rate.is_none() {
                return;
            }
            b.refill(Instant::now());
            b.tokens -= n as f64;
        }
        loop {
            let wait = {
                let mut b = self.lock();
                b.refill(Instant::now());
                match b.rate {
                    None => {
                        b.tokens = 0.0;
                        return;
                    }
                    Some(_) if b.tokens >= 0.0 => return,
                    Some(rate) => Duration::from_secs_f64(-b.tokens / rate),
                }
            };
            tokio::time::sleep(wait.min(Duration::from_millis(50))).await;
        }
    }
}
