//! One run: a fresh browser (an empty cache), one link, one player, one
//! scenario — a first visit, then a second one in the same browser.
//!
//! A fresh Chromium per run (about a second to start) is the simplest honest
//! way to start each run with an empty HTTP cache and no warm connections:
//! cache-busting query strings would work for the native player and hls.js
//! but change what Caudal's player asks the server. The link starts just
//! before the browser navigates to the page; the page, the player's code
//! and the media all cross it. After the first (cold) visit the browser
//! goes to `about:blank`, the link starts over on the same port (the cache
//! is keyed by origin) with every connection closed, and the browser comes
//! back to the same page: the warm visit, measured to its first frame (and
//! through its seek in the seek scenario).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::file::{Layouts, MediaFile};
use super::page::Snapshot;
use super::player::Player;
use super::scenario::{Scenario, Viewer};
use super::site;
use super::timeline::{Timeline, link_requests};
use crate::browser::{Browser, BrowserPaths};
use crate::page::Page;
use crate::server::TestServer;
use crate::shaped_link::ShapedLink;

/// Everything shared by the runs: the one server, the files.
#[derive(Debug)]
pub struct Bench {
    /// `caudal serve` of the site and the media (see [`site::Site`]).
    pub server: TestServer,
    pub layouts: Layouts,
    /// B, bit/s: the plain file's average rate; the links are made of it.
    pub bit_rate: f64,
    pub browser: BrowserPaths,
    /// Where each visit's link log goes.
    pub log_dir: PathBuf,
}

/// What one visit measured. Times are ms since navigation start.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Visit {
    pub ttff_ms: Option<f64>,
    pub first_paint_ms: Option<f64>,
    /// When the first request for the media reached the link.
    pub first_media_request_ms: Option<f64>,
    pub stalls: u32,
    pub stall_s: f64,
    pub seek_ms: Option<f64>,
    /// 10^6 bytes of media answers over the link (heads included).
    pub mb_fetched: f64,
    /// Media fetched minus the bytes of what was played (header + ranges).
    pub mb_wasted: f64,
    /// 10^3 bytes of everything else: the page and the player's code.
    pub kb_other: f64,
    pub played: Vec<(f64, f64)>,
    pub position: f64,
    pub requests: usize,
    pub dropped_frames: Option<u64>,
    pub waiting_events: u32,
    pub stall_log: Vec<(f64, f64)>,
    /// Wall seconds from navigation to leaving.
    pub watched_s: f64,
    pub error: Option<String>,
    pub timeline: Timeline,
}

impl Visit {
    /// From the first media request to the picture moving.
    pub fn ttff_from_request_ms(&self) -> Option<f64> {
        Some(self.ttff_ms? - self.first_media_request_ms?)
    }
}

/// What one run measured: the first visit and the second.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    #[serde(flatten)]
    pub cold: Visit,
    pub warm: Option<Visit>,
    /// Why the warm visit has no measurement.
    pub warm_failed: Option<String>,
}

/// How long to wait for the first frame before calling the run a failure
/// (the slowest scenario still starts within seconds).
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a seek may take before the run moves on without a seek time.
const SEEK_LIMIT: Duration = Duration::from_secs(20);

/// What a run plays: the file chosen, the player, the scenario.
#[derive(Debug, Clone, Copy)]
struct Case {
    file: MediaFile,
    player: Player,
    scenario: Scenario,
}

/// Which visit of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visiting {
    /// The first: the scenario's whole viewer.
    Cold,
    /// The second: to the first frame, and through the seek if there is one.
    Warm,
}

impl Bench {
    /// Runs `player` through `scenario` once with `file` chosen; `n`
    /// numbers the log files.
    pub async fn run(
        &self,
        file: MediaFile,
        player: Player,
        scenario: Scenario,
        n: u32,
    ) -> Result<Measurement> {
        let browser = Browser::start(&self.browser).await?;
        let mut link = ShapedLink::start(self.server.addr(), scenario.link(self.bit_rate)).await?;
        let url = link.url(&site::page_path(file, player));
        let name = format!("{}-{}-{}-{n}", file.name(), scenario.name(), player.id());
        let case = Case {
            file,
            player,
            scenario,
        };
        let cold = self
            .visit(&browser, &link, &url, case, Visiting::Cold)
            .await;
        self.save_log(&link, &format!("{name}-cold"))?;
        let cold = cold?;
        let warm = async {
            link.reset().await?;
            let warm = self
                .visit(&browser, &link, &url, case, Visiting::Warm)
                .await;
            self.save_log(&link, &format!("{name}-warm"))?;
            warm
        }
        .await;
        drop(browser);
        let (warm, warm_failed) = match warm {
            Ok(visit) => (Some(visit), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        };
        Ok(Measurement {
            cold,
            warm,
            warm_failed,
        })
    }

    fn save_log(&self, link: &ShapedLink, name: &str) -> Result<()> {
        let path = self.log_dir.join(format!("{name}.jsonl"));
        std::fs::write(&path, link.log_jsonl())
            .with_context(|| format!("writing {}", path.display()))
    }

    async fn visit(
        &self,
        browser: &Browser,
        link: &ShapedLink,
        url: &str,
        case: Case,
        visiting: Visiting,
    ) -> Result<Visit> {
        // Navigation starts here: the page's clock and the viewer's.
        let t0 = Instant::now();
        browser.goto(url).await?;
        let page = Page::current(browser, url);
        let outcome = self.watch(&page, case.scenario, visiting, t0).await;
        // The viewer leaves: measure at that instant, stop the player, then
        // leave the page; bytes still in flight count as fetched.
        let snapshot: Snapshot = page.js_as("return window.__qoe.abandon();", vec![]).await?;
        let watched_s = t0.elapsed().as_secs_f64();
        browser.goto("about:blank").await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let requests = link_requests(
            &link.log(),
            link.started_unix_ms(),
            snapshot.timeline.time_origin,
        );
        let timeline = Timeline {
            requests,
            page: snapshot.timeline.clone(),
            first_paint_ms: snapshot.first_paint_ms,
            ttff_ms: snapshot.ttff_ms,
        };
        let (media, other) = timeline.media_and_other_bytes();
        let played = self
            .layouts
            .bytes_played(case.file.played_by(case.player), &snapshot.played);
        let error = match (outcome, snapshot.error.clone()) {
            (Err(e), Some(page_error)) => Some(format!("{e:#}; page: {page_error}")),
            (Err(e), None) => Some(format!("{e:#}")),
            (Ok(()), page_error) => page_error,
        };
        Ok(Visit {
            ttff_ms: snapshot.ttff_ms,
            first_paint_ms: snapshot.first_paint_ms,
            first_media_request_ms: timeline.first_media_request_ms(),
            stalls: snapshot.stalls,
            stall_s: snapshot.stall_ms / 1e3,
            seek_ms: snapshot.seek_ms,
            mb_fetched: media as f64 / 1e6,
            mb_wasted: (media as f64 - played) / 1e6,
            kb_other: other as f64 / 1e3,
            played: snapshot.played,
            position: snapshot.current_time,
            requests: timeline.requests.len(),
            dropped_frames: snapshot.dropped_frames,
            waiting_events: snapshot.waiting,
            stall_log: snapshot.stall_log,
            watched_s,
            error,
            timeline,
        })
    }

    /// What the viewer does; an error ends the watching early (the visit
    /// is still measured and reported with the error).
    async fn watch(
        &self,
        page: &Page,
        scenario: Scenario,
        visiting: Visiting,
        t0: Instant,
    ) -> Result<()> {
        let viewer = scenario.viewer();
        if visiting == Visiting::Warm {
            wait_first_frame(page).await?;
            if let Viewer::Seek {
                before, fraction, ..
            } = viewer
            {
                sleep_until_or_error(page, Instant::now() + before).await?;
                self.seek(page, fraction).await;
            }
            return Ok(());
        }
        match viewer {
            Viewer::Watch(length) => {
                sleep_until_or_error(page, t0 + length).await?;
            }
            Viewer::WatchUntil {
                media_seconds,
                limit,
            } => {
                let deadline = t0 + limit;
                while Instant::now() < deadline {
                    let at = page.js(PROGRESS, vec![]).await?;
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
                wait_first_frame(page).await?;
                sleep_until_or_error(page, Instant::now() + before).await?;
                let resume = self.seek(page, fraction).await;
                sleep_until_or_error(page, resume + after).await?;
            }
        }
        Ok(())
    }

    /// Seeks to `fraction` of the file and waits (bounded) for the picture
    /// to move there; returns when it did or the wait gave up.
    async fn seek(&self, page: &Page, fraction: f64) -> Instant {
        let target = fraction * self.layouts.plain.duration;
        let seek_start = Instant::now();
        if page
            .js(
                "return window.__qoe.seek(arguments[0]);",
                vec![json!(target)],
            )
            .await
            .is_err()
        {
            return seek_start;
        }
        let done = page
            .wait_until(
                &format!("the seek to {target:.1} s to finish"),
                SEEK_LIMIT,
                "window.__qoe.seekMs !== null || window.__qoe.error",
            )
            .await;
        match done {
            Ok(_) => Instant::now(),
            Err(_) => seek_start + SEEK_LIMIT,
        }
    }
}

async fn wait_first_frame(page: &Page) -> Result<()> {
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
    Ok(())
}

/// Sleeps until `deadline`, checking the page for a player error each second.
async fn sleep_until_or_error(page: &Page, deadline: Instant) -> Result<()> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        tokio::time::sleep((deadline - now).min(Duration::from_secs(1))).await;
        let at = page.js(PROGRESS, vec![]).await?;
        check_error(&at)?;
    }
}

/// What the viewer polls: the playhead and any error (lighter than a
/// snapshot, which carries the timeline).
const PROGRESS: &str = "return { error: window.__qoe.error, currentTime: v.currentTime };";

fn check_error(snapshot: &Value) -> Result<()> {
    match snapshot.get("error").and_then(Value::as_str) {
        Some(e) => bail!("the player reported an error: {e}"),
        None => Ok(()),
    }
}
