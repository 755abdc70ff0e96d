//! A shaping TCP proxy: the network between the browser and the server.
//!
//! It listens on 127.0.0.1 (free port) and forwards every connection to an
//! upstream address. Bytes from the client go up unshaped; bytes from the
//! server down to the client pass one token bucket shared by all connections,
//! so the *link* has the configured rate whatever the number of requests.
//! The rate can be changed at any time ([`ShapingProxy::set_rate`]), and the
//! upstream can be made to vanish ([`ShapingProxy::set_outage`]): active
//! connections are cut and new ones closed at once until it is restored.
//! The proxy counts what it delivered, so tests can check a player's own
//! byte accounting against the wire.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bucket::SharedBucket;

/// A running proxy; stops (and drops its connections) when dropped.
#[derive(Debug)]
pub struct ShapingProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    bucket: SharedBucket,
    outage: AtomicBool,
    /// Bumped to cut every open connection (outage, or proxy dropped).
    cut: watch::Sender<u64>,
    bytes_down: AtomicU64,
    bytes_up: AtomicU64,
    connections: AtomicU64,
    refused: AtomicU64,
    cut_connections: AtomicU64,
    open: AtomicU64,
    last_delivery: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ShapingProxy {
    /// Starts a proxy to `upstream`, unlimited until [`set_rate`](Self::set_rate).
    pub async fn start(upstream: SocketAddr) -> Result<ShapingProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the proxy")?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            upstream,
            bucket: SharedBucket::default(),
            outage: AtomicBool::new(false),
            cut,
            bytes_down: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            cut_connections: AtomicU64::new(0),
            open: AtomicU64::new(0),
            last_delivery: Mutex::new(None),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(ShapingProxy {
            addr,
            shared,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// Limits server->client bytes to `bits_per_second` (None: unlimited).
    /// Takes effect within ~50 ms for transfers in progress.
    pub fn set_rate(&self, bits_per_second: Option<u64>) {
        self.shared.bucket.set_rate(bits_per_second);
    }

    /// The current limit in bit/s (None: unlimited).
    pub fn rate(&self) -> Option<u64> {
        self.shared.bucket.rate()
    }

    /// `true`: cut every open connection and close new ones at once (the
    /// server "goes away"); `false`: forward again.
    pub fn set_outage(&self, down: bool) {
        self.shared.outage.store(down, Ordering::SeqCst);
        if down {
            self.shared.cut.send_modify(|epoch| *epoch += 1);
        }
    }

    /// Bytes delivered to clients (response heads and bodies).
    pub fn bytes_down(&self) -> u64 {
        self.shared.bytes_down.load(Ordering::SeqCst)
    }

    /// Bytes clients sent (request heads).
    pub fn bytes_up(&self) -> u64 {
        self.shared.bytes_up.load(Ordering::SeqCst)
    }

    /// Connections accepted and forwarded.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections closed at once because of an outage.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Open connections cut by an outage.
    pub fn cut_connections(&self) -> u64 {
        self.shared.cut_connections.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> u64 {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Time since the proxy last delivered bytes to a client (None: never).
    pub fn idle_for(&self) -> Option<Duration> {
        lock(&self.shared.last_delivery).map(|t| t.elapsed())
    }
}

impl Drop for ShapingProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.outage.store(true, Ordering::SeqCst);
        self.shared.cut.send_modify(|epoch| *epoch += 1);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if shared.outage.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut cut = shared.cut.subscribe();
            if shared.outage.load(Ordering::SeqCst) {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                return;
            }
            let Ok(server) = TcpStream::connect(shared.upstream).await else {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                return;
            };
            shared.connections.fetch_add(1, Ordering::SeqCst);
            shared.open.fetch_add(1, Ordering::SeqCst);
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let both = async {
                let _ = tokio::try_join!(pump_up(cr, sw, &shared), pump_down(sr, cw, &shared));
            };
            tokio::select! {
                () = both => {}
                _ = cut.changed() => {
                    shared.cut_connections.fetch_add(1, Ordering::SeqCst);
                }
            }
            shared.open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn pump_up(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, shared: &Shared) -> Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
        shared.bytes_up.fetch_add(n as u64, Ordering::SeqCst);
    }
}

async fn pump_down(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, shared: &Shared) -> Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        let mut off = 0;
        while off < n {
            let m = (n - off).min(shared.bucket.quantum());
            shared.bucket.take(m).await;
            to.write_all(&buf[off..off + m]).await?;
            shared.bytes_down.fetch_add(m as u64, Ordering::SeqCst);
            *lock(&shared.last_delivery) = Some(Instant::now());
            off += m;
        }
    }
}

impl Shared {}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that sends `len` bytes to each connection, then closes.
    async fn blaster(len: usize) -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let data = vec![7u8; len];
                    let _ = s.write_all(&data).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        addr
    }

    async fn drain(addr: SocketAddr) -> usize {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        buf.len()
    }

    #[tokio::test]
    async fn unlimited_passes_everything() {
        let proxy = ShapingProxy::start(blaster(1 << 20).await)
            .await
            .expect("proxy");
        assert_eq!(drain(proxy.addr()).await, 1 << 20);
        assert_eq!(proxy.bytes_down(), 1 << 20);
    }

    #[tokio::test]
    async fn rate_is_shared_across_connections() {
        let proxy = ShapingProxy::start(blaster(100_000).await)
            .await
            .expect("proxy");
        proxy.set_rate(Some(6_400_000)); // 800 kB/s
        let t0 = Instant::now();
        let (a, b) = tokio::join!(drain(proxy.addr()), drain(proxy.addr()));
        let secs = t0.elapsed().as_secs_f64();
        assert_eq!(a + b, 200_000);
        // 200 kB at 800 kB/s: 0.25 s (minus one burst).
        assert!((0.18..0.6).contains(&secs), "took {secs} s");
    }

    #[tokio::test]
    async fn rate_change_applies_to_a_transfer_in_progress() {
        let proxy = ShapingProxy::start(blaster(300_000).await)
            .await
            .expect("proxy");
        proxy.set_rate(Some(80_000)); // 10 kB/s: 30 s for everything
        let t0 = Instant::now();
        let addr = proxy.addr();
        let reader = tokio::spawn(drain(addr));
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy.set_rate(Some(80_000_000)); // 10 MB/s
        let n = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("sped up")
            .expect("join");
        assert_eq!(n, 300_000);
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn outage_cuts_open_connections_and_refuses_new_ones() {
        let proxy = ShapingProxy::start(blaster(1 << 20).await)
            .await
            .expect("proxy");
        proxy.set_rate(Some(800_000)); // 100 kB/s: 10 s for everything
        let reader = tokio::spawn(drain(proxy.addr()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy.set_outage(true);
        let n = tokio::time::timeout(Duration::from_secs(2), reader)
            .await
            .expect("cut")
            .expect("join");
        assert!(n < 1 << 20);
        assert_eq!(proxy.cut_connections(), 1);
        assert_eq!(drain(proxy.addr()).await, 0);
        assert!(proxy.refused() >= 1);
        proxy.set_outage(false);
        proxy.set_rate(None);
        assert_eq!(drain(proxy.addr()).await, 1 << 20);
    }
}
