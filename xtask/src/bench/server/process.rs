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
    /// `__token__=…`, the query every request carries (caudal+token).
    pub token: Option<String>,
}

impl RunningServer {
    /// The served file, as wrk asks for it (with the token when the server
    /// wants one).
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path())
    }

    /// The request path of the served file.
    pub fn path(&self) -> String {
        match &self.token {
            Some(query) => format!("/media/{FILE_NAME}?{query}"),
            None => format!("/media/{FILE_NAME}"),
        }
    }
}

/// A port that was free a moment ago: bind port 0 and let the OS choose.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr().context("finding a free port")?.port())
}

/// Starts caudal protecting `/media/` with a new key, and signs a token for
/// the file with `caudal sign` (two hours: longer than any run).
pub fn start_caudal_with_token(bin: &Path, media_dir: &Path) -> Result<RunningServer> {
    let key = output(Command::new(bin).arg("keygen"))?;
    let key = key.trim();
    let args = ["--key", key, "--protect", "/media/"];
    let mut server = start_caudal_with(bin, media_dir, &args, ServerKind::CaudalToken)?;
    let url = output(Command::new(bin).args([
        "sign",
        &format!("/media/{FILE_NAME}"),
        "--ttl",
        "2h",
        "--key",
        key,
    ]))?;
    let query = url
        .trim()
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .with_context(|| format!("caudal sign printed no query: {url}"))?;
    server.token = Some(query);
    Ok(server)
}

/// A command's standard output, when it succeeds.
fn output(command: &mut Command) -> Result<String> {
    let out = command.output().context("running caudal")?;
    anyhow::ensure!(
        out.status.success(),
        "caudal failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts the release `caudal` binary on a free port, serving `media_dir`
/// under `/media/`, quiet (no access log: nginx gets none either), with
/// `extra` flags.
pub fn start_caudal_with(
    bin: &Path,
    media_dir: &Path,
    extra: &[&str],
    kind: ServerKind,
) -> Result<RunningServer> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let child = Command::new(bin)
        .arg("serve")
        .arg(media_dir)
        .args(["--listen", &addr.to_string(), "--quiet"])
        .args(extra)
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
        kind,
        addr,
        process,
        token: None,
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
