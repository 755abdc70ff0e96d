//! Fragmented MP4s whose fragments MSE would misread as they are play
//! through the fragment rewrite, loaded on demand: ffmpeg's default
//! fragmenting (`-movflags frag_keyframe+empty_moov`) gives every `tfhd` an
//! absolute base data offset, which a SourceBuffer fed from a seek cannot
//! resolve; before the rewrite such a file ended in a decode error.

use anyhow::{Context, ensure};
use caudal_tests::{Stage, browser_test, media, secs};

/// `media/tests/fixtures/rechunk/make.sh`: 4 s, 2 s fragments, B-frames,
/// H.264 + AAC, an absolute base data offset in every `tfhd`.
const ABSOLUTE_BASE: &str = "base-offset.mp4";
const RECHUNK: &str = "../../media/tests/fixtures/rechunk";

#[test]
fn absolute_base_offsets_play_under_mse_through_the_rewrite_and_seek() {
    browser_test(
        "absolute_base_offsets_play_under_mse_through_the_rewrite_and_seek",
        secs(60.0),
        |browser| async move {
            let dir =
                media::temp_media(&[(ABSOLUTE_BASE, media::fixture(RECHUNK, ABSOLUTE_BASE)?)])?;
            let stage = Stage::with_media(dir).await?;
            let page = stage.open(&browser, &[]).await?;
            page.attach_and_play_at_once(&stage.media_url(ABSOLUTE_BASE))
                .await?;
            page.wait_until(
                "the picture to move past 0.5 s",
                secs(20.0),
                "v.currentTime > 0.5",
            )
            .await
            .with_context(|| "before the rewrite this was a decode error")?;
            let stats = page.stats().await?;
            ensure!(
                stats.str("mode")? == "mse",
                "stats().mode is {:?}, want \"mse\"{}",
                stats.get("mode"),
                page.diagnostics().await
            );
            ensure!(
                page.module_loaded("caudal_rewrite").await?,
                "the fragment rewrite module was not loaded"
            );
            // The second fragment, from a seek: its data offsets resolve in
            // the rewritten fragment, not at a file position.
            page.run("v.currentTime = 2.5;").await?;
            page.wait_until(
                "playback to resume past 2.8 s after the seek",
                secs(20.0),
                "!v.seeking && v.currentTime > 2.8",
            )
            .await?;
            page.expect_no_errors().await
        },
    );
}
