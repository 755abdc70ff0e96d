//! `ftyp` / `styp`: file (segment) type (ISO 14496-12 §4.3).
//!
//! The indexer only needs to know the file *is* ISO BMFF; the brands are
//! read to validate the box and kept for diagnostics.

use super::{Cursor, FourCc, malformed};
use crate::index::MediaError;

/// Largest `ftyp` we accept: real ones list a handful of brands (< 100 bytes).
pub const MAX_SIZE: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ftyp {
    pub major_brand: FourCc,
    pub minor_version: u32,
}

impl Ftyp {
    pub fn parse(payload: &[u8], offset: u64) -> Result<Self, MediaError> {
        let mut c = Cursor::new(payload, offset, "'ftyp' box too short");
        let b = c.take(4)?;
        let major_brand = [b[0], b[1], b[2], b[3]];
        let minor_version = c.u32()?;
        if c.remaining() & 3 != 0 {
            return Err(malformed(
                c.offset(),
                "'ftyp' brand list is not a whole number of brands",
            ));
        }
        Ok(Ftyp {
            major_brand,
            minor_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_brands() {
        let f = Ftyp::parse(b"isom\0\0\x02\0isomiso2", 8).ok();
        assert_eq!(
            f,
            Some(Ftyp {
                major_brand: *b"isom",
                minor_version: 512
            })
        );
        assert!(Ftyp::parse(b"iso", 8).is_err());
        assert!(Ftyp::parse(b"isom\0\0\0\0is", 8).is_err());
    }
}
