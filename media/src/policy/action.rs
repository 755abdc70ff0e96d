//! What the policy tells the shell to do, and how the shell names requests
//! and reports how they ended.

use std::ops::Range;

use super::error::ErrorCode;
use super::state::State;
use crate::cmcd::Cmcd;
use crate::index::Presentation;

/// Identifies one HTTP request the policy asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u32);

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// GET `range` of the file with a `Range` header. `media` bytes are queued
    /// for appending; others (an index at the end of the file) are not.
    Fetch {
        id: RequestId,
        range: Range<u64>,
        media: bool,
        /// What to tell the server with it (CTA-5004), as the shell sends
        /// it: the `CMCD` query argument or the `CMCD-*` headers. The shell
        /// adds `pr` when the playback rate is not 1.
        cmcd: Box<Cmcd>,
    },
    /// Cancel the request; ignore any bytes it still delivers.
    Abort { id: RequestId },
    /// The index is known: create the SourceBuffer for `mime` and set the
    /// MediaSource duration. `raw`: the file's own bytes are appended
    /// ([`Action::Append`]); otherwise they are repackaged and only
    /// [`Action::AppendData`] is appended (drop queued file bytes).
    /// `window`: gapless presentation (set `timestampOffset` and
    /// `appendWindowEnd`), when the stream carries encoder delay/padding.
    Configure {
        mime: String,
        duration: Option<f64>,
        raw: bool,
        window: Option<Presentation>,
        /// Begin playback here (`currentTime`), not at 0: frames before it
        /// are decoded but not meant to be seen.
        start: f64,
    },
    /// Append the queued media bytes up to file offset `end`.
    Append { end: u64 },
    /// Append this init segment of the repackaged output; it stays queued
    /// across a new run ([`Action::ResetRun`]).
    AppendInit(Vec<u8>),
    /// Append this repackaged fragment of the current run; a new run drops
    /// it if it is still queued (it belongs to the old position).
    AppendData(Vec<u8>),
    /// A new run starts at `offset`: `SourceBuffer.abort()`, drop queued
    /// bytes. `timestamp_offset`: for a stream without timestamps (MP3), the
    /// media time of `offset`, for `SourceBuffer.timestampOffset`.
    ResetRun {
        offset: u64,
        timestamp_offset: Option<f64>,
    },
    /// `SourceBuffer.remove(range)` (seconds).
    Evict { range: Range<f64> },
    /// Keep playback paused (startup, stall, seek) until [`Action::Release`].
    Hold,
    /// Playback may run (if the viewer wants it to).
    Release,
    /// Playback ran dry: the `caudal:stall` event.
    Stall { position: f64 },
    /// The state changed: the `caudal:state` event.
    State { state: State, previous: State },
    /// The duration became known (or better known) after `Configure`.
    SetDuration(f64),
    /// Every byte is appended: `MediaSource.endOfStream()`.
    EndOfStream,
    /// Ask the page's `authorize(url)` for a new URL (the token is about to
    /// expire, or the server refused it); answer with
    /// `Policy::handle_authorized`. Later fetches use the new URL.
    Authorize,
    /// Give up: the `caudal:error` event. Nothing more will be asked.
    Fail { code: ErrorCode, message: String },
}

/// How a request ended, as the shell saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The body ended normally.
    Complete,
    /// The connection failed or was cut; worth retrying.
    NetworkError(String),
}
