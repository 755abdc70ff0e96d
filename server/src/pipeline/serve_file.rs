//! A file answer, stage by stage, in the order they run.

use std::time::SystemTime;

use http::Method;

use super::file_request::FileRequestHeaders;
use super::respond::{self, HttpResponse};
use super::state::AppState;
use super::{cache_headers, path_safety};
use crate::engine::conditional::Validators;
use crate::engine::plan;
use crate::safe_path::Root;

/// Answers a GET or HEAD of `raw_path` (still percent-encoded) under `root`.
pub fn serve_file(
    root: &Root,
    state: &AppState,
    raw_path: &str,
    method: &Method,
    headers: &FileRequestHeaders,
) -> HttpResponse {
    // 1. Only GET and HEAD name a file.
    if method != Method::GET && method != Method::HEAD {
        return respond::method_not_allowed();
    }
    // 2. Path safety: a file inside the root, or a refusal.
    let (relative, file) = match path_safety::open(root, &state.files, raw_path) {
        Ok(opened) => opened,
        Err(refusal) => return path_safety::refuse(raw_path, &refusal),
    };
    // 3. The engine decides: preconditions, then Range.
    let identity = *file.identity();
    let etag = identity.etag();
    let validators = Validators {
        etag: &etag,
        last_modified: identity.last_modified(),
        last_modified_is_strong: identity.last_modified_is_strong(SystemTime::now()),
    };
    let decision = plan::plan(&headers.as_engine_input(), &validators, identity.len);
    // 4. Status, Content-* headers and the body. The type goes by the name
    //    on disk, not as spelled in the URL (`a%2Emp4`).
    let content_type = caudal_media::mime::content_type_for(&relative.to_string_lossy());
    let mut response = respond::file_response(decision, file, content_type, method == Method::HEAD);
    // 5. Validators and Cache-Control.
    cache_headers::apply(&mut response, &identity, state.cache_control.as_ref());
    // 6. (next: CMSD response headers, once the pipeline measures delivery.)
    response
}
