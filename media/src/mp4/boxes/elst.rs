//! `elst`, the edit list (ISO 14496-12 §8.6.6): which part of a track's
//! media timeline is presented, and when.
//!
//! Players in the wild (and ffmpeg's writer) use two patterns, which is all
//! we read: an optional leading *empty* edit (media_time -1: present nothing
//! for this long, i.e. start the track late) and one edit whose media_time
//! says where presentation starts in the media (the B-frame delay, AAC
//! priming, a stream-copy cut). Further edits are ignored, as MSE players do.

use super::{Child, full_box, table};
use crate::index::MediaError;

/// The part of an edit list a player applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Edit {
    /// Sum of the leading empty edits, in the movie (`mvhd`) timescale.
    pub empty_duration: u64,
    /// The first non-empty edit's media_time, in the track's timescale:
    /// media time shown at the start. 0 when there is none.
    pub media_time: i64,
}

impl Edit {
    pub fn parse(elst: &Child<'_>) -> Result<Self, MediaError> {
        let mut c = elst.cursor("'elst' box too short");
        let (version, _) = full_box(&mut c)?;
        let count = c.u32()?;
        let width = if version == 1 { 20 } else { 12 };
        let entries = table(&mut c, count, width)?;
        let mut edit = Edit::default();
        for e in entries.chunks_exact(width) {
            let mut e = super::Cursor::new(e, 0, "'elst' entry too short");
            let duration = e.u32_or_u64(version)?;
            let media_time = if version == 1 {
                e.u64()? as i64
            } else {
                i64::from(e.u32()? as i32)
            };
            if media_time == -1 {
                edit.empty_duration = edit.empty_duration.saturating_add(duration);
                continue;
            }
            edit.media_time = media_time.max(0);
            break;
        }
        Ok(edit)
    }
}
