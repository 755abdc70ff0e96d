//! The time ↔ byte map: which media time a byte offset of the file holds,
//! and where in the file a media time lies, read from the index's units.

use crate::index::MediaIndex;

/// The index read as a map between media time (seconds) and file bytes.
#[derive(Clone, Copy)]
pub(super) struct Timeline<'a> {
    index: &'a MediaIndex,
    file_len: Option<u64>,
}

impl<'a> Timeline<'a> {
    pub(super) fn new(index: &'a MediaIndex, file_len: Option<u64>) -> Self {
        Timeline { index, file_len }
    }

    pub(super) fn index(&self) -> &'a MediaIndex {
        self.index
    }

    /// Bits per second: the file over its duration when both are known,
    /// else the index's own estimate.
    pub(super) fn bitrate(&self) -> Option<f64> {
        if let (Some(len), Some(duration)) = (self.file_len, self.index.duration)
            && duration > 0.0
        {
            return Some(len as f64 * 8.0 / duration);
        }
        self.index.bitrate()
    }

    /// Media time at byte `offset` of the file, interpolated within units.
    pub(super) fn time_at_byte(&self, offset: u64) -> Option<f64> {
        let index = self.index;
        if let Some(n) = index.segment_containing_byte(offset) {
            let s = &index.segments[n];
            let fraction =
                (offset - s.bytes.start) as f64 / (s.bytes.end - s.bytes.start).max(1) as f64;
            return Some(s.start + fraction * (s.end - s.start));
        }
        let last = index.segments.last()?;
        if offset < last.bytes.end {
            return Some(index.segments.first()?.start);
        }
        let rate = self.bitrate()?;
        Some(last.end + (offset - last.bytes.end) as f64 * 8.0 / rate)
    }

    /// Byte offset of media time `t` (interpolated; past the known units,
    /// extrapolated at the average bitrate).
    pub(super) fn byte_at_time(&self, t: f64) -> Option<u64> {
        let index = self.index;
        let n = index.segment_at(t)?;
        let s = &index.segments[n];
        if t <= s.end {
            let fraction = ((t - s.start) / (s.end - s.start).max(1e-9)).clamp(0.0, 1.0);
            return Some(s.bytes.start + (fraction * (s.bytes.end - s.bytes.start) as f64) as u64);
        }
        let rate = self.bitrate()?;
        Some(s.bytes.end + ((t - s.end) * rate / 8.0) as u64)
    }

    /// Byte offset where a run that plays from time `to` starts: the start
    /// of its unit. `None` past the units of an index not complete yet.
    pub(super) fn unit_start_at(&self, to: f64) -> Option<u64> {
        let index = self.index;
        let last = index.segments.last()?;
        if !index.complete && to >= last.end {
            return None;
        }
        Some(index.segments[index.segment_at(to)?].bytes.start)
    }

    /// Start of the unit that holds byte `offset`.
    pub(super) fn unit_start_of_byte(&self, offset: u64) -> Option<u64> {
        self.index
            .segment_containing_byte(offset)
            .map(|n| self.index.segments[n].bytes.start)
    }
}

/// Where the media run ends: after the last unit of a complete index (an
/// `mfra`, trailing Cues or a plain MP4's `moov` after it are not media),
/// else the end of the file.
pub(super) fn media_end(index: Option<&MediaIndex>, file_len: Option<u64>) -> Option<u64> {
    match index {
        Some(index) if index.complete && !index.segments.is_empty() => {
            let end = index.segments.iter().map(|s| s.bytes.end).max()?;
            Some(file_len.map_or(end, |len| end.min(len)))
        }
        _ => file_len,
    }
}

/// The index's duration: as stated, else the end of the last unit of a
/// complete index.
pub(super) fn index_duration(index: &MediaIndex) -> Option<f64> {
    index.known_duration()
}
