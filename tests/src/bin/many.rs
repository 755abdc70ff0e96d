//! The load of `cargo xtask bench many`: N viewers of one file, each a
//! client that reads byte ranges the way a player does — the first chunk
//! at once (all N at the same instant: a cold start), then the next chunk
//! whenever its buffer falls below `--ahead` seconds at the media's bit rate,
//! over one keep-alive HTTP/1.1 connection. Prints one JSON object: time to
//! first byte of the cold requests and of the later ones (p50, p99, ms),
//! the viewers that fell behind (their buffer ran dry), bytes received and
//! failures. Raw TCP and a minimal response reader, so that the client costs
//! little next to the server it measures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

#[derive(Debug, Parser)]
struct Args {
    /// The server.
    #[arg(long)]
    addr: SocketAddr,
    /// The file's URL path.
    #[arg(long)]
    path: String,
    /// The file's length in bytes.
    #[arg(long)]
    file_len: u64,
    #[arg(long)]
    viewers: usize,
    /// The media's bit rate, bits per second.
    #[arg(long, default_value_t = 4_000_000)]
    bitrate: u64,
    /// Seconds each viewer plays.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Seconds of media a viewer keeps ahead of its playhead.
    #[arg(long, default_value_t = 8.0)]
    ahead: f64,
    /// Seconds of media per request.
    #[arg(long, default_value_t = 2.0)]
    chunk_seconds: f64,
    /// Instead of playing: open the connections, make one one-byte range
    /// request on each, print `ready`, and hold them idle this many seconds
    /// (the memory of idle keep-alive connections).
    #[arg(long)]
    idle: Option<f64>,
}

/// What one viewer saw.
#[derive(Debug, Default)]
struct Viewer {
    cold_ttfb_ms: Option<f64>,
    ttfb_ms: Vec<f64>,
    bytes: u64,
    behind: bool,
    failure: Option<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    if let Some(seconds) = args.idle {
        return hold_idle(&args, seconds).await;
    }
    let args = Arc::new(args);
    let barrier = Arc::new(Barrier::new(args.viewers));
    let mut tasks = Vec::with_capacity(args.viewers);
    for _ in 0..args.viewers {
        let (args, barrier) = (args.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut viewer = Viewer::default();
            if let Err(error) = watch(&args, &barrier, &mut viewer).await {
                viewer.failure = Some(format!("{error:#}"));
            }
            viewer
        }));
    }
    let mut viewers = Vec::with_capacity(tasks.len());
    for task in tasks {
        viewers.push(task.await.context("a viewer task panicked")?);
    }
    let mut cold: Vec<f64> = viewers.iter().filter_map(|v| v.cold_ttfb_ms).collect();
    let mut later: Vec<f64> = viewers.iter().flat_map(|v| v.ttfb_ms.clone()).collect();
    let failures: Vec<&str> = viewers
        .iter()
        .filter_map(|v| v.failure.as_deref())
        .collect();
    let report = serde_json::json!({
        "viewers": args.viewers,
        "cold_ttfb_ms": percentiles(&mut cold),
        "ttfb_ms": percentiles(&mut later),
        "requests": cold.len() + later.len(),
        "behind": viewers.iter().filter(|v| v.behind).count(),
        "bytes": viewers.iter().map(|v| v.bytes).sum::<u64>(),
        "failures": failures.len(),
        "first_failure": failures.first(),
    });
    println!("{report}");
    Ok(())
}

/// Opens `--viewers` keep-alive connections, one one-byte request on each,
/// then holds them idle for `seconds`.
async fn hold_idle(args: &Args, seconds: f64) -> Result<()> {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut streams = Vec::with_capacity(args.viewers);
    for _ in 0..args.viewers {
        let mut stream = TcpStream::connect(args.addr).await.context("connect")?;
        fetch(&mut stream, args, 0, 1, &mut buffer).await?;
        streams.push(stream);
    }
    println!("ready");
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    drop(streams);
    Ok(())
}

/// `[p50, p99]` of `samples`, or nulls.
fn percentiles(samples: &mut [f64]) -> serde_json::Value {
    if samples.is_empty() {
        return serde_json::json!([null, null]);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    serde_json::json!([at(0.50), at(0.99)])
}

async fn watch(args: &Args, barrier: &Barrier, viewer: &mut Viewer) -> Result<()> {
    let rate = args.bitrate as f64 / 8.0;
    let chunk = ((args.chunk_seconds * rate) as u64).max(1);
    let mut stream = TcpStream::connect(args.addr).await.context("connect")?;
    stream.set_nodelay(true)?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut fetched = 0u64;
    // Every viewer asks for the first chunk at the same instant.
    barrier.wait().await;
    let ttfb = fetch(&mut stream, args, 0, chunk, &mut buffer).await?;
    viewer.cold_ttfb_ms = Some(ttfb);
    fetched += chunk;
    viewer.bytes += chunk;
    let playing = Instant::now();
    let end = Duration::from_secs_f64(args.seconds);
    // Bounded: at most one request per chunk of the run, plus waits.
    let most = (args.seconds / args.chunk_seconds) as usize * 4 + 16;
    for _ in 0..most {
        let played = playing.elapsed();
        if played >= end {
            break;
        }
        let played_bytes = played.as_secs_f64() * rate;
        if played_bytes > fetched as f64 {
            viewer.behind = true;
        }
        let ahead = (fetched as f64 - played_bytes) / rate;
        if ahead >= args.ahead {
            let wait = (ahead - args.ahead).min(args.seconds);
            tokio::time::sleep(Duration::from_secs_f64(wait.max(0.01))).await;
            continue;
        }
        let offset = fetched % args.file_len;
        let len = chunk.min(args.file_len - offset);
        viewer
            .ttfb_ms
            .push(fetch(&mut stream, args, offset, len, &mut buffer).await?);
        fetched += len;
        viewer.bytes += len;
    }
    Ok(())
}

/// One range request on the keep-alive connection, its body read and
/// dropped; returns the milliseconds to the response's first byte.
async fn fetch(
    stream: &mut TcpStream,
    args: &Args,
    offset: u64,
    len: u64,
    buffer: &mut [u8],
) -> Result<f64> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nRange: bytes={}-{}\r\n\r\n",
        args.path,
        args.addr,
        offset,
        offset + len - 1
    );
    let sent = Instant::now();
    stream.write_all(request.as_bytes()).await?;
    // The head, then as much of the body as came with it.
    let mut head = Vec::with_capacity(512);
    let mut ttfb = None;
    let body_start = loop {
        let n = stream.read(buffer).await?;
        if n == 0 {
            bail!("connection closed before the response head");
        }
        ttfb.get_or_insert_with(|| sent.elapsed().as_secs_f64() * 1000.0);
        head.extend_from_slice(&buffer[..n]);
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if head.len() > 16 * 1024 {
            bail!("response head larger than 16 KiB");
        }
    };
    let text = String::from_utf8_lossy(&head[..body_start]);
    if !text.starts_with("HTTP/1.1 206") {
        bail!(
            "wanted 206, got {:?}",
            text.lines().next().unwrap_or_default()
        );
    }
    let length: u64 = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .context("no Content-Length")?;
    if length != len {
        bail!("asked {len} bytes, told {length}");
    }
    let mut left = length.saturating_sub((head.len() - body_start) as u64);
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = stream.read(&mut buffer[..want]).await?;
        if n == 0 {
            bail!("connection closed mid-body");
        }
        left -= n as u64;
    }
    Ok(ttfb.unwrap_or_default())
}
