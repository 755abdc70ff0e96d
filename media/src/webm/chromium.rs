//! The elements Chromium's WebM parser knows inside a TrackEntry.
//!
//! Chromium's `WebMListParser` (media/formats/webm/webm_parser.cc) fails
//! the whole init segment on an element ID its per-list tables do not name
//! (Void and CRC-32 aside), where native playback (ffmpeg's demuxer) skips
//! it. mkvmerge writes `LanguageBCP47` in every track, which these tables
//! lack: such a file plays natively and is refused by MSE. The main reader
//! tells from these lists that a file needs the tidy reader; the tidy
//! reader keeps only these elements when it rewrites the Tracks.

use super::elements as id;

/// Children of TrackEntry the parser takes (kTrackEntryIds).
pub const TRACK_ENTRY: &[u32] = &[
    id::TRACK_NUMBER,
    0x73C5, // TrackUID
    id::TRACK_TYPE,
    0xB9,   // FlagEnabled
    0x88,   // FlagDefault
    0x55AA, // FlagForced
    0x9C,   // FlagLacing
    0x6DE7, // MinCache
    0x6DF8, // MaxCache
    DEFAULT_DURATION,
    0x23_314F, // TrackTimecodeScale
    0x55EE,    // MaxBlockAdditionID
    0x536E,    // Name
    0x22_B59C, // Language
    id::CODEC_ID,
    id::CODEC_PRIVATE,
    0x25_8688, // CodecName
    0x7446,    // AttachmentLink
    0xAA,      // CodecDecodeAll
    0x6FAB,    // TrackOverlay
    0x56AA,    // CodecDelay
    0x56BB,    // SeekPreRoll
    0x6624,    // TrackTranslate
    VIDEO,
    AUDIO,
    0xE2,   // TrackOperation
    0x6D80, // ContentEncodings
];

/// Children of Video the parser takes (kVideoIds).
pub const VIDEO_CHILDREN: &[u32] = &[
    0x9A,   // FlagInterlaced
    0x53B8, // StereoMode
    0x53C0, // AlphaMode
    PIXEL_WIDTH,
    PIXEL_HEIGHT,
    0x54AA,    // PixelCropBottom
    0x54BB,    // PixelCropTop
    0x54CC,    // PixelCropLeft
    0x54DD,    // PixelCropRight
    0x54B0,    // DisplayWidth
    0x54BA,    // DisplayHeight
    0x54B2,    // DisplayUnit
    0x54B3,    // AspectRatioType
    0x2E_B524, // ColourSpace
    0x23_83E3, // FrameRate
    0x55B0,    // Colour
    0x7670,    // Projection
];

/// Children of Audio the parser takes (kAudioIds).
pub const AUDIO_CHILDREN: &[u32] = &[
    0xB5,   // SamplingFrequency
    0x78B5, // OutputSamplingFrequency
    0x9F,   // Channels
    0x6264, // BitDepth
];

pub const VIDEO: u32 = 0xE0;
pub const AUDIO: u32 = 0xE1;
pub const PIXEL_WIDTH: u32 = 0xB0;
pub const PIXEL_HEIGHT: u32 = 0xBA;
pub const DEFAULT_DURATION: u32 = 0x23_E383;
/// EBML Void and CRC-32: allowed anywhere.
pub const VOID: u32 = 0xEC;
pub const CRC32: u32 = 0xBF;

/// True when `child` of a TrackEntry, Video or Audio (`parent`) is one
/// Chromium's parser takes.
pub fn knows(parent: u32, child: u32) -> bool {
    let list = match parent {
        VIDEO => VIDEO_CHILDREN,
        AUDIO => AUDIO_CHILDREN,
        _ => TRACK_ENTRY,
    };
    child == VOID || child == CRC32 || list.contains(&child)
}
