//! The IP-rule stage: finds the client address (the peer, or behind a
//! `--trusted-proxy` the address its `Forwarded` / `X-Forwarded-For`
//! names, [`crate::access::forwarded`]), puts it into the request as a
//! [`ClientAddr`] for the later stages (the token's `ip=`), and answers
//! `403 forbidden` where the `--allow` / `--deny` rules
//! ([`crate::access::ip_rules`]) say so, logging `ip-denied`.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::HeaderName;
use http::{HeaderMap, Request, Response};
use ipnet::IpNet;

use super::token_gate::{GateBody, forbidden};
use crate::access::IpRules;
use crate::access::{forwarded, ip_rules};
use crate::metrics::{Metrics, Refusal};
use crate::net::connection::ConnectionContext;

/// The client address as the access stages see it; `None`: a proxy said
/// `unknown` (or there is no connection context, in unit tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The address of `request`: its [`ClientAddr`], else its peer.
    pub fn of<B>(request: &Request<B>) -> Option<IpAddr> {
        match request.extensions().get::<ClientAddr>() {
            Some(ClientAddr(addr)) => *addr,
            None => request
                .extensions()
                .get::<ConnectionContext>()
                .map(|context| context.peer().ip()),
        }
    }
}

#[derive(Debug)]
struct Rules {
    rules: IpRules,
    trusted: Vec<IpNet>,
    metrics: Arc<Metrics>,
}

/// Tower layer adding the stage.
#[derive(Debug, Clone)]
pub struct IpGateLayer {
    rules: Arc<Rules>,
}

impl IpGateLayer {
    pub fn new(rules: IpRules, trusted: Vec<IpNet>, metrics: Arc<Metrics>) -> Self {
        IpGateLayer {
            rules: Arc::new(Rules {
                rules,
                trusted,
                metrics,
            }),
        }
    }
}

impl<S> tower::Layer<S> for IpGateLayer {
    type Service = IpGate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IpGate {
            inner,
            rules: self.rules.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct IpGate<S> {
    inner: S,
    rules: Arc<Rules>,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for IpGate<S>
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

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let client = resolve_client(&request, &self.rules.trusted);
        let path = request.uri().path();
        if !self.rules.rules.allows(path, client) {
            tracing::warn!(
                target: "caudal::token",
                "{} {} {} refused: ip-denied",
                client.map_or_else(|| "unknown".to_owned(), |addr| addr.to_string()),
                request.method(),
                path,
            );
            self.rules.metrics.refused(Refusal::Ip);
            let response = forbidden("forbidden", request.method() == http::Method::HEAD);
            return Box::pin(async move { Ok(response) });
        }
        request.extensions_mut().insert(ClientAddr(client));
        let future = self.inner.call(request);
        Box::pin(async move { Ok(future.await?.map(GateBody::Inner)) })
    }
}

/// The client of `request`: its peer, or behind a `trusted` proxy the
/// address the proxy's headers name ([`forwarded`]).
pub fn resolve_client<B>(request: &Request<B>, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectionContext>()
        .map(|context| context.peer().ip())?;
    if trusted.is_empty() {
        return Some(ip_rules::canonical(peer));
    }
    let headers = request.headers();
    let chain = forwarded::chain(
        &values(headers, &http::header::FORWARDED),
        &values(headers, &HeaderName::from_static("x-forwarded-for")),
    );
    forwarded::client(peer, &chain, trusted)
}

fn values<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect()
}
