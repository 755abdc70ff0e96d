//! `cargo xtask`: the only entry points a Caudal developer (or CI) needs.
//!
//! Anything that takes more than one `cargo` command lives here, in Rust, so it
//! behaves the same on a laptop and in CI: `.ci/run` is just `cargo xtask test`.
//!
//! - `cargo xtask build-player`: the wasm player into `www/pkg/`, with its sizes;
//! - `cargo xtask serve [DIR] [--listen ADDR]`: the player, then the `caudal` server;
//! - `cargo xtask test [--no-browser]`: fmt, clippy, player, every test;
//! - `cargo xtask bench <what> [ARGS...]`: the side-by-side benchmarks.

mod bench;
mod browser;
mod cmd;
mod player;
mod serve;
mod suite;
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
    /// Build the wasm player into www/pkg/ and print its raw and gzip sizes.
    BuildPlayer,
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
    /// Run a benchmark: `cargo xtask bench <what> [ARGS...]` (`bench --help` lists them).
    // bench.rs owns its arguments, `--help` included.
    #[command(disable_help_flag = true)]
    Bench {
        /// What to benchmark, then its own arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
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
        Command::BuildPlayer => player::build(&ws).map(|_| ExitCode::SUCCESS),
        Command::Serve { dir, listen } => serve::run(&ws, dir, &listen),
        Command::Test { no_browser } => suite::run(&ws, no_browser).map(|()| ExitCode::SUCCESS),
        Command::Bench { args } => bench::run(&args).map(|()| ExitCode::SUCCESS),
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
    fn bench_gets_everything_after_bench() -> anyhow::Result<()> {
        let cli = Cli::try_parse_from(["xtask", "bench", "server", "--clients", "8"])?;
        match cli.command {
            Command::Bench { args } => assert_eq!(args, ["server", "--clients", "8"]),
            other => anyhow::bail!("parsed as {other:?}"),
        }
        Ok(())
    }
}
