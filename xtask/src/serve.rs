//! `cargo xtask serve`: the player, then the `caudal` server on a folder of media.

use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};

use anyhow::{Context, Result};

use crate::workspace::Workspace;
use crate::{cmd, player};

/// The default of `caudal serve --listen`, repeated so `--help` shows it.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Builds the player, runs the server in the foreground, and exits as it does.
pub fn run(ws: &Workspace, dir: Option<PathBuf>, listen: &str) -> Result<ExitCode> {
    player::build(ws)?;
    // The child runs at the workspace root; keep a relative DIR meaning what the
    // user meant from where they typed it.
    let dir = match dir {
        Some(dir) => std::path::absolute(&dir)
            .with_context(|| format!("bad media folder {}", dir.display()))?,
        None => ws.www().join("media"),
    };
    // Ctrl-c reaches the server too (same process group); we stay alive until it
    // has shut down, so the shell prompt does not come back over its last words.
    ctrlc::set_handler(|| {}).context("could not handle ctrl-c")?;
    let status = cmd::status(
        ws.cargo()
            .args([
                "run",
                "--release",
                "--package",
                "caudal-server",
                "--bin",
                "caudal",
                "--",
                "serve",
            ])
            .arg(&dir)
            .args(["--listen", listen, "--www"])
            .arg(ws.www()),
    )?;
    Ok(exit_code(status))
}

/// Passes the child's exit on: its code, or 128 + signal as shells report it.
fn exit_code(status: ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return ExitCode::from(u8::try_from(128 + signal).unwrap_or(1));
        }
    }
    ExitCode::FAILURE
}
