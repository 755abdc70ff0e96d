//! Codec strings for the Matroska codecs MSE's WebM does not take, so that
//! the player can ask `isTypeSupported` (and fall back to native playback,
//! which plays them) rather than fail.

use crate::index::TrackKind;
use crate::webm::tracks::{Entry, webm_codec};

/// WebM's codecs, then H.264, HEVC, AAC, MP3, AC-3, E-AC-3, FLAC.
pub fn matroska_codec(entry: &Entry<'_>) -> Option<String> {
    if let Some(codec) = webm_codec(entry) {
        return Some(codec);
    }
    let p = entry.private;
    Some(match (entry.kind, entry.codec_id) {
        // avcC: version, profile, compatibility, level.
        (TrackKind::Video, "V_MPEG4/ISO/AVC") => match p {
            [1, profile, compat, level, ..] => format!("avc1.{profile:02x}{compat:02x}{level:02x}"),
            _ => "avc1.42e01e".to_owned(),
        },
        (TrackKind::Video, "V_MPEGH/ISO/HEVC") => hevc(p),
        (TrackKind::Audio, "A_AAC") => match p {
            // AudioSpecificConfig: a 5-bit object type, 31 escaping to 6 more.
            [b0, b1, ..] if b0 >> 3 == 31 => {
                format!("mp4a.40.{}", 32 + (((b0 & 7) << 3) | (b1 >> 5)))
            }
            [b0, ..] if b0 >> 3 != 0 => format!("mp4a.40.{}", b0 >> 3),
            _ => "mp4a.40.2".to_owned(),
        },
        (TrackKind::Audio, id) if id.starts_with("A_AAC/") => {
            let object = match id.rsplit('/').next() {
                Some("MAIN") => 1,
                Some("SBR") => 5,
                Some("SSR") => 3,
                Some("LTP") => 4,
                _ => 2,
            };
            format!("mp4a.40.{object}")
        }
        (TrackKind::Audio, "A_MPEG/L3") => "mp3".to_owned(),
        (TrackKind::Audio, "A_AC3") => "ac-3".to_owned(),
        (TrackKind::Audio, "A_EAC3") => "ec-3".to_owned(),
        (TrackKind::Audio, "A_FLAC") => "flac".to_owned(),
        _ => return None,
    })
}

/// `hev1.P.C.TL.B…` from an hvcC (ISO/IEC 14496-15 Annex E).
fn hevc(p: &[u8]) -> String {
    let (Some(&b1), Some(compat), Some(constraints), Some(&level)) =
        (p.get(1), p.get(2..6), p.get(6..12), p.get(12))
    else {
        return "hev1.1.6.L93.B0".to_owned();
    };
    let space = ["", "A", "B", "C"]
        .get(usize::from(b1 >> 6))
        .copied()
        .unwrap_or("");
    let tier = if b1 & 0x20 != 0 { 'H' } else { 'L' };
    let profile = b1 & 0x1F;
    let flags = compat
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    let mut out = format!(
        "hev1.{space}{profile}.{:x}.{tier}{level}",
        flags.reverse_bits()
    );
    let used = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1);
    for b in constraints.iter().take(used.max(1)) {
        out.push_str(&format!(".{b:X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(kind: TrackKind, codec_id: &'a str, private: &'a [u8]) -> Entry<'a> {
        Entry {
            kind,
            codec_id,
            private,
            width: None,
            height: None,
            default_duration: None,
        }
    }

    #[test]
    fn h264_aac_and_friends() {
        let avc = [1, 0x4D, 0x40, 0x0D, 0xFF];
        assert_eq!(
            matroska_codec(&entry(TrackKind::Video, "V_MPEG4/ISO/AVC", &avc)).as_deref(),
            Some("avc1.4d400d")
        );
        // AAC LC, 48 kHz, stereo; HE-AAC; an escaped object type (32 + 2).
        for (asc, codec) in [
            (&[0x11, 0x90][..], "mp4a.40.2"),
            (&[0x2B, 0x92][..], "mp4a.40.5"),
            (&[0xF8, 0x40][..], "mp4a.40.34"),
        ] {
            assert_eq!(
                matroska_codec(&entry(TrackKind::Audio, "A_AAC", asc)).as_deref(),
                Some(codec)
            );
        }
        assert_eq!(
            matroska_codec(&entry(TrackKind::Audio, "A_AAC/MPEG4/LC/SBR", &[])).as_deref(),
            Some("mp4a.40.5")
        );
        assert_eq!(
            matroska_codec(&entry(TrackKind::Audio, "A_FLAC", &[])).as_deref(),
            Some("flac")
        );
        assert_eq!(
            matroska_codec(&entry(TrackKind::Audio, "A_OPUS", &[])).as_deref(),
            Some("opus")
        );
        assert_eq!(
            matroska_codec(&entry(TrackKind::Audio, "A_TTA1", &[])),
            None
        );
    }

    #[test]
    fn hevc_main_profile() {
        // Main profile, compatibility flags 0x60000000, main tier, level 93.
        let hvcc = [1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93];
        assert_eq!(hevc(&hvcc), "hev1.1.6.L93.90");
        assert_eq!(hevc(&[1]), "hev1.1.6.L93.B0");
    }
}
