//! An open file as a [`ByteSource`].
//!
//! Reads are positional (`pread`) on the event-loop thread, as nginx does
//! without `aio threads`: media being served is hot in the page cache, and a
//! hop to a blocking pool per chunk costs more than the copy. After every read
//! the file's identity is checked again; if the file was written to, truncated
//! or grown in place, the read fails and the body ends in an error (the
//! connection is cut short) rather than hand the client a mix of old and new
//! bytes. A file *replaced* by rename keeps serving the old inode, which is
//! consistent by construction.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::BytesMut;

use super::ByteSource;
use crate::engine::validators::FileIdentity;

/// An open file and the identity it had when opened.
#[derive(Debug, Clone)]
pub struct OpenFile {
    file: Arc<File>,
    identity: FileIdentity,
}

impl OpenFile {
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not a regular file",
            ));
        }
        Ok(OpenFile {
            identity: FileIdentity::of(&meta),
            file: Arc::new(file),
        })
    }

    pub fn identity(&self) -> &FileIdentity {
        &self.identity
    }

    pub fn len(&self) -> u64 {
        self.identity.len
    }

    pub fn is_empty(&self) -> bool {
        self.identity.len == 0
    }

    /// Fails when the file is no longer the version it was opened as
    /// (written, truncated or grown in place).
    pub fn check_unchanged(&self) -> io::Result<()> {
        let now = FileIdentity::of(&self.file.metadata()?);
        if now != self.identity {
            return Err(io::Error::other("file changed while it was being sent"));
        }
        Ok(())
    }
}

impl ByteSource for OpenFile {
    /// Reads exactly `len` bytes at `offset`, then checks the file is still
    /// the version whose validators were sent.
    fn read_into(&self, offset: u64, len: usize, buf: &mut BytesMut) -> io::Result<()> {
        let start = buf.len();
        buf.resize(start + len, 0);
        let read = self
            .file
            .read_exact_at(&mut buf[start..], offset)
            .and_then(|()| self.check_unchanged());
        if read.is_err() {
            buf.truncate(start);
        }
        read
    }
}
