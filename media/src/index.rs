//! What every container reader produces: a [`MediaIndex`] — the tracks, the
//! MIME type to give `MediaSource.addSourceBuffer`, the duration, where the
//! init segment is, and a time ↔ byte map of *appendable units* (an fMP4
//! `moof`+`mdat` pair, a WebM `Cluster`): the pieces the buffer policy fetches
//! and MSE accepts.
//!
//! Readers are incremental and sans-I/O ([`ContainerIndexer`]): they say
//! which bytes they need next ([`Step::NeedBytes`]); the caller fetches them
//! however it likes and feeds them back.

use std::ops::Range;

/// The container formats the player feeds to MSE as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Fragmented ISO BMFF (`moov` with `mvex`, then `moof`/`mdat` pairs).
    FragmentedMp4,
    /// WebM (Matroska subset).
    WebM,
    /// Plain (non-fragmented) MP4, remuxed to fragmented MP4 in the player
    /// (`crate::remux`): `init` is the `moov`'s byte range, each segment a
    /// planned fragment with the span of file bytes its samples occupy.
    Mp4,
    /// MP3 (MPEG audio Layer III frames, maybe behind ID3 tags), appended
    /// as it is.
    Mp3,
}

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
    Other,
}

/// One track of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Container track number (`tkhd` track_ID, WebM TrackNumber).
    pub id: u64,
    pub kind: TrackKind,
    /// RFC 6381 codec string: `avc1.4d401e`, `mp4a.40.2`, `vp09.00.30.08`,
    /// `av01.0.04M.08`, `opus`, `vorbis`, `hvc1...`.
    pub codec: String,
}

/// One appendable unit: starts with a random access point, so appending may
/// begin at any unit after `SourceBuffer.abort()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Presentation start, seconds.
    pub start: f64,
    /// Presentation end, seconds (start of the next unit, or the duration).
    pub end: f64,
    /// Bytes of the file that make up this unit.
    pub bytes: Range<u64>,
}

/// Everything the player needs to stream a file.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaIndex {
    pub container: Container,
    pub tracks: Vec<Track>,
    /// Seconds, when the file says (mvhd/mehd, WebM Duration) or the index
    /// covers the whole file.
    pub duration: Option<f64>,
    /// The init segment (fMP4: `ftyp`..end of `moov`; WebM: EBML header to the
    /// first Cluster, i.e. header, Info, Tracks; Cues and the like may lie
    /// inside — MSE skips what it does not need).
    pub init: Range<u64>,
    /// Appendable units, ascending and contiguous in time and bytes.
    pub segments: Vec<Segment>,
    /// True when `segments` covers the whole file (from `sidx`, Cues, or a
    /// scan that reached the end); false while units are still discovered as
    /// bytes arrive.
    pub complete: bool,
}

impl MediaIndex {
    /// `video/mp4; codecs="avc1.4d401e,mp4a.40.2"` — for `isTypeSupported`
    /// and `addSourceBuffer`. One SourceBuffer takes the muxed stream.
    pub fn mime_type(&self) -> String {
        // MSE's MPEG audio byte stream takes no codecs parameter.
        if self.container == Container::Mp3 {
            return "audio/mpeg".to_owned();
        }
        let has_video = self.tracks.iter().any(|t| t.kind == TrackKind::Video);
        let base = match (self.container, has_video) {
            (Container::FragmentedMp4 | Container::Mp4, true) => "video/mp4",
            (Container::FragmentedMp4 | Container::Mp4, false) => "audio/mp4",
            (Container::WebM, true) => "video/webm",
            (Container::WebM, false) => "audio/webm",
            (Container::Mp3, _) => "audio/mpeg",
        };
        let codecs: Vec<&str> = self
            .tracks
            .iter()
            .filter(|t| t.kind != TrackKind::Other)
            .map(|t| t.codec.as_str())
            .collect();
        format!("{base}; codecs=\"{}\"", codecs.join(","))
    }

    /// The unit that contains time `t` (or the last one starting before it).
    pub fn segment_at(&self, t: f64) -> Option<usize> {
        match self.segments.partition_point(|s| s.start <= t) {
            0 => (!self.segments.is_empty()).then_some(0),
            n => Some(n - 1),
        }
    }

    /// The unit that contains byte `offset`.
    pub fn segment_containing_byte(&self, offset: u64) -> Option<usize> {
        let n = self.segments.partition_point(|s| s.bytes.start <= offset);
        (n > 0 && self.segments[n - 1].bytes.contains(&offset)).then(|| n - 1)
    }

    /// The duration the file says, or the end of its units once they are
    /// all known.
    pub fn known_duration(&self) -> Option<f64> {
        self.duration.or_else(|| {
            self.complete
                .then(|| self.segments.last().map(|s| s.end))
                .flatten()
        })
    }

    /// Average bits per second over the known units, if any.
    pub fn bitrate(&self) -> Option<f64> {
        let first = self.segments.first()?;
        let last = self.segments.last()?;
        let seconds = last.end - first.start;
        (seconds > 0.0).then(|| (last.bytes.end - first.bytes.start) as f64 * 8.0 / seconds)
    }
}

/// Why a reader hands the file over to one whose code is loaded only for
/// the files that need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// A plain MP4, to be remuxed.
    PlainMp4,
    /// An MP4 whose `moov` has an `mvex` (or that starts with fragments):
    /// the fMP4 reader's ([`mp4::Mp4Triage`](crate::mp4::Mp4Triage)).
    FragmentedMp4,
    /// A fragmented MP4 whose fragments must be rewritten
    /// ([`MediaError::NeedsRewrite`]).
    RewriteFragments,
    /// A Matroska/WebM file Chromium's MSE refuses as it is (mkvmerge's
    /// lacing, BlockGroups, elements its parser does not know, codecs
    /// outside WebM), rewritten by [`webm::tidy`](crate::webm) into the WebM
    /// subset it takes, or into fragmented MP4.
    TidyWebm,
}

/// Makes the reader a file is handed over to ([`Handover`]): this crate's
/// [`remux::plain_mp4`](crate::remux::plain_mp4), or one that lives
/// elsewhere (the player loads the remuxer, and the rewrites of fMP4 fragments and
/// of WebM, as wasm modules of their own, only for the files that need them).
pub type OnDemand = Box<dyn FnOnce(Handover) -> Box<dyn ContainerIndexer>>;

/// Makes the reader of a file whose first bytes announce `Format`, when
/// the readers live elsewhere: the player's main module carries none, and
/// runs each in the on-demand module of its format.
pub type MakeReader = Box<dyn FnOnce(crate::probe::Format) -> Box<dyn ContainerIndexer>>;

/// The first error an indexer met. It keeps answering with it: a reader
/// never resumes from the half-changed state the error left behind.
#[derive(Debug, Clone, Default)]
pub struct FirstError(Option<MediaError>);

impl FirstError {
    /// `Err` with the recorded error, if there is one.
    pub fn check(&self) -> Result<(), MediaError> {
        match &self.0 {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Passes `result` through, recording its error.
    pub fn record<T>(&mut self, result: Result<T, MediaError>) -> Result<T, MediaError> {
        if let (Err(e), None) = (&result, &self.0) {
            self.0 = Some(e.clone());
        }
        result
    }
}

/// What an indexer wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Feed the bytes from `offset`, at least `len` of them (more is fine).
    NeedBytes { offset: u64, len: u64 },
    /// [`ContainerIndexer::index`] is available. If it is not complete, keep
    /// feeding the media bytes (contiguously, from the end of the last known
    /// unit) and units are appended as they are found.
    Ready,
    /// Nothing to ask: the indexer waits on something other than bytes
    /// (the code that reads this file is loading). It keeps nothing of what
    /// it is fed; the caller is told when it moved on
    /// ([`Policy::handle_indexer_progress`](crate::policy::Policy::handle_indexer_progress)),
    /// and it then asks for a [`Step::Replay`].
    Pending,
    /// Feed again every byte fed so far from `from` on (this feed too), in
    /// the order first fed: a reader took over that has not seen them (the
    /// plain-MP4 reader after the fMP4 one, or one whose code just loaded).
    /// The caller holds them, so that they are held once.
    Replay { from: u64 },
}

/// Why a file cannot be streamed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("not a media file Caudal can stream (no MP4 'ftyp' or WebM EBML header)")]
    UnknownFormat,
    #[error("the MP4 is not fragmented (no 'mvex' in 'moov'); it needs remuxing")]
    NotFragmented,
    /// A fragmented MP4 whose fragments MSE would misread as they are
    /// (see `mp4::boxes::moof::needs_rewrite`): the reader with the rewrite
    /// (in the player's remuxer module) takes over, as for a plain MP4.
    #[error("the fragmented MP4 has {why}; it needs rewriting")]
    NeedsRewrite { why: &'static str },
    #[error("malformed {container} data at byte {offset}: {reason}")]
    Malformed {
        container: &'static str,
        offset: u64,
        reason: String,
    },
    #[error("unsupported {container} feature: {what}")]
    Unsupported {
        container: &'static str,
        what: String,
    },
    #[error("the file ends at byte {len}, before the {what} it promises")]
    Truncated { len: u64, what: &'static str },
    #[error("{what} larger than the {limit}-byte limit")]
    TooLarge { what: &'static str, limit: u64 },
    /// An error met by a reader in another module (the player's remuxer
    /// module), in its own words.
    #[error("{message}")]
    Elsewhere { truncated: bool, message: String },
}

/// An incremental, bounded, total container reader.
///
/// The caller starts by feeding bytes from offset 0 (as many as it has) and
/// then follows [`Step::NeedBytes`]. `feed` never panics, never allocates from
/// an unchecked length, and every input ends in a `Step` or an error.
/// `file_len` is the total file size once known (from Content-Range).
pub trait ContainerIndexer {
    /// Offers `data`, which starts at byte `offset` of the file.
    fn feed(&mut self, offset: u64, data: &[u8], file_len: Option<u64>)
    -> Result<Step, MediaError>;
    /// The index once [`Step::Ready`] was returned.
    fn index(&self) -> Option<&MediaIndex>;
    /// Bytes that would complete an incomplete index but are not needed to
    /// start playing (an fMP4's `mfra` at the end of the file): the caller
    /// fetches them when convenient and feeds them like any others.
    fn wants(&self) -> Option<Range<u64>> {
        None
    }
    /// For a container MSE does not take as it is (plain MP4): what turns
    /// the file's bytes into appendable ones. Taken once, after `Ready`.
    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        None
    }
    /// How the media times map to presentation, when not one to one.
    fn presentation(&self) -> Option<Presentation> {
        None
    }
    /// Where playback begins, seconds: later than 0 when frames that must
    /// be decoded but not shown come first (a remuxed stream-copy cut).
    fn start(&self) -> f64 {
        0.0
    }
}

/// Gapless presentation of a stream whose first and last frames carry
/// encoder delay and padding (an MP3 with a LAME tag): what browsers trim
/// when they play the file natively, so MSE must trim it too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Presentation {
    /// Added to media times (`SourceBuffer.timestampOffset`); negative to
    /// skip the delay at the start.
    pub offset: f64,
    /// Presentation ends here (`appendWindowEnd`, the duration).
    pub end: f64,
}

/// Turns a run of file bytes into bytes MSE accepts (fMP4 fragments built
/// from a plain MP4's samples), holding only what the next output needs.
pub trait Repackager {
    /// The init segment, appended before any output.
    fn init_segment(&self) -> Vec<u8>;
    /// A new run of file bytes starts at `offset` (playback start, a seek).
    fn reset(&mut self, offset: u64);
    /// [`reset`](Repackager::reset), with the time the index gives the unit
    /// at `offset`: a rewrite that supplies missing decode times starts the
    /// run there (`mp4::normalise`).
    fn reset_at(&mut self, offset: u64, unit_start: Option<f64>) {
        let _ = unit_start;
        self.reset(offset);
    }
    /// The next bytes of the run, from `offset`; returns the outputs they
    /// completed, in order. An output may be part of a unit (the remuxer
    /// sends the first fragment of a run in pieces): append each as it
    /// comes.
    fn push(&mut self, offset: u64, data: &[u8]) -> Result<Vec<Vec<u8>>, MediaError>;
}
