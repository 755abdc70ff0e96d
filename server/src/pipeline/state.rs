//! What the handlers share: the served roots, the configured Cache-Control,
//! the open-file cache, the chunk cache and the metrics.

use std::sync::Arc;

use http::header::HeaderValue;

use crate::body::chunk_cache::ChunkCache;
use crate::body::file_cache::FileCache;
use crate::metrics::{Metrics, MetricsAccess};
use crate::safe_path::Root;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub media: Root,
    pub www: Option<Root>,
    pub cache_control: Option<HeaderValue>,
    pub files: FileCache,
    /// File chunks shared by every response; `None` with `--cache-mem 0`.
    pub chunks: Option<Arc<ChunkCache>>,
    /// `Link` hints for pages that embed the player; `None` when off.
    pub preload: Option<super::preload_hints::PreloadHints>,
    pub metrics: Arc<Metrics>,
    /// Who may read `/metrics`.
    pub metrics_access: MetricsAccess,
    /// The control loop: sessions, pacing, CMSD ([`crate::pacing`]).
    pub pacer: Arc<crate::pacing::Pacer>,
    /// Live streams ([`crate::live`]) and who may publish them.
    pub live: Arc<crate::live::LiveRegistry>,
    pub publish_auth: crate::live::PublishAuth,
}
