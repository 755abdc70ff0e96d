//! Running child processes with errors that say which command failed.

use std::path::Path;
use std::process::{Command, ExitStatus};

use anyhow::{Context, Result};

/// Runs `command` with inherited stdio and fails unless it exits with success.
pub fn run(command: &mut Command) -> Result<()> {
    let status = status(command)?;
    anyhow::ensure!(
        status.success(),
        "`{}` failed ({status})",
        describe(command)
    );
    Ok(())
}

/// Runs `command` with inherited stdio and returns how it ended.
pub fn status(command: &mut Command) -> Result<ExitStatus> {
    command
        .status()
        .with_context(|| format!("could not start `{}`", describe(command)))
}

/// Runs `command` and returns its stdout, failing unless it exits with success.
pub fn output(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("could not start `{}`", describe(command)))?;
    anyhow::ensure!(
        output.status.success(),
        "`{}` failed ({}): {}",
        describe(command),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8(output.stdout)
        .with_context(|| format!("`{}` printed non-UTF-8", describe(command)))
}

/// The command line as a user would type it (program name without its path).
pub fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let program = program.file_name().unwrap_or(program.as_os_str());
    std::iter::once(program)
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}
