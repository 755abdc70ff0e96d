//! The files the benchmark plays: one encode, two containers. The plain
//! faststart MP4 is what people have and the headline; the fragmented MP4
//! with `sidx` is the same samples copied into fragments, the friendliest
//! file a player can get. hls.js always plays the fragmented one, through a
//! byte-range playlist.

use anyhow::{Result, bail};

use super::fmp4::FileLayout;
use super::plain::PlainLayout;
use super::player::Player;

/// Which file Caudal and the native player play (`--file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaFile {
    /// A plain faststart MP4: `moov` first, then one interleaved `mdat`.
    Plain,
    /// The same encode fragmented: `moov`, `sidx`, one fragment per GOP.
    Fmp4,
}

impl MediaFile {
    /// Report order: the plain file is the headline.
    pub const ALL: [MediaFile; 2] = [MediaFile::Plain, MediaFile::Fmp4];

    pub fn parse(text: &str) -> Result<MediaFile> {
        match text {
            "plain" => Ok(MediaFile::Plain),
            "fmp4" => Ok(MediaFile::Fmp4),
            _ => bail!("unknown file `{text}`: expected plain or fmp4"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MediaFile::Plain => "plain",
            MediaFile::Fmp4 => "fmp4",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            MediaFile::Plain => "plain faststart MP4 (moov first, one interleaved mdat)",
            MediaFile::Fmp4 => "fragmented MP4 with sidx, one 2 s GOP per fragment (same encode)",
        }
    }

    /// The container `player` fetches when this file is chosen: hls.js
    /// plays its playlist over the fragmented one whatever the choice.
    pub fn played_by(self, player: Player) -> MediaFile {
        match player {
            Player::Hlsjs => MediaFile::Fmp4,
            Player::Caudal | Player::Native => self,
        }
    }
}

/// Both files' structure, for what a played second costs in each.
#[derive(Debug, Clone)]
pub struct Layouts {
    pub plain: PlainLayout,
    pub fmp4: FileLayout,
}

impl Layouts {
    /// Bytes needed to play `played` out of `file`: its header once, plus
    /// the media of each range.
    pub fn bytes_played(&self, file: MediaFile, played: &[(f64, f64)]) -> f64 {
        match file {
            MediaFile::Plain => self.plain.bytes_played(played),
            MediaFile::Fmp4 => self.fmp4.bytes_played(played),
        }
    }

    pub fn file_len(&self, file: MediaFile) -> u64 {
        match file {
            MediaFile::Plain => self.plain.file_len,
            MediaFile::Fmp4 => self.fmp4.file_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_hlsjs_always_plays_the_fragments() -> Result<()> {
        for f in MediaFile::ALL {
            assert_eq!(MediaFile::parse(f.name())?, f);
            assert_eq!(f.played_by(Player::Hlsjs), MediaFile::Fmp4);
            assert_eq!(f.played_by(Player::Caudal), f);
            assert_eq!(f.played_by(Player::Native), f);
        }
        assert!(MediaFile::parse("mp4").is_err());
        Ok(())
    }
}
