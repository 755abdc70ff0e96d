//! `cargo xtask build-player`: the wasm player, ready for the browser.
//!
//! Two modules: the player (`caudal-player`) and the remuxer it loads only
//! for plain MP4s (`caudal-player-remux`). For each, cargo builds it for
//! `wasm32-unknown-unknown` with the size-tuned `wasm` profile — one cargo
//! run per module, so that the player's build does not get `caudal-media`'s
//! remuxer feature from the other — then the wasm-bindgen library (the same
//! code as the `wasm-bindgen` CLI, pinned to the macro's exact version)
//! writes the ES module and the final `.wasm` into `www/pkg/`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use wasm_bindgen_cli_support::Bindgen;

use crate::workspace::Workspace;
use crate::{cmd, tools};

/// The browsers' wasm target (the remux benchmark builds for it too).
pub const TARGET: &str = "wasm32-unknown-unknown";
/// The cargo profile in the workspace Cargo.toml: opt-level "z", fat LTO, abort.
const PROFILE: &str = "wasm";

/// A wasm module of the player: its package, and the file stem of what we
/// emit (`caudal_player.js`, `caudal_player_bg.wasm`).
struct Module {
    package: &'static str,
    out_name: &'static str,
}

const PLAYER: Module = Module {
    package: "caudal-player",
    out_name: "caudal_player",
};
/// Loaded by `player.js` the first time a file is a plain MP4.
const REMUXER: Module = Module {
    package: "caudal-player-remux",
    out_name: "caudal_remux",
};

/// What `build` wrote into `www/pkg/`.
#[derive(Debug, Clone)]
pub struct Player {
    pub js: PathBuf,
    pub wasm: PathBuf,
    pub remuxer_js: PathBuf,
    pub remuxer_wasm: PathBuf,
}

/// Builds the player into `www/pkg/` and prints its sizes.
pub fn build(ws: &Workspace) -> Result<Player> {
    ensure_wasm_target()?;
    let out_dir = pkg_dir(ws);
    // Start clean so no file from an older build (a JS snippet, say) lingers.
    if out_dir.exists() {
        fs::remove_dir_all(&out_dir)
            .with_context(|| format!("could not empty {}", out_dir.display()))?;
    }
    fs::create_dir_all(&out_dir)
        .with_context(|| format!("could not create {}", out_dir.display()))?;
    let (js, wasm) = build_module(ws, &PLAYER, &out_dir)?;
    let (remuxer_js, remuxer_wasm) = build_module(ws, &REMUXER, &out_dir)?;
    let player = Player {
        js,
        wasm,
        remuxer_js,
        remuxer_wasm,
    };
    let loader = ws.www().join("player.js");
    print_sizes(
        ws,
        "player (every page)",
        &[&player.wasm, &player.js, &loader],
    )?;
    print_sizes(
        ws,
        "remuxer (loaded for plain MP4s only)",
        &[&player.remuxer_wasm, &player.remuxer_js],
    )?;
    Ok(player)
}

/// Builds one module and binds it into `out_dir`: its (js, wasm) paths.
fn build_module(ws: &Workspace, module: &Module, out_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    cmd::run(ws.cargo().args([
        "build",
        "--package",
        module.package,
        "--target",
        TARGET,
        "--profile",
        PROFILE,
    ]))?;
    let input = ws
        .target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", module.package.replace('-', "_")));
    bindgen(&input, out_dir, module.out_name)?;
    Ok((
        out_dir.join(format!("{}.js", module.out_name)),
        out_dir.join(format!("{}_bg.wasm", module.out_name)),
    ))
}

/// Where the loader (`www/player.js`) finds the module; git-ignored.
pub fn pkg_dir(ws: &Workspace) -> PathBuf {
    ws.www().join("pkg")
}

/// Adds the wasm target to the active rustup toolchain when it is missing (a
/// fresh CI machine has only the host target). Without rustup we let cargo say
/// whether the toolchain can build for wasm.
pub fn ensure_wasm_target() -> Result<()> {
    let Some(rustup) = tools::find_program("rustup") else {
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
fn bindgen(input: &Path, out_dir: &Path, out_name: &str) -> Result<()> {
    anyhow::ensure!(input.is_file(), "cargo built no {}", input.display());
    Bindgen::new()
        .input_path(input)
        .out_name(out_name)
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
fn print_sizes(ws: &Workspace, what: &str, files: &[&Path]) -> Result<()> {
    println!("{what}, bytes:");
    let (mut raw, mut gzip) = (0, 0);
    for file in files {
        let bytes = fs::read(file).with_context(|| format!("could not read {}", file.display()))?;
        let packed = gzip_len(&bytes)?;
        println!(
            "  {:<32} {:>9} raw {:>9} gzip",
            ws.display(file).to_string(),
            bytes.len(),
            packed
        );
        raw += bytes.len();
        gzip += packed;
    }
    println!("  {:<32} {raw:>9} raw {gzip:>9} gzip", "total");
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
