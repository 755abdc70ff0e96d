//! Media whose timeline does not start at 0 plays from where it starts, as
//! native playback does: a fragmented MP4 whose first `tfdt` is 10 s
//! (`tests/fixtures/timeline/make.sh`) buffers [10, 12]; before, Caudal
//! kept the playhead at 0, in front of the buffer, and never played.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use caudal_tests::{Stage, browser_test, media, secs};
use serde_json::json;

const START_10S: &str = "start-10s.mp4";

fn fixture(name: &str) -> Result<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/timeline")
        .join(name);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

#[test]
fn media_starting_at_10_s_plays_from_10_s() {
    browser_test(
        "media_starting_at_10_s_plays_from_10_s",
        secs(60.0),
        |browser| async move {
            let dir = media::temp_media(&[(START_10S, fixture(START_10S)?)])?;
            let stage = Stage::with_media(dir).await?;
            let page = stage.open(&browser, &[]).await?;
            page.wait_for_caudal().await?;
            page.run(&format!(
                "Caudal.attach(v, {url}, {{}}).then(function (p) {{ window.__player = p; \
                   v.play().catch(function () {{}}); }});",
                url = json!(stage.media_url(START_10S))
            ))
            .await?;
            page.wait_until(
                "the picture to move past 10.3 s",
                secs(20.0),
                "v.currentTime > 10.3",
            )
            .await?;
            let video = page.video().await?;
            ensure!(
                video.duration.is_some_and(|d| (d - 12.08).abs() < 0.1),
                "duration {:?}, want the media's end (12.08 s, as native){}",
                video.duration,
                page.diagnostics().await
            );
            let errors: Vec<_> = page
                .events()
                .await?
                .into_iter()
                .filter(|e| e.kind == "error")
                .collect();
            ensure!(errors.is_empty(), "caudal:error events: {errors:?}");
            Ok(())
        },
    );
}
