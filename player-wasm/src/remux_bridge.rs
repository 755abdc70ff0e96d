//! The readers, which live in the player's on-demand modules
//! (`player-remux`, built once per module): `caudal_remux` (the plain-MP4
//! remuxer), `caudal_fmp4`, `caudal_webm`, `caudal_mp3`, and
//! `caudal_rewrite` (the fMP4 fragment rewrite, the WebM normaliser) — which
//! one is [`SessionReader`]. For an MP4 the main module runs
//! [`Mp4Triage`] first, which reads box headers only: a plain MP4 (most
//! files) then loads only the remuxer's module.
//!
//! The main module reads no container itself: every page loads it, and
//! each format's reader is needed only by that format's files.
//! `player.js` hands this module a loader ([`set_remuxer_loader`]); the
//! first file of a format calls it with the module's name (`player.js` may
//! have started it beside the file, from its URL), and the session is made
//! for the reader asked for. Until the module is there, the reader answers
//! [`Step::Pending`] and keeps nothing (the policy holds the bytes, once);
//! once it is, the player is told to look again
//! ([`Policy::handle_indexer_progress`]) and the reader asks to be fed
//! everything again ([`Step::Replay`]), into a `RemuxSession`. A session
//! whose reader hands the file over to a reader of another module
//! ([`Reply::HandOver`]: an fMP4 whose fragments need the rewrite) is
//! replaced the same way. What the module answers comes as
//! [`caudal_media::wire`] messages, decoded here with the codec the module
//! encodes them with.
//!
//! [`Policy::handle_indexer_progress`]: caudal_media::policy::Policy::handle_indexer_progress

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use caudal_media::index::{
    ContainerIndexer, Handover, MediaError, MediaIndex, Presentation, Repackager, Step,
};
use caudal_media::mp4::Mp4Triage;
use caudal_media::probe::Format;
use caudal_media::wire::{self, Reply, SessionReader};
use js_sys::{Array, Function, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::js;

#[wasm_bindgen]
extern "C" {
    /// `RemuxSession` of the remuxer module. Its answers are
    /// [`caudal_media::wire`] messages; a call that throws all the same (a
    /// panic, a module of another build) is caught as an error.
    type RemuxSession;

    #[wasm_bindgen(method, catch)]
    fn feed(
        this: &RemuxSession,
        offset: f64,
        data: &[u8],
        file_len: Option<f64>,
    ) -> Result<Vec<u8>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn index(this: &RemuxSession) -> Result<Vec<u8>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn index_since(this: &RemuxSession, from: u32) -> Result<Vec<u8>, JsValue>;
    #[wasm_bindgen(method)]
    fn start(this: &RemuxSession) -> f64;
    #[wasm_bindgen(method)]
    fn presentation(this: &RemuxSession) -> Vec<f64>;
    #[wasm_bindgen(method)]
    fn wants(this: &RemuxSession) -> Vec<f64>;
    #[wasm_bindgen(method)]
    fn take_repackager(this: &RemuxSession) -> bool;
    #[wasm_bindgen(method)]
    fn init_segment(this: &RemuxSession) -> Vec<u8>;
    #[wasm_bindgen(method)]
    fn reset(this: &RemuxSession, offset: f64, unit_start: Option<f64>);
    #[wasm_bindgen(method, catch)]
    fn push(this: &RemuxSession, offset: f64, data: &[u8]) -> Result<Vec<u8>, JsValue>;
}

thread_local! {
    /// `(module: "remux" | "rewrite") => Promise<RemuxSession class>`, from
    /// `player.js`.
    static LOADER: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Called once by `player.js`: how to load the remuxer module.
#[cfg(any(not(feature = "live"), not(target_family = "wasm")))]
#[wasm_bindgen(js_name = setRemuxerLoader)]
pub fn set_remuxer_loader(loader: Function) {
    LOADER.with(|l| *l.borrow_mut() = Some(loader));
}

enum Slot {
    Loading,
    /// The module is there; `fed` once the session was asked to be fed
    /// what came while it loaded.
    Ready {
        session: RemuxSession,
        fed: bool,
    },
    /// Everything asked of it fails with this.
    Failed(MediaError),
}

/// A reader backed by one of the reader modules.
pub struct RemuxBridge {
    slot: Rc<RefCell<Slot>>,
    index: Option<MediaIndex>,
    /// Makes the player look at this reader again.
    progress: Rc<dyn Fn()>,
}

/// The module that has `reads`: the loader's name for it, and its name in
/// a sentence.
fn module_of(reads: SessionReader) -> (&'static str, &'static str) {
    match reads {
        SessionReader::Container(Format::Mp4) | SessionReader::Handed(Handover::FragmentedMp4) => {
            ("fmp4", "fragmented-MP4 reader")
        }
        SessionReader::Handed(Handover::PlainMp4) => ("remux", "remuxer"),
        SessionReader::Container(Format::WebM) => ("webm", "WebM reader"),
        SessionReader::Container(Format::Mp3) => ("mp3", "MP3 reader"),
        SessionReader::Handed(Handover::RewriteFragments | Handover::TidyWebm) => {
            ("rewrite", "rewrite")
        }
    }
}

/// The reader of a file whose first bytes announce `format`: for an MP4
/// the triage, which hands it to the remuxer's or the fMP4 reader's module.
pub fn reader_for(progress: Rc<dyn Fn()>, format: Format) -> Box<dyn ContainerIndexer> {
    match format {
        Format::Mp4 => Box::new(Mp4Triage::new(Box::new(move |why| {
            Box::new(RemuxBridge::new(progress, SessionReader::Handed(why)))
        }))),
        other => Box::new(RemuxBridge::new(progress, SessionReader::Container(other))),
    }
}

impl RemuxBridge {
    /// Starts loading the module that has the reader `reads`; `progress`
    /// is called once it is ready (or failed), to make the player look at
    /// this reader again.
    pub fn new(progress: Rc<dyn Fn()>, reads: SessionReader) -> RemuxBridge {
        let slot = Rc::new(RefCell::new(Slot::Loading));
        load(&slot, progress.clone(), reads);
        RemuxBridge {
            slot,
            index: None,
            progress,
        }
    }
}

/// Puts a session of `reads` into `slot` once its module is loaded (or
/// the failure), then calls `progress`.
fn load(slot: &Rc<RefCell<Slot>>, progress: Rc<dyn Fn()>, reads: SessionReader) {
    *slot.borrow_mut() = Slot::Loading;
    let code = reads.code();
    let loader = LOADER.with(|l| l.borrow().clone());
    let (name, title) = module_of(reads);
    let module = JsValue::from_str(name);
    let Some(Ok(promise)) = loader.map(|f| f.call1(&JsValue::NULL, &module)) else {
        *slot.borrow_mut() = Slot::Failed(MediaError::Elsewhere {
            truncated: false,
            message: "the reader modules have no loader (player.js)".into(),
        });
        return;
    };
    let promise: Promise = promise.unchecked_into();
    let ok_slot = slot.clone();
    let ok_progress = progress.clone();
    let on_load = Closure::once(move |class: JsValue| {
        let session = class
            .dyn_into::<Function>()
            .and_then(|c| js_sys::Reflect::construct(&c, &Array::of1(&JsValue::from(code))))
            .map(JsCast::unchecked_into::<RemuxSession>);
        let next = match session {
            Ok(session) => Slot::Ready {
                session,
                fed: false,
            },
            Err(e) => Slot::Failed(thrown(&e)),
        };
        *ok_slot.borrow_mut() = next;
        ok_progress();
    });
    let err_slot = slot.clone();
    let on_error = Closure::once(move |e: JsValue| {
        *err_slot.borrow_mut() = Slot::Failed(MediaError::Elsewhere {
            truncated: false,
            message: format!("the {title} module did not load: {}", js::error_message(&e)),
        });
        progress();
    });
    let _ = promise.then2(&on_load, &on_error);
    on_load.forget();
    on_error.forget();
}

/// A call that threw, as a [`MediaError`].
fn thrown(e: &JsValue) -> MediaError {
    MediaError::Elsewhere {
        truncated: false,
        message: js::error_message(e),
    }
}

/// The module's answer, decoded; an error it reports comes back as one.
fn reply(answer: Result<Vec<u8>, JsValue>) -> Result<Reply, MediaError> {
    let bytes = answer.map_err(|e| thrown(&e))?;
    match wire::decode(&bytes) {
        Ok(Reply::Failed(error)) => Err(error.into()),
        Ok(reply) => Ok(reply),
        Err(e) => Err(MediaError::Elsewhere {
            truncated: false,
            message: format!("the reader module's answer is malformed: {e}"),
        }),
    }
}

/// A well-formed answer to another question.
fn out_of_turn(reply: &Reply) -> MediaError {
    let what = match reply {
        Reply::Step(_) => "a step",
        Reply::Index(_) => "an index",
        Reply::Fragments(_) => "fragments",
        Reply::Failed(_) => "an error",
        Reply::HandOver(_) => "a hand-over",
    };
    MediaError::Elsewhere {
        truncated: false,
        message: format!("the reader module answered {what} out of turn"),
    }
}

/// What a feed moved the session's reader to.
enum Fed {
    Step(Step),
    /// The file goes to this reader, in another module.
    HandedOver(Handover),
}

fn feed(
    session: &RemuxSession,
    offset: u64,
    data: &[u8],
    file_len: Option<u64>,
) -> Result<Fed, MediaError> {
    match reply(session.feed(offset as f64, data, file_len.map(|l| l as f64)))? {
        Reply::Step(step) => Ok(Fed::Step(step)),
        Reply::HandOver(handed) => Ok(Fed::HandedOver(handed)),
        other => Err(out_of_turn(&other)),
    }
}

fn read_index(session: &RemuxSession) -> Result<Option<MediaIndex>, MediaError> {
    match reply(session.index())? {
        Reply::Index(index) => Ok(index),
        other => Err(out_of_turn(&other)),
    }
}

fn read_index_since(session: &RemuxSession, from: u32) -> Result<Option<MediaIndex>, MediaError> {
    match reply(session.index_since(from))? {
        Reply::Index(index) => Ok(index),
        other => Err(out_of_turn(&other)),
    }
}

impl ContainerIndexer for RemuxBridge {
    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        let mut slot = self.slot.borrow_mut();
        match &mut *slot {
            Slot::Loading => Ok(Step::Pending),
            Slot::Failed(error) => Err(error.clone()),
            // The session has seen nothing yet: everything again, this too.
            Slot::Ready { fed, .. } if !*fed => {
                *fed = true;
                Ok(Step::Replay { from: 0 })
            }
            Slot::Ready { session, .. } => {
                let step = match feed(session, offset, data, file_len)? {
                    Fed::Step(step) => step,
                    Fed::HandedOver(handed) => {
                        // Its module's session is fed everything again.
                        drop(slot);
                        self.index = None;
                        load(
                            &self.slot,
                            self.progress.clone(),
                            SessionReader::Handed(handed),
                        );
                        return Ok(Step::Pending);
                    }
                };
                // An incomplete index (a WebM without Cues) grows as the
                // media bytes are fed: only the new units cross over.
                match self.index.as_mut() {
                    None => self.index = read_index(session)?,
                    Some(index) if !index.complete => {
                        let from = u32::try_from(index.segments.len()).unwrap_or(u32::MAX);
                        if let Some(more) = read_index_since(session, from)? {
                            index.segments.extend(more.segments);
                            index.complete = more.complete;
                            index.duration = more.duration;
                        }
                    }
                    Some(_) => {}
                }
                match step {
                    Step::NeedBytes { offset, len } => Ok(Step::NeedBytes { offset, len }),
                    // A session's reader is all there: it never waits on
                    // code (a hand-over is answered as one, above).
                    Step::Ready | Step::Pending if self.index.is_some() => Ok(Step::Ready),
                    Step::Replay { from } => Ok(Step::Replay { from }),
                    _ => Err(MediaError::Elsewhere {
                        truncated: false,
                        message: "the reader module said ready without an index".into(),
                    }),
                }
            }
        }
    }

    fn index(&self) -> Option<&MediaIndex> {
        self.index.as_ref()
    }

    fn wants(&self) -> Option<Range<u64>> {
        match &*self.slot.borrow() {
            Slot::Ready { session, .. } => match session.wants()[..] {
                [start, end] if start >= 0.0 && end >= start => Some(start as u64..end as u64),
                _ => None,
            },
            _ => None,
        }
    }

    fn presentation(&self) -> Option<Presentation> {
        match &*self.slot.borrow() {
            Slot::Ready { session, .. } => match session.presentation()[..] {
                [offset, end] if offset.is_finite() && end.is_finite() => {
                    Some(Presentation { offset, end })
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn start(&self) -> f64 {
        match &*self.slot.borrow() {
            Slot::Ready { session, .. } => session.start(),
            _ => 0.0,
        }
    }

    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        // A second handle on the same JS session: the reader keeps its own.
        let session = match &*self.slot.borrow() {
            Slot::Ready { session, .. } => JsValue::clone(session).unchecked_into::<RemuxSession>(),
            _ => return None,
        };
        session
            .take_repackager()
            .then(|| Box::new(RemuxStream { session }) as Box<dyn Repackager>)
    }
}

/// The module's repackager.
struct RemuxStream {
    session: RemuxSession,
}

impl Repackager for RemuxStream {
    fn init_segment(&self) -> Vec<u8> {
        self.session.init_segment()
    }

    fn reset(&mut self, offset: u64) {
        self.session.reset(offset as f64, None);
    }

    fn reset_at(&mut self, offset: u64, unit_start: Option<f64>) {
        self.session.reset(offset as f64, unit_start);
    }

    fn push(&mut self, offset: u64, data: &[u8]) -> Result<Vec<Vec<u8>>, MediaError> {
        match reply(self.session.push(offset as f64, data))? {
            Reply::Fragments(fragments) => Ok(fragments),
            other => Err(out_of_turn(&other)),
        }
    }
}
