//! Live streams in the browser: ffmpeg (started here, a lavfi test source
//! at real-time speed) publishes to `caudal serve`, and other players take
//! the same stream: Caudal's own player on `/live/NAME`, and hls.js on its
//! LL-HLS playlist.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use caudal_tests::{Stage, browser_test, npm, secs, skip};
use serde_json::Value;

const HLSJS: &str = "hls.js@1.5.20";

/// An ffmpeg publishing a live test picture and tone to `url` for `seconds`
/// (H.264 zerolatency, 1 s GOPs, a fragment per frame, `prft` stamps).
/// Stopped by its pid when dropped.
struct Publisher(Child);

impl Publisher {
    fn start(url: &str, seconds: u32) -> Result<Option<Publisher>> {
        Self::start_as(url, seconds, false)
    }

    /// The same picture and tone as a live WebM (`-f webm -live 1`:
    /// VP8 realtime, Opus, 1 s GOPs, 200 ms clusters).
    fn start_webm(url: &str, seconds: u32) -> Result<Option<Publisher>> {
        Self::start_as(url, seconds, true)
    }

    fn start_as(url: &str, seconds: u32, webm: bool) -> Result<Option<Publisher>> {
        let found = Command::new("ffmpeg")
            .arg("-version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Ok(None);
        }
        let mut command = Command::new("ffmpeg");
        command
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args(["-t", &seconds.to_string()])
            .args(["-g", "25", "-keyint_min", "25"]);
        if webm {
            command
                .args(["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"])
                .args(["-b:v", "300k", "-c:a", "libopus", "-b:a", "64k"])
                .args(["-f", "webm", "-live", "1", "-cluster_time_limit", "200"]);
        } else {
            command
                .args([
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-tune",
                    "zerolatency",
                ])
                .args([
                    "-sc_threshold",
                    "0",
                    "-b:v",
                    "300k",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                ])
                .args([
                    "-f",
                    "mp4",
                    "-movflags",
                    "empty_moov+default_base_moof+frag_every_frame",
                ])
                .args(["-write_prft", "wallclock"]);
        }
        let child = command
            .args(["-method", "PUT", url])
            .stdout(Stdio::null())
            .spawn()
            .context("starting ffmpeg")?;
        Ok(Some(Publisher(child)))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `url` until it answers 200, at most `limit`.
async fn wait_for(url: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let answer = reqwest::get(url).await;
        if answer.as_ref().is_ok_and(|r| r.status() == 200) {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{url} never answered 200: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// hls.js in low-latency mode plays the LL-HLS playlist Caudal makes of an
/// ffmpeg stream: it starts, keeps playing, and stays within a few seconds
/// of the live edge.
#[test]
fn hlsjs_plays_the_ll_hls_playlist_of_an_ffmpeg_stream() {
    let name = "hlsjs_plays_the_ll_hls_playlist_of_an_ffmpeg_stream";
    browser_test(name, secs(90.0), |browser| async move {
        let npm_dir = match npm::prepared("hlsjs", &[HLSJS], None) {
            Ok(dir) => dir,
            Err(why) => {
                skip::missing_tool("hls.js", &why);
                return Ok(());
            }
        };
        let dir = tempfile::tempdir()?;
        std::fs::copy(
            npm_dir.join("node_modules/hls.js/dist/hls.min.js"),
            dir.path().join("hls.min.js"),
        )?;
        let stage = Stage::with_media(dir).await?;
        let live = |path: &str| stage.media_url("x").replace("/media/x", path);
        let Some(_publisher) = Publisher::start(&live("/live/cam"), 60)? else {
            skip::missing_tool(name, "ffmpeg is not installed (it publishes the stream)");
            return Ok(());
        };
        wait_for(&live("/live/cam.m3u8"), secs(15.0)).await?;
        let page = stage.open(&browser, &[("muted", "")]).await?;
        page.load_hlsjs(&stage.media_url("hls.min.js")).await?;
        page.js(
            "var hls = new Hls({ lowLatencyMode: true }); window.__hls = hls; \
             hls.loadSource(arguments[0]); hls.attachMedia(v); \
             v.play().catch(function () {}); return true;",
            vec![Value::from(live("/live/cam.m3u8"))],
        )
        .await?;
        let started = Instant::now();
        page.wait_until("hls.js to start", secs(20.0), "v.currentTime > 0.5")
            .await?;
        let startup = started.elapsed();
        let first = page.js("return v.currentTime;", vec![]).await?;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let later = page.js("return v.currentTime;", vec![]).await?;
        let latency = page
            .js("return window.__hls.latency;", vec![])
            .await?
            .as_f64()
            .unwrap_or(f64::NAN);
        let (first, later) = (first.as_f64().unwrap_or(0.0), later.as_f64().unwrap_or(0.0));
        caudal_tests::say(&format!(
            "hls.js on LL-HLS: started in {startup:?}, played {:.2} s in 4 s, latency {latency:.2} s",
            later - first
        ));
        ensure!(later - first > 3.0, "hls.js stalled: {first} -> {later}");
        ensure!(latency < 5.0, "hls.js is {latency} s behind the live edge");
        Ok(())
    });
}

/// The `q`-quantile of `values` (nearest rank).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Caudal's player on `/live/NAME` of an ffmpeg stream already running:
/// a viewer who joins mid-stream sees a frame within one GOP (1 s), and
/// then watches under a second behind the moment each frame was made
/// (the `prft` stamps), at p95 — with the duration Infinity, a live
/// seekable window and no error.
#[test]
fn caudal_joins_a_live_stream_within_a_gop_and_plays_it_under_a_second_behind() {
    let name = "caudal_joins_a_live_stream_within_a_gop_and_plays_it_under_a_second_behind";
    browser_test(name, secs(90.0), |browser| async move {
        let stage = Stage::with_media(tempfile::tempdir()?).await?;
        let live = |path: &str| stage.media_url("x").replace("/media/x", path);
        let Some(_publisher) = Publisher::start(&live("/live/cam"), 60)? else {
            skip::missing_tool(name, "ffmpeg is not installed (it publishes the stream)");
            return Ok(());
        };
        wait_for(&live("/live/cam.m3u8"), secs(15.0)).await?;
        // Well into the stream: the viewer joins mid-GOP.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let page = stage
            .open(&browser, &[("muted", ""), ("autoplay", "")])
            .await?;
        page.wait_for_caudal().await?;
        page.js(
            "window.__firstFrame = null; window.__attachAt = performance.now(); \
             v.requestVideoFrameCallback(function () { window.__firstFrame = performance.now(); }); \
             Caudal.attach(v, arguments[0], {}).then(function (p) { window.__player = p; }); return true;",
            vec![Value::from(live("/live/cam"))],
        )
        .await?;
        page.wait_until(
            "the first frame",
            secs(10.0),
            "window.__firstFrame !== null",
        )
        .await?;
        let first_frame = page
            .js("return window.__firstFrame - window.__attachAt;", vec![])
            .await?
            .as_f64()
            .unwrap_or(f64::NAN);
        let mut latencies = Vec::new();
        for _ in 0..48 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let stats = page.stats().await?;
            if let Some(latency) = stats.get("latency").and_then(Value::as_f64) {
                latencies.push(latency);
            }
        }
        let stats = page.stats().await?;
        let video = page.video().await?;
        let seekable = page
            .js(
                "return v.seekable.length ? v.seekable.end(0) - v.seekable.start(0) : 0;",
                vec![],
            )
            .await?
            .as_f64()
            .unwrap_or(0.0);
        let duration = page.js("return String(v.duration);", vec![]).await?;
        let (p50, p95) = (quantile(&latencies, 0.5), quantile(&latencies, 0.95));
        caudal_tests::say(&format!(
            "Caudal on /live: first frame {first_frame:.0} ms after attach; latency p50 {p50:.3} s, \
             p95 {p95:.3} s over {} samples; stalls {}, jumps {}, rate {}, seekable {seekable:.1} s",
            latencies.len(),
            stats.num("stalls")?,
            stats.num("jumps")?,
            stats.num("rate")?,
        ));
        page.expect_no_errors().await?;
        // The player told the server its latency (CMCD v2 reports).
        let metrics = reqwest::get(live("/metrics")).await?.text().await?;
        let reported = metrics
            .lines()
            .find_map(|l| l.strip_prefix("caudal_cmcd_live_latency_seconds_count "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        ensure!(reported >= 1, "no CMCD latency report reached /metrics");
        // player.d.ts declares every key of the live stats.
        let dts = std::fs::read_to_string(caudal_tests::server::www_dir().join("player.d.ts"))?;
        let declared = caudal_tests::dts::interface_keys(&dts, "CaudalLiveStats")?;
        let shown = page.js("return Object.keys(P.stats());", vec![]).await?;
        let undeclared: Vec<&Value> = shown
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| !k.as_str().is_some_and(|k| declared.iter().any(|d| d == k)))
            .collect();
        ensure!(
            undeclared.is_empty(),
            "player.d.ts lacks CaudalLiveStats.{undeclared:?}"
        );
        ensure!(
            latencies.len() >= 40,
            "stats().latency missing: {latencies:?}"
        );
        ensure!(
            first_frame < 1_000.0,
            "the first frame took {first_frame} ms (GOP: 1 s)"
        );
        ensure!(p95 < 1.0, "latency p95 {p95} s (p50 {p50} s)");
        ensure!(
            stats.str("state")? == "playing",
            "state {:?}",
            stats.str("state")
        );
        ensure!(!video.paused, "the video is paused");
        ensure!(duration == "Infinity", "duration {duration}");
        ensure!(seekable > 1.0, "seekable window {seekable} s");
        // The demo page lists the stream beside the files and plays it,
        // its latency shown live.
        let demo = live("/");
        browser.goto(&demo).await?;
        let page = caudal_tests::page::Page::current(&browser, &demo);
        page.wait_until(
            "the stream in the demo page's live list",
            secs(15.0),
            "document.querySelectorAll('#live button').length === 1 && \
             document.getElementById('live').innerText.indexOf('cam') >= 0",
        )
        .await?;
        page.run("document.querySelector('#live button').click();")
            .await?;
        page.wait_until(
            "the demo page to show the latency",
            secs(15.0),
            "document.getElementById('stats').innerText.indexOf('behind live') >= 0",
        )
        .await?;
        Ok(())
    });
}

/// The publisher killed mid-stream and a new one started on the same name:
/// the viewer's player rides it out on its own — one `caudal:stall`, no
/// error, and playback moving again on the new publisher's media.
#[test]
fn caudal_resumes_on_its_own_after_the_publisher_restarts_with_one_stall() {
    let name = "caudal_resumes_on_its_own_after_the_publisher_restarts_with_one_stall";
    browser_test(name, secs(120.0), |browser| async move {
        let stage = Stage::with_media(tempfile::tempdir()?).await?;
        let live = |path: &str| stage.media_url("x").replace("/media/x", path);
        let Some(first) = Publisher::start(&live("/live/cam"), 60)? else {
            skip::missing_tool(name, "ffmpeg is not installed (it publishes the stream)");
            return Ok(());
        };
        wait_for(&live("/live/cam.m3u8"), secs(15.0)).await?;
        let page = stage
            .open(&browser, &[("muted", ""), ("autoplay", "")])
            .await?;
        page.attach(&live("/live/cam"), serde_json::json!({}))
            .await?;
        page.wait_until("playback", secs(15.0), "v.currentTime > 1.5")
            .await?;
        drop(first);
        page.wait_until(
            "the stall once the publisher is gone",
            secs(10.0),
            "(window.__events || []).some(function (e) { return e.type === 'stall'; })",
        )
        .await?;
        let stalled_at = page
            .js("return v.currentTime;", vec![])
            .await?
            .as_f64()
            .unwrap_or(0.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(_second) = Publisher::start(&live("/live/cam"), 60)? else {
            anyhow::bail!("ffmpeg vanished");
        };
        page.wait_until(
            "playback on the new publisher's media",
            secs(20.0),
            &format!("v.currentTime > {} && !v.paused", stalled_at + 2.0),
        )
        .await?;
        let stats = page.stats().await?;
        let stalls = page
            .events()
            .await?
            .iter()
            .filter(|e| e.kind == "stall")
            .count();
        caudal_tests::say(&format!(
            "publisher restart: stalled at {stalled_at:.2} s, {} ms stalled, stall events {stalls}, \
             connections {}, rebased {}, latency {:?}",
            stats.num("stallMs")?,
            stats.num("connections")?,
            stats.num("rebased")?,
            stats.get("latency"),
        ));
        page.expect_no_errors().await?;
        ensure!(stalls == 1, "{stalls} caudal:stall events");
        ensure!(
            stats.str("state")? == "playing",
            "state {:?}",
            stats.str("state")
        );
        Ok(())
    });
}

/// A live WebM (ffmpeg `-f webm -live 1`, VP8 + Opus) published to the same
/// route plays in Caudal's player too: it starts within a GOP of attach,
/// keeps playing near the live edge (WebM has no wall clock: the distance
/// is the buffer ahead), with no error.
#[test]
fn caudal_plays_a_live_webm_stream() {
    let name = "caudal_plays_a_live_webm_stream";
    browser_test(name, secs(90.0), |browser| async move {
        let stage = Stage::with_media(tempfile::tempdir()?).await?;
        let live = |path: &str| stage.media_url("x").replace("/media/x", path);
        let Some(_publisher) = Publisher::start_webm(&live("/live/vp8"), 60)? else {
            skip::missing_tool(name, "ffmpeg is not installed (it publishes the stream)");
            return Ok(());
        };
        wait_for(&live("/live/vp8"), secs(15.0)).await.ok();
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let page = stage
            .open(&browser, &[("muted", ""), ("autoplay", "")])
            .await?;
        page.attach(&live("/live/vp8"), serde_json::json!({}))
            .await?;
        page.wait_until("playback", secs(10.0), "v.currentTime > 0 && !v.paused")
            .await?;
        let first = page
            .js("return v.currentTime;", vec![])
            .await?
            .as_f64()
            .unwrap_or(0.0);
        tokio::time::sleep(Duration::from_secs(4)).await;
        let later = page
            .js("return v.currentTime;", vec![])
            .await?
            .as_f64()
            .unwrap_or(0.0);
        let stats = page.stats().await?;
        caudal_tests::say(&format!(
            "Caudal on a live WebM: played {:.2} s in 4 s, {:.2} s buffered ahead, stalls {}, state {}",
            later - first,
            stats.num("bufferAhead")?,
            stats.num("stalls")?,
            stats.str("state")?,
        ));
        page.expect_no_errors().await?;
        ensure!(later - first > 3.0, "stalled: {first} -> {later}");
        ensure!(
            stats.num("bufferAhead")? < 2.0,
            "{} s behind the edge",
            stats.num("bufferAhead")?
        );
        Ok(())
    });
}
