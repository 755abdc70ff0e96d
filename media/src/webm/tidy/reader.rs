//! [`TidyReader`]: the [`ContainerIndexer`] of an untidy WebM/Matroska.
//! The WebM indexer does the indexing (it keeps the Info and Tracks
//! payloads for this reader, and names more codecs); this reader keeps to
//! the first video and the first audio track (one SourceBuffer) and hands
//! out a [`TidyStream`] that rewrites the file's Clusters.

use super::cluster::Rewriter;
use super::codecs::matroska_codec;
use super::init::init_segment;
use super::stream::TidyStream;
use crate::index::{ContainerIndexer, MediaError, MediaIndex, Repackager, Step, TrackKind};
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
        }
    }

    /// The inner index, its tracks narrowed to what one SourceBuffer takes.
    fn refresh(&mut self) {
        let Some(inner) = self.inner.index() else {
            return;
        };
        let same = self.index.as_ref().is_some_and(|i| {
            i.segments.len() == inner.segments.len()
                && i.complete == inner.complete
                && i.duration == inner.duration
        });
        if same {
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
        let scale = info::parse(&kept.info, 0)
            .map(|i| i.timecode_scale)
            .unwrap_or(info::DEFAULT_TIMECODE_SCALE);
        let keep: Vec<u64> = index.tracks.iter().map(|t| t.id).collect();
        let init = init_segment(scale, index.duration, &kept.tracks, 0, &keep).ok()?;
        let end = index
            .segments
            .last()
            .filter(|_| index.complete)
            .map(|s| s.bytes.end)
            .or(self.file_len);
        let rewriter = Rewriter::new(scale, keep, kept.default_durations.clone());
        self.taken = true;
        Some(Box::new(TidyStream::new(init, rewriter, end)))
    }
}
