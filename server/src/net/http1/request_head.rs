//! The request head, read by `httparse` out of the connection's buffer:
//! sans-I/O, so the limits (size, framing) are tested without a socket.
//!
//! Only what the fast path serves is taken here: a request without a body
//! (GET, HEAD, OPTIONS, ...) over HTTP/1.1. Anything else — a body, chunked
//! framing, `Expect`, `Upgrade`, HTTP/1.0 — is [`Parsed::HandOver`]: the
//! connection, head included, goes to hyper, which speaks all of HTTP/1.

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri, Version};

/// Headers read at most, as hyper's default.
const MAX_HEADERS: usize = 100;

/// What the buffer holds.
#[derive(Debug)]
pub enum Parsed {
    /// Not a whole head yet (and not over the limit).
    Partial,
    /// A head the fast path serves, and how many bytes it took.
    Request {
        request: Box<Request<()>>,
        len: usize,
        keep_alive: bool,
    },
    /// A head the fast path leaves to hyper (the buffer is handed over whole).
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
/// not) longer than `max_bytes`.
pub fn parse(buf: &[u8], max_bytes: usize) -> Result<Parsed, HeadError> {
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
    let uri: Uri = head
        .path
        .unwrap_or_default()
        .parse()
        .map_err(|_| malformed("request target"))?;
    let mut map = HeaderMap::with_capacity(head.headers.len());
    for field in head.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| malformed("name"))?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| malformed("value"))?;
        map.append(name, value);
    }
    if has_body_or_upgrade(&map) {
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
        len,
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

    fn request(raw: &str) -> (Request<()>, usize, bool) {
        match parse(raw.as_bytes(), 16384) {
            Ok(Parsed::Request {
                request,
                len,
                keep_alive,
            }) => (*request, len, keep_alive),
            other => panic!("not a fast-path request: {other:?}"),
        }
    }

    #[test]
    fn a_get_is_read_with_its_headers_and_length() {
        let raw = "GET /media/a.mp4?x=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n\r\nGET /next";
        let (request, len, keep_alive) = request(raw);
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri().path(), "/media/a.mp4");
        assert_eq!(request.uri().query(), Some("x=1"));
        assert_eq!(request.headers()["range"], "bytes=0-9");
        assert_eq!(
            &raw[len..],
            "GET /next",
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
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost:", 100),
            Ok(Parsed::Partial)
        ));
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(200));
        assert_eq!(
            parse(long.as_bytes(), 100).err(),
            Some(HeadError::TooLarge(100))
        );
        let whole = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(200));
        assert_eq!(
            parse(whole.as_bytes(), 100).err(),
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
            assert!(
                matches!(parse(raw.as_bytes(), 16384), Ok(Parsed::HandOver)),
                "{raw:?}"
            );
        }
        let (_, _, _) = request("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
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
                matches!(parse(raw, 16384), Err(HeadError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
