//! IP rules, trusted proxies, `private, no-store` on protected answers and
//! the query-token-to-cookie exchange, against the real binary on a real
//! socket. Tests can only use loopback: the peer is 127.0.0.1, or 127.0.0.2
//! where a test needs a peer that is not the trusted proxy.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use caudal_server::access::{Fields, Key, Options, Scope, sign};
use common::{TestServer, client, client_from, request, small_content};
use reqwest::Method;

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn token(scope: Scope, ip: Option<&str>) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let fields = Fields {
        scope,
        start: None,
        expires: now + 3600,
        ip: ip.map(str::to_owned),
        id: None,
        data: None,
    };
    sign::sign(
        &fields,
        &Key::from_hex(KEY).expect("key"),
        Options::default(),
    )
}

fn acl(pattern: &str) -> Scope {
    Scope::Acl(vec![pattern.to_owned()])
}

async fn status(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> u16 {
    request(client, Method::GET, url, headers).await.status
}

#[tokio::test]
async fn allow_and_deny_rules_apply_per_prefix_first_match_wins() {
    let server = TestServer::start(&[
        "--allow",
        "/media/sub/=10.0.0.0/8",
        "--deny",
        "/media/big.mp4=127.0.0.1",
        "--allow",
        "/media/big.mp4=127.0.0.0/8",
    ]);
    let client = client();
    let refused = request(
        &client,
        Method::GET,
        &server.url("/media/sub/inner.webm"),
        &[],
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body, b"forbidden\n");
    assert_eq!(
        status(&client, &server.url("/media/%73ub/inner.webm"), &[]).await,
        403
    );
    // The deny rule comes first, so the later allow of 127/8 does not save it.
    assert_eq!(
        status(&client, &server.url("/media/big.mp4"), &[]).await,
        403
    );
    let open = request(&client, Method::GET, &server.url("/media/small.mp4"), &[]).await;
    assert_eq!(open.status, 200);
    assert_eq!(open.body, small_content());
    let log = server.log();
    assert!(
        log.contains("GET /media/sub/inner.webm refused: ip-denied"),
        "{log}"
    );
    assert!(
        log.contains("127.0.0.1 GET /media/big.mp4 refused: ip-denied"),
        "{log}"
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_an_untrusted_peer_does_not() {
    let server = TestServer::start(&[
        "--trusted-proxy",
        "127.0.0.1/32",
        "--allow",
        "/media/=198.51.100.0/24",
    ]);
    let url = server.url("/media/small.mp4");
    let proxy = client_from("127.0.0.1");
    assert_eq!(
        status(&proxy, &url, &[]).await,
        403,
        "the proxy itself is not allowed"
    );
    let xff = [("x-forwarded-for", "203.0.113.9, 198.51.100.7")];
    assert_eq!(status(&proxy, &url, &xff).await, 200);
    let xff_bad = [("x-forwarded-for", "198.51.100.7, 203.0.113.9")];
    assert_eq!(
        status(&proxy, &url, &xff_bad).await,
        403,
        "rightmost untrusted wins"
    );
    let fwd = [("forwarded", r#"for="198.51.100.8:4711";proto=http"#)];
    assert_eq!(status(&proxy, &url, &fwd).await, 200);
    let unknown = [("forwarded", "for=unknown")];
    assert_eq!(status(&proxy, &url, &unknown).await, 403);
    // 127.0.0.2 is no trusted proxy: what it says of the client is ignored.
    let stranger = client_from("127.0.0.2");
    assert_eq!(status(&stranger, &url, &xff).await, 403);
    assert_eq!(status(&stranger, &url, &fwd).await, 403);
    let log = server.log();
    assert!(
        log.contains("203.0.113.9 GET /media/small.mp4 refused: ip-denied"),
        "{log}"
    );
    assert!(
        log.contains("127.0.0.2 GET /media/small.mp4 refused: ip-denied"),
        "{log}"
    );
    // The access log names the peer, and the client behind it.
    let served = log
        .lines()
        .find(|line| line.contains("caudal::access") && line.contains(" 200 "))
        .unwrap_or_default();
    assert!(served.contains("127.0.0.1:"), "{log}");
    assert!(
        served.contains(" for=198.51.100.7 GET /media/small.mp4"),
        "{log}"
    );
    let stranger_line = log
        .lines()
        .find(|line| line.contains("caudal::access") && line.contains("127.0.0.2:"))
        .unwrap_or_default();
    assert!(!stranger_line.is_empty(), "{log}");
    assert!(!stranger_line.contains("for="), "{log}");
}

#[tokio::test]
async fn a_token_ip_is_checked_against_the_client_behind_the_proxy() {
    let server = TestServer::start(&[
        "--key",
        KEY,
        "--protect",
        "/media/",
        "--trusted-proxy",
        "127.0.0.1/32",
    ]);
    let bound = token(acl("/media/*"), Some("198.51.100.7"));
    let url = server.url("/media/small.mp4");
    let proxy = client_from("127.0.0.1");
    let carried = [
        ("__token__", bound.as_str()),
        ("x-forwarded-for", "198.51.100.7"),
    ];
    assert_eq!(status(&proxy, &url, &carried).await, 200);
    let elsewhere = [
        ("__token__", bound.as_str()),
        ("x-forwarded-for", "198.51.100.8"),
    ];
    assert_eq!(status(&proxy, &url, &elsewhere).await, 403);
    let direct = [("__token__", bound.as_str())];
    assert_eq!(status(&proxy, &url, &direct).await, 403);
    // From an untrusted peer the header does not move the client.
    let stranger = client_from("127.0.0.2");
    assert_eq!(status(&stranger, &url, &carried).await, 403);
    assert!(server.log().contains("wrong-ip"), "{}", server.log());
}

#[tokio::test]
async fn protected_answers_are_private_no_store_others_unchanged() {
    let server = TestServer::start(&["--key", KEY, "--protect", "/media/sub/"]);
    let client = client();
    let grant = token(acl("/media/sub/*"), None);
    let header = [("__token__", grant.as_str())];
    let url = server.url("/media/sub/inner.webm");
    let full = request(&client, Method::GET, &url, &header).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.header("cache-control"), Some("private, no-store"));
    assert!(full.header("etag").is_some() && full.header("last-modified").is_some());
    let etag = full.header("etag").expect("etag").to_owned();
    let ranged = [("__token__", grant.as_str()), ("range", "bytes=0-3")];
    let part = request(&client, Method::GET, &url, &ranged).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("cache-control"), Some("private, no-store"));
    let revalidate = [
        ("__token__", grant.as_str()),
        ("if-none-match", etag.as_str()),
    ];
    let same = request(&client, Method::GET, &url, &revalidate).await;
    assert_eq!(same.status, 304);
    assert_eq!(same.header("cache-control"), Some("private, no-store"));
    let open = request(&client, Method::GET, &server.url("/media/small.mp4"), &[]).await;
    assert_eq!(open.status, 200);
    assert_eq!(open.header("cache-control"), Some("no-cache"));
    // A header-carried token is not turned into a cookie.
    assert!(full.header("set-cookie").is_none());
}

#[tokio::test]
async fn an_acl_token_in_the_query_comes_back_as_a_cookie_that_opens_the_folder() {
    let server = TestServer::start(&["--key", KEY, "--protect", "/media/"]);
    let client = client();
    let grant = token(acl("/media/sub/*"), None);
    let first = request(
        &client,
        Method::GET,
        &server.url(&format!("/media/sub/inner.webm?__token__={grant}")),
        &[],
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("set-cookie"),
        Some(format!("__token__={grant}; Path=/media/sub/; HttpOnly; SameSite=Lax").as_str())
    );
    let cookie = format!("__token__={grant}");
    let later = [("cookie", cookie.as_str()), ("range", "bytes=2-5")];
    let part = request(
        &client,
        Method::GET,
        &server.url("/media/sub/inner.webm"),
        &later,
    )
    .await;
    assert_eq!(part.status, 206);
    assert!(
        part.header("set-cookie").is_none(),
        "a cookie-carried token is not re-sent"
    );
    // A player's later range requests carry both: the query's token is
    // the cookie it holds, so no cookie again; a new token in the query
    // (refreshed) replaces the cookie.
    let both = request(
        &client,
        Method::GET,
        &server.url(&format!("/media/sub/inner.webm?__token__={grant}")),
        &later,
    )
    .await;
    assert_eq!(both.status, 206);
    assert!(
        both.header("set-cookie").is_none(),
        "the cookie is held already"
    );
    let fresh = token(acl("/media/sub/*"), Some("127.0.0.1"));
    let refreshed = request(
        &client,
        Method::GET,
        &server.url(&format!("/media/sub/inner.webm?__token__={fresh}")),
        &later,
    )
    .await;
    assert_eq!(refreshed.status, 206);
    assert!(
        refreshed
            .header("set-cookie")
            .is_some_and(|c| c.starts_with(&format!("__token__={fresh};"))),
        "a new token in the query becomes the cookie: {:?}",
        refreshed.header("set-cookie")
    );
    // A URL token (one path) gives no cookie; nor does a refused one.
    let one = token(Scope::Url("/media/small.mp4".into()), None);
    let url_token = request(
        &client,
        Method::GET,
        &server.url(&format!("/media/small.mp4?__token__={one}")),
        &[],
    )
    .await;
    assert_eq!(url_token.status, 200);
    assert!(url_token.header("set-cookie").is_none());
    let wrong = request(
        &client,
        Method::GET,
        &server.url(&format!("/media/small.mp4?__token__={grant}")),
        &[],
    )
    .await;
    assert_eq!(wrong.status, 403);
    assert!(wrong.header("set-cookie").is_none());
}
