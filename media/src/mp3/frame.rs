//! The 4-byte MPEG audio frame header (ISO/IEC 11172-3 and 13818-3, plus
//! the unofficial MPEG 2.5 extension), Layer III only: what the frame's
//! length is, how many samples it holds, at what rate.
//!
//! Reserved values are refused rather than guessed: a header with one is not
//! a frame but a false sync inside audio data or junk, and refusing it is
//! what lets the indexer find the real first frame behind leftover bytes.

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 4;

/// The longest Layer III frame: 320 kbit/s at 32 kHz (MPEG-1), or
/// 160 kbit/s at 8 kHz (MPEG-2.5), plus a padding byte.
pub const MAX_FRAME_LEN: usize = 1441;

/// The MPEG audio version, which picks the bitrate and sample-rate tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Mpeg1,
    Mpeg2,
    /// The unofficial low-rate extension (8-12 kHz).
    Mpeg25,
}

/// Why four bytes are not a usable Layer III frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// No 11-bit frame sync, or a reserved version, layer, bitrate, sample
    /// rate or emphasis: not a frame header at all.
    Invalid,
    /// A valid Layer I or II header: MPEG audio, but not MP3.
    NotLayer3,
    /// Bitrate index 0: the frame length is not in the header.
    FreeFormat,
}

/// A decoded Layer III frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub version: Version,
    /// Bits per second.
    pub bitrate: u32,
    /// Samples per second.
    pub sample_rate: u32,
    /// One extra byte in this frame (keeps the average frame length exact).
    pub padding: bool,
    /// Channel mode 3 (single channel); the side information is shorter.
    pub mono: bool,
    /// A 16-bit CRC follows the header.
    pub crc: bool,
}

/// Layer III bitrates in kbit/s by index 1..=14, MPEG-1 and MPEG-2/2.5.
const BITRATES_V1: [u16; 14] = [
    32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const BITRATES_V2: [u16; 14] = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// Sample rates by index 0..=2 for MPEG-1; MPEG-2 halves and MPEG-2.5
/// quarters them.
const SAMPLE_RATES_V1: [u32; 3] = [44_100, 48_000, 32_000];

/// Decodes the frame header in `b`.
pub fn parse(b: [u8; 4]) -> Result<FrameHeader, HeaderError> {
    if b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
        return Err(HeaderError::Invalid);
    }
    let version = match (b[1] >> 3) & 0b11 {
        0b00 => Version::Mpeg25,
        0b10 => Version::Mpeg2,
        0b11 => Version::Mpeg1,
        _ => return Err(HeaderError::Invalid),
    };
    let layer = (b[1] >> 1) & 0b11;
    let bitrate_index = usize::from(b[2] >> 4);
    let rate_index = usize::from((b[2] >> 2) & 0b11);
    let emphasis = b[3] & 0b11;
    if layer == 0 || bitrate_index == 15 || rate_index == 3 || emphasis == 0b10 {
        return Err(HeaderError::Invalid);
    }
    if layer != 0b01 {
        return Err(HeaderError::NotLayer3);
    }
    let kbps = match version {
        Version::Mpeg1 => BITRATES_V1.get(bitrate_index.wrapping_sub(1)),
        Version::Mpeg2 | Version::Mpeg25 => BITRATES_V2.get(bitrate_index.wrapping_sub(1)),
    };
    let Some(&kbps) = kbps else {
        return Err(HeaderError::FreeFormat);
    };
    let divisor = match version {
        Version::Mpeg1 => 1,
        Version::Mpeg2 => 2,
        Version::Mpeg25 => 4,
    };
    let Some(&base_rate) = SAMPLE_RATES_V1.get(rate_index) else {
        return Err(HeaderError::Invalid);
    };
    Ok(FrameHeader {
        version,
        bitrate: u32::from(kbps) * 1000,
        sample_rate: base_rate / divisor,
        padding: b[2] & 0b10 != 0,
        mono: (b[3] >> 6) == 0b11,
        crc: b[1] & 1 == 0,
    })
}

/// Decodes the frame header at the start of `b`, if there are four bytes.
pub fn parse_slice(b: &[u8]) -> Result<FrameHeader, HeaderError> {
    match b.get(..HEADER_LEN) {
        Some(&[b0, b1, b2, b3]) => parse([b0, b1, b2, b3]),
        _ => Err(HeaderError::Invalid),
    }
}

impl FrameHeader {
    /// PCM samples per channel in the frame: 1152 for MPEG-1, 576 for the
    /// half-rate versions.
    pub fn samples_per_frame(&self) -> u32 {
        match self.version {
            Version::Mpeg1 => 1152,
            Version::Mpeg2 | Version::Mpeg25 => 576,
        }
    }

    /// Bytes in the frame, header included: one frame's worth of bits at
    /// the bitrate, rounded down, plus the padding byte.
    pub fn frame_len(&self) -> usize {
        // samples/8 * bitrate / rate; at most 144 * 320000 / 32000 = 1440.
        let bytes = u64::from(self.samples_per_frame() / 8) * u64::from(self.bitrate)
            / u64::from(self.sample_rate);
        usize::try_from(bytes).unwrap_or(MAX_FRAME_LEN) + usize::from(self.padding)
    }

    /// Bytes of side information after the header (and CRC): where the
    /// Xing/Info header starts in the first frame.
    pub fn side_info_len(&self) -> usize {
        match (self.version, self.mono) {
            (Version::Mpeg1, false) => 32,
            (Version::Mpeg1, true) | (Version::Mpeg2 | Version::Mpeg25, false) => 17,
            (Version::Mpeg2 | Version::Mpeg25, true) => 9,
        }
    }

    /// Whether `next` can follow this header in the same stream: version
    /// and sample rate never change mid-stream (bitrate, padding and even
    /// channel mode may).
    pub fn same_stream(&self, next: &FrameHeader) -> bool {
        self.version == next.version && self.sample_rate == next.sample_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpeg1_128k_44100_stereo() {
        let h = parse([0xFF, 0xFB, 0x90, 0x44]).expect("valid");
        assert_eq!(h.version, Version::Mpeg1);
        assert_eq!((h.bitrate, h.sample_rate), (128_000, 44_100));
        assert!(!h.padding && !h.mono && !h.crc);
        assert_eq!(h.frame_len(), 417);
        assert_eq!(h.samples_per_frame(), 1152);
        assert_eq!(h.side_info_len(), 32);
        let padded = parse([0xFF, 0xFB, 0x92, 0x44]).expect("valid");
        assert_eq!(padded.frame_len(), 418);
    }

    #[test]
    fn mpeg2_and_25() {
        // MPEG-2, 64 kbit/s, 22050 Hz, mono: 72 * 64000 / 22050 = 208.
        let h = parse([0xFF, 0xF3, 0x80, 0xC4]).expect("valid");
        assert_eq!(
            (h.version, h.sample_rate, h.bitrate),
            (Version::Mpeg2, 22_050, 64_000)
        );
        assert_eq!(
            (h.frame_len(), h.samples_per_frame(), h.side_info_len()),
            (208, 576, 9)
        );
        // MPEG-2.5, 8 kbit/s, 8000 Hz (rate index 2), stereo.
        let h = parse([0xFF, 0xE3, 0x18, 0x00]).expect("valid");
        assert_eq!(
            (h.version, h.sample_rate, h.bitrate),
            (Version::Mpeg25, 8_000, 8_000)
        );
        assert_eq!(h.frame_len(), 72);
    }

    #[test]
    fn longest_frame_fits_the_bound() {
        // MPEG-1 320 kbit/s, 32 kHz, padded.
        let h = parse([0xFF, 0xFB, 0xEA, 0x00]).expect("valid");
        assert_eq!(h.frame_len(), MAX_FRAME_LEN);
        // MPEG-2.5 160 kbit/s, 8 kHz, padded.
        let h = parse([0xFF, 0xE3, 0xEA, 0x00]).expect("valid");
        assert_eq!(h.frame_len(), MAX_FRAME_LEN);
    }

    #[test]
    fn reserved_values_are_refused() {
        let bad = [
            [0xFF, 0x0B, 0x90, 0x44], // no sync
            [0xFF, 0xEB, 0x90, 0x44], // version 01
            [0xFF, 0xF9, 0x90, 0x44], // layer 00
            [0xFF, 0xFB, 0xF0, 0x44], // bitrate 1111
            [0xFF, 0xFB, 0x9C, 0x44], // sample rate 11
            [0xFF, 0xFB, 0x90, 0x46], // emphasis 10
        ];
        for b in bad {
            assert_eq!(parse(b), Err(HeaderError::Invalid), "{b:02x?}");
        }
        assert_eq!(parse([0xFF, 0xFD, 0x90, 0x44]), Err(HeaderError::NotLayer3));
        assert_eq!(
            parse([0xFF, 0xFB, 0x00, 0x44]),
            Err(HeaderError::FreeFormat)
        );
        // ADTS (AAC) has layer 00: not MPEG audio.
        assert_eq!(parse([0xFF, 0xF1, 0x50, 0x80]), Err(HeaderError::Invalid));
        assert_eq!(parse_slice(&[0xFF, 0xFB]), Err(HeaderError::Invalid));
    }
}
