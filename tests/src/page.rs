//! Test pages and reading a page's state back over WebDriver.
//!
//! A test page is served by its own `caudal` (another port, so another
//! origin than the player's server): it loads `player.js` cross-origin with
//! one `<script>` tag and holds one `<video id="v" muted>`. Before the
//! player loads, the page starts recording `console.error`/`console.warn`,
//! uncaught errors and rejections into `window.__console`; the `caudal:*`
//! events of the video go to `window.__events`, and its native media events
//! (waiting, playing, pause, seeking, ...) to `window.__media` for diagnostics.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::Client;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::browser::Browser;
use crate::server::TestServer;

/// The second origin: a `caudal` whose `www/` is a temp dir of test pages.
#[derive(Debug)]
pub struct PageHost {
    server: TestServer,
    dir: tempfile::TempDir,
    next: AtomicU32,
}

impl PageHost {
    pub async fn start() -> Result<PageHost> {
        let dir = tempfile::Builder::new().prefix("caudal-pages-").tempdir()?;
        let media = dir.path().join("media");
        let www = dir.path().join("www");
        std::fs::create_dir(&media)?;
        std::fs::create_dir(&www)?;
        let server = TestServer::start(&media, Some(&www)).await?;
        Ok(PageHost {
            server,
            dir,
            next: AtomicU32::new(0),
        })
    }

    pub fn origin(&self) -> String {
        self.server.origin()
    }

    /// Writes a page and returns its URL.
    pub fn write(&self, html: &str) -> Result<String> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let name = format!("page-{n}.html");
        let path = self.www_dir().join(&name);
        std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
        Ok(self.server.url(&format!("/{name}")))
    }

    fn www_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("www")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Escapes text for an HTML attribute value in double quotes.
pub fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A site with the built player (`player.js`, every file of `pkg/`) and
/// `page.html`, a test page that loads it from the site's own origin with
/// these video attributes.
pub fn same_origin_site(video_attrs: &[(&str, &str)]) -> Result<tempfile::TempDir> {
    let site = tempfile::tempdir()?;
    let www = crate::server::www_dir();
    std::fs::copy(www.join("player.js"), site.path().join("player.js"))?;
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg)?;
    for entry in std::fs::read_dir(www.join("pkg"))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), pkg.join(entry.file_name()))?;
        }
    }
    let html = test_page_html("/player.js", video_attrs);
    std::fs::write(site.path().join("page.html"), html)?;
    Ok(site)
}

/// The HTML of a test page loading `player_js` with one `<video id="v">`
/// carrying `video_attrs` (e.g. `data-src`, `data-goal`).
pub fn test_page_html(player_js: &str, video_attrs: &[(&str, &str)]) -> String {
    let attrs: String = video_attrs
        .iter()
        .map(|(k, v)| format!(" {k}=\"{}\"", attr_escape(v)))
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>caudal test page</title>
<link rel="icon" href="data:,">
<script>
(function () {{
  var log = window.__console = [];
  window.__events = [];
  function text(args) {{
    return Array.prototype.map.call(args, function (a) {{
      if (a instanceof Error) return String(a) + (a.stack ? '\n' + a.stack : '');
      if (a !== null && typeof a === 'object') {{
        try {{ return JSON.stringify(a); }} catch (e) {{ return String(a); }}
      }}
      return String(a);
    }}).join(' ');
  }}
  ['error', 'warn'].forEach(function (level) {{
    var orig = console[level];
    console[level] = function () {{
      log.push({{ level: level, text: text(arguments), at: performance.now() }});
      return orig.apply(console, arguments);
    }};
  }});
  window.addEventListener('error', function (e) {{
    var t = e.target;
    if (t && t !== window && t.tagName) {{
      log.push({{ level: 'resource', text: 'failed to load ' + (t.src || t.href || t.tagName), at: performance.now() }});
      return;
    }}
    log.push({{ level: 'uncaught', text: String(e.message) + (e.error && e.error.stack ? '\n' + e.error.stack : ''), at: performance.now() }});
  }}, true);
  window.addEventListener('unhandledrejection', function (e) {{
    log.push({{ level: 'unhandledrejection', text: text([e.reason]), at: performance.now() }});
  }});
}})();
</script>
<script src="{player_js}"></script>
<script>
window.__ready = 'pending';
if (window.Caudal && window.Caudal.ready && window.Caudal.ready.then) {{
  window.Caudal.ready.then(function () {{ window.__ready = 'ok'; }},
                           function (e) {{ window.__ready = 'failed: ' + e; }});
}} else {{
  window.__ready = 'window.Caudal is missing after player.js';
}}
</script>
</head>
<body>
<video id="v" muted playsinline{attrs}></video>
<script>
(function () {{
  var v = document.getElementById('v');
  v.muted = true;
  window.__media = [];
  ['waiting', 'playing', 'play', 'pause', 'seeking', 'seeked', 'stalled', 'ended', 'ratechange',
   'emptied', 'loadedmetadata', 'canplay', 'error'].forEach(function (type) {{
    v.addEventListener(type, function () {{
      window.__media.push({{ type: type, at: Math.round(performance.now()), currentTime: v.currentTime,
                            readyState: v.readyState, rate: v.playbackRate }});
      if (window.__media.length > 500) window.__media.splice(0, 100);
    }});
  }});
  ['state', 'stall', 'error'].forEach(function (type) {{
    v.addEventListener('caudal:' + type, function (e) {{
      var d;
      try {{ d = JSON.parse(JSON.stringify(e.detail === undefined ? null : e.detail)); }}
      catch (x) {{ d = String(e.detail); }}
      window.__events.push({{ type: type, detail: d, at: performance.now(), currentTime: v.currentTime }});
    }});
  }});
}})();
</script>
</body>
</html>
"#,
        player_js = attr_escape(player_js),
    )
}

/// Prepended to every script run in a test page: `v` is the video, `P` the
/// player attached to it (or null).
const PRELUDE: &str = "var v = document.getElementById('v'); \
    var P = window.__player || (v && window.Caudal && window.Caudal.get ? window.Caudal.get(v) : null);\n";

/// What a `<video>` says about itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoState {
    pub current_time: f64,
    /// None while unknown (NaN) or infinite.
    pub duration: Option<f64>,
    pub paused: bool,
    pub ended: bool,
    pub seeking: bool,
    pub ready_state: u32,
    pub network_state: u32,
    pub playback_rate: f64,
    pub buffered: Vec<(f64, f64)>,
    /// `video.error.code`, if any.
    pub error: Option<u32>,
    pub src: String,
}

/// One recorded `caudal:*` event.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `state`, `stall` or `error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub detail: Value,
    /// `performance.now()` when it fired.
    pub at: f64,
    pub current_time: f64,
}

/// One console/uncaught message recorded by the page.
#[derive(Debug, Clone, Deserialize)]
pub struct ConsoleEntry {
    pub level: String,
    pub text: String,
}

/// `player.stats()` as returned (a JSON object), with typed accessors.
#[derive(Debug, Clone)]
pub struct Stats(pub Value);

impl Stats {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A number field; an error naming the key when missing or not a number.
    pub fn num(&self, key: &str) -> Result<f64> {
        self.0
            .get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| anyhow!("stats().{key} is not a number: {}", self.0))
    }

    /// A string field; an error naming the key when missing or not a string.
    pub fn str(&self, key: &str) -> Result<&str> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("stats().{key} is not a string: {}", self.0))
    }
}

/// A test page open in the browser.
#[derive(Debug)]
pub struct Page {
    client: Client,
    pub url: String,
}

impl Page {
    /// Navigates to `url` and checks that the test page's recorder is there.
    pub async fn open(browser: &Browser, url: &str) -> Result<Page> {
        browser.goto(url).await?;
        let page = Page {
            client: browser.client().clone(),
            url: url.to_owned(),
        };
        Ok(page)
    }

    /// Wraps the current page of `browser` without navigating.
    pub fn current(browser: &Browser, url: &str) -> Page {
        Page {
            client: browser.client().clone(),
            url: url.to_owned(),
        }
    }

    /// Runs `body` (a function body: use `return`) with `v` and `P` defined;
    /// `arguments[i]` are `args`. A returned Promise is awaited (≤ 20 s).
    pub async fn js(&self, body: &str, args: Vec<Value>) -> Result<Value> {
        let script = format!("{PRELUDE}{body}");
        tokio::time::timeout(Duration::from_secs(25), self.client.execute(&script, args))
            .await
            .map_err(|_| anyhow!("script did not finish within 25 s: {body}"))?
            .map_err(|e| anyhow!("script failed: {e}\n  script: {body}"))
    }

    /// [`js`](Self::js), deserialized.
    pub async fn js_as<T: DeserializeOwned>(&self, body: &str, args: Vec<Value>) -> Result<T> {
        let value = self.js(body, args).await?;
        serde_json::from_value(value.clone())
            .map_err(|e| anyhow!("unexpected result {value}: {e}\n  script: {body}"))
    }

    /// Plain JS expression; ignores the result.
    pub async fn run(&self, body: &str) -> Result<()> {
        self.js(body, vec![]).await.map(drop)
    }

    /// Waits until `window.Caudal.attach` exists (player.js ran).
    pub async fn wait_for_caudal(&self) -> Result<()> {
        self.wait_until(
            "window.Caudal.attach to exist (player.js loaded)",
            Duration::from_secs(10),
            "window.Caudal && typeof window.Caudal.attach === 'function'",
        )
        .await
        .map(drop)
    }

    /// `await Caudal.attach(v, url, options)`; the player is kept in
    /// `window.__player`.
    pub async fn attach(&self, url: &str, options: Value) -> Result<()> {
        self.wait_for_caudal().await?;
        let ok = self
            .js(
                "return Caudal.attach(v, arguments[0], arguments[1]).then(function (p) { \
                     window.__player = p; return p ? true : 'attach resolved to ' + p; \
                 }, function (e) { return 'attach rejected: ' + e + (e && e.stack ? '\\n' + e.stack : ''); });",
                vec![Value::from(url), options],
            )
            .await?;
        if ok != Value::Bool(true) {
            bail!(
                "Caudal.attach({url}) failed: {ok}{}",
                self.diagnostics().await
            );
        }
        Ok(())
    }

    /// `video.play()` (muted; a refusal is recorded in the console log).
    pub async fn play(&self) -> Result<()> {
        self.run(
            "var p = v.play(); if (p && p.catch) p.catch(function (e) { \
                 window.__console.push({ level: 'play', text: 'video.play() rejected: ' + e }); });",
        )
        .await
    }

    /// Whether the page fetched the remuxer module (its content-hashed
    /// glue or wasm, `pkg/caudal_remux-<16 hex>.js|wasm`),
    /// which the player loads only for plain MP4s.
    pub async fn remuxer_loaded(&self) -> Result<bool> {
        self.module_loaded("caudal_remux").await
    }

    /// Whether the page fetched the on-demand module `name`
    /// (`caudal_remux`, `caudal_rewrite`).
    pub async fn module_loaded(&self, name: &str) -> Result<bool> {
        let loaded = self
            .js(
                "var prefix = '/pkg/' + arguments[0] + '-'; \
                 return performance.getEntriesByType('resource') \
                   .some(function (e) { return e.name.indexOf(prefix) >= 0; });",
                vec![Value::String(name.to_owned())],
            )
            .await?;
        Ok(loaded == Value::Bool(true))
    }

    pub async fn video(&self) -> Result<VideoState> {
        self.js_as(
            "var b = []; for (var i = 0; i < v.buffered.length; i++) b.push([v.buffered.start(i), v.buffered.end(i)]); \
             return { currentTime: v.currentTime, duration: isFinite(v.duration) ? v.duration : null, \
                      paused: v.paused, ended: v.ended, seeking: v.seeking, readyState: v.readyState, \
                      networkState: v.networkState, playbackRate: v.playbackRate, buffered: b, \
                      error: v.error ? v.error.code : null, src: v.currentSrc || v.src || '' };",
            vec![],
        )
        .await
    }

    /// `player.stats()`; an error if no player is attached or it throws.
    pub async fn stats(&self) -> Result<Stats> {
        let value = self
            .js(
                "if (!P) return null; var s = P.stats(); return JSON.parse(JSON.stringify(s));",
                vec![],
            )
            .await?;
        if value.is_null() {
            bail!(
                "no player attached to the video{}",
                self.diagnostics().await
            );
        }
        Ok(Stats(value))
    }

    pub async fn events(&self) -> Result<Vec<Event>> {
        self.js_as("return window.__events || [];", vec![]).await
    }

    /// The `caudal:error` events dispatched so far.
    pub async fn errors(&self) -> Result<Vec<Event>> {
        let mut events = self.events().await?;
        events.retain(|e| e.kind == "error");
        Ok(events)
    }

    /// Fails, with the events, when any `caudal:error` was dispatched.
    pub async fn expect_no_errors(&self) -> Result<()> {
        let errors = self.errors().await?;
        anyhow::ensure!(errors.is_empty(), "caudal:error events: {errors:?}");
        Ok(())
    }

    /// `Caudal.attach(v, url, {})` and `v.play()` in the same turn as it
    /// resolves, as the README shows a page doing (the player then keeps
    /// `window.__player`).
    pub async fn attach_and_play_at_once(&self, url: &str) -> Result<()> {
        self.wait_for_caudal().await?;
        self.run(&format!(
            "Caudal.attach(v, {url}, {{}}).then(function (p) {{ window.__player = p; \
               v.play().catch(function (e) {{ window.__rejected = String(e); }}); }});",
            url = Value::String(url.to_owned())
        ))
        .await
    }

    pub async fn console(&self) -> Result<Vec<ConsoleEntry>> {
        self.js_as("return window.__console || [];", vec![]).await
    }

    /// Console entries that say the wasm panicked or trapped.
    pub async fn panics(&self) -> Result<Vec<String>> {
        Ok(self
            .console()
            .await?
            .into_iter()
            .filter(|e| {
                let t = e.text.to_ascii_lowercase();
                t.contains("panicked") || t.contains("runtimeerror: unreachable")
            })
            .map(|e| e.text)
            .collect())
    }

    /// Adds hls.js from `url` to the page and waits until it is usable.
    pub async fn load_hlsjs(&self, url: &str) -> Result<()> {
        self.js(
            "var s = document.createElement('script'); s.src = arguments[0]; \
             document.head.appendChild(s); return true;",
            vec![Value::from(url)],
        )
        .await?;
        self.wait_until(
            "hls.js loaded",
            Duration::from_secs(10),
            "window.Hls && Hls.isSupported()",
        )
        .await?;
        Ok(())
    }

    /// Polls the JS expression `expr` (with `v`, `P`) every 100 ms until it
    /// is truthy, then returns its value; after `timeout`, an error naming
    /// `what` with a snapshot of the page. Exceptions count as "not yet".
    pub async fn wait_until(&self, what: &str, timeout: Duration, expr: &str) -> Result<Value> {
        let body = format!(
            "try {{ var r = ({expr}); return r ? {{ ok: true, value: r }} : {{ ok: false }}; }} \
             catch (e) {{ return {{ ok: false, error: String(e) }}; }}"
        );
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            let r = self.js(&body, vec![]).await?;
            if r.get("ok") == Some(&Value::Bool(true)) {
                if crate::verbose() {
                    let waited =
                        timeout.saturating_sub(deadline.saturating_duration_since(Instant::now()));
                    crate::say(&format!(
                        "  {:6.2} s waiting for {what}",
                        waited.as_secs_f64()
                    ));
                }
                return Ok(r.get("value").cloned().unwrap_or(Value::Null));
            }
            if let Some(e) = r.get("error").and_then(Value::as_str) {
                last_error = Some(e.to_owned());
            }
            if Instant::now() >= deadline {
                let err = last_error
                    .map(|e| format!("\n  last exception: {e}"))
                    .unwrap_or_default();
                bail!(
                    "timed out after {:.1} s waiting for {what}\n  condition: {expr}{err}{}",
                    timeout.as_secs_f64(),
                    self.diagnostics().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A multi-line snapshot of the page for failure messages: video,
    /// stats, events, console. Never fails (says why it could not).
    pub async fn diagnostics(&self) -> String {
        let body = "var out = { url: location.href, ready: window.__ready, \
                        caudal: typeof window.Caudal, player: !!P }; \
             try { var b = []; for (var i = 0; i < v.buffered.length; i++) b.push([+v.buffered.start(i).toFixed(3), +v.buffered.end(i).toFixed(3)]); \
                   out.video = { currentTime: v.currentTime, duration: v.duration, paused: v.paused, ended: v.ended, \
                                 readyState: v.readyState, networkState: v.networkState, buffered: b, \
                                 error: v.error ? (v.error.code + ' ' + v.error.message) : null, src: v.currentSrc || v.src }; } \
             catch (e) { out.video = 'error: ' + e; } \
             try { out.stats = P ? P.stats() : null; } catch (e) { out.stats = 'stats() threw: ' + e; } \
             out.events = (window.__events || []).slice(-25); \
             out.console = (window.__console || []).slice(-15); \
             out.media = (window.__media || []).slice(-20).map(function (e) { \
               return e.at + ' ' + e.type + ' t=' + e.currentTime.toFixed(2) + ' rs=' + e.readyState + ' x' + e.rate; }); \
             return JSON.stringify(out, null, 1);";
        match tokio::time::timeout(
            Duration::from_secs(5),
            self.client.execute(&format!("{PRELUDE}{body}"), vec![]),
        )
        .await
        {
            Ok(Ok(Value::String(s))) => {
                let s = if s.len() > 6000 {
                    let mut cut = 6000;
                    while !s.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    format!("{}…", &s[..cut])
                } else {
                    s
                };
                format!("\n  page state: {}", s.replace('\n', "\n  "))
            }
            Ok(Ok(other)) => format!("\n  page state: {other}"),
            Ok(Err(e)) => format!("\n  (page state unavailable: {e})"),
            Err(_) => "\n  (page state unavailable: no answer in 5 s)".to_owned(),
        }
    }
}
