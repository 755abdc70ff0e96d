//! A synthetic media file: an init segment and appendable units of known
//! duration and size, with zeros for bytes. The policy only ever looks at
//! the index and at byte counts, so a file of zeros with an honest index
//! exercises every decision it makes, and costs nothing to build.

use std::ops::Range;

use crate::index::{
    Container, ContainerIndexer, MediaError, MediaIndex, Segment, Step, Track, TrackKind,
};

/// The media being played: what the index says and what the bytes weigh.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaProfile {
    index: MediaIndex,
}

impl MediaProfile {
    /// `seconds` of media at a constant `bits_per_second`, cut into units of
    /// `unit_seconds` (the last one shorter if it does not divide), after an
    /// init segment of `init_bytes`.
    pub fn constant(
        seconds: f64,
        bits_per_second: f64,
        unit_seconds: f64,
        init_bytes: u64,
    ) -> Self {
        let unit_seconds = unit_seconds.max(0.01);
        let seconds = seconds.max(0.0);
        let units = (seconds / unit_seconds).ceil() as usize;
        let durations = (0..units).map(|n| (seconds - n as f64 * unit_seconds).min(unit_seconds));
        let sizes = durations
            .map(|d| ((d * bits_per_second.max(0.0) / 8.0).round() as u64).max(1))
            .collect();
        Self::build(unit_seconds, sizes, init_bytes, seconds)
    }

    /// Units of `unit_seconds` with the given byte sizes (a VBR profile).
    pub fn from_unit_sizes(unit_seconds: f64, sizes: Vec<u64>, init_bytes: u64) -> Self {
        let unit_seconds = unit_seconds.max(0.01);
        let seconds = sizes.len() as f64 * unit_seconds;
        let sizes = sizes.into_iter().map(|s| s.max(1)).collect();
        Self::build(unit_seconds, sizes, init_bytes, seconds)
    }

    fn build(unit_seconds: f64, sizes: Vec<u64>, init_bytes: u64, seconds: f64) -> Self {
        let mut offset = init_bytes;
        let segments = sizes
            .iter()
            .enumerate()
            .map(|(n, &size)| {
                let start = n as f64 * unit_seconds;
                let segment = Segment {
                    start,
                    end: (start + unit_seconds).min(seconds),
                    bytes: offset..offset + size,
                };
                offset += size;
                segment
            })
            .collect();
        MediaProfile {
            index: MediaIndex {
                container: Container::FragmentedMp4,
                tracks: vec![Track {
                    id: 1,
                    kind: TrackKind::Video,
                    codec: "avc1.4d401e".into(),
                }],
                duration: Some(seconds),
                init: 0..init_bytes,
                segments,
                complete: true,
            },
        }
    }

    pub fn index(&self) -> &MediaIndex {
        &self.index
    }

    pub fn duration(&self) -> f64 {
        self.index.duration.unwrap_or(0.0)
    }

    pub fn init_bytes(&self) -> u64 {
        self.index.init.end
    }

    pub fn file_len(&self) -> u64 {
        self.index
            .segments
            .last()
            .map_or(self.index.init.end, |s| s.bytes.end)
    }

    /// Average bits per second of the media.
    pub fn bitrate(&self) -> f64 {
        self.index.bitrate().unwrap_or(0.0)
    }

    /// The bytes that carry `span` seconds of media from `seconds`
    /// (interpolated within units): what must arrive before they play.
    pub fn bytes_for(&self, seconds: f64, span: f64) -> u64 {
        let from = self.byte_at(seconds);
        let to = self.byte_at(seconds + span);
        to.saturating_sub(from)
    }

    /// The media time playable once the bytes below `offset` are appended:
    /// interpolated within a unit (browsers take the samples of a partial
    /// `mdat` as they come), or only whole units.
    pub fn time_at(&self, offset: u64, whole_units: bool) -> f64 {
        let segments = &self.index.segments;
        let n = segments.partition_point(|s| s.bytes.end <= offset);
        let Some(s) = segments.get(n) else {
            return self.duration();
        };
        if offset <= s.bytes.start || whole_units {
            return s.start;
        }
        let fraction = (offset - s.bytes.start) as f64 / (s.bytes.end - s.bytes.start) as f64;
        s.start + fraction * (s.end - s.start)
    }

    /// The file offset of media time `seconds` (interpolated within its unit).
    pub fn byte_at(&self, seconds: f64) -> u64 {
        let segments = &self.index.segments;
        let n = segments.partition_point(|s| s.end <= seconds);
        let Some(s) = segments.get(n) else {
            return self.file_len();
        };
        if seconds <= s.start {
            return s.bytes.start;
        }
        let fraction = ((seconds - s.start) / (s.end - s.start)).clamp(0.0, 1.0);
        s.bytes.start + (fraction * (s.bytes.end - s.bytes.start) as f64) as u64
    }

    /// The file bytes that carry media time `range`.
    pub fn bytes_of(&self, range: Range<f64>) -> Range<u64> {
        self.byte_at(range.start)..self.byte_at(range.end)
    }

    /// An indexer for the policy that knows this file once it has seen the
    /// init segment, as a real fMP4 reader with a `sidx` would.
    pub fn indexer(&self) -> Box<dyn ContainerIndexer> {
        Box::new(SimIndexer {
            index: self.index.clone(),
            seen: 0,
            ready: false,
        })
    }
}

/// Says [`Step::Ready`] with the complete index once the bytes up to the end
/// of the init segment have been fed.
#[derive(Debug)]
struct SimIndexer {
    index: MediaIndex,
    /// Contiguous bytes fed from offset 0.
    seen: u64,
    ready: bool,
}

impl ContainerIndexer for SimIndexer {
    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        _file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        if offset <= self.seen {
            self.seen = self.seen.max(offset + data.len() as u64);
        }
        let init_end = self.index.init.end;
        if self.seen >= init_end {
            self.ready = true;
            return Ok(Step::Ready);
        }
        Ok(Step::NeedBytes {
            offset: self.seen,
            len: init_end - self.seen,
        })
    }

    fn index(&self) -> Option<&MediaIndex> {
        self.ready.then_some(&self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_profile_maps_time_and_bytes_both_ways() {
        let media = MediaProfile::constant(5.0, 8000.0, 2.0, 100);
        // 1000 bytes a second; units of 2000, 2000, 1000 bytes.
        assert_eq!(media.file_len(), 100 + 5000);
        assert_eq!(media.duration(), 5.0);
        assert_eq!(media.index().segments[2].end, 5.0);
        assert_eq!(media.byte_at(0.0), 100);
        assert_eq!(media.byte_at(1.0), 1100);
        assert_eq!(media.byte_at(5.0), 5100);
        assert_eq!(media.time_at(50, false), 0.0);
        assert_eq!(media.time_at(1100, false), 1.0);
        assert_eq!(media.time_at(1100, true), 0.0);
        assert_eq!(media.time_at(2100, true), 2.0);
        assert_eq!(media.time_at(5100, true), 5.0);
        assert_eq!(media.bytes_for(0.0, 1.0), 1000);
    }

    #[test]
    fn the_indexer_is_ready_after_the_init_segment() {
        let media = MediaProfile::constant(4.0, 8000.0, 2.0, 100);
        let mut indexer = media.indexer();
        assert_eq!(
            indexer.feed(0, &[0; 60], None),
            Ok(Step::NeedBytes {
                offset: 60,
                len: 40
            })
        );
        assert!(indexer.index().is_none());
        assert_eq!(indexer.feed(60, &[0; 60], None), Ok(Step::Ready));
        assert_eq!(indexer.index(), Some(media.index()));
    }
}
