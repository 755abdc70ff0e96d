//! The ingest side of a live stream: bytes in, init segment and whole
//! fragments out (see the module above). One box is held until it is all
//! here, so memory is bounded by [`LiveLimits::max_box`].

use crate::index::{MediaError, TrackKind};
use crate::mp4::boxes::moov::Movie;
use crate::mp4::boxes::mvex::Trex;
use crate::mp4::boxes::{BoxHeader, Child, HeaderRead, traf};

/// `sample_is_non_sync_sample` in a sample's flags (ISO 14496-12 §8.8.3.1).
const NON_SYNC_SAMPLE: u32 = 0x0001_0000;

/// How large the boxes of a live stream may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveLimits {
    /// Any one box (a fragment's `mdat` above all).
    pub max_box: u64,
    /// The init segment (`ftyp` + `moov`).
    pub max_init: u64,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            max_box: 32 << 20,
            max_init: 1 << 20,
        }
    }
}

/// One track of a live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTrack {
    pub id: u32,
    pub kind: TrackKind,
    /// Units per second of its fragments' times.
    pub timescale: u32,
    /// RFC 6381 codec string.
    pub codec: String,
}

/// `ftyp` + `moov`: what every viewer gets first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSegment {
    pub bytes: Vec<u8>,
    pub tracks: Vec<LiveTrack>,
    /// `video/mp4; codecs="…"` (or `audio/mp4`), as MSE takes it.
    pub mime: String,
}

/// One `moof` + `mdat`, with the boxes that came before it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFragment {
    pub bytes: Vec<u8>,
    /// Its first video sample is a sync sample (always, without video): a
    /// viewer may start here.
    pub keyframe: bool,
    /// Decode time of its first sample, seconds (the video track's, or the
    /// first track's).
    pub start: f64,
    /// Seconds of media it holds (the same track).
    pub duration: f64,
    /// `start` and `duration` are the timing track's (the video's, else
    /// the first track's). False for a fragment without its samples (the
    /// audio between two video frames): then they are its own first
    /// track's, which a timeline of the video must not add up.
    pub timed: bool,
    /// Unix milliseconds from the `prft` before it, if any.
    pub wallclock_ms: Option<u64>,
}

/// What a push of bytes gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    Init(InitSegment),
    Fragment(LiveFragment),
}

/// Why a live stream cannot be read on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LiveError {
    #[error("not a fragmented MP4: it starts with {0:?}")]
    NotMp4(String),
    #[error("a '{kind}' box of {size} bytes is larger than the {limit}-byte limit")]
    BoxTooLarge { kind: String, size: u64, limit: u64 },
    #[error("a '{0}' box of unknown size (0): a live stream has no end to run to")]
    UnboundedBox(String),
    #[error("the MP4 is not fragmented (no 'mvex' in 'moov')")]
    NotFragmented,
    #[error("the tracks changed mid-stream: {was} became {now}")]
    TracksChanged { was: String, now: String },
    #[error("a fragment came before the init segment ('moov')")]
    FragmentBeforeInit,
    #[error("an 'mdat' without a 'moof' before it")]
    MdatWithoutMoof,
    #[error("the stream ended inside a box")]
    Truncated,
    #[error(transparent)]
    Malformed(#[from] MediaError),
}

/// Cuts a live fragmented MP4 into its init segment and fragments.
#[derive(Debug)]
pub struct LiveSplitter {
    limits: LiveLimits,
    /// Bytes of boxes not yet whole.
    pending: Vec<u8>,
    /// Stream offset of `pending[0]`.
    offset: u64,
    ftyp: Option<Vec<u8>>,
    init: Option<(Vec<LiveTrack>, Vec<Trex>)>,
    /// `styp`, `prft`, `emsg` since the last fragment.
    prefix: Vec<u8>,
    wallclock_ms: Option<u64>,
    /// A `moof` waiting for its `mdat`: its header and bytes.
    moof: Option<(BoxHeader, Vec<u8>)>,
}

impl LiveSplitter {
    pub fn new(limits: LiveLimits) -> Self {
        LiveSplitter {
            limits,
            pending: Vec::new(),
            offset: 0,
            ftyp: None,
            init: None,
            prefix: Vec::new(),
            wallclock_ms: None,
            moof: None,
        }
    }

    /// Takes the next bytes of the stream: what they completed.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Ingested>, LiveError> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        let mut used = 0usize;
        let result = loop {
            let rest = &self.pending[used..];
            if self.offset == 0 && used == 0 && rest.len() >= 8 {
                check_first_box(rest)?;
            }
            let header = match BoxHeader::read(rest, self.offset) {
                Ok(HeaderRead::Complete(header)) => header,
                Ok(HeaderRead::Need(_)) => break Ok(()),
                Err(error) => break Err(error.into()),
            };
            let kind = String::from_utf8_lossy(&header.kind).into_owned();
            let Some(size) = header.size else {
                break Err(LiveError::UnboundedBox(kind));
            };
            if size > self.limits.max_box {
                break Err(LiveError::BoxTooLarge {
                    kind,
                    size,
                    limit: self.limits.max_box,
                });
            }
            let Ok(size) = usize::try_from(size) else {
                break Err(LiveError::Truncated);
            };
            if rest.len() < size {
                break Ok(());
            }
            let bytes = rest[..size].to_vec();
            used += size;
            self.offset += size as u64;
            if let Err(error) = self.take_box(header, bytes, &mut out) {
                break Err(error);
            }
        };
        self.pending.drain(..used);
        result.map(|()| out)
    }

    /// The stream ended: an error if it ended inside a box or a fragment.
    pub fn finish(&self) -> Result<(), LiveError> {
        if self.pending.is_empty() && self.moof.is_none() {
            Ok(())
        } else {
            Err(LiveError::Truncated)
        }
    }

    fn take_box(
        &mut self,
        header: BoxHeader,
        bytes: Vec<u8>,
        out: &mut Vec<Ingested>,
    ) -> Result<(), LiveError> {
        match &header.kind {
            b"ftyp" => self.ftyp = Some(bytes),
            b"moov" => {
                if let Some(init) = self.read_moov(header, bytes)? {
                    out.push(Ingested::Init(init));
                }
            }
            b"styp" | b"emsg" => self.prefix.extend_from_slice(&bytes),
            b"prft" => {
                let payload = bytes.get(usize::from(header.header_len)..).unwrap_or(&[]);
                self.wallclock_ms = super::prft::read(&Child::top_level(header, payload));
                self.prefix.extend_from_slice(&bytes);
            }
            b"moof" => {
                if self.init.is_none() {
                    return Err(LiveError::FragmentBeforeInit);
                }
                self.moof = Some((header, bytes));
            }
            b"mdat" => {
                let (moof_header, moof) = self.moof.take().ok_or(LiveError::MdatWithoutMoof)?;
                out.push(Ingested::Fragment(self.fragment(moof_header, moof, bytes)));
            }
            // `mfra` ends a file ffmpeg finishes; `free`, `skip`, `sidx`,
            // `uuid`: nothing a viewer needs.
            _ => {}
        }
        Ok(())
    }

    /// The init segment a `moov` makes, if it is the first; a repeated one
    /// (a publisher that restarts its muxer) must name the same tracks.
    fn read_moov(
        &mut self,
        header: BoxHeader,
        moov: Vec<u8>,
    ) -> Result<Option<InitSegment>, LiveError> {
        let payload = moov.get(usize::from(header.header_len)..).unwrap_or(&[]);
        let movie = Movie::parse(&Child::top_level(header, payload))?;
        let trex = movie.mvex.ok_or(LiveError::NotFragmented)?.trex;
        let tracks: Vec<LiveTrack> = movie
            .tracks
            .iter()
            .map(|trak| LiveTrack {
                id: trak.id,
                kind: trak.kind,
                timescale: trak.timescale,
                codec: trak.codec.clone(),
            })
            .collect();
        if let Some((was, _)) = &self.init {
            if *was != tracks {
                return Err(LiveError::TracksChanged {
                    was: describe(was),
                    now: describe(&tracks),
                });
            }
            return Ok(None);
        }
        let mut bytes = self.ftyp.take().unwrap_or_default();
        bytes.extend_from_slice(&moov);
        if bytes.len() as u64 > self.limits.max_init {
            return Err(LiveError::BoxTooLarge {
                kind: "moov".into(),
                size: bytes.len() as u64,
                limit: self.limits.max_init,
            });
        }
        let init = InitSegment {
            bytes,
            mime: mime(&tracks),
            tracks: tracks.clone(),
        };
        self.init = Some((tracks, trex));
        Ok(Some(init))
    }

    fn fragment(&mut self, moof_header: BoxHeader, moof: Vec<u8>, mdat: Vec<u8>) -> LiveFragment {
        let (tracks, trex) = self
            .init
            .as_ref()
            .map_or((&[][..], &[][..]), |(t, x)| (t, x));
        // The track that times the stream: the video, else the first.
        let timing = tracks
            .iter()
            .find(|t| t.kind == TrackKind::Video)
            .or_else(|| tracks.first());
        let has_video = tracks.iter().any(|t| t.kind == TrackKind::Video);
        let moof_len = moof.len() as u64;
        let payload = moof
            .get(usize::from(moof_header.header_len)..)
            .unwrap_or(&[]);
        let child = Child::top_level(moof_header, payload);
        let data = moof_len..moof_len + mdat.len() as u64;
        let trafs = traf::samples(&child, moof_header.offset, trex, data).unwrap_or_default();
        let timed = timing.and_then(|track| {
            let traf = trafs.iter().find(|t| t.track_id == track.id)?;
            Some((track, traf))
        });
        let times = |track: &LiveTrack, traf: &traf::TrafSamples| {
            let scale = f64::from(track.timescale.max(1));
            let units: u64 = traf.samples.iter().map(|s| u64::from(s.duration)).sum();
            (traf.base_time as f64 / scale, units as f64 / scale)
        };
        let (keyframe, start, duration, is_timed) = match timed {
            Some((track, traf)) => {
                let first_sync = traf
                    .samples
                    .first()
                    .is_some_and(|s| s.flags & NON_SYNC_SAMPLE == 0);
                let (start, duration) = times(track, traf);
                (
                    first_sync || track.kind != TrackKind::Video,
                    start,
                    duration,
                    true,
                )
            }
            // A fragment without the timing track's samples: no viewer
            // starts on it; its times are its first track's.
            None => {
                let own = trafs.iter().find_map(|traf| {
                    let track = tracks.iter().find(|t| t.id == traf.track_id)?;
                    Some(times(track, traf))
                });
                let (start, duration) = own.unwrap_or((0.0, 0.0));
                (!has_video, start, duration, false)
            }
        };
        let mut bytes = std::mem::take(&mut self.prefix);
        bytes.reserve(moof.len() + mdat.len());
        bytes.extend_from_slice(&moof);
        bytes.extend_from_slice(&mdat);
        LiveFragment {
            bytes,
            keyframe,
            start,
            duration,
            timed: is_timed,
            wallclock_ms: self.wallclock_ms.take(),
        }
    }
}

/// The first box of an MP4 is one of these: anything else (text, WebM, a
/// random body) is refused before its "size" is taken for one.
fn check_first_box(head: &[u8]) -> Result<(), LiveError> {
    let kind = &head[4..8];
    if matches!(
        kind,
        b"ftyp" | b"styp" | b"moov" | b"free" | b"skip" | b"prft" | b"uuid"
    ) {
        Ok(())
    } else {
        let shown: String = head[..8]
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
            .collect();
        Err(LiveError::NotMp4(shown))
    }
}

/// `video/mp4; codecs="avc1.64001f,mp4a.40.2"`.
fn mime(tracks: &[LiveTrack]) -> String {
    let major = if tracks.iter().any(|t| t.kind == TrackKind::Video) {
        "video/mp4"
    } else {
        "audio/mp4"
    };
    let codecs: Vec<&str> = tracks
        .iter()
        .filter(|t| t.kind != TrackKind::Other && !t.codec.is_empty())
        .map(|t| t.codec.as_str())
        .collect();
    format!("{major}; codecs=\"{}\"", codecs.join(","))
}

fn describe(tracks: &[LiveTrack]) -> String {
    let codecs: Vec<&str> = tracks.iter().map(|t| t.codec.as_str()).collect();
    format!("[{}]", codecs.join(", "))
}
