//! The headers a cache and a resuming client go by: `ETag`, `Last-Modified`
//! and the configured `Cache-Control`, on every answer that carries the
//! representation or confirms it (200, 206, 304) — not on refusals or errors.
//!
//! Last-Modified is always sent: a date shared by two versions written in the
//! same second is harmless, because the engine trusts an If-Range date only
//! once the file is a second old ([`FileIdentity::last_modified_is_strong`]).

use http::StatusCode;
use http::header::{self, HeaderValue};

use super::respond::{self, HttpResponse};
use crate::engine::validators::FileIdentity;

/// Adds the validators of `identity` and `cache_control` to `response`.
pub fn apply(
    response: &mut HttpResponse,
    identity: &FileIdentity,
    cache_control: Option<&HeaderValue>,
) {
    let status = response.status();
    if !matches!(
        status,
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        return;
    }
    respond::insert(response, header::ETAG, identity.etag());
    respond::insert(
        response,
        header::LAST_MODIFIED,
        httpdate::fmt_http_date(identity.last_modified()),
    );
    if let Some(cache_control) = cache_control {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, cache_control.clone());
    }
}
