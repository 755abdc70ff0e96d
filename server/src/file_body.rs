//! Reading response bodies out of an open file.
//!
//! A response is a list of [`Segment`]s — literal bytes (multipart part
//! headers) and byte ranges of the file — read in chunks of at most
//! [`CHUNK`] bytes, so memory per connection is bounded whatever the file size.
//!
//! Reads are positional (`pread`) on the event-loop thread, as nginx does
//! without `aio threads`: media being served is hot in the page cache, and a
//! hop to a blocking pool per chunk costs more than the copy. After every read
//! the file's identity is checked again; if the file was written to, truncated
//! or grown in place, the body ends in an error (the connection is cut short)
//! rather than hand the client a mix of old and new bytes. A file *replaced*
//! by rename keeps serving the old inode, which is consistent by construction.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::ops::RangeInclusive;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};

use crate::validators::FileIdentity;

/// Largest piece read and sent at once.
pub const CHUNK: usize = 256 * 1024;

/// An open file and the identity it had when opened.
#[derive(Debug, Clone)]
pub struct OpenFile {
    file: Arc<File>,
    identity: FileIdentity,
}

impl OpenFile {
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not a regular file",
            ));
        }
        Ok(OpenFile {
            identity: FileIdentity::of(&meta),
            file: Arc::new(file),
        })
    }

    pub fn identity(&self) -> &FileIdentity {
        &self.identity
    }

    pub fn len(&self) -> u64 {
        self.identity.len
    }

    pub fn is_empty(&self) -> bool {
        self.identity.len == 0
    }

    /// Reads exactly `len` bytes at `offset` into `buf`, then checks the file
    /// is still the version whose validators were sent.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)?;
        let now = FileIdentity::of(&self.file.metadata()?);
        if now != self.identity {
            return Err(io::Error::other("file changed while it was being sent"));
        }
        Ok(())
    }
}

/// One piece of a response body.
#[derive(Debug, Clone)]
pub enum Segment {
    Literal(Bytes),
    File(RangeInclusive<u64>),
}

impl Segment {
    pub fn len(&self) -> u64 {
        match self {
            Segment::Literal(bytes) => bytes.len() as u64,
            Segment::File(range) => range.end() - range.start() + 1,
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

/// Reads a whole (small) body at once: one allocation, no streaming overhead.
pub fn read_all(file: &OpenFile, segments: &[Segment]) -> io::Result<Bytes> {
    let total = usize::try_from(total_len(segments)).map_err(io::Error::other)?;
    let mut out = BytesMut::zeroed(total);
    let mut at = 0;
    for segment in segments {
        match segment {
            Segment::Literal(bytes) => {
                out[at..at + bytes.len()].copy_from_slice(bytes);
                at += bytes.len();
            }
            Segment::File(range) => {
                let len =
                    usize::try_from(range.end() - range.start() + 1).map_err(io::Error::other)?;
                file.read_exact_at(&mut out[at..at + len], *range.start())?;
                at += len;
            }
        }
    }
    Ok(out.freeze())
}

/// A body streamed in chunks of at most [`CHUNK`] bytes.
#[derive(Debug)]
pub struct FileStream {
    file: OpenFile,
    segments: VecDeque<Segment>,
    failed: bool,
}

impl FileStream {
    pub fn new(file: OpenFile, segments: Vec<Segment>) -> Self {
        FileStream {
            file,
            segments: segments.into(),
            failed: false,
        }
    }

    fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        let segment = self.segments.pop_front()?;
        match segment {
            Segment::Literal(bytes) => Some(Ok(bytes)),
            Segment::File(range) => {
                let start = *range.start();
                let remaining = range.end() - start + 1;
                let len = remaining.min(CHUNK as u64) as usize;
                if (len as u64) < remaining {
                    self.segments
                        .push_front(Segment::File(start + len as u64..=*range.end()));
                }
                let mut buf = BytesMut::zeroed(len);
                Some(
                    self.file
                        .read_exact_at(&mut buf, start)
                        .map(|()| buf.freeze()),
                )
            }
        }
    }
}

impl futures_util::Stream for FileStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let next = self.next_chunk();
        if let Some(Err(error)) = &next {
            tracing::warn!(%error, "aborting response body");
            self.failed = true;
        }
        Poll::Ready(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::io::Write;

    fn temp_file(content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.bin");
        std::fs::write(&path, content).expect("write");
        (dir, path)
    }

    fn collect(stream: FileStream) -> Vec<io::Result<Bytes>> {
        futures::executor::block_on(stream.collect::<Vec<_>>())
    }

    #[test]
    fn streams_segments_in_bounded_chunks() {
        let content: Vec<u8> = (0..(CHUNK * 2 + 10)).map(|i| (i % 251) as u8).collect();
        let (_dir, path) = temp_file(&content);
        let file = OpenFile::open(&path).expect("open");
        let segments = vec![
            Segment::Literal(Bytes::from_static(b"head")),
            Segment::File(0..=content.len() as u64 - 1),
        ];
        let chunks = collect(FileStream::new(file.clone(), segments.clone()));
        assert!(
            chunks
                .iter()
                .all(|c| c.as_ref().is_ok_and(|c| c.len() <= CHUNK))
        );
        let joined: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.expect("chunk").to_vec())
            .collect();
        assert_eq!(&joined[..4], b"head");
        assert_eq!(&joined[4..], &content[..]);
        assert_eq!(
            read_all(&file, &segments).expect("read_all").to_vec(),
            joined
        );
    }

    #[test]
    fn a_file_written_in_place_mid_stream_ends_the_body_with_an_error() {
        let content = vec![7u8; CHUNK * 3];
        let (_dir, path) = temp_file(&content);
        let file = OpenFile::open(&path).expect("open");
        let mut stream = FileStream::new(file, vec![Segment::File(0..=content.len() as u64 - 1)]);
        let first = futures::executor::block_on(stream.next());
        assert!(first.is_some_and(|c| c.is_ok()));
        // Change size and mtime in place, as an editor or encoder writing over it would.
        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("reopen");
        writer.write_all(b"more").expect("append");
        let rest = futures::executor::block_on(stream.collect::<Vec<_>>());
        assert_eq!(rest.len(), 1, "stream stops at the first error");
        assert!(rest[0].is_err());
    }
}
