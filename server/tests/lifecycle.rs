//! The life of a download end to end: files replaced or written under it,
//! graceful shutdown, and the access-log line it leaves.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    End, HUGE_LEN, SlowDownload, TestServer, WAIT, client, pseudo_random, request, write_huge,
};
use reqwest::Method;

#[tokio::test]
async fn file_replaced_by_rename_mid_download_is_sent_whole_in_its_old_version() {
    let server = TestServer::start(&[]);
    let path = server.media().join("huge.mp4");
    let old = write_huge(&server);
    let mut download = SlowDownload::start(server.addr, "/media/huge.mp4", &[]).await;
    assert_eq!(download.status, 200);
    let old_etag = download.header("etag").expect("ETag").to_owned();
    download.read_at_least(256 * 1024).await;

    let new = pseudo_random(HUGE_LEN + 123, 99);
    let staged = server.media().join("huge.mp4.new");
    std::fs::write(&staged, &new).expect("write new version");
    std::fs::rename(&staged, &path).expect("rename over");

    let end = download.finish().await;
    assert_eq!(end, End::Complete, "the old version is sent to the end");
    assert_eq!(download.body.len(), HUGE_LEN, "length of the old version");
    assert!(download.body == old, "every byte is from the old version");

    let client = client();
    let fresh = request(&client, Method::GET, &server.url("/media/huge.mp4"), &[]).await;
    assert_eq!(fresh.status, 200);
    assert!(fresh.body == new, "a new request gets the new version");
    assert_ne!(fresh.header("etag"), Some(old_etag.as_str()), "new ETag");

    let resumed = request(
        &client,
        Method::GET,
        &server.url("/media/huge.mp4"),
        &[("range", "bytes=262144-"), ("if-range", &old_etag)],
    )
    .await;
    assert_eq!(
        resumed.status, 200,
        "a stale If-Range gets the whole new file"
    );
    assert!(resumed.body == new, "whole new file");
}

#[tokio::test]
async fn file_written_in_place_mid_download_cuts_the_connection() {
    let server = TestServer::start(&[]);
    let path = server.media().join("huge.mp4");
    let old = write_huge(&server);
    let mut download = SlowDownload::start(server.addr, "/media/huge.mp4", &[]).await;
    assert_eq!(download.status, 200);
    download.read_at_least(64 * 1024).await;

    // Overwrite the last 64 KiB in place (same length, new mtime).
    let before = std::fs::metadata(&path)
        .expect("metadata")
        .modified()
        .expect("mtime");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open for writing");
        file.seek(SeekFrom::Start((HUGE_LEN - 65536) as u64))
            .expect("seek");
        file.write_all(&pseudo_random(65536, 7))
            .expect("write in place");
        drop(file);
        let after = std::fs::metadata(&path)
            .expect("metadata")
            .modified()
            .expect("mtime");
        if after != before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mtime did not change (test premise)"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        std::fs::metadata(&path).expect("metadata").len(),
        HUGE_LEN as u64
    );

    let end = download.finish().await;
    let received = download.body.len();
    assert!(
        download.body == old[..received.min(HUGE_LEN)],
        "what arrived ({received} bytes) is a prefix of the old version, never mixed"
    );
    assert_ne!(
        end,
        End::Complete,
        "connection must be cut, got all {received} bytes"
    );
    assert!(
        received < HUGE_LEN,
        "short body: {received} of {HUGE_LEN} bytes"
    );
    assert!(
        server
            .log()
            .contains("file changed while it was being sent"),
        "the server says why:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn sigterm_lets_the_download_in_flight_finish_and_refuses_new_connections() {
    let mut server = TestServer::start(&[]);
    let content = write_huge(&server);
    let mut download = SlowDownload::start(server.addr, "/media/huge.mp4", &[]).await;
    assert_eq!(download.status, 200);
    download.read_at_least(64 * 1024).await;

    server.terminate();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "still accepting 5 s after SIGTERM"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert!(
        server.is_running(),
        "the server waits for the download in flight before exiting"
    );

    let end = download.finish().await;
    assert_eq!(download.body.len(), HUGE_LEN, "whole body");
    assert!(download.body == content, "intact body");
    assert_eq!(end, End::Closed, "closed cleanly after the response");
    let status = server
        .wait_exit(WAIT)
        .expect("server exits after the download");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn the_access_log_line_names_the_client_address() {
    use std::io::{Read, Write};
    let server = TestServer::start(&[]);
    let mut stream = TcpStream::connect_timeout(&server.addr, WAIT).expect("connect");
    let client = stream.local_addr().expect("client address");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(
            b"GET /media/small.mp4 HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-9\r\n\
              Connection: close\r\n\r\n",
        )
        .expect("send request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    assert!(response.starts_with(b"HTTP/1.1 206"));
    let expected = format!("{client} GET /media/small.mp4 range=bytes=0-9 206 10B");
    let deadline = Instant::now() + WAIT;
    while !server.log().contains(&expected) {
        assert!(
            Instant::now() < deadline,
            "no line {expected:?} in the log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
