//! A media file opened for bounded reads: what
//! [`caudal_media::package`] reads through [`ReadAt`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use caudal_media::index::MediaError;
use caudal_media::package::{PackageError, ReadAt};

use super::ToolError;

/// Copy buffer: large enough for full-speed sequential I/O, small enough
/// not to matter.
const COPY_CHUNK: usize = 256 << 10;

#[derive(Debug)]
pub(crate) struct MediaFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl MediaFile {
    pub fn open(path: &Path) -> Result<Self, ToolError> {
        let file = File::open(path).map_err(ToolError::read(path))?;
        let meta = file.metadata().map_err(ToolError::read(path))?;
        if !meta.is_file() {
            return Err(ToolError::Read {
                path: path.to_owned(),
                source: std::io::Error::other("not a regular file"),
            });
        }
        Ok(MediaFile {
            path: path.to_owned(),
            file,
            len: meta.len(),
        })
    }

    /// Copies `range` of the file to `out`, a chunk at a time.
    pub fn copy_range(
        &mut self,
        range: std::ops::Range<u64>,
        out: &mut impl Write,
    ) -> Result<(), ToolError> {
        let (offset, len) = (range.start, range.end.saturating_sub(range.start));
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(ToolError::read(&self.path))?;
        let mut buf = vec![0u8; COPY_CHUNK];
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(COPY_CHUNK);
            let chunk = buf.get_mut(..want).unwrap_or_default();
            let n = self.file.read(chunk).map_err(ToolError::read(&self.path))?;
            if n == 0 {
                // The file shrank while we read it.
                return Err(PackageError::from(MediaError::Truncated {
                    len: offset.saturating_add(len - left),
                    what: "media data",
                })
                .into());
            }
            out.write_all(chunk.get(..n).unwrap_or_default())
                .map_err(ToolError::Output)?;
            left -= n as u64;
        }
        Ok(())
    }
}

impl ReadAt for MediaFile {
    type Error = ToolError;

    fn file_len(&self) -> u64 {
        self.len
    }

    /// Up to `len` bytes from `offset` (fewer at the end of the file); the
    /// length is capped by the file size before asking.
    fn read_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ToolError> {
        let len = len.min(self.len.saturating_sub(offset));
        let mut buf = Vec::new();
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(ToolError::read(&self.path))?;
        (&mut self.file)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(ToolError::read(&self.path))?;
        Ok(buf)
    }
}
