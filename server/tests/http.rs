//! End-to-end tests of the `caudal` binary over real HTTP: ranges,
//! conditional requests, HEAD, headers, path safety, limits, files changing
//! under a download, slowloris and graceful shutdown.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    BIG_LEN, DOTFILE, End, HUGE_LEN, INDEX_HTML, SECRET, SMALL_LEN, SlowDownload, TestServer, WAIT,
    big_content, client, parse_multipart, pseudo_random, raw_exchange, raw_get, request,
    small_content, write_huge,
};
use reqwest::Method;

/// What a ranged GET of `small.mp4` must answer.
#[derive(Debug)]
enum Expect {
    /// 200 with the whole file.
    Full,
    /// 206 with this one inclusive range.
    Partial(u64, u64),
    /// 206 `multipart/byteranges` with these parts, in this order.
    Multipart(Vec<(u64, u64)>),
    /// 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Checks a response to a ranged GET against `expect` and the file content.
fn check_range_reply(case: &str, reply: &common::Reply, content: &[u8], expect: &Expect) {
    let len = content.len() as u64;
    assert_eq!(
        reply.header("accept-ranges"),
        Some("bytes"),
        "{case}: Accept-Ranges"
    );
    if !matches!(expect, Expect::Unsatisfiable) {
        assert_eq!(
            reply.header("content-length"),
            Some(reply.body.len().to_string().as_str()),
            "{case}: Content-Length matches the body"
        );
    }
    match expect {
        Expect::Full => {
            assert_eq!(reply.status, 200, "{case}: status");
            assert_eq!(reply.header("content-range"), None, "{case}: Content-Range");
            assert!(reply.body == content, "{case}: body is the whole file");
        }
        Expect::Partial(first, last) => {
            assert_eq!(reply.status, 206, "{case}: status");
            assert_eq!(
                reply.header("content-range"),
                Some(format!("bytes {first}-{last}/{len}").as_str()),
                "{case}: Content-Range"
            );
            assert!(
                reply.body == content[*first as usize..=*last as usize],
                "{case}: body is bytes {first}-{last}"
            );
        }
        Expect::Multipart(ranges) => {
            assert_eq!(reply.status, 206, "{case}: status");
            assert_eq!(
                reply.header("content-range"),
                None,
                "{case}: no top-level Content-Range"
            );
            let content_type = reply.header("content-type").expect("Content-Type");
            let boundary = content_type
                .strip_prefix("multipart/byteranges; boundary=")
                .unwrap_or_else(|| panic!("{case}: Content-Type {content_type:?}"));
            let parts = parse_multipart(&reply.body, boundary)
                .unwrap_or_else(|e| panic!("{case}: multipart body: {e}"));
            assert_eq!(parts.len(), ranges.len(), "{case}: number of parts");
            for (part, (first, last)) in parts.iter().zip(ranges) {
                assert_eq!(
                    part.content_range,
                    format!("bytes {first}-{last}/{len}"),
                    "{case}: part Content-Range"
                );
                assert_eq!(part.content_type, "video/mp4", "{case}: part Content-Type");
                assert!(
                    part.body == content[*first as usize..=*last as usize],
                    "{case}: part body is bytes {first}-{last}"
                );
            }
        }
        Expect::Unsatisfiable => {
            assert_eq!(reply.status, 416, "{case}: status");
            assert_eq!(
                reply.header("content-range"),
                Some(format!("bytes */{len}").as_str()),
                "{case}: Content-Range"
            );
        }
    }
}

// ---------------------------------------------------------------- ranges

#[tokio::test]
async fn range_requests_on_a_small_file() {
    let server = TestServer::start(&[]);
    let client = client();
    let content = small_content();
    let seventeen = (0..17)
        .map(|i| format!("{0}-{0}", i * 50))
        .collect::<Vec<_>>()
        .join(",");
    let sixteen_whole = vec!["0-"; 16].join(",");
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "first 100 bytes",
            "bytes=0-99".into(),
            Expect::Partial(0, 99),
        ),
        ("open-ended", "bytes=500-".into(), Expect::Partial(500, 999)),
        ("suffix", "bytes=-100".into(), Expect::Partial(900, 999)),
        (
            "last byte only",
            "bytes=999-999".into(),
            Expect::Partial(999, 999),
        ),
        (
            "end past the file is clamped",
            "bytes=990-1990".into(),
            Expect::Partial(990, 999),
        ),
        (
            "suffix longer than the file",
            "bytes=-5000".into(),
            Expect::Partial(0, 999),
        ),
        (
            "unit is case-insensitive",
            "Bytes=0-1".into(),
            Expect::Partial(0, 1),
        ),
        (
            "start at the length",
            "bytes=1000-".into(),
            Expect::Unsatisfiable,
        ),
        ("empty suffix", "bytes=-0".into(), Expect::Unsatisfiable),
        (
            "reversed range is ignored",
            "bytes=5-1".into(),
            Expect::Full,
        ),
        ("garbage is ignored", "bytes=abc".into(), Expect::Full),
        ("other unit is ignored", "items=0-1".into(), Expect::Full),
        (
            "two distant ranges",
            "bytes=0-9,500-509".into(),
            Expect::Multipart(vec![(0, 9), (500, 509)]),
        ),
        (
            "three ranges out of order are sent ascending",
            "bytes=900-909,0-9,400-409".into(),
            Expect::Multipart(vec![(0, 9), (400, 409), (900, 909)]),
        ),
        (
            "overlapping ranges are coalesced",
            "bytes=0-100,50-150".into(),
            Expect::Partial(0, 150),
        ),
        (
            "an unsatisfiable spec beside a good one is dropped",
            "bytes=2000-3000,0-1".into(),
            Expect::Partial(0, 1),
        ),
        (
            "17 ranges are ignored, never amplified",
            format!("bytes={seventeen}"),
            Expect::Full,
        ),
        (
            "16 whole-file ranges are one range, never amplified",
            format!("bytes={sixteen_whole}"),
            Expect::Partial(0, 999),
        ),
    ];
    for (case, range, expect) in &cases {
        let reply = request(
            &client,
            Method::GET,
            &server.url("/media/small.mp4"),
            &[("range", range)],
        )
        .await;
        check_range_reply(case, &reply, &content, expect);
        if !matches!(expect, Expect::Multipart(_)) {
            assert!(
                reply.body.len() <= SMALL_LEN,
                "{case}: body larger than the file"
            );
        }
    }
    let plain = request(&client, Method::GET, &server.url("/media/small.mp4"), &[]).await;
    check_range_reply("no Range header", &plain, &content, &Expect::Full);
}

#[tokio::test]
async fn ranges_on_an_empty_file() {
    let server = TestServer::start(&[]);
    let client = client();
    let cases: Vec<(&str, Option<&str>, u16)> = vec![
        ("whole empty file", None, 200),
        ("open range", Some("bytes=0-"), 416),
        ("suffix range is ignored", Some("bytes=-1"), 200),
    ];
    for (case, range, status) in cases {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
        let reply = request(
            &client,
            Method::GET,
            &server.url("/media/empty.mp4"),
            &headers,
        )
        .await;
        assert_eq!(reply.status, status, "{case}");
        if status == 200 {
            assert!(reply.body.is_empty(), "{case}: body");
            assert_eq!(reply.header("content-length"), Some("0"), "{case}");
        } else {
            assert_eq!(reply.header("content-range"), Some("bytes */0"), "{case}");
        }
        assert_eq!(reply.header("accept-ranges"), Some("bytes"), "{case}");
    }
}

#[tokio::test]
async fn big_file_is_streamed_byte_exact_whole_and_in_ranges() {
    let server = TestServer::start(&[]);
    let client = client();
    let content = big_content();
    let url = server.url("/media/big.mp4");

    let whole = request(&client, Method::GET, &url, &[]).await;
    check_range_reply("whole 3 MiB file", &whole, &content, &Expect::Full);
    assert_eq!(whole.body.len(), BIG_LEN);

    let cases: Vec<(&str, &str, Expect)> = vec![
        (
            "2 MB from the middle",
            "bytes=1000000-2999999",
            Expect::Partial(1_000_000, 2_999_999),
        ),
        (
            "last 700000 bytes",
            "bytes=-700000",
            Expect::Partial(2_445_728, 3_145_727),
        ),
        (
            "multipart larger than what is read whole",
            "bytes=0-9,1048576-2097151,3145000-",
            Expect::Multipart(vec![(0, 9), (1_048_576, 2_097_151), (3_145_000, 3_145_727)]),
        ),
    ];
    for (case, range, expect) in &cases {
        let reply = request(&client, Method::GET, &url, &[("range", range)]).await;
        check_range_reply(case, &reply, &content, expect);
    }
}

// ---------------------------------------------------------------- conditionals

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
/// validator if the file cannot have changed twice within that second. A
/// file changed twice within one second keeps its Last-Modified; resuming
/// with that date must not splice bytes of the new version onto the old.
#[tokio::test]
async fn if_range_date_of_a_file_changed_twice_in_one_second_is_not_trusted() {
    let server = TestServer::start(&[]);
    let client = client();
    let path = server.media().join("twice.mp4");
    let url = server.url("/media/twice.mp4");
    let old = pseudo_random(SMALL_LEN, 10);
    let new = pseudo_random(SMALL_LEN, 11);
    let second = |p: &std::path::Path| {
        std::fs::metadata(p)
            .expect("metadata")
            .modified()
            .expect("mtime")
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    };
    let mut attempts = 0;
    let (last_modified, reply) = loop {
        attempts += 1;
        assert!(
            attempts <= 3,
            "could not change the file twice within one second"
        );
        // Start early in a wall-clock second.
        let into = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
        if into.subsec_millis() > 100 {
            let wait = 1000 - u64::from(into.subsec_millis());
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        std::fs::write(&path, &old).expect("write old version");
        let first_second = second(&path);
        let first = request(&client, Method::GET, &url, &[]).await;
        assert!(first.body == old);
        let Some(last_modified) = first.header("last-modified") else {
            return; // No date handed out while the second is open: nothing to misuse.
        };
        let last_modified = last_modified.to_owned();
        {
            use std::io::Write;
            let mut file = std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open");
            file.write_all(&new).expect("overwrite in place");
        }
        if second(&path) != first_second {
            continue;
        }
        let resumed = request(
            &client,
            Method::GET,
            &url,
            &[("range", "bytes=500-"), ("if-range", &last_modified)],
        )
        .await;
        break (last_modified, resumed);
    };
    assert_ne!(
        reply.status, 206,
        "If-Range: {last_modified} of a version replaced within the same second yields \
         206 of the new bytes; a client holding the first 500 old bytes ends up with a mix"
    );
    assert!(reply.body == new, "whole new version");
}

// ---------------------------------------------------------------- HEAD

#[tokio::test]
async fn head_has_the_headers_of_get_and_no_body() {
    let server = TestServer::start(&[]);
    let client = client();
    let compared = [
        "content-length",
        "content-type",
        "content-range",
        "accept-ranges",
        "etag",
        "last-modified",
        "cache-control",
    ];
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        ("small whole", "/media/small.mp4", None),
        ("small range", "/media/small.mp4", Some("bytes=0-99")),
        (
            "small multipart",
            "/media/small.mp4",
            Some("bytes=0-9,500-509"),
        ),
        ("big whole", "/media/big.mp4", None),
        ("big range", "/media/big.mp4", Some("bytes=1000-2999999")),
        ("unsatisfiable", "/media/small.mp4", Some("bytes=1000-")),
    ];
    for (case, path, range) in cases {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
        let get = request(&client, Method::GET, &server.url(path), &headers).await;
        let head = request(&client, Method::HEAD, &server.url(path), &headers).await;
        assert_eq!(head.status, get.status, "{case}: status");
        assert!(head.body.is_empty(), "{case}: HEAD body");
        assert!(
            head.header("etag").is_some() || get.status == 416,
            "{case}: ETag"
        );
        for name in compared {
            assert_eq!(head.header(name), get.header(name), "{case}: {name}");
        }
        if range.is_some() && get.status == 206 && !case.contains("multipart") {
            assert!(
                head.header("content-range").is_some(),
                "{case}: Content-Range"
            );
        }
    }
    let big = request(&client, Method::HEAD, &server.url("/media/big.mp4"), &[]).await;
    assert_eq!(
        big.header("content-length"),
        Some(BIG_LEN.to_string().as_str())
    );
}

// ---------------------------------------------------------------- headers

#[tokio::test]
async fn content_type_by_extension() {
    let server = TestServer::start(&[]);
    let client = client();
    let cases = [
        ("t.mp4", "video/mp4"),
        ("t.m4v", "video/mp4"),
        ("t.webm", "video/webm"),
        ("t.m4a", "audio/mp4"),
        ("t.mp3", "audio/mpeg"),
        ("t.m4s", "video/iso.segment"),
        ("t.ts", "video/mp2t"),
        ("t.m3u8", "application/vnd.apple.mpegurl"),
        ("t.mpd", "application/dash+xml"),
        ("t.vtt", "text/vtt; charset=utf-8"),
        ("T.MP4", "video/mp4"),
        ("noextension", "application/octet-stream"),
        ("t.unknownext", "application/octet-stream"),
    ];
    for (name, _) in cases {
        std::fs::write(server.media().join(name), b"0123456789").expect("write");
    }
    for (name, content_type) in cases {
        let reply = request(
            &client,
            Method::GET,
            &server.url(&format!("/media/{name}")),
            &[],
        )
        .await;
        assert_eq!(reply.status, 200, "{name}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{name}");
        let ranged = request(
            &client,
            Method::GET,
            &server.url(&format!("/media/{name}")),
            &[("range", "bytes=0-1")],
        )
        .await;
        assert_eq!(
            ranged.header("content-type"),
            Some(content_type),
            "{name} (206)"
        );
    }
}

/// The type belongs to the file, not to how its name was spelled in the URL.
#[tokio::test]
async fn content_type_of_a_percent_encoded_name_is_the_file_type() {
    let server = TestServer::start(&[]);
    let reply = request(
        &client(),
        Method::GET,
        &server.url("/media/small%2Emp4"),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body == small_content());
    assert_eq!(reply.header("content-type"), Some("video/mp4"));
}

#[tokio::test]
async fn cache_control_default_flag_and_off() {
    let cases: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
        ("default", vec![], Some("no-cache")),
        (
            "flag",
            vec!["--cache-control", "public, max-age=60"],
            Some("public, max-age=60"),
        ),
        ("off", vec!["--cache-control", "off"], None),
    ];
    let client = client();
    for (case, flags, expected) in cases {
        let server = TestServer::start(&flags);
        for (path, range) in [
            ("/media/small.mp4", None),
            ("/media/small.mp4", Some("bytes=0-9")),
            ("/", None),
        ] {
            let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
            let reply = request(&client, Method::GET, &server.url(path), &headers).await;
            assert!(reply.status == 200 || reply.status == 206, "{case} {path}");
            assert_eq!(
                reply.header("cache-control"),
                expected,
                "{case}: {path} {range:?}"
            );
        }
    }
}

#[tokio::test]
async fn cors_for_other_origins() {
    let server = TestServer::start(&[]);
    let client = client();
    let url = server.url("/media/small.mp4");
    let get = request(
        &client,
        Method::GET,
        &url,
        &[("origin", "http://other.example"), ("range", "bytes=0-9")],
    )
    .await;
    assert_eq!(get.status, 206);
    assert_eq!(get.header("access-control-allow-origin"), Some("*"));
    let exposed = get
        .header("access-control-expose-headers")
        .expect("Access-Control-Expose-Headers")
        .to_ascii_lowercase();
    for name in ["content-range", "accept-ranges", "content-length", "etag"] {
        assert!(
            exposed.split(',').any(|h| h.trim() == name),
            "{name} not exposed: {exposed}"
        );
    }

    let preflight = request(
        &client,
        Method::OPTIONS,
        &url,
        &[
            ("origin", "http://other.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "range"),
        ],
    )
    .await;
    assert!(
        preflight.status == 200 || preflight.status == 204,
        "preflight {}",
        preflight.status
    );
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let methods = preflight
        .header("access-control-allow-methods")
        .expect("Access-Control-Allow-Methods");
    assert!(methods.split(',').any(|m| m.trim() == "GET"), "{methods}");
    let allowed = preflight
        .header("access-control-allow-headers")
        .expect("Access-Control-Allow-Headers")
        .to_ascii_lowercase();
    assert!(allowed.split(',').any(|h| h.trim() == "range"), "{allowed}");

    let no_cors = TestServer::start(&["--no-cors"]);
    let get = request(
        &client,
        Method::GET,
        &no_cors.url("/media/small.mp4"),
        &[("origin", "http://other.example")],
    )
    .await;
    assert_eq!(get.status, 200);
    assert_eq!(get.header("access-control-allow-origin"), None, "--no-cors");
}

// ---------------------------------------------------------------- path safety

#[test]
fn traversal_and_malformed_paths_are_refused() {
    let server = TestServer::start(&[]);
    let passwd = std::fs::read("/etc/passwd").unwrap_or_default();
    // (case, request target taken verbatim, expected status)
    let cases: Vec<(&str, &str, u16)> = vec![
        ("dot-dot", "/media/../secret.txt", 400),
        ("dot-dot deeper", "/media/sub/../../secret.txt", 400),
        ("encoded dot-dot", "/media/%2e%2e/secret.txt", 400),
        (
            "encoded dot-dot and slash",
            "/media/%2E%2E%2Fsecret.txt",
            400,
        ),
        ("dot-dot then encoded slash", "/media/..%2fsecret.txt", 400),
        ("mixed dot-dot", "/media/.%2e/secret.txt", 400),
        ("encoded slash", "/media/a%2fb", 400),
        ("leading encoded slash", "/media/%2fetc/passwd", 400),
        ("encoded backslashes", "/media/..%5c..%5csecret.txt", 400),
        ("raw backslash", "/media/..\\secret.txt", 400),
        ("encoded NUL", "/media/a%00b", 400),
        ("double slash", "/media//etc/passwd", 400),
        ("double slash to a fixture", "/media//small.mp4", 400),
        ("trailing dot-dot segment", "/media/sub/..", 400),
        ("single dot segment", "/media/./small.mp4", 400),
        (
            "absolute-form target",
            "http://localhost/media/../secret.txt",
            400,
        ),
        // Not dots once decoded: just a name that does not exist.
        ("overlong UTF-8 dots", "/media/%c0%ae%c0%ae/secret.txt", 404),
        ("site root dot-dot", "/../secret.txt", 400),
        ("site encoded dot-dot", "/%2e%2e/secret.txt", 400),
        ("site dot-dot to media", "/%2e%2e/media/small.mp4", 400),
    ];
    for (case, target, status) in cases {
        let response = raw_get(server.addr, target);
        assert_eq!(response.status, status, "{case}: {target}");
        assert!(
            common::find(&response.body, SECRET).is_none(),
            "{case}: the outside file leaked"
        );
        assert!(
            passwd.is_empty() || common::find(&response.body, &passwd).is_none(),
            "{case}: /etc/passwd leaked"
        );
        assert!(
            !response.body.starts_with(&small_content()[..16]),
            "{case}: a media file was served"
        );
    }
}

#[tokio::test]
async fn symlinks_inside_are_served_outside_refused() {
    let server = TestServer::start(&[]);
    let client = client();
    let outside = request(&client, Method::GET, &server.url("/media/outside.mp4"), &[]).await;
    assert_eq!(outside.status, 403);
    assert!(
        common::find(&outside.body, SECRET).is_none(),
        "secret leaked"
    );
    let ranged = request(
        &client,
        Method::GET,
        &server.url("/media/outside.mp4"),
        &[("range", "bytes=0-9")],
    )
    .await;
    assert_eq!(ranged.status, 403, "ranged request to the outside symlink");
    let inside = request(&client, Method::GET, &server.url("/media/inside.mp4"), &[]).await;
    assert_eq!(inside.status, 200);
    assert!(
        inside.body == small_content(),
        "inside symlink serves its target"
    );
    let raw = raw_get(server.addr, "/media/outside.mp4");
    assert_eq!(raw.status, 403);

    // A symlinked directory leading outside, and a link to a dotfile inside.
    let media = server.media();
    std::os::unix::fs::symlink(server.fixture.root.path(), media.join("outdir"))
        .expect("symlink dir");
    std::os::unix::fs::symlink(".secret", media.join("visible.mp4")).expect("symlink dotfile");
    std::fs::write(media.join("sub/.hidden.mp4"), DOTFILE).expect("write nested dotfile");
    let cases = [
        (
            "file through a directory link outside",
            "/media/outdir/secret.txt",
            403,
        ),
        ("link to a dotfile", "/media/visible.mp4", 404),
        ("dotfile in a subdirectory", "/media/sub/.hidden.mp4", 404),
    ];
    for (case, path, status) in cases {
        let reply = request(&client, Method::GET, &server.url(path), &[]).await;
        assert_eq!(reply.status, status, "{case}");
        assert!(
            common::find(&reply.body, SECRET).is_none(),
            "{case}: secret leaked"
        );
        assert!(
            common::find(&reply.body, DOTFILE).is_none(),
            "{case}: dotfile leaked"
        );
    }
    let listing = request(&client, Method::GET, &server.url("/api/media"), &[]).await;
    let listing = String::from_utf8(listing.body).expect("UTF-8 listing");
    for name in [
        "outdir",
        "secret.txt",
        "visible.mp4",
        ".hidden",
        "outside.mp4",
    ] {
        assert!(!listing.contains(name), "{name} listed: {listing}");
    }

    // The refusal is the symlink policy: with the flag the same link is served.
    let following = TestServer::start(&["--follow-symlinks-outside"]);
    let outside = request(
        &client,
        Method::GET,
        &following.url("/media/outside.mp4"),
        &[],
    )
    .await;
    assert_eq!(outside.status, 200);
    assert_eq!(outside.body, SECRET);
}

#[test]
fn hidden_missing_and_directories_are_404() {
    let server = TestServer::start(&[]);
    let cases: Vec<(&str, &str, u16)> = vec![
        ("dotfile", "/media/.secret", 404),
        ("encoded dotfile", "/media/%2esecret", 404),
        ("encoded dotfile, upper case", "/media/%2Esecret", 404),
        ("directory", "/media/sub", 404),
        // A trailing slash is an empty segment, refused as malformed.
        ("directory with slash", "/media/sub/", 400),
        ("media root", "/media/", 404),
        ("missing file", "/media/missing.mp4", 404),
        ("missing site file", "/missing.html", 404),
        ("file in a subdirectory", "/media/sub/inner.webm", 200),
        ("percent-encoded name", "/media/%73mall.mp4", 200),
        (
            "query string is not part of the name",
            "/media/small.mp4?t=1",
            200,
        ),
    ];
    for (case, target, status) in cases {
        let response = raw_get(server.addr, target);
        assert_eq!(response.status, status, "{case}: {target}");
        assert!(
            common::find(&response.body, DOTFILE).is_none(),
            "{case}: dotfile leaked"
        );
    }
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let server = TestServer::start(&[]);
    let client = client();
    let cases = [
        (Method::POST, "/media/small.mp4"),
        (Method::PUT, "/media/small.mp4"),
        (Method::DELETE, "/media/small.mp4"),
        (Method::POST, "/api/media"),
        (Method::POST, "/"),
    ];
    for (method, path) in cases {
        let reply = request(&client, method.clone(), &server.url(path), &[]).await;
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method} {path}");
    }
    assert_eq!(
        std::fs::read(server.media().join("small.mp4")).expect("read"),
        small_content(),
        "file untouched"
    );
}

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
    let server = TestServer::start(&["--max-connections", "2"]);
    let first = TcpStream::connect_timeout(&server.addr, WAIT).expect("first");
    let _second = TcpStream::connect_timeout(&server.addr, WAIT).expect("second");
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

// ---------------------------------------------------------------- listing and site

#[tokio::test]
async fn api_media_lists_visible_files() {
    let server = TestServer::start(&[]);
    let reply = request(&client(), Method::GET, &server.url("/api/media"), &[]).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        reply.header("content-type")
    );
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&reply.body).expect("JSON array");
    let mtime = |name: &str| {
        std::fs::metadata(server.media().join(name))
            .expect("metadata")
            .modified()
            .expect("mtime")
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    };
    let expected = [
        ("big.mp4", BIG_LEN as u64, "video/mp4"),
        ("empty.mp4", 0, "video/mp4"),
        ("inside.mp4", SMALL_LEN as u64, "video/mp4"),
        ("small.mp4", SMALL_LEN as u64, "video/mp4"),
        ("sub/inner.webm", 10, "video/webm"),
    ];
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        expected.iter().map(|e| e.0).collect::<Vec<_>>(),
        "listed names (no dotfile, no outside symlink)"
    );
    for (entry, (name, size, media_type)) in entries.iter().zip(expected) {
        assert_eq!(entry["size"].as_u64(), Some(size), "{name} size");
        assert_eq!(entry["type"].as_str(), Some(media_type), "{name} type");
        assert_eq!(entry["mtime"].as_u64(), Some(mtime(name)), "{name} mtime");
    }
}

#[tokio::test]
async fn root_serves_the_www_index() {
    let server = TestServer::start(&[]);
    let client = client();
    for path in ["/", "/index.html"] {
        let reply = request(&client, Method::GET, &server.url(path), &[]).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.body, INDEX_HTML.as_bytes(), "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------- files changing

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

// ---------------------------------------------------------------- slowloris

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

// ---------------------------------------------------------------- shutdown

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

// ---------------------------------------------------------------- committed sample

#[tokio::test]
async fn committed_sample_first_100_bytes() {
    let media = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/media");
    let sample = std::fs::read(media.join("caudal-sample.mp4")).expect("committed sample");
    let server = TestServer::start_serving(&media, &[]);
    let reply = request(
        &client(),
        Method::GET,
        &server.url("/media/caudal-sample.mp4"),
        &[("range", "bytes=0-99")],
    )
    .await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body.len(), 100);
    assert_eq!(reply.body, sample[..100]);
    assert_eq!(
        reply.header("content-range"),
        Some(format!("bytes 0-99/{}", sample.len()).as_str())
    );
    assert_eq!(reply.header("content-type"), Some("video/mp4"));
}
