//! Benchmark inputs made once and cached: media encoded with ffmpeg, and
//! pinned npm packages (mp4box.js, hls.js) with the node that runs them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{cmd, tools};

/// Makes a cached benchmark input with ffmpeg (installed with apt when
/// missing, as root), unless it is already there. Written aside and
/// renamed, so an interrupted encode is never reused.
pub fn encode_once(path: &Path, ffmpeg_args: &[&str]) -> Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    let ffmpeg = tools::ensure_program("ffmpeg", &["ffmpeg"])?;
    eprintln!("bench: encoding {} once with ffmpeg", path.display());
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    cmd::run(
        Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(ffmpeg_args)
            .arg(&partial),
    )?;
    fs::rename(&partial, path)
        .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))
}

/// `node` or `npm`, installed with apt when missing and we are root.
pub fn node_tool(name: &str) -> Result<PathBuf> {
    tools::ensure_program(name, &["nodejs", "npm"])
}

/// Installs exactly `package@version` with npm into `npm_dir`, unless that
/// version is already there.
pub fn npm_install_pinned(npm_dir: &Path, package: &str, version: &str) -> Result<()> {
    fs::create_dir_all(npm_dir).with_context(|| format!("creating {}", npm_dir.display()))?;
    let manifest_path = npm_dir.join(format!("node_modules/{package}/package.json"));
    let installed = fs::read(&manifest_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|p| p["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(version) {
        return Ok(());
    }
    let npm = node_tool("npm")?;
    eprintln!("bench: installing {package}@{version} with npm");
    // An exact version in the manifest: npm installs that release only.
    let manifest =
        format!("{{\"private\": true, \"dependencies\": {{\"{package}\": \"{version}\"}}}}\n");
    fs::write(npm_dir.join("package.json"), manifest)
        .with_context(|| format!("writing {}", npm_dir.display()))?;
    cmd::run(
        Command::new(npm)
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(npm_dir),
    )
}
