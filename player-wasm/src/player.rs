//! The player: performs what the buffer policy decides. Owns the
//! MediaSource, its one SourceBuffer, the in-flight fetches, and the
//! listeners on the `<video>`; every browser event becomes a `handle_*`
//! call on the policy, then [`Shared::drive`] drains its actions.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use caudal_media::index::Presentation;
use caudal_media::policy::{Action, Outcome, Policy, PolicyOptions, RequestId, State};
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    AbortController, EventTarget, HtmlVideoElement, MediaSource, MediaSourceReadyState,
    SourceBuffer,
};

use crate::js;

/// How often playback is sampled besides the media events.
const TICK_MS: i32 = 200;

/// How the file is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Caudal's policy drives MSE.
    Mse,
    /// The browser plays `src=` itself (MSE or the codecs unsupported).
    Native,
}

/// A SourceBuffer operation that is not an append.
#[derive(Debug)]
enum Op {
    /// `abort()` the segment parser (a new run), then maybe set `timestampOffset`.
    Reset(Option<f64>),
    Remove(f64, f64),
    Duration(f64),
    EndOfStream,
}

/// A registered listener, kept to remove it on destroy.
type Listener = (
    EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
);

/// An event to dispatch once no borrow is held (listeners may call back in).
type PendingEvent = (&'static str, JsValue);

struct Inner {
    policy: Policy,
    url: String,
    video: HtmlVideoElement,
    media_source: Option<MediaSource>,
    object_url: Option<String>,
    source_buffer: Option<SourceBuffer>,
    /// A Configure that came before `sourceopen`.
    pending_mime: Option<(String, Option<f64>, Option<Presentation>)>,
    /// Chunks to append: file bytes with their offset (appended up to
    /// `append_limit`), or built bytes (`None`: always appendable).
    queue: VecDeque<(Option<u64>, Uint8Array)>,
    /// False once the policy said it repackages: file bytes are not queued.
    raw: bool,
    /// Offset of the next media byte to queue.
    queue_end: u64,
    append_limit: u64,
    ops: VecDeque<Op>,
    requests: HashMap<u32, AbortController>,
    /// File offset where each live request's next byte goes.
    request_offsets: HashMap<u32, (u64, bool)>,
    held: bool,
    wants_play: bool,
    /// The viewer's playback rate, restored on release.
    user_rate: f64,
    /// `ratechange` events we caused ourselves and must not take as the viewer's.
    own_rate_changes: u32,
    mode: Mode,
    destroyed: bool,
    events: Vec<PendingEvent>,
    listeners: Vec<Listener>,
    timer: Option<(i32, Closure<dyn FnMut()>)>,
    fallback_reason: Option<String>,
    /// Playback begins here, not at 0 (`Action::Configure`).
    start: f64,
}

/// The player, shared by callbacks.
#[derive(Clone)]
pub struct Shared(Rc<RefCell<Inner>>);

impl Shared {
    /// Attaches to `video` and starts loading `url` under the policy.
    pub fn attach(video: HtmlVideoElement, url: String, options: PolicyOptions) -> Shared {
        let wants_play = video.autoplay();
        // The policy decides when playback starts, not the browser's autoplay.
        video.set_autoplay(false);
        let shared = Shared(Rc::new(RefCell::new(Inner {
            policy: Policy::new(options),
            url,
            video: video.clone(),
            media_source: None,
            object_url: None,
            source_buffer: None,
            pending_mime: None,
            queue: VecDeque::new(),
            raw: true,
            queue_end: 0,
            append_limit: 0,
            ops: VecDeque::new(),
            requests: HashMap::new(),
            request_offsets: HashMap::new(),
            held: false,
            wants_play,
            user_rate: 1.0,
            own_rate_changes: 0,
            mode: Mode::Mse,
            destroyed: false,
            events: Vec::new(),
            listeners: Vec::new(),
            timer: None,
            fallback_reason: None,
            start: 0.0,
        })));
        if !crate::media_source_present() {
            shared.fall_back("this browser has no Media Source Extensions");
            return shared;
        }
        // Plain MP4s are read by the remuxer module, loaded when one comes.
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
            .set_plain_mp4(Some(Box::new(move || {
                Box::new(crate::remux_bridge::RemuxBridge::new(progress))
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
        shared.0.borrow_mut().policy.start(now);
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

    fn start_timer(&self) {
        let weak = Rc::downgrade(&self.0);
        let closure = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                let shared = Shared(inner);
                shared.timeout_check();
                shared.playback();
            }
        });
        if let Some(window) = web_sys::window()
            && let Ok(handle) = window.set_interval_with_callback_and_timeout_and_arguments_0(
                closure.as_ref().unchecked_ref(),
                TICK_MS,
            )
        {
            self.0.borrow_mut().timer = Some((handle, closure));
        }
    }

    // ------------------------------------------------------------ browser events

    fn source_open(&self) {
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
        self.0.borrow_mut().wants_play = true;
        self.playback();
    }

    fn pause_event(&self) {
        self.0.borrow_mut().wants_play = false;
        self.playback();
    }

    /// The viewer's rate is remembered; while held it stays at zero.
    fn rate_change(&self) {
        let mut inner = self.0.borrow_mut();
        if inner.own_rate_changes > 0 {
            inner.own_rate_changes -= 1;
            return;
        }
        let rate = inner.video.playback_rate();
        if rate > 0.0 {
            inner.user_rate = rate;
        }
        if inner.held && rate != 0.0 {
            inner.own_rate_changes += 1;
            inner.video.set_playback_rate(0.0);
        }
    }

    /// Samples the `<video>` and tells the policy.
    pub fn playback(&self) {
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
            let paused = !inner.wants_play;
            // HAVE_FUTURE_DATA is 3: below it, the element cannot advance.
            let starved = !video.seeking() && video.ready_state() < 3 && !ranges.is_empty();
            inner
                .policy
                .handle_playback(js::now(), video.current_time(), &ranges, paused, starved);
        }
        self.drive();
    }

    fn timeout_check(&self) {
        let mut inner = self.0.borrow_mut();
        let now = js::now();
        if inner.policy.poll_timeout().is_some_and(|at| now >= at) {
            inner.policy.handle_timeout(now);
        }
    }

    /// An append or removal finished: the buffered ranges changed, so the
    /// policy hears of it now rather than at the next tick (startup and a
    /// seek release as soon as enough is buffered). `playback` drives.
    fn update_end(&self) {
        self.playback();
    }

    // ------------------------------------------------------------ fetch callbacks

    pub fn is_live(&self, id: RequestId) -> bool {
        let inner = self.0.borrow();
        !inner.destroyed && inner.requests.contains_key(&id.0)
    }

    /// Response headers; false when the body is not wanted.
    pub fn response(&self, id: RequestId, status: u16, total: Option<u64>) -> bool {
        if !self.is_live(id) {
            return false;
        }
        self.0
            .borrow_mut()
            .policy
            .handle_response(js::now(), id, status, total);
        self.drive();
        self.is_live(id) && (200..300).contains(&status)
    }

    pub fn data(&self, id: RequestId, chunk: Uint8Array) {
        {
            let mut inner = self.0.borrow_mut();
            let Some(&(offset, media)) = inner.request_offsets.get(&id.0) else {
                return;
            };
            let len = u64::from(chunk.length());
            inner.request_offsets.insert(id.0, (offset + len, media));
            let bytes = chunk.to_vec();
            if media && inner.raw && offset == inner.queue_end {
                inner.queue.push_back((Some(offset), chunk));
                inner.queue_end = offset + len;
            }
            inner.policy.handle_data(js::now(), id, &bytes);
        }
        self.drive();
    }

    pub fn finish(&self, id: RequestId, outcome: Outcome) {
        {
            let mut inner = self.0.borrow_mut();
            inner.requests.remove(&id.0);
            inner.request_offsets.remove(&id.0);
            inner.policy.handle_done(js::now(), id, outcome);
        }
        self.drive();
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
            (std::mem::take(&mut inner.events), inner.video.clone())
        };
        for (name, detail) in events {
            js::dispatch(video.unchecked_ref(), name, &detail);
        }
    }

    fn perform(&self, action: Action) {
        match action {
            Action::Fetch { id, range, media } => {
                let Ok(controller) = AbortController::new() else {
                    return;
                };
                let signal = controller.signal();
                let url = {
                    let mut inner = self.0.borrow_mut();
                    inner.requests.insert(id.0, controller);
                    inner.request_offsets.insert(id.0, (range.start, media));
                    inner.url.clone()
                };
                wasm_bindgen_futures::spawn_local(crate::fetcher::run(
                    self.clone(),
                    url,
                    id,
                    range,
                    signal,
                ));
            }
            Action::Abort { id } => {
                let mut inner = self.0.borrow_mut();
                inner.request_offsets.remove(&id.0);
                if let Some(controller) = inner.requests.remove(&id.0) {
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
                {
                    let mut inner = self.0.borrow_mut();
                    if !raw {
                        inner.raw = false;
                        inner.queue.clear();
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
            Action::AppendData(bytes) => {
                let chunk = Uint8Array::from(bytes.as_slice());
                self.0.borrow_mut().queue.push_back((None, chunk));
            }
            Action::Append { end } => {
                let mut inner = self.0.borrow_mut();
                inner.append_limit = inner.append_limit.max(end);
            }
            Action::ResetRun {
                offset,
                timestamp_offset,
            } => {
                let mut inner = self.0.borrow_mut();
                // File bytes of the old run go; built bytes stay (an init
                // segment must still be appended, and a built fragment is
                // valid wherever it lands).
                inner.queue.retain(|(offset, _)| offset.is_none());
                inner.queue_end = offset;
                inner.append_limit = offset;
                inner.ops.retain(|op| matches!(op, Op::Remove(..)));
                // Done in order, once no append or removal is running.
                inner.ops.push_front(Op::Reset(timestamp_offset));
            }
            Action::Evict { range } => {
                if range.end > range.start {
                    self.0
                        .borrow_mut()
                        .ops
                        .push_back(Op::Remove(range.start, range.end));
                }
            }
            // Holding is a playback rate of zero, not pause(): a viewer's
            // play() promise must not be rejected because we are buffering.
            Action::Hold => {
                let mut inner = self.0.borrow_mut();
                if !inner.held {
                    inner.held = true;
                    let rate = inner.video.playback_rate();
                    if rate > 0.0 {
                        inner.user_rate = rate;
                    }
                    inner.own_rate_changes += 1;
                    inner.video.set_playback_rate(0.0);
                }
            }
            Action::Release => {
                let mut inner = self.0.borrow_mut();
                if inner.held {
                    inner.held = false;
                    inner.own_rate_changes += 1;
                    let rate = inner.user_rate;
                    inner.video.set_playback_rate(rate);
                }
                if inner.wants_play && inner.video.paused() {
                    let _ = inner.video.play();
                }
            }
            Action::Stall { position } => {
                let detail = js::object(&[("position", JsValue::from_f64(position))]);
                self.0.borrow_mut().events.push(("caudal:stall", detail));
            }
            Action::State { state, previous } => {
                let detail = js::object(&[
                    ("state", JsValue::from_str(state.as_str())),
                    ("previous", JsValue::from_str(previous.as_str())),
                ]);
                self.0.borrow_mut().events.push(("caudal:state", detail));
            }
            Action::SetDuration(duration) => {
                self.0.borrow_mut().ops.push_back(Op::Duration(duration))
            }
            Action::EndOfStream => self.0.borrow_mut().ops.push_back(Op::EndOfStream),
            Action::Fail { code, message } => {
                let mut inner = self.0.borrow_mut();
                for (_, controller) in inner.requests.drain() {
                    controller.abort();
                }
                let detail = js::object(&[
                    ("code", JsValue::from_str(code.as_str())),
                    ("message", JsValue::from_str(&message)),
                ]);
                inner.events.push(("caudal:error", detail));
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
        match media_source.add_source_buffer(mime) {
            Ok(source_buffer) => {
                if let Some(duration) = duration.filter(|d| d.is_finite() && *d > 0.0) {
                    media_source.set_duration(duration);
                }
                // Gapless: trim what native playback trims (MP3 encoder
                // delay at the start, padding at the end).
                if let Some(window) = window {
                    source_buffer.set_timestamp_offset(window.offset);
                    source_buffer.set_append_window_end(window.end);
                }
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
    /// brings the next.
    fn pump(&self) {
        let mut inner = self.0.borrow_mut();
        let Some(sb) = inner.source_buffer.clone() else {
            return;
        };
        if sb.updating() {
            return;
        }
        match inner.ops.front() {
            Some(Op::Reset(timestamp_offset)) => {
                let timestamp_offset = *timestamp_offset;
                inner.ops.pop_front();
                let _ = sb.abort();
                if let Some(time) = timestamp_offset {
                    sb.set_timestamp_offset(time);
                }
            }
            Some(Op::Remove(start, end)) => {
                let (start, end) = (*start, *end);
                inner.ops.pop_front();
                if sb.remove(start, end).is_ok() {
                    return;
                }
            }
            Some(Op::Duration(duration)) => {
                let duration = *duration;
                inner.ops.pop_front();
                if let Some(ms) = &inner.media_source
                    && ms.ready_state() == MediaSourceReadyState::Open
                    && duration.is_finite()
                    && duration > 0.0
                {
                    ms.set_duration(duration);
                }
            }
            Some(Op::EndOfStream) if inner.queue.is_empty() => {
                inner.ops.pop_front();
                if let Some(ms) = &inner.media_source
                    && ms.ready_state() == MediaSourceReadyState::Open
                {
                    let _ = ms.end_of_stream();
                }
                return;
            }
            _ => {}
        }
        let limit = inner.append_limit;
        let Some((offset, chunk)) = inner.queue.front().cloned() else {
            return;
        };
        if offset.is_some_and(|offset| offset >= limit) {
            return;
        }
        match sb.append_buffer_with_array_buffer_view(&chunk) {
            Ok(()) => {
                inner.queue.pop_front();
            }
            Err(error) if js::is_dom_exception(&error, "QuotaExceededError") => {
                inner.policy.handle_quota_exceeded(js::now());
            }
            Err(error) => {
                let message = js::error_message(&error);
                inner.policy.handle_append_error(&message);
            }
        }
    }

    fn fall_back(&self, reason: &str) {
        let mut inner = self.0.borrow_mut();
        for (_, controller) in inner.requests.drain() {
            controller.abort();
        }
        inner.mode = Mode::Native;
        inner.source_buffer = None;
        inner.media_source = None;
        if let Some(url) = inner.object_url.take() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
        let url = inner.url.clone();
        let wants_play = inner.wants_play;
        inner.video.set_src(&url);
        inner.video.set_autoplay(wants_play);
        inner.fallback_reason = Some(reason.to_owned());
        let detail = js::object(&[
            ("state", JsValue::from_str("loading")),
            ("previous", JsValue::from_str(inner.policy.state().as_str())),
            ("mode", JsValue::from_str("native")),
            ("reason", JsValue::from_str(reason)),
        ]);
        inner.events.push(("caudal:state", detail));
    }

    // ------------------------------------------------------------ the JS API

    pub fn stats(&self) -> JsValue {
        let inner = self.0.borrow();
        let stats = inner.policy.stats();
        let state = match inner.mode {
            Mode::Mse => inner.policy.state(),
            Mode::Native => State::Playing,
        };
        js::object(&[
            (
                "mode",
                JsValue::from_str(if inner.mode == Mode::Mse {
                    "mse"
                } else {
                    "native"
                }),
            ),
            (
                "state",
                JsValue::from_str(if inner.mode == Mode::Mse {
                    state.as_str()
                } else {
                    "native"
                }),
            ),
            ("startupMs", js::opt_number(stats.startup_ms)),
            ("stalls", JsValue::from_f64(f64::from(stats.stalls))),
            ("stallMs", JsValue::from_f64(stats.stall_ms)),
            (
                "bytesFetched",
                JsValue::from_f64(stats.bytes_fetched as f64),
            ),
            ("bufferAhead", JsValue::from_f64(stats.buffer_ahead)),
            ("throughput", js::opt_number(stats.throughput)),
            ("requests", JsValue::from_f64(f64::from(stats.requests))),
            ("aborted", JsValue::from_f64(f64::from(stats.aborted))),
            ("errors", JsValue::from_f64(f64::from(stats.retries))),
            ("duration", js::opt_number(stats.duration)),
            ("position", JsValue::from_f64(inner.video.current_time())),
            (
                "reason",
                inner
                    .fallback_reason
                    .as_deref()
                    .map_or(JsValue::NULL, JsValue::from_str),
            ),
        ])
    }

    pub fn destroy(&self) {
        let mut inner = self.0.borrow_mut();
        if inner.destroyed {
            return;
        }
        inner.destroyed = true;
        for (_, controller) in inner.requests.drain() {
            controller.abort();
        }
        for (target, name, closure) in inner.listeners.drain(..) {
            let _ =
                target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        }
        if let (Some((handle, _)), Some(window)) = (inner.timer.take(), web_sys::window()) {
            window.clear_interval_with_handle(handle);
        }
        if let Some(url) = inner.object_url.take() {
            let _ = web_sys::Url::revoke_object_url(&url);
            inner.video.remove_attribute("src").ok();
            inner.video.load();
        }
        inner.queue.clear();
        inner.source_buffer = None;
        inner.media_source = None;
    }
}
