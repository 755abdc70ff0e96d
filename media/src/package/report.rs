//! What `caudal inspect` says about one file. The field names are the
//! `--json` keys (documented in the README; keep them stable): with the
//! `serde` feature every type here is `Serialize`.

#[cfg(feature = "serde")]
use serde::Serialize;

/// Everything `caudal inspect` says about one file.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Report {
    /// The path as given.
    pub file: String,
    /// Bytes.
    pub size: u64,
    /// `"mp4"` (plain), `"fragmented-mp4"`, `"webm"` or `"mp3"`.
    pub container: &'static str,
    /// True when nothing in [`Report::slow`] applies.
    pub streamable: bool,
    /// MP4: `moov` before the media (`None` for other containers).
    pub faststart: Option<bool>,
    pub fragmented: bool,
    /// The time ↔ byte index a player gets: `"moov"` (plain MP4 sample
    /// tables), `"sidx"`, `"mfra"`, `"cues"`, `"cues-at-end"` (WebM Cues
    /// after the media: one more round trip), `"none"` (units found by
    /// scanning as the media downloads), `None` for MP3.
    pub index: Option<&'static str>,
    pub tracks: Vec<TrackReport>,
    /// The MSE type: `video/mp4; codecs="avc1.64001f,mp4a.40.2"`.
    pub mime: String,
    /// Seconds.
    pub duration: Option<f64>,
    /// Bits per second over the whole file.
    pub bitrate: Option<u64>,
    pub keyframes: Option<Keyframes>,
    /// MP4: where the `moov` is.
    pub moov: Option<MoovReport>,
    pub first_frame: FirstFrame,
    /// Why the file starts slowly, one sentence each (empty: it does not).
    pub slow: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct TrackReport {
    pub id: u64,
    /// `"video"`, `"audio"` or `"other"`.
    pub kind: &'static str,
    /// RFC 6381.
    pub codec: String,
}

/// Spacing of random access points (of the video track; audio frames all
/// are ones).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Keyframes {
    /// Seconds, mean and largest gap (the last one runs to the end).
    pub mean: f64,
    pub max: f64,
    pub count: usize,
    /// `"stss"` (every keyframe), `"fragments"`, `"cues"` or `"clusters"`
    /// (the appendable units, each starting with one: an upper bound).
    pub source: &'static str,
    /// False when only the first [`SCAN_LIMIT`](super::drive::SCAN_LIMIT)
    /// bytes were scanned.
    pub whole_file: bool,
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct MoovReport {
    pub offset: u64,
    pub size: u64,
    /// `"before-mdat"` or `"after-mdat"`.
    pub position: &'static str,
}

/// What a player must download before it can show the first frame.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct FirstFrame {
    pub bytes: u64,
    /// Request round trips, counting the first.
    pub round_trips: u32,
    /// How the bytes add up.
    pub how: String,
}
