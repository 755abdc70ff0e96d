//! [`TidyReader`]: the [`ContainerIndexer`] of an untidy WebM/Matroska.
//! The WebM indexer does the indexing (it keeps the Info and Tracks
//! payloads for this reader, and names more codecs); this reader keeps to
//! the first video and the first audio track (one SourceBuffer) and hands
//! out a [`TidyStream`] that rewrites the file's Clusters.

use super::cluster::Rewriter;
use super::codecs::matroska_codec;
use super::fmp4::{self, Fragmenter, Mp4Track};
use super::init::init_segment;
use super::stream::TidyStream;
use crate::index::{
    Container, ContainerIndexer, MediaError, MediaIndex, Presentation, Repackager, Step, TrackKind,
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
    /// H.264/HEVC + AAC: written as fragmented MP4, with this presentation
    /// delay (ticks); decided once the index is first there.
    mp4: Option<Option<(Vec<Mp4Track>, i64)>>,
}

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
        }
    }

    fn timecode_scale(&self) -> u64 {
        self.inner
            .kept()
            .and_then(|k| info::parse(&k.info, 0).ok())
            .map_or(info::DEFAULT_TIMECODE_SCALE, |i| i.timecode_scale)
    }

    /// The fMP4 output's tracks and delay, when the kept tracks all are
    /// H.264, HEVC, AAC or Opus (not all Opus) and a tick maps to an MP4
    /// timescale.
    fn mp4_output(&self, keep: &[u64]) -> Option<(Vec<Mp4Track>, i64)> {
        let scale = self.timecode_scale();
        mp4_timescale(scale)?;
        let tracks = fmp4::tracks(&self.inner.kept()?.tracks, keep, scale)?;
        let shift = fmp4::reorder_shift(&tracks, scale);
        Some((tracks, shift))
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
            (Some(Some((tracks, shift))), Some(timescale)) => (
                fmp4::init_segment(tracks, timescale),
                Some(Fragmenter::new(tracks.clone(), *shift)),
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

    fn presentation(&self) -> Option<Presentation> {
        let (_, shift) = self.mp4.as_ref()?.as_ref()?;
        let end = self.index.as_ref()?.duration?;
        let scale = self.timecode_scale() as f64;
        (*shift > 0).then(|| Presentation {
            offset: -(*shift as f64) * scale / 1e9,
            end,
        })
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
