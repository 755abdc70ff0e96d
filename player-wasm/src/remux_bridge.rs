//! The plain-MP4 reader that lives in the remuxer module (`player-remux`).
//!
//! The remuxer is a third of the player's code and only plain MP4s need it,
//! so it is a second wasm module. `player.js` hands this module a loader
//! ([`set_remuxer_loader`]); the first plain MP4 calls it. Until the module
//! is there, bytes fed to the reader are kept and it answers
//! [`Step::Pending`]; once it is, they are replayed into a `RemuxSession` and the
//! player is told to look again ([`Policy::handle_indexer_progress`]).
//!
//! [`Policy::handle_indexer_progress`]: caudal_media::policy::Policy::handle_indexer_progress

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use caudal_media::index::{
    Container, ContainerIndexer, MediaError, MediaIndex, Repackager, Segment, Step, Track,
    TrackKind,
};
use js_sys::{Array, Float64Array, Function, Promise, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `RemuxSession` of the remuxer module.
    type RemuxSession;

    #[wasm_bindgen(method, catch)]
    fn feed(
        this: &RemuxSession,
        offset: f64,
        data: &[u8],
        file_len: f64,
    ) -> Result<Vec<f64>, JsValue>;
    #[wasm_bindgen(method)]
    fn index(this: &RemuxSession) -> JsValue;
    #[wasm_bindgen(method)]
    fn start(this: &RemuxSession) -> f64;
    #[wasm_bindgen(method)]
    fn take_repackager(this: &RemuxSession) -> bool;
    #[wasm_bindgen(method)]
    fn init_segment(this: &RemuxSession) -> Vec<u8>;
    #[wasm_bindgen(method)]
    fn reset(this: &RemuxSession, offset: f64);
    #[wasm_bindgen(method, catch)]
    fn push(this: &RemuxSession, offset: f64, data: &[u8]) -> Result<Array, JsValue>;
}

thread_local! {
    /// `() => Promise<RemuxSession class>`, from `player.js`.
    static LOADER: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Called once by `player.js`: how to load the remuxer module.
#[wasm_bindgen(js_name = setRemuxerLoader)]
pub fn set_remuxer_loader(loader: Function) {
    LOADER.with(|l| *l.borrow_mut() = Some(loader));
}

/// Most bytes kept while the module loads (the whole header of a plain
/// MP4 with its `moov` fits many times over).
const MAX_PENDING_BYTES: usize = 64 << 20;

enum Slot {
    Loading {
        pending: Vec<(u64, Vec<u8>, Option<u64>)>,
        bytes: usize,
    },
    Ready(RemuxSession),
    Failed(String),
}

/// A plain-MP4 reader backed by the remuxer module.
pub struct RemuxBridge {
    slot: Rc<RefCell<Slot>>,
    index: Option<MediaIndex>,
}

impl RemuxBridge {
    /// Starts loading the module; `progress` is called once it is ready (or
    /// failed), to make the player look at this reader again.
    pub fn new(progress: Rc<dyn Fn()>) -> RemuxBridge {
        let slot = Rc::new(RefCell::new(Slot::Loading {
            pending: Vec::new(),
            bytes: 0,
        }));
        let loader = LOADER.with(|l| l.borrow().clone());
        match loader.map(|f| f.call0(&JsValue::NULL)) {
            Some(Ok(promise)) => {
                let promise: Promise = promise.unchecked_into();
                let ok_slot = slot.clone();
                let ok_progress = progress.clone();
                let on_load = Closure::once(move |class: JsValue| {
                    let session = class
                        .dyn_into::<Function>()
                        .and_then(|c| js_sys::Reflect::construct(&c, &Array::new()))
                        .map(JsCast::unchecked_into::<RemuxSession>);
                    let next = match session {
                        Ok(session) => replay(&ok_slot, session),
                        Err(e) => Slot::Failed(describe(&e)),
                    };
                    *ok_slot.borrow_mut() = next;
                    ok_progress();
                });
                let err_slot = slot.clone();
                let on_error = Closure::once(move |e: JsValue| {
                    *err_slot.borrow_mut() =
                        Slot::Failed(format!("the remuxer module did not load: {}", describe(&e)));
                    progress();
                });
                let _ = promise.then2(&on_load, &on_error);
                on_load.forget();
                on_error.forget();
            }
            _ => {
                *slot.borrow_mut() =
                    Slot::Failed("the remuxer module has no loader (player.js)".into());
            }
        }
        RemuxBridge { slot, index: None }
    }
}

/// The session with everything fed while loading fed again, in order.
fn replay(slot: &RefCell<Slot>, session: RemuxSession) -> Slot {
    let pending = match &mut *slot.borrow_mut() {
        Slot::Loading { pending, .. } => std::mem::take(pending),
        _ => Vec::new(),
    };
    for (offset, data, file_len) in pending {
        if let Err(e) = session.feed(offset as f64, &data, file_len.map_or(-1.0, |l| l as f64)) {
            return Slot::Failed(describe(&e));
        }
    }
    Slot::Ready(session)
}

fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "unknown error".into())
}

/// An error the module threw, back as a [`MediaError`].
fn error_from(e: &JsValue) -> MediaError {
    let text = describe(e);
    match text.strip_prefix("truncated:") {
        Some(message) => MediaError::Elsewhere {
            truncated: true,
            message: message.to_owned(),
        },
        None => MediaError::Elsewhere {
            truncated: false,
            message: text.strip_prefix("format:").unwrap_or(&text).to_owned(),
        },
    }
}

/// The index the module describes (see `RemuxSession::index`).
fn read_index(value: &JsValue) -> Option<MediaIndex> {
    let parts: &Array = value.dyn_ref()?;
    let number = |i: u32| parts.get(i).as_f64();
    let duration = number(0).filter(|d| d.is_finite());
    let init = number(1)? as u64..number(2)? as u64;
    let complete = number(3)? > 0.0;
    let tracks = parts
        .get(4)
        .dyn_into::<Array>()
        .ok()?
        .iter()
        .filter_map(|t| {
            let t: Array = t.dyn_into().ok()?;
            Some(Track {
                id: t.get(0).as_f64()? as u64,
                kind: if t.get(1).as_f64()? == 0.0 {
                    TrackKind::Video
                } else {
                    TrackKind::Audio
                },
                codec: t.get(2).as_string()?,
            })
        })
        .collect();
    let units = parts.get(5).dyn_into::<Float64Array>().ok()?.to_vec();
    let segments = units
        .chunks_exact(4)
        .map(|u| Segment {
            start: u[0],
            end: u[1],
            bytes: u[2] as u64..u[3] as u64,
        })
        .collect();
    Some(MediaIndex {
        container: Container::Mp4,
        tracks,
        duration,
        init,
        segments,
        complete,
    })
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
            Slot::Loading { pending, bytes } => {
                if !data.is_empty() {
                    *bytes += data.len();
                    if *bytes > MAX_PENDING_BYTES {
                        return Err(MediaError::TooLarge {
                            what: "MP4 header while the remuxer loads",
                            limit: MAX_PENDING_BYTES as u64,
                        });
                    }
                    pending.push((offset, data.to_vec(), file_len));
                }
                Ok(Step::Pending)
            }
            Slot::Failed(message) => Err(MediaError::Elsewhere {
                truncated: false,
                message: message.clone(),
            }),
            Slot::Ready(session) => {
                let step = session
                    .feed(offset as f64, data, file_len.map_or(-1.0, |l| l as f64))
                    .map_err(|e| error_from(&e))?;
                if self.index.is_none() {
                    self.index = read_index(&session.index());
                }
                match step.as_slice() {
                    [need, len] => Ok(Step::NeedBytes {
                        offset: *need as u64,
                        len: *len as u64,
                    }),
                    _ if self.index.is_some() => Ok(Step::Ready),
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
        None
    }

    fn start(&self) -> f64 {
        match &*self.slot.borrow() {
            Slot::Ready(session) => session.start(),
            _ => 0.0,
        }
    }

    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        // A second handle on the same JS session: the reader keeps its own.
        let session = match &*self.slot.borrow() {
            Slot::Ready(session) => JsValue::clone(session).unchecked_into::<RemuxSession>(),
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
        self.session.reset(offset as f64);
    }

    fn push(&mut self, offset: u64, data: &[u8]) -> Result<Vec<Vec<u8>>, MediaError> {
        let outputs = self
            .session
            .push(offset as f64, data)
            .map_err(|e| error_from(&e))?;
        Ok(outputs
            .iter()
            .filter_map(|o| o.dyn_into::<Uint8Array>().ok())
            .map(|o| o.to_vec())
            .collect())
    }
}
