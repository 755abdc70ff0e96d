/*
 * Caudal player loader (classic script, no module, no dependencies).
 *
 *   <script src="https://host/player.js"></script>
 *   <video data-src="/media/clip.mp4" controls></video>   <!-- auto-attached -->
 *   <script>
 *     const player = await Caudal.attach(video, url, { });
 *     player.stats();    // plain object, see stats() below
 *     player.destroy();
 *   </script>
 *
 * The loader finds the wasm player relative to its OWN url
 * (document.currentScript.src), not the page's, so a page on another origin
 * can embed it with one <script> tag. Cross-origin embedding needs the
 * server of player.js to send CORS headers for pkg/*: the module import and
 * the wasm fetch are CORS requests; the wasm also needs `application/wasm`
 * for streaming compilation.
 *
 * attach() streams the file through Media Source Extensions under Caudal's
 * own buffer policy (the wasm Player: ranged fetches, startup/stall/resume
 * decisions, eviction). Where MSE or the codecs are unsupported the wasm
 * player falls back to `video.src = url` and says so in stats().mode and
 * stats().reason; if the wasm itself cannot load, the NativePlayer below
 * does the same.
 *
 * Events, dispatched on the <video> element (not bubbling):
 *   caudal:state  detail {state, previous}  (+ mode, reason on native fallback)
 *   caudal:stall  detail {position}         (playback ran dry)
 *   caudal:error  detail {code, message}    (what failed and why)
 *
 * CMCD (CTA-5004): every media request tells the server the player's
 * buffer, the media's bit rate, its throughput, startup and stalls, as the
 * CMCD-* headers for a file on the page's own origin and as the `CMCD` query
 * argument for one on another (options.cmcd: 'auto', the default; 'query';
 * 'header', which costs a CORS preflight on another origin; 'off'). Headers
 * leave the URL alone: a per-playback `sid` in the query would make every
 * visit miss the browser's cache.
 * options.sessionId is its `sid` (a new UUID per attach by default). A
 * server that paces by it (`caudal serve`) says so in CMSD-Dynamic, and the
 * player does not take a paced response for a slow link.
 *
 * Live streams (`/live/NAME` of `caudal serve`, or options.live: true):
 * one endless request, each fragment appended as it completes, playback
 * held options.latency seconds (default 0.5) behind the moment each frame
 * was made — by a playback rate up to options.maxRate (1.1) when a little
 * behind, a jump when far behind. stats().latency is that distance, from
 * the stream's `prft` boxes; the duration is Infinity, video.seekable the
 * last options.backBuffer (10) seconds. A publisher that goes away is one
 * caudal:stall; the player reconnects on its own.
 *
 * Signed URLs (`caudal sign`): the URL's query (its `__token__=`) goes on
 * every request, the loader's early one too. options.authorize(url) ->
 * url | Promise<url> gives a fresh one before the token's `exp=` and when
 * the server refuses an expired token; a refusal it cannot mend ends in one
 * caudal:error, code "forbidden" or "expired", never in retries.
 */
(function () {
  'use strict';

  if (window.Caudal && window.Caudal.attach) return; // loaded twice: keep the first

  // --- where am I? -------------------------------------------------------
  // currentScript is only set while this classic script first runs, so read
  // it now. Fallbacks: a <script src=".../player.js">, then the page itself.
  function ownUrl() {
    var script = document.currentScript;
    if (script && script.src) return script.src;
    var scripts = document.getElementsByTagName('script');
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/(^|\/)player\.js([?#]|$)/.test(scripts[i].src)) return scripts[i].src;
    }
    return document.baseURI;
  }
  var base = ownUrl();
  var jsUrl = new URL('pkg/caudal_player.js', base);
  var wasmUrl = new URL('pkg/caudal_player_bg.wasm', base);

  // --- the wasm module ---------------------------------------------------
  // The wasm is fetched at once, beside its JS glue rather than after it
  // (wasm-bindgen's init takes the pending response and compiles it as it
  // streams in): one round trip less before the player can run.
  function mark(name) {
    try { performance.mark('caudal:' + name); } catch (e) { /* no User Timing */ }
  }
  var wasm = null;
  var wasmResponse = fetch(wasmUrl.href);
  wasmResponse.catch(function () {}); // reported through `ready`
  var ready = import(jsUrl.href).then(function (mod) {
    // wasm-bindgen "web" target: the default export is init(); the single
    // object argument is its non-deprecated calling convention.
    return mod.default({ module_or_path: wasmResponse }).then(function () {
      mod.setRemuxerLoader(loadReader);
      wasm = mod;
      mark('ready');
    });
  });

  // The player reads no container itself: each format's reader is a
  // module of its own (plain MP4s: the remuxer that turns them into
  // fragments; fragmented MP4; WebM; MP3), loaded the first time a file
  // of that format comes — at attach when the URL names the format, so
  // that it comes beside the file's first bytes instead of after them.
  // The rewrites (fMP4 fragments MSE would misread, untidy WebM) are
  // another, loaded only when a file needs them. The names are stamped
  // with content hashes at build time.
  var MODULES = {
    remux: ['pkg/caudal_remux.js', 'pkg/caudal_remux_bg.wasm'],
    fmp4: ['pkg/caudal_fmp4.js', 'pkg/caudal_fmp4_bg.wasm'],
    webm: ['pkg/caudal_webm.js', 'pkg/caudal_webm_bg.wasm'],
    mp3: ['pkg/caudal_mp3.js', 'pkg/caudal_mp3_bg.wasm'],
    rewrite: ['pkg/caudal_rewrite.js', 'pkg/caudal_rewrite_bg.wasm']
  };
  // The live player: a build of the player of its own (it reads the live
  // body's boxes itself), loaded only for a live stream.
  MODULES.live = ['pkg/caudal_live.js', 'pkg/caudal_live_bg.wasm'];
  var modules = {}; // glue URL -> Promise of the initialised module
  function loadReader(name) {
    return loadModule(name).then(function (mod) { return mod.RemuxSession; });
  }
  function loadModule(name) {
    var files = MODULES[name];
    if (!files) return Promise.reject(new Error('no reader module ' + name));
    if (!modules[files[0]]) {
      // Its wasm too is fetched beside its glue, not after it.
      var moduleWasm = fetch(new URL(files[1], base).href);
      moduleWasm.catch(function () {}); // reported through the import
      var loading = import(new URL(files[0], base).href).then(function (mod) {
        return mod.default({ module_or_path: moduleWasm })
          .then(function () {
            mark(name + '-ready');
            return mod;
          });
      });
      modules[files[0]] = loading;
      loading.catch(function () { modules[files[0]] = null; }); // a later file may retry
    }
    return modules[files[0]];
  }
  // A live stream of `caudal serve`: /live/NAME (its playlist, NAME.m3u8,
  // is for other players). options.live forces either way.
  function isLive(href, options) {
    if (options.live === true || options.live === false) return options.live;
    return /\/live\/[^\/.]+$/.test(new URL(href).pathname);
  }
  // The reader module a URL's extension names, if any.
  function formatOf(href) {
    var path = new URL(href).pathname;
    // Most MP4s are plain: the remuxer (CMAF names are fragmented).
    if (/\.(mp4|m4v|m4a|mov|3gp)$/i.test(path)) return 'remux';
    if (/\.(cmfv|cmfa)$/i.test(path)) return 'fmp4';
    if (/\.(webm|mkv|mka|weba)$/i.test(path)) return 'webm';
    if (/\.mp3$/i.test(path)) return 'mp3';
    return null;
  }

  // The file's first request, sent by the loader while the player's code
  // is still on its way: `Range: bytes=0-`, exactly what the player's own
  // first request is (open-ended; the player ends it when its buffer has
  // what it wants). Its body is read at once into a new stream, so the
  // connection never waits on a player that is still compiling; the player
  // takes the response as its first request, and nothing is fetched twice.
  function earlyRequest(href, options, live) {
    var controller = new AbortController();
    var target = withCmcd(href, options, live);
    var response = fetch(target.url, { headers: target.headers, signal: controller.signal })
      .then(function (r) {
        if (!r.body) return r;
        var reader = r.body.getReader();
        var body = new ReadableStream({
          start: function (out) {
            function pump() {
              return reader.read().then(function (chunk) {
                if (chunk.done) { out.close(); return; }
                out.enqueue(chunk.value);
                return pump();
              });
            }
            pump().catch(function (e) { try { out.error(e); } catch (_) { /* cancelled */ } });
          },
          cancel: function (why) { return reader.cancel(why); }
        });
        return new Response(body, { status: r.status, statusText: r.statusText, headers: r.headers });
      });
    response.catch(function () {}); // the player reports it, or it was aborted
    return { url: href, response: response, controller: controller };
  }
  // CMCD (CTA-5004): every request tells the server the player's state.
  // The first one says only that it is a startup, of which session; the
  // player's own requests say the rest (buffer, bit rate, throughput).
  function newSessionId() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    var hex = '';
    for (var i = 0; i < 32; i++) hex += Math.floor(Math.random() * 16).toString(16);
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-4' + hex.slice(13, 16) + '-' +
      hex.slice(16, 20) + '-' + hex.slice(20);
  }
  // Same origin: the CMCD-* headers (no preflight there), so that the URL,
  // the browser's cache key, is the same on every visit. Another origin:
  // the query, since headers would cost a CORS preflight per request.
  function cmcdModeFor(href) {
    return new URL(href).origin === location.origin ? 'header' : 'query';
  }
  function withCmcd(href, options, live) {
    var headers = { Range: 'bytes=0-' };
    var mode = options.cmcd === false ? 'off' : (options.cmcd || 'query');
    var session = 'sf=o,sid="' + String(options.sessionId).replace(/["\\]/g, '') + '",st=' + (live ? 'l' : 'v');
    if (mode === 'off') return { url: href, headers: headers };
    if (mode === 'header' || mode === 'headers') {
      headers['CMCD-Session'] = session;
      headers['CMCD-Request'] = 'su';
      return { url: href, headers: headers };
    }
    var hash = href.indexOf('#');
    var base = hash < 0 ? href : href.slice(0, hash);
    var fragment = hash < 0 ? '' : href.slice(hash);
    var sep = base.indexOf('?') < 0 ? '?' : '&';
    return { url: base + sep + 'CMCD=' + encodeURIComponent(session + ',su') + fragment, headers: headers };
  }

  // Playback does not depend on the wasm yet: report a failure once, but
  // keep `ready` rejecting for whoever awaits it.
  ready.catch(function (err) {
    console.error('caudal: could not load the player module from ' + jsUrl.href, err);
  });

  // --- players -----------------------------------------------------------
  var players = new WeakMap(); // video -> player

  function now() {
    return performance.now();
  }

  function rangesOf(timeRanges) {
    var out = [];
    for (var i = 0; i < timeRanges.length; i++) {
      out.push([timeRanges.start(i), timeRanges.end(i)]);
    }
    return out;
  }

  // Seconds buffered ahead of `t` in the range that contains it.
  function aheadOf(ranges, t) {
    for (var i = 0; i < ranges.length; i++) {
      if (ranges[i][0] <= t + 0.1 && t < ranges[i][1]) return ranges[i][1] - t;
    }
    return 0;
  }

  function emit(video, name, detail) {
    video.dispatchEvent(new CustomEvent('caudal:' + name, { detail: detail }));
  }

  var MEDIA_ERRORS = {
    1: 'aborted', // MEDIA_ERR_ABORTED
    2: 'network', // MEDIA_ERR_NETWORK
    3: 'decode', // MEDIA_ERR_DECODE
    4: 'unsupported' // MEDIA_ERR_SRC_NOT_SUPPORTED
  };

  // Native playback: the browser fetches and buffers; we observe and report.
  function NativePlayer(video, url, options) {
    var self = this;
    this.video = video;
    this.url = String(url);
    this.options = options || {};
    this.state = 'idle';
    this.reason = 'MSE playback is not implemented yet: the browser plays the file natively';
    this.t0 = now();
    this.playAt = null; // first play request
    this.loadedMs = null; // attach -> first frame decodable (loadeddata)
    this.startupMs = null; // first play request -> playback running
    this.stalls = 0;
    this.stallMs = 0;
    this.stallSince = null;
    this.lastError = null;

    var on = {
      loadeddata: function () {
        if (self.loadedMs === null) self.loadedMs = Math.round(now() - self.t0);
      },
      canplay: function () {
        if (self.state === 'loading') self.setState('ready');
      },
      play: function () {
        if (self.playAt === null) self.playAt = now();
      },
      waiting: function () {
        if (self.startupMs === null) return; // still starting: stays 'loading'
        if (self.stallSince === null && !video.seeking) {
          self.stalls += 1;
          self.stallSince = now();
          emit(video, 'stall', { mode: 'native', position: video.currentTime, stalls: self.stalls });
        }
        self.setState('buffering');
      },
      playing: function () {
        if (self.startupMs === null) self.startupMs = Math.round(now() - (self.playAt === null ? self.t0 : self.playAt));
        self.endStall();
        self.setState('playing');
      },
      pause: function () {
        if (!video.ended) self.setState('paused');
      },
      seeking: function () { self.endStall(); },
      ended: function () {
        self.endStall();
        self.setState('ended');
      },
      error: function () {
        var e = video.error;
        var code = e ? e.code : 0;
        self.lastError = {
          mode: 'native',
          code: 'media-' + (MEDIA_ERRORS[code] || 'error'),
          message: (e && e.message) || 'the browser could not play ' + self.url
        };
        self.endStall();
        self.setState('error');
        emit(video, 'error', self.lastError);
      }
    };
    this.listeners = on;
    Object.keys(on).forEach(function (type) {
      video.addEventListener(type, on[type]);
    });

    video.src = this.url;
    this.setState('loading');
    if (video.autoplay) {
      var p = video.play();
      if (p && p.catch) p.catch(function () {}); // autoplay policy may refuse
    }
  }

  NativePlayer.prototype.endStall = function () {
    if (this.stallSince !== null) {
      this.stallMs += now() - this.stallSince;
      this.stallSince = null;
    }
  };

  NativePlayer.prototype.setState = function (state) {
    if (state === this.state) return;
    var previous = this.state;
    this.state = state;
    var detail = { state: state, previous: previous, mode: 'native' };
    if (previous === 'idle') detail.reason = this.reason;
    emit(this.video, 'state', detail);
  };

  /** A plain, JSON-serialisable snapshot. Unknowns are null, not guessed. */
  NativePlayer.prototype.stats = function () {
    var v = this.video;
    var buffered = rangesOf(v.buffered);
    var stallMs = this.stallMs + (this.stallSince !== null ? now() - this.stallSince : 0);
    return {
      mode: 'native',
      reason: this.reason,
      state: this.state,
      url: this.url,
      loadedMs: this.loadedMs,
      startupMs: this.startupMs,
      stalls: this.stalls,
      stallMs: Math.round(stallMs),
      position: v.currentTime,
      duration: isFinite(v.duration) ? v.duration : null,
      bufferAhead: aheadOf(buffered, v.currentTime),
      buffered: buffered,
      bytesFetched: null, // the browser's own fetches are not observable
      throughput: null,
      requests: null,
      aborted: null,
      errors: this.lastError ? 1 : 0,
      refused: null,
      authorizations: null,
      readyState: v.readyState,
      error: this.lastError
    };
  };

  NativePlayer.prototype.destroy = function () {
    if (this.state === 'destroyed') return;
    var v = this.video;
    var on = this.listeners;
    Object.keys(on).forEach(function (type) {
      v.removeEventListener(type, on[type]);
    });
    this.endStall();
    if (players.get(v) === this) players.delete(v);
    v.removeAttribute('src');
    v.load(); // drop the connection and the buffer
    this.setState('destroyed');
  };

  /**
   * The MSE player: the wasm Player (Caudal's buffer policy) behind the JS
   * API, or for a live stream the wasm LivePlayer (the live policy).
   */
  function MsePlayer(video, url, options, early, kind) {
    var inner = kind.attach(video, url, options || {}, early);
    this.video = video;
    this.url = url;
    this.stats = function () {
      if (!inner) return { mode: 'mse', state: 'destroyed' };
      var s = inner.stats();
      s.url = url;
      s.buffered = rangesOf(video.buffered);
      return s;
    };
    this.destroy = function () {
      if (!inner) return;
      inner.destroy();
      inner.free();
      inner = null;
      if (players.get(video) === this) players.delete(video);
    };
  }

  /**
   * Attach a player to `video` for `url`. Returns a Promise of the player
   * (the MSE player will need the wasm; native playback starts at once).
   * Attaching again to the same element replaces the previous player.
   */
  function attach(video, url, options) {
    if (!video || typeof video.play !== 'function') {
      return Promise.reject(new TypeError('Caudal.attach: the first argument must be a <video> or <audio> element'));
    }
    var old = players.get(video);
    if (old) old.destroy();
    var href = new URL(url, document.baseURI).href;
    options = Object.assign({}, options || {});
    if (!options.sessionId) options.sessionId = newSessionId();
    if (options.cmcd === undefined || options.cmcd === 'auto') options.cmcd = cmcdModeFor(href);
    // While the player's code loads, the file's first bytes come already.
    var live = isLive(href, options);
    var early = (live || !wasm) && window.MediaSource ? earlyRequest(href, options, live) : undefined;
    var format = live ? null : formatOf(href);
    if (format) loadReader(format);
    // A live stream needs the live player only; anything else the player.
    var player = live
      ? loadModule('live').then(function (mod) { return mod.LivePlayer; })
      : ready.then(function () { return wasm.Player; });
    // Without the wasm (blocked, failed to load) the browser plays natively.
    return player.then(function (kind) {
      return new MsePlayer(video, href, options, early, kind);
    }, function () {
      if (early) early.controller.abort();
      return new NativePlayer(video, href, options);
    }).then(function (player) {
      players.set(video, player);
      return player;
    });
  }

  /** Options from data-* attributes: data-startup, data-goal, data-resume, data-behind, data-max-bytes, data-latency. */
  function dataOptions(v) {
    var options = {};
    var names = { startup: 'startup', goal: 'goal', resume: 'resume', behind: 'behind', maxBytes: 'max-bytes', latency: 'latency' };
    Object.keys(names).forEach(function (key) {
      var raw = v.getAttribute('data-' + names[key]);
      if (raw !== null && raw !== '' && isFinite(Number(raw))) options[key] = Number(raw);
    });
    return options;
  }

  function autoAttach() {
    var videos = document.querySelectorAll('video[data-src]');
    for (var i = 0; i < videos.length; i++) {
      var v = videos[i];
      if (players.has(v)) continue;
      attach(v, v.getAttribute('data-src'), dataOptions(v)).catch(function (err) {
        console.error('caudal: auto-attach failed', err);
      });
    }
  }

  window.Caudal = {
    /** Resolves once the wasm player module is loaded and initialised. */
    ready: ready,
    /** The wasm player's version, or null before `ready` resolves. */
    version: function () {
      return wasm ? wasm.version() : null;
    },
    /** MediaSource.isTypeSupported(mime) via the wasm; null before `ready`. */
    mseSupported: function (mime) {
      return wasm ? wasm.mseSupported(String(mime)) : null;
    },
    attach: attach,
    /** The player attached to `video`, or null. */
    get: function (video) {
      return players.get(video) || null;
    },
    /** Where the loader found itself (for diagnostics). */
    base: base
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', autoAttach);
  } else {
    autoAttach();
  }
})();
