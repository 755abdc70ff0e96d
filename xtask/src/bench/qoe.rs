//! `cargo xtask bench qoe`: quality of experience in a real browser —
//! Caudal, the native `<video>` and hls.js playing the same file in
//! headless Chromium through the same shaped link, scenario by scenario.
//!
//! This prepares everything, then runs the `qoe` binary of `caudal-tests`
//! (release), which does the measuring and prints the table:
//!
//! * Chromium and chromedriver (installed with apt-get when missing, as for
//!   the browser tests), ffmpeg, node and npm;
//! * the wasm player in `www/pkg/` (`cargo xtask build-player`);
//! * hls.js, pinned, installed with npm into `target/bench-qoe/npm/`;
//! * the media, encoded once with ffmpeg into `target/bench-qoe/`: 60 s of
//!   `testsrc2` 960x540 at 25 fps, x264 at ~0.9 Mbit/s with capped rate
//!   (CBR-like, so "4×B" means the same all through the file) and 2 s GOPs
//!   without scene cuts, AAC 96k, fragmented with one fragment per GOP and
//!   a `sidx`. All three players get this one file: Caudal and the native
//!   player by URL, hls.js through a byte-range playlist over it.
//!
//! Results: the table on stdout, `target/bench-qoe/results.json`, and one
//! JSONL request log per run in `target/bench-qoe/logs/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use super::inputs::{encode_once, npm_install_pinned};
use crate::workspace::Workspace;
use crate::{browser, cmd, player};

/// The hls.js release we compare with; bump it deliberately (latest 1.5.x).
const HLSJS_VERSION: &str = "1.5.20";
const PACKAGE: &str = "caudal-tests";
const BIN: &str = "qoe";

/// The cached media; the name says how it was made, so a change to
/// [`FFMPEG_ARGS`] should change it too.
const MEDIA_NAME: &str = "testsrc2-540p25-60s-x264-900k-aac96k-frag2s.mp4";
/// ffmpeg arguments between `-y` and the output.
const FFMPEG_ARGS: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=960x540:rate=25:duration=60",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000:duration=60",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-profile:v",
    "main",
    "-b:v",
    "900k",
    "-maxrate",
    "900k",
    "-bufsize",
    "900k",
    "-g",
    "50",
    "-keyint_min",
    "50",
    "-sc_threshold",
    "0",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-b:a",
    "96k",
    "-ac",
    "2",
    // One fragment per GOP (frag_keyframe), the init segment first
    // (empty_moov), offsets relative to each moof (default_base_moof), and
    // a sidx indexing every fragment (global_sidx).
    "-movflags",
    "+frag_keyframe+empty_moov+default_base_moof+global_sidx",
    "-f",
    "mp4",
];

/// `cargo xtask bench qoe [--scenario NAME[,NAME]]... [--player caudal|native|hlsjs]... [--repeat N]`.
///
/// The values are passed on to the `qoe` runner, which checks them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// steady, drop, abandon, seek, slowstart, longdrop (repeatable or comma list; default all).
    #[arg(long, value_name = "NAME")]
    scenario: Vec<String>,
    /// caudal, native, hlsjs (repeatable or comma list; default all).
    #[arg(long, value_name = "NAME")]
    player: Vec<String>,
    /// Runs per player and scenario; the median counts [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    repeat: Option<u32>,
}

impl Args {
    /// The runner's share of the command line, in the order given per flag.
    fn forwarded(&self) -> Vec<String> {
        let mut args = Vec::new();
        for scenario in &self.scenario {
            args.extend(["--scenario".to_owned(), scenario.clone()]);
        }
        for player in &self.player {
            args.extend(["--player".to_owned(), player.clone()]);
        }
        if let Some(repeat) = self.repeat {
            args.extend(["--repeat".to_owned(), repeat.to_string()]);
        }
        args
    }
}

/// Runs `cargo xtask bench qoe`.
pub fn run(ws: &Workspace, options: &Args) -> Result<()> {
    let dir = ws.target_dir.join("bench-qoe");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let chrome = browser::ensure()?;
    let media = ensure_media(&dir)?;
    eprintln!("bench: building the player (cargo xtask build-player)");
    player::build(ws)?;
    let hlsjs = install_hlsjs(&dir)?;
    let bin = ws.build_release_bin(PACKAGE, BIN)?;

    let args = options.forwarded();
    // What the results say was run.
    let command = std::iter::once("cargo xtask bench qoe".to_owned())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut runner = Command::new(bin);
    runner
        .arg("--media")
        .arg(&media)
        .arg("--hlsjs")
        .arg(&hlsjs)
        .args(["--hlsjs-version", HLSJS_VERSION])
        .arg("--www")
        .arg(ws.www())
        .arg("--out")
        .arg(&dir)
        .arg("--command")
        .arg(command)
        .args(&args)
        .current_dir(&ws.root);
    for (name, value) in chrome.env() {
        runner.env(name, value);
    }
    cmd::run(&mut runner)
}

/// The media file, encoded with ffmpeg on first use (a few seconds) and
/// reused afterwards.
fn ensure_media(dir: &Path) -> Result<PathBuf> {
    let media = dir.join(MEDIA_NAME);
    encode_once(&media, FFMPEG_ARGS)?;
    Ok(media)
}

/// Installs the pinned hls.js into `dir/npm/` unless it is there; returns
/// the path of `hls.min.js`.
fn install_hlsjs(dir: &Path) -> Result<PathBuf> {
    let npm_dir = dir.join("npm");
    npm_install_pinned(&npm_dir, "hls.js", HLSJS_VERSION)?;
    let script = npm_dir.join("node_modules/hls.js/dist/hls.min.js");
    ensure!(
        script.is_file(),
        "npm installed hls.js but {} is missing",
        script.display()
    );
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The arguments as `bench qoe` gets them.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn passes_the_runner_every_choice_in_order() -> Result<(), clap::Error> {
        let cli = Cli::try_parse_from([
            "qoe",
            "--scenario=steady,drop",
            "--player",
            "caudal",
            "--scenario",
            "seek",
            "--repeat",
            "3",
        ])?;
        assert_eq!(
            cli.args.forwarded(),
            [
                "--scenario",
                "steady,drop",
                "--scenario",
                "seek",
                "--player",
                "caudal",
                "--repeat",
                "3"
            ]
        );
        assert!(Cli::try_parse_from(["qoe"])?.args.forwarded().is_empty());
        assert!(Cli::try_parse_from(["qoe", "--repeat", "0"]).is_err());
        Ok(())
    }
}
