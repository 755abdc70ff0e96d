//! `PUT` / `POST /live/<name>`: a publisher's chunked body of fragmented
//! MP4, read as it arrives, cut by `caudal_media::live::LiveSplitter` and
//! published fragment by fragment. The answer comes when the body ends (or
//! is refused): `200` for a stream that ended cleanly, `400` with the
//! reason for one that was not a live fragmented MP4, `403` without a
//! token that covers the name, `409` while another publisher sends it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes};
use caudal_media::live::{Ingested, LiveError, LiveReader};
use futures_util::StreamExt;
use http::StatusCode;

use super::record::Recording;
use super::registry::LiveRegistry;
use super::stream::{Fragment, Stream};
use crate::access::{Decision, Offered, Protection};
use crate::pipeline::respond::{self, HttpResponse};

/// Who may publish.
#[derive(Debug, Clone)]
pub struct PublishAuth {
    /// The keys of `--key`, for tokens whose `acl` covers `/live/<name>`.
    pub protection: Option<Protection>,
    /// `--live-open`: from loopback, no token needed.
    pub open_loopback: bool,
}

/// The parts of a publishing request the decision reads.
#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The header named like the token, if any.
    pub token_header: Option<&'a str>,
    /// The socket's peer (never a forwarded address: loopback means here).
    pub peer: Option<IpAddr>,
}

impl PublishAuth {
    /// `Ok` when the request may publish; else the status and the reason.
    pub fn check(&self, request: &PublishRequest<'_>) -> Result<(), (StatusCode, String)> {
        if self.open_loopback && request.peer.is_some_and(|ip| ip.is_loopback()) {
            return Ok(());
        }
        let Some(protection) = &self.protection else {
            return Err((
                StatusCode::FORBIDDEN,
                "publishing needs a token signed by a --key whose acl covers this path, or --live-open from loopback".into(),
            ));
        };
        let offered = Offered {
            path: request.path,
            query: request.query,
            cookies: &[],
            header: request.token_header,
            client: request.peer,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match protection.decide_covered(&offered, now) {
            Decision::Granted(_) | Decision::Open => Ok(()),
            Decision::Refused(refusal) => Err((
                StatusCode::FORBIDDEN,
                format!("publishing refused: {refusal}"),
            )),
        }
    }
}

/// Reads a publisher's body into `name`'s stream; the answer to send.
pub async fn publish<S, B>(registry: Arc<LiveRegistry>, name: &str, body: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let (stream, id) = match registry.publish(name) {
        Ok(claimed) => claimed,
        Err(busy) => {
            tracing::warn!(target: "caudal::live", stream = name, "publisher refused: {busy}");
            registry.metrics.published("refused");
            return respond::text(StatusCode::CONFLICT, format!("{busy}\n"));
        }
    };
    tracing::info!(target: "caudal::live", stream = name, publisher = id, "publisher connected");
    let mut left = Left {
        registry: registry.clone(),
        stream: stream.clone(),
        id,
        told: false,
    };
    let outcome = read_body(&registry, &stream, id, body).await;
    let (status, reason, message) = match &outcome {
        Ended::Clean => (StatusCode::OK, "ended", "stream ended".to_owned()),
        Ended::Bad(error) => (
            StatusCode::BAD_REQUEST,
            "bad_input",
            format!("not a live stream Caudal can take: {error}"),
        ),
        Ended::Idle => (
            StatusCode::REQUEST_TIMEOUT,
            "idle",
            format!(
                "the publisher sent nothing for {} s",
                registry.config.idle.as_secs()
            ),
        ),
        Ended::Cut(error) => (
            StatusCode::BAD_REQUEST,
            "cut",
            format!("the body broke off: {error}"),
        ),
        Ended::TakenOver => (
            StatusCode::CONFLICT,
            "taken_over",
            "another publisher took the stream over".into(),
        ),
    };
    registry.metrics.published(reason);
    left.told = true;
    if matches!(outcome, Ended::Clean) {
        tracing::info!(target: "caudal::live", stream = name, publisher = id, "publisher ended");
    } else {
        tracing::warn!(target: "caudal::live", stream = name, publisher = id, "publisher ended: {message}");
    }
    respond::text(status, format!("{message}\n"))
}

/// How a publisher's body ended.
enum Ended {
    Clean,
    Bad(LiveError),
    Idle,
    Cut(warp::Error),
    TakenOver,
}

async fn read_body<S, B>(registry: &LiveRegistry, stream: &Stream, id: u64, mut body: S) -> Ended
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    // A fragmented MP4 or a WebM, told by its first bytes.
    let mut splitter = LiveReader::new(caudal_media::live::LiveLimits::default());
    let mut recording: Option<Recording> = None;
    loop {
        let next = match tokio::time::timeout(registry.config.idle, body.next()).await {
            Err(_) => return Ended::Idle,
            Ok(next) => next,
        };
        let mut chunk = match next {
            None => {
                return match splitter.finish() {
                    Ok(()) => Ended::Clean,
                    Err(error) => Ended::Bad(error),
                };
            }
            Some(Err(error)) => return Ended::Cut(error),
            Some(Ok(chunk)) => chunk,
        };
        if stream.publisher() != id {
            return Ended::TakenOver;
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let len = piece.len();
            let ingested = match splitter.push(piece) {
                Ok(ingested) => ingested,
                Err(error) => return Ended::Bad(error),
            };
            chunk.advance(len);
            for item in ingested {
                match item {
                    Ingested::Init(init) => {
                        let bytes = Bytes::from(init.bytes);
                        recording =
                            registry.config.record.as_deref().and_then(
                                |dir| match Recording::start(
                                    dir,
                                    &stream.name,
                                    splitter.is_webm(),
                                    bytes.clone(),
                                ) {
                                    Ok(recording) => {
                                        tracing::info!(target: "caudal::live", stream = stream.name,
                                        path = %recording.path().display(), "recording");
                                        Some(recording)
                                    }
                                    Err(error) => {
                                        tracing::warn!(target: "caudal::live", stream = stream.name,
                                        %error, "cannot record");
                                        None
                                    }
                                },
                            );
                        stream.set_init(id, bytes, init.mime);
                    }
                    Ingested::Fragment(fragment) => {
                        let bytes = Bytes::from(fragment.bytes);
                        if let Some(recording) = &mut recording {
                            recording.write(bytes.clone());
                        }
                        stream.publish(
                            id,
                            Fragment {
                                bytes,
                                keyframe: fragment.keyframe,
                                // The audio between video frames adds no
                                // time to the stream's (video) timeline.
                                duration: if fragment.timed {
                                    fragment.duration
                                } else {
                                    0.0
                                },
                                wallclock_ms: fragment.wallclock_ms,
                            },
                            Instant::now(),
                        );
                    }
                }
            }
        }
    }
}

/// Tells the registry the publisher left, however its request ended (the
/// connection closing drops the request unanswered: logged here then).
struct Left {
    registry: Arc<LiveRegistry>,
    stream: Arc<Stream>,
    id: u64,
    told: bool,
}

impl Drop for Left {
    fn drop(&mut self) {
        if !self.told {
            self.registry.metrics.published("cut");
            tracing::warn!(target: "caudal::live", stream = self.stream.name, publisher = self.id,
                "publisher ended: its connection closed mid-body");
        }
        self.registry.publisher_left(&self.stream, self.id);
    }
}
