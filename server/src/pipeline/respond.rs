//! Turns a [`ResponsePlan`] for an open file into an HTTP response: status,
//! the headers RFC 9110 asks of each status, and a body that is read in one
//! piece when small and streamed in bounded chunks when not. The validators
//! and Cache-Control are the next stage's ([`super::cache_headers`]).

use std::ops::RangeInclusive;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use warp::Reply;

use crate::body::chunk_cache::ChunkCache;
use crate::body::file::OpenFile;
use crate::body::send_file::SendFile;
use crate::body::stream::{self, BodyStream};
use crate::body::{self, FileSource, Segment};
use crate::engine::plan::ResponsePlan;

/// Bodies up to this size are read whole before the response starts.
const READ_WHOLE_MAX: u64 = 512 * 1024;

pub type HttpResponse = warp::reply::Response;

/// Builds the response for `plan`, of a file served as `content_type`.
/// `head` skips reading the file. `sends_files`: the transport sends one
/// range itself, kernel to socket ([`SendFile`]), so the body is left empty;
/// else `cache` (when on) is where its bytes are read.
pub fn file_response(
    plan: ResponsePlan,
    file: OpenFile,
    cache: Option<&Arc<ChunkCache>>,
    content_type: &'static str,
    head: bool,
    sends_files: bool,
) -> HttpResponse {
    let identity = *file.identity();
    let len = file.len();
    let (status, content_type, segments) = match plan {
        ResponsePlan::NotModified => {
            return with_accept_ranges(simple(StatusCode::NOT_MODIFIED, ""));
        }
        ResponsePlan::PreconditionFailed => {
            return simple(StatusCode::PRECONDITION_FAILED, "precondition failed\n");
        }
        ResponsePlan::RangeNotSatisfiable => {
            let mut response = simple(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            insert(
                &mut response,
                header::CONTENT_RANGE,
                format!("bytes */{len}"),
            );
            return with_accept_ranges(response);
        }
        ResponsePlan::Full if len == 0 => (StatusCode::OK, content_type.to_owned(), vec![]),
        ResponsePlan::Full => (
            StatusCode::OK,
            content_type.to_owned(),
            vec![Segment::Source(0..=len - 1)],
        ),
        ResponsePlan::Partial(range) => (
            StatusCode::PARTIAL_CONTENT,
            content_type.to_owned(),
            vec![Segment::Source(range)],
        ),
        ResponsePlan::Multipart(ranges) => {
            let boundary = boundary_for(&identity.etag());
            (
                StatusCode::PARTIAL_CONTENT,
                format!("multipart/byteranges; boundary={boundary}"),
                multipart_segments(&ranges, len, content_type, &boundary),
            )
        }
    };
    let body_len = body::total_len(&segments);
    let single_range = match (&segments[..], status) {
        ([Segment::Source(range)], StatusCode::PARTIAL_CONTENT) => Some(range.clone()),
        _ => None,
    };
    let mut response = if head || body_len == 0 {
        HttpResponse::new(Default::default())
    } else if let (true, [Segment::Source(range)]) =
        (kernel_sends(sends_files, cache, body_len), &segments[..])
    {
        let mut response = HttpResponse::new(Default::default());
        let range = range.clone();
        response.extensions_mut().insert(SendFile::new(file, range));
        response
    } else if body_len <= READ_WHOLE_MAX {
        match stream::read_all(&FileSource::new(file, cache), &segments) {
            Ok(bytes) => HttpResponse::new(bytes.into()),
            Err(error) => {
                tracing::warn!(%error, "reading file failed");
                return simple(StatusCode::INTERNAL_SERVER_ERROR, "read error\n");
            }
        }
    } else {
        warp::reply::stream(BodyStream::new(FileSource::new(file, cache), segments)).into_response()
    };
    *response.status_mut() = status;
    insert(&mut response, header::CONTENT_TYPE, content_type);
    insert(&mut response, header::CONTENT_LENGTH, body_len.to_string());
    if let Some(range) = single_range {
        insert(
            &mut response,
            header::CONTENT_RANGE,
            content_range(&range, len),
        );
    }
    with_accept_ranges(response)
}

/// Bodies from this size up are written from the chunk cache rather than
/// sent by the kernel, when both can: on `cargo xtask bench server`'s whole
/// 64 MiB file the cache's writes moved 1.5x the bytes of `sendfile` per
/// CPU second (whose splice goes 64 KiB at a time), while on 64 KiB ranges
/// and `bench many`'s 1 MB chunks `sendfile` cost less (no read, no copy).
const CACHE_WRITES_FROM: u64 = 4 * 1024 * 1024;

/// Whether the transport sends the body's one range itself (`sendfile`).
fn kernel_sends(sends_files: bool, cache: Option<&Arc<ChunkCache>>, body_len: u64) -> bool {
    sends_files && (cache.is_none() || body_len < CACHE_WRITES_FROM)
}

/// A short plain-text response for errors and refusals.
pub fn simple(status: StatusCode, text: &'static str) -> HttpResponse {
    plain(status, Bytes::from_static(text.as_bytes()))
}

/// [`simple`] with a message made at run time.
pub fn text(status: StatusCode, text: String) -> HttpResponse {
    plain(status, Bytes::from(text))
}

fn plain(status: StatusCode, text: Bytes) -> HttpResponse {
    let mut response = HttpResponse::new(text.clone().into());
    *response.status_mut() = status;
    if !text.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}

/// 405 for anything but GET and HEAD.
pub fn method_not_allowed() -> HttpResponse {
    let mut response = simple(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

fn with_accept_ranges(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

/// Inserts a header value built here.
pub(super) fn insert(response: &mut HttpResponse, name: header::HeaderName, value: String) {
    // Every value built here is ASCII; a failure would be a bug, not input.
    if let Ok(value) = HeaderValue::try_from(value) {
        response.headers_mut().insert(name, value);
    }
}

fn content_range(range: &RangeInclusive<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", range.start(), range.end())
}

/// A boundary that cannot occur in the part headers and is stable for one
/// version of a file (derived from its ETag).
fn boundary_for(etag: &str) -> String {
    let tag: String = etag.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("caudal-{tag}")
}

fn multipart_segments(
    ranges: &[RangeInclusive<u64>],
    len: u64,
    part_type: &str,
    boundary: &str,
) -> Vec<Segment> {
    let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
    for range in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {part_type}\r\nContent-Range: {}\r\n\r\n",
            content_range(range, len)
        );
        segments.push(Segment::Literal(head.into()));
        segments.push(Segment::Source(range.clone()));
    }
    segments.push(Segment::Literal(format!("\r\n--{boundary}--\r\n").into()));
    segments
}
