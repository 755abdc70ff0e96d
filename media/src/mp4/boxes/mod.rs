//! One bounded parser per ISO BMFF box kind.
//!
//! Every parser takes the box *payload* (the bytes after the header) and the
//! file offset of that payload (for error messages), reads through a
//! [`Cursor`] that refuses to go past the slice, and returns a small owned
//! value. Nothing here allocates from a length read from the file without
//! first checking that the bytes it describes are present.

pub mod codec;
pub mod ftyp;
pub mod header;
pub mod moof;
pub mod moov;
pub mod mfra;
pub mod mvex;
pub mod reader;
pub mod sidx;

pub use header::{BoxHeader, Boxes, Child, FourCc, HeaderRead};
pub use reader::Cursor;

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
