//! MP3 (MPEG-1/2/2.5 Audio Layer III) reading: MSE takes an MP3 file as it
//! is (`audio/mpeg`), so all the player needs is a time ↔ byte map to fetch
//! and seek by. There is no init segment and no sample table: the map comes
//! from the Xing/Info or VBRI table of contents in the first frame, or, for
//! plain constant-bitrate files, from the bitrate.
//!
//! One file per concern: [`frame`] decodes a 4-byte frame header, [`id3`]
//! measures the ID3v2 tags in front (and ID3v1/APEv2 tags at the end),
//! [`xing`] reads the Xing/Info and VBRI headers, `plan` turns what the
//! first frame says into the time ↔ byte map, and [`indexer`] is the
//! sans-I/O state machine that finds the first frame and builds the index.

pub mod frame;
pub mod id3;
pub mod indexer;
mod plan;
pub mod xing;

pub use indexer::Mp3Indexer;

use crate::index::MediaError;

/// A malformed-data error at `offset`; reasons are static to keep the wasm
/// small.
pub(crate) fn malformed(offset: u64, reason: &'static str) -> MediaError {
    MediaError::Malformed {
        container: "MP3",
        offset,
        reason: reason.to_owned(),
    }
}

/// A well-formed MPEG audio file using something we do not stream.
pub(crate) fn unsupported(what: &'static str) -> MediaError {
    MediaError::Unsupported {
        container: "MP3",
        what: what.to_owned(),
    }
}
