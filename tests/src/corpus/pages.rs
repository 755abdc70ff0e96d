//! The two pages that play the corpus.
//!
//! The *probe* page plays one file twice at once — a native `<video src>`
//! and a `<video>` under `Caudal.attach` — each muted, `play()` right away,
//! and reports both runs (see [`super::Run`]) to its parent. Each file gets
//! its own probe page in an iframe, so that a player defect that takes the
//! wasm module down (a panic) costs that file only. The *pool* page keeps
//! `concurrency` probe iframes going until every file is done and collects
//! the results in `window.__results` (`window.__done` at the end).

use serde_json::json;

use crate::page::attr_escape;

/// How long a run may take to play 0.5 s (ms), how long it is watched
/// after a `caudal:error`, and how far it plays before its duration is read.
pub const RUN_LIMIT_MS: u32 = 12_000;
const AFTER_ERROR_MS: u32 = 1_500;
const PLAY_TO_SECONDS: f64 = 1.5;

/// The probe page: `#<media url>` names the file.
pub fn probe_html(player_js: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>corpus probe</title>
<link rel="icon" href="data:,">
<script src="{player_js}"></script>
</head><body>
<script>
(function () {{
  var url = decodeURIComponent(location.hash.slice(1));
  var LIMIT = {RUN_LIMIT_MS}, AFTER_ERROR = {AFTER_ERROR_MS}, PLAY_TO = {PLAY_TO_SECONDS};
  function duration(v) {{
    var d = v.duration;
    return isNaN(d) ? null : (isFinite(d) ? d : 'Infinity');
  }}
  function probe(kind) {{
    return new Promise(function (resolve) {{
      var v = document.createElement('video');
      v.muted = true; v.playsInline = true; v.preload = 'auto';
      v.width = 160; v.height = 90;
      document.body.appendChild(v);
      var r = {{ moved: false, duration: null, error: null, errorMessage: null, errors: [], mode: null,
                reason: null, why: '', maxTime: 0, progress: 0, notes: [] }};
      var t0 = performance.now(), player = null, done = false, movedAt = 0, errorAt = 0, timer = 0;
      function finish(why) {{
        if (done) return;
        done = true;
        clearInterval(timer);
        r.why = why;
        r.duration = duration(v);
        r.ms = Math.round(performance.now() - t0);
        r.buffered = [];
        for (var i = 0; i < v.buffered.length; i++) r.buffered.push([v.buffered.start(i), v.buffered.end(i)]);
        r.videoWidth = v.videoWidth;
        r.frames = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : null;
        if (v.error) {{ r.error = v.error.code; r.errorMessage = v.error.message || null; }}
        if (player) {{
          try {{ var s = player.stats(); r.mode = s.mode; r.reason = s.reason || null; }}
          catch (e) {{ r.notes.push('stats() threw: ' + e); }}
          try {{ player.destroy(); }} catch (e) {{ r.notes.push('destroy() threw: ' + e); }}
        }}
        v.removeAttribute('src'); v.load(); v.remove();
        resolve(r);
      }}
      v.addEventListener('caudal:error', function (e) {{
        var d = e.detail || {{}};
        r.errors.push(d.code + ': ' + d.message);
        if (!errorAt) errorAt = performance.now();
      }});
      v.addEventListener('error', function () {{ if (kind === 'native') finish('error'); }});
      // Progress is the sum of the small forward steps of currentTime
      // between ticks: a jump (a timeline that starts at 10 s, a seek)
      // is not playback.
      var last = null;
      timer = setInterval(function () {{
        var now = performance.now(), t = v.currentTime;
        if (t > r.maxTime) r.maxTime = t;
        if (last !== null && t > last && t - last < 0.5) r.progress += t - last;
        last = t;
        if (!r.moved && r.progress > 0.5) {{ r.moved = true; movedAt = now; }}
        if (r.moved && (r.progress >= PLAY_TO || v.ended || now - movedAt > 3000)) return finish('played');
        if (!r.moved && errorAt && now - errorAt > AFTER_ERROR) return finish('error');
        if (now - t0 > LIMIT) finish('timeout');
      }}, 50);
      function play() {{
        var p = v.play();
        if (p && p.catch) p.catch(function (e) {{ r.notes.push('play() rejected: ' + e.name); }});
      }}
      if (kind === 'native') {{ v.src = url; play(); return; }}
      if (!window.Caudal) {{ r.notes.push('player.js did not load'); return finish('no-player'); }}
      Caudal.attach(v, url, {{}}).then(function (p) {{ player = p; play(); }},
        function (e) {{ r.notes.push('attach rejected: ' + e); finish('attach-rejected'); }});
    }});
  }}
  Promise.all([probe('native'), probe('caudal')]).then(function (rs) {{
    parent.postMessage({{ corpusProbe: url, native: rs[0], caudal: rs[1] }}, '*');
  }});
}})();
</script>
</body></html>
"#,
        player_js = attr_escape(player_js),
    )
}

/// The pool page: runs `probe_url#<media url>` for each of `media_urls`,
/// `concurrency` at a time; a probe silent for `frame_limit_ms` is
/// recorded as `{{ frameTimeout: true }}`.
pub fn pool_html(probe_url: &str, media_urls: &[String], concurrency: usize) -> String {
    let frame_limit_ms = 2 * RUN_LIMIT_MS + 10_000;
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>corpus</title>
<link rel="icon" href="data:,"></head><body>
<script>
(function () {{
  var files = {files}, probe = {probe}, K = {concurrency}, LIMIT = {frame_limit_ms};
  var next = 0, running = 0, frames = {{}};
  window.__results = {{}};
  window.__done = false;
  window.__started = performance.now();
  function settle(url, result) {{
    var f = frames[url];
    if (!f) return;
    delete frames[url];
    clearTimeout(f.timer);
    f.frame.remove();
    window.__results[url] = result;
    running -= 1;
    launch();
  }}
  function launch() {{
    while (running < K && next < files.length) {{
      var url = files[next++];
      var frame = document.createElement('iframe');
      frame.width = 360; frame.height = 120;
      frame.src = probe + '#' + encodeURIComponent(url);
      running += 1;
      frames[url] = {{ frame: frame, timer: setTimeout(settle, LIMIT, url, {{ frameTimeout: true }}) }};
      document.body.appendChild(frame);
    }}
    if (running === 0 && next >= files.length) {{
      window.__done = true;
      window.__elapsed = performance.now() - window.__started;
    }}
  }}
  window.addEventListener('message', function (e) {{
    var d = e.data;
    if (d && d.corpusProbe) settle(d.corpusProbe, {{ native: d.native, caudal: d.caudal }});
  }});
  launch();
}})();
</script>
</body></html>
"#,
        files = json!(media_urls),
        probe = json!(probe_url),
    )
}
