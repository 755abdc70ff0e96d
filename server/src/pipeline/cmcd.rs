//! CMCD in (CTA-5004): the first stage after the connection context. It
//! reads the keys a player sent — the `CMCD` query argument or the
//! `CMCD-*` headers, from Caudal's player or any other — and takes the
//! argument out of the URL before anything keyed on it (a signed token's
//! URL, the path's checks) sees it. The keys ride on in the request's
//! extensions ([`RequestCmcd`]) for the access log and the pace stage.
//! CMCD that cannot be read is counted and ignored: the request is served.

use std::sync::Arc;
use std::task::{Context, Poll};

use caudal_media::cmcd::{self, Cmcd};
use http::Request;
use http::uri::{PathAndQuery, Uri};

use crate::pacing::DeliveryMetrics;

/// Counts what a player's CMCD says: the keys of a request, or of one
/// report to `/api/cmcd` ([`super::cmcd_report`]).
pub fn record(metrics: &DeliveryMetrics, keys: &Cmcd) {
    metrics.cmcd_requests.inc();
    if keys.bs {
        metrics.cmcd_stalls.inc();
    }
    if let Some(bl) = keys.bl
        && keys.ot.is_none_or(|ot| ot.is_media())
    {
        metrics.buffer_seconds.observe(bl as f64 / 1000.0);
    }
    if let Some(ltc) = keys.ltc {
        metrics.live_latency.observe(ltc as f64 / 1000.0);
    }
}

/// The CMCD keys of a request.
#[derive(Debug, Clone)]
pub struct RequestCmcd(pub Arc<Cmcd>);

/// Tower layer adding the CMCD stage.
#[derive(Debug, Clone)]
pub struct CmcdLayer {
    pub metrics: DeliveryMetrics,
}

impl<S> tower::Layer<S> for CmcdLayer {
    type Service = CmcdStage<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CmcdStage {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CmcdStage<S> {
    inner: S,
    metrics: DeliveryMetrics,
}

impl<S, B> tower::Service<Request<B>> for CmcdStage<S>
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
        if let Some(read) = take(&mut request) {
            match read {
                Ok(keys) => {
                    record(&self.metrics, &keys);
                    request.extensions_mut().insert(RequestCmcd(Arc::new(keys)));
                }
                Err(error) => {
                    self.metrics.cmcd_invalid.inc();
                    tracing::debug!(%error, path = request.uri().path(), "CMCD ignored");
                }
            }
        }
        self.inner.call(request)
    }
}

/// The request's CMCD, the query argument taken out of its URI; `None`
/// when it sent none.
fn take<B>(request: &mut Request<B>) -> Option<Result<Cmcd, cmcd::CmcdError>> {
    let from_query = match request.uri().query() {
        Some(query) if query.contains(cmcd::QUERY_KEY) => {
            let (rest, value) = cmcd::strip_query(query);
            if value.is_some() {
                let uri = without_query(request.uri(), &rest);
                *request.uri_mut() = uri;
            }
            value.map(|value| value.and_then(|value| cmcd::parse_value(&value)))
        }
        _ => None,
    };
    let from_headers = cmcd::from_headers(
        request
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str().starts_with("cmcd-"))
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    );
    match (from_query, from_headers) {
        (Some(Ok(mut keys)), Some(Ok(more))) => {
            keys.merge(more);
            Some(Ok(keys))
        }
        (Some(read), _) => Some(read),
        (None, read) => read,
    }
}

/// `uri` with its query replaced by `rest` (none when empty).
fn without_query(uri: &Uri, rest: &str) -> Uri {
    let path = uri.path();
    let path_and_query = if rest.is_empty() {
        PathAndQuery::try_from(path)
    } else {
        PathAndQuery::try_from(format!("{path}?{rest}"))
    };
    let Ok(path_and_query) = path_and_query else {
        return uri.clone();
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_argument_is_read_and_taken_out_of_the_uri() {
        let mut request = Request::get(
            "/media/a.mp4?__token__=exp%3D9~hmac%3Dab&CMCD=bl%3D8000%2Cbr%3D1500%2Csid%3D%22s%22%2Csu",
        )
        .body(())
        .expect("request");
        let keys = take(&mut request).expect("present").expect("valid");
        assert_eq!((keys.bl, keys.br, keys.su), (Some(8000), Some(1500), true));
        assert_eq!(
            request.uri().to_string(),
            "/media/a.mp4?__token__=exp%3D9~hmac%3Dab"
        );
        let mut only = Request::get("/media/a.mp4?CMCD=bl%3D100")
            .body(())
            .expect("request");
        take(&mut only);
        assert_eq!(only.uri().to_string(), "/media/a.mp4");
    }

    #[test]
    fn headers_are_read_and_merged_with_the_query() {
        let mut request = Request::get("/media/a.mp4?CMCD=sid%3D%22q%22")
            .header("CMCD-Request", "bl=4000,su")
            .header("CMCD-Status", "bs")
            .body(())
            .expect("request");
        let keys = take(&mut request).expect("present").expect("valid");
        assert_eq!(keys.sid.as_deref(), Some("q"));
        assert_eq!(keys.bl, Some(4000));
        assert!(keys.su && keys.bs);
        let mut none = Request::get("/media/a.mp4?x=CMCDish")
            .body(())
            .expect("request");
        assert!(take(&mut none).is_none());
        assert_eq!(none.uri().to_string(), "/media/a.mp4?x=CMCDish");
    }

    #[test]
    fn unreadable_cmcd_is_an_error_and_the_uri_is_still_cleaned() {
        let mut request = Request::get("/media/a.mp4?CMCD=bl%3D%22x%22&k=1")
            .body(())
            .expect("request");
        assert!(matches!(take(&mut request), Some(Err(_))));
        assert_eq!(request.uri().to_string(), "/media/a.mp4?k=1");
    }
}
