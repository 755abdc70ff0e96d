//! The request headers a file answer reads (Range, the preconditions and
//! Accept-Encoding),
//! taken out of the request once, as shared values, and put into its
//! extensions: the router hands them to the file stages without copying the
//! whole header map, as `warp::header::headers_cloned` would.

use std::task::{Context, Poll};

use http::Request;
use http::header::{self, HeaderValue};

use crate::body::send_file::SendsFiles;

use crate::engine::conditional::Conditions;
use crate::engine::plan::RequestHeaders;

fn bytes(value: &Option<HeaderValue>) -> Option<&[u8]> {
    value.as_ref().map(HeaderValue::as_bytes)
}

/// Range and the conditional headers of a request, raw; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct FileRequestHeaders {
    range: Option<HeaderValue>,
    if_match: Option<HeaderValue>,
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
    if_unmodified_since: Option<HeaderValue>,
    if_range: Option<HeaderValue>,
    accept_encoding: Option<HeaderValue>,
    /// The transport sends file ranges itself ([`SendsFiles`]).
    sends_files: bool,
}

impl FileRequestHeaders {
    pub fn of<B>(request: &Request<B>) -> Self {
        let headers = request.headers();
        let get = |name: header::HeaderName| headers.get(name).cloned();
        FileRequestHeaders {
            range: get(header::RANGE),
            if_match: get(header::IF_MATCH),
            if_none_match: get(header::IF_NONE_MATCH),
            if_modified_since: get(header::IF_MODIFIED_SINCE),
            if_unmodified_since: get(header::IF_UNMODIFIED_SINCE),
            if_range: get(header::IF_RANGE),
            accept_encoding: get(header::ACCEPT_ENCODING),
            sends_files: request.extensions().get::<SendsFiles>().is_some(),
        }
    }

    /// Whether a file body may be left to the transport ([`SendsFiles`]).
    pub fn sends_files(&self) -> bool {
        self.sends_files
    }

    /// `Accept-Encoding`, when it is text (anything else asks for nothing).
    pub fn accept_encoding(&self) -> Option<&str> {
        self.accept_encoding.as_ref().and_then(|v| v.to_str().ok())
    }

    /// As the range engine takes them.
    pub fn as_engine_input(&self) -> RequestHeaders<'_> {
        RequestHeaders {
            range: bytes(&self.range),
            conditions: Conditions {
                if_match: bytes(&self.if_match),
                if_none_match: bytes(&self.if_none_match),
                if_modified_since: bytes(&self.if_modified_since),
                if_unmodified_since: bytes(&self.if_unmodified_since),
                if_range: bytes(&self.if_range),
            },
        }
    }
}

/// Tower layer inserting [`FileRequestHeaders`] into each request.
#[derive(Debug, Clone, Copy)]
pub struct FileRequestLayer;

impl<S> tower::Layer<S> for FileRequestLayer {
    type Service = FileRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FileRequest { inner }
    }
}

#[derive(Debug, Clone)]
pub struct FileRequest<S> {
    inner: S,
}

impl<S, B> tower::Service<Request<B>> for FileRequest<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let headers = FileRequestHeaders::of(&request);
        request.extensions_mut().insert(headers);
        self.inner.call(request)
    }
}
