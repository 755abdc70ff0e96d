//! The servers under test as child processes: started, waited for, and
//! stopped on drop (also when the benchmark fails half-way).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::files::FILE_NAME;
use super::options::ServerKind;

/// How long a server may take to start accepting connections.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// A child process stopped on drop, so no server outlives the benchmark even
/// when it fails half-way.
#[derive(Debug)]
pub struct ChildGuard {
    pub name: &'static str,
    pub child: Child,
}

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM first: killing nginx's master outright would orphan its workers.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!("bench: {} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server under test, accepting connections at `addr`.
#[derive(Debug)]
pub struct RunningServer {
    pub kind: ServerKind,
    pub addr: SocketAddr,
    pub process: ChildGuard,
}

impl RunningServer {
    /// The served file, as wrk asks for it.
    pub fn url(&self) -> String {
        format!("http://{}/media/{FILE_NAME}", self.addr)
    }
}

/// A port that was free a moment ago: bind port 0 and let the OS choose.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr().context("finding a free port")?.port())
}

/// Starts the release `caudal` binary on a free port, serving `media_dir`
/// under `/media/`, quiet (no access log: nginx gets none either).
pub fn start_caudal(bin: &Path, media_dir: &Path) -> Result<RunningServer> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let child = Command::new(bin)
        .arg("serve")
        .arg(media_dir)
        .args(["--listen", &addr.to_string(), "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut process = ChildGuard {
        name: "caudal",
        child,
    };
    wait_until_listening(&mut process, addr)?;
    Ok(RunningServer {
        kind: ServerKind::Caudal,
        addr,
        process,
    })
}

/// Waits until `addr` accepts connections, failing early if the server exits.
pub fn wait_until_listening(process: &mut ChildGuard, addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(status) = process.child.try_wait().context("checking on the server")? {
            bail!("{} exited during startup ({status})", process.name);
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{} did not listen on {addr} within {STARTUP_TIMEOUT:?}",
            process.name
        );
        thread::sleep(Duration::from_millis(50));
    }
}
