//! `GET /metrics`: the server's metrics ([`crate::metrics`]) for the
//! clients [`MetricsAccess`](crate::metrics::MetricsAccess) allows (by
//! default loopback: they tell who watches what, and how much is served);
//! anyone else gets `403`, logged and counted as a refusal.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use super::ip_gate::ClientAddr;
use super::respond::{self, HttpResponse};
use super::state::AppState;
use crate::metrics::{self, Refusal};

/// The answer to a request for `/metrics` from `client`.
pub fn answer(method: &Method, client: Option<ClientAddr>, state: &AppState) -> HttpResponse {
    if !state.metrics_access.enabled {
        return respond::simple(StatusCode::NOT_FOUND, "not found\n");
    }
    if method != Method::GET && method != Method::HEAD {
        return respond::method_not_allowed();
    }
    let client = client.and_then(|ClientAddr(addr)| addr);
    if !state.metrics_access.allows(client) {
        tracing::warn!(
            target: "caudal::refused",
            "{} /metrics refused: address not allowed",
            client.map_or_else(|| "unknown".to_owned(), |addr| addr.to_string()),
        );
        state.metrics.refused(Refusal::Metrics);
        return respond::simple(
            StatusCode::FORBIDDEN,
            "forbidden: metrics are not served to this address\n",
        );
    }
    let mut response = HttpResponse::new(Bytes::from(state.metrics.encode()).into());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
