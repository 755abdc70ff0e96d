//! Preload hints: a site page that loads `player.js` is answered with a
//! `Link` header naming the player's modules (from the build's
//! `pkg/manifest.json`) and the readers its media URLs need; other pages,
//! a site without a build, and `--preload-hints off` get none.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::path::Path;

use common::{TestServer, client, request};
use reqwest::Method;

const MAIN_JS: &str = "caudal_player-0123456789abcdef.js";
const MAIN_WASM: &str = "caudal_player-fedcba9876543210.wasm";

fn write_manifest(www: &Path, main_js: &str) {
    std::fs::create_dir_all(www.join("pkg")).expect("mkdir pkg");
    let manifest = format!(
        r#"{{"player": {{"js": "{main_js}", "wasm": "{MAIN_WASM}"}},
            "remux": {{"js": "caudal_remux-1111111111111111.js", "wasm": "caudal_remux-2222222222222222.wasm"}},
            "webm": {{"js": "caudal_webm-3333333333333333.js", "wasm": "caudal_webm-4444444444444444.wasm"}}}}"#
    );
    std::fs::write(www.join("pkg/manifest.json"), manifest).expect("write manifest");
}

fn write_page(www: &Path, relative: &str, html: &str) {
    let path = www.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, html).expect("write page");
}

const PLAYER_PAGE: &str = r#"<!doctype html><video id="v"></video>
<script src="../player.js"></script>
<script>Caudal.attach(document.getElementById('v'), '/media/talk.mp4');</script>"#;

fn wasm_hint(path: &str) -> String {
    format!("<{path}>; rel=preload; as=fetch; type=\"application/wasm\"; crossorigin=anonymous")
}

#[tokio::test]
async fn a_page_that_loads_player_js_names_the_main_module_and_its_files_reader() {
    let server = TestServer::start(&[]);
    let www = server.fixture.www();
    write_manifest(&www, MAIN_JS);
    write_page(&www, "demo/page.html", PLAYER_PAGE);
    let client = client();
    let url = server.url("/demo/page.html");
    let reply = request(&client, Method::GET, &url, &[]).await;
    assert_eq!(reply.status, 200);
    let expected = [
        "</player.js>; rel=preload; as=script".to_owned(),
        wasm_hint(&format!("/pkg/{MAIN_WASM}")),
        format!("</pkg/{MAIN_JS}>; rel=modulepreload"),
        wasm_hint("/pkg/caudal_remux-2222222222222222.wasm"),
        "</pkg/caudal_remux-1111111111111111.js>; rel=modulepreload".to_owned(),
    ]
    .join(", ");
    assert_eq!(reply.header("link"), Some(expected.as_str()));
    // A revalidation carries it too: the browser merges the 304's fields.
    let etag = reply.header("etag").expect("an etag").to_owned();
    let again = request(&client, Method::GET, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("link"), Some(expected.as_str()));
}

#[tokio::test]
async fn a_rebuilt_player_or_an_edited_page_is_hinted_at_once() {
    let server = TestServer::start(&[]);
    let www = server.fixture.www();
    write_manifest(&www, MAIN_JS);
    write_page(&www, "p.html", "<script src=/player.js></script>");
    let client = client();
    let url = server.url("/p.html");
    let link = |client: reqwest::Client, url: String| async move {
        request(&client, Method::GET, &url, &[])
            .await
            .header("link")
            .map(str::to_owned)
    };
    let first = link(client.clone(), url.clone()).await.expect("hinted");
    assert!(first.contains(MAIN_JS), "{first}");
    assert!(!first.contains("remux"), "no media named: {first}");
    write_manifest(&www, "caudal_player-aaaaaaaaaaaaaaaa.js");
    let rebuilt = link(client.clone(), url.clone()).await.expect("hinted");
    assert!(
        rebuilt.contains("caudal_player-aaaaaaaaaaaaaaaa.js"),
        "{rebuilt}"
    );
    write_page(
        &www,
        "p.html",
        "<script src=/player.js></script> '/media/x.webm'",
    );
    let edited = link(client.clone(), url.clone()).await.expect("hinted");
    assert!(
        edited.contains("caudal_webm-4444444444444444.wasm"),
        "{edited}"
    );
    // A manifest that does not parse: no hints, the page itself as ever.
    std::fs::write(www.join("pkg/manifest.json"), b"{ not json").expect("write");
    let reply = request(&client, Method::GET, &url, &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("link"), None);
}

#[tokio::test]
async fn pages_without_the_player_a_site_without_a_build_and_other_files_get_no_hints() {
    let server = TestServer::start(&[]);
    let www = server.fixture.www();
    write_page(&www, "demo/page.html", PLAYER_PAGE);
    write_page(&www, "plain.html", "<p>no player here: player.js</p>");
    write_page(
        &www,
        "other.html",
        "<script src=\"https://cdn.example/player.js\"></script>",
    );
    let client = client();
    let link = |path: &'static str| {
        let client = client.clone();
        let url = server.url(path);
        async move {
            let reply = request(&client, Method::GET, &url, &[]).await;
            assert_eq!(reply.status, 200, "{path}");
            reply.header("link").map(str::to_owned)
        }
    };
    assert_eq!(link("/demo/page.html").await, None, "no build: no manifest");
    write_manifest(&www, MAIN_JS);
    assert!(link("/demo/page.html").await.is_some());
    assert_eq!(link("/plain.html").await, None);
    assert_eq!(link("/other.html").await, None);
    assert_eq!(link("/pkg/manifest.json").await, None);
}

#[tokio::test]
async fn preload_hints_off_sends_none() {
    let server = TestServer::start(&["--preload-hints", "off"]);
    let www = server.fixture.www();
    write_manifest(&www, MAIN_JS);
    write_page(&www, "demo/page.html", PLAYER_PAGE);
    let reply = request(&client(), Method::GET, &server.url("/demo/page.html"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("link"), None);
}
