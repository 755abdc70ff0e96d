//! `ctts`, composition time to sample (ISO 14496-12 §8.6.1.3): runs of
//! samples sharing one composition offset (presentation minus decode time).
//!
//! Version 1 offsets are signed. Version 0 says unsigned, but writers have
//! long put negative values there, and ffmpeg and the browsers read the
//! field as signed in both versions; so do we (an unsigned offset above
//! 2^31 would be 13 hours at 90 kHz, never a real one).

use super::{Child, be32, full_box, table};
use crate::index::MediaError;

/// A checked `ctts`: its entries are all present in the box.
#[derive(Debug, Clone, Copy)]
pub struct Ctts<'a> {
    entries: &'a [u8],
    /// Sum of the run lengths.
    pub sample_count: u64,
}

impl<'a> Ctts<'a> {
    pub fn parse(ctts: &Child<'a>) -> Result<Self, MediaError> {
        let mut c = ctts.cursor("'ctts' box too short");
        full_box(&mut c)?;
        let count = c.u32()?;
        let entries = table(&mut c, count, 8)?;
        let sample_count = entries.chunks_exact(8).map(|e| u64::from(be32(e, 0))).sum();
        Ok(Ctts {
            entries,
            sample_count,
        })
    }

    /// `(sample_count, sample_offset)` runs in order.
    pub fn runs(&self) -> impl Iterator<Item = (u32, i32)> + use<'a> {
        self.entries
            .chunks_exact(8)
            .map(|e| (be32(e, 0), be32(e, 4) as i32))
    }
}
