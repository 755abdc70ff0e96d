//! Limits end to end: request-head size, connection cap, send timeout and the
//! header timeout against slowloris.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    End, HUGE_LEN, SMALL_LEN, SlowDownload, TestServer, WAIT, raw_exchange, raw_get, small_content,
    write_huge,
};

#[test]
fn request_head_over_the_limit_is_431() {
    let server = TestServer::start(&["--max-header-bytes", "4096"]);
    let head = |filler: usize| {
        format!(
            "GET /media/small.mp4 HTTP/1.1\r\nHost: localhost\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(filler)
        )
    };
    let small = raw_exchange(server.addr, head(1000).as_bytes());
    assert_eq!(small.status, 200, "a head under the limit is served");
    assert!(small.body == small_content());
    let big = raw_exchange(server.addr, head(8000).as_bytes());
    assert_eq!(big.status, 431, "a head over the limit");
    assert!(big.body.len() < SMALL_LEN, "no file in the 431");
}

/// The limit holds before the head is complete: no waiting for the rest.
#[test]
fn incomplete_request_head_over_the_limit_is_431_at_once() {
    let server = TestServer::start(&["--max-header-bytes", "4096", "--header-timeout", "5"]);
    let started = Instant::now();
    let head = format!(
        "GET /media/small.mp4 HTTP/1.1\r\nHost: localhost\r\nX-Filler: {}",
        "a".repeat(6000)
    );
    let response = raw_exchange(server.addr, head.as_bytes());
    assert_eq!(response.status, 431);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered after {:?}, not before the header timeout",
        started.elapsed()
    );
}

#[test]
fn connections_over_the_cap_get_503() {
    // Two event loops: the cap is one count shared by both.
    let server = TestServer::start(&["--max-connections", "2", "--workers", "2"]);
    let first = holding_a_slot(server.addr);
    let _second = holding_a_slot(server.addr);
    let third = raw_get(server.addr, "/media/small.mp4");
    assert_eq!(third.status, 503, "third connection");
    assert!(third.header("retry-after").is_some(), "Retry-After");
    assert!(third.body.len() < SMALL_LEN, "no file in the 503");

    // Closing an idle connection frees its slot.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = raw_get(server.addr, "/media/small.mp4");
        if response.status == 200 {
            assert!(response.body == small_content());
            break;
        }
        assert_eq!(response.status, 503);
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A keep-alive connection the server has accepted and answered once (so
/// it holds a slot, whichever event loop took it), left idle.
fn holding_a_slot(addr: std::net::SocketAddr) -> TcpStream {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(b"HEAD /media/small.mp4 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(
            stream.read(&mut byte).expect("read") == 1,
            "closed before the head ended"
        );
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_after_the_send_timeout_and_frees_its_slot() {
    let server = TestServer::start(&["--send-timeout", "1", "--max-connections", "1"]);
    write_huge(&server);
    let mut stalled = SlowDownload::start(server.addr, "/media/huge.mp4", &[]).await;
    assert_eq!(stalled.status, 200);
    // Read nothing for a while: the server's writes stop making progress.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let end = stalled.finish().await;
    assert_ne!(
        end,
        End::Complete,
        "a stalled client must not get the whole body"
    );
    assert!(
        stalled.body.len() < HUGE_LEN,
        "cut short at {} bytes",
        stalled.body.len()
    );
    // Its only slot is free again.
    let next = raw_get(server.addr, "/media/small.mp4");
    assert_eq!(next.status, 200);
}

#[test]
fn half_sent_request_head_is_closed_after_the_header_timeout() {
    let server = TestServer::start(&["--header-timeout", "1"]);
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&server.addr, WAIT).expect("connect");
    use std::io::{Read, Write};
    stream
        .write_all(b"GET /media/small.mp4 HTTP/1.1\r\nHost: a\r\n")
        .expect("write half a head");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed <= Duration::from_secs(3),
        "closed after {elapsed:?}"
    );
    assert!(
        common::find(&got, &small_content()[..16]).is_none(),
        "no file served"
    );
}

#[test]
fn dribbled_request_head_is_closed_after_the_header_timeout() {
    let server = TestServer::start(&["--header-timeout", "1"]);
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&server.addr, WAIT).expect("connect");
    use std::io::{Read, Write};
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // One header byte every 200 ms: each read resets no per-read timer.
    let mut head = b"GET /media/small.mp4 HTTP/1.1\r\nHost: a\r\n".to_vec();
    head.extend(std::iter::repeat_n(b'X', 100));
    let mut closed_after = None;
    let mut buf = [0u8; 1024];
    for byte in head {
        if stream.write_all(&[byte]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed_after = Some(started.elapsed());
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still open after 5 s"
        );
    }
    let elapsed = closed_after.expect("connection closed");
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed <= Duration::from_secs(3),
        "closed after {elapsed:?}"
    );
}
