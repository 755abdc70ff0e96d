//! Caudal's remuxer as a wasm module of its own.
//!
//! Most of a player's visits are to files MSE takes as they are (fragmented
//! MP4, WebM, MP3); only plain MP4s need the remuxer, which is a third of
//! the player's code, and only files MSE would misread need the rewrites
//! (fMP4 fragments with absolute offsets or no decode times; untidy WebM
//! from mkvmerge, Matroska). So this crate is built twice, as two modules
//! the player loads the first time a file needs one: `caudal_remux` (the
//! remuxer) and, with the `rewrite` feature, `caudal_rewrite` (the fMP4
//! rewrite and `caudal_media::webm::tidy::TidyReader`), so that plain-MP4
//! pages do not carry the rewrites. It is only that boundary: one
//! [`RemuxSession`] wraps the reader it is made for ([`Handover`]) and the
//! repackager it hands over, and every answer that is
//! more than a number travels as the bytes of one
//! [`caudal_media::wire::Reply`] — the step, the index, the fragments, or
//! the error with its kind. `player-wasm/src/remux_bridge.rs` decodes them
//! with the same codec; nothing is thrown on purpose.

use caudal_media::index::{ContainerIndexer, Handover, Repackager};
use caudal_media::wire::{self, Reply};
use wasm_bindgen::prelude::*;

/// The readers this build of the module runs (see the crate's features),
/// named directly, so that the other module's are not linked in: the plain
/// MP4 remuxer (`caudal_remux`), or (feature `rewrite`, `caudal_rewrite`)
/// the fMP4 reader whose fragments are rewritten and the WebM tidy reader.
#[cfg(not(feature = "rewrite"))]
fn reader(_for: Handover) -> Box<dyn ContainerIndexer> {
    use caudal_media::remux::{Mp4Remuxer, PlanOptions};
    Box::new(Mp4Remuxer::new(PlanOptions::default()))
}
#[cfg(feature = "rewrite")]
fn reader(handed: Handover) -> Box<dyn ContainerIndexer> {
    match handed {
        Handover::TidyWebm => Box::new(caudal_media::webm::tidy::TidyReader::new()),
        Handover::RewriteFragments | Handover::PlainMp4 => {
            Box::new(caudal_media::mp4::Fmp4Indexer::rewriting())
        }
    }
}

/// One file being read, then repackaged.
#[wasm_bindgen]
pub struct RemuxSession {
    reader: Box<dyn ContainerIndexer>,
    stream: Option<Box<dyn Repackager>>,
}

impl std::fmt::Debug for RemuxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemuxSession")
            .field("handed_over", &self.stream.is_some())
            .finish()
    }
}

#[wasm_bindgen]
impl RemuxSession {
    /// `handed`: why the file was handed over ([`handover_code`]): 0 plain
    /// MP4, 1 WebM tidy, 2 fMP4 fragments to rewrite.
    #[wasm_bindgen(constructor)]
    pub fn new(handed: u8) -> RemuxSession {
        let handed = match handed {
            1 => Handover::TidyWebm,
            2 => Handover::RewriteFragments,
            _ => Handover::PlainMp4,
        };
        RemuxSession {
            reader: reader(handed),
            stream: None,
        }
    }

    /// `ContainerIndexer::feed`: a [`Reply::Step`] or [`Reply::Failed`].
    /// `file_len`: the file's length, if known.
    pub fn feed(&mut self, offset: f64, data: &[u8], file_len: Option<f64>) -> Vec<u8> {
        let file_len = file_len.map(|len| len as u64);
        wire::encode(&match self.reader.feed(offset as u64, data, file_len) {
            Ok(step) => Reply::Step(step),
            Err(error) => Reply::Failed((&error).into()),
        })
    }

    /// `ContainerIndexer::index`: a [`Reply::Index`].
    pub fn index(&self) -> Vec<u8> {
        wire::encode(&Reply::Index(self.reader.index().cloned()))
    }

    /// The index with only its units from the `from`-th on: what a scan
    /// added since the player last looked (a [`Reply::Index`]).
    pub fn index_since(&self, from: u32) -> Vec<u8> {
        let index = self
            .reader
            .index()
            .map(|i| caudal_media::index::MediaIndex {
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

/// The number [`RemuxSession::new`] takes for `handed`; the player's
/// bridge sends the same.
pub fn handover_code(handed: Handover) -> u8 {
    match handed {
        Handover::PlainMp4 => 0,
        Handover::TidyWebm => 1,
        Handover::RewriteFragments => 2,
    }
}
