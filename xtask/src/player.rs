//! `cargo xtask build-player`: the wasm player, ready for the browser.
//!
//! Two steps: cargo builds `caudal-player` for `wasm32-unknown-unknown` with the
//! size-tuned `wasm` profile, then the wasm-bindgen library (the same code as the
//! `wasm-bindgen` CLI, pinned to the macro's exact version) writes the ES module
//! and the final `.wasm` into `www/pkg/`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use wasm_bindgen_cli_support::Bindgen;

use crate::cmd;
use crate::workspace::Workspace;

const TARGET: &str = "wasm32-unknown-unknown";
/// The cargo profile in the workspace Cargo.toml: opt-level "z", fat LTO, abort.
const PROFILE: &str = "wasm";
const PACKAGE: &str = "caudal-player";
/// The file stem of everything we emit: `caudal_player.js`, `caudal_player_bg.wasm`.
const OUT_NAME: &str = "caudal_player";

/// What `build` wrote into `www/pkg/`.
#[derive(Debug, Clone)]
pub struct Player {
    pub js: PathBuf,
    pub wasm: PathBuf,
}

/// Builds the player into `www/pkg/` and prints its sizes.
pub fn build(ws: &Workspace) -> Result<Player> {
    ensure_wasm_target()?;
    cmd::run(ws.cargo().args([
        "build",
        "--package",
        PACKAGE,
        "--target",
        TARGET,
        "--profile",
        PROFILE,
    ]))?;
    let input = ws
        .target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{OUT_NAME}.wasm"));
    let out_dir = pkg_dir(ws);
    bindgen(&input, &out_dir)?;
    let player = Player {
        js: out_dir.join(format!("{OUT_NAME}.js")),
        wasm: out_dir.join(format!("{OUT_NAME}_bg.wasm")),
    };
    print_sizes(ws, &[&player.wasm, &player.js])?;
    Ok(player)
}

/// Where the loader (`www/player.js`) finds the module; git-ignored.
pub fn pkg_dir(ws: &Workspace) -> PathBuf {
    ws.www().join("pkg")
}

/// Adds the wasm target to the active rustup toolchain when it is missing (a
/// fresh CI machine has only the host target). Without rustup we let cargo say
/// whether the toolchain can build for wasm.
fn ensure_wasm_target() -> Result<()> {
    let Some(rustup) = cmd::which("rustup") else {
        println!("note: rustup not found; assuming the toolchain has the {TARGET} target");
        return Ok(());
    };
    let installed =
        cmd::output(std::process::Command::new(&rustup).args(["target", "list", "--installed"]))?;
    if installed.lines().any(|line| line.trim() == TARGET) {
        return Ok(());
    }
    println!("adding the {TARGET} target with rustup");
    cmd::run(std::process::Command::new(&rustup).args(["target", "add", TARGET]))
}

/// Runs wasm-bindgen as a library, with the settings the browser build needs.
fn bindgen(input: &Path, out_dir: &Path) -> Result<()> {
    anyhow::ensure!(input.is_file(), "cargo built no {}", input.display());
    // Start clean so no file from an older build (a JS snippet, say) lingers.
    if out_dir.exists() {
        fs::remove_dir_all(out_dir)
            .with_context(|| format!("could not empty {}", out_dir.display()))?;
    }
    fs::create_dir_all(out_dir)
        .with_context(|| format!("could not create {}", out_dir.display()))?;
    Bindgen::new()
        .input_path(input)
        .out_name(OUT_NAME)
        // ES module output: `init()` plus the exports.
        .web(true)?
        // The library defaults to `true`, which leaves `init()` without the
        // `new URL('caudal_player_bg.wasm', import.meta.url)` default and so
        // fails in the browser; the CLI sets it to false too.
        .omit_default_module_path(false)
        // Instead of cargo's `strip = true`: these sections are bytes on the wire
        // that no browser needs.
        .remove_name_section(true)
        .remove_producers_section(true)
        .typescript(false)
        .generate(out_dir)
        .with_context(|| format!("wasm-bindgen failed on {}", input.display()))
}

/// Prints raw and gzip sizes, the numbers we track for startup time.
fn print_sizes(ws: &Workspace, files: &[&Path]) -> Result<()> {
    println!("player size (bytes):");
    for file in files {
        let bytes = fs::read(file).with_context(|| format!("could not read {}", file.display()))?;
        println!(
            "  {:<32} {:>9} raw {:>9} gzip",
            ws.display(file).to_string(),
            bytes.len(),
            gzip_len(&bytes)?
        );
    }
    Ok(())
}

/// The size of `bytes` gzipped at the best level, as a precompressed static
/// file would be served.
pub fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).context("gzip failed")?;
    Ok(encoder.finish().context("gzip failed")?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_shrinks_repetitive_input() -> Result<()> {
        let bytes = vec![b'a'; 10_000];
        let len = gzip_len(&bytes)?;
        assert!(len > 0 && len < 100, "{len}");
        Ok(())
    }
}
