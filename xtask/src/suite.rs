//! `cargo xtask test`: everything CI checks, in order, failing fast.
//!
//! The cheap checks come first (fmt, clippy) so a typo fails in seconds, not
//! after a browser install. Then what the tests need on a fresh machine:
//! Chromium (unless `--no-browser`) and the [`TEST_TOOLS`] (ffmpeg; `ss` of iproute2, which reads the server's sockets), installed
//! with apt-get when we are root, because a test whose tool is missing fails
//! under CI. The last line printed is the total over every
//! test binary (`tests: N passed, N failed, N skipped`), because cargo's own
//! last line is usually a doc-test binary's "0 passed" and says nothing.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::workspace::Workspace;
use crate::{browser, cmd, player, tools};

/// Runs the steps; `no_browser` skips Chromium (the tests see `CAUDAL_SKIP_BROWSER=1`).
pub fn run(ws: &Workspace, no_browser: bool) -> Result<()> {
    let started = Instant::now();
    ensure_components(ws)?;
    step("fmt", || {
        cmd::run(ws.cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    step("clippy", || {
        cmd::run(ws.cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("build-player", || player::build(ws).map(drop))?;
    let mut tests = ws.cargo();
    tests.args(["test", "--workspace"]);
    if no_browser {
        println!("==> browser: skipped (--no-browser)");
        tests.env("CAUDAL_SKIP_BROWSER", "1");
    } else {
        let browser = step("browser", browser::ensure)?;
        for (var, path) in browser.env() {
            println!("    {var}={}", path.display());
        }
        tests.envs(browser.env());
    }
    step("test tools", ensure_test_tools)?;
    step("python venv", ensure_python_venv)?;
    let mut tally = Tally::default();
    let mut outcome = step("cargo test", || run_tests(&mut tests, &mut tally));
    for (name, flags) in OTHER_BODY_PATHS {
        if outcome.is_err() {
            break;
        }
        let mut server_tests = ws.cargo();
        server_tests
            .args(["test", "-p", "caudal-server", "--tests"])
            .env("CAUDAL_TEST_SERVE_ARGS", flags);
        outcome = step(name, || run_tests(&mut server_tests, &mut tally));
    }
    if outcome.is_ok() {
        println!(
            "==> all steps ok in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // Last, even when tests failed: the line CI reads.
    if tally.binaries > 0 {
        println!("tests: {tally}");
    }
    outcome
}

/// The server's tests run again with each other way a file body can leave
/// (the first run has the defaults: Caudal's own connection loop, bodies
/// under 4 MiB by `sendfile` and larger ones from the chunk cache), so every range, conditional, traversal and lifecycle
/// test holds on each (`server/tests/common`'s `CAUDAL_TEST_SERVE_ARGS`):
/// `sendfile` for every body (the defaults write large ones from the chunk
/// cache), hyper with the bytes from the cache, hyper reading the file.
const OTHER_BODY_PATHS: [(&str, &str); 3] = [
    ("server tests, sendfile for every body", "--cache-mem 0"),
    ("server tests, hyper + chunk cache", "--zero-copy off"),
    (
        "server tests, hyper + file reads",
        "--zero-copy off --cache-mem 0",
    ),
];

/// Programs the tests run besides Chromium, and the Debian package of each.
/// The media and server tests compare with ffmpeg (`ffprobe` comes in the same
/// package); under CI they fail when it is missing.
const TEST_TOOLS: [(&str, &[&str]); 2] = [("ffmpeg", &["ffmpeg"]), ("ss", &["iproute2"])];

/// Installs the [`TEST_TOOLS`] that are missing when we are root with apt-get,
/// as for Chromium. Otherwise a missing tool fails here under CI (the tests
/// would fail later, less clearly) and is one note on a laptop (the tests
/// that need it skip there).
fn ensure_test_tools() -> Result<()> {
    for (program, packages) in TEST_TOOLS {
        if let Some(path) = tools::find_program(program) {
            println!("    {program}: {}", path.display());
            continue;
        }
        if tools::can_install() || under_ci() {
            let path = tools::ensure_program(program, packages)?;
            println!("    {program}: {}", path.display());
        } else {
            println!(
                "note: {}; the tests that need it are skipped outside CI",
                tools::install_hint(program, packages)
            );
        }
    }
    Ok(())
}

/// The token interoperability test (`server/tests/edgeauth_interop.rs`)
/// installs Akamai's EdgeAuth from PyPI into a `python3 -m venv`: Debian's
/// python3 makes venvs only with `python3-venv` (ensurepip). Installed like
/// the other tools when missing.
fn ensure_python_venv() -> Result<()> {
    let works = || {
        std::process::Command::new("python3")
            .args(["-c", "import venv, ensurepip"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if works() {
        println!("    python3 -m venv: ok");
        return Ok(());
    }
    if tools::can_install() || under_ci() {
        tools::apt_install(
            &["python3", "python3-venv", "python3-pip"],
            tools::Recommends::Skip,
            "install python3 with venv and pip (Debian: python3-venv python3-pip)",
        )?;
        anyhow::ensure!(works(), "python3 -m venv still does not work after apt-get");
        println!("    python3 -m venv: installed");
    } else {
        println!("note: python3 with venv is missing; the EdgeAuth interop test skips outside CI");
    }
    Ok(())
}

/// `CI` is set to anything but empty, `0` or `false`, as CI services do: the
/// tests then fail, rather than skip, when a tool is missing.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Adds rustfmt and clippy with rustup when a minimal toolchain lacks them,
/// so a fresh machine fails on the code, not on a missing tool.
fn ensure_components(ws: &Workspace) -> Result<()> {
    for (component, subcommand) in [("rustfmt", "fmt"), ("clippy", "clippy")] {
        let present = ws
            .cargo()
            .args([subcommand, "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if present {
            continue;
        }
        let rustup = tools::find_program("rustup").with_context(|| {
            format!("`cargo {subcommand}` is missing: install the {component} component")
        })?;
        println!("adding the {component} component with rustup");
        cmd::run(Command::new(rustup).args(["component", "add", component]))?;
    }
    Ok(())
}

/// Runs one named step, printing its name and how long it took; the error
/// names the step.
fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {name}");
    let started = Instant::now();
    let result = f();
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => println!("==> {name}: ok in {secs:.1} s"),
        Err(_) => println!("==> {name}: FAILED after {secs:.1} s"),
    }
    result.with_context(|| format!("step `{name}` failed"))
}

/// Runs `cargo test`, echoing its stdout line by line while adding up the
/// `test result:` lines into `tally`, which stays good when the tests fail.
fn run_tests(command: &mut Command, tally: &mut Tally) -> Result<()> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{}`", cmd::describe(command)))?;
    let stdout = child.stdout.take().context("no stdout from cargo test")?;
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    while reader
        .read_until(b'\n', &mut line)
        .context("reading cargo test output")?
        > 0
    {
        let text = String::from_utf8_lossy(&line);
        print!("{text}");
        tally.add_line(&text);
        line.clear();
    }
    let status = child.wait().context("waiting for cargo test")?;
    anyhow::ensure!(
        status.success(),
        "`{}` failed ({status})",
        cmd::describe(command)
    );
    Ok(())
}

/// Test counts summed over every test binary of the run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    binaries: u64,
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// Adds a libtest summary line such as
    /// `test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s`;
    /// any other line is ignored.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        let Some((_verdict, counts)) = rest.split_once(". ") else {
            return;
        };
        self.binaries += 1;
        for part in counts.split("; ") {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

impl std::fmt::Display for Tally {
    /// The "N passed, N failed, N skipped" form CI reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_adds_up_libtest_summaries() {
        let mut tally = Tally::default();
        for line in [
            "running 4 tests",
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n",
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test tally::adds ... ok",
        ] {
            tally.add_line(line);
        }
        assert_eq!(
            tally,
            Tally {
                binaries: 3,
                passed: 5,
                failed: 1,
                ignored: 1
            }
        );
        assert_eq!(tally.to_string(), "5 passed, 1 failed, 1 skipped");
    }
}
