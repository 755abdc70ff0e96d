//! `caudal package IN OUT --faststart | --fragment`: rewrites a plain MP4
//! so that it starts fast, never in place, media bytes unchanged.

use std::path::Path;

use caudal_media::mp4::samples::MovieSamples;
use caudal_media::remux::Remux;

use super::layout::{self, MediaFile, Moov};
use super::output::{self, Staged};
use super::{ToolError, faststart, fragment};

/// The two ways to package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `moov` before `mdat`: what `ffmpeg -movflags +faststart` makes.
    Faststart,
    /// Fragmented MP4 with a `sidx`: what MSE takes as it is.
    Fragment,
}

/// What [`package`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packaged {
    pub bytes: u64,
    /// One line for the user.
    pub summary: String,
}

/// Writes `input` repackaged to `output` (refusing `output == input`, and an
/// existing `output` unless `force`). On any error nothing is left behind.
pub fn package(
    input: &Path,
    output: &Path,
    mode: Mode,
    force: bool,
) -> Result<Packaged, ToolError> {
    output::check(input, output, force)?;
    let mut f = MediaFile::open(input)?;
    let boxes = layout::top_level(&mut f)?;
    let moov = Moov::read(&mut f, &boxes)?;
    if moov.has_mvex()? || boxes.iter().any(|b| b.kind() == b"moof") {
        return Err(ToolError::AlreadyFragmented);
    }
    // Checks every sample lies in the file before anything is written.
    let movie = MovieSamples::parse(&moov.child(), Some(f.len))?;
    let mut staged = Staged::create(output)?;
    let summary = match mode {
        Mode::Faststart => {
            let done = faststart::write(&mut f, &boxes, &moov, staged.writer()?)?;
            let was = if moov.top.offset()
                < boxes
                    .iter()
                    .find(|b| b.kind() == b"mdat")
                    .map_or(u64::MAX, |b| b.offset())
            {
                "already before mdat"
            } else {
                "moved from the end"
            };
            format!(
                "faststart: moov ({} bytes) {was}; media bytes unchanged{}",
                done.moov_size,
                if done.widened {
                    "; chunk offsets widened to co64"
                } else {
                    ""
                }
            )
        }
        Mode::Fragment => {
            let remux = Remux::new(movie)?;
            let done = fragment::write(&mut f, &remux, staged.writer()?)?;
            format!(
                "fragmented: init segment, sidx, {} fragments (moof+mdat)",
                done.fragments
            )
        }
    };
    staged.commit()?;
    let bytes = std::fs::metadata(output)
        .map_err(ToolError::read(output))?
        .len();
    Ok(Packaged { bytes, summary })
}
