//! A file answer, stage by stage, in the order they run.

use std::time::SystemTime;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use super::content_coding::{self, Coding};
use super::file_request::FileRequestHeaders;
use super::respond::{self, HttpResponse};
use super::state::AppState;
use super::{cache_headers, path_safety};
use crate::body::file::OpenFile;
use crate::engine::conditional::Validators;
use crate::engine::plan;
use crate::safe_path::{self, Root};

/// Which mount a file is served from: they differ in coding and caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount {
    /// `/media/`: the bytes as stored, never encoded, `--cache-control`.
    Media,
    /// The site (`--www`): precompressed variants chosen by
    /// `Accept-Encoding`, cache life by name ([`cache_headers::for_site`]).
    Site,
}

/// The loader a build stamps with the hashed asset names; served as
/// `/player.js` when present, so that a checkout without a build still
/// serves the committed `player.js`.
const BUILT_LOADER: &str = "pkg/player.js";

/// Answers a GET or HEAD of `raw_path` (still percent-encoded) under `root`.
pub fn serve_file(
    root: &Root,
    state: &AppState,
    mount: Mount,
    raw_path: &str,
    method: &Method,
    headers: &FileRequestHeaders,
) -> HttpResponse {
    // 1. Only GET and HEAD name a file.
    if method != Method::GET && method != Method::HEAD {
        return respond::method_not_allowed();
    }
    // 2. Path safety: a file inside the root, or a refusal. The built
    //    loader stands in for `/player.js` when there is one.
    let disk_path = match mount {
        Mount::Site if raw_path == "player.js" => {
            match path_safety::open(root, &state.files, BUILT_LOADER) {
                Ok(_) => BUILT_LOADER,
                Err(_) => raw_path,
            }
        }
        _ => raw_path,
    };
    let requested = match safe_path::decode(raw_path) {
        Ok(requested) => requested,
        Err(refusal) => return path_safety::refuse(raw_path, &refusal, &state.metrics),
    };
    let (on_disk, plain) = match path_safety::open(root, &state.files, disk_path) {
        Ok(opened) => opened,
        Err(refusal) => return path_safety::refuse(raw_path, &refusal, &state.metrics),
    };
    // The type goes by the name on disk, not as spelled in the URL (`a%2Emp4`).
    let content_type = caudal_media::mime::content_type_for(&on_disk.to_string_lossy());
    // 3a. A page that embeds the player names the modules it will load,
    //     read from the plain page before a coding replaces it.
    let preload = match (mount, &state.preload) {
        (Mount::Site, Some(hints)) if content_type.starts_with("text/html") => {
            hints.hint(root, &state.files, raw_path, &plain)
        }
        _ => None,
    };
    // 3b. Content coding, site only: a precompressed sidecar the client
    //    accepts replaces the plain file.
    let mut variants = match mount {
        Mount::Media => Vec::new(),
        Mount::Site => stored_variants(root, state, disk_path),
    };
    let has_variants = !variants.is_empty();
    let stored: Vec<Coding> = variants.iter().map(|(coding, _)| *coding).collect();
    let coding = content_coding::choose(headers.accept_encoding(), &stored);
    let file = match coding.and_then(|c| variants.iter().position(|(v, _)| *v == c)) {
        Some(index) => variants.swap_remove(index).1,
        None => plain,
    };
    // 4. The engine decides: preconditions, then Range. Each coding has
    //    its own ETag, so caches and conditionals never mix variants. A
    //    Range on an encoded variant is ignored (RFC 9110 §14.2 lets a
    //    server): the whole encoded body is sent with 200.
    let identity = *file.identity();
    let etag = match coding {
        Some(coding) => variant_etag(&identity.etag(), coding),
        None => identity.etag(),
    };
    let validators = Validators {
        etag: &etag,
        last_modified: identity.last_modified(),
        last_modified_is_strong: identity.last_modified_is_strong(SystemTime::now()),
    };
    let mut input = headers.as_engine_input();
    if coding.is_some() {
        input.range = None;
    }
    let decision = plan::plan(&input, &validators, identity.len);
    // 5. Status, Content-* headers and the body.
    let sends_files = headers.sends_files() && coding.is_none();
    let mut response = respond::file_response(
        decision,
        file,
        state.chunks.as_ref(),
        content_type,
        method == Method::HEAD,
        sends_files,
    );
    if let Some(coding) = coding {
        if response.status().is_success() {
            response.headers_mut().insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.token()),
            );
        }
        response.headers_mut().remove(header::ACCEPT_RANGES);
    }
    if has_variants {
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    // 6. Validators and Cache-Control (the site's by the requested name).
    let cache_control = match mount {
        Mount::Media => state.cache_control.clone(),
        Mount::Site => cache_headers::for_site(&requested, state.cache_control.as_ref()),
    };
    cache_headers::apply(
        &mut response,
        &etag,
        identity.last_modified(),
        cache_control.as_ref(),
    );
    if let Some(link) = preload
        && matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED)
    {
        response.headers_mut().append(header::LINK, link);
    }
    // (CMSD and pacing: the pace stage, around the router — `super::pace`.)
    response
}

/// The precompressed sidecars stored beside `raw_path`, in preference order.
fn stored_variants(root: &Root, state: &AppState, raw_path: &str) -> Vec<(Coding, OpenFile)> {
    Coding::PREFERRED
        .iter()
        .filter_map(|&coding| {
            let sidecar = format!("{raw_path}{}", coding.file_suffix());
            path_safety::open(root, &state.files, &sidecar)
                .ok()
                .map(|(_, file)| (coding, file))
        })
        .collect()
}

/// The strong tag of a variant: its file's tag, marked with the coding.
fn variant_etag(etag: &str, coding: Coding) -> String {
    let inner = etag.trim_end_matches('"');
    format!("{inner}{}\"", coding.etag_suffix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_tag_is_the_file_tag_marked_inside_the_quotes() {
        assert_eq!(variant_etag("\"a-1-2\"", Coding::Brotli), "\"a-1-2-br\"");
        assert_eq!(variant_etag("\"a-1-2\"", Coding::Gzip), "\"a-1-2-gz\"");
    }
}
