//! Small first outputs: after a start or a seek, the first planned
//! fragment goes out in pieces as its bytes arrive.
//!
//! MSE shows nothing of a fragment until it is appended, and a planned
//! fragment is a GOP (2 s in a common encode): on a link barely faster than
//! the media the first frame would wait for two seconds of bytes. So
//! [`RemuxStream`](super::RemuxStream) cuts the first fragment of a run into
//! pieces: the first once the keyframe and about
//! [`StreamOptions::first_chunk_ms`] of the lead track are in, then one per
//! [`StreamOptions::chunk_ms`] more, then the rest once the fragment's span
//! is in. Later fragments go out in pieces of [`StreamOptions::later_chunk_ms`]
//! as their bytes arrive (a link barely faster than the media would
//! otherwise let the buffer run down to nothing while a whole GOP comes),
//! and whole when their bytes are in at once (a fast link). Pieces are an
//! output detail: the index's segments stay the planned fragments.
//!
//! A piece holds each track's samples in decode order from where the last
//! piece stopped, as long as their bytes are in (a sample not fetched yet
//! stops its track). What it lets MSE play is the lead track up to its
//! earliest sample still to come (with B-frames, a frame decoded later may
//! present earlier), and the other track up to its first sample held back
//! for its bytes. The other track's samples stop at the lead's end (the
//! frame that starts before it may run past it), and a piece is due once
//! what both tracks play has grown by the chunk's duration. A piece after
//! the first starts without a keyframe: MSE needs one only at the start of
//! a run, and the first piece starts at the planned cut.

use std::ops::Range;

use super::{Fragment, Remux};

/// How [`RemuxStream`](super::RemuxStream) sizes its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// After a start or a reset, the first output goes once the keyframe
    /// and this much of the lead (video) track can play, milliseconds.
    /// 0: whole fragments only, numbered as planned (the outputs before
    /// first chunks existed, byte for byte).
    pub first_chunk_ms: u32,
    /// Then another piece of the same fragment per this much more,
    /// milliseconds; 0: the rest of the fragment in one output.
    pub chunk_ms: u32,
    /// Later fragments of the run: a piece per this much, milliseconds, as
    /// their bytes arrive; 0: each whole, once its span is in.
    pub later_chunk_ms: u32,
}

impl StreamOptions {
    /// One output per planned fragment.
    pub const WHOLE_FRAGMENTS: StreamOptions = StreamOptions {
        first_chunk_ms: 0,
        chunk_ms: 0,
        later_chunk_ms: 0,
    };

    /// Whether the first fragment of a run is cut into pieces.
    pub fn first_chunks(self) -> bool {
        self.first_chunk_ms > 0
    }
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            first_chunk_ms: 200,
            chunk_ms: 250,
            later_chunk_ms: 1000,
        }
    }
}

/// How far the output of a fragment cut into pieces has got.
#[derive(Debug, Clone)]
pub(super) struct Progress {
    /// Per output track, the first sample not output yet.
    next: Vec<usize>,
    /// Lead-track ticks: what the pieces so far let MSE play up to.
    shown: i128,
    /// No piece can be due before the bytes reach this offset: the end of
    /// the sample whose bytes stopped a track.
    wake_at: u64,
    /// Not the run's first fragment: pieces of `later_chunk_ms`.
    later: bool,
}

impl Progress {
    /// Nothing of `fragment` output yet; `later`: not the first of its run.
    pub(super) fn new(remux: &Remux, fragment: &Fragment, later: bool) -> Self {
        let shown = remux
            .outs
            .first()
            .zip(fragment.samples.first())
            .and_then(|(out, run)| {
                let s = remux.track(out)?.samples.get(run.start)?;
                Some(out.presentation(run.start, s))
            })
            .unwrap_or(0);
        Progress {
            next: fragment.samples.iter().map(|r| r.start).collect(),
            shown,
            wake_at: 0,
            later,
        }
    }

    /// Whether a piece went out.
    pub(super) fn started(&self, fragment: &Fragment) -> bool {
        self.next
            .iter()
            .zip(&fragment.samples)
            .any(|(&n, run)| n > run.start)
    }

    /// The samples of `fragment` not output yet, per track.
    pub(super) fn rest(&self, fragment: &Fragment) -> Vec<Range<usize>> {
        fragment
            .samples
            .iter()
            .zip(&self.next)
            .map(|(run, &n)| n.max(run.start)..run.end)
            .collect()
    }
}

impl Remux {
    /// The piece of `fragment` due now that the file's bytes up to
    /// `window_end` are in (all of them from the first sample not output),
    /// per track; `progress` moves past it. `None` until one is due.
    pub(super) fn due_piece(
        &self,
        fragment: &Fragment,
        progress: &mut Progress,
        window_end: u64,
        options: StreamOptions,
    ) -> Option<Vec<Range<usize>>> {
        if window_end < progress.wake_at {
            return None;
        }
        let chunk_ms = if progress.later {
            options.later_chunk_ms
        } else if progress.started(fragment) {
            options.chunk_ms
        } else {
            options.first_chunk_ms
        };
        if chunk_ms == 0 {
            return None;
        }
        let lead_out = self.outs.first()?;
        let lead = self.track(lead_out)?;
        let lead_run = fragment.samples.first()?;
        let scale = i128::from(lead.timescale);
        let mut wake_at = u64::MAX;

        // The lead track: its samples whose bytes are in, in decode order.
        let from = *progress.next.first()?;
        let mut to = from;
        while to < lead_run.end {
            let s = lead.samples.get(to)?;
            if s.end() > window_end {
                wake_at = s.end();
                break;
            }
            to += 1;
        }
        // It plays up to its earliest sample still to come (none: all in).
        let lead_end = (to..lead_run.end)
            .filter_map(|i| Some(lead_out.presentation(i, lead.samples.get(i)?)))
            .min();
        let mut runs = Vec::with_capacity(self.outs.len());
        runs.push(from..to);
        let mut shown = lead_end;

        // The other track, up to the lead's end.
        for (k, out) in self.outs.iter().enumerate().skip(1) {
            let track = self.track(out)?;
            let run = fragment.samples.get(k)?;
            let own = i128::from(track.timescale.max(1));
            let from = *progress.next.get(k)?;
            let mut to = from;
            while to < run.end {
                let s = track.samples.get(to)?;
                let at = out.presentation(to, s);
                if lead_end.is_some_and(|end| at * scale >= end * own) {
                    break;
                }
                if s.end() > window_end {
                    wake_at = wake_at.min(s.end());
                    // Held back for its bytes: this track plays up to it.
                    let held = at * scale / own;
                    shown = Some(shown.map_or(held, |end| end.min(held)));
                    break;
                }
                to += 1;
            }
            runs.push(from..to);
        }
        progress.wake_at = wake_at;

        // `None`: every sample is in, the caller outputs the rest.
        let shown = shown?;
        let fresh = runs.iter().any(|r| !r.is_empty());
        let chunk = i128::from(chunk_ms) * scale / 1000;
        if !fresh || shown - progress.shown < chunk {
            return None;
        }
        progress.shown = shown;
        progress.next = runs.iter().map(|r| r.end).collect();
        Some(runs)
    }

    /// The first file byte the samples of `fragment` not output yet need.
    pub(super) fn first_byte_left(&self, fragment: &Fragment, progress: &Progress) -> Option<u64> {
        self.outs
            .iter()
            .zip(progress.rest(fragment))
            .filter_map(|(out, run)| {
                let samples = self.track(out)?.samples.get(run)?;
                samples.iter().map(|s| s.offset).min()
            })
            .min()
    }
}
