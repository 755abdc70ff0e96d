//! [`Cursor`]: where the WebM walk is, and the element there.
//!
//! The bytes from the cursor are held in an [`io::Window`](crate::io::Window),
//! copied in pieces of at most [`PIECE`] bytes: the parsers read whole
//! elements from held bytes, and a large feed that is mostly Cluster payload
//! is skipped piece by piece rather than copied. Every size an element
//! claims is checked here against overflow, its parent, the Segment and the
//! file before the walk waits for it.

use super::ebml::{self, Header, MAX_HEADER_LEN};
use super::malformed;
use crate::index::{MediaError, Step};
use crate::io::Window;

/// Largest SeekHead, Info, Tracks or Cues element held whole. Cues of a
/// two-hour film with a cue per second are about 50 KB; 16 MiB is generous
/// while still bounding memory.
pub const MAX_HEADER_ELEMENT: u64 = 16 << 20;

/// Input is taken in pieces of at most this size, so that a large feed that
/// is mostly Cluster payload is skipped rather than copied.
const PIECE: usize = 64 << 10;

/// Most bytes held: the largest element read whole, its header, and the
/// piece that completed it.
const MAX_HELD: usize = MAX_HEADER_ELEMENT as usize + MAX_HEADER_LEN + PIECE;

/// The walk's position in the file, the bytes held from it, and what bounds
/// the elements found there.
#[derive(Debug)]
pub(super) struct Cursor {
    window: Window,
    /// The latest length a caller gave.
    pub(super) file_len: Option<u64>,
    /// File offset where the Segment ends, unless its size is unknown.
    pub(super) segment_end: Option<u64>,
}

impl Cursor {
    pub(super) fn new() -> Self {
        Cursor {
            window: Window::new(MAX_HELD),
            file_len: None,
            segment_end: None,
        }
    }

    /// File offset of the next byte to parse.
    pub(super) fn at(&self) -> u64 {
        self.window.pos()
    }

    /// File offset just past the held bytes.
    pub(super) fn have_end(&self) -> u64 {
        self.window.end()
    }

    /// The held bytes from the cursor on.
    pub(super) fn avail(&self) -> &[u8] {
        self.window.held()
    }

    /// Moves the cursor forward to `target`, dropping what lies before it;
    /// bytes not yet received are skipped when they arrive.
    pub(super) fn skip_to(&mut self, target: u64) {
        self.window.skip_to(target);
    }

    /// Moves the cursor anywhere, forgetting the held bytes.
    pub(super) fn jump(&mut self, target: u64) {
        self.window.jump(target);
    }

    /// Forgets the held bytes for good (the index is complete).
    pub(super) fn release(&mut self) {
        self.window.release();
    }

    /// Takes the next piece of `data` (at file offset `offset`) that extends
    /// the held bytes contiguously; returns how many bytes of `data` it used
    /// or skipped as already known, or `None` if `data` starts past a gap.
    pub(super) fn offer(&mut self, offset: u64, data: &[u8]) -> Option<usize> {
        let until = self.window.end().saturating_add(PIECE as u64);
        let used = self.window.append(offset, data, until).used;
        (used > 0).then_some(used)
    }

    /// What to ask for when `total` bytes from the cursor are needed. With a
    /// known file length, asking past its end means the file is truncated.
    pub(super) fn need(&self, total: u64, what: &'static str) -> Result<Step, MediaError> {
        let want_end = self.at().saturating_add(total);
        self.window
            .request(want_end, 0, self.file_len)
            .map_err(|end| end.truncated(what))
    }

    /// In the Cluster scan, more bytes are needed: fine (the caller keeps
    /// feeding), unless the file is known to end here.
    pub(super) fn wait(&self, what: &'static str) -> Result<(), MediaError> {
        match self.file_len {
            Some(len) if self.have_end() >= len => Err(MediaError::Truncated { len, what }),
            _ => Ok(()),
        }
    }

    /// The element header at the cursor, if all its bytes are here.
    pub(super) fn header(&self) -> Result<Option<Header>, MediaError> {
        ebml::read_header(self.avail()).map_err(|reason| malformed(self.at(), reason))
    }

    /// Where the element at the cursor ends, checked against overflow, the
    /// file length and `parent_end`. Unknown sizes are refused here: only
    /// Segment and Cluster may have one, and they are handled apart.
    pub(super) fn element_end(
        &self,
        h: &Header,
        parent_end: Option<u64>,
        what: &'static str,
    ) -> Result<u64, MediaError> {
        let at = self.at();
        let Some(size) = h.size else {
            return Err(malformed(
                at,
                "unknown size on an element that must have one",
            ));
        };
        let end = at
            .checked_add(h.len as u64)
            .and_then(|e| e.checked_add(size))
            .ok_or_else(|| malformed(at, "element size overflows"))?;
        if parent_end.is_some_and(|p| end > p) {
            return Err(malformed(at, "element extends past its parent"));
        }
        match self.file_len {
            Some(len) if end > len => Err(MediaError::Truncated { len, what }),
            _ => Ok(end),
        }
    }

    /// Waits for a whole element of at most `limit` bytes at the cursor;
    /// `Ok(Ok(total))` once header and payload are held, else
    /// `Ok(Err(step))` with the request for the rest.
    pub(super) fn whole(
        &self,
        h: &Header,
        limit: u64,
        what: &'static str,
    ) -> Result<Result<usize, Step>, MediaError> {
        let end = self.element_end(h, self.segment_end, what)?;
        let size = end - self.at() - h.len as u64;
        if size > limit {
            return Err(MediaError::TooLarge { what, limit });
        }
        // size <= limit (16 MiB), so the total fits in usize.
        let total = h.len + usize::try_from(size).unwrap_or(usize::MAX - h.len);
        if self.avail().len() >= total {
            Ok(Ok(total))
        } else {
            self.need(total as u64, what).map(Err)
        }
    }

    /// The payload of a whole element of `total` bytes at the cursor, and
    /// its file offset.
    pub(super) fn payload(&self, h: &Header, total: usize) -> (&[u8], u64) {
        (
            self.avail().get(h.len..total).unwrap_or(&[]),
            self.at() + h.len as u64,
        )
    }

    /// Where the media ends: the Segment end and the file end, whichever
    /// is known and first.
    pub(super) fn media_end(&self) -> Option<u64> {
        match (self.segment_end, self.file_len) {
            (Some(s), Some(f)) => Some(s.min(f)),
            (s, f) => s.or(f),
        }
    }
}
