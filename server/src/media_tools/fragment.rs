//! `--fragment`: the remux core's init segment, a `sidx` listing every
//! fragment, then the fragments (`moof` + `mdat`), so a player has the
//! whole time ↔ byte map from its first request.
//!
//! One fragment is in memory at a time: its samples are read from the
//! input by range, built, written. The `sidx` needs every fragment's size,
//! so its space is reserved (its size is known from the fragment count)
//! and it is filled in last.

use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;

use caudal_media::index::MediaError;
use caudal_media::remux::{Fragment, Piece, PlanOptions, Remux};

use super::ToolError;
use super::layout::MediaFile;

/// Largest fragment we read samples for (as the remuxer's own limit).
const MAX_FRAGMENT_BYTES: u64 = 256 << 20;

/// A `sidx` lists at most this many references (16-bit count).
const MAX_REFERENCES: usize = u16::MAX as usize;

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fragmented {
    pub fragments: usize,
}

/// Writes the fragmented form of the plain MP4 `f`, whose `moov` is `remux`.
pub(crate) fn write<W: Write + Seek>(
    f: &mut MediaFile,
    remux: &Remux,
    out: &mut W,
) -> Result<Fragmented, ToolError> {
    let plan = remux.plan(PlanOptions::default());
    if plan.len() > MAX_REFERENCES {
        return Err(ToolError::TooManyFragments { count: plan.len() });
    }
    let lead = remux.tracks().next().ok_or(MediaError::Unsupported {
        container: "mp4",
        what: "a file without audio or video samples".into(),
    })?;
    let (lead_id, timescale) = (lead.id, lead.timescale);

    let init = remux.init_segment();
    out.write_all(&init).map_err(ToolError::Output)?;
    let sidx_at = init.len() as u64;
    let sidx_len = sidx_size(plan.len());
    out.write_all(&vec![0u8; sidx_len])
        .map_err(ToolError::Output)?;

    let mut sizes = Vec::with_capacity(plan.len());
    for fragment in &plan {
        let pieces = read_pieces(f, &fragment.bytes)?;
        let views: Vec<Piece<'_>> = pieces
            .iter()
            .map(|(offset, data)| Piece {
                offset: *offset,
                data,
            })
            .collect();
        let bytes = remux.build_fragment(fragment, views.as_slice())?;
        let size = u32::try_from(bytes.len()).map_err(|_| MediaError::TooLarge {
            what: "fragment",
            limit: u64::from(u32::MAX >> 1),
        })?;
        out.write_all(&bytes).map_err(ToolError::Output)?;
        sizes.push(size);
    }

    let sidx = sidx(lead_id, timescale, &plan, &sizes)?;
    debug_assert_eq!(sidx.len(), sidx_len);
    out.seek(SeekFrom::Start(sidx_at))
        .map_err(ToolError::Output)?;
    out.write_all(&sidx).map_err(ToolError::Output)?;
    out.seek(SeekFrom::End(0)).map_err(ToolError::Output)?;
    Ok(Fragmented {
        fragments: plan.len(),
    })
}

/// The file bytes of `ranges`, each read whole.
fn read_pieces(f: &mut MediaFile, ranges: &[Range<u64>]) -> Result<Vec<(u64, Vec<u8>)>, ToolError> {
    let total: u64 = ranges
        .iter()
        .map(|r| r.end.saturating_sub(r.start))
        .fold(0, u64::saturating_add);
    if total > MAX_FRAGMENT_BYTES {
        return Err(MediaError::TooLarge {
            what: "fragment",
            limit: MAX_FRAGMENT_BYTES,
        }
        .into());
    }
    ranges
        .iter()
        .map(|r| {
            let data = f.read_exact_at(r.start, r.end.saturating_sub(r.start))?;
            Ok((r.start, data))
        })
        .collect()
}

/// Bytes of a version-1 `sidx` with `n` references.
fn sidx_size(n: usize) -> usize {
    // header, version+flags, reference_ID, timescale, earliest time and
    // first offset (64-bit), reserved, count, then 12 bytes a reference.
    8 + 4 + 4 + 4 + 8 + 8 + 2 + 2 + 12 * n
}

/// The `sidx`: one reference per fragment, on the lead track's timeline.
/// A fragment starting before 0 (an edit list cutting into a GOP) is
/// counted from 0, as players show it.
fn sidx(
    reference_id: u32,
    timescale: u32,
    plan: &[Fragment],
    sizes: &[u32],
) -> Result<Vec<u8>, ToolError> {
    let ticks = |secs: f64| (secs.max(0.0) * f64::from(timescale)).round() as u64;
    let mut out = Vec::with_capacity(sidx_size(plan.len()));
    out.extend_from_slice(&(sidx_size(plan.len()) as u32).to_be_bytes());
    out.extend_from_slice(b"sidx");
    out.extend_from_slice(&0x0100_0000u32.to_be_bytes()); // version 1
    out.extend_from_slice(&reference_id.to_be_bytes());
    out.extend_from_slice(&timescale.to_be_bytes());
    let first = plan.first().map_or(0, |f| ticks(f.start));
    out.extend_from_slice(&first.to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes()); // the fragments follow at once
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&(plan.len() as u16).to_be_bytes());
    let mut at = first;
    for (fragment, &size) in plan.iter().zip(sizes) {
        if size > i32::MAX as u32 {
            return Err(MediaError::TooLarge {
                what: "fragment",
                limit: i32::MAX as u64,
            }
            .into());
        }
        let end = ticks(fragment.end).max(at);
        let duration = u32::try_from(end - at).map_err(|_| MediaError::Unsupported {
            container: "mp4",
            what: "a fragment too long for a 'sidx' duration".into(),
        })?;
        at = end;
        out.extend_from_slice(&size.to_be_bytes()); // reference_type 0: media
        out.extend_from_slice(&duration.to_be_bytes());
        out.extend_from_slice(&0x9000_0000u32.to_be_bytes()); // starts with SAP type 1
    }
    Ok(out)
}
