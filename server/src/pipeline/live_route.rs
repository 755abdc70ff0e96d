//! `/live/<name>`: `PUT`/`POST` publishes ([`crate::live::ingest`]), `GET`
//! and `HEAD` watch — the init segment, the fragments from the last
//! keyframe, then every new one, as one endless `video/mp4` body.

use std::sync::Arc;
use std::time::Duration;

use bytes::Buf;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

use super::respond::{self, HttpResponse};
use super::state::AppState;
use crate::live::stream::Phase;
use crate::live::viewer::ViewerBody;
use crate::live::{PublishRequest, ingest, valid_name};
use crate::net::connection::ConnectionContext;

/// How long a viewer that joins before the publisher's init segment waits.
const WAIT_FOR_INIT: Duration = Duration::from_secs(10);

/// What the route takes from the request.
#[derive(Debug)]
pub struct LiveRequest {
    pub name: String,
    pub method: Method,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub context: Option<ConnectionContext>,
}

pub async fn answer<S, B>(state: Arc<AppState>, request: LiveRequest, body: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let registry = state.live.clone();
    if !registry.config.enabled {
        return respond::simple(StatusCode::NOT_FOUND, "not found\n");
    }
    let name = request.name.as_str();
    match request.method {
        Method::PUT | Method::POST => {
            if !valid_name(name) {
                return respond::simple(
                    StatusCode::BAD_REQUEST,
                    "a live stream's name is 1 to 64 of A-Z a-z 0-9 . _ -\n",
                );
            }
            let path = format!("/live/{name}");
            let token_header = state
                .publish_auth
                .protection
                .as_ref()
                .and_then(|p| request.headers.get(p.token_name.as_str()))
                .and_then(|v| v.to_str().ok());
            let check = state.publish_auth.check(&PublishRequest {
                path: &path,
                query: request.query.as_deref(),
                token_header,
                peer: request.context.as_ref().map(|c| c.peer().ip()),
            });
            if let Err((status, reason)) = check {
                tracing::warn!(target: "caudal::refused", stream = name, "publishing refused: {reason}");
                registry.metrics.published("refused");
                return respond::text(status, format!("{reason}\n"));
            }
            ingest::publish(registry, name, body).await
        }
        Method::GET | Method::HEAD => watch(&state, name, request.method == Method::HEAD).await,
        _ => {
            let mut response =
                respond::simple(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, PUT, POST"),
            );
            response
        }
    }
}

async fn watch(state: &AppState, name: &str, head: bool) -> HttpResponse {
    let Some(stream) = state.live.get(name) else {
        return respond::text(StatusCode::NOT_FOUND, format!("no live stream {name:?}\n"));
    };
    let mut changes = stream.changes();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_INIT;
    let feed = loop {
        if let Some(feed) = stream.join() {
            break feed;
        }
        if stream.phase() == Phase::Ended {
            return respond::text(
                StatusCode::NOT_FOUND,
                format!("the live stream {name:?} ended\n"),
            );
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            _ => {
                return respond::text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the live stream {name:?} has not started\n"),
                );
            }
        }
    };
    let mut response = if head {
        drop(feed);
        respond::simple(StatusCode::OK, "")
    } else {
        warp::reply::Reply::into_response(warp::reply::stream(ViewerBody(feed)))
    };
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&stream.mime()) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
