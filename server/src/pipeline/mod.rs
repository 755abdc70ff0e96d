//! The request pipeline: the stages every request passes, in order, as one
//! tower service that hyper runs for each connection ([`crate::net`]).
//!
//! Around the router, as tower layers (outermost first):
//!
//! 0. the connection context ([`crate::net::connection`]), put into the
//!    request's extensions by the transport before any stage runs;
//! 1. [`cmcd`]: CMCD read from the query or the headers, the query
//!    argument taken out of the URL before anything keyed on it;
//! 2. [`access_log`]: one line per request, with the client address, and
//!    the request's metrics ([`crate::metrics`]) when its body ends;
//! 3. [`cors`]: CORS headers and preflight answers;
//! 4. [`ip_gate`]: the client address (behind `--trusted-proxy`, the one
//!    the proxy names) and the `--allow` / `--deny` IP rules;
//! 5. [`token_gate`]: access control — paths under `--protect` need a
//!    signed token ([`crate::access`]), checked before anything is read from
//!    disk; a valid token in the query is handed back as a cookie;
//! 6. [`file_request`]: Range and the preconditions, taken out of the head;
//! 7. [`pace`]: for media responses, the playback session, the pacing
//!    cap on the connection for the body's life, and the CMSD headers;
//! 8. [`routes`]: warp picks the handler by path (`/metrics` among them).
//!
//! Refusals are counted where they are answered (the gates, [`path_safety`],
//! the transport's limits).
//!
//! A file answer then runs [`serve_file`]'s stages: method, [`path_safety`],
//! [`content_coding`] and [`preload_hints`] (site files only), the engine's plan ([`crate::engine`]), [`respond`] (status and body, from
//! [`crate::body`]) and [`cache_headers`].

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use tower::ServiceBuilder;

use crate::config::Config;

pub mod access_log;
pub mod cache_headers;
pub mod cmcd;
pub mod cmcd_report;
pub mod content_coding;
pub mod cors;
pub mod file_request;
pub mod ip_gate;
pub mod live_route;
pub mod metrics_page;
pub mod pace;
pub mod path_safety;
pub mod preload_hints;
pub mod respond;
pub mod routes;
pub mod serve_file;
pub mod state;
pub mod token_gate;

pub use state::AppState;

/// The whole pipeline as one service, cloned for each connection.
pub fn service<B>(
    state: Arc<AppState>,
    config: &Config,
) -> impl tower::Service<
    Request<B>,
    Response = Response<
        impl http_body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static,
    >,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let metrics = state.metrics.clone();
    let pace = pace::PaceLayer {
        pacer: state.pacer.clone(),
        state: state.clone(),
    };
    ServiceBuilder::new()
        .layer(cmcd::CmcdLayer {
            metrics: metrics.delivery(),
        })
        .layer(access_log::AccessLogLayer {
            enabled: config.access_log,
            trusted: Arc::new(config.trusted_proxies.clone()),
            metrics: metrics.clone(),
        })
        .option_layer(cors::layer(config.cors, config.protection.as_ref()))
        .layer(ip_gate::IpGateLayer::new(
            config.ip_rules.clone(),
            config.trusted_proxies.clone(),
            metrics.clone(),
        ))
        .layer(token_gate::TokenGateLayer::new(
            config.protection.clone(),
            metrics,
        ))
        .layer(file_request::FileRequestLayer)
        .layer(pace)
        .service(warp::service(routes::routes(state)))
}
