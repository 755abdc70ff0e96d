//! Outside programs a test compares against (ffmpeg), shared by the test files
//! that need one (`mod tools;`).
//!
//! A test that needs a missing tool must not pass by doing nothing: under CI
//! (`CI` set to anything but empty, `0` or `false`) it fails; on a laptop it
//! skips with a note saying what to install. `cargo xtask test` installs the
//! tools when it runs as root, as it does Chromium.

use std::io::Write;
use std::path::PathBuf;

/// The path of `name` on `PATH`, or `None` (with a note on stderr) when it is
/// missing outside CI. Under CI a missing tool panics, failing the test.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if let Some(path) = find_on_path(name) {
        return Some(path);
    }
    // ffprobe comes in ffmpeg's package.
    let package = if name == "ffprobe" { "ffmpeg" } else { name };
    let why = format!("`{name}` is not on PATH (on Debian: apt-get install {package})");
    assert!(!under_ci(), "{why}; under CI a test that needs it fails");
    // Straight to stderr: libtest would swallow an `eprintln!` of a passing test.
    let _ = writeln!(std::io::stderr().lock(), "skipped: {why}");
    None
}

/// Looks on `PATH` only, so a test run with a `PATH` that lacks the tool
/// takes the missing-tool branch.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether we run under CI, where skipping is not allowed.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}
