//! Chromium and chromedriver for the end-to-end tests in `tests/`.
//!
//! The tests drive a real headless Chromium through chromedriver; they find
//! both through `CAUDAL_CHROMIUM` and `CAUDAL_CHROMEDRIVER`, which `cargo xtask
//! test` sets from what this module finds (or installs, on a fresh CI machine).

use std::env;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::tools::{self, Recommends};

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
    tools::apt_install(
        &["chromium", "chromium-driver"],
        // As `apt-get install chromium` has always been run here: with its
        // fonts and helpers.
        Recommends::Install,
        "The browser tests need Chromium and chromedriver: install them (on Debian, as root: `apt-get install chromium chromium-driver`), point CAUDAL_CHROMIUM and CAUDAL_CHROMEDRIVER at them, or run `cargo xtask test --no-browser`.",
    )?;
    find().context(
        "apt-get installed chromium and chromium-driver, but chromium or chromedriver is still not found",
    )
}

fn find() -> Option<Browser> {
    Some(Browser {
        chromium: named_or_found("CAUDAL_CHROMIUM", &["chromium", "chromium-browser"])?,
        chromedriver: named_or_found("CAUDAL_CHROMEDRIVER", &["chromedriver"])?,
    })
}

/// The program named by `var` if it is set and executable, else the first of
/// `names` that [`tools::find_program`] finds.
fn named_or_found(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = env::var_os(var).map(PathBuf::from) {
        if tools::is_executable(&path) {
            return Some(path);
        }
        eprintln!(
            "warning: {var}={} is not an executable file; looking elsewhere",
            path.display()
        );
    }
    names.iter().find_map(|name| tools::find_program(name))
}
