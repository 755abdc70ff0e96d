//! `cargo xtask bench live`: live latency in a real browser — Caudal's
//! player and hls.js (LL-HLS, low-latency mode) taking turns on ONE live
//! stream that ffmpeg publishes to `caudal` for the whole run, each run in
//! a fresh headless Chromium.
//!
//! This prepares the tools, then runs the `live_bench` binary of
//! `caudal-tests` (release), which starts the server and the publisher,
//! does the measuring and prints the table:
//!
//! * Chromium and chromedriver (installed with apt-get when missing, as for
//!   the browser tests) and ffmpeg (the publisher);
//! * hls.js, pinned to the version the live browser tests use, installed
//!   with npm into `target/bench-live/npm/`;
//! * the wasm player in `www/pkg/`: NOT built here — a rebuild empties
//!   `www/pkg/` under whoever else uses it — only checked; when it is
//!   missing this says to run `cargo xtask build-player`.
//!
//! Results: the table on stdout and `target/bench-live/results.json` (every
//! sample of every run).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use super::inputs::npm_install_pinned;
use crate::workspace::Workspace;
use crate::{browser, cmd, player, tools};

/// The hls.js release we compare with: the one tests/tests/live.rs pins.
const HLSJS_VERSION: &str = "1.5.20";
const PACKAGE: &str = "caudal-tests";
const BIN: &str = "live_bench";

/// `cargo xtask bench live [--rounds N] [--seconds S] [--latency L]`.
///
/// The values are passed on to the `live_bench` runner, which checks them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rounds; each plays Caudal and hls.js once, each in a fresh browser
    /// [default: 3].
    #[arg(long, value_name = "N")]
    rounds: Option<u32>,
    /// Seconds of latency samples (every 250 ms) per run, after the first
    /// frame [default: 30].
    #[arg(long, value_name = "S")]
    seconds: Option<u32>,
    /// Caudal's target latency, seconds (`Caudal.attach(v, url, {latency})`)
    /// [default: the player's, 0.5].
    #[arg(long, value_name = "L")]
    latency: Option<f64>,
}

impl Args {
    /// The runner's share of the command line.
    fn forwarded(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(rounds) = self.rounds {
            args.extend(["--rounds".to_owned(), rounds.to_string()]);
        }
        if let Some(seconds) = self.seconds {
            args.extend(["--seconds".to_owned(), seconds.to_string()]);
        }
        if let Some(latency) = self.latency {
            args.extend(["--latency".to_owned(), latency.to_string()]);
        }
        args
    }
}

/// Runs `cargo xtask bench live`.
pub fn run(ws: &Workspace, options: &Args) -> Result<()> {
    let dir = ws.target_dir.join("bench-live");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let chrome = browser::ensure()?;
    let ffmpeg = tools::ensure_program("ffmpeg", &["ffmpeg"])?;
    require_player(ws)?;
    let hlsjs = install_hlsjs(&dir)?;
    let bin = ws.build_release_bin(PACKAGE, BIN)?;

    let args = options.forwarded();
    // What the results say was run.
    let command = std::iter::once("cargo xtask bench live".to_owned())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut runner = Command::new(bin);
    runner
        .arg("--hlsjs")
        .arg(&hlsjs)
        .args(["--hlsjs-version", HLSJS_VERSION])
        .arg("--ffmpeg")
        .arg(&ffmpeg)
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

/// The built player: the stamped loader and the live module it loads.
fn require_player(ws: &Workspace) -> Result<()> {
    let pkg = player::pkg_dir(ws);
    let loader = pkg.join("player.js");
    let live = fs::read_dir(&pkg).ok().is_some_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("caudal_live-") && name.ends_with(".wasm")
        })
    });
    if !loader.is_file() || !live {
        bail!(
            "the player is not built ({} or its live module is missing): run `cargo xtask build-player` first",
            ws.display(&loader)
        );
    }
    Ok(())
}

/// Installs the pinned hls.js into `dir/npm/` unless it is there; the path
/// of its `hls.min.js`.
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

    /// The arguments as `bench live` gets them.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn passes_the_runner_only_what_was_given() -> Result<(), clap::Error> {
        let cli = Cli::try_parse_from(["live", "--seconds", "10", "--rounds=1"])?;
        assert_eq!(cli.args.forwarded(), ["--rounds", "1", "--seconds", "10"]);
        let cli = Cli::try_parse_from(["live", "--latency", "0.8"])?;
        assert_eq!(cli.args.forwarded(), ["--latency", "0.8"]);
        assert!(Cli::try_parse_from(["live"])?.args.forwarded().is_empty());
        Ok(())
    }
}
