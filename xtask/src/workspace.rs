//! Where the workspace and its build outputs are.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;

/// The workspace root and the target directory cargo builds into.
///
/// The target directory comes from `cargo metadata`, so `CARGO_TARGET_DIR` and
/// `build.target-dir` in cargo config are honoured: the wasm file we post-process
/// is wherever cargo actually put it.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
}

impl Workspace {
    /// Asks cargo, starting from this crate's manifest, so `cargo xtask` works
    /// from any folder inside the workspace.
    pub fn locate() -> Result<Self> {
        // `cargo run` sets CARGO_MANIFEST_DIR at run time too; the compile-time
        // value is the fallback for running the binary directly.
        let xtask_dir = env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let output = cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(xtask_dir.join("Cargo.toml"))
            .output()
            .context("could not run `cargo metadata`")?;
        anyhow::ensure!(
            output.status.success(),
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
            .context("`cargo metadata` printed invalid JSON")?;
        Ok(Self {
            root: json_path(&metadata, "workspace_root")?,
            target_dir: json_path(&metadata, "target_directory")?,
        })
    }

    /// What the browser loads: the loader, the demo page, the sample media.
    pub fn www(&self) -> PathBuf {
        self.root.join("www")
    }

    /// Shows `path` relative to the workspace root when it is inside it.
    pub fn display<'a>(&self, path: &'a Path) -> std::path::Display<'a> {
        path.strip_prefix(&self.root).unwrap_or(path).display()
    }

    /// Builds `package`'s binary `bin` in release and returns its path, in the
    /// target directory cargo really uses. Benchmarks time these binaries; a
    /// debug build would time the compiler's checks.
    pub fn build_release_bin(&self, package: &str, bin: &str) -> Result<PathBuf> {
        eprintln!("building {package} --bin {bin} (release)");
        cmd::run(self.cargo().args([
            "build",
            "--quiet",
            "--release",
            "--package",
            package,
            "--bin",
            bin,
        ]))?;
        let path = self
            .target_dir
            .join("release")
            .join(format!("{bin}{}", env::consts::EXE_SUFFIX));
        anyhow::ensure!(path.is_file(), "cargo built no {}", path.display());
        Ok(path)
    }

    /// A `cargo` command that runs at the workspace root.
    pub fn cargo(&self) -> Command {
        let mut command = cargo();
        command.current_dir(&self.root);
        command
    }
}

/// The cargo that runs us (cargo sets `CARGO`), so toolchain overrides carry over.
fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

fn json_path(metadata: &serde_json::Value, key: &str) -> Result<PathBuf> {
    metadata[key]
        .as_str()
        .map(PathBuf::from)
        .with_context(|| format!("`cargo metadata` has no `{key}`"))
}
