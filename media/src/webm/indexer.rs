//! The WebM indexer: a sans-I/O state machine from the first byte of the
//! file to a [`MediaIndex`] whose units are Clusters.
//!
//! It reads the EBML header and the Segment's top-level elements up to the
//! first Cluster (holding each of SeekHead, Info, Tracks and Cues whole,
//! within limits, in its `Cursor`), then either
//! - builds every unit from the Cues (found before the Clusters, or fetched
//!   from the end of the file where the SeekHead says they are), or
//! - returns an incomplete index and discovers Clusters one by one as the
//!   caller keeps feeding the media bytes (`ClusterWalk`, in `scan`).

use super::cues::Cue;
use super::cursor::Cursor;
pub use super::cursor::MAX_HEADER_ELEMENT;
use super::ebml::MAX_HEADER_LEN;
use super::elements as id;
use super::info::Info;
use super::scan::{ClusterWalk, Media, Scanned};
use super::seekhead::Seek;
use super::tracks::CodecFn;
use super::{cues, header, info, malformed, seekhead, tail, tracks};
use crate::index::{
    Container, ContainerIndexer, FirstError, Handover, MediaError, MediaIndex, OnDemand,
    Presentation, Repackager, Segment, Step, Track, TrackKind,
};
use std::ops::Range;

/// Where the indexer is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At byte 0, expecting the EBML header.
    EbmlHeader,
    /// Expecting the Segment element header.
    SegmentHeader,
    /// Reading the Segment's children up to the first Cluster.
    TopLevel,
    /// Jumped to the Cues the SeekHead points to (after the Clusters).
    CuesAtEnd,
    /// Index ready but incomplete: discovering Clusters as bytes arrive.
    Scan,
    /// Index complete; nothing more to read.
    Done,
}

/// Incremental WebM reader; see the module docs.
pub struct WebmIndexer {
    state: State,
    /// Where the walk is, the bytes held from there, the file and Segment
    /// ends.
    cur: Cursor,
    /// The first error, repeated on every later call: the input is bad.
    failed: FirstError,
    /// File offset of the Segment payload: SeekHead and Cues positions
    /// count from here.
    segment_start: u64,
    info: Info,
    tracks: Vec<Track>,
    seeks: Vec<Seek>,
    /// The Cues and their file offset, when read.
    cues: Option<(u64, Vec<Cue>)>,
    first_cluster: u64,
    index: Option<MediaIndex>,
    /// The Cluster scan, when there are no usable Cues.
    scan: ClusterWalk,
    /// Makes the codec strings (the tidy reader knows more codecs).
    codec: CodecFn,
    /// The DocType is not `webm`, or the Tracks hold what Chromium's MSE
    /// refuses: see [`WebmIndexer::with_tidy`].
    untidy: bool,
    /// Makes the tidy reader, for an untidy file (none: index it as it is).
    make_tidy: Option<OnDemand>,
    /// The tidy reader, once handed over to: it answers from then on.
    tidy: Option<Box<dyn ContainerIndexer>>,
    /// Copies of the Info and Tracks payloads (the tidy reader rewrites
    /// them), kept only when asked.
    kept: Option<Kept>,
    /// The file's tail, asked for a duration the file gives nowhere else
    /// (no Duration, no Cues): the bytes gathered so far, and whether it
    /// was read.
    tail: Vec<u8>,
    tail_read: bool,
}

/// What the tidy reader rewrites the init segment from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kept {
    pub info: Vec<u8>,
    pub tracks: Vec<u8>,
    /// Each track's DefaultDuration (ns), by track number.
    pub default_durations: Vec<(u64, u64)>,
}

impl std::fmt::Debug for WebmIndexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebmIndexer")
            .field("state", &self.state)
            .field("cur", &self.cur)
            .field("tracks", &self.tracks)
            .field("untidy", &self.untidy)
            .field("handed_over", &self.tidy.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for WebmIndexer {
    fn default() -> Self {
        Self::new()
    }
}

impl WebmIndexer {
    /// Indexes every file as it is (an untidy one too: MSE may refuse it).
    pub fn new() -> Self {
        WebmIndexer {
            state: State::EbmlHeader,
            cur: Cursor::new(),
            failed: FirstError::default(),
            segment_start: 0,
            info: Info::default(),
            tracks: Vec::new(),
            seeks: Vec::new(),
            cues: None,
            first_cluster: 0,
            index: None,
            scan: ClusterWalk::default(),
            codec: tracks::webm_codec,
            untidy: false,
            make_tidy: None,
            tidy: None,
            kept: None,
            tail: Vec::new(),
            tail_read: false,
        }
    }

    /// The tail range to read for the duration, while it is wanted.
    fn tail_range(&self) -> Option<Range<u64>> {
        let len = self.cur.file_len?;
        let wanted = !self.tail_read
            && self.state == State::Scan
            && self.index.as_ref().is_some_and(|i| i.duration.is_none());
        wanted.then(|| len.saturating_sub(tail::TAIL_LEN)..len)
    }

    /// Gathers the tail's bytes; once all are here, reads the duration.
    fn take_tail(&mut self, offset: u64, data: &[u8]) {
        let Some(range) = self.tail_range() else {
            return;
        };
        let have = range.start + self.tail.len() as u64;
        let end = offset.saturating_add(data.len() as u64);
        if offset > have || end <= have {
            return;
        }
        let from = usize::try_from(have - offset).unwrap_or(usize::MAX);
        let want = usize::try_from(range.end - have).unwrap_or(usize::MAX);
        let piece = data.get(from..).unwrap_or(&[]);
        self.tail
            .extend_from_slice(piece.get(..want.min(piece.len())).unwrap_or(piece));
        if (self.tail.len() as u64) < range.end - range.start {
            return;
        }
        self.tail_read = true;
        let end = tail::last_block_end(&self.tail, &self.info);
        self.tail = Vec::new();
        if let (Some(end), Some(index)) = (end, self.index.as_mut()) {
            index.duration = Some(end);
        }
    }

    /// Hands an untidy file over to the reader `make_tidy` makes
    /// ([`Handover::TidyWebm`]; the player's lives in its remuxer module),
    /// asking to be fed again from the start ([`Step::Replay`]). Decided at
    /// the first Cluster, from what came before it:
    /// - a DocType other than `webm` (Chromium's MSE wants `webm`), or
    /// - a TrackEntry, Video or Audio holding an element Chromium's WebM
    ///   parser does not know ([`chromium`](super::chromium): mkvmerge's
    ///   LanguageBCP47 in every track — the sign of its default options,
    ///   which also lace audio), or
    /// - a codec outside WebM's (H.264, AAC...: the tidy reader names them).
    ///
    /// The headers are all that is read before the index is ready, so a
    /// laced block or BlockGroup alone (in a file otherwise tidy) does not
    /// hand over: neither ffmpeg nor libwebm (MediaRecorder) writes one in
    /// such a file.
    pub fn with_tidy(make_tidy: Option<OnDemand>) -> Self {
        WebmIndexer {
            make_tidy,
            ..Self::new()
        }
    }

    /// The tidy reader's own indexer: codec strings from `codec`, the Info
    /// and Tracks payloads kept ([`WebmIndexer::kept`]), never handing over.
    pub fn keeping_headers(codec: CodecFn) -> Self {
        WebmIndexer {
            codec,
            kept: Some(Kept::default()),
            ..Self::new()
        }
    }

    /// What [`WebmIndexer::keeping_headers`] kept.
    pub fn kept(&self) -> Option<&Kept> {
        self.kept.as_ref()
    }

    fn is_video_track(&self, number: u64) -> bool {
        self.tracks
            .iter()
            .any(|t| t.id == number && t.kind == TrackKind::Video)
    }

    /// Runs the state machine over the buffered bytes until it needs more.
    fn run(&mut self) -> Result<Step, MediaError> {
        loop {
            match self.state {
                State::EbmlHeader => {
                    let avail = self.cur.avail();
                    let magic = id::EBML.to_be_bytes();
                    let n = avail.len().min(magic.len());
                    if avail.get(..n) != magic.get(..n) {
                        return Err(MediaError::UnknownFormat);
                    }
                    let Some(h) = self.cur.header()? else {
                        return self.cur.need(MAX_HEADER_LEN as u64, "EBML header");
                    };
                    let total = match self.cur.whole(&h, header::MAX_EBML_HEADER, "EBML header")? {
                        Ok(total) => total,
                        Err(step) => return Ok(step),
                    };
                    let (payload, at) = self.cur.payload(&h, total);
                    self.untidy |= !header::check(payload, at)?;
                    self.cur.skip_to(self.cur.at() + total as u64);
                    self.state = State::SegmentHeader;
                }
                State::SegmentHeader => {
                    let Some(h) = self.cur.header()? else {
                        return self.cur.need(MAX_HEADER_LEN as u64, "Segment");
                    };
                    if h.id != id::SEGMENT {
                        return Err(malformed(
                            self.cur.at(),
                            "expected a Segment after the EBML header",
                        ));
                    }
                    if h.size.is_some() {
                        self.cur.segment_end = Some(self.cur.element_end(&h, None, "Segment")?);
                    }
                    self.segment_start = self.cur.at() + h.len as u64;
                    self.cur.skip_to(self.segment_start);
                    self.state = State::TopLevel;
                }
                State::TopLevel => {
                    if self.cur.media_end().is_some_and(|end| self.cur.at() >= end) {
                        return Err(malformed(self.cur.at(), "Segment without a Cluster"));
                    }
                    let Some(h) = self.cur.header()? else {
                        return self.cur.need(MAX_HEADER_LEN as u64, "Segment element");
                    };
                    match h.id {
                        id::CLUSTER => {
                            self.first_cluster = self.cur.at();
                            return self.after_headers();
                        }
                        id::SEEK_HEAD | id::INFO | id::TRACKS | id::CUES => {
                            let total = match self.cur.whole(
                                &h,
                                MAX_HEADER_ELEMENT,
                                "WebM header element",
                            )? {
                                Ok(total) => total,
                                Err(step) => return Ok(step),
                            };
                            let (payload, at) = self.cur.payload(&h, total);
                            match h.id {
                                id::SEEK_HEAD => self.seeks = seekhead::parse(payload, at)?,
                                id::INFO => {
                                    self.info = info::parse(payload, at)?;
                                    if let Some(kept) = self.kept.as_mut() {
                                        kept.info = payload.to_vec();
                                    }
                                }
                                id::TRACKS => {
                                    let list = tracks::parse_with(payload, at, self.codec)?;
                                    self.tracks = list.tracks;
                                    self.untidy |= list.untidy;
                                    if let Some(kept) = self.kept.as_mut() {
                                        kept.tracks = payload.to_vec();
                                        kept.default_durations = list.default_durations;
                                    }
                                }
                                _ => self.cues = Some((self.cur.at(), cues::parse(payload, at)?)),
                            }
                            self.cur.skip_to(self.cur.at() + total as u64);
                        }
                        _ => {
                            let end = self.cur.element_end(
                                &h,
                                self.cur.segment_end,
                                "Segment element",
                            )?;
                            self.cur.skip_to(end);
                        }
                    }
                }
                State::CuesAtEnd => {
                    let Some(h) = self.cur.header()? else {
                        return self.cur.need(MAX_HEADER_LEN as u64, "Cues");
                    };
                    if h.id != id::CUES {
                        // A stale SeekHead: index by scanning instead.
                        return Ok(self.start_scan());
                    }
                    let total = match self.cur.whole(&h, MAX_HEADER_ELEMENT, "Cues")? {
                        Ok(total) => total,
                        Err(step) => return Ok(step),
                    };
                    let (payload, at) = self.cur.payload(&h, total);
                    self.cues = Some((self.cur.at(), cues::parse(payload, at)?));
                    return Ok(self.index_from_cues());
                }
                State::Scan => {
                    let mut media = Media {
                        info: &self.info,
                        tracks: &self.tracks,
                        index: &mut self.index,
                    };
                    match self.scan.step(&mut self.cur, &mut media)? {
                        Scanned::Progress => {}
                        Scanned::Wait => return Ok(Step::Ready),
                        Scanned::Finished => {
                            self.cur.release();
                            self.state = State::Done;
                        }
                    }
                }
                State::Done => return Ok(Step::Ready),
            }
        }
    }

    /// The index as known before any unit: tracks, duration, init range.
    fn base_index(&self) -> MediaIndex {
        MediaIndex {
            container: Container::WebM,
            tracks: self.tracks.clone(),
            duration: self.info.duration_seconds(),
            init: 0..self.first_cluster,
            segments: Vec::new(),
            complete: false,
        }
    }

    /// The first Cluster is at the cursor: decide how to index.
    fn after_headers(&mut self) -> Result<Step, MediaError> {
        if self.tracks.is_empty() {
            return Err(malformed(
                self.first_cluster,
                "no Tracks before the first Cluster",
            ));
        }
        if self.untidy
            && let Some(make) = self.make_tidy.take()
        {
            self.tidy = Some(make(Handover::TidyWebm));
            self.cur.release();
            self.state = State::Done;
            return Ok(Step::Replay { from: 0 });
        }
        if self.cues.is_some() {
            return Ok(self.index_from_cues());
        }
        let cues_at = self
            .seeks
            .iter()
            .find(|s| s.id == id::CUES)
            .and_then(|s| self.segment_start.checked_add(s.position))
            .filter(|&at| at > self.first_cluster);
        match cues_at {
            Some(at) if self.cur.media_end().is_none_or(|end| at < end) => {
                self.cur.jump(at);
                self.state = State::CuesAtEnd;
                self.cur.need(MAX_HEADER_LEN as u64, "Cues")
            }
            _ => Ok(self.start_scan()),
        }
    }

    /// Switches to discovering Clusters from the first one.
    fn start_scan(&mut self) -> Step {
        if self.cur.at() != self.first_cluster {
            self.cur.jump(self.first_cluster);
        }
        self.index = Some(self.base_index());
        self.state = State::Scan;
        Step::Ready
    }

    /// Builds the complete index from the Cues, or scans if they list
    /// nothing usable.
    fn index_from_cues(&mut self) -> Step {
        match self.cue_units() {
            Some(segments) => {
                let mut index = self.base_index();
                index.segments = segments;
                index.complete = true;
                self.index = Some(index);
                self.cur.release();
                self.state = State::Done;
                Step::Ready
            }
            None => {
                // Cues that list no usable Cluster: scan instead.
                self.cues = None;
                self.start_scan()
            }
        }
    }

    /// One unit per distinct Cluster the Cues list (video cues only when
    /// there is video: audio cues may point at Clusters that do not start
    /// with a video keyframe).
    fn cue_units(&self) -> Option<Vec<Segment>> {
        let (cues_at, cues) = self.cues.as_ref()?;
        let media_end = self.cur.media_end()?;
        let any_video = cues.iter().any(|c| self.is_video_track(c.track));
        let mut points: Vec<(u64, u64)> = cues
            .iter()
            .filter(|c| !any_video || self.is_video_track(c.track))
            .filter_map(|c| Some((self.segment_start.checked_add(c.cluster)?, c.time)))
            .filter(|&(at, _)| at >= self.first_cluster && at < media_end)
            .collect();
        points.sort_unstable();
        points.dedup_by_key(|p| p.0);
        // Keep time strictly increasing along with position.
        let mut last_time = None;
        points.retain(|&(_, t)| {
            let keep = last_time.is_none_or(|l| t > l);
            if keep {
                last_time = Some(t);
            }
            keep
        });
        let (first_at, last_at) = (points.first()?.0, points.last()?.0);
        // The last unit ends at the next top-level element we know of (Cues
        // or Tags written after the Clusters), else at the end of the media.
        let last_end = self
            .seeks
            .iter()
            .filter_map(|s| self.segment_start.checked_add(s.position))
            .chain(std::iter::once(*cues_at))
            .filter(|&at| at > last_at)
            .fold(media_end, u64::min);
        let mut segments = Vec::with_capacity(points.len());
        for (i, &(at, time)) in points.iter().enumerate() {
            let start = self.info.seconds(time as f64);
            let (end, bytes_end) = match points.get(i + 1) {
                Some(&(next_at, next_time)) => (self.info.seconds(next_time as f64), next_at),
                None => (
                    self.info.duration_seconds().unwrap_or(start).max(start),
                    last_end,
                ),
            };
            segments.push(Segment {
                start,
                end,
                bytes: at..bytes_end,
            });
        }
        // Bytes between the first Cluster and the first cue belong to the
        // first unit, which then starts at time 0.
        if let Some(first) = segments
            .first_mut()
            .filter(|_| first_at > self.first_cluster)
        {
            first.bytes.start = self.first_cluster;
            first.start = first.start.min(0.0);
        }
        Some(segments)
    }
}

impl ContainerIndexer for WebmIndexer {
    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        if let Some(tidy) = self.tidy.as_mut() {
            return tidy.feed(offset, data, file_len);
        }
        self.failed.check()?;
        if file_len.is_some() {
            self.cur.file_len = file_len;
        }
        let result = self.feed_inner(offset, data);
        if result.is_ok() {
            self.take_tail(offset, data);
        }
        self.failed.record(result)
    }

    fn index(&self) -> Option<&MediaIndex> {
        match &self.tidy {
            Some(tidy) => tidy.index(),
            None => self.index.as_ref(),
        }
    }

    fn wants(&self) -> Option<Range<u64>> {
        match &self.tidy {
            Some(tidy) => tidy.wants(),
            None => self.tail_range(),
        }
    }

    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        self.tidy.as_mut()?.take_repackager()
    }

    fn presentation(&self) -> Option<Presentation> {
        self.tidy.as_ref()?.presentation()
    }

    /// Where the media starts: its first unit (a Cluster's timecode). A
    /// live recording cut from a stream (GStreamer's `webmmux` keeps the
    /// source's timestamps) starts later than 0, and native playback
    /// starts there.
    fn start(&self) -> f64 {
        if let Some(tidy) = &self.tidy {
            return tidy.start();
        }
        let first = self.index.as_ref().and_then(|i| i.segments.first());
        first
            .map(|s| s.start)
            .or_else(|| self.scan.open_start())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(0.0)
    }
}

impl WebmIndexer {
    fn feed_inner(&mut self, mut offset: u64, mut data: &[u8]) -> Result<Step, MediaError> {
        let mut step = self.run()?;
        while !data.is_empty() && self.state != State::Done {
            let Some(used) = self.cur.offer(offset, data) else {
                break;
            };
            offset = offset.saturating_add(used as u64);
            data = data.get(used..).unwrap_or(&[]);
            step = self.run()?;
            if matches!(step, Step::Replay { .. }) {
                break;
            }
        }
        Ok(step)
    }
}

#[cfg(test)]
#[path = "indexer_tests.rs"]
mod tests;
