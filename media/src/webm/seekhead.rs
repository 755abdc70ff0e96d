//! SeekHead: where the top-level elements are. We use it to find Cues that
//! a muxer wrote after the last Cluster (ffmpeg's default for WebM), so one
//! extra range request at the end gets the whole index.

use super::ebml::{Children, read_uint};
use super::elements as id;
use super::malformed;
use crate::index::MediaError;

/// A SeekHead lists a handful of elements; ignore entries past this.
const MAX_ENTRIES: usize = 64;

/// One Seek entry: the element ID and its position relative to the Segment
/// payload start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seek {
    pub id: u32,
    pub position: u64,
}

/// Parses the SeekHead payload (which starts at file offset `at`).
pub fn parse(payload: &[u8], at: u64) -> Result<Vec<Seek>, MediaError> {
    let mut seeks = Vec::new();
    for seek in Children::new(payload, at) {
        let seek = seek?;
        if seek.id != id::SEEK || seeks.len() >= MAX_ENTRIES {
            continue;
        }
        let (mut target, mut position) = (None, None);
        for child in Children::new(seek.payload, seek.offset) {
            let child = child?;
            match child.id {
                // SeekID is binary: the target's ID bytes, marker included.
                id::SEEK_ID if (1..=4).contains(&child.payload.len()) => {
                    target = Some(
                        child
                            .payload
                            .iter()
                            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b)),
                    );
                }
                id::SEEK_POSITION => {
                    position =
                        Some(read_uint(child.payload).map_err(|r| malformed(child.offset, r))?);
                }
                _ => {}
            }
        }
        if let (Some(id), Some(position)) = (target, position) {
            seeks.push(Seek { id, position });
        }
    }
    Ok(seeks)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn entries() {
        // Seek { SeekID 1C53BB6B (Cues), SeekPosition 545 }, then a Seek without position.
        let payload = [
            0x4D, 0xBB, 0x8C, 0x53, 0xAB, 0x84, 0x1C, 0x53, 0xBB, 0x6B, 0x53, 0xAC, 0x82, 0x02,
            0x21, //
            0x4D, 0xBB, 0x80,
        ];
        assert_eq!(
            parse(&payload, 0).unwrap(),
            [Seek {
                id: id::CUES,
                position: 545
            }]
        );
    }
}
