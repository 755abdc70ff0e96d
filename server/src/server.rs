//! A `caudal` server: the configuration checked and bound, then served by the
//! transport ([`crate::net`]) with the request pipeline ([`crate::pipeline`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::HeaderValue;

use crate::body::chunk_cache::ChunkCache;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::{self, AppState};
use crate::safe_path::Root;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot serve {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid Cache-Control value {0:?}")]
    CacheControl(String),
}

/// A bound, not yet running server.
#[derive(Debug)]
pub struct Server {
    /// One per event loop, all on the same address ([`crate::net::workers`]).
    listeners: Vec<std::net::TcpListener>,
    config: Config,
    state: Arc<AppState>,
}

impl Server {
    /// Checks the directories and binds the listening socket.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let root = |dir: &std::path::Path| {
            Root::new(dir, config.allow_symlinks_outside).map_err(|source| ServerError::Directory {
                path: dir.display().to_string(),
                source,
            })
        };
        let media = root(&config.media_dir)?;
        let www = config.www_dir.as_deref().map(root).transpose()?;
        let cache_control = config
            .cache_control
            .as_deref()
            .map(|v| HeaderValue::from_str(v).map_err(|_| ServerError::CacheControl(v.to_owned())))
            .transpose()?;
        let listeners =
            crate::net::workers::bind(config.listen, config.workers).map_err(|source| {
                ServerError::Bind {
                    addr: config.listen,
                    source,
                }
            })?;
        let metrics = Arc::new(Metrics::new());
        let chunks = (config.cache_mem > 0)
            .then(|| Arc::new(ChunkCache::new(config.cache_mem, metrics.chunk_cache())));
        let state = Arc::new(AppState {
            media,
            www,
            cache_control,
            files: Default::default(),
            chunks,
            preload: config.preload_hints.then(Default::default),
            pacer: Arc::new(crate::pacing::Pacer::new(config.pace, metrics.delivery())),
            live: Arc::new(crate::live::LiveRegistry::new(
                config.live.clone(),
                metrics.live(),
            )),
            publish_auth: crate::live::PublishAuth {
                protection: config.protection.clone(),
                open_loopback: config.live.open_loopback,
            },
            metrics,
            metrics_access: config.metrics.clone(),
        });
        Ok(Server {
            listeners,
            config,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listeners
            .first()
            .and_then(|listener| listener.local_addr().ok())
            .unwrap_or(self.config.listen)
    }

    /// The media directory as resolved (absolute, symlinks resolved).
    pub fn media_dir(&self) -> &std::path::Path {
        self.state.media.dir()
    }

    /// Serves until `shutdown` completes, then stops accepting and lets
    /// in-flight responses finish for up to the configured grace period.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listeners,
            config,
            state,
        } = self;
        let metrics = state.metrics.clone();
        // Live viewers' bodies never end on their own: they end when the
        // server stops, so the grace period is for files.
        let live = state.live.clone();
        let shutdown = async move {
            shutdown.await;
            live.end_all();
        };
        let service = pipeline::service(state, &config);
        crate::net::workers::run(listeners, service, &config, &metrics, shutdown).await;
    }
}
