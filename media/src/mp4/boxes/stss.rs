//! `stss`, sync sample table (ISO 14496-12 §8.6.2): the 1-based numbers of
//! the random access samples, ascending. Without an `stss` every sample is
//! a sync sample (audio, intra-only video).

use super::{Child, be32, full_box, malformed, table};
use crate::index::MediaError;

/// A checked `stss`: all entries present, strictly ascending, none zero.
#[derive(Debug, Clone, Copy)]
pub struct Stss<'a> {
    entries: &'a [u8],
}

impl<'a> Stss<'a> {
    pub fn parse(stss: &Child<'a>) -> Result<Self, MediaError> {
        let mut c = stss.cursor("'stss' box too short");
        full_box(&mut c)?;
        let count = c.u32()?;
        let at = c.offset();
        let entries = table(&mut c, count, 4)?;
        let mut last = 0;
        for e in entries.chunks_exact(4) {
            let n = be32(e, 0);
            if n <= last {
                return Err(malformed(at, "'stss' sample numbers not ascending"));
            }
            last = n;
        }
        Ok(Stss { entries })
    }

    /// The 1-based sync sample numbers, ascending.
    pub fn numbers(&self) -> impl Iterator<Item = u32> + use<'a> {
        self.entries.chunks_exact(4).map(|e| be32(e, 0))
    }

    /// The largest sample number listed (0 when empty).
    pub fn last(&self) -> u32 {
        self.entries
            .len()
            .checked_sub(4)
            .map_or(0, |at| be32(self.entries, at))
    }
}
