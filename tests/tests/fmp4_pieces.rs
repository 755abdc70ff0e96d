//! In Chromium: a fragmented MP4's first fragment after a start or a seek
//! reaches the SourceBuffer as small fragments (`mp4::rechunk`), and the
//! file still plays through them.
//!
//! The page records every `SourceBuffer.appendBuffer` by wrapping the
//! prototype's method before the player loads: for an append that starts
//! with a `moof`, the length its `moof` and `mdat` headers declare. That,
//! not the append's length, tells a piece from the file's own fragment
//! (whose bytes may be appended in network-sized chunks).

use anyhow::{Result, ensure};
use caudal_tests::media::MP4;
use caudal_tests::{Page, Stage, browser_test, secs};
use serde_json::{Value, json};

/// Records each append's first box type and the `moof` + `mdat` length its
/// headers declare (-1 when the `mdat` header is not in the append) in
/// `window.__appends`.
const RECORD_APPENDS: &str = "window.__appends = []; \
     var append = SourceBuffer.prototype.appendBuffer; \
     var be32 = function (u, i) { \
       return i + 4 <= u.length ? ((u[i] << 24) >>> 0) + (u[i + 1] << 16) + (u[i + 2] << 8) + u[i + 3] : -1; \
     }; \
     SourceBuffer.prototype.appendBuffer = function (d) { \
       var u = d instanceof ArrayBuffer ? new Uint8Array(d) \
             : new Uint8Array(d.buffer, d.byteOffset, d.byteLength); \
       var kind = u.length >= 8 ? String.fromCharCode(u[4], u[5], u[6], u[7]) : ''; \
       var moof = be32(u, 0), mdat = be32(u, moof); \
       window.__appends.push({ kind: kind, len: mdat > 0 ? moof + mdat : -1 }); \
       return append.call(this, d); \
     };";

/// For the appends that start with a `moof`, in order, the fragment length
/// their headers declare (`u64::MAX`: not known from the append).
async fn moof_appends(page: &Page) -> Result<Vec<u64>> {
    let appends = page.js("return window.__appends;", vec![]).await?;
    Ok(appends
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x.get("kind").and_then(Value::as_str) == Some("moof"))
                .map(|x| x.get("len").and_then(Value::as_u64).unwrap_or(u64::MAX))
                .collect()
        })
        .unwrap_or_default())
}

/// Each `moof` + `mdat` of the sample, in bytes.
fn fragment_sizes(file: &[u8]) -> Vec<u64> {
    let mut sizes = Vec::new();
    let mut at = 0usize;
    let mut moof = None;
    while let Some(head) = file.get(at..at + 8) {
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if size < 8 {
            break;
        }
        match &head[4..8] {
            b"moof" => moof = Some(size),
            b"mdat" => sizes.extend(moof.take().map(|m| (m + size) as u64)),
            _ => {}
        }
        at += size;
    }
    sizes
}

#[test]
fn fmp4_first_fragment_is_appended_in_small_pieces_at_start_and_after_a_seek() {
    browser_test(
        "fmp4_first_fragment_is_appended_in_small_pieces_at_start_and_after_a_seek",
        secs(60.0),
        |browser| async move {
            let fragments = fragment_sizes(&MP4.bytes()?);
            let smallest = fragments.iter().copied().min().unwrap_or(0);
            ensure!(
                fragments.len() > 5,
                "the sample has {} fragments",
                fragments.len()
            );
            let mut stage = Stage::start().await?;
            // Twice the media's rate: the seek target is not buffered yet,
            // so the seek starts a new run.
            let proxy = stage.add_proxy().await?;
            proxy.set_rate(Some(2 * MP4.bit_rate()?));
            let page = stage.open(&browser, &[]).await?;
            page.run(RECORD_APPENDS).await?;
            page.attach(&stage.proxied_media_url(MP4.name)?, json!({}))
                .await?;
            page.play().await?;
            page.wait_until("currentTime to pass 1 s", secs(20.0), "v.currentTime > 1")
                .await?;
            let start = moof_appends(&page).await?;
            let first = start.first().copied().unwrap_or(u64::MAX);
            ensure!(
                first.saturating_mul(3) < fragments[0],
                "the first appended fragment is {first} bytes, the file's first {}: appends {start:?}",
                fragments[0]
            );

            page.run("window.__appends = []; v.currentTime = 14.3;")
                .await?;
            page.wait_until("currentTime to pass 15 s", secs(20.0), "v.currentTime > 15")
                .await?;
            let seek = moof_appends(&page).await?;
            let first = seek.first().copied().unwrap_or(u64::MAX);
            ensure!(
                first.saturating_mul(3) < smallest,
                "after the seek the first appended fragment is {first} bytes, the file's \
                 smallest {smallest}: appends {seek:?}"
            );
            let panics = page.panics().await?;
            ensure!(panics.is_empty(), "the player panicked: {panics:?}");
            let events = page.events().await?;
            ensure!(
                events.iter().all(|e| e.kind != "error"),
                "caudal:error: {:?}{}",
                events
                    .iter()
                    .filter(|e| e.kind == "error")
                    .collect::<Vec<_>>(),
                page.diagnostics().await
            );
            Ok(())
        },
    );
}
