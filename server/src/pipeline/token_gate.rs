//! The access-control stage: requests under a `--protect` prefix need a
//! signed token ([`crate::access`]); without a valid one they are answered
//! `403` with a one-line plain-text body before anything is read from
//! disk, and a log line says why (never the key, never the token).
//! Granted answers are `Cache-Control: private, no-store`; an ACL token
//! granted from the query comes back as a cookie.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};

use super::cache_headers;
use super::ip_gate::ClientAddr;
use crate::access::{Decision, Offered, Protection, Refusal, carrier, cookie_grant};
use crate::metrics::{self, Metrics};

/// Tower layer adding the token stage; with no protection it lets all through.
#[derive(Debug, Clone)]
pub struct TokenGateLayer {
    gate: Option<Arc<Gate>>,
}

#[derive(Debug)]
struct Gate {
    protection: Protection,
    metrics: Arc<Metrics>,
    /// The header that may carry the token (its name as a header name).
    header: Option<HeaderName>,
}

impl TokenGateLayer {
    pub fn new(protection: Option<Protection>, metrics: Arc<Metrics>) -> Self {
        TokenGateLayer {
            gate: protection.map(|protection| {
                let header = HeaderName::from_bytes(protection.token_name.as_bytes()).ok();
                Arc::new(Gate {
                    protection,
                    metrics,
                    header,
                })
            }),
        }
    }
}

impl<S> tower::Layer<S> for TokenGateLayer {
    type Service = TokenGate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenGate {
            inner,
            gate: self.gate.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenGate<S> {
    inner: S,
    gate: Option<Arc<Gate>>,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for TokenGate<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<GateBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let Some(gate) = &self.gate else {
            let future = self.inner.call(request);
            return Box::pin(async move { Ok(future.await?.map(GateBody::Inner)) });
        };
        let cookie = match gate.decide(&request) {
            Decision::Refused(refusal) => {
                gate.metrics.refused(match refusal {
                    Refusal::Expired { .. } | Refusal::NotYetValid { .. } => {
                        metrics::Refusal::TokenExpired
                    }
                    _ => metrics::Refusal::Token,
                });
                let response = refused(&refusal, request.method() == http::Method::HEAD);
                return Box::pin(async move { Ok(response) });
            }
            Decision::Open => {
                let future = self.inner.call(request);
                return Box::pin(async move { Ok(future.await?.map(GateBody::Inner)) });
            }
            Decision::Granted(grant) if grant.acl => gate.cookie_for(&request),
            Decision::Granted(_) => None,
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            let status = response.status();
            cache_headers::protect(status, response.headers_mut());
            if let Some(cookie) = cookie
                && status.is_success()
            {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response.map(GateBody::Inner))
        })
    }
}

impl Gate {
    /// The `Set-Cookie` for a request granted by an ACL token that came in
    /// the query ([`crate::access::cookie_grant`]); the query is looked at
    /// first, so a token there is the one that was granted. None when the
    /// request carries that token as its cookie already (a player's range
    /// requests after the first).
    fn cookie_for<B>(&self, request: &Request<B>) -> Option<HeaderValue> {
        let name = self.protection.token_name.as_str();
        let token = carrier::from_query(request.uri().query()?, name)?;
        let held = request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|cookies| carrier::from_cookies(cookies, name) == Some(token));
        if held {
            return None;
        }
        let protected = self.protection.prefix_for(request.uri().path())?;
        let cookie = cookie_grant::set_cookie(name, token, protected)?;
        HeaderValue::from_str(&cookie).ok()
    }

    fn decide<B>(&self, request: &Request<B>) -> Decision {
        let uri = request.uri();
        let path = uri.path();
        if !self.protection.covers(path) {
            return Decision::Open;
        }
        let headers = request.headers();
        // The query is looked at first: with the token there, the cookies
        // are never read.
        let name = self.protection.token_name.as_str();
        let in_query = uri
            .query()
            .is_some_and(|query| carrier::from_query(query, name).is_some());
        let cookies: Vec<&str> = if in_query {
            Vec::new()
        } else {
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect()
        };
        let client = ClientAddr::of(request);
        let offered = Offered {
            path,
            query: uri.query(),
            cookies: &cookies,
            header: self
                .header
                .as_ref()
                .and_then(|name| headers.get(name))
                .and_then(|value| value.to_str().ok()),
            client,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let decision = self.protection.decide_covered(&offered, now);
        match &decision {
            Decision::Refused(refusal) => tracing::warn!(
                target: "caudal::token",
                "{} {} {} refused: {} ({refusal})",
                client.map_or_else(|| "-".to_owned(), |addr| addr.to_string()),
                request.method(),
                path,
                refusal.code(),
            ),
            Decision::Granted(grant) => tracing::debug!(
                target: "caudal::token",
                "{path} granted (key {}, id {})",
                grant.key_index + 1,
                grant.id.as_deref().unwrap_or("-"),
            ),
            Decision::Open => {}
        }
        decision
    }
}

/// The `403` of a refused token.
fn refused<B>(refusal: &Refusal, head: bool) -> Response<GateBody<B>> {
    forbidden(refusal.public_reason(), head)
}

/// A `403` with `reason` as its one line of plain text, never cached.
pub fn forbidden<B>(reason: &str, head: bool) -> Response<GateBody<B>> {
    let text = format!("{reason}\n");
    let len = text.len();
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(text)
    };
    let mut response = Response::new(GateBody::Refused(Some(body)));
    *response.status_mut() = StatusCode::FORBIDDEN;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The inner service's body, or the refusal's one line.
#[derive(Debug)]
pub enum GateBody<B> {
    Inner(B),
    Refused(Option<Bytes>),
}

/// Empty (the CORS stage answers preflights with a default body).
impl<B> Default for GateBody<B> {
    fn default() -> Self {
        GateBody::Refused(None)
    }
}

impl<B> Body for GateBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            GateBody::Inner(body) => Pin::new(body).poll_frame(cx),
            GateBody::Refused(text) => Poll::Ready(text.take().map(|text| Ok(Frame::data(text)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            GateBody::Inner(body) => body.is_end_stream(),
            GateBody::Refused(text) => text.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            GateBody::Inner(body) => body.size_hint(),
            GateBody::Refused(text) => {
                SizeHint::with_exact(text.as_ref().map_or(0, |text| text.len() as u64))
            }
        }
    }
}
