//! One run: a fresh browser, a fresh link, one player, one scenario.
//!
//! A fresh Chromium per run (about a second to start) is the simplest honest
//! way to start each run with an empty HTTP cache and no warm connections:
//! cache-busting query strings would work for the native player and hls.js
//! but change what Caudal's player asks the server. The page and the player
//! libraries come straight from their servers; only the media (and the HLS
//! playlist) cross the shaped link, so the link's byte count is media.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::fmp4::FileLayout;
use super::page::{self, Snapshot};
use super::player::Player;
use super::scenario::{Scenario, Viewer};
use crate::browser::{Browser, BrowserPaths};
use crate::page::{Page, PageHost};
use crate::server::TestServer;
use crate::shaped_link::ShapedLink;

/// Everything shared by the runs: the media server, the page host, the file.
#[derive(Debug)]
pub struct Bench {
    pub server: TestServer,
    pub pages: PageHost,
    pub layout: FileLayout,
    /// Under `/media/` on the server.
    pub media_name: String,
    pub playlist_name: String,
    pub browser: BrowserPaths,
    /// Where each run's link log goes (`<scenario>-<player>-<n>.jsonl`).
    pub log_dir: PathBuf,
    /// `hls.min.js`'s name on the page host, when hls.js is benchmarked.
    pub hlsjs: Option<String>,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub ttff_ms: Option<f64>,
    pub first_paint_ms: Option<f64>,
    pub stalls: u32,
    pub stall_s: f64,
    pub seek_ms: Option<f64>,
    /// 10^6 bytes delivered by the link during the run (heads included).
    pub mb_fetched: f64,
    /// Fetched minus the bytes of what was played (init + played ranges).
    pub mb_wasted: f64,
    pub played: Vec<(f64, f64)>,
    pub position: f64,
    pub requests: usize,
    pub dropped_frames: Option<u64>,
    pub waiting_events: u32,
    pub stall_log: Vec<(f64, f64)>,
    /// Wall seconds the viewer watched.
    pub watched_s: f64,
    pub error: Option<String>,
}

/// How long to wait for the first frame before calling the run a failure
/// (the slowest scenario still starts within seconds).
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a seek may take before the run moves on without a seek time.
const SEEK_LIMIT: Duration = Duration::from_secs(20);

impl Bench {
    /// Runs `player` through `scenario` once; `n` numbers the log file.
    pub async fn run(&self, player: Player, scenario: Scenario, n: u32) -> Result<Measurement> {
        let library = match player {
            Player::Caudal => Some(self.server.url("/player.js")),
            Player::Native => None,
            Player::Hlsjs => Some(
                self.hlsjs
                    .clone()
                    .context("hls.js was not given (--hlsjs)")?,
            ),
        };
        let url = self.pages.write(&page::html(player, library.as_deref()))?;
        let browser = Browser::start(&self.browser).await?;
        let result = self.drive(&browser, &url, player, scenario, n).await;
        drop(browser);
        result
    }

    async fn drive(
        &self,
        browser: &Browser,
        url: &str,
        player: Player,
        scenario: Scenario,
        n: u32,
    ) -> Result<Measurement> {
        let page = Page::open(browser, url).await?;
        page.wait_until(
            &format!("{} to load", player.label()),
            Duration::from_secs(20),
            page::ready_expr(player),
        )
        .await?;
        // The link (and its trace clock) starts as the player gets the URL.
        let link =
            ShapedLink::start(self.server.addr(), scenario.link(self.layout.bit_rate())).await?;
        let media = match player {
            Player::Hlsjs => link.url(&format!("/media/{}", self.playlist_name)),
            Player::Caudal | Player::Native => link.url(&format!("/media/{}", self.media_name)),
        };
        let t0 = Instant::now();
        page.js(
            "return window.__qoe.start(arguments[0], arguments[1]);",
            vec![json!(player.id()), json!(media)],
        )
        .await?;
        let outcome = self.watch(&page, scenario, t0).await;
        // The viewer leaves: measure at that instant, stop the player, then
        // leave the page; bytes still in flight count as fetched.
        let snapshot: Snapshot = page.js_as("return window.__qoe.abandon();", vec![]).await?;
        let watched_s = t0.elapsed().as_secs_f64();
        browser.goto("about:blank").await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let fetched = link.bytes_down() as f64;
        let log_path = self
            .log_dir
            .join(format!("{}-{}-{n}.jsonl", scenario.name(), player.id()));
        std::fs::write(&log_path, link.log_jsonl())
            .with_context(|| format!("writing {}", log_path.display()))?;
        let requests = link
            .log()
            .iter()
            .filter(|e| matches!(e, crate::shaped_link::LogEntry::Request { .. }))
            .count();
        drop(link);
        let played = self.layout.bytes_played(&snapshot.played);
        let error = match (outcome, snapshot.error.clone()) {
            (Err(e), Some(page_error)) => Some(format!("{e:#}; page: {page_error}")),
            (Err(e), None) => Some(format!("{e:#}")),
            (Ok(()), page_error) => page_error,
        };
        Ok(Measurement {
            ttff_ms: snapshot.ttff_ms,
            first_paint_ms: snapshot.first_paint_ms,
            stalls: snapshot.stalls,
            stall_s: snapshot.stall_ms / 1e3,
            seek_ms: snapshot.seek_ms,
            mb_fetched: fetched / 1e6,
            mb_wasted: (fetched - played) / 1e6,
            played: snapshot.played,
            position: snapshot.current_time,
            requests,
            dropped_frames: snapshot.dropped_frames,
            waiting_events: snapshot.waiting,
            stall_log: snapshot.stall_log,
            watched_s,
            error,
        })
    }

    /// What the viewer does; an error ends the watching early (the run is
    /// still measured and reported with the error).
    async fn watch(&self, page: &Page, scenario: Scenario, t0: Instant) -> Result<()> {
        match scenario.viewer() {
            Viewer::Watch(length) => {
                sleep_until_or_error(page, t0 + length).await?;
            }
            Viewer::WatchUntil {
                media_seconds,
                limit,
            } => {
                let deadline = t0 + limit;
                while Instant::now() < deadline {
                    let at = page.js("return window.__qoe.snapshot();", vec![]).await?;
                    check_error(&at)?;
                    if at["currentTime"].as_f64().unwrap_or(0.0) >= media_seconds {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            Viewer::Seek {
                before,
                fraction,
                after,
            } => {
                let started = page
                    .wait_until(
                        "the first frame",
                        START_LIMIT,
                        "window.__qoe.ttff !== null || window.__qoe.error",
                    )
                    .await?;
                if started.is_string() {
                    bail!("the player failed before its first frame: {started}");
                }
                sleep_until_or_error(page, Instant::now() + before).await?;
                let target = fraction * self.layout.duration();
                page.js(
                    "return window.__qoe.seek(arguments[0]);",
                    vec![json!(target)],
                )
                .await?;
                let seek_start = Instant::now();
                let done = page
                    .wait_until(
                        &format!("the seek to {target:.1} s to finish"),
                        SEEK_LIMIT,
                        "window.__qoe.seekMs !== null || window.__qoe.error",
                    )
                    .await;
                let resume = match done {
                    Ok(_) => Instant::now(),
                    Err(_) => seek_start + SEEK_LIMIT,
                };
                sleep_until_or_error(page, resume + after).await?;
            }
        }
        Ok(())
    }
}

/// Sleeps until `deadline`, checking the page for a player error each second.
async fn sleep_until_or_error(page: &Page, deadline: Instant) -> Result<()> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        tokio::time::sleep((deadline - now).min(Duration::from_secs(1))).await;
        let at = page.js("return window.__qoe.snapshot();", vec![]).await?;
        check_error(&at)?;
    }
}

fn check_error(snapshot: &Value) -> Result<()> {
    match snapshot.get("error").and_then(Value::as_str) {
        Some(e) => bail!("the player reported an error: {e}"),
        None => Ok(()),
    }
}

/// Copies `hls.min.js` next to the benchmark pages; returns its URL.
pub fn host_hlsjs(pages: &PageHost, hlsjs: &Path) -> Result<String> {
    let name = "hls.min.js";
    let to = pages.dir().join("www").join(name);
    std::fs::copy(hlsjs, &to)
        .with_context(|| format!("copying {} to {}", hlsjs.display(), to.display()))?;
    Ok(format!("{}/{name}", pages.origin()))
}
