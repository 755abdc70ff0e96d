//! A seek in a plain (not fragmented) MP4, which the player remuxes in its
//! second wasm module: the first request after the seek starts where
//! caudal_media's own reading of the sample tables says the keyframe's
//! fragment begins. A shaped link with a request log sits between the
//! browser and the server; the page comes from a second origin.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use caudal_media::package::PlainMp4;
use caudal_media::remux::{PlanOptions, Remux};
use caudal_tests::media::{self, MP4};
use caudal_tests::shaped_link::{LinkConfig, Request};
use caudal_tests::{Stage, browser_test, secs, skip};
use serde_json::{Value, json};

/// Polls `ready` every 50 ms for at most `limit`.
async fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            bail!(
                "timed out after {:.1} s waiting for {what}",
                limit.as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Where a seek to `target` must fetch from in `file`, by caudal_media's
/// own reading of it: the remux plan's fragment that holds the target
/// (what the player appends: it starts at the video keyframe at or before
/// the target), from the first byte its samples occupy (the keyframe, or
/// an audio chunk of the same moment interleaved just before it). Also
/// returns the keyframe's time and offset, checked against the plan here.
fn seek_offset(file: &[u8], target: f64) -> Result<(u64, f64, u64)> {
    let mp4 = PlainMp4::read(&mut media::InMemory(file)).context("reading the plain MP4")?;
    let remux = Remux::new(mp4.movie.clone()).map_err(|e| anyhow!("remux: {e}"))?;
    let video = remux
        .tracks()
        .next()
        .filter(|t| t.kind == caudal_media::index::TrackKind::Video)
        .ok_or_else(|| anyhow!("the plain MP4 has no video track"))?;
    let scale = f64::from(video.timescale);
    let shift = video.edit.media_time as f64 / scale;
    let shown = |s: &caudal_media::mp4::samples::Sample| {
        (s.decode_time as f64 + f64::from(s.composition_offset)) / scale - shift
    };
    let keyframe = video
        .samples
        .iter()
        .filter(|s| s.is_sync() && shown(s) <= target + 1e-6)
        .max_by(|a, b| shown(a).total_cmp(&shown(b)))
        .ok_or_else(|| anyhow!("no keyframe at or before {target} s"))?;
    let plan = remux.plan(PlanOptions::default());
    let fragment = plan
        .iter()
        .find(|f| f.start <= target && target < f.end)
        .ok_or_else(|| anyhow!("no planned fragment holds {target} s"))?;
    ensure!(
        (fragment.start - shown(keyframe)).abs() < 0.001
            && fragment.span.contains(&keyframe.offset),
        "the fragment holding {target} s ({fragment:?}) does not start at the keyframe before \
         it ({keyframe:?}, shown at {} s)",
        shown(keyframe)
    );
    Ok((fragment.span.start, shown(keyframe), keyframe.offset))
}

/// A plain faststart MP4 (the sample three times over, 60 s, 4.5 MB: its
/// very GOPs, a keyframe every 2 s), paused with a 4 s goal on a 3 Mbit/s
/// link, is seeked to 41.3 s: the first request for the file after the
/// seek starts at the fragment of the keyframe at 40 s, as the sample
/// tables place it, and playback goes on from there. The target lies
/// megabytes past what was fetched, beyond the 1 MiB within which the
/// policy may let the current run reach it instead of starting a new one.
#[test]
fn a_seek_in_a_plain_mp4_starts_at_the_keyframe_offset() {
    let name = "a_seek_in_a_plain_mp4_starts_at_the_keyframe_offset";
    browser_test(name, secs(90.0), |browser| async move {
        let Some(plain) = media::plain_faststart_copy(MP4, 3)? else {
            skip::missing_tool(name, "ffmpeg is not installed (it makes the plain MP4)");
            return Ok(());
        };
        let target = 41.3;
        let (expected, keyframe_at, keyframe_offset) = seek_offset(&plain, target)?;
        let file = "plain.mp4";
        let media = media::temp_media(&[(file, plain)])?;
        let mut stage = Stage::with_media(media).await?;
        stage
            .add_link(LinkConfig {
                trace: vec![(0.0, 3_000_000)],
                rtt: Duration::from_millis(20),
            })
            .await?;
        let link = stage.link()?;
        let path = format!("/media/{file}");
        let page = stage.open_through_link(&browser, &[]).await?;
        page.attach(&stage.linked_media_url(file)?, json!({ "goal": 4 }))
            .await?;
        page.wait_until(
            "the first seconds buffered",
            secs(30.0),
            "v.buffered.length > 0 && v.buffered.end(0) >= 2",
        )
        .await?;
        // Paused: fetching stops at the goal. Wait for the link to go quiet.
        let mut last = (link.bytes_down(), Instant::now());
        let deadline = Instant::now() + secs(30.0);
        while last.1.elapsed() < secs(1.5) {
            ensure!(
                Instant::now() < deadline,
                "the paused player kept fetching for 30 s{}",
                page.diagnostics().await
            );
            tokio::time::sleep(secs(0.1)).await;
            let now = link.bytes_down();
            if now != last.0 {
                last = (now, Instant::now());
            }
        }
        let before: Vec<Request> = link
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect();
        let reached = before
            .iter()
            .filter_map(|r| Some(r.range_start()? + r.bytes_down))
            .max()
            .unwrap_or(0);
        ensure!(
            reached + (1 << 20) < expected,
            "before the seek the player had already fetched up to byte {reached}, past the \
             seek's fragment at {expected} less 1 MiB: nothing to test"
        );
        let estimate = page.stats().await?.get("throughput").cloned();
        page.run(&format!("v.currentTime = {target};")).await?;
        let mut after: Vec<Request> = Vec::new();
        wait_for(secs(10.0), "a request for the file after the seek", || {
            after = link
                .requests()
                .into_iter()
                .filter(|r| r.path == path)
                .skip(before.len())
                .collect();
            !after.is_empty()
        })
        .await?;
        let first = &after[0];
        let start = first.range_start();
        if caudal_tests::verbose() {
            caudal_tests::say(&format!(
                "  seek to {target} s: keyframe at {keyframe_at:.3} s, byte {keyframe_offset}; \
                 fragment from byte {expected}; estimate {estimate:?}; first request {:?}",
                first.range
            ));
        }
        ensure!(
            start == Some(expected),
            "the first request after seeking to {target} s asks for {:?} (starting at {start:?}); \
             want the start of the fragment of the keyframe at {keyframe_at:.3} s (at byte \
             {keyframe_offset}): byte {expected} (the player's estimate of the 3 Mbit/s link \
             at the seek: {estimate:?} bit/s)\n  before: {before:#?}\n  after: {after:#?}",
            first.range
        );
        page.play().await?;
        page.wait_until(
            &format!("playback past {:.1} s", target + 1.0),
            secs(20.0),
            &format!("v.currentTime > {}", target + 1.0),
        )
        .await?;
        let errors: Vec<Value> = page
            .events()
            .await?
            .into_iter()
            .filter(|e| e.kind == "error")
            .map(|e| e.detail)
            .collect();
        ensure!(errors.is_empty(), "caudal:error: {errors:?}");
        Ok(())
    });
}
