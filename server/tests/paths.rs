//! What a URL may name, end to end: traversal and malformed paths, symlinks,
//! dotfiles, missing files and directories, methods, the listing and the site.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::time::UNIX_EPOCH;

use common::{
    BIG_LEN, DOTFILE, INDEX_HTML, SECRET, SMALL_LEN, TestServer, client, raw_get, request,
    small_content,
};
use reqwest::Method;

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
