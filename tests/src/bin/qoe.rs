//! `qoe`: the real-browser QoE benchmark; `cargo xtask bench qoe` builds it
//! in release, prepares the media, the player and hls.js, and runs it.
//! See `caudal_tests::qoe` for what is measured and how.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use caudal_tests::browser::{self, Availability};
use caudal_tests::page::PageHost;
use caudal_tests::qoe::fmp4::FileLayout;
use caudal_tests::qoe::player::Player;
use caudal_tests::qoe::report::{self, Cell};
use caudal_tests::qoe::run::{self, Bench};
use caudal_tests::qoe::scenario::Scenario;
use caudal_tests::server::{self, TestServer};
use serde_json::json;

const USAGE: &str = "\
usage: qoe --media FILE.mp4 [--hlsjs hls.min.js] [--hlsjs-version V] [--www DIR] [--out DIR]
           [--scenario NAME[,NAME]]... [--player caudal|native|hlsjs]... [--repeat N]
           [--command TEXT]

Plays FILE.mp4 (a fragmented MP4 with one GOP per fragment) in headless
Chromium with Caudal, the native <video> and hls.js through a shaped link,
per scenario, and prints a table; writes OUT/results.json and the link logs.

scenarios: steady, drop, abandon, seek, slowstart, longdrop (default: all)";

#[derive(Debug)]
struct Options {
    media: PathBuf,
    hlsjs: Option<PathBuf>,
    hlsjs_version: Option<String>,
    www: PathBuf,
    out: Option<PathBuf>,
    scenarios: Vec<Scenario>,
    players: Vec<Player>,
    repeat: u32,
    command: Option<String>,
}

impl Options {
    /// `None` when `--help` was asked.
    fn parse(args: &[String]) -> Result<Option<Options>> {
        let mut media = None;
        let mut options = Options {
            media: PathBuf::new(),
            hlsjs: None,
            hlsjs_version: None,
            www: server::www_dir(),
            out: None,
            scenarios: Vec::new(),
            players: Vec::new(),
            repeat: 1,
            command: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next().cloned())
                    .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match flag {
                "--media" => media = Some(PathBuf::from(value()?)),
                "--hlsjs" => options.hlsjs = Some(PathBuf::from(value()?)),
                "--hlsjs-version" => options.hlsjs_version = Some(value()?),
                "--www" => options.www = PathBuf::from(value()?),
                "--out" => options.out = Some(PathBuf::from(value()?)),
                "--command" => options.command = Some(value()?),
                "--scenario" => {
                    for name in value()?.split(',').filter(|s| !s.is_empty()) {
                        let s = Scenario::parse(name.trim())?;
                        if !options.scenarios.contains(&s) {
                            options.scenarios.push(s);
                        }
                    }
                }
                "--player" => {
                    for name in value()?.split(',').filter(|s| !s.is_empty()) {
                        let p = Player::parse(name.trim())?;
                        if !options.players.contains(&p) {
                            options.players.push(p);
                        }
                    }
                }
                "--repeat" => {
                    let text = value()?;
                    options.repeat = text
                        .parse()
                        .with_context(|| format!("--repeat: `{text}` is not a whole number"))?;
                    ensure!(options.repeat > 0, "--repeat must be at least 1");
                }
                "-h" | "--help" => return Ok(None),
                _ => bail!("unknown option `{arg}`\n\n{USAGE}"),
            }
        }
        options.media = media.with_context(|| format!("--media is required\n\n{USAGE}"))?;
        if options.scenarios.is_empty() {
            options.scenarios = Scenario::ALL.to_vec();
        }
        if options.players.is_empty() {
            options.players = Player::ALL.to_vec();
        }
        // Report order is fixed, whatever the order on the command line.
        options
            .scenarios
            .sort_by_key(|s| Scenario::ALL.iter().position(|a| a == s));
        options
            .players
            .sort_by_key(|p| Player::ALL.iter().position(|a| a == p));
        if options.players.contains(&Player::Hlsjs) && options.hlsjs.is_none() {
            bail!("--player hlsjs needs --hlsjs PATH/TO/hls.min.js");
        }
        Ok(Some(options))
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = Options::parse(&args).and_then(|options| match options {
        None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(options) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            let result = runtime.block_on(run(&options, &args));
            runtime.shutdown_timeout(Duration::from_secs(2));
            result
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(options: &Options, args: &[String]) -> Result<()> {
    let started = Instant::now();
    let paths = match browser::availability() {
        Availability::Ready(paths) => paths,
        Availability::Skip(why) | Availability::Missing(why) | Availability::Misconfigured(why) => {
            bail!("cannot run the browser: {why}")
        }
    };
    let wasm = options.www.join("pkg").join("caudal_player_bg.wasm");
    if options.players.contains(&Player::Caudal) {
        ensure!(
            wasm.is_file(),
            "{} is missing: run `cargo xtask build-player` first",
            wasm.display()
        );
    }
    let bytes = std::fs::read(&options.media)
        .with_context(|| format!("reading {}", options.media.display()))?;
    let layout = FileLayout::parse(&bytes)
        .with_context(|| format!("reading the boxes of {}", options.media.display()))?;
    let out = match &options.out {
        Some(dir) => dir.clone(),
        None => options
            .media
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let log_dir = out.join("logs");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;

    // The server's media dir: the file and its playlist, side by side so
    // the playlist's relative URIs resolve to the very same file.
    let media_dir = tempfile::Builder::new().prefix("caudal-qoe-").tempdir()?;
    let media_name = "qoe.mp4".to_owned();
    let playlist_name = "qoe.m3u8".to_owned();
    std::fs::write(media_dir.path().join(&media_name), &bytes)?;
    std::fs::write(
        media_dir.path().join(&playlist_name),
        layout.hls_playlist(&media_name),
    )?;
    let server = TestServer::start(media_dir.path(), Some(&options.www)).await?;
    let pages = PageHost::start().await?;
    let hlsjs = match &options.hlsjs {
        Some(path) if options.players.contains(&Player::Hlsjs) => {
            Some(run::host_hlsjs(&pages, path)?)
        }
        _ => None,
    };
    let bench = Bench {
        server,
        pages,
        layout,
        media_name,
        playlist_name,
        browser: paths.clone(),
        log_dir,
        hlsjs,
    };
    let b = bench.layout.bit_rate();
    eprintln!(
        "qoe: {} ({:.2} MB, {:.1} s, {} fragments, B = {:.0} kbit/s)",
        options.media.display(),
        bench.layout.file_len as f64 / 1e6,
        bench.layout.duration(),
        bench.layout.fragments.len(),
        b / 1e3
    );

    let mut cells: Vec<Cell> = Vec::new();
    for &scenario in &options.scenarios {
        for &player in &options.players {
            cells.push(Cell {
                scenario,
                player,
                runs: Vec::new(),
            });
        }
        // Repeats interleave the players, so a drift of the machine over
        // time does not favour whichever player ran first.
        for n in 1..=options.repeat {
            for &player in &options.players {
                let t = Instant::now();
                let result =
                    tokio::time::timeout(Duration::from_secs(150), bench.run(player, scenario, n))
                        .await
                        .map_err(|_| "the run did not finish within 150 s".to_owned())
                        .and_then(|r| r.map_err(|e| format!("{e:#}")));
                match &result {
                    Ok(m) => eprintln!(
                        "qoe: {:<9} {:<14} #{n}: ttff {} ms, {} stalls ({:.2} s), seek {} ms, \
                         {:.2} MB fetched, {:.2} MB wasted, at {:.1} s{} ({:.0} s)",
                        scenario.name(),
                        player.label(),
                        m.ttff_ms.map_or("-".to_owned(), |v| format!("{v:.0}")),
                        m.stalls,
                        m.stall_s,
                        m.seek_ms.map_or("-".to_owned(), |v| format!("{v:.0}")),
                        m.mb_fetched,
                        m.mb_wasted,
                        m.position,
                        m.error
                            .as_ref()
                            .map_or(String::new(), |e| format!(", error: {e}")),
                        t.elapsed().as_secs_f64()
                    ),
                    Err(e) => eprintln!(
                        "qoe: {:<9} {:<14} #{n}: FAILED: {e}",
                        scenario.name(),
                        player.label()
                    ),
                }
                if let Some(cell) = cells
                    .iter_mut()
                    .find(|c| c.scenario == scenario && c.player == player)
                {
                    cell.runs.push(result);
                }
            }
        }
    }

    let command = options.command.clone().unwrap_or_else(|| {
        std::iter::once("qoe".to_owned())
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
    let table = report::table(&cells);
    let elapsed = started.elapsed().as_secs_f64();
    println!();
    println!("machine: {} CPUs, {}", cpu_count(), cpu_model());
    println!(
        "browser: {chromium} (headless, fresh profile per run); hls.js {}",
        options
            .hlsjs_version
            .as_deref()
            .unwrap_or("(version unknown)")
    );
    println!(
        "media: {} fragments of ~{:.1} s, {:.1} s, {:.2} MB, B = {:.0} kbit/s; median of {} run(s)",
        bench.layout.fragments.len(),
        bench.layout.duration() / bench.layout.fragments.len().max(1) as f64,
        bench.layout.duration(),
        bench.layout.file_len as f64 / 1e6,
        b / 1e3,
        options.repeat
    );
    for scenario in &options.scenarios {
        println!("  {:<10} {}", scenario.name(), scenario.describe());
    }
    println!("command: {command}");
    println!();
    print!("{table}");
    println!(
        "(ttff: until the picture moves; stalls: playhead frozen or `waiting` after the first \
         frame, outside seeks; MB = 10^6 bytes over the link, HTTP heads included; wasted = \
         fetched - init - bytes of the media time played)"
    );
    println!("total: {elapsed:.0} s");

    let context = json!({
        "command": command,
        "machine": { "cpus": cpu_count(), "cpu_model": cpu_model() },
        "browser": chromium,
        "hlsjs_version": options.hlsjs_version,
        "media": {
            "path": options.media.display().to_string(),
            "bytes": bench.layout.file_len,
            "duration_s": bench.layout.duration(),
            "fragments": bench.layout.fragments.len(),
            "bit_rate": b,
        },
        "scenarios": options.scenarios.iter().map(|s| json!({
            "name": s.name(),
            "describe": s.describe(),
            "trace": s.link(b).trace,
            "rtt_ms": s.link(b).rtt.as_millis() as u64,
        })).collect::<Vec<_>>(),
        "repeat": options.repeat,
        "elapsed_s": elapsed,
    });
    let path = out.join("results.json");
    let text = serde_json::to_string_pretty(&report::json(&cells, context))?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "qoe: wrote {} and the link logs in {}",
        path.display(),
        bench.log_dir.display()
    );
    Ok(())
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}
