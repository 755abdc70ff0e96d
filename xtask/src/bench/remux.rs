//! `cargo xtask bench remux`: Caudal's MP4 → fMP4 remux natively, in wasm
//! (node) and mp4box.js (node), side by side on the same large file.
//!
//! The goal in issue 5 is wasm ≥ 3× mp4box.js's MB/s, with memory bounded by
//! the index plus the fragment in flight, not the file. As with `bench
//! server`, the goal is shown against a reference in the same run: same
//! machine, same file, same chunking, same node.
//!
//! * **Input**: a plain faststart MP4 made once with ffmpeg (120 s of
//!   `testsrc2` 1280x720 at 25 fps, x264 `ultrafast` with B-frames at
//!   8 Mbit/s and one-second GOPs, AAC), cached under
//!   `target/bench-remux/` so reruns skip the encode.
//! * **Native** and **wasm** run one driver, `caudal_bench_remux::StreamRemux`
//!   (`bench/remux-wasm/`): the player's path (`Mp4Remuxer` until ready,
//!   `take_repackager`, `reset`, `push` per chunk). Natively it is the
//!   release binary `remux-native`, which also reports its peak RSS while
//!   streaming the file from disk. In wasm each chunk crosses the JS/wasm
//!   boundary and each output comes back as a `Uint8Array`, as in the player.
//! * **mp4box.js**, pinned, installed with npm: `appendBuffer` per chunk,
//!   segmentation started in `onReady`, outputs counted in `onSegment`.
//!
//! Every side gets the file in 1 MiB chunks from memory (the file is read
//! before the clock starts), runs untimed warmups, then timed runs; the best
//! timed run counts. MB/s is input megabytes (10^6) per second.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use wasm_bindgen_cli_support::Bindgen;

use clap::ValueEnum;

use super::inputs::{encode_once, node_tool, npm_install_pinned};
use super::machine::{cpu_count, cpu_model};
use crate::workspace::Workspace;
use crate::{cmd, player, tools};

/// The mp4box.js release we compare with; bump it deliberately.
const MP4BOX_VERSION: &str = "2.4.1";
/// The bench crate: the driver, the native binary, the wasm module.
const PACKAGE: &str = "caudal-bench-remux";
const NATIVE_BIN: &str = "remux-native";
/// The file stem wasm-bindgen writes (`caudal_bench_remux.js`), which
/// `wasm.cjs` requires.
const WASM_STEM: &str = "caudal_bench_remux";
const WASM_TARGET: &str = player::TARGET;
/// The node scripts; xtask writes them next to what they load.
const WASM_SCRIPT: &str = include_str!("remux/wasm.cjs");
const MP4BOX_SCRIPT: &str = include_str!("remux/mp4box.mjs");

/// The cached input; the name says how it was made, so a change to
/// [`FFMPEG_ARGS`] should change it too.
const INPUT_NAME: &str = "testsrc2-720p25-120s-x264-8M-aac.mp4";
/// ffmpeg arguments between the inputs and the output. One-second GOPs
/// (no scene cuts) so every implementation can cut about every second;
/// `-bf 2` so the file has composition offsets, as most real files do.
const FFMPEG_ARGS: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=1280x720:rate=25:duration=120",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000:duration=120",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-bf",
    "2",
    "-b:v",
    "8M",
    "-maxrate",
    "8M",
    "-bufsize",
    "16M",
    "-g",
    "25",
    "-keyint_min",
    "25",
    "-sc_threshold",
    "0",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-movflags",
    "+faststart",
    "-f",
    "mp4",
];

/// Runs `cargo xtask bench remux`.
pub fn run(ws: &Workspace, options: &Args) -> Result<()> {
    let dir = ws.target_dir.join("bench-remux");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let input = ensure_input(&dir)?;
    let input_len = fs::metadata(&input)
        .with_context(|| format!("reading the size of {}", input.display()))?
        .len();

    let mut results = Vec::new();
    for kind in Impl::ALL {
        if !options.includes(kind) {
            continue;
        }
        let script_args = options.script_args(&input);
        let json = match kind {
            Impl::Native => {
                let bin = build_native(ws)?;
                cmd::output(Command::new(bin).args(&script_args))?
            }
            Impl::Wasm => {
                let script = build_wasm(ws, &dir)?;
                run_node(&script, &script_args)?
            }
            Impl::Mp4box => {
                let script = install_mp4box(&dir)?;
                run_node(&script, &script_args)?
            }
        };
        let measured = Measured::parse(kind, &json)?;
        eprintln!(
            "bench: {} done: best {:.1} ms",
            kind.name(),
            measured.best_seconds * 1e3
        );
        results.push(measured);
    }
    print_report(options, input_len, &results)
}

// ---------------------------------------------------------------------------
// Options

/// The implementations, in report order; mp4box.js is the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Impl {
    Native,
    Wasm,
    #[value(alias = "mp4box.js")]
    Mp4box,
}

impl Impl {
    const ALL: [Impl; 3] = [Impl::Native, Impl::Wasm, Impl::Mp4box];

    fn name(self) -> &'static str {
        match self {
            Impl::Native => "caudal native",
            Impl::Wasm => "caudal wasm (node)",
            Impl::Mp4box => "mp4box.js (node)",
        }
    }
}

/// `cargo xtask bench remux [--runs N] [--warmup N] [--chunk-kib N] [--only native|wasm|mp4box]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Timed runs per implementation; the best counts.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Untimed runs before them.
    #[arg(long, value_name = "N", default_value_t = 1)]
    warmup: u32,
    /// Chunk size in KiB.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    chunk_kib: u32,
    /// Run one implementation (repeat for more; default all).
    #[arg(long, value_enum, value_name = "NAME")]
    only: Vec<Impl>,
}

impl Args {
    fn chunk_bytes(&self) -> u64 {
        u64::from(self.chunk_kib) * 1024
    }

    fn includes(&self, kind: Impl) -> bool {
        self.only.is_empty() || self.only.contains(&kind)
    }

    /// What every runner takes: FILE CHUNK_BYTES WARMUP RUNS.
    fn script_args(&self, input: &Path) -> Vec<String> {
        vec![
            input.display().to_string(),
            self.chunk_bytes().to_string(),
            self.warmup.to_string(),
            self.runs.to_string(),
        ]
    }
}

// ---------------------------------------------------------------------------
// Input

/// The input file, encoded with ffmpeg on first use (about half a minute
/// on two cores) and reused afterwards.
fn ensure_input(dir: &Path) -> Result<PathBuf> {
    let input = dir.join(INPUT_NAME);
    encode_once(&input, FFMPEG_ARGS)?;
    Ok(input)
}

// ---------------------------------------------------------------------------
// Builds and runners

/// Builds the native runner (release: `cargo xtask` itself is a debug
/// build, so the native side cannot be timed in-process).
fn build_native(ws: &Workspace) -> Result<PathBuf> {
    ws.build_release_bin(PACKAGE, NATIVE_BIN)
}

/// Builds the wasm module (release profile: opt-level 3, the speed the
/// player would get with it), runs wasm-bindgen for node and writes the
/// runner next to its output. Returns the runner's path.
fn build_wasm(ws: &Workspace, dir: &Path) -> Result<PathBuf> {
    player::ensure_wasm_target()?;
    eprintln!("bench: building {PACKAGE} for {WASM_TARGET} (release)");
    cmd::run(ws.cargo().args([
        "build",
        "--quiet",
        "--release",
        "--package",
        PACKAGE,
        "--lib",
        "--target",
        WASM_TARGET,
    ]))?;
    let wasm = ws
        .target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{WASM_STEM}.wasm"));
    ensure!(wasm.is_file(), "cargo built no {}", wasm.display());
    let out = dir.join("wasm");
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    Bindgen::new()
        .input_path(&wasm)
        .out_name(WASM_STEM)
        // CommonJS for node: the module is compiled synchronously on require.
        .nodejs(true)?
        .omit_default_module_path(false)
        .typescript(false)
        .generate(&out)
        .with_context(|| format!("wasm-bindgen failed on {}", wasm.display()))?;
    write_script(&out.join("wasm.cjs"), WASM_SCRIPT)
}

/// Installs the pinned mp4box.js into `dir/npm/` unless it is there, and
/// writes the runner next to its `node_modules`. Returns the runner's path.
fn install_mp4box(dir: &Path) -> Result<PathBuf> {
    let npm_dir = dir.join("npm");
    npm_install_pinned(&npm_dir, "mp4box", MP4BOX_VERSION)?;
    write_script(&npm_dir.join("mp4box.mjs"), MP4BOX_SCRIPT)
}

fn write_script(path: &Path, text: &str) -> Result<PathBuf> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// Runs a node runner in its own folder; returns its stdout (one JSON line).
fn run_node(script: &Path, args: &[String]) -> Result<String> {
    let node = node_tool("node")?;
    let dir = script
        .parent()
        .with_context(|| format!("{} has no folder", script.display()))?;
    cmd::output(Command::new(node).arg(script).args(args).current_dir(dir))
}

// ---------------------------------------------------------------------------
// Results

/// What one implementation reported.
#[derive(Debug)]
struct Measured {
    kind: Impl,
    best_seconds: f64,
    /// Media fragments (mp4box.js: segments, one per track per cut).
    fragments: u64,
    /// Bytes out, the init segment included.
    output_bytes: u64,
    /// The rest of the runner's JSON (memory figures).
    json: Value,
}

impl Measured {
    fn parse(kind: Impl, text: &str) -> Result<Self> {
        let line = text
            .lines()
            .rev()
            .find(|line| line.trim_start().starts_with('{'))
            .with_context(|| format!("{} printed no JSON: {text}", kind.name()))?;
        let json: Value = serde_json::from_str(line)
            .with_context(|| format!("{} printed invalid JSON: {line}", kind.name()))?;
        let best_seconds = json["seconds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .filter(|s| *s > 0.0)
            .reduce(f64::min)
            .with_context(|| format!("{} reported no run times: {line}", kind.name()))?;
        let count = |key: &str| {
            json[key]
                .as_u64()
                .with_context(|| format!("{} reported no `{key}`: {line}", kind.name()))
        };
        Ok(Measured {
            kind,
            best_seconds,
            fragments: count("fragments")?,
            output_bytes: count("output_bytes")?,
            json,
        })
    }

    fn mb_per_s(&self, input_len: u64) -> f64 {
        input_len as f64 / 1e6 / self.best_seconds
    }
}

fn print_report(options: &Args, input_len: u64, results: &[Measured]) -> Result<()> {
    let node = tools::find_program("node")
        .and_then(|node| cmd::output(Command::new(node).arg("--version")).ok())
        .map_or_else(|| "no node".to_owned(), |v| format!("node {}", v.trim()));
    println!();
    println!("machine: {} CPUs, {}; {node}", cpu_count(), cpu_model());
    println!(
        "input: {INPUT_NAME}, {:.1} MB; fed in {} KiB chunks; best of {} runs after {} warmup",
        input_len as f64 / 1e6,
        options.chunk_kib,
        options.runs,
        options.warmup,
    );
    println!();
    println!(
        "{:<20} | {:>9} | {:>9} | {:>12} | {:>9} | {:>9}",
        "implementation", "MB/s", "best ms", "vs mp4box.js", "fragments", "out MB"
    );
    println!("{}", "-".repeat(20 + 9 + 9 + 12 + 9 + 9 + 5 * 3));
    let reference = results
        .iter()
        .find(|m| m.kind == Impl::Mp4box)
        .map(|m| m.mb_per_s(input_len));
    for m in results {
        let ratio = reference.map_or_else(
            || "-".to_owned(),
            |r| format!("{:.2}x", m.mb_per_s(input_len) / r),
        );
        println!(
            "{:<20} | {:>9.0} | {:>9.1} | {:>12} | {:>9} | {:>9.1}",
            m.kind.name(),
            m.mb_per_s(input_len),
            m.best_seconds * 1e3,
            ratio,
            m.fragments,
            m.output_bytes as f64 / 1e6,
        );
    }
    println!(
        "(MB = 10^6 bytes of input; fragments: caudal builds one moof+mdat per cut with \
         all tracks, mp4box.js one segment per track)"
    );

    println!();
    for m in results {
        match m.kind {
            Impl::Native => {
                let field = |key: &str| m.json[key].as_u64().unwrap_or(0) as f64;
                println!(
                    "native memory: peak RSS {:.1} MiB ({:.1} MiB before the run) streaming the \
                     {:.1} MiB file from disk; moov {:.0} KiB, largest fragment {:.0} KiB",
                    field("peak_kib") / 1024.0,
                    field("baseline_kib") / 1024.0,
                    input_len as f64 / f64::from(1 << 20),
                    field("moov_bytes") / 1024.0,
                    field("largest_output") / 1024.0,
                );
            }
            Impl::Wasm => println!(
                "wasm memory: {:.1} MiB of linear memory after all runs (its high-water mark)",
                m.json["memory_bytes"].as_f64().unwrap_or(0.0) / f64::from(1 << 20)
            ),
            Impl::Mp4box => {}
        }
    }
    let rate = |kind: Impl| {
        results
            .iter()
            .find(|m| m.kind == kind)
            .map(|m| m.mb_per_s(input_len))
    };
    if let (Some(wasm), Some(mp4box)) = (rate(Impl::Wasm), rate(Impl::Mp4box)) {
        let ratio = wasm / mp4box;
        println!(
            "goal wasm >= 3x mp4box.js: {} ({ratio:.1}x)",
            if ratio >= 3.0 { "met" } else { "NOT met" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments as `bench remux` gets them.
    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("remux").chain(args.iter().copied()))
            .map(|cli| cli.args)
    }

    #[test]
    fn parses_options() -> Result<()> {
        let options = parse(&[
            "--runs",
            "5",
            "--chunk-kib=64",
            "--only",
            "wasm",
            "--only=mp4box.js",
        ])?;
        assert_eq!(options.runs, 5);
        assert_eq!(options.chunk_bytes(), 64 * 1024);
        assert!(!options.includes(Impl::Native));
        assert!(options.includes(Impl::Wasm) && options.includes(Impl::Mp4box));
        assert!(parse(&["--help"]).is_err_and(|e| e.kind() == clap::error::ErrorKind::DisplayHelp));
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--chunk-kib", "0"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        Ok(())
    }

    #[test]
    fn defaults_are_three_runs_one_warmup_one_mib_chunks_everything() -> Result<()> {
        let options = parse(&[])?;
        assert_eq!((options.runs, options.warmup), (3, 1));
        assert_eq!(options.chunk_bytes(), 1 << 20);
        assert!(Impl::ALL.iter().all(|&kind| options.includes(kind)));
        Ok(())
    }

    #[test]
    fn parses_a_runner_report() -> Result<()> {
        let m = Measured::parse(
            Impl::Wasm,
            "noise\n{\"seconds\":[0.5,0.25,0.4],\"fragments\":120,\"output_bytes\":1000}\n",
        )?;
        assert_eq!(m.best_seconds, 0.25);
        assert_eq!((m.fragments, m.output_bytes), (120, 1000));
        assert_eq!(m.mb_per_s(1_000_000), 4.0);
        assert!(Measured::parse(Impl::Wasm, "{\"seconds\":[]}").is_err());
        Ok(())
    }
}
