//! The three players the QoE benchmark compares, and how a page loads each.

use anyhow::{Result, bail};

/// A player under test. Caudal is ours; the others are references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Player {
    /// `www/player.js` + the wasm: MSE under Caudal's buffer policy.
    Caudal,
    /// `<video src preload="auto">`: the browser's own progressive download.
    Native,
    /// hls.js (MSE) on a byte-range HLS playlist over the same file.
    Hlsjs,
}

impl Player {
    pub const ALL: [Player; 3] = [Player::Caudal, Player::Native, Player::Hlsjs];

    pub fn parse(text: &str) -> Result<Player> {
        match text {
            "caudal" => Ok(Player::Caudal),
            "native" => Ok(Player::Native),
            "hlsjs" | "hls.js" | "hls" => Ok(Player::Hlsjs),
            _ => bail!("unknown player `{text}`: expected caudal, native or hlsjs"),
        }
    }

    /// The name in `--player` and in results.json.
    pub fn id(self) -> &'static str {
        match self {
            Player::Caudal => "caudal",
            Player::Native => "native",
            Player::Hlsjs => "hlsjs",
        }
    }

    /// The name in the printed table.
    pub fn label(self) -> &'static str {
        match self {
            Player::Caudal => "caudal",
            Player::Native => "native <video>",
            Player::Hlsjs => "hls.js",
        }
    }
}
