//! The path-safety stage: from the raw URL path below a mount point to an
//! open file inside the served directory, or the refusal to send. The rules
//! themselves are [`crate::safe_path`]'s; this stage applies them, logs each
//! refusal with its reason and answers it with its status.

use std::path::PathBuf;

use http::StatusCode;

use super::respond::{self, HttpResponse};
use crate::body::file::OpenFile;
use crate::body::file_cache::FileCache;
use crate::metrics::{Metrics, Refusal};
use crate::safe_path::{self, PathError, Root};

/// The file `raw_path` names under `root` (its decoded relative path and an
/// open handle), or why it is refused (answered by [`refuse`]).
pub fn open(
    root: &Root,
    files: &FileCache,
    raw_path: &str,
) -> Result<(PathBuf, OpenFile), PathError> {
    let relative = safe_path::decode(raw_path)?;
    let file = files.open(root, &relative)?;
    Ok((relative, file))
}

/// Refusals are logged with their reason, counted, and answered with their
/// status (a plain "not found" is neither logged nor counted).
pub fn refuse(raw_path: &str, refusal: &PathError, metrics: &Metrics) -> HttpResponse {
    let status = refusal.status();
    if status != StatusCode::NOT_FOUND || matches!(refusal, PathError::Hidden) {
        tracing::warn!(target: "caudal::refused", path = raw_path, %refusal, status = status.as_u16());
        metrics.refused(Refusal::Path);
    }
    let text = match status {
        StatusCode::BAD_REQUEST => "bad request: malformed path\n",
        StatusCode::FORBIDDEN => "forbidden: path leads outside the served directory\n",
        _ => "not found\n",
    };
    respond::simple(status, text)
}
