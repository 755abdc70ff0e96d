//! `caudal serve --key ... --protect PREFIX`, the real binary on a real
//! socket: one table of tokens (valid, expired, not yet valid, for another
//! path, outside their `acl`, tampered, old key, dropped key, bound to
//! another address, with extra parameters) carried by query, cookie or
//! header, each answered with its status and one-line body, and logged
//! without the key or the token.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use caudal_server::access::{Fields, Key, Options, Scope, sign};
use common::{TestServer, client, request, small_content};
use reqwest::Method;

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OLD_KEY: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const GONE_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A token for `scope`, valid from `start` to `expires`, maybe bound to `ip`.
fn token(key: &str, scope: Scope, start: Option<u64>, expires: u64, ip: Option<&str>) -> String {
    let fields = Fields {
        scope,
        start,
        expires,
        ip: ip.map(str::to_owned),
        id: Some("viewer7".into()),
        data: None,
    };
    sign::sign(
        &fields,
        &Key::from_hex(key).expect("key"),
        Options::default(),
    )
}

fn acl(pattern: &str) -> Scope {
    Scope::Acl(vec![pattern.to_owned()])
}

/// How a case carries its token.
#[derive(Debug, Clone, Copy)]
enum Carry {
    None,
    Query,
    Cookie,
    Header,
}

/// (case, path, token, carried by, status, body (None: the file))
type Case<'a> = (&'a str, &'a str, &'a str, Carry, u16, Option<&'a str>);

#[tokio::test]
async fn protected_media_needs_a_valid_token_and_says_why_not() {
    let server = TestServer::start(&["--key", KEY, "--key", OLD_KEY, "--protect", "/media/"]);
    let client = client();
    let t = now();
    let media = acl("/media/*");
    let valid = token(KEY, media.clone(), None, t + 3600, None);
    let exp = valid
        .split('~')
        .find(|field| field.starts_with("exp="))
        .expect("exp")
        .to_owned();
    let tampered = valid.replace(&exp, "exp=9999999999");
    let expired = token(KEY, media.clone(), Some(t - 7200), t - 3600, None);
    let early = token(KEY, media.clone(), Some(t + 3600), t + 7200, None);
    let big_only = token(
        KEY,
        Scope::Url("/media/big.mp4".into()),
        None,
        t + 3600,
        None,
    );
    let small_only = token(
        KEY,
        Scope::Url("/media/small.mp4".into()),
        None,
        t + 3600,
        None,
    );
    let sub_only = token(KEY, acl("/media/sub/*"), None, t + 3600, None);
    let old = token(OLD_KEY, media.clone(), None, t + 3600, None);
    let gone = token(GONE_KEY, media.clone(), None, t + 3600, None);
    let here = token(KEY, media.clone(), None, t + 3600, Some("127.0.0.1"));
    let elsewhere = token(KEY, media, None, t + 3600, Some("10.1.2.3"));
    let encoded: String =
        percent_encoding::utf8_percent_encode(&valid, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let forbidden = "forbidden\n";

    // (case, path, token, carried by, status, body (None: the file))
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("no token", "/media/small.mp4", "", Carry::None, 403, Some(forbidden)),
        ("valid, query", "/media/small.mp4", &valid, Carry::Query, 200, None),
        ("valid, cookie", "/media/small.mp4", &valid, Carry::Cookie, 200, None),
        ("valid, header", "/media/small.mp4", &valid, Carry::Header, 200, None),
        ("valid, url-encoded whole", "/media/small.mp4", &encoded, Carry::Query, 200, None),
        ("url token, its path", "/media/small.mp4", &small_only, Carry::Query, 200, None),
        ("expired", "/media/small.mp4", &expired, Carry::Query, 403, Some("forbidden: token expired\n")),
        ("not yet valid", "/media/small.mp4", &early, Carry::Cookie, 403, Some("forbidden: token not yet valid\n")),
        ("url token for another path", "/media/small.mp4", &big_only, Carry::Query, 403, Some(forbidden)),
        ("outside its acl", "/media/small.mp4", &sub_only, Carry::Query, 403, Some(forbidden)),
        ("inside its acl", "/media/sub/inner.webm", &sub_only, Carry::Query, 200, None),
        ("tampered exp", "/media/small.mp4", &tampered, Carry::Query, 403, Some(forbidden)),
        ("old key still configured", "/media/small.mp4", &old, Carry::Header, 200, None),
        ("key no longer configured", "/media/small.mp4", &gone, Carry::Query, 403, Some(forbidden)),
        ("bound to this client", "/media/small.mp4", &here, Carry::Query, 200, None),
        ("bound to another ip", "/media/small.mp4", &elsewhere, Carry::Query, 403, Some(forbidden)),
        ("malformed", "/media/small.mp4", "exp=1~hmac=zz", Carry::Query, 403, Some(forbidden)),
        ("unprotected path", "/index.html", "", Carry::None, 200, Some(common::INDEX_HTML)),
    ];
    for (case, path, token, carry, status, body) in cases {
        let mut url = server.url(path);
        let cookie = format!("theme=dark; __token__={token}");
        let mut headers: Vec<(&str, &str)> = Vec::new();
        match carry {
            Carry::None => {}
            Carry::Query => url.push_str(&format!("?__token__={token}")),
            Carry::Cookie => headers.push(("cookie", &cookie)),
            Carry::Header => headers.push(("__token__", token)),
        }
        let reply = request(&client, Method::GET, &url, &headers).await;
        assert_eq!(
            reply.status,
            status,
            "{case}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        match body {
            Some(text) => {
                assert_eq!(String::from_utf8_lossy(&reply.body), text, "{case}");
                if status == 403 {
                    assert_eq!(
                        reply.header("content-type"),
                        Some("text/plain; charset=utf-8"),
                        "{case}"
                    );
                    assert_eq!(reply.header("cache-control"), Some("no-store"), "{case}");
                }
            }
            None if path == "/media/small.mp4" => assert_eq!(reply.body, small_content(), "{case}"),
            None => assert!(!reply.body.is_empty(), "{case}"),
        }
    }

    // Extra query parameters are ignored, ranges still work, HEAD is refused bodiless.
    let extra = server.url(&format!("/media/small.mp4?a=1&__token__={valid}&b=2"));
    let reply = request(&client, Method::GET, &extra, &[("range", "bytes=0-9")]).await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body, small_content()[..10]);
    let reply = request(&client, Method::HEAD, &server.url("/media/small.mp4"), &[]).await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.is_empty());

    // A cross-origin player may send the token as a header: the preflight allows it.
    let preflight = request(
        &client,
        Method::OPTIONS,
        &server.url("/media/small.mp4"),
        &[
            ("origin", "https://player.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "__token__"),
        ],
    )
    .await;
    assert_eq!(preflight.status, 200, "preflight needs no token");
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or("");
    assert!(allowed.contains("__token__"), "{allowed}");

    let log = server.log();
    for code in [
        "missing",
        "expired",
        "not-yet-valid",
        "bad-signature",
        "wrong-path",
        "wrong-ip",
        "malformed",
    ] {
        assert!(
            log.contains(&format!("refused: {code}")),
            "no `refused: {code}` in log:\n{log}"
        );
    }
    assert!(
        !log.contains(KEY) && !log.contains(OLD_KEY),
        "a key in the log:\n{log}"
    );
    assert!(!log.contains("hmac="), "a token in the log:\n{log}");
}

#[tokio::test]
async fn the_token_name_is_configurable_and_only_protected_prefixes_need_one() {
    let server = TestServer::start(&["--key", KEY, "--protect", "/media/sub", "--token-name", "t"]);
    let client = client();
    let sub = token(KEY, acl("/media/sub/*"), None, now() + 60, None);
    let open = request(&client, Method::GET, &server.url("/media/small.mp4"), &[]).await;
    assert_eq!(open.status, 200, "outside --protect: open");
    let url = server.url("/media/sub/inner.webm");
    let named = request(&client, Method::GET, &format!("{url}?t={sub}"), &[]).await;
    assert_eq!(named.status, 200);
    let default_name = request(&client, Method::GET, &format!("{url}?__token__={sub}"), &[]).await;
    assert_eq!(default_name.status, 403, "only the configured name is read");
    let encoded = request(
        &client,
        Method::GET,
        &server.url("/media/%73ub/inner.webm"),
        &[],
    )
    .await;
    assert_eq!(
        encoded.status, 403,
        "a percent-encoded prefix is still protected"
    );
}

#[test]
fn protect_without_a_key_is_refused_at_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(["serve", "--listen", "127.0.0.1:0", "--protect", "/media/"])
        .output()
        .expect("run caudal");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--protect needs"), "{stderr}");
}
