//! Sample sizes: `stsz` (ISO 14496-12 §8.7.3.2: one size for all samples, or
//! a 32-bit size per sample) and its compact form `stz2` (§8.7.3.3: 4, 8 or
//! 16 bits per sample, 4-bit fields packed two to a byte, high nibble first).

use super::{Child, be32, full_box, malformed, table};
use crate::index::MediaError;

/// A checked `stsz` or `stz2`: the per-sample table, when there is one, is
/// all present in the box.
#[derive(Debug, Clone, Copy)]
pub struct SampleSizes<'a> {
    pub sample_count: u32,
    sizes: Sizes<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Sizes<'a> {
    /// Every sample has this size.
    Constant(u32),
    /// `bits`-wide big-endian fields.
    Table { bits: u8, data: &'a [u8] },
}

impl<'a> SampleSizes<'a> {
    /// Parses an `stsz` box.
    pub fn parse_stsz(stsz: &Child<'a>) -> Result<Self, MediaError> {
        let mut c = stsz.cursor("'stsz' box too short");
        full_box(&mut c)?;
        let size = c.u32()?;
        let sample_count = c.u32()?;
        let sizes = if size != 0 {
            Sizes::Constant(size)
        } else {
            Sizes::Table {
                bits: 32,
                data: table(&mut c, sample_count, 4)?,
            }
        };
        Ok(SampleSizes {
            sample_count,
            sizes,
        })
    }

    /// Parses an `stz2` box.
    pub fn parse_stz2(stz2: &Child<'a>) -> Result<Self, MediaError> {
        let mut c = stz2.cursor("'stz2' box too short");
        full_box(&mut c)?;
        c.skip(3)?; // reserved
        let at = c.offset();
        let bits = c.u8()?;
        let sample_count = c.u32()?;
        let data = match bits {
            // Two samples a byte: round the count up to a whole byte.
            4 => table(&mut c, sample_count.div_ceil(2), 1)?,
            8 => table(&mut c, sample_count, 1)?,
            16 => table(&mut c, sample_count, 2)?,
            _ => return Err(malformed(at, "'stz2' field size is not 4, 8 or 16")),
        };
        Ok(SampleSizes {
            sample_count,
            sizes: Sizes::Table { bits, data },
        })
    }

    /// The size of sample `i` (0-based); `None` past the table.
    pub fn get(&self, i: u32) -> Option<u32> {
        if i >= self.sample_count {
            return None;
        }
        let i = usize::try_from(i).ok()?;
        match self.sizes {
            Sizes::Constant(size) => Some(size),
            Sizes::Table { bits: 32, data } => Some(be32(field(data, i, 4)?, 0)),
            Sizes::Table { bits: 16, data } => {
                let b = field(data, i, 2)?;
                Some(u32::from(b[0]) << 8 | u32::from(b[1]))
            }
            Sizes::Table { bits: 8, data } => data.get(i).map(|&b| u32::from(b)),
            Sizes::Table { data, .. } => {
                let b = *data.get(i / 2)?;
                Some(u32::from(if i % 2 == 0 { b >> 4 } else { b & 0x0f }))
            }
        }
    }
}

/// Entry `i` of a table of `width`-byte entries, if present.
fn field(data: &[u8], i: usize, width: usize) -> Option<&[u8]> {
    let at = i.checked_mul(width)?;
    data.get(at..at.checked_add(width)?)
}
