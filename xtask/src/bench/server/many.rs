//! `cargo xtask bench many`: N viewers of one file, against caudal and
//! against nginx in the same run.
//!
//! Each viewer is a client that plays the file the way a player does (the
//! `many` binary of `caudal-tests`): all N ask for the first chunk at the
//! same instant (a cold start), then each keeps `--ahead` seconds buffered
//! at the media's bit rate, a chunk at a time, over one keep-alive
//! connection. For each N and server it prints the server's CPU seconds per
//! GB delivered (user + system time of its processes, from `/proc`), its
//! peak memory, p50/p99 time to first byte (cold and later requests), the
//! viewers whose buffer ran dry, and caudal over nginx; then, on a fresh
//! server, the resident memory per idle keep-alive connection (N
//! connections held after one request each). Each server is started afresh
//! for each N, so that its peak memory is that N's.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use super::files::{FILE_NAME, FILE_SIZE, ScratchDir};
use super::options::ServerKind;
use super::process::{self, RunningServer};
use super::{check, nginx};
use crate::bench::proc_stat::{clock_ticks, cpu_ticks, stat_fields};
use crate::tools;
use crate::workspace::Workspace;

/// `cargo xtask bench many [--viewers N,...] [--seconds S] [--bitrate BPS]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent viewers (repeatable or a comma list).
    #[arg(long, value_delimiter = ',', default_values_t = [50, 200, 1000])]
    pub viewers: Vec<usize>,
    /// Seconds each viewer plays.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// The media's bit rate, bits per second.
    #[arg(long, default_value_t = 4_000_000)]
    pub bitrate: u64,
    /// Benchmark one server only.
    #[arg(long, value_enum, value_name = "SERVER")]
    pub only: Option<Only>,
    /// An extra flag for `caudal serve` (repeatable), e.g.
    /// `--caudal-arg=--zero-copy --caudal-arg=off`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub caudal_arg: Vec<String>,
}

/// The servers `bench many` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    Nginx,
    Caudal,
}

/// What the `many` client printed.
#[derive(Debug, Clone)]
struct Load {
    cold_ttfb_ms: [Option<f64>; 2],
    ttfb_ms: [Option<f64>; 2],
    behind: u64,
    bytes: u64,
    failures: u64,
    first_failure: Option<String>,
}

impl Load {
    /// The client's JSON line.
    fn parse(text: &[u8]) -> Result<Load> {
        let value: Value = serde_json::from_slice(text).with_context(|| {
            format!(
                "the many client printed {:?}",
                String::from_utf8_lossy(text)
            )
        })?;
        let pair = |name: &str| [0, 1].map(|i| value[name][i].as_f64());
        let count = |name: &str| {
            value[name]
                .as_u64()
                .with_context(|| format!("no {name} in the many client's report: {value}"))
        };
        Ok(Load {
            cold_ttfb_ms: pair("cold_ttfb_ms"),
            ttfb_ms: pair("ttfb_ms"),
            behind: count("behind")?,
            bytes: count("bytes")?,
            failures: count("failures")?,
            first_failure: value["first_failure"].as_str().map(str::to_owned),
        })
    }
}

/// One server under one load.
#[derive(Debug, Clone)]
struct Measured {
    load: Load,
    cpu_seconds: f64,
    peak_kib: u64,
    /// Resident memory per idle keep-alive connection (after one request).
    idle_bytes_per_connection: Option<f64>,
}

impl Measured {
    fn cpu_per_gb(&self) -> f64 {
        self.cpu_seconds / (self.load.bytes as f64 / 1e9).max(1e-9)
    }
}

pub fn run(ws: &Workspace, options: &Args) -> Result<()> {
    let nginx_bin = match options.only {
        None | Some(Only::Nginx) => Some(tools::ensure_program("nginx", &["nginx"])?),
        Some(Only::Caudal) => None,
    };
    let with_caudal = options.only != Some(Only::Nginx);
    let caudal_bin = with_caudal
        .then(|| ws.build_release_bin("caudal-server", "caudal"))
        .transpose()?;
    let client = ws.build_release_bin("caudal-tests", "many")?;
    let ticks = clock_ticks()?;

    let scratch = ScratchDir::create()?;
    let media_dir = scratch.path().join("media");
    fs::create_dir(&media_dir).context("creating the media directory")?;
    super::files::write_random_file(&media_dir.join(FILE_NAME), FILE_SIZE)?;

    let mut rows: Vec<(usize, Option<Measured>, Option<Measured>)> = Vec::new();
    for &viewers in &options.viewers {
        let mut nginx_row = None;
        let mut caudal_row = None;
        let cap = (viewers + 64).to_string();
        let mut caudal_args = vec!["--max-connections", cap.as_str()];
        caudal_args.extend(options.caudal_arg.iter().map(String::as_str));
        // The load on one server, then the idle connections on a fresh one.
        let both = |start: &dyn Fn() -> Result<RunningServer>| -> Result<Measured> {
            let server = start()?;
            let mut measured = measure(&client, &server, viewers, options, ticks)?;
            drop(server);
            let fresh = start()?;
            measured.idle_bytes_per_connection = Some(idle_memory(&client, &fresh, viewers)?);
            Ok(measured)
        };
        if let Some(bin) = &nginx_bin {
            nginx_row = Some(both(&|| nginx::start(bin, scratch.path(), &media_dir))?);
        }
        if let Some(bin) = &caudal_bin {
            caudal_row = Some(both(&|| {
                process::start_caudal_with(bin, &media_dir, &caudal_args, ServerKind::Caudal)
            })?);
        }
        rows.push((viewers, nginx_row, caudal_row));
    }
    print(options, &rows);
    Ok(())
}

/// Runs the load against `server`, with its CPU time and peak memory.
fn measure(
    client: &Path,
    server: &RunningServer,
    viewers: usize,
    options: &Args,
    ticks: f64,
) -> Result<Measured> {
    eprintln!(
        "bench many: {} viewers of {} for {} s",
        viewers,
        server.kind.name(),
        options.seconds
    );
    let pids = server_pids(server.process.pid());
    let before = cpu_ticks(&pids)?;
    let out = client_command(client, server, viewers)
        .args(["--seconds", &options.seconds.to_string()])
        .args(["--bitrate", &options.bitrate.to_string()])
        .output()
        .context("running the many client")?;
    anyhow::ensure!(
        out.status.success(),
        "the many client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = cpu_ticks(&pids)?;
    let load = Load::parse(&out.stdout)?;
    let mut peak_kib = 0;
    for pid in &pids {
        peak_kib += check::peak_rss_kib(*pid)?;
    }
    Ok(Measured {
        load,
        cpu_seconds: (after - before) as f64 / ticks,
        peak_kib,
        idle_bytes_per_connection: None,
    })
}

/// Resident bytes `server` holds per idle keep-alive connection: its
/// resident memory while `viewers` connections wait after one request
/// each, less what it held before them, over their number.
fn idle_memory(client: &Path, server: &RunningServer, viewers: usize) -> Result<f64> {
    use std::io::{BufRead, BufReader};
    let pids = server_pids(server.process.pid());
    let before = resident_kib(&pids)?;
    let mut child = client_command(client, server, viewers)
        .args(["--idle", "3"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running the many client (idle)")?;
    let stdout = child.stdout.take().context("the idle client's stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    anyhow::ensure!(line.trim() == "ready", "the idle client said {line:?}");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let during = resident_kib(&pids)?;
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "the idle client failed");
    Ok(during.saturating_sub(before) as f64 * 1024.0 / viewers.max(1) as f64)
}

/// The current resident memory (VmRSS) of `pids`, KiB.
fn resident_kib(pids: &[u32]) -> Result<u64> {
    pids.iter()
        .map(|pid| check::status_kib(*pid, "VmRSS"))
        .sum()
}

/// The `many` client, pointed at `server`'s file with `viewers` viewers.
fn client_command(client: &Path, server: &RunningServer, viewers: usize) -> Command {
    let mut command = Command::new(client);
    command
        .args(["--addr", &server.addr.to_string()])
        .args(["--path", &server.path()])
        .args(["--file-len", &FILE_SIZE.to_string()])
        .args(["--viewers", &viewers.to_string()]);
    command
}

/// `pid` and its children (nginx's workers).
fn server_pids(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    let Ok(entries) = fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if stat_fields(child).is_some_and(|fields| fields.get(1) == Some(&pid.to_string())) {
            pids.push(child);
        }
    }
    pids
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn print(options: &Args, rows: &[(usize, Option<Measured>, Option<Measured>)]) {
    println!();
    println!(
        "machine: {} CPUs, {}",
        crate::bench::machine::cpu_count(),
        crate::bench::machine::cpu_model()
    );
    println!(
        "one {} MiB file; each viewer {:.1} Mbit/s for {} s, 8 s ahead, 2 s chunks; all ask the first chunk at once",
        FILE_SIZE >> 20,
        options.bitrate as f64 / 1e6,
        options.seconds
    );
    println!();
    println!(
        "{:>7} {:<7} | {:>9} | {:>8} | {:>9} | {:>15} | {:>15} | {:>6} | {:>8}",
        "viewers",
        "server",
        "CPU s/GB",
        "peak MiB",
        "idle KiB",
        "cold TTFB p50/99",
        "TTFB p50/p99",
        "behind",
        "failures"
    );
    println!("{}", "-".repeat(108));
    for (viewers, nginx, caudal) in rows {
        for (name, measured) in [("nginx", nginx), ("caudal", caudal)] {
            let Some(m) = measured else { continue };
            println!(
                "{:>7} {:<7} | {:>9.2} | {:>8.1} | {:>9} | {:>7}/{:<7} | {:>7}/{:<7} | {:>6} | {:>8}",
                viewers,
                name,
                m.cpu_per_gb(),
                m.peak_kib as f64 / 1024.0,
                m.idle_bytes_per_connection
                    .map_or_else(|| "-".to_owned(), |b| format!("{:.1}", b / 1024.0)),
                ms(m.load.cold_ttfb_ms[0]),
                ms(m.load.cold_ttfb_ms[1]),
                ms(m.load.ttfb_ms[0]),
                ms(m.load.ttfb_ms[1]),
                m.load.behind,
                m.load.failures,
            );
            if let Some(failure) = &m.load.first_failure {
                println!("        first failure: {failure}");
            }
        }
        if let (Some(n), Some(c)) = (nginx, caudal) {
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                _ => "-".to_owned(),
            };
            println!(
                "{:>7} caudal/nginx: CPU per GB {:.2}x, peak memory {:.2}x, cold TTFB p99 {}, TTFB p99 {}",
                viewers,
                c.cpu_per_gb() / n.cpu_per_gb().max(1e-9),
                c.peak_kib as f64 / (n.peak_kib as f64).max(1.0),
                ratio(c.load.cold_ttfb_ms[1], n.load.cold_ttfb_ms[1]),
                ratio(c.load.ttfb_ms[1], n.load.ttfb_ms[1]),
            );
        }
    }
}
