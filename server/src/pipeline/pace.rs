//! The pace stage, innermost (around the router): for each media response
//! (a GET under `/media/` answered 200 or 206) it records the request in
//! its playback session, decides the pace by [`crate::pacing::rule`], caps
//! the connection for the body's life ([`crate::pacing::socket`]), and adds
//! the CMSD headers. Other responses pass untouched.

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use caudal_media::cmcd::Cmcd;
use caudal_media::cta::ObjectType;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};

use super::cmcd::RequestCmcd;
use super::state::AppState;
use crate::body::send_file::{SendFile, SendProgress};
use crate::net::connection::ConnectionContext;
use crate::pacing::egress::{self, Demand};
use crate::pacing::repace::{self, Repace};
use crate::pacing::sessions::{Seen, SessionKey};
use crate::pacing::{
    Decision, Enforcer, Pace, PaceInput, PaceMode, Pacer, ResponsePace, cmsd, rule, socket,
};
use crate::safe_path;

/// What the pace stage decided for a response, for the access log.
#[derive(Debug, Clone, Copy)]
pub struct PaceNote {
    pub decision: Decision,
    /// The cap, bits per second, when paced.
    pub bits_per_second: Option<f64>,
    /// `--max-egress` slowed it below what the rule gives it.
    pub slowed: bool,
}

/// Tower layer adding the pace stage.
#[derive(Debug, Clone)]
pub struct PaceLayer {
    pub pacer: Arc<Pacer>,
    pub state: Arc<AppState>,
}

impl<S> tower::Layer<S> for PaceLayer {
    type Service = PaceStage<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaceStage {
            inner,
            pacer: self.pacer.clone(),
            state: self.state.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PaceStage<S> {
    inner: S,
    pacer: Arc<Pacer>,
    state: Arc<AppState>,
}

/// What the stage takes from a media request before the router runs.
struct Asked {
    cmcd: Option<Arc<Cmcd>>,
    client: IpAddr,
    socket: crate::net::connection::SocketHandle,
    path: String,
    received: Instant,
}

impl<S, B, ResBody> tower::Service<Request<B>> for PaceStage<S>
where
    S: tower::Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<PacedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // A cap the connection's previous response left (its last bytes
        // were still leaving) is not this request's.
        if let Some(context) = request.extensions().get::<ConnectionContext>() {
            socket::clear_leftover(context.socket());
        }
        let asked = (request.method() == Method::GET
            && request.uri().path().starts_with("/media/"))
        .then(|| {
            let context = request.extensions().get::<ConnectionContext>()?;
            Some(Asked {
                cmcd: request
                    .extensions()
                    .get::<RequestCmcd>()
                    .map(|cmcd| cmcd.0.clone()),
                client: context.peer().ip(),
                socket: context.socket().clone(),
                path: request.uri().path().to_owned(),
                received: Instant::now(),
            })
        })
        .flatten();
        let future = self.inner.call(request);
        let (pacer, state) = (self.pacer.clone(), self.state.clone());
        Box::pin(async move {
            let mut response = future.await?;
            let delivery = match asked {
                Some(asked)
                    if matches!(
                        response.status(),
                        StatusCode::OK | StatusCode::PARTIAL_CONTENT
                    ) =>
                {
                    deliver(&pacer, &state, asked, &mut response)
                }
                _ => None,
            };
            Ok(response.map(|body| PacedBody {
                body,
                pace: delivery,
                wait: None,
                rest: None,
            }))
        })
    }
}

/// Decides and applies the pace of one media response and adds its CMSD;
/// the pace its writers report to while it is paced or may become so.
fn deliver<T>(
    pacer: &Pacer,
    state: &AppState,
    asked: Asked,
    response: &mut Response<T>,
) -> Option<Arc<ResponsePace>> {
    let headers = response.headers();
    let range = byte_range(response.status(), headers);
    let etag = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let fallback_object = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or(ObjectType::Other, |mime| {
            if mime.starts_with("video/") {
                ObjectType::Muxed
            } else if mime.starts_with("audio/") {
                ObjectType::Audio
            } else {
                ObjectType::Other
            }
        });
    let facts = pacer
        .facts
        .get(&asked.path, &etag, || disk_path(state, &asked.path));
    let cmcd = asked.cmcd.as_deref();
    let bitrate = cmcd
        .and_then(|c| c.br)
        // hls.js sends `br=0` for a playlist without BANDWIDTH: unknown.
        .filter(|&kbps| kbps > 0)
        .map(|kbps| kbps as f64 * 1000.0)
        .or_else(|| facts.and_then(|f| f.bitrate));
    let reported_buffer = cmcd.and_then(|c| c.bl).map(Duration::from_millis);
    let key = match cmcd.and_then(|c| c.sid.clone()) {
        Some(sid) => SessionKey::Cmcd(sid),
        None => SessionKey::Client(asked.client, asked.path.clone()),
    };
    let now = asked.received;
    let estimate = {
        let mut sessions = pacer
            .sessions
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let estimate = sessions.seen(
            key,
            Seen {
                now,
                buffer: reported_buffer,
                stalled: cmcd.is_some_and(|c| c.bs),
                range,
                bytes_per_second: bitrate.map(|bits| bits / 8.0),
            },
        );
        pacer
            .metrics
            .sessions_active
            .set(sessions.active_count() as i64);
        estimate
    };
    // The player's own flags when it sends CMCD, else the estimate's.
    let startup = cmcd.map_or(estimate.starts_a_run, |c| c.su);
    let starved = cmcd.is_some_and(|c| c.bs);
    let pace = match (pacer.config.mode, cmcd) {
        (PaceMode::Off, _) => Err(Decision::Off),
        (PaceMode::Cmcd, None) => Err(Decision::NoCmcd),
        (_, _) => {
            let input = PaceInput {
                buffer: estimate.buffer,
                startup,
                starved,
                bitrate,
                requested: cmcd.and_then(|c| c.rtp).map(|kbps| kbps as f64 * 1000.0),
            };
            match rule::decide(&input, &pacer.config.settings) {
                Pace::Unpaced(reason) => Err(Decision::Rule(reason)),
                paced => Ok(paced),
            }
        }
    };
    // The cap in bytes per second, as the socket takes it.
    let (decision, cap_bytes) = match pace {
        Ok(paced) => (Decision::Paced, paced.bytes_per_second()),
        Err(decision) => (decision, None),
    };
    let long = range.is_some_and(|(start, end)| end - start > repace::EVERY_BYTES);
    let repace = bitrate
        .filter(|_| pacer.config.mode == PaceMode::Always && cmcd.is_none() && long)
        .map(|bits| {
            Repace::new(
                pacer.config.settings,
                bits / 8.0,
                now,
                estimate.buffer.filter(|_| !estimate.starts_a_run),
                cap_bytes,
            )
        });
    // Under `--max-egress` every media response takes a share.
    let budget = pacer.egress.as_ref().map(|egress| {
        let demand = Demand {
            buffer: if startup || starved {
                Duration::ZERO
            } else {
                estimate.buffer.unwrap_or(pacer.config.settings.min_buffer)
            },
            floor: bitrate.map_or(0, |bits| (bits / 8.0) as u64),
            want: cap_bytes,
        };
        (egress, demand)
    });
    let mut slowed = false;
    let (decision, cap_bytes, delivery) =
        if cap_bytes.is_some() || repace.is_some() || budget.is_some() {
            let (pace, started) = ResponsePace::start(
                asked.socket.clone(),
                pacer.config.by,
                cap_bytes,
                repace,
                budget,
                Instant::now(),
            );
            if let (Some((_, demand)), Some(share)) = (&budget, started.share) {
                slowed = egress::slowed(demand, share, pacer.config.settings.multiplier_empty);
                if slowed {
                    pacer.metrics.egress_slowed.inc();
                }
            }
            let decision = match started.enforcer {
                Some(Enforcer::App) if decision == Decision::Paced => Decision::PacedByApp,
                _ => decision,
            };
            let pace = Arc::new(pace);
            if let Some(send) = response.extensions_mut().get_mut::<SendFile>() {
                send.progress = Some(pace.clone());
            }
            (decision, started.cap, Some(pace))
        } else {
            (decision, None, None)
        };
    let cap = cap_bytes.map(|bytes| bytes as f64 * 8.0);
    pacer
        .metrics
        .decisions
        .get_or_create(&crate::pacing::metrics::DecisionLabel {
            decision: decision.label(),
        })
        .inc();
    let info = socket::info(&asked.socket);
    let headers = response.headers_mut();
    for (name, value) in [
        (
            "cmsd-static",
            cmsd::static_value(facts.as_ref(), fallback_object),
        ),
        (
            "cmsd-dynamic",
            cmsd::dynamic_value(info.as_ref(), cap, slowed),
        ),
    ] {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response.extensions_mut().insert(PaceNote {
        decision,
        bits_per_second: cap,
        slowed,
    });
    delivery
}

/// The file on disk a `/media/…` path names, if it is a safe one.
fn disk_path(state: &AppState, path: &str) -> Option<PathBuf> {
    let raw = path.strip_prefix("/media/")?;
    let relative = safe_path::decode(raw).ok()?;
    state.media.resolve(&relative).ok()
}

/// The bytes a 200 or 206 response carries, `start..end`.
fn byte_range(status: StatusCode, headers: &http::HeaderMap) -> Option<(u64, u64)> {
    if status == StatusCode::PARTIAL_CONTENT {
        // `bytes START-END/TOTAL` (a multipart answer has no Content-Range).
        let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
        let spec = value.strip_prefix("bytes ")?.split('/').next()?;
        let (start, end) = spec.split_once('-')?;
        let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
        return Some((start, end.checked_add(1)?));
    }
    let len = headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some((0, len))
}

/// A media response's body: it tells its pace of each frame that leaves,
/// waits when the application enforces the cap (handing a frame larger
/// than the bucket's burst over in pieces of one burst), and ends the pace
/// with the body (dropping it ends it too: a client gone mid-body).
#[derive(Debug)]
pub struct PacedBody<B> {
    body: B,
    pace: Option<Arc<ResponsePace>>,
    /// The token bucket's wait before the next frame.
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
    /// What is left of a frame handed over in pieces.
    rest: Option<bytes::Bytes>,
}

impl<B: Body<Data = bytes::Bytes> + Unpin> Body for PacedBody<B> {
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Some(wait) = &mut this.wait {
            std::task::ready!(wait.as_mut().poll(cx));
            this.wait = None;
        }
        let Some(pace) = &this.pace else {
            return Pin::new(&mut this.body).poll_frame(cx);
        };
        let mut data = match this.rest.take() {
            Some(rest) => rest,
            None => match std::task::ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                None => {
                    pace.end();
                    return Poll::Ready(None);
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
            },
        };
        if let Some(piece) = SendProgress::max_piece(pace.as_ref())
            && let Ok(piece) = usize::try_from(piece)
            && data.len() > piece
        {
            this.rest = Some(data.split_off(piece.max(1)));
        }
        let wait = pace.sent(data.len() as u64, Instant::now());
        if !wait.is_zero() {
            this.wait = Some(Box::pin(tokio::time::sleep(wait)));
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.body.size_hint();
        if let Some(rest) = &self.rest {
            // Upper first: a lower above the upper panics.
            let rest = rest.len() as u64;
            if let Some(upper) = hint.upper() {
                hint.set_upper(upper + rest);
            }
            hint.set_lower(hint.lower() + rest);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_comes_from_content_range_or_the_length() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_static("bytes 100-199/1000"),
        );
        assert_eq!(
            byte_range(StatusCode::PARTIAL_CONTENT, &headers),
            Some((100, 200))
        );
        let mut headers = http::HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1000"));
        assert_eq!(byte_range(StatusCode::OK, &headers), Some((0, 1000)));
        assert_eq!(byte_range(StatusCode::PARTIAL_CONTENT, &headers), None);
    }
}
