//! The bytes the player's two wasm modules exchange.
//!
//! The remuxer is a second wasm module (`player-remux`) that the player
//! (`player-wasm`) drives through JavaScript. What crosses between them is
//! one [`Reply`] per call, encoded here into a flat byte string (a
//! `Uint8Array` on the JS side): the reader's [`Step`], its [`MediaIndex`],
//! the fragments a push completed, or the error a call met, with its kind.
//! Both sides use this one codec, so the two ends cannot drift apart, and
//! [`decode`] is total: whatever bytes come in, it answers a [`Reply`] or a
//! [`WireError`], never a panic and never an allocation the input does not
//! pay for.
//!
//! Layout: a version byte, then the reply's tag and fields. Integers are
//! little-endian (`u8`, `u32` counts and lengths, `u64` offsets), seconds are
//! `f64` bits, strings and byte strings are a `u32` length then the bytes.

use crate::index::{Container, Handover, MediaError, MediaIndex, Segment, Step, Track, TrackKind};
use crate::probe::Format;

/// First byte of every message: both modules come from one build, but a
/// browser cache may still pair a player with an older remuxer.
pub const WIRE_VERSION: u8 = 1;

/// What the remuxer module answers to one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `feed` moved the reader on.
    Step(Step),
    /// The reader's index, `None` before it is ready.
    Index(Option<MediaIndex>),
    /// The fragments a `push` completed, in order.
    Fragments(Vec<Vec<u8>>),
    /// The call failed.
    Failed(RemoteError),
    /// The reader handed the file over to a reader this module does not
    /// have (an fMP4 whose fragments need the rewrite): the player makes a
    /// session of that reader, in its module, and feeds it everything again.
    HandOver(Handover),
}

/// Which reader a module's session runs: a container's own reader, or one
/// a reader handed the file over to. Its [`code`](SessionReader::code) is
/// what crosses JavaScript to the session's constructor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionReader {
    Container(Format),
    Handed(Handover),
}

/// Every session reader, in code order.
const SESSION_READERS: [SessionReader; 7] = [
    SessionReader::Container(Format::Mp4),
    SessionReader::Container(Format::WebM),
    SessionReader::Container(Format::Mp3),
    SessionReader::Handed(Handover::PlainMp4),
    SessionReader::Handed(Handover::RewriteFragments),
    SessionReader::Handed(Handover::TidyWebm),
    SessionReader::Handed(Handover::FragmentedMp4),
];

impl SessionReader {
    pub fn code(self) -> u8 {
        match self {
            SessionReader::Container(Format::Mp4) => 0,
            SessionReader::Container(Format::WebM) => 1,
            SessionReader::Container(Format::Mp3) => 2,
            SessionReader::Handed(Handover::PlainMp4) => 3,
            SessionReader::Handed(Handover::RewriteFragments) => 4,
            SessionReader::Handed(Handover::TidyWebm) => 5,
            SessionReader::Handed(Handover::FragmentedMp4) => 6,
        }
    }

    pub fn from_code(code: u8) -> Option<SessionReader> {
        SESSION_READERS.get(usize::from(code)).copied()
    }
}

/// Which [`MediaError`] the remuxer met: the kinds the player tells apart
/// (a truncated file has its own error code) and the rest, kept for the
/// message's sake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    UnknownFormat,
    NotFragmented,
    Malformed,
    Unsupported,
    Truncated,
    TooLarge,
    /// Met by a reader in yet another module.
    Elsewhere,
}

/// A [`MediaError`] as it crosses the module boundary: its kind and its
/// sentence (its `&'static str` fields cannot travel as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<&MediaError> for RemoteError {
    fn from(error: &MediaError) -> Self {
        let kind = match error {
            MediaError::UnknownFormat => ErrorKind::UnknownFormat,
            MediaError::NotFragmented | MediaError::NeedsRewrite { .. } => ErrorKind::NotFragmented,
            MediaError::Malformed { .. } => ErrorKind::Malformed,
            MediaError::Unsupported { .. } => ErrorKind::Unsupported,
            MediaError::Truncated { .. }
            | MediaError::Elsewhere {
                truncated: true, ..
            } => ErrorKind::Truncated,
            MediaError::TooLarge { .. } => ErrorKind::TooLarge,
            MediaError::Elsewhere { .. } => ErrorKind::Elsewhere,
        };
        RemoteError {
            kind,
            message: error.to_string(),
        }
    }
}

impl From<RemoteError> for MediaError {
    /// On the player's side the error is one met elsewhere, in its own words.
    fn from(error: RemoteError) -> Self {
        MediaError::Elsewhere {
            truncated: error.kind == ErrorKind::Truncated,
            message: error.message,
        }
    }
}

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    // The messages carry no fields: formatting them would cost the
    // player's wasm more than they tell (Debug shows them).
    #[error("the message ends early")]
    Short { at: usize },
    #[error("the message is of another wire version")]
    Version { found: u8 },
    #[error("an unknown tag")]
    Tag { what: &'static str, tag: u8 },
    #[error("a string that is not UTF-8")]
    Utf8,
    #[error("bytes after the message")]
    Trailing { extra: usize },
}

/// `reply` as bytes.
pub fn encode(reply: &Reply) -> Vec<u8> {
    let mut out = vec![WIRE_VERSION];
    match reply {
        Reply::Step(step) => {
            out.push(0);
            match step {
                Step::Ready => out.push(0),
                Step::NeedBytes { offset, len } => {
                    out.push(1);
                    put_u64(&mut out, *offset);
                    put_u64(&mut out, *len);
                }
                Step::Pending => out.push(2),
                Step::Replay { from } => {
                    out.push(3);
                    put_u64(&mut out, *from);
                }
            }
        }
        Reply::Index(None) => out.extend([1, 0]),
        Reply::Index(Some(index)) => {
            out.extend([1, 1, container_tag(index.container)]);
            match index.duration {
                Some(duration) => {
                    out.push(1);
                    put_f64(&mut out, duration);
                }
                None => out.push(0),
            }
            put_u64(&mut out, index.init.start);
            put_u64(&mut out, index.init.end);
            out.push(u8::from(index.complete));
            put_count(&mut out, index.tracks.len());
            for track in &index.tracks {
                put_u64(&mut out, track.id);
                out.push(kind_tag(track.kind));
                put_bytes(&mut out, track.codec.as_bytes());
            }
            put_count(&mut out, index.segments.len());
            for segment in &index.segments {
                put_f64(&mut out, segment.start);
                put_f64(&mut out, segment.end);
                put_u64(&mut out, segment.bytes.start);
                put_u64(&mut out, segment.bytes.end);
            }
        }
        Reply::Fragments(fragments) => {
            out.push(2);
            put_count(&mut out, fragments.len());
            for fragment in fragments {
                put_bytes(&mut out, fragment);
            }
        }
        Reply::Failed(error) => {
            out.extend([3, error_tag(error.kind)]);
            put_bytes(&mut out, error.message.as_bytes());
        }
        Reply::HandOver(handed) => {
            out.extend([4, SessionReader::Handed(*handed).code()]);
        }
    }
    out
}

/// The reply in `bytes`, all of them.
pub fn decode(bytes: &[u8]) -> Result<Reply, WireError> {
    let mut r = Reader { bytes, at: 0 };
    let found = r.u8()?;
    if found != WIRE_VERSION {
        return Err(WireError::Version { found });
    }
    let reply = match r.u8()? {
        0 => Reply::Step(match r.u8()? {
            0 => Step::Ready,
            1 => Step::NeedBytes {
                offset: r.u64()?,
                len: r.u64()?,
            },
            2 => Step::Pending,
            3 => Step::Replay { from: r.u64()? },
            tag => return Err(WireError::Tag { what: "step", tag }),
        }),
        1 => Reply::Index(match r.u8()? {
            0 => None,
            1 => Some(read_index(&mut r)?),
            tag => return Err(WireError::Tag { what: "index", tag }),
        }),
        2 => {
            let n = r.count(4)?;
            let mut fragments = Vec::with_capacity(n);
            for _ in 0..n {
                fragments.push(r.bytes()?.to_vec());
            }
            Reply::Fragments(fragments)
        }
        3 => {
            let kind = error_kind(r.u8()?)?;
            let message = r.string()?;
            Reply::Failed(RemoteError { kind, message })
        }
        4 => {
            let tag = r.u8()?;
            match SessionReader::from_code(tag) {
                Some(SessionReader::Handed(handed)) => Reply::HandOver(handed),
                _ => {
                    return Err(WireError::Tag {
                        what: "hand-over",
                        tag,
                    });
                }
            }
        }
        tag => return Err(WireError::Tag { what: "reply", tag }),
    };
    match bytes.len() - r.at {
        0 => Ok(reply),
        extra => Err(WireError::Trailing { extra }),
    }
}

fn read_index(r: &mut Reader<'_>) -> Result<MediaIndex, WireError> {
    let container = match r.u8()? {
        0 => Container::FragmentedMp4,
        1 => Container::WebM,
        2 => Container::Mp4,
        3 => Container::Mp3,
        tag => {
            return Err(WireError::Tag {
                what: "container",
                tag,
            });
        }
    };
    let duration = match r.u8()? {
        0 => None,
        1 => Some(r.f64()?),
        tag => {
            return Err(WireError::Tag {
                what: "duration",
                tag,
            });
        }
    };
    let init = r.u64()?..r.u64()?;
    let complete = match r.u8()? {
        0 => false,
        1 => true,
        tag => {
            return Err(WireError::Tag {
                what: "complete",
                tag,
            });
        }
    };
    // A track is at least an id, a kind and an empty codec's length.
    let n = r.count(8 + 1 + 4)?;
    let mut tracks = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.u64()?;
        let kind = match r.u8()? {
            0 => TrackKind::Video,
            1 => TrackKind::Audio,
            2 => TrackKind::Other,
            tag => return Err(WireError::Tag { what: "track", tag }),
        };
        let codec = r.string()?;
        tracks.push(Track { id, kind, codec });
    }
    let n = r.count(4 * 8)?;
    let mut segments = Vec::with_capacity(n);
    for _ in 0..n {
        segments.push(Segment {
            start: r.f64()?,
            end: r.f64()?,
            bytes: r.u64()?..r.u64()?,
        });
    }
    Ok(MediaIndex {
        container,
        tracks,
        duration,
        init,
        segments,
        complete,
    })
}

fn container_tag(container: Container) -> u8 {
    match container {
        Container::FragmentedMp4 => 0,
        Container::WebM => 1,
        Container::Mp4 => 2,
        Container::Mp3 => 3,
    }
}

fn kind_tag(kind: TrackKind) -> u8 {
    match kind {
        TrackKind::Video => 0,
        TrackKind::Audio => 1,
        TrackKind::Other => 2,
    }
}

/// Every kind, in tag order.
const ERROR_KINDS: [ErrorKind; 7] = [
    ErrorKind::UnknownFormat,
    ErrorKind::NotFragmented,
    ErrorKind::Malformed,
    ErrorKind::Unsupported,
    ErrorKind::Truncated,
    ErrorKind::TooLarge,
    ErrorKind::Elsewhere,
];

/// The kind's place in [`ERROR_KINDS`].
fn error_tag(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::UnknownFormat => 0,
        ErrorKind::NotFragmented => 1,
        ErrorKind::Malformed => 2,
        ErrorKind::Unsupported => 3,
        ErrorKind::Truncated => 4,
        ErrorKind::TooLarge => 5,
        ErrorKind::Elsewhere => 6,
    }
}

fn error_kind(tag: u8) -> Result<ErrorKind, WireError> {
    ERROR_KINDS
        .get(usize::from(tag))
        .copied()
        .ok_or(WireError::Tag { what: "error", tag })
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

/// Counts and lengths are `u32`: a wasm32 memory holds no more.
fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_count(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Reads a message front to back; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let at = self.at;
        let taken = at
            .checked_add(n)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or(WireError::Short { at })?;
        self.at = at + n;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let at = self.at;
        self.take(N)?
            .try_into()
            .map_err(|_| WireError::Short { at })
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        self.array().map(u64::from_le_bytes)
    }

    fn f64(&mut self) -> Result<f64, WireError> {
        self.array().map(|b| f64::from_bits(u64::from_le_bytes(b)))
    }

    /// A count of items of at least `min_size` bytes each, checked against
    /// what is left, so a forged count allocates nothing.
    fn count(&mut self, min_size: usize) -> Result<usize, WireError> {
        let at = self.at;
        let n = self.u32()? as usize;
        let left = self.bytes.len() - self.at;
        if n.saturating_mul(min_size) > left {
            return Err(WireError::Short { at });
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.count(1)?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, WireError> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index() -> MediaIndex {
        MediaIndex {
            container: Container::Mp4,
            tracks: vec![
                Track {
                    id: 1,
                    kind: TrackKind::Video,
                    codec: "avc1.4d401e".into(),
                },
                Track {
                    id: 2,
                    kind: TrackKind::Audio,
                    codec: "mp4a.40.2".into(),
                },
                Track {
                    id: 3,
                    kind: TrackKind::Other,
                    codec: "tx3g".into(),
                },
            ],
            duration: Some(12.5),
            init: 32..4096,
            segments: vec![
                Segment {
                    start: 0.0,
                    end: 2.0,
                    bytes: 4096..90_000,
                },
                Segment {
                    start: 2.0,
                    end: 12.5,
                    bytes: 90_000..1 << 40,
                },
            ],
            complete: true,
        }
    }

    /// One message of every shape the remuxer sends.
    fn every_reply() -> Vec<Reply> {
        let mut replies = vec![
            Reply::Step(Step::Ready),
            Reply::Step(Step::Pending),
            Reply::Step(Step::Replay { from: 1 << 40 }),
            Reply::Step(Step::NeedBytes {
                offset: u64::MAX - 7,
                len: 1 << 33,
            }),
            Reply::Index(None),
            Reply::Index(Some(index())),
            Reply::Fragments(vec![]),
            Reply::Fragments(vec![vec![], vec![0, 1, 2, 255], vec![9; 1000]]),
        ];
        for container in [
            Container::FragmentedMp4,
            Container::WebM,
            Container::Mp4,
            Container::Mp3,
        ] {
            let mut index = index();
            index.container = container;
            index.duration = None;
            index.complete = false;
            index.segments.clear();
            replies.push(Reply::Index(Some(index)));
        }
        for handed in [
            Handover::PlainMp4,
            Handover::RewriteFragments,
            Handover::TidyWebm,
            Handover::FragmentedMp4,
        ] {
            replies.push(Reply::HandOver(handed));
        }
        for kind in ERROR_KINDS {
            replies.push(Reply::Failed(RemoteError {
                kind,
                message: format!("{kind:?}: é ✓"),
            }));
        }
        replies
    }

    #[test]
    fn every_reply_comes_back_as_it_was_sent() {
        for reply in every_reply() {
            assert_eq!(decode(&encode(&reply)), Ok(reply.clone()), "{reply:?}");
        }
    }

    #[test]
    fn every_session_reader_has_its_own_code() {
        for (code, reader) in SESSION_READERS.iter().enumerate() {
            assert_eq!(usize::from(reader.code()), code);
            assert_eq!(SessionReader::from_code(reader.code()), Some(*reader));
        }
        assert_eq!(SessionReader::from_code(SESSION_READERS.len() as u8), None);
    }

    #[test]
    fn a_hand_over_names_a_handed_reader_not_a_container() {
        // Code 0 is the MP4 container's reader: no reader hands over to it.
        assert!(matches!(
            decode(&[WIRE_VERSION, 4, 0]),
            Err(WireError::Tag {
                what: "hand-over",
                ..
            })
        ));
    }

    #[test]
    fn a_track_of_kind_other_stays_other() {
        let Ok(Reply::Index(Some(back))) = decode(&encode(&Reply::Index(Some(index())))) else {
            panic!("no index came back");
        };
        let kinds: Vec<TrackKind> = back.tracks.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [TrackKind::Video, TrackKind::Audio, TrackKind::Other]
        );
    }

    #[test]
    fn every_media_error_keeps_its_kind_and_a_truncated_file_stays_truncated() {
        let errors = [
            (MediaError::UnknownFormat, ErrorKind::UnknownFormat),
            (MediaError::NotFragmented, ErrorKind::NotFragmented),
            (
                MediaError::Malformed {
                    container: "MP4",
                    offset: 8,
                    reason: "box too small".into(),
                },
                ErrorKind::Malformed,
            ),
            (
                MediaError::Unsupported {
                    container: "MP4",
                    what: "edit lists".into(),
                },
                ErrorKind::Unsupported,
            ),
            (
                MediaError::Truncated {
                    len: 100,
                    what: "moov",
                },
                ErrorKind::Truncated,
            ),
            (
                MediaError::TooLarge {
                    what: "moov",
                    limit: 64,
                },
                ErrorKind::TooLarge,
            ),
            (
                MediaError::Elsewhere {
                    truncated: true,
                    message: "cut".into(),
                },
                ErrorKind::Truncated,
            ),
            (
                MediaError::Elsewhere {
                    truncated: false,
                    message: "odd".into(),
                },
                ErrorKind::Elsewhere,
            ),
        ];
        for (error, kind) in errors {
            let sent = Reply::Failed(RemoteError::from(&error));
            let Ok(Reply::Failed(back)) = decode(&encode(&sent)) else {
                panic!("{error:?} did not come back as an error");
            };
            assert_eq!(back.kind, kind, "{error:?}");
            assert_eq!(back.message, error.to_string());
            let player_side = MediaError::from(back);
            assert_eq!(
                player_side,
                MediaError::Elsewhere {
                    truncated: kind == ErrorKind::Truncated,
                    message: error.to_string(),
                }
            );
        }
    }

    #[test]
    fn every_cut_short_message_is_an_error() {
        for reply in every_reply() {
            let bytes = encode(&reply);
            for len in 0..bytes.len() {
                assert!(
                    matches!(decode(&bytes[..len]), Err(WireError::Short { .. })),
                    "{reply:?} cut at {len}"
                );
            }
        }
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        let ready = encode(&Reply::Step(Step::Ready));
        let mut newer = ready.clone();
        newer[0] = WIRE_VERSION + 1;
        assert_eq!(
            decode(&newer),
            Err(WireError::Version {
                found: WIRE_VERSION + 1
            })
        );
        let mut longer = ready.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(WireError::Trailing { extra: 1 }));
        assert_eq!(
            decode(&[WIRE_VERSION, 9]),
            Err(WireError::Tag {
                what: "reply",
                tag: 9
            })
        );
        assert_eq!(
            decode(&[WIRE_VERSION, 3, 7, 0, 0, 0, 0]),
            Err(WireError::Tag {
                what: "error",
                tag: 7
            })
        );
        assert_eq!(
            decode(&[WIRE_VERSION, 3, 0, 1, 0, 0, 0, 0xff]),
            Err(WireError::Utf8)
        );
        // A forged count of four billion fragments allocates nothing.
        assert_eq!(
            decode(&[WIRE_VERSION, 2, 0xff, 0xff, 0xff, 0xff]),
            Err(WireError::Short { at: 2 })
        );
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn any_bytes_after_a_valid_head_decode_without_panicking(
            head in 0usize..4,
            tail in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut bytes = vec![WIRE_VERSION, head as u8];
            bytes.extend(tail);
            let _ = decode(&bytes);
        }
    }
}
