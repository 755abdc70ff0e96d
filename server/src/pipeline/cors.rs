//! CORS for GET and HEAD from any origin, so players on other origins can
//! fetch ranges and read the headers they need to (tower-http's layer).

use std::time::Duration;

use http::{Method, header};
use tower_http::cors::{Any, CorsLayer};

/// The CORS stage; `None` when `--no-cors`.
pub fn layer(enabled: bool) -> Option<CorsLayer> {
    enabled.then(|| {
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::HEAD])
            .allow_headers([
                header::RANGE,
                header::IF_RANGE,
                header::IF_NONE_MATCH,
                header::IF_MODIFIED_SINCE,
            ])
            .expose_headers([
                header::CONTENT_RANGE,
                header::ACCEPT_RANGES,
                header::CONTENT_LENGTH,
                header::ETAG,
            ])
            .max_age(Duration::from_secs(86_400))
    })
}
