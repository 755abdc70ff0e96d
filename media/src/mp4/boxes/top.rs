//! A top-level box of a file whose length is known: its header with the
//! size resolved (size 0 runs to the end of the file) and checked to lie
//! inside the file. The step every top-level walk takes from one box to
//! the next, without holding the box.

use super::header::{BoxHeader, FourCc, HeaderRead};
use crate::index::MediaError;

/// One top-level box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopBox {
    pub header: BoxHeader,
    /// Total size, header included.
    pub size: u64,
}

impl TopBox {
    /// The box whose header starts `head` (at file offset `offset`) in a
    /// file of `file_len` bytes; `None` when `head` holds only part of the
    /// header. A box running past the end of the file is a truncation error.
    pub fn read(head: &[u8], offset: u64, file_len: u64) -> Result<Option<Self>, MediaError> {
        match BoxHeader::read(head, offset)? {
            HeaderRead::Complete(h) => Self::resolve(h, file_len).map(Some),
            HeaderRead::Need(_) => Ok(None),
        }
    }

    /// The box of `header` in a file of `file_len` bytes (for a walk that
    /// looks at the header before deciding the box is worth sizing).
    pub fn resolve(header: BoxHeader, file_len: u64) -> Result<Self, MediaError> {
        let size = header
            .size
            .unwrap_or(file_len.saturating_sub(header.offset));
        if header.offset.saturating_add(size) > file_len {
            return Err(MediaError::Truncated {
                len: file_len,
                what: box_name(&header.kind),
            });
        }
        Ok(TopBox { header, size })
    }

    pub fn kind(&self) -> &FourCc {
        &self.header.kind
    }

    /// File offset of the first byte.
    pub fn offset(&self) -> u64 {
        self.header.offset
    }

    /// File offset just past the box: where the next one starts.
    pub fn end(&self) -> u64 {
        self.header.offset.saturating_add(self.size)
    }
}

/// A box's name for error messages.
fn box_name(kind: &FourCc) -> &'static str {
    match kind {
        b"moov" => "'moov' box",
        b"mdat" => "'mdat' box",
        b"moof" => "'moof' box",
        _ => "box",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_zero_runs_to_the_end_of_the_file() {
        let top = TopBox::read(b"\0\0\0\0mdat", 100, 1100).ok().flatten();
        let top = top.expect("a box");
        assert_eq!((top.size, top.end()), (1000, 1100));
    }

    #[test]
    fn a_box_past_the_end_is_truncated_and_a_cut_header_needs_more() {
        assert!(matches!(
            TopBox::read(b"\0\0\0\x20moov", 0, 16),
            Err(MediaError::Truncated {
                len: 16,
                what: "'moov' box"
            })
        ));
        assert_eq!(TopBox::read(b"\0\0\0\x01mdat", 0, 100).ok(), Some(None));
    }
}
