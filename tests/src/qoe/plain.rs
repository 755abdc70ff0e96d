//! The plain MP4's samples, from its own sample tables: what each played
//! second costs in bytes (for "wasted"), and how far into the file a
//! player must read before it can show a moving picture (for the physical
//! limit).
//!
//! Read with `caudal_media`'s sample walk, the one the remuxer uses. The
//! benchmark's other reader, [`super::fmp4`], is independent of Caudal on
//! purpose (the playlist hls.js plays comes from it); here the tables are
//! only counted, and `caudal inspect` already depends on this walk.

use anyhow::{Context, Result, ensure};
use caudal_media::index::TrackKind;
use caudal_media::package::{InMemory, PlainMp4};

/// One sample as the accounting needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlainSample {
    pub offset: u64,
    pub size: u64,
    /// Presentation time, seconds (edit list applied).
    pub start: f64,
    pub duration: f64,
}

/// One track's samples, in decode (file table) order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainTrack {
    pub video: bool,
    pub samples: Vec<PlainSample>,
}

/// What the benchmark needs to know about the plain MP4.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainLayout {
    pub file_len: u64,
    /// Bytes before the first sample: `ftyp`, `moov`, the `mdat` header.
    pub header: u64,
    pub duration: f64,
    pub tracks: Vec<PlainTrack>,
}

impl PlainLayout {
    /// Reads the sample tables of a plain (not fragmented) MP4 in memory.
    pub fn parse(file: &[u8]) -> Result<PlainLayout> {
        let mp4 = PlainMp4::read(&mut InMemory(file)).context("reading a plain MP4")?;
        let mut tracks = Vec::new();
        for track in &mp4.movie.tracks {
            let video = match track.kind {
                TrackKind::Video => true,
                TrackKind::Audio => false,
                TrackKind::Other => continue,
            };
            ensure!(track.timescale > 0, "track {} has timescale 0", track.id);
            let scale = f64::from(track.timescale);
            let shift = track.edit.media_time as f64 / scale;
            let samples = track
                .samples
                .iter()
                .enumerate()
                .map(|(i, s)| PlainSample {
                    offset: s.offset,
                    size: u64::from(s.size()),
                    start: (s.decode_time as f64 + f64::from(s.composition_offset)) / scale - shift,
                    duration: f64::from(track.duration(i)) / scale,
                })
                .collect();
            tracks.push(PlainTrack { video, samples });
        }
        let header = tracks
            .iter()
            .flat_map(|t| t.samples.iter().map(|s| s.offset))
            .min()
            .context("the MP4 has no audio or video samples")?;
        let duration = mp4
            .movie
            .duration_secs()
            .context("the MP4 does not say how long it is")?;
        Ok(PlainLayout {
            file_len: file.len() as u64,
            header,
            duration,
            tracks,
        })
    }

    /// The average bit rate of the whole file, bit/s ("B" in the scenarios).
    pub fn bit_rate(&self) -> f64 {
        self.file_len as f64 * 8.0 / self.duration.max(1e-9)
    }

    /// Bytes of samples a player needs to play media time `a..b`: each
    /// sample counts in proportion to the part of it inside `a..b`.
    pub fn bytes_between(&self, a: f64, b: f64) -> f64 {
        self.tracks
            .iter()
            .flat_map(|t| &t.samples)
            .map(|s| {
                let overlap = (b.min(s.start + s.duration) - a.max(s.start)).max(0.0);
                if s.duration > 0.0 {
                    s.size as f64 * overlap / s.duration
                } else if s.start >= a && s.start < b {
                    s.size as f64
                } else {
                    0.0
                }
            })
            .sum()
    }

    /// Bytes needed to play the `played` ranges: the header once plus the
    /// samples of every range.
    pub fn bytes_played(&self, played: &[(f64, f64)]) -> f64 {
        if played.iter().all(|(a, b)| b <= a) {
            return 0.0;
        }
        self.header as f64
            + played
                .iter()
                .map(|&(a, b)| self.bytes_between(a, b))
                .sum::<f64>()
    }

    /// How far into the file (a byte offset: everything before it, in file
    /// order) a player must have read to present the first `frames` video
    /// frames: the end of the last sample the decoder needs for them. With
    /// B-frames the second frame shown is not the second decoded: an I,
    /// then a P, then the B's between are decoded before the first B is
    /// shown, so every sample up to the latest one in decode order among
    /// the first `frames` in presentation order counts.
    pub fn bytes_to_show(&self, frames: usize) -> Option<u64> {
        let video = self.tracks.iter().find(|t| t.video)?;
        let mut by_time: Vec<usize> = (0..video.samples.len()).collect();
        by_time.sort_by(|&a, &b| video.samples[a].start.total_cmp(&video.samples[b].start));
        let last_needed = *by_time.get(..frames)?.iter().max()?;
        video.samples[..=last_needed]
            .iter()
            .map(|s| s.offset + s.size)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(offset: u64, size: u64, start: f64) -> PlainSample {
        PlainSample {
            offset,
            size,
            start,
            duration: 1.0,
        }
    }

    /// Video in decode order I0 P3 B1 B2 (presented 0, 1, 2, 3), with an
    /// audio chunk interleaved after the P.
    fn layout() -> PlainLayout {
        PlainLayout {
            file_len: 1200,
            header: 100,
            duration: 4.0,
            tracks: vec![
                PlainTrack {
                    video: true,
                    samples: vec![
                        sample(100, 400, 0.0),
                        sample(500, 200, 3.0),
                        sample(800, 100, 1.0),
                        sample(900, 100, 2.0),
                    ],
                },
                PlainTrack {
                    video: false,
                    samples: vec![sample(700, 100, 0.0), sample(1000, 200, 2.0)],
                },
            ],
        }
    }

    #[test]
    fn the_second_frame_shown_needs_the_samples_decoded_before_it() {
        let l = layout();
        // Frame 1 is the B at 800..900: the I, the P and the audio chunk
        // between them come first in the file.
        assert_eq!(l.bytes_to_show(2), Some(900));
        assert_eq!(l.bytes_to_show(1), Some(500));
        assert_eq!(l.bytes_to_show(4), Some(1000));
        assert_eq!(l.bytes_to_show(5), None);
    }

    #[test]
    fn counts_played_bytes_by_sample_share() {
        let l = layout();
        // 0..1 s: the I (400) and the first audio sample (100).
        assert_eq!(l.bytes_played(&[(0.0, 1.0)]), 100.0 + 400.0 + 100.0);
        // Half of the B at 1 s.
        assert_eq!(l.bytes_between(1.0, 1.5), 50.0);
        assert_eq!(l.bytes_played(&[]), 0.0);
        assert_eq!(l.bit_rate(), 1200.0 * 8.0 / 4.0);
    }
}
