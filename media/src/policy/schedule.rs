//! What to fetch next for the media run: the next range after the cursor,
//! sized for the link, never past the goal (seconds ahead of the playhead,
//! scaled to the link in `goal.rs`) by more than the smallest request, and
//! nothing while the buffer holds the memory cap.
//!
//! The first request of a run (playback start, a seek to a new place) is
//! open-ended instead: no guess at its size, it streams from the run's
//! first byte until [`Schedule::should_stop`] says the buffer has what it
//! wants, and the policy ends it there. A guess is always wrong one way: too
//! small costs a round trip before the next, too big fetches what an
//! abandoned view never plays.

use std::ops::Range;

use super::options::PolicyOptions;
use super::timeline::Timeline;

/// Where the media run stands.
#[derive(Debug)]
pub(super) struct Schedule {
    /// The run has been fetched up to this byte.
    cursor: u64,
    end_signalled: bool,
    /// A cap learned from QuotaExceededError, below `max_bytes`.
    quota_cap: Option<u64>,
    /// No byte of the current run has come yet: its first request is
    /// open-ended.
    fresh: bool,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            cursor: 0,
            end_signalled: false,
            quota_cap: None,
            fresh: true,
        }
    }
}

/// What the schedule looks at to decide.
pub(super) struct Situation<'a> {
    pub(super) options: &'a PolicyOptions,
    /// The SourceBuffer is set up (the index is known).
    pub(super) configured: bool,
    /// A side request (index bytes elsewhere) is in flight.
    pub(super) side_busy: bool,
    /// Requests issued so far.
    pub(super) requests: u32,
    pub(super) position: f64,
    pub(super) oldest_buffered: Option<f64>,
    pub(super) timeline: Option<Timeline<'a>>,
    pub(super) media_end: Option<u64>,
    /// Bytes a request should carry on this link.
    pub(super) request_size: u64,
    /// Seconds to buffer ahead on this link (`goal.rs`).
    pub(super) goal: f64,
}

/// The schedule's decision.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Next {
    Wait,
    /// Every byte is fetched: the shell may end the stream (said once).
    EndOfStream,
    Fetch(Range<u64>),
    /// The run's first request: from the cursor to the end of the media
    /// (`range.end` is [`OPEN_END`] while the file's length is unknown),
    /// ended by the policy once [`Schedule::should_stop`].
    Open(Range<u64>),
}

/// The end of an open-ended range: `Range: bytes=N-`.
pub const OPEN_END: u64 = u64::MAX;

impl Schedule {
    pub(super) fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Media bytes up to `end` arrived.
    pub(super) fn advance_to(&mut self, end: u64) {
        self.cursor = end;
        self.fresh = false;
    }

    /// A new run starts at `offset`.
    pub(super) fn restart_at(&mut self, offset: u64) {
        self.cursor = offset;
        self.end_signalled = false;
        self.fresh = true;
    }

    pub(super) fn all_fetched(&self, media_end: Option<u64>) -> bool {
        media_end.is_some_and(|end| self.cursor >= end)
    }

    /// Start of the unit the cursor is in (bytes below are done).
    pub(super) fn run_floor(&self, timeline: Option<Timeline<'_>>) -> u64 {
        timeline
            .and_then(|t| t.unit_start_of_byte(self.cursor))
            .unwrap_or(self.cursor)
    }

    /// Bytes in the buffer: from what is kept behind the playhead (or the
    /// oldest buffered media, if later) to the cursor.
    pub(super) fn bytes_held(
        &self,
        timeline: Option<Timeline<'_>>,
        position: f64,
        behind: f64,
        oldest_buffered: Option<f64>,
    ) -> u64 {
        let byte_at = |t: f64| timeline.and_then(|timeline| timeline.byte_at_time(t));
        let from = byte_at((position - behind).max(0.0)).unwrap_or(0);
        let floor = oldest_buffered.and_then(byte_at).unwrap_or(0);
        self.cursor.saturating_sub(from.max(floor))
    }

    /// The browser ran out of quota with `held` bytes buffered: hold less.
    pub(super) fn lower_cap(&mut self, held: u64) {
        self.quota_cap = Some((held as f64 * 0.8) as u64);
    }

    /// What to fetch next for the media run.
    /// [`Next::EndOfStream`] comes once: the caller reports it said so
    /// with [`Schedule::end_said`].
    pub(super) fn next(&self, s: &Situation<'_>) -> Next {
        let o = s.options;
        if !s.configured && s.side_busy && s.requests > 1 {
            // The index is elsewhere (a `moov` at the end): wait for it
            // rather than pile up media that cannot be appended yet.
            return Next::Wait;
        }
        if self.all_fetched(s.media_end) {
            if s.configured && !self.end_signalled {
                return Next::EndOfStream;
            }
            return Next::Wait;
        }
        if self.should_stop(s) {
            return Next::Wait;
        }
        if self.fresh {
            let end = s.media_end.unwrap_or(OPEN_END);
            return Next::Open(self.cursor..end);
        }
        let mut size = s.request_size;
        if s.configured {
            let goal_end = s.position + s.goal;
            // Never ask past the goal by more than the smallest request.
            if let Some(goal_byte) = s.timeline.and_then(|t| t.byte_at_time(goal_end)) {
                size = size.min(goal_byte.saturating_sub(self.cursor).max(o.min_request));
            }
        }
        self.sized(size, s.media_end)
    }

    /// The end of the stream was signalled (until the next run).
    pub(super) fn end_said(&mut self) {
        self.end_signalled = true;
    }

    /// Whether the run has what it wants for now: the goal is buffered, the
    /// buffer holds the memory cap, or — before the index is known, while
    /// its bytes are fetched elsewhere — the run has brought
    /// `first_request` bytes that cannot be appended yet. An open-ended
    /// request ends here; a sized one is not issued.
    pub(super) fn should_stop(&self, s: &Situation<'_>) -> bool {
        let o = s.options;
        if !s.configured {
            return s.side_busy && self.cursor >= o.first_request;
        }
        let goal_end = s.position + s.goal;
        let Some(cursor_time) = s.timeline.and_then(|t| t.time_at_byte(self.cursor)) else {
            return false;
        };
        if cursor_time >= goal_end {
            return true;
        }
        let cap = self.quota_cap.unwrap_or(o.max_bytes).min(o.max_bytes);
        self.bytes_held(s.timeline, s.position, o.behind, s.oldest_buffered) >= cap
    }

    /// `size` bytes from the cursor, clipped at the end of the media.
    fn sized(&self, size: u64, media_end: Option<u64>) -> Next {
        let end = match media_end {
            Some(len) => (self.cursor + size).min(len),
            None => self.cursor + size,
        };
        if end > self.cursor {
            Next::Fetch(self.cursor..end)
        } else {
            Next::Wait
        }
    }
}
