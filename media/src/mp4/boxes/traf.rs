//! Every sample of a `moof`, one list per `traf`: where its bytes are, its
//! size, duration, flags and composition offset, with all the defaults
//! (`tfhd`, `trex`) and data-offset rules of ISO 14496-12 §8.8.7–8.8.8
//! resolved. The re-chunker (`mp4::rechunk`) cuts a fragment with it.
//!
//! `None` is "a fragment this reader does not describe completely"
//! (malformed; sample encryption, `sdtp`, sample groups, any box it does
//! not know in a `traf` — Smooth Streaming's `tfxd`/`tfrf` it knows and
//! skips; empty durations): the caller then leaves the
//! fragment as it is, so no error needs telling apart. Fields are read
//! with [`Fields`], not [`Cursor`](super::Cursor): the player's main
//! module carries this code, and building `MediaError`s at every field
//! would cost kilobytes of it.

use std::ops::Range;

use super::Child;
use super::mvex::Trex;

/// More samples than this in one fragment is not one we cut.
pub const MAX_SAMPLES: usize = 1 << 16;

// tfhd flags
const BASE_DATA_OFFSET: u32 = 0x01;
const SAMPLE_DESCRIPTION_INDEX: u32 = 0x02;
const DEFAULT_DURATION: u32 = 0x08;
const DEFAULT_SIZE: u32 = 0x10;
const DEFAULT_FLAGS: u32 = 0x20;
const DURATION_IS_EMPTY: u32 = 0x01_0000;
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

use super::moof::trun_flags::*;

/// Smooth Streaming's `uuid` box types in a `traf`: `tfxd`, `tfrf`.
const SMOOTH_TFXD: [u8; 16] = [
    0x6d, 0x1d, 0x9b, 0x05, 0x42, 0xd5, 0x44, 0xe6, 0x80, 0xe2, 0x14, 0x1d, 0xaf, 0xf7, 0x57, 0xb2,
];
const SMOOTH_TFRF: [u8; 16] = [
    0xd4, 0x80, 0x7e, 0xf2, 0xca, 0x39, 0x46, 0x95, 0x8e, 0x54, 0x26, 0xcb, 0x9e, 0x46, 0xa7, 0x9f,
];

/// One sample of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Where its bytes start, counted from the `moof`'s first byte.
    pub offset: u64,
    pub size: u32,
    pub duration: u32,
    pub flags: u32,
    /// Composition time offset as stored (signed when the `trun` is
    /// version 1).
    pub cto: u32,
}

/// The samples one `traf` lists, in decode order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafSamples {
    pub track_id: u32,
    /// `tfhd` sample_description_index, when the `tfhd` gives one.
    pub description: Option<u32>,
    /// `tfdt` baseMediaDecodeTime (0 without one).
    pub base_time: u64,
    /// The `traf` had a `tfdt`.
    pub has_tfdt: bool,
    /// Version of its `trun`s (1: signed composition offsets).
    pub version: u8,
    /// Some `trun` carried composition offsets.
    pub has_cto: bool,
    /// The `tfhd` gave an absolute base data offset (a file position).
    pub absolute_base: bool,
    pub samples: Vec<Sample>,
}

/// The samples of the `moof` whose payload is `moof` and that starts at
/// file offset `moof_offset`; `trex` gives each track's defaults. Every
/// sample's bytes must lie in `data` (counted from the `moof`'s start).
pub fn samples(
    moof: &Child<'_>,
    moof_offset: u64,
    trex: &[Trex],
    data: Range<u64>,
) -> Option<Vec<TrafSamples>> {
    let mut out = Vec::new();
    let mut total = 0usize;
    // Without an explicit base, a `traf`'s data follows the previous one's.
    let mut data_end = 0u64;
    for child in moof.children().ok()? {
        let child = child.ok()?;
        match &child.header.kind {
            b"mfhd" => {}
            b"traf" => {
                let traf = traf(&child, moof_offset, trex, &data, &mut data_end)?;
                total += traf.samples.len();
                if total > MAX_SAMPLES {
                    return None;
                }
                out.push(traf);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Big-endian fields of one box payload; `None` past its end.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from(self.u32()?) << 32 | u64::from(self.u32()?))
    }

    /// The field `flag` says is there (`Some(None)`: it is not).
    fn opt(&mut self, flags: u32, flag: u32) -> Option<Option<u32>> {
        if flags & flag != 0 {
            self.u32().map(Some)
        } else {
            Some(None)
        }
    }
}

fn traf(
    traf: &Child<'_>,
    moof_offset: u64,
    trex: &[Trex],
    data: &Range<u64>,
    data_end: &mut u64,
) -> Option<TrafSamples> {
    let mut children = traf.children().ok()?;
    let tfhd = children.next()?.ok()?;
    if &tfhd.header.kind != b"tfhd" {
        return None;
    }
    let mut c = Fields(tfhd.payload);
    let flags = c.u32()? & 0x00ff_ffff;
    let track_id = c.u32()?;
    let d = trex.iter().find(|t| t.track_id == track_id);
    let base = if flags & BASE_DATA_OFFSET != 0 {
        // An absolute file offset: made relative to the `moof`.
        c.u64()?.checked_sub(moof_offset)?
    } else if flags & DEFAULT_BASE_IS_MOOF != 0 {
        0
    } else {
        *data_end
    };
    let description = c.opt(flags, SAMPLE_DESCRIPTION_INDEX)?;
    let duration = c
        .opt(flags, DEFAULT_DURATION)?
        .or(d.map(|d| d.default_sample_duration));
    let size = c
        .opt(flags, DEFAULT_SIZE)?
        .or(d.map(|d| d.default_sample_size));
    let sample_flags = c
        .opt(flags, DEFAULT_FLAGS)?
        .or(d.map(|d| d.default_sample_flags));
    if flags & DURATION_IS_EMPTY != 0 {
        return None;
    }
    let mut out = TrafSamples {
        track_id,
        description,
        base_time: 0,
        has_tfdt: false,
        version: 0,
        has_cto: false,
        absolute_base: flags & BASE_DATA_OFFSET != 0,
        samples: Vec::new(),
    };
    let mut at = base;
    let mut truns = 0u32;
    for child in children {
        let child = child.ok()?;
        let mut c = Fields(child.payload);
        let head = c.u32()?;
        let (version, tflags) = ((head >> 24) as u8, head & 0x00ff_ffff);
        match &child.header.kind {
            b"tfdt" => {
                out.base_time = if version == 1 {
                    c.u64()?
                } else {
                    u64::from(c.u32()?)
                };
                out.has_tfdt = true;
            }
            // Smooth Streaming's (PIFF, ffmpeg's `-f ismv`): `tfxd` (the
            // fragment's time and duration) and `tfrf` (the times of the
            // fragments to come, for live). Neither is a `tfdt`: ffmpeg writes
            // a negative `tfxd` for audio that starts early, which no decode
            // time can be; the fragment's time is then the running one, as
            // for any fragment without a `tfdt`, and as native players take it.
            b"uuid" if matches!(child.user_type, Some(SMOOTH_TFXD | SMOOTH_TFRF)) => {}
            b"trun" => {
                if truns > 0 && version != out.version {
                    return None;
                }
                out.version = version;
                out.has_cto |= tflags & SAMPLE_COMPOSITION_TIME_OFFSET != 0;
                truns += 1;
                let defaults = [duration, size, sample_flags];
                trun(
                    &mut c,
                    tflags,
                    defaults,
                    base,
                    data.start,
                    &mut at,
                    &mut out.samples,
                )?;
                if at > data.end {
                    return None;
                }
            }
            _ => return None,
        }
    }
    *data_end = at;
    Some(out)
}

/// Appends a `trun`'s samples. Its data starts at `base` (the `traf`'s)
/// moved by its data offset, or without one at `at` (where the previous
/// `trun`'s ended); `at` moves to where its data ends. `None`: a value it
/// relies on has no default, its data starts before `data_start`, or its
/// samples are more than we cut.
fn trun(
    c: &mut Fields<'_>,
    flags: u32,
    [duration, size, sample_flags]: [Option<u32>; 3],
    base: u64,
    data_start: u64,
    at: &mut u64,
    out: &mut Vec<Sample>,
) -> Option<()> {
    let count = c.u32()? as usize;
    if count > MAX_SAMPLES.saturating_sub(out.len()) {
        return None;
    }
    if flags & DATA_OFFSET != 0 {
        // Signed, from the base (ISO 14496-12 §8.8.8.3).
        *at = base.checked_add_signed(i64::from(c.u32()? as i32))?;
    }
    // Samples run on from here: the caller checks where they end.
    if *at < data_start {
        return None;
    }
    let first_flags = c.opt(flags, FIRST_SAMPLE_FLAGS)?;
    for i in 0..count {
        let duration = c.opt(flags, SAMPLE_DURATION)?.or(duration)?;
        let size = c.opt(flags, SAMPLE_SIZE)?.or(size)?;
        let f = c.opt(flags, SAMPLE_FLAGS)?;
        let cto = c.opt(flags, SAMPLE_COMPOSITION_TIME_OFFSET)?.unwrap_or(0);
        let f = if i == 0 { first_flags.or(f) } else { f };
        let flags = f.or(sample_flags)?;
        out.push(Sample {
            offset: *at,
            size,
            duration,
            flags,
            cto,
        });
        *at = at.saturating_add(u64::from(size));
    }
    Some(())
}
