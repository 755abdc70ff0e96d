//! `cargo xtask build-player`: the wasm player, ready for the browser.
//!
//! Seven modules: the player (`caudal-player`), which every page loads and
//! which reads no container itself; the live player (`caudal_live`, the
//! same crate built with its `live` feature), which only pages that play a
//! live stream load; and the readers the player loads per format
//! (`caudal-player-remux`, built once per module with one feature each, so
//! that no module carries another's code): `caudal_remux` (plain MP4s),
//! `caudal_fmp4`, `caudal_webm`, `caudal_mp3`, and `caudal_rewrite`
//! (fragmented MP4s and WebMs MSE would misread). For each, cargo builds it
//! for `wasm32-unknown-unknown` with the size-tuned `wasm` profile — one
//! cargo run per module, so that features do not unify across them — then
//! the wasm-bindgen library (the same code as the `wasm-bindgen` CLI,
//! pinned to the macro's exact version) writes the ES module and the final
//! `.wasm` into `www/pkg/`. Then each file gets its content-hashed name,
//! `www/player.js` (the template, with the plain names) is stamped into
//! `www/pkg/player.js`, and every file gets its brotli and gzip copies
//! ([`crate::player_assets`]). Before the hashing, `wasm-opt -Oz` shrinks
//! each wasm and terser minifies each script ([`crate::npm`]): bytes every
//! first-time viewer waits for.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasm_bindgen_cli_support::Bindgen;

use crate::npm::NpmTools;
use crate::player_assets::{self as assets, Sizes};
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
    /// `cargo build` feature arguments.
    features: &'static [&'static str],
    /// What `build` says it is, over its sizes.
    what: &'static str,
}

const PLAYER: Module = Module {
    package: "caudal-player",
    out_name: "caudal_player",
    features: &[],
    what: "player (every page)",
};
/// The live player: loaded by `player.js` for a live stream only.
const LIVE: Module = Module {
    package: "caudal-player",
    out_name: "caudal_live",
    features: &["--features", "live"],
    what: "live player (pages that play a live stream)",
};
/// The reader modules, each loaded by `player.js` the first time a file
/// needs it (or beside the file, when its URL names the format).
const READERS: [Module; 5] = [
    Module {
        package: "caudal-player-remux",
        out_name: "caudal_remux",
        features: &["--no-default-features", "--features", "remux"],
        what: "remuxer (plain MP4s)",
    },
    Module {
        package: "caudal-player-remux",
        out_name: "caudal_fmp4",
        features: &["--no-default-features", "--features", "fmp4"],
        what: "fragmented-MP4 reader",
    },
    Module {
        package: "caudal-player-remux",
        out_name: "caudal_webm",
        features: &["--no-default-features", "--features", "webm"],
        what: "WebM reader",
    },
    Module {
        package: "caudal-player-remux",
        out_name: "caudal_mp3",
        features: &["--no-default-features", "--features", "mp3"],
        what: "MP3 reader",
    },
    Module {
        package: "caudal-player-remux",
        out_name: "caudal_rewrite",
        features: &["--no-default-features", "--features", "rewrite"],
        what: "rewrites (only fMP4s and WebMs MSE would misread)",
    },
];

/// What `build` wrote into `www/pkg/`: content-hashed names, each with
/// its `.br` and `.gz`, and the loader stamped with them.
#[derive(Debug, Clone)]
pub struct Player {
    pub js: PathBuf,
    pub wasm: PathBuf,
    /// Each reader module's (js, wasm), in [`READERS`] order.
    pub readers: Vec<(PathBuf, PathBuf)>,
    /// The live player's (js, wasm).
    pub live: (PathBuf, PathBuf),
    /// `pkg/player.js`, served as `/player.js`.
    pub loader: PathBuf,
}

/// Builds the player into `www/pkg/` and prints its sizes.
pub fn build(ws: &Workspace) -> Result<Player> {
    ensure_wasm_target()?;
    let out_dir = pkg_dir(ws);
    // Start clean so no file from an older build (a JS snippet, an asset
    // under an older hash) lingers.
    if out_dir.exists() {
        fs::remove_dir_all(&out_dir)
            .with_context(|| format!("could not empty {}", out_dir.display()))?;
    }
    fs::create_dir_all(&out_dir)
        .with_context(|| format!("could not create {}", out_dir.display()))?;
    let npm = NpmTools::ensure(ws)?;
    let (js, wasm) = build_module(ws, &npm, &PLAYER, &out_dir)?;
    let mut readers = Vec::new();
    for module in &READERS {
        readers.push(build_module(ws, &npm, module, &out_dir)?);
    }
    let live = build_module(ws, &npm, &LIVE, &out_dir)?;
    let template = ws.www().join("player.js");
    let loader = out_dir.join("player.js");
    let names: Vec<(String, String)> = [&js, &wasm]
        .into_iter()
        .chain(readers.iter().flat_map(|(js, wasm)| [js, wasm]))
        .chain([&live.0, &live.1])
        .map(|(plain, hashed)| {
            (
                format!("'pkg/{plain}'"),
                format!("'pkg/{}'", file_name(hashed)),
            )
        })
        .collect();
    let text = fs::read_to_string(&template)
        .with_context(|| format!("could not read {}", template.display()))?;
    assets::write(&loader, assets::stamp(&text, &names)?.as_bytes())?;
    // A classic script: `Caudal` and its helpers stay global.
    npm.minify_js(&loader, false)?;
    let player = Player {
        js: js.1,
        wasm: wasm.1,
        readers: readers
            .into_iter()
            .map(|(js, wasm)| (js.1, wasm.1))
            .collect(),
        live: (live.0.1, live.1.1),
        loader,
    };
    write_manifest(&out_dir, &player)?;
    let every_page =
        compress_and_report(ws, PLAYER.what, &[&player.wasm, &player.js, &player.loader])?;
    let mut remuxer = 0;
    for (module, (js, wasm)) in READERS.iter().zip(&player.readers) {
        let sizes = compress_and_report(ws, module.what, &[wasm, js])?;
        if module.out_name == "caudal_remux" {
            remuxer = sizes.brotli;
        }
    }
    let live = compress_and_report(ws, LIVE.what, &[&player.live.1, &player.live.0])?;
    report_budget("every page", every_page.brotli, EVERY_PAGE_BUDGET);
    println!(
        "a live page: {} B brotli (every page's {} and the live player's {})",
        every_page.brotli + live.brotli,
        every_page.brotli,
        live.brotli
    );
    report_budget("a plain MP4", every_page.brotli + remuxer, PLAIN_MP4_BUDGET);
    Ok(player)
}

/// `pkg/manifest.json`: each module's hashed (js, wasm) names by key
/// (`player`, `remux`, …, `live`), for the server's preload hints
/// (`caudal_server::preload`), the names the loader was stamped with.
fn write_manifest(out_dir: &Path, player: &Player) -> Result<()> {
    let entry = |js: &Path, wasm: &Path| serde_json::json!({ "js": file_name(js), "wasm": file_name(wasm) });
    let mut manifest = serde_json::Map::new();
    manifest.insert("player".into(), entry(&player.js, &player.wasm));
    for (module, (js, wasm)) in READERS.iter().zip(&player.readers) {
        let key = module.out_name.trim_start_matches("caudal_");
        manifest.insert(key.into(), entry(js, wasm));
    }
    manifest.insert("live".into(), entry(&player.live.0, &player.live.1));
    let text = serde_json::to_string_pretty(&manifest)?;
    assets::write(&out_dir.join("manifest.json"), text.as_bytes())
}

/// Every module, optimized as for the browser but with their function names,
/// into `target/player-names/`: what `twiggy top` needs to say where the
/// bytes go. Nothing there is served.
pub fn build_with_names(ws: &Workspace) -> Result<()> {
    ensure_wasm_target()?;
    let npm = NpmTools::ensure(ws)?;
    let out_dir = ws.target_dir.join("player-names");
    fs::create_dir_all(&out_dir)
        .with_context(|| format!("could not create {}", out_dir.display()))?;
    for module in std::iter::once(&PLAYER).chain(&READERS) {
        let input = cargo_build(ws, module)?;
        bindgen(&input, &out_dir, module.out_name, Names::Keep)?;
        let wasm = out_dir.join(format!("{}_bg.wasm", module.out_name));
        npm.optimize_wasm(&wasm, Names::Keep)?;
        println!("twiggy top -n 40 {}", ws.display(&wasm));
    }
    Ok(())
}

/// Whether a built module keeps its `name` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// For the browser: no byte a browser does not need.
    Strip,
    /// For size analysis.
    Keep,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A file wasm-bindgen named `.0`, now at the content-hashed path `.1`.
type Renamed = (String, PathBuf);

/// Builds one module, binds it into `out_dir` and gives its files their
/// content-hashed names: its (js, wasm). The glue's default wasm URL is
/// rewritten to the hashed wasm name before the glue itself is hashed, so
/// that it stays right (the loader passes the URL explicitly anyway).
fn build_module(
    ws: &Workspace,
    npm: &NpmTools,
    module: &Module,
    out_dir: &Path,
) -> Result<(Renamed, Renamed)> {
    let input = cargo_build(ws, module)?;
    bindgen(&input, out_dir, module.out_name, Names::Strip)?;
    let plain_js = format!("{}.js", module.out_name);
    let plain_wasm = format!("{}_bg.wasm", module.out_name);
    npm.optimize_wasm(&out_dir.join(&plain_wasm), Names::Strip)?;
    npm.minify_js(&out_dir.join(&plain_js), true)?;
    let wasm_bytes = read(&out_dir.join(&plain_wasm))?;
    let wasm_name = assets::hashed_name(module.out_name, "wasm", &wasm_bytes);
    let glue = String::from_utf8(read(&out_dir.join(&plain_js))?)
        .context("wasm-bindgen wrote JS that is not UTF-8")?
        // terser may have turned the quotes.
        .replace(&format!("'{plain_wasm}'"), &format!("'{wasm_name}'"))
        .replace(&format!("\"{plain_wasm}\""), &format!("\"{wasm_name}\""));
    let js_name = assets::hashed_name(module.out_name, "js", glue.as_bytes());
    let wasm = out_dir.join(&wasm_name);
    let js = out_dir.join(&js_name);
    assets::write(&wasm, &wasm_bytes)?;
    assets::write(&js, glue.as_bytes())?;
    for plain in [&plain_js, &plain_wasm] {
        let path = out_dir.join(plain);
        fs::remove_file(&path).with_context(|| format!("could not remove {}", path.display()))?;
    }
    Ok(((plain_js, js), (plain_wasm, wasm)))
}

/// cargo's build of `module` for the browser: the wasm before wasm-bindgen.
fn cargo_build(ws: &Workspace, module: &Module) -> Result<PathBuf> {
    cmd::run(
        ws.cargo()
            .args([
                "build",
                "--package",
                module.package,
                "--target",
                TARGET,
                "--profile",
                PROFILE,
            ])
            .args(module.features),
    )?;
    Ok(ws
        .target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", module.package.replace('-', "_"))))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("could not read {}", path.display()))
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
fn bindgen(input: &Path, out_dir: &Path, out_name: &str, names: Names) -> Result<()> {
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
        .remove_name_section(names == Names::Strip)
        .remove_producers_section(true)
        .typescript(false)
        .generate(out_dir)
        .with_context(|| format!("wasm-bindgen failed on {}", input.display()))
}

/// Issue 11's goals, brotli bytes: what every page loads, and with the
/// remuxer what a plain MP4 loads (about 100 ms each at 4 Mbit/s).
const EVERY_PAGE_BUDGET: usize = 60_000;
const PLAIN_MP4_BUDGET: usize = 100_000;

/// One line: the brotli total against its goal, met or not.
fn report_budget(what: &str, brotli: usize, budget: usize) {
    let verdict = if brotli <= budget { "met" } else { "NOT MET" };
    println!("{what}: {brotli} B brotli, goal <= {budget}: {verdict}");
}

/// Writes the `.br` and `.gz` of each of `files` and prints their sizes:
/// raw, gzip and brotli, the numbers we track for startup time.
fn compress_and_report(ws: &Workspace, what: &str, files: &[&Path]) -> Result<Sizes> {
    println!("{what}, bytes:");
    println!("  {:<48} {:>9} {:>9} {:>9}", "", "raw", "gzip", "brotli");
    let mut total = Sizes::default();
    for file in files {
        let sizes = assets::compress_beside(file)?;
        println!(
            "  {:<48} {:>9} {:>9} {:>9}",
            ws.display(file).to_string(),
            sizes.raw,
            sizes.gzip,
            sizes.brotli
        );
        total.raw += sizes.raw;
        total.gzip += sizes.gzip;
        total.brotli += sizes.brotli;
    }
    println!(
        "  {:<48} {:>9} {:>9} {:>9}",
        "total", total.raw, total.gzip, total.brotli
    );
    Ok(total)
}
