//! Throughput estimation: two exponentially weighted moving averages of the
//! download rate, a fast one that reacts to drops and a slow one that
//! remembers the long run; the estimate is the lower of the two, so a drop is
//! believed at once and a burst only slowly.

/// Milliseconds of a sample below which it only accumulates (timer noise).
/// A whole response that arrives in less is counted as lasting this long
/// (see [`ThroughputEstimator::response_ended`]).
const MIN_SAMPLE_MS: f64 = 50.0;
/// Fewest bytes a response that ends before [`MIN_SAMPLE_MS`] must bring to
/// count: so many in so little time prove at least 10 Mbit/s, faster than
/// the media it carries, so the bound never makes a fast link look slow.
const MIN_FAST_RESPONSE_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ThroughputEstimator {
    fast: Ewma,
    slow: Ewma,
    pending_bytes: u64,
    pending_ms: f64,
    /// Bytes of responses' first pieces (their wait is the round trip, not
    /// a sample), kept only for [`Self::response_ended`]'s lower bound.
    first_bytes: u64,
}

impl Default for ThroughputEstimator {
    fn default() -> Self {
        ThroughputEstimator {
            fast: Ewma::new(2.0),
            slow: Ewma::new(8.0),
            pending_bytes: 0,
            pending_ms: 0.0,
            first_bytes: 0,
        }
    }
}

impl ThroughputEstimator {
    /// Records `bytes` that took `ms` of transfer time.
    pub fn sample(&mut self, bytes: u64, ms: f64) {
        self.pending_bytes += bytes;
        self.pending_ms += ms.max(0.0);
        if self.pending_ms >= MIN_SAMPLE_MS {
            self.commit();
        }
    }

    /// A response's first piece: no sample (its wait is the round trip),
    /// but on a link too fast to time it may be most of the response.
    pub fn first_piece(&mut self, bytes: u64) {
        if self.estimate().is_none() {
            self.first_bytes += bytes;
        }
    }

    /// The pending bytes and time become one sample of both averages.
    fn commit(&mut self) {
        let bits_per_second = self.pending_bytes as f64 * 8.0 * 1000.0 / self.pending_ms;
        let seconds = self.pending_ms / 1000.0;
        self.fast.add(seconds, bits_per_second);
        self.slow.add(seconds, bits_per_second);
        self.pending_bytes = 0;
        self.pending_ms = 0.0;
        self.first_bytes = 0;
    }

    /// A response ended. If nothing has been measured yet and at least
    /// [`MIN_FAST_RESPONSE_BYTES`] are pending, they count now, as if they
    /// had taken [`MIN_SAMPLE_MS`]: on a fast link (loopback, a LAN)
    /// responses finish in well under a millisecond and would never add up
    /// to a sample, leaving the link unknown for good. The rate so counted
    /// is a lower bound — the bytes came in that time or less. Once there is
    /// an estimate, short pieces only accumulate.
    pub fn response_ended(&mut self) {
        if self.estimate().is_some()
            || self.pending_bytes + self.first_bytes < MIN_FAST_RESPONSE_BYTES
        {
            return;
        }
        // A whole response may come as its first piece (loopback, or the
        // loader's read-ahead handed over at once): it counts here too.
        self.pending_bytes += self.first_bytes;
        self.pending_ms = self.pending_ms.max(MIN_SAMPLE_MS);
        self.commit();
    }

    /// Bits per second, once there is a sample.
    pub fn estimate(&self) -> Option<f64> {
        Some(self.fast.value()?.min(self.slow.value()?))
    }
}

/// An EWMA weighted by sample duration, with a half-life in seconds and
/// zero-bias correction (as in Shaka's estimator).
#[derive(Debug, Clone)]
struct Ewma {
    half_life_seconds: f64,
    estimate: f64,
    total_weight: f64,
}

impl Ewma {
    fn new(half_life_seconds: f64) -> Self {
        Ewma {
            half_life_seconds,
            estimate: 0.0,
            total_weight: 0.0,
        }
    }

    fn add(&mut self, weight_seconds: f64, value: f64) {
        let alpha = half_power(weight_seconds / self.half_life_seconds);
        self.estimate = value * (1.0 - alpha) + alpha * self.estimate;
        self.total_weight += weight_seconds;
    }

    fn value(&self) -> Option<f64> {
        if self.total_weight <= 0.0 {
            return None;
        }
        let zero_factor = 1.0 - half_power(self.total_weight / self.half_life_seconds);
        Some(self.estimate / zero_factor)
    }
}

/// `0.5^x` for `x ≥ 0`, to about 1e-12 relative: the EWMA's decay.
/// Written out because `f64::powf` brings libm's `pow` (2 KB) into the
/// player's wasm for these three calls.
fn half_power(x: f64) -> f64 {
    let exponent = -x;
    let whole = exponent.floor();
    if whole < -1022.0 {
        return 0.0;
    }
    // 2^fraction = e^(fraction·ln 2), fraction in [0, 1): a Taylor series
    // to t^13/13! has an error below 1e-12 on that interval.
    let t = (exponent - whole) * core::f64::consts::LN_2;
    let mut sum = 1.0;
    for n in (1..=13).rev() {
        sum = 1.0 + sum * t / f64::from(n);
    }
    // 2^whole from its exponent bits (whole in [-1022, 0]).
    let scale = f64::from_bits(((whole as i64 + 1023) as u64) << 52);
    sum * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_power_matches_powf() {
        for i in 0..20_000 {
            let x = f64::from(i) * 0.013;
            let (ours, std) = (half_power(x), 0.5f64.powf(x));
            assert!((ours - std).abs() <= std * 1e-12, "{x}: {ours} vs {std}");
        }
        assert_eq!(half_power(0.0), 1.0);
        assert_eq!(half_power(2000.0), 0.0);
        assert_eq!(half_power(f64::INFINITY), 0.0);
    }

    #[test]
    fn steady_rate_is_estimated_exactly() {
        let mut t = ThroughputEstimator::default();
        assert_eq!(t.estimate(), None);
        for _ in 0..10 {
            t.sample(125_000, 1000.0); // 1 Mbit/s
        }
        let estimate = t.estimate().expect("estimate");
        assert!((estimate - 1_000_000.0).abs() < 1.0, "{estimate}");
    }

    #[test]
    fn a_drop_is_believed_fast_a_burst_slowly() {
        let mut t = ThroughputEstimator::default();
        for _ in 0..20 {
            t.sample(125_000, 1000.0);
        }
        t.sample(12_500, 1000.0); // one second at 100 kbit/s
        assert!(t.estimate().expect("estimate") < 800_000.0);
        let mut u = ThroughputEstimator::default();
        for _ in 0..20 {
            u.sample(125_000, 1000.0);
        }
        u.sample(1_250_000, 1000.0); // one second at 10 Mbit/s
        assert!(u.estimate().expect("estimate") < 3_000_000.0);
    }

    #[test]
    fn a_fast_response_counts_when_it_ends_as_a_lower_bound() {
        let mut t = ThroughputEstimator::default();
        // A few kilobytes fast prove little: they wait for more.
        t.sample(4000, 1.0);
        t.response_ended();
        assert_eq!(t.estimate(), None);
        t.sample(500_000, 0.2);
        t.sample(500_000, 0.0); // a coarse clock: no time passed
        assert_eq!(t.estimate(), None);
        t.response_ended();
        // 1,004,000 bytes in at most 50 ms: at least 160.64 Mbit/s.
        let estimate = t.estimate().expect("estimate");
        assert!((estimate - 160_640_000.0).abs() < 1.0, "{estimate}");
        // Once measured, short pieces only accumulate again.
        t.sample(1000, 1.0);
        t.response_ended();
        assert_eq!(t.estimate(), Some(estimate));
    }

    #[test]
    fn tiny_samples_accumulate() {
        let mut t = ThroughputEstimator::default();
        for _ in 0..10 {
            t.sample(1250, 10.0); // 1 Mbit/s in 10 ms pieces
        }
        let estimate = t.estimate().expect("estimate");
        assert!((estimate - 1_000_000.0).abs() < 1.0, "{estimate}");
    }

    #[test]
    fn a_fast_response_that_comes_in_one_piece_still_measures_the_link() {
        let mut t = ThroughputEstimator::default();
        // The whole 1.5 MB file as the response's first piece, at once.
        t.first_piece(1_500_000);
        t.response_ended();
        let estimate = t.estimate().expect("a lower bound");
        assert!(estimate >= 1_500_000.0 * 8.0 / 0.05 * 0.99, "{estimate}");
        // Small first pieces alone do not make a sample.
        let mut t = ThroughputEstimator::default();
        t.first_piece(16_000);
        t.response_ended();
        assert_eq!(t.estimate(), None);
    }
}
