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
use clap::Parser;
use serde_json::json;

/// Plays FILE.mp4 (a fragmented MP4 with one GOP per fragment) in headless
/// Chromium with Caudal, the native <video> and hls.js through a shaped link,
/// per scenario, and prints a table; writes OUT/results.json and the link logs.
#[derive(Debug, Parser)]
#[command(name = "qoe")]
struct Cli {
    /// The media every player plays.
    #[arg(long, value_name = "FILE.mp4")]
    media: PathBuf,
    /// hls.js to load (needed for `--player hlsjs`).
    #[arg(long, value_name = "hls.min.js")]
    hlsjs: Option<PathBuf>,
    /// The hls.js version, for the report.
    #[arg(long, value_name = "V")]
    hlsjs_version: Option<String>,
    /// The site with the player (default: the workspace's www/).
    #[arg(long, value_name = "DIR")]
    www: Option<PathBuf>,
    /// Where results.json and logs/ go (default: the media's folder).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// steady, drop, abandon, seek, slowstart, longdrop (repeatable or comma list; default all).
    #[arg(long, value_name = "NAME", value_delimiter = ',',
          value_parser = |name: &str| Scenario::parse(name.trim()))]
    scenario: Vec<Scenario>,
    /// caudal, native, hlsjs (repeatable or comma list; default all).
    #[arg(long, value_name = "NAME", value_delimiter = ',',
          value_parser = |name: &str| Player::parse(name.trim()))]
    player: Vec<Player>,
    /// Runs per player and scenario; the median counts.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// The command line to show in the report (default: this one).
    #[arg(long, value_name = "TEXT")]
    command: Option<String>,
}

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

/// The members of `all` that were chosen, in `all`'s order; all of them when
/// none was.
fn chosen_or_all<T: Copy + PartialEq>(chosen: &[T], all: &[T]) -> Vec<T> {
    all.iter()
        .copied()
        .filter(|x| chosen.is_empty() || chosen.contains(x))
        .collect()
}

impl Options {
    /// Defaults filled in, each choice once, in report order.
    fn from_cli(cli: Cli) -> Result<Options> {
        let options = Options {
            media: cli.media,
            hlsjs: cli.hlsjs,
            hlsjs_version: cli.hlsjs_version,
            www: cli.www.unwrap_or_else(server::www_dir),
            out: cli.out,
            scenarios: chosen_or_all(&cli.scenario, &Scenario::ALL),
            players: chosen_or_all(&cli.player, &Player::ALL),
            repeat: cli.repeat,
            command: cli.command,
        };
        if options.players.contains(&Player::Hlsjs) && options.hlsjs.is_none() {
            bail!("--player hlsjs needs --hlsjs PATH/TO/hls.min.js");
        }
        Ok(options)
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = Options::from_cli(Cli::parse()).and_then(|options| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the tokio runtime")?;
        let result = runtime.block_on(run(&options, &args));
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

async fn run(options: &Options, args: &[String]) -> Result<()> {
    let started = Instant::now();
    let paths = match browser::availability() {
        Availability::Ready(paths) => paths,
        Availability::Skip(why) | Availability::Missing(why) | Availability::Misconfigured(why) => {
            bail!("cannot run the browser: {why}")
        }
    };
    // The built loader, which names the content-hashed modules.
    let built = options.www.join("pkg").join("player.js");
    if options.players.contains(&Player::Caudal) {
        ensure!(
            built.is_file(),
            "{} is missing: run `cargo xtask build-player` first",
            built.display()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Result<Options> {
        let cli = Cli::try_parse_from(["qoe", "--media", "m.mp4"].iter().chain(args))?;
        Options::from_cli(cli)
    }

    #[test]
    fn choices_come_once_in_report_order_and_default_to_all() -> Result<()> {
        let o = options(&[
            "--scenario=seek,steady",
            "--scenario",
            "steady",
            "--player",
            "native",
            "--player=caudal",
            "--repeat",
            "3",
        ])?;
        assert_eq!(
            o.scenarios,
            [Scenario::parse("steady")?, Scenario::parse("seek")?]
        );
        assert_eq!(o.players, [Player::Caudal, Player::Native]);
        assert_eq!(o.repeat, 3);
        let o = options(&["--hlsjs", "hls.min.js"])?;
        assert_eq!(o.scenarios, Scenario::ALL);
        assert_eq!(o.players, Player::ALL);
        assert_eq!(o.repeat, 1);
        Ok(())
    }

    #[test]
    fn bad_choices_are_errors() {
        assert!(options(&["--player", "caudal", "--scenario", "bogus"]).is_err());
        assert!(options(&["--player", "caudal", "--repeat", "0"]).is_err());
        // hls.js is in the default players: it needs its script.
        assert!(options(&[]).is_err());
        assert!(Cli::try_parse_from(["qoe"]).is_err());
    }
}
