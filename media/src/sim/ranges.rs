//! Sorted, disjoint, merged sets of half-open ranges: the buffered and
//! played media times (seconds) and the fetched file bytes.
//!
//! A few dozen ranges at most per run, so a sorted `Vec` with binary search
//! beats any tree; adjacent ranges merge, which keeps a contiguous run of
//! appends a single range (what `SourceBuffer.buffered` reports).

use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeSet<T> {
    ranges: Vec<Range<T>>,
}

impl<T> Default for RangeSet<T> {
    fn default() -> Self {
        RangeSet { ranges: Vec::new() }
    }
}

impl<T: Copy + PartialOrd> RangeSet<T> {
    pub(crate) fn as_slice(&self) -> &[Range<T>] {
        &self.ranges
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Adds `range`, merging it with every range it overlaps or touches.
    pub(crate) fn insert(&mut self, range: Range<T>) {
        if range.start >= range.end {
            return;
        }
        let first = self.ranges.partition_point(|r| r.end < range.start);
        let mut last = first;
        let (mut start, mut end) = (range.start, range.end);
        while let Some(r) = self.ranges.get(last) {
            if r.start > end {
                break;
            }
            if r.start < start {
                start = r.start;
            }
            if r.end > end {
                end = r.end;
            }
            last += 1;
        }
        self.ranges.splice(first..last, std::iter::once(start..end));
    }

    /// Takes `range` out, splitting a range it falls inside.
    pub(crate) fn remove(&mut self, range: Range<T>) {
        if range.start >= range.end {
            return;
        }
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for r in self.ranges.drain(..) {
            if r.end <= range.start || r.start >= range.end {
                kept.push(r);
                continue;
            }
            if r.start < range.start {
                kept.push(r.start..range.start);
            }
            if r.end > range.end {
                kept.push(range.end..r.end);
            }
        }
        self.ranges = kept;
    }

    /// The range holding `x` (`start <= x < end`).
    pub(crate) fn containing(&self, x: T) -> Option<&Range<T>> {
        let n = self.ranges.partition_point(|r| r.start <= x);
        let r = self.ranges.get(n.checked_sub(1)?)?;
        (x < r.end).then_some(r)
    }
}

impl RangeSet<f64> {
    /// Total seconds covered.
    pub(crate) fn measure(&self) -> f64 {
        self.ranges.iter().map(|r| r.end - r.start).sum()
    }
}

impl RangeSet<u64> {
    /// Bytes covered by both sets.
    pub(crate) fn overlap(&self, other: &RangeSet<u64>) -> u64 {
        let (mut i, mut j, mut total) = (0, 0, 0);
        while let (Some(a), Some(b)) = (self.ranges.get(i), other.ranges.get(j)) {
            let start = a.start.max(b.start);
            let end = a.end.min(b.end);
            total += end.saturating_sub(start);
            if a.end <= b.end {
                i += 1;
            } else {
                j += 1;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_merge_and_removes_split() {
        let mut set = RangeSet::default();
        set.insert(5u64..10);
        set.insert(0..2);
        set.insert(10..12);
        assert_eq!(set.as_slice(), &[0..2, 5..12]);
        set.insert(1..6);
        assert_eq!(set.as_slice(), std::slice::from_ref(&(0..12)));
        set.remove(3..4);
        assert_eq!(set.as_slice(), &[0..3, 4..12]);
        assert_eq!(set.containing(3), None);
        assert_eq!(set.containing(4), Some(&(4..12)));
        let mut other = RangeSet::default();
        other.insert(2u64..5);
        other.insert(11..20);
        assert_eq!(set.overlap(&other), 1 + 1 + 1);
    }
}
