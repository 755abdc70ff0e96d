//! The one SourceBuffer: created for the file's MIME type, then fed the
//! steps of the [`MseQueue`] one at a time.

use caudal_media::index::Presentation;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use web_sys::{MediaSource, MediaSourceReadyState, SourceBuffer};

use crate::js;
use crate::mse_queue::{MseQueue, Op};

/// Why the browser refused an append (the chunk stays queued).
#[derive(Debug)]
pub enum Refused {
    /// `QuotaExceededError`: the buffer is full.
    Quota,
    /// Anything else, in the browser's words.
    Error(String),
}

/// Adds the SourceBuffer for `mime` to an open `media_source`, sets the
/// duration if known and, for a gapless stream, the presentation window.
pub fn add(
    media_source: &MediaSource,
    mime: &str,
    duration: Option<f64>,
    window: Option<Presentation>,
) -> Result<SourceBuffer, JsValue> {
    let source_buffer = media_source.add_source_buffer(mime)?;
    if let Some(duration) = duration.filter(|d| d.is_finite() && *d > 0.0) {
        media_source.set_duration(duration);
    }
    // Gapless: trim what native playback trims (MP3 encoder delay at the
    // start, padding at the end).
    if let Some(window) = window {
        source_buffer.set_timestamp_offset(window.offset);
        source_buffer.set_append_window_end(window.end);
    }
    Ok(source_buffer)
}

/// Runs what may run now on an idle `sb`: the next operation, then (unless
/// that one keeps the buffer busy) the next append.
pub fn run_next(
    sb: &SourceBuffer,
    media_source: Option<&MediaSource>,
    queue: &mut MseQueue<Uint8Array>,
) -> Result<(), Refused> {
    if sb.updating() {
        return Ok(());
    }
    let open = || media_source.filter(|ms| ms.ready_state() == MediaSourceReadyState::Open);
    match queue.take_op() {
        Some(Op::Reset(timestamp_offset)) => {
            let _ = sb.abort();
            if let Some(time) = timestamp_offset {
                sb.set_timestamp_offset(time);
            }
        }
        Some(Op::Remove(start, end)) => {
            // Busy until `updateend`; a refused removal is skipped.
            let removing = sb.remove(start, end).is_ok();
            if removing {
                return Ok(());
            }
        }
        Some(Op::Duration(duration)) => {
            if duration.is_finite()
                && duration > 0.0
                && let Some(ms) = open()
            {
                ms.set_duration(duration);
            }
        }
        Some(Op::EndOfStream) => {
            if let Some(ms) = open() {
                let _ = ms.end_of_stream();
            }
            return Ok(());
        }
        None => {}
    }
    let Some(chunk) = queue.next_chunk() else {
        return Ok(());
    };
    match sb.append_buffer_with_array_buffer_view(&chunk) {
        Ok(()) => {
            let (any, media) = (queue.any_appended(), queue.any_media_appended());
            queue.appended();
            // For the page's timeline, once per player each.
            if !any {
                js::mark("caudal:first-append");
            }
            if !media && queue.any_media_appended() {
                js::mark("caudal:first-media-append");
            }
            Ok(())
        }
        Err(error) if js::is_dom_exception(&error, "QuotaExceededError") => Err(Refused::Quota),
        Err(error) => Err(Refused::Error(js::error_message(&error))),
    }
}
