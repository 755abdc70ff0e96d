//! Response bodies: where their bytes come from and how they are sent.
//!
//! A body is a list of [`Segment`]s — literal bytes (multipart part headers)
//! and byte ranges of a [`ByteSource`] — read whole when small
//! ([`stream::read_all`]) and streamed in chunks of at most [`CHUNK`] bytes
//! when not ([`stream::BodyStream`]), so memory per connection is bounded
//! whatever the file size. The source is a trait so that the shared chunk
//! cache ([`chunk_cache::ChunkCache`]) can stand between the response and the
//! file: [`FileSource`] is an open file ([`file::OpenFile`], kept open between
//! requests by [`file_cache::FileCache`]) read directly or through the cache.

use std::io;
use std::ops::RangeInclusive;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

pub mod chunk_cache;
pub mod file;
pub mod file_cache;
pub mod send_file;
pub mod stream;

/// Largest piece read and sent at once.
pub const CHUNK: usize = 256 * 1024;

/// Where the bytes of one version of a representation come from.
///
/// A source answers for the version whose validators were sent: if it no
/// longer holds that version (a file written in place), reads fail rather
/// than hand the client a mix of old and new bytes.
pub trait ByteSource {
    /// Appends the `len` bytes at `offset` to `buf`.
    fn read_into(&self, offset: u64, len: usize, buf: &mut BytesMut) -> io::Result<()>;

    /// The `len` bytes at `offset` as one chunk. `scratch` is kept by the
    /// caller between chunks: the default reads into it and splits the bytes
    /// off, so its allocation is reused once the previous chunk has been sent
    /// and dropped. A source that already holds shared bytes (a cache) can
    /// return them without a copy and leave `scratch` alone.
    fn read_chunk(&self, offset: u64, len: usize, scratch: &mut BytesMut) -> io::Result<Bytes> {
        self.read_into(offset, len, scratch)?;
        Ok(scratch.split().freeze())
    }

    /// How many of the `len` bytes at `offset` to stream as the next piece
    /// (at least 1). A source holding aligned chunks ends pieces at a chunk's
    /// end, so [`ByteSource::read_chunk`] can hand out each without a copy.
    fn piece_len(&self, _offset: u64, len: usize) -> usize {
        len
    }
}

/// An open file, read directly or through the shared chunk cache.
#[derive(Debug, Clone)]
pub enum FileSource {
    Direct(file::OpenFile),
    Cached(chunk_cache::CachedFile),
}

impl FileSource {
    /// Through `cache` when there is one (`--cache-mem` not 0).
    pub fn new(file: file::OpenFile, cache: Option<&Arc<chunk_cache::ChunkCache>>) -> Self {
        match cache {
            Some(cache) => FileSource::Cached(chunk_cache::CachedFile {
                file,
                cache: cache.clone(),
            }),
            None => FileSource::Direct(file),
        }
    }
}

impl ByteSource for FileSource {
    fn read_into(&self, offset: u64, len: usize, buf: &mut BytesMut) -> io::Result<()> {
        match self {
            FileSource::Direct(file) => file.read_into(offset, len, buf),
            FileSource::Cached(cached) => cached.read_into(offset, len, buf),
        }
    }

    fn read_chunk(&self, offset: u64, len: usize, scratch: &mut BytesMut) -> io::Result<Bytes> {
        match self {
            FileSource::Direct(file) => file.read_chunk(offset, len, scratch),
            FileSource::Cached(cached) => cached.read_chunk(offset, len, scratch),
        }
    }

    fn piece_len(&self, offset: u64, len: usize) -> usize {
        match self {
            FileSource::Direct(file) => file.piece_len(offset, len),
            FileSource::Cached(cached) => cached.piece_len(offset, len),
        }
    }
}

/// One piece of a response body.
#[derive(Debug, Clone)]
pub enum Segment {
    Literal(Bytes),
    /// An inclusive byte range of the source.
    Source(RangeInclusive<u64>),
}

impl Segment {
    pub fn len(&self) -> u64 {
        match self {
            Segment::Literal(bytes) => bytes.len() as u64,
            Segment::Source(range) => range.end() - range.start() + 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Total body length of a list of segments.
pub fn total_len(segments: &[Segment]) -> u64 {
    segments.iter().map(Segment::len).sum()
}
