//! Live streams in the browser: ffmpeg (started here, a lavfi test source
//! at real-time speed) publishes to `caudal serve`, and other players take
//! the same stream: hls.js plays its LL-HLS playlist.

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
        let found = Command::new("ffmpeg")
            .arg("-version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Ok(None);
        }
        let child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args(["-t", &seconds.to_string()])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "zerolatency",
            ])
            .args([
                "-g",
                "25",
                "-keyint_min",
                "25",
                "-sc_threshold",
                "0",
                "-b:v",
                "300k",
            ])
            .args(["-c:a", "aac", "-b:a", "64k"])
            .args([
                "-f",
                "mp4",
                "-movflags",
                "empty_moov+default_base_moof+frag_every_frame",
            ])
            .args(["-write_prft", "wallclock", "-method", "PUT", url])
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
