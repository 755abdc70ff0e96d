//! CORS for GET and HEAD from any origin, so players on other origins can
//! fetch ranges and read the headers they need to (tower-http's layer).

use std::time::Duration;

use http::header::HeaderName;
use http::{Method, header};
use tower_http::cors::{Any, CorsLayer};

use crate::access::Protection;

/// The CORS stage; `None` when `--no-cors`. With token protection, the
/// token's header may be sent cross-origin too.
pub fn layer(enabled: bool, protection: Option<&Protection>) -> Option<CorsLayer> {
    let token_header = protection
        .and_then(|protection| HeaderName::from_bytes(protection.token_name.as_bytes()).ok());
    enabled.then(|| {
        let mut allowed = vec![
            header::RANGE,
            header::IF_RANGE,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
        ];
        allowed.extend(token_header);
        // CMCD's header form (players that choose it over the query).
        allowed.extend(
            caudal_media::cmcd::HEADER_NAMES
                .iter()
                .map(|name| HeaderName::from_static(lowercase(name))),
        );
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::HEAD])
            .allow_headers(allowed)
            .expose_headers([
                header::CONTENT_RANGE,
                header::ACCEPT_RANGES,
                header::CONTENT_LENGTH,
                header::ETAG,
                HeaderName::from_static("cmsd-static"),
                HeaderName::from_static("cmsd-dynamic"),
            ])
            .max_age(Duration::from_secs(86_400))
    })
}

/// The CMCD header names in lower case, as `HeaderName::from_static` wants.
fn lowercase(name: &str) -> &'static str {
    match name {
        "CMCD-Object" => "cmcd-object",
        "CMCD-Request" => "cmcd-request",
        "CMCD-Session" => "cmcd-session",
        _ => "cmcd-status",
    }
}
