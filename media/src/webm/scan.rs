//! [`ClusterWalk`]: discovering the units of a WebM without Cues, one
//! Cluster at a time, as the caller feeds the media bytes.
//!
//! Each Cluster's Timecode and first video block are read; the rest of a
//! sized Cluster is skipped by offset. A Cluster starts a unit unless its
//! first video block is not a keyframe or its time goes backwards (then it
//! joins the open unit). Live writers' unknown-size Clusters end where the
//! next top-level element starts.

use super::cluster::{self, ClusterScan};
use super::cursor::Cursor;
use super::elements as id;
use super::info::Info;
use super::{ebml, malformed};
use crate::index::{MediaError, MediaIndex, Segment, Track, TrackKind};

/// What one step of the walk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scanned {
    /// Moved on: step again.
    Progress,
    /// More bytes are needed.
    Wait,
    /// The media ended; the index is complete.
    Finished,
}

/// The walk's state between steps.
#[derive(Debug, Default)]
pub(super) struct ClusterWalk {
    /// The Cluster being scanned.
    cluster: Option<ClusterScan>,
    /// Offset and start time of the last unit, whose end is not known yet.
    open_unit: Option<(u64, f64)>,
    /// File offset where the last scanned Cluster ended.
    last_cluster_end: u64,
    /// Per track: the last block's time and the gap before it (ticks), for
    /// a duration the file does not give: the last block's end.
    last_blocks: cluster::LastBlocks,
}

/// What the walk reads the Clusters with, and where the units go.
pub(super) struct Media<'a> {
    pub(super) info: &'a Info,
    pub(super) tracks: &'a [Track],
    pub(super) index: &'a mut Option<MediaIndex>,
}

impl ClusterWalk {
    /// When the first unit found starts, seconds, while it is still open.
    pub(super) fn open_start(&self) -> Option<f64> {
        self.open_unit.map(|(_, start)| start)
    }
}

impl Media<'_> {
    fn is_video_track(&self, number: u64) -> bool {
        self.tracks
            .iter()
            .any(|t| t.id == number && t.kind == TrackKind::Video)
    }
}

impl ClusterWalk {
    /// One step of the walk over the bytes at `cur`.
    pub(super) fn step(
        &mut self,
        cur: &mut Cursor,
        media: &mut Media<'_>,
    ) -> Result<Scanned, MediaError> {
        let at = cur.at();
        let media_end = cur.media_end();
        let Some(mut c) = self.cluster else {
            // At the Segment's top level.
            if media_end.is_some_and(|end| at >= end) {
                self.finish(media);
                return Ok(Scanned::Finished);
            }
            let Some(h) = cur.header()? else {
                return wait(cur, "Segment element");
            };
            if h.id == id::CLUSTER {
                let end = match h.size {
                    Some(_) => Some(cur.element_end(&h, cur.segment_end, "Cluster")?),
                    None => None,
                };
                self.cluster = Some(ClusterScan::new(at, end));
                cur.skip_to(at + h.len as u64);
            } else {
                let end = cur.element_end(&h, cur.segment_end, "Segment element")?;
                cur.skip_to(end);
            }
            return Ok(Scanned::Progress);
        };
        let end_reached = match c.end {
            Some(end) => at >= end,
            None => media_end.is_some_and(|end| at >= end),
        };
        if end_reached {
            return self
                .close_cluster(c, cur, media)
                .map(|()| Scanned::Progress);
        }
        let Some(h) = cur.header()? else {
            return wait(cur, "Cluster element");
        };
        if c.end.is_none() && id::is_top_level(h.id) {
            return self
                .close_cluster(c, cur, media)
                .map(|()| Scanned::Progress);
        }
        let end = cur.element_end(&h, c.end.or(cur.segment_end), "Cluster element")?;
        let size = end - at - h.len as u64;
        match h.id {
            id::CLUSTER_TIMECODE => {
                if size > 8 {
                    return Err(malformed(at, "Cluster Timecode longer than 8 bytes"));
                }
                let total = h.len + size as usize;
                let Some(payload) = cur.avail().get(h.len..total) else {
                    return wait(cur, "Cluster Timecode");
                };
                c.timecode = Some(ebml::read_uint(payload).map_err(|r| malformed(at, r))?);
            }
            id::SIMPLE_BLOCK => {
                let want = h.len + (size as usize).min(cluster::SIMPLE_BLOCK_HEADER_MAX);
                let head = cur.avail().get(h.len..).unwrap_or(&[]);
                let head = head.get(..want - h.len).unwrap_or(head);
                match cluster::block_header(head).map_err(|r| malformed(at, r))? {
                    Some((track, time, key)) => {
                        if c.keyframe.is_none() && media.is_video_track(track) {
                            c.keyframe = Some(key);
                        }
                        if let Some(timecode) = c.timecode {
                            let ticks = i64::try_from(timecode)
                                .unwrap_or(i64::MAX)
                                .saturating_add(i64::from(time));
                            self.last_blocks.saw(track, ticks);
                        }
                    }
                    None if cur.avail().len() < want => return wait(cur, "SimpleBlock"),
                    None => return Err(malformed(at, "SimpleBlock too short")),
                }
            }
            _ => {}
        }
        cur.skip_to(end);
        let has_video = media.tracks.iter().any(|t| t.kind == TrackKind::Video);
        if !c.decided && c.timecode.is_some() && (c.keyframe.is_some() || !has_video) {
            // The blocks after still count, toward the last one's end.
            self.decide(&mut c, media);
        }
        self.cluster = Some(c);
        Ok(Scanned::Progress)
    }

    /// Starts a unit at Cluster `c`, closing the open one, unless `c`
    /// cannot start one (its first video block is not a keyframe, or its
    /// time goes backwards): then it joins the open unit.
    fn decide(&mut self, c: &mut ClusterScan, media: &mut Media<'_>) {
        c.decided = true;
        let start = media.info.seconds(c.timecode.unwrap_or(0) as f64);
        match self.open_unit {
            Some((_, open_start)) if c.keyframe == Some(false) || start <= open_start => {}
            Some((open_at, open_start)) => {
                if let Some(index) = media.index.as_mut() {
                    index.segments.push(Segment {
                        start: open_start,
                        end: start,
                        bytes: open_at..c.offset,
                    });
                }
                self.open_unit = Some((c.offset, start));
            }
            None => self.open_unit = Some((c.offset, start)),
        }
    }

    /// The Cluster ends at the cursor.
    fn close_cluster(
        &mut self,
        mut c: ClusterScan,
        cur: &Cursor,
        media: &mut Media<'_>,
    ) -> Result<(), MediaError> {
        if !c.decided {
            if c.timecode.is_none() {
                return Err(malformed(c.offset, "Cluster without a Timecode"));
            }
            self.decide(&mut c, media);
        }
        self.cluster = None;
        self.last_cluster_end = cur.at();
        Ok(())
    }

    /// The media ended: close the last unit at the duration (the file's,
    /// else the last block's end).
    fn finish(&mut self, media: &mut Media<'_>) {
        let duration = media
            .info
            .duration_seconds()
            .or_else(|| self.last_blocks.end(media.info));
        if let (Some((at, start)), Some(index)) = (self.open_unit.take(), media.index.as_mut()) {
            let end = duration.unwrap_or(start).max(start);
            index.segments.push(Segment {
                start,
                end,
                bytes: at..self.last_cluster_end.max(at),
            });
        }
        if let Some(index) = media.index.as_mut() {
            index.complete = true;
            // The scan covered the whole file, so its end is the duration.
            if index.duration.is_none() {
                index.duration = index.segments.last().map(|s| s.end);
            }
        }
    }
}

/// More bytes are needed, unless the file is known to end here.
fn wait(cur: &Cursor, what: &'static str) -> Result<Scanned, MediaError> {
    cur.wait(what).map(|()| Scanned::Wait)
}
