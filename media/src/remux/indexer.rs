//! [`Mp4Remuxer`]: finds the `moov` of a plain MP4 the sans-I/O way and
//! answers with a [`MediaIndex`] whose segments are the planned fragments.
//!
//! The walk reads top-level box headers and skips everything but `moov`
//! (above all `mdat`, by its size, without its bytes). A faststart file has
//! its `moov` in the first request; for a file with `moov` at the end, the
//! walk asks for the header right after `mdat` — one more round trip, and
//! nothing of the media in between.

use std::ops::Range;

use super::{CONTAINER, Fragment, PlanOptions, Remux};
use crate::index::{
    Container, ContainerIndexer, FirstError, MediaError, MediaIndex, Segment, Step, Track,
};
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
    /// File offset of the next top-level box.
    pos: u64,
    /// The `moov` bytes so far, once its header was read.
    moov: Vec<u8>,
    /// Where `moov` lies, once its header was read.
    moov_range: Option<Range<u64>>,
    first: bool,
    file_len: Option<u64>,
    error: FirstError,
    /// The remuxer (until the player takes it), the plan and the index.
    done: Option<(Option<Remux>, Vec<Fragment>, MediaIndex)>,
    /// Where playback begins ([`Remux::start`]), kept past the handover.
    start: f64,
}

impl Mp4Remuxer {
    pub fn new(options: PlanOptions) -> Self {
        Mp4Remuxer {
            options,
            pos: 0,
            moov: Vec::new(),
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
            if let Some(len) = self.file_len
                && self.pos >= len
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
            let here = self
                .pos
                .checked_sub(offset)
                .and_then(|skip| usize::try_from(skip).ok())
                .and_then(|skip| data.get(skip..))
                .unwrap_or(&[]);
            let header = match BoxHeader::read(here, self.pos)? {
                HeaderRead::Complete(h) => h,
                HeaderRead::Need(_) => {
                    return Ok(Step::NeedBytes {
                        offset: self.pos,
                        len: HEADER,
                    });
                }
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
                (None, Some(len)) => len.saturating_sub(self.pos),
                (None, None) => {
                    return Err(MediaError::Unsupported {
                        container: CONTAINER,
                        what: "a box of size 0 before 'moov' in a file of unknown length".into(),
                    });
                }
            };
            let end = self
                .pos
                .checked_add(size)
                .ok_or_else(|| malformed(self.pos, "box extends past 2^64 bytes"))?;
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
                self.moov_range = Some(self.pos..end);
                continue;
            }
            self.pos = end;
        }
    }

    /// Collects the `moov` bytes; parses them once all are here.
    fn read_moov(
        &mut self,
        range: Range<u64>,
        offset: u64,
        data: &[u8],
    ) -> Result<Step, MediaError> {
        let have = range.start.saturating_add(self.moov.len() as u64);
        if let Some(skip) = have
            .checked_sub(offset)
            .and_then(|s| usize::try_from(s).ok())
            && let Some(new) = data.get(skip..)
        {
            let want = usize::try_from(range.end.saturating_sub(have)).unwrap_or(usize::MAX);
            self.moov.extend_from_slice(new.get(..want).unwrap_or(new));
        }
        let have = range.start.saturating_add(self.moov.len() as u64);
        if have < range.end {
            return Ok(Step::NeedBytes {
                offset: have,
                len: range.end - have,
            });
        }
        let moov = std::mem::take(&mut self.moov);
        let header = match BoxHeader::read(&moov, range.start)? {
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
            .inspect_err(|_| self.moov = Vec::new());
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
        Some(Box::new(super::RemuxStream::new(remux, fragments.clone())))
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
