//! The transport: the accept loop, the limits on each connection
//! ([`limits`]), the [`connection::ConnectionContext`] put into every request,
//! and graceful shutdown. Each connection is served by hyper with the service
//! it is given (the request pipeline); nothing here knows about files.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::add_extension::AddExtension;

use crate::config::Config;
use crate::metrics::{Metrics, Refusal};

pub mod connection;
pub mod limits;

use connection::{ConnectionContext, SharedStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves connections accepted on `listener` with `service` until `shutdown`
/// completes, then stops accepting and lets in-flight responses finish for
/// up to the configured grace period.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    config: &Config,
    metrics: &Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let http = limits::http1(config);
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
            metrics.refused(Refusal::Limits);
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
        let active = metrics.connection();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                if error.is_timeout() {
                    tracing::info!(target: "caudal::refused", %peer, ?header_timeout,
                        "connection closed: request head not received in time");
                    metrics.refused(Refusal::Limits);
                } else {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
            }
            drop(active);
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
