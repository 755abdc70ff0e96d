//! One Cluster rewritten the way Chromium's WebM parser takes it: its
//! Timecode, then every block of a kept track as a SimpleBlock of one frame
//! (BlockGroups unwrapped, laces undone), in the order they came, in a
//! Cluster of known size.

use super::lacing;
use super::write;
use crate::index::MediaError;
use crate::webm::ebml::{Children, read_uint};
use crate::webm::elements as id;
use crate::webm::malformed;

const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const BLOCK_DURATION: u32 = 0x9B;
const REFERENCE_BLOCK: u32 = 0xFB;

/// What rewriting needs to know of the file, and what it learns on the way.
#[derive(Debug, Clone, Default)]
pub struct Rewriter {
    /// Nanoseconds per tick.
    pub timecode_scale: u64,
    /// The tracks kept (the first video and first audio track).
    pub keep: Vec<u64>,
    /// DefaultDuration (ns) by track.
    pub default_durations: Vec<(u64, u64)>,
    /// Ticks between a track's laced frames, as last found: what a lace
    /// with nothing after it in its Cluster is spaced by.
    spacing: Vec<(u64, f64)>,
}

/// A block as read, before its frames get times.
struct Read<'a> {
    block: lacing::Block<'a>,
    key: bool,
    /// BlockDuration, ticks.
    duration: Option<u64>,
}

impl Rewriter {
    pub fn new(timecode_scale: u64, keep: Vec<u64>, default_durations: Vec<(u64, u64)>) -> Self {
        Rewriter {
            timecode_scale: timecode_scale.max(1),
            keep,
            default_durations,
            spacing: Vec::new(),
        }
    }

    /// The tidy Cluster (whole element) for the payload of one (at `at`).
    pub fn rewrite(&mut self, payload: &[u8], at: u64) -> Result<Vec<u8>, MediaError> {
        let (timecode, frames) = self.frames(payload, at)?;
        let mut body = Vec::with_capacity(payload.len() + 16 * frames.len());
        write::uint(&mut body, id::CLUSTER_TIMECODE, timecode);
        for frame in frames {
            simple_block(&mut body, frame.track, frame.time, frame.key, frame.data);
        }
        let mut out = Vec::with_capacity(body.len() + 12);
        write::element(&mut out, id::CLUSTER, &body);
        Ok(out)
    }

    /// The Cluster's Timecode and its frames (of the kept tracks, de-laced,
    /// in time order across tracks, each track's own order kept).
    pub fn frames<'p>(
        &mut self,
        payload: &'p [u8],
        at: u64,
    ) -> Result<(u64, Vec<Frame<'p>>), MediaError> {
        let mut timecode = None;
        let mut blocks = Vec::new();
        for child in Children::new(payload, at) {
            let child = child?;
            let bad = |reason| malformed(child.offset, reason);
            match child.id {
                id::CLUSTER_TIMECODE => timecode = Some(read_uint(child.payload).map_err(bad)?),
                id::SIMPLE_BLOCK => {
                    let block = lacing::parse(child.payload).map_err(bad)?;
                    let key = block.flags & 0x80 != 0;
                    blocks.push(Read {
                        block,
                        key,
                        duration: None,
                    });
                }
                BLOCK_GROUP => {
                    let (mut block, mut key, mut duration) = (None, true, None);
                    for part in Children::new(child.payload, child.offset) {
                        let part = part?;
                        match part.id {
                            BLOCK => block = Some(lacing::parse(part.payload).map_err(bad)?),
                            REFERENCE_BLOCK => key = false,
                            BLOCK_DURATION => {
                                duration = Some(read_uint(part.payload).map_err(bad)?)
                            }
                            _ => {}
                        }
                    }
                    let block = block.ok_or_else(|| bad("BlockGroup without a Block"))?;
                    blocks.push(Read {
                        block,
                        key,
                        duration,
                    });
                }
                _ => {}
            }
        }
        let timecode = timecode.ok_or_else(|| malformed(at, "Cluster without a Timecode"))?;
        blocks.retain(|b| self.keep.contains(&b.block.track));

        let mut frames_out: Vec<Frame<'_>> = Vec::with_capacity(blocks.len());
        for (i, read) in blocks.iter().enumerate() {
            let track = read.block.track;
            let frames = &read.block.frames;
            let step = if frames.len() > 1 {
                let next = blocks
                    .get(i + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .find(|b| b.block.track == track)
                    .map(|b| b.block.timecode);
                self.lace_spacing(read, next)
            } else {
                0.0
            };
            for (n, frame) in frames.iter().enumerate() {
                let offset = (step * n as f64).round();
                let time = (f64::from(read.block.timecode) + offset)
                    .clamp(f64::from(i16::MIN), f64::from(i16::MAX))
                    as i16;
                frames_out.push(Frame {
                    track,
                    time,
                    key: read.key,
                    data: frame,
                });
            }
        }
        Ok((timecode, in_time_order(frames_out)))
    }

    /// Ticks between the frames of a lace: the track's DefaultDuration,
    /// else the block's duration shared out, else the time to the track's
    /// next block shared out, else the spacing last found for the track.
    fn lace_spacing(&mut self, read: &Read<'_>, next: Option<i16>) -> f64 {
        let track = read.block.track;
        let count = read.block.frames.len() as f64;
        let found = self
            .default_durations
            .iter()
            .find(|&&(t, _)| t == track)
            .map(|&(_, ns)| ns as f64 / self.timecode_scale as f64)
            .or_else(|| read.duration.map(|d| d as f64 / count))
            .or_else(|| {
                next.filter(|&n| n > read.block.timecode)
                    .map(|n| (f64::from(n) - f64::from(read.block.timecode)) / count)
            });
        match found {
            Some(step) => {
                self.spacing.retain(|&(t, _)| t != track);
                self.spacing.push((track, step));
                step
            }
            None => self
                .spacing
                .iter()
                .find(|&&(t, _)| t == track)
                .map_or(0.0, |&(_, s)| s),
        }
    }
}

/// One frame of the output, with its time relative to the Cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub track: u64,
    /// Ticks from the Cluster's Timecode (presentation time).
    pub time: i16,
    pub key: bool,
    pub data: &'a [u8],
}

/// The frames merged by time across tracks, each track's own order kept.
/// Chromium's parser refuses a block timed before the previous one in the
/// Cluster, whatever its track ("Got a block with a timecode before the
/// previous block"), and mkvmerge writes an audio block (a lace) ahead of
/// the video frames it spans.
fn in_time_order(frames: Vec<Frame<'_>>) -> Vec<Frame<'_>> {
    let mut queues: Vec<(u64, std::collections::VecDeque<Frame<'_>>)> = Vec::new();
    let total = frames.len();
    for frame in frames {
        match queues.iter_mut().find(|(t, _)| *t == frame.track) {
            Some((_, queue)) => queue.push_back(frame),
            None => queues.push((frame.track, std::collections::VecDeque::from([frame]))),
        }
    }
    let mut out = Vec::with_capacity(total);
    loop {
        // The queue whose next frame is earliest; the first such on ties.
        let next = queues
            .iter_mut()
            .filter_map(|(_, q)| q.front().map(|f| f.time).map(|t| (t, q)))
            .min_by_key(|(t, _)| *t);
        let Some((_, queue)) = next else { break };
        if let Some(frame) = queue.pop_front() {
            out.push(frame);
        }
    }
    out
}

/// Appends a SimpleBlock of one frame.
fn simple_block(out: &mut Vec<u8>, track: u64, time: i16, key: bool, frame: &[u8]) {
    let mut head = Vec::with_capacity(12);
    write::put_size(&mut head, track);
    head.extend_from_slice(&time.to_be_bytes());
    head.push(if key { 0x80 } else { 0x00 });
    let mut payload = head;
    payload.extend_from_slice(frame);
    write::element(out, id::SIMPLE_BLOCK, &payload);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::webm::ebml::Children;

    fn el(id: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write::element(&mut out, id, payload);
        out
    }

    /// (track, time, key, frame) of each SimpleBlock of a tidy Cluster.
    fn blocks(cluster: &[u8]) -> Vec<(u64, i16, bool, Vec<u8>)> {
        let outer: Vec<_> = Children::new(cluster, 0).map(Result::unwrap).collect();
        assert_eq!(outer.len(), 1);
        assert_eq!(outer[0].id, id::CLUSTER);
        let mut out = Vec::new();
        for child in Children::new(outer[0].payload, 0).map(Result::unwrap) {
            if child.id == id::SIMPLE_BLOCK {
                let b = lacing::parse(child.payload).unwrap();
                assert_eq!(b.frames.len(), 1, "de-laced");
                assert_eq!(b.flags & 0x06, 0, "no lacing flag");
                out.push((
                    b.track,
                    b.timecode,
                    b.flags & 0x80 != 0,
                    b.frames[0].to_vec(),
                ));
            } else {
                assert_eq!(child.id, id::CLUSTER_TIMECODE);
            }
        }
        out
    }

    #[test]
    fn block_groups_become_simple_blocks_with_their_keyframe_flag() {
        let key = el(BLOCK_GROUP, &el(BLOCK, &[0x81, 0, 0, 0, b'k']));
        let delta = el(
            BLOCK_GROUP,
            &[
                el(BLOCK, &[0x81, 0, 40, 0, b'd']),
                el(REFERENCE_BLOCK, &[0xD8]),
            ]
            .concat(),
        );
        let other = el(id::SIMPLE_BLOCK, &[0x83, 0, 0, 0x80, b's']);
        let payload = [el(id::CLUSTER_TIMECODE, &[5]), key, delta, other].concat();
        let mut r = Rewriter::new(1_000_000, vec![1], Vec::new());
        let out = r.rewrite(&payload, 0).unwrap();
        assert_eq!(
            blocks(&out),
            [(1, 0, true, b"k".to_vec()), (1, 40, false, b"d".to_vec())],
            "track 3 is not kept"
        );
    }

    #[test]
    fn laces_are_spread_to_the_next_block_of_their_track_and_merged_by_time() {
        // 4 Xiph-laced frames at 0, the track's next block at 80: 20 apart.
        let laced = el(
            id::SIMPLE_BLOCK,
            &[0x82, 0, 0, 0x82, 3, 1, 1, 1, b'a', b'b', b'c', b'd'],
        );
        let video = el(id::SIMPLE_BLOCK, &[0x81, 0, 10, 0x80, b'v']);
        let next = el(id::SIMPLE_BLOCK, &[0x82, 0, 80, 0x80, b'e']);
        let payload = [el(id::CLUSTER_TIMECODE, &[0]), laced.clone(), video, next].concat();
        let mut r = Rewriter::new(1_000_000, vec![1, 2], Vec::new());
        let times: Vec<_> = blocks(&r.rewrite(&payload, 0).unwrap())
            .into_iter()
            .map(|(t, time, _, f)| (t, time, f))
            .collect();
        assert_eq!(
            times,
            [
                (2, 0, b"a".to_vec()),
                (1, 10, b"v".to_vec()),
                (2, 20, b"b".to_vec()),
                (2, 40, b"c".to_vec()),
                (2, 60, b"d".to_vec()),
                (2, 80, b"e".to_vec()),
            ]
        );
        // A lace with nothing after it: the spacing last found.
        let alone = [el(id::CLUSTER_TIMECODE, &[0]), laced].concat();
        let times: Vec<_> = blocks(&r.rewrite(&alone, 0).unwrap())
            .iter()
            .map(|b| b.1)
            .collect();
        assert_eq!(times, [0, 20, 40, 60]);
        // DefaultDuration (ns) wins: 10 ms at 1 ms ticks.
        let mut r = Rewriter::new(1_000_000, vec![2], vec![(2, 10_000_000)]);
        let times: Vec<_> = blocks(&r.rewrite(&alone, 0).unwrap())
            .iter()
            .map(|b| b.1)
            .collect();
        assert_eq!(times, [0, 10, 20, 30]);
    }

    #[test]
    fn a_cluster_without_timecode_is_malformed() {
        let payload = el(id::SIMPLE_BLOCK, &[0x81, 0, 0, 0x80, b'v']);
        let mut r = Rewriter::new(1_000_000, vec![1], Vec::new());
        assert!(matches!(
            r.rewrite(&payload, 0),
            Err(MediaError::Malformed { .. })
        ));
    }
}
