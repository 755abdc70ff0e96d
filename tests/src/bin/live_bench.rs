//! `live_bench`: live latency, Caudal's player against hls.js on the same
//! stream in the same run; `cargo xtask bench live` prepares the tools and
//! runs it (release).
//!
//! One `caudal` (in-process, as the tests start it: live on, loopback
//! publishing open) takes ONE ffmpeg publisher (a lavfi test picture and
//! tone at real-time speed, H.264 zerolatency, 1 s GOPs, a fragment per
//! frame, `prft` wall-clock stamps — the command of the live browser
//! tests). Then, round after round, each player in a fresh headless
//! Chromium joins that same running stream: Caudal on `/live/NAME`, hls.js
//! (low-latency mode) on `/live/NAME.m3u8`. Per run: the startup (attach →
//! first frame, `requestVideoFrameCallback`), then a sample every 250 ms,
//! taken in the page, for `--seconds`, and the stalls.
//!
//! Two latency figures per sample, kept apart because only one is common:
//!
//! * **frame age** (the comparison): now minus the wall-clock moment the
//!   frame at the playhead was muxed, both from the same ffmpeg `prft`
//!   stamps. Caudal: `stats().latency` (prft of each fragment). hls.js:
//!   `Date.now() - hls.playingDate`, where `playingDate` is the segment's
//!   `EXT-X-PROGRAM-DATE-TIME` (which caudal writes from the prft of the
//!   segment's first fragment) plus the playhead's offset into it.
//! * **own**: what each player says of itself — Caudal `stats().latency`
//!   (the same number), hls.js `hls.latency` (its estimate from the
//!   playlist's edge); shown, not compared.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use caudal_tests::browser::{self, Availability, BrowserPaths};
use caudal_tests::{Browser, Stage, server};
use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The stream's name: `/live/bench`, `/live/bench.m3u8`.
const STREAM: &str = "bench";
/// How often the page samples the latency.
const SAMPLE_MS: u32 = 250;
/// Seconds of stream before the first viewer joins: every viewer, the
/// first one too, meets a stream with segments behind it.
const WARM_UP: Duration = Duration::from_secs(3);
/// What one run may take beyond its `--seconds` of sampling (browser
/// start, page, player load, first frame, read-back) before it fails.
const RUN_OVERHEAD: Duration = Duration::from_secs(90);

/// Live latency in headless Chromium: Caudal's player and hls.js, one
/// after the other, each round, on one ffmpeg stream. Prints a table,
/// writes OUT/results.json.
#[derive(Debug, Parser)]
#[command(name = "live_bench")]
struct Cli {
    /// Rounds; each plays both players, each in a fresh browser.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Seconds of latency samples per run, after the first frame.
    #[arg(long, value_name = "S", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=600))]
    seconds: u32,
    /// Caudal's target latency (`Caudal.attach(v, url, {latency})`),
    /// seconds; without it, the player's default.
    #[arg(long, value_name = "L")]
    latency: Option<f64>,
    /// hls.js to load (hls.min.js).
    #[arg(long, value_name = "hls.min.js")]
    hlsjs: PathBuf,
    /// The hls.js version, for the report.
    #[arg(long, value_name = "V")]
    hlsjs_version: Option<String>,
    /// The ffmpeg that publishes the stream.
    #[arg(long, value_name = "PATH", default_value = "ffmpeg")]
    ffmpeg: PathBuf,
    /// Where results.json goes (default: target/bench-live/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The command line to show in the report (default: this one).
    #[arg(long, value_name = "TEXT")]
    command: Option<String>,
}

/// The two players compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Player {
    Caudal,
    Hlsjs,
}

impl Player {
    fn label(self) -> &'static str {
        match self {
            Player::Caudal => "caudal",
            Player::Hlsjs => "hls.js",
        }
    }
}

/// An ffmpeg publishing a live test picture and tone to `url` for at most
/// `seconds` — the command line of `Publisher` in tests/tests/live.rs.
/// Killed by its pid when dropped.
#[derive(Debug)]
struct Publisher(Child);

impl Publisher {
    fn start(ffmpeg: &Path, url: &str, seconds: u64) -> Result<Publisher> {
        let child = Command::new(ffmpeg)
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
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", ffmpeg.display()))?;
        Ok(Publisher(child))
    }

    /// An error once ffmpeg has exited: every later figure would be of a
    /// dead stream.
    fn check(&mut self) -> Result<()> {
        match self.0.try_wait().context("asking after ffmpeg")? {
            None => Ok(()),
            Some(status) => bail!("the ffmpeg publisher exited ({status})"),
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The status code of `GET path` (raw HTTP/1.1: the bench needs no client
/// crate for one status line), bounded at 3 s.
async fn status_of(addr: SocketAddr, path: &str) -> Result<u16> {
    let ask = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::with_capacity(64);
        let mut buf = [0u8; 64];
        while !head.contains(&b'\n') && head.len() < 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(head)
    };
    let head = tokio::time::timeout(Duration::from_secs(3), ask)
        .await
        .map_err(|_| anyhow::anyhow!("GET {path}: no answer within 3 s"))?
        .with_context(|| format!("GET {path}"))?;
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("GET {path}: not an HTTP answer: {line:?}"))
}

/// Polls the playlist until it answers 200, at most `limit`.
async fn wait_for_playlist(
    addr: SocketAddr,
    path: &str,
    publisher: &mut Publisher,
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        publisher.check()?;
        let answer = status_of(addr, path).await;
        if matches!(answer, Ok(200)) {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{path} never answered 200 within {} s: {answer:?}",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One sample, as the page took it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
struct Sample {
    /// ms since attach.
    t: f64,
    /// The playhead.
    ct: f64,
    /// Seconds buffered ahead of the playhead.
    ahead: f64,
    rate: f64,
    paused: bool,
    /// The common figure: now minus the prft moment of the frame shown, s.
    age: Option<f64>,
    /// The player's own latency figure, s.
    own: Option<f64>,
    /// Caudal's `stats().state`.
    state: Option<String>,
    /// A probe that threw.
    error: Option<String>,
}

/// What the page recorded over one run.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Record {
    attach_at: f64,
    first_frame: Option<f64>,
    /// `performance.now()` of each `waiting` event.
    waiting: Vec<f64>,
    samples: Vec<Sample>,
    /// Caudal's `stats().stalls` when sampling started.
    stalls_at_start: Option<f64>,
    /// Fatal hls.js errors, a rejected attach, `caudal:error` events.
    errors: Vec<String>,
    /// The player's stats at the end (Caudal `stats()`; hls.js a few getters).
    final_stats: Value,
}

/// One player's run.
#[derive(Debug, Serialize)]
struct Run {
    round: u32,
    player: &'static str,
    startup_ms: f64,
    /// Caudal's own `stats().startupMs`.
    player_startup_ms: Option<f64>,
    /// Caudal: `stats().stalls` over the sampling; hls.js: `waiting`
    /// events after the first frame.
    stalls: u64,
    /// `waiting` events after the first frame (both players).
    waiting: u64,
    samples: Vec<Sample>,
    errors: Vec<String>,
    final_stats: Value,
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")
        .and_then(|runtime| {
            let result = runtime.block_on(run(&cli, &args));
            runtime.shutdown_timeout(Duration::from_secs(2));
            result
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli, args: &[String]) -> Result<()> {
    let started = Instant::now();
    ensure!(
        cli.latency.is_none_or(|l| l.is_finite() && l > 0.0),
        "--latency must be a positive number of seconds"
    );
    let paths = match browser::availability() {
        Availability::Ready(paths) => paths,
        Availability::Skip(why) | Availability::Missing(why) | Availability::Misconfigured(why) => {
            bail!("cannot run the browser: {why}")
        }
    };
    let loader = server::www_dir().join("pkg/player.js");
    ensure!(
        loader.is_file(),
        "{} is missing: run `cargo xtask build-player` first",
        loader.display()
    );
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| server::workspace_root().join("target/bench-live"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    // hls.js is served from the player's server, like the media.
    let media = tempfile::tempdir().context("creating the media dir")?;
    std::fs::copy(&cli.hlsjs, media.path().join("hls.min.js"))
        .with_context(|| format!("copying {}", cli.hlsjs.display()))?;
    let stage = Stage::with_media(media).await?;
    let addr = stage.server.addr();
    let live_url = stage.server.url(&format!("/live/{STREAM}"));
    let playlist_path = format!("/live/{STREAM}.m3u8");

    // Long enough for every run at its limit; killed at the end anyway.
    let per_run = u64::from(cli.seconds) + RUN_OVERHEAD.as_secs();
    let budget = 60 + u64::from(cli.rounds) * 2 * per_run;
    let mut publisher = Publisher::start(&cli.ffmpeg, &live_url, budget)?;
    wait_for_playlist(
        addr,
        &playlist_path,
        &mut publisher,
        Duration::from_secs(15),
    )
    .await?;
    tokio::time::sleep(WARM_UP).await;
    eprintln!(
        "live: stream {live_url} up; {} round(s) x 2 players, {} s of samples each",
        cli.rounds, cli.seconds
    );

    let mut runs: Vec<Outcome> = Vec::new();
    for round in 1..=cli.rounds {
        // The first player alternates, so neither always meets the stream
        // (or the machine) in the same state.
        let order = if round % 2 == 1 {
            [Player::Caudal, Player::Hlsjs]
        } else {
            [Player::Hlsjs, Player::Caudal]
        };
        for player in order {
            publisher.check()?;
            let t = Instant::now();
            let limit = Duration::from_secs(per_run);
            let result = tokio::time::timeout(
                limit,
                one_run(&paths, &stage, player, round, cli, &live_url),
            )
            .await
            .map_err(|_| format!("the run did not finish within {} s", limit.as_secs()))
            .and_then(|r| r.map_err(|e| format!("{e:#}")));
            match &result {
                Ok(run) => {
                    let ages = ages(std::slice::from_ref(run));
                    eprintln!(
                        "live: round {round} {:<6}: startup {:.0} ms, frame age p50 {} p95 {} s over {} \
                         samples, stalls {}, waiting {}{} ({:.0} s)",
                        player.label(),
                        run.startup_ms,
                        fmt_s(quantile(&ages, 0.5)),
                        fmt_s(quantile(&ages, 0.95)),
                        ages.len(),
                        run.stalls,
                        run.waiting,
                        if run.errors.is_empty() {
                            String::new()
                        } else {
                            format!(", errors: {}", run.errors.join("; "))
                        },
                        t.elapsed().as_secs_f64()
                    );
                }
                Err(e) => eprintln!("live: round {round} {:<6}: FAILED: {e}", player.label()),
            }
            runs.push(result.map_err(|e| (round, player, e)));
        }
    }
    publisher.check()?;
    drop(publisher);
    stage.server.stop().await;

    let command = cli.command.clone().unwrap_or_else(|| {
        std::iter::once("live_bench".to_owned())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let chromium = Command::new(&paths.chromium)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let hlsjs_version = cli.hlsjs_version.as_deref().unwrap_or("(version unknown)");
    let ok: Vec<&Run> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
    let summaries: Vec<Summary> = [Player::Caudal, Player::Hlsjs]
        .into_iter()
        .map(|p| Summary::of(p, &ok, &runs))
        .collect();

    println!();
    println!(
        "machine: {} CPUs, {}",
        caudal_tests::machine::cpu_count(),
        caudal_tests::machine::cpu_model()
    );
    println!("browser: {chromium} (headless, a fresh profile per run); hls.js {hlsjs_version}");
    println!(
        "stream: ffmpeg lavfi testsrc2 320x180@25 + sine, libx264 veryfast zerolatency, 1 s GOP, \
         a fragment per frame, prft wallclock, PUT to caudal; Caudal target latency {}; \
         hls.js lowLatencyMode",
        cli.latency
            .map_or("the player's default".to_owned(), |l| format!("{l} s"))
    );
    println!(
        "{} round(s), players alternating first, {} s of samples every {SAMPLE_MS} ms per run",
        cli.rounds, cli.seconds
    );
    println!("command: {command}");
    println!();
    print!("{}", table(&summaries));
    if let [caudal, hlsjs] = summaries.as_slice() {
        println!(
            "caudal/hls.js: startup p50 {}, frame age p50 {}, p95 {}",
            ratio(caudal.startup_p50, hlsjs.startup_p50),
            ratio(caudal.age_p50, hlsjs.age_p50),
            ratio(caudal.age_p95, hlsjs.age_p95)
        );
    }
    println!(
        "(startup: attach -> first frame (requestVideoFrameCallback), Caudal's live module load \
         included, hls.js's script loaded before attach; frame age: now - the prft wall-clock stamp \
         of the frame at the playhead, the common figure — Caudal stats().latency, hls.js \
         Date.now() - hls.playingDate (the playlist's PROGRAM-DATE-TIME, from the same prft \
         stamps); own: each player's own figure, Caudal stats().latency, hls.js hls.latency, not \
         comparable; stalls: Caudal stats().stalls, hls.js `waiting` events after the first frame; \
         waiting: `waiting` events after the first frame, both; p50/p95 over every sample of \
         every round)"
    );
    let elapsed = started.elapsed().as_secs_f64();
    println!("total: {elapsed:.0} s");

    let results = json!({
        "command": command,
        "machine": { "cpus": caudal_tests::machine::cpu_count(), "cpu_model": caudal_tests::machine::cpu_model() },
        "browser": chromium,
        "hlsjs_version": cli.hlsjs_version,
        "options": { "rounds": cli.rounds, "seconds": cli.seconds, "latency": cli.latency,
                     "sample_ms": SAMPLE_MS },
        "stream": {
            "source": "lavfi testsrc2=size=320x180:rate=25 + sine 440 Hz",
            "video": "libx264 veryfast zerolatency, -g 25 (1 s GOP), 300k",
            "audio": "aac 64k",
            "mux": "mp4 empty_moov+default_base_moof+frag_every_frame, -write_prft wallclock, PUT",
        },
        "figures": {
            "age": "now - prft wall clock of the frame at the playhead (Caudal stats().latency; hls.js Date.now() - hls.playingDate)",
            "own": "the player's own estimate (Caudal stats().latency; hls.js hls.latency)",
            "stalls": "Caudal stats().stalls over the sampling; hls.js waiting events after the first frame",
        },
        "summary": summaries,
        "runs": runs.iter().map(|r| match r {
            Ok(run) => json!(run),
            Err((round, player, error)) => json!({ "round": round, "player": player.label(), "error": error }),
        }).collect::<Vec<_>>(),
        "elapsed_s": elapsed,
    });
    let path = out.join("results.json");
    let text = serde_json::to_string_pretty(&results)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    eprintln!("live: wrote {}", path.display());
    let failed = runs.iter().filter(|r| r.is_err()).count();
    ensure!(failed == 0, "{failed} run(s) failed (see above)");
    Ok(())
}

/// Sets up the page's record and, per player, the probe the sampler calls:
/// `{age, own, state}`. Run before the attach, in the page.
const RECORDER: &str = "\
var b = window.__bench = { attachAt: null, firstFrame: null, waiting: [], samples: [], errors: [], \
                           finalStats: null, stallsAtStart: null }; \
v.addEventListener('waiting', function () { if (b.waiting.length < 10000) b.waiting.push(performance.now()); }); \
v.addEventListener('caudal:error', function (e) { b.errors.push('caudal:error ' + JSON.stringify(e.detail)); }); \
v.requestVideoFrameCallback(function () { b.firstFrame = performance.now(); }); \
function num(x) { return typeof x === 'number' && isFinite(x) ? x : null; } \
if (arguments[0] === 'caudal') { \
  b.probe = function () { var s = window.__player.stats(); \
    return { age: num(s.latency), own: num(s.latency), state: s.state }; }; \
  b.stats = function () { return JSON.parse(JSON.stringify(window.__player.stats())); }; \
  b.stalls = function () { return window.__player ? window.__player.stats().stalls : null; }; \
} else { \
  b.stalls = function () { return null; }; \
  b.probe = function () { var h = window.__hls, d = h.playingDate; \
    return { age: d ? (Date.now() - d.getTime()) / 1000 : null, own: num(h.latency), state: null }; }; \
  b.stats = function () { var h = window.__hls; return { latency: num(h.latency), targetLatency: num(h.targetLatency), \
    drift: num(h.drift), playingDate: h.playingDate ? h.playingDate.toISOString() : null, \
    currentLevel: h.currentLevel, lowLatencyMode: h.lowLatencyMode }; }; \
} \
return true;";

/// Starts the in-page sampler: `arguments[0]` samples, one every
/// `arguments[1]` ms; it stops itself after the last.
const SAMPLER: &str = "\
var b = window.__bench, n = arguments[0]; \
b.stallsAtStart = b.stalls(); \
b.timer = setInterval(function () { \
  if (b.samples.length >= n) { clearInterval(b.timer); return; } \
  var ahead = 0, t = v.currentTime; \
  for (var i = 0; i < v.buffered.length; i++) \
    if (v.buffered.start(i) <= t + 0.05 && v.buffered.end(i) > t) ahead = v.buffered.end(i) - t; \
  var s = { t: performance.now() - b.attachAt, ct: t, ahead: ahead, rate: v.playbackRate, paused: v.paused }; \
  try { var p = b.probe(); s.age = p.age; s.own = p.own; s.state = p.state; } catch (e) { s.error = String(e); } \
  b.samples.push(s); \
}, arguments[1]); \
return true;";

/// One player in a fresh browser on the running stream.
async fn one_run(
    paths: &BrowserPaths,
    stage: &Stage,
    player: Player,
    round: u32,
    cli: &Cli,
    live_url: &str,
) -> Result<Run> {
    let browser = Browser::start(paths).await?;
    let result = measure(&browser, stage, player, round, cli, live_url).await;
    // Chromium and chromedriver go (by pid) before the next run starts.
    drop(browser);
    result
}

async fn measure(
    browser: &Browser,
    stage: &Stage,
    player: Player,
    round: u32,
    cli: &Cli,
    live_url: &str,
) -> Result<Run> {
    let page = match player {
        Player::Caudal => {
            let page = stage
                .open(browser, &[("muted", ""), ("autoplay", "")])
                .await?;
            page.wait_for_caudal().await?;
            page
        }
        Player::Hlsjs => {
            let page = stage.open(browser, &[("muted", "")]).await?;
            page.load_hlsjs(&stage.media_url("hls.min.js")).await?;
            page
        }
    };
    // The loader's own start (its main wasm) is over before the attach,
    // on both pages: neither player's startup pays for it.
    page.wait_until(
        "player.js to be ready",
        Duration::from_secs(15),
        "window.__ready !== 'pending'",
    )
    .await?;
    page.js(RECORDER, vec![Value::from(player.label().replace('.', ""))])
        .await?;
    match player {
        Player::Caudal => {
            page.js(
                "var b = window.__bench; b.attachAt = performance.now(); \
                 var o = arguments[1] === null ? {} : { latency: arguments[1] }; \
                 Caudal.attach(v, arguments[0], o).then( \
                   function (p) { window.__player = p; }, \
                   function (e) { b.errors.push('attach rejected: ' + e); }); \
                 return true;",
                vec![Value::from(live_url), json!(cli.latency)],
            )
            .await?;
        }
        Player::Hlsjs => {
            page.js(
                "var b = window.__bench; b.attachAt = performance.now(); \
                 var hls = new Hls({ lowLatencyMode: true }); window.__hls = hls; \
                 hls.on(Hls.Events.ERROR, function (event, data) { \
                   if (data.fatal && b.errors.length < 50) b.errors.push('hls.js fatal: ' + data.type + ' ' + data.details); }); \
                 hls.loadSource(arguments[0]); hls.attachMedia(v); \
                 v.play().catch(function (e) { b.errors.push('play() rejected: ' + e); }); \
                 return true;",
                vec![Value::from(format!("{live_url}.m3u8"))],
            )
            .await?;
        }
    }
    page.wait_until(
        "the first frame",
        Duration::from_secs(20),
        "window.__bench.firstFrame !== null",
    )
    .await?;
    let count = cli.seconds * 1000 / SAMPLE_MS;
    page.js(SAMPLER, vec![Value::from(count), Value::from(SAMPLE_MS)])
        .await?;
    // The page samples on its own; look in once a second, bounded.
    let deadline = Instant::now() + Duration::from_secs(u64::from(cli.seconds) + 15);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let taken = page
            .js("return window.__bench.samples.length;", vec![])
            .await?
            .as_u64()
            .unwrap_or(0);
        if taken >= u64::from(count) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the page took {taken} of {count} samples in {} s",
            cli.seconds + 15
        );
    }
    let record: Record = page
        .js_as(
            "var b = window.__bench; clearInterval(b.timer); \
             try { b.finalStats = b.stats(); } catch (e) { b.finalStats = 'stats threw: ' + e; } \
             return { attachAt: b.attachAt, firstFrame: b.firstFrame, waiting: b.waiting, \
                      samples: b.samples, stallsAtStart: b.stallsAtStart, errors: b.errors, \
                      finalStats: b.finalStats };",
            vec![],
        )
        .await?;
    let first = record
        .first_frame
        .context("the first frame vanished from the record")?;
    let end = record
        .samples
        .last()
        .map_or(first, |s| record.attach_at + s.t);
    let waiting = record
        .waiting
        .iter()
        .filter(|&&at| at > first && at <= end)
        .count() as u64;
    let (stalls, player_startup_ms) = match player {
        Player::Caudal => {
            let now = record
                .final_stats
                .get("stalls")
                .and_then(Value::as_f64)
                .context("Caudal's stats() has no stalls")?;
            let before = record.stalls_at_start.unwrap_or(0.0);
            (
                (now - before).max(0.0) as u64,
                record.final_stats.get("startupMs").and_then(Value::as_f64),
            )
        }
        Player::Hlsjs => (waiting, None),
    };
    Ok(Run {
        round,
        player: player.label(),
        startup_ms: first - record.attach_at,
        player_startup_ms,
        stalls,
        waiting,
        samples: record.samples,
        errors: record.errors,
        final_stats: record.final_stats,
    })
}

/// The frame-age samples of `runs`.
fn ages(runs: &[Run]) -> Vec<f64> {
    runs.iter()
        .flat_map(|r| &r.samples)
        .filter_map(|s| s.age)
        .collect()
}

/// A run, or the round, player and error of one that failed.
type Outcome = std::result::Result<Run, (u32, Player, String)>;

/// One player over every round.
#[derive(Debug, Serialize)]
struct Summary {
    player: &'static str,
    runs_ok: usize,
    runs: usize,
    startup_p50: Option<f64>,
    age_p50: Option<f64>,
    age_p95: Option<f64>,
    own_p50: Option<f64>,
    own_p95: Option<f64>,
    stalls: u64,
    waiting: u64,
    /// Samples with a frame age.
    samples: usize,
    /// Samples without one (the player had no clock for the frame yet).
    samples_without_age: usize,
}

impl Summary {
    fn of(player: Player, ok: &[&Run], all: &[Outcome]) -> Summary {
        let mine: Vec<&Run> = ok
            .iter()
            .copied()
            .filter(|r| r.player == player.label())
            .collect();
        let samples = || mine.iter().flat_map(|r| &r.samples);
        let ages: Vec<f64> = samples().filter_map(|s| s.age).collect();
        let own: Vec<f64> = samples().filter_map(|s| s.own).collect();
        let startups: Vec<f64> = mine.iter().map(|r| r.startup_ms).collect();
        Summary {
            player: player.label(),
            runs_ok: mine.len(),
            runs: all
                .iter()
                .filter(|r| match r {
                    Ok(run) => run.player == player.label(),
                    Err((_, p, _)) => *p == player,
                })
                .count(),
            startup_p50: quantile(&startups, 0.5),
            age_p50: quantile(&ages, 0.5),
            age_p95: quantile(&ages, 0.95),
            own_p50: quantile(&own, 0.5),
            own_p95: quantile(&own, 0.95),
            stalls: mine.iter().map(|r| r.stalls).sum(),
            waiting: mine.iter().map(|r| r.waiting).sum(),
            samples: ages.len(),
            samples_without_age: samples().count() - ages.len(),
        }
    }
}

fn table(summaries: &[Summary]) -> String {
    let mut out = format!(
        "{:<8} {:>5} {:>17} {:>24} {:>26} {:>7} {:>8} {:>8}\n",
        "player",
        "runs",
        "startup p50 (ms)",
        "frame age p50/p95 (s)",
        "own latency p50/p95 (s)",
        "stalls",
        "waiting",
        "samples"
    );
    for s in summaries {
        out.push_str(&format!(
            "{:<8} {:>5} {:>17} {:>24} {:>26} {:>7} {:>8} {:>8}\n",
            s.player,
            format!("{}/{}", s.runs_ok, s.runs),
            s.startup_p50.map_or("-".to_owned(), |v| format!("{v:.0}")),
            format!("{} / {}", fmt_s(s.age_p50), fmt_s(s.age_p95)),
            format!("{} / {}", fmt_s(s.own_p50), fmt_s(s.own_p95)),
            s.stalls,
            s.waiting,
            s.samples
        ));
    }
    out
}

fn fmt_s(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{v:.3}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".to_owned(),
    }
}

/// The `q`-quantile of `values` (nearest rank); None when empty.
fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank_and_none_when_empty() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.95), Some(4.0));
    }

    #[test]
    fn defaults_are_three_rounds_of_thirty_seconds_at_the_players_latency() -> Result<()> {
        let cli = Cli::try_parse_from(["live_bench", "--hlsjs", "hls.min.js"])?;
        assert_eq!((cli.rounds, cli.seconds, cli.latency), (3, 30, None));
        assert!(Cli::try_parse_from(["live_bench", "--hlsjs", "h", "--rounds", "0"]).is_err());
        assert!(Cli::try_parse_from(["live_bench"]).is_err());
        Ok(())
    }
}
