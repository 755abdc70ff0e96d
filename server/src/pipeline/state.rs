//! What the handlers share: the served roots, the configured Cache-Control
//! and the open-file cache.

use http::header::HeaderValue;

use crate::body::file_cache::FileCache;
use crate::safe_path::Root;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub media: Root,
    pub www: Option<Root>,
    pub cache_control: Option<HeaderValue>,
    pub files: FileCache,
}
