//! Where the player cannot stream a file through MSE but the browser's own
//! element plays it, the player hands the file to the element and the
//! viewer's intent survives the switch: a page that calls `play()` as soon
//! as `attach` resolves — as the README shows — sees the picture move.

use anyhow::{Result, ensure};
use caudal_tests::{Browser, Stage, browser_test, media, secs};

/// H.264 + AC-3 in a plain MP4 (`tests/fixtures/fallback/make.sh`): this
/// Chromium's MSE refuses `ac-3`, its media element plays it.
const AC3: &str = "h264-ac3.mp4";
/// Opus in Ogg: Caudal reads no Ogg, MSE takes none; the element plays it.
const OGG_OPUS: &str = "opus.ogg";

/// Attaches `name`, calls `play()` in the same turn as `attach` resolves,
/// and checks the element plays it natively, saying why (`reason` in
/// `stats().reason`), with no `caudal:error`.
async fn plays_natively(browser: Browser, name: &str, reason: &str) -> Result<()> {
    let dir = media::temp_media(&[(name, media::fixture("fallback", name)?)])?;
    let stage = Stage::with_media(dir).await?;
    let page = stage.open(&browser, &[]).await?;
    // In the same turn as `attach` resolves, before the player can have
    // read the file: the switch to native comes after the viewer's
    // `play()`, and setting `src` rejects that one.
    page.attach_and_play_at_once(&stage.media_url(name)).await?;
    page.wait_until(
        "the natively played media to move past 1 s",
        secs(20.0),
        "v.currentTime > 1",
    )
    .await?;
    let stats = page.stats().await?;
    ensure!(
        stats.str("mode")? == "native",
        "stats().mode is {:?}, want \"native\"{}",
        stats.get("mode"),
        page.diagnostics().await
    );
    let said = stats.str("reason")?;
    ensure!(
        said.contains(reason),
        "stats().reason {said:?} does not say why ({reason:?})"
    );
    let errors = page.errors().await?;
    ensure!(errors.is_empty(), "a fallback is not an error: {errors:?}");
    Ok(())
}

#[test]
fn play_right_after_attach_on_a_file_that_falls_back_moves_the_picture() {
    browser_test(
        "play_right_after_attach_on_a_file_that_falls_back_moves_the_picture",
        secs(60.0),
        // This Chromium's MSE refuses AC-3.
        |browser| async move { plays_natively(browser, AC3, "MSE").await },
    );
}

#[test]
fn a_container_caudal_does_not_read_plays_natively_without_an_error() {
    browser_test(
        "a_container_caudal_does_not_read_plays_natively_without_an_error",
        secs(60.0),
        // Before, this was a `caudal:error` ("format") where native plays.
        |browser| async move { plays_natively(browser, OGG_OPUS, "cannot stream").await },
    );
}
