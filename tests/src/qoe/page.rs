//! The benchmark page, as a site would write it: one muted `<video>`,
//! the player's script tag and an inline script that starts it at once;
//! before them, a recorder that measures every player the same way, from
//! the video element alone.
//!
//! The page is served by the same origin as the player and the media,
//! through the shaped link, so the page and the player's own code count.
//! The clock is the page's: time 0 is navigation start
//! (`performance.timeOrigin`). Nothing waits for a player to be "ready".
//!
//! Nothing here asks a player how it is doing (`stats()`, `caudal:stall`):
//! the references have no such API, and a player's own account of itself is
//! not what a viewer sees. The recorder watches presented frames
//! (`requestVideoFrameCallback`) and the playhead:
//!
//! * **time to first frame**: ms from navigation start until the first
//!   frame after the first one is presented, i.e. until the picture
//!   *moves*. The very first frame may be painted long before playback
//!   starts (Chromium paints it at `HAVE_CURRENT_DATA`; Caudal holds at
//!   playback rate 0 until its startup buffer is full), which no viewer would
//!   call "started". The extra frame costs every player the same 40 ms.
//! * **stall**: after the first frame, outside a seek, not paused, not
//!   ended: a `waiting` event, or a playhead that has not advanced for
//!   300 ms (a player that holds playback at rate 0 fires no `waiting`).
//!   It ends when the playhead advances again. A stall still running at
//!   the end counts, up to then.
//! * **seek**: ms from setting `currentTime` until a frame at the target is
//!   presented and the next one after it (playing again, at the target).
//!
//! With the snapshot come the page's Resource Timing entries and its
//! `caudal:*` performance marks, for the timeline.

use serde::Deserialize;

use super::player::Player;
use super::timeline::PageTimeline;
use crate::page::attr_escape;

/// What the recorder reports (`window.__qoe.snapshot()`). Times are ms
/// since navigation start.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub now_ms: f64,
    pub ttff_ms: Option<f64>,
    pub first_paint_ms: Option<f64>,
    pub stalls: u32,
    pub stall_ms: f64,
    /// (start ms, length ms) of each stall.
    pub stall_log: Vec<(f64, f64)>,
    pub seek_ms: Option<f64>,
    pub current_time: f64,
    pub duration: Option<f64>,
    pub paused: bool,
    pub ended: bool,
    /// `video.played`: the media time ranges actually played.
    pub played: Vec<(f64, f64)>,
    pub frames: u64,
    pub dropped_frames: Option<u64>,
    /// `waiting` events seen (diagnostics).
    pub waiting: u32,
    /// The first error a player or the element reported.
    pub error: Option<String>,
    /// Whether `requestVideoFrameCallback` exists (else the fallback ran).
    pub rvfc: bool,
    pub timeline: PageTimeline,
}

/// Where the page loads a player's library from (the site root).
pub fn library(player: Player) -> Option<&'static str> {
    match player {
        Player::Caudal => Some("/player.js"),
        Player::Native => None,
        Player::Hlsjs => Some("/hls.min.js"),
    }
}

/// The page for `player` playing `media` (a URL on the same origin: the
/// file, or for hls.js its playlist). The start script follows the
/// library's script tag, as a page would do it (for Caudal, the README's
/// `Caudal.attach(video, url, {})`, then `play()` once it resolves).
pub fn html(player: Player, media: &str) -> String {
    let url = js_string(media);
    let start = match player {
        Player::Caudal => format!(
            "Caudal.attach(v, {url}, {{}}).then(function (p) {{\n  \
               window.__player = p;\n  var r = v.play(); if (r && r.catch) r.catch(q.fail('play'));\n\
             }}, q.fail('Caudal.attach'));"
        ),
        Player::Native => format!(
            "v.preload = 'auto';\nv.src = {url};\n\
             var r = v.play(); if (r && r.catch) r.catch(q.fail('play'));"
        ),
        Player::Hlsjs => format!(
            "var hls = window.__hls = new Hls();\n\
             hls.on(Hls.Events.ERROR, function (_, d) {{ if (d && d.fatal) q.fail('hls.js')(d.type + ' ' + d.details); }});\n\
             hls.on(Hls.Events.MANIFEST_PARSED, function () {{\n  \
               var r = v.play(); if (r && r.catch) r.catch(q.fail('play'));\n\
             }});\n\
             hls.loadSource({url});\nhls.attachMedia(v);"
        ),
    };
    let script = library(player).map_or_else(String::new, |src| {
        format!("<script src=\"{}\"></script>\n", attr_escape(src))
    });
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>caudal qoe: {player}</title>
<link rel="icon" href="data:,">
</head>
<body>
<video id="v" muted playsinline width="640" height="360"></video>
<script>
{RECORDER}
</script>
{script}<script>
var v = document.getElementById('v'), q = window.__qoe;
try {{
{start}
}} catch (e) {{ q.fail('start')(e); }}
</script>
</body>
</html>
"#,
        player = player.id(),
    )
}

/// `text` as a JavaScript string literal (JSON's rules are JS's, plus
/// `<` escaped so no `</script>` can close the inline script).
fn js_string(text: &str) -> String {
    serde_json::Value::from(text)
        .to_string()
        .replace('<', "\\u003c")
}

/// The recorder; see the module docs.
const RECORDER: &str = r#"
(function () {
  'use strict';
  var v = document.getElementById('v');
  v.muted = true;
  if (performance.setResourceTimingBufferSize) performance.setResourceTimingBufferSize(5000);
  // Time 0 is navigation start: performance.now() counts from there.
  var q = window.__qoe = {
    t0: 0, firstPaint: null, firstMediaTime: null, ttff: null, frames: 0,
    stalls: 0, stallMs: 0, stallStart: null, stallLog: [], waiting: 0,
    seekStart: null, seekTarget: null, seekLanded: null, seekMs: null,
    lastCt: 0, lastAdvance: null, error: null, abandoned: false,
    rvfc: typeof v.requestVideoFrameCallback === 'function'
  };
  function now() { return performance.now(); }
  function fail(what) {
    return function (e) { if (q.error === null) q.error = what + ': ' + (e && e.message ? e.message : e); };
  }
  q.fail = fail;
  function inSeek() { return q.seekStart !== null && q.seekMs === null; }
  function beginStall(at) {
    if (q.stallStart === null && q.ttff !== null && !inSeek() && !v.paused && !v.ended && !q.abandoned) {
      q.stallStart = at;
    }
  }
  function endStall(at) {
    if (q.stallStart === null) return;
    var d = Math.max(0, at - q.stallStart);
    q.stalls += 1; q.stallMs += d; q.stallLog.push([q.stallStart - q.t0, d]);
    q.stallStart = null;
  }
  function started(at) {
    if (q.ttff !== null) return;
    q.ttff = at; q.lastAdvance = at; q.lastCt = v.currentTime;
  }
  function onFrame(_, meta) {
    if (q.abandoned) return;
    var t = now();
    q.frames += 1;
    if (q.firstPaint === null) { q.firstPaint = t; q.firstMediaTime = meta.mediaTime; }
    else if (meta.mediaTime > q.firstMediaTime) started(t);
    if (inSeek() && !v.seeking) {
      if (q.seekLanded === null) {
        if (meta.mediaTime >= q.seekTarget - 0.5) q.seekLanded = meta.mediaTime;
      } else if (meta.mediaTime > q.seekLanded) {
        q.seekMs = t - q.seekStart; q.lastAdvance = t; q.lastCt = v.currentTime;
      }
    }
    v.requestVideoFrameCallback(onFrame);
  }
  v.addEventListener('waiting', function () { q.waiting += 1; beginStall(now()); });
  v.addEventListener('error', function () { fail('video.error')(v.error ? 'code ' + v.error.code + ' ' + v.error.message : '?'); });
  v.addEventListener('caudal:error', function (e) { fail('caudal:error')(JSON.stringify(e.detail)); });
  setInterval(function () {
    if (q.abandoned) return;
    var t = now(), ct = v.currentTime;
    if (!q.rvfc && q.ttff === null && ct > 0 && !v.paused) started(t);
    if (!q.rvfc && inSeek() && !v.seeking && ct > q.seekTarget + 0.04) q.seekMs = t - q.seekStart;
    if (ct !== q.lastCt) {
      var moved = ct > q.lastCt;
      q.lastCt = ct;
      if (moved) { q.lastAdvance = t; endStall(t); }
      return;
    }
    if (q.lastAdvance !== null && t - q.lastAdvance > 300) beginStall(q.lastAdvance);
  }, 50);

  if (q.rvfc) v.requestVideoFrameCallback(onFrame);

  q.seek = function (target) {
    endStall(now());
    q.seekTarget = target; q.seekLanded = null; q.seekMs = null;
    q.seekStart = now();
    v.currentTime = target;
    return true;
  };

  q.snapshot = function () {
    var t = now();
    var stalls = q.stalls, stallMs = q.stallMs, log = q.stallLog.slice();
    if (q.stallStart !== null) {
      stalls += 1; stallMs += t - q.stallStart; log.push([q.stallStart - q.t0, t - q.stallStart]);
    }
    var played = [];
    for (var i = 0; i < v.played.length; i++) played.push([v.played.start(i), v.played.end(i)]);
    var quality = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    function since(x) { return x === null ? null : x - q.t0; }
    return {
      nowMs: since(t), ttffMs: since(q.ttff), firstPaintMs: since(q.firstPaint),
      stalls: stalls, stallMs: stallMs, stallLog: log,
      seekMs: q.seekMs, currentTime: v.currentTime,
      duration: isFinite(v.duration) ? v.duration : null,
      paused: v.paused, ended: v.ended, played: played, frames: q.frames,
      droppedFrames: quality ? quality.droppedVideoFrames : null,
      waiting: q.waiting, error: q.error, rvfc: q.rvfc, timeline: timeline()
    };
  };

  // What the page saw of its loads: Resource Timing (same origin, so the
  // sizes are there) and the player's own marks.
  function timeline() {
    function entry(e) {
      return { name: e.name, initiatorType: e.initiatorType || 'navigation', startTime: e.startTime,
               requestStart: e.requestStart, responseStart: e.responseStart, responseEnd: e.responseEnd,
               transferSize: e.transferSize || 0, encodedBodySize: e.encodedBodySize || 0,
               decodedBodySize: e.decodedBodySize || 0 };
    }
    var nav = performance.getEntriesByType('navigation')[0];
    return {
      timeOrigin: performance.timeOrigin,
      navigation: nav ? entry(nav) : null,
      resources: performance.getEntriesByType('resource').map(entry),
      marks: performance.getEntriesByType('mark')
        .filter(function (m) { return m.name.indexOf('caudal:') === 0; })
        .map(function (m) { return { name: m.name, startTime: m.startTime }; })
    };
  }

  // The viewer leaves: measure, then stop the player and the element.
  q.abandon = function () {
    var s = q.snapshot();
    q.abandoned = true;
    try { if (window.__player) window.__player.destroy(); } catch (e) { fail('destroy')(e); }
    try { if (window.__hls) window.__hls.destroy(); } catch (e) { fail('destroy')(e); }
    v.removeAttribute('src');
    v.load();
    return s;
  };
})();
"#;
