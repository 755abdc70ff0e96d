//! `moof` (movie fragment) and what the index needs from it: for one track,
//! the fragment's start (`tfdt`) and length (sum of the `trun` sample
//! durations, or the `tfhd`/`trex` default) — ISO 14496-12 §8.8.4–8.8.12.

use super::{Child, Cursor, full_box, malformed};
use crate::index::MediaError;

/// Largest `moof` we buffer and parse: a 2-second fragment of 60 fps video
/// plus audio has a few KB of `trun`; 16 MiB leaves room for very long ones.
pub const MAX_SIZE: u64 = 16 << 20;

// tfhd flags
const BASE_DATA_OFFSET: u32 = 0x01;
const SAMPLE_DESCRIPTION_INDEX: u32 = 0x02;
const DEFAULT_SAMPLE_DURATION: u32 = 0x08;

/// `trun` flags (ISO 14496-12 §8.8.8), shared by the reader here and the
/// fragment writer in `remux`.
pub mod trun_flags {
    pub const DATA_OFFSET: u32 = 0x01;
    pub const FIRST_SAMPLE_FLAGS: u32 = 0x04;
    pub const SAMPLE_DURATION: u32 = 0x100;
    pub const SAMPLE_SIZE: u32 = 0x200;
    pub const SAMPLE_FLAGS: u32 = 0x400;
    pub const SAMPLE_COMPOSITION_TIME_OFFSET: u32 = 0x800;
}
use trun_flags::*;

/// One track's timing in one fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentTiming {
    /// `tfdt` baseMediaDecodeTime, in the track's timescale, when present.
    pub base_decode_time: Option<u64>,
    /// Sum of the sample durations, in the track's timescale.
    pub duration: u64,
}

/// Why MSE would take this `moof` wrongly, if it would: a `traf` whose
/// `tfhd` gives an absolute base data offset (a position in the file,
/// which a SourceBuffer fed from a seek or a cut cannot resolve — ffmpeg's
/// default fragmenting writes these) or that has no `tfdt` (MSE has no
/// decode time for it). Such a file is streamed through a rewrite.
pub fn needs_rewrite(moof: &Child<'_>) -> Result<Option<&'static str>, MediaError> {
    for traf in moof.children()? {
        let traf = traf?;
        if &traf.header.kind != b"traf" {
            continue;
        }
        let mut has_tfdt = false;
        for child in traf.children()? {
            let child = child?;
            match &child.header.kind {
                b"tfhd" => {
                    let (_, flags) = full_box(&mut child.cursor("'tfhd' box too short"))?;
                    if flags & BASE_DATA_OFFSET != 0 {
                        return Ok(Some("fragments with absolute base data offsets"));
                    }
                }
                b"tfdt" => has_tfdt = true,
                _ => {}
            }
        }
        if !has_tfdt {
            return Ok(Some("fragments without decode times ('tfdt')"));
        }
    }
    Ok(None)
}

/// When `track_id`'s first sample in this `moof` is presented, in its
/// timescale, before any edit list: the `tfdt` (0 without one) plus the
/// sample's composition offset. `None` without a `traf` of that track.
pub fn first_presentation(moof: &Child<'_>, track_id: u32) -> Result<Option<i64>, MediaError> {
    for traf in moof.children()? {
        let traf = traf?;
        if &traf.header.kind != b"traf" {
            continue;
        }
        let (mut mine, mut decode, mut offset) = (false, 0i64, None);
        for child in traf.children()? {
            let child = child?;
            let mut c = child.cursor("'traf' child too short");
            match &child.header.kind {
                b"tfhd" => {
                    full_box(&mut c)?;
                    mine = c.u32()? == track_id;
                }
                b"tfdt" => {
                    let (version, _) = full_box(&mut c)?;
                    decode = i64::try_from(c.u32_or_u64(version)?).unwrap_or(i64::MAX);
                }
                b"trun" if offset.is_none() => {
                    let (version, flags) = full_box(&mut c)?;
                    if c.u32()? == 0 {
                        continue;
                    }
                    let skip = [DATA_OFFSET, FIRST_SAMPLE_FLAGS]
                        .iter()
                        .chain(&[SAMPLE_DURATION, SAMPLE_SIZE, SAMPLE_FLAGS])
                        .filter(|&&f| flags & f != 0)
                        .count();
                    c.skip(4 * skip)?;
                    offset = Some(match flags & SAMPLE_COMPOSITION_TIME_OFFSET {
                        0 => 0,
                        _ if version == 1 => i64::from(c.u32()? as i32),
                        _ => i64::from(c.u32()?),
                    });
                }
                _ => {}
            }
        }
        if mine {
            return Ok(Some(decode.saturating_add(offset.unwrap_or(0))));
        }
    }
    Ok(None)
}

/// The timing of `track_id` in the `moof` whose payload is `moof`, or
/// `None` when the fragment has no samples of that track. `trex_duration`
/// is the track's `trex` default sample duration.
pub fn track_timing(
    moof: &Child<'_>,
    track_id: u32,
    trex_duration: u32,
) -> Result<Option<FragmentTiming>, MediaError> {
    let mut found: Option<FragmentTiming> = None;
    for traf in moof.children()? {
        let traf = traf?;
        if &traf.header.kind != b"traf" {
            continue;
        }
        let Some(t) = traf_timing(&traf, track_id, trex_duration)? else {
            continue;
        };
        found = Some(match found {
            // Several `traf`s of one track: the first one's start, all durations.
            Some(f) => FragmentTiming {
                base_decode_time: f.base_decode_time.or(t.base_decode_time),
                duration: f.duration.saturating_add(t.duration),
            },
            None => t,
        });
    }
    Ok(found)
}

fn traf_timing(
    traf: &Child<'_>,
    track_id: u32,
    trex_duration: u32,
) -> Result<Option<FragmentTiming>, MediaError> {
    // `tfhd` comes first (ISO 14496-12 §8.8.7): it says whose `traf` this is
    // and gives the default duration the `trun`s below may rely on.
    let mut children = traf.children()?;
    let tfhd = children
        .next()
        .transpose()?
        .filter(|c| &c.header.kind == b"tfhd")
        .ok_or_else(|| malformed(traf.header.offset, "'traf' does not start with 'tfhd'"))?;
    let mut c = tfhd.cursor("'tfhd' box too short");
    let (_, flags) = full_box(&mut c)?;
    if c.u32()? != track_id {
        return Ok(None);
    }
    if flags & BASE_DATA_OFFSET != 0 {
        c.skip(8)?;
    }
    if flags & SAMPLE_DESCRIPTION_INDEX != 0 {
        c.skip(4)?;
    }
    let default_duration = if flags & DEFAULT_SAMPLE_DURATION != 0 {
        c.u32()?
    } else {
        trex_duration
    };

    let mut timing = FragmentTiming {
        base_decode_time: None,
        duration: 0,
    };
    for child in children {
        let child = child?;
        match &child.header.kind {
            b"tfdt" => {
                let mut c = child.cursor("'tfdt' box too short");
                let (version, _) = full_box(&mut c)?;
                timing.base_decode_time = Some(c.u32_or_u64(version)?);
            }
            b"trun" => {
                let d = trun_duration(&mut child.cursor("'trun' box too short"), default_duration)?;
                timing.duration = timing.duration.saturating_add(d);
            }
            _ => {}
        }
    }
    Ok(Some(timing))
}

/// Sum of a `trun`'s sample durations.
///
/// The per-sample table is only walked after checking it is all there, so a
/// sample_count of 2^32 - 1 costs one comparison, not four billion steps;
/// without per-sample durations the sum is a multiplication.
fn trun_duration(c: &mut Cursor<'_>, default_duration: u32) -> Result<u64, MediaError> {
    let (_, flags) = full_box(c)?;
    let count = c.u32()?;
    if flags & DATA_OFFSET != 0 {
        c.skip(4)?;
    }
    if flags & FIRST_SAMPLE_FLAGS != 0 {
        c.skip(4)?;
    }
    let fields = [
        SAMPLE_DURATION,
        SAMPLE_SIZE,
        SAMPLE_FLAGS,
        SAMPLE_COMPOSITION_TIME_OFFSET,
    ];
    let entry_len = 4 * fields.iter().filter(|&&f| flags & f != 0).count();
    let table_len = u64::from(count).saturating_mul(entry_len as u64);
    if table_len > c.remaining() as u64 {
        return Err(malformed(
            c.offset(),
            "'trun' lists more samples than it holds",
        ));
    }
    if flags & SAMPLE_DURATION == 0 {
        return Ok(u64::from(count).saturating_mul(u64::from(default_duration)));
    }
    let mut sum: u64 = 0;
    for _ in 0..count {
        let entry = c.take(entry_len)?;
        // Duration is the first field of each entry when present.
        let d = entry
            .get(..4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        sum = sum.saturating_add(u64::from(d));
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::super::Boxes;
    use super::*;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    fn tfhd(track: u32, default_duration: Option<u32>) -> Vec<u8> {
        let flags: u8 = if default_duration.is_some() { 0x08 } else { 0 };
        let mut p = vec![0, 0x02, 0, flags];
        p.extend_from_slice(&track.to_be_bytes());
        if let Some(d) = default_duration {
            p.extend_from_slice(&d.to_be_bytes());
        }
        boxed(b"tfhd", &p)
    }

    fn tfdt(t: u64) -> Vec<u8> {
        let mut p = vec![1, 0, 0, 0];
        p.extend_from_slice(&t.to_be_bytes());
        boxed(b"tfdt", &p)
    }

    fn trun(count: u32, durations: Option<&[u32]>) -> Vec<u8> {
        let mut p = vec![0, 0, if durations.is_some() { 0x01 } else { 0 }, 0x01];
        p.extend_from_slice(&count.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes()); // data offset
        for d in durations.unwrap_or(&[]) {
            p.extend_from_slice(&d.to_be_bytes());
        }
        boxed(b"trun", &p)
    }

    fn timing(
        moof_payload: &[u8],
        track: u32,
        trex: u32,
    ) -> Result<Option<FragmentTiming>, MediaError> {
        let moof = boxed(b"moof", moof_payload);
        let child = Boxes::new(&moof, 0, 0)?.next().transpose()?.expect("moof");
        track_timing(&child, track, trex)
    }

    #[test]
    fn sums_durations_of_the_wanted_track() {
        let mut traf1 = tfhd(1, None);
        traf1.extend(tfdt(1000));
        traf1.extend(trun(3, Some(&[10, 20, 30])));
        traf1.extend(trun(2, None)); // trex default 7
        let mut traf2 = tfhd(2, Some(512));
        traf2.extend(trun(4, None));
        let mut moof = boxed(b"mfhd", &[0; 8]);
        moof.extend(boxed(b"traf", &traf1));
        moof.extend(boxed(b"traf", &traf2));
        let t1 = timing(&moof, 1, 7).ok().flatten();
        assert_eq!(
            t1,
            Some(FragmentTiming {
                base_decode_time: Some(1000),
                duration: 74
            })
        );
        let t2 = timing(&moof, 2, 7).ok().flatten();
        assert_eq!(
            t2,
            Some(FragmentTiming {
                base_decode_time: None,
                duration: 2048
            })
        );
        assert_eq!(timing(&moof, 3, 7).ok(), Some(None));
    }

    #[test]
    fn huge_sample_counts_cost_nothing() {
        // 2^32 - 1 samples with per-sample durations but no table: an error.
        let mut traf = tfhd(1, None);
        traf.extend(trun(u32::MAX, Some(&[1, 2])));
        assert!(timing(&boxed(b"traf", &traf), 1, 0).is_err());
        // ... without per-sample durations: a saturating multiplication.
        let mut traf = tfhd(1, Some(u32::MAX));
        traf.extend(trun(u32::MAX, None));
        let t = timing(&boxed(b"traf", &traf), 1, 0).ok().flatten();
        assert_eq!(
            t.map(|t| t.duration),
            Some(u64::from(u32::MAX) * u64::from(u32::MAX))
        );
    }

    #[test]
    fn traf_must_start_with_tfhd() {
        let traf = trun(1, None);
        assert!(timing(&boxed(b"traf", &traf), 1, 0).is_err());
    }
}
