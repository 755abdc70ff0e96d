//! The buffer policy: Caudal's own decisions about what to fetch, when to
//! start, stall, resume and evict — a sans-I/O state machine.
//!
//! Shaped like quinn-proto's `Connection`: the shell (the wasm player, or the
//! simulator) reports what happened through `handle_*`, gives commands
//! ([`Policy::seek`]), then drains [`Policy::poll_action`] and performs each
//! [`Action`]. Time is always passed in; the policy has no clock, no
//! sockets, no browser types.
//!
//! The byte model is progressive download: the file is fetched as one
//! contiguous *run* of bytes from a unit boundary, appended to a single
//! SourceBuffer in order. A seek outside what is buffered starts a new run at
//! the unit that contains the target.

mod options;
mod throughput;

use std::collections::VecDeque;
use std::ops::Range;

pub use options::PolicyOptions;
pub use throughput::ThroughputEstimator;

use crate::index::{ContainerIndexer, MediaError, MediaIndex, Presentation, Repackager, Step};
use crate::probe;

/// Milliseconds on the shell's monotonic clock (`performance.now()`).
pub type Millis = f64;

/// Identifies one HTTP request the policy asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u32);

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// GET `range` of the file with a `Range` header. `media` bytes are queued
    /// for appending; others (an index at the end of the file) are not.
    Fetch {
        id: RequestId,
        range: Range<u64>,
        media: bool,
    },
    /// Cancel the request; ignore any bytes it still delivers.
    Abort { id: RequestId },
    /// The index is known: create the SourceBuffer for `mime` and set the
    /// MediaSource duration. `raw`: the file's own bytes are appended
    /// ([`Action::Append`]); otherwise they are repackaged and only
    /// [`Action::AppendData`] is appended (drop queued file bytes).
    /// `window`: gapless presentation (set `timestampOffset` and
    /// `appendWindowEnd`), when the stream carries encoder delay/padding.
    Configure {
        mime: String,
        duration: Option<f64>,
        raw: bool,
        window: Option<Presentation>,
        /// Begin playback here (`currentTime`), not at 0: frames before it
        /// are decoded but not meant to be seen.
        start: f64,
    },
    /// Append the queued media bytes up to file offset `end`.
    Append { end: u64 },
    /// Append these bytes (an init segment or a remuxed fragment).
    AppendData(Vec<u8>),
    /// A new run starts at `offset`: `SourceBuffer.abort()`, drop queued
    /// bytes. `timestamp_offset`: for a stream without timestamps (MP3), the
    /// media time of `offset`, for `SourceBuffer.timestampOffset`.
    ResetRun {
        offset: u64,
        timestamp_offset: Option<f64>,
    },
    /// `SourceBuffer.remove(range)` (seconds).
    Evict { range: Range<f64> },
    /// Keep playback paused (startup, stall, seek) until [`Action::Release`].
    Hold,
    /// Playback may run (if the viewer wants it to).
    Release,
    /// Playback ran dry: the `caudal:stall` event.
    Stall { position: f64 },
    /// The state changed: the `caudal:state` event.
    State { state: State, previous: State },
    /// The duration became known (or better known) after `Configure`.
    SetDuration(f64),
    /// Every byte is appended: `MediaSource.endOfStream()`.
    EndOfStream,
    /// Give up: the `caudal:error` event. Nothing more will be asked.
    Fail { code: ErrorCode, message: String },
}

/// The player's state as the viewer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Loading,
    Buffering,
    Playing,
    Paused,
    Stalled,
    Seeking,
    Ended,
    Error,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Loading => "loading",
            State::Buffering => "buffering",
            State::Playing => "playing",
            State::Paused => "paused",
            State::Stalled => "stalled",
            State::Seeking => "seeking",
            State::Ended => "ended",
            State::Error => "error",
        }
    }
}

/// What kind of failure ended playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Not a format Caudal can stream, or malformed.
    Format,
    /// The browser cannot play these codecs through MSE.
    Unsupported,
    /// The server refused (4xx) or does not do ranges.
    Http,
    /// The network failed past every retry.
    Network,
    /// The file is shorter than its own index says.
    Truncated,
    /// The browser rejected appended media.
    Decode,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Format => "format",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Http => "http",
            ErrorCode::Network => "network",
            ErrorCode::Truncated => "truncated",
            ErrorCode::Decode => "decode",
        }
    }
}

/// How a request ended, as the shell saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The body ended normally.
    Complete,
    /// The connection failed or was cut; worth retrying.
    NetworkError(String),
}

/// Counters for `player.stats()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub startup_ms: Option<f64>,
    pub stalls: u32,
    pub stall_ms: f64,
    pub bytes_fetched: u64,
    pub requests: u32,
    pub aborted: u32,
    pub retries: u32,
    pub throughput: Option<f64>,
    pub buffer_ahead: f64,
    pub duration: Option<f64>,
    pub position: f64,
}

/// Below this much media ahead, playback has run dry.
const DRY_SECONDS: f64 = 0.1;
/// Buffered ranges closer than this count as one (browsers leave tiny gaps).
const GAP_TOLERANCE: f64 = 0.25;
/// A request lasts at least this many round trips (see `request_size`).
const RTT_FACTOR: f64 = 10.0;
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
const MIN_STARTUP: f64 = 0.25;
/// A seek target the current run reaches within this many seconds keeps the run.
const NEAR_SECONDS: f64 = 2.0;
/// Eviction waits for this much extra media behind, to batch removals.
const EVICT_SLACK: f64 = 5.0;
/// Most run bytes kept while the index is not known yet (a plain MP4 with
/// its `moov` at the end: the media before it waits to be remuxed).
const MAX_EARLY_BYTES: usize = 16 << 20;
/// Separate fetches for the index (e.g. Cues at the end) before giving up.
const MAX_INDEX_FETCHES: u32 = 8;

#[derive(Debug, Clone)]
struct Request {
    id: RequestId,
    range: Range<u64>,
    received: u64,
    media: bool,
    last_data: Millis,
}

/// The buffer policy state machine. See the module docs.
pub struct Policy {
    options: PolicyOptions,
    state: State,
    actions: VecDeque<Action>,
    stats: Stats,
    started_at: Option<Millis>,
    next_id: u32,

    // Index.
    head: Vec<u8>,
    indexer: Option<Box<dyn ContainerIndexer>>,
    /// Makes the plain-MP4 reader, if the file turns out to be one.
    plain_mp4: Option<crate::index::PlainMp4>,
    /// The indexer said [`Step::Pending`]: waiting on its code, not bytes.
    indexer_pending: bool,
    index_need: Option<Range<u64>>,
    index_fetches: u32,
    /// The indexer has been fed every byte before this offset of the media run.
    index_frontier: u64,
    configured: bool,
    /// Turns file bytes into appendable ones (plain MP4), once configured.
    repackager: Option<Box<dyn Repackager>>,
    /// Run bytes that arrived before the index was known, from `early_start`.
    early: Vec<u8>,
    early_start: u64,
    /// The duration the shell was last given.
    announced_duration: Option<f64>,
    /// Extra index bytes already asked for (see `ContainerIndexer::wants`).
    wanted: Option<Range<u64>>,
    file_len: Option<u64>,

    // Fetching: the media run, and beside it a request for index bytes
    // elsewhere in the file (WebM Cues or an fMP4 `mfra` at the end), so the
    // index never waits behind a media request.
    request: Option<Request>,
    side: Option<Request>,
    cursor: u64,
    retry_at: Option<Millis>,
    attempts: u32,
    end_signalled: bool,
    throughput: ThroughputEstimator,
    /// Smoothed time from a request to its first byte.
    rtt_ms: Option<f64>,

    // Playback.
    held: bool,
    position: f64,
    paused: bool,
    buffered: Vec<Range<f64>>,
    stall_started: Option<Millis>,
    /// When playback was last released (the element's own readiness lags it).
    released_at: Option<Millis>,
    /// A cap learned from QuotaExceededError, below `max_bytes`.
    quota_cap: Option<u64>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("state", &self.state)
            .field("cursor", &self.cursor)
            .field("request", &self.request)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// A policy that tells the container from the first bytes it fetches.
    pub fn new(options: PolicyOptions) -> Self {
        Self::build(options, None)
    }

    /// Plain MP4s are read by what `make` makes (instead of this crate's
    /// remuxer, or at all in a build without it).
    pub fn set_plain_mp4(&mut self, make: Option<crate::index::PlainMp4>) {
        self.plain_mp4 = make;
    }

    /// The indexer made progress by itself (code it needed has loaded):
    /// look at it again as if bytes had come.
    pub fn handle_indexer_progress(&mut self, now: Millis) {
        if self.state == State::Error {
            return;
        }
        if let Err(error) = self.feed_at(self.index_frontier, &[]) {
            self.fail_with(&error);
            return;
        }
        self.check_index_reachable();
        if self.state == State::Error {
            return;
        }
        self.plan_fetch(now);
    }

    /// A policy with a given indexer (tests, the simulator).
    pub fn with_indexer(options: PolicyOptions, indexer: Box<dyn ContainerIndexer>) -> Self {
        Self::build(options, Some(indexer))
    }

    fn build(options: PolicyOptions, indexer: Option<Box<dyn ContainerIndexer>>) -> Self {
        Policy {
            options,
            state: State::Idle,
            actions: VecDeque::new(),
            stats: Stats::default(),
            started_at: None,
            next_id: 0,
            head: Vec::new(),
            indexer,
            #[cfg(feature = "remux")]
            plain_mp4: Some(crate::remux::plain_mp4()),
            #[cfg(not(feature = "remux"))]
            plain_mp4: None,
            indexer_pending: false,
            index_need: None,
            index_fetches: 0,
            index_frontier: 0,
            configured: false,
            repackager: None,
            early: Vec::new(),
            early_start: 0,
            announced_duration: None,
            wanted: None,
            file_len: None,
            request: None,
            side: None,
            cursor: 0,
            retry_at: None,
            attempts: 0,
            end_signalled: false,
            throughput: ThroughputEstimator::default(),
            rtt_ms: None,
            held: true,
            position: 0.0,
            paused: true,
            buffered: Vec::new(),
            stall_started: None,
            released_at: None,
            quota_cap: None,
        }
    }

    // ---------------------------------------------------------------- getters

    pub fn state(&self) -> State {
        self.state
    }

    pub fn index(&self) -> Option<&MediaIndex> {
        self.indexer.as_ref()?.index()
    }

    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.throughput = self.throughput.estimate();
        stats.buffer_ahead = self.buffer_ahead();
        stats.duration = self.duration();
        stats.position = self.position;
        stats
    }

    pub fn options(&self) -> &PolicyOptions {
        &self.options
    }

    // ---------------------------------------------------------------- commands

    /// Starts loading; the first request carries the index and the startup
    /// seconds in one round trip.
    pub fn start(&mut self, now: Millis) {
        if self.state != State::Idle {
            return;
        }
        self.started_at = Some(now);
        self.set_state(State::Loading);
        self.actions.push_back(Action::Hold);
        self.plan_fetch(now);
    }

    /// The viewer moved the playhead to `to` seconds.
    pub fn seek(&mut self, now: Millis, to: f64) {
        if self.state == State::Error {
            return;
        }
        self.position = to;
        if self.ahead_of(to) >= self.startup_threshold(to) {
            self.plan_fetch(now);
            return;
        }
        let Some(target) = self.seek_offset(to) else {
            // Not indexed yet: the current run goes on and reaches it.
            self.hold_for(State::Seeking);
            self.plan_fetch(now);
            return;
        };
        // Near: the current run reaches the target within a couple of
        // seconds on this link; then restarting would only waste a round trip.
        let soon = self
            .throughput
            .estimate()
            .map_or(self.options.min_request, |bps| {
                (bps / 8.0 * NEAR_SECONDS) as u64
            })
            .max(self.options.min_request);
        let near = target >= self.run_floor() && target <= self.cursor + soon;
        if !near {
            if let Some(request) = self.request.take() {
                self.actions.push_back(Action::Abort { id: request.id });
                self.stats.aborted += 1;
            }
            self.retry_at = None;
            self.attempts = 0;
            self.cursor = target;
            self.end_signalled = false;
            if let Some(repackager) = self.repackager.as_mut() {
                repackager.reset(target);
            }
            let shift = self
                .indexer
                .as_ref()
                .and_then(|i| i.presentation())
                .map_or(0.0, |w| w.offset);
            let timestamp_offset = self.index().and_then(|index| {
                let untimed = index.container == crate::index::Container::Mp3;
                untimed.then(|| {
                    index
                        .segments
                        .get(index.segment_at(to)?)
                        .map(|s| s.start + shift)
                })?
            });
            self.actions.push_back(Action::ResetRun {
                offset: target,
                timestamp_offset,
            });
        }
        self.hold_for(State::Seeking);
        self.plan_fetch(now);
    }

    /// The browser threw QuotaExceededError on append: evict harder and
    /// lower the memory cap to what fit. The shell retries the append.
    pub fn handle_quota_exceeded(&mut self, now: Millis) {
        let held = self.bytes_held();
        self.quota_cap = Some((held as f64 * 0.8) as u64);
        let keep_from = (self.position - 1.0).max(0.0);
        if keep_from > 0.0 {
            self.actions.push_back(Action::Evict {
                range: 0.0..keep_from,
            });
        }
        let _ = now;
    }

    /// The browser failed to decode what was appended.
    pub fn handle_append_error(&mut self, message: &str) {
        self.fail(
            ErrorCode::Decode,
            format!("the browser could not decode the media: {message}"),
        );
    }

    // ---------------------------------------------------------------- events

    /// Response headers arrived. `total` is the file length from
    /// Content-Range (or Content-Length of a 200).
    pub fn handle_response(&mut self, now: Millis, id: RequestId, status: u16, total: Option<u64>) {
        let Some(request) = self.live(id).cloned() else {
            return;
        };
        let starts_at_zero = request.range.start == 0;
        match status {
            206 => {
                if total.is_some() {
                    self.file_len = total;
                }
            }
            200 if starts_at_zero => {
                // The server ignores Range: the whole file comes; take it.
                self.file_len = total;
                if let Some(request) = self.live_mut(id) {
                    request.range.end = total.unwrap_or(u64::MAX);
                }
            }
            200 => self.fail(
                ErrorCode::Http,
                "the server does not support Range requests".into(),
            ),
            416 => {
                let start = request.range.start;
                if total.is_some_and(|len| start >= len) && self.index_need.is_none() {
                    self.fail(
                        ErrorCode::Truncated,
                        format!(
                            "the file ends at byte {} but its index promises more",
                            total.unwrap_or(0)
                        ),
                    );
                } else {
                    self.fail(
                        ErrorCode::Http,
                        "the server refused the byte range (416)".into(),
                    );
                }
            }
            500..=599 => {
                self.take_live(id);
                self.schedule_retry(now, format!("server error {status}"));
            }
            _ => self.fail(
                ErrorCode::Http,
                format!("the server answered HTTP {status}"),
            ),
        }
    }

    /// `data` arrived for request `id` (in order).
    pub fn handle_data(&mut self, now: Millis, id: RequestId, data: &[u8]) {
        let Some(request) = self.live_mut(id) else {
            return;
        };
        let offset = request.range.start + request.received;
        let len = data.len() as u64;
        request.received += len;
        let first = request.received == len;
        let elapsed = now - request.last_data;
        request.last_data = now;
        let media = request.media;
        self.stats.bytes_fetched += len;
        if first {
            // The wait for the first byte is the round trip, not the link's
            // rate: it goes to the RTT estimate, and the throughput sample
            // starts now (counting it would size every request below the
            // link by a round trip's worth).
            self.rtt_ms = Some(self.rtt_ms.map_or(elapsed, |rtt| 0.8 * rtt + 0.2 * elapsed));
        } else {
            self.throughput.sample(len, elapsed);
        }
        self.attempts = 0;
        if media {
            self.cursor = offset + len;
        }
        let configured_before = self.configured;
        if media && !configured_before {
            self.keep_early(offset, data);
        }
        let fed = self.feed_indexer(offset, data, media);
        let delivered = fed.and_then(|()| {
            if media && configured_before {
                self.deliver(offset, data)
            } else {
                Ok(())
            }
        });
        if let Err(error) = delivered {
            self.fail_with(&error);
            return;
        }
        if self.side.is_none() && self.index_need.is_some() {
            // Index bytes elsewhere: ask now, beside the media request.
            self.plan_fetch(now);
        }
    }

    /// Request `id` ended.
    pub fn handle_done(&mut self, now: Millis, id: RequestId, outcome: Outcome) {
        let Some(request) = self.take_live(id) else {
            return;
        };
        let expected = request.range.end - request.range.start;
        match outcome {
            Outcome::Complete if request.received >= expected => {}
            Outcome::Complete
                if self
                    .file_len
                    .is_some_and(|len| request.range.start + request.received >= len) =>
            {
                // The server clipped the range at the end of the file.
            }
            Outcome::Complete => {
                self.schedule_retry(now, "the response ended early".into());
                return;
            }
            Outcome::NetworkError(reason) => {
                self.schedule_retry(now, reason);
                return;
            }
        }
        if !request.media {
            // What was asked for came; the indexer asks again if it must.
            if self.index_need.as_ref() == Some(&request.range) {
                self.index_need = None;
            }
            self.index_fetches += 1;
            if self.index_fetches > MAX_INDEX_FETCHES {
                self.fail(
                    ErrorCode::Format,
                    "the file's index could not be read".into(),
                );
                return;
            }
        }
        self.check_index_reachable();
        if self.state == State::Error {
            return;
        }
        self.plan_fetch(now);
    }

    /// Every byte is here, nothing more is asked, and still no index: the
    /// file is cut short (or not media at all).
    fn check_index_reachable(&mut self) {
        if self.index().is_none()
            && self.index_need.is_none()
            && !self.indexer_pending
            && self.all_fetched()
        {
            let len = self.file_len.unwrap_or(0);
            let message = match &self.indexer {
                Some(_) => MediaError::Truncated { len, what: "index" }.to_string(),
                None => MediaError::UnknownFormat.to_string(),
            };
            let code = if self.indexer.is_some() {
                ErrorCode::Truncated
            } else {
                ErrorCode::Format
            };
            self.fail(code, message);
        }
    }

    /// What the `<video>` element reports: playhead, buffered ranges
    /// (seconds), whether the viewer has it paused, and whether the element
    /// itself says it cannot advance (`readyState` below HAVE_FUTURE_DATA
    /// while not seeking) — browsers stop a little before the buffered end,
    /// at a fragment or GOP boundary, so that signal counts as running dry.
    pub fn handle_playback(
        &mut self,
        now: Millis,
        position: f64,
        buffered: &[Range<f64>],
        paused: bool,
        starved: bool,
    ) {
        self.position = position;
        self.paused = paused;
        self.buffered.clear();
        self.buffered.extend_from_slice(buffered);
        if self.state == State::Error {
            return;
        }
        let ahead = self.buffer_ahead();
        let everything = self.all_fetched();
        let at_end = self.duration().is_some_and(|d| position >= d - DRY_SECONDS) && everything;
        match self.state {
            State::Loading | State::Buffering | State::Seeking => {
                if self.configured
                    && (ahead >= self.startup_threshold(position) || everything && ahead > 0.0)
                {
                    if self.stats.startup_ms.is_none() {
                        self.stats.startup_ms = self.started_at.map(|t| now - t);
                    }
                    self.release(now);
                }
            }
            State::Playing | State::Paused if at_end => self.set_state(State::Ended),
            State::Playing | State::Paused => {
                if !paused
                    && (ahead < DRY_SECONDS || self.truly_starved(now, starved, ahead))
                    && !everything
                {
                    self.stats.stalls += 1;
                    self.stall_started = Some(now);
                    self.actions.push_back(Action::Stall { position });
                    self.hold_for(State::Stalled);
                } else {
                    self.set_state(if paused {
                        State::Paused
                    } else {
                        State::Playing
                    });
                }
            }
            State::Stalled => {
                if ahead >= self.resume_threshold() || everything {
                    self.release(now);
                }
            }
            State::Ended if !at_end => self.set_state(if paused {
                State::Paused
            } else {
                State::Playing
            }),
            State::Idle | State::Ended | State::Error => {}
        }
        self.plan_evict();
        self.plan_fetch(now);
    }

    /// When [`Policy::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let stalled_request = [&self.request, &self.side]
            .into_iter()
            .flatten()
            .map(|r| r.last_data + self.options.request_timeout_ms)
            .reduce(f64::min);
        match (self.retry_at, stalled_request) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        let silent: Vec<RequestId> = [&self.request, &self.side]
            .into_iter()
            .flatten()
            .filter(|r| now >= r.last_data + self.options.request_timeout_ms)
            .map(|r| r.id)
            .collect();
        for id in silent {
            self.take_live(id);
            self.actions.push_back(Action::Abort { id });
            self.schedule_retry(now, "no data for too long".into());
        }
        if self.retry_at.is_some_and(|at| now >= at) {
            self.retry_at = None;
            self.plan_fetch(now);
        }
    }

    /// The next thing for the shell to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    // ---------------------------------------------------------------- internals

    fn set_state(&mut self, state: State) {
        if state != self.state {
            let previous = self.state;
            self.state = state;
            self.actions.push_back(Action::State { state, previous });
        }
    }

    fn hold_for(&mut self, state: State) {
        if !self.held {
            self.held = true;
            self.actions.push_back(Action::Hold);
        }
        self.set_state(state);
    }

    fn release(&mut self, now: Millis) {
        if let Some(started) = self.stall_started.take() {
            self.stats.stall_ms += now - started;
        }
        if self.held {
            self.held = false;
            self.released_at = Some(now);
            self.actions.push_back(Action::Release);
        }
        self.set_state(if self.paused {
            State::Paused
        } else {
            State::Playing
        });
    }

    /// Gives up on a media error: `truncated` when the file ends early
    /// (as this crate or the remuxer module saw it), else `format`.
    fn fail_with(&mut self, error: &MediaError) {
        let code = match error {
            MediaError::Truncated { .. }
            | MediaError::Elsewhere {
                truncated: true, ..
            } => ErrorCode::Truncated,
            _ => ErrorCode::Format,
        };
        self.fail(code, error.to_string());
    }

    fn fail(&mut self, code: ErrorCode, message: String) {
        if self.state == State::Error {
            return;
        }
        for request in [self.request.take(), self.side.take()]
            .into_iter()
            .flatten()
        {
            self.actions.push_back(Action::Abort { id: request.id });
        }
        self.retry_at = None;
        self.set_state(State::Error);
        self.actions.push_back(Action::Fail { code, message });
    }

    fn schedule_retry(&mut self, now: Millis, reason: String) {
        if self.state == State::Error {
            return;
        }
        self.attempts += 1;
        self.stats.retries += 1;
        if self.attempts > self.options.max_retries {
            self.fail(
                ErrorCode::Network,
                format!("giving up after {} attempts: {reason}", self.attempts),
            );
            return;
        }
        let backoff = self.options.retry_base_ms * 2f64.powi(self.attempts.min(6) as i32 - 1);
        self.retry_at = Some(now + backoff.min(8000.0));
    }

    fn feed_indexer(&mut self, offset: u64, data: &[u8], media: bool) -> Result<(), MediaError> {
        if self.indexer.is_none() {
            if offset != self.head.len() as u64 {
                return Ok(());
            }
            let take = data
                .len()
                .min(probe::SNIFF_LEN.saturating_sub(self.head.len()));
            self.head.extend_from_slice(&data[..take]);
            if self.head.len() < probe::SNIFF_LEN
                && self.file_len.is_none_or(|len| len > self.head.len() as u64)
            {
                return Ok(());
            }
            self.indexer = Some(probe::indexer_with(&self.head, self.plain_mp4.take())?);
            self.index_frontier = 0;
            let head = std::mem::take(&mut self.head);
            self.feed_contiguous(0, &head)?;
            return self.feed_contiguous(offset, data).map(|_| ());
        }
        let complete = self.index().is_some_and(|i| i.complete);
        if complete {
            return Ok(());
        }
        if media {
            self.feed_contiguous(offset, data)
        } else {
            self.feed_at(offset, data)
        }
    }

    /// Feeds the part of a media-run chunk that continues the indexer's frontier.
    fn feed_contiguous(&mut self, offset: u64, data: &[u8]) -> Result<(), MediaError> {
        let end = offset + data.len() as u64;
        if offset > self.index_frontier || end <= self.index_frontier {
            return Ok(());
        }
        let skip = (self.index_frontier - offset) as usize;
        let from = self.index_frontier;
        self.index_frontier = end;
        self.feed_at(from, &data[skip..])
    }

    fn feed_at(&mut self, offset: u64, data: &[u8]) -> Result<(), MediaError> {
        let Some(indexer) = self.indexer.as_mut() else {
            return Ok(());
        };
        let step = indexer.feed(offset, data, self.file_len)?;
        self.indexer_pending = false;
        match step {
            Step::NeedBytes { offset: need, len } => {
                // Bytes the media run will bring anyway are not fetched twice.
                let in_run = need >= self.index_frontier
                    && need <= self.index_frontier + self.request_size();
                self.index_need = (!in_run).then(|| need..need.saturating_add(len.max(1)));
            }
            Step::Pending => {
                self.index_need = None;
                self.indexer_pending = true;
                return Ok(());
            }
            Step::Ready => {
                self.index_need = None;
                if !self.configured {
                    self.configure();
                }
                self.after_index_update();
            }
        }
        Ok(())
    }

    /// Keeps run bytes until the index says how to append them.
    fn keep_early(&mut self, offset: u64, data: &[u8]) {
        if self.early.is_empty() {
            self.early_start = offset;
        }
        if offset == self.early_start + self.early.len() as u64
            && self.early.len() + data.len() <= MAX_EARLY_BYTES
        {
            self.early.extend_from_slice(data);
        }
    }

    /// Hands run bytes to the shell: as they are, or repackaged.
    fn deliver(&mut self, offset: u64, data: &[u8]) -> Result<(), MediaError> {
        match self.repackager.as_mut() {
            Some(repackager) => {
                for output in repackager.push(offset, data)? {
                    self.actions.push_back(Action::AppendData(output));
                }
            }
            None => self.actions.push_back(Action::Append { end: self.cursor }),
        }
        Ok(())
    }

    /// Asks for bytes that would complete the index, and tells the shell a
    /// duration that became known.
    fn after_index_update(&mut self) {
        let wants = self.indexer.as_ref().and_then(|i| i.wants());
        if let Some(range) = wants
            && self.wanted.as_ref() != Some(&range)
            && self.index_need.is_none()
        {
            self.wanted = Some(range.clone());
            self.index_need = Some(range);
        }
        if self.configured
            && let Some(duration) = self.duration()
            && self.announced_duration != Some(duration)
        {
            self.announced_duration = Some(duration);
            self.actions.push_back(Action::SetDuration(duration));
        }
    }

    /// A complete index that reaches past the end of the file: truncated.
    fn check_truncated(&mut self) {
        let (Some(len), Some(index)) = (self.file_len, self.index()) else {
            return;
        };
        let promised = index
            .segments
            .last()
            .map_or(index.init.end, |s| s.bytes.end);
        if index.complete && promised > len {
            self.fail(
                ErrorCode::Truncated,
                format!("the file ends at byte {len}, but its index reaches byte {promised}"),
            );
        }
    }

    fn configure(&mut self) {
        self.check_truncated();
        if self.state == State::Error {
            return;
        }
        let Some(index) = self.index() else { return };
        let mime = index.mime_type();
        let duration = index.duration.or_else(|| {
            index
                .complete
                .then(|| index.segments.last().map(|s| s.end))
                .flatten()
        });
        self.configured = true;
        self.announced_duration = duration;
        let start = self.indexer.as_ref().map_or(0.0, |i| i.start());
        self.repackager = self.indexer.as_mut().and_then(|i| i.take_repackager());
        let raw = self.repackager.is_none();
        let window = self.indexer.as_ref().and_then(|i| i.presentation());
        let duration = window.map(|w| w.end).or(duration);
        self.announced_duration = duration;
        self.actions.push_back(Action::Configure {
            mime,
            duration,
            raw,
            window,
            start,
        });
        let early = std::mem::take(&mut self.early);
        if let Some(repackager) = self.repackager.as_mut() {
            self.actions
                .push_back(Action::AppendData(repackager.init_segment()));
            repackager.reset(self.early_start);
        }
        if let Err(error) = self.deliver(self.early_start, &early) {
            self.fail(ErrorCode::Format, error.to_string());
            return;
        }
        self.set_state(State::Buffering);
    }

    fn duration(&self) -> Option<f64> {
        if let Some(window) = self.indexer.as_ref().and_then(|i| i.presentation()) {
            return Some(window.end);
        }
        let index = self.index()?;
        index.duration.or_else(|| {
            index
                .complete
                .then(|| index.segments.last().map(|s| s.end))
                .flatten()
        })
    }

    /// Seconds buffered contiguously ahead of the playhead.
    fn buffer_ahead(&self) -> f64 {
        self.ahead_of(self.position)
    }

    fn ahead_of(&self, t: f64) -> f64 {
        let mut end = None::<f64>;
        let mut ranges: Vec<&Range<f64>> = self.buffered.iter().collect();
        ranges.sort_by(|a, b| a.start.total_cmp(&b.start));
        for range in ranges {
            match end {
                None if range.start <= t + GAP_TOLERANCE && range.end > t => end = Some(range.end),
                Some(e) if range.start <= e + GAP_TOLERANCE => end = Some(e.max(range.end)),
                _ => {}
            }
        }
        end.map_or(0.0, |e| (e - t).max(0.0))
    }

    /// Seconds of media left after `t` (the startup wait never exceeds it).
    fn remaining_after(&self, t: f64) -> f64 {
        self.duration().map_or(f64::INFINITY, |d| (d - t).max(0.0))
    }

    fn all_fetched(&self) -> bool {
        self.media_end().is_some_and(|end| self.cursor >= end)
    }

    /// Where the media run ends: after the last unit of a complete index
    /// (an `mfra`, trailing Cues or a plain MP4's `moov` after it are not
    /// media), else the end of the file.
    fn media_end(&self) -> Option<u64> {
        match self.index() {
            Some(index) if index.complete && !index.segments.is_empty() => {
                let end = index.segments.iter().map(|s| s.bytes.end).max()?;
                Some(self.file_len.map_or(end, |len| end.min(len)))
            }
            _ => self.file_len,
        }
    }

    /// The resume threshold after a stall.
    ///
    /// Scaled by how far the link falls short of the media's bitrate: at a
    /// third of it, a fixed few seconds drain again almost at once (one drop,
    /// many stalls); waiting for proportionally more makes one drop cost one
    /// stall. Bounded by the goal and what is left of the media.
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

    /// Seconds buffered before playback starts at `at` (first frame, seek).
    ///
    /// `startup` is what a link that just keeps up with the media needs; a
    /// faster link refills the buffer faster than playback drains it, so
    /// it needs proportionally less (down to [`MIN_STARTUP`]), and a slower
    /// one more (up to [`MAX_RESUME_FACTOR`] times). Until the link or the
    /// bit rate is known, `startup` itself.
    fn startup_threshold(&self, at: f64) -> f64 {
        let speedup = match (self.bitrate(), self.throughput.estimate()) {
            (Some(media), Some(link)) if media > 0.0 && link > 0.0 => link / media,
            _ => 1.0,
        };
        let startup = self.options.startup;
        // (max/min, not clamp: clamp's panic on runtime bounds would link
        // float formatting into the player, 10 KB of wasm.)
        (startup / speedup)
            .min(startup * MAX_RESUME_FACTOR)
            .max(MIN_STARTUP.min(startup))
            .min(self.remaining_after(at))
    }

    fn resume_threshold(&self) -> f64 {
        let shortfall = match (self.bitrate(), self.throughput.estimate()) {
            (Some(media), Some(link)) if link > 0.0 => (media / link).clamp(1.0, MAX_RESUME_FACTOR),
            _ => 1.0,
        };
        (self.options.resume * shortfall)
            .min(self.options.goal)
            .min(self.remaining_after(self.position))
    }

    /// Byte offset where a new run for time `to` starts.
    fn seek_offset(&self, to: f64) -> Option<u64> {
        let index = self.index()?;
        let last = index.segments.last()?;
        if !index.complete && to >= last.end {
            return None;
        }
        Some(index.segments[index.segment_at(to)?].bytes.start)
    }

    /// Start of the unit the current run's cursor is in (bytes below are done).
    fn run_floor(&self) -> u64 {
        self.index()
            .and_then(|i| {
                i.segment_containing_byte(self.cursor)
                    .map(|n| i.segments[n].bytes.start)
            })
            .unwrap_or(self.cursor)
    }

    /// Media time at byte `offset` of the file, interpolated within units.
    fn time_at_byte(&self, offset: u64) -> Option<f64> {
        let index = self.index()?;
        if let Some(n) = index.segment_containing_byte(offset) {
            let s = &index.segments[n];
            let fraction =
                (offset - s.bytes.start) as f64 / (s.bytes.end - s.bytes.start).max(1) as f64;
            return Some(s.start + fraction * (s.end - s.start));
        }
        let last = index.segments.last()?;
        if offset < last.bytes.end {
            return Some(index.segments.first()?.start);
        }
        let rate = self.bitrate()?;
        Some(last.end + (offset - last.bytes.end) as f64 * 8.0 / rate)
    }

    /// Byte offset of media time `t` (interpolated; past the known units,
    /// extrapolated at the average bitrate).
    fn byte_at_time(&self, t: f64) -> Option<u64> {
        let index = self.index()?;
        let n = index.segment_at(t)?;
        let s = &index.segments[n];
        if t <= s.end {
            let fraction = ((t - s.start) / (s.end - s.start).max(1e-9)).clamp(0.0, 1.0);
            return Some(s.bytes.start + (fraction * (s.bytes.end - s.bytes.start) as f64) as u64);
        }
        let rate = self.bitrate()?;
        Some(s.bytes.end + ((t - s.end) * rate / 8.0) as u64)
    }

    fn bitrate(&self) -> Option<f64> {
        let index = self.index()?;
        if let (Some(len), Some(duration)) = (self.file_len, index.duration)
            && duration > 0.0
        {
            return Some(len as f64 * 8.0 / duration);
        }
        index.bitrate()
    }

    /// Bytes in the buffer: from what is kept behind to the cursor.
    fn bytes_held(&self) -> u64 {
        let from = self
            .byte_at_time((self.position - self.options.behind).max(0.0))
            .unwrap_or(0);
        self.cursor.saturating_sub(from.max(self.run_floor_start()))
    }

    fn run_floor_start(&self) -> u64 {
        self.buffered
            .iter()
            .map(|r| r.start)
            .reduce(f64::min)
            .and_then(|t| self.byte_at_time(t))
            .unwrap_or(0)
    }

    /// Bytes for the next request: about `request_seconds` on this link.
    ///
    /// Requests follow one another, so each costs a round trip of idle link:
    /// on a long RTT they last longer (RTT_FACTOR round trips) to keep that
    /// idle share small.
    fn request_size(&self) -> u64 {
        let o = &self.options;
        let seconds = o
            .request_seconds
            .max(self.rtt_ms.unwrap_or(0.0) / 1000.0 * RTT_FACTOR);
        match self.throughput.estimate() {
            Some(bps) => ((bps / 8.0 * seconds) as u64).clamp(o.min_request, o.max_request),
            None => o.first_request,
        }
    }

    fn plan_evict(&mut self) {
        let keep_from = self.position - self.options.behind;
        let oldest = self.buffered.iter().map(|r| r.start).reduce(f64::min);
        if let Some(oldest) = oldest
            && keep_from - oldest > EVICT_SLACK
        {
            self.actions.push_back(Action::Evict {
                range: 0.0..keep_from,
            });
        }
    }

    fn plan_fetch(&mut self, now: Millis) {
        if self.retry_at.is_some() || matches!(self.state, State::Error | State::Idle) {
            return;
        }
        if self.side.is_none()
            && let Some(need) = self.index_need.clone()
        {
            self.issue(now, need, false);
        }
        if self.request.is_some() {
            return;
        }
        if !self.configured && self.side.is_some() && self.stats.requests > 1 {
            // The index is elsewhere (a `moov` at the end): wait for it
            // rather than pile up media that cannot be appended yet.
            return;
        }
        if self.all_fetched() {
            if self.configured && !self.end_signalled {
                self.end_signalled = true;
                self.actions.push_back(Action::EndOfStream);
            }
            return;
        }
        let mut size = if self.cursor == 0 && self.stats.requests == 0 {
            self.options.first_request
        } else {
            self.request_size()
        };
        if self.configured {
            let goal_end = self.position + self.options.goal;
            let Some(cursor_time) = self.time_at_byte(self.cursor) else {
                self.issue_sized(now, size);
                return;
            };
            if cursor_time >= goal_end {
                return;
            }
            let cap = self
                .quota_cap
                .unwrap_or(self.options.max_bytes)
                .min(self.options.max_bytes);
            if self.bytes_held() >= cap {
                return;
            }
            // Never ask past the goal by more than the unit it ends in.
            if let Some(goal_byte) = self.goal_byte(goal_end) {
                size = size.min(
                    goal_byte
                        .saturating_sub(self.cursor)
                        .max(self.options.min_request),
                );
            }
        }
        self.issue_sized(now, size);
    }

    /// End of the unit in which the goal falls.
    fn goal_byte(&self, goal_end: f64) -> Option<u64> {
        let index = self.index()?;
        match index.segment_at(goal_end) {
            Some(n) if index.segments[n].end >= goal_end => Some(index.segments[n].bytes.end),
            _ => self.byte_at_time(goal_end),
        }
    }

    fn issue_sized(&mut self, now: Millis, size: u64) {
        let end = match self.media_end() {
            Some(len) => (self.cursor + size).min(len),
            None => self.cursor + size,
        };
        if end > self.cursor {
            self.issue(now, self.cursor..end, true);
        }
    }

    /// The live request `id`, media or side.
    fn live(&self, id: RequestId) -> Option<&Request> {
        [&self.request, &self.side]
            .into_iter()
            .flatten()
            .find(|r| r.id == id)
    }

    fn live_mut(&mut self, id: RequestId) -> Option<&mut Request> {
        [&mut self.request, &mut self.side]
            .into_iter()
            .flatten()
            .find(|r| r.id == id)
    }

    /// Removes the live request `id` from its slot.
    fn take_live(&mut self, id: RequestId) -> Option<Request> {
        if self.request.as_ref().is_some_and(|r| r.id == id) {
            return self.request.take();
        }
        if self.side.as_ref().is_some_and(|r| r.id == id) {
            return self.side.take();
        }
        None
    }

    fn issue(&mut self, now: Millis, range: Range<u64>, media: bool) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.stats.requests += 1;
        let request = Some(Request {
            id,
            range: range.clone(),
            received: 0,
            media,
            last_data: now,
        });
        if media {
            self.request = request;
        } else {
            self.side = request;
        }
        self.actions.push_back(Action::Fetch { id, range, media });
    }
}

#[cfg(test)]
mod tests;
