//! Matroska/WebM files as mkvmerge writes them (default options: Chromium's
//! MSE refuses them as they are, native `<video>` plays them) play under
//! Caudal through MSE, rewritten by the WebM normaliser in the rewrite
//! module (`caudal_rewrite`, loaded for such files only); H.264 + AAC in a .mkv, AAC in a .mka and a MediaRecorder-like H.264 + Opus
//! WebM play through MSE too (remuxed to fragmented MP4),
//! never with a `caudal:error`. Fixtures: `tests/fixtures/tidy/make.sh`.

use anyhow::{Context, Result, ensure};
use caudal_tests::page::Page;
use caudal_tests::{Stage, browser_test, media, secs};
use serde_json::{Value, json};

fn fixture(name: &str) -> Result<Vec<u8>> {
    media::fixture("tidy", name)
}

/// The duration native `<video>` gives the file at `url`.
async fn native_duration(page: &Page, url: &str) -> Result<f64> {
    let value = page
        .js(
            "var url = arguments[0]; return new Promise(function (ok) { var n = document.createElement('video'); \
               n.preload = 'metadata'; n.muted = true; \
               n.onloadedmetadata = function () { ok(n.duration); }; \
               n.onerror = function () { ok('native error ' + (n.error && n.error.code)); }; \
               n.src = url; });",
            vec![Value::from(url)],
        )
        .await?;
    value
        .as_f64()
        .with_context(|| format!("native <video> gave no duration: {value}"))
}

/// Attaches, plays, and waits for the picture to pass 1.5 s.
async fn plays(page: &Page, url: &str) -> Result<()> {
    page.attach(url, json!({})).await?;
    page.run("v.muted = true;").await?;
    page.play().await?;
    page.wait_until(
        "the picture to move past 1.5 s",
        secs(20.0),
        "v.currentTime > 1.5",
    )
    .await?;
    Ok(())
}

#[test]
fn mkvmerge_default_webm_plays_through_mse_with_the_native_duration() {
    browser_test(
        "mkvmerge_default_webm_plays_through_mse_with_the_native_duration",
        secs(120.0),
        |browser| async move {
            let names = [
                "mkvmerge-vp8-opus.webm",
                "mkvmerge-vp9-vorbis.webm",
                "mkvmerge-nolacing-vp9-vorbis.webm",
            ];
            let files: Vec<_> = names
                .iter()
                .map(|n| Ok((*n, fixture(n)?)))
                .collect::<Result<_>>()?;
            let dir = media::temp_media(&files)?;
            let stage = Stage::with_media(dir).await?;
            for name in names {
                let page = stage.open(&browser, &[]).await?;
                let url = stage.media_url(name);
                let native = native_duration(&page, &url).await?;
                plays(&page, &url)
                    .await
                    .with_context(|| format!("{name}{}", ""))?;
                let stats = page.stats().await?;
                ensure!(
                    stats.str("mode")? == "mse",
                    "{name}: stats().mode is {:?}, want \"mse\"{}",
                    stats.get("mode"),
                    page.diagnostics().await
                );
                ensure!(
                    page.module_loaded("caudal_rewrite").await?,
                    "{name}: the normaliser lives in the rewrite module"
                );
                let video = page.video().await?;
                let duration = video.duration.context("no duration under MSE")?;
                ensure!(
                    (duration - native).abs() < 0.1,
                    "{name}: duration {duration} under MSE, {native} natively"
                );
                page.expect_no_errors()
                    .await
                    .with_context(|| name.to_owned())?;
            }
            Ok(())
        },
    );
}

#[test]
fn h264_aac_mkv_and_aac_mka_play_through_mse_remuxed_to_fragmented_mp4() {
    browser_test(
        "h264_aac_mkv_and_aac_mka_play_through_mse_remuxed_to_fragmented_mp4",
        secs(90.0),
        |browser| async move {
            let names = ["mkvmerge-h264-aac.mkv", "mkvmerge-aac.mka"];
            let files: Vec<_> = names
                .iter()
                .map(|n| Ok((*n, fixture(n)?)))
                .collect::<Result<_>>()?;
            let dir = media::temp_media(&files)?;
            let stage = Stage::with_media(dir).await?;
            for name in names {
                let page = stage.open(&browser, &[]).await?;
                let url = stage.media_url(name);
                let native = native_duration(&page, &url).await?;
                plays(&page, &url).await.with_context(|| name.to_owned())?;
                let stats = page.stats().await?;
                ensure!(
                    stats.str("mode")? == "mse",
                    "{name}: stats().mode {:?}, want \"mse\" (remuxed to fMP4){}",
                    stats.get("mode"),
                    page.diagnostics().await
                );
                let video = page.video().await?;
                let duration = video.duration.context("no duration")?;
                ensure!(
                    (duration - native).abs() < 0.1,
                    "{name}: duration {duration} under MSE, {native} natively; {video:?}"
                );
                page.expect_no_errors()
                    .await
                    .with_context(|| name.to_owned())?;
            }
            Ok(())
        },
    );
}

#[test]
fn a_mediarecorder_like_h264_webm_without_duration_or_cues_plays_through_mse() {
    browser_test(
        "a_mediarecorder_like_h264_webm_without_duration_or_cues_plays_through_mse",
        secs(60.0),
        |browser| async move {
            let name = "recorder-h264-opus.webm";
            let dir = media::temp_media(&[(name, fixture(name)?)])?;
            let stage = Stage::with_media(dir).await?;
            let page = stage.open(&browser, &[]).await?;
            // Native <video> says Infinity until it played to the end;
            // ffprobe: the last packet ends at 3.014 s.
            let native = 3.014;
            plays(&page, &stage.media_url(name)).await?;
            let stats = page.stats().await?;
            ensure!(
                stats.str("mode")? == "mse",
                "stats().mode {:?}, want \"mse\" (H.264 + Opus remuxed to fMP4){}",
                stats.get("mode"),
                page.diagnostics().await
            );
            // No Duration in the file: the tail read finds the last block.
            let video = page.video().await?;
            let duration = video.duration.context("no duration")?;
            ensure!(
                (duration - native).abs() < 0.1,
                "duration {duration} under MSE, {native} natively; {video:?}"
            );
            page.expect_no_errors().await
        },
    );
}

/// Seeks to `to` and waits for playback to go on from there: the seek lands
/// within one GOP of it (before it by at most `gop`, never past it by more
/// than what played since).
async fn seek_lands(page: &Page, to: f64, gop: f64) -> Result<()> {
    page.run(&format!("v.currentTime = {to};")).await?;
    page.wait_until(
        "playback to go on after the seek",
        secs(20.0),
        &format!("!v.seeking && v.readyState >= 3 && v.currentTime > {to} + 0.2"),
    )
    .await?;
    let video = page.video().await?;
    ensure!(
        video.current_time > to - gop && video.current_time < to + 1.5,
        "after a seek to {to} s playback is at {} s{}",
        video.current_time,
        page.diagnostics().await
    );
    Ok(())
}

#[test]
fn seeks_on_a_rewritten_webm_and_on_a_mediarecorder_recording_land_at_the_target() {
    browser_test(
        "seeks_on_a_rewritten_webm_and_on_a_mediarecorder_recording_land_at_the_target",
        secs(120.0),
        |browser| async move {
            // mkvmerge's defaults (rewritten by the normaliser), and a real
            // recording of Chromium's MediaRecorder (no Cues, no Duration:
            // its units are found as it is read; its length from its tail).
            let recording = "mediarecorder-vp8-opus.webm";
            let files = vec![
                ("mkvmerge-vp8-opus.webm", fixture("mkvmerge-vp8-opus.webm")?),
                (recording, media::fixture("corpus", recording)?),
            ];
            let dir = media::temp_media(&files)?;
            let stage = Stage::with_media(dir).await?;
            for (name, _) in &files {
                let page = stage.open(&browser, &[]).await?;
                let url = stage.media_url(name);
                page.attach(&url, json!({})).await?;
                page.run("v.muted = true;").await?;
                page.play().await?;
                page.wait_until("the picture to move", secs(20.0), "v.currentTime > 0.3")
                    .await
                    .with_context(|| name.to_string())?;
                seek_lands(&page, 2.0, 1.0)
                    .await
                    .with_context(|| format!("{name}: forward"))?;
                seek_lands(&page, 0.5, 1.0)
                    .await
                    .with_context(|| format!("{name}: back"))?;
                let stats = page.stats().await?;
                ensure!(
                    stats.str("mode")? == "mse",
                    "{name}: stats().mode is {:?}",
                    stats.get("mode")
                );
                page.expect_no_errors()
                    .await
                    .with_context(|| name.to_string())?;
            }
            Ok(())
        },
    );
}
