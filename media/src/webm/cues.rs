//! Cues: the seek index. Each CuePoint says "at time T, track N has a
//! random access point in the Cluster at position P" (P relative to the
//! Segment's payload).

use super::ebml::{Children, read_uint};
use super::elements as id;
use super::malformed;
use crate::index::MediaError;

/// One (time, track, cluster) triple of a CuePoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cue {
    /// Timestamp ticks (TimecodeScale units).
    pub time: u64,
    pub track: u64,
    /// Cluster position relative to the Segment payload start.
    pub cluster: u64,
}

/// A 16 MiB Cues element could list a couple of million positions; a
/// million is more than a day of 0.1-second clusters.
const MAX_CUES: usize = 1 << 20;

/// Parses the Cues payload (which starts at file offset `at`).
pub fn parse(payload: &[u8], at: u64) -> Result<Vec<Cue>, MediaError> {
    let mut cues = Vec::new();
    for point in Children::new(payload, at) {
        let point = point?;
        if point.id != id::CUE_POINT {
            continue;
        }
        let mut time = None;
        let first = cues.len();
        for child in Children::new(point.payload, point.offset) {
            let child = child?;
            let bad = |reason| malformed(child.offset, reason);
            match child.id {
                id::CUE_TIME => time = Some(read_uint(child.payload).map_err(bad)?),
                id::CUE_TRACK_POSITIONS => {
                    let (mut track, mut cluster) = (None, None);
                    for field in Children::new(child.payload, child.offset) {
                        let field = field?;
                        let bad = |reason| malformed(field.offset, reason);
                        match field.id {
                            id::CUE_TRACK => track = Some(read_uint(field.payload).map_err(bad)?),
                            id::CUE_CLUSTER_POSITION => {
                                cluster = Some(read_uint(field.payload).map_err(bad)?)
                            }
                            _ => {}
                        }
                    }
                    let (Some(track), Some(cluster)) = (track, cluster) else {
                        return Err(bad(
                            "CueTrackPositions without CueTrack or CueClusterPosition",
                        ));
                    };
                    if cues.len() >= MAX_CUES {
                        return Err(MediaError::TooLarge {
                            what: "Cues entry count",
                            limit: MAX_CUES as u64,
                        });
                    }
                    // The time may come after the positions; filled in below.
                    cues.push(Cue {
                        time: 0,
                        track,
                        cluster,
                    });
                }
                _ => {}
            }
        }
        let Some(time) = time else {
            return Err(malformed(point.offset, "CuePoint without CueTime"));
        };
        for cue in cues.get_mut(first..).unwrap_or(&mut []) {
            cue.time = time;
        }
    }
    Ok(cues)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn points() {
        // CuePoint { CueTime 7, CueTrackPositions { CueTrack 1, CueClusterPosition 749 } }
        let payload = [
            0xBB, 0x8C, 0xB3, 0x81, 0x07, 0xB7, 0x87, 0xF7, 0x81, 0x01, 0xF1, 0x82, 0x02, 0xED,
        ];
        assert_eq!(
            parse(&payload, 0).unwrap(),
            [Cue {
                time: 7,
                track: 1,
                cluster: 749
            }]
        );
        // Without CueTime.
        assert!(parse(&[0xBB, 0x80], 0).is_err());
        // Positions without a cluster position.
        assert!(
            parse(
                &[0xBB, 0x88, 0xB3, 0x81, 0x07, 0xB7, 0x83, 0xF7, 0x81, 0x01],
                0
            )
            .is_err()
        );
    }
}
