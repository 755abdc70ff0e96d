//! Site assets as a site serves them: precompressed variants chosen by
//! `Accept-Encoding`, one ETag per variant, and the cache life by name —
//! while media is always sent as stored.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::{TestServer, client, pseudo_random, request};
use reqwest::Method;

const HASHED: &str = "pkg/caudal_player-0123456789abcdef.wasm";

/// Text-like bytes that compress (so the variants differ from the plain).
fn asset_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..2000_u32 {
        bytes.extend_from_slice(format!("export function f{i}() {{ return {i}; }}\n").as_bytes());
    }
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip finish")
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(bytes).expect("brotli");
    }
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("unbrotli");
    out
}

/// Writes `relative` under `dir` with its `.br` and `.gz` sidecars.
fn write_with_variants(dir: &Path, relative: &str, bytes: &[u8]) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write plain");
    std::fs::write(dir.join(format!("{relative}.br")), brotli(bytes)).expect("write br");
    std::fs::write(dir.join(format!("{relative}.gz")), gzip(bytes)).expect("write gz");
}

#[tokio::test]
async fn the_coding_follows_accept_encoding_and_decodes_to_the_asset() {
    let server = TestServer::start(&[]);
    let original = asset_bytes();
    write_with_variants(&server.fixture.www(), HASHED, &original);
    let client = client();
    let url = server.url(&format!("/{HASHED}"));
    // (case, Accept-Encoding, expected Content-Encoding)
    let cases: [(&str, Option<&str>, Option<&str>); 8] = [
        ("browser", Some("gzip, deflate, br, zstd"), Some("br")),
        ("gzip only", Some("gzip"), Some("gzip")),
        ("br refused", Some("br;q=0, gzip"), Some("gzip")),
        (
            "gzip preferred by q",
            Some("br;q=0.1, gzip;q=0.9"),
            Some("gzip"),
        ),
        ("star", Some("*"), Some("br")),
        ("identity", Some("identity"), None),
        ("all refused", Some("br;q=0, gzip;q=0"), None),
        ("no header", None, None),
    ];
    let mut etags = std::collections::HashMap::new();
    for (case, accept, expected) in cases {
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("accept-encoding", *a)).collect();
        let reply = request(&client, Method::GET, &url, &headers).await;
        assert_eq!(reply.status, 200, "{case}");
        assert_eq!(reply.header("content-encoding"), expected, "{case}");
        assert_eq!(reply.header("vary"), Some("accept-encoding"), "{case}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/wasm"),
            "{case}"
        );
        let decoded = match expected {
            Some("br") => unbrotli(&reply.body),
            Some("gzip") => gunzip(&reply.body),
            _ => reply.body.clone(),
        };
        assert!(decoded == original, "{case}: decoded bytes differ");
        if expected.is_some() {
            assert!(reply.body.len() < original.len(), "{case}: not compressed");
        }
        let etag = reply.header("etag").expect("etag").to_owned();
        let mark = match expected {
            Some("br") => "-br\"",
            Some("gzip") => "-gz\"",
            _ => "",
        };
        assert!(
            etag.starts_with('"') && etag.ends_with(mark),
            "{case}: {etag} marks its coding"
        );
        let previous = etags.insert(expected, etag.clone());
        assert!(
            previous.is_none_or(|p| p == etag),
            "{case}: one ETag per coding"
        );
    }
    assert_eq!(etags.len(), 3, "br, gzip and identity: {etags:?}");
    let distinct: std::collections::HashSet<_> = etags.values().collect();
    assert_eq!(distinct.len(), 3, "ETags differ per coding: {etags:?}");
}

#[tokio::test]
async fn a_variant_revalidates_with_its_own_etag_and_ignores_range() {
    let server = TestServer::start(&[]);
    let original = asset_bytes();
    write_with_variants(&server.fixture.www(), HASHED, &original);
    let client = client();
    let url = server.url(&format!("/{HASHED}"));
    let br = [("accept-encoding", "br")];
    let first = request(&client, Method::GET, &url, &br).await;
    let etag = first.header("etag").expect("etag").to_owned();
    let same = [("accept-encoding", "br"), ("if-none-match", etag.as_str())];
    let revalidated = request(&client, Method::GET, &url, &same).await;
    assert_eq!(revalidated.status, 304);
    assert_eq!(revalidated.header("vary"), Some("accept-encoding"));
    // The brotli tag does not validate the gzip variant.
    let other = [
        ("accept-encoding", "gzip"),
        ("if-none-match", etag.as_str()),
    ];
    let gz = request(&client, Method::GET, &url, &other).await;
    assert_eq!(gz.status, 200);
    assert!(gunzip(&gz.body) == original);
    // A Range on an encoded variant gets the whole encoded body.
    let ranged = [("accept-encoding", "br"), ("range", "bytes=0-9")];
    let whole = request(&client, Method::GET, &url, &ranged).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-range"), None);
    assert!(unbrotli(&whole.body) == original);
    // Identity still honours ranges.
    let plain_range = [("range", "bytes=0-9")];
    let part = request(&client, Method::GET, &url, &plain_range).await;
    assert_eq!(part.status, 206);
    assert!(part.body == original[..10]);
}

#[tokio::test]
async fn media_is_never_encoded_even_beside_sidecars() {
    let server = TestServer::start(&[]);
    let media = pseudo_random(5000, 9);
    write_with_variants(&server.media(), "clip.mp4", &media);
    let client = client();
    let headers = [("accept-encoding", "gzip, br")];
    let reply = request(
        &client,
        Method::GET,
        &server.url("/media/clip.mp4"),
        &headers,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-encoding"), None);
    assert_eq!(reply.header("vary"), None);
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    assert!(reply.body == media);
}

#[tokio::test]
async fn hashed_pkg_names_are_immutable_and_the_rest_keeps_its_life() {
    let server = TestServer::start(&[]);
    let www = server.fixture.www();
    write_with_variants(&www, HASHED, &asset_bytes());
    std::fs::write(www.join("pkg/caudal_player_bg.wasm"), b"plain").expect("write");
    std::fs::write(www.join("caudal-0123456789abcdef.js"), b"top").expect("write");
    let client = client();
    let life = |path: &'static str| {
        let client = client.clone();
        let url = server.url(path);
        async move {
            let reply = request(&client, Method::GET, &url, &[("accept-encoding", "br")]).await;
            assert_eq!(reply.status, 200, "{path}");
            reply.header("cache-control").map(str::to_owned)
        }
    };
    let immutable = Some("public, max-age=31536000, immutable".to_owned());
    assert_eq!(
        life("/pkg/caudal_player-0123456789abcdef.wasm").await,
        immutable
    );
    let no_cache = Some("no-cache".to_owned());
    assert_eq!(life("/pkg/caudal_player_bg.wasm").await, no_cache);
    assert_eq!(life("/caudal-0123456789abcdef.js").await, no_cache);
    assert_eq!(life("/").await, no_cache);
}

#[tokio::test]
async fn player_js_has_a_short_life_and_prefers_the_built_loader() {
    let server = TestServer::start(&[]);
    let www = server.fixture.www();
    std::fs::write(www.join("player.js"), b"// template\n").expect("write");
    let client = client();
    let url = server.url("/player.js");
    let template = request(&client, Method::GET, &url, &[]).await;
    assert_eq!(template.status, 200);
    assert!(template.body == b"// template\n");
    assert_eq!(
        template.header("cache-control"),
        Some("public, max-age=300")
    );
    assert_eq!(
        template.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    // Once built, `/player.js` is the stamped loader, with its variants.
    let stamped = asset_bytes();
    write_with_variants(&www, "pkg/player.js", &stamped);
    let built = request(&client, Method::GET, &url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(built.status, 200);
    assert_eq!(built.header("content-encoding"), Some("gzip"));
    assert_eq!(built.header("cache-control"), Some("public, max-age=300"));
    assert!(gunzip(&built.body) == stamped);
    let plain = request(&client, Method::GET, &url, &[]).await;
    assert!(plain.body == stamped);
}
