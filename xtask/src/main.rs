//! `cargo xtask`: the only entry points a Caudal developer (or CI) needs.
//!
//! Anything that takes more than one `cargo` command lives here, in Rust, so it
//! behaves the same on a laptop and in CI: `.ci/run` is just `cargo xtask test`.
//!
//! - `cargo xtask build-player`: the wasm player into `www/pkg/`, with its sizes;
//! - `cargo xtask serve [DIR] [--listen ADDR]`: the player, then the `caudal` server;
//! - `cargo xtask test [--no-browser]`: fmt, clippy, player, every test;
//! - `cargo xtask bench server|remux|qoe [OPTIONS]`: the side-by-side benchmarks.
//!
//! How the modules fit: this file is the command line (clap derive; each
//! benchmark brings its own `Args`) and the dispatch. One module per command —
//! [`player`], [`serve`], [`suite`] (`test`), [`bench`] (a folder, one module
//! per benchmark). Under them, three leaves everything shares: [`workspace`]
//! (where the workspace and cargo's target directory are, asked of `cargo
//! metadata`, and the release build of a binary), [`tools`] (finding outside
//! programs and installing them with apt-get on a fresh machine), [`browser`]
//! (Chromium and chromedriver on top of `tools`), and [`cmd`] (running a
//! child with errors that name it).

mod bench;
mod browser;
mod cmd;
mod npm;
mod player;
mod player_assets;
mod serve;
mod suite;
mod tools;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::workspace::Workspace;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, serve and test Caudal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the wasm player into www/pkg/ and print its raw, gzip and brotli sizes.
    BuildPlayer {
        /// Instead, write both modules with their function names kept into
        /// target/player-names/, for `twiggy top` (what the bytes are).
        #[arg(long)]
        keep_names: bool,
    },
    /// Build the player, then run `caudal serve` on DIR (default: www/media).
    Serve {
        /// The folder of media to serve.
        dir: Option<PathBuf>,
        /// The address to listen on.
        #[arg(long, default_value = serve::DEFAULT_LISTEN)]
        listen: String,
    },
    /// Run every check CI runs: fmt, clippy, player build, all tests.
    Test {
        /// Skip the headless-Chromium tests (and installing Chromium).
        #[arg(long)]
        no_browser: bool,
    },
    /// Run a benchmark against a reference, side by side in one run.
    #[command(subcommand)]
    Bench(bench::Bench),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    let ws = Workspace::locate()?;
    match command {
        Command::BuildPlayer { keep_names: false } => player::build(&ws).map(|_| ExitCode::SUCCESS),
        Command::BuildPlayer { keep_names: true } => {
            player::build_with_names(&ws).map(|()| ExitCode::SUCCESS)
        }
        Command::Serve { dir, listen } => serve::run(&ws, dir, &listen),
        Command::Test { no_browser } => suite::run(&ws, no_browser).map(|()| ExitCode::SUCCESS),
        Command::Bench(what) => bench::run(&ws, &what).map(|()| ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bench_gets_the_benchmark_and_its_arguments() -> anyhow::Result<()> {
        let cli = Cli::try_parse_from(["xtask", "bench", "server", "--seconds", "8"])?;
        match cli.command {
            Command::Bench(bench::Bench::Server(args)) => assert_eq!(args.seconds, 8),
            other => anyhow::bail!("parsed as {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn every_command_line_of_the_readme_parses() -> anyhow::Result<()> {
        for line in [
            "xtask build-player",
            "xtask serve",
            "xtask serve www/media --listen 0.0.0.0:9000",
            "xtask test",
            "xtask test --no-browser",
            "xtask bench server",
            "xtask bench server --seconds 3 --only caudal",
            "xtask bench remux --runs 5 --warmup 0 --chunk-kib 64 --only wasm --only mp4box",
            "xtask bench qoe --scenario steady,drop --player caudal --player hlsjs --repeat 3",
        ] {
            Cli::try_parse_from(line.split_whitespace())
                .map_err(|e| anyhow::anyhow!("`{line}`: {e}"))?;
        }
        Ok(())
    }

    #[test]
    fn serve_defaults_to_the_servers_own_address() -> anyhow::Result<()> {
        match Cli::try_parse_from(["xtask", "serve"])?.command {
            Command::Serve { dir, listen } => {
                assert_eq!(dir, None);
                assert_eq!(listen, serve::DEFAULT_LISTEN);
            }
            other => anyhow::bail!("parsed as {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn an_unknown_benchmark_or_flag_is_an_error() {
        assert!(Cli::try_parse_from(["xtask", "bench", "disk"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "bench", "server", "--clients", "8"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "test", "--browser"]).is_err());
    }
}
