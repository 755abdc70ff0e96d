//! What the SourceBuffer holds, as the element reports it: how much is
//! buffered ahead of a time, and what to evict behind the playhead.

use std::ops::Range;

/// Buffered ranges closer than this count as one (browsers leave tiny gaps).
const GAP_TOLERANCE: f64 = 0.25;
/// Eviction waits for this much extra media behind, to batch removals.
const EVICT_SLACK: f64 = 5.0;
/// After a QuotaExceededError, media more than this far behind goes.
const QUOTA_KEEP_BEHIND: f64 = 1.0;

/// The buffered ranges (seconds) of the last playback report.
#[derive(Debug, Default)]
pub(super) struct Buffered {
    ranges: Vec<Range<f64>>,
}

impl Buffered {
    pub(super) fn set(&mut self, ranges: &[Range<f64>]) {
        self.ranges.clear();
        // Kept in start order. By insertion, not `sort_by`: a buffer has a
        // handful of ranges, and the standard sorts cost the wasm ~4 KB.
        for range in ranges {
            let at = self
                .ranges
                .iter()
                .position(|r| r.start.total_cmp(&range.start).is_gt())
                .unwrap_or(self.ranges.len());
            self.ranges.insert(at, range.clone());
        }
    }

    /// Seconds buffered contiguously ahead of `t`.
    pub(super) fn ahead_of(&self, t: f64) -> f64 {
        let mut end = None::<f64>;
        for range in &self.ranges {
            match end {
                None if range.start <= t + GAP_TOLERANCE && range.end > t => end = Some(range.end),
                Some(e) if range.start <= e + GAP_TOLERANCE => end = Some(e.max(range.end)),
                _ => {}
            }
        }
        end.map_or(0.0, |e| (e - t).max(0.0))
    }

    /// The earliest buffered time.
    pub(super) fn oldest(&self) -> Option<f64> {
        self.ranges.iter().map(|r| r.start).reduce(f64::min)
    }

    /// What to remove with the playhead at `position`, keeping `behind`
    /// seconds behind it; only once [`EVICT_SLACK`] more has piled up.
    pub(super) fn eviction(&self, position: f64, behind: f64) -> Option<Range<f64>> {
        let keep_from = position - behind;
        let oldest = self.oldest()?;
        (keep_from - oldest > EVICT_SLACK).then_some(0.0..keep_from)
    }
}

/// What to remove when the browser's quota is exceeded: everything but the
/// last moment before the playhead.
pub(super) fn quota_eviction(position: f64) -> Option<Range<f64>> {
    let keep_from = (position - QUOTA_KEEP_BEHIND).max(0.0);
    (keep_from > 0.0).then_some(0.0..keep_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_given_out_of_order_still_join_ahead_of_the_playhead() {
        let mut buffered = Buffered::default();
        buffered.set(&[8.0..12.0, 0.0..4.0, 4.0..8.0, 20.0..30.0]);
        assert_eq!(buffered.ahead_of(1.0), 11.0);
        assert_eq!(buffered.ahead_of(21.0), 9.0);
        assert_eq!(buffered.ahead_of(15.0), 0.0);
        assert_eq!(buffered.oldest(), Some(0.0));
    }
}
