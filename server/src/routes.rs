//! The URL layout, as warp filters:
//!
//! | path           | what                                   |
//! |----------------|----------------------------------------|
//! | `/media/<path>`| files of the media directory           |
//! | `/api/media`   | JSON listing of the media directory    |
//! | `/<path>`      | the web player and demo page (`www/`)  |
//!
//! Every file answer goes through the range engine ([`crate::plan`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use warp::{Filter, Reply};

use crate::conditional::Conditions;
use crate::file_cache::FileCache;
use crate::listing;
use crate::plan::{self, RequestHeaders};
use crate::respond::{self, FileHeaders, HttpResponse};
use crate::safe_path::{self, PathError, Root};
use crate::validators::FileIdentity;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub media: Root,
    pub www: Option<Root>,
    pub cache_control: Option<HeaderValue>,
    pub files: FileCache,
}

/// All routes; never rejects (unknown paths end as 404 from the site route).
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (HttpResponse,), Error = Infallible> + Clone + Send + Sync + 'static {
    let with_state = warp::any().map(move || state.clone());
    let api = warp::path!("api" / "media")
        .and(warp::method())
        .and(with_state.clone())
        .then(media_listing);
    let media = warp::path("media")
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(with_state.clone())
        .map(
            |tail: warp::path::Tail, method, headers, state: Arc<AppState>| {
                serve_file(&state.media, &state, tail.as_str(), &method, &headers)
            },
        );
    let site = warp::path::tail()
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(with_state)
        .map(
            |tail: warp::path::Tail, method, headers, state: Arc<AppState>| {
                let Some(www) = &state.www else {
                    return respond::simple(StatusCode::NOT_FOUND, "not found\n");
                };
                let path = if tail.as_str().is_empty() {
                    "index.html"
                } else {
                    tail.as_str()
                };
                serve_file(www, &state, path, &method, &headers)
            },
        );
    api.or(media).unify().or(site).unify()
}

async fn media_listing(method: Method, state: Arc<AppState>) -> HttpResponse {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed();
    }
    let root = state.media.clone();
    let Ok(entries) = tokio::task::spawn_blocking(move || listing::list(&root)).await else {
        return respond::simple(StatusCode::INTERNAL_SERVER_ERROR, "listing failed\n");
    };
    let mut response = warp::reply::json(&entries).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn serve_file(
    root: &Root,
    state: &AppState,
    raw_path: &str,
    method: &Method,
    headers: &HeaderMap,
) -> HttpResponse {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed();
    }
    let relative = match safe_path::decode(raw_path) {
        Ok(relative) => relative,
        Err(refusal) => return refuse(raw_path, &refusal),
    };
    let file = match state.files.open(root, &relative) {
        Ok(file) => file,
        Err(refusal) => return refuse(raw_path, &refusal),
    };
    let identity: FileIdentity = *file.identity();
    let etag = identity.etag();
    let last_modified_is_strong = identity.last_modified_is_strong(SystemTime::now());
    let validators = crate::conditional::Validators {
        etag: &etag,
        last_modified: identity.last_modified(),
        last_modified_is_strong,
    };
    let get = |name: header::HeaderName| headers.get(name).map(HeaderValue::as_bytes);
    let request = RequestHeaders {
        range: get(header::RANGE),
        conditions: Conditions {
            if_match: get(header::IF_MATCH),
            if_none_match: get(header::IF_NONE_MATCH),
            if_modified_since: get(header::IF_MODIFIED_SINCE),
            if_unmodified_since: get(header::IF_UNMODIFIED_SINCE),
            if_range: get(header::IF_RANGE),
        },
    };
    let decision = plan::plan(&request, &validators, identity.len);
    let file_headers = FileHeaders {
        // By the name on disk, not as spelled in the URL (`a%2Emp4`).
        content_type: caudal_media::mime::content_type_for(&relative.to_string_lossy()),
        cache_control: state.cache_control.clone(),
        send_last_modified: last_modified_is_strong,
    };
    respond::file_response(decision, file, &file_headers, method == Method::HEAD)
}

/// Refusals are logged with their reason and answered with their status.
fn refuse(raw_path: &str, refusal: &PathError) -> HttpResponse {
    let status = refusal.status();
    if status != StatusCode::NOT_FOUND || matches!(refusal, PathError::Hidden) {
        tracing::warn!(target: "caudal::refused", path = raw_path, %refusal, status = status.as_u16());
    }
    let text = match status {
        StatusCode::BAD_REQUEST => "bad request: malformed path\n",
        StatusCode::FORBIDDEN => "forbidden: path leads outside the served directory\n",
        _ => "not found\n",
    };
    respond::simple(status, text)
}

fn method_not_allowed() -> HttpResponse {
    let mut response = respond::simple(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}
