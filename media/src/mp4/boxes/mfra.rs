//! `mfra`/`tfra`/`mfro`: the movie fragment random access box (ISO 14496-12
//! §8.8.9–11) that fragmenting muxers (ffmpeg among them) put at the END of
//! a file: for each track, the time and `moof` offset of its sync samples.
//! Without a `sidx` it is the only whole-file time ↔ byte map, one small
//! request away: `mfro`, the last 16 bytes, says how big `mfra` is.

use super::{Cursor, full_box, malformed};
use crate::index::MediaError;

/// Length of the `mfro` box that ends the file.
pub const MFRO_LEN: usize = 16;

/// Largest `mfra` we read (a few bytes per keyframe: hours of media).
pub const MAX_SIZE: u64 = 4 << 20;

/// The size of the `mfra` box, from the file's last 16 bytes, if they are an `mfro`.
pub fn mfra_size(tail: &[u8]) -> Option<u64> {
    let start = tail.len().checked_sub(MFRO_LEN)?;
    let mfro = tail.get(start..)?;
    if mfro.get(..4)? != [0, 0, 0, 16] || mfro.get(4..8)? != b"mfro" {
        return None;
    }
    let size = u32::from_be_bytes(mfro.get(12..16)?.try_into().ok()?);
    (u64::from(size) >= 8 + MFRO_LEN as u64 && u64::from(size) <= MAX_SIZE)
        .then_some(u64::from(size))
}

/// One random access point: a sync sample's time and its fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Presentation time in the track's timescale.
    pub time: u64,
    /// File offset of the `moof` that holds the sample.
    pub moof_offset: u64,
}

/// The `tfra` entries of `track_id` in an `mfra` payload, sorted by time,
/// one per `moof`.
pub fn track_entries(
    mfra_payload: &[u8],
    offset: u64,
    track_id: u32,
) -> Result<Vec<Entry>, MediaError> {
    let mut at = 0usize;
    while at + 8 <= mfra_payload.len() {
        let size = u32::from_be_bytes(read4(mfra_payload, at)?) as usize;
        let kind = read4(mfra_payload, at + 4)?;
        if size < 8 || at + size > mfra_payload.len() {
            return Err(malformed(
                offset + at as u64,
                "'mfra' child box size out of range",
            ));
        }
        if &kind == b"tfra" {
            let body = &mfra_payload[at + 8..at + size];
            if let Some(entries) = parse_tfra(body, offset + at as u64 + 8, track_id)? {
                return Ok(entries);
            }
        }
        at += size;
    }
    Ok(Vec::new())
}

fn read4(data: &[u8], at: usize) -> Result<[u8; 4], MediaError> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed(at as u64, "'mfra' box too short"))
}

/// Entries of one `tfra`, or `None` when it is another track's.
fn parse_tfra(
    payload: &[u8],
    offset: u64,
    track_id: u32,
) -> Result<Option<Vec<Entry>>, MediaError> {
    let mut c = Cursor::new(payload, offset, "'tfra' box too short");
    let (version, _) = full_box(&mut c)?;
    if c.u32()? != track_id {
        return Ok(None);
    }
    let sizes = c.u32()?;
    let count = c.u32()? as usize;
    let field = |shift: u32| ((sizes >> shift) & 3) as usize + 1;
    let tail = field(4) + field(2) + field(0);
    let entry_len = if version == 1 { 16 } else { 8 } + tail;
    if count.saturating_mul(entry_len) > c.remaining() {
        return Err(malformed(
            c.offset(),
            "'tfra' lists more entries than it holds",
        ));
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(count);
    for _ in 0..count {
        let time = c.u32_or_u64(version)?;
        let moof_offset = c.u32_or_u64(version)?;
        c.skip(tail)?;
        match entries.last() {
            Some(last) if last.moof_offset == moof_offset => {}
            Some(last) if last.time > time || last.moof_offset > moof_offset => {
                return Err(malformed(c.offset(), "'tfra' entries out of order"));
            }
            _ => entries.push(Entry { time, moof_offset }),
        }
    }
    Ok(Some(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tfra(track: u32, entries: &[(u32, u32)]) -> Vec<u8> {
        let mut body = vec![0, 0, 0, 0];
        body.extend_from_slice(&track.to_be_bytes());
        body.extend_from_slice(&0u32.to_be_bytes()); // 1-byte traf/trun/sample numbers
        body.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for (time, offset) in entries {
            body.extend_from_slice(&time.to_be_bytes());
            body.extend_from_slice(&offset.to_be_bytes());
            body.extend_from_slice(&[1, 1, 1]);
        }
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(b"tfra");
        b.extend_from_slice(&body);
        b
    }

    #[test]
    fn reads_the_entries_of_the_asked_track() {
        let mut payload = tfra(2, &[(0, 100)]);
        payload.extend(tfra(
            1,
            &[(0, 1000), (1024, 5000), (1024, 5000), (2048, 9000)],
        ));
        let entries = track_entries(&payload, 0, 1).expect("entries");
        assert_eq!(entries.len(), 3, "one entry per moof");
        assert_eq!(
            entries[1],
            Entry {
                time: 1024,
                moof_offset: 5000
            }
        );
        assert!(track_entries(&payload, 0, 7).expect("none").is_empty());
    }

    #[test]
    fn hostile_counts_and_orders_are_errors() {
        let mut big = tfra(1, &[(0, 1)]);
        big[20..24].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(track_entries(&big, 0, 1).is_err());
        assert!(track_entries(&tfra(1, &[(5, 10), (1, 20)]), 0, 1).is_err());
    }

    #[test]
    fn mfro_gives_the_mfra_size() {
        let mut tail = vec![0u8; 10];
        tail.extend_from_slice(&[0, 0, 0, 16]);
        tail.extend_from_slice(b"mfro");
        tail.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 67]);
        assert_eq!(mfra_size(&tail), Some(67));
        assert_eq!(mfra_size(&tail[..10]), None);
    }
}
