//! Where the player cannot stream a file through MSE but the browser's own
//! element plays it, the player hands the file to the element and the
//! viewer's intent survives the switch: a page that calls `play()` as soon
//! as `attach` resolves — as the README shows — sees the picture move.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use caudal_tests::{Stage, browser_test, media, secs};
use serde_json::json;

/// H.264 + AC-3 in a plain MP4 (`tests/fixtures/fallback/make.sh`): this
/// Chromium's MSE refuses `ac-3`, its media element plays it.
const AC3: &str = "h264-ac3.mp4";

fn fixture(name: &str) -> Result<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fallback")
        .join(name);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

#[test]
fn play_right_after_attach_on_a_file_that_falls_back_moves_the_picture() {
    browser_test(
        "play_right_after_attach_on_a_file_that_falls_back_moves_the_picture",
        secs(60.0),
        |browser| async move {
            let dir = media::temp_media(&[(AC3, fixture(AC3)?)])?;
            let stage = Stage::with_media(dir).await?;
            let page = stage.open(&browser, &[]).await?;
            page.wait_for_caudal().await?;
            // In the same turn as `attach` resolves, before the player can
            // have read the file: the switch to native comes after the
            // viewer's `play()`, and setting `src` rejects that one.
            page.run(&format!(
                "Caudal.attach(v, {url}, {{}}).then(function (p) {{ window.__player = p; \
                   v.play().catch(function (e) {{ window.__rejected = String(e); }}); }});",
                url = json!(stage.media_url(AC3))
            ))
            .await?;
            page.wait_until(
                "the natively played picture to move past 1 s",
                secs(20.0),
                "v.currentTime > 1",
            )
            .await?;
            let stats = page.stats().await?;
            ensure!(
                stats.str("mode")? == "native",
                "stats().mode is {:?}, want \"native\" (this Chromium's MSE refuses AC-3){}",
                stats.get("mode"),
                page.diagnostics().await
            );
            let reason = stats.str("reason")?;
            ensure!(
                reason.contains("MSE"),
                "stats().reason {reason:?} does not say why"
            );
            let errors: Vec<_> = page
                .events()
                .await?
                .into_iter()
                .filter(|e| e.kind == "error")
                .collect();
            ensure!(errors.is_empty(), "a fallback is not an error: {errors:?}");
            Ok(())
        },
    );
}
