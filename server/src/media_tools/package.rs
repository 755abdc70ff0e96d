//! `caudal package IN OUT --faststart | --fragment`: rewrites a plain MP4
//! so that it starts fast, never in place, media bytes unchanged. The
//! rewrite is [`caudal_media::package`]'s; here it is read from and written
//! to files.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use caudal_media::package::{Fragmenter, Part, PlainMp4, faststart};

use super::ToolError;
use super::file::MediaFile;
use super::output::{self, Staged};

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
    // Checks every sample lies in the file before anything is written.
    let plain = PlainMp4::read(&mut f)?;
    let mut staged = Staged::create(output)?;
    let summary = match mode {
        Mode::Faststart => {
            let plan = faststart(&plain.layout)?;
            let out = staged.writer()?;
            for part in &plan.parts {
                match part {
                    Part::Moov => out.write_all(&plan.moov).map_err(ToolError::Output)?,
                    Part::Copy(range) => f.copy_range(range.clone(), out)?,
                }
            }
            format!(
                "faststart: moov ({} bytes) {}; media bytes unchanged{}",
                plan.moov.len(),
                if plan.moved {
                    "moved from the end"
                } else {
                    "already before mdat"
                },
                if plan.widened {
                    "; chunk offsets widened to co64"
                } else {
                    ""
                }
            )
        }
        Mode::Fragment => {
            let mut fragmenter = Fragmenter::new(plain.movie)?;
            let out = staged.writer()?;
            out.write_all(&fragmenter.head())
                .map_err(ToolError::Output)?;
            while let Some(fragment) = fragmenter.next_fragment(&mut f)? {
                out.write_all(&fragment).map_err(ToolError::Output)?;
            }
            // The `sidx` needed every fragment's size: it goes in last.
            let (at, sidx) = fragmenter.sidx()?;
            out.seek(SeekFrom::Start(at)).map_err(ToolError::Output)?;
            out.write_all(&sidx).map_err(ToolError::Output)?;
            out.seek(SeekFrom::End(0)).map_err(ToolError::Output)?;
            format!(
                "fragmented: init segment, sidx, {} fragments (moof+mdat)",
                fragmenter.fragments()
            )
        }
    };
    staged.commit()?;
    let bytes = std::fs::metadata(output)
        .map_err(ToolError::read(output))?
        .len();
    Ok(Packaged { bytes, summary })
}
