//! Mapping a request path to a file under a root directory, with no way out.
//!
//! Two stages. [`decode`] is pure: it percent-decodes the URL path segment by
//! segment and refuses anything that could climb or hide (`..`, `%2e%2e`,
//! encoded `/` or `\`, NUL, empty segments, which is how `//etc/passwd`
//! would sneak in an absolute path). [`Root::resolve`] then asks the
//! filesystem, so a symlink that leads outside the root is refused too.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Why a path is refused; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// 400: a traversal attempt or a malformed path.
    #[error("malformed path: {0}")]
    Malformed(&'static str),
    /// 404: a dotfile or a path through a dot-directory; hidden on purpose.
    #[error("hidden path")]
    Hidden,
    /// 404: nothing there, or not a regular file.
    #[error("not found")]
    NotFound,
    /// 403: a symlink that resolves outside the served directory.
    #[error("path escapes the served directory")]
    Escapes,
}

impl PathError {
    pub fn status(&self) -> http::StatusCode {
        match self {
            PathError::Malformed(_) => http::StatusCode::BAD_REQUEST,
            PathError::Hidden | PathError::NotFound => http::StatusCode::NOT_FOUND,
            PathError::Escapes => http::StatusCode::FORBIDDEN,
        }
    }
}

/// Decodes a raw (still percent-encoded) URL path below a mount point, such as
/// `clips/a%20b.mp4`, into a relative path of plain components.
pub fn decode(raw: &str) -> Result<PathBuf, PathError> {
    if raw.is_empty() {
        return Err(PathError::NotFound);
    }
    let mut path = PathBuf::new();
    for segment in raw.split('/') {
        if segment.is_empty() {
            return Err(PathError::Malformed("empty path segment"));
        }
        let bytes: Vec<u8> = percent_decode_str(segment).collect();
        if bytes.iter().any(|&b| b == b'/' || b == b'\\') {
            return Err(PathError::Malformed("path separator inside a segment"));
        }
        if bytes.contains(&0) {
            return Err(PathError::Malformed("NUL byte in path"));
        }
        if bytes == b"." || bytes == b".." {
            return Err(PathError::Malformed("dot segment"));
        }
        if bytes.first() == Some(&b'.') {
            return Err(PathError::Hidden);
        }
        path.push(OsStr::from_bytes(&bytes));
    }
    Ok(path)
}

/// A served directory, canonicalized once at start.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
    allow_symlinks_outside: bool,
}

impl Root {
    pub fn new(dir: &Path, allow_symlinks_outside: bool) -> io::Result<Self> {
        let dir = dir.canonicalize()?;
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(Root {
            dir,
            allow_symlinks_outside,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Resolves a decoded relative path to the real path of a regular file
    /// inside the root (or, if allowed, reached through a symlink).
    pub fn resolve(&self, relative: &Path) -> Result<PathBuf, PathError> {
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(PathError::Malformed("non-normal path component"));
        }
        let real = self
            .dir
            .join(relative)
            .canonicalize()
            .map_err(|_| PathError::NotFound)?;
        match real.strip_prefix(&self.dir) {
            Ok(inside) => {
                // A symlink inside the root may still point at a dotfile.
                if inside
                    .components()
                    .any(|c| c.as_os_str().as_bytes().first() == Some(&b'.'))
                {
                    return Err(PathError::Hidden);
                }
            }
            Err(_) if self.allow_symlinks_outside => {}
            Err(_) => return Err(PathError::Escapes),
        }
        Ok(real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_encoded_names_decode() {
        assert_eq!(decode("a.mp4"), Ok(PathBuf::from("a.mp4")));
        assert_eq!(decode("sub/a%20b.mp4"), Ok(PathBuf::from("sub/a b.mp4")));
        assert_eq!(decode("caf%C3%A9.mp4"), Ok(PathBuf::from("café.mp4")));
    }

    #[test]
    fn traversal_attempts_are_malformed() {
        for raw in [
            "..",
            "../etc/passwd",
            "a/../../b",
            "%2e%2e/x",
            "%2E%2E%2fx",
            "a%2fb",
            "a%5cb",
            "..%5c..%5cx",
            "a\\..\\b",
            "a%00.mp4",
            "/etc/passwd",
            "a//b",
            "./a",
        ] {
            let result = decode(raw);
            assert!(
                matches!(result, Err(PathError::Malformed(_))),
                "{raw}: {result:?}"
            );
        }
    }

    #[test]
    fn dotfiles_are_hidden() {
        assert_eq!(decode(".env"), Err(PathError::Hidden));
        assert_eq!(decode(".git/config"), Err(PathError::Hidden));
        assert_eq!(decode("%2Egit/config"), Err(PathError::Hidden));
        assert_eq!(decode("a/.hidden"), Err(PathError::Hidden));
    }
}
