//! A bandwidth trace: the bottleneck link's rate over time, piecewise
//! constant, in the `[[seconds, bits_per_second], ...]` shape the QoE
//! benchmark's shaping proxy reads, so one trace drives both.

/// Why a trace was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceError {
    #[error("a bandwidth trace needs at least one point")]
    Empty,
    #[error("trace point {index}: times must be finite and ascending")]
    Unordered { index: usize },
    #[error("trace point {index}: the rate must be finite and not negative")]
    BadRate { index: usize },
}

/// The link rate over time. Before the first point the first rate holds;
/// after the last, the last rate holds.
#[derive(Debug, Clone, PartialEq)]
pub struct BandwidthTrace {
    /// `(seconds, bits per second)`, strictly ascending in time.
    points: Vec<(f64, f64)>,
}

impl BandwidthTrace {
    /// A trace from `(seconds, bits per second)` points.
    pub fn new(points: Vec<(f64, f64)>) -> Result<Self, TraceError> {
        if points.is_empty() {
            return Err(TraceError::Empty);
        }
        for (index, &(t, rate)) in points.iter().enumerate() {
            let after_previous = index == 0 || points[index - 1].0 < t;
            if !t.is_finite() || !after_previous {
                return Err(TraceError::Unordered { index });
            }
            if !rate.is_finite() || rate < 0.0 {
                return Err(TraceError::BadRate { index });
            }
        }
        Ok(BandwidthTrace { points })
    }

    /// A link that never changes.
    pub fn constant(bits_per_second: f64) -> Self {
        BandwidthTrace {
            points: vec![(0.0, bits_per_second.max(0.0))],
        }
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// Bits per second at `seconds` (a change takes effect at its time).
    pub fn rate_at(&self, seconds: f64) -> f64 {
        let n = self.points.partition_point(|&(t, _)| t <= seconds);
        self.points[n.saturating_sub(1)].1
    }

    /// The first change of rate strictly after `seconds`.
    pub fn next_change_after(&self, seconds: f64) -> Option<f64> {
        let n = self.points.partition_point(|&(t, _)| t <= seconds);
        self.points.get(n).map(|&(t, _)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piecewise_constant_with_the_ends_held() {
        let trace = BandwidthTrace::new(vec![(1.0, 10.0), (3.0, 20.0)]).expect("valid");
        assert_eq!(trace.rate_at(0.0), 10.0);
        assert_eq!(trace.rate_at(2.9), 10.0);
        assert_eq!(trace.rate_at(3.0), 20.0);
        assert_eq!(trace.rate_at(100.0), 20.0);
        assert_eq!(trace.next_change_after(0.0), Some(1.0));
        assert_eq!(trace.next_change_after(1.0), Some(3.0));
        assert_eq!(trace.next_change_after(3.0), None);
        assert_eq!(
            BandwidthTrace::new(vec![(1.0, 1.0), (1.0, 2.0)]),
            Err(TraceError::Unordered { index: 1 })
        );
        assert_eq!(BandwidthTrace::new(vec![]), Err(TraceError::Empty));
    }
}
