//! The readers that live in the player's on-demand modules (`player-remux`,
//! built twice): the plain-MP4 remuxer (`caudal_remux`), and the fMP4
//! fragment rewrite and the WebM normaliser (`caudal_rewrite`) — which one
//! is [`Handover`].
//!
//! The remuxer is a third of the player's code and only plain MP4s need it;
//! the rewrites only files MSE would misread. `player.js` hands this module
//! a loader ([`set_remuxer_loader`]); the first such file calls it with the
//! module's name, and the session is made for the reader asked for. Until the module
//! is there, the reader answers [`Step::Pending`] and keeps nothing (the
//! policy holds the bytes, once); once it is, the player is told to look
//! again ([`Policy::handle_indexer_progress`]) and the reader asks to be
//! fed everything again ([`Step::Replay`]), into a `RemuxSession`.
//! What the module answers comes as [`caudal_media::wire`] messages,
//! decoded here with the codec the module encodes them with.
//!
//! [`Policy::handle_indexer_progress`]: caudal_media::policy::Policy::handle_indexer_progress

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use caudal_media::index::{
    ContainerIndexer, Handover, MediaError, MediaIndex, Presentation, Repackager, Step,
};
use caudal_media::wire::{self, Reply};
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

/// A reader backed by the remuxer module.
pub struct RemuxBridge {
    slot: Rc<RefCell<Slot>>,
    index: Option<MediaIndex>,
}

impl RemuxBridge {
    /// Starts loading the module that reads files handed over for `why`;
    /// `progress` is called once it is ready (or failed), to make the
    /// player look at this reader again.
    pub fn new(progress: Rc<dyn Fn()>, why: Handover) -> RemuxBridge {
        // `RemuxSession::new(handed)` in player-remux (`handover_code`).
        let code = match why {
            Handover::PlainMp4 => 0u8,
            Handover::TidyWebm => 1u8,
            Handover::RewriteFragments => 2u8,
        };
        let slot = Rc::new(RefCell::new(Slot::Loading));
        let loader = LOADER.with(|l| l.borrow().clone());
        // The loader's name for the module.
        let module = JsValue::from_str(match why {
            Handover::PlainMp4 => "remux",
            Handover::RewriteFragments | Handover::TidyWebm => "rewrite",
        });
        match loader.map(|f| f.call1(&JsValue::NULL, &module)) {
            Some(Ok(promise)) => {
                let promise: Promise = promise.unchecked_into();
                let ok_slot = slot.clone();
                let ok_progress = progress.clone();
                let on_load = Closure::once(move |class: JsValue| {
                    let session = class
                        .dyn_into::<Function>()
                        .and_then(|c| {
                            js_sys::Reflect::construct(&c, &Array::of1(&JsValue::from(code)))
                        })
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
                        message: format!(
                            "the remuxer module did not load: {}",
                            js::error_message(&e)
                        ),
                    });
                    progress();
                });
                let _ = promise.then2(&on_load, &on_error);
                on_load.forget();
                on_error.forget();
            }
            _ => {
                *slot.borrow_mut() = Slot::Failed(MediaError::Elsewhere {
                    truncated: false,
                    message: "the remuxer module has no loader (player.js)".into(),
                });
            }
        }
        RemuxBridge { slot, index: None }
    }
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
            message: format!("the remuxer module's answer is malformed: {e}"),
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
    };
    MediaError::Elsewhere {
        truncated: false,
        message: format!("the remuxer module answered {what} out of turn"),
    }
}

fn feed(
    session: &RemuxSession,
    offset: u64,
    data: &[u8],
    file_len: Option<u64>,
) -> Result<Step, MediaError> {
    match reply(session.feed(offset as f64, data, file_len.map(|l| l as f64)))? {
        Reply::Step(step) => Ok(step),
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
                let step = feed(session, offset, data, file_len)?;
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
                    // The remuxer is all there: it never waits on code.
                    Step::Ready | Step::Pending if self.index.is_some() => Ok(Step::Ready),
                    _ => Err(MediaError::Elsewhere {
                        truncated: false,
                        message: "the remuxer module said ready without an index".into(),
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
