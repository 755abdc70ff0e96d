//! Validators and conditional requests end to end: ETag and Last-Modified,
//! If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since and If-Range.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{SMALL_LEN, TestServer, client, pseudo_random, request, small_content};
use reqwest::Method;

#[tokio::test]
async fn validators_are_a_strong_etag_and_the_file_mtime() {
    let server = TestServer::start(&[]);
    let reply = request(&client(), Method::GET, &server.url("/media/small.mp4"), &[]).await;
    let etag = reply.header("etag").expect("ETag");
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "quoted ETag: {etag}"
    );
    assert!(!etag.starts_with("W/"), "strong ETag: {etag}");
    let last_modified = reply.header("last-modified").expect("Last-Modified");
    let date = httpdate::parse_http_date(last_modified).expect("Last-Modified is an HTTP date");
    let mtime = std::fs::metadata(server.media().join("small.mp4"))
        .expect("metadata")
        .modified()
        .expect("mtime");
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    assert_eq!(secs(date), secs(mtime), "Last-Modified is the file's mtime");

    let other = request(&client(), Method::GET, &server.url("/media/big.mp4"), &[]).await;
    assert_ne!(
        other.header("etag"),
        Some(etag),
        "different files, different ETags"
    );
}

/// (case, request headers, status, expected body if checked)
type ConditionalCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, Option<Vec<u8>>);

#[tokio::test]
async fn conditional_requests() {
    let server = TestServer::start(&[]);
    let client = client();
    let url = server.url("/media/small.mp4");
    // Last modified an hour ago: its Last-Modified is a strong validator.
    std::fs::File::options()
        .write(true)
        .open(server.media().join("small.mp4"))
        .expect("open")
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("set mtime");
    let content = small_content();
    let first = request(&client, Method::GET, &url, &[]).await;
    let etag = first.header("etag").expect("ETag").to_owned();
    let weak = format!("W/{etag}");
    let in_list = format!("\"x\", {etag}");
    let last_modified = first
        .header("last-modified")
        .expect("Last-Modified")
        .to_owned();
    let lm = httpdate::parse_http_date(&last_modified).expect("date");
    let earlier = httpdate::fmt_http_date(lm - Duration::from_secs(3600));
    let later = httpdate::fmt_http_date(lm + Duration::from_secs(3600));
    let past = "Sat, 01 Jan 2000 00:00:00 GMT";

    let full = Some(content.clone());
    let first_ten = Some(content[..10].to_vec());
    let none = Some(Vec::new());
    let cases: Vec<ConditionalCase<'_>> = vec![
        (
            "If-None-Match current",
            vec![("if-none-match", &etag)],
            304,
            none.clone(),
        ),
        (
            "If-None-Match weak form of current",
            vec![("if-none-match", &weak)],
            304,
            none.clone(),
        ),
        (
            "If-None-Match in a list",
            vec![("if-none-match", &in_list)],
            304,
            none.clone(),
        ),
        (
            "If-None-Match *",
            vec![("if-none-match", "*")],
            304,
            none.clone(),
        ),
        (
            "If-None-Match other",
            vec![("if-none-match", "\"other\"")],
            200,
            full.clone(),
        ),
        (
            "If-Modified-Since = Last-Modified",
            vec![("if-modified-since", &last_modified)],
            304,
            none.clone(),
        ),
        (
            "If-Modified-Since earlier",
            vec![("if-modified-since", &earlier)],
            200,
            full.clone(),
        ),
        (
            "If-None-Match other beats If-Modified-Since",
            vec![
                ("if-none-match", "\"other\""),
                ("if-modified-since", &last_modified),
            ],
            200,
            full.clone(),
        ),
        ("If-Match wrong", vec![("if-match", "\"wrong\"")], 412, None),
        (
            "If-Match weak current",
            vec![("if-match", &weak)],
            412,
            None,
        ),
        (
            "If-Match current",
            vec![("if-match", &etag)],
            200,
            full.clone(),
        ),
        (
            "If-Unmodified-Since in the past",
            vec![("if-unmodified-since", past)],
            412,
            None,
        ),
        (
            "If-Unmodified-Since = Last-Modified",
            vec![("if-unmodified-since", &last_modified)],
            200,
            full.clone(),
        ),
        (
            "If-Unmodified-Since later",
            vec![("if-unmodified-since", &later)],
            200,
            full.clone(),
        ),
        (
            "If-Range current ETag",
            vec![("range", "bytes=0-9"), ("if-range", &etag)],
            206,
            first_ten.clone(),
        ),
        (
            "If-Range stale ETag",
            vec![("range", "bytes=0-9"), ("if-range", "\"stale\"")],
            200,
            full.clone(),
        ),
        (
            "If-Range weak ETag",
            vec![("range", "bytes=0-9"), ("if-range", &weak)],
            200,
            full.clone(),
        ),
        (
            "If-Range Last-Modified",
            vec![("range", "bytes=0-9"), ("if-range", &last_modified)],
            206,
            first_ten.clone(),
        ),
        (
            "If-Range other date",
            vec![("range", "bytes=0-9"), ("if-range", &earlier)],
            200,
            full.clone(),
        ),
        (
            "If-Range stale with an unsatisfiable range is the whole file",
            vec![("range", "bytes=5000-"), ("if-range", "\"stale\"")],
            200,
            full.clone(),
        ),
        (
            "If-None-Match current with Range",
            vec![("range", "bytes=0-9"), ("if-none-match", &etag)],
            304,
            none.clone(),
        ),
        (
            "If-Match wrong with Range",
            vec![("range", "bytes=0-9"), ("if-match", "\"wrong\"")],
            412,
            None,
        ),
    ];
    for (case, headers, status, body) in &cases {
        let reply = request(&client, Method::GET, &url, headers).await;
        assert_eq!(reply.status, *status, "{case}");
        if let Some(body) = body {
            assert!(
                reply.body == *body,
                "{case}: body ({} bytes)",
                reply.body.len()
            );
        }
        match status {
            304 => {
                assert_eq!(
                    reply.header("etag"),
                    Some(etag.as_str()),
                    "{case}: 304 ETag"
                );
                assert_eq!(reply.header("cache-control"), Some("no-cache"), "{case}");
            }
            206 => assert_eq!(
                reply.header("content-range"),
                Some("bytes 0-9/1000"),
                "{case}"
            ),
            _ => {}
        }
    }
}

/// RFC 9110 §13.1.5 (3) and §8.8.2.2: an If-Range date is only a strong
/// validator if the file cannot change again within that second. A file
/// changed twice within one second keeps its Last-Modified; resuming with
/// that date must not splice bytes of the new version onto the old.
///
/// Both versions get an mtime in the same second, an hour ahead of the
/// clock: to the server that second is not over yet, as for a file written
/// this very second, but the test does not race the clock.
#[tokio::test]
async fn if_range_date_of_a_file_changed_twice_in_one_second_is_not_trusted() {
    let server = TestServer::start(&[]);
    let client = client();
    let path = server.media().join("twice.mp4");
    let url = server.url("/media/twice.mp4");
    let old = pseudo_random(SMALL_LEN, 10);
    let new = pseudo_random(SMALL_LEN, 11);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    let second = UNIX_EPOCH + Duration::from_secs(now.as_secs() + 3600);
    let write = |content: &[u8], at: SystemTime| {
        use std::io::Write;
        // Written in place, as an encoder rewriting the file would.
        let mut file = std::fs::File::options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .expect("open");
        file.write_all(content).expect("write");
        file.set_modified(at).expect("set mtime");
    };

    write(&old, second + Duration::from_millis(100));
    let first = request(&client, Method::GET, &url, &[]).await;
    assert!(first.body == old);
    let last_modified = first
        .header("last-modified")
        .expect("Last-Modified")
        .to_owned();
    let old_etag = first.header("etag").expect("ETag").to_owned();

    write(&new, second + Duration::from_millis(600));
    let current = request(&client, Method::HEAD, &url, &[]).await;
    assert_eq!(
        current.header("last-modified"),
        Some(last_modified.as_str()),
        "test premise: both versions share one Last-Modified"
    );
    let new_etag = current.header("etag").expect("ETag").to_owned();
    assert_ne!(
        new_etag, old_etag,
        "test premise: the ETag tells them apart"
    );

    let resumed = request(
        &client,
        Method::GET,
        &url,
        &[("range", "bytes=500-"), ("if-range", &last_modified)],
    )
    .await;
    assert_eq!(
        resumed.status, 200,
        "If-Range: {last_modified} of a version replaced within the same second yields \
         206 of the new bytes; a client holding the first 500 old bytes ends up with a mix"
    );
    assert!(resumed.body == new, "whole new version");

    // The same resume with the current ETag is a range: only the date is distrusted.
    let by_etag = request(
        &client,
        Method::GET,
        &url,
        &[("range", "bytes=500-"), ("if-range", &new_etag)],
    )
    .await;
    assert_eq!(by_etag.status, 206);
    assert!(by_etag.body == new[500..]);
}
