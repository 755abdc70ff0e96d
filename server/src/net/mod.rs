//! The transport: the listening socket, the accept loop, the limits on each
//! connection ([`limits`]), the [`connection::ConnectionContext`] put into
//! every request, and graceful shutdown. Each connection is served by hyper
//! with the request pipeline ([`crate::pipeline`]) as its service.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderValue;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::add_extension::AddExtension;

use crate::config::Config;
use crate::pipeline::{self, AppState};
use crate::safe_path::Root;

pub mod connection;
pub mod limits;

use connection::{ConnectionContext, SharedStream};

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
    listener: TcpListener,
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
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let state = Arc::new(AppState {
            media,
            www,
            cache_control,
            files: Default::default(),
        });
        Ok(Server {
            listener,
            config,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// The media directory as resolved (absolute, symlinks resolved).
    pub fn media_dir(&self) -> &std::path::Path {
        self.state.media.dir()
    }

    /// Serves until `shutdown` completes, then stops accepting and lets
    /// in-flight responses finish for up to the configured grace period.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener,
            config,
            state,
        } = self;
        let service = pipeline::service(state, &config);
        let http = limits::http1(&config);
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually EMFILE: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!(target: "caudal::refused", %peer, limit = config.max_connections,
                    "connection refused with 503: too many connections");
                tokio::spawn(limits::refuse_busy(stream));
                continue;
            };
            let local = stream.local_addr().unwrap_or(config.listen);
            let stream = SharedStream::new(stream);
            let context = ConnectionContext::new(peer, local, stream.handle());
            let stream = limits::with_send_timeout(stream, config.send_timeout);
            let connection = http.serve_connection(
                TokioIo::new(Box::pin(stream)),
                TowerToHyperService::new(AddExtension::new(service.clone(), context)),
            );
            let connection = graceful.watch(connection);
            let header_timeout = config.header_timeout;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    if error.is_timeout() {
                        tracing::info!(target: "caudal::refused", %peer, ?header_timeout,
                            "connection closed: request head not received in time");
                    } else {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                }
                drop(slot);
            });
        }
        drop(listener);
        tracing::info!("shutting down: waiting for in-flight responses");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections finished"),
            () = tokio::time::sleep(config.shutdown_grace) => {
                tracing::warn!(grace = ?config.shutdown_grace, "grace period over; closing remaining connections");
            }
        }
    }
}
