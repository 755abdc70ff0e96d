//! Chromium and chromedriver for the end-to-end tests in `tests/`.
//!
//! The tests drive a real headless Chromium through chromedriver; they find
//! both through `CAUDAL_CHROMIUM` and `CAUDAL_CHROMEDRIVER`, which `cargo xtask
//! test` sets from what this module finds (or installs, on a fresh CI machine).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;

/// The two programs the browser tests need.
#[derive(Debug, Clone)]
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

impl Browser {
    /// The environment the test child gets.
    pub fn env(&self) -> [(&'static str, &Path); 2] {
        [
            ("CAUDAL_CHROMIUM", &self.chromium),
            ("CAUDAL_CHROMEDRIVER", &self.chromedriver),
        ]
    }
}

/// Finds Chromium and chromedriver, installing them with apt-get when we are
/// root on a Debian-like machine (CI is), and otherwise says what to install.
pub fn ensure() -> Result<Browser> {
    if let Some(browser) = find() {
        return Ok(browser);
    }
    let apt_get = cmd::which("apt-get");
    match apt_get {
        Some(apt_get) if is_root()? => {
            install(&apt_get)?;
            find().context("apt-get installed chromium and chromium-driver, but chromium or chromedriver is still not found")
        }
        _ => anyhow::bail!(
            "The browser tests need Chromium and chromedriver: install them (on Debian, as root: `apt-get install chromium chromium-driver`), point CAUDAL_CHROMIUM and CAUDAL_CHROMEDRIVER at them, or run `cargo xtask test --no-browser`."
        ),
    }
}

fn find() -> Option<Browser> {
    Some(Browser {
        chromium: find_program("CAUDAL_CHROMIUM", &["chromium", "chromium-browser"])?,
        chromedriver: find_program("CAUDAL_CHROMEDRIVER", &["chromedriver"])?,
    })
}

/// The program named by `var` if it is set and executable, else the first of
/// `names` on PATH or in /usr/bin (PATH may be minimal under CI).
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = env::var_os(var).map(PathBuf::from) {
        if cmd::is_executable(&path) {
            return Some(path);
        }
        eprintln!(
            "warning: {var}={} is not an executable file; looking elsewhere",
            path.display()
        );
    }
    names.iter().find_map(|name| {
        cmd::which(name).or_else(|| {
            Some(Path::new("/usr/bin").join(name)).filter(|path| cmd::is_executable(path))
        })
    })
}

/// `id -u` is 0: portable across Unixes and needs no unsafe `geteuid`.
fn is_root() -> Result<bool> {
    Ok(cmd::output(Command::new("id").arg("-u"))?.trim() == "0")
}

fn install(apt_get: &Path) -> Result<()> {
    println!("installing chromium and chromium-driver with apt-get");
    cmd::run(
        Command::new(apt_get)
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    cmd::run(
        Command::new(apt_get)
            .args(["install", "-y", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
