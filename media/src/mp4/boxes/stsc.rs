//! `stsc`, sample to chunk (ISO 14496-12 §8.7.4): runs of chunks that hold
//! the same number of samples. Each entry names the first chunk (1-based) of
//! its run; the run lasts until the next entry's first chunk, and the last
//! run to the last chunk of `stco`/`co64`.

use super::{Child, be32, full_box, malformed, table};
use crate::index::MediaError;

/// One run of chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRun {
    /// 1-based number of the run's first chunk.
    pub first_chunk: u32,
    pub samples_per_chunk: u32,
    /// 1-based index of the `stsd` entry the samples use.
    pub sample_description_index: u32,
}

/// A checked `stsc`: all entries present; first chunks start at 1 and
/// strictly increase, so every run covers at least one chunk and the walk
/// over chunks only goes forward.
#[derive(Debug, Clone, Copy)]
pub struct Stsc<'a> {
    entries: &'a [u8],
}

impl<'a> Stsc<'a> {
    pub fn parse(stsc: &Child<'a>) -> Result<Self, MediaError> {
        let mut c = stsc.cursor("'stsc' box too short");
        full_box(&mut c)?;
        let count = c.u32()?;
        let at = c.offset();
        let entries = table(&mut c, count, 12)?;
        let mut prev = 0;
        for (i, e) in entries.chunks_exact(12).enumerate() {
            let first = be32(e, 0);
            if i == 0 && first != 1 {
                return Err(malformed(at, "'stsc' does not start at chunk 1"));
            }
            if first <= prev {
                return Err(malformed(at, "'stsc' first chunks not ascending"));
            }
            prev = first;
        }
        Ok(Stsc { entries })
    }

    /// The runs in order.
    pub fn runs(&self) -> impl Iterator<Item = ChunkRun> + use<'a> {
        self.entries.chunks_exact(12).map(|e| ChunkRun {
            first_chunk: be32(e, 0),
            samples_per_chunk: be32(e, 4),
            sample_description_index: be32(e, 8),
        })
    }
}
