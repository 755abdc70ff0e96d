//! [`Fragments`]: the units of a fragmented MP4, from the boxes after the
//! `moov` — a whole-file `sidx` when there is one, else each `moof`'s start
//! time and duration in the timing track, closed by the `mdat` after it.
//!
//! The top-level walk ([`Fmp4Indexer`](super::Fmp4Indexer)) hands each box
//! here once it is whole; nothing here sees bytes that are not a box payload.

use super::boxes::malformed;
use super::boxes::moof;
use super::boxes::sidx::Sidx;
use super::{CONTAINER, boxes::Child};
use crate::index::{MediaError, MediaIndex, Segment};

/// At most this many segments: 1M two-second fragments is 24 days of
/// media; more than that is a hostile file growing our memory.
const MAX_SEGMENTS: usize = 1 << 20;

/// The track whose fragment times define the segment times.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timing {
    pub(super) track_id: u32,
    pub(super) timescale: u32,
    /// `trex` default sample duration.
    pub(super) default_duration: u32,
}

/// Fragments read (`moof`s) whose `mdat` has not been seen yet.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    /// A `moof` was read since the last unit ended.
    moof: bool,
    /// Start and duration in timing-track ticks, once a `moof` had a `traf`
    /// of the timing track.
    ticks: Option<(u64, u64)>,
}

/// What a `sidx` did to the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SidxRead {
    /// Nothing more to learn: the index is complete.
    Complete,
    /// Units taken (or ignored); the walk goes on.
    More,
}

/// Where the unit discovery is, between boxes.
#[derive(Debug, Default)]
pub(super) struct Fragments {
    pub(super) timing: Timing,
    /// Decode time, in timing-track ticks, after the last fragment read: the
    /// start of a fragment that has no `tfdt`.
    next_decode: u64,
    /// Where the next unit starts: the end of the last one (or of `moov`).
    unit_start: u64,
    pending: Pending,
    /// A `moof` was scanned (so a `sidx` met later is a per-fragment one).
    pub(super) scanned_moof: bool,
    /// The `sidx` reference_ID the segments came from, if they did.
    sidx_track: Option<u32>,
    /// Boxes before this offset are covered by `sidx`-derived segments.
    pub(super) covered_end: u64,
    /// The segments come from a whole-file `sidx` on another track's
    /// timeline; a `sidx` of the timing track may still follow. The index is
    /// complete at the next box that is not a `sidx`.
    pub(super) complete_after_sidxs: bool,
    /// The latest end, seconds, of any `sidx` read: each track's own when
    /// there is one per track (Bento4 `--index`), so the file lasts as long
    /// as its longest track, as native playback says.
    pub(super) longest: Option<f64>,
}

impl Fragments {
    /// Units start after the `moov`, which ends at `moov_end`.
    pub(super) fn after_moov(timing: Timing, moov_end: u64) -> Self {
        Fragments {
            timing,
            unit_start: moov_end,
            covered_end: moov_end,
            ..Fragments::default()
        }
    }

    /// Where the fragment read but not yet closed by its `mdat` starts,
    /// seconds.
    pub(super) fn pending_start(&self) -> Option<f64> {
        let (ticks, _) = self.pending.ticks?;
        (self.timing.timescale > 0).then(|| ticks as f64 / f64::from(self.timing.timescale))
    }

    /// A `moof` of the timing track came and its `mdat` is still to come.
    pub(super) fn timed_moof_pending(&self) -> bool {
        self.pending.ticks.is_some()
    }

    pub(super) fn read_moof(&mut self, moof: &Child<'_>) -> Result<(), MediaError> {
        self.scanned_moof = true;
        self.pending.moof = true;
        let Timing {
            track_id,
            default_duration,
            ..
        } = self.timing;
        let Some(t) = moof::track_timing(moof, track_id, default_duration)? else {
            return Ok(());
        };
        let start = t.base_decode_time.unwrap_or(self.next_decode);
        self.next_decode = start.saturating_add(t.duration);
        self.pending.ticks = Some(match self.pending.ticks {
            // A unit of several fragments: its start, all their durations.
            Some((first, duration)) => (first, duration.saturating_add(t.duration)),
            None => (start, t.duration),
        });
        Ok(())
    }

    /// An `mdat` ending at `end`: closes the unit if `moof`s with the timing
    /// track came before it.
    pub(super) fn end_unit(
        &mut self,
        index: &mut Option<MediaIndex>,
        end: u64,
    ) -> Result<(), MediaError> {
        if !self.pending.moof {
            // Media data outside any fragment: not part of a unit.
            self.unit_start = end;
            return Ok(());
        }
        let Some((start, duration)) = self.pending.ticks else {
            // Fragments without the timing track: they join the next unit.
            return Ok(());
        };
        let scale = f64::from(self.timing.timescale);
        let segment = Segment {
            start: start as f64 / scale,
            end: start.saturating_add(duration) as f64 / scale,
            bytes: self.unit_start..end,
        };
        push_segment(index, segment)?;
        self.unit_start = end;
        self.pending = Pending::default();
        Ok(())
    }

    /// A `sidx` met before any `moof`, ending at `end`: its references are
    /// the units.
    ///
    /// With several (ffmpeg writes one per track), the one on the timing
    /// track's timeline wins. A `sidx` listing several fragments, or reaching
    /// the end of the file, is taken as the whole-file index; one listing a
    /// single fragment may be the first of per-fragment `sidx`s, so scanning
    /// goes on after what it covers.
    pub(super) fn read_sidx(
        &mut self,
        index: &mut Option<MediaIndex>,
        sidx: &Sidx,
        end: u64,
        file_len: Option<u64>,
    ) -> Result<SidxRead, MediaError> {
        if sidx.timescale > 0 {
            let total = sidx
                .references
                .iter()
                .fold(sidx.earliest_presentation_time, |t, r| {
                    t.saturating_add(u64::from(r.duration))
                });
            let end = total as f64 / f64::from(sidx.timescale);
            self.longest = Some(self.longest.map_or(end, |l| l.max(end)));
        }
        let have_segments = index.as_ref().is_some_and(|i| !i.segments.is_empty());
        let better = self.sidx_track.is_some_and(|t| t != self.timing.track_id)
            && sidx.reference_id == self.timing.track_id;
        if sidx.references.is_empty() || (have_segments && !better) {
            return Ok(SidxRead::More);
        }
        let scale = f64::from(sidx.timescale);
        let mut offset = end
            .checked_add(sidx.first_offset)
            .ok_or_else(|| malformed(end, "'sidx' first_offset past 2^64"))?;
        let mut time = sidx.earliest_presentation_time;
        let mut segments = Vec::with_capacity(sidx.references.len());
        for r in &sidx.references {
            let next = offset
                .checked_add(u64::from(r.size))
                .ok_or_else(|| malformed(end, "'sidx' references past 2^64"))?;
            let next_time = time.saturating_add(u64::from(r.duration));
            segments.push(Segment {
                start: time as f64 / scale,
                end: next_time as f64 / scale,
                bytes: offset..next,
            });
            offset = next;
            time = next_time;
        }
        match file_len {
            Some(len) if offset > len => {
                return Err(MediaError::Truncated {
                    len,
                    what: "fragments the 'sidx' lists",
                });
            }
            _ => {}
        }
        let Some(index) = index.as_mut() else {
            return Ok(SidxRead::More);
        };
        index.segments = segments;
        self.sidx_track = Some(sidx.reference_id);
        self.covered_end = offset;
        self.unit_start = offset;
        if sidx.references.len() > 1 || file_len == Some(offset) {
            if sidx.reference_id == self.timing.track_id {
                return Ok(SidxRead::Complete);
            }
            self.complete_after_sidxs = true;
        }
        Ok(SidxRead::More)
    }
}

fn push_segment(index: &mut Option<MediaIndex>, segment: Segment) -> Result<(), MediaError> {
    let Some(index) = index.as_mut() else {
        return Ok(());
    };
    if index.segments.len() >= MAX_SEGMENTS {
        return Err(MediaError::Unsupported {
            container: CONTAINER,
            what: "more than 2^20 fragments".into(),
        });
    }
    if let Some(prev) = index.segments.last_mut() {
        if segment.start < prev.start {
            return Err(malformed(
                segment.bytes.start,
                "fragment times go backwards",
            ));
        }
        // Units are contiguous in time: one ends where the next starts.
        prev.end = segment.start;
    }
    index.segments.push(segment);
    Ok(())
}
