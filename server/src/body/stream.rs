//! Reading a list of [`Segment`]s out of a [`ByteSource`]: whole, for small
//! bodies, or as a stream of chunks of at most [`CHUNK`] bytes.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};

use super::{ByteSource, CHUNK, Segment, total_len};

/// Reads a whole (small) body at once: one allocation, no streaming overhead.
/// A body of one range is [`ByteSource::read_chunk`]'s: a cache's slice, no copy.
pub fn read_all(source: &impl ByteSource, segments: &[Segment]) -> io::Result<Bytes> {
    if let [Segment::Source(range)] = segments {
        let len = usize::try_from(range.end() - range.start() + 1).map_err(io::Error::other)?;
        return source.read_chunk(*range.start(), len, &mut BytesMut::new());
    }
    let total = usize::try_from(total_len(segments)).map_err(io::Error::other)?;
    let mut out = BytesMut::with_capacity(total);
    for segment in segments {
        match segment {
            Segment::Literal(bytes) => out.extend_from_slice(bytes),
            Segment::Source(range) => {
                let len =
                    usize::try_from(range.end() - range.start() + 1).map_err(io::Error::other)?;
                source.read_into(*range.start(), len, &mut out)?;
            }
        }
    }
    Ok(out.freeze())
}

/// A body streamed in chunks of at most [`CHUNK`] bytes (ending where the
/// source's [`ByteSource::piece_len`] says), read through one buffer that is
/// reused for the next chunk once the previous one was sent.
#[derive(Debug)]
pub struct BodyStream<S> {
    source: S,
    segments: VecDeque<Segment>,
    scratch: BytesMut,
    failed: bool,
}

impl<S: ByteSource> BodyStream<S> {
    pub fn new(source: S, segments: Vec<Segment>) -> Self {
        BodyStream {
            source,
            segments: segments.into(),
            scratch: BytesMut::with_capacity(CHUNK),
            failed: false,
        }
    }

    fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        let segment = self.segments.pop_front()?;
        match segment {
            Segment::Literal(bytes) => Some(Ok(bytes)),
            Segment::Source(range) => {
                let start = *range.start();
                let remaining = range.end() - start + 1;
                let most = remaining.min(CHUNK as u64) as usize;
                let len = self.source.piece_len(start, most).clamp(1, most);
                if (len as u64) < remaining {
                    self.segments
                        .push_front(Segment::Source(start + len as u64..=*range.end()));
                }
                Some(self.source.read_chunk(start, len, &mut self.scratch))
            }
        }
    }
}

impl<S: ByteSource + Unpin> futures_util::Stream for BodyStream<S> {
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
    use crate::body::file::OpenFile;
    use futures_util::StreamExt;
    use std::io::Write;

    fn temp_file(content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.bin");
        std::fs::write(&path, content).expect("write");
        (dir, path)
    }

    fn collect(stream: BodyStream<OpenFile>) -> Vec<io::Result<Bytes>> {
        futures::executor::block_on(stream.collect::<Vec<_>>())
    }

    #[test]
    fn streams_segments_in_bounded_chunks() {
        let content: Vec<u8> = (0..(CHUNK * 2 + 10)).map(|i| (i % 251) as u8).collect();
        let (_dir, path) = temp_file(&content);
        let file = OpenFile::open(&path).expect("open");
        let segments = vec![
            Segment::Literal(Bytes::from_static(b"head")),
            Segment::Source(0..=content.len() as u64 - 1),
        ];
        let chunks = collect(BodyStream::new(file.clone(), segments.clone()));
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
    fn a_chunk_sent_and_dropped_leaves_its_buffer_to_the_next() {
        let content: Vec<u8> = (0..(CHUNK * 3)).map(|i| (i % 253) as u8).collect();
        let (_dir, path) = temp_file(&content);
        let file = OpenFile::open(&path).expect("open");
        let mut stream = BodyStream::new(file, vec![Segment::Source(0..=content.len() as u64 - 1)]);
        let mut next = || {
            futures::executor::block_on(stream.next())
                .expect("a chunk")
                .expect("read")
        };
        let first = next();
        let first_at = first.as_ptr();
        assert_eq!(&first[..], &content[..CHUNK]);
        drop(first);
        let second = next();
        assert_eq!(
            second.as_ptr(),
            first_at,
            "the dropped chunk's buffer is reused"
        );
        assert_eq!(&second[..], &content[CHUNK..CHUNK * 2]);
        // While a chunk is still held (queued for the socket), the next one
        // gets a buffer of its own: a chunk handed out is never overwritten.
        let third = next();
        assert_ne!(third.as_ptr(), second.as_ptr());
        assert_eq!(&second[..], &content[CHUNK..CHUNK * 2]);
        assert_eq!(&third[..], &content[CHUNK * 2..]);
    }

    #[test]
    fn a_file_written_in_place_mid_stream_ends_the_body_with_an_error() {
        let content = vec![7u8; CHUNK * 3];
        let (_dir, path) = temp_file(&content);
        let file = OpenFile::open(&path).expect("open");
        let mut stream = BodyStream::new(file, vec![Segment::Source(0..=content.len() as u64 - 1)]);
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
