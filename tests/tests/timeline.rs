//! Media whose timeline does not start at 0 plays from where it starts, as
//! native playback does: a fragmented MP4 whose first `tfdt` is 10 s
//! (`tests/fixtures/timeline/make.sh`) buffers [10, 12]; before, Caudal
//! kept the playhead at 0, in front of the buffer, and never played.

use anyhow::ensure;
use caudal_tests::{Stage, browser_test, media, secs};

const START_10S: &str = "start-10s.mp4";

#[test]
fn media_starting_at_10_s_plays_from_10_s() {
    browser_test(
        "media_starting_at_10_s_plays_from_10_s",
        secs(60.0),
        |browser| async move {
            let dir = media::temp_media(&[(START_10S, media::fixture("timeline", START_10S)?)])?;
            let stage = Stage::with_media(dir).await?;
            let page = stage.open(&browser, &[]).await?;
            page.attach_and_play_at_once(&stage.media_url(START_10S))
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
            page.expect_no_errors().await
        },
    );
}
