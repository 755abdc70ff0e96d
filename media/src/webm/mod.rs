//! WebM (Matroska) reading: an incremental, bounded indexer that turns the
//! first bytes of a `.webm` file (and, when its Cues sit at the end, one
//! more range) into a [`MediaIndex`](crate::index::MediaIndex) of Clusters.
//!
//! One file per concern, in the style of symphonia's demuxers: [`ebml`]
//! decodes the variable-length integers, [`header`], [`info`], [`tracks`],
//! [`cues`], [`seekhead`] and [`cluster`] each read one element from an
//! already-held payload; `cursor` holds the bytes at the walk's position (an
//! [`io::Window`](crate::io::Window)) and checks each element's size before
//! the walk waits for it; `scan` discovers Clusters when there are no Cues;
//! and [`indexer`] is the sans-I/O state machine, from the EBML header
//! through the Cues, that decides which bytes it needs next.

pub mod chromium;
pub mod cluster;
pub mod cues;
mod cursor;
pub mod ebml;
pub mod elements;
pub mod header;
pub mod indexer;
pub mod info;
mod scan;
pub mod seekhead;
pub mod tail;
#[cfg(feature = "remux")]
pub mod tidy;
pub mod tracks;

pub use indexer::WebmIndexer;

use crate::index::MediaError;

/// A malformed-data error at `offset`; reasons are static to keep the wasm
/// small.
pub(crate) fn malformed(offset: u64, reason: &'static str) -> MediaError {
    MediaError::Malformed {
        container: "WebM",
        offset,
        reason: reason.to_owned(),
    }
}

/// A well-formed file using something we do not stream.
pub(crate) fn unsupported(what: &'static str) -> MediaError {
    MediaError::Unsupported {
        container: "WebM",
        what: what.to_owned(),
    }
}
