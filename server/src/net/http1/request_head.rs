//! The request head, read by `httparse` out of the connection's buffer:
//! sans-I/O, so the limits (size, framing) are tested without a socket.
//!
//! Only what the fast path serves is taken here: a request without a body
//! (GET, HEAD, OPTIONS, ...) over HTTP/1.1. Anything else — a body, chunked
//! framing, `Expect`, `Upgrade`, HTTP/1.0 — is [`Parsed::HandOver`]: the
//! connection, head included, goes to hyper, which speaks all of HTTP/1.

use bytes::BytesMut;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri, Version};

/// Headers read at most, as hyper's default.
const MAX_HEADERS: usize = 100;

/// What the buffer holds.
#[derive(Debug)]
pub enum Parsed {
    /// Not a whole head yet (and not over the limit).
    Partial,
    /// A head the fast path serves, taken out of the buffer.
    Request {
        request: Box<Request<()>>,
        keep_alive: bool,
    },
    /// A head the fast path leaves to hyper (the buffer is left whole).
    HandOver,
}

/// Why a head is refused; answered, then the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("request head larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed request head: {0}")]
    Malformed(String),
}

/// Reads the request head at the start of `buf`, refusing one (whole or
/// not) longer than `max_bytes`. A head the fast path serves is split off
/// the buffer: the URI and the header values are slices of its bytes, not
/// copies.
pub fn parse(buf: &mut BytesMut, max_bytes: usize) -> Result<Parsed, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let len = match head.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > max_bytes => {
            return Err(HeadError::TooLarge(max_bytes));
        }
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge(max_bytes)),
        Err(error) => return Err(HeadError::Malformed(error.to_string())),
    };
    if len > max_bytes {
        return Err(HeadError::TooLarge(max_bytes));
    }
    if head.version != Some(1) {
        return Ok(Parsed::HandOver);
    }
    let malformed = |what: &str| HeadError::Malformed(what.to_owned());
    let method = Method::from_bytes(head.method.unwrap_or_default().as_bytes())
        .map_err(|_| malformed("method"))?;
    // Where each piece lies in the buffer, to slice it once split off.
    let start = buf.as_ptr() as usize;
    let at = |piece: &[u8]| {
        let from = piece.as_ptr() as usize - start;
        from..from + piece.len()
    };
    let target = at(head.path.unwrap_or_default().as_bytes());
    let mut fields = Vec::with_capacity(head.headers.len());
    for field in head.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| malformed("name"))?;
        fields.push((name, at(field.value)));
    }
    let bytes = buf.split_to(len).freeze();
    let uri =
        Uri::from_maybe_shared(bytes.slice(target)).map_err(|_| malformed("request target"))?;
    let mut map = HeaderMap::with_capacity(fields.len());
    for (name, value) in fields {
        let value =
            HeaderValue::from_maybe_shared(bytes.slice(value)).map_err(|_| malformed("value"))?;
        map.append(name, value);
    }
    if has_body_or_upgrade(&map) {
        // Put back for hyper: nothing of the head may be lost.
        let mut whole = BytesMut::with_capacity(bytes.len() + buf.len());
        whole.extend_from_slice(&bytes);
        whole.extend_from_slice(buf);
        *buf = whole;
        return Ok(Parsed::HandOver);
    }
    let keep_alive = !has_token(&map, header::CONNECTION, "close");
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = map;
    Ok(Parsed::Request {
        request: Box::new(request),
        keep_alive,
    })
}

/// A body (any framing but an explicit zero length), or a protocol change.
fn has_body_or_upgrade(headers: &HeaderMap) -> bool {
    let content_length = headers.get_all(header::CONTENT_LENGTH);
    let empty = content_length
        .iter()
        .all(|value| value.as_bytes().trim_ascii() == b"0");
    !empty
        || headers.contains_key(header::TRANSFER_ENCODING)
        || headers.contains_key(header::EXPECT)
        || headers.contains_key(header::UPGRADE)
}

/// Whether the comma-separated header `name` lists `token`.
pub fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request, what stays in the buffer, keep-alive.
    fn request(raw: &str) -> (Request<()>, BytesMut, bool) {
        let mut buf = BytesMut::from(raw);
        match parse(&mut buf, 16384) {
            Ok(Parsed::Request {
                request,
                keep_alive,
            }) => (*request, buf, keep_alive),
            other => panic!("not a fast-path request: {other:?}"),
        }
    }

    fn parse_str(raw: &[u8], max: usize) -> (Result<Parsed, HeadError>, BytesMut) {
        let mut buf = BytesMut::from(raw);
        (parse(&mut buf, max), buf)
    }

    #[test]
    fn a_get_is_read_with_its_headers_and_the_rest_stays() {
        let raw = "GET /media/a.mp4?x=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n\r\nGET /next";
        let (request, rest, keep_alive) = request(raw);
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri().path(), "/media/a.mp4");
        assert_eq!(request.uri().query(), Some("x=1"));
        assert_eq!(request.headers()["range"], "bytes=0-9");
        assert_eq!(
            &rest[..],
            b"GET /next",
            "a pipelined request stays in the buffer"
        );
        assert!(keep_alive);
    }

    #[test]
    fn connection_close_ends_keep_alive() {
        let (_, _, keep_alive) = request("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n");
        assert!(!keep_alive);
    }

    #[test]
    fn a_partial_head_waits_unless_it_is_already_over_the_limit() {
        let (partial, kept) = parse_str(b"GET / HTTP/1.1\r\nHost:", 100);
        assert!(matches!(partial, Ok(Parsed::Partial)));
        assert_eq!(&kept[..], b"GET / HTTP/1.1\r\nHost:", "nothing consumed");
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(200));
        assert_eq!(
            parse_str(long.as_bytes(), 100).0.err(),
            Some(HeadError::TooLarge(100))
        );
        let whole = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(200));
        assert_eq!(
            parse_str(whole.as_bytes(), 100).0.err(),
            Some(HeadError::TooLarge(100))
        );
    }

    #[test]
    fn requests_with_a_body_or_an_upgrade_or_http_1_0_go_to_hyper() {
        for raw in [
            "PUT /live/a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "POST /live/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "PUT /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
        ] {
            let (parsed, kept) = parse_str(raw.as_bytes(), 16384);
            assert!(matches!(parsed, Ok(Parsed::HandOver)), "{raw:?}");
            assert_eq!(&kept[..], raw.as_bytes(), "hyper gets every byte: {raw:?}");
        }
        let (_, _, _) = request("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn header_values_and_the_target_are_slices_of_the_head_not_copies() {
        let mut buf = BytesMut::from("GET /a?b HTTP/1.1\r\nRange: bytes=0-1\r\n\r\n");
        let start = buf.as_ptr() as usize;
        let end = start + buf.len();
        let Ok(Parsed::Request { request, .. }) = parse(&mut buf, 1024) else {
            panic!("not parsed");
        };
        let inside = |ptr: *const u8| (start..end).contains(&(ptr as usize));
        assert!(inside(request.headers()["range"].as_bytes().as_ptr()));
        assert!(inside(request.uri().path().as_ptr()));
    }

    #[test]
    fn malformed_heads_are_errors_not_panics() {
        for raw in [
            &b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"[..],
            b"G\x00T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: \x01\r\n\r\n",
            b"\r\n\r\nGARBAGE\r\n\r\n",
        ] {
            assert!(
                matches!(parse_str(raw, 16384).0, Err(HeadError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
