//! Every sample of a `moof`, one list per `traf`: where its bytes are, its
//! size, duration, flags and composition offset, with all the defaults
//! (`tfhd`, `trex`) and data-offset rules of ISO 14496-12 §8.8.7–8.8.8
//! resolved. The re-chunker (`mp4::rechunk`) cuts a fragment with it.
//!
//! `Ok(None)` is "a fragment this reader does not describe completely"
//! (sample encryption, `sdtp`, sample groups, any box it does not know in
//! a `traf`, empty durations): the caller then leaves the fragment as it is.

use super::mvex::Trex;
use super::{Child, Cursor, full_box};
use crate::index::MediaError;

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
    /// `tfdt` baseMediaDecodeTime.
    pub base_time: u64,
    /// Version of its `trun`s (1: signed composition offsets).
    pub version: u8,
    /// Some `trun` carried composition offsets.
    pub has_cto: bool,
    /// The `tfhd` gave an absolute base data offset (a file position).
    pub absolute_base: bool,
    pub samples: Vec<Sample>,
}

/// The samples of the `moof` whose payload is `moof` and that starts at
/// file offset `moof_offset`; `trex` gives each track's defaults.
pub fn samples(
    moof: &Child<'_>,
    moof_offset: u64,
    trex: &[Trex],
) -> Result<Option<Vec<TrafSamples>>, MediaError> {
    let mut out = Vec::new();
    let mut total = 0usize;
    // Without an explicit base, a `traf`'s data follows the previous one's.
    let mut data_end = 0u64;
    for child in moof.children()? {
        let child = child?;
        match &child.header.kind {
            b"mfhd" => {}
            b"traf" => {
                let Some(traf) = traf(&child, moof_offset, trex, &mut data_end)? else {
                    return Ok(None);
                };
                total = total.saturating_add(traf.samples.len());
                if total > MAX_SAMPLES {
                    return Ok(None);
                }
                out.push(traf);
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

fn traf(
    traf: &Child<'_>,
    moof_offset: u64,
    trex: &[Trex],
    data_end: &mut u64,
) -> Result<Option<TrafSamples>, MediaError> {
    let mut children = traf.children()?;
    let Some(tfhd) = children.next().transpose()? else {
        return Ok(None);
    };
    if &tfhd.header.kind != b"tfhd" {
        return Ok(None);
    }
    let mut c = tfhd.cursor("'tfhd' box too short");
    let (_, flags) = full_box(&mut c)?;
    let track_id = c.u32()?;
    let d = trex.iter().find(|t| t.track_id == track_id);
    let base = if flags & BASE_DATA_OFFSET != 0 {
        // An absolute file offset: made relative to the `moof`.
        let Some(b) = c.u64()?.checked_sub(moof_offset) else {
            return Ok(None);
        };
        b
    } else if flags & DEFAULT_BASE_IS_MOOF != 0 {
        0
    } else {
        *data_end
    };
    let description = opt(&mut c, flags, SAMPLE_DESCRIPTION_INDEX)?;
    let duration = opt(&mut c, flags, DEFAULT_DURATION)?.or(d.map(|d| d.default_sample_duration));
    let size = opt(&mut c, flags, DEFAULT_SIZE)?.or(d.map(|d| d.default_sample_size));
    let sample_flags = opt(&mut c, flags, DEFAULT_FLAGS)?.or(d.map(|d| d.default_sample_flags));
    if flags & DURATION_IS_EMPTY != 0 {
        return Ok(None);
    }
    let mut out = TrafSamples {
        track_id,
        description,
        base_time: 0,
        version: 0,
        has_cto: false,
        absolute_base: flags & BASE_DATA_OFFSET != 0,
        samples: Vec::new(),
    };
    let mut at = base;
    let mut have_tfdt = false;
    let mut truns = 0u32;
    for child in children {
        let child = child?;
        match &child.header.kind {
            b"tfdt" => {
                let mut c = child.cursor("'tfdt' box too short");
                let (version, _) = full_box(&mut c)?;
                out.base_time = c.u32_or_u64(version)?;
                have_tfdt = true;
            }
            b"trun" => {
                let defaults = [duration, size, sample_flags];
                let mut c = child.cursor("'trun' box too short");
                let (version, tflags) = full_box(&mut c)?;
                if truns > 0 && version != out.version {
                    return Ok(None);
                }
                out.version = version;
                out.has_cto |= tflags & SAMPLE_COMPOSITION_TIME_OFFSET != 0;
                truns += 1;
                if !trun(&mut c, tflags, defaults, base, &mut at, &mut out.samples)? {
                    return Ok(None);
                }
            }
            _ => return Ok(None),
        }
    }
    *data_end = at;
    Ok(have_tfdt.then_some(out))
}

/// The field `flag` says is there, else `None`.
fn opt(c: &mut Cursor<'_>, flags: u32, flag: u32) -> Result<Option<u32>, MediaError> {
    if flags & flag != 0 {
        c.u32().map(Some)
    } else {
        Ok(None)
    }
}

/// Appends a `trun`'s samples. Its data starts at `base` (the `traf`'s)
/// moved by its data offset, or without one at `at` (where the previous
/// `trun`'s ended); `at` moves to where its data ends. `false`: a value it relies on
/// has no default, or its samples are more than we cut.
fn trun(
    c: &mut Cursor<'_>,
    flags: u32,
    [duration, size, sample_flags]: [Option<u32>; 3],
    base: u64,
    at: &mut u64,
    out: &mut Vec<Sample>,
) -> Result<bool, MediaError> {
    let count = c.u32()? as usize;
    if count > MAX_SAMPLES.saturating_sub(out.len()) {
        return Ok(false);
    }
    if flags & DATA_OFFSET != 0 {
        // Signed, from the base (ISO 14496-12 §8.8.8.3).
        let offset = c.u32()? as i32;
        let Some(start) = moved(base, offset) else {
            return Ok(false);
        };
        *at = start;
    }
    let first_flags = opt(c, flags, FIRST_SAMPLE_FLAGS)?;
    for i in 0..count {
        let d = opt(c, flags, SAMPLE_DURATION)?.or(duration);
        let s = opt(c, flags, SAMPLE_SIZE)?.or(size);
        let f = opt(c, flags, SAMPLE_FLAGS)?;
        let cto = opt(c, flags, SAMPLE_COMPOSITION_TIME_OFFSET)?.unwrap_or(0);
        let f = if i == 0 { first_flags.or(f) } else { f };
        let (Some(duration), Some(size), Some(flags)) = (d, s, f.or(sample_flags)) else {
            return Ok(false);
        };
        out.push(Sample {
            offset: *at,
            size,
            duration,
            flags,
            cto,
        });
        *at = at.saturating_add(u64::from(size));
    }
    Ok(true)
}

/// The trun's data start: the traf base moved by a signed offset.
fn moved(base: u64, offset: i32) -> Option<u64> {
    if offset < 0 {
        base.checked_sub(u64::from(offset.unsigned_abs()))
    } else {
        base.checked_add(offset as u64)
    }
}
