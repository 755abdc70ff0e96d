//! The headers encoders put in the first frame of an MP3, in place of
//! audio, so that players know the duration and can seek without reading
//! the whole file:
//!
//! - **Xing** (VBR) / **Info** (CBR, written by LAME): optional frame count,
//!   byte count and a 100-entry table of contents whose entry *i* says
//!   where *i* % of the duration starts, in 1/256ths of the byte count,
//!   counted from the start of the header's own frame.
//! - **VBRI** (Fraunhofer): frame and byte counts and a table of the byte
//!   sizes of equal-duration spans, counted from the frame after its own.
//!
//! Both are read from the bytes of the first frame only; everything is
//! validated here so that the indexer can trust what it gets (a header that
//! does not check out is treated as absent, and the file as plain CBR).

use super::frame::{FrameHeader, HEADER_LEN};

/// Entries in a Xing table of contents.
pub const TOC_LEN: usize = 100;

/// A Xing or Info header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xing {
    /// `Info`: the encoder says the stream is constant-bitrate.
    pub cbr: bool,
    /// Audio frames, not counting the header's own frame.
    pub frames: Option<u32>,
    /// Bytes of the stream from the header's own frame to the last frame.
    pub bytes: Option<u32>,
    /// Byte position of each percent of the duration, in 1/256ths of
    /// `bytes`; ascending (a table that is not is dropped).
    pub toc: Option<[u8; TOC_LEN]>,
    /// Encoder delay and padding in samples, from a LAME (or Lavc) tag.
    pub gapless: Option<(u32, u32)>,
}

const XING_FRAMES: u32 = 0x1;
const XING_BYTES: u32 = 0x2;
const XING_TOC: u32 = 0x4;
const XING_QUALITY: u32 = 0x8;
/// Where the delay/padding field sits in the LAME tag, from its start.
const LAME_DELAY_AT: usize = 21;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// The Xing/Info header in `frame` (the first frame's bytes, header
/// included), if it has one. Zero counts are reported as absent: a frame
/// count of 0 would mean a zero duration, and a byte count of 0 an empty
/// stream, neither of which the frames that follow agree with.
pub fn parse_xing(frame: &[u8], header: &FrameHeader) -> Option<Xing> {
    let at = HEADER_LEN + header.side_info_len();
    let tag = frame.get(at..at + 4)?;
    let cbr = match tag {
        b"Xing" => false,
        b"Info" => true,
        _ => return None,
    };
    let flags = be32(frame, at + 4)?;
    let mut pos = at + 8;
    let mut field = |present: bool, len: usize| -> Option<Option<usize>> {
        if !present {
            return Some(None);
        }
        let start = pos;
        pos += len;
        (pos <= frame.len()).then_some(Some(start))
    };
    let frames_at = field(flags & XING_FRAMES != 0, 4)?;
    let bytes_at = field(flags & XING_BYTES != 0, 4)?;
    let toc_at = field(flags & XING_TOC != 0, TOC_LEN)?;
    let _quality_at = field(flags & XING_QUALITY != 0, 4)?;
    let lame_at = pos;
    let frames = frames_at.and_then(|p| be32(frame, p)).filter(|&n| n > 0);
    let bytes = bytes_at.and_then(|p| be32(frame, p)).filter(|&n| n > 0);
    let toc = toc_at
        .and_then(|p| frame.get(p..p + TOC_LEN))
        .and_then(|t| <[u8; TOC_LEN]>::try_from(t).ok())
        .filter(|t| t.windows(2).all(|w| w[0] <= w[1]));
    Some(Xing {
        cbr,
        frames,
        bytes,
        toc,
        gapless: lame_gapless(frame, lame_at),
    })
}

/// The LAME tag's encoder delay and padding (12 bits each), when the tag
/// is there: an encoder name of four ASCII letters/digits ("LAME", "Lavc",
/// "Lavf") opens it.
fn lame_gapless(frame: &[u8], at: usize) -> Option<(u32, u32)> {
    let name = frame.get(at..at + 4)?;
    if !name.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let b = frame.get(at + LAME_DELAY_AT..at + LAME_DELAY_AT + 3)?;
    let packed = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
    Some((packed >> 12, packed & 0xfff))
}

/// A VBRI header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vbri {
    /// Bytes of the stream, the VBRI frame included.
    pub bytes: u32,
    /// Audio frames, not counting the VBRI frame.
    pub frames: u32,
    /// Byte size of each span of `frames_per_entry` frames, scaled; empty
    /// when the table does not fit the frame or is not usable.
    pub toc: Vec<u32>,
    pub frames_per_entry: u16,
}

/// Where the VBRI header sits: after the frame header and 32 bytes, for
/// every MPEG version and channel mode.
const VBRI_AT: usize = HEADER_LEN + 32;
/// Bytes of the VBRI header before its table.
const VBRI_FIXED: usize = 26;
/// Most entries we read; Fraunhofer's encoder writes about 100.
pub const MAX_VBRI_ENTRIES: usize = 4096;

/// The VBRI header in `frame` (the first frame's bytes, header included),
/// if it has a valid one (non-zero frame and byte counts).
pub fn parse_vbri(frame: &[u8]) -> Option<Vbri> {
    if frame.get(VBRI_AT..VBRI_AT + 4)? != b"VBRI" {
        return None;
    }
    let h = frame.get(VBRI_AT..VBRI_AT + VBRI_FIXED)?;
    let bytes = be32(h, 10)?;
    let frames = be32(h, 14)?;
    if bytes == 0 || frames == 0 {
        return None;
    }
    let entries = usize::from(be16(h, 18)?);
    let scale = u32::from(be16(h, 20)?);
    let entry_size = usize::from(be16(h, 22)?);
    let frames_per_entry = be16(h, 24)?;
    let table_at = VBRI_AT + VBRI_FIXED;
    let usable = (1..=4).contains(&entry_size)
        && entries <= MAX_VBRI_ENTRIES
        && frames_per_entry > 0
        && scale > 0;
    let table = usable
        .then(|| frame.get(table_at..table_at + entries * entry_size))
        .flatten();
    let toc = table.map_or_else(Vec::new, |t| {
        t.chunks_exact(entry_size)
            .map(|e| {
                let v = e.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
                v.saturating_mul(scale)
            })
            .collect()
    });
    Some(Vbri {
        bytes,
        frames,
        toc,
        frames_per_entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp3::frame::parse;

    /// An MPEG-1 128 kbit/s stereo frame (417 bytes) with `body` at `at`.
    fn frame_with(at: usize, body: &[u8]) -> (Vec<u8>, FrameHeader) {
        let h = parse([0xFF, 0xFB, 0x90, 0x44]).expect("valid");
        let mut f = vec![0u8; h.frame_len()];
        f[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x44]);
        let end = (at + body.len()).min(f.len());
        f[at..end].copy_from_slice(&body[..end - at]);
        (f, h)
    }

    fn xing_body(tag: &[u8; 4], flags: u32, frames: u32, bytes: u32, toc: &[u8]) -> Vec<u8> {
        let mut b = tag.to_vec();
        b.extend(flags.to_be_bytes());
        b.extend(frames.to_be_bytes());
        b.extend(bytes.to_be_bytes());
        b.extend(toc);
        b
    }

    #[test]
    fn xing_with_everything() {
        let toc: Vec<u8> = (0..100).map(|i| (i * 255 / 99) as u8).collect();
        let (f, h) = frame_with(36, &xing_body(b"Xing", 0xF, 1000, 400_000, &toc));
        let x = parse_xing(&f, &h).expect("xing");
        assert!(!x.cbr);
        assert_eq!((x.frames, x.bytes), (Some(1000), Some(400_000)));
        assert_eq!(x.toc.expect("toc")[99], 255);
    }

    #[test]
    fn info_without_toc_and_absent_fields() {
        let (f, h) = frame_with(36, &xing_body(b"Info", 0x1, 7, 0, &[]));
        let x = parse_xing(&f, &h).expect("info");
        assert!(x.cbr);
        // With only the frames flag, the next 4 bytes are not the byte count.
        assert_eq!((x.frames, x.bytes, x.toc), (Some(7), None, None));
    }

    #[test]
    fn hostile_xing_fields_are_dropped() {
        let mut toc: Vec<u8> = (0..100).map(|i| i as u8).collect();
        toc[50] = 3; // goes back
        let (f, h) = frame_with(36, &xing_body(b"Xing", 0x7, 0, 0, &toc));
        let x = parse_xing(&f, &h).expect("xing");
        assert_eq!((x.frames, x.bytes, x.toc), (None, None, None));
        // Flags promising a TOC past the frame's end.
        let (f, h) = frame_with(36, &xing_body(b"Xing", 0x7, 1, 1, &[]));
        assert!(parse_xing(&f[..60], &h).is_none());
        // Not at the offset the channel mode implies.
        let (f, h) = frame_with(21, &xing_body(b"Xing", 0x7, 1, 1, &[]));
        assert!(parse_xing(&f, &h).is_none());
    }

    fn vbri_body(bytes: u32, frames: u32, entries: &[u16], size: u16, fpe: u16) -> Vec<u8> {
        let mut b = b"VBRI".to_vec();
        b.extend(1u16.to_be_bytes()); // version
        b.extend(0u16.to_be_bytes()); // delay
        b.extend(75u16.to_be_bytes()); // quality
        b.extend(bytes.to_be_bytes());
        b.extend(frames.to_be_bytes());
        b.extend((entries.len() as u16).to_be_bytes());
        b.extend(2u16.to_be_bytes()); // scale
        b.extend(size.to_be_bytes());
        b.extend(fpe.to_be_bytes());
        for e in entries {
            b.extend(e.to_be_bytes());
        }
        b
    }

    #[test]
    fn vbri() {
        let (f, _) = frame_with(36, &vbri_body(50_000, 120, &[100, 200, 300], 2, 40));
        let v = parse_vbri(&f).expect("vbri");
        assert_eq!((v.bytes, v.frames, v.frames_per_entry), (50_000, 120, 40));
        assert_eq!(v.toc, [200, 400, 600]);
        // A table that does not fit the frame is dropped, the counts kept.
        let (f, _) = frame_with(36, &vbri_body(50_000, 120, &[1; 200], 2, 40));
        assert_eq!(parse_vbri(&f).expect("vbri").toc, Vec::<u32>::new());
        // Zero counts: no header.
        let (f, _) = frame_with(36, &vbri_body(0, 120, &[1], 2, 40));
        assert!(parse_vbri(&f).is_none());
        assert!(parse_vbri(&f[..50]).is_none());
    }
}
