//! One bounded parser per ISO BMFF box kind.
//!
//! Every parser takes the box *payload* (the bytes after the header) and the
//! file offset of that payload (for error messages), reads through a
//! [`Cursor`] that refuses to go past the slice, and returns a small owned
//! value. Nothing here allocates from a length read from the file without
//! first checking that the bytes it describes are present.

pub mod codec;
pub mod ctts;
pub mod dops;
pub mod elst;
pub mod ftyp;
pub mod header;
pub mod mfra;
pub mod moof;
pub mod moov;
pub mod mvex;
pub mod reader;
pub mod sidx;
pub mod sound_entry;
pub mod stco;
pub mod stsc;
pub mod stss;
pub mod stsz;
pub mod stts;
pub mod top;
pub mod traf;

pub use header::{BoxHeader, Boxes, Child, FourCc, HeaderRead};
pub use reader::Cursor;
pub use top::TopBox;

use crate::index::MediaError;

/// Deepest box nesting we follow. The boxes we read sit at most 9 levels
/// down (`moov/trak/mdia/minf/stbl/stsd/encv/sinf/frma`); the limit stops a
/// hostile file from making us walk an arbitrarily deep tree.
pub const MAX_DEPTH: u8 = 16;

/// A [`MediaError::Malformed`] for MP4 data at `offset`.
///
/// Reasons are static strings: building them costs nothing on the happy path
/// and keeps `format!` machinery out of the parsers.
pub fn malformed(offset: u64, reason: &'static str) -> MediaError {
    MediaError::Malformed {
        container: super::CONTAINER,
        offset,
        reason: reason.into(),
    }
}

/// Reads the version and flags of a "full box" (ISO 14496-12 §4.2).
pub fn full_box(c: &mut Cursor<'_>) -> Result<(u8, u32), MediaError> {
    let v = c.u32()?;
    Ok(((v >> 24) as u8, v & 0x00ff_ffff))
}

/// The `count` fixed-size entries of a sample table, `entry_len` bytes each,
/// as one slice. The whole table must be present in the box: a count of
/// 2^32 in a 20-byte box is an error here, before anything walks it.
pub fn table<'a>(c: &mut Cursor<'a>, count: u32, entry_len: usize) -> Result<&'a [u8], MediaError> {
    let at = c.offset();
    let len = usize::try_from(count)
        .ok()
        .and_then(|n| n.checked_mul(entry_len))
        .filter(|&len| len <= c.remaining())
        .ok_or_else(|| malformed(at, "sample table entry count exceeds its box"))?;
    c.take(len)
}

/// The big-endian `u32` at `at` in `bytes`, 0 past the end (callers index
/// entries of tables already checked to be whole).
pub fn be32(bytes: &[u8], at: usize) -> u32 {
    at.checked_add(4)
        .and_then(|end| bytes.get(at..end))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

/// The big-endian `u64` at `at` in `bytes`, 0 past the end.
pub fn be64(bytes: &[u8], at: usize) -> u64 {
    at.checked_add(8)
        .and_then(|end| bytes.get(at..end))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}
