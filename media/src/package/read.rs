//! How the package functions read their input: through [`ReadAt`], which
//! the caller implements (a file, for the server's CLI), so that nothing
//! here does I/O and no more than a box's worth is read at a time.

use super::error::PackageError;

/// Random access to the input, implemented by the caller.
///
/// Its error is the caller's (an I/O error, with the path it concerns);
/// the functions here return it, so it must also carry theirs.
pub trait ReadAt {
    type Error: From<PackageError>;

    /// The input's length in bytes.
    fn file_len(&self) -> u64;

    /// Up to `len` bytes from `offset`: fewer only where the input ends.
    fn read_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, Self::Error>;
}

/// Exactly `len` bytes from `offset` of `src`, or a truncation error.
pub fn read_exact_at<S: ReadAt + ?Sized>(
    src: &mut S,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, S::Error> {
    let buf = src.read_at(offset, len)?;
    if (buf.len() as u64) < len {
        return Err(PackageError::from(crate::index::MediaError::Truncated {
            len: src.file_len(),
            what: "box",
        })
        .into());
    }
    Ok(buf)
}

/// A file already in memory, as a [`ReadAt`] (tests, tools that hold the
/// bytes).
#[derive(Debug, Clone, Copy)]
pub struct InMemory<'a>(pub &'a [u8]);

impl ReadAt for InMemory<'_> {
    type Error = PackageError;

    fn file_len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, PackageError> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}
