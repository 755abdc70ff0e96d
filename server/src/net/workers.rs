//! One event loop per core, as nginx's worker processes: each thread runs
//! a single-threaded tokio runtime with its own listening socket on the
//! same address (`SO_REUSEPORT`: the kernel spreads new connections), so a
//! connection lives on one thread, its wake-ups never cross threads, and a
//! request that arrives is taken in the order its loop sees it.
//!
//! Measured with `cargo xtask bench many` on 2 CPUs: one multi-threaded
//! runtime spent 0.59–0.85× nginx's CPU per GB with a p99 time to first
//! byte up to 1.7× nginx's (work stealing and cross-thread wake-ups); a
//! single loop 0.46–0.67× and 0.90–0.98×, but its cold bursts wait on one
//! core — hence one loop per core.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{Semaphore, watch};

use super::RequestBody;
use crate::config::Config;
use crate::metrics::Metrics;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Tasks a loop runs between two looks at its sockets (tokio's default is
/// 61): a busy loop otherwise leaves new request heads unread while it runs
/// 61 body writes of up to 512 KiB each (the cold burst's time to first byte
/// in `bench many`).
const EVENT_INTERVAL: u32 = 8;

/// Pending connections each listening socket queues.
const BACKLOG: i32 = 1024;

/// `count` listening sockets on `addr` (port 0: one free port for all).
pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let mut listeners = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count.max(1) {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        let listener: std::net::TcpListener = socket.into();
        // The first socket fixed the port; the others share it.
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Serves each listener on its own thread until `shutdown` completes, then
/// waits for every loop to finish (each within the grace period).
pub async fn run<S, B>(
    listeners: Vec<std::net::TcpListener>,
    service: S,
    config: &Config,
    metrics: &Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError> + Send,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (stop, stopped) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut threads = Vec::with_capacity(listeners.len());
    for (index, listener) in listeners.into_iter().enumerate() {
        let (service, config, metrics, slots) = (
            service.clone(),
            config.clone(),
            metrics.clone(),
            slots.clone(),
        );
        let mut stopped = stopped.clone();
        let thread = std::thread::Builder::new()
            .name(format!("caudal-loop-{index}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .event_interval(EVENT_INTERVAL)
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        tracing::error!(%error, "cannot start an event loop");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(error) => {
                            tracing::error!(%error, "cannot listen on this loop");
                            return;
                        }
                    };
                    let until = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    super::serve(listener, service, &config, &metrics, slots, until).await;
                });
            });
        match thread {
            Ok(thread) => threads.push(thread),
            Err(error) => tracing::error!(%error, "cannot start an event loop thread"),
        }
    }
    shutdown.await;
    let _ = stop.send(true);
    let _ = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    })
    .await;
}
