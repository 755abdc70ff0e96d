//! Tracks: each TrackEntry's number, kind and codec, turned into the codec
//! strings browsers accept in `video/webm; codecs="..."`.

use super::ebml::{Children, read_ascii, read_uint};
use super::elements as id;
use super::{malformed, unsupported};
use crate::index::{MediaError, Track, TrackKind};

/// CodecPrivate holds codec configuration (Vorbis headers are the largest,
/// a few KB); more than this is not a real file.
pub const MAX_CODEC_PRIVATE: u64 = 1 << 20;
/// More tracks than this in a file meant for a browser is hostile.
const MAX_TRACKS: usize = 64;

/// Parses the Tracks payload (which starts at file offset `at`).
pub fn parse(payload: &[u8], at: u64) -> Result<Vec<Track>, MediaError> {
    let mut tracks = Vec::new();
    for child in Children::new(payload, at) {
        let child = child?;
        if child.id != id::TRACK_ENTRY {
            continue;
        }
        if tracks.len() >= MAX_TRACKS {
            return Err(MediaError::TooLarge {
                what: "track count",
                limit: MAX_TRACKS as u64,
            });
        }
        tracks.push(parse_entry(child.payload, child.offset)?);
    }
    if tracks.is_empty() {
        return Err(malformed(at, "Tracks without a TrackEntry"));
    }
    Ok(tracks)
}

fn parse_entry(payload: &[u8], at: u64) -> Result<Track, MediaError> {
    let mut number = None;
    let mut kind = None;
    let mut codec_id = None;
    let mut private: &[u8] = &[];
    for child in Children::new(payload, at) {
        let child = child?;
        let bad = |reason| malformed(child.offset, reason);
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
    let codec = match (kind, codec_id) {
        (TrackKind::Video, "V_VP8") => "vp8".to_owned(),
        (TrackKind::Video, "V_VP9") => vp9_codec(private),
        (TrackKind::Video, "V_AV1") => av1_codec(private),
        (TrackKind::Audio, "A_OPUS") => "opus".to_owned(),
        (TrackKind::Audio, "A_VORBIS") => "vorbis".to_owned(),
        (TrackKind::Other, other) => other.to_owned(),
        _ => {
            return Err(unsupported(
                "codec outside WebM (VP8, VP9, AV1, Opus, Vorbis)",
            ));
        }
    };
    Ok(Track { id, kind, codec })
}

/// VP9: `vp09.PP.LL.DD` when CodecPrivate carries profile, level and bit
/// depth (the WebM VP9 codec features 1, 2, 3); plain `vp9` otherwise, which
/// browsers accept for WebM. A level of 0 means "unknown" and is not valid in
/// the long form.
fn vp9_codec(private: &[u8]) -> String {
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
    match (profile, level, depth) {
        (Some(p @ 0..=3), Some(l @ 10..=62), Some(d @ (8 | 10 | 12))) => {
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
        let tracks = parse(&payload, 0).unwrap();
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
        assert_eq!(vp9_codec(&[1, 1, 0, 2, 1, 31, 3, 1, 8]), "vp09.00.31.08");
        assert_eq!(
            vp9_codec(&[1, 1, 2, 2, 1, 0, 3, 1, 10]),
            "vp9",
            "level 0 is unknown"
        );
        assert_eq!(vp9_codec(&[1, 5, 0]), "vp9", "truncated feature");
    }

    #[test]
    fn av1_from_av1c() {
        // Main profile, level 8 (4.0), main tier, 8 bit.
        assert_eq!(av1_codec(&[0x81, 0x08, 0x0C, 0x00]), "av01.0.08M.08");
        // High profile, level 13, high tier, 10 bit.
        assert_eq!(av1_codec(&[0x81, 0x2D, 0xC0, 0x00]), "av01.1.13H.10");
        let tracks = parse(&entry(1, 1, "V_AV1", &[0x81, 0x04, 0x0C, 0x00]), 0).unwrap();
        assert_eq!(tracks[0].codec, "av01.0.04M.08");
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            parse(&entry(1, 2, "A_AAC", &[]), 0),
            Err(MediaError::Unsupported { .. })
        ));
        assert!(matches!(
            parse(&entry(0, 2, "A_OPUS", &[]), 0),
            Err(MediaError::Malformed { .. })
        ));
        assert!(matches!(parse(&[], 0), Err(MediaError::Malformed { .. })));
    }
}
