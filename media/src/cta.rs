//! The tokens CMCD (CTA-5004) and CMSD (CTA-5006) share: what an object
//! is, how it is streamed and whether the stream is live.

/// `ot`: the type of the object a request or response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// `m`: a text manifest or playlist.
    Manifest,
    /// `a`: audio only.
    Audio,
    /// `v`: video only.
    Video,
    /// `av`: audio and video muxed.
    Muxed,
    /// `i`: an init segment (or a file's index).
    Init,
    /// `c`: caption or subtitle.
    Caption,
    /// `tt`: ISOBMFF timed text track.
    TimedText,
    /// `k`: a cryptographic key, license or certificate.
    Key,
    /// `o`: anything else.
    Other,
}

/// `sf`: the streaming format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamingFormat {
    /// `d`: MPEG-DASH.
    Dash,
    /// `h`: HLS.
    Hls,
    /// `s`: Smooth Streaming.
    Smooth,
    /// `o`: anything else — a progressive file read by ranges, as Caudal's
    /// player plays files.
    Other,
}

/// `st`: the stream type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    /// `v`: all segments are available (video on demand).
    Vod,
    /// `l`: segments become available over time (live).
    Live,
}

/// A CTA token: its text on the wire.
pub trait Token: Sized + Copy + 'static {
    /// Every value, for parsing.
    const ALL: &'static [Self];
    fn token(self) -> &'static str;
    fn from_token(token: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.token() == token)
    }
}

impl Token for ObjectType {
    const ALL: &'static [Self] = &[
        ObjectType::Manifest,
        ObjectType::Audio,
        ObjectType::Video,
        ObjectType::Muxed,
        ObjectType::Init,
        ObjectType::Caption,
        ObjectType::TimedText,
        ObjectType::Key,
        ObjectType::Other,
    ];
    fn token(self) -> &'static str {
        match self {
            ObjectType::Manifest => "m",
            ObjectType::Audio => "a",
            ObjectType::Video => "v",
            ObjectType::Muxed => "av",
            ObjectType::Init => "i",
            ObjectType::Caption => "c",
            ObjectType::TimedText => "tt",
            ObjectType::Key => "k",
            ObjectType::Other => "o",
        }
    }
}

impl ObjectType {
    /// Audio, video or both: the objects a buffer length is about.
    pub fn is_media(self) -> bool {
        matches!(
            self,
            ObjectType::Audio | ObjectType::Video | ObjectType::Muxed
        )
    }
}

impl Token for StreamingFormat {
    const ALL: &'static [Self] = &[
        StreamingFormat::Dash,
        StreamingFormat::Hls,
        StreamingFormat::Smooth,
        StreamingFormat::Other,
    ];
    fn token(self) -> &'static str {
        match self {
            StreamingFormat::Dash => "d",
            StreamingFormat::Hls => "h",
            StreamingFormat::Smooth => "s",
            StreamingFormat::Other => "o",
        }
    }
}

impl Token for StreamType {
    const ALL: &'static [Self] = &[StreamType::Vod, StreamType::Live];
    fn token(self) -> &'static str {
        match self {
            StreamType::Vod => "v",
            StreamType::Live => "l",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_reads_back_as_itself() {
        for &value in ObjectType::ALL {
            assert_eq!(ObjectType::from_token(value.token()), Some(value));
        }
        for &value in StreamingFormat::ALL {
            assert_eq!(StreamingFormat::from_token(value.token()), Some(value));
        }
        for &value in StreamType::ALL {
            assert_eq!(StreamType::from_token(value.token()), Some(value));
        }
        assert_eq!(ObjectType::from_token("x"), None);
    }
}
