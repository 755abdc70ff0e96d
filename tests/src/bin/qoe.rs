//! `qoe`: the real-browser QoE benchmark; `cargo xtask bench qoe` builds it
//! in release, prepares the media, the player and hls.js, and runs it.
//! See `caudal_tests::qoe` for what is measured and how.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use caudal_tests::browser::{self, Availability};
use caudal_tests::qoe::breakdown::{self, Breakdown};
use caudal_tests::qoe::file::{Layouts, MediaFile};
use caudal_tests::qoe::fmp4::FileLayout;
use caudal_tests::qoe::plain::PlainLayout;
use caudal_tests::qoe::player::Player;
use caudal_tests::qoe::report::{self, Cell};
use caudal_tests::qoe::run::Bench;
use caudal_tests::qoe::scenario::Scenario;
use caudal_tests::qoe::site::Site;
use caudal_tests::server::{self, TestServer};
use clap::Parser;
use serde_json::json;

/// Plays one encode — a plain faststart MP4 and the same samples as a
/// fragmented MP4 — in headless Chromium with Caudal, the native <video> and
/// hls.js, the page, the players and the media all through one shaped link,
/// per scenario: a first visit (cold cache) and a second (warm). Prints a
/// table per file and where the time goes on the slowest scenario; writes
/// OUT/results.json and the link logs.
#[derive(Debug, Parser)]
#[command(name = "qoe")]
struct Cli {
    /// The plain faststart MP4.
    #[arg(long, value_name = "FILE.mp4")]
    plain: PathBuf,
    /// The same encode fragmented (one GOP per fragment, with sidx): hls.js's
    /// playlist points into it, and `--file fmp4` plays it.
    #[arg(long, value_name = "FILE.mp4")]
    fmp4: PathBuf,
    /// plain, fmp4: the file Caudal and native play (repeatable or comma
    /// list; default both, plain first).
    #[arg(long, value_name = "NAME", value_delimiter = ',',
          value_parser = |name: &str| MediaFile::parse(name.trim()))]
    file: Vec<MediaFile>,
    /// hls.js to load (needed for `--player hlsjs`); a `.br` and `.gz` beside
    /// it are served too.
    #[arg(long, value_name = "hls.min.js")]
    hlsjs: Option<PathBuf>,
    /// The hls.js version, for the report.
    #[arg(long, value_name = "V")]
    hlsjs_version: Option<String>,
    /// The built site with the player, `pkg/` included (default: the
    /// workspace's www/).
    #[arg(long, value_name = "DIR")]
    www: Option<PathBuf>,
    /// Where results.json and logs/ go (default: the plain file's folder).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// steady, fast, drop, abandon, seek, slowstart, longdrop (repeatable or
    /// comma list; default all).
    #[arg(long, value_name = "NAME", value_delimiter = ',',
          value_parser = |name: &str| Scenario::parse(name.trim()))]
    scenario: Vec<Scenario>,
    /// caudal, native, hlsjs (repeatable or comma list; default all).
    #[arg(long, value_name = "NAME", value_delimiter = ',',
          value_parser = |name: &str| Player::parse(name.trim()))]
    player: Vec<Player>,
    /// Runs per file, player and scenario; the median counts.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// The command line to show in the report (default: this one).
    #[arg(long, value_name = "TEXT")]
    command: Option<String>,
}

#[derive(Debug)]
struct Options {
    plain: PathBuf,
    fmp4: PathBuf,
    files: Vec<MediaFile>,
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
            plain: cli.plain,
            fmp4: cli.fmp4,
            files: chosen_or_all(&cli.file, &MediaFile::ALL),
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

/// A run may take this long (the longest viewer is 75 s, then the warm
/// visit) before it is called failed.
const RUN_LIMIT: Duration = Duration::from_secs(200);

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

async fn run(options: &Options, args: &[String]) -> Result<()> {
    let started = Instant::now();
    let paths = match browser::availability() {
        Availability::Ready(paths) => paths,
        Availability::Skip(why) | Availability::Missing(why) | Availability::Misconfigured(why) => {
            bail!("cannot run the browser: {why}")
        }
    };
    let plain = read(&options.plain)?;
    let fmp4 = read(&options.fmp4)?;
    let layouts = Layouts {
        plain: PlainLayout::parse(&plain)
            .with_context(|| format!("reading the samples of {}", options.plain.display()))?,
        fmp4: FileLayout::parse(&fmp4)
            .with_context(|| format!("reading the boxes of {}", options.fmp4.display()))?,
    };
    let out = match &options.out {
        Some(dir) => dir.clone(),
        None => options
            .plain
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let log_dir = out.join("logs");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;

    let hlsjs = options
        .hlsjs
        .as_deref()
        .filter(|_| options.players.contains(&Player::Hlsjs));
    let site = Site::build(&options.www, hlsjs, &plain, &fmp4, &layouts)?;
    let server = TestServer::start(site.media.path(), Some(site.www.path())).await?;
    let bit_rate = layouts.plain.bit_rate();
    let bench = Bench {
        server,
        layouts,
        bit_rate,
        browser: paths.clone(),
        log_dir,
    };
    let media_line = format!(
        "plain {:.2} MB, fmp4 {:.2} MB ({} fragments), {:.1} s, B = {:.0} kbit/s (the plain file)",
        bench.layouts.plain.file_len as f64 / 1e6,
        bench.layouts.fmp4.file_len as f64 / 1e6,
        bench.layouts.fmp4.fragments.len(),
        bench.layouts.plain.duration,
        bit_rate / 1e3
    );
    eprintln!("qoe: {media_line}");

    let mut cells: Vec<Cell> = Vec::new();
    for &file in &options.files {
        for &scenario in &options.scenarios {
            for &player in &options.players {
                cells.push(Cell {
                    file,
                    scenario,
                    player,
                    runs: Vec::new(),
                });
            }
            // Repeats interleave the players, so a drift of the machine over
            // time does not favour whichever player ran first.
            for n in 1..=options.repeat {
                for &player in &options.players {
                    let result = one_run(&bench, file, player, scenario, n).await;
                    if let Some(cell) = cells
                        .iter_mut()
                        .find(|c| c.file == file && c.scenario == scenario && c.player == player)
                    {
                        cell.runs.push(result);
                    }
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
    let elapsed = started.elapsed().as_secs_f64();
    println!();
    println!(
        "machine: {} CPUs, {}",
        caudal_tests::machine::cpu_count(),
        caudal_tests::machine::cpu_model()
    );
    println!(
        "browser: {chromium} (headless, fresh profile per run, then a second visit in it); hls.js {}",
        options
            .hlsjs_version
            .as_deref()
            .unwrap_or("(version unknown)")
    );
    println!("media: {media_line}; median of {} run(s)", options.repeat);
    for scenario in &options.scenarios {
        println!("  {:<10} {}", scenario.name(), scenario.describe());
    }
    println!("command: {command}");
    let mut breakdowns = Vec::new();
    for &file in &options.files {
        println!();
        println!(
            "file: {} — {} (hls.js: its playlist over the fmp4)",
            file.name(),
            file.describe()
        );
        print!("{}", report::table(&cells, file));
        if let Some(scenario) = breakdown::slowest(&cells, file) {
            breakdowns.push(Breakdown::new(
                &cells,
                file,
                scenario,
                &bench.layouts,
                bit_rate,
            ));
        }
    }
    println!(
        "(ms from navigation start, the page and the players' code over the link too; ttff: until \
         the picture moves; from req: ttff minus the first media request; warm: the second visit, \
         same browser; stalls: playhead frozen or `waiting` after the first frame, outside seeks; \
         MB media = 10^6 bytes of media answers over the link, heads included; wasted = media - \
         header - bytes of the media time played; KB other: the page and the players' code)"
    );
    for b in &breakdowns {
        println!();
        print!("{}", b.render());
    }
    println!("total: {elapsed:.0} s");

    let context = json!({
        "command": command,
        "machine": { "cpus": caudal_tests::machine::cpu_count(), "cpu_model": caudal_tests::machine::cpu_model() },
        "browser": chromium,
        "hlsjs_version": options.hlsjs_version,
        "media": {
            "plain": { "path": options.plain.display().to_string(), "bytes": bench.layouts.plain.file_len,
                       "duration_s": bench.layouts.plain.duration,
                       "bytes_to_second_frame": bench.layouts.plain.bytes_to_show(2) },
            "fmp4": { "path": options.fmp4.display().to_string(), "bytes": bench.layouts.fmp4.file_len,
                      "fragments": bench.layouts.fmp4.fragments.len() },
            "bit_rate": bit_rate,
        },
        "scenarios": options.scenarios.iter().map(|s| json!({
            "name": s.name(),
            "describe": s.describe(),
            "trace": s.link(bit_rate).trace,
            "rtt_ms": s.link(bit_rate).rtt.as_millis() as u64,
        })).collect::<Vec<_>>(),
        "repeat": options.repeat,
        "elapsed_s": elapsed,
        "breakdowns": breakdowns,
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

/// One run under [`RUN_LIMIT`], with a progress line on stderr.
async fn one_run(
    bench: &Bench,
    file: MediaFile,
    player: Player,
    scenario: Scenario,
    n: u32,
) -> Result<caudal_tests::qoe::run::Measurement, String> {
    let t = Instant::now();
    let result = tokio::time::timeout(RUN_LIMIT, bench.run(file, player, scenario, n))
        .await
        .map_err(|_| format!("the run did not finish within {} s", RUN_LIMIT.as_secs()))
        .and_then(|r| r.map_err(|e| format!("{e:#}")));
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
    match &result {
        Ok(m) => eprintln!(
            "qoe: {:<5} {:<9} {:<14} #{n}: ttff {} ms (first media request {}), warm {} ms, \
             {} stalls ({:.2} s), seek {} ms (warm {}), {:.2} MB media, {:.2} MB wasted, \
             {:.0} KB other, at {:.1} s{} ({:.0} s)",
            file.name(),
            scenario.name(),
            player.label(),
            ms(m.cold.ttff_ms),
            ms(m.cold.first_media_request_ms),
            ms(m.warm.as_ref().and_then(|w| w.ttff_ms)),
            m.cold.stalls,
            m.cold.stall_s,
            ms(m.cold.seek_ms),
            ms(m.warm.as_ref().and_then(|w| w.seek_ms)),
            m.cold.mb_fetched,
            m.cold.mb_wasted,
            m.cold.kb_other,
            m.cold.position,
            m.cold
                .error
                .as_ref()
                .or(m.warm_failed.as_ref())
                .map_or(String::new(), |e| format!(", error: {e}")),
            t.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!(
            "qoe: {:<5} {:<9} {:<14} #{n}: FAILED: {e}",
            file.name(),
            scenario.name(),
            player.label()
        ),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Result<Options> {
        let cli = Cli::try_parse_from(
            ["qoe", "--plain", "p.mp4", "--fmp4", "f.mp4"]
                .iter()
                .chain(args),
        )?;
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
        assert_eq!(o.files, [MediaFile::Plain, MediaFile::Fmp4]);
        assert_eq!(o.repeat, 1);
        Ok(())
    }

    #[test]
    fn files_are_chosen_like_the_rest_plain_first() -> Result<()> {
        let o = options(&["--player", "caudal", "--file", "fmp4,plain", "--file=fmp4"])?;
        assert_eq!(o.files, [MediaFile::Plain, MediaFile::Fmp4]);
        let o = options(&["--player", "caudal", "--file", "fmp4"])?;
        assert_eq!(o.files, [MediaFile::Fmp4]);
        let o = options(&["--player", "caudal", "--file", " plain "])?;
        assert_eq!(o.files, [MediaFile::Plain]);
        assert!(options(&["--player", "caudal", "--file", "mkv"]).is_err());
        Ok(())
    }

    #[test]
    fn bad_choices_are_errors() {
        assert!(options(&["--player", "caudal", "--scenario", "bogus"]).is_err());
        assert!(options(&["--player", "caudal", "--repeat", "0"]).is_err());
        // hls.js is in the default players: it needs its script.
        assert!(options(&[]).is_err());
        // Both files are needed: hls.js plays the fragmented one.
        assert!(Cli::try_parse_from(["qoe"]).is_err());
        assert!(Cli::try_parse_from(["qoe", "--plain", "p.mp4"]).is_err());
    }
}
