//! The live shell: performs what the live policy decides
//! (`caudal_media::live::play::LivePolicy`) for one `GET /live/NAME` — an
//! endless fragmented-MP4 (or WebM) body. The body's bytes go through
//! `caudal_media::live::LiveReader`, which cuts them into the init
//! segment and whole fragments (WebM: cluster pieces); the policy places each on the timeline and
//! this shell appends it, then steers playback (hold, rate, seeks) as told.
//! Like `player.rs`, it owns the browser objects and nothing else.
//!
//! It is built into a module of its own (`caudal_live`, the crate's `live`
//! feature), loaded only by pages that play a live stream: the splitter
//! reads the `moov`, which the main module leaves to the reader modules.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use caudal_media::cmcd::Cmcd;
use caudal_media::cta::{ObjectType, StreamType, StreamingFormat};
use caudal_media::live::play::{FragmentMeta, LiveAction, LiveOptions, LivePolicy, Placement};
use caudal_media::live::{Ingested, LiveLimits, LiveReader};
use caudal_media::policy::{ErrorCode, Millis, OPEN_END, Outcome, RequestId, State};
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    AbortController, EventTarget, HtmlVideoElement, MediaSource, MediaSourceReadyState,
    SourceBuffer,
};

use crate::element::{self, Listener};
use crate::events::{self, Event};
use crate::fetcher::{self, FetchSink, Source};
use crate::js;
use crate::player::{CmcdMode, Early};
use crate::timer::{self, Alarm, Change, JsTimer};

/// How often playback is sampled, ms: the catch-up rule and the stall
/// watch need it between media events.
const TICK_MS: f64 = 100.0;

/// A SourceBuffer step.
enum Op {
    Append(Uint8Array),
    /// `timestampOffset` for what follows (the timeline moved).
    Offset(f64),
    /// `remove(0, end)`.
    Remove(f64),
}

struct Inner {
    policy: LivePolicy,
    url: String,
    cmcd: CmcdMode,
    session_id: Option<String>,
    video: HtmlVideoElement,
    media_source: Option<MediaSource>,
    object_url: Option<String>,
    source_buffer: Option<SourceBuffer>,
    /// A Configure that came before `sourceopen`.
    pending_mime: Option<String>,
    ops: VecDeque<Op>,
    /// Cuts the body of the connection in use (a fragmented MP4 or a WebM).
    splitter: LiveReader,
    connection: u32,
    controller: Option<AbortController>,
    early: Option<Early>,
    wants_play: bool,
    holding: bool,
    rate: f64,
    events: Vec<Event>,
    listeners: Vec<Listener>,
    timer: Option<JsTimer>,
    alarm: Alarm<Millis>,
    next_tick: Millis,
    destroyed: bool,
    /// Swallows the rejection of a report nobody waits on.
    ignore: Closure<dyn FnMut(JsValue)>,
}

/// The live player, shared by callbacks.
#[derive(Clone)]
pub struct Live(Rc<RefCell<Inner>>);

/// The page's options for a live stream: `latency` (target seconds),
/// `maxRate` (fastest catch-up), `backBuffer` (seconds kept behind).
pub fn options(from: &JsValue) -> LiveOptions {
    let mut o = LiveOptions::default();
    let positive = |key: &str| js::number(from, key).filter(|v| v.is_finite() && *v > 0.0);
    if let Some(v) = positive("latency") {
        o.latency = v;
    }
    if let Some(v) = positive("maxRate").filter(|v| *v >= 1.0) {
        o.max_rate = v.min(2.0);
    }
    if let Some(v) = positive("backBuffer") {
        o.back_buffer = v;
    }
    o
}

impl Live {
    pub fn attach(
        video: HtmlVideoElement,
        url: String,
        options: LiveOptions,
        early: Option<Early>,
        cmcd: CmcdMode,
        session_id: Option<String>,
    ) -> Live {
        let wants_play = video.autoplay();
        // The policy starts playback, at the right distance from live.
        video.set_autoplay(false);
        let live = Live(Rc::new(RefCell::new(Inner {
            policy: LivePolicy::new(options),
            url,
            cmcd,
            session_id,
            video: video.clone(),
            media_source: None,
            object_url: None,
            source_buffer: None,
            pending_mime: None,
            ops: VecDeque::new(),
            splitter: LiveReader::new(LiveLimits::default()),
            connection: 0,
            controller: None,
            early,
            wants_play,
            holding: false,
            rate: 1.0,
            events: Vec::new(),
            listeners: Vec::new(),
            timer: None,
            alarm: Alarm::default(),
            next_tick: Millis::ZERO,
            destroyed: false,
            ignore: Closure::new(|_| {}),
        })));
        match MediaSource::new() {
            Ok(media_source) => {
                let object_url = web_sys::Url::create_object_url_with_source(&media_source).ok();
                if let Some(url) = &object_url {
                    video.set_src(url);
                }
                {
                    let mut inner = live.0.borrow_mut();
                    inner.media_source = Some(media_source.clone());
                    inner.object_url = object_url;
                }
                live.listen(media_source.unchecked_ref(), "sourceopen", |l| {
                    l.source_open()
                });
            }
            Err(error) => {
                let message = format!(
                    "MediaSource could not be created: {}",
                    js::error_message(&error)
                );
                live.0
                    .borrow_mut()
                    .policy
                    .handle_failure(ErrorCode::Unsupported, message);
            }
        }
        let target: &EventTarget = video.unchecked_ref();
        live.listen(target, "seeking", |l| {
            let to = l.0.borrow().video.current_time();
            l.0.borrow_mut().policy.handle_seeking(to);
            l.drive();
        });
        live.listen(target, "play", |l| l.set_wants_play(true));
        live.listen(target, "pause", |l| l.set_wants_play(false));
        for name in ["timeupdate", "waiting", "playing"] {
            live.listen(target, name, |l| l.playback());
        }
        let timer = JsTimer::new(live.callback(Live::alarm_rang));
        {
            let mut inner = live.0.borrow_mut();
            inner.timer = Some(timer);
            let now = js::now();
            inner.next_tick = now + TICK_MS;
            inner.policy.start(now);
        }
        live.drive();
        live
    }

    fn listen(&self, target: &EventTarget, name: &'static str, handler: fn(&Live)) {
        let weak = Rc::downgrade(&self.0);
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            if let Some(inner) = weak.upgrade() {
                handler(&Live(inner));
            }
        });
        let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        self.0
            .borrow_mut()
            .listeners
            .push((target.clone(), name, closure));
    }

    fn callback(&self, run: fn(&Live)) -> Closure<dyn FnMut()> {
        let weak = Rc::downgrade(&self.0);
        Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                run(&Live(inner));
            }
        })
    }

    // ------------------------------------------------------------ events

    fn source_open(&self) {
        let pending = self.0.borrow_mut().pending_mime.take();
        if let Some(mime) = pending {
            self.configure(&mime);
        }
        self.drive();
    }

    fn set_wants_play(&self, wants_play: bool) {
        self.0.borrow_mut().wants_play = wants_play;
        self.playback();
    }

    fn playback(&self) {
        {
            let mut inner = self.0.borrow_mut();
            if inner.destroyed {
                return;
            }
            let video = inner.video.clone();
            let buffered = video.buffered();
            let ranges: Vec<std::ops::Range<f64>> = (0..buffered.length())
                .filter_map(|i| Some(buffered.start(i).ok()?..buffered.end(i).ok()?))
                .collect();
            // HAVE_FUTURE_DATA is 3: below it, the element cannot advance.
            let starved = !video.seeking() && video.ready_state() < 3;
            let paused = !inner.wants_play;
            inner.policy.handle_playback(
                js::now(),
                js_sys::Date::now(),
                video.current_time(),
                &ranges,
                paused,
                starved,
            );
            // The live seekable range: what is buffered, to the edge.
            if let (Some(ms), Some(first), Some(last)) =
                (inner.media_source.as_ref(), ranges.first(), ranges.last())
                && ms.ready_state() == MediaSourceReadyState::Open
            {
                let _ = ms.set_live_seekable_range(first.start, last.end);
            }
        }
        self.drive();
    }

    fn alarm_rang(&self) {
        let tick = {
            let mut inner = self.0.borrow_mut();
            inner.alarm.rang();
            if inner.destroyed {
                return;
            }
            let now = js::now();
            if inner.policy.poll_timeout().is_some_and(|at| now >= at) {
                inner.policy.handle_timeout(now);
            }
            let tick = now >= inner.next_tick;
            if tick {
                inner.next_tick = now + TICK_MS;
            }
            tick
        };
        if tick {
            self.playback();
        } else {
            self.drive();
        }
    }

    /// The body's next bytes, through the live reader, onto the queue.
    fn feed(&self, bytes: &[u8]) {
        let mut inner = self.0.borrow_mut();
        if inner.policy.state() == State::Error {
            return;
        }
        let items = match inner.splitter.push(bytes) {
            Ok(items) => items,
            Err(error) => {
                let message = format!("the live stream cannot be read: {error}");
                inner.policy.handle_failure(ErrorCode::Format, message);
                return;
            }
        };
        for item in items {
            match item {
                Ingested::Init(init) => {
                    inner.policy.handle_init(&init.mime);
                    if inner.policy.state() == State::Error {
                        return;
                    }
                    inner
                        .ops
                        .push_back(Op::Append(Uint8Array::from(&init.bytes[..])));
                }
                Ingested::Fragment(fragment) => {
                    let meta = FragmentMeta {
                        start: fragment.start,
                        duration: fragment.duration,
                        keyframe: fragment.keyframe,
                        wallclock_ms: fragment.wallclock_ms.map(|ms| ms as f64),
                        timed: fragment.timed,
                    };
                    match inner.policy.handle_fragment(&meta, fragment.bytes.len()) {
                        Placement::Skip => {}
                        Placement::Append { offset } => {
                            if let Some(offset) = offset {
                                inner.ops.push_back(Op::Offset(offset));
                            }
                            inner
                                .ops
                                .push_back(Op::Append(Uint8Array::from(&fragment.bytes[..])));
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------ actions

    fn drive(&self) {
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
            let wanted = Some(
                inner
                    .policy
                    .poll_timeout()
                    .map_or(inner.next_tick, |at| at.min(inner.next_tick)),
            );
            let change = inner.alarm.update(wanted);
            if let Some(timer) = inner.timer.as_mut() {
                match change {
                    Change::Keep => {}
                    Change::Cancel => timer.stop(),
                    Change::Arm(at) => {
                        timer.start(timer::delay_ms(js::now().as_f64(), at.as_f64()))
                    }
                }
            }
            (std::mem::take(&mut inner.events), inner.video.clone())
        };
        for (name, detail) in events {
            js::dispatch(video.unchecked_ref(), name, &detail);
        }
    }

    fn perform(&self, action: LiveAction) {
        match action {
            LiveAction::Connect { id } => self.connect(id),
            LiveAction::Configure { mime } => self.configure(&mime),
            LiveAction::Hold => {
                let mut inner = self.0.borrow_mut();
                inner.holding = true;
                inner.video.set_playback_rate(0.0);
            }
            LiveAction::Release { rate } => {
                let mut inner = self.0.borrow_mut();
                inner.holding = false;
                inner.rate = rate;
                inner.video.set_playback_rate(rate);
                if inner.wants_play && inner.video.paused() {
                    // The autoplay policy may refuse; the viewer's play()
                    // then starts it.
                    let _ = inner.video.play();
                }
            }
            LiveAction::Rate(rate) => {
                let mut inner = self.0.borrow_mut();
                inner.rate = rate;
                if !inner.holding {
                    inner.video.set_playback_rate(rate);
                }
            }
            LiveAction::Seek(to) => self.0.borrow().video.set_current_time(to),
            LiveAction::Evict { end } => self.0.borrow_mut().ops.push_back(Op::Remove(end)),
            LiveAction::State { state, previous } => {
                self.0
                    .borrow_mut()
                    .events
                    .push(events::state(state, previous));
            }
            LiveAction::Stall { position } => {
                self.0.borrow_mut().events.push(events::stall(position));
            }
            LiveAction::Report {
                latency_ms,
                buffer_ms,
                stalled,
            } => self.report(latency_ms, buffer_ms, stalled),
            LiveAction::Fail { code, message } => {
                let mut inner = self.0.borrow_mut();
                if let Some(controller) = inner.controller.take() {
                    controller.abort();
                }
                inner.events.push(events::error(code, &message));
            }
        }
    }

    /// Posts a CMCD v2 report (`ltc`, `bl`, `bs`) to the server's
    /// `/api/cmcd`, unless CMCD is off; nothing waits on the answer.
    fn report(&self, latency_ms: Option<u64>, buffer_ms: u64, stalled: bool) {
        let inner = self.0.borrow();
        if inner.cmcd == CmcdMode::Off {
            return;
        }
        let Ok(target) = web_sys::Url::new_with_base("/api/cmcd", &inner.url) else {
            return;
        };
        let cmcd = Cmcd {
            ltc: latency_ms,
            bl: Some(buffer_ms),
            bs: stalled,
            sid: inner.session_id.clone(),
            st: Some(StreamType::Live),
            v: Some(2),
            ..Cmcd::default()
        };
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        // A string body is text/plain: no CORS preflight on another origin.
        init.set_body(&JsValue::from_str(&caudal_media::cmcd::to_query_value(
            &cmcd,
        )));
        if let Some(window) = web_sys::window() {
            let sent = window.fetch_with_str_and_init(&target.href(), &init);
            let _ = sent.catch(&inner.ignore);
        }
    }

    /// A new connection `id` replaces the one in use.
    fn connect(&self, id: u32) {
        let source = {
            let mut inner = self.0.borrow_mut();
            if let Some(old) = inner.controller.take() {
                old.abort();
            }
            inner.connection = id;
            // Each connection's body starts with its own init segment.
            inner.splitter = LiveReader::new(LiveLimits::default());
            let early = inner.early.take();
            let (source, controller) = match early {
                Some(early) if id == 1 => (Source::Early(early.response), early.controller),
                other => {
                    if let Some(early) = other {
                        early.controller.abort();
                    }
                    let Ok(controller) = AbortController::new() else {
                        return;
                    };
                    let cmcd = Cmcd {
                        ot: Some(ObjectType::Muxed),
                        sf: Some(StreamingFormat::Other),
                        st: Some(StreamType::Live),
                        sid: inner.session_id.clone(),
                        su: id == 1,
                        bs: inner.policy.state() == State::Buffering,
                        bl: Some((inner.policy.stats().buffer_ahead * 1e3) as u64),
                        ..Cmcd::default()
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
                        range: 0..OPEN_END,
                        headers,
                        signal: controller.signal(),
                    };
                    (source, controller)
                }
            };
            inner.controller = Some(controller);
            source
        };
        wasm_bindgen_futures::spawn_local(fetcher::run(self.clone(), source, RequestId(id)));
    }

    fn configure(&self, mime: &str) {
        let media_source = {
            let mut inner = self.0.borrow_mut();
            let Some(media_source) = inner.media_source.clone() else {
                return;
            };
            if media_source.ready_state() != MediaSourceReadyState::Open {
                inner.pending_mime = Some(mime.to_owned());
                return;
            }
            media_source
        };
        if !MediaSource::is_type_supported(mime) {
            let message = format!("this browser cannot play {mime} through MSE");
            self.0
                .borrow_mut()
                .policy
                .handle_failure(ErrorCode::Unsupported, message);
            return;
        }
        match crate::source_buffer::add(&media_source, mime, None, None) {
            Ok(source_buffer) => {
                media_source.set_duration(f64::INFINITY);
                self.0.borrow_mut().source_buffer = Some(source_buffer.clone());
                self.listen(source_buffer.unchecked_ref(), "updateend", Live::playback);
            }
            Err(error) => {
                let message = js::error_message(&error);
                self.0
                    .borrow_mut()
                    .policy
                    .handle_failure(ErrorCode::Unsupported, message);
            }
        }
    }

    /// Runs the SourceBuffer's next steps while it is idle.
    fn pump(&self) {
        let mut inner = self.0.borrow_mut();
        let Some(sb) = inner.source_buffer.clone() else {
            return;
        };
        while !sb.updating() {
            let Some(op) = inner.ops.pop_front() else {
                return;
            };
            let started = match op {
                Op::Offset(offset) => {
                    sb.set_timestamp_offset(offset);
                    continue;
                }
                Op::Remove(end) if end > 0.0 => sb.remove(0.0, end),
                Op::Remove(_) => continue,
                Op::Append(chunk) => sb.append_buffer_with_array_buffer_view(&chunk),
            };
            if let Err(error) = started {
                let message = format!(
                    "the browser refused the live media: {}",
                    js::error_message(&error)
                );
                inner.policy.handle_failure(ErrorCode::Decode, message);
                inner.ops.clear();
            }
            return;
        }
    }

    // ------------------------------------------------------------ the JS API

    pub fn stats(&self) -> JsValue {
        let inner = self.0.borrow();
        let stats = inner.policy.stats();
        js::object(&[
            ("mode", JsValue::from_str("mse")),
            ("live", JsValue::TRUE),
            ("state", JsValue::from_str(inner.policy.state().as_str())),
            ("latency", js::opt_number(stats.latency)),
            ("targetLatency", JsValue::from_f64(stats.target_latency)),
            ("startupMs", js::opt_number(stats.startup_ms)),
            ("stalls", JsValue::from_f64(f64::from(stats.stalls))),
            ("stallMs", JsValue::from_f64(stats.stall_ms)),
            ("bufferAhead", JsValue::from_f64(stats.buffer_ahead)),
            ("rate", JsValue::from_f64(stats.rate)),
            ("bytesFetched", JsValue::from_f64(stats.bytes as f64)),
            ("fragments", JsValue::from_f64(stats.fragments as f64)),
            (
                "connections",
                JsValue::from_f64(f64::from(stats.connections)),
            ),
            ("jumps", JsValue::from_f64(f64::from(stats.jumps))),
            ("rebased", JsValue::from_f64(f64::from(stats.rebased))),
            ("edge", js::opt_number(stats.edge)),
            ("position", JsValue::from_f64(inner.video.current_time())),
            ("duration", JsValue::NULL),
            ("reason", JsValue::NULL),
        ])
    }

    pub fn destroy(&self) {
        let mut inner = self.0.borrow_mut();
        if inner.destroyed {
            return;
        }
        inner.destroyed = true;
        if let Some(controller) = inner.controller.take() {
            controller.abort();
        }
        if let Some(early) = inner.early.take() {
            early.controller.abort();
        }
        element::remove_listeners(&mut inner.listeners);
        if let Some(timer) = inner.timer.as_mut() {
            timer.stop();
        }
        let object_url = inner.object_url.take();
        element::release_source(&inner.video, object_url);
        inner.ops.clear();
        inner.source_buffer = None;
        inner.media_source = None;
    }
}

/// The connection reports here.
impl FetchSink for Live {
    fn is_live(&self, id: RequestId) -> bool {
        let inner = self.0.borrow();
        !inner.destroyed && inner.connection == id.0 && inner.policy.state() != State::Error
    }

    fn response(
        &self,
        id: RequestId,
        status: u16,
        _total: Option<u64>,
        _cmsd: Option<String>,
    ) -> bool {
        self.0
            .borrow_mut()
            .policy
            .handle_response(js::now(), id.0, status, "");
        self.drive();
        self.is_live(id) && (200..300).contains(&status)
    }

    fn refused(&self, id: RequestId, body: String) {
        self.0
            .borrow_mut()
            .policy
            .handle_response(js::now(), id.0, 403, &body);
        self.drive();
    }

    fn data(&self, id: RequestId, chunk: Uint8Array) {
        if !self.is_live(id) {
            return;
        }
        self.feed(&chunk.to_vec());
        self.drive();
    }

    fn finish(&self, id: RequestId, _outcome: Outcome) {
        self.0.borrow_mut().policy.handle_end(js::now(), id.0);
        self.drive();
    }
}
