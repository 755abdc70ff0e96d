//! Building a fragment (a planned one, or a piece of one): `moof` (`mfhd`,
//! a `traf` per track with `tfhd`, `tfdt`, `trun`) and an `mdat` with the
//! samples' bytes copied in, track by track. The media bytes are not
//! touched.

use std::ops::Range;

use super::{CONTAINER, Fragment, Remux};
use crate::index::{MediaError, TrackKind};
use crate::mp4::write::Writer;

/// Largest fragment we build (its `mdat` payload): a few seconds of even
/// 4K video are well under it; it bounds what one plan entry can make us
/// allocate.
pub const MAX_FRAGMENT_BYTES: u64 = 256 << 20;

// tfhd flags
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
use crate::mp4::boxes::moof::trun_flags::{
    DATA_OFFSET, SAMPLE_COMPOSITION_TIME_OFFSET, SAMPLE_DURATION, SAMPLE_FLAGS, SAMPLE_SIZE,
};
// sample flags (ISO 14496-12 §8.8.3.1)
/// sample_depends_on = 2: depends on no other sample (a key frame).
const SYNC_FLAGS: u32 = 0x0200_0000;
/// sample_depends_on = 1, sample_is_non_sync_sample = 1.
const NON_SYNC_FLAGS: u32 = 0x0101_0000;

/// Where a fragment's sample bytes come from: the player holds the ranges
/// it fetched and hands out slices of them.
pub trait SampleSource {
    /// The bytes of `range` of the file, if held (all of them, or `None`).
    fn get(&self, range: Range<u64>) -> Option<&[u8]>;
}

/// The whole file in memory.
impl SampleSource for [u8] {
    fn get(&self, range: Range<u64>) -> Option<&[u8]> {
        let start = usize::try_from(range.start).ok()?;
        let end = usize::try_from(range.end).ok()?;
        self.get(start..end)
    }
}

/// One fetched piece of the file: `data` is the bytes from `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    pub offset: u64,
    pub data: &'a [u8],
}

impl SampleSource for Piece<'_> {
    fn get(&self, range: Range<u64>) -> Option<&[u8]> {
        let start = range.start.checked_sub(self.offset)?;
        let end = range.end.checked_sub(self.offset)?;
        self.data
            .get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
    }
}

/// Several fetched pieces (a sample lies in one of them).
impl SampleSource for [Piece<'_>] {
    fn get(&self, range: Range<u64>) -> Option<&[u8]> {
        self.iter().find_map(|p| p.get(range.clone()))
    }
}

impl Remux {
    /// The `moof` + `mdat` of `fragment` (an entry of [`Remux::plan`]),
    /// with the sample bytes taken from `source`. Fails if `source` lacks
    /// a sample or the fragment does not belong to this movie.
    pub fn build_fragment<S: SampleSource + ?Sized>(
        &self,
        fragment: &Fragment,
        source: &S,
    ) -> Result<Vec<u8>, MediaError> {
        self.build(fragment.sequence, &fragment.samples, source)
    }

    /// The `moof` + `mdat` of any run of samples per output track (a
    /// planned fragment or a piece of one), numbered `sequence`. Every
    /// field is written from the samples themselves — `tfdt` from the first
    /// one's decode time, flags and composition offsets per sample — so a
    /// piece that starts after a fragment's keyframe continues it exactly.
    pub(super) fn build<S: SampleSource + ?Sized>(
        &self,
        sequence: u32,
        samples: &[Range<usize>],
        source: &S,
    ) -> Result<Vec<u8>, MediaError> {
        let foreign = || MediaError::Unsupported {
            container: CONTAINER,
            what: "a fragment from another plan".into(),
        };
        // The runs to write, and the mdat payload size.
        let mut runs = Vec::with_capacity(self.outs.len());
        let mut payload: u64 = 0;
        for (out, range) in self.outs.iter().zip(samples) {
            let track = self.track(out).ok_or_else(foreign)?;
            let samples = track.samples.get(range.clone()).ok_or_else(foreign)?;
            for s in samples {
                payload = payload.saturating_add(u64::from(s.size()));
            }
            if !samples.is_empty() {
                runs.push((out, track, range.clone(), samples));
            }
        }
        if payload > MAX_FRAGMENT_BYTES {
            return Err(MediaError::TooLarge {
                what: "fragment",
                limit: MAX_FRAGMENT_BYTES,
            });
        }
        let payload = usize::try_from(payload).map_err(|_| MediaError::TooLarge {
            what: "fragment",
            limit: MAX_FRAGMENT_BYTES,
        })?;
        let sample_count: usize = runs.iter().map(|r| r.3.len()).sum();
        let mut w = Writer::with_capacity(
            payload
                .saturating_add(sample_count.saturating_mul(16))
                .saturating_add(256),
        );

        let moof = w.begin(b"moof");
        let mfhd = w.begin_full(b"mfhd", 0, 0);
        w.u32(sequence);
        w.end(mfhd);
        // (position of the trun data_offset field, mdat payload offset)
        let mut data_offsets = Vec::with_capacity(runs.len());
        let mut in_mdat: u64 = 0;
        for (out, track, range, samples) in &runs {
            let traf = w.begin(b"traf");
            let tfhd = w.begin_full(b"tfhd", 0, DEFAULT_BASE_IS_MOOF);
            w.u32(track.id);
            w.end(tfhd);
            let tfdt = w.begin_full(b"tfdt", 1, 0);
            let first = samples.first().map_or(0, |s| out.decode(range.start, s));
            w.u64(first);
            w.end(tfdt);

            // Offsets were checked to fit an i32 (OutTrack::new).
            let offsets: Vec<i32> = range
                .clone()
                .zip(samples.iter())
                .map(|(i, s)| (out.presentation(i, s) - i128::from(out.decode(i, s))) as i32)
                .collect();
            let any_offset = offsets.iter().any(|&c| c != 0);
            let negative = offsets.iter().any(|&c| c < 0);
            let mut flags = DATA_OFFSET | SAMPLE_DURATION | SAMPLE_SIZE | SAMPLE_FLAGS;
            if any_offset {
                flags |= SAMPLE_COMPOSITION_TIME_OFFSET;
            }
            let trun = w.begin_full(b"trun", u8::from(negative), flags);
            w.u32(u32::try_from(samples.len()).unwrap_or(u32::MAX));
            data_offsets.push((w.len(), in_mdat));
            w.u32(0); // data_offset, patched below
            let video = track.kind == TrackKind::Video;
            for ((i, s), offset) in range.clone().zip(samples.iter()).zip(&offsets) {
                w.u32(out.duration(track, i));
                w.u32(s.size());
                w.u32(if s.is_sync() || !video {
                    SYNC_FLAGS
                } else {
                    NON_SYNC_FLAGS
                });
                if any_offset {
                    w.u32(*offset as u32);
                }
            }
            w.end(trun);
            w.end(traf);
            in_mdat = in_mdat.saturating_add(samples.iter().map(|s| u64::from(s.size())).sum());
        }
        w.end(moof);

        // Each track's data starts this far from the moof's first byte.
        let moof_len = w.len() as u64;
        for (at, in_mdat) in data_offsets {
            let offset = moof_len.saturating_add(8).saturating_add(in_mdat);
            w.patch_u32(at, u32::try_from(offset).unwrap_or(u32::MAX));
        }
        let mdat_size = u32::try_from(payload.saturating_add(8)).unwrap_or(u32::MAX);
        w.u32(mdat_size);
        w.bytes(b"mdat");
        for (_, _, _, samples) in &runs {
            for s in samples.iter() {
                let bytes = source
                    .get(s.offset..s.end())
                    .filter(|b| b.len() as u64 == u64::from(s.size()))
                    .ok_or(MediaError::Truncated {
                        len: s.offset,
                        what: "sample bytes (not fetched)",
                    })?;
                w.bytes(bytes);
            }
        }
        Ok(w.into_bytes())
    }
}
