//! Protected media (issue 13): `/media/` under signed tokens (Akamai Auth
//! Token 2.0, `caudal serve --protect /media/`), the page on another
//! origin. A signed URL plays, its token on every request; a token that
//! expires mid-playback is replaced through `authorize` with no stall; a
//! bad token ends in exactly one `caudal:error`, not in retries; a token
//! traded once for a cookie opens the folder to plain URLs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use caudal_server::access::{Fields, Key, KeySet, Options, Protection, Scope, Verifier, sign};
use caudal_tests::shaped_link::LinkConfig;
use caudal_tests::{Browser, Page, Stage, browser_test, media, secs};
use serde_json::{Value, json};

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The 20-second sample; a short buffer goal keeps requests coming all
/// through playback (on loopback the whole file would come at once).
const SAMPLE: media::Sample = media::MP4;

fn key() -> Result<Key> {
    Key::from_hex(KEY).context("the test key")
}

fn protection() -> Result<Protection> {
    Ok(Protection {
        verifier: Verifier::new(KeySet::new(vec![key()?])?),
        prefixes: vec!["/media/".into()],
        token_name: "__token__".into(),
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `url` signed for `/media/*`, valid for `ttl` seconds from now.
fn signed(url: &str, ttl: u64) -> Result<String> {
    let fields = Fields {
        scope: Scope::Acl(vec!["/media/*".into()]),
        start: None,
        expires: unix_now() + ttl,
        ip: None,
        id: None,
        data: None,
    };
    let token = sign::sign(&fields, &key()?, Options::default());
    Ok(format!("{url}?__token__={token}"))
}

/// The protected server behind a 2 Mbit/s link (about three times the
/// sample's rate): on bare loopback the first request would bring the
/// whole file before the player could end it, and no token would be
/// needed after it.
async fn protected_stage() -> Result<Stage> {
    let dir = media::temp_media(&[(SAMPLE.name, SAMPLE.bytes()?)])?;
    let mut stage = Stage::protected(dir, protection()?).await?;
    stage.add_link(slow_link()).await?;
    Ok(stage)
}

fn slow_link() -> LinkConfig {
    LinkConfig {
        trace: vec![(0.0, 2_000_000)],
        rtt: Duration::from_millis(20),
    }
}

/// The media requests the page made (Resource Timing: full URLs).
async fn media_requests(page: &Page) -> Result<Vec<String>> {
    page.js_as(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })\
             .filter(function (n) { return n.indexOf('/media/') >= 0; });",
        vec![],
    )
    .await
}

/// The `__token__` of `url`.
/// The `__token__` argument of `url` (up to the next argument: the player
/// adds its CMCD after it).
fn token_of(url: &str) -> Option<&str> {
    url.split_once("__token__=")
        .map(|(_, t)| t.split('&').next().unwrap_or(t))
}

/// Attaches `url` with `{goal, behind}` short and an `authorize` that
/// queues its asks in `window.__asks`, answered by [`answer_asks`].
async fn attach_with_authorize(page: &Page, url: &str) -> Result<()> {
    page.wait_for_caudal().await?;
    let ok = page
        .js(
            "window.__asks = []; window.__asked = 0;\
             var options = { goal: 4, behind: 4, authorize: function (old) {\
                 window.__asked += 1;\
                 return new Promise(function (resolve) { window.__asks.push(resolve); }); } };\
             return Caudal.attach(v, arguments[0], options).then(function (p) {\
                 window.__player = p; v.play().catch(function () {}); return true; },\
                 function (e) { return 'attach rejected: ' + e; });",
            vec![Value::from(url)],
        )
        .await?;
    ensure!(ok == Value::Bool(true), "attach failed: {ok}");
    Ok(())
}

/// Answers every pending `authorize` with a fresh URL for `base`, valid
/// `ttl` seconds; returns how many.
async fn answer_asks(page: &Page, base: &str, ttl: u64) -> Result<u64> {
    let pending = page
        .js("return window.__asks.length;", vec![])
        .await?
        .as_u64()
        .unwrap_or(0);
    for _ in 0..pending {
        let fresh = signed(base, ttl)?;
        page.js(
            "window.__asks.shift()(arguments[0]);",
            vec![Value::from(fresh)],
        )
        .await?;
    }
    Ok(pending)
}

/// Attaches `url` with a 3 s goal and plays it past 6 s through MSE with
/// no error and no refusal; returns the media requests (several, with that
/// goal).
async fn plays_past_six_seconds(page: &Page, url: &str) -> Result<Vec<String>> {
    page.attach(url, json!({ "goal": 3, "behind": 4 })).await?;
    page.play().await?;
    page.wait_until("playback past 6 s", secs(30.0), "v.currentTime > 6")
        .await?;
    page.expect_no_errors().await?;
    let stats = page.stats().await?;
    ensure!(stats.str("mode")? == "mse", "through MSE: {:?}", stats.0);
    ensure!(stats.num("refused")? == 0.0, "refusals: {:?}", stats.0);
    let requests = media_requests(page).await?;
    ensure!(
        requests.len() >= 3,
        "expected several range requests with a 3 s goal, saw {requests:?}"
    );
    Ok(requests)
}

/// Plays the signed URL on `page` and checks every media request carried
/// the URL's token, none was refused, and there was no error.
async fn plays_a_signed_url_on(page: &Page, base: &str) -> Result<()> {
    let url = signed(base, 3600)?;
    let requests = plays_past_six_seconds(page, &url).await?;
    let token = token_of(&url);
    for request in &requests {
        ensure!(
            token_of(request) == token,
            "a range request without the URL's token: {request}"
        );
    }
    Ok(())
}

#[test]
fn a_signed_url_plays_cross_origin_with_its_token_on_every_range_request() {
    browser_test(
        "a_signed_url_plays_cross_origin_with_its_token_on_every_range_request",
        secs(90.0),
        |browser| async move {
            let stage = protected_stage().await?;
            let page = stage.open(&browser, &[]).await?;
            plays_a_signed_url_on(&page, &stage.linked_media_url(SAMPLE.name)?).await
        },
    );
}

/// The cookie exchange: one request with an ACL token in the query comes
/// back with `Set-Cookie` (`HttpOnly`, the ACL's folder as its path); then
/// the player plays the file by its plain URL, the browser sending the
/// cookie on every range request, with no token in any URL.
async fn plays_by_cookie(browser: Browser) -> Result<()> {
    let dir = media::temp_media(&[(SAMPLE.name, SAMPLE.bytes()?)])?;
    let mut stage = Stage::protected_with_www(
        dir,
        caudal_tests::page::same_origin_site(&[])?,
        protection()?,
    )
    .await?;
    stage.add_link(slow_link()).await?;
    let page = Page::open(&browser, &stage.link()?.url("/page.html")).await?;
    let plain = stage.linked_media_url(SAMPLE.name)?;
    // Without the cookie, the plain URL is refused.
    let before = page
        .js(
            "return fetch(arguments[0], { headers: { Range: 'bytes=0-0' } })\
                 .then(function (r) { return r.status; }, function (e) { return '' + e; });",
            vec![Value::from(plain.clone())],
        )
        .await?;
    ensure!(
        before == json!(403),
        "the plain URL before the exchange: {before}"
    );
    let exchange = page
        .js(
            "return fetch(arguments[0], { headers: { Range: 'bytes=0-0' } })\
                 .then(function (r) { return [r.status, document.cookie]; },\
                       function (e) { return '' + e; });",
            vec![Value::from(signed(&plain, 3600)?)],
        )
        .await?;
    ensure!(
        exchange == json!([206, ""]),
        "the exchange: want 206 and a cookie the page cannot read (HttpOnly), got {exchange}"
    );
    page.js("performance.clearResourceTimings();", vec![])
        .await?;
    let requests = plays_past_six_seconds(&page, &plain).await?;
    for request in &requests {
        ensure!(
            token_of(request).is_none(),
            "a range request with a token in its URL: {request}"
        );
    }
    Ok(())
}

#[test]
fn a_token_traded_for_a_cookie_plays_the_plain_url() {
    browser_test(
        "a_token_traded_for_a_cookie_plays_the_plain_url",
        secs(90.0),
        plays_by_cookie,
    );
}

#[test]
fn a_signed_url_plays_on_the_media_own_origin_with_its_token_on_every_range_request() {
    browser_test(
        "a_signed_url_plays_on_the_media_own_origin_with_its_token_on_every_range_request",
        secs(90.0),
        |browser| async move {
            let dir = media::temp_media(&[(SAMPLE.name, SAMPLE.bytes()?)])?;
            let mut stage = Stage::protected_with_www(
                dir,
                caudal_tests::page::same_origin_site(&[])?,
                protection()?,
            )
            .await?;
            stage.add_link(slow_link()).await?;
            let page = Page::open(&browser, &stage.link()?.url("/page.html")).await?;
            plays_a_signed_url_on(&page, &stage.linked_media_url(SAMPLE.name)?).await
        },
    );
}

async fn refreshes_an_expiring_token(browser: Browser) -> Result<()> {
    const TTL: u64 = 8;
    let stage = protected_stage().await?;
    let page = stage.open(&browser, &[]).await?;
    let base = stage.linked_media_url(SAMPLE.name)?;
    let first = signed(&base, TTL)?;
    let expires = unix_now() + TTL;
    attach_with_authorize(&page, &first).await?;
    // Past the first token's expiry by some seconds of playback; the page
    // answers each `authorize` (a Promise) within about 100 ms.
    let deadline = std::time::Instant::now() + secs(45.0);
    let mut answered = 0;
    loop {
        answered += answer_asks(&page, &base, TTL).await?;
        let position = page
            .js("return v.currentTime;", vec![])
            .await?
            .as_f64()
            .unwrap_or(0.0);
        if position > 13.0 && unix_now() > expires + 2 {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "playback did not pass 13 s in time (at {position}){}",
            page.diagnostics().await
        );
        ensure!(
            page.errors().await?.is_empty(),
            "{}",
            page.diagnostics().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    page.expect_no_errors().await?;
    let stats = page.stats().await?;
    ensure!(
        stats.num("stalls")? == 0.0,
        "stalls: {:?}\n  events: {:?}",
        stats.0,
        page.events().await?
    );
    ensure!(
        stats.num("refused")? == 0.0,
        "the token was refreshed ahead, never refused: {:?}",
        stats.0
    );
    ensure!(answered >= 1, "authorize was never asked");
    let requests = media_requests(&page).await?;
    let old = token_of(&first);
    let fresh = requests.iter().filter(|r| token_of(r) != old).count();
    ensure!(
        fresh >= 1,
        "no request used a refreshed token: {requests:?}"
    );
    Ok(())
}

#[test]
fn a_token_that_expires_during_playback_is_refreshed_by_authorize_with_no_stall() {
    browser_test(
        "a_token_that_expires_during_playback_is_refreshed_by_authorize_with_no_stall",
        secs(90.0),
        refreshes_an_expiring_token,
    );
}

async fn a_bad_token_fails_once(browser: Browser) -> Result<()> {
    let stage = protected_stage().await?;
    let page = stage.open(&browser, &[]).await?;
    let base = stage.linked_media_url(SAMPLE.name)?;
    let good = signed(&base, 3600)?;
    // Same fields, another signature.
    let (head, _) = good
        .rsplit_once("hmac=")
        .context("a signed URL ends with its hmac")?;
    let bad = format!("{head}hmac={}", "0".repeat(64));
    attach_with_authorize(&page, &bad).await?;
    page.wait_until(
        "a caudal:error",
        secs(20.0),
        "window.__events.some(function (e) { return e.type === 'error'; })",
    )
    .await?;
    // Time for a retry storm, if there were one.
    tokio::time::sleep(secs(3.0)).await;
    let errors = page.errors().await?;
    ensure!(
        errors.len() == 1,
        "want exactly one caudal:error: {errors:?}"
    );
    let code = errors[0].detail.get("code").and_then(Value::as_str);
    ensure!(code == Some("forbidden"), "code {code:?}: {errors:?}");
    let requests = media_requests(&page).await?;
    ensure!(
        requests.len() <= 2,
        "a refused token is not retried: {} requests {requests:?}",
        requests.len()
    );
    let asked = page.js("return window.__asked;", vec![]).await?;
    ensure!(
        asked == json!(0),
        "a forged token is not a reason to authorize: asked {asked}"
    );
    let stats = page.stats().await?;
    ensure!(
        stats.str("mode")? == "mse",
        "no native fallback: {:?}",
        stats.0
    );
    Ok(())
}

#[test]
fn a_bad_token_gives_exactly_one_forbidden_error_and_no_retries() {
    browser_test(
        "a_bad_token_gives_exactly_one_forbidden_error_and_no_retries",
        secs(60.0),
        a_bad_token_fails_once,
    );
}

async fn an_expired_token_fails_once(browser: Browser) -> Result<()> {
    let stage = protected_stage().await?;
    let page = stage.open(&browser, &[]).await?;
    let base = stage.linked_media_url(SAMPLE.name)?;
    let fields = Fields {
        scope: Scope::Acl(vec!["/media/*".into()]),
        start: Some(unix_now() - 120),
        expires: unix_now() - 60,
        ip: None,
        id: None,
        data: None,
    };
    let url = format!(
        "{base}?__token__={}",
        sign::sign(&fields, &key()?, Options::default())
    );
    page.attach(&url, json!({})).await?;
    page.play().await?;
    page.wait_until(
        "a caudal:error",
        secs(20.0),
        "window.__events.some(function (e) { return e.type === 'error'; })",
    )
    .await?;
    tokio::time::sleep(secs(3.0)).await;
    let errors = page.errors().await?;
    ensure!(
        errors.len() == 1,
        "want exactly one caudal:error: {errors:?}"
    );
    let code = errors[0].detail.get("code").and_then(Value::as_str);
    ensure!(code == Some("expired"), "code {code:?}: {errors:?}");
    let requests = media_requests(&page).await?;
    ensure!(requests.len() <= 2, "no retries: {requests:?}");
    Ok(())
}

#[test]
fn an_expired_token_without_authorize_gives_exactly_one_expired_error() {
    browser_test(
        "an_expired_token_without_authorize_gives_exactly_one_expired_error",
        secs(60.0),
        an_expired_token_fails_once,
    );
}
