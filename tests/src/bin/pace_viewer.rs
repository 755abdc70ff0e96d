//! The load of `cargo xtask bench pace`: one viewer that plays a file by
//! ranges the way Caudal's player does — a startup request, then the next
//! chunk whenever less than `--goal` seconds are buffered ahead — telling
//! the server its state with CMCD on each request (`su`, `bl`, `br`, `mtp`,
//! `bs`, `rtp` as the player's policy reckons it, `sid`, …, encoded by
//! `caudal_media::cmcd`), with a playhead
//! that advances in real time once a second is buffered and stalls when it
//! catches up; or (`--bulk`) a download that competes for the same link.
//! Prints `port N` (its local port, for the benchmark's `ss` samples) and
//! at the end one JSON object.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use caudal_media::cmcd::{Cmcd, append_to_url};
use caudal_media::cta::{ObjectType, StreamType, StreamingFormat};
use caudal_media::policy::requested_rate;
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    addr: SocketAddr,
    /// The file's URL path.
    #[arg(long)]
    path: String,
    #[arg(long)]
    file_len: u64,
    /// The media's bit rate, bits per second.
    #[arg(long, default_value_t = 3_000_000)]
    bitrate: u64,
    /// Seconds to play (or, with --bulk, to download).
    #[arg(long, default_value_t = 40.0)]
    seconds: f64,
    /// Seconds kept buffered ahead.
    #[arg(long, default_value_t = 12.0)]
    goal: f64,
    /// Seconds of media per request.
    #[arg(long, default_value_t = 2.0)]
    chunk_seconds: f64,
    /// Download the file as fast as the link allows instead of playing.
    #[arg(long)]
    bulk: bool,
}

/// Seconds buffered before the first frame, and to resume after a stall.
const START_SECONDS: f64 = 1.0;

/// The viewer's clock: media buffered, the playhead, stalls.
struct Playback {
    per_second: f64,
    fetched_bytes: u64,
    began: Instant,
    started: Option<Instant>,
    /// Seconds spent stalled so far, and since when the current stall.
    stalled_for: f64,
    stall_since: Option<Instant>,
    stalls: u32,
    stalled_since_request: bool,
}

impl Playback {
    fn buffered(&self) -> f64 {
        self.fetched_bytes as f64 / self.per_second
    }

    fn position(&self, now: Instant) -> f64 {
        let Some(started) = self.started else {
            return 0.0;
        };
        let stalled = self.stalled_for + self.stall_since.map_or(0.0, |s| (now - s).as_secs_f64());
        ((now - started).as_secs_f64() - stalled).min(self.buffered())
    }

    fn ahead(&self, now: Instant) -> f64 {
        self.buffered() - self.position(now)
    }

    /// Bytes arrived (or time passed): start, stall, resume.
    fn update(&mut self, now: Instant) {
        match (self.started, self.stall_since) {
            (None, _) if self.buffered() >= START_SECONDS => self.started = Some(now),
            (Some(started), None) => {
                let played = (now - started).as_secs_f64() - self.stalled_for;
                if played >= self.buffered() {
                    self.stall_since = Some(now);
                    self.stalls += 1;
                    self.stalled_since_request = true;
                }
            }
            (Some(_), Some(since)) if self.ahead(now) >= START_SECONDS => {
                self.stalled_for += (now - since).as_secs_f64();
                self.stall_since = None;
            }
            _ => {}
        }
    }
}

/// A response head: status, headers (names in lower case), and the body
/// bytes read with it.
type Head = (u16, Vec<(String, String)>, Vec<u8>);

/// Reads a response head; the body bytes already read come with it.
fn read_head(stream: &mut TcpStream) -> Result<Head> {
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&received[..end]).into_owned();
            let mut lines = text.split("\r\n");
            let status = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .context("status line")?;
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            return Ok((status, headers, received[end + 4..].to_vec()));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            bail!("closed before a response head");
        }
        received.extend_from_slice(&buf[..n]);
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn connect(args: &Args) -> Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&args.addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    println!("port {}", stream.local_addr()?.port());
    std::io::stdout().flush()?;
    Ok(stream)
}

fn bulk(args: &Args) -> Result<()> {
    let mut stream = connect(args)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let began = Instant::now();
    write!(stream, "GET {} HTTP/1.1\r\nHost: bench\r\n\r\n", args.path)?;
    let (status, _, body) = read_head(&mut stream)?;
    let mut bytes = body.len() as u64;
    let mut buf = vec![0u8; 256 * 1024];
    while began.elapsed().as_secs_f64() < args.seconds && bytes < args.file_len {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
    }
    let seconds = began.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "status": status, "bytes": bytes, "seconds": seconds,
            "mbps": bytes as f64 * 8.0 / seconds / 1e6 })
    );
    Ok(())
}

fn play(args: &Args) -> Result<()> {
    let mut stream = connect(args)?;
    let per_second = args.bitrate as f64 / 8.0;
    let chunk = (per_second * args.chunk_seconds) as u64;
    let mut playback = Playback {
        per_second,
        fetched_bytes: 0,
        began: Instant::now(),
        started: None,
        stalled_for: 0.0,
        stall_since: None,
        stalls: 0,
        stalled_since_request: false,
    };
    let (mut requests, mut paced, mut throughput) = (0u32, 0u32, None::<f64>);
    let mut buf = vec![0u8; 64 * 1024];
    while playback.position(Instant::now()) < args.seconds && playback.fetched_bytes < args.file_len
    {
        let now = Instant::now();
        playback.update(now);
        if playback.started.is_some() && playback.ahead(now) >= args.goal {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let start = playback.fetched_bytes;
        let end = (start + chunk).min(args.file_len);
        let ahead = playback.ahead(now);
        let startup = playback.started.is_none() || playback.stall_since.is_some();
        let cmcd = Cmcd {
            br: Some(args.bitrate / 1000),
            d: Some((args.chunk_seconds * 1000.0) as u64),
            ot: Some(ObjectType::Muxed),
            bl: Some((ahead * 1000.0) as u64),
            mtp: throughput.map(|bps: f64| (bps / 1000.0) as u64),
            su: playback.started.is_none(),
            bs: playback.stalled_since_request,
            sf: Some(StreamingFormat::Other),
            st: Some(StreamType::Vod),
            sid: Some("pace-bench".into()),
            rtp: (!startup && ahead > 0.0)
                .then(|| requested_rate(end - start, ahead, Some(args.bitrate as f64)))
                .map(|bits| (bits / 1000.0).ceil() as u64),
            ..Cmcd::default()
        };
        playback.stalled_since_request = false;
        write!(
            stream,
            "GET {} HTTP/1.1\r\nHost: bench\r\nRange: bytes={start}-{}\r\n\r\n",
            append_to_url(&args.path, &cmcd),
            end - 1
        )?;
        requests += 1;

        let (status, headers, body) = loop {
            match read_head(&mut stream) {
                Ok(head) => break head,
                Err(e)
                    if e.downcast_ref::<std::io::Error>().is_some_and(|e| {
                        matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        )
                    }) =>
                {
                    playback.update(Instant::now())
                }
                Err(e) => return Err(e),
            }
        };
        if status != 206 {
            bail!("HTTP {status} for bytes {start}-{end}");
        }
        if header(&headers, "cmsd-dynamic").is_some_and(|v| v.contains(";mb=")) {
            paced += 1;
        }
        let first = Instant::now();
        let mut got = body.len() as u64;
        playback.fetched_bytes += got;
        while start + got < end {
            match stream.read(&mut buf[..((end - start - got) as usize).min(64 * 1024)]) {
                Ok(0) => bail!("closed mid-body"),
                Ok(n) => {
                    got += n as u64;
                    playback.fetched_bytes += n as u64;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
            playback.update(Instant::now());
        }
        let seconds = (Instant::now() - first).as_secs_f64().max(1e-3);
        let sample = got as f64 * 8.0 / seconds;
        throughput = Some(throughput.map_or(sample, |t| 0.7 * t + 0.3 * sample));
    }
    let first_frame_ms = playback
        .started
        .map(|s| (s - playback.began).as_secs_f64() * 1000.0);
    let stall_seconds = playback.stalled_for
        + playback
            .stall_since
            .map_or(0.0, |s| (Instant::now() - s).as_secs_f64());
    println!(
        "{}",
        serde_json::json!({
            "first_frame_ms": first_frame_ms,
            "stalls": playback.stalls,
            "stall_seconds": stall_seconds,
            "bytes": playback.fetched_bytes,
            "requests": requests,
            "paced_responses": paced,
            "seconds": playback.began.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.bulk { bulk(&args) } else { play(&args) }
}
