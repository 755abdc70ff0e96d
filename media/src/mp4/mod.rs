//! Fragmented MP4 (ISO BMFF) reading.
//!
//! Laid out like symphonia's `symphonia-format-isomp4`: [`boxes`] holds one
//! small, bounded parser per box kind (each takes a payload slice and its file
//! offset, and never reads past it); [`Fmp4Indexer`] is the incremental,
//! sans-I/O state machine that walks the top-level boxes of a file as bytes
//! arrive and builds a [`MediaIndex`](crate::index::MediaIndex) from them,
//! with `fragments` (units from `sidx`, `moof` and `mdat`) and `tail` (the
//! `mfra` at the end of the file) beside it. [`Mp4Indexer`] starts as the
//! fMP4 reader and hands over to a plain-MP4 reader when the `moov` says so;
//! [`Mp4Triage`] only tells which of the two a file needs, from its box
//! headers (the player's main module, whose MP4 readers are on-demand
//! modules).
//!
//! Only what the player needs is read: track ids, kinds and RFC 6381 codec
//! strings (`moov`), the fragment defaults (`mvex`), a whole-file `sidx` when
//! there is one, and otherwise each `moof`'s start time and duration in the
//! timing track. Sample tables and `mdat` payloads are never buffered.

pub mod boxes;
mod either;
mod fragments;
mod indexer;
#[cfg(feature = "remux")]
pub mod normalise;
pub mod rechunk;
pub mod samples;
mod tail;
mod triage;
pub mod write;

pub use either::{Mp4Indexer, default_plain_mp4};
pub use indexer::Fmp4Indexer;
pub use triage::Mp4Triage;

/// The `container` name used in [`MediaError`](crate::index::MediaError)s.
pub(crate) const CONTAINER: &str = "mp4";
