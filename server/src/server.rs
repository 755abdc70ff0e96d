//! The listening shell: accepts TCP connections, caps how many are served at
//! once, serves each with hyper (header-read timeout and head-size limit set,
//! which `warp::serve` leaves off), and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderValue;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::cors::{Any, CorsLayer};

use crate::access_log::AccessLogLayer;
use crate::config::Config;
use crate::routes::{self, AppState};
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
        let cors = config.cors.then(|| {
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([http::Method::GET, http::Method::HEAD])
                .allow_headers([
                    http::header::RANGE,
                    http::header::IF_RANGE,
                    http::header::IF_NONE_MATCH,
                    http::header::IF_MODIFIED_SINCE,
                ])
                .expose_headers([
                    http::header::CONTENT_RANGE,
                    http::header::ACCEPT_RANGES,
                    http::header::CONTENT_LENGTH,
                    http::header::ETAG,
                ])
                .max_age(Duration::from_secs(86_400))
        });
        let service = ServiceBuilder::new()
            .layer(AccessLogLayer {
                enabled: config.access_log,
            })
            .option_layer(cors)
            .service(warp::service(routes::routes(state)));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            .max_header_size(config.max_header_bytes)
            .keep_alive(true);
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
                tokio::spawn(refuse_busy(stream));
                continue;
            };
            // A client that stops reading must not hold its slot forever.
            let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
            stream.set_write_timeout(Some(config.send_timeout));
            let connection = http.serve_connection(
                TokioIo::new(Box::pin(stream)),
                TowerToHyperService::new(service.clone()),
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

/// Answers a connection over the cap with a 503 that says why, then closes it.
async fn refuse_busy(mut stream: TcpStream) {
    const BODY: &str = "server busy: too many connections\n";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
