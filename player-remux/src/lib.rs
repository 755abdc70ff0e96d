//! Caudal's remuxer as a wasm module of its own.
//!
//! Most of a player's visits are to files MSE takes as they are (fragmented
//! MP4, WebM, MP3); only plain MP4s need the remuxer, which is a third of
//! the player's code. So it is a second module, loaded by the player the
//! first time a file turns out to be a plain MP4. The interface is narrow
//! and plain: bytes in, a status or bytes out, and the index in a compact
//! array (`player-wasm/src/remux_bridge.rs` reads it back). Errors come back
//! as exceptions carrying the error's sentence, prefixed `truncated:` when
//! the file ends early (the player reports those with their own code).

use caudal_media::index::{ContainerIndexer, MediaError, Repackager, Step, TrackKind};
use caudal_media::remux::{Mp4Remuxer, PlanOptions};
use js_sys::{Array, Float64Array, Uint8Array};
use wasm_bindgen::prelude::*;

/// One plain MP4 being read, then remuxed.
#[wasm_bindgen]
pub struct RemuxSession {
    reader: Mp4Remuxer,
    stream: Option<Box<dyn Repackager>>,
}

impl std::fmt::Debug for RemuxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemuxSession")
            .field("reader", &self.reader)
            .field("handed_over", &self.stream.is_some())
            .finish()
    }
}

fn thrown(error: MediaError) -> JsValue {
    let prefix = if matches!(error, MediaError::Truncated { .. }) {
        "truncated:"
    } else {
        "format:"
    };
    JsValue::from_str(&format!("{prefix}{error}"))
}

#[wasm_bindgen]
impl RemuxSession {
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)] // a JS constructor
    pub fn new() -> RemuxSession {
        RemuxSession {
            reader: Mp4Remuxer::new(PlanOptions::default()),
            stream: None,
        }
    }

    /// `ContainerIndexer::feed`: `[-1]` when ready, else `[offset, len]`
    /// of the bytes it needs. `file_len` < 0: unknown.
    pub fn feed(&mut self, offset: f64, data: &[u8], file_len: f64) -> Result<Vec<f64>, JsValue> {
        let len = (file_len >= 0.0).then_some(file_len as u64);
        match self.reader.feed(offset as u64, data, len).map_err(thrown)? {
            Step::Ready => Ok(vec![-1.0]),
            Step::NeedBytes { offset, len } => Ok(vec![offset as f64, len as f64]),
            // The remuxer is all here: it never waits on code.
            Step::Pending => Ok(vec![]),
        }
    }

    /// The index as `[duration (NaN: unknown), init start, init end,
    /// complete (0/1), [[id, kind (0 video, 1 audio), codec], …],
    /// Float64Array of (start, end, byte start, byte end) per segment]`,
    /// or undefined before it is ready.
    pub fn index(&self) -> JsValue {
        let Some(index) = self.reader.index() else {
            return JsValue::UNDEFINED;
        };
        let tracks = Array::new();
        for t in &index.tracks {
            let kind = if t.kind == TrackKind::Video { 0 } else { 1 };
            let track = Array::of3(
                &JsValue::from_f64(t.id as f64),
                &JsValue::from_f64(f64::from(kind)),
                &JsValue::from_str(&t.codec),
            );
            tracks.push(&track);
        }
        let mut units = Vec::with_capacity(index.segments.len() * 4);
        for s in &index.segments {
            units.extend([s.start, s.end, s.bytes.start as f64, s.bytes.end as f64]);
        }
        let out = Array::new();
        out.push(&JsValue::from_f64(index.duration.unwrap_or(f64::NAN)));
        out.push(&JsValue::from_f64(index.init.start as f64));
        out.push(&JsValue::from_f64(index.init.end as f64));
        out.push(&JsValue::from_f64(if index.complete { 1.0 } else { 0.0 }));
        out.push(&tracks);
        out.push(&Float64Array::from(units.as_slice()));
        out.into()
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

    /// `Repackager::reset`.
    pub fn reset(&mut self, offset: f64) {
        if let Some(stream) = self.stream.as_mut() {
            stream.reset(offset as u64);
        }
    }

    /// `Repackager::push`: the fragments these bytes completed.
    pub fn push(&mut self, offset: f64, data: &[u8]) -> Result<Array, JsValue> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(Array::new());
        };
        let outputs = stream.push(offset as u64, data).map_err(thrown)?;
        Ok(outputs
            .iter()
            .map(|o| JsValue::from(Uint8Array::from(o.as_slice())))
            .collect())
    }
}
