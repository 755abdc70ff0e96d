//! Tracks: each TrackEntry's number, kind and codec, turned into the codec
//! strings browsers accept in `video/webm; codecs="..."`.

use super::ebml::{Children, read_ascii, read_uint};
use super::elements as id;
use super::{chromium, malformed};
use crate::index::{MediaError, Track, TrackKind};

/// CodecPrivate holds codec configuration (Vorbis headers are the largest,
/// a few KB); more than this is not a real file.
pub const MAX_CODEC_PRIVATE: u64 = 1 << 20;
/// More tracks than this in a file meant for a browser is hostile.
const MAX_TRACKS: usize = 64;

/// What one TrackEntry says that a codec string is made from.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub kind: TrackKind,
    pub codec_id: &'a str,
    pub private: &'a [u8],
    /// Video PixelWidth and PixelHeight, when given.
    pub width: Option<u64>,
    pub height: Option<u64>,
    /// DefaultDuration, nanoseconds per frame, when given.
    pub default_duration: Option<u64>,
}

/// Makes the codec string of a track; `None` when the reader cannot.
pub type CodecFn = fn(&Entry<'_>) -> Option<String>;

/// The tracks, and whether Chromium's MSE would refuse them as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackList {
    pub tracks: Vec<Track>,
    /// A TrackEntry holds an element Chromium's WebM parser does not know
    /// (see `webm::chromium`), or a codec outside WebM's: the file
    /// needs the tidy reader.
    pub untidy: bool,
    /// Each track's DefaultDuration (ns), by track number, for de-lacing.
    pub default_durations: Vec<(u64, u64)>,
}

/// Parses the Tracks payload (which starts at file offset `at`) with the
/// WebM codecs ([`webm_codec`]); a track in another codec keeps its
/// CodecID as its codec and marks the list untidy.
pub fn parse(payload: &[u8], at: u64) -> Result<TrackList, MediaError> {
    parse_with(payload, at, webm_codec)
}

/// [`parse`] with another codec mapping (the tidy reader's).
pub fn parse_with(payload: &[u8], at: u64, codec: CodecFn) -> Result<TrackList, MediaError> {
    let mut list = TrackList {
        tracks: Vec::new(),
        untidy: false,
        default_durations: Vec::new(),
    };
    for child in Children::new(payload, at) {
        let child = child?;
        if child.id != id::TRACK_ENTRY {
            continue;
        }
        if list.tracks.len() >= MAX_TRACKS {
            return Err(MediaError::TooLarge {
                what: "track count",
                limit: MAX_TRACKS as u64,
            });
        }
        parse_entry(child.payload, child.offset, codec, &mut list)?;
    }
    if list.tracks.is_empty() {
        return Err(malformed(at, "Tracks without a TrackEntry"));
    }
    Ok(list)
}

/// True when a Video or Audio master holds an element Chromium refuses;
/// reads PixelWidth/PixelHeight on the way.
fn read_dimensions(
    master: u32,
    payload: &[u8],
    at: u64,
    size: &mut (Option<u64>, Option<u64>),
) -> Result<bool, MediaError> {
    let mut untidy = false;
    for child in Children::new(payload, at) {
        let child = child?;
        untidy |= !chromium::knows(master, child.id);
        let value = || read_uint(child.payload).map_err(|r| malformed(child.offset, r));
        match child.id {
            chromium::PIXEL_WIDTH if master == chromium::VIDEO => size.0 = Some(value()?),
            chromium::PIXEL_HEIGHT if master == chromium::VIDEO => size.1 = Some(value()?),
            _ => {}
        }
    }
    Ok(untidy)
}

fn parse_entry(
    payload: &[u8],
    at: u64,
    codec: CodecFn,
    list: &mut TrackList,
) -> Result<(), MediaError> {
    let mut number = None;
    let mut kind = None;
    let mut codec_id = None;
    let mut private: &[u8] = &[];
    let mut size = (None, None);
    let mut default_duration = None;
    for child in Children::new(payload, at) {
        let child = child?;
        let bad = |reason| malformed(child.offset, reason);
        list.untidy |= !chromium::knows(id::TRACK_ENTRY, child.id);
        match child.id {
            id::TRACK_NUMBER => number = Some(read_uint(child.payload).map_err(bad)?),
            id::TRACK_TYPE => {
                kind = Some(match read_uint(child.payload).map_err(bad)? {
                    1 => TrackKind::Video,
                    2 => TrackKind::Audio,
                    _ => TrackKind::Other,
                })
            }
            id::CODEC_ID => codec_id = Some(read_ascii(child.payload).map_err(bad)?),
            id::CODEC_PRIVATE => {
                if child.payload.len() as u64 > MAX_CODEC_PRIVATE {
                    return Err(MediaError::TooLarge {
                        what: "CodecPrivate",
                        limit: MAX_CODEC_PRIVATE,
                    });
                }
                private = child.payload;
            }
            chromium::DEFAULT_DURATION => {
                default_duration = Some(read_uint(child.payload).map_err(bad)?)
            }
            chromium::VIDEO | chromium::AUDIO => {
                list.untidy |= read_dimensions(child.id, child.payload, child.offset, &mut size)?;
            }
            _ => {}
        }
    }
    let Some(id) = number.filter(|&n| n > 0) else {
        return Err(malformed(at, "TrackEntry without a TrackNumber"));
    };
    let Some(codec_id) = codec_id else {
        return Err(malformed(at, "TrackEntry without a CodecID"));
    };
    let kind = kind.ok_or_else(|| malformed(at, "TrackEntry without a TrackType"))?;
    let entry = Entry {
        kind,
        codec_id,
        private,
        width: size.0,
        height: size.1,
        default_duration,
    };
    let codec = match codec(&entry) {
        Some(codec) => codec,
        None if kind == TrackKind::Other => codec_id.to_owned(),
        None => {
            list.untidy = true;
            codec_id.to_owned()
        }
    };
    if let Some(d) = default_duration.filter(|&d| d > 0) {
        list.default_durations.push((id, d));
    }
    list.tracks.push(Track { id, kind, codec });
    Ok(())
}

/// The codecs MSE's WebM byte stream takes: VP8, VP9, AV1, Opus, Vorbis.
pub fn webm_codec(entry: &Entry<'_>) -> Option<String> {
    Some(match (entry.kind, entry.codec_id) {
        (TrackKind::Video, "V_VP8") => "vp8".to_owned(),
        (TrackKind::Video, "V_VP9") => vp9_codec(entry.private, entry.width, entry.height),
        (TrackKind::Video, "V_AV1") => av1_codec(entry.private),
        (TrackKind::Audio, "A_OPUS") => "opus".to_owned(),
        (TrackKind::Audio, "A_VORBIS") => "vorbis".to_owned(),
        _ => return None,
    })
}

/// VP9: `vp09.PP.LL.DD` when CodecPrivate carries profile and bit depth
/// (the WebM VP9 codec features 1, 2, 3); a level that is missing or 0
/// ("unknown", which `isTypeSupported` refuses) is derived from the picture
/// size ([`crate::codec::vp9_level`]). Plain `vp9` otherwise, which
/// browsers accept for WebM.
fn vp9_codec(private: &[u8], width: Option<u64>, height: Option<u64>) -> String {
    let (mut profile, mut level, mut depth) = (None, None, None);
    let mut rest = private;
    while let [feature, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let Some(value) = tail.get(..len) else { break };
        if let [v] = value {
            match feature {
                1 => profile = Some(*v),
                2 => level = Some(*v),
                3 => depth = Some(*v),
                _ => {}
            }
        }
        rest = tail.get(len..).unwrap_or(&[]);
    }
    let derived = || match (width, height) {
        (Some(w), Some(h)) => Some(crate::codec::vp9_level(w, h, None)),
        _ => None,
    };
    let level = match level {
        Some(l @ 10..=62) => Some(l),
        _ => derived(),
    };
    match (profile, level, depth) {
        (Some(p @ 0..=3), Some(l), Some(d @ (8 | 10 | 12))) => {
            format!("vp09.{p:02}.{l:02}.{d:02}")
        }
        _ => "vp9".to_owned(),
    }
}

/// AV1: `av01.P.LLT.DD` from the `av1C` record in CodecPrivate (profile,
/// level, tier, bit depth). Without one, the main profile at level 4.0,
/// 8 bits, is the usual guess for web video.
fn av1_codec(private: &[u8]) -> String {
    match private {
        [marker, b1, b2, ..] if marker & 0x80 != 0 => {
            let profile = b1 >> 5;
            let level = b1 & 0x1F;
            let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
            let depth = match (b2 & 0x40 != 0, b2 & 0x20 != 0) {
                (true, true) => 12,
                (true, false) => 10,
                _ => 8,
            };
            format!("av01.{profile}.{level:02}{tier}.{depth:02}")
        }
        _ => "av01.0.08M.08".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// A TrackEntry with the given number, type, codec ID and private data.
    fn entry(number: u8, kind: u8, codec: &str, private: &[u8]) -> Vec<u8> {
        let mut body = vec![
            0xD7,
            0x81,
            number,
            0x83,
            0x81,
            kind,
            0x86,
            0x80 | codec.len() as u8,
        ];
        body.extend_from_slice(codec.as_bytes());
        if !private.is_empty() {
            body.extend_from_slice(&[0x63, 0xA2, 0x80 | private.len() as u8]);
            body.extend_from_slice(private);
        }
        let mut out = vec![0xAE, 0x80 | body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn codecs() {
        let mut payload = entry(1, 1, "V_VP9", &[]);
        payload.extend(entry(2, 2, "A_OPUS", b"OpusHead"));
        payload.extend(entry(3, 17, "S_TEXT/WEBVTT", &[]));
        let list = parse(&payload, 0).unwrap();
        assert!(!list.untidy);
        let tracks = list.tracks;
        let codecs: Vec<_> = tracks
            .iter()
            .map(|t| (t.id, t.kind, t.codec.as_str()))
            .collect();
        assert_eq!(
            codecs,
            [
                (1, TrackKind::Video, "vp9"),
                (2, TrackKind::Audio, "opus"),
                (3, TrackKind::Other, "S_TEXT/WEBVTT")
            ]
        );
    }

    #[test]
    fn vp9_long_form() {
        assert_eq!(
            vp9_codec(&[1, 1, 0, 2, 1, 31, 3, 1, 8], None, None),
            "vp09.00.31.08"
        );
        assert_eq!(
            vp9_codec(&[1, 1, 2, 2, 1, 0, 3, 1, 10], None, None),
            "vp9",
            "level 0 is unknown, and no picture size to derive it from"
        );
        assert_eq!(
            vp9_codec(&[1, 1, 2, 2, 1, 0, 3, 1, 10], Some(1920), Some(1080)),
            "vp09.02.40.10",
            "level 0 derived from 1080p"
        );
        assert_eq!(
            vp9_codec(&[1, 1, 0, 3, 1, 8], Some(320), Some(180)),
            "vp09.00.11.08",
            "missing level derived from 320x180"
        );
        assert_eq!(
            vp9_codec(&[1, 5, 0], None, None),
            "vp9",
            "truncated feature"
        );
    }

    #[test]
    fn av1_from_av1c() {
        // Main profile, level 8 (4.0), main tier, 8 bit.
        assert_eq!(av1_codec(&[0x81, 0x08, 0x0C, 0x00]), "av01.0.08M.08");
        // High profile, level 13, high tier, 10 bit.
        assert_eq!(av1_codec(&[0x81, 0x2D, 0xC0, 0x00]), "av01.1.13H.10");
        let tracks = parse(&entry(1, 1, "V_AV1", &[0x81, 0x04, 0x0C, 0x00]), 0)
            .unwrap()
            .tracks;
        assert_eq!(tracks[0].codec, "av01.0.04M.08");
    }

    #[test]
    fn foreign_codecs_and_elements_are_untidy() {
        let list = parse(&entry(1, 2, "A_AAC", &[0x11, 0x90]), 0).unwrap();
        assert!(list.untidy, "AAC is not a WebM codec");
        assert_eq!(list.tracks[0].codec, "A_AAC");
        // mkvmerge's LanguageBCP47 (0x22B59D) in an Opus track.
        let mut bcp47 = entry(1, 2, "A_OPUS", b"OpusHead");
        bcp47.extend_from_slice(&[0x22, 0xB5, 0x9D, 0x83, b'u', b'n', b'd']);
        bcp47[1] += 7;
        assert!(parse(&bcp47, 0).unwrap().untidy);
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            parse(&entry(0, 2, "A_OPUS", &[]), 0),
            Err(MediaError::Malformed { .. })
        ));
        assert!(matches!(parse(&[], 0), Err(MediaError::Malformed { .. })));
    }
}
