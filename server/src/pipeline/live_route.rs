//! `/live/<name>`: `PUT`/`POST` publishes ([`crate::live::ingest`]), `GET`
//! and `HEAD` watch — the init segment, the fragments from the last
//! keyframe, then every new one, as one endless `video/mp4` body.
//! `/live/<name>.m3u8` is the same stream as LL-HLS for every other player
//! (blocking reload by `_HLS_msn` / `_HLS_part`), its files under
//! `/live/<name>/`: `init.mp4`, `s<msn>.mp4`, `s<msn>.<part>.mp4` (a part
//! not made yet is waited for: the playlist hints it).

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
        Method::GET | Method::HEAD => match name.strip_suffix(".m3u8") {
            Some(name) => playlist(&state, name, request.query.as_deref()).await,
            None => watch(&state, name, request.method == Method::HEAD).await,
        },
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
    let started = hold(&stream, WAIT_FOR_INIT, || stream.init().is_some()).await;
    let Some(feed) = stream.join() else {
        return if started || stream.phase() == Phase::Ended {
            respond::text(
                StatusCode::NOT_FOUND,
                format!("the live stream {name:?} ended\n"),
            )
        } else {
            respond::text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the live stream {name:?} has not started\n"),
            )
        };
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

/// The longest a blocking playlist reload or a hinted part is held.
const HOLD_MAX: Duration = Duration::from_secs(6);

/// `_HLS_msn` and `_HLS_part` of a playlist request.
fn blocking_reload(query: Option<&str>) -> Option<(u64, Option<usize>)> {
    let mut msn = None;
    let mut part = None;
    for pair in query?.split('&') {
        match pair.split_once('=') {
            Some(("_HLS_msn", value)) => msn = value.parse().ok(),
            Some(("_HLS_part", value)) => part = value.parse().ok(),
            _ => {}
        }
    }
    Some((msn?, part))
}

/// Waits until `ready` holds for `stream` (re-checked each time it
/// changes), at most `limit`; whether it did.
async fn hold(
    stream: &crate::live::stream::Stream,
    limit: Duration,
    ready: impl Fn() -> bool,
) -> bool {
    let mut changes = stream.changes();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if ready() {
            return true;
        }
        if stream.phase() == Phase::Ended {
            return false;
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            _ => return ready(),
        }
    }
}

async fn playlist(state: &AppState, name: &str, query: Option<&str>) -> HttpResponse {
    let Some(stream) = state.live.get(name) else {
        return respond::text(StatusCode::NOT_FOUND, format!("no live stream {name:?}\n"));
    };
    if let Some((msn, part)) = blocking_reload(query)
        && !hold(&stream, HOLD_MAX, || stream.hls_has(msn, part)).await
    {
        return respond::simple(
            StatusCode::SERVICE_UNAVAILABLE,
            "the part asked for was not made in time\n",
        );
    }
    // The first part may be a moment away: held like a blocking reload.
    hold(&stream, HOLD_MAX, || {
        stream.hls_started() || stream.is_webm()
    })
    .await;
    if stream.is_webm() {
        return respond::text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the live stream {name:?} is WebM: HLS carries fragmented MP4 only; GET /live/{name} plays it\n"
            ),
        );
    }
    let Some(text) = stream.hls_playlist() else {
        return respond::text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the live stream {name:?} has no segment yet\n"),
        );
    };
    let mut response = respond::text(StatusCode::OK, text);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apple.mpegurl"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /live/<name>/<file>`: the init segment, a segment or a part.
pub async fn hls_file(
    state: Arc<AppState>,
    name: &str,
    file: &str,
    method: &Method,
) -> HttpResponse {
    if !state.live.config.enabled {
        return respond::simple(StatusCode::NOT_FOUND, "not found\n");
    }
    if method != Method::GET && method != Method::HEAD {
        return respond::method_not_allowed();
    }
    let Some(stream) = state.live.get(name) else {
        return respond::text(StatusCode::NOT_FOUND, format!("no live stream {name:?}\n"));
    };
    let bytes = if file == "init.mp4" {
        stream.init()
    } else {
        match parse_segment_file(file) {
            Some((msn, part)) => {
                // A part the playlist hinted is held until it is made.
                if part.is_some() {
                    hold(&stream, HOLD_MAX, || stream.hls_has(msn, part)).await;
                }
                stream.hls_bytes(msn, part)
            }
            None => None,
        }
    };
    let Some(bytes) = bytes else {
        return respond::text(StatusCode::NOT_FOUND, format!("no {file} in {name:?}\n"));
    };
    let mut response = if *method == Method::HEAD {
        respond::simple(StatusCode::OK, "")
    } else {
        HttpResponse::new(bytes.into())
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    // A segment or part never changes once made; it goes a few segments on.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=30"),
    );
    response
}

/// `s12.mp4` → (12, None); `s12.3.mp4` → (12, Some(3)).
fn parse_segment_file(file: &str) -> Option<(u64, Option<usize>)> {
    let stem = file.strip_prefix('s')?.strip_suffix(".mp4")?;
    match stem.split_once('.') {
        Some((msn, part)) => Some((msn.parse().ok()?, Some(part.parse().ok()?))),
        None => Some((stem.parse().ok()?, None)),
    }
}

/// `GET /api/live`: the live streams, for the demo page and tools.
pub fn listing(state: &AppState, method: &Method) -> HttpResponse {
    if method != Method::GET && method != Method::HEAD {
        return respond::method_not_allowed();
    }
    let streams: Vec<serde_json::Value> = state
        .live
        .streams()
        .iter()
        .map(|stream| {
            let ring_seconds = stream.ring_seconds();
            let seconds = stream.started.elapsed().as_secs_f64();
            let bytes = stream
                .ingested_bytes
                .load(std::sync::atomic::Ordering::Relaxed);
            serde_json::json!({
                "name": stream.name,
                "url": format!("/live/{}", stream.name),
                "hls": format!("/live/{}.m3u8", stream.name),
                "mime": stream.mime(),
                "live": stream.phase() == Phase::Live,
                "viewers": stream.viewer_count(),
                "seconds": (seconds * 10.0).round() / 10.0,
                "bitrate": if seconds > 0.0 { (bytes as f64 * 8.0 / seconds).round() } else { 0.0 },
                "ring_seconds": (ring_seconds * 100.0).round() / 100.0,
            })
        })
        .collect();
    let mut response = warp::reply::Reply::into_response(warp::reply::json(&streams));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_names_and_blocking_reload_parameters_are_read() {
        assert_eq!(parse_segment_file("s12.mp4"), Some((12, None)));
        assert_eq!(parse_segment_file("s12.3.mp4"), Some((12, Some(3))));
        for bad in ["s.mp4", "x12.mp4", "s12.mp3", "s-1.mp4", "s1.2.3.mp4"] {
            assert_eq!(parse_segment_file(bad), None, "{bad}");
        }
        assert_eq!(
            blocking_reload(Some("_HLS_msn=5&_HLS_part=2")),
            Some((5, Some(2)))
        );
        assert_eq!(blocking_reload(Some("_HLS_msn=5")), Some((5, None)));
        assert_eq!(blocking_reload(Some("_HLS_part=2")), None);
        assert_eq!(blocking_reload(None), None);
    }
}
