//! Plain MP4s (and M4A) play under Caudal by remuxing in the player: each
//! file of the remux corpus plays through MSE (not the native fallback),
//! its duration matches the browser's native playback of the same file
//! within one frame, and a seek lands within one GOP and plays on.

use anyhow::{Result, ensure};
use caudal_tests::*;
use serde_json::{Value, json};

/// The corpus (media/tests/fixtures/remux, made by its make.sh): name, frame
/// duration (the tolerance), GOP length in seconds.
const CORPUS: &[(&str, f64, f64)] = &[
    ("bframes.mp4", 1.0 / 25.0, 1.0),
    ("no-bframes.mp4", 1.0 / 25.0, 1.0),
    ("moov-end.mp4", 1.0 / 25.0, 1.0),
    ("audio.m4a", 1024.0 / 44_100.0, 1.0),
    ("ntsc-90k.mp4", 1001.0 / 30_000.0, 3.0),
    ("edit-cut.mp4", 1.0 / 25.0, 1.0),
    // MP3: native playback trims the LAME tag's encoder delay and padding
    // (4.000 s for these 4.049 s of frames); so does Caudal (gapless window).
    ("cbr-info.mp3", 1152.0 / 44_100.0, 0.1),
    ("vbr-xing.mp3", 1152.0 / 44_100.0, 0.1),
    ("id3-cbr.mp3", 1152.0 / 44_100.0, 0.1),
];

fn corpus_file(name: &str) -> Result<Vec<u8>> {
    let folder = if name.ends_with(".mp3") {
        "mp3"
    } else {
        "remux"
    };
    let path = format!(
        "{}/../media/tests/fixtures/{folder}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    Ok(std::fs::read(path)?)
}

/// The duration the browser's own `<video src>` reports for `url`.
async fn native_duration(page: &Page, url: &str) -> Result<f64> {
    page.run(&format!(
        "var n = document.createElement('video'); n.muted = true; n.preload = 'metadata'; \
         n.src = {url:?}; window.__native = n;"
    ))
    .await?;
    let value = page
        .wait_until(
            "the native element to know its duration",
            secs(10.0),
            "isFinite(window.__native.duration) && window.__native.duration",
        )
        .await?;
    value
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("native duration {value}"))
}

async fn plays_remuxed(browser: &Browser, name: &'static str, frame: f64, gop: f64) -> Result<()> {
    let stage = Stage::with_media(media::temp_media(&[(name, corpus_file(name)?)])?).await?;
    let page = stage.open(browser, &[]).await?;
    let url = stage.media_url(name);
    let native = native_duration(&page, &url).await?;
    page.attach(&url, json!({})).await?;
    page.play().await?;
    page.wait_until(
        &format!("{name} to play to the end"),
        secs(20.0),
        "v.ended || P.stats().state === 'ended'",
    )
    .await?;
    let stats = page.stats().await?;
    ensure!(
        stats.str("mode")? == "mse",
        "{name} played natively: {}",
        stats.0
    );
    let video = page.video().await?;
    let ours = video.duration.unwrap_or(f64::NAN);
    ensure!(
        (ours - native).abs() <= frame + 1e-3,
        "{name}: duration {ours} under Caudal, {native} natively (one frame is {frame:.4} s){}",
        page.diagnostics().await
    );
    // Seek back to 60 %: it lands within one GOP of the target and plays on.
    let target = 0.6 * native;
    let landed = page
        .js(
            "v.currentTime = arguments[0]; return v.currentTime;",
            vec![json!(target)],
        )
        .await?
        .as_f64()
        .unwrap_or(-1.0);
    ensure!(
        (landed - target).abs() <= gop + 0.05,
        "{name}: seek to {target} landed at {landed}"
    );
    page.play().await?;
    page.wait_until(
        &format!("{name} to play on after the seek"),
        secs(10.0),
        &format!(
            "v.ended || v.currentTime > {}",
            (target + 0.3).min(native - 0.05)
        ),
    )
    .await?;
    let events = page.events().await?;
    let errors: Vec<&Value> = events
        .iter()
        .filter(|e| e.kind == "error")
        .map(|e| &e.detail)
        .collect();
    ensure!(errors.is_empty(), "{name}: caudal:error {errors:?}");
    ensure!(
        page.panics().await?.is_empty(),
        "{name}: the player panicked"
    );
    Ok(())
}

#[test]
fn plain_mp4_corpus_plays_remuxed_with_native_duration_and_seeks() {
    browser_test(
        "plain_mp4_corpus_plays_remuxed_with_native_duration_and_seeks",
        secs(120.0),
        |browser| async move {
            for &(name, frame, gop) in CORPUS {
                plays_remuxed(&browser, name, frame, gop).await?;
                say(&format!("  {name}: remuxed, duration and seek ok"));
            }
            Ok(())
        },
    );
}

/// MP3 has no timestamps: after a seek outside the buffer the player must
/// tell MSE where the new run's frames belong, or they land at the wrong time
/// and the target is never buffered.
#[test]
fn mp3_seek_outside_the_buffer_plays_at_the_target() {
    browser_test(
        "mp3_seek_outside_the_buffer_plays_at_the_target",
        secs(60.0),
        |browser| async move {
            let name = "long-16k.mp3";
            let mut stage =
                Stage::with_media(media::temp_media(&[(name, corpus_file(name)?)])?).await?;
            // A slow link (about twice the bit rate): the first request is
            // still running when the seek comes, so the target is not buffered.
            stage.add_proxy().await?.set_rate(Some(32_000));
            let page = stage.open(&browser, &[]).await?;
            page.attach(&stage.proxied_media_url(name)?, json!({ "goal": 4 }))
                .await?;
            page.play().await?;
            page.wait_until("playback to start", secs(10.0), "v.currentTime > 0.5")
                .await?;
            let before = page.video().await?;
            let buffered_end = before.buffered.iter().map(|r| r.1).fold(0.0, f64::max);
            ensure!(
                buffered_end < 20.0,
                "the seek target is already buffered: {:?}",
                before.buffered
            );
            page.run("v.currentTime = 100;").await?;
            page.wait_until(
                "playback past 101 s after seeking to 100 s",
                secs(15.0),
                "v.currentTime > 101",
            )
            .await?;
            let video = page.video().await?;
            ensure!(
                video.buffered.iter().any(|r| r.0 <= 100.1 && r.1 >= 101.0),
                "the media at the target is buffered at the target: {:?}",
                video.buffered
            );
            ensure!(page.stats().await?.str("mode")? == "mse", "played natively");
            ensure!(page.panics().await?.is_empty(), "the player panicked");
            Ok(())
        },
    );
}
