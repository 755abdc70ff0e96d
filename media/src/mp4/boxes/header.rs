//! Box headers (ISO 14496-12 §4.2) and iteration over the child boxes of a
//! container box.

use super::{MAX_DEPTH, malformed};
use crate::index::MediaError;

/// A box type, e.g. `*b"moov"`.
pub type FourCc = [u8; 4];

/// A parsed box header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    pub kind: FourCc,
    /// File offset of the box's first byte.
    pub offset: u64,
    /// Header bytes: 8, 16 with a 64-bit `largesize`, 16 more for `uuid`.
    pub header_len: u8,
    /// Total size including the header; `None` for size 0, "to the end of
    /// the file" (or of the enclosing box).
    pub size: Option<u64>,
}

/// The outcome of reading a header from bytes that may be incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRead {
    Complete(BoxHeader),
    /// The header is this many bytes long and not all of them are here yet.
    Need(u64),
}

impl BoxHeader {
    /// Reads the header at the start of `data`, which lies at file offset
    /// `offset`. Checks that a stated size covers at least the header: a
    /// smaller one would make a walker stand still or go backwards.
    pub fn read(data: &[u8], offset: u64) -> Result<HeaderRead, MediaError> {
        let Some(b) = data.get(..8) else {
            return Ok(HeaderRead::Need(8));
        };
        let size32 = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let kind = [b[4], b[5], b[6], b[7]];
        let mut header_len: u8 = 8;
        let size = match size32 {
            0 => None,
            1 => {
                let Some(l) = data.get(8..16) else {
                    return Ok(HeaderRead::Need(16));
                };
                header_len = 16;
                Some(u64::from_be_bytes([
                    l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7],
                ]))
            }
            n => Some(u64::from(n)),
        };
        if &kind == b"uuid" {
            // The 16-byte extended type follows; we never need its value.
            header_len += 16;
            if data.len() < usize::from(header_len) {
                return Ok(HeaderRead::Need(u64::from(header_len)));
            }
        }
        if size.is_some_and(|s| s < u64::from(header_len)) {
            return Err(malformed(offset, "box size smaller than its header"));
        }
        Ok(HeaderRead::Complete(BoxHeader {
            kind,
            offset,
            header_len,
            size,
        }))
    }

    /// File offset of the payload.
    pub fn payload_offset(&self) -> u64 {
        self.offset.saturating_add(u64::from(self.header_len))
    }
}

/// The child boxes of a container box's payload, in order.
///
/// Each item is a complete child whose payload lies inside the parent; a
/// child that claims more bytes than the parent has is an error. Every step
/// advances by at least 8 bytes, so iteration always ends.
#[derive(Debug, Clone)]
pub struct Boxes<'a> {
    data: &'a [u8],
    pos: usize,
    /// File offset of `data[0]`.
    base: u64,
    /// Nesting depth of the children.
    depth: u8,
}

/// One child box: its header and payload.
#[derive(Debug, Clone, Copy)]
pub struct Child<'a> {
    pub header: BoxHeader,
    pub payload: &'a [u8],
    /// A `uuid` box's extended type (which `uuid` box it is).
    pub user_type: Option<[u8; 16]>,
    depth: u8,
}

impl<'a> Boxes<'a> {
    /// The boxes in `data` (at file offset `base`), at nesting `depth`.
    pub fn new(data: &'a [u8], base: u64, depth: u8) -> Result<Self, MediaError> {
        if depth > MAX_DEPTH {
            return Err(malformed(base, "boxes nested too deeply"));
        }
        Ok(Boxes {
            data,
            pos: 0,
            base,
            depth,
        })
    }

    /// The first child of type `kind`, if any.
    pub fn find(self, kind: &FourCc) -> Result<Option<Child<'a>>, MediaError> {
        for child in self {
            let child = child?;
            if &child.header.kind == kind {
                return Ok(Some(child));
            }
        }
        Ok(None)
    }

    fn next_child(&mut self) -> Result<Option<Child<'a>>, MediaError> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        // Fewer than 8 bytes cannot hold a box: some writers pad container
        // boxes (QuickTime's 4-byte zero terminator), so this is tolerated.
        if rest.len() < 8 {
            self.pos = self.data.len();
            return Ok(None);
        }
        let offset = self.base.saturating_add(self.pos as u64);
        let header = match BoxHeader::read(rest, offset)? {
            HeaderRead::Complete(h) => h,
            HeaderRead::Need(_) => {
                return Err(malformed(offset, "box header runs past its parent"));
            }
        };
        let size = match header.size {
            None => rest.len(),
            Some(s) => usize::try_from(s)
                .ok()
                .filter(|&s| s <= rest.len())
                .ok_or_else(|| malformed(offset, "box runs past its parent"))?,
        };
        let payload = rest
            .get(usize::from(header.header_len)..size)
            .ok_or_else(|| malformed(offset, "box size smaller than its header"))?;
        self.pos = self.pos.saturating_add(size);
        let user_type = (&header.kind == b"uuid")
            .then(|| {
                let end = usize::from(header.header_len);
                rest.get(end - 16..end)?.try_into().ok()
            })
            .flatten();
        Ok(Some(Child {
            header,
            payload,
            user_type,
            depth: self.depth,
        }))
    }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<Child<'a>, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_child() {
            Ok(child) => child.map(Ok),
            Err(e) => {
                // Stop after an error rather than retrying the same bytes.
                self.pos = self.data.len();
                Some(Err(e))
            }
        }
    }
}

impl<'a> Child<'a> {
    /// A top-level box: its header and the payload bytes that follow it.
    pub fn top_level(header: BoxHeader, payload: &'a [u8]) -> Self {
        Child {
            header,
            payload,
            user_type: None,
            depth: 0,
        }
    }

    /// This box's own payload read as a sequence of boxes.
    pub fn children(&self) -> Result<Boxes<'a>, MediaError> {
        self.children_from(0)
    }

    /// Child boxes that start `skip` bytes into the payload (sample entries
    /// and `stsd` have fixed fields before their children).
    pub fn children_from(&self, skip: usize) -> Result<Boxes<'a>, MediaError> {
        let data = self
            .payload
            .get(skip..)
            .ok_or_else(|| malformed(self.header.offset, "box too short for its fields"))?;
        Boxes::new(
            data,
            self.payload_offset().saturating_add(skip as u64),
            self.depth.saturating_add(1),
        )
    }

    /// File offset of the payload.
    pub fn payload_offset(&self) -> u64 {
        self.header.payload_offset()
    }

    /// A reader over the payload; `short` is the error for a too-short box.
    pub fn cursor(&self, short: &'static str) -> super::Cursor<'a> {
        super::Cursor::new(self.payload, self.payload_offset(), short)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_large_and_open_ended_sizes() {
        let h = BoxHeader::read(b"\0\0\0\x10moovxxxxxxxx", 5).ok();
        assert_eq!(
            h,
            Some(HeaderRead::Complete(BoxHeader {
                kind: *b"moov",
                offset: 5,
                header_len: 8,
                size: Some(16)
            }))
        );
        let mut large = b"\0\0\0\x01mdat".to_vec();
        assert_eq!(BoxHeader::read(&large, 0).ok(), Some(HeaderRead::Need(16)));
        large.extend_from_slice(&u64::MAX.to_be_bytes());
        let Ok(HeaderRead::Complete(h)) = BoxHeader::read(&large, 0) else {
            panic!("largesize")
        };
        assert_eq!((h.header_len, h.size), (16, Some(u64::MAX)));
        let Ok(HeaderRead::Complete(h)) = BoxHeader::read(b"\0\0\0\0mdat", 0) else {
            panic!("size 0")
        };
        assert_eq!(h.size, None);
        assert_eq!(
            BoxHeader::read(b"\0\0\0", 0).ok(),
            Some(HeaderRead::Need(8))
        );
    }

    #[test]
    fn rejects_sizes_smaller_than_the_header() {
        assert!(BoxHeader::read(b"\0\0\0\x07free", 0).is_err());
        let mut large = b"\0\0\0\x01free".to_vec();
        large.extend_from_slice(&15u64.to_be_bytes());
        assert!(BoxHeader::read(&large, 0).is_err());
        let mut uuid = b"\0\0\0\x10uuid".to_vec();
        uuid.extend_from_slice(&[0; 16]);
        assert!(BoxHeader::read(&uuid, 0).is_err());
    }

    #[test]
    fn children_must_fit_their_parent() {
        let data = b"\0\0\0\x08free\0\0\0\x20skip";
        let mut boxes = Boxes::new(data, 0, 0).into_iter().flatten();
        assert!(matches!(boxes.next(), Some(Ok(c)) if c.header.kind == *b"free"));
        assert!(matches!(boxes.next(), Some(Err(_))));
        assert!(boxes.next().is_none());
    }

    #[test]
    fn depth_is_bounded() {
        assert!(Boxes::new(&[], 0, MAX_DEPTH).is_ok());
        assert!(Boxes::new(&[], 0, MAX_DEPTH + 1).is_err());
    }
}
