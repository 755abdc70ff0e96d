//! [`TidyReader`]: the [`ContainerIndexer`] of an untidy WebM/Matroska.
//! The WebM indexer does the indexing (it keeps the Info and Tracks
//! payloads for this reader, and names more codecs); this reader keeps to
//! the first video and the first audio track (one SourceBuffer) and hands
//! out a [`TidyStream`] that rewrites the file's Clusters.

use super::annexb;
use super::cluster::Rewriter;
use super::codecs::matroska_codec;
use super::fmp4::{self, Fragmenter, Mp4Track};
use super::init::init_segment;
use super::stream::TidyStream;
use crate::index::{
    Container, ContainerIndexer, MediaError, MediaIndex, Repackager, Step, TrackKind,
};
use crate::webm::WebmIndexer;
use crate::webm::info;

/// The tidy reader; see the module docs.
#[derive(Debug)]
pub struct TidyReader {
    inner: WebmIndexer,
    /// The inner index, with only the kept tracks.
    index: Option<MediaIndex>,
    file_len: Option<u64>,
    taken: bool,
    /// H.264/HEVC + AAC: written as fragmented MP4 of these tracks;
    /// decided once the index is first there.
    mp4: Option<Option<Vec<Mp4Track>>>,
    /// H.264 without CodecPrivate (Chromium's MediaRecorder): the `avcC`
    /// made from the first keyframe's in-band SPS and PPS, once seen.
    in_band: Option<Vec<u8>>,
    /// The last bytes of the previous feed (a parameter set may straddle
    /// two), and how much was looked through.
    carry: Vec<u8>,
    searched: u64,
}

/// How far into the media the first keyframe's parameter sets are looked
/// for before the file goes out as WebM (and, refused, to native playback).
const IN_BAND_SEARCH: u64 = 2 << 20;

impl Default for TidyReader {
    fn default() -> Self {
        Self::new()
    }
}

impl TidyReader {
    pub fn new() -> Self {
        TidyReader {
            inner: WebmIndexer::keeping_headers(matroska_codec),
            index: None,
            file_len: None,
            taken: false,
            mp4: None,
            in_band: None,
            carry: Vec::new(),
            searched: 0,
        }
    }

    fn timecode_scale(&self) -> u64 {
        self.inner
            .kept()
            .and_then(|k| info::parse(&k.info, 0).ok())
            .map_or(info::DEFAULT_TIMECODE_SCALE, |i| i.timecode_scale)
    }

    /// The fMP4 output's tracks, when the kept tracks all are
    /// H.264, HEVC, AAC or Opus (not all Opus) and a tick maps to an MP4
    /// timescale.
    fn mp4_output(&self, keep: &[u64]) -> Option<Vec<Mp4Track>> {
        let scale = self.timecode_scale();
        mp4_timescale(scale)?;
        fmp4::tracks(
            &self.inner.kept()?.tracks,
            keep,
            scale,
            self.in_band.as_deref(),
        )
    }

    /// The output is not decided yet, and it would be fragmented MP4 if an
    /// H.264 track without CodecPrivate had its parameter sets: they are
    /// to be found in the first keyframe.
    fn looking_for_parameter_sets(&self) -> bool {
        if self.mp4.is_some() || self.in_band.is_some() {
            return false;
        }
        let (Some(inner), Some(kept)) = (self.inner.index(), self.inner.kept()) else {
            return false;
        };
        let keep: Vec<u64> = inner.tracks.iter().map(|t| t.id).collect();
        let scale = self.timecode_scale();
        // A placeholder `avcC`: whether one is all the MP4 output lacks.
        fmp4::tracks(&kept.tracks, &keep, scale, None).is_none()
            && fmp4::tracks(&kept.tracks, &keep, scale, Some(&[1, 66, 0, 30])).is_some()
    }

    /// The inner index, its tracks narrowed to what one SourceBuffer takes.
    fn refresh(&mut self) {
        let Some(inner) = self.inner.index() else {
            return;
        };
        // Once made, only what the scan adds is copied.
        if let Some(index) = self.index.as_mut() {
            if let Some(new) = inner.segments.get(index.segments.len()..) {
                index.segments.extend_from_slice(new);
            }
            index.complete = inner.complete;
            index.duration = inner.duration;
            return;
        }
        let mut index = inner.clone();
        let video = index.tracks.iter().position(|t| t.kind == TrackKind::Video);
        let audio = index.tracks.iter().position(|t| t.kind == TrackKind::Audio);
        index.tracks = [video, audio]
            .into_iter()
            .flatten()
            .filter_map(|i| inner.tracks.get(i).cloned())
            .collect();
        if self.mp4.is_none() {
            let keep: Vec<u64> = index.tracks.iter().map(|t| t.id).collect();
            self.mp4 = Some(self.mp4_output(&keep));
        }
        if matches!(self.mp4, Some(Some(_))) {
            index.container = Container::Mp4;
            // The codec string the parameter sets give.
            if let (Some(avcc), Some(video)) = (
                &self.in_band,
                index.tracks.iter_mut().find(|t| t.kind == TrackKind::Video),
            ) && let [_, profile, compatibility, level, ..] = avcc[..]
            {
                video.codec = format!("avc1.{profile:02x}{compatibility:02x}{level:02x}");
            }
        }
        self.index = Some(index);
    }
}

impl ContainerIndexer for TidyReader {
    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        if file_len.is_some() {
            self.file_len = file_len;
        }
        let step = self.inner.feed(offset, data, file_len)?;
        if self.looking_for_parameter_sets() {
            let mut window = std::mem::take(&mut self.carry);
            window.extend_from_slice(data);
            self.searched = self.searched.saturating_add(data.len() as u64);
            self.in_band = annexb::avcc(&window);
            let ended = file_len.is_some_and(|len| offset.saturating_add(data.len() as u64) >= len);
            if self.in_band.is_none() && self.searched < IN_BAND_SEARCH && !ended {
                self.carry = window[window.len().saturating_sub(64)..].to_vec();
                // Not ready before the first keyframe is in: the index would
                // say WebM.
                return Ok(match step {
                    Step::Ready => Step::NeedBytes {
                        offset: offset.saturating_add(data.len() as u64),
                        len: 1,
                    },
                    other => other,
                });
            }
        }
        self.refresh();
        Ok(step)
    }

    fn index(&self) -> Option<&MediaIndex> {
        self.index.as_ref()
    }

    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        if self.taken {
            return None;
        }
        let index = self.index.as_ref()?;
        let kept = self.inner.kept()?;
        let scale = self.timecode_scale();
        let keep: Vec<u64> = index.tracks.iter().map(|t| t.id).collect();
        let (init, fragmenter) = match (&self.mp4, mp4_timescale(scale)) {
            (Some(Some(tracks)), Some(timescale)) => (
                fmp4::init_segment(tracks, timescale),
                Some(Fragmenter::new(tracks.clone())),
            ),
            _ => (
                init_segment(scale, index.duration, &kept.tracks, 0, &keep).ok()?,
                None,
            ),
        };
        let end = index
            .segments
            .last()
            .filter(|_| index.complete)
            .map(|s| s.bytes.end)
            .or(self.file_len);
        let rewriter = Rewriter::new(scale, keep, kept.default_durations.clone());
        self.taken = true;
        Some(Box::new(TidyStream::new(init, rewriter, fragmenter, end)))
    }

    fn wants(&self) -> Option<std::ops::Range<u64>> {
        self.inner.wants()
    }
}

/// The MP4 timescale in which one Matroska tick is one unit: 1000 for the
/// default 1 ms; mkvmerge's sample-exact audio ticks (20832 ns) round to
/// 48003, 1.5 ppm off — 10 ms over two hours.
fn mp4_timescale(timecode_scale: u64) -> Option<u32> {
    let exact = 1e9 / timecode_scale.max(1) as f64;
    let rounded = exact.round();
    (rounded >= 1.0 && rounded <= f64::from(u32::MAX) && (rounded - exact).abs() / exact < 1e-4)
        .then_some(rounded as u32)
}
