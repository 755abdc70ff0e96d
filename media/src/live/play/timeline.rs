//! Where each fragment of a live stream goes on the player's timeline, and
//! what wall-clock time each point of it was made at.
//!
//! A live body is not one timeline: a publisher that restarts (or a new one
//! that takes over) starts its times again from zero, and a reconnect
//! replays the ring from the last keyframe, which the player already has.
//! So each fragment is placed: a replay of what is buffered is skipped; a
//! fragment that does not follow the live edge (times restarted, or a gap
//! after fragments missed) moves the timeline's offset so that it does —
//! playback runs on without a seek and without a hole MSE would stop at.

use std::collections::VecDeque;

/// How far (seconds) a fragment may start from the live edge and still
/// count as its continuation (rounding, a track that starts a little later).
const CONTINUOUS: f64 = 0.5;
/// How far apart (ms) the wall clock of a replayed fragment and the one
/// recorded for that point may be.
const SAME_WALLCLOCK_MS: f64 = 1_000.0;
/// Fragments remembered for the wall-clock map and keyframes; older ones
/// are dropped with the buffer behind the playhead anyway.
const REMEMBERED: usize = 4_096;

/// What the splitter told of one fragment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FragmentMeta {
    /// Decode time of its first sample, seconds, on the publisher's clock.
    pub start: f64,
    pub duration: f64,
    pub keyframe: bool,
    /// Unix milliseconds it was made at (its `prft`), if it says.
    pub wallclock_ms: Option<f64>,
    /// Its times are the timing (video) track's; false for the audio
    /// between two video frames, which follows wherever the video goes.
    pub timed: bool,
}

/// What to do with a fragment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Placement {
    /// Append it; first set the SourceBuffer's `timestampOffset` to
    /// `offset` when it is `Some` (the timeline moved).
    Append { offset: Option<f64> },
    /// Already buffered (a reconnect's replay): not appended again.
    Skip,
}

/// One placed fragment.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placed {
    /// On the player's timeline.
    start: f64,
    end: f64,
    keyframe: bool,
    wallclock_ms: Option<f64>,
}

/// The player's timeline of one live stream.
#[derive(Debug, Default)]
pub struct Timeline {
    /// Added to the publisher's times (the SourceBuffer's `timestampOffset`).
    offset: f64,
    /// Where the last appended fragment ends: the live edge.
    edge: Option<f64>,
    placed: VecDeque<Placed>,
    /// Times the timeline moved (a publisher restarted, fragments missed).
    rebased: u32,
    /// The last timed fragment was a replay of what is buffered.
    replaying: bool,
}

impl Timeline {
    /// Decides where `fragment` goes and records it.
    pub fn place(&mut self, fragment: &FragmentMeta) -> Placement {
        if !fragment.timed {
            return self.place_untimed(fragment);
        }
        let duration = if fragment.duration.is_finite() && fragment.duration > 0.0 {
            fragment.duration
        } else {
            0.0
        };
        let Some(edge) = self.edge else {
            // The first fragment: the publisher's times are the timeline's.
            self.record(fragment, self.offset, duration);
            return Placement::Append { offset: None };
        };
        let at = fragment.start + self.offset;
        if (at - edge).abs() <= CONTINUOUS {
            self.replaying = false;
            self.record(fragment, self.offset, duration);
            return Placement::Append { offset: None };
        }
        if at < edge && self.is_replay(at, fragment.wallclock_ms) {
            self.replaying = true;
            return Placement::Skip;
        }
        self.replaying = false;
        // Not the edge's continuation: move the timeline so that it is.
        self.offset = edge - fragment.start;
        self.rebased += 1;
        self.record(fragment, self.offset, duration);
        Placement::Append {
            offset: Some(self.offset),
        }
    }

    /// The audio between video frames goes with the video's timeline: it
    /// moves nothing, and is skipped only when it is all before the edge
    /// of a replay (what a reconnect sends again).
    fn place_untimed(&self, fragment: &FragmentMeta) -> Placement {
        match (self.edge, self.replaying) {
            (Some(edge), true)
                if fragment.start + fragment.duration + self.offset <= edge + 1e-6 =>
            {
                Placement::Skip
            }
            _ => Placement::Append { offset: None },
        }
    }

    /// Whether a fragment placed at `at` is one already buffered: it lies
    /// within what was placed, and made at the same time (when both say).
    fn is_replay(&self, at: f64, wallclock_ms: Option<f64>) -> bool {
        let Some(known) = self.placed.iter().rev().find(|p| p.start <= at + 1e-6) else {
            return false;
        };
        if at >= known.end + CONTINUOUS {
            return false;
        }
        match (wallclock_ms, known.wallclock_ms) {
            (Some(new), Some(old)) => {
                (new - (old + (at - known.start) * 1e3)).abs() <= SAME_WALLCLOCK_MS
            }
            _ => true,
        }
    }

    fn record(&mut self, fragment: &FragmentMeta, offset: f64, duration: f64) {
        let start = fragment.start + offset;
        let end = start + duration;
        self.edge = Some(self.edge.map_or(end, |edge| edge.max(end)));
        if self.placed.len() == REMEMBERED {
            self.placed.pop_front();
        }
        self.placed.push_back(Placed {
            start,
            end,
            keyframe: fragment.keyframe,
            wallclock_ms: fragment.wallclock_ms,
        });
    }

    /// The live edge: where the newest fragment ends.
    pub fn edge(&self) -> Option<f64> {
        self.edge
    }

    /// The SourceBuffer's `timestampOffset` now.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    pub fn rebased(&self) -> u32 {
        self.rebased
    }

    /// Unix milliseconds the media at `at` was made at, from the nearest
    /// fragment at or before it that carried a wall clock.
    pub fn wallclock_at(&self, at: f64) -> Option<f64> {
        let known = self
            .placed
            .iter()
            .rev()
            .filter(|p| p.start <= at + 1e-6)
            .find_map(|p| Some((p.start, p.wallclock_ms?)))?;
        Some(known.1 + (at - known.0).max(0.0) * 1e3)
    }

    /// The start of the latest keyframe fragment at or before `at`.
    pub fn keyframe_at_or_before(&self, at: f64) -> Option<f64> {
        self.placed
            .iter()
            .rev()
            .find(|p| p.keyframe && p.start <= at + 1e-6)
            .map(|p| p.start)
    }

    /// Forgets fragments that end before `at` (evicted from the buffer).
    pub fn forget_before(&mut self, at: f64) {
        // The newest is kept: it holds the edge's wall clock.
        while self.placed.len() > 1 && self.placed.front().is_some_and(|p| p.end < at) {
            self.placed.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(start: f64, keyframe: bool, wallclock_ms: Option<f64>) -> FragmentMeta {
        FragmentMeta {
            start,
            duration: 1.0,
            keyframe,
            wallclock_ms,
            timed: true,
        }
    }

    fn audio(start: f64) -> FragmentMeta {
        FragmentMeta {
            start,
            duration: 0.02,
            keyframe: false,
            wallclock_ms: None,
            timed: false,
        }
    }

    #[test]
    fn the_audio_between_video_frames_follows_the_video_and_moves_nothing() {
        let mut t = Timeline::default();
        t.place(&fragment(0.0, true, None));
        assert_eq!(t.place(&audio(0.0)), Placement::Append { offset: None });
        assert_eq!(t.place(&audio(0.02)), Placement::Append { offset: None });
        assert_eq!(t.edge(), Some(1.0));
        // Far from the edge (a new publisher's audio before its video):
        // still no rebase of its own.
        assert_eq!(t.place(&audio(0.0)), Placement::Append { offset: None });
        assert_eq!(t.rebased(), 0);
        // In a reconnect's replay it is skipped with the video around it.
        t.place(&fragment(1.0, false, None));
        assert_eq!(t.place(&fragment(1.0, false, None)), Placement::Skip);
        assert_eq!(t.place(&audio(1.0)), Placement::Skip);
        assert_eq!(
            t.place(&fragment(2.0, false, None)),
            Placement::Append { offset: None }
        );
        assert_eq!(t.place(&audio(2.0)), Placement::Append { offset: None });
    }

    #[test]
    fn continuous_fragments_extend_the_edge_without_moving_the_timeline() {
        let mut t = Timeline::default();
        for i in 0..5 {
            let placed = t.place(&fragment(10.0 + f64::from(i), i == 0, None));
            assert_eq!(placed, Placement::Append { offset: None });
        }
        assert_eq!(t.edge(), Some(15.0));
        assert_eq!(t.offset(), 0.0);
        assert_eq!(t.keyframe_at_or_before(14.5), Some(10.0));
    }

    #[test]
    fn a_publisher_that_restarts_at_zero_continues_at_the_edge() {
        let mut t = Timeline::default();
        for i in 0..60 {
            t.place(&fragment(
                f64::from(i),
                i % 2 == 0,
                Some(1e6 + f64::from(i) * 1e3),
            ));
        }
        // 20 s later a new publisher starts its times again from zero.
        let placed = t.place(&fragment(0.0, true, Some(1e6 + 80e3)));
        assert_eq!(placed, Placement::Append { offset: Some(60.0) });
        assert_eq!(t.edge(), Some(61.0));
        assert_eq!(
            t.place(&fragment(1.0, false, Some(1e6 + 81e3))),
            Placement::Append { offset: None }
        );
        assert_eq!(t.rebased(), 1);
        // Its wall clock maps the new media.
        assert_eq!(t.wallclock_at(61.5), Some(1e6 + 81.5e3));
    }

    #[test]
    fn a_reconnects_replay_of_buffered_fragments_is_skipped() {
        let mut t = Timeline::default();
        for i in 0..10 {
            t.place(&fragment(
                f64::from(i),
                i % 4 == 0,
                Some(5e5 + f64::from(i) * 1e3),
            ));
        }
        // The ring again from the keyframe at 8 s, then what is new.
        assert_eq!(
            t.place(&fragment(8.0, true, Some(5e5 + 8e3))),
            Placement::Skip
        );
        assert_eq!(
            t.place(&fragment(9.0, false, Some(5e5 + 9e3))),
            Placement::Skip
        );
        assert_eq!(
            t.place(&fragment(10.0, false, Some(5e5 + 10e3))),
            Placement::Append { offset: None }
        );
        assert_eq!(t.rebased(), 0);
    }

    #[test]
    fn a_restart_whose_times_land_inside_the_buffer_is_told_from_a_replay_by_its_wall_clock() {
        let mut t = Timeline::default();
        for i in 0..10 {
            t.place(&fragment(
                f64::from(i),
                true,
                Some(2e6 + f64::from(i) * 1e3),
            ));
        }
        // Times 3 s in, but made a minute later: new media.
        let placed = t.place(&fragment(3.0, true, Some(2e6 + 70e3)));
        assert_eq!(placed, Placement::Append { offset: Some(7.0) });
    }

    #[test]
    fn missed_fragments_leave_no_hole() {
        let mut t = Timeline::default();
        t.place(&fragment(0.0, true, None));
        t.place(&fragment(1.0, false, None));
        // Reconnected after the publisher went on: the next keyframe at 6 s.
        let placed = t.place(&fragment(6.0, true, None));
        assert_eq!(placed, Placement::Append { offset: Some(-4.0) });
        assert_eq!(t.edge(), Some(3.0));
    }

    #[test]
    fn the_wall_clock_of_a_point_comes_from_the_fragment_before_it() {
        let mut t = Timeline::default();
        assert_eq!(t.wallclock_at(0.0), None);
        t.place(&fragment(0.0, true, Some(1_000.0)));
        t.place(&fragment(1.0, false, None));
        t.place(&fragment(2.0, false, Some(3_100.0)));
        assert_eq!(t.wallclock_at(1.5), Some(2_500.0));
        assert_eq!(t.wallclock_at(2.25), Some(3_350.0));
        t.forget_before(2.5);
        assert_eq!(t.wallclock_at(2.5), Some(3_600.0), "the newest is kept");
    }
}
