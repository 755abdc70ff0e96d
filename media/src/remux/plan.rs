//! The fragment plan: where the movie is cut, which samples of each track
//! go into which fragment, and which file bytes each fragment needs.
//!
//! Cuts fall on the sync samples of the first output track (video when
//! there is video), at least [`PlanOptions::min_fragment_ms`] apart, so
//! every fragment starts with a random access point and the player may
//! begin appending at any of them. The other track's samples join the
//! fragment their presentation time falls in: audio and video of the same
//! moment travel together, the way an interleaved file stores them, so a
//! fragment's samples lie in a few nearly contiguous byte ranges.

use std::ops::Range;

use super::Remux;

/// How to cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    /// Shortest fragment (except the last), milliseconds: a cut is made at
    /// the first sync sample at least this long after the previous cut.
    pub min_fragment_ms: u32,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            min_fragment_ms: 1000,
        }
    }
}

/// One planned fragment.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// `mfhd` sequence number, from 1.
    pub sequence: u32,
    /// Presentation start, seconds: the first output track's cut sample
    /// (0 for the first, or after the lead-in's hidden frames).
    pub start: f64,
    /// Presentation end, seconds: the next fragment's start, or the
    /// movie's duration for the last one.
    pub end: f64,
    /// Sample indices, one range per output track (in
    /// [`Remux::tracks`] order; empty when the track has none here).
    pub samples: Vec<Range<usize>>,
    /// The file bytes the samples occupy, ascending and coalesced.
    pub bytes: Vec<Range<u64>>,
    /// From the first byte needed to the last.
    pub span: Range<u64>,
}

impl Remux {
    /// Cuts the movie into fragments.
    pub fn plan(&self, options: PlanOptions) -> Vec<Fragment> {
        let Some(lead) = self.outs.first() else {
            return Vec::new();
        };
        let Some(lead_track) = self.track(lead) else {
            return Vec::new();
        };
        let samples = &lead_track.samples;
        let scale = i128::from(lead_track.timescale);
        let min_ticks = i128::from(options.min_fragment_ms) * scale / 1000;

        // Cut points in the lead track: sample 0, then sync samples.
        let mut cuts = vec![0usize];
        let mut cut_time = samples.first().map_or(0, |s| lead.presentation(0, s));
        for (i, s) in samples.iter().enumerate().skip(1) {
            if s.is_sync() && lead.presentation(i, s) - cut_time >= min_ticks {
                cuts.push(i);
                cut_time = lead.presentation(i, s);
            }
        }
        // A last fragment shorter than half the minimum joins the one
        // before (a 3.03 s audio file: three fragments, not three and a
        // sliver).
        let end_time = samples.last().map_or(0, |s| {
            lead.presentation(samples.len() - 1, s)
                + i128::from(lead.duration(lead_track, samples.len() - 1))
        });
        if cuts.len() > 1 && end_time - cut_time < min_ticks / 2 {
            cuts.pop();
        }
        let starts: Vec<i128> = cuts
            .iter()
            .map(|&i| samples.get(i).map_or(0, |s| lead.presentation(i, s)))
            .collect();

        let mut fragments: Vec<Fragment> = Vec::with_capacity(cuts.len());
        for (n, &first) in cuts.iter().enumerate() {
            let last = cuts.get(n + 1).copied().unwrap_or(samples.len());
            let start = starts.get(n).copied().unwrap_or(0) as f64 / scale as f64;
            let mut runs = Vec::with_capacity(self.outs.len());
            runs.push(first..last);
            fragments.push(Fragment {
                sequence: u32::try_from(n + 1).unwrap_or(u32::MAX),
                start,
                end: start,
                samples: runs,
                bytes: Vec::new(),
                span: 0..0,
            });
        }

        // The other tracks: each sample to the fragment whose time span
        // holds its presentation time (comparing t_a / scale_a with
        // t_lead / scale_lead exactly, in integers).
        for out in self.outs.iter().skip(1) {
            let Some(track) = self.track(out) else {
                continue;
            };
            let own = i128::from(track.timescale);
            let mut i = 0usize;
            for (n, fragment) in fragments.iter_mut().enumerate() {
                let first = i;
                match starts.get(n + 1) {
                    Some(&next) => {
                        while let Some(s) = track.samples.get(i) {
                            if out.presentation(i, s) * scale >= next * own {
                                break;
                            }
                            i += 1;
                        }
                    }
                    None => i = track.samples.len(),
                }
                fragment.samples.push(first..i);
            }
        }

        let end = self
            .movie
            .duration_secs()
            .or_else(|| fragments.last().map(|f| f.start))
            .unwrap_or(0.0);
        let mut next_start = end;
        for fragment in fragments.iter_mut().rev() {
            fragment.end = next_start.max(fragment.start);
            next_start = fragment.start;
        }
        for fragment in &mut fragments {
            self.fill_bytes(fragment);
        }
        fragments
    }

    /// The coalesced byte ranges and the span of a fragment's samples.
    fn fill_bytes(&self, fragment: &mut Fragment) {
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for (out, run) in self.outs.iter().zip(&fragment.samples) {
            let Some(track) = self.track(out) else {
                continue;
            };
            let samples = track.samples.get(run.clone()).unwrap_or(&[]);
            ranges.extend(samples.iter().map(|s| s.offset..s.end()));
        }
        ranges.sort_unstable_by_key(|r| (r.start, r.end));
        let mut merged: Vec<Range<u64>> = Vec::new();
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        fragment.span = match (merged.first(), merged.last()) {
            (Some(a), Some(b)) => a.start..b.end,
            _ => 0..0,
        };
        fragment.bytes = merged;
    }
}
