//! Response bodies: where their bytes come from and how they are sent.
//!
//! A body is a list of [`Segment`]s — literal bytes (multipart part headers)
//! and byte ranges of a [`ByteSource`] — read whole when small
//! ([`stream::read_all`]) and streamed in chunks of at most [`CHUNK`] bytes
//! when not ([`stream::BodyStream`]), so memory per connection is bounded
//! whatever the file size. The source is a trait so that a shared chunk cache
//! can stand between the response and the file later; today the only source
//! is an open file ([`file::OpenFile`]), kept open between requests by
//! [`file_cache::FileCache`].

use std::io;
use std::ops::RangeInclusive;

use bytes::{Bytes, BytesMut};

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
