//! `caudal inspect` and `caudal package`, the file half: the media work is
//! [`caudal_media::package`] (sans-I/O); this module opens the files, feeds
//! it reads ([`file`]), writes what it answers ([`output`]) and runs the
//! start-up scan of `caudal serve` ([`scan`]).
//!
//! - [`inspect()`]: one [`Report`] per file.
//! - [`package()`]: faststart or fragmented, written to a temporary file
//!   beside the output and renamed into place.
//! - [`scan`]: the warnings `caudal serve` logs at start for slow files.

mod file;
mod inspect;
mod output;
mod package;
pub mod scan;

use std::path::PathBuf;

pub use caudal_media::package::Report;
pub use inspect::inspect;
pub use package::{Mode, Packaged, package};

use caudal_media::package::PackageError;

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
    /// The media itself (not an MP4, cut short, already fragmented...).
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error("the output is the input file: caudal package never rewrites in place")]
    SameFile,
    #[error("{0} exists (pass --force to replace it)")]
    OutputExists(PathBuf),
    #[error("the output folder {0} does not exist")]
    NoOutputDir(PathBuf),
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
