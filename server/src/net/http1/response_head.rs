//! The response head as bytes on the wire, and how its body is framed:
//! sans-I/O, so the framing rules of RFC 9112 §6 are tested without a socket.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use http::header::{self, HeaderMap};

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body may follow: HEAD, 1xx, 204, 304.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`: the length is not known up front.
    Chunked,
}

/// The framing of a response to a request (`head`: a HEAD request), from
/// its `Content-Length` or, without one, the body's exact size if known.
pub fn framing(status: StatusCode, head: bool, headers: &HeaderMap, exact: Option<u64>) -> Framing {
    if head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Framing::None;
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse().ok());
    match declared.or(exact) {
        Some(len) => Framing::Length(len),
        None => Framing::Chunked,
    }
}

/// Appends the status line and headers of a response to `out`, adding the
/// framing header the body needs, `Date`, and `Connection: close` when the
/// connection ends after it.
pub fn write(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    close: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name == header::TRANSFER_ENCODING
            || (name == header::CONNECTION && close)
            || (name == header::CONTENT_LENGTH && framing == Framing::Chunked)
        {
            continue;
        }
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    match framing {
        Framing::Length(len) if !headers.contains_key(header::CONTENT_LENGTH) => {
            line(out, b"content-length", len.to_string().as_bytes());
        }
        Framing::Chunked => line(out, b"transfer-encoding", b"chunked"),
        _ => {}
    }
    if !headers.contains_key(header::DATE) {
        with_date(|date| line(out, b"date", date));
    }
    if close {
        line(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether the response itself asks to close the connection.
pub fn asks_close(headers: &HeaderMap) -> bool {
    super::request_head::has_token(headers, header::CONNECTION, "close")
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The current `Date` value, formatted once a second per thread (as hyper
/// caches it), since every response carries one.
fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    thread_local! {
        static CACHED: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    CACHED.with_borrow_mut(|(at, text)| {
        if *at != second {
            *at = second;
            *text = httpdate::fmt_http_date(now);
        }
        f(text.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    header::HeaderName::from_static(n),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn bodies_are_framed_by_their_length_else_chunked_and_never_after_head_or_304() {
        let with_length = headers(&[("content-length", "10")]);
        assert_eq!(
            framing(StatusCode::OK, false, &with_length, None),
            Framing::Length(10)
        );
        assert_eq!(
            framing(StatusCode::OK, false, &HeaderMap::new(), Some(3)),
            Framing::Length(3)
        );
        assert_eq!(
            framing(StatusCode::OK, false, &HeaderMap::new(), None),
            Framing::Chunked
        );
        assert_eq!(
            framing(StatusCode::OK, true, &with_length, None),
            Framing::None
        );
        assert_eq!(
            framing(StatusCode::NOT_MODIFIED, false, &with_length, None),
            Framing::None
        );
        assert_eq!(
            framing(StatusCode::NO_CONTENT, false, &HeaderMap::new(), None),
            Framing::None
        );
    }

    #[test]
    fn the_head_has_the_status_line_headers_date_and_framing() {
        let mut out = Vec::new();
        let given = headers(&[("content-type", "video/mp4"), ("content-length", "10")]);
        write(
            &mut out,
            StatusCode::PARTIAL_CONTENT,
            &given,
            Framing::Length(10),
            false,
        );
        let text = String::from_utf8(out).expect("ascii");
        assert!(
            text.starts_with("HTTP/1.1 206 Partial Content\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\ncontent-type: video/mp4\r\n"));
        assert_eq!(text.matches("content-length: 10\r\n").count(), 1);
        assert!(text.contains("\r\ndate: "));
        assert!(!text.contains("connection"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_chunked_head_says_so_and_a_closing_one_says_close_once() {
        let mut out = Vec::new();
        let given = headers(&[("connection", "keep-alive"), ("content-length", "5")]);
        write(&mut out, StatusCode::OK, &given, Framing::Chunked, true);
        let text = String::from_utf8(out).expect("ascii");
        assert!(text.contains("transfer-encoding: chunked\r\n"));
        assert!(!text.contains("content-length"), "{text}");
        assert_eq!(text.matches("connection").count(), 1);
        assert!(text.contains("connection: close\r\n"));
    }
}
