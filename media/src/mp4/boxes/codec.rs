//! Sample entries (`stsd` children) to RFC 6381 codec strings, the form
//! `MediaSource.isTypeSupported` and `addSourceBuffer` take.
//!
//! | entry            | config  | string                                   |
//! |------------------|---------|------------------------------------------|
//! | `avc1`, `avc3`   | `avcC`  | `avc1.PPCCLL` (profile, constraints, level, hex) |
//! | `hvc1`, `hev1`   | `hvcC`  | `hvc1.1.6.L93.B0` (ISO 14496-15 annex E)  |
//! | `vp09`           | `vpcC`  | `vp09.PP.LL.DD` (profile, level, bit depth) |
//! | `av01`           | `av1C`  | `av01.P.LLT.DD`                           |
//! | `mp4a`           | `esds`  | `mp4a.40.AOT`, or `mp4a.OO` for other object types |
//! | `Opus`, `fLaC`   |         | `opus`, `flac`                           |
//!
//! Encrypted entries (`encv`, `enca`) are read as their original format
//! (`sinf/frma`). Other entries pass through as their four-character code
//! (`ac-3`, `ec-3` are already RFC 6381 strings).
//!
//! Strings are built by pushing digits, not with `format!`: the player is
//! compiled to wasm and every formatting path counts.

use super::{Boxes, Child, Cursor, FourCc, full_box, malformed};
use crate::index::MediaError;

/// Bytes of fixed fields before the child boxes of a VisualSampleEntry.
const VISUAL_FIELDS: usize = 78;
/// ... of an AudioSampleEntry (version 0; QuickTime versions 1 and 2 add more).
const AUDIO_FIELDS: usize = 28;

/// The codec string of one sample entry.
pub fn codec_string(entry: &Child<'_>) -> Result<String, MediaError> {
    let mut kind = entry.header.kind;
    let visual = match &kind {
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"vp09" | b"av01" | b"encv" | b"mp4v" | b"dvh1"
        | b"dvhe" => true,
        b"mp4a" | b"Opus" | b"fLaC" | b"ac-3" | b"ec-3" | b"enca" => false,
        _ => return Ok(fourcc_string(&kind)),
    };
    let skip = if visual {
        VISUAL_FIELDS
    } else {
        audio_fields(entry)?
    };
    let children = entry.children_from(skip)?;
    if &kind == b"encv" || &kind == b"enca" {
        kind = original_format(entry, children.clone())?;
    }
    match &kind {
        b"avc1" | b"avc3" => avc(&kind, entry, children),
        b"hvc1" | b"hev1" => hevc(&kind, entry, children),
        b"vp09" => vp9(entry, children),
        b"av01" => av1(entry, children),
        b"mp4a" => mp4a(entry, children),
        b"Opus" => Ok("opus".into()),
        b"fLaC" => Ok("flac".into()),
        _ => Ok(fourcc_string(&kind)),
    }
}

/// Fixed-field length of an audio sample entry, by its (QuickTime) version.
fn audio_fields(entry: &Child<'_>) -> Result<usize, MediaError> {
    let mut c = entry.cursor("audio sample entry too short");
    c.skip(8)?; // reserved, data_reference_index
    Ok(match c.u16()? {
        1 => AUDIO_FIELDS + 16,
        2 => AUDIO_FIELDS + 36,
        _ => AUDIO_FIELDS,
    })
}

/// `sinf/frma`: the format an encrypted entry had before encryption.
fn original_format(entry: &Child<'_>, children: Boxes<'_>) -> Result<FourCc, MediaError> {
    let frma = match children.find(b"sinf")? {
        Some(sinf) => sinf.children()?.find(b"frma")?,
        None => None,
    };
    let frma = frma.ok_or_else(|| {
        malformed(
            entry.header.offset,
            "encrypted sample entry without 'sinf/frma'",
        )
    })?;
    let b = frma.cursor("'frma' box too short").take(4)?;
    Ok([b[0], b[1], b[2], b[3]])
}

/// The config box `kind` among the entry's children, as a cursor.
fn config<'a>(
    entry: &Child<'_>,
    children: Boxes<'a>,
    kind: &FourCc,
    missing: &'static str,
    short: &'static str,
) -> Result<Cursor<'a>, MediaError> {
    let child = children
        .find(kind)?
        .ok_or_else(|| malformed(entry.header.offset, missing))?;
    Ok(child.cursor(short))
}

fn avc(kind: &FourCc, entry: &Child<'_>, children: Boxes<'_>) -> Result<String, MediaError> {
    let mut c = config(
        entry,
        children,
        b"avcC",
        "AVC sample entry without 'avcC'",
        "'avcC' box too short",
    )?;
    let _configuration_version = c.u8()?;
    let mut s = fourcc_string(kind);
    s.push('.');
    for _ in 0..3 {
        // AVCProfileIndication, profile_compatibility, AVCLevelIndication
        push_hex2(&mut s, c.u8()?, false);
    }
    Ok(s)
}

fn hevc(kind: &FourCc, entry: &Child<'_>, children: Boxes<'_>) -> Result<String, MediaError> {
    let mut c = config(
        entry,
        children,
        b"hvcC",
        "HEVC sample entry without 'hvcC'",
        "'hvcC' box too short",
    )?;
    let _configuration_version = c.u8()?;
    let b = c.u8()?;
    let (profile_space, tier, profile_idc) = (b >> 6, (b >> 5) & 1, b & 0x1f);
    let compatibility = c.u32()?;
    let constraints = c.take(6)?;
    let level = c.u8()?;

    let mut s = fourcc_string(kind);
    s.push('.');
    if profile_space > 0 {
        s.push(char::from(b'A' + profile_space - 1));
    }
    push_dec(&mut s, u32::from(profile_idc));
    s.push('.');
    // The 32 compatibility flags in reverse bit order, hex without leading zeros.
    push_hex(&mut s, compatibility.reverse_bits());
    s.push('.');
    s.push(if tier == 1 { 'H' } else { 'L' });
    push_dec(&mut s, u32::from(level));
    // Constraint bytes, trailing zero bytes omitted.
    let used = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1);
    for &b in constraints.iter().take(used) {
        s.push('.');
        push_hex(&mut s, u32::from(b));
    }
    Ok(s)
}

fn vp9(entry: &Child<'_>, children: Boxes<'_>) -> Result<String, MediaError> {
    let mut c = config(
        entry,
        children,
        b"vpcC",
        "VP9 sample entry without 'vpcC'",
        "'vpcC' box too short",
    )?;
    full_box(&mut c)?;
    let profile = c.u8()?;
    // Level 0 ("unknown", MP4Box and Chromium's MediaRecorder write it) is
    // refused by `isTypeSupported`: one from the picture size instead.
    let level = crate::codec::valid_vp9_level(
        c.u8()?,
        be16_at(entry.payload, 24),
        be16_at(entry.payload, 26),
        None,
    );
    let bit_depth = c.u8()? >> 4;
    let mut s = String::from("vp09.");
    push_dec2(&mut s, profile);
    s.push('.');
    push_dec2(&mut s, level);
    s.push('.');
    push_dec2(&mut s, bit_depth);
    Ok(s)
}

/// The big-endian u16 at `at` of `payload` (a VisualSampleEntry's width and
/// height are at 24 and 26), 0 past its end.
fn be16_at(payload: &[u8], at: usize) -> u64 {
    match payload.get(at..at + 2) {
        Some(&[a, b]) => u64::from(u16::from_be_bytes([a, b])),
        _ => 0,
    }
}

fn av1(entry: &Child<'_>, children: Boxes<'_>) -> Result<String, MediaError> {
    let mut c = config(
        entry,
        children,
        b"av1C",
        "AV1 sample entry without 'av1C'",
        "'av1C' box too short",
    )?;
    let _marker_version = c.u8()?;
    let b = c.u8()?;
    let (profile, level) = (b >> 5, b & 0x1f);
    let b = c.u8()?;
    let (tier, high_bitdepth, twelve_bit) = (b >> 7, (b >> 6) & 1, (b >> 5) & 1);
    let bit_depth = match (high_bitdepth, twelve_bit, profile) {
        (0, _, _) => 8,
        (_, 1, 2) => 12,
        _ => 10,
    };
    let mut s = String::from("av01.");
    push_dec(&mut s, u32::from(profile));
    s.push('.');
    push_dec2(&mut s, level);
    s.push(if tier == 1 { 'H' } else { 'M' });
    s.push('.');
    push_dec2(&mut s, bit_depth);
    Ok(s)
}

/// `esds` (ISO 14496-1 §7.2.6): ES_Descriptor → DecoderConfigDescriptor
/// (objectTypeIndication) → DecoderSpecificInfo (AudioSpecificConfig, whose
/// first 5 or 11 bits are the audio object type).
fn mp4a(entry: &Child<'_>, children: Boxes<'_>) -> Result<String, MediaError> {
    // QuickTime sound descriptions may keep `esds` inside a `wave` box.
    let mut esds = None;
    for child in children {
        let child = child?;
        match &child.header.kind {
            b"esds" => esds = Some(child),
            b"wave" if esds.is_none() => esds = child.children()?.find(b"esds")?,
            _ => {}
        }
        if esds.is_some() {
            break;
        }
    }
    let esds = esds.ok_or_else(|| malformed(entry.header.offset, "'mp4a' without 'esds'"))?;
    let mut c = esds.cursor("'esds' box too short");
    full_box(&mut c)?;

    let mut es = descriptor(&mut c, 0x03)?;
    let _es_id = es.u16()?;
    let flags = es.u8()?;
    if flags & 0x80 != 0 {
        es.skip(2)?; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        let url_len = es.u8()?;
        es.skip(usize::from(url_len))?;
    }
    if flags & 0x20 != 0 {
        es.skip(2)?; // OCR_ES_Id
    }
    let mut dc = descriptor(&mut es, 0x04)?;
    let object_type = dc.u8()?;
    dc.skip(12)?; // streamType etc., bufferSizeDB, maxBitrate, avgBitrate

    let mut s = String::from("mp4a.");
    push_hex2(&mut s, object_type, false);
    if object_type == 0x40 {
        // MPEG-4 audio: the object type is in the AudioSpecificConfig.
        let mut dsi = descriptor(&mut dc, 0x05)?;
        let b0 = dsi.u8()?;
        let mut aot = u32::from(b0 >> 3);
        if aot == 31 {
            let b1 = dsi.u8()?;
            aot = 32 + ((u32::from(b0 & 7) << 3) | u32::from(b1 >> 5));
        }
        s.push('.');
        push_dec(&mut s, aot);
    }
    Ok(s)
}

/// Finds the descriptor with `tag` among those at `c` and returns a cursor
/// over its body. Each skipped descriptor moves the cursor forward by at
/// least its 2-byte header, so the search ends.
fn descriptor<'a>(c: &mut Cursor<'a>, tag: u8) -> Result<Cursor<'a>, MediaError> {
    loop {
        let at = c.offset();
        let this = c.u8()?;
        // Length: up to 4 bytes of 7 bits, high bit = "more follows".
        let mut len: usize = 0;
        for _ in 0..4 {
            let b = c.u8()?;
            len = (len << 7) | usize::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        // Some writers overstate the last descriptor's length; clamp to what
        // the box holds rather than reject a playable file.
        let len = len.min(c.remaining());
        let body_at = c.offset();
        let body = c.take(len)?;
        if this == tag {
            return Ok(Cursor::new(body, body_at, "'esds' descriptor too short"));
        }
        if c.remaining() == 0 {
            return Err(malformed(at, "'esds' lacks a required descriptor"));
        }
    }
}

/// A four-character code as a string; non-printable bytes become `?`.
fn fourcc_string(kind: &FourCc) -> String {
    kind.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

fn hex_digit(n: u8, upper: bool) -> char {
    let n = n & 0xf;
    char::from(match (n, upper) {
        (0..=9, _) => b'0' + n,
        (_, true) => b'A' + n - 10,
        (_, false) => b'a' + n - 10,
    })
}

/// Two lowercase hex digits.
fn push_hex2(s: &mut String, b: u8, upper: bool) {
    s.push(hex_digit(b >> 4, upper));
    s.push(hex_digit(b, upper));
}

/// Uppercase hex without leading zeros (at least one digit).
fn push_hex(s: &mut String, v: u32) {
    let mut started = false;
    for shift in (0..8).rev() {
        let d = (v >> (shift * 4)) as u8 & 0xf;
        if d != 0 || started || shift == 0 {
            started = true;
            s.push(hex_digit(d, true));
        }
    }
}

/// Decimal without leading zeros.
fn push_dec(s: &mut String, v: u32) {
    let mut digits = [0u8; 10];
    let mut n = v;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    s.extend(digits.iter().skip(i).map(|&d| char::from(d)));
}

/// Decimal, at least two digits.
fn push_dec2(s: &mut String, v: u8) {
    if v < 10 {
        s.push('0');
    }
    push_dec(s, u32::from(v));
}

#[cfg(test)]
mod tests {
    use super::super::{BoxHeader, HeaderRead};
    use super::*;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    fn entry(kind: &[u8; 4], fields: usize, children: &[u8]) -> Vec<u8> {
        let mut payload = vec![0u8; fields];
        payload.extend_from_slice(children);
        boxed(kind, &payload)
    }

    fn codec_of(bytes: &[u8]) -> Result<String, MediaError> {
        let Ok(HeaderRead::Complete(header)) = BoxHeader::read(bytes, 0) else {
            panic!("header")
        };
        let payload = &bytes[usize::from(header.header_len)..];
        let child = Boxes::new(bytes, 0, 0)?
            .next()
            .transpose()?
            .expect("one box");
        assert_eq!(child.payload, payload);
        codec_string(&child)
    }

    #[test]
    fn avc() {
        let e = entry(
            b"avc1",
            VISUAL_FIELDS,
            &boxed(b"avcC", &[1, 0x4d, 0x40, 0x1e, 0xff]),
        );
        assert_eq!(codec_of(&e).ok().as_deref(), Some("avc1.4d401e"));
        let e = entry(
            b"avc3",
            VISUAL_FIELDS,
            &boxed(b"avcC", &[1, 0x64, 0x00, 0x28]),
        );
        assert_eq!(codec_of(&e).ok().as_deref(), Some("avc3.640028"));
        let e = entry(b"avc1", VISUAL_FIELDS, &boxed(b"avcC", &[1, 0x64]));
        assert!(codec_of(&e).is_err());
        let e = entry(b"avc1", VISUAL_FIELDS, &[]);
        assert!(codec_of(&e).is_err());
    }

    #[test]
    fn hevc() {
        // Main profile, compatibility flags 0x60000000, level 93, constraint 0xB0.
        let cfg = [1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93, 0];
        let e = entry(b"hvc1", VISUAL_FIELDS, &boxed(b"hvcC", &cfg));
        assert_eq!(codec_of(&e).ok().as_deref(), Some("hvc1.1.6.L93.B0"));
        let cfg = [1, 0x22, 0x20, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 120];
        let e = entry(b"hev1", VISUAL_FIELDS, &boxed(b"hvcC", &cfg));
        assert_eq!(codec_of(&e).ok().as_deref(), Some("hev1.2.4.H120.90"));
    }

    #[test]
    fn vp9_and_av1() {
        let e = entry(
            b"vp09",
            VISUAL_FIELDS,
            &boxed(b"vpcC", &[1, 0, 0, 0, 0, 31, 0x80, 1, 1, 1, 0, 0]),
        );
        assert_eq!(codec_of(&e).ok().as_deref(), Some("vp09.00.31.08"));
        // Level 0, 320x180: the level the picture needs.
        let mut fields = vec![0u8; VISUAL_FIELDS];
        fields[24..28].copy_from_slice(&[1, 64, 0, 180]);
        let mut e = boxed(b"vp09", &fields);
        let vpcc = boxed(b"vpcC", &[1, 0, 0, 0, 0, 0, 0x80, 1, 1, 1, 0, 0]);
        e.extend_from_slice(&vpcc);
        let size = e.len() as u32;
        e[..4].copy_from_slice(&size.to_be_bytes());
        assert_eq!(codec_of(&e).ok().as_deref(), Some("vp09.00.11.08"));
        let e = entry(
            b"av01",
            VISUAL_FIELDS,
            &boxed(b"av1C", &[0x81, 0x04, 0x0c, 0]),
        );
        assert_eq!(codec_of(&e).ok().as_deref(), Some("av01.0.04M.08"));
        let e = entry(
            b"av01",
            VISUAL_FIELDS,
            &boxed(b"av1C", &[0x81, 0x48, 0xc0, 0]),
        );
        assert_eq!(codec_of(&e).ok().as_deref(), Some("av01.2.08H.10"));
        let e = entry(
            b"av01",
            VISUAL_FIELDS,
            &boxed(b"av1C", &[0x81, 0x48, 0x60, 0]),
        );
        assert_eq!(codec_of(&e).ok().as_deref(), Some("av01.2.08M.12"));
    }

    fn esds(object_type: u8, dsi: &[u8]) -> Vec<u8> {
        let mut dcd = vec![object_type, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        dcd.extend_from_slice(&[0x05, 0x80, 0x80, 0x80, dsi.len() as u8]);
        dcd.extend_from_slice(dsi);
        let mut es = vec![0, 1, 0, 0x04, dcd.len() as u8];
        es.extend_from_slice(&dcd);
        es.extend_from_slice(&[0x06, 1, 2]); // SLConfigDescriptor
        let mut payload = vec![0, 0, 0, 0, 0x03, es.len() as u8];
        payload.extend_from_slice(&es);
        boxed(b"esds", &payload)
    }

    #[test]
    fn mp4a() {
        let e = entry(b"mp4a", AUDIO_FIELDS, &esds(0x40, &[0x11, 0x90]));
        assert_eq!(codec_of(&e).ok().as_deref(), Some("mp4a.40.2"));
        let e = entry(b"mp4a", AUDIO_FIELDS, &esds(0x40, &[0x2b, 0x8a, 0x08]));
        assert_eq!(codec_of(&e).ok().as_deref(), Some("mp4a.40.5"));
        // Escape value 31: 32 + 6 more bits (here 42 - 32 = 10 -> xHE-AAC).
        let e = entry(b"mp4a", AUDIO_FIELDS, &esds(0x40, &[0xf9, 0x46, 0]));
        assert_eq!(codec_of(&e).ok().as_deref(), Some("mp4a.40.42"));
        let e = entry(b"mp4a", AUDIO_FIELDS, &esds(0x6b, &[]));
        assert_eq!(codec_of(&e).ok().as_deref(), Some("mp4a.6b"));
        let e = entry(b"mp4a", AUDIO_FIELDS, &esds(0x40, &[]));
        assert!(codec_of(&e).is_err());
        let e = entry(
            b"mp4a",
            AUDIO_FIELDS,
            &boxed(b"esds", &[0, 0, 0, 0, 0x03, 0xff, 0xff, 0xff, 0xff]),
        );
        assert!(codec_of(&e).is_err());
    }

    #[test]
    fn opus_flac_and_passthrough() {
        let e = entry(b"Opus", AUDIO_FIELDS, &boxed(b"dOps", &[0; 11]));
        assert_eq!(codec_of(&e).ok().as_deref(), Some("opus"));
        let e = entry(b"fLaC", AUDIO_FIELDS, &[]);
        assert_eq!(codec_of(&e).ok().as_deref(), Some("flac"));
        let e = entry(b"ec-3", AUDIO_FIELDS, &[]);
        assert_eq!(codec_of(&e).ok().as_deref(), Some("ec-3"));
        let e = boxed(b"wvtt", &[]);
        assert_eq!(codec_of(&e).ok().as_deref(), Some("wvtt"));
    }

    #[test]
    fn encrypted_entries_use_the_original_format() {
        let sinf = boxed(b"sinf", &boxed(b"frma", b"avc1"));
        let mut children = sinf;
        children.extend_from_slice(&boxed(b"avcC", &[1, 0x42, 0xc0, 0x1f]));
        let e = entry(b"encv", VISUAL_FIELDS, &children);
        assert_eq!(codec_of(&e).ok().as_deref(), Some("avc1.42c01f"));
        let e = entry(b"enca", AUDIO_FIELDS, &[]);
        assert!(codec_of(&e).is_err());
    }

    #[test]
    fn digits() {
        let mut s = String::new();
        push_dec(&mut s, 0);
        push_dec(&mut s, u32::MAX);
        push_hex(&mut s, 0);
        push_hex(&mut s, 0x6);
        push_hex(&mut s, u32::MAX);
        push_dec2(&mut s, 7);
        assert_eq!(
            s,
            "0".to_owned() + "4294967295" + "0" + "6" + "FFFFFFFF" + "07"
        );
    }
}
