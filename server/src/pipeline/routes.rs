//! The URL layout, as warp filters:
//!
//! | path           | what                                   |
//! |----------------|----------------------------------------|
//! | `/media/<path>`| files of the media directory           |
//! | `/api/media`   | JSON listing of the media directory    |
//! | `/api/live`    | JSON listing of the live streams       |
//! | `/api/cmcd`    | CMCD v2 reports (`POST`) ([`super::cmcd_report`]) |
//! | `/metrics`     | the server's metrics, for allowed clients ([`super::metrics_page`]) |
//! | `/live/<name>` | live streams: publish (`PUT`/`POST`), watch (`GET`) ([`super::live_route`]) |
//! | `/<path>`      | the web player and demo page (`www/`)  |
//!
//! Every file answer goes through [`super::serve_file`].

use std::convert::Infallible;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use warp::{Filter, Reply};

use super::file_request::FileRequestHeaders;
use super::ip_gate::ClientAddr;
use super::respond::{self, HttpResponse};
use super::serve_file::{Mount, serve_file};
use super::state::AppState;
use super::{cmcd_report, live_route, metrics_page};
use crate::listing;
use crate::net::connection::ConnectionContext;

/// All routes; never rejects (unknown paths end as 404 from the site route).
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (HttpResponse,), Error = Infallible> + Clone + Send + Sync + 'static {
    let with_state = warp::any().map(move || state.clone());
    // Put there by the `file_request` stage; without it no header is seen.
    let file_headers = warp::ext::optional::<FileRequestHeaders>()
        .map(Option::<FileRequestHeaders>::unwrap_or_default);
    let api = warp::path!("api" / "media")
        .and(warp::method())
        .and(with_state.clone())
        .then(media_listing);
    let live_api = warp::path!("api" / "live")
        .and(warp::method())
        .and(with_state.clone())
        .map(|method, state: Arc<AppState>| live_route::listing(&state, &method));
    let cmcd_report = warp::path!("api" / "cmcd")
        .and(warp::method())
        .and(warp::body::stream())
        .and(with_state.clone())
        .then(|method: Method, body, state: Arc<AppState>| async move {
            cmcd_report::answer(&state, &method, Box::pin(body)).await
        });
    let metrics = warp::path!("metrics")
        .and(warp::method())
        .and(warp::ext::optional::<ClientAddr>())
        .and(with_state.clone())
        .map(|method, client, state: Arc<AppState>| metrics_page::answer(&method, client, &state));
    let media = warp::path("media")
        .and(warp::path::tail())
        .and(warp::method())
        .and(file_headers)
        .and(with_state.clone())
        .map(
            |tail: warp::path::Tail, method, headers, state: Arc<AppState>| {
                serve_file(
                    &state.media,
                    &state,
                    Mount::Media,
                    tail.as_str(),
                    &method,
                    &headers,
                )
            },
        );
    let live = warp::path("live")
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::method())
        .and(
            warp::query::raw()
                .map(Some)
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<ConnectionContext>())
        .and(warp::body::stream())
        .and(with_state.clone())
        .then(
            |name: String, method, query, headers, context, body, state: Arc<AppState>| async move {
                let request = live_route::LiveRequest {
                    name,
                    method,
                    query,
                    headers,
                    context,
                };
                live_route::answer(state, request, Box::pin(body)).await
            },
        );
    let live_files = warp::path("live")
        .and(warp::path::param::<String>())
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::method())
        .and(with_state.clone())
        .then(
            |name: String, file: String, method: Method, state: Arc<AppState>| async move {
                live_route::hls_file(state, &name, &file, &method).await
            },
        );
    let site = warp::path::tail()
        .and(warp::method())
        .and(file_headers)
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
                serve_file(www, &state, Mount::Site, path, &method, &headers)
            },
        );
    // The media route first: it is the one almost every request takes.
    media
        .or(api)
        .unify()
        .or(live_api)
        .unify()
        .or(cmcd_report)
        .unify()
        .or(metrics)
        .unify()
        .or(live)
        .unify()
        .or(live_files)
        .unify()
        .or(site)
        .unify()
}

async fn media_listing(method: Method, state: Arc<AppState>) -> HttpResponse {
    if method != Method::GET && method != Method::HEAD {
        return respond::method_not_allowed();
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
