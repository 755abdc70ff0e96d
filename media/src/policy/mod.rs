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
//!
//! This file is the facade: the public API, and the dispatch that composes
//! the concerns, each in its own file with its own small state:
//!
//! | file | decides |
//! |---|---|
//! | `index_feed.rs` | which container, feeding its reader (and feeding it again when one takes over) |
//! | `held.rs` | the bytes fed before the index is known, held once: early run bytes, side bytes |
//! | `append.rs` | configuring the SourceBuffer; bytes appended as they are or repackaged |
//! | `schedule.rs` | what to fetch next: the goal, the memory cap, the end of the stream |
//! | `goal.rs` | how far ahead to buffer on this link |
//! | `requests.rs` | the two request slots (media run, index bytes elsewhere) |
//! | `response.rs` | what a response status means, and whether a body came whole |
//! | `retry.rs` | backoff after a failure, and when to give up |
//! | `authorize.rs` | signed URLs: a refusal's reason, asking `authorize` for a new URL |
//! | `timer.rs` | the timer table (retry, idle requests); `poll_timeout` is its minimum |
//! | `link.rs` | throughput and RTT, and the request size they call for |
//! | `playback.rs` | hold and release: startup and resume thresholds, stalls |
//! | `seek.rs` | where a seek lands: the buffer, the current run, or a new run |
//! | `buffer.rs` | what is buffered ahead, what to evict behind |
//! | `timeline.rs` | the time ↔ byte map of the index |
//!
//! The submodules do not call one another's decisions: each takes what it
//! needs as arguments, and the facade passes it on.

mod action;
mod append;
mod authorize;
mod buffer;
mod client_data;
mod delivery;
mod error;
mod goal;
mod held;
mod index_feed;
mod link;
mod millis;
mod options;
mod playback;
mod requests;
mod response;
mod retry;
mod schedule;
mod seek;
mod state;
mod stats;
mod throughput;
mod timeline;
mod timer;

use std::collections::VecDeque;
use std::ops::Range;

pub use action::{Action, Outcome, RequestId};
pub use authorize::{REFUSAL_BODY_BYTES, Refusal, token_expiry};
pub use client_data::requested_rate;
pub use delivery::ServerDelivery;
pub use error::ErrorCode;
pub use millis::Millis;
pub use options::PolicyOptions;
pub use state::State;
pub use stats::Stats;
pub use throughput::ThroughputEstimator;

use crate::index::{ContainerIndexer, MediaError, MediaIndex};
use append::Appender;
use authorize::{AfterRefusal, Authorization};
use buffer::Buffered;
use index_feed::IndexFeed;
use link::Link;
use playback::{Playback, Sighting, Thresholds, Transition};
use requests::Requests;
use response::Reply;
use retry::{Retry, Verdict};
pub use schedule::OPEN_END;
use schedule::{Next, Schedule, Situation};
use seek::{SeekPlan, SeekView};
use timeline::Timeline;
use timer::{Timer, TimerTable};

/// The buffer policy state machine. See the module docs.
pub struct Policy {
    options: PolicyOptions,
    state: State,
    actions: VecDeque<Action>,
    stats: Stats,
    started_at: Option<Millis>,
    /// The file's length, once a response says it.
    file_len: Option<u64>,
    feed: IndexFeed,
    append: Appender,
    schedule: Schedule,
    requests: Requests,
    retry: Retry,
    authorization: Authorization,
    timers: TimerTable,
    link: Link,
    playback: Playback,
    buffered: Buffered,
    /// Playback ran dry since the last media request (CMCD `bs`).
    stalled_since_request: bool,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("state", &self.state)
            .field("cursor", &self.schedule.cursor())
            .field("request", &self.requests.media())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// A policy that tells the container from the first bytes it fetches.
    pub fn new(options: PolicyOptions) -> Self {
        Self::build(options, None)
    }

    /// A policy with a given indexer (tests, the simulator).
    pub fn with_indexer(options: PolicyOptions, indexer: Box<dyn ContainerIndexer>) -> Self {
        Self::build(options, Some(indexer))
    }

    /// Plain MP4s are read by what `make` makes (instead of this crate's
    /// remuxer, or at all in a build without it).
    pub fn set_plain_mp4(&mut self, make: Option<crate::index::OnDemand>) {
        self.feed.set_plain_mp4(make);
    }

    /// Each container is read by what `make` makes for its [`Format`]
    /// (instead of this crate's readers, or at all in a build without
    /// them: the player's main module).
    ///
    /// [`Format`]: crate::probe::Format
    pub fn set_readers(&mut self, make: Option<crate::index::MakeReader>) {
        self.feed.set_readers(make);
    }

    fn build(options: PolicyOptions, indexer: Option<Box<dyn ContainerIndexer>>) -> Self {
        let plain_mp4 = crate::mp4::default_plain_mp4();
        let authorization = Authorization::new(options.authorize);
        Policy {
            options,
            state: State::Idle,
            actions: VecDeque::new(),
            stats: Stats::default(),
            started_at: None,
            file_len: None,
            feed: IndexFeed::new(indexer, plain_mp4),
            append: Appender::default(),
            schedule: Schedule::default(),
            requests: Requests::default(),
            retry: Retry::default(),
            authorization,
            timers: TimerTable::default(),
            link: Link::default(),
            playback: Playback::default(),
            buffered: Buffered::default(),
            stalled_since_request: false,
        }
    }

    // ---------------------------------------------------------------- getters

    pub fn state(&self) -> State {
        self.state
    }

    pub fn index(&self) -> Option<&MediaIndex> {
        self.feed.index()
    }

    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.throughput = self.link.estimate();
        stats.buffer_ahead = self.buffered.ahead_of(self.playback.position());
        stats.duration = self.feed.duration();
        stats.position = self.playback.position();
        stats.bytes_held = self.feed.held_bytes() as u64;
        stats
    }

    pub fn options(&self) -> &PolicyOptions {
        &self.options
    }

    /// Whether request `id` is still wanted: false once it completed, or the
    /// policy aborted it (an [`Action::Abort`] says so too).
    pub fn is_live(&self, id: RequestId) -> bool {
        self.requests.get(id).is_some()
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

    /// The URL's token expires at `expires_at` (the shell's clock; none:
    /// no expiry known). With `authorize`, a new URL is asked for ahead of
    /// it ([`Action::Authorize`]).
    pub fn set_token_expiry(&mut self, now: Millis, expires_at: Option<Millis>) {
        self.authorization.set_expiry(now, expires_at);
        self.sync_authorize_timer();
    }

    /// The page answered an [`Action::Authorize`]: `Ok` with the new URL's
    /// token expiry (the shell fetches from the new URL from now on), or
    /// why it gave none.
    pub fn handle_authorized(&mut self, now: Millis, answer: Result<Option<Millis>, String>) {
        if self.state == State::Error {
            return;
        }
        let answered = self.authorization.answered(now, answer);
        self.sync_authorize_timer();
        match answered {
            Ok(()) => self.plan_fetch(now),
            Err((code, message)) => self.fail(code, message),
        }
    }

    /// The server refused request `id` (HTTP 401 or 403) with `body` (the
    /// first [`REFUSAL_BODY_BYTES`] of it): a token that expired is
    /// replaced through `authorize` once; otherwise, or again, one error.
    pub fn handle_refused(&mut self, now: Millis, id: RequestId, body: &str) {
        if self.requests.take(id, &mut self.timers).is_none() {
            return;
        }
        self.stats.refused += 1;
        let wait_ms = self.options.request_timeout_ms;
        match self
            .authorization
            .refused(now, Refusal::from_body(body), wait_ms)
        {
            AfterRefusal::Authorize => {
                self.stats.authorizations += 1;
                self.sync_authorize_timer();
                self.actions.push_back(Action::Authorize);
            }
            AfterRefusal::Wait => self.sync_authorize_timer(),
            AfterRefusal::Fail(code, message) => self.fail(code, message),
        }
    }

    fn sync_authorize_timer(&mut self) {
        match self.authorization.refresh_at() {
            Some(at) => self.timers.set(Timer::Authorize, at),
            None => self.timers.stop(Timer::Authorize),
        }
    }

    /// The viewer moved the playhead to `to` seconds.
    pub fn seek(&mut self, now: Millis, to: f64) {
        if self.state == State::Error {
            return;
        }
        self.playback.seek_to(to);
        let timeline = self.timeline();
        let view = SeekView {
            ahead: self.buffered.ahead_of(to),
            startup: self.thresholds().startup(),
            timeline,
            run_floor: self.schedule.run_floor(timeline),
            cursor: self.schedule.cursor(),
            link: self.link.estimate(),
            min_request: self.options.min_request,
            shift: self.feed.presentation().map_or(0.0, |w| w.offset),
        };
        match seek::plan(to, &view) {
            SeekPlan::Buffered => {
                self.plan_fetch(now);
                return;
            }
            SeekPlan::Unindexed | SeekPlan::Near => {}
            SeekPlan::NewRun {
                offset,
                timestamp_offset,
            } => self.start_run(offset, timestamp_offset),
        }
        self.hold_for(State::Seeking);
        self.plan_fetch(now);
    }

    /// The browser threw QuotaExceededError on append: evict harder and
    /// lower the memory cap to what fit. The shell retries the append.
    pub fn handle_quota_exceeded(&mut self, now: Millis) {
        let position = self.playback.position();
        let held = self.schedule.bytes_held(
            self.timeline(),
            position,
            self.options.behind,
            self.buffered.oldest(),
        );
        self.schedule.lower_cap(held);
        if let Some(range) = buffer::quota_eviction(position) {
            self.actions.push_back(Action::Evict { range });
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
        let Some(start) = self.requests.get(id).map(|r| r.range.start) else {
            return;
        };
        match response::reply(status, start, total, self.feed.need().is_some()) {
            Reply::Partial => {
                if let Some(len) = total {
                    self.file_len = total;
                    // An open-ended request ends where the file does.
                    if let Some(request) = self.requests.get_mut(id)
                        && request.range.end == OPEN_END
                    {
                        request.range.end = len.max(request.range.start);
                    }
                }
            }
            Reply::WholeFile => {
                self.file_len = total;
                if let Some(request) = self.requests.get_mut(id) {
                    request.range.end = total.unwrap_or(u64::MAX);
                }
            }
            Reply::Retry(reason) => {
                self.requests.take(id, &mut self.timers);
                self.schedule_retry(now, reason);
            }
            Reply::Fail(code, message) => self.fail(code, message),
        }
    }

    /// What the server said of its delivery of `id` (its `CMSD-Dynamic`
    /// header), with the response head: a paced response's timing is then
    /// not taken for the link's ([`ServerDelivery`]).
    pub fn handle_delivery(&mut self, id: RequestId, server: ServerDelivery) {
        if let Some(request) = self.requests.get_mut(id) {
            request.delivery = Some(server);
        }
    }

    /// `data` arrived for request `id` (in order).
    pub fn handle_data(&mut self, now: Millis, id: RequestId, data: &[u8]) {
        let len = data.len() as u64;
        let idle_ms = self.options.request_timeout_ms;
        let Some(arrival) = self
            .requests
            .on_data(id, now, len, idle_ms, &mut self.timers)
        else {
            return;
        };
        let (offset, media) = (arrival.offset, arrival.media);
        self.stats.bytes_fetched += len;
        match arrival.delivery {
            Some(server) if server.paced_bps.is_some() && !arrival.first => {
                let window = self
                    .requests
                    .get_mut(id)
                    .and_then(|r| r.paced.add(len, arrival.elapsed_ms));
                if let Some((bytes, ms)) = window {
                    self.link.on_paced(bytes, ms, &server);
                }
            }
            Some(server) if server.duress && !arrival.first => {
                self.link.on_duress_data(len, arrival.elapsed_ms);
            }
            _ => self.link.on_data(arrival.first, len, arrival.elapsed_ms),
        }
        self.retry.reset();
        self.authorization.delivered();
        if media {
            self.schedule.advance_to(offset + len);
        }
        let configured_before = self.append.configured();
        if media && !configured_before {
            self.feed.keep_early(offset, data);
        }
        let fed = self.feed_indexer(offset, data, media);
        let delivered = fed.and_then(|()| {
            if media && configured_before {
                let cursor = self.schedule.cursor();
                self.append.deliver(offset, data, cursor, &mut self.actions)
            } else {
                Ok(())
            }
        });
        if let Err(error) = delivered {
            self.fail_with(&error);
            return;
        }
        if media {
            self.end_open_run_if_done(now);
        }
        if !self.requests.side_busy() && self.feed.need().is_some() {
            // Index bytes elsewhere: ask now, beside the media request.
            self.plan_fetch(now);
        }
    }

    /// Ends the open-ended media request once the run has what it wants
    /// (see [`Schedule::should_stop`]): the response is cut where it
    /// stands, as a completed request, and the next is planned as usual.
    fn end_open_run_if_done(&mut self, now: Millis) {
        if !self.requests.media().is_some_and(|r| r.open) || self.state == State::Error {
            return;
        }
        if !self.schedule.should_stop(&self.situation()) {
            return;
        }
        if let Some(request) = self.requests.take_media(&mut self.timers) {
            self.actions.push_back(Action::Abort { id: request.id });
            self.link.on_done();
            self.plan_fetch(now);
        }
    }

    /// Request `id` ended.
    pub fn handle_done(&mut self, now: Millis, id: RequestId, outcome: Outcome) {
        let Some(mut request) = self.requests.take(id, &mut self.timers) else {
            return;
        };
        if let Some(server) = request.delivery {
            let (bytes, ms) = request.paced.take();
            self.link.on_paced(bytes, ms, &server);
        }
        self.link.on_done();
        let ended = response::body_end(&request.range, request.received, outcome, self.file_len);
        if let Err(reason) = ended {
            self.schedule_retry(now, reason);
            return;
        }
        if !request.media && !self.feed.side_done(&request.range) {
            self.fail(
                ErrorCode::Format,
                "the file's index could not be read".into(),
            );
            return;
        }
        self.check_index_reachable();
        if self.state == State::Error {
            return;
        }
        self.plan_fetch(now);
    }

    /// The indexer made progress by itself (code it needed has loaded):
    /// look at it again as if bytes had come.
    pub fn handle_indexer_progress(&mut self, now: Millis) {
        if self.state == State::Error {
            return;
        }
        if let Err(error) = self.feed_at(self.feed.frontier(), &[], true) {
            self.fail_with(&error);
            return;
        }
        self.check_index_reachable();
        if self.state == State::Error {
            return;
        }
        self.plan_fetch(now);
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
        self.playback.report(position, paused);
        self.buffered.set(buffered);
        if self.state == State::Error {
            return;
        }
        let seen = Sighting {
            now,
            ahead: self.buffered.ahead_of(position),
            everything: self.all_fetched(),
            duration: self.feed.duration(),
            starved,
            configured: self.append.configured(),
        };
        match self.playback.judge(self.state, &seen, &self.thresholds()) {
            Transition::Stay => {}
            Transition::Start => {
                if self.stats.startup_ms.is_none() {
                    self.stats.startup_ms = self.started_at.map(|t| now - t);
                }
                self.release(now);
            }
            Transition::Resume => self.release(now),
            Transition::Stall => {
                self.stats.stalls += 1;
                self.stalled_since_request = true;
                self.playback.stall(now);
                self.actions.push_back(Action::Stall { position });
                self.hold_for(State::Stalled);
            }
            Transition::To(state) => self.set_state(state),
        }
        if let Some(range) = self.buffered.eviction(position, self.options.behind) {
            self.actions.push_back(Action::Evict { range });
        }
        self.plan_fetch(now);
    }

    /// When [`Policy::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.timers.next()
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        for id in self.requests.silent(&self.timers, now) {
            self.requests.take(id, &mut self.timers);
            self.actions.push_back(Action::Abort { id });
            self.schedule_retry(now, "no data for too long".into());
        }
        if self.timers.is_expired(Timer::Retry, now) {
            self.timers.stop(Timer::Retry);
            self.plan_fetch(now);
        }
        if let Some((code, message)) = self.authorization.overdue(now) {
            self.fail(code, message);
        }
        if self.state != State::Error && self.authorization.due(now) {
            self.stats.authorizations += 1;
            self.actions.push_back(Action::Authorize);
        }
        self.sync_authorize_timer();
    }

    /// The next thing for the shell to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    // ---------------------------------------------------------------- state

    fn set_state(&mut self, state: State) {
        if state != self.state {
            let previous = self.state;
            self.state = state;
            self.actions.push_back(Action::State { state, previous });
        }
    }

    fn hold_for(&mut self, state: State) {
        self.playback.hold(&mut self.actions);
        self.set_state(state);
    }

    fn release(&mut self, now: Millis) {
        if let Some(stall_ms) = self.playback.release(now, &mut self.actions) {
            self.stats.stall_ms += stall_ms;
        }
        self.set_state(self.playback.running_state());
    }

    /// Gives up on a media error (see `ErrorCode::from`).
    fn fail_with(&mut self, error: &MediaError) {
        self.fail(ErrorCode::from(error), error.to_string());
    }

    fn fail(&mut self, code: ErrorCode, message: String) {
        if self.state == State::Error {
            return;
        }
        for request in self
            .requests
            .take_all(&mut self.timers)
            .into_iter()
            .flatten()
        {
            self.actions.push_back(Action::Abort { id: request.id });
        }
        self.timers.stop(Timer::Retry);
        self.timers.stop(Timer::Authorize);
        self.set_state(State::Error);
        self.actions.push_back(Action::Fail { code, message });
    }

    fn schedule_retry(&mut self, now: Millis, reason: String) {
        if self.state == State::Error {
            return;
        }
        self.stats.retries += 1;
        match self.retry.failed(&self.options) {
            Verdict::After(ms) => self.timers.set(Timer::Retry, now + ms),
            Verdict::GiveUp { attempts } => self.fail(
                ErrorCode::Network,
                format!("giving up after {attempts} attempts: {reason}"),
            ),
        }
    }

    // ---------------------------------------------------------------- the index

    fn feed_indexer(&mut self, offset: u64, data: &[u8], media: bool) -> Result<(), MediaError> {
        if !self.feed.has_indexer() {
            let Some(head) = self.feed.sniff(offset, data, self.file_len)? else {
                return Ok(());
            };
            self.feed_continuing(0, &head)?;
            return self.feed_continuing(offset, data);
        }
        if self.feed.is_complete() {
            return Ok(());
        }
        if media {
            self.feed_continuing(offset, data)
        } else {
            self.feed_at(offset, data, false)
        }
    }

    /// Feeds the part of a media-run chunk that continues the indexer's frontier.
    fn feed_continuing(&mut self, offset: u64, data: &[u8]) -> Result<(), MediaError> {
        match self.feed.continuing(offset, data) {
            Some((from, rest)) => self.feed_at(from, rest, true),
            None => Ok(()),
        }
    }

    /// Feeds the indexer bytes of the media `run`, or of a side request.
    fn feed_at(&mut self, offset: u64, data: &[u8], run: bool) -> Result<(), MediaError> {
        let run_reach = self.link.request_size(&self.options);
        if self
            .feed
            .feed_at(offset, data, run, self.file_len, run_reach)?
        {
            if !self.append.configured() {
                self.configure();
            }
            self.feed.note_wants();
            self.append
                .announce(self.feed.duration(), &mut self.actions);
        }
        Ok(())
    }

    /// Every byte is here, nothing more is asked, and still no index: the
    /// file is cut short (or not media at all).
    fn check_index_reachable(&mut self) {
        if let Some(error) = self.feed.unreachable(self.all_fetched(), self.file_len) {
            self.fail_with(&error);
        }
    }

    fn configure(&mut self) {
        if let Some(message) = self.feed.overrun(self.file_len) {
            self.fail(ErrorCode::Truncated, message);
        }
        if self.state == State::Error || self.feed.index().is_none() {
            return;
        }
        let (early_start, early) = self.feed.take_early();
        let Some(indexer) = self.feed.indexer_mut() else {
            return;
        };
        if !self
            .append
            .configure(indexer, early_start, &mut self.actions)
        {
            return;
        }
        let cursor = self.schedule.cursor();
        if let Err(error) = self
            .append
            .deliver(early_start, &early, cursor, &mut self.actions)
        {
            self.fail_with(&error);
            return;
        }
        self.set_state(State::Buffering);
    }

    // ---------------------------------------------------------------- fetching

    fn timeline(&self) -> Option<Timeline<'_>> {
        self.feed.index().map(|i| Timeline::new(i, self.file_len))
    }

    fn media_end(&self) -> Option<u64> {
        timeline::media_end(self.feed.index(), self.file_len)
    }

    fn all_fetched(&self) -> bool {
        self.schedule.all_fetched(self.media_end())
    }

    /// How much must be buffered to start or resume at the playhead.
    fn thresholds(&self) -> Thresholds<'_> {
        let position = self.playback.position();
        Thresholds {
            options: &self.options,
            media: self.timeline().and_then(|t| t.bitrate()),
            link: self.link.estimate(),
            remaining: self
                .feed
                .duration()
                .map_or(f64::INFINITY, |d| (d - position).max(0.0)),
        }
    }

    /// A new run starts at byte `offset`: the old one's request goes.
    fn start_run(&mut self, offset: u64, timestamp_offset: Option<f64>) {
        if let Some(request) = self.requests.take_media(&mut self.timers) {
            self.actions.push_back(Action::Abort { id: request.id });
            self.stats.aborted += 1;
        }
        self.timers.stop(Timer::Retry);
        self.retry.reset();
        self.schedule.restart_at(offset);
        // The unit's time, for a rewrite that must give fragments their
        // decode times (`mp4::normalise`).
        let unit_start = self.feed.index().and_then(|i| {
            let unit = i.segment_containing_byte(offset)?;
            Some(i.segments[unit].start)
        });
        self.append.restart_at(offset, unit_start);
        self.actions.push_back(Action::ResetRun {
            offset,
            timestamp_offset,
        });
    }

    fn plan_fetch(&mut self, now: Millis) {
        if self.timers.is_set(Timer::Retry)
            || self.authorization.blocks_fetching()
            || matches!(self.state, State::Error | State::Idle)
        {
            return;
        }
        if !self.requests.side_busy()
            && let Some(need) = self.feed.need().cloned()
        {
            self.issue(now, need, false, false);
        }
        if self.requests.media_busy() {
            return;
        }
        let next = self.schedule.next(&self.situation());
        match next {
            Next::Wait => {}
            Next::EndOfStream => {
                self.schedule.end_said();
                self.actions.push_back(Action::EndOfStream);
            }
            Next::Fetch(range) => self.issue(now, range, true, false),
            Next::Open(range) => self.issue(now, range, true, true),
        }
    }

    /// What the schedule looks at: the run, the playhead, the link.
    fn situation(&self) -> Situation<'_> {
        let timeline = self.timeline();
        Situation {
            options: &self.options,
            configured: self.append.configured(),
            side_busy: self.requests.side_busy(),
            requests: self.stats.requests,
            position: self.playback.position(),
            oldest_buffered: self.buffered.oldest(),
            timeline,
            media_end: timeline::media_end(self.feed.index(), self.file_len),
            request_size: self.link.request_size(&self.options),
            goal: goal::goal(
                &self.options,
                timeline.and_then(|t| t.bitrate()),
                self.link.estimate(),
            ),
        }
    }

    fn issue(&mut self, now: Millis, range: Range<u64>, media: bool, open: bool) {
        self.stats.requests += 1;
        let idle_ms = self.options.request_timeout_ms;
        let cmcd = Box::new(self.client_data(&range, media));
        if media {
            self.stalled_since_request = false;
        }
        let id = self
            .requests
            .issue(now, range.clone(), media, open, idle_ms, &mut self.timers);
        self.actions.push_back(Action::Fetch {
            id,
            range,
            media,
            cmcd,
        });
    }

    /// The CMCD of a request for `range` about to be issued.
    fn client_data(&self, range: &Range<u64>, media: bool) -> crate::cmcd::Cmcd {
        let timeline = self.timeline();
        let range_seconds = timeline.and_then(|t| {
            let end = range.end.min(self.file_len.unwrap_or(range.end));
            Some(t.time_at_byte(end)? - t.time_at_byte(range.start)?)
        });
        client_data::client_data(&client_data::Context {
            state: self.state,
            range,
            media,
            ahead: self.buffered.ahead_of(self.playback.position()),
            configured: self.append.configured(),
            bitrate: timeline.and_then(|t| t.bitrate()),
            throughput: self.link.estimate(),
            index: self.feed.index(),
            range_seconds: range_seconds.filter(|s| *s > 0.0),
            stalled: self.stalled_since_request && media,
            session_id: self.options.session_id.as_deref(),
        })
    }
}

#[cfg(test)]
mod tests;
