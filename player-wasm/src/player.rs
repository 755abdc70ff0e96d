//! The player shell: performs what the buffer policy decides. Owns the
//! MediaSource, its one SourceBuffer, the in-flight fetches, the timers and
//! the listeners on the `<video>`; every browser event becomes a `handle_*`
//! call on the policy, then [`Shared::drive`] drains its actions.
//!
//! The rules live in leaf modules this one uses: what the SourceBuffer does
//! next ([`MseQueue`]) and how each step is done on it (`source_buffer`),
//! holding playback ([`Hold`]), when to wake the policy ([`Alarm`]), the
//! stats object, the native fallback; fetches report back through
//! [`FetchSink`].

mod authorize;
mod native;

use authorize::expiry_on_clock;
use std::cell::RefCell;
use std::rc::Rc;

use caudal_media::index::Presentation;
use caudal_media::policy::{
    Action, ErrorCode, Millis, OPEN_END, Outcome, Policy, PolicyOptions, RequestId, ServerDelivery,
    token_expiry,
};
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    AbortController, EventTarget, HtmlVideoElement, MediaSource, MediaSourceReadyState,
    SourceBuffer,
};

use crate::element::{self, Listener};
use crate::events::{self, Event};
use crate::fallback::{self, Mode};
use crate::fetcher::{self, FetchSink, Source};
use crate::hold::Hold;
use crate::in_flight::InFlight;
use crate::js;
use crate::mse_queue::MseQueue;
use crate::panic::Rescue;
use crate::remux_bridge;
use crate::source_buffer::{self, Refused};
use crate::stats;
use crate::timer::{self, Alarm, Change, JsTimer};

/// How often playback is sampled besides the media events, milliseconds.
/// The policy needs it: a playhead that froze fires no more events, yet
/// must be noticed as a stall, and `Policy::handle_playback` cannot ask for
/// a wake-up of its own.
const PLAYBACK_TICK_MS: f64 = 200.0;

struct Inner {
    policy: Policy,
    /// Where the file is fetched from; `authorize` may replace it.
    url: String,
    /// The page's `authorize(url) → url | Promise<url>`, for signed URLs.
    authorize: Option<js_sys::Function>,
    video: HtmlVideoElement,
    media_source: Option<MediaSource>,
    object_url: Option<String>,
    source_buffer: Option<SourceBuffer>,
    /// A Configure that came before `sourceopen`.
    pending_mime: Option<(String, Option<f64>, Option<Presentation>)>,
    /// What the SourceBuffer does next.
    queue: MseQueue<Uint8Array>,
    requests: InFlight,
    hold: Hold,
    /// What the panic hook needs to hand the file to the browser.
    rescue: Rc<Rescue>,
    mode: Mode,
    destroyed: bool,
    /// Dispatched once no borrow is held (listeners may call back in).
    events: Vec<Event>,
    listeners: Vec<Listener>,
    /// Rings at the policy's [`Policy::poll_timeout`] or the next playback
    /// tick, whichever is nearer.
    alarm_timer: Option<JsTimer>,
    alarm: Alarm<Millis>,
    /// When playback is sampled next (every [`PLAYBACK_TICK_MS`]).
    next_tick: Millis,
    fallback_reason: Option<String>,
    /// In native mode, what the one `caudal:error` says if the browser
    /// cannot play the file either.
    native_error: Option<(ErrorCode, String)>,
    /// The browser failed to play the file natively too.
    native_failed: bool,
    /// Playback begins here, not at 0 (`Action::Configure`).
    start: f64,
    /// The loader's request for the file, sent before this module loaded;
    /// taken by the first fetch.
    early: Option<Early>,
    /// How each request tells the server its CMCD.
    cmcd: CmcdMode,
}

/// How the player sends CMCD (option `cmcd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CmcdMode {
    /// The `CMCD` query argument: no CORS preflight (the default).
    #[default]
    Query,
    /// The `CMCD-*` headers: a preflight on another origin.
    Headers,
    Off,
}

impl CmcdMode {
    /// The option's value: `"query"`, `"header"` or `"off"` (`false` too).
    pub fn parse(value: &str) -> Option<CmcdMode> {
        match value {
            "query" => Some(CmcdMode::Query),
            "header" | "headers" => Some(CmcdMode::Headers),
            "off" | "false" => Some(CmcdMode::Off),
            _ => None,
        }
    }
}

/// A `GET url` with `Range: bytes=0-` that `player.js` started while the
/// player's code was still on its way, so the first media bytes need not
/// wait for it: the response, and the controller that cancels it.
pub struct Early {
    pub response: js_sys::Promise,
    pub controller: AbortController,
}

/// The player, shared by callbacks.
#[derive(Clone)]
pub struct Shared(Rc<RefCell<Inner>>);

impl Shared {
    /// Attaches to `video` and starts loading `url` under the policy.
    pub fn attach(
        video: HtmlVideoElement,
        url: String,
        options: PolicyOptions,
        early: Option<Early>,
        authorize: Option<js_sys::Function>,
        cmcd: CmcdMode,
    ) -> Shared {
        let wants_play = video.autoplay();
        // The policy decides when playback starts, not the browser's autoplay.
        video.set_autoplay(false);
        let rescue = Rescue::new(video.clone(), url.clone(), wants_play);
        let shared = Shared(Rc::new(RefCell::new(Inner {
            policy: Policy::new(options),
            url,
            authorize,
            video: video.clone(),
            media_source: None,
            object_url: None,
            source_buffer: None,
            pending_mime: None,
            queue: MseQueue::default(),
            requests: InFlight::default(),
            hold: Hold::new(wants_play),
            rescue,
            mode: Mode::Mse,
            destroyed: false,
            events: Vec::new(),
            listeners: Vec::new(),
            alarm_timer: None,
            alarm: Alarm::default(),
            next_tick: Millis::ZERO,
            fallback_reason: None,
            native_error: None,
            native_failed: false,
            start: 0.0,
            early,
            cmcd,
        })));
        if !js::media_source_present() {
            shared.fall_back("this browser has no Media Source Extensions");
            return shared;
        }
        // Each container is read in its reader module, loaded beside the
        // file or when the first bytes tell the format.
        let weak = Rc::downgrade(&shared.0);
        let progress: Rc<dyn Fn()> = Rc::new(move || {
            if let Some(inner) = weak.upgrade() {
                Shared(inner).indexer_progress();
            }
        });
        shared
            .0
            .borrow_mut()
            .policy
            .set_readers(Some(Box::new(move |format| {
                remux_bridge::reader_for(progress, format)
            })));
        match MediaSource::new() {
            Ok(media_source) => {
                let object_url = web_sys::Url::create_object_url_with_source(&media_source).ok();
                {
                    let mut inner = shared.0.borrow_mut();
                    if let Some(url) = &object_url {
                        inner.video.set_src(url);
                    }
                    inner.media_source = Some(media_source.clone());
                    inner.object_url = object_url;
                }
                shared.listen(media_source.unchecked_ref(), "sourceopen", |s, _| {
                    s.source_open()
                });
            }
            Err(_) => {
                shared.fall_back("MediaSource could not be created");
                return shared;
            }
        }
        let target: &EventTarget = video.unchecked_ref();
        shared.listen(target, "seeking", |s, _| s.seeking());
        shared.listen(target, "play", |s, _| s.play_event());
        shared.listen(target, "pause", |s, _| s.pause_event());
        shared.listen(target, "ratechange", |s, _| s.rate_change());
        for name in ["timeupdate", "waiting", "progress", "ended"] {
            shared.listen(target, name, |s, _| s.playback());
        }
        shared.start_timer();
        let now = js::now();
        {
            let mut inner = shared.0.borrow_mut();
            let expires_at = expiry_on_clock(now, &inner.url);
            inner.policy.set_token_expiry(now, expires_at);
            inner.policy.start(now);
        }
        shared.drive();
        shared
    }

    fn listen(
        &self,
        target: &EventTarget,
        name: &'static str,
        handler: fn(&Shared, web_sys::Event),
    ) {
        let weak = Rc::downgrade(&self.0);
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            if let Some(inner) = weak.upgrade() {
                handler(&Shared(inner), event);
            }
        });
        let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        self.0
            .borrow_mut()
            .listeners
            .push((target.clone(), name, closure));
    }

    /// A callback on this player that does nothing once it is gone.
    fn callback(&self, run: fn(&Shared)) -> Closure<dyn FnMut()> {
        let weak = Rc::downgrade(&self.0);
        Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                run(&Shared(inner));
            }
        })
    }

    /// The timer, armed by the first [`Shared::drive`].
    fn start_timer(&self) {
        let alarm_timer = JsTimer::new(self.callback(Shared::alarm_rang));
        let mut inner = self.0.borrow_mut();
        inner.alarm_timer = Some(alarm_timer);
        inner.next_tick = js::now() + PLAYBACK_TICK_MS;
    }

    /// Keeps the timer armed for the policy's next deadline or the next
    /// tick (after any event that may have moved the deadline).
    fn arm_alarm(inner: &mut Inner) {
        let wanted = match inner.mode {
            Mode::Mse => Some(
                inner
                    .policy
                    .poll_timeout()
                    .map_or(inner.next_tick, |at| at.min(inner.next_tick)),
            ),
            // The browser plays: the policy is no longer woken.
            Mode::Native => None,
        };
        let change = inner.alarm.update(wanted);
        let Some(alarm_timer) = inner.alarm_timer.as_mut() else {
            return;
        };
        match change {
            Change::Keep => {}
            Change::Cancel => alarm_timer.stop(),
            Change::Arm(at) => alarm_timer.start(timer::delay_ms(js::now().as_f64(), at.as_f64())),
        }
    }

    // ------------------------------------------------------------ browser events

    fn source_open(&self) {
        js::mark("caudal:sourceopen");
        let pending = self.0.borrow_mut().pending_mime.take();
        if let Some((mime, duration, window)) = pending {
            self.configure(&mime, duration, window);
        }
        self.drive();
    }

    /// The remuxer module arrived (or failed): the policy looks again.
    fn indexer_progress(&self) {
        self.0
            .borrow_mut()
            .policy
            .handle_indexer_progress(js::now());
        self.drive();
    }

    fn seeking(&self) {
        {
            let mut inner = self.0.borrow_mut();
            let mut to = inner.video.current_time();
            // Before `start` lie frames decoded but never meant to be seen.
            // (The element reports time in whole microseconds: a margin, or
            // the clamp itself would be clamped again, forever.)
            if to < inner.start - 1e-5 {
                to = inner.start;
                inner.video.set_current_time(to);
            }
            inner.policy.seek(js::now(), to);
        }
        self.drive();
    }

    fn play_event(&self) {
        {
            let mut inner = self.0.borrow_mut();
            inner.hold.set_wants_play(true);
            inner.rescue.wants_play.set(true);
        }
        self.playback();
    }

    fn pause_event(&self) {
        {
            let mut inner = self.0.borrow_mut();
            inner.hold.set_wants_play(false);
            inner.rescue.wants_play.set(false);
        }
        self.playback();
    }

    /// The viewer's rate is remembered; while held it stays at zero.
    fn rate_change(&self) {
        let mut inner = self.0.borrow_mut();
        // Playing natively, the rate is the viewer's and the browser's alone.
        if inner.mode != Mode::Mse {
            return;
        }
        let rate = inner.video.playback_rate();
        if let Some(rate) = inner.hold.rate_changed(rate) {
            inner.video.set_playback_rate(rate);
        }
    }

    /// Samples the `<video>` and tells the policy.
    fn playback(&self) {
        {
            let mut inner = self.0.borrow_mut();
            if inner.destroyed || inner.mode != Mode::Mse {
                return;
            }
            let video = inner.video.clone();
            let buffered = video.buffered();
            let ranges: Vec<std::ops::Range<f64>> = (0..buffered.length())
                .filter_map(|i| Some(buffered.start(i).ok()?..buffered.end(i).ok()?))
                .collect();
            let paused = !inner.hold.wants_play();
            // HAVE_FUTURE_DATA is 3: below it, the element cannot advance.
            let starved = !video.seeking() && video.ready_state() < 3 && !ranges.is_empty();
            inner
                .policy
                .handle_playback(js::now(), video.current_time(), &ranges, paused, starved);
        }
        self.drive();
    }

    /// The policy's deadline or the playback tick came (or neither yet: a
    /// deadline that moved later is asked for again).
    fn alarm_rang(&self) {
        let tick = {
            let mut inner = self.0.borrow_mut();
            inner.alarm.rang();
            if inner.destroyed || inner.mode != Mode::Mse {
                return;
            }
            let now = js::now();
            if inner.policy.poll_timeout().is_some_and(|at| now >= at) {
                inner.policy.handle_timeout(now);
            }
            let tick = now >= inner.next_tick;
            if tick {
                inner.next_tick = now + PLAYBACK_TICK_MS;
            }
            tick
        };
        if tick {
            self.playback(); // drives
        } else {
            self.drive();
        }
    }

    /// An append or removal finished: the buffered ranges changed, so the
    /// policy hears of it now rather than at the next tick (startup and a
    /// seek release as soon as enough is buffered). `playback` drives.
    fn update_end(&self) {
        self.playback();
    }

    // ------------------------------------------------------------ performing actions

    /// Performs every pending action, feeds the SourceBuffer, then
    /// dispatches the events (with no borrow held).
    pub fn drive(&self) {
        loop {
            let action = {
                let mut inner = self.0.borrow_mut();
                if inner.destroyed {
                    return;
                }
                // The browser plays the file: the policy's further wishes
                // (holds, fetches) are not acted on; events still go out.
                if inner.mode == Mode::Native {
                    break;
                }
                inner.policy.poll_action()
            };
            match action {
                Some(action) => self.perform(action),
                None => break,
            }
        }
        self.pump();
        let (events, video) = {
            let mut inner = self.0.borrow_mut();
            Self::arm_alarm(&mut inner);
            (std::mem::take(&mut inner.events), inner.video.clone())
        };
        for (name, detail) in events {
            js::dispatch(video.unchecked_ref(), name, &detail);
        }
    }

    fn perform(&self, action: Action) {
        match action {
            Action::Fetch {
                id,
                range,
                media,
                mut cmcd,
            } => {
                let mut inner = self.0.borrow_mut();
                let rate = inner.video.playback_rate();
                if rate.is_finite() && rate > 0.0 {
                    cmcd.pr = Some(rate);
                }
                // The loader's early request serves the first open-ended
                // run request; any other first request makes it moot.
                let early = inner.early.take();
                let (source, controller) = match early {
                    Some(early) if media && range.start == 0 && range.end == OPEN_END => {
                        (Source::Early(early.response), early.controller)
                    }
                    other => {
                        if let Some(early) = other {
                            early.controller.abort();
                        }
                        let Ok(controller) = AbortController::new() else {
                            return;
                        };
                        let (url, headers) = match inner.cmcd {
                            CmcdMode::Query => (
                                caudal_media::cmcd::append_to_url(&inner.url, &cmcd),
                                Vec::new(),
                            ),
                            CmcdMode::Headers => {
                                (inner.url.clone(), caudal_media::cmcd::to_headers(&cmcd))
                            }
                            CmcdMode::Off => (inner.url.clone(), Vec::new()),
                        };
                        let source = Source::Fetch {
                            url,
                            range: range.clone(),
                            headers,
                            signal: controller.signal(),
                        };
                        (source, controller)
                    }
                };
                inner.requests.insert(id.0, controller, range.start, media);
                drop(inner);
                wasm_bindgen_futures::spawn_local(fetcher::run(self.clone(), source, id));
            }
            Action::Abort { id } => {
                let mut inner = self.0.borrow_mut();
                if let Some(controller) = inner.requests.remove(id.0) {
                    controller.abort();
                }
            }
            Action::Configure {
                mime,
                duration,
                raw,
                window,
                start,
            } => {
                js::mark("caudal:configured");
                {
                    let mut inner = self.0.borrow_mut();
                    if !raw {
                        inner.queue.repackaged();
                    }
                    // Before metadata this is the default playback start
                    // position: playback begins there, with no seek.
                    inner.start = start;
                    if start > inner.video.current_time() {
                        inner.video.set_current_time(start);
                    }
                }
                self.configure(&mime, duration, window);
            }
            Action::AppendInit(bytes) => {
                let chunk = Uint8Array::from(bytes.as_slice());
                self.0.borrow_mut().queue.push_init(chunk);
            }
            Action::AppendData(bytes) => {
                let chunk = Uint8Array::from(bytes.as_slice());
                self.0.borrow_mut().queue.push_fragment(chunk);
            }
            Action::Append { end } => self.0.borrow_mut().queue.allow_until(end),
            Action::ResetRun {
                offset,
                timestamp_offset,
            } => self
                .0
                .borrow_mut()
                .queue
                .reset_run(offset, timestamp_offset),
            Action::Evict { range } => self.0.borrow_mut().queue.remove(range),
            Action::Hold => {
                let mut inner = self.0.borrow_mut();
                let rate = inner.video.playback_rate();
                if let Some(rate) = inner.hold.hold(rate) {
                    inner.video.set_playback_rate(rate);
                }
            }
            Action::Release => {
                let mut inner = self.0.borrow_mut();
                if let Some(rate) = inner.hold.release() {
                    inner.video.set_playback_rate(rate);
                }
                if inner.hold.wants_play() && inner.video.paused() {
                    let _ = inner.video.play();
                }
            }
            Action::Stall { position } => self.0.borrow_mut().events.push(events::stall(position)),
            Action::State { state, previous } => self
                .0
                .borrow_mut()
                .events
                .push(events::state(state, previous)),
            Action::Authorize => self.authorize(),
            Action::SetDuration(duration) => self.0.borrow_mut().queue.set_duration(duration),
            Action::EndOfStream => self.0.borrow_mut().queue.end_of_stream(),
            // What Caudal cannot read or MSE will not take (a container it
            // does not know, a codec or layout MSE refuses), the browser's
            // own element may still play: it gets the file, and the error
            // is told only if it cannot either.
            Action::Fail { code, message }
                if matches!(
                    code,
                    ErrorCode::Format | ErrorCode::Unsupported | ErrorCode::Decode
                ) =>
            {
                self.0.borrow_mut().native_error = Some((code, message.clone()));
                self.fall_back(&format!("Caudal cannot stream this file: {message}"));
            }
            Action::Fail { code, message } => {
                let mut inner = self.0.borrow_mut();
                inner.requests.abort_all();
                inner.events.push(events::error(code, &message));
            }
        }
    }

    fn configure(&self, mime: &str, duration: Option<f64>, window: Option<Presentation>) {
        let media_source = {
            let mut inner = self.0.borrow_mut();
            let Some(media_source) = inner.media_source.clone() else {
                return;
            };
            if media_source.ready_state() != MediaSourceReadyState::Open {
                inner.pending_mime = Some((mime.to_owned(), duration, window));
                return;
            }
            media_source
        };
        if !MediaSource::is_type_supported(mime) {
            self.fall_back(&format!("this browser cannot play {mime} through MSE"));
            return;
        }
        match source_buffer::add(&media_source, mime, duration, window) {
            Ok(source_buffer) => {
                self.0.borrow_mut().source_buffer = Some(source_buffer.clone());
                self.listen(source_buffer.unchecked_ref(), "updateend", |s, _| {
                    s.update_end()
                });
                self.listen(source_buffer.unchecked_ref(), "error", |s, _| {
                    s.0.borrow_mut()
                        .policy
                        .handle_append_error("SourceBuffer error");
                    s.drive();
                });
            }
            Err(error) => self.fall_back(&js::error_message(&error)),
        }
    }

    /// Feeds the SourceBuffer: one operation at a time, each `updateend`
    /// brings the next. A refused append stays queued; the policy hears why.
    fn pump(&self) {
        let mut inner = self.0.borrow_mut();
        let Some(sb) = inner.source_buffer.clone() else {
            return;
        };
        let media_source = inner.media_source.clone();
        match source_buffer::run_next(&sb, media_source.as_ref(), &mut inner.queue) {
            Ok(()) => {}
            Err(Refused::Quota) => inner.policy.handle_quota_exceeded(js::now()),
            Err(Refused::Error(message)) => inner.policy.handle_append_error(&message),
        }
    }

    // ------------------------------------------------------------ the JS API

    pub fn stats(&self) -> JsValue {
        let inner = self.0.borrow();
        stats::to_js(
            inner.mode,
            inner.native_failed,
            inner.policy.state(),
            &inner.policy.stats(),
            inner.video.current_time(),
            inner.fallback_reason.as_deref(),
        )
    }

    pub fn destroy(&self) {
        let mut inner = self.0.borrow_mut();
        if inner.destroyed {
            return;
        }
        inner.destroyed = true;
        inner.rescue.live.set(false);
        inner.requests.abort_all();
        if let Some(early) = inner.early.take() {
            early.controller.abort();
        }
        element::remove_listeners(&mut inner.listeners);
        if let Some(alarm_timer) = inner.alarm_timer.as_mut() {
            alarm_timer.stop();
        }
        let object_url = inner.object_url.take();
        element::release_source(&inner.video, object_url);
        inner.queue.clear();
        inner.source_buffer = None;
        inner.media_source = None;
    }
}

/// Fetches report here: the policy hears of them, then drives.
impl FetchSink for Shared {
    fn is_live(&self, id: RequestId) -> bool {
        let inner = self.0.borrow();
        !inner.destroyed && inner.requests.contains(id.0)
    }

    fn response(
        &self,
        id: RequestId,
        status: u16,
        total: Option<u64>,
        cmsd: Option<String>,
    ) -> bool {
        if !self.is_live(id) {
            return false;
        }
        {
            let mut inner = self.0.borrow_mut();
            if let Some(server) = cmsd.as_deref().and_then(ServerDelivery::from_cmsd_dynamic) {
                inner.policy.handle_delivery(id, server);
            }
            inner.policy.handle_response(js::now(), id, status, total);
        }
        self.drive();
        self.is_live(id) && (200..300).contains(&status)
    }

    fn refused(&self, id: RequestId, body: String) {
        {
            let mut inner = self.0.borrow_mut();
            inner.requests.remove(id.0);
            inner.policy.handle_refused(js::now(), id, &body);
        }
        self.drive();
    }

    fn data(&self, id: RequestId, chunk: Uint8Array) {
        {
            let mut inner = self.0.borrow_mut();
            let len = u64::from(chunk.length());
            let Some((offset, media)) = inner.requests.advance(id.0, len) else {
                return;
            };
            let bytes = chunk.to_vec();
            if media {
                inner.queue.push_file(offset, len, chunk);
            }
            inner.policy.handle_data(js::now(), id, &bytes);
        }
        self.drive();
    }

    fn finish(&self, id: RequestId, outcome: Outcome) {
        {
            let mut inner = self.0.borrow_mut();
            inner.requests.remove(id.0);
            inner.policy.handle_done(js::now(), id, outcome);
        }
        self.drive();
    }
}
