//! Plain MP4s (and M4A) play under Caudal by remuxing in the player: each
//! file of the remux corpus plays through MSE (not the native fallback),
//! its duration matches the browser's native playback of the same file
//! within one frame, its first frame is presented at the same media time as
//! natively (edit lists, composition offsets), and a seek lands within one
//! GOP and plays on.

use anyhow::{Context, Result, ensure};
use caudal_tests::*;
use serde_json::{Value, json};

/// The corpus (media/tests/fixtures/remux, made by its make.sh): name, frame
/// duration (the tolerance), GOP length in seconds.
const CORPUS: &[(&str, f64, f64)] = &[
    ("bframes.mp4", 1.0 / 25.0, 1.0),
    ("no-bframes.mp4", 1.0 / 25.0, 1.0),
    ("moov-end.mp4", 1.0 / 25.0, 1.0),
    ("audio.m4a", 1024.0 / 44_100.0, 1.0),
    ("ntsc-90k.mp4", 1001.0 / 30_000.0, 3.0),
    ("edit-cut.mp4", 1.0 / 25.0, 1.0),
    ("co64.mp4", 1.0 / 25.0, 1.0),
    // MP3: native playback trims the LAME tag's encoder delay and padding
    // (4.000 s for these 4.049 s of frames); so does Caudal (gapless window).
    ("cbr-info.mp3", 1152.0 / 44_100.0, 0.1),
    ("vbr-xing.mp3", 1152.0 / 44_100.0, 0.1),
    ("id3-cbr.mp3", 1152.0 / 44_100.0, 0.1),
];

fn corpus_file(name: &str) -> Result<Vec<u8>> {
    let folder = if name.ends_with(".mp3") {
        "mp3"
    } else {
        "remux"
    };
    let path = format!(
        "{}/../media/tests/fixtures/{folder}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    Ok(std::fs::read(path)?)
}

/// What the browser's own `<video src>` does with `url`: its duration, and
/// (for video) the first frames it presents when played.
struct Native {
    duration: f64,
    frames: Vec<Frame>,
}

/// A presented frame: its media time and its pixels (RGBA).
#[derive(serde::Deserialize)]
struct Frame {
    t: f64,
    px: Vec<u8>,
}

/// Mean absolute difference of two frames' pixel bytes (infinite when
/// their sizes differ). The same frame through `<video src>` and through
/// MSE measures about 5.3 here (the two paths convert colours a little
/// differently); neighbouring frames of these test sources 7.8 or more.
fn distance(a: &Frame, b: &Frame) -> f64 {
    if a.px.len() != b.px.len() || a.px.is_empty() {
        return f64::INFINITY;
    }
    a.px.iter()
        .zip(&b.px)
        .map(|(p, q)| f64::from(p.abs_diff(*q)))
        .sum::<f64>()
        / a.px.len() as f64
}

/// Records the first `n` frames `video` presents into `window[slot]`, by
/// `requestVideoFrameCallback`: media time and pixels (drawn at the video's
/// size; the native element is CORS-enabled so its canvas is readable).
fn record_frames(video: &str, slot: &str, n: usize) -> String {
    format!(
        "window.{slot} = []; if ({video}.requestVideoFrameCallback) (function () {{ \
           function grab(now, m) {{ \
             var c = document.createElement('canvas'); c.width = m.width; c.height = m.height; \
             var g = c.getContext('2d', {{ willReadFrequently: true }}); g.drawImage({video}, 0, 0); \
             var px = []; \
             try {{ px = Array.from(g.getImageData(0, 0, c.width, c.height).data); }} \
             catch (e) {{ window.__console.push({{ level: 'error', text: 'frame pixels: ' + e }}); }} \
             window.{slot}.push({{ t: m.mediaTime, px: px }}); \
             if (window.{slot}.length < {n}) {video}.requestVideoFrameCallback(grab); \
           }} \
           {video}.requestVideoFrameCallback(grab); }})();"
    )
}

async fn frames(page: &Page, what: &str, slot: &str, n: usize) -> Result<Vec<Frame>> {
    page.wait_until(what, secs(10.0), &format!("window.{slot}.length >= {n}"))
        .await?;
    page.js_as(&format!("return window.{slot};"), vec![]).await
}

async fn native_reference(page: &Page, url: &str, video: bool) -> Result<Native> {
    // A quarter speed, so that consecutive frames are each presented.
    page.run(&format!(
        "var n = document.createElement('video'); n.muted = true; n.preload = 'auto'; \
         n.crossOrigin = 'anonymous'; window.__native = n; {} \
         n.src = {url:?}; document.body.appendChild(n); n.playbackRate = 0.25; n.play();",
        record_frames("n", "__nativeFrames", 2)
    ))
    .await?;
    let value = page
        .wait_until(
            "the native element to know its duration",
            secs(10.0),
            "isFinite(window.__native.duration) && window.__native.duration",
        )
        .await?;
    let duration = value
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("native duration {value}"))?;
    let frames = if video {
        frames(
            page,
            "the native element's first frames",
            "__nativeFrames",
            2,
        )
        .await?
    } else {
        Vec::new()
    };
    page.run(
        "window.__native.pause(); window.__native.remove(); \
         window.__native.removeAttribute('src'); window.__native.load();",
    )
    .await?;
    Ok(Native { duration, frames })
}

/// The first picture native playback shows is among the first two Caudal
/// shows, at the same media time within a frame. (Two, not one: where a
/// cut falls inside a frame, the edit list puts that frame on screen at 0
/// and Caudal shows it from 0; Chromium's own playback skips it and shows
/// the next frame at 0.)
fn same_first_picture(name: &str, native: &[Frame], ours: &[Frame], frame: f64) -> Result<()> {
    let [first, next, ..] = native else {
        anyhow::bail!("{name}: native playback presented {} frames", native.len());
    };
    let found = ours
        .iter()
        .take(2)
        .find(|o| distance(o, first) < 6.5 && distance(o, first) < distance(o, next));
    let report: Vec<String> = ours
        .iter()
        .map(|o| {
            format!(
                "{:.4} s: {:.1} / {:.1}",
                o.t,
                distance(o, first),
                distance(o, next)
            )
        })
        .collect();
    let Some(found) = found else {
        anyhow::bail!(
            "{name}: native playback's first picture ({:.4} s) is not among Caudal's first two \
             (distance to it / to the next: {report:?})",
            first.t
        );
    };
    ensure!(
        (found.t - first.t).abs() <= frame,
        "{name}: native playback's first picture at {:.4} s is at {:.4} s under Caudal",
        first.t,
        found.t
    );
    say(&format!(
        "  {name}: first picture at {:.4} s natively, {:.4} s under Caudal",
        first.t, found.t
    ));
    Ok(())
}

async fn plays_remuxed(browser: &Browser, name: &'static str, frame: f64, gop: f64) -> Result<()> {
    let stage = Stage::with_media(media::temp_media(&[(name, corpus_file(name)?)])?).await?;
    let page = stage.open(browser, &[]).await?;
    let url = stage.media_url(name);
    let video_file = !name.ends_with(".m4a") && !name.ends_with(".mp3");
    let reference = native_reference(&page, &url, video_file).await?;
    let native = reference.duration;
    page.run(&record_frames("v", "__ourFrames", 2)).await?;
    page.attach(&url, json!({})).await?;
    if video_file {
        page.run("v.playbackRate = 0.25;").await?;
    }
    page.play().await?;
    if video_file {
        // Edit lists and composition offsets decide which frame comes
        // first and when.
        let ours = frames(&page, "Caudal's first frames", "__ourFrames", 2).await?;
        same_first_picture(name, &reference.frames, &ours, frame)?;
        page.run("v.playbackRate = 1;").await?;
    }
    page.wait_until(
        &format!("{name} to play to the end"),
        secs(20.0),
        "v.ended || P.stats().state === 'ended'",
    )
    .await?;
    let stats = page.stats().await?;
    ensure!(
        stats.str("mode")? == "mse",
        "{name} played natively: {}",
        stats.0
    );
    // Plain MP4s need the remuxer module, loaded for them; MP3 does not.
    let remuxer = page.remuxer_loaded().await?;
    let needs_remuxer = !name.ends_with(".mp3");
    ensure!(
        remuxer == needs_remuxer,
        "{name}: remuxer module loaded: {remuxer}"
    );
    let video = page.video().await?;
    let ours = video.duration.unwrap_or(f64::NAN);
    ensure!(
        (ours - native).abs() <= frame + 1e-3,
        "{name}: duration {ours} under Caudal, {native} natively (one frame is {frame:.4} s){}",
        page.diagnostics().await
    );
    // Seek back to 60 %: it lands within one GOP of the target and plays on.
    let target = 0.6 * native;
    let landed = page
        .js(
            "v.currentTime = arguments[0]; return v.currentTime;",
            vec![json!(target)],
        )
        .await?
        .as_f64()
        .unwrap_or(-1.0);
    ensure!(
        (landed - target).abs() <= gop + 0.05,
        "{name}: seek to {target} landed at {landed}"
    );
    page.play().await?;
    page.wait_until(
        &format!("{name} to play on after the seek"),
        secs(10.0),
        &format!(
            "v.ended || v.currentTime > {}",
            (target + 0.3).min(native - 0.05)
        ),
    )
    .await?;
    let events = page.events().await?;
    let errors: Vec<&Value> = events
        .iter()
        .filter(|e| e.kind == "error")
        .map(|e| &e.detail)
        .collect();
    ensure!(errors.is_empty(), "{name}: caudal:error {errors:?}");
    ensure!(
        page.panics().await?.is_empty(),
        "{name}: the player panicked"
    );
    Ok(())
}

#[test]
fn plain_mp4_corpus_plays_remuxed_with_native_duration_and_seeks() {
    browser_test(
        "plain_mp4_corpus_plays_remuxed_with_native_duration_and_seeks",
        secs(120.0),
        |browser| async move {
            for &(name, frame, gop) in CORPUS {
                // The first-picture check reads pixels with
                // `requestVideoFrameCallback` + `drawImage`, which now and
                // then draws a frame not yet decoded (seen about one run in
                // five on this machine, a picture far from both of native's
                // first two): that one check gets a second try on a fresh
                // page, said in the output; any other failure, or the same
                // one twice, fails the test.
                match plays_remuxed(&browser, name, frame, gop).await {
                    Err(first) if first.to_string().contains("first picture") => {
                        say(&format!("  {name}: retrying once after: {first:#}"));
                        plays_remuxed(&browser, name, frame, gop)
                            .await
                            .with_context(|| format!("{name}: failed twice; first: {first:#}"))?;
                    }
                    other => other?,
                }
                say(&format!("  {name}: remuxed, duration and seek ok"));
            }
            Ok(())
        },
    );
}

/// The remuxer is a module of its own, loaded for plain MP4s: when it
/// cannot be loaded (here: missing from the site), the player does not
/// hang: it hands the file to the element, which plays it, and says why.
#[test]
fn a_remuxer_module_that_cannot_load_hands_the_file_to_the_element() {
    browser_test(
        "a_remuxer_module_that_cannot_load_hands_the_file_to_the_element",
        secs(60.0),
        |browser| async move {
            let name = "bframes.mp4";
            // The site without pkg/caudal_remux*.
            let www = tempfile::Builder::new().prefix("caudal-www-").tempdir()?;
            let site = caudal_tests::server::www_dir();
            std::fs::copy(site.join("player.js"), www.path().join("player.js"))?;
            std::fs::create_dir(www.path().join("pkg"))?;
            for entry in std::fs::read_dir(site.join("pkg"))? {
                let entry = entry?;
                let file = entry.file_name();
                if !file.to_string_lossy().starts_with("caudal_remux") {
                    std::fs::copy(entry.path(), www.path().join("pkg").join(&file))?;
                }
            }
            let media = media::temp_media(&[(name, corpus_file(name)?)])?;
            let stage = Stage::with_media_and_www(media, www).await?;
            let page = stage.open(&browser, &[]).await?;
            page.attach(&stage.media_url(name), json!({})).await?;
            page.play().await?;
            page.wait_until(
                "the element to play the file itself",
                secs(15.0),
                "v.currentTime > 0.5",
            )
            .await?;
            let stats = page.stats().await?;
            ensure!(
                stats.str("mode")? == "native"
                    && stats.str("reason")?.contains("remuxer module did not load"),
                "want native playback that says the remuxer did not load: {}",
                stats.0
            );
            let errors: Vec<_> = page
                .events()
                .await?
                .into_iter()
                .filter(|e| e.kind == "error")
                .collect();
            ensure!(
                errors.is_empty(),
                "the element plays it: no error, got {errors:?}"
            );
            ensure!(page.panics().await?.is_empty(), "the player panicked");
            Ok(())
        },
    );
}

/// MP3 has no timestamps: after a seek outside the buffer the player must
/// tell MSE where the new run's frames belong, or they land at the wrong time
/// and the target is never buffered.
#[test]
fn mp3_seek_outside_the_buffer_plays_at_the_target() {
    browser_test(
        "mp3_seek_outside_the_buffer_plays_at_the_target",
        secs(60.0),
        |browser| async move {
            let name = "long-16k.mp3";
            let mut stage =
                Stage::with_media(media::temp_media(&[(name, corpus_file(name)?)])?).await?;
            // A slow link (about twice the bit rate): the first request is
            // still running when the seek comes, so the target is not buffered.
            stage.add_proxy().await?.set_rate(Some(32_000));
            let page = stage.open(&browser, &[]).await?;
            page.attach(&stage.proxied_media_url(name)?, json!({ "goal": 4 }))
                .await?;
            page.play().await?;
            page.wait_until("playback to start", secs(10.0), "v.currentTime > 0.5")
                .await?;
            let before = page.video().await?;
            let buffered_end = before.buffered.iter().map(|r| r.1).fold(0.0, f64::max);
            ensure!(
                buffered_end < 20.0,
                "the seek target is already buffered: {:?}",
                before.buffered
            );
            page.run("v.currentTime = 100;").await?;
            page.wait_until(
                "playback past 101 s after seeking to 100 s",
                secs(15.0),
                "v.currentTime > 101",
            )
            .await?;
            let video = page.video().await?;
            ensure!(
                video.buffered.iter().any(|r| r.0 <= 100.1 && r.1 >= 101.0),
                "the media at the target is buffered at the target: {:?}",
                video.buffered
            );
            ensure!(page.stats().await?.str("mode")? == "mse", "played natively");
            ensure!(page.panics().await?.is_empty(), "the player panicked");
            Ok(())
        },
    );
}
