//! `caudal inspect` and `caudal package`: telling which files start slowly
//! in a browser and rewriting them so they start fast.
//!
//! Everything here reads files with bounded memory: top-level box headers
//! are read by seeking ([`layout`]), and only the boxes that index the media
//! (`moov`, `sidx`, `moof`, WebM headers and Cues) are read whole — never
//! `mdat`. The analysis itself is the media crate's (sample tables, the
//! remux plan, the container indexers); this module is the file I/O around
//! it.
//!
//! - [`inspect`]: one [`Report`] per file (container, streamability, codecs,
//!   duration, bitrate, keyframe spacing, where `moov` sits, how much a
//!   player fetches before the first frame).
//! - [`package`]: faststart (`moov` moved before `mdat`, chunk offsets
//!   shifted) or fragmented (init segment, `sidx`, `moof`+`mdat` pairs),
//!   written to a temporary file beside the output and renamed into place.
//! - [`scan`]: the warnings `caudal serve` logs at start for slow files.

mod driver;
mod faststart;
mod fragment;
pub mod inspect;
mod layout;
mod moov_rewrite;
mod output;
pub mod package;
mod report;
pub mod scan;

use std::path::PathBuf;

pub use inspect::{Report, inspect};
pub use package::{Mode, package};

use caudal_media::index::MediaError;

/// Why inspecting or packaging a file failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
    #[error("{0}")]
    Media(#[from] MediaError),
    #[error("not an MP4 file (no ISO BMFF box at the start)")]
    NotMp4,
    #[error("the MP4 is already fragmented: it streams as it is")]
    AlreadyFragmented,
    #[error("the output is the input file: caudal package never rewrites in place")]
    SameFile,
    #[error("{0} exists (pass --force to replace it)")]
    OutputExists(PathBuf),
    #[error("the output folder {0} does not exist")]
    NoOutputDir(PathBuf),
    #[error("{count} fragments: more than a 'sidx' can list (65535)")]
    TooManyFragments { count: usize },
    #[error("chunk offset {offset} points outside the media data")]
    StrayChunkOffset { offset: u64 },
}

impl ToolError {
    /// A read error on `path`.
    pub(crate) fn read(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ToolError + '_ {
        move |source| ToolError::Read {
            path: path.to_owned(),
            source,
        }
    }
}
