//! The ingest side of a live WebM (Matroska live: an EBML header, a
//! Segment of unknown size, its Info and Tracks, then Clusters — of known
//! size, as ffmpeg writes them, or of unknown size, as GStreamer's and
//! OBS's streaming muxers do). Bytes in, the init segment and pieces of
//! clusters out, as [`Ingested`] like the MP4 splitter's:
//!
//! - the init segment: everything before the first Cluster (the EBML
//!   header, the Segment's header, SeekHead, Info, Tracks, Tags);
//! - a cluster is sent as it comes, a block at a time, so a long cluster
//!   costs no latency: its first piece holds the Cluster's header, its
//!   Timestamp and every block up to its first video block — a place a
//!   viewer may start when that block is a keyframe — and each later block
//!   is a piece of its own. An unknown-size cluster ends where an element
//!   that cannot be its child begins.
//!
//! WebM carries no wall clock: its pieces have none. Memory is bounded by
//! [`LiveLimits`]: one element (a block) and the init segment.

use super::splitter::{Ingested, InitSegment, LiveError, LiveFragment, LiveLimits, LiveTrack};
use crate::index::{MediaError, TrackKind};
use crate::webm::ebml::{self, Header};
use crate::webm::elements as id;
use crate::webm::{info, tracks};

/// BlockGroup (a block with references or a duration).
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
/// Cluster children other than blocks: Position, PrevSize, SilentTracks.
const CLUSTER_META: [u32; 4] = [id::CLUSTER_TIMECODE, 0xA7, 0xAB, 0x5854];
/// Void and CRC-32, which may sit anywhere.
const FILLER: [u32; 2] = [0xEC, 0xBF];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before the EBML header.
    Start,
    /// Inside the Segment, before the first Cluster.
    Head,
    /// Inside the Segment, between or inside Clusters.
    Body,
}

/// The cluster being read.
#[derive(Debug)]
struct Cluster {
    /// Bytes of payload left, when its size is known.
    left: Option<u64>,
    /// Its Timestamp, ticks.
    time: u64,
    /// Its header and what came before its first video block, not yet sent.
    held: Vec<u8>,
    /// Its first piece went out.
    started: bool,
}

/// Cuts a live WebM into its init segment and cluster pieces.
#[derive(Debug)]
pub struct WebmSplitter {
    limits: LiveLimits,
    pending: Vec<u8>,
    /// Stream offset of `pending[0]`, for error messages.
    offset: u64,
    place: Place,
    init: Vec<u8>,
    info: info::Info,
    tracks: Option<Vec<LiveTrack>>,
    /// Nanoseconds per frame of the video track, from DefaultDuration.
    video_frame_ns: Option<u64>,
    cluster: Option<Cluster>,
    in_segment: bool,
}

impl WebmSplitter {
    pub fn new(limits: LiveLimits) -> Self {
        WebmSplitter {
            limits,
            pending: Vec::new(),
            offset: 0,
            place: Place::Start,
            init: Vec::new(),
            info: info::Info::default(),
            tracks: None,
            video_frame_ns: None,
            cluster: None,
            in_segment: false,
        }
    }

    /// Takes the next bytes of the stream: what they completed.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Ingested>, LiveError> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        let mut used = 0usize;
        let result = loop {
            match self.step(used, &mut out) {
                Ok(Some(n)) => {
                    used += n;
                    self.offset += n as u64;
                }
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        self.pending.drain(..used);
        result.map(|()| out)
    }

    /// The stream ended: an error if it ended inside an element.
    pub fn finish(&self) -> Result<(), LiveError> {
        let cluster_open = self
            .cluster
            .as_ref()
            .is_some_and(|c| c.left.is_some_and(|l| l > 0));
        if self.pending.is_empty() && !cluster_open {
            Ok(())
        } else {
            Err(LiveError::Truncated)
        }
    }

    /// Reads the element at `pending[used..]`: the bytes it took, or `None`
    /// until more come.
    fn step(&mut self, used: usize, out: &mut Vec<Ingested>) -> Result<Option<usize>, LiveError> {
        let read = {
            let rest = &self.pending[used..];
            if self.place == Place::Start
                && rest.len() >= 4
                && rest[..4] != [0x1A, 0x45, 0xDF, 0xA3]
            {
                return Err(LiveError::NotMp4(shown(rest)));
            }
            ebml::read_header(rest)
        };
        let Some(header) = read.map_err(|reason| self.bad(reason))? else {
            return Ok(None);
        };
        // An unknown-size cluster ends at the first element that is not
        // one of its children.
        if let Some(cluster) = &self.cluster
            && cluster.left.is_none()
            && !is_cluster_child(header.id)
        {
            self.end_cluster(out);
        }
        let rest = &self.pending[used..];
        if header.id == id::SEGMENT {
            if self.place != Place::Head || self.in_segment {
                return Err(self.bad("a second Segment in a live stream"));
            }
            // The Segment is entered, not read whole (live: unknown size).
            self.in_segment = true;
            self.init.extend_from_slice(&rest[..header.len]);
            return Ok(Some(header.len));
        }
        if header.id == id::CLUSTER {
            return self.start_cluster(header, used, out).map(Some);
        }
        let size = self.bounded(&header)?;
        let total = header.len + size;
        if rest.len() < total {
            return Ok(None);
        }
        let whole = rest[..total].to_vec();
        self.take(header, whole, out)?;
        Ok(Some(total))
    }

    fn bounded(&self, header: &Header) -> Result<usize, LiveError> {
        let kind = format!("0x{:X}", header.id);
        let size = header
            .size
            .ok_or_else(|| LiveError::UnboundedBox(kind.clone()))?;
        if size > self.limits.max_box {
            return Err(LiveError::BoxTooLarge {
                kind,
                size,
                limit: self.limits.max_box,
            });
        }
        usize::try_from(size).map_err(|_| LiveError::Truncated)
    }

    /// A whole element (not a Segment or Cluster header).
    fn take(
        &mut self,
        header: Header,
        whole: Vec<u8>,
        out: &mut Vec<Ingested>,
    ) -> Result<(), LiveError> {
        let payload = &whole[header.len..];
        let at = self.offset + header.len as u64;
        match self.place {
            Place::Start => {
                if header.id != id::EBML {
                    return Err(LiveError::NotMp4(shown(&whole)));
                }
                self.init.extend_from_slice(&whole);
                self.place = Place::Head;
            }
            Place::Head => {
                match header.id {
                    id::INFO => self.info = info::parse(payload, at)?,
                    id::TRACKS => self.read_tracks(payload, at)?,
                    _ => {}
                }
                self.init.extend_from_slice(&whole);
                if self.init.len() as u64 > self.limits.max_init {
                    return Err(LiveError::BoxTooLarge {
                        kind: "WebM header".into(),
                        size: self.init.len() as u64,
                        limit: self.limits.max_init,
                    });
                }
            }
            Place::Body => self.take_in_body(header, whole, out)?,
        }
        Ok(())
    }

    fn take_in_body(
        &mut self,
        header: Header,
        whole: Vec<u8>,
        out: &mut Vec<Ingested>,
    ) -> Result<(), LiveError> {
        let Some(cluster) = self.cluster.as_mut() else {
            // Between clusters: Cues, Tags, Void — nothing a viewer needs.
            if matches!(header.id, id::EBML | id::TRACKS | id::INFO) {
                return Err(MediaError::Malformed {
                    container: "WebM",
                    offset: self.offset,
                    reason: "a second header in a live stream".into(),
                }
                .into());
            }
            return Ok(());
        };
        if let Some(left) = cluster.left.as_mut() {
            *left = left.saturating_sub(whole.len() as u64);
        }
        let payload = &whole[header.len..];
        if header.id == id::CLUSTER_TIMECODE {
            cluster.time = ebml::read_uint(payload).unwrap_or(0);
        }
        let block = match header.id {
            id::SIMPLE_BLOCK => Some(read_block(payload, true)),
            BLOCK_GROUP => Some(block_in_group(payload)),
            _ => None,
        };
        match block {
            None => {
                if !cluster.started {
                    cluster.held.extend_from_slice(&whole);
                }
            }
            Some(block) => {
                let (track, relative, key) = block.ok_or_else(|| self.bad("a block cut short"))?;
                self.block(track, relative, key, whole, out);
            }
        }
        if self.cluster.as_ref().is_some_and(|c| c.left == Some(0)) {
            self.end_cluster(out);
        }
        Ok(())
    }

    fn start_cluster(
        &mut self,
        header: Header,
        used: usize,
        out: &mut Vec<Ingested>,
    ) -> Result<usize, LiveError> {
        if self.place == Place::Start {
            return Err(LiveError::NotMp4(shown(&self.pending[used..])));
        }
        if self.place == Place::Head {
            let tracks = self.tracks.clone().ok_or(LiveError::FragmentBeforeInit)?;
            out.push(Ingested::Init(InitSegment {
                bytes: std::mem::take(&mut self.init),
                mime: mime(&tracks),
                tracks,
            }));
            self.place = Place::Body;
        }
        self.end_cluster(out);
        let bytes = self.pending[used..used + header.len].to_vec();
        self.cluster = Some(Cluster {
            left: header.size,
            time: 0,
            held: bytes,
            started: false,
        });
        Ok(header.len)
    }

    /// A block of `track`, `relative` ticks after its cluster's time.
    fn block(
        &mut self,
        track: u64,
        relative: i16,
        key: bool,
        whole: Vec<u8>,
        out: &mut Vec<Ingested>,
    ) {
        let tracks = self.tracks.as_deref().unwrap_or(&[]);
        let kind = tracks
            .iter()
            .find(|t| u64::from(t.id) == track)
            .map_or(TrackKind::Other, |t| t.kind);
        let has_video = tracks.iter().any(|t| t.kind == TrackKind::Video);
        let timed = kind == TrackKind::Video || !has_video;
        let scale = self.info.timecode_scale as f64 / 1e9;
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        let ticks = cluster.time as f64 + f64::from(relative);
        let mut bytes = whole;
        if !cluster.started {
            if !timed {
                // Audio before the cluster's first video block: held, so
                // the first piece tells whether a viewer may start there.
                cluster.held.extend_from_slice(&bytes);
                return;
            }
            let mut first = std::mem::take(&mut cluster.held);
            first.extend_from_slice(&bytes);
            bytes = first;
            cluster.started = true;
        }
        // Only a cluster's first piece holds its header: a viewer may
        // start there when its video block is a keyframe.
        let first_piece = key && timed && cluster_first(&bytes);
        let duration = match (kind, self.video_frame_ns) {
            (TrackKind::Video, Some(ns)) => ns as f64 / 1e9,
            _ => 0.0,
        };
        out.push(Ingested::Fragment(LiveFragment {
            bytes,
            keyframe: first_piece,
            start: ticks * scale,
            duration,
            timed,
            wallclock_ms: None,
        }));
    }

    /// The cluster ended: what it still holds goes out (a cluster without
    /// video).
    fn end_cluster(&mut self, out: &mut Vec<Ingested>) {
        let Some(cluster) = self.cluster.take() else {
            return;
        };
        if cluster.started || cluster.held.is_empty() {
            return;
        }
        let has_video = self
            .tracks
            .as_deref()
            .is_some_and(|t| t.iter().any(|t| t.kind == TrackKind::Video));
        let scale = self.info.timecode_scale as f64 / 1e9;
        out.push(Ingested::Fragment(LiveFragment {
            bytes: cluster.held,
            keyframe: !has_video,
            start: cluster.time as f64 * scale,
            duration: 0.0,
            timed: !has_video,
            wallclock_ms: None,
        }));
    }

    fn read_tracks(&mut self, payload: &[u8], at: u64) -> Result<(), LiveError> {
        let list = tracks::parse(payload, at)?;
        let ticks_per_second = (1e9 / self.info.timecode_scale as f64).round() as u32;
        let tracks: Vec<LiveTrack> = list
            .tracks
            .iter()
            .map(|t| LiveTrack {
                id: u32::try_from(t.id).unwrap_or(u32::MAX),
                kind: t.kind,
                timescale: ticks_per_second.max(1),
                codec: t.codec.clone(),
            })
            .collect();
        if tracks.is_empty() {
            return Err(self.bad("a live stream without tracks"));
        }
        self.video_frame_ns = list
            .tracks
            .iter()
            .find(|t| t.kind == TrackKind::Video)
            .and_then(|v| {
                list.default_durations
                    .iter()
                    .find(|(n, _)| *n == v.id)
                    .map(|(_, d)| *d)
            });
        self.tracks = Some(tracks);
        Ok(())
    }

    fn bad(&self, reason: &'static str) -> LiveError {
        MediaError::Malformed {
            container: "WebM",
            offset: self.offset,
            reason: reason.to_owned(),
        }
        .into()
    }
}

/// Whether `bytes` (a first piece) start with a Cluster header.
fn cluster_first(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1F, 0x43, 0xB6, 0x75])
}

fn is_cluster_child(element: u32) -> bool {
    element == id::SIMPLE_BLOCK
        || element == BLOCK_GROUP
        || CLUSTER_META.contains(&element)
        || FILLER.contains(&element)
}

/// A SimpleBlock's (or Block's) track, relative time and keyframe flag.
fn read_block(payload: &[u8], simple: bool) -> Option<(u64, i16, bool)> {
    let (track, n) = ebml::read_size(payload).ok()??;
    let time = payload.get(n..n + 2)?;
    let flags = *payload.get(n + 2)?;
    // A Block's keyframe is told by its group (no ReferenceBlock).
    let key = simple && flags & 0x80 != 0;
    Some((track?, i16::from_be_bytes([time[0], time[1]]), key))
}

/// The Block of a BlockGroup: a keyframe when the group references nothing.
fn block_in_group(payload: &[u8]) -> Option<(u64, i16, bool)> {
    let mut block = None;
    let mut references = false;
    for child in ebml::Children::new(payload, 0) {
        let child = child.ok()?;
        match child.id {
            BLOCK => block = read_block(child.payload, false),
            0xFB => references = true,
            _ => {}
        }
    }
    block.map(|(track, time, _)| (track, time, !references))
}

/// `video/webm; codecs="vp8,opus"` (or `audio/webm`).
fn mime(tracks: &[LiveTrack]) -> String {
    let major = if tracks.iter().any(|t| t.kind == TrackKind::Video) {
        "video/webm"
    } else {
        "audio/webm"
    };
    let codecs: Vec<&str> = tracks
        .iter()
        .filter(|t| t.kind != TrackKind::Other && !t.codec.is_empty())
        .map(|t| t.codec.as_str())
        .collect();
    format!("{major}; codecs=\"{}\"", codecs.join(","))
}

/// The first bytes, printable.
fn shown(head: &[u8]) -> String {
    head.iter()
        .take(8)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect()
}
