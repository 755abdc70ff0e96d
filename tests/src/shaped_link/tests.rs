//! The link against a toy upstream: round trips, the trace, the log, the
//! reset.

use super::*;

/// An upstream HTTP-ish server: reads one request head, answers `len`
/// bytes, closes.
async fn responder(len: usize) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let _ = s.write_all(&vec![7u8; len]).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

async fn get(addr: SocketAddr, range: &str) -> usize {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET /media/a.mp4 HTTP/1.1\r\nHost: x\r\nRange: {range}\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    buf.len()
}

#[tokio::test]
async fn a_new_connection_costs_the_handshake_and_a_request_one_more_round_trip() {
    let link = ShapedLink::start(
        responder(10).await,
        LinkConfig {
            trace: vec![],
            rtt: Duration::from_millis(200),
        },
    )
    .await
    .expect("link");
    let t0 = Instant::now();
    assert_eq!(get(link.addr(), "bytes=0-9").await, 10);
    let ms = t0.elapsed().as_millis();
    assert!((395..800).contains(&ms), "took {ms} ms");
    assert_eq!(link.bytes_down(), 10);
}

#[tokio::test]
async fn follows_the_trace_and_logs_requests() {
    // 800 kB/s for 0.2 s, then 8 MB/s: 400 kB take ~0.25 s.
    let link = ShapedLink::start(
        responder(400_000).await,
        LinkConfig {
            trace: vec![(0.0, 6_400_000), (0.2, 64_000_000)],
            rtt: Duration::ZERO,
        },
    )
    .await
    .expect("link");
    let t0 = Instant::now();
    assert_eq!(get(link.addr(), "bytes=5-").await, 400_000);
    let secs = t0.elapsed().as_secs_f64();
    assert!((0.2..0.6).contains(&secs), "took {secs} s");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let log = link.log();
    let requests: Vec<_> = log
        .iter()
        .filter_map(|e| match e {
            LogEntry::Request {
                method,
                path,
                range,
                ..
            } => Some((method.as_str(), path.as_str(), range.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(requests, [("GET", "/media/a.mp4", Some("bytes=5-"))]);
    // The answer's end is its last byte, after the 0.2 s at the slow rate.
    let Some(LogEntry::Request {
        t_ms,
        end_ms: Some(end_ms),
        bytes_down: 400_000,
        ..
    }) = log.iter().find(|e| matches!(e, LogEntry::Request { .. }))
    else {
        panic!("the request has no end or the wrong bytes: {log:?}");
    };
    assert!(*end_ms - *t_ms > 200.0, "{t_ms} .. {end_ms}");
    assert!(log.iter().any(|e| matches!(
        e,
        LogEntry::Close {
            bytes_down: 400_000,
            ..
        }
    )));
    assert!(link.log_jsonl().lines().count() >= 4);
}

#[tokio::test]
async fn a_reset_keeps_the_port_cuts_connections_and_starts_the_clock_over() {
    // Slow enough that the first answer is still flowing at the reset.
    let mut link = ShapedLink::start(
        responder(400_000).await,
        LinkConfig {
            trace: vec![(0.0, 800_000), (0.6, 64_000_000)],
            rtt: Duration::from_millis(20),
        },
    )
    .await
    .expect("link");
    let addr = link.addr();
    let cut_short = tokio::spawn(get(addr, "bytes=0-"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = link.started_unix_ms();
    assert!(link.bytes_down() > 0);
    link.reset().await.expect("reset");
    // The open answer was cut: the client got less than all of it.
    let got = tokio::time::timeout(Duration::from_secs(5), cut_short)
        .await
        .expect("the cut connection ends")
        .expect("the task");
    assert!(got < 400_000, "got {got} bytes");
    assert_eq!(link.addr(), addr);
    assert_eq!((link.bytes_down(), link.bytes_up()), (0, 0));
    assert!(link.connections().is_empty());
    assert!(link.elapsed() < Duration::from_millis(100));
    assert!(link.started_unix_ms() >= started + 250.0);
    // The log starts over with the first rate, and the trace plays
    // again from the slow step: 100 kB/s for 0.6 s first.
    let log = link.log();
    assert!(
        matches!(
            log.as_slice(),
            [LogEntry::Rate {
                bits_per_second: 800_000,
                ..
            }]
        ),
        "{log:?}"
    );
    let t0 = Instant::now();
    assert_eq!(get(addr, "bytes=1-").await, 400_000);
    let secs = t0.elapsed().as_secs_f64();
    assert!(secs > 0.55, "took {secs} s: the trace did not start over");
    assert_eq!(link.bytes_down(), 400_000);
    let requests = link
        .log()
        .into_iter()
        .filter(|e| matches!(e, LogEntry::Request { conn: 0, .. }))
        .count();
    assert_eq!(requests, 1, "connection ids start over");
}
