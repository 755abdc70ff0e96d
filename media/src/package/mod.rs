//! `caudal inspect` and `caudal package`, the media half: telling which
//! files start slowly in a browser, and rewriting plain MP4s so that they
//! start fast.
//!
//! Sans-I/O like the rest of the crate: the input is read through
//! [`ReadAt`], which the caller implements (the server's CLI over a file),
//! and every read is bounded — top-level box headers one at a time
//! ([`layout`]), and whole only the boxes that index the media (`moov`,
//! `sidx`, `moof`, WebM headers and Cues), never `mdat`. Output is handed
//! back as bytes and as byte ranges of the input to copy; the caller writes
//! them, so where and how (a temporary file renamed into place) is its
//! business.
//!
//! - [`inspect()`]: one [`Report`] per file (container, streamability,
//!   codecs, duration, bitrate, keyframe spacing, where `moov` sits, how
//!   much a player fetches before the first frame), built on the crate's
//!   container indexers ([`drive`]) and sample tables; [`Report`] prints
//!   itself for people and serializes (feature `serde`) for `--json`.
//! - [`PlainMp4`]: a plain MP4 checked before anything is written, then
//!   [`faststart()`] (`moov` moved before `mdat`, chunk offsets rewritten
//!   by [`moov_rewrite`]) or [`Fragmenter`] (the remuxer's init segment, a
//!   `sidx`, then `moof`+`mdat` pairs, one fragment in memory at a time).
//!
//! Built with the `remux` feature: inspecting a plain MP4 and fragmenting
//! both use the remuxer's fragment plan.

pub mod drive;
mod error;
mod faststart;
mod fragment;
mod human;
mod inspect;
pub mod layout;
pub mod moov_rewrite;
mod read;
mod report;

pub use error::PackageError;
pub use faststart::{Faststart, Part, faststart};
pub use fragment::Fragmenter;
pub use human::human_bytes;
pub use inspect::{SLOW_KEYFRAME_SECS, inspect};
pub use layout::{Moov, Mp4Layout, PlainMp4};
pub use read::{InMemory, ReadAt, read_exact_at};
pub use report::{FirstFrame, Keyframes, MoovReport, Report, TrackReport};
