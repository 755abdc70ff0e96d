//! Response headers end to end: HEAD against GET, Content-Type, Cache-Control
//! and CORS.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use common::{BIG_LEN, TestServer, client, request, small_content};
use reqwest::Method;

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
