//! The transport: the accept loop, the limits on each connection
//! ([`limits`]), the [`connection::ConnectionContext`] put into every request,
//! and graceful shutdown. Each connection is served by Caudal's own HTTP/1.1
//! loop ([`http1`], the fast path that can send files kernel to socket) or,
//! with `--zero-copy off` and for what the fast path hands over, by hyper;
//! both run the service they are given (the request pipeline). Nothing here
//! knows about files but how to send a range of one.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::config::Config;
use crate::metrics::{Metrics, Refusal};

pub mod connection;
pub mod http1;
pub mod limits;
pub mod request_body;
pub mod tcp_options;
pub mod workers;

use connection::{ConnectionContext, SharedStream};
pub use request_body::RequestBody;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves connections accepted on `listener` with `service` until `shutdown`
/// completes, then stops accepting and lets in-flight responses finish for
/// up to the configured grace period. `slots` caps the connections of every
/// loop together (`--max-connections`).
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    config: &Config,
    metrics: &Arc<Metrics>,
    slots: Arc<Semaphore>,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError> + Send,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let settings = Arc::new(http1::Settings {
        header_timeout: config.header_timeout,
        max_header_bytes: config.max_header_bytes,
        send_timeout: config.send_timeout,
        hyper: limits::http1(config),
    });
    let zero_copy = config.zero_copy;
    // Every connection holds a receiver: `closed()` is "all have ended".
    let (stopping, stop) = watch::channel(false);
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
        let active = metrics.connection();
        let metrics = metrics.clone();
        let settings = settings.clone();
        let mut service = service.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let ended = if zero_copy {
                http1::serve(&stream, &context, &mut service, &settings, &mut stop).await
            } else {
                // Boxed: hyper's connection state is not part of every task.
                let hyper = http1::serve_hyper(stream, context, service, &settings, stop);
                Box::pin(hyper).await
            };
            match ended {
                http1::Ended::Closed => {}
                http1::Ended::HeadTimeout => head_timeout(&peer, &settings, &metrics),
                http1::Ended::Hyper(error) if error.is_timeout() => {
                    head_timeout(&peer, &settings, &metrics);
                }
                http1::Ended::Hyper(error) => {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
            }
            drop(active);
            drop(slot);
        });
    }
    drop(listener);
    drop(stop);
    tracing::info!("shutting down: waiting for in-flight responses");
    let _ = stopping.send(true);
    tokio::select! {
        () = stopping.closed() => tracing::info!("all connections finished"),
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!(grace = ?config.shutdown_grace, "grace period over; closing remaining connections");
        }
    }
}

fn head_timeout(peer: &std::net::SocketAddr, settings: &http1::Settings, metrics: &Metrics) {
    tracing::info!(target: "caudal::refused", %peer, header_timeout = ?settings.header_timeout,
        "connection closed: request head not received in time");
    metrics.refused(Refusal::Limits);
}
