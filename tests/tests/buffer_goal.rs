//! The buffer goal in a real browser: paused, the player fetches about its
//! goal ahead and stops, and its own count of bytes agrees with the wire,
//! request by request (a shaped link with a request log between the
//! browser and the server).

use anyhow::{Context, ensure};
use caudal_media::package::drive::fragmented_mp4;
use caudal_tests::media::{self, MP4};
use caudal_tests::shaped_link::LinkConfig;
use caudal_tests::{Stage, browser_test, secs};
use serde_json::json;

#[test]
fn paused_with_goal_10_stops_fetching_about_10_s_ahead() {
    browser_test(
        "paused_with_goal_10_stops_fetching_about_10_s_ahead",
        secs(60.0),
        |browser| async move {
            // Three times the media's rate (below the 4x past which the goal
            // shrinks with the headroom): on an unlimited link the open
            // first request brings the whole file before the player has
            // even set up its SourceBuffer, and the goal is not tested.
            let mut stage = Stage::start().await?;
            let (trace, rtt) = (vec![(0.0, 3 * MP4.bit_rate()?)], secs(0.0));
            stage.add_link(LinkConfig { trace, rtt }).await?;
            let page = stage.open(&browser, &[]).await?;
            page.attach(&stage.linked_media_url(MP4.name)?, json!({ "goal": 10 }))
                .await?;
            page.wait_until(
                "the player to fetch something",
                secs(20.0),
                "P && P.stats().bytesFetched > 0",
            )
            .await?;
            // Until bytesFetched has not moved for 2 s (bounded: 30 s).
            let deadline = std::time::Instant::now() + secs(30.0);
            let (mut last, mut since) = (
                page.stats().await?.num("bytesFetched")?,
                std::time::Instant::now(),
            );
            loop {
                tokio::time::sleep(secs(0.25)).await;
                let now = page.stats().await?.num("bytesFetched")?;
                if now != last {
                    (last, since) = (now, std::time::Instant::now());
                } else if since.elapsed() >= secs(2.0) {
                    break;
                }
                ensure!(
                    std::time::Instant::now() < deadline,
                    "bytesFetched still growing after 30 s (now {now}){}",
                    page.diagnostics().await
                );
            }
            let video = page.video().await?;
            ensure!(
                video.paused && video.current_time < 0.1,
                "the video should still be paused at 0: {video:?}"
            );
            // ~10 s of media plus at most about one request more.
            // At least up to media time 10 s, as caudal_media indexes the
            // sample and the policy places a time in its unit (interpolated:
            // the open first request ends once its cursor is there), and
            // not much more than one request past it.
            let per_second = MP4.bytes_per_second()?;
            let fetched = last;
            let index = fragmented_mp4(&mut media::InMemory(&MP4.bytes()?))?.index;
            let unit = index
                .segment_at(10.0)
                .and_then(|n| index.segments.get(n))
                .context("the sample's index has no unit at 10 s")?;
            let into = ((10.0 - unit.start) / (unit.end - unit.start)).clamp(0.0, 1.0);
            let at_goal =
                unit.bytes.start + (into * (unit.bytes.end - unit.bytes.start) as f64) as u64;
            ensure!(
                fetched >= at_goal as f64 && fetched < 1_200_000.0,
                "paused with goal 10 the player fetched {fetched} bytes (~{:.1} s of media); \
                 want from {at_goal} (media time 10 s) to 1.2 MB (estimate: {:?} bit/s){}",
                fetched / per_second,
                page.stats().await?.get("throughput"),
                page.diagnostics().await
            );
            // The wire agrees, request by request: every answer that came
            // whole was counted whole, and nothing was counted that did not
            // come (an answer cut short — the open first request, ended at
            // the goal — counts what was read of it before the end). A
            // range that crossed twice counts once: Chromium's HTTP cache
            // may send a request again (see tests/startup.rs).
            let (len, path) = (MP4.file_len()?, format!("/media/{}", MP4.name));
            let requests = stage.link()?.requests();
            let media = requests.iter().filter(|r| r.path == path);
            let mut whole: Vec<(Option<&str>, u64)> = media
                .clone()
                .filter(|r| r.whole(len))
                .filter_map(|r| Some((r.range.as_deref(), r.body_len(len)?)))
                .collect();
            whole.sort_unstable();
            whole.dedup();
            let whole: u64 = whole.iter().map(|w| w.1).sum();
            let came: u64 = media.clone().map(|r| r.bytes_down).sum();
            if caudal_tests::verbose() {
                caudal_tests::say(&format!(
                    "  10 s at byte {at_goal}; whole answers {whole} <= bytesFetched \
                     {fetched} <= came {came}"
                ));
            }
            ensure!(
                whole as f64 <= fetched && fetched <= came as f64,
                "stats().bytesFetched is {fetched}: want at least the {whole} bytes of the whole \
                 answers and at most the {came} that came\n  requests: {requests:#?}"
            );
            let panics = page.panics().await?;
            ensure!(panics.is_empty(), "the player panicked: {panics:?}");
            let events = page.events().await?;
            let errors: Vec<_> = events.iter().filter(|e| e.kind == "error").collect();
            ensure!(errors.is_empty(), "caudal:error: {errors:?}");
            Ok(())
        },
    );
}
