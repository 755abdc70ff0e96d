//! One log line per request: client address, method, path, range, status,
//! bytes actually sent, and milliseconds until the body finished (or was dropped, e.g. by a
//! client that went away); for a player that sends CMCD, its session in
//! short, and for a media response, the pace it got. Bytes are counted as the body is polled, so a cut
//! connection logs what really left, not what Content-Length promised. The
//! same end records the request in the metrics ([`crate::metrics`]): this
//! is the one stage that sees every response, refusals included, end.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};

use caudal_media::cmcd::Cmcd;

use super::cmcd::RequestCmcd;
use super::ip_gate::resolve_client;
use super::pace::PaceNote;
use crate::access::ip_rules;
use crate::body::send_file::{SendFile, SentCounter};
use crate::metrics::{Metrics, Route};
use crate::net::connection::ConnectionContext;
use crate::pacing::Decision;

/// Tower layer adding the access log.
#[derive(Debug, Clone)]
pub struct AccessLogLayer {
    pub enabled: bool,
    /// `--trusted-proxy`: the line then also names the client behind the
    /// proxy (`for=ADDR`) when it is not the peer.
    pub trusted: Arc<Vec<IpNet>>,
    pub metrics: Arc<Metrics>,
}

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog {
            inner,
            enabled: self.enabled,
            trusted: self.trusted.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
    enabled: bool,
    trusted: Arc<Vec<IpNet>>,
    metrics: Arc<Metrics>,
}

/// What is known about a request when it arrives.
#[derive(Debug)]
struct Line {
    /// From the connection context; `None` only if no transport put one there.
    client: Option<SocketAddr>,
    /// The client behind a trusted proxy, when it is not the peer.
    forwarded_for: Option<IpAddr>,
    method: http::Method,
    path: String,
    range: Option<String>,
    /// What the player said of its session (CMCD), in short.
    cmcd: Option<String>,
    /// The pace stage's decision, once the response is known.
    pace: Option<PaceNote>,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for AccessLog<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body + Unpin,
{
    type Response = Response<LoggedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let line = self.enabled.then(|| {
            let client = request
                .extensions()
                .get::<ConnectionContext>()
                .map(ConnectionContext::peer);
            let forwarded_for = if self.trusted.is_empty() {
                None
            } else {
                resolve_client(&request, &self.trusted).filter(|addr| {
                    client.is_none_or(|peer| ip_rules::canonical(peer.ip()) != *addr)
                })
            };
            Line {
                client,
                forwarded_for,
                method: request.method().clone(),
                path: request.uri().path().to_owned(),
                range: request
                    .headers()
                    .get(http::header::RANGE)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                cmcd: request
                    .extensions()
                    .get::<RequestCmcd>()
                    .map(|cmcd| cmcd_summary(&cmcd.0)),
                pace: None,
            }
        });
        let start = Instant::now();
        let route = Route::of(request.uri().path());
        let head = request.method() == http::Method::HEAD;
        let metrics = Some(self.metrics.clone());
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let status = response.status().as_u16();
            let expected = if head {
                Some(0)
            } else {
                response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok())
            };
            let sent_by_transport = response
                .extensions()
                .get::<SendFile>()
                .map(SendFile::counter);
            let mut line = line;
            if let Some(line) = &mut line {
                line.pace = response.extensions().get::<PaceNote>().copied();
            }
            Ok(response.map(|body| LoggedBody {
                body,
                line,
                metrics,
                route,
                start,
                status,
                sent: 0,
                sent_by_transport,
                expected,
            }))
        })
    }
}

/// A response body that counts what it yields and, once, at its end,
/// logs and records it.
#[derive(Debug)]
pub struct LoggedBody<B> {
    body: B,
    line: Option<Line>,
    /// Taken at the end: recorded once.
    metrics: Option<Arc<Metrics>>,
    route: Route,
    start: Instant,
    status: u16,
    sent: u64,
    /// What the transport sent itself, past the body ([`SendFile`]).
    sent_by_transport: Option<SentCounter>,
    /// Content-Length, when known: a drop before it is reached is a cut.
    expected: Option<u64>,
}

impl<B> LoggedBody<B> {
    /// Body bytes that left, through the body or the transport.
    fn sent(&self) -> u64 {
        self.sent + self.sent_by_transport.as_ref().map_or(0, SentCounter::get)
    }

    fn cut(&self) -> bool {
        self.expected.is_some_and(|expected| self.sent() < expected)
    }

    fn end(&mut self, outcome: &str) {
        let sent = self.sent();
        if let Some(metrics) = self.metrics.take() {
            let seconds = self.start.elapsed().as_secs_f64();
            metrics.response(self.route, self.status, sent, self.cut(), seconds);
            if let Some(by_kernel) = &self.sent_by_transport {
                metrics.sent_by_kernel(by_kernel.get());
            }
        }
        if let Some(line) = self.line.take() {
            tracing::info!(
                target: "caudal::access",
                "{}{} {} {} range={} {} {}B {:.1}ms{}{}{}",
                Client(line.client),
                line.forwarded_for
                    .map_or_else(String::new, |addr| format!(" for={addr}")),
                line.method,
                line.path,
                line.range.as_deref().unwrap_or("-"),
                self.status,
                sent,
                self.start.elapsed().as_secs_f64() * 1000.0,
                outcome,
                line.cmcd.map_or_else(String::new, |cmcd| format!(" cmcd[{cmcd}]")),
                line.pace.map_or_else(String::new, |pace| {
                    let paced = match (pace.decision, pace.bits_per_second) {
                        (Decision::PacedByApp, Some(bits)) => {
                            format!(" paced={:.2}Mbit/s(app)", bits / 1e6)
                        }
                        (Decision::Paced, Some(bits)) => format!(" paced={:.2}Mbit/s", bits / 1e6),
                        // The rule left it alone; the egress budget did not.
                        (decision, Some(bits)) => format!(
                            " unpaced({}) egress={:.2}Mbit/s",
                            decision.label(),
                            bits / 1e6
                        ),
                        (decision, None) => format!(" unpaced({})", decision.label()),
                    };
                    // Held back by --max-egress (its CMSD said `du`).
                    if pace.slowed {
                        paced + " egress-slowed"
                    } else {
                        paced
                    }
                }),
            );
        }
    }
}

/// The session keys of a request's CMCD, for its log line: `sid`, buffer,
/// bit rate, throughput, `su`, `bs`.
fn cmcd_summary(cmcd: &Cmcd) -> String {
    let mut out = Vec::with_capacity(6);
    if let Some(sid) = &cmcd.sid {
        out.push(format!("sid={sid}"));
    }
    if let Some(bl) = cmcd.bl {
        out.push(format!("bl={:.1}s", bl as f64 / 1000.0));
    }
    if let Some(br) = cmcd.br {
        out.push(format!("br={br}k"));
    }
    if let Some(mtp) = cmcd.mtp {
        out.push(format!("mtp={mtp}k"));
    }
    if cmcd.su {
        out.push("su".into());
    }
    if cmcd.bs {
        out.push("bs".into());
    }
    out.join(" ")
}

/// The client address, or `-` when unknown.
struct Client(Option<SocketAddr>);

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("-"),
        }
    }
}

impl<B: Body + Unpin> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += bytes::Buf::remaining(data) as u64;
                }
            }
            Poll::Ready(Some(Err(_))) => self.end(" (body error)"),
            Poll::Ready(None) => self.end(""),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<B> Drop for LoggedBody<B> {
    fn drop(&mut self) {
        // Reached without a logged end: HEAD, a body hyper knew was complete
        // without polling to the end, or a client that went away mid-body.
        let outcome = if self.cut() { " (cut short)" } else { "" };
        self.end(outcome);
    }
}
