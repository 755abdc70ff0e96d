//! Chunk offsets: `stco` (32-bit) and `co64` (64-bit), ISO 14496-12
//! §8.7.5 — the file offset of each chunk's first sample.

use super::{Child, be32, be64, full_box, table};
use crate::index::MediaError;

/// A checked `stco` or `co64`: all entries present in the box.
#[derive(Debug, Clone, Copy)]
pub struct ChunkOffsets<'a> {
    entries: &'a [u8],
    /// 4 (`stco`) or 8 (`co64`).
    width: usize,
    pub chunk_count: u32,
}

impl<'a> ChunkOffsets<'a> {
    /// Parses `stco` (`wide` false) or `co64` (`wide` true).
    pub fn parse(child: &Child<'a>, wide: bool) -> Result<Self, MediaError> {
        let mut c = child.cursor(if wide {
            "'co64' box too short"
        } else {
            "'stco' box too short"
        });
        full_box(&mut c)?;
        let chunk_count = c.u32()?;
        let width = if wide { 8 } else { 4 };
        let entries = table(&mut c, chunk_count, width)?;
        Ok(ChunkOffsets {
            entries,
            width,
            chunk_count,
        })
    }

    /// The offset of chunk `n` (1-based, as `stsc` numbers them).
    pub fn get(&self, n: u32) -> Option<u64> {
        if n == 0 || n > self.chunk_count {
            return None;
        }
        let at = usize::try_from(n - 1).ok()?.checked_mul(self.width)?;
        Some(if self.width == 8 {
            be64(self.entries, at)
        } else {
            u64::from(be32(self.entries, at))
        })
    }
}
