//! `caudal-tests`: the end-to-end tests and their harness — the real `caudal`
//! server, the real player, a real headless Chromium.
//!
//! How it fits: this library is the harness; `tests/browser.rs`,
//! `tests/remux.rs`, `tests/startup.rs`, `tests/plain_mp4_seek.rs` and
//! `tests/buffer_goal.rs` are the suites that use it (one `#[test]` per behaviour, each through
//! [`browser_test`]); `src/bin/qoe.rs` is the QoE benchmark that
//! `cargo xtask bench qoe` builds and runs on top of the same pieces. The
//! modules, from the bottom up:
//!
//! - [`server`]: `caudal_server::Server` in-process on a free loopback port;
//! - [`bucket`] and [`proxy`]: a shaping TCP proxy (shared token bucket, rate
//!   changeable at runtime, outages) between the browser and the server;
//! - [`browser`]: chromedriver + headless Chromium via fantoccini, killed
//!   (by pid) on drop;
//! - [`page`]: test pages served from a second origin, and typed read-back of
//!   the video, `player.stats()`, `caudal:*` events and console messages;
//! - [`media`]: the samples, and broken media made at test time;
//! - [`corpus`]: the muxer corpus (`fixtures/corpus/`): its lists, the
//!   pages that play it, and the class of each outcome (`tests/corpus.rs`);
//! - [`dts`]: reading names out of `www/player.d.ts`;
//! - [`skip`]: when a test that cannot run here skips, and when it fails;
//! - [`shaped_link`]: a link with a bandwidth trace, an RTT and a request
//!   log, for benchmarks and the tests that check what crossed it;
//! - [`qoe`]: the real-browser QoE benchmark (`cargo xtask bench qoe`).
//!
//! A browser test is a `#[test]` that calls [`browser_test`]. It is skipped
//! (with a `skipped: ...` line on stderr) when `CAUDAL_SKIP_BROWSER=1` (what
//! `cargo xtask test --no-browser` sets), and when Chromium/chromedriver are
//! not installed — except under CI, where that fails (see [`skip`]).
//! Otherwise it takes the process-wide browser lock (browser tests run one
//! at a time: playback timing on a 2-core machine is not something to
//! share), starts its own browser, and runs the body under an overall time
//! limit.

pub mod browser;
pub mod bucket;
pub mod corpus;
pub mod dts;
pub mod machine;
pub mod media;
pub mod npm;
pub mod page;
pub mod proxy;
pub mod qoe;
pub mod server;
pub mod shaped_link;
pub mod skip;

use std::future::Future;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

pub use browser::{Availability, Browser};
pub use page::{Page, PageHost, Stats, VideoState};
pub use proxy::ShapingProxy;
pub use server::TestServer;

/// Browser tests in one process run one at a time.
static BROWSER_LOCK: Mutex<()> = Mutex::new(());

/// Writes a line to stderr even under libtest's output capture.
pub fn say(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// `CAUDAL_TEST_VERBOSE=1`: log each wait and its duration to stderr.
pub fn verbose() -> bool {
    std::env::var_os("CAUDAL_TEST_VERBOSE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Panics with instructions when the wasm player has not been built.
pub fn require_player_build() {
    // The built loader, which names the content-hashed modules.
    let built = server::www_dir().join("pkg").join("player.js");
    let js = server::www_dir().join("player.js");
    assert!(
        js.is_file(),
        "{} is missing: the loader template is part of the checkout",
        js.display()
    );
    assert!(
        built.is_file(),
        "{} is missing: run `cargo xtask build-player` before the browser tests",
        built.display()
    );
}

/// Runs a browser test: skip or lock, runtime, browser, body under `limit`.
/// A failure panics with the error chain (which carries a page snapshot
/// when it came from a [`Page`] wait).
pub fn browser_test<F, Fut>(name: &str, limit: Duration, body: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let paths = match browser::availability() {
        Availability::Ready(paths) => paths,
        Availability::Skip(why) => {
            say(&format!("skipped: {name}: {why}"));
            return;
        }
        Availability::Missing(why) => {
            skip::missing_tool(name, &why);
            return;
        }
        Availability::Misconfigured(why) => panic!("{name}: {why}"),
    };
    require_player_build();
    let _guard = BROWSER_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let t0 = Instant::now();
    let result = runtime.block_on(async {
        let browser = Browser::start(&paths).await?;
        let up = t0.elapsed();
        let r = tokio::time::timeout(limit, body(browser))
            .await
            .map_err(|_| anyhow!("the test did not finish within {} s", limit.as_secs()))
            .and_then(|r| r);
        Ok::<_, anyhow::Error>((up, r))
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    let total = t0.elapsed().as_secs_f64();
    match result {
        Ok((up, Ok(()))) => say(&format!(
            "{name}: ok in {total:.1} s (browser up in {:.1} s)",
            up.as_secs_f64()
        )),
        Ok((_, Err(e))) => panic!("{name} failed after {total:.1} s: {e:#}"),
        Err(e) => panic!("{name}: could not start the browser: {e:#}"),
    }
}

/// Shorthand for a `Duration` of seconds.
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Everything a test page needs: the player's server (origin A: `www/` and
/// a media dir), the page host (origin B) and, on request, a shaping proxy
/// or a shaped link with a request log in front of origin A (origin C).
#[derive(Debug)]
pub struct Stage {
    pub server: TestServer,
    pub pages: PageHost,
    pub proxy: Option<ShapingProxy>,
    pub link: Option<shaped_link::ShapedLink>,
    _media: Option<tempfile::TempDir>,
    _www: Option<tempfile::TempDir>,
}

impl Stage {
    /// The samples in `www/media`.
    pub async fn start() -> Result<Stage> {
        let server =
            TestServer::start(&server::sample_media_dir(), Some(&server::www_dir())).await?;
        Self::with(server, None).await
    }

    /// A committed media dir (e.g. a fixture folder), served as it is.
    pub async fn serving(dir: &std::path::Path) -> Result<Stage> {
        let server = TestServer::start(dir, Some(&server::www_dir())).await?;
        Self::with(server, None).await
    }

    /// A media dir made by the test (kept alive as long as the stage).
    pub async fn with_media(dir: tempfile::TempDir) -> Result<Stage> {
        let server = TestServer::start(dir.path(), Some(&server::www_dir())).await?;
        Self::with(server, Some(dir)).await
    }

    /// A media dir made by the test, its `/media/` under `protection`
    /// (signed tokens, `caudal serve --protect /media/`).
    pub async fn protected(
        dir: tempfile::TempDir,
        protection: caudal_server::access::Protection,
    ) -> Result<Stage> {
        let server =
            TestServer::start_with(dir.path(), Some(&server::www_dir()), Some(protection)).await?;
        Self::with(server, Some(dir)).await
    }

    /// [`protected`](Self::protected), with a site (`www/`) made by the
    /// test: for a page on the media's own origin.
    pub async fn protected_with_www(
        media: tempfile::TempDir,
        www: tempfile::TempDir,
        protection: caudal_server::access::Protection,
    ) -> Result<Stage> {
        let server =
            TestServer::start_with(media.path(), Some(www.path()), Some(protection)).await?;
        let mut stage = Self::with(server, Some(media)).await?;
        stage._www = Some(www);
        Ok(stage)
    }

    /// A media dir and a site (`www/`) made by the test.
    pub async fn with_media_and_www(
        media: tempfile::TempDir,
        www: tempfile::TempDir,
    ) -> Result<Stage> {
        let server = TestServer::start(media.path(), Some(www.path())).await?;
        let mut stage = Self::with(server, Some(media)).await?;
        stage._www = Some(www);
        Ok(stage)
    }

    async fn with(server: TestServer, media: Option<tempfile::TempDir>) -> Result<Stage> {
        Ok(Stage {
            server,
            pages: PageHost::start().await?,
            proxy: None,
            link: None,
            _media: media,
            _www: None,
        })
    }

    /// Adds a shaping proxy in front of the server (unlimited until set).
    pub async fn add_proxy(&mut self) -> Result<&ShapingProxy> {
        let proxy = ShapingProxy::start(self.server.addr()).await?;
        Ok(self.proxy.insert(proxy))
    }

    pub fn proxy(&self) -> Result<&ShapingProxy> {
        self.proxy
            .as_ref()
            .ok_or_else(|| anyhow!("this stage has no proxy"))
    }

    /// Adds a shaped link (with its request log) in front of the server.
    pub async fn add_link(
        &mut self,
        config: shaped_link::LinkConfig,
    ) -> Result<&shaped_link::ShapedLink> {
        let link = shaped_link::ShapedLink::start(self.server.addr(), config).await?;
        Ok(self.link.insert(link))
    }

    pub fn link(&self) -> Result<&shaped_link::ShapedLink> {
        self.link
            .as_ref()
            .ok_or_else(|| anyhow!("this stage has no shaped link"))
    }

    /// A media file through the shaped link.
    pub fn linked_media_url(&self, name: &str) -> Result<String> {
        Ok(self.link()?.url(&format!("/media/{name}")))
    }

    /// Like [`open`](Self::open), with `player.js` (so the player's code
    /// too) loaded through the shaped link.
    pub async fn open_through_link(
        &self,
        browser: &Browser,
        video_attrs: &[(&str, &str)],
    ) -> Result<Page> {
        let html = page::test_page_html(&self.link()?.url("/player.js"), video_attrs);
        let url = self.pages.write(&html)?;
        Page::open(browser, &url).await
    }

    /// `player.js` on origin A.
    pub fn player_js(&self) -> String {
        self.server.url("/player.js")
    }

    /// A media file on origin A, straight.
    pub fn media_url(&self, name: &str) -> String {
        self.server.url(&format!("/media/{name}"))
    }

    /// A media file through the proxy.
    pub fn proxied_media_url(&self, name: &str) -> Result<String> {
        Ok(self.proxy()?.url(&format!("/media/{name}")))
    }

    /// Writes a test page (origin B) with these video attributes and opens it.
    pub async fn open(&self, browser: &Browser, video_attrs: &[(&str, &str)]) -> Result<Page> {
        let html = page::test_page_html(&self.player_js(), video_attrs);
        let url = self.pages.write(&html)?;
        Page::open(browser, &url).await
    }
}
