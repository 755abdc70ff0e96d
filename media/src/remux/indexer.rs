//! [`Mp4Remuxer`]: finds the `moov` of a plain MP4 the sans-I/O way and
//! answers with a [`MediaIndex`] whose segments are the planned fragments.
//!
//! The walk reads top-level box headers and skips everything but `moov`
//! (above all `mdat`, by its size, without its bytes). A faststart file has
//! its `moov` in the first request; for a file with `moov` at the end, the
//! walk asks for the header right after `mdat` — one more round trip, and
//! nothing of the media in between.
//!
//! The cursor and the `moov` bytes live in an [`io::Window`](crate::io::Window).
//! Unlike the fMP4 reader, the walk holds no partial box header: a header
//! is read from the feed that brings it whole, and one that a feed cuts off
//! is asked for again from its start ([`HEADER`] bytes). The `moov` is read
//! in place when one feed holds it whole, else held until it is.

use std::ops::Range;

use super::{CONTAINER, Fragment, PlanOptions, Remux, StreamOptions};
use crate::index::{
    Container, ContainerIndexer, FirstError, MediaError, MediaIndex, Segment, Step, Track,
};
use crate::io::Window;
use crate::mp4::boxes::{BoxHeader, Child, HeaderRead, malformed, moov};
use crate::mp4::samples::MovieSamples;

/// Longest box header: 16 bytes with a 64-bit size (and 16 more for
/// `uuid`, which we never need whole).
const HEADER: u64 = 16;

/// The index of a plain MP4 (see [`ContainerIndexer`]).
///
/// Feed bytes from offset 0 and follow [`Step::NeedBytes`] until
/// [`Step::Ready`]; the index is then complete ([`Container::Mp4`]) and
/// [`Mp4Remuxer::remux`] builds the init segment and the fragments. After
/// an error every later `feed` returns the same error.
#[derive(Debug)]
pub struct Mp4Remuxer {
    options: PlanOptions,
    /// How the repackager it hands over sizes its outputs.
    stream: StreamOptions,
    /// The cursor (file offset of the next top-level box, or of the `moov`
    /// once found) and the `moov` bytes held so far.
    window: Window,
    /// Where `moov` lies, once its header was read.
    moov_range: Option<Range<u64>>,
    first: bool,
    /// The first length a caller gave.
    file_len: Option<u64>,
    error: FirstError,
    /// The remuxer (until the player takes it), the plan and the index.
    done: Option<(Option<Remux>, Vec<Fragment>, MediaIndex)>,
    /// Where playback begins ([`Remux::start`]), kept past the handover.
    start: f64,
}

impl Mp4Remuxer {
    /// A reader whose repackager has the default outputs (small first
    /// chunks after a start or a seek).
    pub fn new(options: PlanOptions) -> Self {
        Self::with_stream_options(options, StreamOptions::default())
    }

    /// A reader whose repackager sizes its outputs by `stream`.
    pub fn with_stream_options(options: PlanOptions, stream: StreamOptions) -> Self {
        Mp4Remuxer {
            options,
            stream,
            window: Window::new(moov::MAX_SIZE as usize),
            moov_range: None,
            first: true,
            file_len: None,
            error: FirstError::default(),
            done: None,
            start: 0.0,
        }
    }

    /// The remuxer, once the index is ready.
    pub fn remux(&self) -> Option<&Remux> {
        self.done.as_ref().and_then(|d| d.0.as_ref())
    }

    /// The fragment plan (the index's segments, with their samples).
    pub fn fragments(&self) -> &[Fragment] {
        self.done.as_ref().map_or(&[], |d| &d.1)
    }

    fn run(&mut self, offset: u64, data: &[u8], file_len: Option<u64>) -> Result<Step, MediaError> {
        if self.file_len.is_none() {
            self.file_len = file_len;
        }
        loop {
            if self.done.is_some() {
                return Ok(Step::Ready);
            }
            if let Some(range) = self.moov_range.clone() {
                return self.read_moov(range, offset, data);
            }
            let pos = self.window.pos();
            if let Some(len) = self.file_len
                && pos >= len
            {
                return Err(if self.first {
                    MediaError::UnknownFormat
                } else {
                    MediaError::Truncated {
                        len,
                        what: "'moov' box",
                    }
                });
            }
            // Nothing is held here: the header is asked for from `pos`.
            let here = self.window.at_cursor(offset, data);
            let header = match BoxHeader::read(here, pos)? {
                HeaderRead::Complete(h) => h,
                HeaderRead::Need(_) => return Ok(self.window.request_more(HEADER)),
            };
            if self.first {
                if !matches!(
                    &header.kind,
                    b"ftyp" | b"free" | b"skip" | b"wide" | b"pdin" | b"moov" | b"mdat"
                ) {
                    return Err(MediaError::UnknownFormat);
                }
                self.first = false;
            }
            let size = match (header.size, self.file_len) {
                (Some(size), _) => size,
                (None, Some(len)) => len.saturating_sub(pos),
                (None, None) => {
                    return Err(MediaError::Unsupported {
                        container: CONTAINER,
                        what: "a box of size 0 before 'moov' in a file of unknown length".into(),
                    });
                }
            };
            let end = pos
                .checked_add(size)
                .ok_or_else(|| malformed(pos, "box extends past 2^64 bytes"))?;
            if let Some(len) = self.file_len
                && end > len
            {
                return Err(MediaError::Truncated { len, what: "box" });
            }
            if &header.kind == b"moov" {
                if size > moov::MAX_SIZE {
                    return Err(MediaError::TooLarge {
                        what: "'moov' box",
                        limit: moov::MAX_SIZE,
                    });
                }
                self.moov_range = Some(pos..end);
                continue;
            }
            self.window.skip_to(end);
        }
    }

    /// Collects the `moov` bytes; parses them once all are here.
    fn read_moov(
        &mut self,
        range: Range<u64>,
        offset: u64,
        data: &[u8],
    ) -> Result<Step, MediaError> {
        // The cursor is at the `moov`, whose size is within the window's
        // bound (checked against `moov::MAX_SIZE` when its header was read).
        let size = range.end.saturating_sub(range.start);
        let Some(bytes) = self.window.view(offset, data, size)? else {
            let have = self.window.end();
            return Ok(self.window.request_more(range.end.saturating_sub(have)));
        };
        let moov = bytes
            .get(..usize::try_from(size).unwrap_or(usize::MAX))
            .unwrap_or(bytes);
        let header = match BoxHeader::read(moov, range.start)? {
            HeaderRead::Complete(h) => h,
            HeaderRead::Need(_) => return Err(malformed(range.start, "'moov' header cut off")),
        };
        let payload = moov
            .get(usize::from(header.header_len)..)
            .ok_or_else(|| malformed(range.start, "'moov' header cut off"))?;
        let child = Child::top_level(header, payload);
        if child.children()?.find(b"mvex")?.is_some() {
            return Err(MediaError::Unsupported {
                container: CONTAINER,
                what: "a fragmented MP4 (use the fMP4 indexer)".into(),
            });
        }
        let remux = Remux::new(MovieSamples::parse(&child, self.file_len)?)?;
        let fragments = remux.plan(self.options);
        let index = remux.media_index(&fragments, range);
        self.start = remux.start();
        self.done = Some((Some(remux), fragments, index));
        self.window.release();
        Ok(Step::Ready)
    }
}

impl ContainerIndexer for Mp4Remuxer {
    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        self.error.check()?;
        let result = self
            .run(offset, data, file_len)
            .inspect_err(|_| self.window.release());
        self.error.record(result)
    }

    fn index(&self) -> Option<&MediaIndex> {
        self.done.as_ref().map(|d| &d.2)
    }

    fn start(&self) -> f64 {
        self.start
    }

    fn take_repackager(&mut self) -> Option<Box<dyn crate::index::Repackager>> {
        // Moved, not copied: the sample tables are the bulk of the memory.
        let (remux, fragments, _) = self.done.as_mut()?;
        let remux = remux.take()?;
        Some(Box::new(super::RemuxStream::new(
            remux,
            fragments.clone(),
            self.stream,
        )))
    }
}

impl Remux {
    /// The [`MediaIndex`] of the remuxed file: `init` is the `moov`'s byte
    /// range in the file (what must be fetched to build the init segment),
    /// each segment a planned fragment with the span of file bytes its
    /// samples occupy. In an interleaved file neighbouring spans nearly
    /// touch; they may overlap a little, and with `moov` at the end they
    /// lie before `init`.
    pub fn media_index(&self, fragments: &[Fragment], init: Range<u64>) -> MediaIndex {
        MediaIndex {
            container: Container::Mp4,
            tracks: self
                .tracks()
                .map(|t| Track {
                    id: u64::from(t.id),
                    kind: t.kind,
                    codec: t.codec.clone(),
                })
                .collect(),
            duration: self
                .movie
                .duration_secs()
                .or_else(|| fragments.last().map(|f| f.end)),
            init,
            segments: fragments
                .iter()
                .map(|f| Segment {
                    start: f.start,
                    end: f.end,
                    bytes: f.span.clone(),
                })
                .collect(),
            complete: true,
        }
    }
}
