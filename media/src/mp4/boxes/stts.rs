//! `stts`, decoding time to sample (ISO 14496-12 §8.6.1.2): runs of
//! consecutive samples that share one duration, in the track's timescale.

use super::{Child, be32, full_box, table};
use crate::index::MediaError;

/// A checked `stts`: its entries are all present in the box.
#[derive(Debug, Clone, Copy)]
pub struct Stts<'a> {
    entries: &'a [u8],
    /// Sum of the run lengths (u64: 2^32 entries of 2^32 - 1 cannot overflow).
    pub sample_count: u64,
}

impl<'a> Stts<'a> {
    pub fn parse(stts: &Child<'a>) -> Result<Self, MediaError> {
        let mut c = stts.cursor("'stts' box too short");
        full_box(&mut c)?;
        let count = c.u32()?;
        let entries = table(&mut c, count, 8)?;
        let sample_count = entries.chunks_exact(8).map(|e| u64::from(be32(e, 0))).sum();
        Ok(Stts {
            entries,
            sample_count,
        })
    }

    /// `(sample_count, sample_delta)` runs in order.
    pub fn runs(&self) -> impl Iterator<Item = (u32, u32)> + use<'a> {
        self.entries
            .chunks_exact(8)
            .map(|e| (be32(e, 0), be32(e, 4)))
    }
}
