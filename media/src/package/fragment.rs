//! `--fragment`: the remux core's init segment, a `sidx` listing every
//! fragment, then the fragments (`moof` + `mdat`), so a player has the
//! whole time ↔ byte map from its first request.
//!
//! One fragment is in memory at a time: its samples are read from the
//! input by range, built, handed back to be written. The `sidx` needs every
//! fragment's size, so its space is reserved in [`Fragmenter::head`] (its
//! size is known from the fragment count) and it is filled in last
//! ([`Fragmenter::sidx`]).

use std::ops::Range;

use super::error::PackageError;
use super::read::{ReadAt, read_exact_at};
use crate::index::MediaError;
use crate::mp4::boxes::sidx::{self, Reference, Sidx};
use crate::mp4::samples::MovieSamples;
use crate::mp4::write::Writer;
use crate::remux::{Fragment, Piece, PlanOptions, Remux};

/// Largest fragment we read samples for (as the remuxer's own limit).
const MAX_FRAGMENT_BYTES: u64 = 256 << 20;

/// Builds the fragmented form of a plain MP4, fragment by fragment.
#[derive(Debug)]
pub struct Fragmenter {
    remux: Remux,
    plan: Vec<Fragment>,
    /// The track whose timeline the `sidx` is on, and its timescale.
    lead: (u32, u32),
    init: Vec<u8>,
    /// The sizes of the fragments built so far.
    sizes: Vec<u32>,
}

impl Fragmenter {
    /// Plans the fragments of `movie` (the remuxer's default plan);
    /// refuses more than a `sidx` can list.
    pub fn new(movie: MovieSamples) -> Result<Self, PackageError> {
        let remux = Remux::new(movie)?;
        let plan = remux.plan(PlanOptions::default());
        if plan.len() > sidx::MAX_REFERENCES {
            return Err(PackageError::TooManyFragments { count: plan.len() });
        }
        let lead = remux.tracks().next().ok_or(MediaError::Unsupported {
            container: "mp4",
            what: "a file without audio or video samples".into(),
        })?;
        let lead = (lead.id, lead.timescale);
        let init = remux.init_segment();
        Ok(Fragmenter {
            sizes: Vec::with_capacity(plan.len()),
            remux,
            plan,
            lead,
            init,
        })
    }

    /// How many fragments the output holds.
    pub fn fragments(&self) -> usize {
        self.plan.len()
    }

    /// The start of the output: the init segment, then zeros where the
    /// `sidx` goes.
    pub fn head(&self) -> Vec<u8> {
        let mut head = Vec::with_capacity(self.init.len() + Sidx::encoded_len(self.plan.len()));
        head.extend_from_slice(&self.init);
        head.resize(head.len() + Sidx::encoded_len(self.plan.len()), 0);
        head
    }

    /// The next fragment, its samples read from `src`; `None` after the
    /// last.
    pub fn next_fragment<S: ReadAt + ?Sized>(
        &mut self,
        src: &mut S,
    ) -> Result<Option<Vec<u8>>, S::Error> {
        let Some(fragment) = self.plan.get(self.sizes.len()) else {
            return Ok(None);
        };
        let pieces = read_pieces(src, &fragment.bytes)?;
        let views: Vec<Piece<'_>> = pieces
            .iter()
            .map(|(offset, data)| Piece {
                offset: *offset,
                data,
            })
            .collect();
        let bytes = self
            .remux
            .build_fragment(fragment, views.as_slice())
            .map_err(PackageError::from)?;
        let size = u32::try_from(bytes.len()).map_err(|_| {
            PackageError::from(MediaError::TooLarge {
                what: "fragment",
                limit: u64::from(u32::MAX >> 1),
            })
        })?;
        self.sizes.push(size);
        Ok(Some(bytes))
    }

    /// Where the `sidx` goes in the output and its bytes, once every
    /// fragment was built: one reference per fragment, on the lead track's
    /// timeline. A fragment starting before 0 (an edit list cutting into a
    /// GOP) is counted from 0, as players show it.
    pub fn sidx(&self) -> Result<(u64, Vec<u8>), PackageError> {
        let (reference_id, timescale) = self.lead;
        let ticks = |secs: f64| (secs.max(0.0) * f64::from(timescale)).round() as u64;
        let first = self.plan.first().map_or(0, |f| ticks(f.start));
        let mut at = first;
        let mut references = Vec::with_capacity(self.plan.len());
        for (fragment, &size) in self.plan.iter().zip(&self.sizes) {
            let end = ticks(fragment.end).max(at);
            let duration = u32::try_from(end - at).map_err(|_| MediaError::Unsupported {
                container: "mp4",
                what: "a fragment too long for a 'sidx' duration".into(),
            })?;
            at = end;
            references.push(Reference {
                to_index: false,
                size,
                duration,
            });
        }
        let index = Sidx {
            reference_id,
            timescale,
            earliest_presentation_time: first,
            // The fragments follow at once.
            first_offset: 0,
            references,
        };
        let mut w = Writer::with_capacity(Sidx::encoded_len(self.plan.len()));
        index.write(&mut w)?;
        Ok((self.init.len() as u64, w.into_bytes()))
    }
}

/// The input bytes of `ranges`, each read whole.
fn read_pieces<S: ReadAt + ?Sized>(
    src: &mut S,
    ranges: &[Range<u64>],
) -> Result<Vec<(u64, Vec<u8>)>, S::Error> {
    let total: u64 = ranges
        .iter()
        .map(|r| r.end.saturating_sub(r.start))
        .fold(0, u64::saturating_add);
    if total > MAX_FRAGMENT_BYTES {
        return Err(PackageError::from(MediaError::TooLarge {
            what: "fragment",
            limit: MAX_FRAGMENT_BYTES,
        })
        .into());
    }
    ranges
        .iter()
        .map(|r| {
            let data = read_exact_at(src, r.start, r.end.saturating_sub(r.start))?;
            Ok((r.start, data))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{ContainerIndexer, Step};
    use crate::mp4::Fmp4Indexer;
    use crate::package::InMemory;
    use crate::package::layout::PlainMp4;

    fn fragmented(input: &[u8]) -> Vec<u8> {
        let plain = PlainMp4::read(&mut InMemory(input)).expect("a plain MP4");
        let mut fr = Fragmenter::new(plain.movie).expect("plan");
        let mut out = fr.head();
        while let Some(fragment) = fr.next_fragment(&mut InMemory(input)).expect("fragment") {
            out.extend_from_slice(&fragment);
        }
        let (at, sidx) = fr.sidx().expect("sidx");
        let at = at as usize;
        out[at..at + sidx.len()].copy_from_slice(&sidx);
        out
    }

    #[test]
    fn the_sidx_indexes_every_fragment_from_the_first_bytes() {
        let input: &[u8] = include_bytes!("../../tests/fixtures/remux/moov-end.mp4");
        let output = fragmented(input);
        let mut ix = Fmp4Indexer::new();
        let step = ix
            .feed(0, &output, Some(output.len() as u64))
            .expect("index");
        assert_eq!(step, Step::Ready);
        let index = ix.index().expect("an index");
        assert!(index.complete);
        assert_eq!(index.segments.len(), 3);
        assert_eq!(
            index.segments.last().map(|s| s.bytes.end),
            Some(output.len() as u64)
        );
    }

    #[test]
    fn the_sidx_fills_exactly_the_space_the_head_reserved() {
        let input: &[u8] = include_bytes!("../../tests/fixtures/remux/bframes.mp4");
        let plain = PlainMp4::read(&mut InMemory(input)).expect("a plain MP4");
        let mut fr = Fragmenter::new(plain.movie).expect("plan");
        let head = fr.head();
        while fr
            .next_fragment(&mut InMemory(input))
            .expect("fragment")
            .is_some()
        {}
        let (at, sidx) = fr.sidx().expect("sidx");
        // The sidx ends the head exactly, where the reserved zeros were.
        assert_eq!(at as usize + sidx.len(), head.len());
        assert!(head[at as usize..].iter().all(|&b| b == 0));
    }
}
