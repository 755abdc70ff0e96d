//! Segment Info: the timestamp unit and the duration.

use super::ebml::{Children, read_float, read_uint};
use super::elements as id;
use super::malformed;
use crate::index::MediaError;

/// Matroska's default TimecodeScale: timestamps count milliseconds.
pub const DEFAULT_TIMECODE_SCALE: u64 = 1_000_000;

/// What the indexer needs from Info.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Info {
    /// Nanoseconds per timestamp tick.
    pub timecode_scale: u64,
    /// Duration in ticks (a float in Matroska), when the writer knew it.
    pub duration: Option<f64>,
}

impl Default for Info {
    fn default() -> Self {
        Info {
            timecode_scale: DEFAULT_TIMECODE_SCALE,
            duration: None,
        }
    }
}

impl Info {
    /// Converts ticks to seconds.
    pub fn seconds(&self, ticks: f64) -> f64 {
        ticks * self.timecode_scale as f64 / 1e9
    }

    /// The duration in seconds, if known and sane.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration
            .map(|d| self.seconds(d))
            .filter(|d| d.is_finite() && *d >= 0.0)
    }
}

/// Parses Info's payload (which starts at file offset `at`).
pub fn parse(payload: &[u8], at: u64) -> Result<Info, MediaError> {
    let mut info = Info::default();
    for child in Children::new(payload, at) {
        let child = child?;
        let bad = |reason| malformed(child.offset, reason);
        match child.id {
            id::TIMECODE_SCALE => {
                info.timecode_scale = read_uint(child.payload).map_err(bad)?;
                if info.timecode_scale == 0 {
                    return Err(bad("TimecodeScale of 0"));
                }
            }
            id::DURATION => info.duration = Some(read_float(child.payload).map_err(bad)?),
            _ => {}
        }
    }
    Ok(info)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn defaults_and_duration() {
        let info = parse(b"", 0).unwrap();
        assert_eq!(info.timecode_scale, DEFAULT_TIMECODE_SCALE);
        assert_eq!(info.duration_seconds(), None);

        // TimecodeScale 1 ms, Duration 2500.0 as a 4-byte float.
        let mut payload = vec![0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40, 0x44, 0x89, 0x84];
        payload.extend_from_slice(&2500f32.to_be_bytes());
        let info = parse(&payload, 0).unwrap();
        assert_eq!(info.duration_seconds(), Some(2.5));

        assert!(parse(&[0x2A, 0xD7, 0xB1, 0x80], 0).is_err(), "zero scale");
        assert!(parse(&[0x44, 0x89, 0x82, 0, 0], 0).is_err(), "2-byte float");
    }
}
