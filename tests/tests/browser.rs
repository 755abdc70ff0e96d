//! The player in a real headless Chromium against the real server.
//!
//! Every test page comes from a second origin (its own `caudal`), loading
//! `player.js` cross-origin; tests that shape the network put the shaping
//! proxy in front of the media. Browser tests run one at a time (see
//! `caudal_tests::browser_test`) and are skipped when Chromium is absent or
//! `CAUDAL_SKIP_BROWSER=1`.

use anyhow::{Context, Result, anyhow, bail, ensure};
use caudal_tests::media::{self, MP4, Sample, WEBM};
use caudal_tests::page::Event;
use caudal_tests::{Browser, Page, Stage, browser_test, dts, secs};
use serde_json::{Value, json};

/// Attaches `sample` (straight from origin A), plays it muted and checks it
/// runs under MSE past 3 s, with a startup time.
async fn plays_under_mse(browser: Browser, sample: Sample) -> Result<()> {
    let stage = Stage::start().await?;
    let page = stage.open(&browser, &[]).await?;
    page.attach(&stage.media_url(sample.name), json!({}))
        .await?;
    page.play().await?;
    page.wait_until("currentTime to pass 3 s", secs(20.0), "v.currentTime > 3")
        .await?;
    let stats = page.stats().await?;
    ensure!(
        stats.str("mode")? == "mse",
        "stats().mode is {:?}, want \"mse\"{}",
        stats.get("mode"),
        page.diagnostics().await
    );
    let startup = stats.num("startupMs")?;
    ensure!(startup > 0.0, "stats().startupMs is {startup}, want > 0");
    // MSE takes these as they are; the loader still fetches the remuxer
    // beside any `.mp4` URL (most are plain), by design, so its being
    // loaded says nothing here.
    no_panics(&page).await?;
    no_errors(&page).await
}

#[test]
fn fmp4_plays_under_mse() {
    browser_test("fmp4_plays_under_mse", secs(60.0), |b| {
        plays_under_mse(b, MP4)
    });
}

#[test]
fn webm_plays_under_mse() {
    browser_test("webm_plays_under_mse", secs(60.0), |b| {
        plays_under_mse(b, WEBM)
    });
}

#[test]
fn stats_has_every_documented_key() {
    browser_test(
        "stats_has_every_documented_key",
        secs(60.0),
        |browser| async move {
            let stage = Stage::start().await?;
            let page = stage.open(&browser, &[]).await?;
            page.attach(&stage.media_url(MP4.name), json!({})).await?;
            page.play().await?;
            page.wait_until("currentTime to pass 1 s", secs(20.0), "v.currentTime > 1")
                .await?;
            let stats = page.stats().await?;
            let states = [
                "idle",
                "loading",
                "buffering",
                "playing",
                "paused",
                "stalled",
                "seeking",
                "ended",
                "error",
            ];
            let mut wrong = Vec::new();
            let mode = stats.get("mode").and_then(Value::as_str);
            if !matches!(mode, Some("mse" | "native")) {
                wrong.push(format!("mode: {:?}", stats.get("mode")));
            }
            let state = stats.get("state").and_then(Value::as_str);
            if !state.is_some_and(|s| states.contains(&s)) {
                wrong.push(format!("state: {:?}", stats.get("state")));
            }
            for key in [
                "stalls",
                "stallMs",
                "bytesFetched",
                "bufferAhead",
                "requests",
                "aborted",
                "errors",
                "position",
            ] {
                if !stats.get(key).is_some_and(Value::is_number) {
                    wrong.push(format!("{key} (a number): {:?}", stats.get(key)));
                }
            }
            for key in ["startupMs", "throughput", "duration"] {
                if !stats.get(key).is_some_and(|v| v.is_number() || v.is_null()) {
                    wrong.push(format!("{key} (number or null): {:?}", stats.get(key)));
                }
            }
            ensure!(
                wrong.is_empty(),
                "stats() does not match the contract: {}\n  stats: {}",
                wrong.join("; "),
                stats.0
            );
            // While playing, position is the playhead and the duration is known.
            let video = page.video().await?;
            let position = stats.num("position")?;
            ensure!(
                (position - video.current_time).abs() < 1.0,
                "stats().position {position} vs currentTime {}",
                video.current_time
            );
            let duration = stats.num("duration")?;
            ensure!(
                (duration - MP4.duration).abs() < 0.5,
                "stats().duration is {duration}"
            );
            // Once a response has ended, even on loopback (responses end in
            // well under a millisecond) the link is measured: throughput is
            // the figure the policy sizes requests by, not null.
            page.wait_until(
                "the first response to end (a second request, or the whole file in one)",
                secs(10.0),
                &format!(
                    "P && (P.stats().requests >= 2 || P.stats().bytesFetched >= {})",
                    MP4.bytes()?.len()
                ),
            )
            .await?;
            let stats = page.stats().await?;
            let throughput = stats.get("throughput").and_then(Value::as_f64);
            ensure!(
                throughput.is_some_and(|bps| bps > 1_000_000.0),
                "stats().throughput on loopback after {} requests is {:?}, want bits per second",
                stats.num("requests")?,
                stats.get("throughput")
            );
            Ok(())
        },
    );
}

// Ignored until a defect it found is fixed: in about 4 runs of 10 the
// video learns the duration (from the `mfra` at the file's end, fetched
// beside the open-ended first request) only once that first answer has
// ended — here after the whole file is in, so no fetch is left to abort.
// Run with `cargo test -p caudal-tests --test browser -- --ignored`.
#[test]
#[ignore = "the mfra's duration comes after the open first response in ~40% of runs"]
fn seek_to_70_percent_resumes_there_and_aborts_in_flight() {
    browser_test(
        "seek_to_70_percent_resumes_there_and_aborts_in_flight",
        secs(60.0),
        |browser| async move {
            let mut stage = Stage::start().await?;
            let proxy = stage.add_proxy().await?;
            // Twice the media's bit rate: fetching keeps up but a request
            // is always in flight while the buffer fills.
            proxy.set_rate(Some(2 * MP4.bit_rate()?));
            let page = stage.open(&browser, &[]).await?;
            page.attach(&stage.proxied_media_url(MP4.name)?, json!({}))
                .await?;
            page.play().await?;
            page.wait_until("currentTime to pass 1 s", secs(20.0), "v.currentTime >= 1")
                .await?;
            // A viewer seeks on a seek bar, which needs the duration: the
            // player learns it from the `mfra` at the end of the file, fetched
            // beside the first media request (on this shared, shaped link it
            // can arrive a little after playback starts).
            page.wait_until(
                "the video to know its duration (from the mfra)",
                secs(10.0),
                "isFinite(v.duration) && v.duration > 0",
            )
            .await?;
            // A fetch in flight at the seek, whatever the machine's load:
            // the link slows to a trickle (the request under way cannot
            // finish, nor the next one, at least 64 KiB) until the seek.
            // Bytes that just came were no proof: under load the request
            // often ended before the seek, and nothing was left to abort.
            let proxy = stage.proxy()?;
            proxy.set_rate(Some(16_000));
            tokio::time::sleep(secs(0.5)).await;
            let before = page.stats().await?;
            let aborted_before = before.num("aborted")?;
            // The sample's known length: a fragmented MP4's duration may only
            // become known to the video as the fragments arrive.
            let target = 0.7 * MP4.duration;
            let landed = page
                .js(
                    "v.currentTime = arguments[0]; \
                     var s = []; for (var i = 0; i < v.seekable.length; i++) \
                       s.push(v.seekable.start(i) + '-' + v.seekable.end(i)); \
                     return { currentTime: v.currentTime, duration: String(v.duration), \
                              seekable: s.join(' ') };",
                    vec![json!(target)],
                )
                .await?;
            proxy.set_rate(Some(2 * MP4.bit_rate()?));
            let at = landed
                .get("currentTime")
                .and_then(Value::as_f64)
                .unwrap_or(-1.0);
            ensure!(
                at >= target - 0.5,
                "seeking to {target} s landed at {at} s: the video's duration was {} and \
                 seekable {} (the media's duration must be known to the video before the \
                 data arrives){}",
                landed.get("duration").unwrap_or(&Value::Null),
                landed.get("seekable").unwrap_or(&Value::Null),
                page.diagnostics().await
            );
            page.wait_until(
                &format!(
                    "currentTime to pass {:.1} s after seeking to {target:.1} s",
                    target + 1.0
                ),
                secs(10.0),
                &format!("v.currentTime > {}", target + 1.0),
            )
            .await?;
            let after = page.stats().await?;
            ensure!(
                after.num("aborted")? > aborted_before,
                "a fetch was in flight at the seek but stats().aborted stayed at {aborted_before}\n  \
                 stats before: {}\n  after: {}",
                before.0,
                after.0
            );
            no_panics(&page).await?;
            no_errors(&page).await
        },
    );
}

#[test]
fn throttled_link_stalls_then_recovers_and_reaches_the_end() {
    browser_test(
        "throttled_link_stalls_then_recovers_and_reaches_the_end",
        secs(90.0),
        |browser| async move {
            let mut stage = Stage::start().await?;
            let bit_rate = MP4.bit_rate()?;
            stage.add_proxy().await?.set_rate(Some(2 * bit_rate));
            let page = stage.open(&browser, &[]).await?;
            page.attach(
                &stage.proxied_media_url(MP4.name)?,
                json!({ "startup": 1, "goal": 4, "resume": 2 }),
            )
            .await?;
            page.play().await?;
            page.wait_until("playback to start", secs(20.0), "v.currentTime > 0.5")
                .await?;
            // Half the bit rate, watched at double speed: the buffer runs dry.
            let proxy = stage.proxy()?;
            proxy.set_rate(Some(bit_rate / 2));
            page.run("v.playbackRate = 2;").await?;
            let stall = page
                .wait_until(
                    "a caudal:stall event",
                    secs(30.0),
                    "window.__events.filter(function (e) { return e.type === 'stall'; })[0]",
                )
                .await?;
            let stalled_at = stall
                .get("currentTime")
                .and_then(Value::as_f64)
                .ok_or_else(|| anyhow!("stall event without currentTime: {stall}"))?;
            proxy.set_rate(Some(20_000_000));
            page.wait_until(
                "playback to recover after the stall",
                secs(15.0),
                &format!("v.currentTime > {}", stalled_at + 1.0),
            )
            .await?;
            page.wait_until(
                "the end",
                secs(30.0),
                "v.ended || (P && P.stats().state === 'ended')",
            )
            .await?;
            let stats = page.stats().await?;
            ensure!(
                stats.num("stalls")? >= 1.0,
                "stats().stalls after a stall: {}",
                stats.0
            );
            ensure!(
                stats.num("stallMs")? > 0.0,
                "stats().stallMs after a stall: {}",
                stats.0
            );
            no_panics(&page).await?;
            no_errors(&page).await
        },
    );
}

#[test]
fn server_outage_of_two_seconds_leaves_no_gap() {
    browser_test(
        "server_outage_of_two_seconds_leaves_no_gap",
        secs(90.0),
        |browser| async move {
            let mut stage = Stage::start().await?;
            // Four times the bit rate: fetching is under way when the server goes.
            stage.add_proxy().await?.set_rate(Some(4 * MP4.bit_rate()?));
            let page = stage.open(&browser, &[]).await?;
            page.attach(
                &stage.proxied_media_url(MP4.name)?,
                json!({ "behind": 60, "maxBytes": 100_000_000 }),
            )
            .await?;
            page.play().await?;
            page.wait_until("currentTime to pass 1 s", secs(20.0), "v.currentTime > 1")
                .await?;
            let proxy = stage.proxy()?;
            let bytes_before = proxy.bytes_down();
            ensure!(
                bytes_before < MP4.file_len()?,
                "everything was fetched before the outage ({bytes_before} bytes): nothing to test"
            );
            proxy.set_outage(true);
            tokio::time::sleep(secs(2.0)).await;
            proxy.set_outage(false);
            let (cut, refused) = (proxy.cut_connections(), proxy.refused());
            page.run("v.playbackRate = 2;").await?;
            page.wait_until(
                "the end",
                secs(40.0),
                "v.ended || (P && P.stats().state === 'ended')",
            )
            .await?;
            let video = page.video().await?;
            let duration = video.duration.unwrap_or(MP4.duration);
            let covered = video.buffered.len() == 1
                && video.buffered[0].0 <= 0.25
                && video.buffered[0].1 >= duration - 0.25;
            ensure!(
                covered,
                "buffered is {:?}, want one range covering [0, {duration}] (the outage cut {cut} \
             connection(s), refused {refused}; {} bytes had been delivered before it){}",
                video.buffered,
                bytes_before,
                page.diagnostics().await
            );
            no_panics(&page).await?;
            no_errors(&page).await
        },
    );
}

/// Plays a broken file: exactly one `caudal:error` with a code and a message,
/// nothing more in the 2 s after it but the state turning "error", no panic.
async fn ends_in_one_error(browser: Browser, name: &str, bytes: Vec<u8>) -> Result<()> {
    let stage = Stage::with_media(media::temp_media(&[(name, bytes)])?).await?;
    let page = stage.open(&browser, &[]).await?;
    page.attach(&stage.media_url(name), json!({})).await?;
    page.play().await?;
    page.wait_until(
        "a caudal:error event",
        secs(15.0),
        "window.__events.some(function (e) { return e.type === 'error'; })",
    )
    .await?;
    tokio::time::sleep(secs(2.0)).await;
    let events = page.events().await?;
    let first = events
        .iter()
        .position(|e| e.kind == "error")
        .context("the error event went missing")?;
    let error = &events[first];
    let code_ok = match error.detail.get("code") {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(_)) => true,
        _ => false,
    };
    let message_ok = error
        .detail
        .get("message")
        .and_then(Value::as_str)
        .is_some_and(|m| !m.trim().is_empty());
    ensure!(
        code_ok && message_ok,
        "caudal:error detail needs a non-empty code and message: {}",
        error.detail
    );
    let after: Vec<&Event> = events[first + 1..]
        .iter()
        .filter(|e| !(e.kind == "state" && e.detail.get("state") == Some(&json!("error"))))
        .collect();
    let errors = events.iter().filter(|e| e.kind == "error").count();
    ensure!(
        errors == 1 && after.is_empty(),
        "want exactly one caudal:error and then quiet; got {errors} error(s), then {after:?}"
    );
    let stats = page.stats().await?;
    ensure!(
        stats.str("state")? == "error",
        "stats().state after the error: {}",
        stats.0
    );
    no_panics(&page).await
}

#[test]
fn truncated_file_ends_in_one_error() {
    browser_test(
        "truncated_file_ends_in_one_error",
        secs(60.0),
        |browser| async move {
            // ftyp and the first half of the moov: no usable index.
            ends_in_one_error(browser, "truncated.mp4", media::truncated(MP4, 600)?).await
        },
    );
}

#[test]
fn random_bytes_file_ends_in_one_error() {
    browser_test(
        "random_bytes_file_ends_in_one_error",
        secs(60.0),
        |browser| async move {
            ends_in_one_error(browser, "random.mp4", media::pseudo_random(200_000, 0x5eed)).await
        },
    );
}

#[test]
fn second_origin_page_embeds_and_plays() {
    browser_test(
        "second_origin_page_embeds_and_plays",
        secs(60.0),
        |browser| async move {
            let stage = Stage::start().await?;
            let src = stage.media_url(MP4.name);
            // Auto-attach from the markup; the page's origin is not the player's.
            let page = stage
                .open(&browser, &[("data-src", &src), ("data-goal", "10")])
                .await?;
            page.wait_until(
                "Caudal.get(video) after auto-attach",
                secs(15.0),
                "window.Caudal && Caudal.get(v)",
            )
            .await?;
            page.play().await?;
            page.wait_until("currentTime to pass 2 s", secs(20.0), "v.currentTime > 2")
                .await?;
            let stats = page.stats().await?;
            ensure!(stats.str("mode")? == "mse", "stats().mode: {}", stats.0);
            let origin = page.js("return location.origin;", vec![]).await?;
            ensure!(
                origin.as_str() != Some(stage.server.origin().as_str()),
                "the page should not share the player's origin"
            );
            no_panics(&page).await?;
            no_errors(&page).await
        },
    );
}

#[test]
fn demo_page_lists_the_sample_media() {
    browser_test(
        "demo_page_lists_the_sample_media",
        secs(60.0),
        |browser| async move {
            let stage = Stage::start().await?;
            let url = stage.server.url("/");
            browser.goto(&url).await?;
            let page = Page::current(&browser, &url);
            page.wait_until(
            "both sample names on the demo page",
            secs(15.0),
            &format!(
                "document.body.innerText.indexOf('{}') >= 0 && document.body.innerText.indexOf('{}') >= 0",
                MP4.name, WEBM.name
            ),
        )
        .await?;
            Ok(())
        },
    );
}

#[test]
fn d_ts_matches_the_runtime_api() {
    let path = caudal_tests::server::www_dir().join("player.d.ts");
    // Part of the checkout: a missing file is a failure, not a skip.
    assert!(path.is_file(), "{} is missing", path.display());
    browser_test(
        "d_ts_matches_the_runtime_api",
        secs(60.0),
        |browser| async move {
            let text = std::fs::read_to_string(&path)?;
            let code = dts::strip_comments(&text);
            let stage = Stage::start().await?;
            let page = stage.open(&browser, &[]).await?;
            page.attach(&stage.media_url(MP4.name), json!({})).await?;
            let names: Value = page
            .js(
                "function names(o) { var out = Object.keys(o || {}); \
                   for (var p = o && Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) \
                     out = out.concat(Object.getOwnPropertyNames(p)); \
                   return out.filter(function (k, i) { \
                     return k !== 'constructor' && k.charAt(0) !== '_' && out.indexOf(k) === i; }); } \
                 return { caudal: names(window.Caudal), player: names(P), \
                          stats: Object.keys(P.stats()) };",
                vec![],
            )
            .await?;
            let list = |key: &str| -> Vec<String> {
                names
                    .get(key)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut missing = Vec::new();
            for (what, name) in list("caudal")
                .into_iter()
                .map(|n| ("Caudal", n))
                .chain(list("player").into_iter().map(|n| ("player", n)))
            {
                if !dts::mentions(&code, &name) {
                    missing.push(format!("{what}.{name}"));
                }
            }
            let declared = dts::stats_keys(&text)?;
            for key in list("stats") {
                if !declared.contains(&key) {
                    missing.push(format!("stats().{key} (declared: {})", declared.join(", ")));
                }
            }
            if !missing.is_empty() {
                bail!("{} lacks: {}", path.display(), missing.join(", "));
            }
            Ok(())
        },
    );
}

/// No console message or uncaught error says the wasm panicked or trapped.
async fn no_panics(page: &Page) -> Result<()> {
    let panics = page.panics().await?;
    ensure!(
        panics.is_empty(),
        "the player panicked: {}",
        panics.join("\n---\n")
    );
    Ok(())
}

/// No `caudal:error` event was dispatched.
async fn no_errors(page: &Page) -> Result<()> {
    let events = page.events().await?;
    let errors: Vec<&Event> = events.iter().filter(|e| e.kind == "error").collect();
    ensure!(
        errors.is_empty(),
        "caudal:error: {errors:?}{}",
        page.diagnostics().await
    );
    Ok(())
}

/// The keys DESIGN.md documents for `stats()`, shared by the checks below.
const STATS_KEYS: [&str; 13] = [
    "mode",
    "state",
    "startupMs",
    "stalls",
    "stallMs",
    "bytesFetched",
    "bufferAhead",
    "throughput",
    "requests",
    "aborted",
    "errors",
    "duration",
    "position",
];

/// No browser needed: `www/player.d.ts` declares every documented stats key
/// and the documented API names.
#[test]
fn d_ts_declares_the_documented_api() {
    let path = caudal_tests::server::www_dir().join("player.d.ts");
    // Part of the checkout: a missing file is a failure, not a skip.
    assert!(path.is_file(), "{} is missing", path.display());
    let text = std::fs::read_to_string(&path).expect("readable player.d.ts");
    let code = dts::strip_comments(&text);
    let declared = dts::stats_keys(&text).expect("the stats() type in player.d.ts");
    let missing: Vec<&str> = STATS_KEYS
        .iter()
        .copied()
        .filter(|k| !declared.iter().any(|d| d == k))
        .collect();
    assert!(
        missing.is_empty(),
        "player.d.ts stats type lacks {missing:?} (declares {declared:?})"
    );
    for name in [
        "ready", "attach", "get", "stats", "destroy", "startup", "goal", "resume", "behind",
        "maxBytes",
    ] {
        assert!(
            dts::mentions(&code, name),
            "player.d.ts does not mention `{name}`"
        );
    }
}
