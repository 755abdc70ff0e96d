//! The processes of the bench: caudal on a port the OS chose, ffmpeg
//! publishing to it, what `/proc` says of caudal, and its `/metrics`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::client::Chunked;
use crate::bench::server::process::{ChildGuard, STARTUP_TIMEOUT};

/// The name the bench publishes under.
pub const STREAM: &str = "bench";

/// caudal, serving an empty folder and live streams.
#[derive(Debug)]
pub struct Caudal {
    pub process: ChildGuard,
    pub addr: SocketAddr,
}

/// Starts `bin serve` on `127.0.0.1:0` with `extra` flags, its stderr to
/// `log`; the address is the one it prints (the port the OS gave it).
pub fn start_caudal(bin: &Path, dir: &Path, extra: &[String], log: &Path) -> Result<Caudal> {
    let stderr = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = Command::new(bin)
        .arg("serve")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0", "--quiet"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("caudal's stdout")?;
    let mut process = ChildGuard {
        name: "caudal",
        child,
    };
    // The first line says where it listens; the rest is drained so a full
    // pipe never blocks it (the thread ends when caudal exits).
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("caudal-stdout".into())
        .spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                let _ = tx.send(line);
            }
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        })
        .context("starting the thread that reads caudal's stdout")?;
    let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(line) => line,
        Err(_) => {
            process.stop();
            bail!(
                "caudal printed no address within {STARTUP_TIMEOUT:?}: {}",
                tail(log)
            );
        }
    };
    let addr = line
        .rsplit_once("http://")
        .and_then(|(_, rest)| rest.trim().trim_end_matches('/').parse().ok())
        .with_context(|| format!("no address in caudal's line {line:?}: {}", tail(log)))?;
    Ok(Caudal { process, addr })
}

/// The last lines of a log, for an error message.
pub fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(8);
    format!("{} (log: {})", lines[from..].join(" | "), log.display())
}

/// How ffmpeg publishes: a real-time test pattern and tone.
#[derive(Debug, Clone, Copy)]
pub struct Encode {
    /// Video bits per second.
    pub video_bitrate: u64,
    /// ffmpeg stops by itself after this (the bench stops it sooner).
    pub seconds: u64,
}

/// Starts ffmpeg publishing to `url` at real time: testsrc2 640x360@25
/// and a sine, x264 veryfast zerolatency with a 1 s GOP, AAC, one fragment
/// per frame with a wallclock `prft` — what a low-latency publisher sends.
pub fn start_ffmpeg(ffmpeg: &Path, url: &str, encode: Encode, log: &Path) -> Result<ChildGuard> {
    let stderr = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let rate = format!("{}k", encode.video_bitrate / 1000);
    let child = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args([
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
        ])
        .args(["-t", &encode.seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
        ])
        .args(["-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25"])
        .args(["-sc_threshold", "0", "-b:v", &rate, "-maxrate", &rate])
        .args(["-bufsize", &rate])
        .args(["-c:a", "aac", "-b:a", "64k"])
        .args(["-f", "mp4", "-movflags"])
        .arg("empty_moov+default_base_moof+frag_every_frame")
        .args(["-write_prft", "wallclock", "-method", "PUT", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {}", ffmpeg.display()))?;
    Ok(ChildGuard {
        name: "ffmpeg",
        child,
    })
}

/// A `/proc/PID/status` line in KiB: `VmRSS` (now) or `VmHWM` (peak).
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// The `caudal_live_*` figures of the bench's stream, read from `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveFigures {
    pub viewers: f64,
    pub ingest_bytes: f64,
    pub fragments: f64,
    pub dropped: f64,
}

/// Reads `/metrics` (allowed from loopback by default).
pub fn live_figures(addr: SocketAddr) -> Result<LiveFigures> {
    let text = get(addr, "/metrics")?;
    let value = |name: &str| {
        let prefix = format!("{name}{{stream=\"{STREAM}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok(LiveFigures {
        viewers: value("caudal_live_viewers"),
        ingest_bytes: value("caudal_live_ingest_bytes_total"),
        fragments: value("caudal_live_fragments_total"),
        dropped: value("caudal_live_fragments_dropped_total"),
    })
}

/// A small `GET` with `Connection: close`: its body as text (200 only).
fn get(addr: SocketAddr, path: &str) -> Result<String> {
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .context("setting a read timeout")?;
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("asking {path}"))?;
    let mut raw = Vec::new();
    tcp.take(64 << 20)
        .read_to_end(&mut raw)
        .with_context(|| format!("reading {path}"))?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("no response head for {path}"))?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    ensure!(
        head.split_whitespace().nth(1) == Some("200"),
        "{path}: {}",
        head.lines().next().unwrap_or_default()
    );
    let body = &raw[end + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return Ok(String::from_utf8_lossy(body).into_owned());
    }
    let mut text = Vec::new();
    Chunked::default().feed(body, &mut |piece| {
        text.extend_from_slice(piece);
        Ok(())
    })?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Waits until the stream has `fragments` fragments (so its ring holds a
/// keyframe), at most `limit`, failing early if ffmpeg exits.
pub fn wait_for_stream(
    caudal: &Caudal,
    ffmpeg: &mut ChildGuard,
    fragments: f64,
    limit: Duration,
    ffmpeg_log: &Path,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = ffmpeg.child.try_wait().context("checking on ffmpeg")? {
            bail!("ffmpeg exited ({status}): {}", tail(ffmpeg_log));
        }
        let figures = live_figures(caudal.addr)?;
        if figures.fragments >= fragments {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the live stream had {} fragments after {limit:?}: {}",
            figures.fragments,
            tail(ffmpeg_log)
        );
        thread::sleep(Duration::from_millis(200));
    }
}
