//! Where a seek lands: in what is buffered (nothing to do), on the way of
//! the current run (let it come), or elsewhere (a new run at the unit that
//! holds the target).

use super::timeline::Timeline;
use crate::index::Container;

/// A seek target the current run reaches within this many seconds keeps the
/// run: about what a new run's round trip costs, and no more.
const NEAR_SECONDS: f64 = 0.5;
/// ...and within this many bytes, whatever the estimate says: an estimate
/// taken from responses the browser's cache answered (a second visit) is
/// far above the link, and the gap comes over the link.
const NEAR_BYTES_MAX: u64 = 1 << 20;

/// What the seek sees of the buffer, the run and the link.
#[derive(Clone, Copy)]
pub(super) struct SeekView<'a> {
    /// Seconds buffered ahead of the target.
    pub(super) ahead: f64,
    /// Seconds needed ahead to play from it.
    pub(super) startup: f64,
    pub(super) timeline: Option<Timeline<'a>>,
    /// Start of the unit the run's cursor is in, and the cursor.
    pub(super) run_floor: u64,
    pub(super) cursor: u64,
    /// The link's bits per second.
    pub(super) link: Option<f64>,
    pub(super) min_request: u64,
    /// Seconds the presentation shifts media time by (gapless MP3).
    pub(super) shift: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum SeekPlan {
    /// Enough is buffered at the target: play on.
    Buffered,
    /// The target is not indexed yet: the current run goes on and reaches it.
    Unindexed,
    /// The current run reaches the target within a couple of seconds on
    /// this link; restarting would only waste a round trip.
    Near,
    /// A new run from `offset`; `timestamp_offset` for a stream without
    /// timestamps (see `Action::ResetRun`).
    NewRun {
        offset: u64,
        timestamp_offset: Option<f64>,
    },
}

/// Where a seek to `to` seconds lands.
pub(super) fn plan(to: f64, view: &SeekView<'_>) -> SeekPlan {
    if view.ahead >= view.startup {
        return SeekPlan::Buffered;
    }
    let Some(timeline) = view.timeline else {
        return SeekPlan::Unindexed;
    };
    let Some(target) = timeline.unit_start_at(to) else {
        return SeekPlan::Unindexed;
    };
    let soon = view
        .link
        .map_or(view.min_request, |bps| (bps / 8.0 * NEAR_SECONDS) as u64)
        .min(NEAR_BYTES_MAX)
        .max(view.min_request);
    if target >= view.run_floor && target <= view.cursor + soon {
        return SeekPlan::Near;
    }
    let index = timeline.index();
    let untimed = index.container == Container::Mp3;
    let timestamp_offset = untimed
        .then(|| {
            index
                .segments
                .get(index.segment_at(to)?)
                .map(|s| s.start + view.shift)
        })
        .flatten();
    SeekPlan::NewRun {
        offset: target,
        timestamp_offset,
    }
}
