//! A shaped network link for benchmarks: a bandwidth trace, a round-trip
//! time, byte counters and a log of the HTTP requests that crossed it.
//!
//! [`crate::proxy::ShapingProxy`] is the tests' link: a rate that a test
//! changes by hand, outages, no latency. A QoE benchmark needs a *repeatable*
//! network instead, the same for every player it compares: a schedule of
//! rates fixed in advance (a trace) and a propagation delay, because a
//! player's startup on a long link is dominated by how many round trips it
//! needs, not by the bandwidth. So this is a sibling rather than more knobs
//! on the tests' proxy, whose behaviour the tests rely on.
//!
//! Per connection, each direction is a pipe with a delay line of RTT/2: a
//! chunk read at time t is written at t + RTT/2, in order. Downstream, the
//! chunk first passes one token bucket shared by all connections (the
//! bottleneck), then the delay line (the propagation), as on a real path.
//! Upstream bytes are not rate-limited (requests are a few hundred bytes)
//! but are parsed for HTTP/1.1 request heads, so the link can say what each
//! player asked for and when: see [`LogEntry`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::bucket::SharedBucket;

/// The shape of the link, fixed when it starts.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Downstream rate steps: (seconds since the trace clock started, bit/s),
    /// ascending in time. Before the first step the link is unlimited; an
    /// empty trace is an unlimited link.
    pub trace: Vec<(f64, u64)>,
    /// Round-trip time added by the link (half each way).
    pub rtt: Duration,
}

/// One line of the link's log (JSONL when written out).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LogEntry {
    /// A request head the client sent, at the time it reached the link.
    Request {
        /// Milliseconds since the link started.
        t_ms: f64,
        conn: u64,
        method: String,
        path: String,
        /// The `Range` header, if any.
        range: Option<String>,
    },
    /// A connection ended (either side closed, or the link stopped).
    Close {
        t_ms: f64,
        conn: u64,
        /// Bytes delivered to the client on this connection.
        bytes_down: u64,
        /// Bytes the client sent on this connection.
        bytes_up: u64,
    },
    /// The downstream rate changed (a trace step).
    Rate { t_ms: f64, bits_per_second: u64 },
    /// A connection's totals when the log was written (see
    /// [`ShapedLink::log_jsonl`]): one per connection, open or closed.
    Connection {
        conn: u64,
        bytes_down: u64,
        bytes_up: u64,
        open: bool,
    },
}

/// A running link; stops its tasks and drops its connections when dropped.
#[derive(Debug)]
pub struct ShapedLink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    half_rtt: Duration,
    started: Instant,
    bucket: SharedBucket,
    /// Bumped to cut every open connection when the link is dropped.
    cut: watch::Sender<u64>,
    bytes_down: AtomicU64,
    bytes_up: AtomicU64,
    next_conn: AtomicU64,
    log: Mutex<Vec<LogEntry>>,
    /// Every connection's counters, by id.
    conns: Mutex<Vec<(u64, Arc<Counters>)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ShapedLink {
    /// Starts a link to `upstream`; the trace clock starts now.
    pub async fn start(upstream: SocketAddr, config: LinkConfig) -> Result<ShapedLink> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the shaped link")?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(0u64);
        let now = Instant::now();
        let shared = Arc::new(Shared {
            upstream,
            half_rtt: config.rtt / 2,
            started: now,
            bucket: SharedBucket::default(),
            cut,
            bytes_down: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            next_conn: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
        });
        let mut trace = config.trace;
        trace.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Steps at t <= 0 apply before the first byte, not a tick later.
        for &(_, bps) in trace.iter().take_while(|(t, _)| *t <= 0.0) {
            shared.apply_rate(bps);
        }
        trace.retain(|(t, _)| *t > 0.0);
        let tasks = vec![
            tokio::spawn(accept_loop(listener, shared.clone())),
            tokio::spawn(play_trace(trace, shared.clone())),
        ];
        Ok(ShapedLink {
            addr,
            shared,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Bytes delivered to clients (response heads and bodies).
    pub fn bytes_down(&self) -> u64 {
        self.shared.bytes_down.load(Ordering::SeqCst)
    }

    /// Bytes clients sent (request heads).
    pub fn bytes_up(&self) -> u64 {
        self.shared.bytes_up.load(Ordering::SeqCst)
    }

    /// Time since the link started (the trace clock).
    pub fn elapsed(&self) -> Duration {
        self.shared.started.elapsed()
    }

    /// The log so far, in order.
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.shared.log).clone()
    }

    /// Per connection: (id, bytes delivered down, bytes sent up, still open).
    pub fn connections(&self) -> Vec<(u64, u64, u64, bool)> {
        lock(&self.shared.conns)
            .iter()
            .map(|(id, c)| {
                (
                    *id,
                    c.down.load(Ordering::SeqCst),
                    c.up.load(Ordering::SeqCst),
                    !c.closed.load(Ordering::SeqCst),
                )
            })
            .collect()
    }

    /// The log as JSON lines, followed by one `connection` line per
    /// connection with its totals so far (keep-alive connections are often
    /// still open when a run ends, so their `close` line is not there yet).
    pub fn log_jsonl(&self) -> String {
        let totals = self
            .connections()
            .into_iter()
            .map(|(conn, bytes_down, bytes_up, open)| LogEntry::Connection {
                conn,
                bytes_down,
                bytes_up,
                open,
            });
        self.log()
            .into_iter()
            .chain(totals)
            .collect::<Vec<_>>()
            .iter()
            .filter_map(|entry| serde_json::to_string(entry).ok())
            .map(|line| line + "\n")
            .collect()
    }
}

impl Drop for ShapedLink {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.shared.cut.send_modify(|epoch| *epoch += 1);
    }
}

impl Shared {
    fn ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
    }

    fn record(&self, entry: LogEntry) {
        lock(&self.log).push(entry);
    }

    fn apply_rate(&self, bits_per_second: u64) {
        self.bucket.set_rate(Some(bits_per_second));
        self.record(LogEntry::Rate {
            t_ms: self.ms(),
            bits_per_second,
        });
    }
}

async fn play_trace(trace: Vec<(f64, u64)>, shared: Arc<Shared>) {
    for (at, bps) in trace {
        let due = shared.started + Duration::from_secs_f64(at);
        tokio::time::sleep_until(due.into()).await;
        shared.apply_rate(bps);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut cut = shared.cut.subscribe();
            let Ok(server) = TcpStream::connect(shared.upstream).await else {
                return;
            };
            let conn = shared.next_conn.fetch_add(1, Ordering::SeqCst);
            let counters = Arc::new(Counters::default());
            lock(&shared.conns).push((conn, counters.clone()));
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let (up_tx, up_rx) = mpsc::unbounded_channel();
            let (down_tx, down_rx) = mpsc::unbounded_channel();
            let pipes = async {
                let _ = tokio::try_join!(
                    read_up(cr, up_tx, &shared, conn, &counters),
                    write_delayed(up_rx, sw, None),
                    read_down(sr, down_tx, &shared),
                    write_delayed(down_rx, cw, Some((&shared, &counters))),
                );
            };
            tokio::select! {
                () = pipes => {}
                _ = cut.changed() => {}
            }
            counters.closed.store(true, Ordering::SeqCst);
            shared.record(LogEntry::Close {
                t_ms: shared.ms(),
                conn,
                bytes_down: counters.down.load(Ordering::SeqCst),
                bytes_up: counters.up.load(Ordering::SeqCst),
            });
        });
    }
}

/// Per-connection byte counts.
#[derive(Debug, Default)]
struct Counters {
    down: AtomicU64,
    up: AtomicU64,
    closed: std::sync::atomic::AtomicBool,
}

/// A chunk on its way through a delay line; `None` is end of stream.
type Delayed = (Instant, Option<Vec<u8>>);

/// Client → link: logs request heads, then queues the bytes for RTT/2.
async fn read_up(
    mut from: OwnedReadHalf,
    to: mpsc::UnboundedSender<Delayed>,
    shared: &Shared,
    conn: u64,
    counters: &Counters,
) -> Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut heads = RequestParser::default();
    loop {
        let n = from.read(&mut buf).await?;
        let due = Instant::now() + shared.half_rtt;
        if n == 0 {
            let _ = to.send((due, None));
            return Ok(());
        }
        for head in heads.push(&buf[..n]) {
            shared.record(LogEntry::Request {
                t_ms: shared.ms(),
                conn,
                method: head.method,
                path: head.path,
                range: head.range,
            });
        }
        shared.bytes_up.fetch_add(n as u64, Ordering::SeqCst);
        counters.up.fetch_add(n as u64, Ordering::SeqCst);
        if to.send((due, Some(buf[..n].to_vec()))).is_err() {
            return Ok(());
        }
    }
}

/// Server → link: paces the bytes through the shared bucket, then queues
/// them for RTT/2. Pacing here (not at the writer) makes the server feel the
/// bottleneck as TCP back-pressure, as it would on a real path.
async fn read_down(
    mut from: OwnedReadHalf,
    to: mpsc::UnboundedSender<Delayed>,
    shared: &Shared,
) -> Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let want = buf.len().min(shared.bucket.quantum());
        let n = from.read(&mut buf[..want]).await?;
        if n == 0 {
            let _ = to.send((Instant::now() + shared.half_rtt, None));
            return Ok(());
        }
        shared.bucket.take(n).await;
        if to
            .send((Instant::now() + shared.half_rtt, Some(buf[..n].to_vec())))
            .is_err()
        {
            return Ok(());
        }
    }
}

/// The far end of a delay line: writes each chunk when it is due. With
/// `count`, the bytes are counted as delivered to the client.
async fn write_delayed(
    mut from: mpsc::UnboundedReceiver<Delayed>,
    mut to: OwnedWriteHalf,
    count: Option<(&Shared, &Counters)>,
) -> Result<()> {
    while let Some((due, chunk)) = from.recv().await {
        tokio::time::sleep_until(due.into()).await;
        let Some(chunk) = chunk else {
            break;
        };
        to.write_all(&chunk).await?;
        if let Some((shared, counters)) = count {
            shared
                .bytes_down
                .fetch_add(chunk.len() as u64, Ordering::SeqCst);
            counters
                .down
                .fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    }
    to.shutdown().await?;
    Ok(())
}

/// What the log keeps of a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RequestHead {
    method: String,
    path: String,
    range: Option<String>,
}

/// Finds HTTP/1.1 request heads in the client's byte stream (keep-alive:
/// several per connection). Bodies are skipped by `Content-Length`; the
/// browsers' media GETs have none.
#[derive(Debug, Default)]
struct RequestParser {
    pending: Vec<u8>,
    /// Body bytes of the last request still to skip.
    skip: usize,
}

impl RequestParser {
    /// A head larger than this is not HTTP we care about: stop buffering it.
    const MAX_HEAD: usize = 64 * 1024;

    fn push(&mut self, data: &[u8]) -> Vec<RequestHead> {
        let mut data = data;
        let skipped = self.skip.min(data.len());
        self.skip -= skipped;
        data = &data[skipped..];
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some(end) = find(&self.pending, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
            let rest = self.pending.split_off(end + 4);
            self.pending = rest;
            let Some(parsed) = parse_head(&head) else {
                continue;
            };
            let body = content_length(&head);
            let now = body.min(self.pending.len());
            self.pending.drain(..now);
            self.skip = body - now;
            out.push(parsed);
        }
        if self.pending.len() > Self::MAX_HEAD {
            self.pending.clear();
        }
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &str) -> Option<RequestHead> {
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let range = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("range"))
        .map(|(_, value)| value.trim().to_owned());
    Some(RequestHead {
        method,
        path,
        range,
    })
}

fn content_length(head: &str) -> usize {
    head.split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream HTTP-ish server: reads one request head, answers `len`
    /// bytes, closes.
    async fn responder(len: usize) -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match s.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let _ = s.write_all(&vec![7u8; len]).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        addr
    }

    async fn get(addr: SocketAddr, range: &str) -> usize {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET /media/a.mp4 HTTP/1.1\r\nHost: x\r\nRange: {range}\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        buf.len()
    }

    #[tokio::test]
    async fn adds_the_round_trip_time() {
        let link = ShapedLink::start(
            responder(10).await,
            LinkConfig {
                trace: vec![],
                rtt: Duration::from_millis(200),
            },
        )
        .await
        .expect("link");
        let t0 = Instant::now();
        assert_eq!(get(link.addr(), "bytes=0-9").await, 10);
        let ms = t0.elapsed().as_millis();
        assert!((195..600).contains(&ms), "took {ms} ms");
        assert_eq!(link.bytes_down(), 10);
    }

    #[tokio::test]
    async fn follows_the_trace_and_logs_requests() {
        // 800 kB/s for 0.2 s, then 8 MB/s: 400 kB take ~0.25 s.
        let link = ShapedLink::start(
            responder(400_000).await,
            LinkConfig {
                trace: vec![(0.0, 6_400_000), (0.2, 64_000_000)],
                rtt: Duration::ZERO,
            },
        )
        .await
        .expect("link");
        let t0 = Instant::now();
        assert_eq!(get(link.addr(), "bytes=5-").await, 400_000);
        let secs = t0.elapsed().as_secs_f64();
        assert!((0.2..0.6).contains(&secs), "took {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let log = link.log();
        let requests: Vec<_> = log
            .iter()
            .filter_map(|e| match e {
                LogEntry::Request {
                    method,
                    path,
                    range,
                    ..
                } => Some((method.as_str(), path.as_str(), range.as_deref())),
                _ => None,
            })
            .collect();
        assert_eq!(requests, [("GET", "/media/a.mp4", Some("bytes=5-"))]);
        assert!(log.iter().any(|e| matches!(
            e,
            LogEntry::Close {
                bytes_down: 400_000,
                ..
            }
        )));
        assert!(link.log_jsonl().lines().count() >= 4);
    }

    #[test]
    fn parses_keep_alive_heads_split_anywhere() {
        let stream = b"GET /a HTTP/1.1\r\nRange: bytes=0-1\r\n\r\nPOST /b HTTP/1.1\r\ncontent-length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\n\r\n";
        for split in 0..stream.len() {
            let mut parser = RequestParser::default();
            let mut heads = parser.push(&stream[..split]);
            heads.extend(parser.push(&stream[split..]));
            let paths: Vec<_> = heads.iter().map(|h| h.path.as_str()).collect();
            assert_eq!(paths, ["/a", "/b", "/c"], "split at {split}");
            assert_eq!(heads[0].range.as_deref(), Some("bytes=0-1"));
        }
    }
}
