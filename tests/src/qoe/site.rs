//! The one origin the benchmark's browser talks to: a temporary copy of
//! the built `www/` (with `pkg/`: the content-hashed, precompressed
//! player and the stamped `pkg/player.js`), the benchmark pages and
//! `hls.min.js` added into it, and a media folder with both files and the
//! playlist. One `caudal serve` of it sits behind the shaped link, so the
//! page, the players' code and the media all cross the link as they would
//! from a site.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, ensure};

use super::file::{Layouts, MediaFile};
use super::page;
use super::player::Player;

/// How many files a site copy may hold: `www/` is a handful; more means
/// the wrong folder was given.
const MAX_FILES: usize = 2_000;

/// The site and media folders (removed when dropped).
#[derive(Debug)]
pub struct Site {
    pub www: tempfile::TempDir,
    pub media: tempfile::TempDir,
}

/// The media's names under `/media/`.
pub fn media_name(file: MediaFile) -> &'static str {
    match file {
        MediaFile::Plain => "qoe-plain.mp4",
        MediaFile::Fmp4 => "qoe-fmp4.mp4",
    }
}

/// hls.js's playlist, beside the fragmented file so that its relative
/// URIs name that very file.
pub const PLAYLIST: &str = "qoe-fmp4.m3u8";

/// The page of `player` when `file` is chosen, a path on the site.
pub fn page_path(file: MediaFile, player: Player) -> String {
    format!("/qoe-{}-{}.html", file.name(), player.id())
}

/// What `player` is given on its page: the file, or hls.js's playlist.
pub fn media_url(file: MediaFile, player: Player) -> String {
    match player {
        Player::Hlsjs => format!("/media/{PLAYLIST}"),
        Player::Caudal | Player::Native => format!("/media/{}", media_name(file)),
    }
}

impl Site {
    /// Copies `www` (without its sample `media/`), adds `hls_js` (with its
    /// `.br`/`.gz` beside it when they exist) and one page per file and
    /// player, and puts `plain` and `fmp4` (the files' bytes) and the
    /// playlist in the media folder.
    pub fn build(
        www: &Path,
        hls_js: Option<&Path>,
        plain: &[u8],
        fmp4: &[u8],
        layouts: &Layouts,
    ) -> Result<Site> {
        let site = tempfile::Builder::new()
            .prefix("caudal-qoe-www-")
            .tempdir()?;
        let mut copied = 0;
        copy_tree(www, site.path(), true, &mut copied)?;
        ensure!(
            site.path().join("pkg").join("player.js").is_file(),
            "{} has no pkg/player.js: run `cargo xtask build-player` first",
            www.display()
        );
        if let Some(hls_js) = hls_js {
            for suffix in ["", ".br", ".gz"] {
                let from = with_suffix(hls_js, suffix);
                if suffix.is_empty() || from.is_file() {
                    let to = site.path().join(format!("hls.min.js{suffix}"));
                    fs::copy(&from, &to).with_context(|| {
                        format!("copying {} to {}", from.display(), to.display())
                    })?;
                }
            }
        }
        for file in MediaFile::ALL {
            for player in Player::ALL {
                let path = site
                    .path()
                    .join(page_path(file, player).trim_start_matches('/'));
                fs::write(&path, page::html(player, &media_url(file, player)))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        let media = tempfile::Builder::new()
            .prefix("caudal-qoe-media-")
            .tempdir()?;
        for (name, bytes) in [
            (media_name(MediaFile::Plain), plain),
            (media_name(MediaFile::Fmp4), fmp4),
        ] {
            fs::write(media.path().join(name), bytes).with_context(|| format!("writing {name}"))?;
        }
        fs::write(
            media.path().join(PLAYLIST),
            layouts.fmp4.hls_playlist(media_name(MediaFile::Fmp4)),
        )?;
        Ok(Site { www: site, media })
    }
}

fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Copies the files under `from` into `to` (which exists); at the top,
/// `media/` (the sample media, served from elsewhere) is left out.
fn copy_tree(from: &Path, to: &Path, top: bool, copied: &mut usize) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if top && name == "media" {
            continue;
        }
        let kind = entry.file_type()?;
        let target = to.join(&name);
        if kind.is_dir() {
            fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target, false, copied)?;
        } else if kind.is_file() {
            *copied += 1;
            ensure!(
                *copied <= MAX_FILES,
                "{} holds more than {MAX_FILES} files: is it the site?",
                from.display()
            );
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_names_the_file_its_player_plays() {
        assert_eq!(
            page_path(MediaFile::Plain, Player::Caudal),
            "/qoe-plain-caudal.html"
        );
        assert_eq!(
            media_url(MediaFile::Plain, Player::Native),
            "/media/qoe-plain.mp4"
        );
        assert_eq!(
            media_url(MediaFile::Fmp4, Player::Caudal),
            "/media/qoe-fmp4.mp4"
        );
        for file in MediaFile::ALL {
            assert_eq!(media_url(file, Player::Hlsjs), "/media/qoe-fmp4.m3u8");
        }
    }
}
