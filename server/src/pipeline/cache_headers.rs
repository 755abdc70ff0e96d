//! The headers a cache and a resuming client go by: `ETag`, `Last-Modified`
//! and the configured `Cache-Control`, on every answer that carries the
//! representation or confirms it (200, 206, 304) — not on refusals or errors.
//!
//! Last-Modified is always sent: a date shared by two versions written in the
//! same second is harmless, because the engine trusts an If-Range date only
//! once the file is a second old ([`FileIdentity::last_modified_is_strong`]).

use std::path::Path;
use std::time::SystemTime;

use http::StatusCode;
use http::header::{self, HeaderValue};

use super::respond::{self, HttpResponse};

/// Content-hashed player assets never change under their name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `/player.js` names the hashed assets of the current build: a short life
/// lets a page start without a revalidation round trip while a new build
/// still reaches every viewer within five minutes.
const LOADER: &str = "public, max-age=300";

/// Protected answers: no shared cache may keep them, and the viewer's
/// browser should not store them either (the validators stay, so a
/// resuming range request can still use If-Range).
pub const PROTECTED: &str = "private, no-store";

/// Replaces the Cache-Control of a successful (2xx, 304) answer under a
/// protected prefix with [`PROTECTED`]; it runs after [`apply`], so it wins.
pub fn protect(status: StatusCode, headers: &mut http::HeaderMap) {
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PROTECTED));
    }
}

/// The Cache-Control of the site file requested as `requested` (decoded,
/// relative to the site root): immutable for content-hashed names under
/// `pkg/`, short for the loader `player.js`, else `configured`.
pub fn for_site(requested: &Path, configured: Option<&HeaderValue>) -> Option<HeaderValue> {
    if requested == Path::new("player.js") {
        return Some(HeaderValue::from_static(LOADER));
    }
    let in_pkg = requested.parent() == Some(Path::new("pkg"));
    let hashed = requested
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(is_content_hashed);
    if in_pkg && hashed {
        return Some(HeaderValue::from_static(IMMUTABLE));
    }
    configured.cloned()
}

/// Whether `name` holds `-` then 16 lowercase hex digits then `.`, as the
/// player build names its assets (`caudal_player-0123456789abcdef.wasm`).
pub fn is_content_hashed(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.windows(18).any(|window| {
        window[0] == b'-'
            && window[17] == b'.'
            && window[1..17]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    })
}

/// Adds the validators (`etag`, `last_modified`) and `cache_control` to
/// `response`.
pub fn apply(
    response: &mut HttpResponse,
    etag: &str,
    last_modified: SystemTime,
    cache_control: Option<&HeaderValue>,
) {
    let status = response.status();
    if !matches!(
        status,
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        return;
    }
    respond::insert(response, header::ETAG, etag.to_owned());
    respond::insert(
        response,
        header::LAST_MODIFIED,
        httpdate::fmt_http_date(last_modified),
    );
    if let Some(cache_control) = cache_control {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, cache_control.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_successes_are_private_no_store_and_refusals_untouched() {
        let mut headers = http::HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        protect(StatusCode::PARTIAL_CONTENT, &mut headers);
        assert_eq!(headers[header::CACHE_CONTROL], PROTECTED);
        let mut refused = http::HeaderMap::new();
        protect(StatusCode::NOT_FOUND, &mut refused);
        assert!(refused.get(header::CACHE_CONTROL).is_none());
    }

    #[test]
    fn hashed_names_are_sixteen_lowercase_hex_between_dash_and_dot() {
        assert!(is_content_hashed("caudal_player-0123456789abcdef.wasm"));
        assert!(is_content_hashed("caudal_remux-0123456789abcdef.js.br"));
        assert!(!is_content_hashed("caudal_player_bg.wasm"));
        assert!(!is_content_hashed("caudal_player-0123456789ABCDEF.wasm"));
        assert!(!is_content_hashed("caudal_player-0123456789abcde.wasm"));
        assert!(!is_content_hashed("caudal_player-0123456789abcdef0.wasm"));
    }

    #[test]
    fn site_cache_life_goes_by_the_requested_path() {
        let configured = HeaderValue::from_static("no-cache");
        let life = |path: &str| {
            for_site(Path::new(path), Some(&configured))
                .and_then(|value| value.to_str().map(str::to_owned).ok())
        };
        let is = |value: &str| Some(value.to_owned());
        assert_eq!(
            life("pkg/caudal_player-0123456789abcdef.wasm"),
            is(IMMUTABLE)
        );
        assert_eq!(life("player.js"), is(LOADER));
        assert_eq!(life("pkg/caudal_player_bg.wasm"), is("no-cache"));
        assert_eq!(
            life("x/caudal_player-0123456789abcdef.wasm"),
            is("no-cache")
        );
        assert_eq!(life("index.html"), is("no-cache"));
        assert_eq!(for_site(Path::new("index.html"), None), None);
    }
}
