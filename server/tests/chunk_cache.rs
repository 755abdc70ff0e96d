//! The shared chunk cache against the real binary: concurrent cold requests
//! read a chunk once, `--cache-mem 0` turns it off, a file replaced by
//! rename is served in its new version, and bad sizes are refused.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::process::Command;
use std::sync::Arc;

use common::{BIG_LEN, TestServer, big_content, client, pseudo_random, request};
use reqwest::Method;

const MIB: usize = 1024 * 1024;

/// The chunk cache's samples in `/metrics`, by name (`hits_total`, ...).
async fn cache_metrics(server: &TestServer) -> Vec<(String, f64)> {
    let reply = request(&client(), Method::GET, &server.url("/metrics"), &[]).await;
    assert_eq!(reply.status, 200);
    let text = String::from_utf8(reply.body).expect("UTF-8");
    text.lines()
        .filter_map(|line| {
            let (name, value) = line.strip_prefix("caudal_chunk_cache_")?.split_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(samples: &[(String, f64)], name: &str) -> f64 {
    samples
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no caudal_chunk_cache_{name} in {samples:?}"))
}

/// `requests` GETs of `url` (with `range`), released at the same instant.
async fn all_at_once(requests: usize, url: &str, range: Option<&str>) -> Vec<common::Reply> {
    let barrier = Arc::new(tokio::sync::Barrier::new(requests));
    let client = client();
    let headers: Vec<(&'static str, String)> =
        range.map(|r| ("range", r.to_owned())).into_iter().collect();
    let tasks: Vec<_> = (0..requests)
        .map(|_| {
            let (barrier, client, url, headers) = (
                barrier.clone(),
                client.clone(),
                url.to_owned(),
                headers.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                request(&client, Method::GET, &url, &headers).await
            })
        })
        .collect();
    let mut replies = Vec::with_capacity(requests);
    for task in tasks {
        replies.push(task.await.expect("request task"));
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_cold_requests_read_chunk_zero_once() {
    let server = TestServer::start_with_defaults(&["--zero-copy", "off", "--cache-mem", "64M"]);
    let content = pseudo_random(8 * MIB, 41);
    std::fs::write(server.media().join("cold.mp4"), &content).expect("write");
    let url = server.url("/media/cold.mp4");
    for reply in all_at_once(64, &url, Some("bytes=0-65535")).await {
        assert_eq!(reply.status, 206);
        assert_eq!(reply.header("content-range"), Some("bytes 0-65535/8388608"));
        assert!(reply.body == content[..65536], "every body is the file's");
    }
    let samples = cache_metrics(&server).await;
    assert_eq!(value(&samples, "misses_total"), 1.0, "{samples:?}");
    assert_eq!(
        value(&samples, "hits_total") + value(&samples, "coalesced_waits_total"),
        63.0,
        "{samples:?}"
    );
    assert_eq!(value(&samples, "bytes"), MIB as f64, "chunk 0 only");
    assert_eq!(value(&samples, "evictions_total"), 0.0);
}

/// On the defaults (Caudal's own loop), a large body is written from the
/// cache: 64 viewers starting one 8 MiB file at once read each chunk once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_cold_whole_file_requests_read_each_chunk_once_on_the_fast_path() {
    let server = TestServer::start_with_defaults(&["--cache-mem", "64M"]);
    let content = pseudo_random(8 * MIB, 42);
    std::fs::write(server.media().join("cold.mp4"), &content).expect("write");
    let requests = 64;
    let url = server.url("/media/cold.mp4");
    for reply in all_at_once(requests, &url, None).await {
        assert_eq!(reply.status, 200);
        assert!(reply.body == content, "every body is the file's");
    }
    let samples = cache_metrics(&server).await;
    assert_eq!(value(&samples, "misses_total"), 8.0, "{samples:?}");
    // Every 256 KiB piece of every body was one lookup; only 8 read.
    let pieces = (requests * 8 * MIB / (256 * 1024)) as f64;
    assert_eq!(
        value(&samples, "hits_total") + value(&samples, "coalesced_waits_total"),
        pieces - 8.0,
        "{samples:?}"
    );
}

#[tokio::test]
async fn cache_mem_zero_serves_from_the_file_and_counts_nothing() {
    let server = TestServer::start_with_defaults(&["--cache-mem", "0"]);
    let client = client();
    let url = server.url("/media/big.mp4");
    let whole = request(&client, Method::GET, &url, &[]).await;
    assert_eq!(whole.status, 200);
    assert!(whole.body == big_content());
    let range = request(
        &client,
        Method::GET,
        &url,
        &[("range", "bytes=1048000-1049000")],
    )
    .await;
    assert_eq!(range.status, 206);
    assert!(range.body == big_content()[1_048_000..=1_049_000]);
    let samples = cache_metrics(&server).await;
    assert_eq!(samples.len(), 5, "every counter is listed: {samples:?}");
    assert!(samples.iter().all(|(_, v)| *v == 0.0), "{samples:?}");
}

#[tokio::test]
async fn a_file_replaced_by_rename_is_served_new_through_the_cache() {
    let server = TestServer::start_with_defaults(&["--zero-copy", "off", "--cache-mem", "64M"]);
    let client = client();
    let url = server.url("/media/big.mp4");
    for _ in 0..2 {
        let reply = request(&client, Method::GET, &url, &[]).await;
        assert!(reply.body == big_content());
    }
    let samples = cache_metrics(&server).await;
    let chunks = BIG_LEN.div_ceil(MIB) as f64;
    assert_eq!(value(&samples, "misses_total"), chunks, "read once");
    assert!(
        value(&samples, "hits_total") >= chunks,
        "then from the cache"
    );

    let new = pseudo_random(BIG_LEN + 4321, 42);
    let staged = server.media().join("big.mp4.new");
    std::fs::write(&staged, &new).expect("write new version");
    std::fs::rename(&staged, server.media().join("big.mp4")).expect("rename over");
    let reply = request(&client, Method::GET, &url, &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body == new, "the new version, not cached old chunks");
    let tail = request(&client, Method::GET, &url, &[("range", "bytes=-5000")]).await;
    assert!(tail.body == new[new.len() - 5000..]);
    let samples = cache_metrics(&server).await;
    let new_chunks = new.len().div_ceil(MIB) as f64;
    assert_eq!(value(&samples, "misses_total"), chunks + new_chunks);
}

/// On by default, the cache serves what the kernel does not send itself:
/// a multipart answer (the fast path sends one range with `sendfile`).
#[tokio::test]
async fn the_cache_is_on_by_default() {
    let server = TestServer::start_with_defaults(&[]);
    let reply = request(
        &client(),
        Method::GET,
        &server.url("/media/big.mp4"),
        &[("range", "bytes=0-9,2000000-2000009")],
    )
    .await;
    assert_eq!(reply.status, 206);
    let content = big_content();
    assert!(common::find(&reply.body, &content[2_000_000..2_000_010]).is_some());
    let samples = cache_metrics(&server).await;
    assert!(value(&samples, "misses_total") >= 1.0, "{samples:?}");
}

#[test]
fn bad_cache_sizes_are_refused() {
    for size in ["lots", "1M", "1.5G"] {
        let out = Command::new(env!("CARGO_BIN_EXE_caudal"))
            .args(["serve", "--listen", "127.0.0.1:0", "--cache-mem", size])
            .output()
            .expect("run caudal");
        assert!(!out.status.success(), "--cache-mem {size} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("cache-mem"), "{size}: {stderr}");
    }
}
