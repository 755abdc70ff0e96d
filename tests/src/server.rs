//! The real `caudal` server, run in-process on 127.0.0.1 with a free port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running `caudal_server::Server`; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `media_dir` under `/media/` and, when given, `www_dir` at `/`.
    pub async fn start(media_dir: &Path, www_dir: Option<&Path>) -> Result<TestServer> {
        Self::start_with(media_dir, www_dir, None).await
    }

    /// Like [`start`](Self::start), with `protection` (`--protect`, `--key`).
    pub async fn start_with(
        media_dir: &Path,
        www_dir: Option<&Path>,
        protection: Option<caudal_server::access::Protection>,
    ) -> Result<TestServer> {
        let mut config = caudal_server::Config::new(media_dir);
        config.protection = protection;
        config.www_dir = www_dir.map(Path::to_path_buf);
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.access_log = false;
        config.shutdown_grace = Duration::from_millis(500);
        // Tests publish live streams from loopback without a token.
        config.live.open_loopback = true;
        let server = caudal_server::Server::bind(config)
            .await
            .with_context(|| format!("starting caudal for {}", media_dir.display()))?;
        let addr = server.local_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until(async move {
            let _ = rx.await;
        }));
        Ok(TestServer {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// Stops accepting and waits (bounded) for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// `<workspace>/www`
pub fn www_dir() -> PathBuf {
    workspace_root().join("www")
}

/// `<workspace>/www/media`
pub fn sample_media_dir() -> PathBuf {
    www_dir().join("media")
}
