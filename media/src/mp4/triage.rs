//! Which MP4 reader a file needs, told from its box headers alone.
//!
//! The player's main module reads no MP4 itself: the fragmented-MP4 reader
//! and the plain-MP4 remuxer are on-demand modules, and a plain MP4 (most
//! files on the web) should not load the fMP4 one on the way. The first
//! bytes say only "MP4"; the `moov` says which: with an `mvex` it is
//! fragmented. So this reader walks the top-level box headers to the
//! `moov` (asking for the bytes after an `mdat` when the `moov` is at the
//! end), then the `moov`'s child headers until it meets an `mvex` or the
//! `moov`'s end, and hands the file over ([`Handover::FragmentedMp4`] or
//! [`Handover::PlainMp4`]), to be fed again from the start
//! ([`Step::Replay`]). It holds no more than one box header; where the
//! headers do not add up (no `moov`, a malformed header) the fMP4 reader
//! takes the file and says what is wrong with it, or hands it on in turn.

use std::ops::Range;

use super::boxes::header::{BoxHeader, HeaderRead};
use crate::index::{
    ContainerIndexer, Handover, MediaError, MediaIndex, OnDemand, Presentation, Repackager, Step,
};

/// Longest box header: 64-bit size and a `uuid` type.
const MAX_HEADER: usize = 32;
/// Headers walked before the fMP4 reader is left to make sense of the file.
const MAX_HEADERS: u32 = 4096;

/// Where the walk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// At the top-level box header at `at`.
    Top,
    /// At a child header of the `moov` that ends at `end`.
    Moov { end: u64 },
}

impl Walk {
    /// Where the file goes when the walk reaches the end of what it walks:
    /// a whole `moov` without an `mvex` is plain; the file's end without a
    /// `moov`, to the fMP4 reader, which says why.
    fn ended(self) -> Handover {
        match self {
            Walk::Moov { .. } => Handover::PlainMp4,
            Walk::Top => Handover::FragmentedMp4,
        }
    }
}

/// The MP4 reader that only tells which reader the file needs, then is it.
pub struct Mp4Triage {
    make: Option<OnDemand>,
    reader: Option<Box<dyn ContainerIndexer>>,
    walk: Walk,
    /// File offset of the header being read.
    at: u64,
    /// The header's bytes that came so far (from `at`).
    header: Vec<u8>,
    headers: u32,
}

impl std::fmt::Debug for Mp4Triage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4Triage")
            .field("walk", &self.walk)
            .field("at", &self.at)
            .field("decided", &self.reader.is_some())
            .finish()
    }
}

impl Mp4Triage {
    /// `make` makes the reader the file goes to (called once).
    pub fn new(make: OnDemand) -> Self {
        Mp4Triage {
            make: Some(make),
            reader: None,
            walk: Walk::Top,
            at: 0,
            header: Vec::new(),
            headers: 0,
        }
    }

    fn hand_over(&mut self, why: Handover) -> Result<Step, MediaError> {
        let make = self.make.take().ok_or(MediaError::UnknownFormat)?;
        self.reader = Some(make(why));
        self.header = Vec::new();
        Ok(Step::Replay { from: 0 })
    }

    /// Takes the bytes of the header at `at` that `data` (at `offset`)
    /// adds to those already here.
    fn gather(&mut self, offset: u64, data: &[u8]) {
        let have = self.at.saturating_add(self.header.len() as u64);
        let end = offset.saturating_add(data.len() as u64);
        if offset > have || end <= have || self.header.len() >= MAX_HEADER {
            return;
        }
        let from = usize::try_from(have - offset).unwrap_or(usize::MAX);
        let Some(rest) = data.get(from..) else {
            return;
        };
        let take = (MAX_HEADER - self.header.len()).min(rest.len());
        self.header.extend_from_slice(&rest[..take]);
    }

    /// Moves to the header at `next`; the bytes of `data` past it may
    /// already hold it.
    fn move_to(&mut self, next: u64, offset: u64, data: &[u8]) {
        self.at = next;
        self.header.clear();
        self.gather(offset, data);
    }

    /// Walks as far as the bytes go: the hand-over, or the bytes it needs.
    fn walk(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        self.gather(offset, data);
        loop {
            let end_of_box = match self.walk {
                Walk::Top => file_len.unwrap_or(u64::MAX),
                Walk::Moov { end } => end,
            };
            if self.at >= end_of_box {
                return self.hand_over(self.walk.ended());
            }
            let header = match BoxHeader::read(&self.header, self.at) {
                Ok(HeaderRead::Complete(header)) => header,
                Ok(HeaderRead::Need(len)) => {
                    let have = self.header.len() as u64;
                    if file_len.is_some_and(|l| self.at.saturating_add(len) > l) {
                        return self.hand_over(Handover::FragmentedMp4);
                    }
                    let need_end = match self.walk {
                        // The rest of the `moov` at once: its child headers
                        // pass by in one fetch, not one fetch each.
                        Walk::Moov { end } => end.max(self.at.saturating_add(len)),
                        Walk::Top => self.at.saturating_add(len),
                    };
                    let from = self.at.saturating_add(have);
                    return Ok(Step::NeedBytes {
                        offset: from,
                        len: need_end.saturating_sub(from).max(1),
                    });
                }
                Err(_) => return self.hand_over(Handover::FragmentedMp4),
            };
            self.headers += 1;
            if self.headers > MAX_HEADERS {
                return self.hand_over(Handover::FragmentedMp4);
            }
            let next = header.size.map(|size| header.offset.saturating_add(size));
            match (self.walk, &header.kind) {
                (Walk::Top, b"moov") => {
                    let end = next.or(file_len).unwrap_or(u64::MAX);
                    self.walk = Walk::Moov { end };
                    self.move_to(header.payload_offset(), offset, data);
                }
                // Fragments before any `moov`: a fragmented stream.
                (Walk::Top, b"moof" | b"sidx" | b"styp" | b"mfra" | b"emsg") => {
                    return self.hand_over(Handover::FragmentedMp4);
                }
                (Walk::Moov { .. }, b"mvex") => return self.hand_over(Handover::FragmentedMp4),
                (walk, _) => match next {
                    Some(next) => self.move_to(next, offset, data),
                    // Size 0: to the end of the file, or of the `moov`.
                    None => return self.hand_over(walk.ended()),
                },
            }
        }
    }
}

impl ContainerIndexer for Mp4Triage {
    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        match self.reader.as_mut() {
            Some(reader) => reader.feed(offset, data, file_len),
            None => self.walk(offset, data, file_len),
        }
    }

    fn index(&self) -> Option<&MediaIndex> {
        self.reader.as_ref()?.index()
    }

    fn wants(&self) -> Option<Range<u64>> {
        self.reader.as_ref()?.wants()
    }

    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        self.reader.as_mut()?.take_repackager()
    }

    fn presentation(&self) -> Option<Presentation> {
        self.reader.as_ref()?.presentation()
    }

    fn start(&self) -> f64 {
        self.reader.as_ref().map_or(0.0, |r| r.start())
    }
}
