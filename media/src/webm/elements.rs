//! The Matroska/WebM element IDs this reader uses (marker bits kept, as in
//! the Matroska specification). Anything else is skipped by its size.

/// EBML header, the first element of every WebM file.
pub const EBML: u32 = 0x1A45_DFA3;
pub const EBML_READ_VERSION: u32 = 0x42F7;
pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
pub const DOC_TYPE: u32 = 0x4282;

/// The Segment: everything after the EBML header. Positions in SeekHead and
/// Cues are relative to the start of its payload.
pub const SEGMENT: u32 = 0x1853_8067;

pub const SEEK_HEAD: u32 = 0x114D_9B74;
pub const SEEK: u32 = 0x4DBB;
pub const SEEK_ID: u32 = 0x53AB;
pub const SEEK_POSITION: u32 = 0x53AC;

pub const INFO: u32 = 0x1549_A966;
pub const TIMECODE_SCALE: u32 = 0x2A_D7B1;
pub const DURATION: u32 = 0x4489;

pub const TRACKS: u32 = 0x1654_AE6B;
pub const TRACK_ENTRY: u32 = 0xAE;
pub const TRACK_NUMBER: u32 = 0xD7;
pub const TRACK_TYPE: u32 = 0x83;
pub const CODEC_ID: u32 = 0x86;
pub const CODEC_PRIVATE: u32 = 0x63A2;

pub const CUES: u32 = 0x1C53_BB6B;
pub const CUE_POINT: u32 = 0xBB;
pub const CUE_TIME: u32 = 0xB3;
pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
pub const CUE_TRACK: u32 = 0xF7;
pub const CUE_CLUSTER_POSITION: u32 = 0xF1;

pub const CLUSTER: u32 = 0x1F43_B675;
pub const CLUSTER_TIMECODE: u32 = 0xE7;
pub const SIMPLE_BLOCK: u32 = 0xA3;

pub const TAGS: u32 = 0x1254_C367;
pub const CHAPTERS: u32 = 0x1043_A770;
pub const ATTACHMENTS: u32 = 0x1941_A469;

/// True for the IDs that live at the Segment's top level. Inside an
/// unknown-size Cluster, one of these marks where the Cluster ends.
pub fn is_top_level(id: u32) -> bool {
    matches!(
        id,
        SEEK_HEAD | INFO | TRACKS | CUES | CLUSTER | TAGS | CHAPTERS | ATTACHMENTS | EBML | SEGMENT
    )
}
