//! Why inspecting or packaging failed, for reasons of the media itself
//! (the caller's [`ReadAt`](super::ReadAt) error adds its I/O failures).

use crate::index::MediaError;

/// What is wrong with the input (or what it asks that we cannot do).
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{0}")]
    Media(#[from] MediaError),
    #[error("not an MP4 file (no ISO BMFF box at the start)")]
    NotMp4,
    #[error("the MP4 is already fragmented: it streams as it is")]
    AlreadyFragmented,
    #[error("{count} fragments: more than a 'sidx' can list (65535)")]
    TooManyFragments { count: usize },
    #[error("chunk offset {offset} points outside the media data")]
    StrayChunkOffset { offset: u64 },
}
