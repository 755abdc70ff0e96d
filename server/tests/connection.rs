//! One connection, many requests: keep-alive, pipelining, requests the fast
//! path hands to hyper, and refusals — the same answers whichever loop
//! (`--zero-copy on|off`) serves the connection.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use common::{SMALL_LEN, TestServer, WAIT, big_content, raw_exchange, small_content};

/// A response read off a connection: status, headers, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits what a connection received into responses (by Content-Length;
/// `heads` marks which answer HEAD requests and so have no body).
fn answers(mut bytes: &[u8], heads: &[bool]) -> Vec<Answer> {
    let mut out = Vec::new();
    for &head in heads {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut fields);
        let httparse::Status::Complete(len) = response.parse(bytes).expect("a response head")
        else {
            panic!("incomplete response head after {} answers", out.len());
        };
        let headers: Vec<(String, String)> = response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let status = response.code.expect("status");
        let body_len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse::<usize>().expect("length"));
        let body_len = if head || status == 304 { 0 } else { body_len };
        out.push(Answer {
            status,
            headers,
            body: bytes[len..len + body_len].to_vec(),
        });
        bytes = &bytes[len + body_len..];
    }
    assert!(bytes.is_empty(), "{} bytes after the answers", bytes.len());
    out
}

/// Writes `requests` at once and reads until the server closes.
fn exchange(server: &TestServer, requests: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&server.addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(requests).expect("write");
    let mut received = Vec::new();
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 64 * 1024];
    loop {
        assert!(Instant::now() < deadline, "server did not close in time");
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
    received
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let server = TestServer::start(&[]);
    let requests = "GET /media/small.mp4 HTTP/1.1\r\nHost: a\r\nRange: bytes=0-9\r\n\r\n\
                    HEAD /media/big.mp4 HTTP/1.1\r\nHost: a\r\n\r\n\
                    GET /media/missing.mp4 HTTP/1.1\r\nHost: a\r\n\r\n\
                    GET /media/big.mp4 HTTP/1.1\r\nHost: a\r\n\r\n\
                    GET /media/small.mp4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let received = exchange(&server, requests.as_bytes());
    let got = answers(&received, &[false, true, false, false, false]);
    assert_eq!(got[0].status, 206);
    assert_eq!(got[0].body, small_content()[..10]);
    assert_eq!(got[1].status, 200);
    assert_eq!(
        got[1].header("content-length"),
        Some(common::BIG_LEN.to_string().as_str())
    );
    assert_eq!(got[2].status, 404);
    assert_eq!(got[3].status, 200);
    assert!(got[3].body == big_content(), "the whole big file, in order");
    assert_eq!(got[4].status, 200);
    assert_eq!(got[4].body, small_content());
    assert_eq!(got[4].header("connection"), Some("close"));
    assert!(
        got.iter().all(|a| a.header("date").is_some()),
        "Date on each"
    );
}

#[test]
fn a_request_with_a_body_is_answered_and_the_connection_goes_on() {
    let server = TestServer::start(&[]);
    let requests = "GET /media/small.mp4 HTTP/1.1\r\nHost: a\r\n\r\n\
                    PUT /media/small.mp4 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
                    GET /media/small.mp4 HTTP/1.1\r\nHost: a\r\nRange: bytes=-4\r\nConnection: close\r\n\r\n";
    let received = exchange(&server, requests.as_bytes());
    let got = answers(&received, &[false, false, false]);
    assert_eq!(got[0].status, 200);
    assert_eq!(got[0].body, small_content());
    assert_eq!(got[1].status, 405);
    assert_eq!(got[2].status, 206);
    assert_eq!(got[2].body, small_content()[SMALL_LEN - 4..]);
}

#[test]
fn http_1_0_is_served_and_closed() {
    let server = TestServer::start(&[]);
    let received = exchange(&server, b"GET /media/small.mp4 HTTP/1.0\r\n\r\n");
    let got = answers(&received, &[false]);
    assert_eq!(got[0].status, 200);
    assert_eq!(got[0].body, small_content());
}

#[test]
fn a_malformed_head_is_400_and_closes() {
    let server = TestServer::start(&[]);
    let response = raw_exchange(
        server.addr,
        b"GET /media/small.mp4 HTTP/1.1\r\nBad Name: x\r\n\r\n",
    );
    assert_eq!(response.status, 400);
    assert!(response.body.len() < SMALL_LEN, "no file");
}

#[test]
fn many_requests_share_one_keep_alive_connection() {
    let server = TestServer::start(&[]);
    let mut stream = TcpStream::connect_timeout(&server.addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let content = big_content();
    for i in 0..50u64 {
        let first = i * 40_000;
        let request = format!(
            "GET /media/big.mp4 HTTP/1.1\r\nHost: a\r\nRange: bytes={first}-{}\r\n\r\n",
            first + 9_999
        );
        stream.write_all(request.as_bytes()).expect("write");
        let mut received = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let deadline = Instant::now() + WAIT;
        while answers_complete(&received).is_none() {
            assert!(Instant::now() < deadline, "no answer to request {i}");
            let n = stream.read(&mut buf).expect("read");
            assert!(n > 0, "closed after {i} requests");
            received.extend_from_slice(&buf[..n]);
        }
        let got = answers(&received, &[false]);
        assert_eq!(got[0].status, 206);
        assert!(got[0].body == content[first as usize..first as usize + 10_000]);
    }
}

/// Some(len) once `bytes` holds a whole response with its body.
fn answers_complete(bytes: &[u8]) -> Option<usize> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut fields);
    let httparse::Status::Complete(len) = response.parse(bytes).ok()? else {
        return None;
    };
    let body = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())?;
    (bytes.len() >= len + body).then_some(len + body)
}
