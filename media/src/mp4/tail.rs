//! [`Tail`]: the random-access index at the end of a fragmented MP4.
//!
//! `mfro` (the last 16 bytes) gives the `mfra` size, and `mfra` the time and
//! `moof` offset of every keyframe: a complete index without scanning the
//! fragments. It is read from whatever feed reaches the end of the file,
//! apart from the top-level walk (which never gets there before the media),
//! and tried once; without it, scanning goes on.

use std::ops::Range;

use super::boxes::mfra;
use super::fragments::Timing;
use crate::index::{MediaError, MediaIndex, Segment};

/// Bytes fetched from the end of the file to find `mfro` and `mfra`.
const TAIL_GUESS: u64 = 16 << 10;

/// Whether the `mfra` was looked for, and where it is once known.
#[derive(Debug, Default)]
pub(super) struct Tail {
    /// The `mfra` at the end of the file was looked for (found or not).
    done: bool,
    /// Where the `mfra` is, once `mfro` said and it was not all there.
    range: Option<Range<u64>>,
}

impl Tail {
    /// Reads the `mfra` when `data` (at file offset `offset`) reaches the
    /// end of the file, the index is incomplete and `moov` was read
    /// (`media`).
    pub(super) fn read(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
        media: bool,
        index: &mut Option<MediaIndex>,
        timing: Timing,
    ) -> Result<(), MediaError> {
        let Some(len) = file_len else {
            return Ok(());
        };
        let end = offset.saturating_add(data.len() as u64);
        if self.done || !media || end != len || data.len() < mfra::MFRO_LEN {
            return Ok(());
        }
        if index.as_ref().is_none_or(|i| i.complete) {
            self.done = true;
            return Ok(());
        }
        let Some(size) = mfra::mfra_size(data) else {
            self.done = true;
            return Ok(());
        };
        let mfra_start = len.saturating_sub(size);
        let Some(skip) = mfra_start.checked_sub(offset) else {
            // Not all here: ask for exactly the `mfra`.
            self.range = Some(mfra_start..len);
            return Ok(());
        };
        self.done = true;
        let Some(mfra_box) = usize::try_from(skip).ok().and_then(|s| data.get(s..)) else {
            return Ok(());
        };
        if mfra_box.len() < 8 || mfra_box.get(4..8) != Some(b"mfra".as_slice()) {
            return Ok(());
        }
        let entries = mfra::track_entries(&mfra_box[8..], mfra_start + 8, timing.track_id)?;
        if let Some(index) = index.as_mut() {
            segments_from_mfra(index, &entries, mfra_start, timing.timescale);
        }
        Ok(())
    }

    /// The `mfra` was looked for (found or not).
    pub(super) fn looked(&self) -> bool {
        self.done
    }

    /// The bytes to fetch for the `mfra`, while it may still complete the
    /// index.
    pub(super) fn wants(
        &self,
        file_len: Option<u64>,
        media: bool,
        index: Option<&MediaIndex>,
    ) -> Option<Range<u64>> {
        let len = file_len?;
        let index = index?;
        if self.done || index.complete || !media {
            return None;
        }
        Some(self.range.clone().unwrap_or_else(|| {
            // One request that holds a typical `mfra` whole.
            len.saturating_sub(TAIL_GUESS).max(index.init.end)..len
        }))
    }
}

/// The complete index the `mfra` entries give, if they fit the file.
fn segments_from_mfra(
    index: &mut MediaIndex,
    entries: &[mfra::Entry],
    mfra_start: u64,
    timescale: u32,
) {
    let scale = f64::from(timescale.max(1));
    if entries.is_empty()
        || entries
            .iter()
            .any(|e| e.moof_offset < index.init.end || e.moof_offset >= mfra_start)
    {
        return;
    }
    let mut segments: Vec<Segment> = entries
        .windows(2)
        .map(|w| Segment {
            start: w[0].time as f64 / scale,
            end: w[1].time as f64 / scale,
            bytes: w[0].moof_offset..w[1].moof_offset,
        })
        .collect();
    // The last fragment's duration is not in `mfra`: take the mean of the
    // others (MSE trims the duration to what was appended at the end).
    let last = entries[entries.len() - 1];
    let start = last.time as f64 / scale;
    let mean = segments.iter().map(|s| s.end - s.start).sum::<f64>() / segments.len().max(1) as f64;
    segments.push(Segment {
        start,
        end: start + mean,
        bytes: last.moof_offset..mfra_start,
    });
    if let Some(first) = segments.first_mut() {
        first.bytes.start = index.init.end;
    }
    if index.duration.is_none() && !segments.is_empty() && mean > 0.0 {
        index.duration = segments.last().map(|s| s.end);
    }
    index.segments = segments;
    index.complete = true;
}
