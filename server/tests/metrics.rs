//! `/metrics` against the real binary: what was served and refused shows
//! in it, counted right; only allowed addresses may read it (loopback by
//! default, `--metrics-allow`, the client behind a trusted proxy);
//! `--no-metrics` turns it off. Tests can only use loopback: 127.0.0.2 is
//! the address that is not allowed.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::time::Duration;

use common::{SMALL_LEN, TestServer, client, client_from, request};
use reqwest::Method;

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The value of the sample `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn metrics_text(server: &TestServer) -> String {
    let reply = request(&client(), Method::GET, &server.url("/metrics"), &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    String::from_utf8(reply.body).expect("UTF-8")
}

/// Polls `/metrics` until `name` reaches `at_least` (a response's end is
/// recorded when its body is dropped, just after the client has it).
async fn wait_for(server: &TestServer, name: &str, at_least: f64) -> String {
    let mut text = String::new();
    for _ in 0..50 {
        text = metrics_text(server).await;
        if sample(&text, name).is_some_and(|v| v >= at_least) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    panic!("{name} never reached {at_least}:\n{text}");
}

#[tokio::test]
async fn what_was_served_and_refused_is_counted_by_route_status_and_reason() {
    let server = TestServer::start(&[
        "--key",
        KEY,
        "--protect",
        "/media/sub/",
        "--deny",
        "/media/empty.mp4=127.0.0.0/8",
    ]);
    let client = client();
    for _ in 0..3 {
        let reply = request(
            &client,
            Method::GET,
            &server.url("/media/small.mp4"),
            &[("range", "bytes=0-99")],
        )
        .await;
        assert_eq!(reply.status, 206);
    }
    let whole = request(&client, Method::GET, &server.url("/media/small.mp4"), &[]).await;
    assert_eq!(whole.body.len(), SMALL_LEN);
    let missing = request(&client, Method::GET, &server.url("/media/nothing.mp4"), &[]).await;
    assert_eq!(missing.status, 404);
    // A token refusal, an IP refusal, a path refusal, an expired token.
    let no_token = request(
        &client,
        Method::GET,
        &server.url("/media/sub/inner.webm"),
        &[],
    )
    .await;
    assert_eq!(no_token.status, 403);
    let expired = request(
        &client,
        Method::GET,
        &server.url("/media/sub/inner.webm?__token__=exp=1~acl=/media/*~hmac=00"),
        &[],
    )
    .await;
    assert_eq!(expired.status, 403);
    let denied = request(&client, Method::GET, &server.url("/media/empty.mp4"), &[]).await;
    assert_eq!(denied.status, 403);
    let outside = request(&client, Method::GET, &server.url("/media/outside.mp4"), &[]).await;
    assert_eq!(outside.status, 403);

    let text = wait_for(
        &server,
        "caudal_http_requests_total{route=\"media\",status=\"403\"}",
        4.0,
    )
    .await;
    let value = |name: &str| sample(&text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"));
    assert_eq!(
        value("caudal_http_requests_total{route=\"media\",status=\"206\"}"),
        3.0
    );
    assert_eq!(
        value("caudal_http_requests_total{route=\"media\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("caudal_http_requests_total{route=\"media\",status=\"404\"}"),
        1.0
    );
    // No token, and one with a bad signature.
    assert_eq!(value("caudal_refusals_total{reason=\"token\"}"), 2.0);
    assert_eq!(value("caudal_refusals_total{reason=\"ip\"}"), 1.0);
    assert_eq!(value("caudal_refusals_total{reason=\"path\"}"), 1.0);
    // Its `exp=` is long past, but a bad signature is a bad token, not an
    // expired one: only a genuine token learns that it expired.
    assert_eq!(
        sample(&text, "caudal_refusals_total{reason=\"token_expired\"}"),
        None
    );
    // The bodies that left: 3 × 100 + 1000, and the refusals' short texts.
    let sent = value("caudal_http_response_body_bytes_total{route=\"media\"}");
    assert!((1300.0..1500.0).contains(&sent), "{sent} bytes");
    assert_eq!(
        value("caudal_http_request_duration_seconds_count{route=\"media\"}"),
        9.0
    );
    assert!(value("caudal_connections_active") >= 1.0);
    assert!(value("caudal_connections_total") >= 1.0);
}

#[tokio::test]
async fn a_client_that_goes_away_mid_body_is_a_response_cut_short() {
    let server = TestServer::start(&[]);
    // Larger than what the socket buffers take before the client reads.
    let huge = common::write_huge(&server);
    let client = client();
    let mut response = client
        .get(server.url("/media/huge.mp4"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.expect("a chunk").expect("bytes");
    assert!(first.len() < huge.len());
    drop(response);
    let text = wait_for(
        &server,
        "caudal_http_responses_cut_short_total{route=\"media\"}",
        1.0,
    )
    .await;
    let sent = sample(
        &text,
        "caudal_http_response_body_bytes_total{route=\"media\"}",
    )
    .expect("bytes counted");
    assert!(
        sent < huge.len() as f64,
        "counted {sent} of {} bytes",
        huge.len()
    );
}

/// With `--zero-copy on` (the default) a file range leaves through
/// `sendfile`: the counter says so; with `off`, hyper sends every byte.
#[tokio::test]
async fn file_bodies_leave_through_the_kernel_when_zero_copy_is_on() {
    let server = TestServer::start(&[]);
    let client = client();
    let range = request(
        &client,
        Method::GET,
        &server.url("/media/big.mp4"),
        &[("range", "bytes=1000-66535")],
    )
    .await;
    assert_eq!(range.status, 206);
    assert!(range.body == common::big_content()[1000..=66535]);
    let whole = request(&client, Method::GET, &server.url("/media/big.mp4"), &[]).await;
    assert!(whole.body == common::big_content());
    let text = wait_for(
        &server,
        "caudal_http_request_duration_seconds_count{route=\"media\"}",
        2.0,
    )
    .await;
    let by_kernel = sample(&text, "caudal_zero_copy_body_bytes_total").unwrap_or(0.0);
    let expected = if common::zero_copy_on() {
        (65536 + common::BIG_LEN) as f64
    } else {
        0.0
    };
    assert_eq!(by_kernel, expected, "bytes sent by sendfile");
}

#[tokio::test]
async fn metrics_are_refused_to_addresses_not_allowed() {
    // Loopback by default: 127.0.0.2 is loopback too.
    let open = TestServer::start(&[]);
    let from_other = request(
        &client_from("127.0.0.2"),
        Method::GET,
        &open.url("/metrics"),
        &[],
    )
    .await;
    assert_eq!(from_other.status, 200);

    let server = TestServer::start(&["--metrics-allow", "127.0.0.2/32"]);
    let refused = request(&client(), Method::GET, &server.url("/metrics"), &[]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.body,
        b"forbidden: metrics are not served to this address\n"
    );
    let allowed = request(
        &client_from("127.0.0.2"),
        Method::GET,
        &server.url("/metrics"),
        &[],
    )
    .await;
    assert_eq!(allowed.status, 200);
    let text = String::from_utf8(allowed.body).expect("UTF-8");
    assert_eq!(
        sample(&text, "caudal_refusals_total{reason=\"metrics\"}"),
        Some(1.0)
    );
    assert!(
        server
            .log()
            .contains("/metrics refused: address not allowed")
    );

    // Behind a trusted proxy, the client it names is the one checked.
    let proxied = TestServer::start(&["--trusted-proxy", "127.0.0.1"]);
    let outside = request(
        &client(),
        Method::GET,
        &proxied.url("/metrics"),
        &[("x-forwarded-for", "203.0.113.7")],
    )
    .await;
    assert_eq!(outside.status, 403);
    let inside = request(
        &client(),
        Method::GET,
        &proxied.url("/metrics"),
        &[("x-forwarded-for", "127.0.0.9")],
    )
    .await;
    assert_eq!(inside.status, 200);
}

#[tokio::test]
async fn no_metrics_answers_not_found() {
    let server = TestServer::start(&["--no-metrics"]);
    let reply = request(&client(), Method::GET, &server.url("/metrics"), &[]).await;
    assert_eq!(reply.status, 404);
    let post = TestServer::start(&[]);
    let reply = request(&client(), Method::POST, &post.url("/metrics"), &[]).await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn cmcd_sessions_stalls_buffers_and_pacing_decisions_are_counted() {
    let server = TestServer::start(&[]);
    let cmcd = |keys: &str| server.url(&format!("/media/small.mp4?CMCD={keys}"));
    let http = client();
    // Two sessions: one starting, one healthy that then reports a stall;
    // a header-form request; an unreadable one; one without CMCD.
    for url in [
        cmcd("sid%3D%22a%22%2Csu"),
        cmcd("bl%3D12000%2Cbr%3D800%2Csid%3D%22b%22"),
        cmcd("bl%3D0%2Cbs%2Csid%3D%22b%22"),
        cmcd("bl%3D%22oops%22"),
        server.url("/media/small.mp4"),
    ] {
        let reply = request(&http, Method::GET, &url, &[("range", "bytes=0-99")]).await;
        assert_eq!(reply.status, 206, "{url}: CMCD never changes the answer");
    }
    let reply = request(
        &http,
        Method::GET,
        &server.url("/media/small.mp4"),
        &[
            ("range", "bytes=0-99"),
            ("cmcd-request", "bl=3000"),
            ("cmcd-session", "sid=\"c\""),
        ],
    )
    .await;
    assert_eq!(reply.status, 206);
    let text = wait_for(
        &server,
        "caudal_pacing_decisions_total{decision=\"paced\"}",
        1.0,
    )
    .await;
    let value = |name: &str| sample(&text, name).unwrap_or_else(|| panic!("{name} in {text}"));
    assert_eq!(value("caudal_cmcd_requests_total"), 4.0);
    assert_eq!(value("caudal_cmcd_invalid_total"), 1.0);
    assert_eq!(value("caudal_cmcd_stalls_total"), 1.0);
    assert_eq!(value("caudal_cmcd_buffer_seconds_count"), 3.0);
    assert_eq!(
        value("caudal_playback_sessions_active"),
        4.0,
        "a, b, c, and the client without CMCD by its file"
    );
    assert_eq!(
        value("caudal_pacing_decisions_total{decision=\"startup\"}"),
        1.0
    );
    assert_eq!(
        value("caudal_pacing_decisions_total{decision=\"stall\"}"),
        1.0
    );
    assert_eq!(
        value("caudal_pacing_decisions_total{decision=\"low_buffer\"}"),
        1.0
    );
    assert_eq!(
        value("caudal_pacing_decisions_total{decision=\"no_cmcd\"}"),
        2.0
    );
}
