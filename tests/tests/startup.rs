//! Startup as a first-time (and a returning) viewer meets it (issue 11):
//! the player's assets are negotiated and cached like a site's, and the
//! file's first request leaves while the wasm is still downloading (the
//! seek of a plain MP4 is in `tests/plain_mp4_seek.rs`).
//!
//! The browser tests put a [`ShapedLink`] (with its request log) between
//! the browser and the player's server, so that what crossed the link, when,
//! is what is checked; the page itself comes from a second origin, as in
//! `tests/browser.rs`.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use caudal_tests::media::{self, MP4};
use caudal_tests::shaped_link::{LinkConfig, Request};
use caudal_tests::{Stage, browser_test, require_player_build, secs, server};
use reqwest::header::{self, HeaderMap};
use serde_json::json;

// --- assets -------------------------------------------------------------

/// The `pkg/` names the served loader refers to (content-hashed by the
/// build: `caudal_player-<16 hex>.wasm` and the like).
fn named_assets(loader: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in loader.match_indices("pkg/") {
        let name: String = loader[at + 4..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Whether `name` is content-hashed as the build names assets: a `-`, 16
/// lowercase hex digits, then the extension.
fn is_hashed(name: &str) -> bool {
    let Some((stem, _ext)) = name.split_once('.') else {
        return false;
    };
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        hash.len() == 16 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// One GET with exactly this `Accept-Encoding` (reqwest without its
/// decoding features sends the header as given and decodes nothing).
async fn get(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
    range: Option<&str>,
) -> Result<(u16, HeaderMap, Vec<u8>)> {
    let mut request = client.get(url).header(header::ACCEPT_ENCODING, accept);
    if let Some(range) = range {
        request = request.header(header::RANGE, range);
    }
    let response = request.send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    Ok((status, headers, body))
}

fn header_of<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `max-age` of a `Cache-Control` value, in seconds.
fn max_age(cache_control: &str) -> Option<u64> {
    cache_control
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.trim().parse().ok())
}

/// `bytes` compressed (fast settings: these are test sidecars).
fn encode(coding: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match coding {
        "br" => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: 1,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
        }
        "gzip" => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut encoder, bytes)?;
            out = encoder.finish()?;
        }
        other => bail!("no encoder for {other}"),
    }
    Ok(out)
}

fn decode(coding: &str, body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match coding {
        "br" => {
            brotli::BrotliDecompress(&mut &body[..], &mut out).context("not valid brotli")?;
        }
        "gzip" => {
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out)
                .context("not valid gzip")?;
        }
        other => bail!("no decoder for {other}"),
    }
    Ok(out)
}

/// Checks one site path in the three codings: br when br is accepted, gzip
/// when only gzip is, none for identity, always `Vary: Accept-Encoding`,
/// each decoding to the identity bytes. Returns the identity response's
/// `Cache-Control`.
async fn check_negotiated(client: &reqwest::Client, url: &str) -> Result<String> {
    let (status, plain_headers, plain) = get(client, url, "identity", None).await?;
    ensure!(status == 200, "GET {url} (identity): {status}");
    ensure!(!plain.is_empty(), "GET {url}: an empty body");
    let mut cache_controls = Vec::new();
    for (accept, want) in [
        ("br", Some("br")),
        ("gzip, deflate, br", Some("br")),
        ("gzip", Some("gzip")),
        ("identity", None),
    ] {
        let (status, headers, body) = get(client, url, accept, None).await?;
        ensure!(
            status == 200,
            "GET {url} (Accept-Encoding: {accept}): {status}"
        );
        let coding = header_of(&headers, &header::CONTENT_ENCODING);
        ensure!(
            coding == want,
            "GET {url} with Accept-Encoding: {accept}: Content-Encoding {coding:?}, want {want:?}"
        );
        let vary = header_of(&headers, &header::VARY).unwrap_or("");
        ensure!(
            vary.split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding")),
            "GET {url} with Accept-Encoding: {accept}: Vary is {vary:?}, want Accept-Encoding"
        );
        let decoded = match coding {
            Some(coding) => decode(coding, &body).with_context(|| format!("{url} as {coding}"))?,
            None => body,
        };
        ensure!(
            decoded == plain,
            "{url} with Accept-Encoding: {accept} decodes to {} bytes that differ from the \
             {} identity bytes",
            decoded.len(),
            plain.len()
        );
        cache_controls.push(
            header_of(&headers, &header::CACHE_CONTROL)
                .unwrap_or("")
                .to_owned(),
        );
    }
    let identity = header_of(&plain_headers, &header::CACHE_CONTROL)
        .unwrap_or("")
        .to_owned();
    ensure!(
        cache_controls.iter().all(|c| *c == identity),
        "{url}: Cache-Control differs between codings: {cache_controls:?}"
    );
    Ok(identity)
}

/// No browser: each asset `/player.js` names under `pkg/` is served
/// compressed as the client accepts (br over gzip), plain to identity,
/// with `Vary`, each coding the same bytes; hashed names are cached for a
/// year and immutable, `/player.js` itself briefly; media is never
/// compressed, whatever the client accepts.
#[tokio::test]
async fn player_assets_are_negotiated_and_cached_immutably() -> Result<()> {
    require_player_build();
    // The media folder holds compressed sidecars beside the file, as the
    // site's assets do: they must still not be chosen for media.
    let file = MP4.bytes()?;
    let media = media::temp_media(&[
        (MP4.name, file.clone()),
        (&format!("{}.br", MP4.name), encode("br", &file)?),
        (&format!("{}.gz", MP4.name), encode("gzip", &file)?),
    ])?;
    let server = caudal_tests::TestServer::start(media.path(), Some(&server::www_dir())).await?;
    let client = reqwest::Client::builder().build()?;

    let loader_url = server.url("/player.js");
    let loader_life = check_negotiated(&client, &loader_url).await?;
    ensure!(
        !loader_life.contains("immutable") && max_age(&loader_life).is_some_and(|s| s <= 3600),
        "/player.js names the current build: Cache-Control {loader_life:?}, want a short \
         max-age (at most an hour) and not immutable"
    );
    let (_, _, loader) = get(&client, &loader_url, "identity", None).await?;
    let loader = String::from_utf8(loader).context("/player.js is not UTF-8")?;
    let names = named_assets(&loader);
    for want in [
        ("caudal_player-", ".wasm"),
        ("caudal_player-", ".js"),
        ("caudal_remux-", ".wasm"),
        ("caudal_remux-", ".js"),
        ("caudal_fmp4-", ".wasm"),
        ("caudal_fmp4-", ".js"),
        ("caudal_webm-", ".wasm"),
        ("caudal_webm-", ".js"),
        ("caudal_mp3-", ".wasm"),
        ("caudal_mp3-", ".js"),
        ("caudal_rewrite-", ".wasm"),
        ("caudal_rewrite-", ".js"),
    ] {
        ensure!(
            names
                .iter()
                .any(|n| n.starts_with(want.0) && n.ends_with(want.1) && is_hashed(n)),
            "/player.js names no content-hashed {}<hash>{} under pkg/ (names: {names:?})",
            want.0,
            want.1
        );
    }
    for name in &names {
        let url = server.url(&format!("/pkg/{name}"));
        let life = check_negotiated(&client, &url).await?;
        if is_hashed(name) {
            ensure!(
                life.contains("immutable") && max_age(&life).is_some_and(|s| s >= 31_536_000),
                "{url}: Cache-Control {life:?}, want a year's max-age and immutable"
            );
        }
    }

    // Media: the bytes as stored, ranges intact, never a Content-Encoding.
    let media_url = server.url(&format!("/media/{}", MP4.name));
    for range in [None, Some("bytes=0-65535")] {
        let (status, headers, body) = get(&client, &media_url, "br, gzip", range).await?;
        let coding = header_of(&headers, &header::CONTENT_ENCODING);
        ensure!(
            coding.is_none(),
            "{media_url} (Range {range:?}) came with Content-Encoding {coding:?}: media is never \
             compressed"
        );
        let want: &[u8] = match range {
            None => &file,
            Some(_) => &file[..65_536],
        };
        ensure!(
            status == if range.is_some() { 206 } else { 200 } && body == want,
            "{media_url} (Range {range:?}): status {status}, {} bytes that are not the file's",
            body.len()
        );
    }
    server.stop().await;
    Ok(())
}

// --- a second visit -------------------------------------------------------

fn hashed_asset_requests(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.path.strip_prefix("/pkg/").is_some_and(is_hashed))
        .map(|r| r.path.clone())
        .collect()
}

/// In the browser: a second page load in the same browser takes every
/// hashed asset from its cache, without asking the server (no request for
/// them crosses the link, not even a revalidation).
#[test]
fn a_second_visit_requests_no_hashed_player_asset() {
    browser_test(
        "a_second_visit_requests_no_hashed_player_asset",
        secs(90.0),
        |browser| async move {
            let media = media::temp_media(&[(MP4.name, MP4.bytes()?)])?;
            let mut stage = Stage::with_media(media).await?;
            stage
                .add_link(LinkConfig {
                    trace: Vec::new(),
                    rtt: Duration::from_millis(20),
                })
                .await?;
            let link = stage.link()?;
            let url = stage.linked_media_url(MP4.name)?;
            // An `.mp4` URL: the loader fetches the remuxer too, so every
            // asset player.js names is loaded on each visit.
            let first = stage.open_through_link(&browser, &[]).await?;
            first.attach(&url, json!({})).await?;
            first
                .wait_until(
                    "the remuxer module to be ready",
                    secs(20.0),
                    "performance.getEntriesByName('caudal:remux-ready').length > 0",
                )
                .await?;
            let on_first = hashed_asset_requests(&link.requests());
            ensure!(
                on_first.len() >= 4,
                "the first visit requested only {on_first:?} of the hashed assets"
            );
            let seen = link.requests().len();

            let second = stage.open_through_link(&browser, &[]).await?;
            second.attach(&url, json!({})).await?;
            second
                .wait_until(
                    "the remuxer module to be ready on the second visit",
                    secs(20.0),
                    "performance.getEntriesByName('caudal:remux-ready').length > 0",
                )
                .await?;
            second
                .wait_until(
                    "bytes of the file",
                    secs(20.0),
                    "P.stats().bytesFetched > 0",
                )
                .await?;
            let after = link.requests();
            let again = hashed_asset_requests(&after[seen.min(after.len())..]);
            ensure!(
                again.is_empty(),
                "the second visit asked the server for {again:?} (first visit: {on_first:?}): \
                 hashed assets are immutable and must come from the cache"
            );
            Ok(())
        },
    );
}

// --- startup ----------------------------------------------------------------

/// On a 2 Mbit/s, 100 ms link the player's main wasm (about 75 KB brotli)
/// takes a few hundred milliseconds: the page auto-attaches the file from
/// its markup, and the loader's request for the file's first bytes must
/// cross the link before the wasm's response has ended. The player then
/// takes that response as its own first request: the file is asked for
/// from byte 0 exactly once, and no two requests for the file start at the
/// same byte.
#[test]
fn the_first_media_request_leaves_before_the_wasm_has_loaded() {
    browser_test(
        "the_first_media_request_leaves_before_the_wasm_has_loaded",
        secs(90.0),
        |browser| async move {
            let media = media::temp_media(&[(MP4.name, MP4.bytes()?)])?;
            let mut stage = Stage::with_media(media).await?;
            stage
                .add_link(LinkConfig {
                    trace: vec![(0.0, 2_000_000)],
                    rtt: Duration::from_millis(100),
                })
                .await?;
            let link = stage.link()?;
            let url = stage.linked_media_url(MP4.name)?;
            let path = format!("/media/{}", MP4.name);
            let page = stage
                .open_through_link(&browser, &[("data-src", &url)])
                .await?;
            page.wait_until(
                "the auto-attached player to fetch the file",
                secs(30.0),
                "window.Caudal && Caudal.get(v) && Caudal.get(v).stats().bytesFetched > 100000",
            )
            .await?;
            let log = link.requests();
            let wasm = log
                .iter()
                .find(|r| r.path.starts_with("/pkg/caudal_player-") && r.path.ends_with(".wasm"))
                .ok_or_else(|| anyhow!("no request for the player's wasm in {log:#?}"))?;
            let wasm_end = wasm
                .end_ms
                .ok_or_else(|| anyhow!("the wasm's response has no end: {wasm:?}"))?;
            let media: Vec<&Request> = log.iter().filter(|r| r.path == path).collect();
            let first = media
                .first()
                .ok_or_else(|| anyhow!("no request for {path} in {log:#?}"))?;
            ensure!(
                first.t_ms < wasm_end,
                "the first request for the file left at {:.0} ms, after the wasm's response \
                 ended at {wasm_end:.0} ms (wasm requested at {:.0} ms, {} bytes): it must \
                 leave while the wasm downloads\n  log: {log:#?}",
                first.t_ms,
                wasm.t_ms,
                wasm.bytes_down
            );
            let from_zero = media.iter().filter(|r| r.range_start() == Some(0)).count();
            ensure!(
                from_zero == 1 && first.range_start() == Some(0),
                "the file was asked for from byte 0 {from_zero} time(s) (want once, first): \
                 {media:#?}"
            );
            // Each range the player asked for starts at its own byte. An
            // exact repeat of one range is not the player's: Chromium's HTTP
            // cache sends a ranged request again when it meets the entry
            // that the open-ended first response (`no-cache`) is still
            // being written into (none with `no-store`); the policy counts
            // one request (stats().requests). It is reported, not failed.
            let mut ranges: Vec<(Option<u64>, Option<&str>)> = media
                .iter()
                .map(|r| (r.range_start(), r.range.as_deref()))
                .collect();
            ranges.sort_unstable();
            let sent = ranges.len();
            ranges.dedup();
            let repeats = sent - ranges.len();
            let mut starts: Vec<Option<u64>> = ranges.iter().map(|r| r.0).collect();
            starts.dedup();
            if starts.len() != ranges.len() || starts.contains(&None) {
                bail!(
                    "two different requests for the file start at the same byte (or one has \
                     no Range): {media:#?}\n  stats: {}\n  link: {}{}",
                    page.stats().await.map(|s| s.0).unwrap_or_default(),
                    link.log_jsonl(),
                    page.diagnostics().await
                );
            }
            if repeats > 0 {
                caudal_tests::say(&format!(
                    "  note: the browser sent {repeats} request(s) for the file again with the \
                     same range (its HTTP cache; stats().requests: {:?})",
                    page.stats()
                        .await
                        .ok()
                        .and_then(|s| s.get("requests").cloned())
                ));
            }
            Ok(())
        },
    );
}

// --- preload hints ------------------------------------------------------------

/// A page served by `caudal serve` that loads `player.js` comes with a
/// `Link` header naming the player's modules (and the remuxer, for the
/// `.mp4` it names): on a 2 Mbit/s, 100 ms link the browser asks for the
/// main wasm before `player.js` has even arrived (without the hint it could
/// only once `player.js` ran), and the hint matches what the loader then
/// fetches — every hashed asset crosses the link exactly once.
#[test]
fn a_page_on_the_players_origin_fetches_the_hinted_modules_beside_player_js() {
    browser_test(
        "a_page_on_the_players_origin_fetches_the_hinted_modules_beside_player_js",
        secs(90.0),
        |browser| async move {
            let media = media::temp_media(&[(MP4.name, MP4.bytes()?)])?;
            let path = format!("/media/{}", MP4.name);
            let mut stage = {
                let site = caudal_tests::page::same_origin_site(&[("data-src", &path)])?;
                ensure!(
                    site.path().join("pkg/manifest.json").is_file(),
                    "the build wrote no pkg/manifest.json: run `cargo xtask build-player`"
                );
                Stage::with_media_and_www(media, site).await?
            };
            stage
                .add_link(LinkConfig {
                    trace: vec![(0.0, 2_000_000)],
                    rtt: Duration::from_millis(100),
                })
                .await?;
            let link = stage.link()?;
            let page_url = link.url("/page.html");
            let (status, headers, _) = get(
                &reqwest::Client::new(),
                &stage.server.url("/page.html"),
                "br",
                None,
            )
            .await?;
            ensure!(status == 200, "page.html: {status}");
            let hint = header_of(&headers, &header::LINK)
                .ok_or_else(|| anyhow!("page.html came without a Link header: {headers:?}"))?
                .to_owned();
            ensure!(
                hint.contains("/pkg/caudal_player-") && hint.contains("/pkg/caudal_remux-"),
                "the hint names {hint}"
            );
            let page = caudal_tests::Page::open(&browser, &page_url).await?;
            page.wait_until(
                "the auto-attached player to fetch the file",
                secs(30.0),
                "window.Caudal && Caudal.get(v) && Caudal.get(v).stats().bytesFetched > 100000 \
                 && performance.getEntriesByName('caudal:remux-ready').length > 0",
            )
            .await?;
            let log = link.requests();
            let find = |what: &str, test: &dyn Fn(&str) -> bool| {
                log.iter()
                    .find(|r| test(&r.path))
                    .ok_or_else(|| anyhow!("no request for {what} in {log:#?}"))
            };
            let loader = find("/player.js", &|p| p == "/player.js")?;
            let loader_end = loader
                .end_ms
                .ok_or_else(|| anyhow!("player.js has no end: {loader:?}"))?;
            let wasm = find("the main wasm", &|p| {
                p.starts_with("/pkg/caudal_player-") && p.ends_with(".wasm")
            })?;
            ensure!(
                wasm.t_ms < loader_end,
                "the main wasm was asked for at {:.0} ms, after player.js had arrived \
                 ({loader_end:.0} ms): the hint did not start it\n  log: {log:#?}",
                wasm.t_ms
            );
            let assets = hashed_asset_requests(&log);
            let mut once = assets.clone();
            once.sort();
            once.dedup();
            ensure!(
                once.len() == assets.len() && once.len() >= 4,
                "hashed assets requested {assets:?}: each exactly once (a hint that does not \
                 match the loader's request is fetched twice)"
            );
            page.expect_no_errors().await?;
            Ok(())
        },
    );
}
