//! `caudal inspect FILE`: opens the file and hands it to
//! [`caudal_media::package::inspect`].

use std::path::Path;

use caudal_media::package::Report;

use super::ToolError;
use super::file::MediaFile;

/// Inspects one file.
pub fn inspect(path: &Path) -> Result<Report, ToolError> {
    let mut f = MediaFile::open(path)?;
    caudal_media::package::inspect(path.display().to_string(), &mut f)
}
