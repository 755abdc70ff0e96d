//! A bounds-checked big-endian reader over one box payload.

use super::malformed;
use crate::index::MediaError;

/// Reads big-endian fields from a slice; every read that would pass the end
/// of the slice is a [`MediaError::Malformed`] naming the box, never a panic.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// File offset of `data[0]`, for error messages.
    base: u64,
    /// Why a short read is an error, e.g. "'tkhd' box too short".
    short: &'static str,
}

impl<'a> Cursor<'a> {
    /// A reader over `data`, which starts at file offset `base`. `short` is
    /// the error reason used when the data ends too early.
    pub fn new(data: &'a [u8], base: u64, short: &'static str) -> Self {
        Cursor {
            data,
            pos: 0,
            base,
            short,
        }
    }

    /// File offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// The unread bytes (without consuming them).
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], MediaError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| malformed(self.offset(), self.short))?;
        let bytes = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| malformed(self.offset(), self.short))?;
        self.pos = end;
        Ok(bytes)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), MediaError> {
        self.take(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MediaError> {
        let at = self.offset();
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| malformed(at, self.short))
    }

    pub fn u8(&mut self) -> Result<u8, MediaError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, MediaError> {
        self.array().map(u16::from_be_bytes)
    }

    pub fn u32(&mut self) -> Result<u32, MediaError> {
        self.array().map(u32::from_be_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, MediaError> {
        self.array().map(u64::from_be_bytes)
    }

    /// A 32-bit field in version 0 boxes, 64-bit in version 1 (times,
    /// durations, offsets in `mvhd`, `mdhd`, `tfdt`, `sidx`, `mehd`).
    pub fn u32_or_u64(&mut self, version: u8) -> Result<u64, MediaError> {
        if version == 1 {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_refuses_to_overrun() {
        let mut c = Cursor::new(&[0, 1, 0, 0, 0, 2, 9], 100, "test");
        assert_eq!(c.u16().ok(), Some(1));
        assert_eq!(c.u32().ok(), Some(2));
        assert_eq!(c.remaining(), 1);
        assert!(matches!(
            c.u16(),
            Err(MediaError::Malformed { offset: 106, .. })
        ));
        assert_eq!(c.u8().ok(), Some(9));
        assert!(c.take(usize::MAX).is_err());
        assert!(c.u8().is_err());
    }
}
