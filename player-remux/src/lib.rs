//! Caudal's container readers as wasm modules of their own.
//!
//! The player's main module reads no container itself: it tells the format
//! from the first bytes and runs that format's reader in the module that
//! has it, loaded beside the file (or when the first bytes say; for an MP4,
//! when its `moov` says plain or fragmented: `caudal_media::mp4::Mp4Triage`).
//! This crate is built once per module, one feature each, so that no module
//! carries another's code: `caudal_remux` (the plain-MP4 remuxer: most files
//! on the web are plain MP4s), `caudal_fmp4` (fragmented MP4), `caudal_webm`,
//! `caudal_mp3`, and `caudal_rewrite` (the fMP4 fragment rewrite and
//! `caudal_media::webm::tidy::TidyReader`), which only files MSE would
//! misread need. It is only that boundary: one [`RemuxSession`] wraps the
//! reader it is made for ([`SessionReader`]) and the repackager it hands
//! over, and every answer that is more than a number travels as the bytes
//! of one [`caudal_media::wire::Reply`] — the step, the index, the
//! fragments, the error with its kind, or the hand-over to a reader of
//! another module. `player-wasm/src/remux_bridge.rs` decodes them with the
//! same codec; nothing is thrown on purpose.

use std::cell::Cell;
use std::rc::Rc;

use caudal_media::index::{ContainerIndexer, Handover, MediaError, MediaIndex, Repackager, Step};
use caudal_media::wire::{self, Reply, SessionReader};
use wasm_bindgen::prelude::*;

/// The allocator of this module (see Cargo.toml): talc, for its size.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Where a reader's hand-over to another module's reader is noted.
type HandedOut = Rc<Cell<Option<Handover>>>;

/// The reader this build of the module runs for `what` (see the crate's
/// features), named directly so that other modules' readers are not linked
/// in; one it does not have answers with an error.
fn reader(what: SessionReader, out: &HandedOut) -> Box<dyn ContainerIndexer> {
    #[cfg(any(feature = "fmp4", feature = "webm", feature = "mp3"))]
    use caudal_media::probe::Format;
    let _ = out;
    match what {
        // What the triage in the main module sends, and a whole MP4: the
        // fMP4 reader, which hands a plain `moov` to the remuxer's module.
        #[cfg(feature = "fmp4")]
        SessionReader::Container(Format::Mp4) | SessionReader::Handed(Handover::FragmentedMp4) => {
            let out = out.clone();
            Box::new(caudal_media::mp4::Mp4Indexer::with_plain(Some(Box::new(
                move |why| handed_out(&out, why),
            ))))
        }
        #[cfg(feature = "remux")]
        SessionReader::Handed(Handover::PlainMp4) => {
            use caudal_media::remux::{Mp4Remuxer, PlanOptions};
            Box::new(Mp4Remuxer::new(PlanOptions::default()))
        }
        #[cfg(feature = "webm")]
        SessionReader::Container(Format::WebM) => {
            let out = out.clone();
            Box::new(caudal_media::webm::WebmIndexer::with_tidy(Some(Box::new(
                move |why| handed_out(&out, why),
            ))))
        }
        #[cfg(feature = "mp3")]
        SessionReader::Container(Format::Mp3) => Box::new(caudal_media::mp3::Mp3Indexer::new()),
        #[cfg(feature = "rewrite")]
        SessionReader::Handed(Handover::TidyWebm) => {
            Box::new(caudal_media::webm::tidy::TidyReader::new())
        }
        #[cfg(feature = "rewrite")]
        SessionReader::Handed(Handover::RewriteFragments) => {
            Box::new(caudal_media::mp4::Fmp4Indexer::rewriting())
        }
        #[allow(unreachable_patterns)]
        other => Box::new(Absent(format!(
            "this reader module has no {other:?} reader"
        ))),
    }
}

/// The reader a file was handed over to lives in another module: noted
/// for the session to answer [`Reply::HandOver`].
#[cfg(any(feature = "fmp4", feature = "webm"))]
fn handed_out(out: &HandedOut, why: Handover) -> Box<dyn ContainerIndexer> {
    out.set(Some(why));
    Box::new(Elsewhere)
}

/// Stands in for a reader of another module: waits, keeps nothing.
#[cfg(any(feature = "fmp4", feature = "webm"))]
struct Elsewhere;

#[cfg(any(feature = "fmp4", feature = "webm"))]
impl ContainerIndexer for Elsewhere {
    fn feed(&mut self, _: u64, _: &[u8], _: Option<u64>) -> Result<Step, MediaError> {
        Ok(Step::Pending)
    }

    fn index(&self) -> Option<&MediaIndex> {
        None
    }
}

/// A reader this module was not built with, or a code no build knows (a
/// player and a module from different builds): every feed fails, saying so.
struct Absent(String);

impl ContainerIndexer for Absent {
    fn feed(&mut self, _: u64, _: &[u8], _: Option<u64>) -> Result<Step, MediaError> {
        Err(MediaError::Elsewhere {
            truncated: false,
            message: self.0.clone(),
        })
    }

    fn index(&self) -> Option<&MediaIndex> {
        None
    }
}

/// One file being read, then repackaged.
#[wasm_bindgen]
pub struct RemuxSession {
    reader: Box<dyn ContainerIndexer>,
    stream: Option<Box<dyn Repackager>>,
    handed_out: HandedOut,
}

impl std::fmt::Debug for RemuxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemuxSession")
            .field("repackaging", &self.stream.is_some())
            .field("handed_out", &self.handed_out.get())
            .finish()
    }
}

#[wasm_bindgen]
impl RemuxSession {
    /// `reads`: the [`SessionReader::code`] of the reader to run.
    #[wasm_bindgen(constructor)]
    pub fn new(reads: u8) -> RemuxSession {
        let handed_out = HandedOut::default();
        let reader = match SessionReader::from_code(reads) {
            Some(what) => reader(what, &handed_out),
            None => Box::new(Absent(format!("no reader has the code {reads}"))),
        };
        RemuxSession {
            reader,
            stream: None,
            handed_out,
        }
    }

    /// `ContainerIndexer::feed`: a [`Reply::Step`] or [`Reply::Failed`], or
    /// [`Reply::HandOver`] once the reader handed the file to another
    /// module's reader. `file_len`: the file's length, if known.
    pub fn feed(&mut self, offset: f64, data: &[u8], file_len: Option<f64>) -> Vec<u8> {
        let file_len = file_len.map(|len| len as u64);
        let fed = self.reader.feed(offset as u64, data, file_len);
        wire::encode(&match (self.handed_out.get(), fed) {
            (Some(handed), _) => Reply::HandOver(handed),
            (None, Ok(step)) => Reply::Step(step),
            (None, Err(error)) => Reply::Failed((&error).into()),
        })
    }

    /// `ContainerIndexer::index`: a [`Reply::Index`].
    pub fn index(&self) -> Vec<u8> {
        wire::encode(&Reply::Index(self.reader.index().cloned()))
    }

    /// The index with only its units from the `from`-th on: what a scan
    /// added since the player last looked (a [`Reply::Index`]).
    pub fn index_since(&self, from: u32) -> Vec<u8> {
        let index = self.reader.index().map(|i| MediaIndex {
            container: i.container,
            tracks: i.tracks.clone(),
            duration: i.duration,
            init: i.init.clone(),
            segments: i.segments.get(from as usize..).unwrap_or(&[]).to_vec(),
            complete: i.complete,
        });
        wire::encode(&Reply::Index(index))
    }

    /// `ContainerIndexer::presentation`: `[offset, end]`, or empty.
    pub fn presentation(&self) -> Vec<f64> {
        self.reader
            .presentation()
            .map_or_else(Vec::new, |p| vec![p.offset, p.end])
    }

    /// `ContainerIndexer::wants`: `[start, end]`, or empty.
    pub fn wants(&self) -> Vec<f64> {
        self.reader
            .wants()
            .map_or_else(Vec::new, |r| vec![r.start as f64, r.end as f64])
    }

    /// `ContainerIndexer::start`.
    pub fn start(&self) -> f64 {
        self.reader.start()
    }

    /// Moves the repackager out of the reader (`take_repackager`); false
    /// when there is none (not ready, or taken).
    pub fn take_repackager(&mut self) -> bool {
        if self.stream.is_none() {
            self.stream = self.reader.take_repackager();
        }
        self.stream.is_some()
    }

    /// `Repackager::init_segment` (empty before `take_repackager`).
    pub fn init_segment(&self) -> Vec<u8> {
        self.stream
            .as_ref()
            .map_or_else(Vec::new, |s| s.init_segment())
    }

    /// `Repackager::reset_at`: a new run at `offset`, its unit at
    /// `unit_start` seconds when the index says.
    pub fn reset(&mut self, offset: f64, unit_start: Option<f64>) {
        if let Some(stream) = self.stream.as_mut() {
            stream.reset_at(offset as u64, unit_start);
        }
    }

    /// `Repackager::push`: a [`Reply::Fragments`] of what these bytes
    /// completed, or [`Reply::Failed`].
    pub fn push(&mut self, offset: f64, data: &[u8]) -> Vec<u8> {
        let Some(stream) = self.stream.as_mut() else {
            return wire::encode(&Reply::Fragments(Vec::new()));
        };
        wire::encode(&match stream.push(offset as u64, data) {
            Ok(fragments) => Reply::Fragments(fragments),
            Err(error) => Reply::Failed((&error).into()),
        })
    }
}
