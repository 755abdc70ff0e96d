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
//! A new connection costs one RTT before its first byte moves: the TCP
//! handshake a real path makes the client wait for (the kernel completed
//! this one at loopback speed, so the link holds the bytes instead).
//! Upstream bytes are not rate-limited (requests are a few hundred bytes)
//! but are parsed for HTTP/1.1 request heads, so the link can say what each
//! player asked for, when, and when the answer ended: see [`LogEntry`].
//!
//! [`ShapedLink::reset`] starts the link over on the same port (a second
//! visit: the browser's cache is keyed by origin, port included).

mod http_heads;
mod log;
mod requests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use self::http_heads::RequestParser;
pub use self::log::LogEntry;
use self::log::{Conn, lock};
pub use self::requests::Request;
use crate::bucket::SharedBucket;

/// The shape of the link, fixed when it starts.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Downstream rate steps: (seconds since the trace clock started, bit/s),
    /// ascending in time. Before the first step the link is unlimited; an
    /// empty trace is an unlimited link.
    pub trace: Vec<(f64, u64)>,
    /// Round-trip time added by the link (half each way, and one whole for
    /// each new connection's handshake).
    pub rtt: Duration,
}

/// A running link; stops its tasks and drops its connections when dropped.
#[derive(Debug)]
pub struct ShapedLink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The trace's steps after t = 0, sorted.
    later_steps: Vec<(f64, u64)>,
    /// The rates that apply from t = 0.
    first_rates: Vec<u64>,
    accept: JoinHandle<()>,
    trace: JoinHandle<()>,
}

/// The link's clock: when it (re)started, as an instant and as Unix time
/// (which a page's `performance.timeOrigin` is on).
#[derive(Debug, Clone, Copy)]
struct Clock {
    started: Instant,
    unix_ms: f64,
}

impl Clock {
    fn now() -> Clock {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3);
        Clock {
            started: Instant::now(),
            unix_ms,
        }
    }
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    rtt: Duration,
    clock: Mutex<Clock>,
    bucket: SharedBucket,
    /// Bumped to cut every open connection (on reset and on drop).
    cut: watch::Sender<u64>,
    bytes_down: AtomicU64,
    bytes_up: AtomicU64,
    next_conn: AtomicU64,
    log: Mutex<Vec<LogEntry>>,
    /// Every connection's counters, by id.
    conns: Mutex<Vec<(u64, Arc<Conn>)>>,
}

impl ShapedLink {
    /// Starts a link to `upstream`; the trace clock starts now.
    pub async fn start(upstream: SocketAddr, config: LinkConfig) -> Result<ShapedLink> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the shaped link")?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            upstream,
            rtt: config.rtt,
            clock: Mutex::new(Clock::now()),
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
        let first_rates: Vec<u64> = trace
            .iter()
            .take_while(|(t, _)| *t <= 0.0)
            .map(|&(_, bps)| bps)
            .collect();
        trace.retain(|(t, _)| *t > 0.0);
        let trace_task = shared.start_trace(&first_rates, trace.clone());
        Ok(ShapedLink {
            addr,
            accept: tokio::spawn(accept_loop(listener, shared.clone())),
            trace: trace_task,
            shared,
            later_steps: trace,
            first_rates,
        })
    }

    /// Starts the link over, as for a second visit: cuts every connection,
    /// then restarts the trace clock, the counters and the log, on the same
    /// port. Call it while no client is using the link (a connection
    /// accepted during the reset may be lost from the counts).
    pub async fn reset(&mut self) -> Result<()> {
        self.trace.abort();
        self.shared.cut.send_modify(|epoch| *epoch += 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.connections().iter().any(|c| c.3) {
            if Instant::now() >= deadline {
                bail!("the link's connections did not close within 5 s of the cut");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        lock(&self.shared.conns).clear();
        lock(&self.shared.log).clear();
        self.shared.bytes_down.store(0, Ordering::SeqCst);
        self.shared.bytes_up.store(0, Ordering::SeqCst);
        self.shared.next_conn.store(0, Ordering::SeqCst);
        // A fresh bottleneck: no tokens saved up, no debt.
        self.shared.bucket.set_rate(None);
        *lock(&self.shared.clock) = Clock::now();
        self.trace = self
            .shared
            .start_trace(&self.first_rates, self.later_steps.clone());
        Ok(())
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

    /// Time since the link (re)started (the trace clock).
    pub fn elapsed(&self) -> Duration {
        lock(&self.shared.clock).started.elapsed()
    }

    /// When the trace clock (re)started, in milliseconds since the Unix
    /// epoch: the log's times plus this are on a page's
    /// `performance.timeOrigin` clock.
    pub fn started_unix_ms(&self) -> f64 {
        lock(&self.shared.clock).unix_ms
    }

    /// The log so far, in order; the answers still under way have their
    /// end and bytes as far as they got.
    pub fn log(&self) -> Vec<LogEntry> {
        let mut log = lock(&self.shared.log).clone();
        for (_, conn) in lock(&self.shared.conns).iter() {
            conn.peek(&mut log);
        }
        log
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
        self.accept.abort();
        self.trace.abort();
        self.shared.cut.send_modify(|epoch| *epoch += 1);
    }
}

impl Shared {
    fn ms(&self) -> f64 {
        lock(&self.clock).started.elapsed().as_secs_f64() * 1e3
    }

    fn record(&self, entry: LogEntry) -> usize {
        let mut log = lock(&self.log);
        log.push(entry);
        log.len() - 1
    }

    fn apply_rate(&self, bits_per_second: u64) {
        self.bucket.set_rate(Some(bits_per_second));
        self.record(LogEntry::Rate {
            t_ms: self.ms(),
            bits_per_second,
        });
    }

    /// Applies the rates of t <= 0 before the first byte (not a tick
    /// later) and plays the later steps on the current clock.
    fn start_trace(
        self: &Arc<Self>,
        first_rates: &[u64],
        later: Vec<(f64, u64)>,
    ) -> JoinHandle<()> {
        for &bps in first_rates {
            self.apply_rate(bps);
        }
        let started = lock(&self.clock).started;
        tokio::spawn(play_trace(started, later, self.clone()))
    }
}

async fn play_trace(started: Instant, trace: Vec<(f64, u64)>, shared: Arc<Shared>) {
    for (at, bps) in trace {
        let due = started + Duration::from_secs_f64(at);
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
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Conn::default());
        lock(&shared.conns).push((id, conn.clone()));
        let cut = shared.cut.subscribe();
        tokio::spawn(serve_connection(client, shared.clone(), id, conn, cut));
    }
}

async fn serve_connection(
    client: TcpStream,
    shared: Arc<Shared>,
    id: u64,
    conn: Arc<Conn>,
    mut cut: watch::Receiver<u64>,
) {
    let pipes = async {
        // The handshake's round trip, before anything moves.
        tokio::time::sleep(shared.rtt).await;
        let Ok(server) = TcpStream::connect(shared.upstream).await else {
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        let (up_tx, up_rx) = mpsc::unbounded_channel();
        let (down_tx, down_rx) = mpsc::unbounded_channel();
        let _ = tokio::try_join!(
            read_up(cr, up_tx, &shared, id, &conn),
            write_delayed(up_rx, sw, None),
            read_down(sr, down_tx, &shared),
            write_delayed(down_rx, cw, Some((&shared, &conn))),
        );
    };
    tokio::select! {
        () = pipes => {}
        _ = cut.changed() => {}
    }
    {
        let mut log = lock(&shared.log);
        conn.settle(&mut log);
    }
    shared.record(LogEntry::Close {
        t_ms: shared.ms(),
        conn: id,
        bytes_down: conn.down.load(Ordering::SeqCst),
        bytes_up: conn.up.load(Ordering::SeqCst),
    });
    // Last, so that a reset waiting for it finds the log complete.
    conn.closed.store(true, Ordering::SeqCst);
}

/// A chunk on its way through a delay line; `None` is end of stream.
type Delayed = (Instant, Option<Vec<u8>>);

/// Client → link: logs request heads, then queues the bytes for RTT/2.
async fn read_up(
    mut from: OwnedReadHalf,
    to: mpsc::UnboundedSender<Delayed>,
    shared: &Shared,
    id: u64,
    conn: &Conn,
) -> Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut heads = RequestParser::default();
    let half_rtt = shared.rtt / 2;
    loop {
        let n = from.read(&mut buf).await?;
        let due = Instant::now() + half_rtt;
        if n == 0 {
            let _ = to.send((due, None));
            return Ok(());
        }
        for head in heads.push(&buf[..n]) {
            let mut log = lock(&shared.log);
            log.push(LogEntry::Request {
                t_ms: shared.ms(),
                conn: id,
                method: head.method,
                path: head.path,
                range: head.range,
                end_ms: None,
                bytes_down: 0,
            });
            let index = log.len() - 1;
            conn.request(&mut log, index);
        }
        shared.bytes_up.fetch_add(n as u64, Ordering::SeqCst);
        conn.up.fetch_add(n as u64, Ordering::SeqCst);
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
    let half_rtt = shared.rtt / 2;
    loop {
        let want = buf.len().min(shared.bucket.quantum());
        let n = from.read(&mut buf[..want]).await?;
        if n == 0 {
            let _ = to.send((Instant::now() + half_rtt, None));
            return Ok(());
        }
        shared.bucket.take(n).await;
        if to
            .send((Instant::now() + half_rtt, Some(buf[..n].to_vec())))
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
    count: Option<(&Shared, &Conn)>,
) -> Result<()> {
    while let Some((due, chunk)) = from.recv().await {
        tokio::time::sleep_until(due.into()).await;
        let Some(chunk) = chunk else {
            break;
        };
        to.write_all(&chunk).await?;
        if let Some((shared, conn)) = count {
            shared
                .bytes_down
                .fetch_add(chunk.len() as u64, Ordering::SeqCst);
            conn.delivered(chunk.len() as u64, shared.ms());
        }
    }
    to.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests;
