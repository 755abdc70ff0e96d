//! The playhead: when playback is held (startup, stall, seek) and when it
//! is released, how much must be buffered for each, and what counts as the
//! buffer running dry.

use std::collections::VecDeque;

use super::action::Action;
use super::millis::Millis;
use super::options::PolicyOptions;
use super::state::State;

/// Below this much media ahead, playback has run dry.
const DRY_SECONDS: f64 = 0.1;
/// The resume threshold grows with the link's shortfall up to this factor.
const MAX_RESUME_FACTOR: f64 = 10.0;
/// For this long after a release the element's "cannot advance" is its
/// readiness catching up, not a dry buffer (see `truly_starved`).
const STARVED_GRACE_MS: f64 = 500.0;
/// Browsers stop short of the buffered end by a fraction of a second (at a
/// fragment or GOP boundary); with more than this ahead, a stop is not the
/// buffer running dry.
const STARVED_AHEAD_SECONDS: f64 = 1.0;
/// Fewest seconds buffered before playback starts, however fast the link:
/// a few frames' worth, so the element itself is ready to play.
const MIN_STARTUP: f64 = 0.15;

/// The playhead as last reported, and whether the policy holds it.
#[derive(Debug)]
pub(super) struct Playback {
    held: bool,
    position: f64,
    paused: bool,
    stall_started: Option<Millis>,
    /// When playback was last released (the element's own readiness lags it).
    released_at: Option<Millis>,
}

impl Default for Playback {
    fn default() -> Self {
        Playback {
            held: true,
            position: 0.0,
            paused: true,
            stall_started: None,
            released_at: None,
        }
    }
}

/// How much must be buffered to start or resume, from the rates and what
/// is left of the media after the playhead.
#[derive(Debug, Clone, Copy)]
pub(super) struct Thresholds<'a> {
    pub(super) options: &'a PolicyOptions,
    /// The media's bit rate, bits per second.
    pub(super) media: Option<f64>,
    /// The link's, likewise.
    pub(super) link: Option<f64>,
    /// Seconds of media after the playhead.
    pub(super) remaining: f64,
}

impl Thresholds<'_> {
    /// Seconds buffered before playback starts (first frame, seek).
    ///
    /// `startup` is what a link that just keeps up with the media needs; a
    /// faster link refills the buffer faster than playback drains it, so
    /// it needs proportionally less (down to [`MIN_STARTUP`]), and a slower
    /// one more (up to [`MAX_RESUME_FACTOR`] times). Until the link or the
    /// bit rate is known, `startup` itself.
    pub(super) fn startup(&self) -> f64 {
        let speedup = match (self.media, self.link) {
            (Some(media), Some(link)) if media > 0.0 && link > 0.0 => link / media,
            _ => 1.0,
        };
        let startup = self.options.startup;
        // (max/min, not clamp: clamp's panic on runtime bounds would link
        // float formatting into the player, 10 KB of wasm.)
        (startup / speedup)
            .min(startup * MAX_RESUME_FACTOR)
            .max(MIN_STARTUP.min(startup))
            .min(self.remaining)
    }

    /// The resume threshold after a stall.
    ///
    /// Scaled by how far the link falls short of the media's bitrate: at a
    /// third of it, a fixed few seconds drain again almost at once (one drop,
    /// many stalls); waiting for proportionally more makes one drop cost one
    /// stall. Bounded by the goal and what is left of the media.
    pub(super) fn resume(&self) -> f64 {
        let shortfall = match (self.media, self.link) {
            (Some(media), Some(link)) if link > 0.0 => (media / link).clamp(1.0, MAX_RESUME_FACTOR),
            _ => 1.0,
        };
        (self.options.resume * shortfall)
            .min(self.options.goal)
            .min(self.remaining)
    }
}

/// What the element's latest report shows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sighting {
    pub(super) now: Millis,
    /// Seconds buffered ahead of the playhead.
    pub(super) ahead: f64,
    /// Every byte of the media is fetched.
    pub(super) everything: bool,
    pub(super) duration: Option<f64>,
    /// The element says it cannot advance.
    pub(super) starved: bool,
    /// The SourceBuffer is set up.
    pub(super) configured: bool,
}

/// What a report means for the state machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Transition {
    Stay,
    /// Enough is buffered to start (first frame, or after a seek).
    Start,
    /// Enough is buffered again after a stall.
    Resume,
    /// The buffer ran dry.
    Stall,
    To(State),
}

impl Playback {
    pub(super) fn position(&self) -> f64 {
        self.position
    }

    /// The element's report: playhead and whether the viewer paused it.
    pub(super) fn report(&mut self, position: f64, paused: bool) {
        self.position = position;
        self.paused = paused;
    }

    /// The viewer moved the playhead.
    pub(super) fn seek_to(&mut self, to: f64) {
        self.position = to;
    }

    /// Playing or paused, as the viewer wants.
    pub(super) fn running_state(&self) -> State {
        if self.paused {
            State::Paused
        } else {
            State::Playing
        }
    }

    /// What the report `seen` means in `state`.
    pub(super) fn judge(
        &self,
        state: State,
        seen: &Sighting,
        thresholds: &Thresholds<'_>,
    ) -> Transition {
        let ahead = seen.ahead;
        let everything = seen.everything;
        let at_end = seen
            .duration
            .is_some_and(|d| self.position >= d - DRY_SECONDS)
            && everything;
        match state {
            State::Loading | State::Buffering | State::Seeking => {
                if seen.configured && (ahead >= thresholds.startup() || everything && ahead > 0.0) {
                    Transition::Start
                } else {
                    Transition::Stay
                }
            }
            State::Playing | State::Paused if at_end => Transition::To(State::Ended),
            State::Playing | State::Paused => {
                if !self.paused
                    && (ahead < DRY_SECONDS || self.truly_starved(seen.now, seen.starved, ahead))
                    && !everything
                {
                    Transition::Stall
                } else {
                    Transition::To(self.running_state())
                }
            }
            State::Stalled => {
                if ahead >= thresholds.resume() || everything {
                    Transition::Resume
                } else {
                    Transition::Stay
                }
            }
            State::Ended if !at_end => Transition::To(self.running_state()),
            State::Idle | State::Ended | State::Error => Transition::Stay,
        }
    }

    /// Whether the element's "cannot advance" is a buffer running dry: not
    /// in the first moments after a release (the element reaches
    /// HAVE_FUTURE_DATA a little after the media that makes it so is
    /// appended: taking that lag for a stall would hold playback for the
    /// resume threshold), and not with plenty buffered ahead.
    fn truly_starved(&self, now: Millis, starved: bool, ahead: f64) -> bool {
        let settling = self
            .released_at
            .is_some_and(|at| now - at < STARVED_GRACE_MS);
        starved && !settling && ahead < STARVED_AHEAD_SECONDS
    }

    /// A stall starts at `now`.
    pub(super) fn stall(&mut self, now: Millis) {
        self.stall_started = Some(now);
    }

    /// Keeps playback paused.
    pub(super) fn hold(&mut self, out: &mut VecDeque<Action>) {
        if !self.held {
            self.held = true;
            out.push_back(Action::Hold);
        }
    }

    /// Lets playback run; returns how long the stall it ends lasted.
    pub(super) fn release(&mut self, now: Millis, out: &mut VecDeque<Action>) -> Option<f64> {
        let stalled = self.stall_started.take().map(|started| now - started);
        if self.held {
            self.held = false;
            self.released_at = Some(now);
            out.push_back(Action::Release);
        }
        stalled
    }
}
