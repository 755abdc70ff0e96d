//! The live player's policy: one endless `GET /live/NAME`, every fragment
//! appended as it completes, playback held at a target latency behind the
//! live edge. Sans-I/O, in the shape of [`crate::policy::Policy`]: the
//! shell tells it what happened (`handle_*`, with the time), then performs
//! what [`LivePolicy::poll_action`] says. The timeline of the fragments
//! ([`timeline`]) and the catch-up rule ([`catch_up`]) are apart.
//!
//! States the viewer sees: `loading` until the first picture can play,
//! `playing`, `buffering` when the stream ran dry (one `caudal:stall`),
//! `paused` when the viewer paused, `error` only for what waiting cannot
//! mend (a refused token, codecs the browser cannot play). A stream that
//! is not there (yet, or any more), a publisher that went away, a dropped
//! connection: the player waits and connects again, with a growing delay.

mod catch_up;
mod timeline;

use std::collections::VecDeque;
use std::ops::Range;

pub use catch_up::{CatchUp, Standing, Steer};
pub use timeline::{FragmentMeta, Placement, Timeline};

use crate::policy::{ErrorCode, Millis, State};

/// The first delay before connecting again, ms; it doubles up to the most.
const RECONNECT_FIRST_MS: f64 = 250.0;
const RECONNECT_MOST_MS: f64 = 4_000.0;
/// A playhead this close to the end of the buffer has run dry, seconds.
const DRY: f64 = 0.03;
/// A hole ahead of the playhead that is jumped over, at most, seconds.
const GAP_JUMP: f64 = 3.0;
/// Buffer behind the playhead is evicted in steps of at least this, seconds.
const EVICT_STEP: f64 = 2.0;
/// A stall this short, on the connection it began on, was a hiccup the
/// buffer should have covered (not a publisher gone or a reconnect): the
/// target latency grows by [`STALL_RAISE`] s, at most [`MOST_RAISE`] s
/// over the page's — as hls.js grows its target on stalls.
const HICCUP_MS: f64 = 1_500.0;
const STALL_RAISE: f64 = 0.2;
const MOST_RAISE: f64 = 1.0;
/// After a jump, the rule waits this long before judging again, ms.
const SETTLE_MS: f64 = 1_000.0;
/// How often the player reports its latency to the server while it
/// plays (CMCD v2 `ltc`, [`LiveAction::Report`]), ms.
pub const REPORT_MS: f64 = 10_000.0;

/// The page's options for a live stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveOptions {
    /// Target latency, seconds: how far behind the moment a frame was made
    /// it is shown (option `latency`).
    pub latency: f64,
    /// The fastest catch-up playback rate.
    pub max_rate: f64,
    /// Seconds over the target from which the player jumps instead.
    pub jump: f64,
    /// The least buffer ahead kept, and what playback starts and resumes on.
    pub min_ahead: f64,
    /// Seconds kept behind the playhead (the live seekable window).
    pub back_buffer: f64,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            latency: 0.5,
            max_rate: 1.1,
            jump: 2.0,
            min_ahead: 0.2,
            back_buffer: 10.0,
        }
    }
}

/// What the shell does next.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveAction {
    /// Open `GET url` (an endless body); its outcome is reported as `id`.
    /// The previous connection, if any, is over.
    Connect {
        id: u32,
    },
    /// Create the SourceBuffer for `mime`, the duration Infinity.
    Configure {
        mime: String,
    },
    /// Playback may not advance (rate zero) ...
    Hold,
    /// ... and now it may, at `rate`.
    Release {
        rate: f64,
    },
    /// The playback rate, while playing.
    Rate(f64),
    Seek(f64),
    /// Remove the buffer before `end`.
    Evict {
        end: f64,
    },
    State {
        state: State,
        previous: State,
    },
    Stall {
        position: f64,
    },
    Fail {
        code: ErrorCode,
        message: String,
    },
    /// Tell the server how playback goes (one endless body carries no
    /// later request to put CMCD on): the latency, the buffer, and whether
    /// it ran dry since the last report.
    Report {
        latency_ms: Option<u64>,
        buffer_ms: u64,
        stalled: bool,
    },
}

/// What the page's `stats()` shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveStats {
    /// Attach to the first picture playing, ms.
    pub startup_ms: Option<f64>,
    pub stalls: u32,
    pub stall_ms: f64,
    /// Seconds from the moment the frame on screen was made (its
    /// fragment's `prft`) to now; `None` when the stream carries no clock.
    pub latency: Option<f64>,
    /// The latency the player holds: the page's target, raised by hiccup
    /// stalls.
    pub target_latency: f64,
    /// Seconds buffered ahead of the playhead (to the live edge).
    pub buffer_ahead: f64,
    pub rate: f64,
    pub bytes: u64,
    pub fragments: u64,
    pub connections: u32,
    pub jumps: u32,
    /// Times the timeline moved for a publisher that restarted.
    pub rebased: u32,
    /// The live edge on the timeline.
    pub edge: Option<f64>,
}

/// The live player's decisions (see the module above).
#[derive(Debug)]
pub struct LivePolicy {
    options: LiveOptions,
    rule: CatchUp,
    state: State,
    actions: VecDeque<LiveAction>,
    timeline: Timeline,
    mime: Option<String>,
    attached_at: Millis,
    /// The connection in use, and whether its response came.
    connection: u32,
    reconnect_at: Option<Millis>,
    reconnect_ms: f64,
    /// Playback is held (startup, a stall).
    held: bool,
    started: bool,
    /// When the stall began, and on which connection.
    stall_since: Option<(Millis, u32)>,
    /// Our own seek in flight, to tell it from the viewer's.
    own_seek: Option<f64>,
    settle_until: Millis,
    /// The viewer sought back on purpose: no catch-up until near live again.
    pinned: bool,
    /// When the next [`LiveAction::Report`] is due, once playing.
    next_report: Option<Millis>,
    stalled_since_report: bool,
    stats: LiveStats,
}

impl LivePolicy {
    pub fn new(options: LiveOptions) -> LivePolicy {
        LivePolicy {
            options,
            rule: CatchUp {
                target: options.latency,
                max_rate: options.max_rate,
                jump: options.jump,
                min_ahead: options.min_ahead,
            },
            state: State::Idle,
            actions: VecDeque::new(),
            timeline: Timeline::default(),
            mime: None,
            attached_at: Millis::ZERO,
            connection: 0,
            reconnect_at: None,
            reconnect_ms: RECONNECT_FIRST_MS,
            held: false,
            started: false,
            stall_since: None,
            own_seek: None,
            settle_until: Millis::ZERO,
            pinned: false,
            next_report: None,
            stalled_since_report: false,
            stats: LiveStats {
                rate: 1.0,
                target_latency: options.latency,
                ..LiveStats::default()
            },
        }
    }

    /// Attached: connect, and hold playback until the first picture.
    pub fn start(&mut self, now: Millis) {
        self.attached_at = now;
        self.set_state(State::Loading);
        self.hold();
        self.connect();
    }

    pub fn poll_action(&mut self) -> Option<LiveAction> {
        self.actions.pop_front()
    }

    /// When [`LivePolicy::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.reconnect_at
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        if self.reconnect_at.is_some_and(|at| now >= at) {
            self.reconnect_at = None;
            self.connect();
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn stats(&self) -> LiveStats {
        LiveStats {
            edge: self.timeline.edge(),
            rebased: self.timeline.rebased(),
            ..self.stats.clone()
        }
    }

    /// The response head of connection `id`. `body`: the start of a
    /// refusal's body, which says why.
    pub fn handle_response(&mut self, now: Millis, id: u32, status: u16, body: &str) {
        if id != self.connection || self.state == State::Error {
            return;
        }
        match status {
            200..=299 => {}
            401 | 403 => {
                let code = if body.contains("expired") || body.contains("not valid yet") {
                    ErrorCode::Expired
                } else {
                    ErrorCode::Forbidden
                };
                self.fail(
                    code,
                    format!(
                        "the server refused the live stream ({status}): {}",
                        body.trim()
                    ),
                );
            }
            // Not live (yet, or any more), or the server is busy: wait.
            404 | 408 | 425 | 429 | 500..=599 => self.reconnect_later(now),
            _ => self.fail(
                ErrorCode::Http,
                format!("the server answered {status} for the live stream"),
            ),
        }
    }

    /// Connection `id` ended (the stream ended, or the network failed).
    pub fn handle_end(&mut self, now: Millis, id: u32) {
        if id == self.connection && self.reconnect_at.is_none() && self.state != State::Error {
            self.reconnect_later(now);
        }
    }

    /// An init segment came on the connection in use.
    pub fn handle_init(&mut self, mime: &str) {
        match &self.mime {
            None => {
                self.mime = Some(mime.to_owned());
                self.actions.push_back(LiveAction::Configure {
                    mime: mime.to_owned(),
                });
            }
            Some(known) if known == mime => {}
            Some(known) => {
                let message = format!("the live stream changed its codecs from {known} to {mime}");
                self.fail(ErrorCode::Unsupported, message);
            }
        }
    }

    /// A whole fragment came: where it goes (the shell appends it there).
    pub fn handle_fragment(&mut self, fragment: &FragmentMeta, len: usize) -> Placement {
        self.stats.bytes += len as u64;
        self.stats.fragments += 1;
        self.reconnect_ms = RECONNECT_FIRST_MS;
        if self.mime.is_none() {
            // A fragment before any init segment cannot be played.
            return Placement::Skip;
        }
        self.timeline.place(fragment)
    }

    /// The shell met what waiting cannot mend: a body that is not a live
    /// stream, codecs the browser cannot play, media it refused.
    pub fn handle_failure(&mut self, code: ErrorCode, message: String) {
        if self.state != State::Error {
            self.fail(code, message);
        }
    }

    /// The viewer (or the player) moved the playhead to `to`.
    pub fn handle_seeking(&mut self, to: f64) {
        if let Some(own) = self.own_seek.take()
            && (own - to).abs() < 0.05
        {
            return;
        }
        // Far behind the edge on purpose: the viewer watches back; the
        // player stops pulling them to live until they return near it.
        let edge = self.timeline.edge().unwrap_or(to);
        self.pinned = edge - to > self.rule.target + self.options.jump;
    }

    /// The playhead, the buffered ranges, the wall clock (Unix ms): what
    /// the element shows now. `starved`: it cannot advance (HAVE_FUTURE_DATA
    /// not reached while not seeking).
    pub fn handle_playback(
        &mut self,
        now: Millis,
        wall_ms: f64,
        position: f64,
        buffered: &[Range<f64>],
        paused: bool,
        starved: bool,
    ) {
        if matches!(self.state, State::Error | State::Idle) {
            return;
        }
        let ahead = ahead_of(buffered, position);
        self.stats.buffer_ahead = ahead;
        self.stats.latency = self
            .timeline
            .wallclock_at(position)
            .filter(|_| ahead > 0.0 || self.started)
            .map(|made| ((wall_ms - made) / 1e3).max(0.0));
        let Some(edge) = self.timeline.edge() else {
            return;
        };
        if !self.started {
            self.start_playback(now, wall_ms, buffered, edge);
            return;
        }
        // A hole ahead (media that does not follow on): step over it.
        if ahead <= 0.0
            && let Some(next) = buffered
                .iter()
                .find(|r| r.start > position && r.start - position <= GAP_JUMP)
        {
            self.seek(now, next.start + 1e-3);
            return;
        }
        if paused {
            self.set_state(State::Paused);
        } else if self.held {
            if ahead >= self.options.min_ahead {
                self.end_stall(now);
                self.release();
                self.set_state(State::Playing);
            }
        } else if starved || ahead < DRY {
            self.stats.stalls += 1;
            self.stalled_since_report = true;
            self.stall_since = Some((now, self.connection));
            self.hold();
            self.set_state(State::Buffering);
            self.actions.push_back(LiveAction::Stall { position });
        } else {
            self.set_state(State::Playing);
            self.steer(now, wall_ms, position, ahead, edge);
        }
        self.evict(buffered, position);
        self.report(now);
    }

    fn report(&mut self, now: Millis) {
        let due = self.next_report.get_or_insert(now + REPORT_MS);
        if now < *due {
            return;
        }
        *due = now + REPORT_MS;
        self.actions.push_back(LiveAction::Report {
            latency_ms: self.stats.latency.map(|s| (s * 1e3).round() as u64),
            buffer_ms: (self.stats.buffer_ahead * 1e3).round() as u64,
            stalled: std::mem::take(&mut self.stalled_since_report),
        });
    }

    /// The first picture: the point `target latency` from live (no earlier
    /// than the first keyframe buffered), once enough is there.
    fn start_playback(&mut self, now: Millis, wall_ms: f64, buffered: &[Range<f64>], edge: f64) {
        let Some(range) = buffered.iter().find(|r| r.end >= edge - 1e-3) else {
            return;
        };
        let first_key = self
            .timeline
            .keyframe_at_or_before(edge)
            .filter(|k| *k >= range.start - 1e-3)
            .unwrap_or(range.start);
        let transport = self
            .timeline
            .wallclock_at(edge)
            .map_or(0.0, |made| (wall_ms - made) / 1e3);
        let at = (edge - self.rule.ahead_for(transport)).max(first_key);
        if edge - first_key < self.options.min_ahead - 1e-6 {
            return;
        }
        self.started = true;
        self.stats.startup_ms = Some(now.as_f64() - self.attached_at.as_f64());
        self.seek(now, at);
        self.release();
        self.set_state(State::Playing);
    }

    fn steer(&mut self, now: Millis, wall_ms: f64, position: f64, ahead: f64, edge: f64) {
        if self.pinned || now < self.settle_until {
            return;
        }
        let behind = self
            .timeline
            .wallclock_at(position)
            .map_or(ahead, |made| (wall_ms - made) / 1e3);
        let standing = Standing {
            behind,
            ahead,
            position,
            edge,
            rate: self.stats.rate,
        };
        match self.rule.steer(&standing) {
            Steer::Keep => {}
            Steer::Rate(rate) => {
                self.stats.rate = rate;
                self.actions.push_back(LiveAction::Rate(rate));
            }
            Steer::Jump(to) => {
                self.stats.jumps += 1;
                self.seek(now, to);
                if self.stats.rate != 1.0 {
                    self.stats.rate = 1.0;
                    self.actions.push_back(LiveAction::Rate(1.0));
                }
            }
        }
    }

    fn evict(&mut self, buffered: &[Range<f64>], position: f64) {
        let keep_from = position - self.options.back_buffer;
        if buffered
            .first()
            .is_some_and(|r| r.start < keep_from - EVICT_STEP)
        {
            self.timeline.forget_before(keep_from);
            self.actions.push_back(LiveAction::Evict { end: keep_from });
        }
    }

    fn seek(&mut self, now: Millis, to: f64) {
        self.own_seek = Some(to);
        self.settle_until = now + SETTLE_MS;
        self.actions.push_back(LiveAction::Seek(to));
    }

    fn hold(&mut self) {
        if !self.held {
            self.held = true;
            self.actions.push_back(LiveAction::Hold);
        }
    }

    fn release(&mut self) {
        if self.held {
            self.held = false;
            self.actions.push_back(LiveAction::Release {
                rate: self.stats.rate,
            });
        }
    }

    fn end_stall(&mut self, now: Millis) {
        if let Some((since, connection)) = self.stall_since.take() {
            let stalled = now.as_f64() - since.as_f64();
            self.stats.stall_ms += stalled;
            if stalled <= HICCUP_MS && connection == self.connection {
                self.rule.target =
                    (self.rule.target + STALL_RAISE).min(self.options.latency + MOST_RAISE);
                self.stats.target_latency = self.rule.target;
            }
        }
    }

    fn connect(&mut self) {
        self.connection += 1;
        self.stats.connections += 1;
        self.actions.push_back(LiveAction::Connect {
            id: self.connection,
        });
    }

    fn reconnect_later(&mut self, now: Millis) {
        self.reconnect_at = Some(now + self.reconnect_ms);
        self.reconnect_ms = (self.reconnect_ms * 2.0).min(RECONNECT_MOST_MS);
    }

    fn fail(&mut self, code: ErrorCode, message: String) {
        self.reconnect_at = None;
        self.set_state(State::Error);
        self.actions.push_back(LiveAction::Fail { code, message });
    }

    fn set_state(&mut self, state: State) {
        if state != self.state {
            let previous = std::mem::replace(&mut self.state, state);
            self.actions
                .push_back(LiveAction::State { state, previous });
        }
    }
}

/// Seconds buffered ahead of `position` in the range that holds it.
fn ahead_of(buffered: &[Range<f64>], position: f64) -> f64 {
    buffered
        .iter()
        .find(|r| r.start <= position + 1e-3 && position < r.end)
        .map_or(0.0, |r| r.end - position)
}

#[cfg(test)]
mod tests;
