//! `cargo xtask bench qoe`: quality of experience in a real browser, as a
//! first-time viewer meets it — Caudal, the native `<video>` and hls.js
//! playing the same encode in headless Chromium, with the page, the
//! players' code and the media all through one shaped link, scenario by
//! scenario, a cold visit and a warm one.
//!
//! This prepares everything, then runs the `qoe` binary of `caudal-tests`
//! (release), which does the measuring and prints the tables:
//!
//! * Chromium and chromedriver (installed with apt-get when missing, as for
//!   the browser tests), ffmpeg, node and npm;
//! * the wasm player in `www/pkg/` (`cargo xtask build-player`);
//! * hls.js, pinned, installed with npm into `target/bench-qoe/npm/`, with
//!   brotli and gzip copies beside it (a site would compress it too);
//! * the media, encoded once with ffmpeg into `target/bench-qoe/` (see
//!   [`PLAIN_ARGS`]): a plain faststart MP4 like the files people have — 60 s
//!   of `testsrc2` 640x360 at 25 fps, x264 High with B-frames at a capped
//!   ~1.35 Mbit/s with 2 s GOPs and no scene cuts, AAC 128k, about
//!   1.5 Mbit/s in all — and from it, with `-c copy`, the same samples as a
//!   fragmented MP4 with one fragment per GOP and a `sidx`. `--file plain`
//!   (the headline) has Caudal and native play the plain file, `--file fmp4`
//!   the fragmented one; hls.js always plays a byte-range playlist over the
//!   fragmented one.
//!
//! Results: the tables and the breakdown of the slowest scenario on stdout,
//! `target/bench-qoe/results.json`, and one JSONL request log per visit in
//! `target/bench-qoe/logs/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use super::inputs::{encode_once, npm_install_pinned};
use crate::player_assets::compress_beside;
use crate::workspace::Workspace;
use crate::{browser, cmd, player};

/// The hls.js release we compare with; bump it deliberately (latest 1.5.x).
const HLSJS_VERSION: &str = "1.5.20";
const PACKAGE: &str = "caudal-tests";
const BIN: &str = "qoe";

/// The cached plain MP4; the name says how it was made, so a change to
/// [`PLAIN_ARGS`] should change it too.
const PLAIN_NAME: &str = "testsrc2-360p25-60s-x264high-bf3-g50-1350k-aac128k-faststart.mp4";
/// ffmpeg arguments between `-y` and the output: x264's defaults (preset
/// medium: 3 B-frames, CABAC) in the High profile, the rate capped by the
/// VBV so "4xB" means the same all through the file, a keyframe every 2 s
/// exactly, AAC stereo, and the `moov` moved to the front.
const PLAIN_ARGS: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=640x360:rate=25:duration=60",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000:duration=60",
    "-c:v",
    "libx264",
    "-profile:v",
    "high",
    "-bf",
    "3",
    "-b:v",
    "1350k",
    "-maxrate",
    "1350k",
    "-bufsize",
    "2700k",
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
    "128k",
    "-ac",
    "2",
    "-movflags",
    "+faststart",
    "-f",
    "mp4",
];
/// The same encode, fragmented without re-encoding.
const FMP4_NAME: &str = "testsrc2-360p25-60s-x264high-bf3-g50-1350k-aac128k-frag2s-sidx.mp4";
/// ffmpeg arguments after `-i PLAIN`: the samples copied; one fragment
/// per GOP (frag_keyframe), the init segment first (empty_moov), offsets
/// relative to each moof (default_base_moof), and a sidx indexing every
/// fragment (global_sidx).
const FMP4_ARGS: &[&str] = &[
    "-c",
    "copy",
    "-movflags",
    "+frag_keyframe+empty_moov+default_base_moof+global_sidx",
    "-f",
    "mp4",
];

/// `cargo xtask bench qoe [--file plain|fmp4]... [--scenario NAME[,NAME]]... [--player caudal|native|hlsjs]... [--repeat N]`.
///
/// The values are passed on to the `qoe` runner, which checks them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// plain, fmp4: the file Caudal and native play — the plain faststart
    /// MP4 (the headline) or the same encode fragmented with sidx; hls.js
    /// always plays its playlist over the fragmented one (repeatable or
    /// comma list; default both, plain first).
    #[arg(long, value_name = "NAME")]
    file: Vec<String>,
    /// steady, fast, drop, abandon, seek, slowstart, longdrop (repeatable or
    /// comma list; default all).
    #[arg(long, value_name = "NAME")]
    scenario: Vec<String>,
    /// caudal, native, hlsjs (repeatable or comma list; default all).
    #[arg(long, value_name = "NAME")]
    player: Vec<String>,
    /// Runs per file, player and scenario, each a fresh browser (a cold
    /// visit, then a warm one); the median counts [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    repeat: Option<u32>,
}

impl Args {
    /// The runner's share of the command line, in the order given per flag.
    fn forwarded(&self) -> Vec<String> {
        let mut args = Vec::new();
        for file in &self.file {
            args.extend(["--file".to_owned(), file.clone()]);
        }
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
    let (plain, fmp4) = ensure_media(&dir)?;
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
        .arg("--plain")
        .arg(&plain)
        .arg("--fmp4")
        .arg(&fmp4)
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

/// The plain MP4 and its fragmented copy, encoded with ffmpeg on first use
/// (some seconds) and reused afterwards.
fn ensure_media(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let plain = dir.join(PLAIN_NAME);
    encode_once(&plain, PLAIN_ARGS)?;
    let fmp4 = dir.join(FMP4_NAME);
    let input = plain.to_str().context("the cache path is not UTF-8")?;
    let args: Vec<&str> = ["-i", input]
        .into_iter()
        .chain(FMP4_ARGS.iter().copied())
        .collect();
    encode_once(&fmp4, &args)?;
    Ok((plain, fmp4))
}

/// Installs the pinned hls.js into `dir/npm/` unless it is there, and
/// copies `hls.min.js` to `dir/hlsjs-<version>/` with its `.br` and `.gz`
/// beside it; returns the copy's path.
fn install_hlsjs(dir: &Path) -> Result<PathBuf> {
    let npm_dir = dir.join("npm");
    npm_install_pinned(&npm_dir, "hls.js", HLSJS_VERSION)?;
    let script = npm_dir.join("node_modules/hls.js/dist/hls.min.js");
    ensure!(
        script.is_file(),
        "npm installed hls.js but {} is missing",
        script.display()
    );
    let served = dir.join(format!("hlsjs-{HLSJS_VERSION}"));
    fs::create_dir_all(&served).with_context(|| format!("creating {}", served.display()))?;
    let copy = served.join("hls.min.js");
    fs::copy(&script, &copy)
        .with_context(|| format!("copying {} to {}", script.display(), copy.display()))?;
    compress_beside(&copy)?;
    Ok(copy)
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
            "--file",
            "plain",
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
                "--file",
                "plain",
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
