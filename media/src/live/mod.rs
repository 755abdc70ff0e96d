//! Live streams, sans-I/O. A publisher sends one endless fragmented MP4
//! (`ffmpeg … -f mp4 -movflags empty_moov+default_base_moof+frag_keyframe`)
//! — or a live WebM, cut by [`WebmSplitter`]; [`LiveReader`] tells which —
//! in pieces that do not align with its boxes; [`LiveSplitter`] cuts it into
//! the init segment (`ftyp` + `moov`) and whole fragments (`moof` + `mdat`,
//! with the `styp`/`prft`/`emsg` before them), each told whether it starts
//! at a keyframe, when it starts, how long it lasts and, from its `prft`,
//! the wall-clock time it was made. The server fans these out; nothing here
//! reads a socket or a clock.

pub mod hls;
pub mod play;
mod prft;
mod reader;
mod splitter;
mod webm;

pub use prft::ntp_to_unix_ms;
pub use reader::LiveReader;
pub use splitter::{
    Ingested, InitSegment, LiveError, LiveFragment, LiveLimits, LiveSplitter, LiveTrack,
};
pub use webm::WebmSplitter;
